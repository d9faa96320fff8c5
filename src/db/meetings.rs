//! Meetings: who takes part, and recording that one was held.

use chrono::{DateTime, Utc};
use diesel::prelude::*;

use super::audit::{self, AuditEntry};
use super::decisions::checked_reason;
use super::evaluation::{self, SchoolRules};
use super::models::{MeetingRow, PupilRow, SuggestionRow};
use super::schema::{meeting_participants, meetings, pupils};
use super::staff::StaffMember;
use super::{to_db_time, DbConnection};
use crate::error::{Error, Result};

/// The staff ids invited to a meeting.
pub fn participants(conn: &mut DbConnection, meeting_id: i64) -> Result<Vec<i64>> {
    Ok(meeting_participants::table
        .filter(meeting_participants::meeting_id.eq(meeting_id))
        .order(meeting_participants::staff_id)
        .select(meeting_participants::staff_id)
        .load(conn)?)
}

/// What was recorded when a meeting was held.
#[derive(Debug, Clone)]
pub struct Outcome<'a> {
    pub held_at: DateTime<Utc>,
    pub summary: &'a str,
    /// Whether the goals under review were met; `None` where the meeting reviews no goals.
    pub goals_met: Option<bool>,
}

/// Records that a meeting of the school was held, and evaluates the pupil's rules at once
/// (a held Coaching Plan meeting suggests the programme; a review decides the next step).
/// Audited without the summary's text.
pub fn record_outcome(
    conn: &mut DbConnection,
    member: &StaffMember,
    meeting_id: i64,
    outcome: &Outcome<'_>,
    rules: &SchoolRules,
    now: DateTime<Utc>,
) -> Result<(MeetingRow, Vec<SuggestionRow>)> {
    let meeting: MeetingRow = meetings::table
        .filter(meetings::id.eq(meeting_id))
        .filter(meetings::school_id.eq(member.school_id))
        .select(MeetingRow::as_select())
        .first(conn)
        .optional()?
        .ok_or(Error::NotFound("meeting"))?;
    if !["due", "scheduled"].contains(&meeting.status.as_str()) {
        return Err(Error::Conflict {
            message: format!("this meeting is {} already", meeting.status),
            field: None,
        });
    }
    if outcome.held_at > now {
        return Err(Error::invalid(
            "held_at",
            "a meeting cannot be held in the future",
        ));
    }
    let summary = checked_reason("summary", outcome.summary)?;
    diesel::update(meetings::table.find(meeting.id))
        .set((
            meetings::status.eq("held"),
            meetings::held_at.eq(Some(to_db_time(outcome.held_at))),
            meetings::summary.eq(Some(summary)),
            meetings::goals_met.eq(outcome.goals_met),
        ))
        .execute(conn)?;
    audit::record(
        conn,
        AuditEntry {
            school_id: member.school_id,
            actor_id: Some(member.id),
            action: "meeting.held",
            entity: "meeting",
            entity_id: Some(meeting.id),
            detail: format!(
                "pupil {} level {} goals met: {:?}",
                meeting.pupil_id, meeting.level, outcome.goals_met
            ),
            at: to_db_time(now),
        },
    )?;
    let pupil: PupilRow = pupils::table
        .find(meeting.pupil_id)
        .select(PupilRow::as_select())
        .first(conn)?;
    let suggested = evaluation::suggest_for_pupil(conn, &pupil, rules, now)?;
    let held = meetings::table
        .find(meeting.id)
        .select(MeetingRow::as_select())
        .first(conn)?;
    Ok((held, suggested))
}
