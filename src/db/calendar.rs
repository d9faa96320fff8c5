//! The school's calendar as it is kept: closures added, changed and removed (by hand on
//! `/admin/calendar`, or from a term-dates file), and, in the same transaction, every due
//! date counted in school days that is not yet passed counted again under the new calendar
//! (`domain::calendar::moved_due_dates`). Audited by dates, kinds and ids, never by name.

use chrono::{DateTime, NaiveDate, Utc};
use diesel::prelude::*;

use super::audit::{self, AuditEntry};
use super::models::{ClosureRow, MeetingRow};
use super::schema::{meetings, pupils, school_closures};
use super::{schools, to_db_time, DbConnection};
use crate::domain::calendar::{
    moved_due_dates, Closure, ClosureKind, CountedDate, MovedDueDate, SchoolCalendar,
};
use crate::domain::term_dates::{dates_key, CalendarPlan, StoredClosure};
use crate::domain::Role;
use crate::error::{Error, Result};

/// Who keeps the school's calendar: administrators and senior leaders.
pub const CALENDAR_KEEPERS: [Role; 2] = [Role::Admin, Role::Slt];

/// The meeting statuses whose due date still matters.
const OPEN: [&str; 2] = ["due", "scheduled"];

/// How many moved due dates an audit entry lists by id before it only counts the rest.
const AUDIT_LISTS: usize = 20;

fn closure_of(row: ClosureRow) -> StoredClosure {
    StoredClosure {
        id: row.id,
        closure: Closure {
            starts_on: row.starts_on,
            ends_on: row.ends_on,
            kind: ClosureKind::parse(&row.kind).unwrap_or(ClosureKind::Holiday),
            name: row.name,
        },
    }
}

/// The school's closures by first date (then last date and id).
pub fn stored(conn: &mut DbConnection, school_id: i64) -> Result<Vec<StoredClosure>> {
    let rows: Vec<ClosureRow> = school_closures::table
        .filter(school_closures::school_id.eq(school_id))
        .order((
            school_closures::starts_on.asc(),
            school_closures::ends_on.asc(),
            school_closures::id.asc(),
        ))
        .select(ClosureRow::as_select())
        .load(conn)?;
    Ok(rows.into_iter().map(closure_of).collect())
}

/// One closure of the school.
pub fn get(conn: &mut DbConnection, school_id: i64, id: i64) -> Result<StoredClosure> {
    school_closures::table
        .filter(school_closures::id.eq(id))
        .filter(school_closures::school_id.eq(school_id))
        .select(ClosureRow::as_select())
        .first(conn)
        .optional()?
        .map(closure_of)
        .ok_or(Error::NotFound("closure"))
}

/// The school's open meetings whose due date is counted in school days and not yet passed.
fn counted_due_dates(
    conn: &mut DbConnection,
    school_id: i64,
    today: NaiveDate,
) -> Result<Vec<CountedDate>> {
    let rows: Vec<MeetingRow> = meetings::table
        .filter(meetings::school_id.eq(school_id))
        .filter(meetings::status.eq_any(OPEN))
        .filter(meetings::due_on.ge(today))
        .filter(meetings::due_from.is_not_null())
        .order(meetings::id)
        .select(MeetingRow::as_select())
        .load(conn)?;
    Ok(rows
        .iter()
        .filter_map(|m| {
            m.due_count().map(|count| CountedDate {
                meeting_id: m.id,
                pupil_id: m.pupil_id,
                on: m.due_on,
                count,
            })
        })
        .collect())
}

/// The due dates a calendar made of `closures` would move, writing nothing (a dry run's
/// answer).
pub fn due_moves_under(
    conn: &mut DbConnection,
    school_id: i64,
    closures: Vec<Closure>,
    today: NaiveDate,
) -> Result<Vec<MovedDueDate>> {
    let calendar = SchoolCalendar::new(closures)
        .map_err(|e| Error::Internal(format!("calendar after the change is invalid: {e}")))?;
    let dates = counted_due_dates(conn, school_id, today)?;
    Ok(moved_due_dates(&dates, &calendar, today))
}

/// Counts every due date not yet passed again under the school's calendar as now stored,
/// and stores the ones that move.
fn follow_calendar(
    conn: &mut DbConnection,
    school_id: i64,
    today: NaiveDate,
) -> Result<Vec<MovedDueDate>> {
    let calendar = schools::calendar(conn, school_id)?;
    let dates = counted_due_dates(conn, school_id, today)?;
    let moved = moved_due_dates(&dates, &calendar, today);
    for m in &moved {
        diesel::update(meetings::table.find(m.meeting_id))
            .set(meetings::due_on.eq(m.to))
            .execute(conn)?;
    }
    Ok(moved)
}

/// Refuses a closure with the same dates and kind as another of the school's.
fn ensure_new_dates(
    conn: &mut DbConnection,
    school_id: i64,
    closure: &Closure,
    except: Option<i64>,
) -> Result<()> {
    let clash = stored(conn, school_id)?.into_iter().find(|s| {
        Some(s.id) != except
            && s.closure.starts_on == closure.starts_on
            && s.closure.ends_on == closure.ends_on
            && s.closure.kind == closure.kind
    });
    match clash {
        Some(_) => Err(Error::Conflict {
            message: format!(
                "the calendar already has a {} on these dates",
                kind_word(closure.kind)
            ),
            field: Some("starts_on".into()),
        }),
        None => Ok(()),
    }
}

/// A closure's kind as a phrase: "holiday" or "INSET day".
pub fn kind_word(kind: ClosureKind) -> &'static str {
    match kind {
        ClosureKind::Holiday => "holiday",
        ClosureKind::Inset => "INSET day",
    }
}

/// A closure's kind and dates, as audit entries give them (never its name).
fn described(closure: &Closure) -> String {
    format!("{} {}", closure.kind.as_str(), dates_key(closure))
}

/// The moved due dates as an audit entry lists them: meeting and pupil ids and dates only.
fn moves_described(moved: &[MovedDueDate]) -> String {
    if moved.is_empty() {
        return "no due date moved".into();
    }
    let listed: Vec<String> = moved
        .iter()
        .take(AUDIT_LISTS)
        .map(|m| {
            format!(
                "meeting {} (pupil {}) {} -> {}",
                m.meeting_id, m.pupil_id, m.from, m.to
            )
        })
        .collect();
    let more = moved.len().saturating_sub(AUDIT_LISTS);
    let tail = if more > 0 {
        format!(" and {more} more")
    } else {
        String::new()
    };
    format!(
        "{} due date(s) moved: {}{tail}",
        moved.len(),
        listed.join(", ")
    )
}

#[allow(clippy::too_many_arguments)]
fn audited(
    conn: &mut DbConnection,
    school_id: i64,
    actor_id: Option<i64>,
    action: &str,
    entity: &str,
    entity_id: Option<i64>,
    what: String,
    moved: &[MovedDueDate],
    now: DateTime<Utc>,
) -> Result<()> {
    audit::record(
        conn,
        AuditEntry {
            school_id,
            actor_id,
            action,
            entity,
            entity_id,
            detail: format!("{what}; {}", moves_described(moved)),
            at: to_db_time(now),
        },
    )
}

/// Adds a closure (already checked with `domain::term_dates::parse_closure`), moves the due
/// dates it moves, and answers its id and those moves.
pub fn add(
    conn: &mut DbConnection,
    school_id: i64,
    actor_id: Option<i64>,
    closure: &Closure,
    now: DateTime<Utc>,
) -> Result<(i64, Vec<MovedDueDate>)> {
    ensure_new_dates(conn, school_id, closure, None)?;
    let id: i64 = diesel::insert_into(school_closures::table)
        .values((
            school_closures::school_id.eq(school_id),
            school_closures::starts_on.eq(closure.starts_on),
            school_closures::ends_on.eq(closure.ends_on),
            school_closures::kind.eq(closure.kind.as_str()),
            school_closures::name.eq(&closure.name),
        ))
        .returning(school_closures::id)
        .get_result(conn)?;
    let moved = follow_calendar(conn, school_id, SchoolCalendar::local_date(now))?;
    audited(
        conn,
        school_id,
        actor_id,
        "calendar.add",
        "closure",
        Some(id),
        described(closure),
        &moved,
        now,
    )?;
    Ok((id, moved))
}

/// Changes a closure's name, dates or kind, and moves the due dates the change moves.
pub fn update(
    conn: &mut DbConnection,
    school_id: i64,
    actor_id: Option<i64>,
    id: i64,
    closure: &Closure,
    now: DateTime<Utc>,
) -> Result<Vec<MovedDueDate>> {
    let before = get(conn, school_id, id)?;
    ensure_new_dates(conn, school_id, closure, Some(id))?;
    diesel::update(school_closures::table.find(id))
        .set((
            school_closures::starts_on.eq(closure.starts_on),
            school_closures::ends_on.eq(closure.ends_on),
            school_closures::kind.eq(closure.kind.as_str()),
            school_closures::name.eq(&closure.name),
        ))
        .execute(conn)?;
    let moved = follow_calendar(conn, school_id, SchoolCalendar::local_date(now))?;
    audited(
        conn,
        school_id,
        actor_id,
        "calendar.update",
        "closure",
        Some(id),
        format!("{} now {}", described(&before.closure), described(closure)),
        &moved,
        now,
    )?;
    Ok(moved)
}

/// Removes a closure, and moves the due dates its removal moves (never before today).
/// Answers the closure removed and the moves.
pub fn remove(
    conn: &mut DbConnection,
    school_id: i64,
    actor_id: Option<i64>,
    id: i64,
    now: DateTime<Utc>,
) -> Result<(Closure, Vec<MovedDueDate>)> {
    let before = get(conn, school_id, id)?;
    diesel::delete(school_closures::table.find(id)).execute(conn)?;
    let moved = follow_calendar(conn, school_id, SchoolCalendar::local_date(now))?;
    audited(
        conn,
        school_id,
        actor_id,
        "calendar.remove",
        "closure",
        Some(id),
        described(&before.closure),
        &moved,
        now,
    )?;
    Ok((before.closure, moved))
}

/// Writes a term-dates import's plan (closures added, closures renamed), moves the due
/// dates it moves, and answers those moves. Closures not in the file stay.
pub fn apply_import(
    conn: &mut DbConnection,
    school_id: i64,
    actor_id: Option<i64>,
    plan: &CalendarPlan,
    now: DateTime<Utc>,
) -> Result<Vec<MovedDueDate>> {
    for found in &plan.added {
        let c = &found.closure;
        diesel::insert_into(school_closures::table)
            .values((
                school_closures::school_id.eq(school_id),
                school_closures::starts_on.eq(c.starts_on),
                school_closures::ends_on.eq(c.ends_on),
                school_closures::kind.eq(c.kind.as_str()),
                school_closures::name.eq(&c.name),
            ))
            .execute(conn)?;
    }
    for renamed in &plan.changed {
        diesel::update(
            school_closures::table
                .filter(school_closures::id.eq(renamed.id))
                .filter(school_closures::school_id.eq(school_id)),
        )
        .set(school_closures::name.eq(&renamed.closure.name))
        .execute(conn)?;
    }
    let moved = follow_calendar(conn, school_id, SchoolCalendar::local_date(now))?;
    audited(
        conn,
        school_id,
        actor_id,
        "calendar.import",
        "school",
        Some(school_id),
        format!(
            "{} added, {} renamed, {} unchanged, {} skipped",
            plan.added.len(),
            plan.changed.len(),
            plan.unchanged,
            plan.skipped.len()
        ),
        &moved,
        now,
    )?;
    Ok(moved)
}

/// A meeting as the calendar page lists it after its due date moved: pages may name the
/// pupil.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MeetingNamed {
    /// The meeting.
    pub meeting_id: i64,
    /// Its level (3, 4, 5 for a block review, 6).
    pub level: i16,
    /// `level` or `planning` (see [`MeetingRow::purpose`]).
    pub purpose: String,
    /// Its due date now.
    pub due_on: NaiveDate,
    /// "Given Family".
    pub pupil_name: String,
}

/// The school's meetings among `ids`, with their pupils' names, in id order.
pub fn meetings_named(
    conn: &mut DbConnection,
    school_id: i64,
    ids: &[i64],
) -> Result<Vec<MeetingNamed>> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let rows: Vec<(i64, i16, String, NaiveDate, String, String)> = meetings::table
        .inner_join(pupils::table)
        .filter(meetings::school_id.eq(school_id))
        .filter(meetings::id.eq_any(ids))
        .order(meetings::id)
        .select((
            meetings::id,
            meetings::level,
            meetings::purpose,
            meetings::due_on,
            pupils::given_name,
            pupils::family_name,
        ))
        .load(conn)?;
    Ok(rows
        .into_iter()
        .map(
            |(meeting_id, level, purpose, due_on, given, family)| MeetingNamed {
                meeting_id,
                level,
                purpose,
                due_on,
                pupil_name: format!("{given} {family}"),
            },
        )
        .collect())
}
