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
    /// As the MIS gives it, when an import has brought it.
    pub date_of_birth: Option<NaiveDate>,
    /// When the pupil was marked as left: their records are kept, read-only.
    pub left_on: Option<NaiveDate>,
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
    /// Brought in from another system's export.
    pub imported: bool,
    /// The imported incident's stable key (see `domain::history`).
    pub import_key: Option<String>,
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
    /// `level` for the level's own meeting (or a block review), `planning` for the planning
    /// session that follows the level-6 team meeting.
    pub purpose: String,
    /// The day the due date is counted from, when it is counted in school days.
    pub due_from: Option<NaiveDate>,
    /// How many school days after `due_from` the meeting is due (see
    /// [`MeetingRow::due_count`]).
    pub due_school_days: Option<i32>,
}

impl MeetingRow {
    /// How the due date is counted in school days, when it is (a block review on its final
    /// session's day is not, nor a meeting made before counts were kept).
    pub fn due_count(&self) -> Option<crate::domain::SchoolDayCount> {
        let from = self.due_from?;
        let days = u32::try_from(self.due_school_days?).ok()?;
        Some(crate::domain::SchoolDayCount::new(from, days))
    }

    /// The day the meeting is booked for (London time), when it is booked.
    pub fn booked_on(&self) -> Option<NaiveDate> {
        self.starts_at.map(|at| {
            crate::domain::calendar::SchoolCalendar::local_date(crate::db::from_db_time(at))
        })
    }

    /// Where the meeting stands on `today` ([`crate::domain::MeetingState`]).
    pub fn state(&self, today: NaiveDate) -> crate::domain::MeetingState {
        crate::domain::MeetingState::of_stored(&self.status, self.due_on, self.booked_on(), today)
    }
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
    /// Their answer through their family link: accepted, declined or another_time.
    pub response: Option<String>,
    pub response_note: Option<String>,
    pub responded_at: Option<NaiveDateTime>,
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

/// One version of a pupil's Coaching Plan; goals and action steps are JSON lists.
#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = coaching_plans)]
pub struct CoachingPlanRow {
    pub id: i64,
    pub school_id: i64,
    pub pupil_id: i64,
    pub version: i32,
    pub meeting_id: Option<i64>,
    pub goals: String,
    pub pathway_to_independence: String,
    pub action_steps: String,
    pub review_on: NaiveDate,
    pub agreed_with: Option<String>,
    pub created_by: i64,
    pub created_at: NaiveDateTime,
}

/// A block of a Coaching Programme as planned, and its review once held.
#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = programme_blocks)]
pub struct ProgrammeBlockRow {
    pub id: i64,
    pub school_id: i64,
    pub pupil_id: i64,
    pub plan_id: Option<i64>,
    pub weeks: i16,
    pub starts_on: NaiveDate,
    pub ends_on: NaiveDate,
    pub sessions_per_week: i32,
    /// Weekdays as three-letter names, comma-separated, Monday first.
    pub weekdays: String,
    pub minutes: i32,
    /// Local start time, `HH:MM`.
    pub session_time: Option<String>,
    pub place: String,
    pub led_by: String,
    pub practitioner_id: Option<i64>,
    pub practitioner_name: Option<String>,
    /// Dates lost to closures, `YYYY-MM-DD`, comma-separated.
    pub lost_to_closures: String,
    /// `running`, `reviewed`, or `ended` (left without a block review).
    pub status: String,
    pub decision: Option<String>,
    pub decision_reason: Option<String>,
    pub delivered_at_review: Option<i32>,
    pub planned_at_review: Option<i32>,
    pub reviewed_at: Option<NaiveDateTime>,
    pub reviewed_by: Option<i64>,
    pub created_by: i64,
    pub created_at: NaiveDateTime,
}

/// One planned programme session and what was recorded for it.
#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = programme_sessions)]
pub struct ProgrammeSessionRow {
    pub id: i64,
    pub school_id: i64,
    pub block_id: i64,
    pub pupil_id: i64,
    pub on_date: NaiveDate,
    pub session_time: Option<String>,
    pub is_final: bool,
    pub outcome: Option<String>,
    pub minutes: Option<i32>,
    pub delivered_by: Option<String>,
    pub note: Option<String>,
    pub reason: Option<String>,
    pub parent_attended: Option<bool>,
    pub recorded_by: Option<i64>,
    pub recorded_at: Option<NaiveDateTime>,
    /// The family link a parent, carer or coach recorded it through, at home.
    pub recorded_by_family: Option<i64>,
}

/// One provision of a pupil's Bespoke Provision Map.
#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = provision_items)]
pub struct ProvisionItemRow {
    pub id: i64,
    pub school_id: i64,
    pub pupil_id: i64,
    pub what: String,
    pub external: bool,
    pub provider_name: String,
    pub frequency_per_week: i32,
    pub session_minutes: i32,
    pub starts_on: NaiveDate,
    pub review_on: NaiveDate,
    pub ends_on: NaiveDate,
    pub cost_per_session_pence: i64,
    pub entry_data: String,
    pub target: String,
    pub exit_data: Option<String>,
    pub outcome: Option<String>,
    /// `active` or `ended`.
    pub status: String,
    pub created_by: i64,
    pub created_at: NaiveDateTime,
    pub ended_at: Option<NaiveDateTime>,
}

/// One assess-plan-do-review cycle of a provision item.
#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = provision_reviews)]
pub struct ProvisionReviewRow {
    pub id: i64,
    pub school_id: i64,
    pub item_id: i64,
    pub reviewed_on: NaiveDate,
    pub assessment: String,
    pub progress: String,
    pub next_plan: Option<String>,
    pub decision: String,
    pub next_review_on: Option<NaiveDate>,
    pub reviewed_by: i64,
    pub created_at: NaiveDateTime,
}
