//! What the insight reports read: incidents of a scope (school, year group, form, house or
//! pupil) over a date range, the per-pupil per-day incident counts kept alongside every
//! incident, the pupils on each level and the level changes, and each pupil's entries to a
//! level with the incidents before and after. The arithmetic is the domain's ([`crate::domain::insight`]).

use std::collections::{BTreeMap, HashMap};

use chrono::{DateTime, Datelike, NaiveDate, NaiveTime, TimeZone, Utc};
use diesel::prelude::*;

use super::models::{IncidentRow, PupilRow};
use super::pastoral::PastoralPlace;
use super::schema::{
    conversations, erased_incident_facts, erased_level_moves, erased_step_impacts, forms, houses,
    incident_pupils, incidents, level_changes, programme_blocks, pupil_day_incidents, pupils,
    school_day_groups, staff, year_groups,
};
use super::staff::StaffMember;
use super::{from_db_time, to_db_time, DbConnection};
use crate::domain::calendar::{SchoolCalendar, SCHOOL_TZ};
use crate::domain::insight::{
    group_of, groups_of, impact_windows, tally, Dimension, Group, ImpactWindows, IncidentFact,
    StepImpact, ERASED, WEEKDAY_NAMES,
};
use crate::domain::timetable::Timetable;
use crate::domain::{Level, Role};
use crate::error::{Error, Result};

// ---------------------------------------------------------------------------------------------
// The per-pupil per-day counts
// ---------------------------------------------------------------------------------------------

/// Keeps the pre-counted daily tables in step with one incident of `pupil_ids` at `at`: adds
/// `delta` (1 when it is logged, -1 when it is undone or erased) to each pupil's count on the
/// school-time date of `at`, in the caller's transaction. Adding is one multi-row upsert
/// ([`NewCounts`]); taking away, one update. Every pre-counted table kept with each incident
/// is maintained here, and only here.
pub fn count_incident(
    conn: &mut DbConnection,
    school_id: i64,
    pupil_ids: &[i64],
    at: DateTime<Utc>,
    delta: i32,
) -> Result<()> {
    if pupil_ids.is_empty() {
        return Ok(());
    }
    let day = SchoolCalendar::local_date(at);
    if delta > 0 {
        let mut counts = NewCounts::default();
        counts.add_pupil_days(school_id, pupil_ids, day, delta);
        counts.write(conn)?;
    } else {
        diesel::update(
            pupil_day_incidents::table
                .filter(pupil_day_incidents::pupil_id.eq_any(pupil_ids))
                .filter(pupil_day_incidents::day.eq(day)),
        )
        .set(pupil_day_incidents::incidents.eq(pupil_day_incidents::incidents + delta))
        .execute(conn)?;
    }
    Ok(())
}

/// What one or more incidents add to the pre-counted daily tables (each pupil's day, and the
/// whole school's groupings), gathered in memory and then written with one upsert per table
/// (`INSERT … ON CONFLICT DO UPDATE`). The rows go in key order, so writers on several
/// connections take the locks of shared rows in one order.
#[derive(Debug, Default)]
pub struct NewCounts {
    /// (pupil, day) to (school, incidents to add).
    pupil_days: BTreeMap<(i64, NaiveDate), (i64, i32)>,
    /// (school, day, dimension, grouping) to incidents to add.
    groups: BTreeMap<(i64, NaiveDate, &'static str, String), i32>,
}

impl NewCounts {
    /// Adds `delta` to each pupil's count on `day`.
    pub fn add_pupil_days(
        &mut self,
        school_id: i64,
        pupil_ids: &[i64],
        day: NaiveDate,
        delta: i32,
    ) {
        for pupil_id in pupil_ids {
            let entry = self
                .pupil_days
                .entry((*pupil_id, day))
                .or_insert((school_id, 0));
            entry.1 += delta;
        }
    }

    /// Adds `delta` for each of the incident's `pupils` to the school's daily groups it falls in.
    pub fn add_groupings(
        &mut self,
        school_id: i64,
        incident: &IncidentFact,
        pupils: usize,
        delta: i32,
        timetable: &Timetable,
    ) {
        let n = delta.saturating_mul(i32::try_from(pupils).unwrap_or(i32::MAX));
        let day = SchoolCalendar::local_date(incident.at);
        for dimension in KEPT_GROUPINGS {
            let key = (
                school_id,
                day,
                dimension.as_str(),
                group_of(incident, dimension, timetable),
            );
            *self.groups.entry(key).or_default() += n;
        }
    }

    /// Writes what was gathered, in the caller's transaction: at most two statements.
    pub fn write(&self, conn: &mut DbConnection) -> Result<()> {
        use diesel::upsert::excluded;
        let days: Vec<_> = self
            .pupil_days
            .iter()
            .filter(|(_, (_, n))| *n != 0)
            .map(|((pupil_id, day), (school_id, n))| {
                (
                    pupil_day_incidents::pupil_id.eq(*pupil_id),
                    pupil_day_incidents::day.eq(*day),
                    pupil_day_incidents::school_id.eq(*school_id),
                    pupil_day_incidents::incidents.eq(*n),
                )
            })
            .collect();
        let groups: Vec<_> = self
            .groups
            .iter()
            .filter(|(_, n)| **n != 0)
            .map(|((school_id, day, dimension, grouping), n)| {
                (
                    school_day_groups::school_id.eq(*school_id),
                    school_day_groups::day.eq(*day),
                    school_day_groups::dimension.eq(*dimension),
                    school_day_groups::grouping.eq(grouping.as_str()),
                    school_day_groups::incidents.eq(*n),
                )
            })
            .collect();
        let day_key = (pupil_day_incidents::pupil_id, pupil_day_incidents::day);
        let add_day = pupil_day_incidents::incidents
            .eq(pupil_day_incidents::incidents + excluded(pupil_day_incidents::incidents));
        let group_key = (
            school_day_groups::school_id,
            school_day_groups::day,
            school_day_groups::dimension,
            school_day_groups::grouping,
        );
        let add_group = school_day_groups::incidents
            .eq(school_day_groups::incidents + excluded(school_day_groups::incidents));
        if !groups.is_empty() {
            super::on_each_engine!(conn, |c| diesel::insert_into(school_day_groups::table)
                .values(groups)
                .on_conflict(group_key)
                .do_update()
                .set(add_group)
                .execute(c)?);
        }
        if !days.is_empty() {
            super::on_each_engine!(conn, |c| diesel::insert_into(pupil_day_incidents::table)
                .values(days)
                .on_conflict(day_key)
                .do_update()
                .set(add_day)
                .execute(c)?);
        }
        Ok(())
    }
}

/// Rebuilds a school's per-day counts from its incidents (after a bulk load such as the demo).
pub fn rebuild_daily_counts(conn: &mut DbConnection, school_id: i64) -> Result<usize> {
    diesel::delete(pupil_day_incidents::table.filter(pupil_day_incidents::school_id.eq(school_id)))
        .execute(conn)?;
    let rows: Vec<(i64, chrono::NaiveDateTime)> = incident_pupils::table
        .inner_join(incidents::table)
        .filter(incident_pupils::school_id.eq(school_id))
        .filter(incidents::voided_at.is_null())
        .select((incident_pupils::pupil_id, incident_pupils::occurred_at))
        .load(conn)?;
    let mut counts: BTreeMap<(i64, NaiveDate), i32> = BTreeMap::new();
    for (pupil_id, at) in rows {
        *counts
            .entry((pupil_id, SchoolCalendar::local_date(from_db_time(at))))
            .or_default() += 1;
    }
    for ((pupil_id, day), n) in &counts {
        diesel::insert_into(pupil_day_incidents::table)
            .values((
                pupil_day_incidents::pupil_id.eq(pupil_id),
                pupil_day_incidents::day.eq(day),
                pupil_day_incidents::school_id.eq(school_id),
                pupil_day_incidents::incidents.eq(n),
            ))
            .execute(conn)?;
    }
    Ok(counts.len())
}

/// Fills the per-day counts of every school when they are missing while incidents exist: a
/// database that had incidents before the counts were kept.
pub fn fill_daily_counts_if_missing(conn: &mut DbConnection) -> Result<()> {
    // One row is enough to know the counts are kept; counting them all would scan the table.
    let kept: Option<i64> = pupil_day_incidents::table
        .select(pupil_day_incidents::pupil_id)
        .first(conn)
        .optional()?;
    if kept.is_some() {
        return Ok(());
    }
    let schools: Vec<i64> = incidents::table
        .select(incidents::school_id)
        .distinct()
        .load(conn)?;
    for school_id in schools {
        rebuild_daily_counts(conn, school_id)?;
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// The whole school's daily groupings
// ---------------------------------------------------------------------------------------------

/// The groupings of the pattern report kept pre-counted per school day for the whole school
/// (`school_day_groups`); the day of the week is read from the day, and the pupil from
/// `pupil_day_incidents`.
pub const KEPT_GROUPINGS: [Dimension; 5] = [
    Dimension::Behaviour,
    Dimension::Location,
    Dimension::Subject,
    Dimension::Period,
    Dimension::Staff,
];

/// An incident as its groupings see it (`pupil_id` and `incident_id` are not read): when,
/// what, where, in which lesson and who logged it.
pub fn grouped_fact(
    at: DateTime<Utc>,
    behaviour: &str,
    location: Option<&str>,
    lesson: Option<&str>,
    staff_id: i64,
) -> IncidentFact {
    IncidentFact {
        incident_id: 0,
        pupil_id: 0,
        at,
        behaviour: behaviour.to_string(),
        location: location.map(str::to_string),
        lesson: lesson.map(str::to_string),
        staff_id,
    }
}

/// Adds `delta` (1 when an incident is logged, -1 when it is undone or erased) for each of
/// its `pupils` to the school's daily groups the incident falls in, in the caller's
/// transaction: one upsert of a row per kept grouping ([`NewCounts`]). Kept beside
/// [`count_incident`]: every path that adds or takes away an incident calls both.
pub fn count_incident_groupings(
    conn: &mut DbConnection,
    school_id: i64,
    incident: &IncidentFact,
    pupils: usize,
    delta: i32,
    timetable: &Timetable,
) -> Result<()> {
    let mut counts = NewCounts::default();
    counts.add_groupings(school_id, incident, pupils, delta, timetable);
    counts.write(conn)
}

/// Rows of the daily groupings written at once when they are rebuilt.
const GROUPING_CHUNK: usize = 500;

/// Rebuilds a school's daily groupings from its incidents (those still counting, one per
/// pupil) and the facts kept of erased ones: after a bulk load (the demo, a history import),
/// when the timetable changes (the lesson periods group differently), and when they were
/// never kept. Answers the rows written.
pub fn rebuild_groupings(conn: &mut DbConnection, school_id: i64) -> Result<usize> {
    diesel::delete(school_day_groups::table.filter(school_day_groups::school_id.eq(school_id)))
        .execute(conn)?;
    let timetable = super::timetable::load(conn, school_id)?;
    let live: Vec<ErasedFactRow> = incidents::table
        .inner_join(incident_pupils::table)
        .filter(incidents::school_id.eq(school_id))
        .filter(incidents::voided_at.is_null())
        .select((
            incidents::occurred_at,
            incidents::behaviour,
            incidents::location,
            incidents::lesson,
            incidents::reported_by,
        ))
        .load(conn)?;
    let erased: Vec<ErasedFactRow> = erased_incident_facts::table
        .filter(erased_incident_facts::school_id.eq(school_id))
        .select((
            erased_incident_facts::occurred_at,
            erased_incident_facts::behaviour,
            erased_incident_facts::location,
            erased_incident_facts::lesson,
            erased_incident_facts::reported_by,
        ))
        .load(conn)?;
    let mut counts: HashMap<(NaiveDate, &'static str, String), i32> = HashMap::new();
    for (at, behaviour, location, lesson, staff_id) in live.into_iter().chain(erased) {
        let fact = IncidentFact {
            incident_id: 0,
            pupil_id: 0,
            at: from_db_time(at),
            behaviour,
            location,
            lesson,
            staff_id,
        };
        let day = SchoolCalendar::local_date(fact.at);
        for dimension in KEPT_GROUPINGS {
            *counts
                .entry((
                    day,
                    dimension.as_str(),
                    group_of(&fact, dimension, &timetable),
                ))
                .or_default() += 1;
        }
    }
    let mut rows: Vec<_> = counts.into_iter().collect();
    rows.sort_unstable();
    for chunk in rows.chunks(GROUPING_CHUNK) {
        let values: Vec<_> = chunk
            .iter()
            .map(|((day, dimension, grouping), n)| {
                (
                    school_day_groups::school_id.eq(school_id),
                    school_day_groups::day.eq(*day),
                    school_day_groups::dimension.eq(*dimension),
                    school_day_groups::grouping.eq(grouping.as_str()),
                    school_day_groups::incidents.eq(*n),
                )
            })
            .collect();
        super::on_each_engine!(conn, |c| diesel::insert_into(school_day_groups::table)
            .values(values)
            .execute(c)?);
    }
    Ok(rows.len())
}

/// Fills the daily groupings of every school when none are kept while incidents (or the
/// facts of erased ones) exist: a database from before they were kept.
pub fn fill_groupings_if_missing(conn: &mut DbConnection) -> Result<()> {
    let kept: Option<i64> = school_day_groups::table
        .select(school_day_groups::school_id)
        .first(conn)
        .optional()?;
    if kept.is_some() {
        return Ok(());
    }
    let mut schools: Vec<i64> = incidents::table
        .select(incidents::school_id)
        .distinct()
        .load(conn)?;
    schools.extend(
        erased_incident_facts::table
            .select(erased_incident_facts::school_id)
            .distinct()
            .load::<i64>(conn)?,
    );
    schools.sort_unstable();
    schools.dedup();
    for school_id in schools {
        rebuild_groupings(conn, school_id)?;
    }
    Ok(())
}

/// A pattern report's figures: the incidents counted (one per pupil) and the groups of each
/// dimension, in [`Dimension::ALL`]'s order, as [`tally`] orders them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Patterns {
    pub total: u64,
    pub dimensions: Vec<(Dimension, Vec<Group>)>,
}

/// The pattern report's figures for a scope: the whole school's read from the daily
/// groupings (a few thousand rows a year, summed by the database), any other scope's
/// counted from its incidents.
pub fn patterns(
    conn: &mut DbConnection,
    school_id: i64,
    scope: Scope,
    (from, to): (NaiveDate, NaiveDate),
    timetable: &Timetable,
) -> Result<Patterns> {
    if scope == Scope::School {
        school_patterns(conn, school_id, (from, to), timetable)
    } else {
        patterns_from_facts(conn, school_id, scope, (from, to), timetable)
    }
}

/// The pattern report's figures counted from every incident of the scope (see [`facts`]).
pub fn patterns_from_facts(
    conn: &mut DbConnection,
    school_id: i64,
    scope: Scope,
    (from, to): (NaiveDate, NaiveDate),
    timetable: &Timetable,
) -> Result<Patterns> {
    let facts = facts(conn, school_id, scope, from, to)?;
    super::reports::check_time()?;
    let mut dimensions = Vec::new();
    for dimension in Dimension::ALL {
        dimensions.push((dimension, tally(&facts, dimension, timetable)));
    }
    Ok(Patterns {
        total: facts.len() as u64,
        dimensions,
    })
}

/// The whole school's pattern figures from the daily groupings, `pupil_day_incidents` and
/// the count of erased pupils' incidents.
pub fn school_patterns(
    conn: &mut DbConnection,
    school_id: i64,
    (from, to): (NaiveDate, NaiveDate),
    timetable: &Timetable,
) -> Result<Patterns> {
    use diesel::dsl::{count_star, sum};
    let in_range = school_day_groups::school_id
        .eq(school_id)
        .and(school_day_groups::day.ge(from))
        .and(school_day_groups::day.le(to));
    let grouped: Vec<(String, String, Option<i64>)> = school_day_groups::table
        .filter(in_range)
        .group_by((school_day_groups::dimension, school_day_groups::grouping))
        .select((
            school_day_groups::dimension,
            school_day_groups::grouping,
            sum(school_day_groups::incidents),
        ))
        .load(conn)?;
    super::reports::check_time()?;
    // Every incident has one behaviour: its rows per day are the day's incidents.
    let per_day: Vec<(NaiveDate, Option<i64>)> = school_day_groups::table
        .filter(in_range)
        .filter(school_day_groups::dimension.eq(Dimension::Behaviour.as_str()))
        .group_by(school_day_groups::day)
        .select((school_day_groups::day, sum(school_day_groups::incidents)))
        .load(conn)?;
    let per_pupil: Vec<(i64, Option<i64>)> = pupil_day_incidents::table
        .filter(pupil_day_incidents::school_id.eq(school_id))
        .filter(pupil_day_incidents::day.ge(from))
        .filter(pupil_day_incidents::day.le(to))
        .group_by(pupil_day_incidents::pupil_id)
        .select((
            pupil_day_incidents::pupil_id,
            sum(pupil_day_incidents::incidents),
        ))
        .load(conn)?;
    let (start, end) = instants(from, to);
    let erased: i64 = erased_incident_facts::table
        .filter(erased_incident_facts::school_id.eq(school_id))
        .filter(erased_incident_facts::occurred_at.ge(start))
        .filter(erased_incident_facts::occurred_at.lt(end))
        .select(count_star())
        .first(conn)?;
    super::reports::check_time()?;
    let count = |n: Option<i64>| u32::try_from(n.unwrap_or(0)).unwrap_or(0);
    let mut counted: HashMap<Dimension, BTreeMap<String, u32>> = HashMap::new();
    for (dimension, grouping, n) in grouped {
        let n = count(n);
        if let (Some(dimension), true) = (Dimension::parse(&dimension), n > 0) {
            counted.entry(dimension).or_default().insert(grouping, n);
        }
    }
    let mut total = 0u64;
    let weekdays = counted.entry(Dimension::Weekday).or_default();
    for (day, n) in per_day {
        let n = count(n);
        if n > 0 {
            total += u64::from(n);
            let name = WEEKDAY_NAMES[day.weekday().num_days_from_monday() as usize];
            *weekdays.entry(name.to_string()).or_default() += n;
        }
    }
    let pupils = counted.entry(Dimension::Pupil).or_default();
    for (pupil_id, n) in per_pupil {
        let n = count(n);
        if n > 0 {
            pupils.insert(pupil_id.to_string(), n);
        }
    }
    if let Some(n) = u32::try_from(erased).ok().filter(|n| *n > 0) {
        pupils.insert(ERASED.to_string(), n);
    }
    let dimensions = Dimension::ALL
        .into_iter()
        .map(|dimension| {
            let counts = counted.remove(&dimension).unwrap_or_default();
            (dimension, groups_of(counts, dimension, timetable))
        })
        .collect();
    Ok(Patterns { total, dimensions })
}

// ---------------------------------------------------------------------------------------------
// Scope and range
// ---------------------------------------------------------------------------------------------

/// Whose incidents a report covers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    School,
    Year(i16),
    Form(i64),
    /// The pupils of a house, by its id.
    House(i64),
    Pupil(i64),
}

/// Narrows a boxed query that joins `pupils` and `year_groups` to a scope's pupils, matching
/// a single pupil on `$pupil_id` (the column of the table the query reads).
macro_rules! within_scope {
    ($query:expr, $scope:expr, $pupil_id:expr) => {
        match $scope {
            // The whole school's history holds every pupil's records, those who have left
            // included, so a past term's figures stay as they were when a pupil leaves. A year
            // group, form or house is the pupils in it now: those who have left are out of its
            // figures, their own stay readable.
            Scope::School => $query,
            Scope::Year(year) => $query
                .filter(year_groups::year.eq(year))
                .filter(pupils::left_on.is_null()),
            Scope::Form(form_id) => $query
                .filter(pupils::form_id.eq(form_id))
                .filter(pupils::left_on.is_null()),
            Scope::House(house_id) => $query
                .filter(pupils::house_id.eq(house_id))
                .filter(pupils::left_on.is_null()),
            Scope::Pupil(pupil_id) => $query.filter($pupil_id.eq(pupil_id)),
        }
    };
}

/// Whose pupils a scope covers, as far as who may see its reports goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reach {
    /// The whole school.
    School,
    /// A year group, or a form of it.
    Year(i16),
    /// A house.
    House(i64),
    /// One pupil, in their year group and house.
    Pupil(PastoralPlace),
}

/// Who may see reports of a scope: SLT, the SENDCO and Heads of Department the whole school
/// (a Head of Department's subject is among its patterns); a Head of Year their year groups
/// (with their forms and pupils); a Head of House their houses (with their pupils).
pub fn may_see(member: &StaffMember, reach: Reach) -> bool {
    member.has_any_role(&[Role::Slt, Role::Sendco, Role::Hod])
        || match reach {
            Reach::School => false,
            Reach::Year(year) => member.leads(PastoralPlace {
                year,
                house_id: None,
            }),
            Reach::House(house_id) => member.leads_house(house_id),
            Reach::Pupil(place) => member.leads(place),
        }
}

/// Whose pupils a scope covers, checked against the school: another school's form, house or
/// pupil is not found.
pub fn reach_of(conn: &mut DbConnection, school_id: i64, scope: Scope) -> Result<Reach> {
    match scope {
        Scope::School => Ok(Reach::School),
        Scope::Year(year) => Ok(Reach::Year(year)),
        Scope::Form(form_id) => forms::table
            .inner_join(year_groups::table)
            .filter(forms::id.eq(form_id))
            .filter(forms::school_id.eq(school_id))
            .select(year_groups::year)
            .first(conn)
            .optional()?
            .map(Reach::Year)
            .ok_or(Error::NotFound("form")),
        Scope::House(house_id) => houses::table
            .filter(houses::id.eq(house_id))
            .filter(houses::school_id.eq(school_id))
            .select(houses::id)
            .first(conn)
            .optional()?
            .map(Reach::House)
            .ok_or(Error::NotFound("house")),
        Scope::Pupil(pupil_id) => pupils::table
            .inner_join(year_groups::table)
            .filter(pupils::id.eq(pupil_id))
            .filter(pupils::school_id.eq(school_id))
            .select((year_groups::year, pupils::house_id))
            .first::<(i16, Option<i64>)>(conn)
            .optional()?
            .map(|(year, house_id)| Reach::Pupil(PastoralPlace { year, house_id }))
            .ok_or(Error::NotFound("pupil")),
    }
}

/// The instants covering the school dates `from` to `to`, both included, for the database.
fn instants(from: NaiveDate, to: NaiveDate) -> (chrono::NaiveDateTime, chrono::NaiveDateTime) {
    let start_of = |d: NaiveDate| {
        SCHOOL_TZ
            .from_local_datetime(&d.and_time(NaiveTime::MIN))
            .earliest()
            .map_or_else(
                || d.and_time(NaiveTime::MIN).and_utc(),
                |t| t.with_timezone(&Utc),
            )
    };
    let end = to.succ_opt().unwrap_or(to);
    (to_db_time(start_of(from)), to_db_time(start_of(end)))
}

/// The pupil a scope is, or no pupil (ids start at 1): the one left pupil a scope counts now.
fn pupil_of(scope: Scope) -> i64 {
    match scope {
        Scope::Pupil(id) => id,
        _ => ERASED,
    }
}

/// The pupils of a scope now, those who have left out (a pupil's own scope is them): their ids.
pub fn pupils_in(conn: &mut DbConnection, school_id: i64, scope: Scope) -> Result<Vec<i64>> {
    let mut query = pupils::table
        .inner_join(year_groups::table)
        .filter(pupils::school_id.eq(school_id))
        .filter(pupils::left_on.is_null().or(pupils::id.eq(pupil_of(scope))))
        .select(pupils::id)
        .into_boxed();
    query = within_scope!(query, scope, pupils::id);
    Ok(query.load(conn)?)
}

/// The incidents of a scope from `from` to `to` (school dates, both included), one fact per
/// pupil involved, undone incidents left out; read through the school-and-time index.
pub fn facts(
    conn: &mut DbConnection,
    school_id: i64,
    scope: Scope,
    from: NaiveDate,
    to: NaiveDate,
) -> Result<Vec<IncidentFact>> {
    let (start, end) = instants(from, to);
    let mut query = incidents::table
        .inner_join(incident_pupils::table.inner_join(pupils::table.inner_join(year_groups::table)))
        .filter(incidents::school_id.eq(school_id))
        .filter(incidents::occurred_at.ge(start))
        .filter(incidents::occurred_at.lt(end))
        .filter(incidents::voided_at.is_null())
        .into_boxed();
    query = within_scope!(query, scope, incident_pupils::pupil_id);
    let rows: Vec<IncidentFactRow> = query
        .order((incidents::occurred_at, incidents::id))
        .select((
            incidents::id,
            incident_pupils::pupil_id,
            incidents::occurred_at,
            incidents::behaviour,
            incidents::location,
            incidents::lesson,
            incidents::reported_by,
        ))
        .load(conn)?;
    let mut facts: Vec<IncidentFact> = rows
        .into_iter()
        .map(
            |(incident_id, pupil_id, at, behaviour, location, lesson, staff_id)| IncidentFact {
                incident_id,
                pupil_id,
                at: from_db_time(at),
                behaviour,
                location,
                lesson,
                staff_id,
            },
        )
        .collect();
    if scope == Scope::School {
        let erased: Vec<ErasedFactRow> = erased_incident_facts::table
            .filter(erased_incident_facts::school_id.eq(school_id))
            .filter(erased_incident_facts::occurred_at.ge(start))
            .filter(erased_incident_facts::occurred_at.lt(end))
            .order((
                erased_incident_facts::occurred_at,
                erased_incident_facts::id,
            ))
            .select((
                erased_incident_facts::occurred_at,
                erased_incident_facts::behaviour,
                erased_incident_facts::location,
                erased_incident_facts::lesson,
                erased_incident_facts::reported_by,
            ))
            .load(conn)?;
        facts.extend(
            erased
                .into_iter()
                .map(|(at, behaviour, location, lesson, staff_id)| IncidentFact {
                    incident_id: ERASED,
                    pupil_id: ERASED,
                    at: from_db_time(at),
                    behaviour,
                    location,
                    lesson,
                    staff_id,
                }),
        );
        facts.sort_by_key(|fact| fact.at);
    }
    Ok(facts)
}

type ErasedFactRow = (
    chrono::NaiveDateTime,
    String,
    Option<String>,
    Option<String>,
    i64,
);

type IncidentFactRow = (
    i64,
    i64,
    chrono::NaiveDateTime,
    String,
    Option<String>,
    Option<String>,
    i64,
);

/// Names for the groups of the pupil and staff dimensions: "Family, Given" by pupil id and
/// staff names by staff id, of this school only.
pub fn names(
    conn: &mut DbConnection,
    school_id: i64,
    pupil_ids: &[i64],
    staff_ids: &[i64],
) -> Result<(HashMap<i64, String>, HashMap<i64, String>)> {
    let pupil_names: Vec<(i64, String, String)> = pupils::table
        .filter(pupils::school_id.eq(school_id))
        .filter(pupils::id.eq_any(pupil_ids))
        .select((pupils::id, pupils::family_name, pupils::given_name))
        .load(conn)?;
    let staff_names: Vec<(i64, String)> = staff::table
        .filter(staff::school_id.eq(school_id))
        .filter(staff::id.eq_any(staff_ids))
        .select((staff::id, staff::name))
        .load(conn)?;
    Ok((
        pupil_names
            .into_iter()
            .map(|(id, family, given)| (id, format!("{family}, {given}")))
            .collect(),
        staff_names.into_iter().collect(),
    ))
}

/// Incidents by id with the names of their pupils, newest first: the rows behind a bar.
pub fn incidents_by_id(
    conn: &mut DbConnection,
    school_id: i64,
    ids: &[i64],
) -> Result<Vec<(IncidentRow, Vec<PupilRow>)>> {
    let rows: Vec<IncidentRow> = incidents::table
        .filter(incidents::school_id.eq(school_id))
        .filter(incidents::id.eq_any(ids))
        .order((incidents::occurred_at.desc(), incidents::id.desc()))
        .select(IncidentRow::as_select())
        .load(conn)?;
    let links: Vec<(i64, PupilRow)> = incident_pupils::table
        .inner_join(pupils::table)
        .filter(incident_pupils::incident_id.eq_any(ids))
        .filter(pupils::school_id.eq(school_id))
        .select((incident_pupils::incident_id, PupilRow::as_select()))
        .load(conn)?;
    let mut by_incident: HashMap<i64, Vec<PupilRow>> = HashMap::new();
    for (incident_id, pupil) in links {
        by_incident.entry(incident_id).or_default().push(pupil);
    }
    Ok(rows
        .into_iter()
        .map(|row| {
            let pupils = by_incident.remove(&row.id).unwrap_or_default();
            (row, pupils)
        })
        .collect())
}

/// Incidents per day of the scope's pupils from `from` to `to`, from the per-day counts.
pub fn daily_counts(
    conn: &mut DbConnection,
    school_id: i64,
    scope: Scope,
    from: NaiveDate,
    to: NaiveDate,
) -> Result<Vec<(NaiveDate, u32)>> {
    let mut query = pupil_day_incidents::table
        .inner_join(pupils::table.inner_join(year_groups::table))
        .filter(pupil_day_incidents::school_id.eq(school_id))
        .filter(pupil_day_incidents::day.ge(from))
        .filter(pupil_day_incidents::day.le(to))
        .into_boxed();
    query = within_scope!(query, scope, pupil_day_incidents::pupil_id);
    let rows: Vec<(NaiveDate, i32)> = query
        .select((pupil_day_incidents::day, pupil_day_incidents::incidents))
        .load(conn)?;
    let mut by_day: BTreeMap<NaiveDate, u32> = BTreeMap::new();
    for (day, n) in rows {
        *by_day.entry(day).or_default() += u32::try_from(n.max(0)).unwrap_or(0);
    }
    Ok(by_day.into_iter().collect())
}

// ---------------------------------------------------------------------------------------------
// The ladder
// ---------------------------------------------------------------------------------------------

/// How many pupils of the scope are at each level now, none to 6.
pub fn pupils_per_level(conn: &mut DbConnection, school_id: i64, scope: Scope) -> Result<[u32; 7]> {
    let mut query = pupils::table
        .inner_join(year_groups::table)
        .filter(pupils::school_id.eq(school_id))
        .filter(pupils::left_on.is_null().or(pupils::id.eq(pupil_of(scope))))
        .select(pupils::level)
        .into_boxed();
    query = within_scope!(query, scope, pupils::id);
    let levels: Vec<i16> = query.load(conn)?;
    let mut counts = [0u32; 7];
    for level in levels {
        if let Some(slot) = usize::try_from(level).ok().and_then(|i| counts.get_mut(i)) {
            *slot += 1;
        }
    }
    Ok(counts)
}

/// A level change as the reports see it.
#[derive(Debug, Clone)]
pub struct LevelMove {
    pub pupil_id: i64,
    pub year: i16,
    pub on: NaiveDate,
    pub from: Level,
    pub to: Level,
    /// Who took the step.
    pub changed_by: Option<i64>,
}

/// Level changes of the scope's pupils from `from` to `to`, oldest first; for the whole
/// school, with the moves of pupils whose records the retention schedule erased (pupil id
/// [`ERASED`]).
pub fn level_moves(
    conn: &mut DbConnection,
    school_id: i64,
    scope: Scope,
    from: NaiveDate,
    to: NaiveDate,
) -> Result<Vec<LevelMove>> {
    let mut moves = live_level_moves(conn, school_id, scope, from, to)?;
    if scope == Scope::School {
        let (start, end) = instants(from, to);
        let erased: Vec<(chrono::NaiveDateTime, i16, i16, Option<i64>, i16)> =
            erased_level_moves::table
                .filter(erased_level_moves::school_id.eq(school_id))
                .filter(erased_level_moves::occurred_at.ge(start))
                .filter(erased_level_moves::occurred_at.lt(end))
                .order((erased_level_moves::occurred_at, erased_level_moves::id))
                .select((
                    erased_level_moves::occurred_at,
                    erased_level_moves::from_level,
                    erased_level_moves::to_level,
                    erased_level_moves::changed_by,
                    erased_level_moves::year,
                ))
                .load(conn)?;
        moves.extend(
            erased
                .into_iter()
                .filter_map(|(at, from, to, changed_by, year)| {
                    Some(LevelMove {
                        pupil_id: ERASED,
                        year,
                        on: SchoolCalendar::local_date(from_db_time(at)),
                        from: Level::from_number(i64::from(from)).ok()?,
                        to: Level::from_number(i64::from(to)).ok()?,
                        changed_by,
                    })
                }),
        );
        moves.sort_by_key(|m| m.on);
    }
    Ok(moves)
}

/// Level changes of the scope's pupils still on record from `from` to `to`, oldest first.
fn live_level_moves(
    conn: &mut DbConnection,
    school_id: i64,
    scope: Scope,
    from: NaiveDate,
    to: NaiveDate,
) -> Result<Vec<LevelMove>> {
    let (start, end) = instants(from, to);
    let mut query = level_changes::table
        .inner_join(pupils::table.inner_join(year_groups::table))
        .filter(level_changes::school_id.eq(school_id))
        .filter(level_changes::occurred_at.ge(start))
        .filter(level_changes::occurred_at.lt(end))
        .into_boxed();
    query = within_scope!(query, scope, level_changes::pupil_id);
    let rows: Vec<(i64, i16, chrono::NaiveDateTime, i16, i16, Option<i64>)> = query
        .order((level_changes::occurred_at, level_changes::id))
        .select((
            level_changes::pupil_id,
            year_groups::year,
            level_changes::occurred_at,
            level_changes::from_level,
            level_changes::to_level,
            level_changes::changed_by,
        ))
        .load(conn)?;
    Ok(rows
        .into_iter()
        .filter_map(|(pupil_id, year, at, from, to, changed_by)| {
            Some(LevelMove {
                pupil_id,
                year,
                on: SchoolCalendar::local_date(from_db_time(at)),
                from: Level::from_number(i64::from(from)).ok()?,
                to: Level::from_number(i64::from(to)).ok()?,
                changed_by,
            })
        })
        .collect())
}

// ---------------------------------------------------------------------------------------------
// The impact of each step
// ---------------------------------------------------------------------------------------------

/// One entry to a level with its before and after counts, the pupil's year and the member of
/// staff who delivered the step: the adult who held the Coaching Conversation, the
/// practitioner who ran the programme's first block, otherwise the person who took the step.
#[derive(Debug, Clone)]
pub struct Entry {
    pub impact: StepImpact,
    pub year: i16,
    pub delivered_by: Option<i64>,
}

/// Every entry of the scope's pupils to a level (a move up) from `from` to `to`, with the
/// incidents in the `n` school days before and after it, from the per-day counts.
pub fn entries(
    conn: &mut DbConnection,
    school_id: i64,
    scope: Scope,
    (from, to): (NaiveDate, NaiveDate),
    calendar: &SchoolCalendar,
    n: u32,
) -> Result<Vec<Entry>> {
    let ups: Vec<LevelMove> = live_level_moves(conn, school_id, scope, from, to)?
        .into_iter()
        .filter(|m| m.to > m.from)
        .collect();
    let erased = if scope == Scope::School {
        erased_entries(conn, school_id, from, to)?
    } else {
        Vec::new()
    };
    if ups.is_empty() {
        return Ok(erased);
    }
    let windows: Vec<_> = ups
        .iter()
        .map(|m| impact_windows(calendar, m.on, n))
        .collect();
    let first = windows.iter().map(|w| w.before.0).min().unwrap_or(from);
    let last = windows.iter().map(|w| w.after.1).max().unwrap_or(to);
    let pupil_ids: Vec<i64> = ups.iter().map(|m| m.pupil_id).collect();
    let counts: Vec<(i64, NaiveDate, i32)> = pupil_day_incidents::table
        .filter(pupil_day_incidents::school_id.eq(school_id))
        .filter(pupil_day_incidents::pupil_id.eq_any(&pupil_ids))
        .filter(pupil_day_incidents::day.ge(first))
        .filter(pupil_day_incidents::day.le(last))
        .select((
            pupil_day_incidents::pupil_id,
            pupil_day_incidents::day,
            pupil_day_incidents::incidents,
        ))
        .load(conn)?;
    let mut by_pupil: HashMap<i64, Vec<(NaiveDate, u32)>> = HashMap::new();
    for (pupil_id, day, n) in counts {
        by_pupil
            .entry(pupil_id)
            .or_default()
            .push((day, u32::try_from(n.max(0)).unwrap_or(0)));
    }
    let holders = first_conversation_holders(conn, school_id, &pupil_ids)?;
    let practitioners = first_practitioners(conn, school_id, &pupil_ids)?;
    let sum = |pupil_id: i64, (a, b): (NaiveDate, NaiveDate)| -> u32 {
        by_pupil.get(&pupil_id).map_or(0, |days| {
            days.iter()
                .filter(|(day, _)| (a..=b).contains(day))
                .map(|(_, n)| n)
                .sum()
        })
    };
    let mut live: Vec<Entry> = ups
        .into_iter()
        .zip(windows)
        .map(|(m, windows)| {
            let delivered_by = match m.to {
                Level::Conversation => nearest_after(&holders, m.pupil_id, m.on),
                Level::Programme => nearest_after(&practitioners, m.pupil_id, m.on),
                _ => None,
            }
            .or(m.changed_by);
            Entry {
                impact: StepImpact {
                    pupil_id: m.pupil_id,
                    level: m.to,
                    entered_on: m.on,
                    before: sum(m.pupil_id, windows.before),
                    after: sum(m.pupil_id, windows.after),
                    windows,
                },
                year: m.year,
                delivered_by,
            }
        })
        .collect();
    live.extend(erased);
    live.sort_by_key(|e| e.impact.entered_on);
    Ok(live)
}

/// The entries to a level, from `from` to `to`, of pupils whose records the retention
/// schedule erased, as they were counted when the records went (pupil id [`ERASED`]).
fn erased_entries(
    conn: &mut DbConnection,
    school_id: i64,
    from: NaiveDate,
    to: NaiveDate,
) -> Result<Vec<Entry>> {
    let rows: Vec<ErasedImpactRow> = erased_step_impacts::table
        .filter(erased_step_impacts::school_id.eq(school_id))
        .filter(erased_step_impacts::entered_on.ge(from))
        .filter(erased_step_impacts::entered_on.le(to))
        .order((erased_step_impacts::entered_on, erased_step_impacts::id))
        .select(ErasedImpactRow::as_select())
        .load(conn)?;
    Ok(rows
        .into_iter()
        .filter_map(|row| {
            let count = |n: i32| u32::try_from(n).unwrap_or(0);
            Some(Entry {
                impact: StepImpact {
                    pupil_id: ERASED,
                    level: Level::from_number(i64::from(row.level)).ok()?,
                    entered_on: row.entered_on,
                    windows: ImpactWindows {
                        before: (row.before_from, row.before_to),
                        after: (row.after_from, row.after_to),
                        school_days: count(row.school_days),
                    },
                    before: count(row.incidents_before),
                    after: count(row.incidents_after),
                },
                year: row.year,
                delivered_by: row.delivered_by,
            })
        })
        .collect())
}

/// A stored entry to a level of a pupil whose records were erased.
#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = erased_step_impacts)]
pub struct ErasedImpactRow {
    pub school_id: i64,
    pub level: i16,
    pub entered_on: NaiveDate,
    pub before_from: NaiveDate,
    pub before_to: NaiveDate,
    pub after_from: NaiveDate,
    pub after_to: NaiveDate,
    pub school_days: i32,
    pub incidents_before: i32,
    pub incidents_after: i32,
    pub year: i16,
    pub delivered_by: Option<i64>,
    pub erased_at: chrono::NaiveDateTime,
}

impl ErasedImpactRow {
    /// The row keeping `entry` of a pupil whose records are erased at `erased_at`.
    pub fn keeping(school_id: i64, entry: &Entry, erased_at: chrono::NaiveDateTime) -> Self {
        let step = &entry.impact;
        let count = |n: u32| i32::try_from(n).unwrap_or(i32::MAX);
        ErasedImpactRow {
            school_id,
            level: step.level.number(),
            entered_on: step.entered_on,
            before_from: step.windows.before.0,
            before_to: step.windows.before.1,
            after_from: step.windows.after.0,
            after_to: step.windows.after.1,
            school_days: count(step.windows.school_days),
            incidents_before: count(step.before),
            incidents_after: count(step.after),
            year: entry.year,
            delivered_by: entry.delivered_by,
            erased_at,
        }
    }
}

/// Per pupil, (date, staff id) pairs, oldest first.
type DatedStaff = HashMap<i64, Vec<(NaiveDate, i64)>>;

/// The first staff member on or after `on` in a pupil's dated list.
fn nearest_after(list: &DatedStaff, pupil_id: i64, on: NaiveDate) -> Option<i64> {
    list.get(&pupil_id)?
        .iter()
        .find(|(day, _)| *day >= on)
        .map(|(_, id)| *id)
}

fn first_conversation_holders(
    conn: &mut DbConnection,
    school_id: i64,
    pupil_ids: &[i64],
) -> Result<DatedStaff> {
    let rows: Vec<(i64, chrono::NaiveDateTime, i64)> = conversations::table
        .filter(conversations::school_id.eq(school_id))
        .filter(conversations::pupil_id.eq_any(pupil_ids))
        .order(conversations::held_at)
        .select((
            conversations::pupil_id,
            conversations::held_at,
            conversations::held_by,
        ))
        .load(conn)?;
    let mut list = DatedStaff::new();
    for (pupil_id, at, by) in rows {
        list.entry(pupil_id)
            .or_default()
            .push((SchoolCalendar::local_date(from_db_time(at)), by));
    }
    Ok(list)
}

fn first_practitioners(
    conn: &mut DbConnection,
    school_id: i64,
    pupil_ids: &[i64],
) -> Result<DatedStaff> {
    let rows: Vec<(i64, NaiveDate, Option<i64>)> = programme_blocks::table
        .filter(programme_blocks::school_id.eq(school_id))
        .filter(programme_blocks::pupil_id.eq_any(pupil_ids))
        .order(programme_blocks::starts_on)
        .select((
            programme_blocks::pupil_id,
            programme_blocks::starts_on,
            programme_blocks::practitioner_id,
        ))
        .load(conn)?;
    let mut list = DatedStaff::new();
    for (pupil_id, starts_on, practitioner) in rows {
        if let Some(id) = practitioner {
            list.entry(pupil_id).or_default().push((starts_on, id));
        }
    }
    Ok(list)
}
