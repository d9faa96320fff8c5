//! Tests for the escalation rules.

use super::*;
use crate::domain::calendar::{Closure, ClosureKind};
use crate::domain::transition::{apply, event_for_target, events_for_target};
use chrono::TimeZone;
use proptest::prelude::*;

fn at(y: i32, m: u32, d: u32, h: u32, min: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(y, m, d, h, min, 0).unwrap()
}

/// 10:00 UTC on a date in autumn 2025.
fn oct(d: u32) -> DateTime<Utc> {
    at(2025, 10, d, 10, 0)
}

fn nov(d: u32) -> DateTime<Utc> {
    at(2025, 11, d, 10, 0)
}

fn weekdays() -> SchoolCalendar {
    SchoolCalendar::weekdays_only()
}

/// October half-term 2025: Monday 27 to Friday 31 October.
fn half_term() -> SchoolCalendar {
    SchoolCalendar::new(vec![Closure {
        starts_on: NaiveDate::from_ymd_opt(2025, 10, 27).unwrap(),
        ends_on: NaiveDate::from_ymd_opt(2025, 10, 31).unwrap(),
        kind: ClosureKind::Holiday,
        name: "October half-term".into(),
    }])
    .unwrap()
}

fn incident(id: i64, when: DateTime<Utc>, severity: Severity, response: Response) -> IncidentFact {
    IncidentFact {
        id,
        occurred_at: when,
        severity,
        response,
    }
}

fn prompt(id: i64, when: DateTime<Utc>) -> IncidentFact {
    incident(id, when, Severity::Minor, Response::Prompt)
}

fn minor(id: i64, when: DateTime<Utc>) -> IncidentFact {
    incident(id, when, Severity::Minor, Response::None)
}

fn serious(id: i64, when: DateTime<Utc>) -> IncidentFact {
    incident(id, when, Severity::Serious, Response::None)
}

fn meeting(level: Level, when: DateTime<Utc>, goals_met: Option<bool>) -> MeetingFact {
    MeetingFact {
        level,
        held_at: when,
        goals_met,
    }
}

fn decided(to: Level, when: DateTime<Utc>) -> DecidedSuggestion {
    DecidedSuggestion {
        to,
        decided_at: when,
    }
}

fn state(level: Level) -> PupilState {
    PupilState {
        level,
        programme_block: (level == Level::Programme).then_some(ProgrammeBlock::TwoWeek),
        had_plan: level >= Level::Plan,
        programme_completed_without_impact: false,
    }
}

fn history(level: Level, since: DateTime<Utc>) -> PupilHistory {
    PupilHistory {
        state: state(level),
        level_since: since,
        incidents: Vec::new(),
        meetings: Vec::new(),
        open_targets: Vec::new(),
        decided: Vec::new(),
    }
}

fn programme(block: ProgrammeBlock, since: DateTime<Utc>) -> PupilHistory {
    let mut h = history(Level::Programme, since);
    h.state.programme_block = Some(block);
    h
}

fn run_on(cal: &SchoolCalendar, h: &PupilHistory, now: DateTime<Utc>) -> Vec<Suggestion> {
    evaluate(&EscalationPolicy::default(), cal, h, now)
}

fn run(h: &PupilHistory, now: DateTime<Utc>) -> Vec<Suggestion> {
    run_on(&weekdays(), h, now)
}

fn by_rule(suggestions: &[Suggestion], rule: RuleId) -> Option<&Suggestion> {
    suggestions.iter().find(|s| s.rule == rule)
}

fn moves(suggestions: &[Suggestion]) -> Vec<(RuleId, Level)> {
    suggestions.iter().map(|s| (s.rule, s.to)).collect()
}

// ---------- Coaching Prompts to Coaching Conversation ----------

#[test]
fn prompts_fire_at_the_threshold() {
    let mut h = history(Level::Prompt, oct(1));
    h.incidents = vec![prompt(3, oct(22)), prompt(1, oct(20)), prompt(2, oct(21))];
    let out = run(&h, at(2025, 10, 22, 15, 0));
    assert_eq!(
        moves(&out),
        vec![(RuleId::PromptsToConversation, Level::Conversation)]
    );
    let s = &out[0];
    assert_eq!(s.from, Level::Prompt);
    assert_eq!(s.evidence, vec![1, 2, 3]);
    assert_eq!(
        s.reason,
        "3 Coaching Prompts in the last 5 school days (a Coaching Conversation is suggested from 3)."
    );
}

#[test]
fn prompts_below_the_threshold_do_not_fire() {
    let mut h = history(Level::Prompt, oct(1));
    h.incidents = vec![prompt(1, oct(20)), prompt(2, oct(21))];
    assert!(run(&h, oct(22)).is_empty());
}

#[test]
fn prompts_fire_from_no_level_but_not_from_conversation() {
    let mut h = history(Level::None, oct(1));
    h.incidents = vec![prompt(1, oct(20)), prompt(2, oct(21)), prompt(3, oct(22))];
    let out = run(&h, oct(22));
    assert_eq!(
        moves(&out),
        vec![(RuleId::PromptsToConversation, Level::Conversation)]
    );
    assert_eq!(out[0].from, Level::None);
    h.state = state(Level::Conversation);
    assert!(by_rule(&run(&h, oct(22)), RuleId::PromptsToConversation).is_none());
}

#[test]
fn only_prompt_responses_count_towards_a_conversation() {
    let mut h = history(Level::Prompt, oct(1));
    h.incidents = vec![
        prompt(1, oct(20)),
        prompt(2, oct(21)),
        incident(3, oct(21), Severity::Minor, Response::Conversation),
        minor(4, oct(22)),
    ];
    assert!(run(&h, oct(22)).is_empty());
}

#[test]
fn prompt_window_spans_a_weekend() {
    let mut h = history(Level::Prompt, oct(1));
    // Thursday, Friday, Monday.
    h.incidents = vec![prompt(1, oct(16)), prompt(2, oct(17)), prompt(3, oct(20))];
    // Wednesday: the last 5 school days are Thu 16 to Wed 22.
    assert_eq!(run(&h, oct(22)).len(), 1);
    // Thursday: the window now starts on Friday 17, so only 2 prompts remain.
    assert!(run(&h, oct(23)).is_empty());
}

#[test]
fn prompt_window_spans_half_term() {
    let mut h = history(Level::Prompt, oct(1));
    h.incidents = vec![prompt(1, oct(22)), prompt(2, oct(23)), prompt(3, oct(24))];
    // Monday after half-term: Nov 3, Oct 24, 23, 22, 21 are the last 5 school days.
    let out = run_on(&half_term(), &h, nov(3));
    assert_eq!(
        moves(&out),
        vec![(RuleId::PromptsToConversation, Level::Conversation)]
    );
    // Without the closure, half-term week fills the window instead.
    assert!(run_on(&weekdays(), &h, nov(3)).is_empty());
}

#[test]
fn prompt_window_uses_london_dates_in_summer_time() {
    let mut h = history(Level::Prompt, at(2025, 6, 1, 9, 0));
    // 23:30 UTC on Monday 9 June is 00:30 on Tuesday 10 June in London.
    h.incidents = vec![
        prompt(1, at(2025, 6, 9, 23, 30)),
        prompt(2, at(2025, 6, 11, 10, 0)),
        prompt(3, at(2025, 6, 12, 10, 0)),
    ];
    let now = at(2025, 6, 16, 9, 0); // window: Tue 10 to Mon 16 June
    assert_eq!(run(&h, now).len(), 1);
    // 22:30 UTC is still Monday 9 June in London: outside the window.
    h.incidents[0].occurred_at = at(2025, 6, 9, 22, 30);
    assert!(run(&h, now).is_empty());
}

#[test]
fn prompts_respect_open_and_decided_suggestions() {
    let mut h = history(Level::Prompt, oct(1));
    h.incidents = vec![prompt(1, oct(20)), prompt(2, oct(21)), prompt(3, oct(22))];
    h.open_targets = vec![Level::Conversation];
    assert!(run(&h, oct(22)).is_empty());
    h.open_targets.clear();
    // Declined after the second prompt: those two are not reused.
    h.decided = vec![decided(Level::Conversation, at(2025, 10, 21, 12, 0))];
    assert!(run(&h, oct(22)).is_empty());
    // A decision before all three leaves them usable.
    h.decided = vec![decided(Level::Conversation, oct(17))];
    assert_eq!(run(&h, oct(22)).len(), 1);
    // A decision about another target does not matter.
    h.decided = vec![decided(Level::Time, at(2025, 10, 22, 12, 0))];
    assert_eq!(run(&h, oct(22)).len(), 1);
}

#[test]
fn duplicate_incident_ids_count_once() {
    let mut h = history(Level::Prompt, oct(1));
    h.incidents = vec![prompt(1, oct(20)), prompt(1, oct(20)), prompt(2, oct(21))];
    assert!(run(&h, oct(22)).is_empty());
}

// ---------- Serious incident ----------

#[test]
fn serious_incident_suggests_time_from_low_levels() {
    for level in [Level::None, Level::Prompt, Level::Conversation] {
        let mut h = history(level, oct(1));
        h.incidents = vec![serious(7, oct(20))];
        let out = run(&h, oct(20));
        let s = by_rule(&out, RuleId::SeriousIncident).unwrap_or_else(|| panic!("{level:?}"));
        assert_eq!(s.to, Level::Time);
        assert_eq!(s.evidence, vec![7]);
        assert_eq!(
            s.reason,
            "1 serious incident since 1 October 2025; a serious incident suggests Coaching Time straight away."
        );
    }
}

#[test]
fn serious_incident_does_not_fire_at_time_or_above() {
    for level in [Level::Time, Level::Plan, Level::Programme, Level::Provision] {
        let mut h = history(level, oct(1));
        h.incidents = vec![serious(7, oct(20))];
        assert!(by_rule(&run(&h, oct(20)), RuleId::SeriousIncident).is_none());
    }
}

#[test]
fn serious_incident_before_the_level_began_is_ignored() {
    let mut h = history(Level::Prompt, oct(10));
    h.incidents = vec![serious(7, oct(9))];
    assert!(run(&h, oct(13)).is_empty());
}

#[test]
fn serious_incident_rule_can_be_switched_off() {
    let mut h = history(Level::Prompt, oct(1));
    h.incidents = vec![serious(7, oct(20))];
    let policy = EscalationPolicy {
        serious_incident_suggests_time: false,
        ..EscalationPolicy::default()
    };
    assert!(evaluate(&policy, &weekdays(), &h, oct(20)).is_empty());
}

#[test]
fn serious_incident_respects_open_and_decided_suggestions() {
    let mut h = history(Level::Prompt, oct(1));
    h.incidents = vec![serious(7, oct(20))];
    h.open_targets = vec![Level::Time];
    assert!(run(&h, oct(20)).is_empty());
    h.open_targets.clear();
    h.decided = vec![decided(Level::Time, oct(21))];
    assert!(run(&h, oct(21)).is_empty());
    h.incidents.push(serious(8, oct(22)));
    assert_eq!(run(&h, oct(22))[0].evidence, vec![8]);
}

// ---------- Incidents after Coaching Conversation ----------

#[test]
fn incidents_after_conversation_fire_at_the_threshold() {
    let mut h = history(Level::Conversation, at(2025, 10, 13, 9, 0));
    h.incidents = vec![minor(5, oct(21)), minor(4, oct(20))];
    let out = run(&h, oct(21));
    assert_eq!(
        moves(&out),
        vec![(RuleId::IncidentsAfterConversation, Level::Time)]
    );
    assert_eq!(out[0].evidence, vec![4, 5]);
    assert_eq!(
        out[0].reason,
        "2 incidents within 10 school days of moving to Coaching Conversation (Coaching Time is suggested from 2)."
    );
}

#[test]
fn incidents_after_conversation_below_threshold_or_before_it_do_not_fire() {
    let mut h = history(Level::Conversation, at(2025, 10, 13, 9, 0));
    h.incidents = vec![minor(4, oct(20))];
    assert!(run(&h, oct(21)).is_empty());
    h.incidents.push(minor(3, oct(10)));
    assert!(run(&h, oct(21)).is_empty());
}

#[test]
fn conversation_window_counts_school_days() {
    let since = at(2025, 10, 13, 9, 0);
    let mut h = history(Level::Conversation, since);
    // The 10th school day after Monday 13 October is Monday 27 October.
    h.incidents = vec![minor(1, oct(14)), minor(2, oct(27))];
    assert_eq!(run(&h, oct(27)).len(), 1);
    h.incidents = vec![minor(1, oct(14)), minor(2, oct(28))];
    assert!(run(&h, oct(28)).is_empty());
}

#[test]
fn conversation_window_skips_half_term() {
    let mut h = history(Level::Conversation, at(2025, 10, 13, 9, 0));
    // With half-term closed, the 10th school day after 13 October is Monday 3 November.
    h.incidents = vec![minor(1, oct(14)), minor(2, nov(3))];
    let out = run_on(&half_term(), &h, nov(3));
    assert_eq!(
        moves(&out),
        vec![(RuleId::IncidentsAfterConversation, Level::Time)]
    );
    assert!(run_on(&weekdays(), &h, nov(3)).is_empty());
}

#[test]
fn serious_incident_wins_over_the_count_for_the_same_target() {
    let mut h = history(Level::Conversation, at(2025, 10, 13, 9, 0));
    h.incidents = vec![minor(1, oct(14)), serious(2, oct(15))];
    let out = run(&h, oct(15));
    assert_eq!(moves(&out), vec![(RuleId::SeriousIncident, Level::Time)]);
    assert_eq!(out[0].evidence, vec![2]);
}

#[test]
fn incidents_after_conversation_respect_decided_and_open() {
    let mut h = history(Level::Conversation, at(2025, 10, 13, 9, 0));
    h.incidents = vec![minor(1, oct(14)), minor(2, oct(15))];
    h.decided = vec![decided(Level::Time, at(2025, 10, 14, 12, 0))];
    assert!(run(&h, oct(15)).is_empty());
    h.incidents.push(minor(3, oct(16)));
    assert_eq!(run(&h, oct(16))[0].evidence, vec![2, 3]);
    h.open_targets = vec![Level::Time];
    assert!(run(&h, oct(16)).is_empty());
}

// ---------- Incidents after Coaching Time ----------

#[test]
fn incidents_after_time_count_from_the_meeting() {
    let mut h = history(Level::Time, oct(1));
    h.meetings = vec![meeting(Level::Time, oct(6), None)];
    h.incidents = vec![minor(1, oct(3)), minor(2, oct(8))];
    assert!(run(&h, oct(9)).is_empty());
    h.incidents.push(minor(3, oct(9)));
    let out = run(&h, oct(9));
    assert_eq!(moves(&out), vec![(RuleId::IncidentsAfterTime, Level::Plan)]);
    assert_eq!(out[0].evidence, vec![2, 3]);
    assert_eq!(
        out[0].reason,
        "2 incidents within 15 school days of the Coaching Time meeting (a Coaching Plan is suggested from 2)."
    );
}

#[test]
fn incidents_after_time_count_from_the_move_without_a_meeting() {
    let mut h = history(Level::Time, oct(1));
    h.incidents = vec![minor(1, oct(3)), minor(2, oct(8))];
    let out = run(&h, oct(8));
    assert_eq!(moves(&out), vec![(RuleId::IncidentsAfterTime, Level::Plan)]);
    assert!(out[0]
        .reason
        .ends_with("of moving to Coaching Time (a Coaching Plan is suggested from 2)."));
}

#[test]
fn meetings_from_an_earlier_spell_are_ignored() {
    let mut h = history(Level::Time, oct(10));
    h.meetings = vec![meeting(Level::Time, oct(6), None)];
    h.incidents = vec![minor(1, oct(8)), minor(2, oct(14)), minor(3, oct(15))];
    assert_eq!(run(&h, oct(15))[0].evidence, vec![2, 3]);
}

#[test]
fn time_window_counts_school_days_and_skips_half_term() {
    let mut h = history(Level::Time, oct(1));
    h.meetings = vec![meeting(Level::Time, oct(6), None)];
    // The 15th school day after 6 October is 27 October, or 3 November over half-term.
    h.incidents = vec![minor(1, oct(8)), minor(2, oct(27))];
    assert_eq!(run_on(&weekdays(), &h, oct(27)).len(), 1);
    h.incidents = vec![minor(1, oct(8)), minor(2, nov(3))];
    assert!(run_on(&weekdays(), &h, nov(3)).is_empty());
    assert_eq!(
        moves(&run_on(&half_term(), &h, nov(3))),
        vec![(RuleId::IncidentsAfterTime, Level::Plan)]
    );
    h.incidents = vec![minor(1, oct(8)), minor(2, nov(4))];
    assert!(run_on(&half_term(), &h, nov(4)).is_empty());
}

#[test]
fn incidents_after_time_respect_decided_and_open() {
    let mut h = history(Level::Time, oct(1));
    h.incidents = vec![minor(1, oct(3)), minor(2, oct(8))];
    h.open_targets = vec![Level::Plan];
    assert!(run(&h, oct(8)).is_empty());
    h.open_targets.clear();
    h.decided = vec![decided(Level::Plan, oct(8))];
    assert!(run(&h, oct(8)).is_empty());
}

// ---------- Coaching Plan meeting ----------

#[test]
fn plan_meeting_held_suggests_programme() {
    let mut h = history(Level::Plan, oct(1));
    assert!(run(&h, oct(6)).is_empty());
    h.meetings = vec![meeting(Level::Plan, oct(6), None)];
    let out = run(&h, oct(6));
    assert_eq!(
        moves(&out),
        vec![(RuleId::PlanMeetingHeld, Level::Programme)]
    );
    assert!(out[0].evidence.is_empty());
    assert_eq!(
        out[0].reason,
        "The Coaching Plan meeting was held on 6 October 2025; the Coaching Programme planned there can start."
    );
}

#[test]
fn plan_meeting_rule_ignores_other_meetings() {
    let mut h = history(Level::Plan, oct(10));
    h.meetings = vec![
        meeting(Level::Plan, oct(6), None),
        meeting(Level::Time, oct(13), None),
    ];
    assert!(run(&h, oct(13)).is_empty());
    h.meetings.push(meeting(Level::Plan, oct(14), Some(false)));
    assert_eq!(run(&h, oct(14)).len(), 1);
    h.decided = vec![decided(Level::Programme, oct(15))];
    assert!(run(&h, oct(15)).is_empty());
    h.decided.clear();
    h.open_targets = vec![Level::Programme];
    assert!(run(&h, oct(15)).is_empty());
}

// ---------- Programme blocks ----------

#[test]
fn block_review_not_met_suggests_the_next_block() {
    let mut h = programme(ProgrammeBlock::TwoWeek, oct(1));
    h.meetings = vec![meeting(Level::Programme, oct(15), Some(false))];
    let out = run(&h, oct(15));
    assert_eq!(
        moves(&out),
        vec![(RuleId::ProgrammeBlockNotMet, Level::Programme)]
    );
    assert_eq!(out[0].from, Level::Programme);
    assert_eq!(
        out[0].reason,
        "The 2-week programme block was reviewed on 15 October 2025 and its goals were not met; a 4-week block is suggested."
    );
}

#[test]
fn accepting_the_next_block_then_reviewing_again() {
    let mut h = programme(ProgrammeBlock::TwoWeek, oct(1));
    h.meetings = vec![meeting(Level::Programme, oct(15), Some(false))];
    let event = event_for_target(&h.state, Level::Programme).unwrap();
    h.state = apply(&h.state, &event).unwrap();
    assert_eq!(h.state.programme_block, Some(ProgrammeBlock::FourWeek));
    h.decided = vec![decided(Level::Programme, oct(16))];
    assert!(run(&h, oct(16)).is_empty());
    h.meetings
        .push(meeting(Level::Programme, nov(12), Some(false)));
    let out = run(&h, nov(12));
    assert_eq!(
        moves(&out),
        vec![(RuleId::ProgrammeBlockNotMet, Level::Programme)]
    );
    assert!(out[0].reason.contains("4-week programme block"));
    assert!(out[0].reason.contains("a 6-week block is suggested"));
}

#[test]
fn reviews_already_applied_to_the_state_do_not_fire_again() {
    // The block moved on when the review was recorded: the new block is not reviewed yet.
    let mut h = programme(ProgrammeBlock::FourWeek, oct(1));
    h.meetings = vec![meeting(Level::Programme, oct(15), Some(false))];
    assert!(run(&h, oct(16)).is_empty());
}

#[test]
fn last_block_not_met_suggests_provision() {
    let mut h = programme(ProgrammeBlock::SixWeek, oct(1));
    h.meetings = vec![
        meeting(Level::Programme, oct(15), Some(false)),
        meeting(Level::Programme, nov(12), Some(false)),
    ];
    assert!(
        run(&h, nov(13)).is_empty(),
        "the 6-week block has not been reviewed yet"
    );
    h.meetings.push(meeting(
        Level::Programme,
        at(2025, 12, 19, 10, 0),
        Some(false),
    ));
    let out = run(&h, at(2025, 12, 19, 12, 0));
    assert_eq!(
        moves(&out),
        vec![(RuleId::ProgrammeExhausted, Level::Provision)]
    );
    let events = events_for_target(&h.state, Level::Provision).unwrap();
    let mut s = h.state.clone();
    for e in &events {
        s = apply(&s, e).unwrap();
    }
    assert_eq!(s.level, Level::Provision);
}

#[test]
fn programme_without_impact_suggests_provision() {
    let mut h = programme(ProgrammeBlock::SixWeek, oct(1));
    h.state.programme_completed_without_impact = true;
    let out = run(&h, oct(2));
    assert_eq!(
        moves(&out),
        vec![(RuleId::ProgrammeExhausted, Level::Provision)]
    );
    assert_eq!(
        out[0].reason,
        "The Coaching Programme has run its final 6-week block without meeting its goals; a Bespoke Provision Map is suggested."
    );
    h.open_targets = vec![Level::Provision];
    assert!(run(&h, oct(2)).is_empty());
    h.open_targets.clear();
    h.decided = vec![decided(Level::Provision, oct(2))];
    assert!(run(&h, oct(3)).is_empty());
    h.meetings = vec![meeting(Level::Programme, oct(20), Some(false))];
    assert_eq!(run(&h, oct(20)).len(), 1);
}

#[test]
fn block_review_met_suggests_stepping_down_to_plan() {
    let mut h = programme(ProgrammeBlock::TwoWeek, oct(1));
    h.meetings = vec![meeting(Level::Programme, oct(15), Some(true))];
    let out = run(&h, oct(15));
    assert_eq!(moves(&out), vec![(RuleId::GoalsMetStepDown, Level::Plan)]);
    assert_eq!(
        out[0].reason,
        "The programme block review on 15 October 2025 recorded the goals as met; stepping down to Coaching Plan is suggested."
    );
}

#[test]
fn block_review_without_outcome_suggests_nothing() {
    let mut h = programme(ProgrammeBlock::TwoWeek, oct(1));
    h.meetings = vec![meeting(Level::Programme, oct(15), None)];
    assert!(run(&h, oct(15)).is_empty());
}

#[test]
fn latest_outcome_decides() {
    let mut h = programme(ProgrammeBlock::TwoWeek, oct(1));
    h.meetings = vec![
        meeting(Level::Programme, oct(20), Some(false)),
        meeting(Level::Programme, oct(10), Some(true)),
    ];
    assert_eq!(
        moves(&run(&h, oct(20))),
        vec![(RuleId::ProgrammeBlockNotMet, Level::Programme)]
    );
}

// ---------- Quiet step down ----------

#[test]
fn quiet_days_suggest_stepping_down() {
    let mut h = history(Level::Conversation, oct(1));
    h.incidents = vec![minor(1, oct(10))];
    // The 10th school day after Friday 10 October is Friday 24 October.
    assert!(run(&h, oct(23)).is_empty());
    let out = run(&h, oct(24));
    assert_eq!(moves(&out), vec![(RuleId::QuietStepDown, Level::Prompt)]);
    assert!(out[0].evidence.is_empty());
    assert_eq!(
        out[0].reason,
        "No incidents for 10 school days at Coaching Conversation (a step down is suggested after 10); stepping down to Coaching Prompt is suggested."
    );
}

#[test]
fn quiet_days_skip_half_term() {
    let mut h = history(Level::Time, oct(1));
    h.incidents = vec![minor(1, oct(20))];
    // 21-24 October, then 3-7 and 10 November.
    assert!(run_on(&half_term(), &h, nov(7)).is_empty());
    assert_eq!(
        moves(&run_on(&half_term(), &h, nov(10))),
        vec![(RuleId::QuietStepDown, Level::Conversation)]
    );
    assert_eq!(run_on(&weekdays(), &h, nov(3)).len(), 1);
}

#[test]
fn quiet_prompt_level_suggests_closing() {
    let h = history(Level::Prompt, oct(1));
    let out = run(&h, oct(15));
    assert_eq!(moves(&out), vec![(RuleId::QuietStepDown, Level::None)]);
    assert!(out[0].reason.ends_with("closing support is suggested."));
    assert_eq!(
        event_for_target(&h.state, Level::None),
        Ok(crate::domain::Event::Close)
    );
}

#[test]
fn quiet_days_count_from_the_move_when_it_is_later() {
    let mut h = history(Level::Conversation, oct(13));
    h.incidents = vec![minor(1, oct(1))];
    assert!(run(&h, oct(24)).is_empty());
    assert_eq!(run(&h, oct(27)).len(), 1);
}

#[test]
fn declined_step_down_restarts_the_quiet_count() {
    let mut h = history(Level::Conversation, oct(1));
    h.decided = vec![decided(Level::Prompt, oct(15))];
    assert!(run(&h, oct(28)).is_empty());
    assert_eq!(run(&h, oct(29)).len(), 1);
    h.open_targets = vec![Level::Prompt];
    assert!(run(&h, oct(29)).is_empty());
}

#[test]
fn no_quiet_step_down_at_plan_or_above() {
    for level in [Level::None, Level::Plan, Level::Programme, Level::Provision] {
        let h = history(level, at(2025, 9, 1, 9, 0));
        assert!(run(&h, nov(28)).is_empty(), "{level:?}");
    }
}

// ---------- Goals met step down ----------

#[test]
fn goals_met_step_down_at_plan_and_provision() {
    let mut h = history(Level::Plan, oct(1));
    h.meetings = vec![meeting(Level::Plan, oct(6), Some(true))];
    assert_eq!(
        moves(&run(&h, oct(6))),
        vec![(RuleId::GoalsMetStepDown, Level::Time)]
    );

    let mut h = history(Level::Provision, oct(1));
    h.meetings = vec![meeting(Level::Provision, oct(6), Some(false))];
    assert!(run(&h, oct(6)).is_empty());
    h.meetings
        .push(meeting(Level::Provision, oct(20), Some(true)));
    let out = run(&h, oct(20));
    assert_eq!(
        moves(&out),
        vec![(RuleId::GoalsMetStepDown, Level::Programme)]
    );
    assert!(out[0]
        .reason
        .starts_with("The provision review meeting on 20 October 2025"));
}

#[test]
fn goals_met_step_down_respects_level_since_decided_and_open() {
    let mut h = history(Level::Provision, oct(10));
    h.meetings = vec![meeting(Level::Provision, oct(6), Some(true))];
    assert!(run(&h, oct(20)).is_empty());
    h.meetings = vec![meeting(Level::Provision, oct(20), Some(true))];
    h.decided = vec![decided(Level::Programme, oct(21))];
    assert!(run(&h, oct(21)).is_empty());
    h.decided.clear();
    h.open_targets = vec![Level::Programme];
    assert!(run(&h, oct(21)).is_empty());
}

// ---------- General ----------

#[test]
fn output_order_is_fixed() {
    let mut h = history(Level::None, oct(1));
    h.incidents = vec![
        serious(9, oct(20)),
        prompt(1, oct(20)),
        prompt(2, oct(21)),
        prompt(3, oct(22)),
    ];
    assert_eq!(
        moves(&run(&h, oct(22))),
        vec![
            (RuleId::PromptsToConversation, Level::Conversation),
            (RuleId::SeriousIncident, Level::Time),
        ]
    );
}

#[test]
fn relevant_window_is_the_longest_look_back() {
    assert_eq!(relevant_window_days(&EscalationPolicy::default()), 15);
    let p = EscalationPolicy {
        quiet_days_for_step_down: 25,
        ..EscalationPolicy::default()
    };
    assert_eq!(relevant_window_days(&p), 25);
}

#[test]
fn names_round_trip() {
    for s in [Severity::Minor, Severity::Serious] {
        assert_eq!(Severity::parse(s.as_str()), Ok(s));
    }
    for r in [Response::None, Response::Prompt, Response::Conversation] {
        assert_eq!(Response::parse(r.as_str()), Ok(r));
        assert_eq!(r.level().name(), r.as_str());
    }
    for rule in RuleId::ALL {
        assert_eq!(RuleId::parse(rule.as_str()), Ok(rule));
        assert_eq!(
            serde_json::to_value(rule).unwrap(),
            serde_json::Value::from(rule.as_str())
        );
    }
    assert_eq!(
        Severity::parse("grave").unwrap_err().to_string(),
        "unknown severity \"grave\": expected minor or serious"
    );
    assert!(Response::parse("shout").is_err());
    assert!(RuleId::parse("ProgrammeExhausted").is_err());
}

// ---------- Properties ----------

fn base() -> DateTime<Utc> {
    at(2025, 9, 1, 0, 0)
}

fn minutes(n: i64) -> DateTime<Utc> {
    base() + chrono::TimeDelta::minutes(n)
}

const SPAN: i64 = 100_000; // about 69 days of minutes

fn arb_state() -> impl Strategy<Value = PupilState> {
    (0usize..7, 0usize..3, any::<bool>()).prop_map(|(l, b, done)| {
        let level = Level::ALL[l];
        let block = ProgrammeBlock::ALL[b];
        PupilState {
            level,
            programme_block: (level == Level::Programme).then_some(block),
            had_plan: level >= Level::Plan,
            programme_completed_without_impact: level == Level::Programme
                && done
                && block.is_last(),
        }
    })
}

fn arb_incident() -> impl Strategy<Value = IncidentFact> {
    (1i64..40, 0..SPAN, any::<bool>(), 0usize..3).prop_map(|(id, t, is_serious, r)| IncidentFact {
        id,
        occurred_at: minutes(t),
        severity: if is_serious {
            Severity::Serious
        } else {
            Severity::Minor
        },
        response: [Response::None, Response::Prompt, Response::Prompt][r],
    })
}

fn arb_meeting() -> impl Strategy<Value = MeetingFact> {
    (
        prop_oneof![
            Just(Level::Time),
            Just(Level::Plan),
            Just(Level::Programme),
            Just(Level::Provision)
        ],
        0..SPAN,
        proptest::option::of(any::<bool>()),
    )
        .prop_map(|(level, t, goals_met)| MeetingFact {
            level,
            held_at: minutes(t),
            goals_met,
        })
}

fn arb_history() -> impl Strategy<Value = PupilHistory> {
    (
        arb_state(),
        0..SPAN / 2,
        proptest::collection::vec(arb_incident(), 0..16),
        proptest::collection::vec(arb_meeting(), 0..6),
        proptest::collection::vec((0usize..7).prop_map(|i| Level::ALL[i]), 0..2),
        proptest::collection::vec(
            ((0usize..7).prop_map(|i| Level::ALL[i]), 0..SPAN).prop_map(|(to, t)| {
                DecidedSuggestion {
                    to,
                    decided_at: minutes(t),
                }
            }),
            0..3,
        ),
    )
        .prop_map(
            |(state, since, incidents, meetings, open_targets, decided)| PupilHistory {
                state,
                level_since: minutes(since),
                incidents,
                meetings,
                open_targets,
                decided,
            },
        )
}

fn arb_shuffled() -> impl Strategy<Value = (PupilHistory, PupilHistory)> {
    arb_history().prop_flat_map(|h| {
        let original = h.clone();
        (
            Just(h.incidents.clone()).prop_shuffle(),
            Just(h.meetings.clone()).prop_shuffle(),
            Just(h.decided.clone()).prop_shuffle(),
            Just(h.open_targets.clone()).prop_shuffle(),
        )
            .prop_map(move |(incidents, meetings, decided, open_targets)| {
                let shuffled = PupilHistory {
                    incidents,
                    meetings,
                    decided,
                    open_targets,
                    ..original.clone()
                };
                (original.clone(), shuffled)
            })
    })
}

fn arb_policy() -> impl Strategy<Value = EscalationPolicy> {
    (1u32..4, 1u32..8, 1u32..4, 1u32..4, 1u32..12).prop_map(
        |(prompts, window, after, after_time, quiet)| EscalationPolicy {
            prompts_for_conversation: prompts,
            prompt_window_days: window,
            incidents_after_conversation: after,
            incidents_after_time: after_time,
            quiet_days_for_step_down: quiet,
            ..EscalationPolicy::default()
        },
    )
}

proptest! {
    #[test]
    fn evaluate_is_deterministic_and_order_independent(
        (h, shuffled) in arb_shuffled(),
        policy in arb_policy(),
        now in SPAN / 2..SPAN + 20_000,
    ) {
        let cal = half_term();
        let now = minutes(now);
        let first = evaluate(&policy, &cal, &h, now);
        prop_assert_eq!(&first, &evaluate(&policy, &cal, &h, now));
        prop_assert_eq!(&first, &evaluate(&policy, &cal, &shuffled, now));
    }

    #[test]
    fn suggestions_are_well_formed_and_acceptable(
        h in arb_history(),
        policy in arb_policy(),
        now in SPAN / 2..SPAN + 20_000,
    ) {
        let out = evaluate(&policy, &half_term(), &h, minutes(now));
        let ids: Vec<i64> = h.incidents.iter().map(|i| i.id).collect();
        for (n, s) in out.iter().enumerate() {
            prop_assert_eq!(s.from, h.state.level);
            prop_assert!(!h.open_targets.contains(&s.to));
            prop_assert!(out.iter().skip(n + 1).all(|t| t.to != s.to), "duplicate target");
            prop_assert!(s.evidence.windows(2).all(|w| w[0] < w[1]), "evidence not sorted");
            prop_assert!(s.evidence.iter().all(|id| ids.contains(id)));
            prop_assert!(s.reason.ends_with('.') && !s.reason.is_empty());
            let events = events_for_target(&h.state, s.to)
                .map_err(|e| TestCaseError::fail(format!("{s:?} cannot be accepted: {e}")))?;
            let mut state = h.state.clone();
            for e in &events {
                state = apply(&state, e)
                    .map_err(|err| TestCaseError::fail(format!("{s:?}: {e:?} refused: {err}")))?;
            }
            prop_assert_eq!(state.level, s.to);
            if s.rule == RuleId::ProgrammeBlockNotMet {
                prop_assert!(state.programme_block > h.state.programme_block);
            }
        }
    }
}
