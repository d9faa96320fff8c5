//! Decisions on a pupil's level: accepting, declining or snoozing a suggestion, and moving a
//! pupil by hand. Each goes through the state machine, records who, when and why, creates
//! the meeting the new level needs, and is audited, all in the caller's transaction.

use chrono::{DateTime, NaiveDate, Utc};
use diesel::prelude::*;

use super::audit::{self, AuditEntry};
use super::evaluation::{pupil_state, SchoolRules};
use super::models::{LevelChangeRow, MeetingRow, PupilRow, SuggestionRow};
use super::notices::{self, NoticeContext};
use super::pastoral::PastoralPlace;
use super::schema::{
    level_changes, meeting_participants, meetings, pupils, suggestions, year_groups,
};
use super::staff::StaffMember;
use super::{to_db_time, DbConnection};
use crate::domain::calendar::{SchoolCalendar, SchoolDayCount};
use crate::domain::transition::{apply, events_for_target, Event, PupilState};
use crate::domain::{Level, Role};
use crate::error::{Error, Result};

/// Longest reason or note given with a decision.
pub const MAX_REASON_CHARS: usize = 1000;

/// What a decision changed.
#[derive(Debug, Clone)]
pub struct Decision {
    pub suggestion: Option<SuggestionRow>,
    pub level_change: Option<LevelChangeRow>,
    /// The meeting the new level needs, created as due.
    pub meeting: Option<MeetingRow>,
}

/// Whether `member` may decide moves for a pupil at `place` between these levels: SLT
/// always; the SENDCO for anything touching levels 4-6; a pastoral lead for the pupils of the
/// year groups and houses they lead.
pub fn may_decide(member: &StaffMember, place: PastoralPlace, from: Level, to: Level) -> bool {
    member.has_role(Role::Slt)
        || (member.has_role(Role::Sendco) && from.max(to) >= Level::Plan)
        || member.leads(place)
}

fn level_of(number: i16) -> Result<Level> {
    Level::from_number(i64::from(number)).map_err(|e| Error::Internal(e.to_string()))
}

/// Checks a required reason: present, at most [`MAX_REASON_CHARS`].
pub fn checked_reason(field: &str, raw: &str) -> Result<String> {
    let reason = raw.trim();
    if reason.is_empty() {
        return Err(Error::invalid(
            field,
            format!("{field} is required: say why"),
        ));
    }
    if reason.chars().count() > MAX_REASON_CHARS {
        return Err(Error::invalid(
            field,
            format!("{field} must be at most {MAX_REASON_CHARS} characters"),
        ));
    }
    Ok(reason.to_string())
}

/// Loads a suggestion of the school, locking it on PostgreSQL so that two people deciding it
/// at once are served one after the other (SQLite's writers already take turns).
fn lock_suggestion(conn: &mut DbConnection, school_id: i64, id: i64) -> Result<SuggestionRow> {
    let found = match conn {
        DbConnection::Postgres(pg) => suggestions::table
            .filter(suggestions::id.eq(id))
            .filter(suggestions::school_id.eq(school_id))
            .for_update()
            .select(SuggestionRow::as_select())
            .first(pg)
            .optional()?,
        DbConnection::Sqlite(_) => suggestions::table
            .filter(suggestions::id.eq(id))
            .filter(suggestions::school_id.eq(school_id))
            .select(SuggestionRow::as_select())
            .first(conn)
            .optional()?,
    };
    found.ok_or(Error::NotFound("suggestion"))
}

/// Loads a pupil of the school with their year, locking the row on PostgreSQL.
pub(crate) fn lock_pupil(
    conn: &mut DbConnection,
    school_id: i64,
    id: i64,
) -> Result<(PupilRow, i16)> {
    let found = match conn {
        DbConnection::Postgres(pg) => pupils::table
            .inner_join(year_groups::table)
            .filter(pupils::id.eq(id))
            .filter(pupils::school_id.eq(school_id))
            .for_update()
            .select((PupilRow::as_select(), year_groups::year))
            .first(pg)
            .optional()?,
        DbConnection::Sqlite(_) => pupils::table
            .inner_join(year_groups::table)
            .filter(pupils::id.eq(id))
            .filter(pupils::school_id.eq(school_id))
            .select((PupilRow::as_select(), year_groups::year))
            .first(conn)
            .optional()?,
    };
    let (pupil, year) = found.ok_or(Error::NotFound("pupil"))?;
    refuse_if_left(&pupil)?;
    Ok((pupil, year))
}

/// A pupil marked as left keeps every record, read-only: nothing new is written for them.
pub(crate) fn refuse_if_left(pupil: &PupilRow) -> Result<()> {
    match pupil.left_on {
        Some(left_on) => Err(Error::unprocessable(format!(
            "this pupil left the school on {}: their records are kept, read-only",
            left_on.format("%-d %B %Y")
        ))),
        None => Ok(()),
    }
}

fn ensure_open(suggestion: &SuggestionRow) -> Result<()> {
    if suggestion.status == "open" {
        return Ok(());
    }
    Err(Error::Conflict {
        message: format!(
            "this suggestion was {} already: nothing was changed",
            suggestion.status
        ),
        field: None,
    })
}

/// One applied move: the state before and after, and how to describe it.
struct Move<'a> {
    pupil: &'a PupilRow,
    before: PupilState,
    after: PupilState,
    by: &'a StaffMember,
    reason: String,
    suggestion_id: Option<i64>,
    is_override: bool,
}

/// Stores a move: the pupil's new state, the level change, the meeting the new level needs
/// (or, entering a programme block, its review), and withdraws open suggestions that no
/// longer fit.
fn store_move(
    conn: &mut DbConnection,
    step: Move<'_>,
    rules: &SchoolRules,
    context: &NoticeContext,
    now: DateTime<Utc>,
) -> Result<(LevelChangeRow, Option<MeetingRow>)> {
    let at = to_db_time(now);
    let level_moved = step.after.level != step.before.level;
    let since = if level_moved {
        at
    } else {
        step.pupil.level_since
    };
    diesel::update(pupils::table.find(step.pupil.id))
        .set((
            pupils::level.eq(step.after.level.number()),
            pupils::level_since.eq(since),
            pupils::programme_block.eq(step
                .after
                .programme_block
                .and_then(|b| i16::try_from(b.weeks()).ok())),
            pupils::had_plan.eq(step.after.had_plan),
            pupils::programme_without_impact.eq(step.after.programme_completed_without_impact),
        ))
        .execute(conn)?;
    let change_id: i64 = diesel::insert_into(level_changes::table)
        .values((
            level_changes::school_id.eq(step.pupil.school_id),
            level_changes::pupil_id.eq(step.pupil.id),
            level_changes::from_level.eq(step.before.level.number()),
            level_changes::to_level.eq(step.after.level.number()),
            level_changes::reason.eq(&step.reason),
            level_changes::changed_by.eq(Some(step.by.id)),
            level_changes::suggestion_id.eq(step.suggestion_id),
            level_changes::is_override.eq(step.is_override),
            level_changes::occurred_at.eq(at),
        ))
        .returning(level_changes::id)
        .get_result(conn)?;
    let change = level_changes::table
        .find(change_id)
        .select(LevelChangeRow::as_select())
        .first(conn)?;

    // A block left for another (or for another level) without its review is closed.
    if step.before.current_block().is_some()
        && step.before.current_block() != step.after.current_block()
    {
        super::programmes::end_running_block(conn, step.pupil.id, now)?;
    }

    // Open suggestions made from the old state no longer apply.
    diesel::update(
        suggestions::table
            .filter(suggestions::pupil_id.eq(step.pupil.id))
            .filter(suggestions::status.eq("open"))
            .filter(suggestions::id.ne(step.suggestion_id.unwrap_or(0))),
    )
    .set((
        suggestions::status.eq("withdrawn"),
        suggestions::decided_at.eq(at),
        suggestions::decision_note.eq("The pupil's level changed before this was decided."),
    ))
    .execute(conn)?;
    // Meetings still waiting for the level the pupil has left are no longer needed; those
    // booked are cancelled with the people invited, so their calendars drop them.
    if level_moved {
        let left_behind: Vec<MeetingRow> = meetings::table
            .filter(meetings::pupil_id.eq(step.pupil.id))
            .filter(meetings::status.eq_any(["due", "scheduled"]))
            .filter(meetings::level.ne(step.after.level.number()))
            .select(MeetingRow::as_select())
            .load(conn)?;
        let reason = format!(
            "{}'s level changed to {}, so this meeting is no longer needed.",
            step.pupil.given_name,
            step.after.level.title()
        );
        for meeting in left_behind {
            super::meetings::cancel_with_notices(conn, context, &meeting, &reason, now)?;
        }
    }

    let meeting = meeting_needed(
        &step.before,
        &step.after,
        rules,
        SchoolCalendar::local_date(now),
    )
    .map(|(level, due)| create_meeting(conn, step.pupil, level, due, &rules.calendar, now))
    .transpose()?;
    if let Some(meeting) = &meeting {
        notices::meeting_due(conn, context, meeting, now)?;
    }
    Ok((change, meeting))
}

/// The meeting a move calls for, and how its due date is counted: the level's meeting for
/// Coaching Time, Coaching Plan and Bespoke Provision Map; the block review for each
/// programme block.
fn meeting_needed(
    before: &PupilState,
    after: &PupilState,
    rules: &SchoolRules,
    today: NaiveDate,
) -> Option<(Level, SchoolDayCount)> {
    if after.level == Level::Programme {
        let block = after.programme_block?;
        if before.level == Level::Programme && before.programme_block == after.programme_block {
            return None;
        }
        // A block of N weeks is reviewed at its end: N school weeks of five days (until the
        // block is planned, when the review moves to its final session).
        return Some((
            Level::Programme,
            SchoolDayCount::new(today, block.weeks() * 5),
        ));
    }
    // Moving up into a level with a meeting books it; stepping down into Coaching Plan or a
    // Bespoke Provision Map books the review that decides the next step down.
    let stepped_down_to_review = after.level < before.level && after.level >= Level::Plan;
    if after.level == before.level || (after.level < before.level && !stepped_down_to_review) {
        return None;
    }
    rules
        .policy
        .meeting_due(today, after.level)
        .map(|due| (after.level, due))
}

/// Creates the meeting a level needs as due, with the staff it needs as participants. The
/// due date is `due` counted under `calendar`, and the count is kept so the date follows
/// later changes of the calendar (`db::calendar`).
pub(crate) fn create_meeting(
    conn: &mut DbConnection,
    pupil: &PupilRow,
    level: Level,
    due: SchoolDayCount,
    calendar: &SchoolCalendar,
    now: DateTime<Utc>,
) -> Result<MeetingRow> {
    let meeting: MeetingRow = diesel::insert_into(meetings::table)
        .values((
            meetings::school_id.eq(pupil.school_id),
            meetings::pupil_id.eq(pupil.id),
            meetings::level.eq(level.number()),
            meetings::due_on.eq(due.date(calendar)),
            meetings::due_from.eq(Some(due.from)),
            meetings::due_school_days.eq(i32::try_from(due.school_days).ok()),
            meetings::status.eq("due"),
            meetings::parent_invited.eq(level >= Level::Plan),
            meetings::created_at.eq(to_db_time(now)),
        ))
        .returning(meetings::all_columns)
        .get_result(conn)?;
    for staff_id in notices::participants_needed(conn, pupil, level)? {
        diesel::insert_into(meeting_participants::table)
            .values((
                meeting_participants::meeting_id.eq(meeting.id),
                meeting_participants::staff_id.eq(staff_id),
                meeting_participants::school_id.eq(pupil.school_id),
            ))
            .execute(conn)?;
    }
    Ok(meeting)
}

/// Events decided at a meeting (a block review) to apply to a pupil already locked.
pub(crate) struct EventsToApply<'a> {
    pub pupil: &'a PupilRow,
    pub events: &'a [Event],
    pub by: &'a StaffMember,
    pub reason: String,
    pub is_override: bool,
}

/// Applies events decided at a meeting through the state machine and stores the move like
/// any other decision: the level change, the meeting that follows, the suggestions withdrawn.
pub(crate) fn apply_events(
    conn: &mut DbConnection,
    request: EventsToApply<'_>,
    rules: &SchoolRules,
    context: &NoticeContext,
    now: DateTime<Utc>,
) -> Result<(LevelChangeRow, Option<MeetingRow>)> {
    let before = pupil_state(request.pupil);
    let after = applied(&before, request.events)?;
    store_move(
        conn,
        Move {
            pupil: request.pupil,
            before,
            after,
            by: request.by,
            reason: request.reason,
            suggestion_id: None,
            is_override: request.is_override,
        },
        rules,
        context,
        now,
    )
}

fn applied(state: &PupilState, events: &[Event]) -> Result<PupilState> {
    events.iter().try_fold(state.clone(), |current, event| {
        apply(&current, event).map_err(|e| Error::unprocessable(e.to_string()))
    })
}

fn audit_decision(
    conn: &mut DbConnection,
    member: &StaffMember,
    action: &'static str,
    entity: &'static str,
    id: i64,
    detail: String,
    now: DateTime<Utc>,
) -> Result<()> {
    audit::record(
        conn,
        AuditEntry {
            school_id: member.school_id,
            actor_id: Some(member.id),
            action,
            entity,
            entity_id: Some(id),
            detail,
            at: to_db_time(now),
        },
    )
}

/// An open suggestion about to be decided, with its pupil (both locked) and its levels.
struct Deciding {
    suggestion: SuggestionRow,
    pupil: PupilRow,
    from: Level,
    to: Level,
}

/// Loads and locks an open suggestion `member` may decide, with its pupil.
fn deciding(conn: &mut DbConnection, member: &StaffMember, suggestion_id: i64) -> Result<Deciding> {
    let suggestion = lock_suggestion(conn, member.school_id, suggestion_id)?;
    let (pupil, year) = lock_pupil(conn, member.school_id, suggestion.pupil_id)?;
    let (from, to) = (
        level_of(suggestion.from_level)?,
        level_of(suggestion.to_level)?,
    );
    if !may_decide(member, PastoralPlace::of(&pupil, year), from, to) {
        return Err(Error::Forbidden(
            "this suggestion is for the pupil's Head of Year or Head of House, the SENDCO (levels 4-6) or SLT to decide"
                .into(),
        ));
    }
    ensure_open(&suggestion)?;
    Ok(Deciding {
        suggestion,
        pupil,
        from,
        to,
    })
}

/// Marks a suggestion decided (`accepted` or `declined`) by `member`, with the note or
/// reason given, audited; answers the stored row.
fn record_decision(
    conn: &mut DbConnection,
    member: &StaffMember,
    suggestion: &SuggestionRow,
    status: &'static str,
    note: Option<&str>,
    now: DateTime<Utc>,
) -> Result<SuggestionRow> {
    diesel::update(suggestions::table.find(suggestion.id))
        .set((
            suggestions::status.eq(status),
            suggestions::decided_by.eq(Some(member.id)),
            suggestions::decided_at.eq(to_db_time(now)),
            suggestions::decision_note.eq(note),
        ))
        .execute(conn)?;
    audit_decision(
        conn,
        member,
        if status == "accepted" {
            "suggestion.accept"
        } else {
            "suggestion.decline"
        },
        "suggestion",
        suggestion.id,
        format!(
            "pupil {} level {} to {}",
            suggestion.pupil_id, suggestion.from_level, suggestion.to_level
        ),
        now,
    )?;
    Ok(suggestions::table
        .find(suggestion.id)
        .select(SuggestionRow::as_select())
        .get_result(conn)?)
}

/// Accepts an open suggestion: the pupil moves as suggested, through the state machine, and
/// the meeting the new level needs is created as due. A suggestion decided meanwhile is a
/// conflict; a move the sequence does not allow is refused with the reason.
pub fn accept(
    conn: &mut DbConnection,
    member: &StaffMember,
    suggestion_id: i64,
    note: Option<&str>,
    rules: &SchoolRules,
    context: &NoticeContext,
    now: DateTime<Utc>,
) -> Result<Decision> {
    let Deciding {
        suggestion,
        pupil,
        from,
        to,
    } = deciding(conn, member, suggestion_id)?;
    let note = note.map(|n| checked_reason("note", n)).transpose()?;
    let before = pupil_state(&pupil);
    if before.level != from {
        return Err(Error::Conflict {
            message: "the pupil's level has changed since this was suggested".into(),
            field: None,
        });
    }
    let events = events_for_target(&before, to).map_err(|e| Error::unprocessable(e.to_string()))?;
    let after = applied(&before, &events)?;
    let reason = match &note {
        Some(note) => format!("{} Accepted: {note}", suggestion.reason),
        None => suggestion.reason.clone(),
    };
    let (change, meeting) = store_move(
        conn,
        Move {
            pupil: &pupil,
            before,
            after,
            by: member,
            reason,
            suggestion_id: Some(suggestion.id),
            is_override: false,
        },
        rules,
        context,
        now,
    )?;
    let decided = record_decision(conn, member, &suggestion, "accepted", note.as_deref(), now)?;
    Ok(Decision {
        suggestion: Some(decided),
        level_change: Some(change),
        meeting,
    })
}

/// Declines an open suggestion, with a required reason. The evidence behind it is not used
/// again for the same move.
pub fn decline(
    conn: &mut DbConnection,
    member: &StaffMember,
    suggestion_id: i64,
    reason: &str,
    now: DateTime<Utc>,
) -> Result<SuggestionRow> {
    let Deciding { suggestion, .. } = deciding(conn, member, suggestion_id)?;
    let reason = checked_reason("reason", reason)?;
    record_decision(conn, member, &suggestion, "declined", Some(&reason), now)
}

/// Puts an open suggestion aside until `until` (a later date, at most the policy's longest
/// snooze ahead); it stays open.
pub fn snooze(
    conn: &mut DbConnection,
    member: &StaffMember,
    suggestion_id: i64,
    until: NaiveDate,
    rules: &SchoolRules,
    now: DateTime<Utc>,
) -> Result<SuggestionRow> {
    let Deciding {
        suggestion, pupil, ..
    } = deciding(conn, member, suggestion_id)?;
    let today = SchoolCalendar::local_date(now);
    if until <= today {
        return Err(Error::invalid("until", "snooze until a later date"));
    }
    let latest = rules.policy.latest_snooze(&rules.calendar, today);
    if until > latest {
        return Err(Error::invalid(
            "until",
            format!(
                "snooze until {latest} at the latest: the school's policy allows {} school days",
                rules.policy.longest_snooze_days
            ),
        ));
    }
    diesel::update(suggestions::table.find(suggestion.id))
        .set(suggestions::snoozed_until.eq(Some(until)))
        .execute(conn)?;
    audit_decision(
        conn,
        member,
        "suggestion.snooze",
        "suggestion",
        suggestion.id,
        format!("pupil {} until {until}", pupil.id),
        now,
    )?;
    Ok(suggestions::table
        .find(suggestion.id)
        .select(SuggestionRow::as_select())
        .first(conn)?)
}

/// The open suggestion, if one waits, that moves the pupil from the level they are at now
/// to `to`: making that move by hand is accepting it.
pub fn open_suggestion_to(
    conn: &mut DbConnection,
    school_id: i64,
    pupil_id: i64,
    to: Level,
) -> Result<Option<i64>> {
    Ok(suggestions::table
        .inner_join(pupils::table)
        .filter(suggestions::school_id.eq(school_id))
        .filter(suggestions::pupil_id.eq(pupil_id))
        .filter(suggestions::status.eq("open"))
        .filter(suggestions::to_level.eq(to.number()))
        .filter(suggestions::from_level.eq(pupils::level))
        .order(suggestions::id.desc())
        .select(suggestions::id)
        .first(conn)
        .optional()?)
}

/// A move by hand: to which level, why, and whether it overrides the sequence's gates.
#[derive(Debug, Clone)]
pub struct ManualMove<'a> {
    pub pupil_id: i64,
    pub to: Level,
    pub reason: &'a str,
    /// An SLT or SENDCO decision to any level, outside the usual order.
    pub override_gates: bool,
}

/// Moves a pupil by hand, with a reason: one step up or down, or close, through the state
/// machine's gates; with `override_gates`, an SLT or SENDCO decision to any level.
pub fn move_pupil(
    conn: &mut DbConnection,
    member: &StaffMember,
    request: &ManualMove<'_>,
    rules: &SchoolRules,
    context: &NoticeContext,
    now: DateTime<Utc>,
) -> Result<Decision> {
    let ManualMove {
        pupil_id,
        to,
        override_gates,
        ..
    } = *request;
    let reason = checked_reason("reason", request.reason)?;
    let (pupil, year) = lock_pupil(conn, member.school_id, pupil_id)?;
    let before = pupil_state(&pupil);
    if !may_decide(member, PastoralPlace::of(&pupil, year), before.level, to) {
        return Err(Error::Forbidden(
            "moving this pupil is for their Head of Year or Head of House, the SENDCO (levels 4-6) or SLT".into(),
        ));
    }
    let events = if override_gates {
        let by = [Role::Slt, Role::Sendco]
            .into_iter()
            .find(|r| member.has_role(*r))
            .ok_or_else(|| {
                Error::Forbidden("only SLT or the SENDCO may override the sequence".into())
            })?;
        vec![Event::Override {
            to,
            by,
            reason: reason.clone(),
        }]
    } else {
        events_for_target(&before, to).map_err(|e| Error::unprocessable(e.to_string()))?
    };
    let after = applied(&before, &events)?;
    let (change, meeting) = store_move(
        conn,
        Move {
            pupil: &pupil,
            before: before.clone(),
            after,
            by: member,
            reason,
            suggestion_id: None,
            is_override: override_gates,
        },
        rules,
        context,
        now,
    )?;
    audit_decision(
        conn,
        member,
        if override_gates {
            "pupil.override"
        } else {
            "pupil.move"
        },
        "pupil",
        pupil.id,
        format!("level {} to {}", before.level.number(), to.number()),
        now,
    )?;
    Ok(Decision {
        suggestion: None,
        level_change: Some(change),
        meeting,
    })
}
