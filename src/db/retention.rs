//! The retention schedule as a school keeps it, what it says has expired, and erasing that.
//!
//! [`expired_for_pupil`] is the one place that decides what of a left pupil's records goes:
//! the listing (`steadfast retention --dry-run`, the `/admin/retention` page) shows what it
//! answers, and [`erase_pupil`] erases exactly what it answers, in the caller's transaction.
//! Before a pupil's records go, what the insight reports count of them is kept without the
//! pupil (see [`super::insight`]), so a school's figures for past terms stay the same.

use chrono::{DateTime, NaiveDate, NaiveDateTime, TimeZone, Utc};
use diesel::prelude::*;

use super::audit::{self, AuditEntry};
use super::insight::{self, ErasedImpactRow, Scope};
use super::schema::{
    audit_log, coaching_plans, conversations, erased_incident_facts, erased_level_moves,
    erased_step_impacts, incident_pupils, incidents, level_changes, meeting_guests,
    meeting_participants, meetings, outbox, programme_blocks, programme_sessions, provision_items,
    provision_reviews, pupil_day_incidents, pupils, retention_periods, schools, suggestions,
    year_groups,
};
use super::{evaluation, to_db_time, DbConnection};
use crate::domain::calendar::{SchoolCalendar, SCHOOL_TZ};
use crate::domain::retention::{due_kinds, Leaver, RecordKind, Schedule};
use crate::error::Result;

/// The school's retention schedule: its stored periods over the defaults.
pub fn schedule(conn: &mut DbConnection, school_id: i64) -> Result<Schedule> {
    let stored: Vec<(String, i32)> = retention_periods::table
        .filter(retention_periods::school_id.eq(school_id))
        .select((
            retention_periods::record_kind,
            retention_periods::keep_years,
        ))
        .load(conn)?;
    Ok(Schedule::from_stored(stored.into_iter().filter_map(
        |(kind, years)| RecordKind::parse(&kind).map(|k| (k, years)),
    )))
}

/// Stores the school's schedule, audited with the periods that changed (numbers only).
pub fn save_schedule(
    conn: &mut DbConnection,
    school_id: i64,
    new: &Schedule,
    actor_id: i64,
    now: DateTime<Utc>,
) -> Result<()> {
    let old = schedule(conn, school_id)?;
    let changed: Vec<String> = new
        .entries()
        .into_iter()
        .filter(|(kind, years)| old.years(*kind) != *years)
        .map(|(kind, years)| format!("{} {} to {years}", kind.as_str(), old.years(kind)))
        .collect();
    if changed.is_empty() {
        return Ok(());
    }
    diesel::delete(retention_periods::table.filter(retention_periods::school_id.eq(school_id)))
        .execute(conn)?;
    for (kind, years) in new.entries() {
        diesel::insert_into(retention_periods::table)
            .values((
                retention_periods::school_id.eq(school_id),
                retention_periods::record_kind.eq(kind.as_str()),
                retention_periods::keep_years.eq(years),
                retention_periods::updated_at.eq(to_db_time(now)),
                retention_periods::updated_by.eq(Some(actor_id)),
            ))
            .execute(conn)?;
    }
    audit::record(
        conn,
        AuditEntry {
            school_id,
            actor_id: Some(actor_id),
            action: "retention.schedule",
            entity: "school",
            entity_id: Some(school_id),
            detail: format!("changed: {}", changed.join(", ")),
            at: to_db_time(now),
        },
    )
}

/// One line of what has expired: a school, a left pupil (none for the audit log and the
/// outbox, whose ages apply to every row), a kind of record and how many records.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Expired {
    pub school_code: String,
    pub pupil_id: Option<i64>,
    pub upn: Option<String>,
    pub kind: RecordKind,
    pub count: i64,
}

/// A left pupil as retention sees them.
#[derive(Debug, Clone)]
struct LeftPupil {
    id: i64,
    upn: String,
    leaver: Leaver,
}

/// A pupil's id, UPN, date of birth, year group and day they left, as read.
type LeftPupilRow = (i64, String, Option<NaiveDate>, i16, Option<NaiveDate>);

fn left_pupils(
    conn: &mut DbConnection,
    school_id: i64,
    only: Option<i64>,
) -> Result<Vec<LeftPupil>> {
    let mut query = pupils::table
        .inner_join(year_groups::table)
        .filter(pupils::school_id.eq(school_id))
        .filter(pupils::left_on.is_not_null())
        .order(pupils::id)
        .select((
            pupils::id,
            pupils::upn,
            pupils::date_of_birth,
            year_groups::year,
            pupils::left_on,
        ))
        .into_boxed();
    if let Some(pupil_id) = only {
        query = query.filter(pupils::id.eq(pupil_id));
    }
    let rows: Vec<LeftPupilRow> = query.load(conn)?;
    Ok(rows
        .into_iter()
        .filter_map(|(id, upn, date_of_birth, year, left_on)| {
            Some(LeftPupil {
                id,
                upn,
                leaver: Leaver {
                    date_of_birth,
                    year,
                    left_on: left_on?,
                },
            })
        })
        .collect())
}

/// How many of a pupil's records of `kind` there are.
fn count_of(
    conn: &mut DbConnection,
    school_id: i64,
    pupil_id: i64,
    kind: RecordKind,
) -> Result<i64> {
    Ok(match kind {
        RecordKind::Incidents => incident_pupils::table
            .filter(incident_pupils::school_id.eq(school_id))
            .filter(incident_pupils::pupil_id.eq(pupil_id))
            .count()
            .get_result(conn)?,
        RecordKind::Conversations => conversations::table
            .filter(conversations::school_id.eq(school_id))
            .filter(conversations::pupil_id.eq(pupil_id))
            .count()
            .get_result(conn)?,
        RecordKind::LevelHistory => level_changes::table
            .filter(level_changes::school_id.eq(school_id))
            .filter(level_changes::pupil_id.eq(pupil_id))
            .count()
            .get_result(conn)?,
        RecordKind::Suggestions => suggestions::table
            .filter(suggestions::school_id.eq(school_id))
            .filter(suggestions::pupil_id.eq(pupil_id))
            .count()
            .get_result(conn)?,
        RecordKind::PastoralMeetings | RecordKind::SupportMeetings => {
            meeting_ids(conn, school_id, pupil_id, kind)?.len() as i64
        }
        RecordKind::CoachingPlans => coaching_plans::table
            .filter(coaching_plans::school_id.eq(school_id))
            .filter(coaching_plans::pupil_id.eq(pupil_id))
            .count()
            .get_result(conn)?,
        RecordKind::ProgrammeBlocks => programme_blocks::table
            .filter(programme_blocks::school_id.eq(school_id))
            .filter(programme_blocks::pupil_id.eq(pupil_id))
            .count()
            .get_result(conn)?,
        RecordKind::ProgrammeSessions => programme_sessions::table
            .filter(programme_sessions::school_id.eq(school_id))
            .filter(programme_sessions::pupil_id.eq(pupil_id))
            .count()
            .get_result(conn)?,
        RecordKind::ProvisionItems => provision_items::table
            .filter(provision_items::school_id.eq(school_id))
            .filter(provision_items::pupil_id.eq(pupil_id))
            .count()
            .get_result(conn)?,
        RecordKind::ProvisionReviews => provision_reviews::table
            .filter(provision_reviews::school_id.eq(school_id))
            .filter(
                provision_reviews::item_id.eq_any(provision_item_ids(conn, school_id, pupil_id)?),
            )
            .count()
            .get_result(conn)?,
        RecordKind::AuditLog | RecordKind::Outbox => 0,
    })
}

/// The pupil's meetings at the levels `kind` covers: 1-3 for pastoral meetings, 4-6 for
/// support meetings.
fn meeting_ids(
    conn: &mut DbConnection,
    school_id: i64,
    pupil_id: i64,
    kind: RecordKind,
) -> Result<Vec<i64>> {
    let query = meetings::table
        .filter(meetings::school_id.eq(school_id))
        .filter(meetings::pupil_id.eq(pupil_id))
        .select(meetings::id)
        .into_boxed();
    let query = if kind == RecordKind::SupportMeetings {
        query.filter(meetings::level.ge(4))
    } else {
        query.filter(meetings::level.lt(4))
    };
    Ok(query.load(conn)?)
}

fn provision_item_ids(conn: &mut DbConnection, school_id: i64, pupil_id: i64) -> Result<Vec<i64>> {
    Ok(provision_items::table
        .filter(provision_items::school_id.eq(school_id))
        .filter(provision_items::pupil_id.eq(pupil_id))
        .select(provision_items::id)
        .load(conn)?)
}

/// What of one pupil's records has expired on `today`: each kind due with how many records,
/// in the order they are erased; nothing for a pupil on roll. The one decision both the
/// listing and the erasure follow.
pub fn expired_for_pupil(
    conn: &mut DbConnection,
    school_id: i64,
    pupil_id: i64,
    schedule: &Schedule,
    today: NaiveDate,
) -> Result<Vec<(RecordKind, i64)>> {
    let Some(pupil) = left_pupils(conn, school_id, Some(pupil_id))?.pop() else {
        return Ok(Vec::new());
    };
    expired_of(conn, school_id, &pupil, schedule, today)
}

fn expired_of(
    conn: &mut DbConnection,
    school_id: i64,
    pupil: &LeftPupil,
    schedule: &Schedule,
    today: NaiveDate,
) -> Result<Vec<(RecordKind, i64)>> {
    let mut expired = Vec::new();
    for kind in due_kinds(schedule, Some(&pupil.leaver), today) {
        let count = count_of(conn, school_id, pupil.id, kind)?;
        if count > 0 {
            expired.push((kind, count));
        }
    }
    Ok(expired)
}

/// The left pupils of the school with anything due on `today` (most leavers have nothing
/// due, and cost no query beyond the list): their ids.
pub fn pupils_with_expired(
    conn: &mut DbConnection,
    school_id: i64,
    today: NaiveDate,
) -> Result<Vec<i64>> {
    let schedule = schedule(conn, school_id)?;
    let mut due = Vec::new();
    for pupil in left_pupils(conn, school_id, None)? {
        if !due_kinds(&schedule, Some(&pupil.leaver), today).is_empty()
            && !expired_of(conn, school_id, &pupil, &schedule, today)?.is_empty()
        {
            due.push(pupil.id);
        }
    }
    Ok(due)
}

/// How many audit entries and outbox emails of the school are older than the schedule
/// keeps them on `today`.
fn aged_counts(
    conn: &mut DbConnection,
    school_id: i64,
    schedule: &Schedule,
    today: NaiveDate,
) -> Result<Vec<(RecordKind, i64)>> {
    let mut counts = Vec::new();
    if let Some(before) = cutoff(schedule, RecordKind::AuditLog, today) {
        let n: i64 = audit_log::table
            .filter(audit_log::school_id.eq(school_id))
            .filter(audit_log::at.lt(before))
            .count()
            .get_result(conn)?;
        counts.push((RecordKind::AuditLog, n));
    }
    if let Some(before) = cutoff(schedule, RecordKind::Outbox, today) {
        let n: i64 = outbox::table
            .filter(outbox::school_id.eq(school_id))
            .filter(outbox::created_at.lt(before))
            .count()
            .get_result(conn)?;
        counts.push((RecordKind::Outbox, n));
    }
    Ok(counts.into_iter().filter(|(_, n)| *n > 0).collect())
}

/// The instant rows of `kind` written before have expired: the start of the school day the
/// schedule gives.
fn cutoff(schedule: &Schedule, kind: RecordKind, today: NaiveDate) -> Option<NaiveDateTime> {
    let day = schedule.written_before(kind, today)?;
    let midnight = day.and_time(chrono::NaiveTime::MIN);
    let start = SCHOOL_TZ
        .from_local_datetime(&midnight)
        .earliest()
        .map_or_else(|| midnight.and_utc(), |t| t.with_timezone(&Utc));
    Some(to_db_time(start))
}

/// Everything that has expired in the school on `today`: each left pupil's due records by
/// kind, then the audit entries and emails past their age. What `steadfast retention
/// --dry-run` prints and the `/admin/retention` page lists.
pub fn expired_in_school(
    conn: &mut DbConnection,
    school_id: i64,
    today: NaiveDate,
) -> Result<Vec<Expired>> {
    let code: String = schools::table
        .find(school_id)
        .select(schools::code)
        .first(conn)?;
    let schedule = schedule(conn, school_id)?;
    let mut lines = Vec::new();
    for pupil in left_pupils(conn, school_id, None)? {
        for (kind, count) in expired_of(conn, school_id, &pupil, &schedule, today)? {
            lines.push(Expired {
                school_code: code.clone(),
                pupil_id: Some(pupil.id),
                upn: Some(pupil.upn.clone()),
                kind,
                count,
            });
        }
    }
    for (kind, count) in aged_counts(conn, school_id, &schedule, today)? {
        lines.push(Expired {
            school_code: code.clone(),
            pupil_id: None,
            upn: None,
            kind,
            count,
        });
    }
    Ok(lines)
}

/// Erases what has expired of one left pupil's records on `today` (exactly what
/// [`expired_for_pupil`] lists), keeping first what the insight reports count of them
/// without the pupil; audited with the counts. In the caller's transaction, which should be
/// this pupil's alone.
pub fn erase_pupil(
    conn: &mut DbConnection,
    school_id: i64,
    pupil_id: i64,
    today: NaiveDate,
    now: DateTime<Utc>,
) -> Result<Vec<Expired>> {
    lock_row(conn, Locked::Pupil(pupil_id))?;
    let schedule = schedule(conn, school_id)?;
    let Some(pupil) = left_pupils(conn, school_id, Some(pupil_id))?.pop() else {
        return Ok(Vec::new());
    };
    let expired = expired_of(conn, school_id, &pupil, &schedule, today)?;
    if expired.is_empty() {
        return Ok(Vec::new());
    }
    let code: String = schools::table
        .find(school_id)
        .select(schools::code)
        .first(conn)?;
    let erased_at = to_db_time(now);
    for (kind, _) in &expired {
        erase_kind(conn, school_id, &pupil, *kind, erased_at)?;
    }
    // The family contacts of a pupil who has left serve nothing once their records start to
    // go: they go with the first erasure.
    let contacts = super::contacts::erase(conn, school_id, pupil_id)?;
    let contacts = if contacts > 0 {
        format!(", contacts {contacts}")
    } else {
        String::new()
    };
    audit::record(
        conn,
        AuditEntry {
            school_id,
            actor_id: None,
            action: "retention.erase",
            entity: "pupil",
            entity_id: Some(pupil_id),
            detail: format!(
                "retention schedule: {}",
                expired
                    .iter()
                    .map(|(kind, n)| format!("{} {n}", kind.as_str()))
                    .collect::<Vec<_>>()
                    .join(", ")
            ) + &contacts,
            at: erased_at,
        },
    )?;
    Ok(expired
        .into_iter()
        .map(|(kind, count)| Expired {
            school_code: code.clone(),
            pupil_id: Some(pupil.id),
            upn: Some(pupil.upn.clone()),
            kind,
            count,
        })
        .collect())
}

/// Erases the audit entries and outbox emails of the school older than the schedule keeps
/// them on `today` (exactly what the listing counts), audited with the counts.
pub fn erase_aged(
    conn: &mut DbConnection,
    school_id: i64,
    today: NaiveDate,
    now: DateTime<Utc>,
) -> Result<Vec<Expired>> {
    lock_row(conn, Locked::School(school_id))?;
    let schedule = schedule(conn, school_id)?;
    let counts = aged_counts(conn, school_id, &schedule, today)?;
    if counts.is_empty() {
        return Ok(Vec::new());
    }
    let code: String = schools::table
        .find(school_id)
        .select(schools::code)
        .first(conn)?;
    if let Some(before) = cutoff(&schedule, RecordKind::AuditLog, today) {
        diesel::delete(
            audit_log::table
                .filter(audit_log::school_id.eq(school_id))
                .filter(audit_log::at.lt(before)),
        )
        .execute(conn)?;
    }
    if let Some(before) = cutoff(&schedule, RecordKind::Outbox, today) {
        diesel::delete(
            outbox::table
                .filter(outbox::school_id.eq(school_id))
                .filter(outbox::created_at.lt(before)),
        )
        .execute(conn)?;
    }
    audit::record(
        conn,
        AuditEntry {
            school_id,
            actor_id: None,
            action: "retention.erase",
            entity: "school",
            entity_id: Some(school_id),
            detail: format!(
                "retention schedule: {}",
                counts
                    .iter()
                    .map(|(kind, n)| format!("{} {n}", kind.as_str()))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
            at: to_db_time(now),
        },
    )?;
    Ok(counts
        .into_iter()
        .map(|(kind, count)| Expired {
            school_code: code.clone(),
            pupil_id: None,
            upn: None,
            kind,
            count,
        })
        .collect())
}

/// The row an erasure holds while it runs.
enum Locked {
    Pupil(i64),
    School(i64),
}

/// Locks the pupil's (or school's) row on PostgreSQL, so that two instances running the jobs
/// at once erase, and keep the insight counts of, each record once: the second waits, then
/// finds nothing left. On SQLite the one writer already runs writes one by one.
fn lock_row(conn: &mut DbConnection, row: Locked) -> Result<()> {
    if let DbConnection::Postgres(pg) = conn {
        match row {
            Locked::Pupil(id) => {
                pupils::table
                    .find(id)
                    .select(pupils::id)
                    .for_update()
                    .first::<i64>(pg)
                    .optional()?;
            }
            Locked::School(id) => {
                schools::table
                    .find(id)
                    .select(schools::id)
                    .for_update()
                    .first::<i64>(pg)
                    .optional()?;
            }
        }
    }
    Ok(())
}

/// Erases one kind of a left pupil's records with everything hanging from them.
fn erase_kind(
    conn: &mut DbConnection,
    school_id: i64,
    pupil: &LeftPupil,
    kind: RecordKind,
    erased_at: NaiveDateTime,
) -> Result<()> {
    let pupil_id = pupil.id;
    match kind {
        RecordKind::LevelHistory => {
            keep_ladder_counts(conn, school_id, pupil, erased_at)?;
            diesel::delete(
                level_changes::table
                    .filter(level_changes::school_id.eq(school_id))
                    .filter(level_changes::pupil_id.eq(pupil_id)),
            )
            .execute(conn)?;
        }
        RecordKind::Suggestions => {
            let ids: Vec<i64> = suggestions::table
                .filter(suggestions::school_id.eq(school_id))
                .filter(suggestions::pupil_id.eq(pupil_id))
                .select(suggestions::id)
                .load(conn)?;
            // Level history kept longer than suggestions no longer points at them.
            diesel::update(level_changes::table.filter(level_changes::suggestion_id.eq_any(&ids)))
                .set(level_changes::suggestion_id.eq(None::<i64>))
                .execute(conn)?;
            diesel::delete(suggestions::table.filter(suggestions::id.eq_any(&ids)))
                .execute(conn)?;
        }
        RecordKind::Conversations => {
            let ids: Vec<i64> = conversations::table
                .filter(conversations::school_id.eq(school_id))
                .filter(conversations::pupil_id.eq(pupil_id))
                .select(conversations::id)
                .load(conn)?;
            super::conversations::delete(conn, school_id, &ids)?;
        }
        RecordKind::Incidents => erase_incidents(conn, school_id, pupil_id, erased_at)?,
        RecordKind::ProgrammeSessions => {
            diesel::delete(
                programme_sessions::table
                    .filter(programme_sessions::school_id.eq(school_id))
                    .filter(programme_sessions::pupil_id.eq(pupil_id)),
            )
            .execute(conn)?;
        }
        RecordKind::ProgrammeBlocks => {
            diesel::delete(
                programme_blocks::table
                    .filter(programme_blocks::school_id.eq(school_id))
                    .filter(programme_blocks::pupil_id.eq(pupil_id)),
            )
            .execute(conn)?;
        }
        RecordKind::CoachingPlans => {
            let ids: Vec<i64> = coaching_plans::table
                .filter(coaching_plans::school_id.eq(school_id))
                .filter(coaching_plans::pupil_id.eq(pupil_id))
                .select(coaching_plans::id)
                .load(conn)?;
            // Blocks kept longer than plans no longer point at them.
            diesel::update(programme_blocks::table.filter(programme_blocks::plan_id.eq_any(&ids)))
                .set(programme_blocks::plan_id.eq(None::<i64>))
                .execute(conn)?;
            diesel::delete(coaching_plans::table.filter(coaching_plans::id.eq_any(&ids)))
                .execute(conn)?;
        }
        RecordKind::PastoralMeetings | RecordKind::SupportMeetings => {
            let ids = meeting_ids(conn, school_id, pupil_id, kind)?;
            diesel::update(coaching_plans::table.filter(coaching_plans::meeting_id.eq_any(&ids)))
                .set(coaching_plans::meeting_id.eq(None::<i64>))
                .execute(conn)?;
            diesel::delete(meeting_guests::table.filter(meeting_guests::meeting_id.eq_any(&ids)))
                .execute(conn)?;
            diesel::delete(
                meeting_participants::table.filter(meeting_participants::meeting_id.eq_any(&ids)),
            )
            .execute(conn)?;
            diesel::delete(meetings::table.filter(meetings::id.eq_any(&ids))).execute(conn)?;
        }
        RecordKind::ProvisionReviews => {
            let items = provision_item_ids(conn, school_id, pupil_id)?;
            diesel::delete(
                provision_reviews::table.filter(provision_reviews::item_id.eq_any(&items)),
            )
            .execute(conn)?;
        }
        RecordKind::ProvisionItems => {
            diesel::delete(
                provision_items::table
                    .filter(provision_items::school_id.eq(school_id))
                    .filter(provision_items::pupil_id.eq(pupil_id)),
            )
            .execute(conn)?;
        }
        RecordKind::AuditLog | RecordKind::Outbox => {}
    }
    Ok(())
}

/// Keeps, without the pupil, the moves between levels and the entries to a level with the
/// incidents counted around them, as the ladder and impact reports count them now.
fn keep_ladder_counts(
    conn: &mut DbConnection,
    school_id: i64,
    pupil: &LeftPupil,
    erased_at: NaiveDateTime,
) -> Result<()> {
    let scope = Scope::Pupil(pupil.id);
    let moves: Vec<(NaiveDateTime, i16, i16, Option<i64>)> = level_changes::table
        .filter(level_changes::school_id.eq(school_id))
        .filter(level_changes::pupil_id.eq(pupil.id))
        .order((level_changes::occurred_at, level_changes::id))
        .select((
            level_changes::occurred_at,
            level_changes::from_level,
            level_changes::to_level,
            level_changes::changed_by,
        ))
        .load(conn)?;
    let (Some(first), Some(last)) = (moves.first(), moves.last()) else {
        return Ok(());
    };
    let from = SchoolCalendar::local_date(super::from_db_time(first.0));
    let to = SchoolCalendar::local_date(super::from_db_time(last.0));
    for (occurred_at, from_level, to_level, changed_by) in &moves {
        diesel::insert_into(erased_level_moves::table)
            .values((
                erased_level_moves::school_id.eq(school_id),
                erased_level_moves::occurred_at.eq(occurred_at),
                erased_level_moves::from_level.eq(from_level),
                erased_level_moves::to_level.eq(to_level),
                erased_level_moves::changed_by.eq(changed_by),
                erased_level_moves::year.eq(pupil.leaver.year),
                erased_level_moves::erased_at.eq(erased_at),
            ))
            .execute(conn)?;
    }
    let rules = evaluation::load_rules(conn, school_id)?;
    let entries = insight::entries(
        conn,
        school_id,
        scope,
        (from, to),
        &rules.calendar,
        rules.policy.impact_window_days,
    )?;
    for entry in &entries {
        diesel::insert_into(erased_step_impacts::table)
            .values(ErasedImpactRow::keeping(school_id, entry, erased_at))
            .execute(conn)?;
    }
    Ok(())
}

/// Erases a pupil's part in their incidents: one fact kept without the pupil for each that
/// counted, their links and per-day counts removed, and each incident no other pupil shares
/// deleted with everything pointing at it.
fn erase_incidents(
    conn: &mut DbConnection,
    school_id: i64,
    pupil_id: i64,
    erased_at: NaiveDateTime,
) -> Result<()> {
    let linked: Vec<LinkedIncident> = incident_pupils::table
        .inner_join(incidents::table)
        .filter(incident_pupils::school_id.eq(school_id))
        .filter(incident_pupils::pupil_id.eq(pupil_id))
        .select((
            incidents::id,
            incidents::occurred_at,
            incidents::behaviour,
            incidents::location,
            incidents::lesson,
            incidents::reported_by,
            incidents::voided_at.is_not_null(),
        ))
        .load(conn)?;
    for (_, occurred_at, behaviour, location, lesson, reported_by, voided) in &linked {
        if !voided {
            diesel::insert_into(erased_incident_facts::table)
                .values((
                    erased_incident_facts::school_id.eq(school_id),
                    erased_incident_facts::occurred_at.eq(occurred_at),
                    erased_incident_facts::behaviour.eq(behaviour),
                    erased_incident_facts::location.eq(location),
                    erased_incident_facts::lesson.eq(lesson),
                    erased_incident_facts::reported_by.eq(reported_by),
                    erased_incident_facts::erased_at.eq(erased_at),
                ))
                .execute(conn)?;
        }
    }
    diesel::delete(
        incident_pupils::table
            .filter(incident_pupils::school_id.eq(school_id))
            .filter(incident_pupils::pupil_id.eq(pupil_id)),
    )
    .execute(conn)?;
    diesel::delete(pupil_day_incidents::table.filter(pupil_day_incidents::pupil_id.eq(pupil_id)))
        .execute(conn)?;
    diesel::update(pupils::table.find(pupil_id))
        .set(pupils::last_incident_at.eq(None::<NaiveDateTime>))
        .execute(conn)?;
    let ids: Vec<i64> = linked.iter().map(|l| l.0).collect();
    super::incidents::delete_unlinked(conn, school_id, &ids)?;
    Ok(())
}

/// An incident a pupil is linked to: id, time, behaviour, place, lesson, who logged it and
/// whether it was undone.
type LinkedIncident = (
    i64,
    NaiveDateTime,
    String,
    Option<String>,
    Option<String>,
    i64,
    bool,
);
