//! Pupils: adding them and finding them (a pupil's history is read by `db::timeline`).

use chrono::{DateTime, Utc};
use diesel::prelude::*;

use super::models::PupilRow;
use super::pastoral::{Led, PastoralPlace};
use super::schema::{forms, houses, pupils, year_groups};
use super::{from_db_time, schools, to_db_time, DbConnection};
use crate::domain::details::{NewPupil, SenStatus};
use crate::domain::paging::{Page, PageRequest};
use crate::domain::pupil_search::rank_by_name;
use crate::domain::Level;
use crate::error::{Error, Result};

/// A pupil as shown to staff: details, year, form, house and current level.
#[derive(Debug, Clone)]
pub struct PupilView {
    pub id: i64,
    pub school_id: i64,
    pub upn: String,
    pub given_name: String,
    pub family_name: String,
    pub year: i16,
    pub form: String,
    pub house: Option<String>,
    /// The house's id, when the pupil is in one.
    pub house_id: Option<i64>,
    pub sen_status: SenStatus,
    pub level: Level,
    pub level_since: DateTime<Utc>,
    /// As the MIS gives it, when imported.
    pub date_of_birth: Option<chrono::NaiveDate>,
    /// When the pupil was marked as left; their records are then read-only.
    pub left_on: Option<chrono::NaiveDate>,
}

impl PupilView {
    /// Where the pupil sits for pastoral care: their year group and house.
    pub fn place(&self) -> PastoralPlace {
        PastoralPlace {
            year: self.year,
            house_id: self.house_id,
        }
    }

    /// "Given Family", for display.
    pub fn full_name(&self) -> String {
        format!("{} {}", self.given_name, self.family_name)
    }
}

type PupilJoined = (PupilRow, i16, String, Option<String>);

/// The columns of a [`PupilView`]: the pupil, their year, form and house.
type PupilColumns = (
    diesel::dsl::AsSelect<PupilRow, crate::db::MultiBackend>,
    year_groups::year,
    forms::name,
    diesel::dsl::Nullable<houses::name>,
);

/// The pupils of one school joined to their year group, form and house, ready to filter.
type PupilListing = diesel::dsl::IntoBoxed<
    'static,
    diesel::dsl::Select<
        diesel::dsl::Filter<
            diesel::dsl::LeftJoin<
                diesel::dsl::InnerJoin<
                    diesel::dsl::InnerJoin<pupils::table, year_groups::table>,
                    forms::table,
                >,
                houses::table,
            >,
            diesel::dsl::Eq<pupils::school_id, i64>,
        >,
        PupilColumns,
    >,
    crate::db::MultiBackend,
>;

/// The pupils of one school, as [`PupilView`] rows, to filter and order further.
fn pupils_of(school_id: i64) -> PupilListing {
    pupils::table
        .inner_join(year_groups::table)
        .inner_join(forms::table)
        .left_join(houses::table)
        .filter(pupils::school_id.eq(school_id))
        .select((
            PupilRow::as_select(),
            year_groups::year,
            forms::name,
            houses::name.nullable(),
        ))
        .into_boxed()
}

fn to_view((row, year, form, house): PupilJoined) -> PupilView {
    PupilView {
        id: row.id,
        school_id: row.school_id,
        upn: row.upn,
        given_name: row.given_name,
        family_name: row.family_name,
        year,
        form,
        house,
        house_id: row.house_id,
        sen_status: SenStatus::parse(&row.sen_status).unwrap_or(SenStatus::None),
        level: Level::from_number(i64::from(row.level)).unwrap_or(Level::None),
        level_since: from_db_time(row.level_since),
        date_of_birth: row.date_of_birth,
        left_on: row.left_on,
    }
}

/// Filters for finding pupils; all optional.
#[derive(Debug, Clone, Default)]
pub struct PupilSearch {
    /// Part of a given name, family name, "given family" or UPN.
    pub text: Option<String>,
    pub year: Option<i16>,
    pub form: Option<String>,
    pub limit: i64,
    /// Whether pupils marked as left are found too (by default they are not).
    pub include_left: bool,
}

/// Adds a pupil at no support level; the year group and form are created when new.
pub fn create(
    conn: &mut DbConnection,
    school_id: i64,
    new: &NewPupil,
    now: DateTime<Utc>,
) -> Result<PupilView> {
    let taken = pupils::table
        .filter(pupils::school_id.eq(school_id))
        .filter(pupils::upn.eq(new.upn.as_str()))
        .count()
        .get_result::<i64>(conn)?;
    if taken > 0 {
        return Err(Error::conflict(
            "upn",
            "a pupil with this UPN is already on roll",
        ));
    }
    let year_group = schools::year_group(conn, school_id, new.year)?;
    let form = schools::form(conn, &year_group, &new.form)?;
    let id: i64 = diesel::insert_into(pupils::table)
        .values((
            pupils::school_id.eq(school_id),
            pupils::upn.eq(new.upn.as_str()),
            pupils::given_name.eq(new.given_name.as_str()),
            pupils::family_name.eq(new.family_name.as_str()),
            pupils::year_group_id.eq(year_group.id),
            pupils::form_id.eq(form.id),
            pupils::sen_status.eq(new.sen_status.as_str()),
            pupils::level.eq(0i16),
            pupils::level_since.eq(to_db_time(now)),
            pupils::created_at.eq(to_db_time(now)),
        ))
        .returning(pupils::id)
        .get_result(conn)
        .map_err(|e| match e {
            // Another transaction added the same UPN after the check above.
            diesel::result::Error::DatabaseError(
                diesel::result::DatabaseErrorKind::UniqueViolation,
                _,
            ) => Error::conflict("upn", "a pupil with this UPN is already on roll"),
            other => other.into(),
        })?;
    get(conn, school_id, id)
}

/// The pupil with this id in this school; another school's pupil is "not found".
pub fn get(conn: &mut DbConnection, school_id: i64, pupil_id: i64) -> Result<PupilView> {
    pupils_of(school_id)
        .filter(pupils::id.eq(pupil_id))
        .first::<PupilJoined>(conn)
        .optional()?
        .map(to_view)
        .ok_or(Error::NotFound("pupil"))
}

/// Most pupils matching a text that are read to rank: more than a school has of one name.
const MOST_RANKED: i64 = 2000;

/// Pupils of the school matching the search, by family then given name; with a text, the
/// pupils whose name was typed come first ([`rank_by_name`]: whole names, then starts of
/// names, then the rest), ranked here so that both engines rank alike.
pub fn search(
    conn: &mut DbConnection,
    school_id: i64,
    search: &PupilSearch,
) -> Result<Vec<PupilView>> {
    let limit = search.limit.clamp(1, 1000);
    let text = search
        .text
        .as_deref()
        .map(str::trim)
        .filter(|t| !t.is_empty());
    let query = matching(school_id, search)
        .order((
            pupils::family_name.asc(),
            pupils::given_name.asc(),
            pupils::id.asc(),
        ))
        .limit(if text.is_some() { MOST_RANKED } else { limit });
    let mut found: Vec<PupilView> = query
        .load::<PupilJoined>(conn)?
        .into_iter()
        .map(to_view)
        .collect();
    if let Some(text) = text {
        rank_by_name(text, &mut found, |p| (&p.given_name, &p.family_name));
        found.truncate(usize::try_from(limit).unwrap_or(1));
    }
    Ok(found)
}

/// Where a pupil sorts in a paged list of pupils: family name, given name, id.
pub type PupilKey = (String, String, i64);

/// The key of a pupil in a paged list.
pub fn key_of(pupil: &PupilView) -> PupilKey {
    (
        pupil.family_name.clone(),
        pupil.given_name.clone(),
        pupil.id,
    )
}

/// One page of the pupils of the school matching the search (the text as a filter, with no
/// ranking), by family name, given name and id, after the pupil whose key the request holds;
/// the request, not `search.limit`, says how many.
pub fn page(
    conn: &mut DbConnection,
    school_id: i64,
    search: &PupilSearch,
    request: &PageRequest<PupilKey>,
) -> Result<Page<PupilView>> {
    let mut query = matching(school_id, search)
        .order((
            pupils::family_name.asc(),
            pupils::given_name.asc(),
            pupils::id.asc(),
        ))
        .limit(request.fetch_i64());
    if let Some((family, given, id)) = request.after.clone() {
        query = query.filter(
            pupils::family_name
                .gt(family.clone())
                .or(pupils::family_name.eq(family).and(
                    pupils::given_name
                        .gt(given.clone())
                        .or(pupils::given_name.eq(given).and(pupils::id.gt(id))),
                )),
        );
    }
    let rows: Vec<PupilView> = query
        .load::<PupilJoined>(conn)?
        .into_iter()
        .map(to_view)
        .collect();
    Ok(request.cut(rows, key_of))
}

/// The pupils of the school the search's filters match, unordered.
fn matching(school_id: i64, search: &PupilSearch) -> PupilListing {
    let text = search
        .text
        .as_deref()
        .map(str::trim)
        .filter(|t| !t.is_empty());
    let mut query = pupils_of(school_id);
    if !search.include_left {
        query = query.filter(pupils::left_on.is_null());
    }
    if let Some(text) = text {
        for word in text.split_whitespace().take(4) {
            let pattern = format!("%{}%", escape_like(&word.to_lowercase()));
            query = query.filter(
                lower(pupils::given_name)
                    .like(pattern.clone())
                    .escape('\\')
                    .or(lower(pupils::family_name)
                        .like(pattern.clone())
                        .escape('\\'))
                    .or(lower(pupils::upn).like(pattern).escape('\\')),
            );
        }
    }
    if let Some(year) = search.year {
        query = query.filter(year_groups::year.eq(year));
    }
    if let Some(form) = search
        .form
        .as_deref()
        .map(str::trim)
        .filter(|f| !f.is_empty())
    {
        query = query.filter(lower(forms::name).eq(form.to_lowercase()));
    }
    query
}

diesel::define_sql_function! {
    /// SQL `lower()`, so name searches ignore case on both engines. SQLite's own folds
    /// ASCII only: `register_unicode_lower` replaces it on every SQLite connection.
    fn lower(text: diesel::sql_types::Text) -> diesel::sql_types::Text;
}

/// Makes `lower()` on this SQLite connection fold case the way Rust's `to_lowercase` does
/// (and PostgreSQL's does), instead of SQLite's ASCII-only built-in.
pub fn register_unicode_lower(conn: &mut diesel::SqliteConnection) -> QueryResult<()> {
    lower_utils::register_impl(conn, |text: String| text.to_lowercase())
}

/// Escapes the wildcard characters of a LIKE pattern.
fn escape_like(text: &str) -> String {
    text.replace('\\', "\\\\")
        .replace('%', "\\%")
        .replace('_', "\\_")
}

/// The pupils of the forms `staff_id` tutors, by form, then family and given name.
pub fn tutored_by(
    conn: &mut DbConnection,
    school_id: i64,
    staff_id: i64,
    limit: i64,
) -> Result<Vec<PupilView>> {
    Ok(pupils_of(school_id)
        .filter(forms::tutor_id.eq(staff_id))
        .filter(pupils::left_on.is_null())
        .order((
            forms::name.asc(),
            pupils::family_name.asc(),
            pupils::given_name.asc(),
            pupils::id.asc(),
        ))
        .limit(limit.clamp(1, 1000))
        .load::<PupilJoined>(conn)?
        .into_iter()
        .map(to_view)
        .collect())
}

/// How many of the school's pupils are at each level 0-6, optionally only of those a pastoral
/// lead leads.
pub fn count_by_level(
    conn: &mut DbConnection,
    school_id: i64,
    led: Option<&Led>,
) -> Result<[i64; 7]> {
    let mut query = pupils::table
        .inner_join(year_groups::table)
        .filter(pupils::school_id.eq(school_id))
        .filter(pupils::left_on.is_null())
        .group_by(pupils::level)
        .select((pupils::level, diesel::dsl::count_star()))
        .into_boxed();
    if let Some(led) = led {
        query = query.filter(led.joined_condition());
    }
    let mut counts = [0i64; 7];
    for (level, count) in query.load::<(i16, i64)>(conn)? {
        if let Some(slot) = usize::try_from(level).ok().and_then(|l| counts.get_mut(l)) {
            *slot = count;
        }
    }
    Ok(counts)
}

/// Pupils of the school at or above `min_level`, highest level first, optionally only those a
/// pastoral lead leads.
pub fn at_levels(
    conn: &mut DbConnection,
    school_id: i64,
    min_level: Level,
    led: Option<&Led>,
    limit: i64,
) -> Result<Vec<PupilView>> {
    let mut query = pupils_of(school_id)
        .filter(pupils::level.ge(min_level.number()))
        .filter(pupils::left_on.is_null())
        .order((
            pupils::level.desc(),
            pupils::level_since.asc(),
            pupils::id.asc(),
        ))
        .limit(limit);
    if let Some(led) = led {
        query = query.filter(led.joined_condition());
    }
    Ok(query
        .load::<PupilJoined>(conn)?
        .into_iter()
        .map(to_view)
        .collect())
}

/// The pupils of this school with these ids, keyed by id (others are left out).
pub fn by_ids(
    conn: &mut DbConnection,
    school_id: i64,
    ids: &[i64],
) -> Result<std::collections::HashMap<i64, PupilView>> {
    let rows: Vec<PupilJoined> = pupils_of(school_id)
        .filter(pupils::id.eq_any(ids))
        .load(conn)?;
    Ok(rows.into_iter().map(to_view).map(|p| (p.id, p)).collect())
}
