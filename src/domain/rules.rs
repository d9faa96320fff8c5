//! The escalation rules: from a pupil's recent history, which moves to suggest.
//!
//! [`evaluate`] is a pure function of the policy, the calendar, the history and the time
//! it is asked at. It never moves a pupil; a pastoral lead accepts or declines what it
//! suggests (see [`crate::domain::transition::events_for_target`] for accepting).
//!
//! Conventions shared by every rule:
//! - evidence at or before `level_since` belongs to an earlier level and is not used;
//! - evidence at or before the latest decision (accepted or declined) about the same
//!   target level is not used again;
//! - a target already waiting for a decision (`open_targets`) is not suggested again;
//! - at most one suggestion per target level, in a fixed rule order;
//! - days are counted in school days of the given calendar, on London dates.

use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};

use crate::domain::calendar::SchoolCalendar;
use crate::domain::level::{Level, ProgrammeBlock};
use crate::domain::policy::EscalationPolicy;
use crate::domain::transition::PupilState;

/// A text value that does not name any of the expected options.
#[derive(thiserror::Error, Debug, Clone, PartialEq, Eq)]
#[error("unknown {kind} {got:?}: expected {expected}")]
pub struct UnknownValue {
    /// What was being read, e.g. "severity".
    pub kind: &'static str,
    /// The text given.
    pub got: String,
    /// The accepted options, for the message.
    pub expected: &'static str,
}

/// How serious an incident was.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Severity {
    /// An everyday incident.
    Minor,
    /// A serious incident, which may suggest Coaching Time straight away.
    Serious,
}

impl Severity {
    /// The stable name: "minor" or "serious".
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Minor => "minor",
            Severity::Serious => "serious",
        }
    }

    /// The severity with the given name (case and surrounding spaces ignored).
    pub fn parse(s: &str) -> Result<Severity, UnknownValue> {
        [Severity::Minor, Severity::Serious]
            .into_iter()
            .find(|v| v.as_str().eq_ignore_ascii_case(s.trim()))
            .ok_or_else(|| UnknownValue {
                kind: "severity",
                got: s.to_string(),
                expected: "minor or serious",
            })
    }
}

/// The response an adult gave to an incident.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Response {
    /// Recorded without a coaching response.
    None,
    /// A Coaching Prompt was given.
    Prompt,
    /// A Coaching Conversation was held.
    Conversation,
}

impl Response {
    /// The stable name: "none", "prompt" or "conversation".
    pub fn as_str(self) -> &'static str {
        match self {
            Response::None => "none",
            Response::Prompt => "prompt",
            Response::Conversation => "conversation",
        }
    }

    /// The response with the given name (case and surrounding spaces ignored).
    pub fn parse(s: &str) -> Result<Response, UnknownValue> {
        [Response::None, Response::Prompt, Response::Conversation]
            .into_iter()
            .find(|v| v.as_str().eq_ignore_ascii_case(s.trim()))
            .ok_or_else(|| UnknownValue {
                kind: "response",
                got: s.to_string(),
                expected: "none, prompt or conversation",
            })
    }

    /// The level whose kind of support this response is.
    pub fn level(self) -> Level {
        match self {
            Response::None => Level::None,
            Response::Prompt => Level::Prompt,
            Response::Conversation => Level::Conversation,
        }
    }
}

/// What the rules need to know about one incident.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct IncidentFact {
    /// The incident's id, quoted as evidence.
    pub id: i64,
    /// When it happened.
    pub occurred_at: DateTime<Utc>,
    /// How serious it was.
    pub severity: Severity,
    /// The response given.
    pub response: Response,
}

/// A meeting that has been held: a level 3, 4 or 6 meeting, or a level-5 block review.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct MeetingFact {
    /// The level the meeting belongs to.
    pub level: Level,
    /// When it was held.
    pub held_at: DateTime<Utc>,
    /// Whether it recorded the goals as met; `None` when no outcome was recorded.
    pub goals_met: Option<bool>,
}

/// An earlier suggestion that has been accepted or declined; evidence up to the decision
/// is not used again for the same target.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct DecidedSuggestion {
    /// The level that was suggested.
    pub to: Level,
    /// When it was accepted or declined.
    pub decided_at: DateTime<Utc>,
}

/// Everything the rules look at for one pupil.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PupilHistory {
    /// The pupil's current state.
    pub state: PupilState,
    /// When the pupil moved to the current level.
    pub level_since: DateTime<Utc>,
    /// Recent incidents, in any order (load at least [`relevant_window_days`] of them).
    pub incidents: Vec<IncidentFact>,
    /// Held meetings and block reviews, in any order.
    pub meetings: Vec<MeetingFact>,
    /// Target levels of suggestions still waiting for a decision.
    pub open_targets: Vec<Level>,
    /// Earlier decided suggestions.
    pub decided: Vec<DecidedSuggestion>,
}

/// Which rule produced a suggestion.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RuleId {
    /// Enough Coaching Prompts in the prompt window: Coaching Conversation.
    PromptsToConversation,
    /// Enough incidents soon after moving to Coaching Conversation: Coaching Time.
    IncidentsAfterConversation,
    /// A serious incident below Coaching Time: Coaching Time.
    SeriousIncident,
    /// Enough incidents soon after Coaching Time: Coaching Plan.
    IncidentsAfterTime,
    /// The Coaching Plan meeting was held: Coaching Programme.
    PlanMeetingHeld,
    /// A programme block was reviewed with goals not met: the next block.
    ProgrammeBlockNotMet,
    /// The last programme block was reviewed with goals still not met: Bespoke Provision Map.
    ProgrammeExhausted,
    /// No incidents for long enough at levels 1 to 3: one level down.
    QuietStepDown,
    /// A meeting at levels 4 to 6 recorded the goals as met: one level down.
    GoalsMetStepDown,
}

impl RuleId {
    /// Every rule, in declaration order.
    pub const ALL: [RuleId; 9] = [
        RuleId::PromptsToConversation,
        RuleId::IncidentsAfterConversation,
        RuleId::SeriousIncident,
        RuleId::IncidentsAfterTime,
        RuleId::PlanMeetingHeld,
        RuleId::ProgrammeBlockNotMet,
        RuleId::ProgrammeExhausted,
        RuleId::QuietStepDown,
        RuleId::GoalsMetStepDown,
    ];

    /// The stable snake_case name.
    pub fn as_str(self) -> &'static str {
        match self {
            RuleId::PromptsToConversation => "prompts_to_conversation",
            RuleId::IncidentsAfterConversation => "incidents_after_conversation",
            RuleId::SeriousIncident => "serious_incident",
            RuleId::IncidentsAfterTime => "incidents_after_time",
            RuleId::PlanMeetingHeld => "plan_meeting_held",
            RuleId::ProgrammeBlockNotMet => "programme_block_not_met",
            RuleId::ProgrammeExhausted => "programme_exhausted",
            RuleId::QuietStepDown => "quiet_step_down",
            RuleId::GoalsMetStepDown => "goals_met_step_down",
        }
    }

    /// The rule with the given snake_case name.
    pub fn parse(s: &str) -> Result<RuleId, UnknownValue> {
        RuleId::ALL
            .into_iter()
            .find(|r| r.as_str() == s.trim())
            .ok_or_else(|| UnknownValue {
                kind: "rule",
                got: s.to_string(),
                expected: "a rule name such as prompts_to_conversation",
            })
    }
}

/// A suggested move for a pastoral lead to accept or decline.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Suggestion {
    /// The pupil's level when the suggestion was made.
    pub from: Level,
    /// The suggested level (equal to `from` for "next programme block").
    pub to: Level,
    /// The rule behind it.
    pub rule: RuleId,
    /// A plain-English sentence with the figures.
    pub reason: String,
    /// Ids of the incidents behind it, ascending (empty for meeting-based rules).
    pub evidence: Vec<i64>,
}

/// The longest look-back, in school days, that any incident rule needs: load at least this
/// many school days of incidents (and those since the current level began) before evaluating.
pub fn relevant_window_days(policy: &EscalationPolicy) -> u32 {
    [
        policy.prompt_window_days,
        policy.conversation_window_days,
        policy.time_window_days,
        policy.quiet_days_for_step_down,
    ]
    .into_iter()
    .max()
    .unwrap_or(0)
}

/// "1 incident" / "3 incidents".
fn count_of(n: usize, one: &str, many: &str) -> String {
    if n == 1 {
        format!("1 {one}")
    } else {
        format!("{n} {many}")
    }
}

/// A date written out for a reason, e.g. "3 November 2025".
fn long_date(d: NaiveDate) -> String {
    d.format("%-d %B %Y").to_string()
}

/// The working data for one evaluation.
struct Ctx<'a> {
    policy: &'a EscalationPolicy,
    calendar: &'a SchoolCalendar,
    history: &'a PupilHistory,
    /// Incidents, one per id, by time then id.
    incidents: Vec<IncidentFact>,
    /// Meetings held after `level_since`, by time.
    meetings: Vec<MeetingFact>,
    today: NaiveDate,
    level: Level,
}

impl<'a> Ctx<'a> {
    fn new(
        policy: &'a EscalationPolicy,
        calendar: &'a SchoolCalendar,
        history: &'a PupilHistory,
        now: DateTime<Utc>,
    ) -> Self {
        let mut incidents = history.incidents.clone();
        incidents.sort_by_key(|i| (i.id, i.occurred_at, i.severity, i.response));
        incidents.dedup_by_key(|i| i.id);
        incidents.sort_by_key(|i| (i.occurred_at, i.id));
        let mut meetings: Vec<MeetingFact> = history
            .meetings
            .iter()
            .copied()
            .filter(|m| m.held_at > history.level_since)
            .collect();
        meetings.sort_by_key(|m| (m.held_at, m.level, m.goals_met));
        Ctx {
            policy,
            calendar,
            history,
            incidents,
            meetings,
            today: SchoolCalendar::local_date(now),
            level: history.state.level,
        }
    }

    /// When a suggestion for `to` was last decided.
    fn last_decision(&self, to: Level) -> Option<DateTime<Utc>> {
        self.history
            .decided
            .iter()
            .filter(|d| d.to == to)
            .map(|d| d.decided_at)
            .max()
    }

    /// Whether evidence at `at` may still be used for a suggestion of `to`.
    fn fresh(&self, at: DateTime<Utc>, to: Level) -> bool {
        self.last_decision(to).is_none_or(|decided| at > decided)
    }

    /// Incidents after `anchor` on dates no more than `days` school days after it, fresh for `to`.
    fn incidents_within(&self, anchor: DateTime<Utc>, days: u32, to: Level) -> Vec<i64> {
        let anchor_date = SchoolCalendar::local_date(anchor);
        self.incidents
            .iter()
            .filter(|i| i.occurred_at > anchor && self.fresh(i.occurred_at, to))
            .filter(|i| {
                let day = SchoolCalendar::local_date(i.occurred_at);
                self.calendar.school_days_between(anchor_date, day) <= days
            })
            .map(|i| i.id)
            .collect()
    }

    /// The latest held meeting at `level` (after `level_since`) with a recorded outcome.
    fn latest_outcome(&self, level: Level) -> Option<MeetingFact> {
        self.meetings
            .iter()
            .rev()
            .find(|m| m.level == level && m.goals_met.is_some())
            .copied()
    }

    fn suggest(
        &self,
        to: Level,
        rule: RuleId,
        reason: String,
        mut evidence: Vec<i64>,
    ) -> Suggestion {
        evidence.sort_unstable();
        evidence.dedup();
        Suggestion {
            from: self.level,
            to,
            rule,
            reason,
            evidence,
        }
    }

    fn prompts_to_conversation(&self) -> Option<Suggestion> {
        if !matches!(self.level, Level::None | Level::Prompt) {
            return None;
        }
        let window = self.policy.prompt_window_days;
        let threshold = self.policy.prompts_for_conversation;
        if window == 0 {
            return None;
        }
        let start = self.calendar.window_start(self.today, window);
        let evidence: Vec<i64> = self
            .incidents
            .iter()
            .filter(|i| i.response == Response::Prompt)
            .filter(|i| {
                let day = SchoolCalendar::local_date(i.occurred_at);
                start <= day && day <= self.today
            })
            .filter(|i| self.fresh(i.occurred_at, Level::Conversation))
            .map(|i| i.id)
            .collect();
        if evidence.is_empty() || evidence.len() < threshold as usize {
            return None;
        }
        let reason = format!(
            "{} in the last {} (a Coaching Conversation is suggested from {}).",
            count_of(evidence.len(), "Coaching Prompt", "Coaching Prompts"),
            count_of(window as usize, "school day", "school days"),
            threshold,
        );
        Some(self.suggest(
            Level::Conversation,
            RuleId::PromptsToConversation,
            reason,
            evidence,
        ))
    }

    fn serious_incident(&self) -> Option<Suggestion> {
        if self.level >= Level::Time || !self.policy.serious_incident_suggests_time {
            return None;
        }
        let since = self.history.level_since;
        let evidence: Vec<i64> = self
            .incidents
            .iter()
            // From the moment the level began: the incident that started a pupil at Coaching
            // Prompt counts when it was serious.
            .filter(|i| i.severity == Severity::Serious && i.occurred_at >= since)
            .filter(|i| self.fresh(i.occurred_at, Level::Time))
            .map(|i| i.id)
            .collect();
        if evidence.is_empty() {
            return None;
        }
        let reason = format!(
            "{} since {}; a serious incident suggests Coaching Time straight away.",
            count_of(evidence.len(), "serious incident", "serious incidents"),
            long_date(SchoolCalendar::local_date(since)),
        );
        Some(self.suggest(Level::Time, RuleId::SeriousIncident, reason, evidence))
    }

    fn incidents_after_conversation(&self) -> Option<Suggestion> {
        if self.level != Level::Conversation {
            return None;
        }
        let window = self.policy.conversation_window_days;
        let threshold = self.policy.incidents_after_conversation;
        let evidence = self.incidents_within(self.history.level_since, window, Level::Time);
        if evidence.is_empty() || evidence.len() < threshold as usize {
            return None;
        }
        let reason = format!(
            "{} within {} of moving to Coaching Conversation (Coaching Time is suggested from {}).",
            count_of(evidence.len(), "incident", "incidents"),
            count_of(window as usize, "school day", "school days"),
            threshold,
        );
        Some(self.suggest(
            Level::Time,
            RuleId::IncidentsAfterConversation,
            reason,
            evidence,
        ))
    }

    fn incidents_after_time(&self) -> Option<Suggestion> {
        if self.level != Level::Time {
            return None;
        }
        let window = self.policy.time_window_days;
        let threshold = self.policy.incidents_after_time;
        let meeting = self.meetings.iter().rev().find(|m| m.level == Level::Time);
        let (anchor, what) = match meeting {
            Some(m) => (m.held_at, "the Coaching Time meeting"),
            None => (self.history.level_since, "moving to Coaching Time"),
        };
        let evidence = self.incidents_within(anchor, window, Level::Plan);
        if evidence.is_empty() || evidence.len() < threshold as usize {
            return None;
        }
        let reason = format!(
            "{} within {} of {what} (a Coaching Plan is suggested from {}).",
            count_of(evidence.len(), "incident", "incidents"),
            count_of(window as usize, "school day", "school days"),
            threshold,
        );
        Some(self.suggest(Level::Plan, RuleId::IncidentsAfterTime, reason, evidence))
    }

    fn plan_meeting_held(&self) -> Option<Suggestion> {
        if self.level != Level::Plan {
            return None;
        }
        let meeting = self
            .meetings
            .iter()
            .rev()
            .find(|m| m.level == Level::Plan)?;
        if meeting.goals_met == Some(true) || !self.fresh(meeting.held_at, Level::Programme) {
            return None;
        }
        let reason = format!(
            "The Coaching Plan meeting was held on {}; the Coaching Programme planned there can start.",
            long_date(SchoolCalendar::local_date(meeting.held_at)),
        );
        Some(self.suggest(
            Level::Programme,
            RuleId::PlanMeetingHeld,
            reason,
            Vec::new(),
        ))
    }

    fn programme_reviews(&self) -> Option<Suggestion> {
        if self.level != Level::Programme {
            return None;
        }
        let state = &self.history.state;
        if state.programme_completed_without_impact {
            let last_not_met = self
                .meetings
                .iter()
                .rev()
                .find(|m| m.level == Level::Programme && m.goals_met == Some(false));
            let evidence_at = last_not_met.map_or(self.history.level_since, |m| m.held_at);
            if !self.fresh(evidence_at, Level::Provision) {
                return None;
            }
            let reason = "The Coaching Programme has run its final 6-week block without meeting its goals; a Bespoke Provision Map is suggested.".to_string();
            return Some(self.suggest(
                Level::Provision,
                RuleId::ProgrammeExhausted,
                reason,
                Vec::new(),
            ));
        }
        // The k-th review held at this level reviews the k-th block, so the current block
        // has been reviewed once there are more reviews than blocks before it.
        let block = state.current_block().unwrap_or(ProgrammeBlock::TwoWeek);
        let blocks_before = ProgrammeBlock::ALL
            .iter()
            .position(|b| *b == block)
            .unwrap_or(0);
        let reviews = self
            .meetings
            .iter()
            .filter(|m| m.level == Level::Programme)
            .count();
        if reviews <= blocks_before {
            return None;
        }
        let review = self.latest_outcome(Level::Programme)?;
        if review.goals_met != Some(false) {
            return None;
        }
        let on = long_date(SchoolCalendar::local_date(review.held_at));
        match block.next() {
            Some(next) => {
                if !self.fresh(review.held_at, Level::Programme) {
                    return None;
                }
                let reason = format!(
                    "The {}-week programme block was reviewed on {on} and its goals were not met; a {}-week block is suggested.",
                    block.weeks(),
                    next.weeks(),
                );
                Some(self.suggest(
                    Level::Programme,
                    RuleId::ProgrammeBlockNotMet,
                    reason,
                    Vec::new(),
                ))
            }
            None => {
                if !self.fresh(review.held_at, Level::Provision) {
                    return None;
                }
                let reason = format!(
                    "The final {}-week programme block was reviewed on {on} and its goals were still not met; a Bespoke Provision Map is suggested.",
                    block.weeks(),
                );
                Some(self.suggest(
                    Level::Provision,
                    RuleId::ProgrammeExhausted,
                    reason,
                    Vec::new(),
                ))
            }
        }
    }

    fn quiet_step_down(&self) -> Option<Suggestion> {
        if !matches!(
            self.level,
            Level::Prompt | Level::Conversation | Level::Time
        ) {
            return None;
        }
        let to = self.level.previous()?;
        let quiet = self.policy.quiet_days_for_step_down;
        let mut anchor = self.history.level_since;
        if let Some(last) = self.incidents.last() {
            anchor = anchor.max(last.occurred_at);
        }
        if let Some(decided) = self.last_decision(to) {
            anchor = anchor.max(decided);
        }
        let days = self
            .calendar
            .school_days_between(SchoolCalendar::local_date(anchor), self.today);
        if days < quiet {
            return None;
        }
        let outcome = if to == Level::None {
            "closing support is suggested".to_string()
        } else {
            format!("stepping down to {} is suggested", to.title())
        };
        let reason = format!(
            "No incidents for {} at {} (a step down is suggested after {}); {outcome}.",
            count_of(days as usize, "school day", "school days"),
            self.level.title(),
            quiet,
        );
        Some(self.suggest(to, RuleId::QuietStepDown, reason, Vec::new()))
    }

    fn goals_met_step_down(&self) -> Option<Suggestion> {
        if !matches!(
            self.level,
            Level::Plan | Level::Programme | Level::Provision
        ) {
            return None;
        }
        let to = self.level.previous()?;
        let meeting = self.latest_outcome(self.level)?;
        if meeting.goals_met != Some(true) || !self.fresh(meeting.held_at, to) {
            return None;
        }
        let what = match self.level {
            Level::Programme => "programme block review",
            Level::Plan => "Coaching Plan meeting",
            _ => "provision review meeting",
        };
        let reason = format!(
            "The {what} on {} recorded the goals as met; stepping down to {} is suggested.",
            long_date(SchoolCalendar::local_date(meeting.held_at)),
            to.title(),
        );
        Some(self.suggest(to, RuleId::GoalsMetStepDown, reason, Vec::new()))
    }
}

/// The moves the rules suggest for one pupil at `now`, in a fixed order: upward rules
/// first (a serious incident ahead of an incident count), then step-downs.
///
/// Deterministic and independent of the order of the history's lists. Targets already in
/// `open_targets` are left out, and each target level appears at most once.
pub fn evaluate(
    policy: &EscalationPolicy,
    calendar: &SchoolCalendar,
    history: &PupilHistory,
    now: DateTime<Utc>,
) -> Vec<Suggestion> {
    let ctx = Ctx::new(policy, calendar, history, now);
    let candidates = [
        ctx.prompts_to_conversation(),
        ctx.serious_incident(),
        ctx.incidents_after_conversation(),
        ctx.incidents_after_time(),
        ctx.plan_meeting_held(),
        ctx.programme_reviews(),
        ctx.quiet_step_down(),
        ctx.goals_met_step_down(),
    ];
    let mut out: Vec<Suggestion> = Vec::new();
    for suggestion in candidates.into_iter().flatten() {
        let open = history.open_targets.contains(&suggestion.to);
        let duplicate = out.iter().any(|s| s.to == suggestion.to);
        if !open && !duplicate {
            out.push(suggestion);
        }
    }
    out
}

/// The moments at which the rules judge a pupil after an incident that happened at
/// `happened_at` is recorded at `now`: the end of each school day from the day it happened
/// up to yesterday, then `now`. An incident logged days late is judged as it would have been
/// on time, because each window is counted back from the moment judged. For an incident of
/// today, just `now`; at most [`MAX_LATE_JUDGEMENTS`] earlier moments.
pub fn judgement_times(
    calendar: &SchoolCalendar,
    happened_at: DateTime<Utc>,
    now: DateTime<Utc>,
) -> Vec<DateTime<Utc>> {
    let today = SchoolCalendar::local_date(now);
    let mut day = SchoolCalendar::local_date(happened_at.min(now));
    let mut times = Vec::new();
    while day < today && times.len() < MAX_LATE_JUDGEMENTS {
        if calendar.is_school_day(day) {
            times.push(
                crate::domain::replay::day_start(day + chrono::TimeDelta::days(1))
                    - chrono::TimeDelta::microseconds(1),
            );
        }
        day += chrono::TimeDelta::days(1);
    }
    times.push(now);
    times
}

/// The most earlier moments [`judgement_times`] answers (incidents are backdated a few weeks
/// at most).
pub const MAX_LATE_JUDGEMENTS: usize = 60;

#[cfg(test)]
mod tests;
