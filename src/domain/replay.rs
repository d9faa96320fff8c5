//! Replaying recorded history under an escalation policy: how many suggestions the rules
//! would have made over a period, at which target levels and by which rule.
//!
//! This is what the policy page's preview compares: the same records under the current
//! policy and under a draft. Pure and deterministic: the records and the end of the period
//! are passed in, and nothing is stored.
//!
//! How one pupil is replayed:
//! - the pupil starts the period at the level of their last recorded move before it (no
//!   level when there is none);
//! - the days of the period are walked in order: every school day, and the last day of the
//!   period even when it is not one, so that nothing recorded is left out;
//! - at the end of each day (at the end of the period, on its last day) the recorded moves
//!   up to then are applied, so the replay follows what actually happened, and
//!   [`evaluate`] runs once over the incidents recorded up to then;
//! - no decision is simulated: each suggestion is left open, so a target level is counted
//!   once until the pupil's recorded level changes; a change withdraws the open suggestions,
//!   as it does for real, and the evidence behind them is not used again for the same target;
//! - what the rules would already have suggested just before the period is taken as open
//!   and not counted: it belongs to the time before.
//!
//! Only held Coaching Time meetings need to be passed in: the rules that follow other
//! meetings (a Coaching Plan held, a programme review, goals met) use no policy figure, so
//! they come out the same under any policy and are not part of a comparison.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, NaiveDate, NaiveTime, TimeDelta, TimeZone, Utc};

use crate::domain::calendar::{SchoolCalendar, SCHOOL_TZ};
use crate::domain::level::Level;
use crate::domain::policy::EscalationPolicy;
use crate::domain::rules::{
    evaluate, relevant_window_days, DecidedSuggestion, IncidentFact, MeetingFact, PupilHistory,
    RuleId,
};
use crate::domain::transition::PupilState;

/// The fewest weeks a replay looks back over.
pub const MIN_WEEKS: u32 = 1;
/// The most weeks a replay looks back over (about two terms).
pub const MAX_WEEKS: u32 = 26;
/// The weeks a replay looks back over unless asked otherwise.
pub const DEFAULT_WEEKS: u32 = 6;

/// The first instant of a date in the school's time zone.
pub fn day_start(day: NaiveDate) -> DateTime<Utc> {
    let midnight = day.and_time(NaiveTime::MIN);
    SCHOOL_TZ
        .from_local_datetime(&midnight)
        .earliest()
        .map(|local| local.with_timezone(&Utc))
        .unwrap_or_else(|| midnight.and_utc())
}

/// The last instant of a date in the school's time zone.
fn day_end(day: NaiveDate) -> DateTime<Utc> {
    let next = day.succ_opt().unwrap_or(day);
    day_start(next) - TimeDelta::microseconds(1)
}

/// The first instant of the oldest school day the rules look back to at `now`: the
/// incidents production loads before it evaluates (see `db::evaluation`).
fn look_back_start(
    policy: &EscalationPolicy,
    calendar: &SchoolCalendar,
    now: DateTime<Utc>,
) -> DateTime<Utc> {
    let today = SchoolCalendar::local_date(now);
    day_start(calendar.window_start(today, relevant_window_days(policy)))
}

/// The stretch of time replayed: whole days from `first_day` up to the instant `until`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Period {
    first_day: NaiveDate,
    until: DateTime<Utc>,
}

impl Period {
    /// The last `weeks` weeks up to `until`, today included: `weeks` is held between
    /// [`MIN_WEEKS`] and [`MAX_WEEKS`].
    pub fn last_weeks(weeks: u32, until: DateTime<Utc>) -> Period {
        let weeks = weeks.clamp(MIN_WEEKS, MAX_WEEKS);
        let today = SchoolCalendar::local_date(until);
        let first_day = today
            .checked_sub_signed(TimeDelta::days(i64::from(weeks) * 7 - 1))
            .unwrap_or(today);
        Period { first_day, until }
    }

    /// The first day of the period.
    pub fn first_day(&self) -> NaiveDate {
        self.first_day
    }

    /// The last day of the period (the date of `until`).
    pub fn last_day(&self) -> NaiveDate {
        SchoolCalendar::local_date(self.until)
    }

    /// The first instant of the period.
    pub fn starts_at(&self) -> DateTime<Utc> {
        day_start(self.first_day)
    }

    /// The end of the period.
    pub fn until(&self) -> DateTime<Utc> {
        self.until
    }

    /// The days walked, in order: the school days of the period, and its last day even when
    /// it is not a school day. At most [`MAX_WEEKS`] weeks of dates are looked at.
    pub fn days(&self, calendar: &SchoolCalendar) -> Vec<NaiveDate> {
        let last = self.last_day();
        let mut days: Vec<NaiveDate> = self
            .first_day
            .iter_days()
            .take((MAX_WEEKS * 7) as usize)
            .take_while(|day| *day <= last)
            .filter(|day| calendar.is_school_day(*day) || *day == last)
            .collect();
        days.dedup();
        days
    }

    /// How many school days the period holds.
    pub fn school_days(&self, calendar: &SchoolCalendar) -> usize {
        self.days(calendar)
            .iter()
            .filter(|day| calendar.is_school_day(**day))
            .count()
    }

    /// The instant just before the period, at which what was already suggested is noted.
    fn eve(&self) -> DateTime<Utc> {
        self.starts_at() - TimeDelta::microseconds(1)
    }

    /// The earliest instant whose incidents any of `policies` looks at during the period:
    /// load the incidents from here on.
    pub fn load_from(
        &self,
        calendar: &SchoolCalendar,
        policies: &[&EscalationPolicy],
    ) -> DateTime<Utc> {
        policies
            .iter()
            .map(|policy| look_back_start(policy, calendar, self.eve()))
            .min()
            .unwrap_or_else(|| self.starts_at())
    }
}

/// A recorded move of a pupil's level (escalation, step down, a new programme block).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct RecordedMove {
    /// When the move happened.
    pub at: DateTime<Utc>,
    /// The level moved to.
    pub to: Level,
}

/// One pupil's records for a replay.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PupilRecords {
    /// The pupil's id, to count the pupils suggestions were made for.
    pub pupil_id: i64,
    /// Incidents from [`Period::load_from`] to the end of the period, in any order.
    pub incidents: Vec<IncidentFact>,
    /// Recorded moves up to the end of the period, in any order (at least the last one
    /// before the period, which gives the starting level).
    pub moves: Vec<RecordedMove>,
    /// Held Coaching Time meetings up to the end of the period, in any order.
    pub meetings: Vec<MeetingFact>,
}

/// A suggestion the rules would have made in a replay.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Replayed {
    /// The day it would have been made.
    pub day: NaiveDate,
    /// The pupil's level then.
    pub from: Level,
    /// The level suggested.
    pub to: Level,
    /// The rule behind it.
    pub rule: RuleId,
}

/// The suggestions `policy` would have made for one pupil over `period`, in the order made.
pub fn replay_pupil(
    policy: &EscalationPolicy,
    calendar: &SchoolCalendar,
    period: &Period,
    records: &PupilRecords,
) -> Vec<Replayed> {
    let mut incidents = records.incidents.clone();
    incidents.sort_by_key(|i| (i.occurred_at, i.id));
    incidents.dedup_by_key(|i| i.id);
    let mut moves = records.moves.clone();
    moves.sort_by_key(|m| (m.at, m.to));
    let mut meetings = records.meetings.clone();
    meetings.sort_by_key(|m| (m.held_at, m.level, m.goals_met));

    let starts_at = period.starts_at();
    let earliest_incident = incidents.first().map(|i| i.occurred_at);
    let before_any =
        earliest_incident.map_or(starts_at, |at| at.min(starts_at)) - TimeDelta::seconds(1);
    let (mut level, mut since) = moves
        .iter()
        .rev()
        .find(|m| m.at < starts_at)
        .map_or((Level::None, before_any), |m| (m.to, m.at));
    let mut next_move = moves.partition_point(|m| m.at < starts_at);

    let history_at = |level: Level,
                      since: DateTime<Utc>,
                      open: &[Level],
                      decided: &[DecidedSuggestion],
                      now: DateTime<Utc>| {
        let from = look_back_start(policy, calendar, now);
        PupilHistory {
            state: PupilState {
                level,
                programme_block: None,
                had_plan: level >= Level::Plan,
                programme_completed_without_impact: false,
            },
            level_since: since,
            incidents: incidents
                .iter()
                .filter(|i| from <= i.occurred_at && i.occurred_at <= now)
                .copied()
                .collect(),
            meetings: meetings
                .iter()
                .filter(|m| m.held_at <= now)
                .copied()
                .collect(),
            open_targets: open.to_vec(),
            decided: decided.to_vec(),
        }
    };

    // What the rules would already have suggested is open as the period starts.
    let eve = period.eve();
    let mut open: Vec<Level> = evaluate(
        policy,
        calendar,
        &history_at(level, since, &[], &[], eve),
        eve,
    )
    .into_iter()
    .map(|s| s.to)
    .collect();
    let mut decided: Vec<DecidedSuggestion> = Vec::new();

    let mut made = Vec::new();
    for day in period.days(calendar) {
        let now = day_end(day).min(period.until());
        while let Some(step) = moves.get(next_move).filter(|m| m.at <= now) {
            level = step.to;
            since = step.at;
            decided.extend(open.drain(..).map(|to| DecidedSuggestion {
                to,
                decided_at: step.at,
            }));
            next_move += 1;
        }
        let history = history_at(level, since, &open, &decided, now);
        for suggestion in evaluate(policy, calendar, &history, now) {
            open.push(suggestion.to);
            made.push(Replayed {
                day,
                from: suggestion.from,
                to: suggestion.to,
                rule: suggestion.rule,
            });
        }
    }
    made
}

/// How many suggestions a replay made, by target level and rule.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Tally {
    counts: BTreeMap<(Level, RuleId), u32>,
    pupils: BTreeSet<i64>,
}

impl Tally {
    /// Counts one suggestion for a pupil.
    pub fn add(&mut self, pupil_id: i64, suggestion: &Replayed) {
        *self
            .counts
            .entry((suggestion.to, suggestion.rule))
            .or_default() += 1;
        self.pupils.insert(pupil_id);
    }

    /// Every suggestion counted.
    pub fn total(&self) -> u32 {
        self.counts.values().sum()
    }

    /// The suggestions to `level`.
    pub fn at_level(&self, level: Level) -> u32 {
        self.counts
            .iter()
            .filter(|((to, _), _)| *to == level)
            .map(|(_, n)| n)
            .sum()
    }

    /// The suggestions made by `rule`.
    pub fn by_rule(&self, rule: RuleId) -> u32 {
        self.counts
            .iter()
            .filter(|((_, by), _)| *by == rule)
            .map(|(_, n)| n)
            .sum()
    }

    /// The suggestions to `level` made by `rule`.
    pub fn count(&self, level: Level, rule: RuleId) -> u32 {
        self.counts.get(&(level, rule)).copied().unwrap_or(0)
    }

    /// How many pupils at least one suggestion was made for.
    pub fn pupils(&self) -> usize {
        self.pupils.len()
    }
}

/// Replays every pupil's records under `policy` and counts the suggestions.
pub fn replay(
    policy: &EscalationPolicy,
    calendar: &SchoolCalendar,
    period: &Period,
    pupils: &[PupilRecords],
) -> Tally {
    let mut tally = Tally::default();
    for records in pupils {
        for suggestion in replay_pupil(policy, calendar, period, records) {
            tally.add(records.pupil_id, &suggestion);
        }
    }
    tally
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::calendar::{Closure, ClosureKind};
    use crate::domain::rules::{Response, Severity};

    fn date(y: i32, m: u32, d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, d).unwrap()
    }

    /// 10:00 UTC (11:00 in London) on a date in autumn 2025.
    fn oct(d: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2025, 10, d, 10, 0, 0).unwrap()
    }

    fn nov(d: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2025, 11, d, 10, 0, 0).unwrap()
    }

    fn incident(
        id: i64,
        at: DateTime<Utc>,
        severity: Severity,
        response: Response,
    ) -> IncidentFact {
        IncidentFact {
            id,
            occurred_at: at,
            severity,
            response,
        }
    }

    fn prompt(id: i64, at: DateTime<Utc>) -> IncidentFact {
        incident(id, at, Severity::Minor, Response::Prompt)
    }

    fn minor(id: i64, at: DateTime<Utc>) -> IncidentFact {
        incident(id, at, Severity::Minor, Response::None)
    }

    fn moved(at: DateTime<Utc>, to: Level) -> RecordedMove {
        RecordedMove { at, to }
    }

    /// Prompts from the given times, the pupil placed at Coaching Prompt by the first.
    fn prompted(times: &[DateTime<Utc>]) -> PupilRecords {
        PupilRecords {
            pupil_id: 1,
            incidents: times
                .iter()
                .enumerate()
                .map(|(n, at)| prompt(n as i64 + 1, *at))
                .collect(),
            moves: times
                .first()
                .map(|at| moved(*at, Level::Prompt))
                .into_iter()
                .collect(),
            meetings: Vec::new(),
        }
    }

    fn prompts_needed(n: u32) -> EscalationPolicy {
        EscalationPolicy {
            prompts_for_conversation: n,
            ..EscalationPolicy::default()
        }
    }

    /// Four weeks up to the end of Friday 14 November 2025.
    fn autumn() -> Period {
        Period::last_weeks(4, Utc.with_ymd_and_hms(2025, 11, 14, 17, 0, 0).unwrap())
    }

    fn weekdays() -> SchoolCalendar {
        SchoolCalendar::weekdays_only()
    }

    fn targets(made: &[Replayed]) -> Vec<(NaiveDate, Level, RuleId)> {
        made.iter().map(|s| (s.day, s.to, s.rule)).collect()
    }

    #[test]
    fn the_period_is_whole_weeks_of_school_days() {
        let period = autumn();
        assert_eq!(period.first_day(), date(2025, 10, 18));
        assert_eq!(period.last_day(), date(2025, 11, 14));
        let days = period.days(&weekdays());
        assert_eq!(days.len(), 20);
        assert_eq!(period.school_days(&weekdays()), 20);
        assert_eq!(days.first(), Some(&date(2025, 10, 20)));
        assert_eq!(days.last(), Some(&date(2025, 11, 14)));
        // A period ending on a Saturday still looks at that Saturday, last.
        let saturday = Period::last_weeks(1, Utc.with_ymd_and_hms(2025, 11, 15, 12, 0, 0).unwrap());
        let days = saturday.days(&weekdays());
        assert_eq!(days.last(), Some(&date(2025, 11, 15)));
        assert_eq!(saturday.school_days(&weekdays()), 5);
        assert_eq!(days.len(), 6);
    }

    #[test]
    fn weeks_are_held_in_range() {
        let until = oct(15);
        assert_eq!(Period::last_weeks(0, until), Period::last_weeks(1, until));
        assert_eq!(
            Period::last_weeks(99, until),
            Period::last_weeks(MAX_WEEKS, until)
        );
        let longest = Period::last_weeks(MAX_WEEKS, until);
        assert_eq!(longest.school_days(&weekdays()), (MAX_WEEKS * 5) as usize);
    }

    #[test]
    fn two_prompts_suggest_a_conversation_only_when_two_are_enough() {
        let records = prompted(&[nov(3), nov(4)]);
        let period = autumn();
        assert!(replay_pupil(&prompts_needed(3), &weekdays(), &period, &records).is_empty());
        let made = replay_pupil(&prompts_needed(2), &weekdays(), &period, &records);
        assert_eq!(
            targets(&made),
            vec![(
                date(2025, 11, 4),
                Level::Conversation,
                RuleId::PromptsToConversation
            )]
        );
        assert_eq!(made[0].from, Level::Prompt);
    }

    #[test]
    fn the_prompt_window_edge_counts_in_school_days() {
        // Monday 3 to Friday 7 November is exactly five school days: three prompts count.
        let period = autumn();
        let on_the_edge = prompted(&[nov(3), nov(5), nov(7)]);
        let made = replay_pupil(&prompts_needed(3), &weekdays(), &period, &on_the_edge);
        assert_eq!(
            targets(&made),
            vec![(
                date(2025, 11, 7),
                Level::Conversation,
                RuleId::PromptsToConversation
            )]
        );
        // Friday 31 October to Friday 7 November is six school days: the first has gone.
        let one_day_over = prompted(&[oct(31), nov(5), nov(7)]);
        assert!(replay_pupil(&prompts_needed(3), &weekdays(), &period, &one_day_over).is_empty());
        // A holiday inside the window does not count against it.
        let half_term = SchoolCalendar::new(vec![Closure {
            starts_on: date(2025, 10, 27),
            ends_on: date(2025, 10, 31),
            kind: ClosureKind::Holiday,
            name: "October half-term".into(),
        }])
        .unwrap();
        let across = prompted(&[oct(23), oct(24), nov(3)]);
        let made = replay_pupil(&prompts_needed(3), &half_term, &period, &across);
        assert_eq!(
            targets(&made),
            vec![(
                date(2025, 11, 3),
                Level::Conversation,
                RuleId::PromptsToConversation
            )]
        );
        assert!(replay_pupil(&prompts_needed(3), &weekdays(), &period, &across).is_empty());
        assert_eq!(period.school_days(&half_term), 15);
    }

    #[test]
    fn an_open_target_is_counted_once_until_the_level_changes() {
        let period = autumn();
        let mut records = prompted(&[nov(3), nov(3), nov(3), nov(4), nov(5), nov(6)]);
        let made = replay_pupil(&prompts_needed(3), &weekdays(), &period, &records);
        assert_eq!(made.len(), 1, "{made:?}");
        // Moved to Coaching Conversation for real late on the 6th: the Conversation rule
        // stops, and two incidents after the move suggest Coaching Time.
        let late = Utc.with_ymd_and_hms(2025, 11, 6, 15, 0, 0).unwrap();
        records.moves.push(moved(late, Level::Conversation));
        records.incidents.push(minor(20, nov(10)));
        records.incidents.push(minor(21, nov(11)));
        let made = replay_pupil(&prompts_needed(3), &weekdays(), &period, &records);
        assert_eq!(
            targets(&made),
            vec![
                (
                    date(2025, 11, 3),
                    Level::Conversation,
                    RuleId::PromptsToConversation
                ),
                (
                    date(2025, 11, 11),
                    Level::Time,
                    RuleId::IncidentsAfterConversation
                ),
            ]
        );
        assert_eq!(made[1].from, Level::Conversation);
        // Needing three incidents after a Coaching Conversation, there is no Coaching Time.
        let patient = EscalationPolicy {
            incidents_after_conversation: 3,
            ..EscalationPolicy::default()
        };
        let made = replay_pupil(&patient, &weekdays(), &period, &records);
        assert_eq!(made.len(), 1, "{made:?}");
    }

    #[test]
    fn a_level_change_lets_the_same_target_be_counted_again() {
        let period = autumn();
        let mut records = prompted(&[oct(20), oct(21), oct(22)]);
        // Stepped down to no level, then placed at Coaching Prompt again by a new prompt.
        records.moves.push(moved(oct(23), Level::None));
        records.moves.push(moved(nov(3), Level::Prompt));
        records
            .incidents
            .extend([prompt(10, nov(3)), prompt(11, nov(4)), prompt(12, nov(5))]);
        let made = replay_pupil(&prompts_needed(3), &weekdays(), &period, &records);
        let conversations = made.iter().filter(|s| s.to == Level::Conversation).count();
        assert_eq!(conversations, 2, "{made:?}");
    }

    #[test]
    fn the_starting_level_is_the_last_move_before_the_period() {
        let period = autumn();
        // At Coaching Conversation since September: two incidents in the period are not
        // soon enough after the move to suggest Coaching Time.
        let records = PupilRecords {
            pupil_id: 7,
            incidents: vec![minor(1, nov(3)), minor(2, nov(4))],
            moves: vec![
                moved(
                    Utc.with_ymd_and_hms(2025, 9, 8, 9, 0, 0).unwrap(),
                    Level::Prompt,
                ),
                moved(
                    Utc.with_ymd_and_hms(2025, 9, 15, 9, 0, 0).unwrap(),
                    Level::Conversation,
                ),
            ],
            meetings: Vec::new(),
        };
        let made = replay_pupil(&EscalationPolicy::default(), &weekdays(), &period, &records);
        assert!(
            made.iter().all(|s| s.from == Level::Conversation),
            "{made:?}"
        );
        assert!(made.iter().all(|s| s.to != Level::Time), "{made:?}");
        // With a 60-day window they are.
        let long_window = EscalationPolicy {
            conversation_window_days: 60,
            ..EscalationPolicy::default()
        };
        let made = replay_pupil(&long_window, &weekdays(), &period, &records);
        assert!(made.iter().any(|s| s.to == Level::Time), "{made:?}");
    }

    #[test]
    fn quiet_school_days_suggest_a_step_down_once() {
        let period = autumn();
        let records = prompted(&[oct(20)]);
        let made = replay_pupil(&EscalationPolicy::default(), &weekdays(), &period, &records);
        // Ten school days after Monday 20 October is Monday 3 November.
        assert_eq!(
            targets(&made),
            vec![(date(2025, 11, 3), Level::None, RuleId::QuietStepDown)]
        );
        let sooner = EscalationPolicy {
            quiet_days_for_step_down: 5,
            ..EscalationPolicy::default()
        };
        let made = replay_pupil(&sooner, &weekdays(), &period, &records);
        assert_eq!(
            targets(&made),
            vec![(date(2025, 10, 27), Level::None, RuleId::QuietStepDown)]
        );
    }

    #[test]
    fn a_serious_incident_suggests_time_unless_the_switch_is_off() {
        let period = autumn();
        let records = PupilRecords {
            pupil_id: 3,
            incidents: vec![incident(1, nov(4), Severity::Serious, Response::None)],
            moves: Vec::new(),
            meetings: Vec::new(),
        };
        let made = replay_pupil(&EscalationPolicy::default(), &weekdays(), &period, &records);
        assert_eq!(
            targets(&made),
            vec![(date(2025, 11, 4), Level::Time, RuleId::SeriousIncident)]
        );
        assert_eq!(made[0].from, Level::None);
        let off = EscalationPolicy {
            serious_incident_suggests_time: false,
            ..EscalationPolicy::default()
        };
        assert!(replay_pupil(&off, &weekdays(), &period, &records).is_empty());
    }

    #[test]
    fn what_was_already_suggested_before_the_period_is_not_counted() {
        let period = autumn();
        // Three prompts just before the period: the suggestion was made then, not in it.
        let records = prompted(&[oct(15), oct(16), oct(17), oct(20)]);
        let made = replay_pupil(&prompts_needed(3), &weekdays(), &period, &records);
        assert!(made.iter().all(|s| s.to != Level::Conversation), "{made:?}");
        assert!(period.load_from(&weekdays(), &[&EscalationPolicy::default()]) <= oct(15));
    }

    #[test]
    fn records_after_the_end_are_ignored() {
        let period = Period::last_weeks(2, nov(4));
        let records = prompted(&[
            nov(3),
            nov(4),
            Utc.with_ymd_and_hms(2025, 11, 4, 15, 0, 0).unwrap(),
        ]);
        assert!(replay_pupil(&prompts_needed(3), &weekdays(), &period, &records).is_empty());
        assert_eq!(
            replay_pupil(&prompts_needed(2), &weekdays(), &period, &records).len(),
            1
        );
    }

    #[test]
    fn the_tally_counts_by_level_rule_and_pupil() {
        let period = autumn();
        let mut second = prompted(&[nov(10), nov(11)]);
        second.pupil_id = 2;
        let pupils = vec![prompted(&[nov(3), nov(4), nov(5)]), second];
        let current = replay(&prompts_needed(3), &weekdays(), &period, &pupils);
        let draft = replay(&prompts_needed(2), &weekdays(), &period, &pupils);
        assert_eq!(current.at_level(Level::Conversation), 1);
        assert_eq!(draft.at_level(Level::Conversation), 2);
        assert_eq!(draft.by_rule(RuleId::PromptsToConversation), 2);
        assert_eq!(
            draft.count(Level::Conversation, RuleId::PromptsToConversation),
            2
        );
        assert_eq!(draft.pupils(), 2);
        assert_eq!(current.pupils(), 1);
        assert_eq!(draft.total(), 2);
        assert_eq!(draft.at_level(Level::Time), 0);
        assert_eq!(Tally::default().total(), 0);
    }

    #[test]
    fn the_replay_does_not_depend_on_the_order_of_the_records() {
        let period = autumn();
        let mut records = prompted(&[oct(20), oct(21), oct(22), nov(3), nov(4), nov(5)]);
        records.moves.push(moved(oct(24), Level::Conversation));
        records.incidents.push(minor(30, oct(28)));
        records.incidents.push(minor(31, oct(29)));
        let forward = replay_pupil(&EscalationPolicy::default(), &weekdays(), &period, &records);
        let mut reversed = records.clone();
        reversed.incidents.reverse();
        reversed.moves.reverse();
        // A repeated incident counts once.
        reversed.incidents.push(records.incidents[0]);
        let backward = replay_pupil(
            &EscalationPolicy::default(),
            &weekdays(),
            &period,
            &reversed,
        );
        assert_eq!(forward, backward);
        assert!(!forward.is_empty());
    }
}
