//! The school calendar: which dates are school days, in the school's own time zone.
//!
//! Escalation windows and meeting deadlines count *school days*: Monday to Friday,
//! less the school's closures (holidays and INSET days). Every search here is bounded:
//! counting is arithmetic over weeks and closures, and searches for a date are binary
//! searches over at most [`MAX_SPAN_DAYS`] calendar days, so a calendar whose closures
//! cover years can never make a call loop for long.

use chrono::{DateTime, Datelike, NaiveDate, TimeDelta, Utc};
use serde::{Deserialize, Serialize};

/// The time zone every school date is read in.
pub const SCHOOL_TZ: chrono_tz::Tz = chrono_tz::Europe::London;

/// How far (in calendar days, about 100 years) a date search looks before giving up.
///
/// When the answer lies further away (a huge `n`, or closures covering decades), the
/// search saturates: see each method for what it returns then.
pub const MAX_SPAN_DAYS: i64 = 36_525;

/// Why a school day is lost.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ClosureKind {
    /// A school holiday (half-term, end of term, bank holiday).
    Holiday,
    /// A staff training (INSET) day with no pupils in.
    Inset,
}

impl ClosureKind {
    /// The kind as stored and as forms send it: `holiday` or `inset`.
    pub fn as_str(self) -> &'static str {
        match self {
            ClosureKind::Holiday => "holiday",
            ClosureKind::Inset => "inset",
        }
    }

    /// The kind as pages name it.
    pub fn title(self) -> &'static str {
        match self {
            ClosureKind::Holiday => "Holiday",
            ClosureKind::Inset => "INSET day",
        }
    }

    /// Reads `holiday` or `inset` (any case); anything else is `None`.
    pub fn parse(raw: &str) -> Option<ClosureKind> {
        match raw.trim().to_ascii_lowercase().as_str() {
            "holiday" => Some(ClosureKind::Holiday),
            "inset" => Some(ClosureKind::Inset),
            _ => None,
        }
    }
}

/// A date counted in school days from another: how a meeting's due date is made ("within 3
/// school days of acceptance"), and made again from the same two figures when the school's
/// calendar changes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct SchoolDayCount {
    /// The day counting starts from (not itself counted).
    pub from: NaiveDate,
    /// How many school days after `from`.
    pub school_days: u32,
}

impl SchoolDayCount {
    /// `school_days` school days after `from`.
    pub fn new(from: NaiveDate, school_days: u32) -> Self {
        SchoolDayCount { from, school_days }
    }

    /// The date the count reaches under `calendar`: the one way a due date counted in
    /// school days is worked out, first and after every change of the calendar.
    pub fn date(&self, calendar: &SchoolCalendar) -> NaiveDate {
        calendar.add_school_days(self.from, self.school_days)
    }
}

/// A stored due date counted in school days (a meeting's), as a change of the calendar
/// sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CountedDate {
    /// The meeting it is the due date of.
    pub meeting_id: i64,
    /// The meeting's pupil.
    pub pupil_id: i64,
    /// The date stored now.
    pub on: NaiveDate,
    /// How it is counted.
    pub count: SchoolDayCount,
}

/// A due date that a change of the school's calendar moves.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct MovedDueDate {
    /// The meeting whose due date moves.
    pub meeting_id: i64,
    /// The meeting's pupil (an id: reports and audit entries never name pupils).
    pub pupil_id: i64,
    /// The due date until now.
    pub from: NaiveDate,
    /// The due date from now on.
    pub to: NaiveDate,
}

impl std::fmt::Display for MovedDueDate {
    /// "Meeting for pupil id 12: due 3 Nov → 10 Nov".
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "Meeting for pupil id {}: due {} → {}",
            self.pupil_id,
            self.from.format("%-d %b"),
            self.to.format("%-d %b")
        )
    }
}

/// The due dates not yet passed (on or after `today`) that `calendar` moves, each counted
/// again with [`SchoolDayCount::date`], the way it was first counted. A date is never
/// moved before `today`: a correction of the calendar does not make a meeting overdue at
/// once.
pub fn moved_due_dates(
    dates: &[CountedDate],
    calendar: &SchoolCalendar,
    today: NaiveDate,
) -> Vec<MovedDueDate> {
    dates
        .iter()
        .filter(|d| d.on >= today)
        .filter_map(|d| {
            let to = d.count.date(calendar).max(today);
            (to != d.on).then_some(MovedDueDate {
                meeting_id: d.meeting_id,
                pupil_id: d.pupil_id,
                from: d.on,
                to,
            })
        })
        .collect()
}

/// A run of dates, first and last included, on which the school is closed to pupils.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Closure {
    /// The first closed date.
    pub starts_on: NaiveDate,
    /// The last closed date (may equal `starts_on`).
    pub ends_on: NaiveDate,
    /// Holiday or INSET.
    pub kind: ClosureKind,
    /// What the school calls it, e.g. "October half-term".
    pub name: String,
}

impl Closure {
    /// Whether the date falls inside this closure.
    pub fn contains(&self, d: NaiveDate) -> bool {
        self.starts_on <= d && d <= self.ends_on
    }
}

/// Why a calendar could not be built.
#[derive(thiserror::Error, Debug, Clone, PartialEq, Eq)]
pub enum CalendarError {
    /// A closure whose last date is before its first.
    #[error("the closure {name:?} ends on {ends_on}, before it starts on {starts_on}")]
    EndsBeforeStarts {
        /// The closure's name.
        name: String,
        /// Its first date.
        starts_on: NaiveDate,
        /// Its (earlier) last date.
        ends_on: NaiveDate,
    },
}

/// A school's calendar: weekends and its closures are not school days.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SchoolCalendar {
    /// The closures as given, sorted by first date.
    closures: Vec<Closure>,
    /// The same dates merged into disjoint, sorted, inclusive ranges.
    closed: Vec<(NaiveDate, NaiveDate)>,
}

impl Default for SchoolCalendar {
    /// A calendar with no closures.
    fn default() -> Self {
        SchoolCalendar::weekdays_only()
    }
}

/// Days since Monday 1 January of year 1 (proleptic Gregorian), which is day 0.
fn day_index(d: NaiveDate) -> i64 {
    i64::from(d.num_days_from_ce()) - 1
}

/// How many Mondays-to-Fridays have a day index below `x` (relative to day 0; may be negative).
fn weekdays_before(x: i64) -> i64 {
    x.div_euclid(7) * 5 + x.rem_euclid(7).min(5)
}

/// Mondays-to-Fridays in `[a, b]`, both included; 0 when `b < a`.
fn weekdays_in(a: NaiveDate, b: NaiveDate) -> i64 {
    if b < a {
        return 0;
    }
    weekdays_before(day_index(b) + 1) - weekdays_before(day_index(a))
}

/// `d` moved by `days`, held at the ends of chrono's date range.
fn shift(d: NaiveDate, days: i64) -> NaiveDate {
    TimeDelta::try_days(days)
        .and_then(|delta| d.checked_add_signed(delta))
        .unwrap_or(if days >= 0 {
            NaiveDate::MAX
        } else {
            NaiveDate::MIN
        })
}

/// Clamps a count to `u32`.
fn to_u32(n: i64) -> u32 {
    u32::try_from(n.max(0)).unwrap_or(u32::MAX)
}

impl SchoolCalendar {
    /// A calendar with the given closures; refuses a closure that ends before it starts.
    /// Closures may overlap or touch.
    pub fn new(mut closures: Vec<Closure>) -> Result<Self, CalendarError> {
        if let Some(bad) = closures.iter().find(|c| c.ends_on < c.starts_on) {
            return Err(CalendarError::EndsBeforeStarts {
                name: bad.name.clone(),
                starts_on: bad.starts_on,
                ends_on: bad.ends_on,
            });
        }
        closures.sort_by(|a, b| {
            (a.starts_on, a.ends_on, &a.name).cmp(&(b.starts_on, b.ends_on, &b.name))
        });
        let mut closed: Vec<(NaiveDate, NaiveDate)> = Vec::with_capacity(closures.len());
        for c in &closures {
            match closed.last_mut() {
                Some((_, end)) if c.starts_on <= shift(*end, 1) => {
                    *end = (*end).max(c.ends_on);
                }
                _ => closed.push((c.starts_on, c.ends_on)),
            }
        }
        Ok(SchoolCalendar { closures, closed })
    }

    /// A calendar where every Monday to Friday is a school day.
    pub fn weekdays_only() -> Self {
        SchoolCalendar {
            closures: Vec::new(),
            closed: Vec::new(),
        }
    }

    /// The closures, sorted by first date.
    pub fn closures(&self) -> &[Closure] {
        &self.closures
    }

    /// Whether the date is inside a closure.
    fn is_closed(&self, d: NaiveDate) -> bool {
        let after = self.closed.partition_point(|(start, _)| *start <= d);
        after
            .checked_sub(1)
            .and_then(|i| self.closed.get(i))
            .is_some_and(|(_, end)| d <= *end)
    }

    /// Whether pupils are in school that day: Monday to Friday and not in a closure.
    pub fn is_school_day(&self, d: NaiveDate) -> bool {
        d.weekday().num_days_from_monday() < 5 && !self.is_closed(d)
    }

    /// The calendar date in the school's time zone at the given instant.
    pub fn local_date(instant: DateTime<Utc>) -> NaiveDate {
        instant.with_timezone(&SCHOOL_TZ).date_naive()
    }

    /// School days in `[a, b]`, both included; 0 when `b < a`.
    fn school_days_in(&self, a: NaiveDate, b: NaiveDate) -> i64 {
        if b < a {
            return 0;
        }
        let first = self.closed.partition_point(|(_, end)| *end < a);
        let closed: i64 = self
            .closed
            .iter()
            .skip(first)
            .take_while(|(start, _)| *start <= b)
            .map(|(start, end)| weekdays_in((*start).max(a), (*end).min(b)))
            .sum();
        weekdays_in(a, b) - closed
    }

    /// The first date `start + k` (k in `0..=MAX_SPAN_DAYS`) by which `n` school days have
    /// passed counting from `start`, or `None` beyond the span.
    fn reach_forward(&self, start: NaiveDate, n: i64) -> Option<NaiveDate> {
        let limit = (shift(start, MAX_SPAN_DAYS) - start).num_days();
        if self.school_days_in(start, shift(start, limit)) < n {
            return None;
        }
        let (mut lo, mut hi) = (0, limit);
        while lo < hi {
            let mid = lo + (hi - lo) / 2;
            if self.school_days_in(start, shift(start, mid)) >= n {
                hi = mid;
            } else {
                lo = mid + 1;
            }
        }
        Some(shift(start, lo))
    }

    /// The last date `end - k` (k in `0..=MAX_SPAN_DAYS`) such that `n` school days lie in
    /// `[end - k, end]`, or `None` beyond the span.
    fn reach_back(&self, end: NaiveDate, n: i64) -> Option<NaiveDate> {
        let limit = (end - shift(end, -MAX_SPAN_DAYS)).num_days();
        if self.school_days_in(shift(end, -limit), end) < n {
            return None;
        }
        let (mut lo, mut hi) = (0, limit);
        while lo < hi {
            let mid = lo + (hi - lo) / 2;
            if self.school_days_in(shift(end, -mid), end) >= n {
                hi = mid;
            } else {
                lo = mid + 1;
            }
        }
        Some(shift(end, -lo))
    }

    /// The date `n` school days after `from` (`from` itself is not counted); `n = 0` gives
    /// `from`. The result is always a school day when `n > 0`.
    ///
    /// Saturates: if fewer than `n` school days fall within [`MAX_SPAN_DAYS`] after `from`,
    /// returns the last school day in that span, or `from` when there is none.
    pub fn add_school_days(&self, from: NaiveDate, n: u32) -> NaiveDate {
        if n == 0 {
            return from;
        }
        let start = shift(from, 1);
        if start == from {
            return from;
        }
        let n = i64::from(n);
        self.reach_forward(start, n)
            .or_else(|| {
                let available = self.school_days_in(start, shift(start, MAX_SPAN_DAYS));
                (available > 0)
                    .then(|| self.reach_forward(start, available))
                    .flatten()
            })
            .unwrap_or(from)
    }

    /// The date `n` school days before `from` (`from` itself is not counted); `n = 0` gives
    /// `from`. The result is always a school day when `n > 0`.
    ///
    /// Saturates like [`SchoolCalendar::add_school_days`], towards the past.
    pub fn sub_school_days(&self, from: NaiveDate, n: u32) -> NaiveDate {
        if n == 0 {
            return from;
        }
        let end = shift(from, -1);
        if end == from {
            return from;
        }
        let n = i64::from(n);
        self.reach_back(end, n)
            .or_else(|| {
                let available = self.school_days_in(shift(end, -MAX_SPAN_DAYS), end);
                (available > 0)
                    .then(|| self.reach_back(end, available))
                    .flatten()
            })
            .unwrap_or(from)
    }

    /// How many school days fall in `(from, to]`: after `from`, up to and including `to`.
    /// Zero when `to` is not after `from`. Pure arithmetic, no day-by-day loop.
    pub fn school_days_between(&self, from: NaiveDate, to: NaiveDate) -> u32 {
        if to <= from {
            return 0;
        }
        to_u32(self.school_days_in(shift(from, 1), to))
    }

    /// The first date of the window made of the last `n` school days up to `today`
    /// (`today` counts when it is a school day). The window runs from the returned date to
    /// `today`, so non-school days after the last school day are inside it.
    ///
    /// `n = 0` is an empty window: the day after `today`. If fewer than `n` school days
    /// exist in the [`MAX_SPAN_DAYS`] before `today`, the window starts at the edge of that span.
    pub fn window_start(&self, today: NaiveDate, n: u32) -> NaiveDate {
        if n == 0 {
            return shift(today, 1);
        }
        self.reach_back(today, i64::from(n))
            .unwrap_or_else(|| shift(today, -MAX_SPAN_DAYS))
    }

    /// Whether `instant` falls on a date (school time zone) within the last `n` school days
    /// up to the date of `now`. Instants on later dates than `now`'s are outside.
    pub fn in_window(&self, instant: DateTime<Utc>, now: DateTime<Utc>, n: u32) -> bool {
        if n == 0 {
            return false;
        }
        let day = Self::local_date(instant);
        let today = Self::local_date(now);
        day <= today && day >= self.window_start(today, n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;
    use proptest::prelude::*;

    fn d(y: i32, m: u32, day: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, day).unwrap()
    }

    fn utc(y: i32, m: u32, day: u32, h: u32, min: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(y, m, day, h, min, 0).unwrap()
    }

    fn closure(from: NaiveDate, to: NaiveDate, name: &str) -> Closure {
        Closure {
            starts_on: from,
            ends_on: to,
            kind: ClosureKind::Holiday,
            name: name.into(),
        }
    }

    /// Autumn 2025 with October half-term (27-31 October) and an INSET day on Monday 3 November.
    fn autumn() -> SchoolCalendar {
        SchoolCalendar::new(vec![
            Closure {
                starts_on: d(2025, 11, 3),
                ends_on: d(2025, 11, 3),
                kind: ClosureKind::Inset,
                name: "INSET".into(),
            },
            closure(d(2025, 10, 27), d(2025, 10, 31), "October half-term"),
        ])
        .unwrap()
    }

    #[test]
    fn a_count_of_school_days_follows_the_calendar() {
        let count = SchoolDayCount::new(d(2025, 10, 22), 3);
        assert_eq!(
            count.date(&SchoolCalendar::weekdays_only()),
            d(2025, 10, 27)
        );
        assert_eq!(count.date(&autumn()), d(2025, 11, 4));
        assert_eq!(ClosureKind::parse(" INSET "), Some(ClosureKind::Inset));
        assert_eq!(ClosureKind::parse("holiday"), Some(ClosureKind::Holiday));
        assert_eq!(ClosureKind::parse("party"), None);
        assert_eq!(ClosureKind::Inset.as_str(), "inset");
    }

    #[test]
    fn due_dates_not_yet_passed_follow_a_new_closure() {
        let counted = |meeting_id, from, days, on| CountedDate {
            meeting_id,
            pupil_id: 7,
            on,
            count: SchoolDayCount::new(from, days),
        };
        let week = SchoolCalendar::weekdays_only();
        let dates = [
            // Made due on Wednesday 22 October: 3 school days on is Monday 27 October.
            counted(1, d(2025, 10, 22), 3, d(2025, 10, 27)),
            // Already passed: stays.
            counted(2, d(2025, 10, 13), 3, d(2025, 10, 16)),
            // After the half term either way.
            counted(3, d(2025, 11, 10), 5, d(2025, 11, 17)),
        ];
        assert!(moved_due_dates(&dates, &week, d(2025, 10, 22)).is_empty());
        let moved = moved_due_dates(&dates, &autumn(), d(2025, 10, 22));
        assert_eq!(
            moved,
            vec![MovedDueDate {
                meeting_id: 1,
                pupil_id: 7,
                from: d(2025, 10, 27),
                to: d(2025, 11, 4),
            }]
        );
        assert_eq!(
            moved[0].to_string(),
            "Meeting for pupil id 7: due 27 Oct → 4 Nov"
        );
        // Taking a closure away never moves a date before today.
        let back = [counted(1, d(2025, 10, 1), 10, d(2025, 10, 29))];
        let moved = moved_due_dates(&back, &week, d(2025, 10, 20));
        assert_eq!(moved[0].to, d(2025, 10, 20));
    }

    #[test]
    fn weekends_are_not_school_days() {
        let cal = SchoolCalendar::weekdays_only();
        assert!(cal.is_school_day(d(2025, 10, 17))); // Friday
        assert!(!cal.is_school_day(d(2025, 10, 18)));
        assert!(!cal.is_school_day(d(2025, 10, 19)));
        assert!(cal.is_school_day(d(2025, 10, 20)));
        assert_eq!(SchoolCalendar::default(), cal);
    }

    #[test]
    fn closures_are_not_school_days() {
        let cal = autumn();
        assert!(!cal.is_school_day(d(2025, 10, 27)));
        assert!(!cal.is_school_day(d(2025, 10, 31)));
        assert!(!cal.is_school_day(d(2025, 11, 3)));
        assert!(cal.is_school_day(d(2025, 11, 4)));
        assert!(cal.is_school_day(d(2025, 10, 24)));
        assert_eq!(cal.closures()[0].name, "October half-term");
        assert!(cal.closures()[0].contains(d(2025, 10, 29)));
    }

    #[test]
    fn closure_ending_before_it_starts_is_refused() {
        let err = SchoolCalendar::new(vec![closure(
            d(2025, 5, 30),
            d(2025, 5, 26),
            "May half-term",
        )])
        .unwrap_err();
        assert_eq!(
            err.to_string(),
            "the closure \"May half-term\" ends on 2025-05-26, before it starts on 2025-05-30"
        );
    }

    #[test]
    fn overlapping_closures_merge() {
        let cal = SchoolCalendar::new(vec![
            closure(d(2025, 12, 19), d(2026, 1, 2), "Christmas"),
            closure(d(2025, 12, 22), d(2025, 12, 26), "Bank holidays"),
            closure(d(2026, 1, 3), d(2026, 1, 5), "INSET"),
        ])
        .unwrap();
        assert_eq!(cal.school_days_between(d(2025, 12, 18), d(2026, 1, 6)), 1);
        assert_eq!(cal.add_school_days(d(2025, 12, 18), 1), d(2026, 1, 6));
    }

    #[test]
    fn add_school_days_skips_weekends_and_half_term() {
        let cal = autumn();
        assert_eq!(cal.add_school_days(d(2025, 10, 16), 1), d(2025, 10, 17));
        assert_eq!(cal.add_school_days(d(2025, 10, 17), 1), d(2025, 10, 20));
        assert_eq!(cal.add_school_days(d(2025, 10, 18), 1), d(2025, 10, 20));
        assert_eq!(cal.add_school_days(d(2025, 10, 24), 1), d(2025, 11, 4));
        assert_eq!(cal.add_school_days(d(2025, 10, 22), 3), d(2025, 11, 4));
        assert_eq!(cal.add_school_days(d(2025, 10, 25), 0), d(2025, 10, 25));
    }

    #[test]
    fn sub_school_days_goes_back() {
        let cal = autumn();
        assert_eq!(cal.sub_school_days(d(2025, 11, 4), 1), d(2025, 10, 24));
        assert_eq!(cal.sub_school_days(d(2025, 10, 20), 1), d(2025, 10, 17));
        assert_eq!(cal.sub_school_days(d(2025, 10, 20), 0), d(2025, 10, 20));
    }

    #[test]
    fn school_days_between_counts_after_from_up_to_to() {
        let cal = autumn();
        assert_eq!(cal.school_days_between(d(2025, 10, 20), d(2025, 10, 20)), 0);
        assert_eq!(cal.school_days_between(d(2025, 10, 20), d(2025, 10, 17)), 0);
        assert_eq!(cal.school_days_between(d(2025, 10, 17), d(2025, 10, 20)), 1);
        assert_eq!(cal.school_days_between(d(2025, 10, 17), d(2025, 10, 19)), 0);
        assert_eq!(cal.school_days_between(d(2025, 10, 20), d(2025, 11, 7)), 8);
    }

    #[test]
    fn window_start_counts_back_school_days() {
        let cal = autumn();
        // Wednesday 22 October: Wed, Tue, Mon, Fri, Thu.
        assert_eq!(cal.window_start(d(2025, 10, 22), 5), d(2025, 10, 16));
        assert_eq!(cal.window_start(d(2025, 10, 22), 1), d(2025, 10, 22));
        // On a Saturday the window reaches back to Friday.
        assert_eq!(cal.window_start(d(2025, 10, 18), 1), d(2025, 10, 17));
        // Across half-term and the INSET day.
        assert_eq!(cal.window_start(d(2025, 11, 4), 2), d(2025, 10, 24));
        assert_eq!(cal.window_start(d(2025, 11, 4), 0), d(2025, 11, 5));
    }

    #[test]
    fn local_date_follows_london_clock_changes() {
        // Winter (GMT): UTC and London agree.
        assert_eq!(
            SchoolCalendar::local_date(utc(2025, 1, 15, 23, 30)),
            d(2025, 1, 15)
        );
        // Summer (BST): 23:30 UTC is already the next day in London.
        assert_eq!(
            SchoolCalendar::local_date(utc(2025, 6, 9, 23, 30)),
            d(2025, 6, 10)
        );
        // March change (01:00 UTC on 30 March 2025).
        assert_eq!(
            SchoolCalendar::local_date(utc(2025, 3, 29, 23, 30)),
            d(2025, 3, 29)
        );
        assert_eq!(
            SchoolCalendar::local_date(utc(2025, 3, 30, 0, 30)),
            d(2025, 3, 30)
        );
        assert_eq!(
            SchoolCalendar::local_date(utc(2025, 3, 30, 23, 30)),
            d(2025, 3, 31)
        );
        // October change (01:00 UTC on 26 October 2025).
        assert_eq!(
            SchoolCalendar::local_date(utc(2025, 10, 24, 23, 30)),
            d(2025, 10, 25)
        );
        assert_eq!(
            SchoolCalendar::local_date(utc(2025, 10, 26, 0, 30)),
            d(2025, 10, 26)
        );
        assert_eq!(
            SchoolCalendar::local_date(utc(2025, 10, 26, 23, 30)),
            d(2025, 10, 26)
        );
    }

    #[test]
    fn in_window_uses_london_dates_across_march_change() {
        let cal = SchoolCalendar::weekdays_only();
        let now = utc(2025, 3, 31, 8, 0); // Monday morning, BST
                                          // 00:30 London time on Monday is 23:30 UTC on Sunday: inside a 1-day window.
        assert!(cal.in_window(utc(2025, 3, 30, 23, 30), now, 1));
        // 23:59 London time on Sunday: outside.
        assert!(!cal.in_window(utc(2025, 3, 30, 22, 59), now, 1));
        // Friday is inside a 2-day window.
        assert!(cal.in_window(utc(2025, 3, 28, 12, 0), now, 2));
        assert!(!cal.in_window(utc(2025, 3, 28, 12, 0), now, 1));
        assert!(!cal.in_window(utc(2025, 3, 31, 7, 0), now, 0));
    }

    #[test]
    fn in_window_uses_london_dates_across_october_change() {
        let cal = SchoolCalendar::weekdays_only();
        let now = utc(2025, 10, 27, 9, 0); // Monday, GMT
        assert!(!cal.in_window(utc(2025, 10, 26, 23, 30), now, 1)); // Sunday in London
        assert!(cal.in_window(utc(2025, 10, 27, 0, 30), now, 1));
        // Friday 24 October at 23:30 UTC is Saturday 00:30 BST: counted with Monday's
        // window of 2 school days (Friday onwards), not before it.
        assert!(cal.in_window(utc(2025, 10, 24, 23, 30), now, 2));
        // Thursday 22:30 UTC is Thursday 23:30 BST: outside; an hour later it is Friday: inside.
        assert!(!cal.in_window(utc(2025, 10, 23, 22, 30), now, 2));
        assert!(cal.in_window(utc(2025, 10, 23, 23, 30), now, 2));
        // Later dates than now's are outside.
        assert!(!cal.in_window(utc(2025, 10, 28, 9, 0), now, 5));
    }

    #[test]
    fn closures_covering_centuries_do_not_hang() {
        let cal =
            SchoolCalendar::new(vec![closure(d(1900, 1, 1), d(2300, 12, 31), "forever")]).unwrap();
        assert_eq!(cal.add_school_days(d(2025, 1, 1), 5), d(2025, 1, 1));
        assert_eq!(cal.sub_school_days(d(2025, 1, 1), 5), d(2025, 1, 1));
        assert_eq!(
            cal.window_start(d(2025, 1, 1), 5),
            shift(d(2025, 1, 1), -MAX_SPAN_DAYS)
        );
        // With no school days at all, the window saturates to the whole span.
        assert!(cal.in_window(utc(2025, 1, 1, 12, 0), utc(2025, 1, 1, 13, 0), 5));
        assert_eq!(cal.school_days_between(d(2001, 1, 1), d(2299, 1, 1)), 0);
        // A huge n saturates to the last school day in the span instead of looping.
        let week = SchoolCalendar::weekdays_only();
        let far = week.add_school_days(d(2025, 1, 1), u32::MAX);
        assert!(week.is_school_day(far));
        assert!(far > d(2124, 1, 1));
    }

    #[test]
    fn dates_near_the_end_of_time_do_not_panic() {
        let cal = SchoolCalendar::weekdays_only();
        let _ = cal.add_school_days(NaiveDate::MAX, 3);
        let _ = cal.sub_school_days(NaiveDate::MIN, 3);
        let _ = cal.window_start(NaiveDate::MIN, 3);
        let _ = cal.school_days_between(NaiveDate::MIN, NaiveDate::MAX);
    }

    fn brute_between(cal: &SchoolCalendar, from: NaiveDate, to: NaiveDate) -> u32 {
        let mut n = 0;
        let mut day = from;
        while day < to {
            day = day.succ_opt().unwrap();
            if cal.is_school_day(day) {
                n += 1;
            }
        }
        n
    }

    fn base() -> NaiveDate {
        d(2024, 12, 30)
    }

    fn arb_calendar() -> impl Strategy<Value = SchoolCalendar> {
        proptest::collection::vec((0i64..500, 0i64..25), 0..8).prop_map(|spans| {
            let closures = spans
                .into_iter()
                .map(|(start, len)| {
                    closure(shift(base(), start), shift(base(), start + len), "closed")
                })
                .collect();
            SchoolCalendar::new(closures).unwrap()
        })
    }

    proptest! {
        #[test]
        fn add_and_between_are_inverse(cal in arb_calendar(), start in 0i64..500, n in 0u32..150) {
            let from = shift(base(), start);
            let to = cal.add_school_days(from, n);
            prop_assert_eq!(cal.school_days_between(from, to), n);
            if n > 0 {
                prop_assert!(to > from);
                prop_assert!(cal.is_school_day(to), "{} is not a school day", to);
                prop_assert!(cal.sub_school_days(to, n) <= from);
                if cal.is_school_day(from) {
                    prop_assert_eq!(cal.sub_school_days(to, n), from);
                }
            }
        }

        #[test]
        fn between_then_add_lands_on_school_days(cal in arb_calendar(), start in 0i64..500, len in 0i64..200) {
            let from = shift(base(), start);
            let to = shift(from, len);
            let n = cal.school_days_between(from, to);
            prop_assert_eq!(n, brute_between(&cal, from, to));
            if cal.is_school_day(to) && to > from {
                prop_assert_eq!(cal.add_school_days(from, n), to);
            }
        }

        #[test]
        fn window_start_holds_exactly_n_school_days(cal in arb_calendar(), start in 0i64..600, n in 1u32..60) {
            let today = shift(base(), start);
            let first = cal.window_start(today, n);
            prop_assert!(cal.is_school_day(first));
            prop_assert!(first <= today);
            prop_assert_eq!(brute_between(&cal, shift(first, -1), today), n);
        }
    }
}
