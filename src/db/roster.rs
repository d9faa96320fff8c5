//! Applying a roll import (`domain::roster`): the school's pupils as the comparison needs
//! them, and a plan written in the caller's transaction: pupils added, their details
//! changed, year groups, forms and houses created as needed, leavers marked (never deleted)
//! and returning pupils restored; audited by counts, never by name.

use std::collections::HashMap;

use chrono::{DateTime, NaiveDate, Utc};
use diesel::prelude::*;

use super::audit::{self, AuditEntry};
use super::models::YearGroupRow;
use super::schema::{forms, houses, meetings, pupils, suggestions, year_groups};
use super::{contacts, schools, to_db_time, DbConnection};
use crate::domain::details::{FormName, SenStatus, YearNumber};
use crate::domain::roster::{RosterPlan, StoredPupil};
use crate::error::Result;

/// Why a leaver's open suggestions and meetings are closed.
const LEFT_REASON: &str = "The pupil left the school (marked by a whole-roll import).";

/// Every pupil of the school, on roll or left, as a roll import compares them.
pub fn stored_pupils(conn: &mut DbConnection, school_id: i64) -> Result<Vec<StoredPupil>> {
    type Row = (
        i64,
        String,
        String,
        String,
        i16,
        String,
        Option<String>,
        String,
        Option<NaiveDate>,
        Option<NaiveDate>,
    );
    let rows: Vec<Row> = pupils::table
        .inner_join(year_groups::table)
        .inner_join(forms::table)
        .left_join(houses::table)
        .filter(pupils::school_id.eq(school_id))
        .order(pupils::id)
        .select((
            pupils::id,
            pupils::upn,
            pupils::given_name,
            pupils::family_name,
            year_groups::year,
            forms::name,
            houses::name.nullable(),
            pupils::sen_status,
            pupils::date_of_birth,
            pupils::left_on,
        ))
        .load(conn)?;
    let mut held_contacts = contacts::facts_of_school(conn, school_id)?;
    Ok(rows
        .into_iter()
        .map(
            |(id, upn, given_name, family_name, year, form, house, sen, born, left_on)| {
                StoredPupil {
                    id,
                    upn,
                    given_name,
                    family_name,
                    year,
                    form,
                    house,
                    sen: SenStatus::parse(&sen).unwrap_or(SenStatus::None),
                    date_of_birth: born,
                    left: left_on.is_some(),
                    contacts: held_contacts.remove(&id).unwrap_or_default(),
                }
            },
        )
        .collect())
}

/// The year groups, forms and houses a plan needs, found or created once each.
struct Places {
    school_id: i64,
    years: HashMap<i16, YearGroupRow>,
    forms: HashMap<String, i64>,
    houses: HashMap<String, i64>,
}

impl Places {
    fn new(school_id: i64) -> Self {
        Places {
            school_id,
            years: HashMap::new(),
            forms: HashMap::new(),
            houses: HashMap::new(),
        }
    }

    fn year_group(&mut self, conn: &mut DbConnection, year: YearNumber) -> Result<YearGroupRow> {
        if let Some(found) = self.years.get(&year.get()) {
            return Ok(found.clone());
        }
        let found = schools::year_group(conn, self.school_id, year)?;
        self.years.insert(year.get(), found.clone());
        Ok(found)
    }

    /// The form, created in its year group when new, or moved to it when the file puts the
    /// form in another year (forms that keep their name as they move up).
    fn form(&mut self, conn: &mut DbConnection, year: YearNumber, name: &FormName) -> Result<i64> {
        if let Some(id) = self.forms.get(name.as_str()) {
            return Ok(*id);
        }
        let year_group = self.year_group(conn, year)?;
        let existing: Option<(i64, i64)> = forms::table
            .filter(forms::school_id.eq(self.school_id))
            .filter(forms::name.eq(name.as_str()))
            .select((forms::id, forms::year_group_id))
            .first(conn)
            .optional()?;
        let id = match existing {
            Some((id, in_year)) => {
                if in_year != year_group.id {
                    diesel::update(forms::table.find(id))
                        .set(forms::year_group_id.eq(year_group.id))
                        .execute(conn)?;
                }
                id
            }
            None => schools::form(conn, &year_group, name)?.id,
        };
        self.forms.insert(name.as_str().to_string(), id);
        Ok(id)
    }

    fn house(&mut self, conn: &mut DbConnection, name: Option<&str>) -> Result<Option<i64>> {
        let Some(name) = name else { return Ok(None) };
        if let Some(id) = self.houses.get(name) {
            return Ok(Some(*id));
        }
        let id = schools::house(conn, self.school_id, name)?;
        self.houses.insert(name.to_string(), id);
        Ok(Some(id))
    }
}

/// Writes a roll import's plan in the caller's transaction. Leavers are marked as left on
/// `today`, and their open suggestions and meetings still to be held are closed, saying why;
/// every record they have is kept.
pub fn apply(
    conn: &mut DbConnection,
    school_id: i64,
    actor_id: Option<i64>,
    plan: &RosterPlan,
    today: NaiveDate,
    now: DateTime<Utc>,
) -> Result<()> {
    let mut places = Places::new(school_id);
    let stamp = to_db_time(now);
    for record in &plan.added {
        let year_group = places.year_group(conn, record.year)?;
        let form_id = places.form(conn, record.year, &record.form)?;
        let house_id = places.house(conn, record.house.as_deref())?;
        let pupil_id: i64 = diesel::insert_into(pupils::table)
            .values((
                pupils::school_id.eq(school_id),
                pupils::upn.eq(record.upn.as_str()),
                pupils::given_name.eq(record.given_name.as_str()),
                pupils::family_name.eq(record.family_name.as_str()),
                pupils::year_group_id.eq(year_group.id),
                pupils::form_id.eq(form_id),
                pupils::house_id.eq(house_id),
                pupils::sen_status.eq(record.sen.unwrap_or(SenStatus::None).as_str()),
                pupils::date_of_birth.eq(record.date_of_birth),
                pupils::level.eq(0i16),
                pupils::level_since.eq(stamp),
                pupils::created_at.eq(stamp),
            ))
            .returning(pupils::id)
            .get_result(conn)?;
        if let Some(given) = &record.contacts {
            contacts::replace_from_import(conn, school_id, pupil_id, given)?;
        }
    }
    for changed in &plan.changed {
        let record = &changed.record;
        let row = pupils::table.find(changed.id);
        for change in &changed.changes {
            match change.field {
                "given_name" => diesel::update(row)
                    .set(pupils::given_name.eq(record.given_name.as_str()))
                    .execute(conn)?,
                "family_name" => diesel::update(row)
                    .set(pupils::family_name.eq(record.family_name.as_str()))
                    .execute(conn)?,
                "year" | "form" => {
                    let year_group = places.year_group(conn, record.year)?;
                    let form_id = places.form(conn, record.year, &record.form)?;
                    diesel::update(row)
                        .set((
                            pupils::year_group_id.eq(year_group.id),
                            pupils::form_id.eq(form_id),
                        ))
                        .execute(conn)?
                }
                "house" => {
                    let house_id = places.house(conn, record.house.as_deref())?;
                    diesel::update(row)
                        .set(pupils::house_id.eq(house_id))
                        .execute(conn)?
                }
                "sen_status" => diesel::update(row)
                    .set(pupils::sen_status.eq(record.sen.unwrap_or(SenStatus::None).as_str()))
                    .execute(conn)?,
                "date_of_birth" => diesel::update(row)
                    .set(pupils::date_of_birth.eq(record.date_of_birth))
                    .execute(conn)?,
                "on_roll" => diesel::update(row)
                    .set(pupils::left_on.eq(None::<NaiveDate>))
                    .execute(conn)?,
                "contacts" => match &record.contacts {
                    Some(given) => {
                        contacts::replace_from_import(conn, school_id, changed.id, given)?;
                        given.len()
                    }
                    None => 0,
                },
                _ => 0,
            };
        }
    }
    let leavers: Vec<i64> = plan.left.iter().map(|p| p.id).collect();
    for chunk in leavers.chunks(500) {
        diesel::update(pupils::table.filter(pupils::id.eq_any(chunk)))
            .set(pupils::left_on.eq(Some(today)))
            .execute(conn)?;
        diesel::update(
            suggestions::table
                .filter(suggestions::pupil_id.eq_any(chunk))
                .filter(suggestions::status.eq("open")),
        )
        .set((
            suggestions::status.eq("declined"),
            suggestions::decided_by.eq(actor_id),
            suggestions::decided_at.eq(Some(stamp)),
            suggestions::decision_note.eq(Some(LEFT_REASON)),
        ))
        .execute(conn)?;
        diesel::update(
            meetings::table
                .filter(meetings::pupil_id.eq_any(chunk))
                .filter(meetings::status.eq_any(["due", "scheduled", "overdue"])),
        )
        .set((
            meetings::status.eq("cancelled"),
            meetings::cancel_reason.eq(Some(LEFT_REASON)),
        ))
        .execute(conn)?;
    }
    let restored = plan.changed.iter().filter(|c| c.restored).count();
    audit::record(
        conn,
        AuditEntry {
            school_id,
            actor_id,
            action: "roster.import",
            entity: "school",
            entity_id: Some(school_id),
            detail: format!(
                "{} added, {} changed ({restored} back on roll), {} marked left, {} unchanged",
                plan.added.len(),
                plan.changed.len(),
                plan.left.len(),
                plan.unchanged
            ),
            at: stamp,
        },
    )
}
