//! The Coaching Programme (level 5): planning a block's sessions, recording what happened at
//! each, the block's fidelity (was the support actually given?) and the block review.
//!
//! A programme runs in blocks of 2, then 4, then 6 weeks ([`ProgrammeBlock`]). Sessions last
//! 30 to 40 minutes, at least as often each week as the school's policy asks (ideally three
//! times), in school with a specialist practitioner or at home with a parent or carer, a coach
//! or an outside professional. Fidelity is delivered sessions over planned sessions, shown in
//! bands; moving on at a review with fidelity under 80% needs a confirmation and a reason.

use chrono::{DateTime, Datelike, NaiveDate, NaiveTime, TimeDelta, Utc, Weekday};
use serde::{Deserialize, Serialize};

use crate::domain::calendar::{SchoolCalendar, SCHOOL_TZ};
use crate::domain::details::{optional_text, refuse, DetailError};
use crate::domain::level::{Level, ProgrammeBlock};
use crate::domain::policy::EscalationPolicy;
use crate::domain::role::Role;
use crate::domain::transition::Event;

/// Shortest programme session, in minutes.
pub const MIN_SESSION_MINUTES: u32 = 30;
/// Longest programme session, in minutes.
pub const MAX_SESSION_MINUTES: u32 = 40;
/// Most sessions a week: one each school day.
pub const MAX_SESSIONS_PER_WEEK: u32 = 5;
/// Shortest length a delivered session may be recorded with (a session cut short still counts).
pub const MIN_RECORDED_MINUTES: u32 = 5;
/// Longest length a delivered session may be recorded with.
pub const MAX_RECORDED_MINUTES: u32 = 90;
/// Longest note, reason or review reason, in characters.
pub const MAX_NOTE_CHARS: usize = 1000;
/// Earliest time of day a session may be planned for (local time in school).
pub const EARLIEST_SESSION_TIME: NaiveTime = match NaiveTime::from_hms_opt(6, 0, 0) {
    Some(t) => t,
    None => NaiveTime::MIN,
};
/// Latest time of day a session may be planned to start (local time in school).
///
/// Together with [`EARLIEST_SESSION_TIME`] this keeps sessions well clear of the small hours,
/// when the clocks change and a local time can be missing or happen twice.
pub const LATEST_SESSION_TIME: NaiveTime = match NaiveTime::from_hms_opt(21, 0, 0) {
    Some(t) => t,
    None => NaiveTime::MIN,
};

// ---------------------------------------------------------------------------------------------
// Fidelity
// ---------------------------------------------------------------------------------------------

/// How much of the planned support was given: the SENDCO's first question about a programme.
///
/// `delivered` above `planned` is treated as everything delivered (100%, [`FidelityBand::High`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
pub struct Fidelity {
    /// Sessions that took place with the pupil.
    pub delivered: u32,
    /// Sessions that should have taken place by now (see [`block_fidelity`]).
    pub planned: u32,
}

/// The band a fidelity figure falls in, from lowest to highest (so bands compare in that order).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FidelityBand {
    /// Under 40% of the planned sessions delivered.
    Low,
    /// 40% to 59%.
    Partial,
    /// 60% to 79%.
    Adequate,
    /// 80% and over.
    High,
}

impl FidelityBand {
    /// Every band, lowest first.
    pub const ALL: [FidelityBand; 4] = [
        FidelityBand::Low,
        FidelityBand::Partial,
        FidelityBand::Adequate,
        FidelityBand::High,
    ];

    /// The smallest whole percentage in the band.
    pub fn lowest_percent(self) -> u32 {
        match self {
            FidelityBand::Low => 0,
            FidelityBand::Partial => 40,
            FidelityBand::Adequate => 60,
            FidelityBand::High => 80,
        }
    }

    /// The stable lower-case name used in storage, CSV and the API.
    pub fn as_str(self) -> &'static str {
        match self {
            FidelityBand::Low => "low",
            FidelityBand::Partial => "partial",
            FidelityBand::Adequate => "adequate",
            FidelityBand::High => "high",
        }
    }

    /// The band's display title, with its range.
    pub fn title(self) -> &'static str {
        match self {
            FidelityBand::Low => "Low (under 40%)",
            FidelityBand::Partial => "Partial (40-59%)",
            FidelityBand::Adequate => "Adequate (60-79%)",
            FidelityBand::High => "High (80% and over)",
        }
    }
}

impl std::fmt::Display for FidelityBand {
    /// Writes the band's title.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.title())
    }
}

impl Fidelity {
    /// The fidelity of `delivered` sessions out of `planned`.
    pub fn new(delivered: u32, planned: u32) -> Self {
        Fidelity { delivered, planned }
    }

    /// Delivered sessions, never more than planned.
    fn delivered_capped(self) -> u64 {
        u64::from(self.delivered.min(self.planned))
    }

    /// The band, or `None` when nothing was planned (there is nothing to judge yet).
    ///
    /// Exact integer arithmetic: delivered/planned ≥ 4/5 is high, ≥ 3/5 adequate, ≥ 2/5
    /// partial, anything less low. So 79.9% is adequate and exactly 80% is high.
    pub fn band(self) -> Option<FidelityBand> {
        if self.planned == 0 {
            return None;
        }
        let five_delivered = 5 * self.delivered_capped();
        let planned = u64::from(self.planned);
        Some(if five_delivered >= 4 * planned {
            FidelityBand::High
        } else if five_delivered >= 3 * planned {
            FidelityBand::Adequate
        } else if five_delivered >= 2 * planned {
            FidelityBand::Partial
        } else {
            FidelityBand::Low
        })
    }

    /// The whole percentage delivered, rounded *down* so that the figure shown always agrees
    /// with the band (79.9% shows as 79%, adequate, never as 80%); `None` when nothing was planned.
    pub fn percent(self) -> Option<u32> {
        if self.planned == 0 {
            return None;
        }
        let percent = 100 * self.delivered_capped() / u64::from(self.planned);
        u32::try_from(percent).ok()
    }

    /// Whether the fidelity is high (80% and over), so moving on needs no confirmation.
    pub fn is_high(self) -> bool {
        self.band() == Some(FidelityBand::High)
    }
}

impl std::fmt::Display for Fidelity {
    /// Writes e.g. "7 of 9 sessions (77%)", or "no sessions planned yet".
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.percent() {
            Some(percent) => write!(
                f,
                "{} of {} sessions ({percent}%)",
                self.delivered, self.planned
            ),
            None => f.write_str("no sessions planned yet"),
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Session outcomes
// ---------------------------------------------------------------------------------------------

/// What happened at a planned session.
///
/// A session the pupil was absent from counts as planned but not delivered: fidelity asks
/// whether the support was actually given, and an absent pupil did not receive it. The
/// separate counts in [`BlockFidelity`] let the SENDCO see whether low fidelity comes from
/// attendance or from sessions not being run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SessionOutcome {
    /// The session took place with the pupil.
    Delivered,
    /// The session was ready to run but the pupil was not there.
    PupilAbsent,
    /// The session did not take place (staff absence, a clash, a trip...); needs a reason.
    NotDelivered,
}

impl SessionOutcome {
    /// Every outcome, in the order offered on the recording form.
    pub const ALL: [SessionOutcome; 3] = [
        SessionOutcome::Delivered,
        SessionOutcome::PupilAbsent,
        SessionOutcome::NotDelivered,
    ];

    /// The stable name used in storage, forms and the API.
    pub fn as_str(self) -> &'static str {
        match self {
            SessionOutcome::Delivered => "delivered",
            SessionOutcome::PupilAbsent => "pupil_absent",
            SessionOutcome::NotDelivered => "not_delivered",
        }
    }

    /// The outcome's display title.
    pub fn title(self) -> &'static str {
        match self {
            SessionOutcome::Delivered => "Delivered",
            SessionOutcome::PupilAbsent => "Pupil absent",
            SessionOutcome::NotDelivered => "Not delivered",
        }
    }

    /// Reads a stored or submitted name (surrounding spaces ignored) for the field `outcome`.
    pub fn parse(raw: &str) -> Result<Self, DetailError> {
        SessionOutcome::ALL
            .into_iter()
            .find(|o| o.as_str() == raw.trim())
            .ok_or_else(|| {
                refuse(
                    "outcome",
                    "must be one of delivered, pupil_absent, not_delivered",
                )
            })
    }

    /// Whether the support was given at this session.
    pub fn is_delivered(self) -> bool {
        self == SessionOutcome::Delivered
    }
}

/// What was recorded for one session, checked: the outcome with its details.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionRecord {
    /// What happened.
    pub outcome: SessionOutcome,
    /// How long a delivered session lasted; `None` for any other outcome.
    pub minutes: Option<u32>,
    /// Why a session was not delivered (required then), or a note about an absence.
    pub reason: Option<String>,
    /// A short note against the plan's goals (optional).
    pub note: Option<String>,
}

impl SessionRecord {
    /// Checks a session's record; the first fault found is returned with its field.
    ///
    /// A delivered session needs how long it lasted ([`MIN_RECORDED_MINUTES`] to
    /// [`MAX_RECORDED_MINUTES`]) and takes no reason; a session not delivered needs a reason;
    /// only a delivered session has a length.
    pub fn parse(
        outcome: SessionOutcome,
        minutes: Option<u32>,
        reason: Option<&str>,
        note: Option<&str>,
    ) -> Result<Self, DetailError> {
        let reason = optional_text("reason", reason, MAX_NOTE_CHARS)?;
        let note = optional_text("note", note, MAX_NOTE_CHARS)?;
        match outcome {
            SessionOutcome::Delivered => {
                let minutes = minutes
                    .ok_or_else(|| refuse("minutes", "say how many minutes the session lasted"))?;
                if !(MIN_RECORDED_MINUTES..=MAX_RECORDED_MINUTES).contains(&minutes) {
                    return Err(refuse(
                        "minutes",
                        format!(
                            "a session lasts {MIN_RECORDED_MINUTES} to {MAX_RECORDED_MINUTES} minutes, got {minutes}"
                        ),
                    ));
                }
                if reason.is_some() {
                    return Err(refuse(
                        "reason",
                        "a delivered session takes a note, not a reason",
                    ));
                }
            }
            SessionOutcome::PupilAbsent | SessionOutcome::NotDelivered => {
                if minutes.is_some() {
                    return Err(refuse("minutes", "only a delivered session has a length"));
                }
                if outcome == SessionOutcome::NotDelivered && reason.is_none() {
                    return Err(refuse("reason", "say why the session was not delivered"));
                }
            }
        }
        Ok(SessionRecord {
            outcome,
            minutes: minutes.filter(|_| outcome.is_delivered()),
            reason,
            note,
        })
    }
}

/// One planned session of a block as far as fidelity cares: its date and what was recorded.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct SessionEntry {
    /// The school date the session is planned for.
    pub on: NaiveDate,
    /// What was recorded, or `None` while nothing has been.
    pub outcome: Option<SessionOutcome>,
}

/// A block's fidelity with the counts behind it, as the SENDCO sees it on a given day.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize)]
pub struct BlockFidelity {
    /// Delivered over the sessions that count as planned so far.
    pub fidelity: Fidelity,
    /// Sessions recorded as pupil absent.
    pub pupil_absent: u32,
    /// Sessions recorded as not delivered.
    pub not_delivered: u32,
    /// Sessions whose day has passed with nothing recorded: counted as planned, not delivered.
    pub unrecorded: u32,
    /// Sessions today or later with nothing recorded yet: not counted.
    pub upcoming: u32,
}

/// The fidelity of a block on `today` from its sessions.
///
/// A session counts as planned once something is recorded for it (whatever its date), or once
/// its day is over with nothing recorded: a session nobody recorded cannot be shown to have
/// been given, so it counts against fidelity and shows as `unrecorded` for someone to chase.
/// Sessions today or later with nothing recorded are `upcoming` and do not count yet, so
/// fidelity part-way through a block is about the sessions that should have happened by then.
pub fn block_fidelity(
    sessions: impl IntoIterator<Item = SessionEntry>,
    today: NaiveDate,
) -> BlockFidelity {
    let mut tally = BlockFidelity::default();
    for session in sessions {
        match session.outcome {
            Some(SessionOutcome::Delivered) => {
                tally.fidelity.delivered = tally.fidelity.delivered.saturating_add(1);
            }
            Some(SessionOutcome::PupilAbsent) => {
                tally.pupil_absent = tally.pupil_absent.saturating_add(1);
            }
            Some(SessionOutcome::NotDelivered) => {
                tally.not_delivered = tally.not_delivered.saturating_add(1);
            }
            None if session.on < today => tally.unrecorded = tally.unrecorded.saturating_add(1),
            None => {
                tally.upcoming = tally.upcoming.saturating_add(1);
                continue;
            }
        }
        tally.fidelity.planned = tally.fidelity.planned.saturating_add(1);
    }
    tally
}

// ---------------------------------------------------------------------------------------------
// Planning a block's sessions
// ---------------------------------------------------------------------------------------------

/// Where a programme's sessions happen.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SessionPlace {
    /// In school.
    InSchool,
    /// At home.
    AtHome,
}

/// Who runs a programme's sessions.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SessionLead {
    /// A specialist practitioner on the school's staff.
    SpecialistStaff,
    /// An outside professional (in school or at home).
    ExternalProfessional,
    /// The pupil's parent or carer (at home).
    ParentCarer,
    /// A coach (at home).
    Coach,
}

impl SessionLead {
    /// Every kind of session lead, in the order offered on the planning form.
    pub const ALL: [SessionLead; 4] = [
        SessionLead::SpecialistStaff,
        SessionLead::ExternalProfessional,
        SessionLead::ParentCarer,
        SessionLead::Coach,
    ];

    /// Reads a stored or submitted name (surrounding spaces ignored) for the field `led_by`.
    pub fn parse(raw: &str) -> Result<Self, DetailError> {
        SessionLead::ALL
            .into_iter()
            .find(|l| l.as_str() == raw.trim())
            .ok_or_else(|| {
                refuse(
                    "led_by",
                    "must be one of specialist_staff, external_professional, parent_carer, coach",
                )
            })
    }

    /// The stable name used in storage and forms.
    pub fn as_str(self) -> &'static str {
        match self {
            SessionLead::SpecialistStaff => "specialist_staff",
            SessionLead::ExternalProfessional => "external_professional",
            SessionLead::ParentCarer => "parent_carer",
            SessionLead::Coach => "coach",
        }
    }

    /// The display title.
    pub fn title(self) -> &'static str {
        match self {
            SessionLead::SpecialistStaff => "Specialist practitioner",
            SessionLead::ExternalProfessional => "Outside professional",
            SessionLead::ParentCarer => "Parent or carer",
            SessionLead::Coach => "Coach",
        }
    }
}

impl SessionPlace {
    /// Both places, in the order offered on the planning form.
    pub const ALL: [SessionPlace; 2] = [SessionPlace::InSchool, SessionPlace::AtHome];

    /// Reads a stored or submitted name (surrounding spaces ignored) for the field `place`.
    pub fn parse(raw: &str) -> Result<Self, DetailError> {
        SessionPlace::ALL
            .into_iter()
            .find(|p| p.as_str() == raw.trim())
            .ok_or_else(|| refuse("place", "must be one of in_school, at_home"))
    }

    /// The stable name used in storage and forms.
    pub fn as_str(self) -> &'static str {
        match self {
            SessionPlace::InSchool => "in_school",
            SessionPlace::AtHome => "at_home",
        }
    }

    /// The display title.
    pub fn title(self) -> &'static str {
        match self {
            SessionPlace::InSchool => "In school",
            SessionPlace::AtHome => "At home",
        }
    }
}

/// Where the sessions happen and who runs them, checked: in school a specialist practitioner
/// (school staff or an outside professional); at home a parent or carer, a coach or an outside
/// professional.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
pub struct SessionSetting {
    place: SessionPlace,
    lead: SessionLead,
}

impl SessionSetting {
    /// Checks that `lead` runs sessions in `place`; refuses with the field `led_by` otherwise.
    pub fn new(place: SessionPlace, lead: SessionLead) -> Result<Self, DetailError> {
        let fits = match place {
            SessionPlace::InSchool => matches!(
                lead,
                SessionLead::SpecialistStaff | SessionLead::ExternalProfessional
            ),
            SessionPlace::AtHome => matches!(
                lead,
                SessionLead::ParentCarer | SessionLead::Coach | SessionLead::ExternalProfessional
            ),
        };
        if !fits {
            let allowed = match place {
                SessionPlace::InSchool => {
                    "in school, sessions are run by a specialist practitioner or an outside professional"
                }
                SessionPlace::AtHome => {
                    "at home, sessions are run by a parent or carer, a coach or an outside professional"
                }
            };
            return Err(refuse("led_by", allowed));
        }
        Ok(SessionSetting { place, lead })
    }

    /// Where the sessions happen.
    pub fn place(self) -> SessionPlace {
        self.place
    }

    /// Who runs them.
    pub fn lead(self) -> SessionLead {
        self.lead
    }
}

/// What is asked for when a block's sessions are planned, before checking.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SessionPlanRequest<'a> {
    /// The block being planned.
    pub block: ProgrammeBlock,
    /// The block's first day; must be a school day.
    pub starts_on: NaiveDate,
    /// Sessions each week: at least the policy's figure, at most [`MAX_SESSIONS_PER_WEEK`].
    pub sessions_per_week: u32,
    /// The days of the week sessions happen on: Monday to Friday, one for each session.
    pub weekdays: &'a [Weekday],
    /// Each session's length: [`MIN_SESSION_MINUTES`] to [`MAX_SESSION_MINUTES`].
    pub minutes: u32,
    /// The local time sessions start, when agreed; between [`EARLIEST_SESSION_TIME`] and
    /// [`LATEST_SESSION_TIME`].
    pub time: Option<NaiveTime>,
    /// Where and by whom.
    pub setting: SessionSetting,
}

/// One planned session.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
pub struct PlannedSession {
    /// The school date.
    pub on: NaiveDate,
    /// The local (London) start time, when agreed.
    pub time: Option<NaiveTime>,
}

impl PlannedSession {
    /// The instant the session starts, reading its time in the school's time zone, so a
    /// 10:00 session is 09:00 UTC in summer and 10:00 UTC in winter. `None` without a time.
    pub fn starts_at(self) -> Option<DateTime<Utc>> {
        let local = self.on.and_time(self.time?);
        local
            .and_local_timezone(SCHOOL_TZ)
            .earliest()
            .map(|t| t.with_timezone(&Utc))
    }
}

/// A block's planned sessions, checked and laid out on school days.
///
/// The block covers whole calendar weeks from its first day (a 2-week block starting on a
/// Wednesday ends on the second Tuesday after). A session that falls on a closure (holiday or
/// INSET day) is not planned and not moved elsewhere: it is listed in `lost_to_closures`, so
/// the plan shows how much a half-term takes out of a block, and fidelity is measured only
/// against sessions that could have happened. Choose a start date that keeps the block in
/// term when that matters.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct BlockSchedule {
    /// The block planned.
    pub block: ProgrammeBlock,
    /// Its first day.
    pub starts_on: NaiveDate,
    /// Its last day: the day before the same weekday `weeks` weeks on.
    pub ends_on: NaiveDate,
    /// Sessions each week.
    pub sessions_per_week: u32,
    /// The weekdays sessions happen on, Monday first.
    pub weekdays: Vec<Weekday>,
    /// Each session's length in minutes.
    pub minutes: u32,
    /// Where and by whom.
    pub setting: SessionSetting,
    /// The planned sessions in date order, all on school days.
    pub sessions: Vec<PlannedSession>,
    /// Dates a session would have fallen on but the school was closed.
    pub lost_to_closures: Vec<NaiveDate>,
}

impl BlockSchedule {
    /// The block's final session, the one whose end the parent or carer attends.
    pub fn final_session(&self) -> Option<&PlannedSession> {
        self.sessions.last()
    }

    /// Planned minutes of support over the block.
    pub fn planned_minutes(&self) -> u64 {
        u64::from(self.minutes) * self.sessions.len() as u64
    }
}

/// Plans a block's sessions; the first fault found is returned with its field.
///
/// Checks, in order: `sessions_per_week` (at least the policy's
/// [`EscalationPolicy::programme_sessions_per_week`], at most [`MAX_SESSIONS_PER_WEEK`]),
/// `weekdays` (Monday to Friday, none twice, one for each session), `minutes` (30 to 40),
/// `time` (see [`SessionPlanRequest::time`]) and `starts_on` (a school day). Then lays the
/// sessions out over the block's weeks as [`BlockSchedule`] describes; a block with every
/// session lost to closures is refused on `starts_on`.
pub fn plan_sessions(
    request: &SessionPlanRequest<'_>,
    calendar: &SchoolCalendar,
    policy: &EscalationPolicy,
) -> Result<BlockSchedule, DetailError> {
    let minimum = policy
        .programme_sessions_per_week
        .clamp(1, MAX_SESSIONS_PER_WEEK);
    let per_week = request.sessions_per_week;
    if !(minimum..=MAX_SESSIONS_PER_WEEK).contains(&per_week) {
        return Err(refuse(
            "sessions_per_week",
            format!(
                "plan {minimum} to {MAX_SESSIONS_PER_WEEK} sessions a week (the school's policy asks for at least {minimum}, ideally 3), got {per_week}"
            ),
        ));
    }
    let mut weekdays = request.weekdays.to_vec();
    if weekdays.iter().any(|w| w.num_days_from_monday() >= 5) {
        return Err(refuse("weekdays", "sessions happen Monday to Friday"));
    }
    weekdays.sort_by_key(|w| w.num_days_from_monday());
    if weekdays.windows(2).any(|pair| pair[0] == pair[1]) {
        return Err(refuse("weekdays", "a day is chosen twice"));
    }
    if weekdays.len() != per_week as usize {
        return Err(refuse(
            "weekdays",
            format!(
                "choose {per_week} different weekdays, one for each session, got {}",
                weekdays.len()
            ),
        ));
    }
    if !(MIN_SESSION_MINUTES..=MAX_SESSION_MINUTES).contains(&request.minutes) {
        return Err(refuse(
            "minutes",
            format!(
                "a programme session lasts {MIN_SESSION_MINUTES} to {MAX_SESSION_MINUTES} minutes, got {}",
                request.minutes
            ),
        ));
    }
    if let Some(time) = request.time {
        if !(EARLIEST_SESSION_TIME..=LATEST_SESSION_TIME).contains(&time) {
            return Err(refuse(
                "time",
                format!(
                    "sessions start between {} and {}",
                    EARLIEST_SESSION_TIME.format("%H:%M"),
                    LATEST_SESSION_TIME.format("%H:%M")
                ),
            ));
        }
    }
    if !calendar.is_school_day(request.starts_on) {
        return Err(refuse(
            "starts_on",
            format!(
                "a block starts on a school day, and {} is not one",
                request.starts_on.format("%A %-d %B %Y")
            ),
        ));
    }
    let days = i64::from(request.block.weeks()) * 7;
    let ends_on = TimeDelta::try_days(days - 1)
        .and_then(|span| request.starts_on.checked_add_signed(span))
        .ok_or_else(|| refuse("starts_on", "is too far in the future"))?;
    let mut sessions = Vec::new();
    let mut lost_to_closures = Vec::new();
    for day in request.starts_on.iter_days().take_while(|d| *d <= ends_on) {
        if !weekdays.contains(&day.weekday()) {
            continue;
        }
        if calendar.is_school_day(day) {
            sessions.push(PlannedSession {
                on: day,
                time: request.time,
            });
        } else {
            lost_to_closures.push(day);
        }
    }
    if sessions.is_empty() {
        return Err(refuse(
            "starts_on",
            "the school is closed on every session day of this block: choose another start date",
        ));
    }
    Ok(BlockSchedule {
        block: request.block,
        starts_on: request.starts_on,
        ends_on,
        sessions_per_week: per_week,
        weekdays,
        minutes: request.minutes,
        setting: request.setting,
        sessions,
        lost_to_closures,
    })
}

// ---------------------------------------------------------------------------------------------
// The block review
// ---------------------------------------------------------------------------------------------

/// What the review meeting at the end of a block decides.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ReviewDecision {
    /// The plan's goals are met: step down to the Coaching Plan.
    GoalsMet,
    /// The goals are not met: continue with the next, longer block.
    NextBlock,
    /// Move to a Bespoke Provision Map.
    ProvisionMap,
}

impl ReviewDecision {
    /// Every decision, in the order offered at the review.
    pub const ALL: [ReviewDecision; 3] = [
        ReviewDecision::GoalsMet,
        ReviewDecision::NextBlock,
        ReviewDecision::ProvisionMap,
    ];

    /// The stable name used in storage, forms and the API.
    pub fn as_str(self) -> &'static str {
        match self {
            ReviewDecision::GoalsMet => "goals_met",
            ReviewDecision::NextBlock => "next_block",
            ReviewDecision::ProvisionMap => "provision_map",
        }
    }

    /// The decision's display title.
    pub fn title(self) -> &'static str {
        match self {
            ReviewDecision::GoalsMet => "Goals met: step down",
            ReviewDecision::NextBlock => "Continue with the next block",
            ReviewDecision::ProvisionMap => "Move to a Bespoke Provision Map",
        }
    }

    /// Reads a stored or submitted name (surrounding spaces ignored) for the field `decision`.
    pub fn parse(raw: &str) -> Result<Self, ReviewError> {
        ReviewDecision::ALL
            .into_iter()
            .find(|d| d.as_str() == raw.trim())
            .ok_or(ReviewError::UnknownDecision)
    }

    /// Whether the decision keeps the pupil on (or moves them up from) the programme.
    pub fn moves_on(self) -> bool {
        !matches!(self, ReviewDecision::GoalsMet)
    }
}

/// Why a block review's decision was refused. [`ReviewError::field`] names the form field.
#[derive(thiserror::Error, Debug, Clone, PartialEq, Eq)]
pub enum ReviewError {
    /// A decision name that is not one of the three.
    #[error("decision: must be one of goals_met, next_block, provision_map")]
    UnknownDecision,
    /// "Next block" after the 6-week block, which is the last.
    #[error("decision: the 6-week block is the last; choose goals met or a Bespoke Provision Map")]
    NoBlockAfterLast,
    /// Moving on with fidelity under 80% and no reason given.
    #[error("reason: {}; confirm the support was actually given and say why moving on is right", delivered_so_far(*fidelity))]
    LowFidelityNeedsReason {
        /// The block's fidelity.
        fidelity: Fidelity,
    },
    /// A Bespoke Provision Map before the 6-week block's review, with no reason given.
    #[error("reason: a Bespoke Provision Map before the 6-week block is reviewed is an SLT or SENDCO decision and needs a reason")]
    EarlyProvisionNeedsReason {
        /// The block being reviewed.
        block: ProgrammeBlock,
    },
    /// A Bespoke Provision Map before the 6-week block's review, decided by a role that may
    /// not override the sequence.
    #[error("decided_by: only SLT or the SENDCO can move a pupil to a Bespoke Provision Map before the 6-week block is reviewed, not {}", role.title())]
    EarlyProvisionNotAllowed {
        /// The role that tried.
        role: Role,
    },
    /// A reason that is too long or holds control characters.
    #[error("{0}")]
    Reason(DetailError),
}

/// What was delivered, for a refusal: "only 7 of 9 sessions (77%) were delivered", or that
/// none has been due yet.
fn delivered_so_far(fidelity: Fidelity) -> String {
    match fidelity.percent() {
        Some(_) => format!("only {fidelity} were delivered"),
        None => "no session of this block has been due yet".to_string(),
    }
}

impl ReviewError {
    /// The form field the error is about.
    pub fn field(&self) -> &'static str {
        match self {
            ReviewError::UnknownDecision | ReviewError::NoBlockAfterLast => "decision",
            ReviewError::LowFidelityNeedsReason { .. }
            | ReviewError::EarlyProvisionNeedsReason { .. } => "reason",
            ReviewError::EarlyProvisionNotAllowed { .. } => "decided_by",
            ReviewError::Reason(detail) => detail.field,
        }
    }
}

/// A block review as decided at the meeting, before checking.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BlockReview<'a> {
    /// The block being reviewed.
    pub block: ProgrammeBlock,
    /// What the meeting decided.
    pub decision: ReviewDecision,
    /// The block's fidelity at the review.
    pub fidelity: Fidelity,
    /// The role of the person recording the decision.
    pub decided_by: Role,
    /// The confirmation reason: needed to move on with fidelity under 80%, and for a
    /// Bespoke Provision Map before the 6-week block (one reason may answer both).
    pub reason: Option<&'a str>,
}

/// The state-machine events, in order, that carry out a block review's decision, or why the
/// decision is refused.
///
/// - Goals met: `[ProgrammeBlockReviewed { goals_met: true }, StepDown]`, back to the
///   Coaching Plan (the review itself changes no level; stepping down is its own event).
/// - Next block: `[ProgrammeBlockReviewed { goals_met: false }]`, which moves 2 to 4 and 4 to
///   6 weeks; refused after the 6-week block.
/// - Provision map after the 6-week block: `[ProgrammeBlockReviewed { goals_met: false },
///   Escalate]`. Earlier it is an SLT/SENDCO decision: `[Override { to: Provision, .. }]`
///   with the reason, refused for other roles or without a reason.
///
/// Moving on (next block or provision map) with fidelity under 80%, or with nothing planned,
/// needs a reason: was the support actually given? Stepping down needs none.
pub fn review_events(review: &BlockReview<'_>) -> Result<Vec<Event>, ReviewError> {
    let reason =
        optional_text("reason", review.reason, MAX_NOTE_CHARS).map_err(ReviewError::Reason)?;
    if review.decision == ReviewDecision::NextBlock && review.block.is_last() {
        return Err(ReviewError::NoBlockAfterLast);
    }
    let early_provision =
        review.decision == ReviewDecision::ProvisionMap && !review.block.is_last();
    if early_provision && !review.decided_by.can_override_gates() {
        return Err(ReviewError::EarlyProvisionNotAllowed {
            role: review.decided_by,
        });
    }
    if review.decision.moves_on() && !review.fidelity.is_high() && reason.is_none() {
        return Err(ReviewError::LowFidelityNeedsReason {
            fidelity: review.fidelity,
        });
    }
    let events = match review.decision {
        ReviewDecision::GoalsMet => vec![
            Event::ProgrammeBlockReviewed { goals_met: true },
            Event::StepDown,
        ],
        ReviewDecision::NextBlock => vec![Event::ProgrammeBlockReviewed { goals_met: false }],
        ReviewDecision::ProvisionMap if early_provision => {
            let reason = reason.ok_or(ReviewError::EarlyProvisionNeedsReason {
                block: review.block,
            })?;
            vec![Event::Override {
                to: Level::Provision,
                by: review.decided_by,
                reason,
            }]
        }
        ReviewDecision::ProvisionMap => vec![
            Event::ProgrammeBlockReviewed { goals_met: false },
            Event::Escalate,
        ],
    };
    Ok(events)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::calendar::{Closure, ClosureKind};
    use crate::domain::transition::{apply, PupilState};
    use chrono::TimeZone;
    use proptest::prelude::*;
    use Weekday::{Fri, Mon, Sat, Thu, Tue, Wed};

    fn d(y: i32, m: u32, day: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, day).unwrap()
    }

    fn f(delivered: u32, planned: u32) -> Fidelity {
        Fidelity::new(delivered, planned)
    }

    fn closure(from: NaiveDate, to: NaiveDate, kind: ClosureKind, name: &str) -> Closure {
        Closure {
            starts_on: from,
            ends_on: to,
            kind,
            name: name.into(),
        }
    }

    /// Autumn 2025: October half-term 27-31 October (the clocks go back on Sunday 26
    /// October) and an INSET day on Monday 3 November.
    fn autumn() -> SchoolCalendar {
        SchoolCalendar::new(vec![
            closure(
                d(2025, 10, 27),
                d(2025, 10, 31),
                ClosureKind::Holiday,
                "October half-term",
            ),
            closure(d(2025, 11, 3), d(2025, 11, 3), ClosureKind::Inset, "INSET"),
        ])
        .unwrap()
    }

    fn in_school() -> SessionSetting {
        SessionSetting::new(SessionPlace::InSchool, SessionLead::SpecialistStaff).unwrap()
    }

    fn request(
        block: ProgrammeBlock,
        starts_on: NaiveDate,
        weekdays: &[Weekday],
    ) -> SessionPlanRequest<'_> {
        SessionPlanRequest {
            block,
            starts_on,
            sessions_per_week: weekdays.len() as u32,
            weekdays,
            minutes: 30,
            time: None,
            setting: in_school(),
        }
    }

    fn policy() -> EscalationPolicy {
        EscalationPolicy::default()
    }

    // --- fidelity -----------------------------------------------------------------------------

    #[test]
    fn band_edges() {
        assert_eq!(f(4, 5).band(), Some(FidelityBand::High)); // exactly 80%
        assert_eq!(f(5, 5).band(), Some(FidelityBand::High));
        assert_eq!(f(799, 1000).band(), Some(FidelityBand::Adequate)); // 79.9%
        assert_eq!(f(3, 5).band(), Some(FidelityBand::Adequate)); // exactly 60%
        assert_eq!(f(599, 1000).band(), Some(FidelityBand::Partial)); // 59.9%
        assert_eq!(f(2, 5).band(), Some(FidelityBand::Partial)); // exactly 40%
        assert_eq!(f(399, 1000).band(), Some(FidelityBand::Low)); // 39.9%
        assert_eq!(f(0, 5).band(), Some(FidelityBand::Low));
        assert_eq!(f(0, 0).band(), None);
        // 7 of 9 is 77.8%, 8 of 10 is 80%, 2 of 3 is 66.7%, 1 of 3 is 33.3%.
        assert_eq!(f(7, 9).band(), Some(FidelityBand::Adequate));
        assert_eq!(f(8, 10).band(), Some(FidelityBand::High));
        assert_eq!(f(2, 3).band(), Some(FidelityBand::Adequate));
        assert_eq!(f(1, 3).band(), Some(FidelityBand::Low));
    }

    #[test]
    fn band_edges_at_the_largest_counts_do_not_overflow() {
        assert_eq!(f(u32::MAX, u32::MAX).band(), Some(FidelityBand::High));
        assert_eq!(f(u32::MAX, u32::MAX).percent(), Some(100));
        assert_eq!(f(0, u32::MAX).band(), Some(FidelityBand::Low));
        // u32::MAX is a multiple of 5, so four fifths of it is exactly 80%.
        let edge = u32::try_from(u64::from(u32::MAX) * 4 / 5).unwrap();
        assert_eq!(f(edge - 1, u32::MAX).band(), Some(FidelityBand::Adequate));
        assert_eq!(f(edge, u32::MAX).band(), Some(FidelityBand::High));
        assert_eq!(f(edge - 1, u32::MAX).percent(), Some(79));
    }

    #[test]
    fn percent_rounds_down_to_agree_with_the_band() {
        assert_eq!(f(799, 1000).percent(), Some(79));
        assert_eq!(f(4, 5).percent(), Some(80));
        assert_eq!(f(2, 3).percent(), Some(66));
        assert_eq!(f(0, 0).percent(), None);
        assert_eq!(
            f(7, 5).percent(),
            Some(100),
            "more delivered than planned is capped"
        );
        assert_eq!(f(7, 5).band(), Some(FidelityBand::High));
        assert_eq!(f(7, 9).to_string(), "7 of 9 sessions (77%)");
        assert_eq!(f(0, 0).to_string(), "no sessions planned yet");
    }

    #[test]
    fn band_names_and_titles() {
        let names: Vec<&str> = FidelityBand::ALL.iter().map(|b| b.as_str()).collect();
        assert_eq!(names, ["low", "partial", "adequate", "high"]);
        assert_eq!(FidelityBand::High.title(), "High (80% and over)");
        assert_eq!(FidelityBand::Adequate.to_string(), "Adequate (60-79%)");
        assert!(FidelityBand::Low < FidelityBand::High);
        for band in FidelityBand::ALL {
            assert_eq!(f(band.lowest_percent(), 100).band(), Some(band));
        }
        assert_eq!(
            serde_json::to_string(&FidelityBand::Partial).unwrap(),
            "\"partial\""
        );
    }

    // --- session outcomes ---------------------------------------------------------------------

    #[test]
    fn outcomes_round_trip() {
        for outcome in SessionOutcome::ALL {
            assert_eq!(SessionOutcome::parse(outcome.as_str()), Ok(outcome));
            assert!(!outcome.title().is_empty());
        }
        assert_eq!(SessionOutcome::parse("late").unwrap_err().field, "outcome");
        assert!(SessionOutcome::Delivered.is_delivered());
        assert!(!SessionOutcome::PupilAbsent.is_delivered());
    }

    #[test]
    fn a_delivered_session_needs_its_length_and_takes_a_note() {
        let ok = SessionRecord::parse(
            SessionOutcome::Delivered,
            Some(35),
            None,
            Some(" Used the calm plan twice "),
        )
        .unwrap();
        assert_eq!(ok.minutes, Some(35));
        assert_eq!(ok.note.as_deref(), Some("Used the calm plan twice"));
        let err = SessionRecord::parse(SessionOutcome::Delivered, None, None, None).unwrap_err();
        assert_eq!(err.field, "minutes");
        for bad in [0, 4, 91] {
            let err =
                SessionRecord::parse(SessionOutcome::Delivered, Some(bad), None, None).unwrap_err();
            assert_eq!(err.field, "minutes", "{bad}");
        }
        let err = SessionRecord::parse(SessionOutcome::Delivered, Some(30), Some("why"), None)
            .unwrap_err();
        assert_eq!(err.field, "reason");
    }

    #[test]
    fn a_session_not_delivered_needs_a_reason() {
        let err =
            SessionRecord::parse(SessionOutcome::NotDelivered, None, Some("  "), None).unwrap_err();
        assert_eq!(err.field, "reason");
        assert_eq!(
            err.to_string(),
            "reason: say why the session was not delivered"
        );
        let ok = SessionRecord::parse(
            SessionOutcome::NotDelivered,
            None,
            Some("Practitioner off sick"),
            None,
        )
        .unwrap();
        assert_eq!(ok.reason.as_deref(), Some("Practitioner off sick"));
        let err = SessionRecord::parse(SessionOutcome::NotDelivered, Some(30), Some("x"), None)
            .unwrap_err();
        assert_eq!(err.field, "minutes");
    }

    #[test]
    fn an_absence_may_have_a_reason_but_no_length() {
        let ok = SessionRecord::parse(SessionOutcome::PupilAbsent, None, None, None).unwrap();
        assert_eq!(ok.reason, None);
        let ok =
            SessionRecord::parse(SessionOutcome::PupilAbsent, None, Some("Dentist"), None).unwrap();
        assert_eq!(ok.reason.as_deref(), Some("Dentist"));
        let err =
            SessionRecord::parse(SessionOutcome::PupilAbsent, Some(30), None, None).unwrap_err();
        assert_eq!(err.field, "minutes");
        let err = SessionRecord::parse(
            SessionOutcome::PupilAbsent,
            None,
            None,
            Some(&"x".repeat(MAX_NOTE_CHARS + 1)),
        )
        .unwrap_err();
        assert_eq!(err.field, "note");
    }

    fn entry(on: NaiveDate, outcome: Option<SessionOutcome>) -> SessionEntry {
        SessionEntry { on, outcome }
    }

    #[test]
    fn block_fidelity_counts_what_should_have_happened_by_today() {
        use SessionOutcome::{Delivered, NotDelivered, PupilAbsent};
        let sessions = [
            entry(d(2025, 11, 4), Some(Delivered)),
            entry(d(2025, 11, 5), Some(PupilAbsent)),
            entry(d(2025, 11, 6), Some(Delivered)),
            entry(d(2025, 11, 11), Some(NotDelivered)),
            entry(d(2025, 11, 12), None), // passed, unrecorded: counts, not delivered
            entry(d(2025, 11, 13), None), // today, unrecorded: not yet
            entry(d(2025, 11, 18), None), // future
            entry(d(2025, 11, 19), Some(Delivered)), // recorded early: counts
        ];
        let tally = block_fidelity(sessions, d(2025, 11, 13));
        assert_eq!(tally.fidelity, f(3, 6));
        assert_eq!(tally.fidelity.band(), Some(FidelityBand::Partial));
        assert_eq!(tally.pupil_absent, 1);
        assert_eq!(tally.not_delivered, 1);
        assert_eq!(tally.unrecorded, 1);
        assert_eq!(tally.upcoming, 2);
    }

    #[test]
    fn block_fidelity_before_the_first_session_has_no_band() {
        let sessions = [entry(d(2025, 11, 4), None), entry(d(2025, 11, 6), None)];
        let tally = block_fidelity(sessions, d(2025, 11, 4));
        assert_eq!(tally.fidelity, f(0, 0));
        assert_eq!(tally.fidelity.band(), None);
        assert_eq!(tally.upcoming, 2);
        let after = block_fidelity(sessions, d(2025, 11, 7));
        assert_eq!(after.fidelity, f(0, 2));
        assert_eq!(after.unrecorded, 2);
        assert_eq!(after.fidelity.band(), Some(FidelityBand::Low));
    }

    // --- settings -----------------------------------------------------------------------------

    #[test]
    fn who_runs_sessions_where() {
        use SessionLead::*;
        use SessionPlace::*;
        for (place, lead, ok) in [
            (InSchool, SpecialistStaff, true),
            (InSchool, ExternalProfessional, true),
            (InSchool, ParentCarer, false),
            (InSchool, Coach, false),
            (AtHome, ParentCarer, true),
            (AtHome, Coach, true),
            (AtHome, ExternalProfessional, true),
            (AtHome, SpecialistStaff, false),
        ] {
            match SessionSetting::new(place, lead) {
                Ok(setting) => {
                    assert!(ok, "{place:?} {lead:?}");
                    assert_eq!((setting.place(), setting.lead()), (place, lead));
                }
                Err(err) => {
                    assert!(!ok, "{place:?} {lead:?}");
                    assert_eq!(err.field, "led_by");
                }
            }
        }
        for place in SessionPlace::ALL {
            assert_eq!(SessionPlace::parse(place.as_str()), Ok(place));
            assert!(!place.title().is_empty());
        }
        for lead in SessionLead::ALL {
            assert_eq!(
                SessionLead::parse(&format!(" {} ", lead.as_str())),
                Ok(lead)
            );
            assert!(!lead.title().is_empty());
        }
        assert_eq!(SessionPlace::parse("school").unwrap_err().field, "place");
        assert_eq!(SessionLead::parse("teacher").unwrap_err().field, "led_by");
        assert_eq!(SessionPlace::AtHome.as_str(), "at_home");
        assert_eq!(SessionLead::ParentCarer.title(), "Parent or carer");
    }

    // --- planning -----------------------------------------------------------------------------

    #[test]
    fn a_two_week_block_three_times_a_week() {
        let cal = SchoolCalendar::weekdays_only();
        let days = [Mon, Wed, Fri];
        let plan = plan_sessions(
            &request(ProgrammeBlock::TwoWeek, d(2025, 11, 10), &days),
            &cal,
            &policy(),
        )
        .unwrap();
        let dates: Vec<NaiveDate> = plan.sessions.iter().map(|s| s.on).collect();
        assert_eq!(
            dates,
            [
                d(2025, 11, 10),
                d(2025, 11, 12),
                d(2025, 11, 14),
                d(2025, 11, 17),
                d(2025, 11, 19),
                d(2025, 11, 21)
            ]
        );
        assert_eq!(plan.ends_on, d(2025, 11, 23));
        assert!(plan.lost_to_closures.is_empty());
        assert_eq!(plan.final_session().map(|s| s.on), Some(d(2025, 11, 21)));
        assert_eq!(plan.planned_minutes(), 180);
    }

    #[test]
    fn a_block_starting_midweek_runs_whole_weeks() {
        let cal = SchoolCalendar::weekdays_only();
        let plan = plan_sessions(
            &request(ProgrammeBlock::TwoWeek, d(2025, 11, 12), &[Mon, Thu]),
            &cal,
            &policy(),
        )
        .unwrap();
        let dates: Vec<NaiveDate> = plan.sessions.iter().map(|s| s.on).collect();
        assert_eq!(
            dates,
            [
                d(2025, 11, 13),
                d(2025, 11, 17),
                d(2025, 11, 20),
                d(2025, 11, 24)
            ]
        );
        assert_eq!(plan.ends_on, d(2025, 11, 25));
    }

    #[test]
    fn half_term_and_an_inset_day_lose_sessions_across_the_clock_change() {
        let days = [Mon, Wed, Fri];
        let mut req = request(ProgrammeBlock::FourWeek, d(2025, 10, 20), &days);
        req.time = NaiveTime::from_hms_opt(10, 0, 0);
        let plan = plan_sessions(&req, &autumn(), &policy()).unwrap();
        let dates: Vec<NaiveDate> = plan.sessions.iter().map(|s| s.on).collect();
        assert_eq!(
            dates,
            [
                d(2025, 10, 20),
                d(2025, 10, 22),
                d(2025, 10, 24),
                d(2025, 11, 5),
                d(2025, 11, 7),
                d(2025, 11, 10),
                d(2025, 11, 12),
                d(2025, 11, 14),
            ]
        );
        assert_eq!(
            plan.lost_to_closures,
            [
                d(2025, 10, 27),
                d(2025, 10, 29),
                d(2025, 10, 31),
                d(2025, 11, 3)
            ]
        );
        assert_eq!(plan.ends_on, d(2025, 11, 16));
        // 10:00 in London is 09:00 UTC before the clocks go back and 10:00 UTC after.
        assert_eq!(
            plan.sessions[0].starts_at(),
            Some(Utc.with_ymd_and_hms(2025, 10, 20, 9, 0, 0).unwrap())
        );
        assert_eq!(
            plan.sessions[3].starts_at(),
            Some(Utc.with_ymd_and_hms(2025, 11, 5, 10, 0, 0).unwrap())
        );
        for s in &plan.sessions {
            let local = s.starts_at().unwrap().with_timezone(&SCHOOL_TZ);
            assert_eq!(local.date_naive(), s.on);
            assert_eq!(local.time(), NaiveTime::from_hms_opt(10, 0, 0).unwrap());
        }
    }

    #[test]
    fn the_spring_clock_change_moves_the_utc_time_the_other_way() {
        let mut req = request(ProgrammeBlock::TwoWeek, d(2025, 3, 24), &[Tue, Thu]);
        req.time = NaiveTime::from_hms_opt(13, 30, 0);
        let plan = plan_sessions(&req, &SchoolCalendar::weekdays_only(), &policy()).unwrap();
        let utc: Vec<DateTime<Utc>> = plan.sessions.iter().filter_map(|s| s.starts_at()).collect();
        assert_eq!(
            utc,
            [
                Utc.with_ymd_and_hms(2025, 3, 25, 13, 30, 0).unwrap(),
                Utc.with_ymd_and_hms(2025, 3, 27, 13, 30, 0).unwrap(),
                Utc.with_ymd_and_hms(2025, 4, 1, 12, 30, 0).unwrap(),
                Utc.with_ymd_and_hms(2025, 4, 3, 12, 30, 0).unwrap(),
            ]
        );
        let untimed = PlannedSession {
            on: d(2025, 3, 25),
            time: None,
        };
        assert_eq!(untimed.starts_at(), None);
    }

    #[test]
    fn planning_refuses_with_the_field_at_fault() {
        let cal = autumn();
        let start = d(2025, 11, 10);
        let field = |req: &SessionPlanRequest<'_>, policy: &EscalationPolicy| {
            plan_sessions(req, &cal, policy).unwrap_err().field
        };

        let mut req = request(ProgrammeBlock::TwoWeek, start, &[Mon]);
        assert_eq!(
            field(&req, &policy()),
            "sessions_per_week",
            "below the policy's 2"
        );
        let mut strict = policy();
        strict.programme_sessions_per_week = 3;
        req = request(ProgrammeBlock::TwoWeek, start, &[Mon, Thu]);
        assert_eq!(field(&req, &strict), "sessions_per_week");
        assert!(plan_sessions(&req, &cal, &policy()).is_ok());
        let six = [Mon, Tue, Wed, Thu, Fri, Sat];
        req = request(ProgrammeBlock::TwoWeek, start, &six);
        assert_eq!(field(&req, &policy()), "sessions_per_week", "more than 5");

        req = request(ProgrammeBlock::TwoWeek, start, &[Mon, Sat]);
        assert_eq!(field(&req, &policy()), "weekdays", "a Saturday");
        req = request(ProgrammeBlock::TwoWeek, start, &[Mon, Mon]);
        let err = plan_sessions(&req, &cal, &policy()).unwrap_err();
        assert_eq!(err.to_string(), "weekdays: a day is chosen twice");
        req = request(ProgrammeBlock::TwoWeek, start, &[Mon, Wed]);
        req.sessions_per_week = 3;
        let err = plan_sessions(&req, &cal, &policy()).unwrap_err();
        assert_eq!(
            err.to_string(),
            "weekdays: choose 3 different weekdays, one for each session, got 2"
        );

        for minutes in [29, 41, 0, 45] {
            req = request(ProgrammeBlock::TwoWeek, start, &[Mon, Wed]);
            req.minutes = minutes;
            assert_eq!(field(&req, &policy()), "minutes", "{minutes}");
        }
        for minutes in [30, 35, 40] {
            req.minutes = minutes;
            assert!(plan_sessions(&req, &cal, &policy()).is_ok(), "{minutes}");
        }

        req = request(ProgrammeBlock::TwoWeek, start, &[Mon, Wed]);
        req.time = NaiveTime::from_hms_opt(1, 30, 0);
        assert_eq!(field(&req, &policy()), "time");
        req.time = NaiveTime::from_hms_opt(21, 0, 0);
        assert!(plan_sessions(&req, &cal, &policy()).is_ok());

        req = request(ProgrammeBlock::TwoWeek, d(2025, 11, 8), &[Mon, Wed]);
        let err = plan_sessions(&req, &cal, &policy()).unwrap_err();
        assert_eq!(
            err.to_string(),
            "starts_on: a block starts on a school day, and Saturday 8 November 2025 is not one"
        );
        req = request(ProgrammeBlock::TwoWeek, d(2025, 10, 29), &[Mon, Wed]);
        assert_eq!(field(&req, &policy()), "starts_on", "in half-term");
    }

    #[test]
    fn a_block_with_every_session_closed_is_refused() {
        // Fridays only would be allowed by a lenient policy; both Fridays are closed here.
        let cal = SchoolCalendar::new(vec![
            closure(
                d(2025, 11, 14),
                d(2025, 11, 14),
                ClosureKind::Inset,
                "INSET",
            ),
            closure(
                d(2025, 11, 21),
                d(2025, 11, 21),
                ClosureKind::Holiday,
                "Strike",
            ),
        ])
        .unwrap();
        let mut lenient = policy();
        lenient.programme_sessions_per_week = 1;
        let err = plan_sessions(
            &request(ProgrammeBlock::TwoWeek, d(2025, 11, 10), &[Fri]),
            &cal,
            &lenient,
        )
        .unwrap_err();
        assert_eq!(err.field, "starts_on");
    }

    // --- review -------------------------------------------------------------------------------

    fn review(
        block: ProgrammeBlock,
        decision: ReviewDecision,
        fidelity: Fidelity,
        decided_by: Role,
        reason: Option<&str>,
    ) -> Result<Vec<Event>, ReviewError> {
        review_events(&BlockReview {
            block,
            decision,
            fidelity,
            decided_by,
            reason,
        })
    }

    fn on_block(block: ProgrammeBlock) -> PupilState {
        PupilState {
            level: Level::Programme,
            programme_block: Some(block),
            had_plan: true,
            programme_completed_without_impact: false,
        }
    }

    fn run(state: &PupilState, events: &[Event]) -> PupilState {
        events
            .iter()
            .fold(state.clone(), |s, e| apply(&s, e).unwrap())
    }

    const HIGH: Fidelity = Fidelity {
        delivered: 4,
        planned: 5,
    };
    const UNDER: Fidelity = Fidelity {
        delivered: 799,
        planned: 1000,
    };

    #[test]
    fn goals_met_steps_down_to_the_plan_whatever_the_fidelity() {
        for block in ProgrammeBlock::ALL {
            for fidelity in [HIGH, UNDER, f(0, 0)] {
                let events = review(
                    block,
                    ReviewDecision::GoalsMet,
                    fidelity,
                    Role::PastoralLead,
                    None,
                )
                .unwrap();
                assert_eq!(
                    events,
                    [
                        Event::ProgrammeBlockReviewed { goals_met: true },
                        Event::StepDown
                    ]
                );
                let after = run(&on_block(block), &events);
                assert_eq!(after.level, Level::Plan);
                assert_eq!(after.programme_block, None);
            }
        }
    }

    #[test]
    fn next_block_steps_two_to_four_to_six() {
        let events = review(
            ProgrammeBlock::TwoWeek,
            ReviewDecision::NextBlock,
            HIGH,
            Role::PastoralLead,
            None,
        )
        .unwrap();
        assert_eq!(events, [Event::ProgrammeBlockReviewed { goals_met: false }]);
        let after = run(&on_block(ProgrammeBlock::TwoWeek), &events);
        assert_eq!(after.programme_block, Some(ProgrammeBlock::FourWeek));
        let after = run(&after, &events);
        assert_eq!(after.programme_block, Some(ProgrammeBlock::SixWeek));
    }

    #[test]
    fn no_block_after_the_six_week_block() {
        let err = review(
            ProgrammeBlock::SixWeek,
            ReviewDecision::NextBlock,
            HIGH,
            Role::Sendco,
            Some("More time"),
        )
        .unwrap_err();
        assert_eq!(err, ReviewError::NoBlockAfterLast);
        assert_eq!(err.field(), "decision");
    }

    #[test]
    fn moving_on_under_eighty_percent_needs_a_reason() {
        for (block, decision) in [
            (ProgrammeBlock::TwoWeek, ReviewDecision::NextBlock),
            (ProgrammeBlock::FourWeek, ReviewDecision::NextBlock),
            (ProgrammeBlock::SixWeek, ReviewDecision::ProvisionMap),
        ] {
            for fidelity in [UNDER, f(3, 5), f(0, 6), f(0, 0)] {
                let err = review(block, decision, fidelity, Role::Sendco, None).unwrap_err();
                assert_eq!(err, ReviewError::LowFidelityNeedsReason { fidelity });
                assert_eq!(err.field(), "reason");
                let err = review(block, decision, fidelity, Role::Sendco, Some("  ")).unwrap_err();
                assert_eq!(err.field(), "reason", "a blank reason is no reason");
                assert!(review(
                    block,
                    decision,
                    fidelity,
                    Role::Sendco,
                    Some("Sessions were given; two were missed for a residential trip")
                )
                .is_ok());
            }
            assert!(review(block, decision, HIGH, Role::PastoralLead, None).is_ok());
        }
        let err = review(
            ProgrammeBlock::TwoWeek,
            ReviewDecision::NextBlock,
            f(7, 9),
            Role::Sendco,
            None,
        )
        .unwrap_err();
        assert_eq!(
            err.to_string(),
            "reason: only 7 of 9 sessions (77%) were delivered; confirm the support was actually given and say why moving on is right"
        );
    }

    #[test]
    fn provision_map_after_the_six_week_block_escalates() {
        let events = review(
            ProgrammeBlock::SixWeek,
            ReviewDecision::ProvisionMap,
            HIGH,
            Role::PastoralLead,
            None,
        )
        .unwrap();
        assert_eq!(
            events,
            [
                Event::ProgrammeBlockReviewed { goals_met: false },
                Event::Escalate
            ]
        );
        let after = run(&on_block(ProgrammeBlock::SixWeek), &events);
        assert_eq!(after.level, Level::Provision);
        assert!(after.programme_completed_without_impact);
    }

    #[test]
    fn an_early_provision_map_is_an_slt_or_sendco_override_with_a_reason() {
        for block in [ProgrammeBlock::TwoWeek, ProgrammeBlock::FourWeek] {
            for role in [
                Role::ClassStaff,
                Role::PastoralLead,
                Role::Hod,
                Role::Specialist,
                Role::Admin,
            ] {
                let err = review(
                    block,
                    ReviewDecision::ProvisionMap,
                    HIGH,
                    role,
                    Some("Urgent"),
                )
                .unwrap_err();
                assert_eq!(err, ReviewError::EarlyProvisionNotAllowed { role });
                assert_eq!(err.field(), "decided_by");
            }
            let err =
                review(block, ReviewDecision::ProvisionMap, HIGH, Role::Slt, None).unwrap_err();
            assert_eq!(err, ReviewError::EarlyProvisionNeedsReason { block });
            assert_eq!(err.field(), "reason");
            for role in [Role::Slt, Role::Sendco] {
                let events = review(
                    block,
                    ReviewDecision::ProvisionMap,
                    UNDER,
                    role,
                    Some(" Social care referral: needs multi-agency support now "),
                )
                .unwrap();
                assert_eq!(
                    events,
                    [Event::Override {
                        to: Level::Provision,
                        by: role,
                        reason: "Social care referral: needs multi-agency support now".into(),
                    }]
                );
                let after = run(&on_block(block), &events);
                assert_eq!(after.level, Level::Provision);
            }
        }
    }

    #[test]
    fn a_reason_is_checked() {
        let err = review(
            ProgrammeBlock::TwoWeek,
            ReviewDecision::NextBlock,
            UNDER,
            Role::Sendco,
            Some(&"x".repeat(MAX_NOTE_CHARS + 1)),
        )
        .unwrap_err();
        assert_eq!(err.field(), "reason");
        assert_eq!(err.to_string(), "reason: must be at most 1000 characters");
    }

    #[test]
    fn decisions_round_trip() {
        for decision in ReviewDecision::ALL {
            assert_eq!(ReviewDecision::parse(decision.as_str()), Ok(decision));
            assert!(!decision.title().is_empty());
        }
        let err = ReviewDecision::parse("escalate").unwrap_err();
        assert_eq!(err.field(), "decision");
        assert!(!ReviewDecision::GoalsMet.moves_on());
        assert!(ReviewDecision::NextBlock.moves_on());
    }

    /// The whole programme of the "done when": a 2-week block with recorded sessions,
    /// a review to the 4-week block, then (early) a Bespoke Provision Map by the SENDCO.
    #[test]
    fn a_programme_from_plan_to_provision_map() {
        let cal = autumn();
        let state = run(
            &PupilState {
                level: Level::Plan,
                programme_block: None,
                had_plan: true,
                programme_completed_without_impact: false,
            },
            &[Event::Escalate],
        );
        assert_eq!(state.current_block(), Some(ProgrammeBlock::TwoWeek));
        let plan = plan_sessions(
            &request(ProgrammeBlock::TwoWeek, d(2025, 11, 4), &[Tue, Thu]),
            &cal,
            &policy(),
        )
        .unwrap();
        let outcomes = [
            SessionOutcome::Delivered,
            SessionOutcome::Delivered,
            SessionOutcome::PupilAbsent,
            SessionOutcome::Delivered,
        ];
        let entries = plan
            .sessions
            .iter()
            .zip(outcomes)
            .map(|(s, o)| entry(s.on, Some(o)));
        let tally = block_fidelity(entries, plan.ends_on);
        assert_eq!(tally.fidelity, f(3, 4));
        let err = review(
            ProgrammeBlock::TwoWeek,
            ReviewDecision::NextBlock,
            tally.fidelity,
            Role::PastoralLead,
            None,
        )
        .unwrap_err();
        assert_eq!(err.field(), "reason");
        let events = review(
            ProgrammeBlock::TwoWeek,
            ReviewDecision::NextBlock,
            tally.fidelity,
            Role::PastoralLead,
            Some("The one missed session was an absence; the rest were given"),
        )
        .unwrap();
        let state = run(&state, &events);
        assert_eq!(state.current_block(), Some(ProgrammeBlock::FourWeek));
        let events = review(
            ProgrammeBlock::FourWeek,
            ReviewDecision::ProvisionMap,
            f(8, 8),
            Role::Sendco,
            Some("Agreed with the family and the social worker"),
        )
        .unwrap();
        let state = run(&state, &events);
        assert_eq!(state.level, Level::Provision);
    }

    // --- properties ---------------------------------------------------------------------------

    fn arb_weekdays() -> impl Strategy<Value = Vec<Weekday>> {
        proptest::sample::subsequence(vec![Mon, Tue, Wed, Thu, Fri], 2..=5)
    }

    fn arb_block() -> impl Strategy<Value = ProgrammeBlock> {
        (0usize..3).prop_map(|i| ProgrammeBlock::ALL[i])
    }

    fn arb_calendar() -> impl Strategy<Value = SchoolCalendar> {
        proptest::collection::vec((0i64..400, 0i64..12), 0..8).prop_map(|spans| {
            let base = d(2025, 9, 1);
            SchoolCalendar::new(
                spans
                    .into_iter()
                    .map(|(start, len)| {
                        let from = base + TimeDelta::days(start);
                        closure(
                            from,
                            from + TimeDelta::days(len),
                            ClosureKind::Holiday,
                            "closed",
                        )
                    })
                    .collect(),
            )
            .unwrap()
        })
    }

    proptest! {
        #[test]
        fn band_is_monotonic_in_delivered(planned in 1u32..500, a in 0u32..600, b in 0u32..600) {
            let (low, high) = (a.min(b), a.max(b));
            prop_assert!(f(low, planned).band() <= f(high, planned).band());
        }

        #[test]
        fn band_agrees_with_the_percent_shown(planned in 1u32..100_000, delivered in 0u32..100_000) {
            let fidelity = f(delivered, planned);
            let percent = fidelity.percent().unwrap();
            let expected = FidelityBand::ALL
                .into_iter()
                .rev()
                .find(|band| percent >= band.lowest_percent());
            prop_assert_eq!(fidelity.band(), expected);
        }

        #[test]
        fn planned_sessions_are_on_school_days_inside_the_block(
            cal in arb_calendar(),
            block in arb_block(),
            offset in 0i64..400,
            weekdays in arb_weekdays(),
        ) {
            let starts_on = d(2025, 9, 1) + TimeDelta::days(offset);
            let req = request(block, starts_on, &weekdays);
            match plan_sessions(&req, &cal, &policy()) {
                Ok(plan) => {
                    for s in &plan.sessions {
                        prop_assert!(cal.is_school_day(s.on), "{}", s.on);
                        prop_assert!(weekdays.contains(&s.on.weekday()));
                        prop_assert!(starts_on <= s.on && s.on <= plan.ends_on);
                    }
                    for lost in &plan.lost_to_closures {
                        prop_assert!(!cal.is_school_day(*lost));
                    }
                    prop_assert!(plan.sessions.windows(2).all(|w| w[0].on < w[1].on));
                    prop_assert_eq!(
                        plan.sessions.len() + plan.lost_to_closures.len(),
                        weekdays.len() * block.weeks() as usize
                    );
                }
                Err(err) => prop_assert_eq!(err.field, "starts_on"),
            }
        }

        #[test]
        fn with_no_closures_every_week_has_its_sessions(
            block in arb_block(),
            offset in 0i64..2000,
            weekdays in arb_weekdays(),
        ) {
            let cal = SchoolCalendar::weekdays_only();
            let mut starts_on = d(2025, 9, 1) + TimeDelta::days(offset);
            while !cal.is_school_day(starts_on) {
                starts_on = starts_on.succ_opt().unwrap();
            }
            let plan = plan_sessions(&request(block, starts_on, &weekdays), &cal, &policy()).unwrap();
            prop_assert_eq!(plan.sessions.len(), weekdays.len() * block.weeks() as usize);
            prop_assert!(plan.lost_to_closures.is_empty());
        }

        #[test]
        fn fidelity_never_counts_more_delivered_than_planned(
            outcomes in proptest::collection::vec(proptest::option::of(0usize..3), 0..40),
            today in 0i64..40,
        ) {
            let base = d(2025, 11, 3);
            let entries: Vec<SessionEntry> = outcomes
                .iter()
                .enumerate()
                .map(|(i, o)| entry(base + TimeDelta::days(i as i64), o.map(|k| SessionOutcome::ALL[k])))
                .collect();
            let tally = block_fidelity(entries.iter().copied(), base + TimeDelta::days(today));
            prop_assert!(tally.fidelity.delivered <= tally.fidelity.planned);
            prop_assert_eq!(
                tally.fidelity.planned + tally.upcoming,
                entries.len() as u32
            );
            prop_assert_eq!(
                tally.fidelity.delivered + tally.pupil_absent + tally.not_delivered + tally.unrecorded,
                tally.fidelity.planned
            );
        }
    }
}
