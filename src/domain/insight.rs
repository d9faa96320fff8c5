//! Insight: the arithmetic behind the reports. Incidents grouped by what, where and when;
//! rates per 100 pupils per school day; the school's pupils across the ladder and how they
//! move week by week; and the impact of each step of the sequence, measured as incidents per
//! school day in the N school days before a pupil entered a level against the N after.
//!
//! Pure: facts and the school calendar come in, figures go out. Counting is in school days,
//! so a holiday inside a window neither dilutes nor inflates a rate.

use std::collections::BTreeMap;

use chrono::{DateTime, Datelike, NaiveDate, Utc};
use serde::Serialize;

use crate::domain::calendar::SchoolCalendar;
use crate::domain::level::Level;
use crate::domain::timetable::Timetable;

// ---------------------------------------------------------------------------------------------
// Grouping incidents
// ---------------------------------------------------------------------------------------------

/// What incidents are grouped by in a pattern report.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Dimension {
    Behaviour,
    Location,
    Period,
    Weekday,
    Pupil,
    Staff,
    Subject,
}

impl Dimension {
    /// Every dimension, in the order reports show them.
    pub const ALL: [Dimension; 7] = [
        Dimension::Period,
        Dimension::Location,
        Dimension::Behaviour,
        Dimension::Weekday,
        Dimension::Subject,
        Dimension::Pupil,
        Dimension::Staff,
    ];

    /// The stable name used in links and CSV.
    pub fn as_str(self) -> &'static str {
        match self {
            Dimension::Behaviour => "behaviour",
            Dimension::Location => "location",
            Dimension::Period => "period",
            Dimension::Weekday => "weekday",
            Dimension::Pupil => "pupil",
            Dimension::Staff => "staff",
            Dimension::Subject => "subject",
        }
    }

    /// A heading: "By lesson period".
    pub fn title(self) -> &'static str {
        match self {
            Dimension::Behaviour => "By behaviour",
            Dimension::Location => "By place",
            Dimension::Period => "By lesson period",
            Dimension::Weekday => "By day of the week",
            Dimension::Pupil => "By pupil",
            Dimension::Staff => "By member of staff logging",
            Dimension::Subject => "By subject",
        }
    }

    /// The dimension with this name.
    pub fn parse(raw: &str) -> Option<Dimension> {
        Dimension::ALL
            .into_iter()
            .find(|d| d.as_str() == raw.trim())
    }

    /// Whether its groups have a natural order (the day's periods, the week's days) rather
    /// than most incidents first.
    fn ordered_by_time(self) -> bool {
        matches!(self, Dimension::Period | Dimension::Weekday)
    }
}

/// The id that counts of erased records carry in place of their incident's and pupil's (ids
/// start at 1): the retention schedule erased the records, the reports still count them.
pub const ERASED: i64 = 0;

/// What the pupil group of erased records is called.
pub const ERASED_PUPILS: &str = "Pupils whose records were erased under the retention schedule";

/// The group key of an unrecorded place or subject.
pub const NOT_RECORDED: &str = "Not recorded";

/// One incident as the reports see it: for one pupil (an incident with three pupils is three
/// facts, so counts per pupil add up).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IncidentFact {
    pub incident_id: i64,
    pub pupil_id: i64,
    pub at: DateTime<Utc>,
    pub behaviour: String,
    pub location: Option<String>,
    /// The lesson (subject) it happened in, if any.
    pub lesson: Option<String>,
    pub staff_id: i64,
}

/// The day names, Monday first.
pub const WEEKDAY_NAMES: [&str; 7] = [
    "Monday",
    "Tuesday",
    "Wednesday",
    "Thursday",
    "Friday",
    "Saturday",
    "Sunday",
];

/// The group an incident falls in. Lesson periods are the school's own (`timetable`); pupils
/// and staff are grouped by id (the caller turns ids into names); free text is trimmed, and
/// blank is [`NOT_RECORDED`].
pub fn group_of(fact: &IncidentFact, dimension: Dimension, timetable: &Timetable) -> String {
    let text = |value: &Option<String>| {
        value
            .as_deref()
            .map(str::trim)
            .filter(|v| !v.is_empty())
            .unwrap_or(NOT_RECORDED)
            .to_string()
    };
    match dimension {
        Dimension::Behaviour => fact.behaviour.clone(),
        Dimension::Location => text(&fact.location),
        Dimension::Subject => text(&fact.lesson),
        Dimension::Period => timetable.label_at(fact.at).to_string(),
        Dimension::Weekday => {
            let day = SchoolCalendar::local_date(fact.at).weekday();
            WEEKDAY_NAMES[day.num_days_from_monday() as usize].to_string()
        }
        Dimension::Pupil => fact.pupil_id.to_string(),
        Dimension::Staff => fact.staff_id.to_string(),
    }
}

/// One group of a pattern report and how many incidents fall in it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Group {
    pub key: String,
    pub incidents: u32,
}

/// Counts incidents per group. Periods (the school's own, from `timetable`) and weekdays
/// come in the day's and the week's order (every school weekday and every period with
/// incidents shown); everything else most incidents first, ties by name.
pub fn tally(facts: &[IncidentFact], dimension: Dimension, timetable: &Timetable) -> Vec<Group> {
    let mut counts: BTreeMap<String, u32> = BTreeMap::new();
    for fact in facts {
        *counts
            .entry(group_of(fact, dimension, timetable))
            .or_default() += 1;
    }
    groups_of(counts, dimension, timetable)
}

/// The groups of a dimension from incidents counted per group (by [`tally`], or read
/// pre-counted), in the order [`tally`] gives them.
pub fn groups_of(
    mut counts: BTreeMap<String, u32>,
    dimension: Dimension,
    timetable: &Timetable,
) -> Vec<Group> {
    if dimension == Dimension::Weekday {
        for day in &WEEKDAY_NAMES[..5] {
            counts.entry((*day).to_string()).or_default();
        }
    }
    let mut groups: Vec<Group> = counts
        .into_iter()
        .map(|(key, incidents)| Group { key, incidents })
        .collect();
    if dimension.ordered_by_time() {
        let position = |key: &str| match dimension {
            Dimension::Period => timetable.position(key),
            _ => WEEKDAY_NAMES
                .iter()
                .position(|name| *name == key)
                .unwrap_or(usize::MAX),
        };
        groups.sort_by_key(|g| position(&g.key));
    } else {
        groups.sort_by(|a, b| b.incidents.cmp(&a.incidents).then(a.key.cmp(&b.key)));
    }
    groups
}

/// Incidents per 100 pupils per school day: `incidents × 100 / (pupils × school days)`.
/// `None` when there are no pupils or no school days to divide by.
pub fn rate_per_100(incidents: u64, pupils: u64, school_days: u32) -> Option<f64> {
    let exposure = pupils.checked_mul(u64::from(school_days))?;
    (exposure > 0).then(|| incidents as f64 * 100.0 / exposure as f64)
}

/// School days from `from` to `to`, both included.
pub fn school_days_in(calendar: &SchoolCalendar, from: NaiveDate, to: NaiveDate) -> u32 {
    match from.pred_opt() {
        Some(day_before) => calendar.school_days_between(day_before, to),
        None => 0,
    }
}

/// The Monday of the week `day` falls in: where reports start a week.
pub fn week_start(day: NaiveDate) -> NaiveDate {
    day - chrono::Days::new(u64::from(day.weekday().num_days_from_monday()))
}

/// School days in the week starting on Monday `week`, counting only days from `from` to `to`:
/// none in a week of school holiday.
pub fn school_days_in_week(
    calendar: &SchoolCalendar,
    week: NaiveDate,
    from: NaiveDate,
    to: NaiveDate,
) -> u32 {
    let last = (week + chrono::Days::new(6)).min(to);
    school_days_in(calendar, week.max(from), last)
}

/// Incidents per week (weeks starting on Monday) from `from` to `to`, every week present,
/// from per-day counts: the trend line of a pupil or a group.
pub fn weekly(days: &[(NaiveDate, u32)], from: NaiveDate, to: NaiveDate) -> Vec<(NaiveDate, u32)> {
    let mut weeks: BTreeMap<NaiveDate, u32> = BTreeMap::new();
    let mut week = week_start(from);
    while week <= to {
        weeks.insert(week, 0);
        week = week + chrono::Days::new(7);
    }
    for (day, count) in days {
        if (from..=to).contains(day) {
            *weeks.entry(week_start(*day)).or_default() += count;
        }
    }
    weeks.into_iter().collect()
}

// ---------------------------------------------------------------------------------------------
// The ladder at a glance
// ---------------------------------------------------------------------------------------------

/// The three tiers of support the sequence's levels fall into, with the share of pupils each
/// usually holds in a school where the sequence works (80/15/5).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Tier {
    /// No level, Coaching Prompt and Coaching Conversation: what every adult does.
    Universal,
    /// Coaching Time and Coaching Plan: planned, targeted support.
    Targeted,
    /// Coaching Programme and Bespoke Provision Map: specialist support.
    Specialist,
}

impl Tier {
    /// The tiers, broadest first.
    pub const ALL: [Tier; 3] = [Tier::Universal, Tier::Targeted, Tier::Specialist];

    /// The tier a level belongs to.
    pub fn of(level: Level) -> Tier {
        match level {
            Level::None | Level::Prompt | Level::Conversation => Tier::Universal,
            Level::Time | Level::Plan => Tier::Targeted,
            Level::Programme | Level::Provision => Tier::Specialist,
        }
    }

    /// The usual share of pupils, in percent.
    pub fn usual_percent(self) -> u32 {
        match self {
            Tier::Universal => 80,
            Tier::Targeted => 15,
            Tier::Specialist => 5,
        }
    }

    /// The display title.
    pub fn title(self) -> &'static str {
        match self {
            Tier::Universal => "Universal (no level, levels 1-2)",
            Tier::Targeted => "Targeted (levels 3-4)",
            Tier::Specialist => "Specialist (levels 5-6)",
        }
    }
}

/// A week's movement on the ladder.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
pub struct WeekFlow {
    /// The Monday the week starts.
    pub week: Option<NaiveDate>,
    /// Moves up a level (or more, by a jump or an override).
    pub escalations: u32,
    /// Moves down to a lower level that is not none.
    pub step_downs: u32,
    /// Moves down to no level: support closed.
    pub closures: u32,
    /// School days in the week (within the range asked for).
    pub school_days: u32,
}

impl WeekFlow {
    /// Whether the week is a school holiday with nothing to count: no school day and no
    /// move. A report draws it as a gap, not as a week of none.
    pub fn is_holiday(&self) -> bool {
        self.school_days == 0 && self.escalations + self.step_downs + self.closures == 0
    }
}

/// Counts level changes per week (Mondays) from `from` to `to`, every week present, each
/// with its school days in the `calendar` (so that holidays show as holidays). Each change
/// is the date it happened and the levels it moved between.
pub fn weekly_flow(
    changes: &[(NaiveDate, Level, Level)],
    from: NaiveDate,
    to: NaiveDate,
    calendar: &SchoolCalendar,
) -> Vec<WeekFlow> {
    let weeks = weekly(&[], from, to);
    let mut flows: BTreeMap<NaiveDate, WeekFlow> = weeks
        .into_iter()
        .map(|(week, _)| {
            (
                week,
                WeekFlow {
                    week: Some(week),
                    school_days: school_days_in_week(calendar, week, from, to),
                    ..WeekFlow::default()
                },
            )
        })
        .collect();
    for (day, before, after) in changes {
        if !(from..=to).contains(day) {
            continue;
        }
        let monday = week_start(*day);
        let flow = flows.entry(monday).or_insert(WeekFlow {
            week: Some(monday),
            ..WeekFlow::default()
        });
        if after > before {
            flow.escalations += 1;
        } else if *after == Level::None && *before != Level::None {
            flow.closures += 1;
        } else if after < before {
            flow.step_downs += 1;
        }
    }
    flows.into_values().collect()
}

// ---------------------------------------------------------------------------------------------
// The impact of each step
// ---------------------------------------------------------------------------------------------

/// The school days compared around a pupil's entry to a level.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct ImpactWindows {
    /// First and last date of the `n` school days before the entry day.
    pub before: (NaiveDate, NaiveDate),
    /// First and last date of the `n` school days after the entry day.
    pub after: (NaiveDate, NaiveDate),
    /// School days in each window (`n`, fewer only at the calendar's edge).
    pub school_days: u32,
}

/// The windows around entering a level on `entered_on`: the `n` school days before it and
/// the `n` school days after it, the entry day itself in neither (the incidents that led to
/// the step usually fall on it). Holidays are skipped, so each window holds `n` school days.
pub fn impact_windows(calendar: &SchoolCalendar, entered_on: NaiveDate, n: u32) -> ImpactWindows {
    let before_first = calendar.sub_school_days(entered_on, n);
    let before_last = entered_on.pred_opt().unwrap_or(entered_on);
    let after_first = entered_on.succ_opt().unwrap_or(entered_on);
    let after_last = calendar.add_school_days(entered_on, n);
    ImpactWindows {
        before: (before_first, before_last),
        after: (after_first, after_last),
        school_days: n
            .min(school_days_in(calendar, before_first, before_last))
            .min(school_days_in(calendar, after_first, after_last)),
    }
}

/// One pupil's entry to a level, with incidents counted in each window.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct StepImpact {
    pub pupil_id: i64,
    pub level: Level,
    pub entered_on: NaiveDate,
    pub windows: ImpactWindows,
    pub before: u32,
    pub after: u32,
}

impl StepImpact {
    /// Whether the after window has ended by `today`, so the step can be judged.
    pub fn is_complete(&self, today: NaiveDate) -> bool {
        self.windows.after.1 < today && self.windows.school_days > 0
    }

    /// Fewer incidents after than before.
    pub fn helped(&self) -> bool {
        self.after < self.before
    }
}

/// The impact of many entries to a level (or of one group of them), with the number of
/// pupils behind the figures.
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize)]
pub struct ImpactSummary {
    /// Entries judged (complete windows only).
    pub pupils: u32,
    /// Incidents in all the before windows.
    pub before: u64,
    /// Incidents in all the after windows.
    pub after: u64,
    /// School days in all the windows on each side.
    pub school_days: u64,
    /// Entries with fewer incidents after than before.
    pub helped: u32,
    /// Entries with more incidents after than before.
    pub worsened: u32,
}

impl ImpactSummary {
    /// Adds one judged entry.
    pub fn add(&mut self, step: &StepImpact) {
        self.pupils += 1;
        self.before += u64::from(step.before);
        self.after += u64::from(step.after);
        self.school_days += u64::from(step.windows.school_days);
        if step.after < step.before {
            self.helped += 1;
        } else if step.after > step.before {
            self.worsened += 1;
        }
    }

    /// Incidents per pupil per school day before the step.
    pub fn rate_before(&self) -> Option<f64> {
        (self.school_days > 0).then(|| self.before as f64 / self.school_days as f64)
    }

    /// Incidents per pupil per school day after the step.
    pub fn rate_after(&self) -> Option<f64> {
        (self.school_days > 0).then(|| self.after as f64 / self.school_days as f64)
    }

    /// The change from before to after, in percent (negative is fewer incidents); `None`
    /// when there was nothing before to compare with.
    pub fn change_percent(&self) -> Option<f64> {
        (self.before > 0)
            .then(|| (self.after as f64 - self.before as f64) * 100.0 / self.before as f64)
    }

    /// Whether the sample is too small to read much into (fewer than 5 pupils).
    pub fn is_small(&self) -> bool {
        self.pupils < SMALL_SAMPLE
    }
}

/// Below this many pupils, a figure is shown with a warning not to read much into it.
pub const SMALL_SAMPLE: u32 = 5;

/// Sums the complete entries by a key (level, year group, staff member...), keys in order.
pub fn summarise_by<K: Ord + Copy>(
    steps: &[StepImpact],
    today: NaiveDate,
    key: impl Fn(&StepImpact) -> Option<K>,
) -> Vec<(K, ImpactSummary)> {
    let mut groups: BTreeMap<K, ImpactSummary> = BTreeMap::new();
    for step in steps.iter().filter(|s| s.is_complete(today)) {
        if let Some(k) = key(step) {
            groups.entry(k).or_default().add(step);
        }
    }
    groups.into_iter().collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::calendar::{Closure, ClosureKind};
    use chrono::TimeZone;

    fn d(y: i32, m: u32, day: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, day).unwrap()
    }

    fn half_term() -> SchoolCalendar {
        SchoolCalendar::new(vec![Closure {
            starts_on: d(2025, 10, 27),
            ends_on: d(2025, 10, 31),
            kind: ClosureKind::Holiday,
            name: "Half term".into(),
        }])
        .unwrap()
    }

    fn fact(at: DateTime<Utc>, behaviour: &str, location: Option<&str>) -> IncidentFact {
        IncidentFact {
            incident_id: 1,
            pupil_id: 7,
            at,
            behaviour: behaviour.into(),
            location: location.map(str::to_string),
            lesson: None,
            staff_id: 3,
        }
    }

    #[test]
    fn periods_are_the_schools_own() {
        use crate::domain::timetable::{Day, PeriodDraft};
        // Tuesday 4 November 2025, 10:15 London (GMT): Period 2 on the standard timetable.
        let at = Utc.with_ymd_and_hms(2025, 11, 4, 10, 15, 0).unwrap();
        let f = fact(at, "Off task", None);
        let standard = Timetable::standard();
        assert_eq!(group_of(&f, Dimension::Period, &standard), "Period 2");
        let own = standard
            .with_day(
                Day::new(None, chrono::Weekday::Tue),
                &[PeriodDraft {
                    name: "Double science".into(),
                    starts: "09:00".into(),
                    ends: "11:00".into(),
                }],
            )
            .unwrap();
        assert_eq!(group_of(&f, Dimension::Period, &own), "Double science");
    }

    #[test]
    fn tallies_put_most_first_and_time_in_its_order() {
        let monday = Utc.with_ymd_and_hms(2025, 11, 3, 9, 0, 0).unwrap();
        let wednesday = Utc.with_ymd_and_hms(2025, 11, 5, 13, 30, 0).unwrap();
        let facts = vec![
            fact(monday, "Off task", Some("Room 4")),
            fact(wednesday, "Rudeness", Some(" Canteen ")),
            fact(wednesday, "Rudeness", None),
        ];
        let standard = Timetable::standard();
        let by_behaviour = tally(&facts, Dimension::Behaviour, &standard);
        assert_eq!(
            by_behaviour[0],
            Group {
                key: "Rudeness".into(),
                incidents: 2
            }
        );
        let by_place = tally(&facts, Dimension::Location, &standard);
        assert_eq!(by_place.len(), 3);
        assert!(by_place.iter().any(|g| g.key == "Canteen"));
        assert!(by_place.iter().any(|g| g.key == NOT_RECORDED));
        let by_day = tally(&facts, Dimension::Weekday, &standard);
        let days: Vec<_> = by_day
            .iter()
            .map(|g| (g.key.as_str(), g.incidents))
            .collect();
        assert_eq!(
            days,
            vec![
                ("Monday", 1),
                ("Tuesday", 0),
                ("Wednesday", 2),
                ("Thursday", 0),
                ("Friday", 0)
            ]
        );
        let by_period = tally(&facts, Dimension::Period, &standard);
        assert_eq!(by_period[0].key, "Period 1");
        assert_eq!(by_period[1].key, "Lunch");
    }

    #[test]
    fn rates_are_per_100_pupils_per_school_day() {
        assert_eq!(rate_per_100(30, 200, 15), Some(1.0));
        assert_eq!(rate_per_100(1, 1, 1), Some(100.0));
        assert_eq!(rate_per_100(5, 0, 10), None);
        assert_eq!(rate_per_100(5, 10, 0), None);
        // A fortnight spanning half term has five school days, not ten.
        let cal = half_term();
        assert_eq!(school_days_in(&cal, d(2025, 10, 27), d(2025, 11, 7)), 5);
        assert_eq!(school_days_in(&cal, d(2025, 10, 20), d(2025, 11, 7)), 10);
    }

    #[test]
    fn impact_windows_skip_holidays_and_leave_out_the_entry_day() {
        let cal = half_term();
        // Entered on Monday 3 November, straight after half term: the 5 school days before
        // are the week of 20 October; the 5 after run from Tuesday 4 to Monday 10 November.
        let w = impact_windows(&cal, d(2025, 11, 3), 5);
        assert_eq!(w.before, (d(2025, 10, 20), d(2025, 11, 2)));
        assert_eq!(w.after, (d(2025, 11, 4), d(2025, 11, 10)));
        assert_eq!(w.school_days, 5);
        assert_eq!(school_days_in(&cal, w.before.0, w.before.1), 5);
        assert_eq!(school_days_in(&cal, w.after.0, w.after.1), 5);
    }

    #[test]
    fn summaries_count_only_complete_windows_and_say_how_many_pupils() {
        let cal = SchoolCalendar::weekdays_only();
        let step = |pupil_id, entered_on, before, after| StepImpact {
            pupil_id,
            level: Level::Time,
            entered_on,
            windows: impact_windows(&cal, entered_on, 15),
            before,
            after,
        };
        let steps = vec![
            step(1, d(2025, 9, 8), 6, 3),
            step(2, d(2025, 9, 8), 4, 5),
            step(3, d(2025, 9, 8), 2, 2),
            // Entered too recently: its after window has not ended.
            step(4, d(2025, 11, 3), 9, 0),
        ];
        let today = d(2025, 11, 4);
        let summary = summarise_by(&steps, today, |s| Some(s.level));
        assert_eq!(summary.len(), 1);
        let s = summary[0].1;
        assert_eq!(
            (s.pupils, s.before, s.after, s.school_days),
            (3, 12, 10, 45)
        );
        assert_eq!((s.helped, s.worsened), (1, 1));
        assert!((s.rate_before().unwrap() - 12.0 / 45.0).abs() < 1e-12);
        assert!((s.change_percent().unwrap() - (-100.0 / 6.0)).abs() < 1e-9);
        assert!(s.is_small());
        assert_eq!(ImpactSummary::default().change_percent(), None);
    }

    #[test]
    fn weeks_and_flow_cover_every_week() {
        let days = [
            (d(2025, 11, 4), 2),
            (d(2025, 11, 6), 1),
            (d(2025, 11, 18), 4),
        ];
        let weeks = weekly(&days, d(2025, 11, 3), d(2025, 11, 21));
        assert_eq!(
            weeks,
            vec![
                (d(2025, 11, 3), 3),
                (d(2025, 11, 10), 0),
                (d(2025, 11, 17), 4)
            ]
        );
        let changes = [
            (d(2025, 11, 4), Level::Prompt, Level::Conversation),
            (d(2025, 11, 5), Level::Time, Level::Conversation),
            (d(2025, 11, 12), Level::Prompt, Level::None),
        ];
        let flow = weekly_flow(
            &changes,
            d(2025, 11, 3),
            d(2025, 11, 14),
            &SchoolCalendar::weekdays_only(),
        );
        assert_eq!(flow.len(), 2);
        assert_eq!((flow[0].school_days, flow[1].school_days), (5, 5));
        assert_eq!(
            (flow[0].escalations, flow[0].step_downs, flow[0].closures),
            (1, 1, 0)
        );
        assert_eq!(
            (flow[1].escalations, flow[1].step_downs, flow[1].closures),
            (0, 0, 1)
        );
    }

    #[test]
    fn a_half_term_week_is_a_holiday_not_a_week_of_none() {
        let calendar = half_term();
        // 20 Oct to 9 Nov 2025: the week of 27 October is half term.
        let changes = [(d(2025, 11, 4), Level::Prompt, Level::Conversation)];
        let flow = weekly_flow(&changes, d(2025, 10, 20), d(2025, 11, 9), &calendar);
        let holidays: Vec<bool> = flow.iter().map(WeekFlow::is_holiday).collect();
        assert_eq!(holidays, vec![false, true, false]);
        assert_eq!(flow[1].school_days, 0);
        // A quiet term week is a week of none, not a holiday.
        let quiet = weekly_flow(&[], d(2025, 11, 10), d(2025, 11, 16), &calendar);
        assert!(!quiet[0].is_holiday());
        // A week cut by the range counts only its days in the range: a Saturday alone has none.
        let weekend = weekly_flow(&[], d(2025, 11, 15), d(2025, 11, 15), &calendar);
        assert!(weekend[0].is_holiday());
        assert_eq!(
            school_days_in_week(&calendar, d(2025, 10, 27), d(2025, 10, 1), d(2025, 11, 30)),
            0
        );
        assert_eq!(
            school_days_in_week(&calendar, d(2025, 11, 3), d(2025, 11, 5), d(2025, 11, 30)),
            3,
            "from Wednesday"
        );
    }

    #[test]
    fn tiers_hold_the_levels() {
        assert_eq!(Tier::of(Level::None), Tier::Universal);
        assert_eq!(Tier::of(Level::Conversation), Tier::Universal);
        assert_eq!(Tier::of(Level::Plan), Tier::Targeted);
        assert_eq!(Tier::of(Level::Provision), Tier::Specialist);
        let total: u32 = Tier::ALL.iter().map(|t| t.usual_percent()).sum();
        assert_eq!(total, 100);
    }
}
