//! Rows as stored. Conversions to domain values live with the queries that need them.

use chrono::{NaiveDate, NaiveDateTime};
use diesel::prelude::*;

use super::schema::*;

/// A school of the deployment (a trust holds several).
#[derive(Debug, Clone, Queryable, Selectable, Identifiable)]
#[diesel(table_name = schools)]
pub struct School {
    pub id: i64,
    pub code: String,
    pub name: String,
    pub created_at: NaiveDateTime,
}

/// A staff account.
#[derive(Debug, Clone, Queryable, Selectable, Identifiable)]
#[diesel(table_name = staff)]
pub struct StaffRow {
    pub id: i64,
    pub school_id: i64,
    pub email: String,
    pub name: String,
    pub password_hash: Option<String>,
    pub active: bool,
    pub created_at: NaiveDateTime,
}

/// A year group of a school.
#[derive(Debug, Clone, Queryable, Selectable, Identifiable)]
#[diesel(table_name = year_groups)]
pub struct YearGroupRow {
    pub id: i64,
    pub school_id: i64,
    pub year: i16,
    pub name: String,
}

/// A tutor group (form) of a year group.
#[derive(Debug, Clone, Queryable, Selectable, Identifiable)]
#[diesel(table_name = forms)]
pub struct FormRow {
    pub id: i64,
    pub school_id: i64,
    pub year_group_id: i64,
    pub name: String,
    pub tutor_id: Option<i64>,
}

/// A pupil with their current place in the Coaching Sequence.
#[derive(Debug, Clone, Queryable, Selectable, Identifiable)]
#[diesel(table_name = pupils)]
pub struct PupilRow {
    pub id: i64,
    pub school_id: i64,
    pub upn: String,
    pub given_name: String,
    pub family_name: String,
    pub year_group_id: i64,
    pub form_id: i64,
    pub house_id: Option<i64>,
    pub sen_status: String,
    pub level: i16,
    pub level_since: NaiveDateTime,
    pub programme_block: Option<i16>,
    pub had_plan: bool,
    pub programme_without_impact: bool,
    pub created_at: NaiveDateTime,
    pub last_incident_at: Option<NaiveDateTime>,
}

/// A holiday or INSET day range of a school's calendar.
#[derive(Debug, Clone, Queryable, Selectable, Identifiable)]
#[diesel(table_name = school_closures)]
pub struct ClosureRow {
    pub id: i64,
    pub school_id: i64,
    pub starts_on: NaiveDate,
    pub ends_on: NaiveDate,
    pub kind: String,
    pub name: String,
}

/// A recorded incident.
#[derive(Debug, Clone, Queryable, Selectable, Identifiable)]
#[diesel(table_name = incidents)]
pub struct IncidentRow {
    pub id: i64,
    pub school_id: i64,
    pub reported_by: i64,
    pub occurred_at: NaiveDateTime,
    pub behaviour: String,
    pub severity: String,
    pub response: String,
    pub location: Option<String>,
    pub lesson: Option<String>,
    pub note: Option<String>,
    pub created_at: NaiveDateTime,
    /// When its author undid it; an undone incident no longer counts.
    pub voided_at: Option<NaiveDateTime>,
    /// When its author last corrected it.
    pub edited_at: Option<NaiveDateTime>,
}

/// A move of a pupil between levels.
#[derive(Debug, Clone, Queryable, Selectable, Identifiable)]
#[diesel(table_name = level_changes)]
pub struct LevelChangeRow {
    pub id: i64,
    pub school_id: i64,
    pub pupil_id: i64,
    pub from_level: i16,
    pub to_level: i16,
    pub reason: String,
    pub changed_by: Option<i64>,
    pub suggestion_id: Option<i64>,
    pub is_override: bool,
    pub occurred_at: NaiveDateTime,
}

/// A suggested move, made by a rule and decided by a person.
#[derive(Debug, Clone, Queryable, Selectable, Identifiable)]
#[diesel(table_name = suggestions)]
pub struct SuggestionRow {
    pub id: i64,
    pub school_id: i64,
    pub pupil_id: i64,
    pub from_level: i16,
    pub to_level: i16,
    pub rule: String,
    pub reason: String,
    pub evidence: String,
    pub status: String,
    pub policy_version: i32,
    pub created_at: NaiveDateTime,
    pub decided_by: Option<i64>,
    pub decided_at: Option<NaiveDateTime>,
    pub decision_note: Option<String>,
    pub snoozed_until: Option<NaiveDate>,
}

/// A meeting of levels 3, 4 and 6, or a programme block review.
#[derive(Debug, Clone, Queryable, Selectable, Identifiable)]
#[diesel(table_name = meetings)]
pub struct MeetingRow {
    pub id: i64,
    pub school_id: i64,
    pub pupil_id: i64,
    pub level: i16,
    pub due_on: NaiveDate,
    pub status: String,
    pub starts_at: Option<NaiveDateTime>,
    pub duration_minutes: Option<i32>,
    pub location: Option<String>,
    pub parent_invited: bool,
    pub held_at: Option<NaiveDateTime>,
    pub summary: Option<String>,
    pub goals_met: Option<bool>,
    pub created_at: NaiveDateTime,
    /// Bumped at each reschedule or cancellation, so calendars replace the entry.
    pub sequence: i32,
    pub cancel_reason: Option<String>,
    /// The six parts of the record of a held meeting.
    pub follow_up: Option<String>,
    pub successes: Option<String>,
    pub challenges: Option<String>,
    pub focus: Option<String>,
    pub action_steps: Option<String>,
    pub next_step: Option<String>,
}

/// Someone without a staff account taking part in a meeting: a parent or carer, or an
/// external professional.
#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = meeting_guests)]
pub struct MeetingGuestRow {
    pub id: i64,
    pub meeting_id: i64,
    pub school_id: i64,
    pub name: String,
    pub email: Option<String>,
    /// parent_carer, external or other.
    pub role: String,
}

/// One email in the outbox.
#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = outbox)]
pub struct OutboxRow {
    pub id: i64,
    pub school_id: i64,
    pub message_key: String,
    pub recipient: String,
    pub subject: String,
    pub body_text: String,
    pub body_html: Option<String>,
    pub calendar_ics: Option<String>,
    /// pending, sent, failed, held (for a digest) or collated (into one).
    pub status: String,
    pub attempts: i32,
    pub next_attempt_at: NaiveDateTime,
    pub lease_until: Option<NaiveDateTime>,
    pub last_error: Option<String>,
    pub created_at: NaiveDateTime,
    pub sent_at: Option<NaiveDateTime>,
    pub staff_id: Option<i64>,
    /// What the email is about, in a few words, for the admin page and the digest.
    pub topic: String,
}
