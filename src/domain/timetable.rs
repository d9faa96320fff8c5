//! The school's timetable: its lesson periods (a name, a start and an end) for each weekday,
//! optionally on a two-week timetable (week A and week B alternating from a Monday the school
//! names), and which period a moment falls in, read in London time.
//!
//! A school that has set no periods of its own keeps [`Timetable::standard`]: five days of a
//! common secondary timetable of six lessons with a break and lunch.
//!
//! Pure: moments come in as UTC instants and are read on the school's clock, so 09:00 is
//! Period 1 in summer time (08:00 UTC) and in winter (09:00 UTC) alike.

use std::collections::BTreeMap;

use chrono::{DateTime, Datelike, NaiveDate, NaiveTime, Timelike, Utc, Weekday};

use crate::domain::calendar::SCHOOL_TZ;

/// Most periods one day may hold.
pub const MAX_PERIODS_PER_DAY: usize = 12;

/// Longest name of a period.
pub const MAX_NAME_CHARS: usize = 40;

/// The label of a moment before the day's first period.
pub const BEFORE_SCHOOL: &str = "Before school";
/// The label of a moment after the day's last period.
pub const AFTER_SCHOOL: &str = "After school";
/// The label of a moment in a gap between two periods.
pub const BETWEEN_PERIODS: &str = "Between periods";
/// The label of a moment on a day with no periods (a weekend).
pub const NO_LESSONS: &str = "No lessons that day";

/// The weekdays a school's timetable is kept for on its page, Monday first.
pub const SCHOOL_WEEKDAYS: [Weekday; 5] = [
    Weekday::Mon,
    Weekday::Tue,
    Weekday::Wed,
    Weekday::Thu,
    Weekday::Fri,
];

/// A time of day as hours and minutes.
type HourMinute = (u32, u32);

/// The standard periods: a common secondary timetable of six lessons with a break and lunch,
/// the same every weekday. Each is (name, start, end).
const STANDARD: [(&str, HourMinute, HourMinute); 8] = [
    ("Period 1", (8, 45), (9, 45)),
    ("Period 2", (9, 45), (10, 45)),
    ("Break", (10, 45), (11, 5)),
    ("Period 3", (11, 5), (12, 5)),
    ("Period 4", (12, 5), (13, 5)),
    ("Lunch", (13, 5), (13, 50)),
    ("Period 5", (13, 50), (14, 50)),
    ("Period 6", (14, 50), (15, 50)),
];

/// Which week of a two-week timetable.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Week {
    A,
    B,
}

impl Week {
    /// "A" or "B", as stored and shown.
    pub fn as_str(self) -> &'static str {
        match self {
            Week::A => "A",
            Week::B => "B",
        }
    }

    /// The week named "A" or "B" (either case, spaces ignored).
    pub fn parse(raw: &str) -> Option<Week> {
        match raw.trim() {
            "A" | "a" => Some(Week::A),
            "B" | "b" => Some(Week::B),
            _ => None,
        }
    }
}

/// The days' short names, Monday first, as in [`Day::key`].
const SHORT_NAMES: [&str; 7] = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"];

/// The days' whole names, lower case, Monday first.
const FULL_NAMES: [&str; 7] = [
    "monday",
    "tuesday",
    "wednesday",
    "thursday",
    "friday",
    "saturday",
    "sunday",
];

/// One day of the timetable: a weekday, of one week of a two-week timetable or of every week.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Day {
    /// `None` on a one-week timetable.
    pub week: Option<Week>,
    /// Days from Monday: 0 is Monday, 6 Sunday.
    weekday: u8,
}

impl Day {
    /// The day for `weekday` of `week` (`None`: every week).
    pub fn new(week: Option<Week>, weekday: Weekday) -> Day {
        Day {
            week,
            weekday: u8::try_from(weekday.num_days_from_monday()).unwrap_or(0),
        }
    }

    /// The weekday.
    pub fn weekday(self) -> Weekday {
        let mut day = Weekday::Mon;
        for _ in 0..self.weekday {
            day = day.succ();
        }
        day
    }

    /// The weekday as stored: 1 is Monday, 7 Sunday (ISO 8601).
    pub fn iso_number(self) -> i16 {
        i16::from(self.weekday) + 1
    }

    /// The day with this ISO weekday number (1 Monday to 7 Sunday).
    pub fn from_iso(week: Option<Week>, number: i16) -> Option<Day> {
        let weekday = u8::try_from(number.checked_sub(1)?)
            .ok()
            .filter(|d| *d < 7)?;
        Some(Day { week, weekday })
    }

    /// "Monday", or "Monday, week A".
    pub fn title(self) -> String {
        let name = match self.weekday() {
            Weekday::Mon => "Monday",
            Weekday::Tue => "Tuesday",
            Weekday::Wed => "Wednesday",
            Weekday::Thu => "Thursday",
            Weekday::Fri => "Friday",
            Weekday::Sat => "Saturday",
            Weekday::Sun => "Sunday",
        };
        match self.week {
            Some(week) => format!("{name}, week {}", week.as_str()),
            None => name.to_string(),
        }
    }

    /// A short key for forms and element ids: "mon", "mon-a".
    pub fn key(self) -> String {
        let day = SHORT_NAMES
            .get(usize::from(self.weekday))
            .copied()
            .unwrap_or("mon");
        match self.week {
            Some(week) => format!("{day}-{}", week.as_str().to_lowercase()),
            None => day.to_string(),
        }
    }

    /// The day a timetable export names: a key ("mon", "fri-b"), or a weekday's name or its
    /// first three letters with an optional week ("Monday", "Tue-A", "WedB").
    pub fn parse_name(raw: &str) -> Option<Day> {
        let raw = raw.trim().to_lowercase();
        // No day's name ends in "a" or "b": a trailing one is the week.
        let (name, week) = match raw.split_once('-') {
            Some((name, week)) => (name, Some(Week::parse(week)?)),
            None if raw.ends_with(['a', 'b']) => {
                let (name, week) = raw.split_at(raw.len() - 1);
                (name, Some(Week::parse(week)?))
            }
            None => (raw.as_str(), None),
        };
        let weekday = SHORT_NAMES
            .iter()
            .zip(FULL_NAMES)
            .position(|(short, full)| name == *short || name == full)?;
        Some(Day {
            week,
            weekday: u8::try_from(weekday).ok()?,
        })
    }

    /// The day a key names ("mon", "fri-b"), as [`Day::key`] writes it.
    pub fn parse_key(raw: &str) -> Option<Day> {
        let raw = raw.trim().to_lowercase();
        let (day, week) = match raw.split_once('-') {
            Some((day, week)) => (day.to_string(), Some(Week::parse(week)?)),
            None => (raw, None),
        };
        let weekday = SHORT_NAMES.iter().position(|name| *name == day)?;
        Some(Day {
            week,
            weekday: u8::try_from(weekday).ok()?,
        })
    }
}

/// A lesson period of one day.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Period {
    pub name: String,
    pub starts: NaiveTime,
    pub ends: NaiveTime,
}

impl Period {
    /// "08:45 to 09:45".
    pub fn span(&self) -> String {
        format!(
            "{} to {}",
            self.starts.format("%H:%M"),
            self.ends.format("%H:%M")
        )
    }

    /// Whether the local time `t` falls in the period (its start included, its end not).
    pub fn contains(&self, t: NaiveTime) -> bool {
        self.starts <= t && t < self.ends
    }
}

/// Longest lesson slot a class may name.
pub const MAX_SLOT_CHARS: usize = 40;

/// When a class meets, as a school's timetable export names it: a period on every school day
/// ("1", "Period 3") or on one day ("Mon 1", "tue:Period 2", "Wed-A 4" on a two-week
/// timetable). A period given as a number matches the timetable's period whose name ends in
/// that number ("Period 1", "P1"); otherwise the names must agree, letter case aside.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LessonSlot {
    /// The day, or `None` for every day; a day of no week matches that weekday in both weeks.
    pub day: Option<Day>,
    /// The period's name or number.
    pub period: String,
}

impl LessonSlot {
    /// Reads one slot ("1", "Mon 1", "mon-a:Period 2"), saying what is wrong with it if it
    /// cannot be read.
    pub fn parse(raw: &str) -> Result<LessonSlot, String> {
        let raw = raw.trim();
        if raw.is_empty() {
            return Err("a lesson slot is empty".into());
        }
        if raw.chars().count() > MAX_SLOT_CHARS || raw.chars().any(char::is_control) {
            return Err(format!(
                "a lesson slot is at most {MAX_SLOT_CHARS} characters"
            ));
        }
        let day_and_rest = raw
            .split_once(|c: char| c == ':' || c.is_whitespace())
            .and_then(|(day, rest)| Some((Day::parse_name(day)?, rest.trim())));
        let (day, period) = match day_and_rest {
            Some((day, rest)) => (Some(day), rest),
            None => (None, raw),
        };
        if period.is_empty() {
            return Err(format!(
                "the lesson slot \"{raw}\" names a day but no period"
            ));
        }
        Ok(LessonSlot {
            day,
            period: period.to_string(),
        })
    }

    /// Reads a class's slots, given as a comma-separated list; blank entries are skipped.
    pub fn parse_list(raw: &str) -> Result<Vec<LessonSlot>, String> {
        raw.split(',')
            .filter(|part| !part.trim().is_empty())
            .map(LessonSlot::parse)
            .collect()
    }

    /// The slot as stored and shown: "Mon 1", "Mon-A Period 2", "3".
    pub fn label(&self) -> String {
        match self.day {
            Some(day) => {
                let mut key = day.key();
                if let Some(first) = key.get_mut(0..1) {
                    first.make_ascii_uppercase();
                }
                if let Some(week) = key.get_mut(4..5) {
                    week.make_ascii_uppercase();
                }
                format!("{key} {}", self.period)
            }
            None => self.period.clone(),
        }
    }

    /// Whether this slot is `period` on `day`.
    fn is(&self, day: Day, period: &Period) -> bool {
        let day_agrees = match self.day {
            None => true,
            Some(slot) if slot.week.is_none() => slot.weekday == day.weekday,
            Some(slot) => slot == day,
        };
        let wanted = self.period.trim();
        let period_agrees = period.name.eq_ignore_ascii_case(wanted)
            || (!wanted.is_empty()
                && wanted.chars().all(|c| c.is_ascii_digit())
                && period
                    .name
                    .trim_start_matches(|c: char| !c.is_ascii_digit())
                    .trim_start_matches('0')
                    == wanted.trim_start_matches('0'));
        day_agrees && period_agrees
    }
}

/// A period as typed in a form: one row of a day, blank when unused.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PeriodDraft {
    pub name: String,
    pub starts: String,
    pub ends: String,
}

impl PeriodDraft {
    fn is_blank(&self) -> bool {
        self.name.trim().is_empty() && self.starts.trim().is_empty() && self.ends.trim().is_empty()
    }
}

/// Which part of a period row a problem is with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PeriodPart {
    Name,
    Starts,
    Ends,
}

impl PeriodPart {
    /// The form field's name for row `row` (from 1): "name_3", "starts_3", "ends_3".
    pub fn field(self, row: usize) -> String {
        let part = match self {
            PeriodPart::Name => "name",
            PeriodPart::Starts => "starts",
            PeriodPart::Ends => "ends",
        };
        format!("{part}_{row}")
    }
}

/// What is wrong with a timetable change, and where.
#[derive(thiserror::Error, Debug, Clone, PartialEq, Eq)]
pub enum TimetableError {
    /// A problem with one row of a day's periods (rows count from 1, as on the form).
    #[error("{message}")]
    Row {
        row: usize,
        part: PeriodPart,
        message: String,
    },
    /// The day named is not one of this timetable's (a week A day on a one-week timetable).
    #[error("{0}")]
    Day(String),
    /// The first Monday of week A is missing or not a date.
    #[error("{0}")]
    WeekA(String),
}

impl TimetableError {
    /// The form field the problem is about.
    pub fn field(&self) -> String {
        match self {
            TimetableError::Row { row, part, .. } => part.field(*row),
            TimetableError::Day(_) => "day".to_string(),
            TimetableError::WeekA(_) => "week_a".to_string(),
        }
    }
}

fn row_error(row: usize, part: PeriodPart, message: impl Into<String>) -> TimetableError {
    TimetableError::Row {
        row,
        part,
        message: message.into(),
    }
}

/// Reads a time of day typed as "08:45", "8:45" or "08:45:00".
fn parse_time(raw: &str) -> Option<NaiveTime> {
    let raw = raw.trim();
    NaiveTime::parse_from_str(raw, "%H:%M")
        .or_else(|_| NaiveTime::parse_from_str(raw, "%H:%M:%S"))
        .ok()
        .filter(|t| t.nanosecond() == 0)
}

/// Reads one day's periods from the rows typed, blank rows left out: each named, ending after
/// it starts, none overlapping another, names distinct, at most [`MAX_PERIODS_PER_DAY`].
/// Answers them in the order of the day.
pub fn parse_day(rows: &[PeriodDraft]) -> Result<Vec<Period>, TimetableError> {
    let mut periods: Vec<(usize, Period)> = Vec::new();
    for (index, draft) in rows.iter().enumerate() {
        let row = index + 1;
        if draft.is_blank() {
            continue;
        }
        let name = draft.name.trim();
        if name.is_empty() {
            return Err(row_error(row, PeriodPart::Name, "give the period a name"));
        }
        if name.chars().count() > MAX_NAME_CHARS {
            return Err(row_error(
                row,
                PeriodPart::Name,
                format!("a period's name is at most {MAX_NAME_CHARS} characters"),
            ));
        }
        let starts = parse_time(&draft.starts).ok_or_else(|| {
            row_error(
                row,
                PeriodPart::Starts,
                "enter the time it starts, such as 08:45",
            )
        })?;
        let ends = parse_time(&draft.ends).ok_or_else(|| {
            row_error(
                row,
                PeriodPart::Ends,
                "enter the time it ends, such as 09:45",
            )
        })?;
        if ends <= starts {
            return Err(row_error(
                row,
                PeriodPart::Ends,
                format!("must be after its start ({})", starts.format("%H:%M")),
            ));
        }
        if let Some((_, same)) = periods
            .iter()
            .find(|(_, p)| p.name.to_lowercase() == name.to_lowercase())
        {
            return Err(row_error(
                row,
                PeriodPart::Name,
                format!("another period that day is called {}", same.name),
            ));
        }
        periods.push((
            row,
            Period {
                name: name.to_string(),
                starts,
                ends,
            },
        ));
        if periods.len() > MAX_PERIODS_PER_DAY {
            return Err(row_error(
                row,
                PeriodPart::Name,
                format!("a day holds at most {MAX_PERIODS_PER_DAY} periods"),
            ));
        }
    }
    periods.sort_by_key(|(row, p)| (p.starts, *row));
    for pair in periods.windows(2) {
        let ((_, earlier), (row, later)) = (&pair[0], &pair[1]);
        if later.starts < earlier.ends {
            return Err(row_error(
                *row,
                PeriodPart::Starts,
                format!(
                    "overlaps {} ({}): start it at {} or later",
                    earlier.name,
                    earlier.span(),
                    earlier.ends.format("%H:%M")
                ),
            ));
        }
    }
    Ok(periods.into_iter().map(|(_, p)| p).collect())
}

/// The days of a week, by weekday, in the order of the day.
type Days = BTreeMap<Day, Vec<Period>>;

/// A school's timetable: its periods for each day, one week or two.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Timetable {
    days: Days,
    /// On a two-week timetable, the Monday of a week A: weeks alternate from it.
    week_a: Option<NaiveDate>,
}

/// What the timetable says about a moment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Moment<'a> {
    /// In a period.
    Period(&'a Period),
    /// Before the day's first period.
    BeforeSchool,
    /// In a gap between two periods.
    Between,
    /// After the day's last period.
    AfterSchool,
    /// On a day without periods.
    NoLessons,
}

impl<'a> Moment<'a> {
    /// The name reports group the moment under: the period's name, or "Before school" and
    /// the like.
    pub fn label(self) -> &'a str {
        match self {
            Moment::Period(period) => &period.name,
            Moment::BeforeSchool => BEFORE_SCHOOL,
            Moment::Between => BETWEEN_PERIODS,
            Moment::AfterSchool => AFTER_SCHOOL,
            Moment::NoLessons => NO_LESSONS,
        }
    }
}

/// The Monday of the week `day` falls in.
fn monday_of(day: NaiveDate) -> NaiveDate {
    day - chrono::Days::new(u64::from(day.weekday().num_days_from_monday()))
}

impl Default for Timetable {
    fn default() -> Self {
        Timetable::standard()
    }
}

impl Timetable {
    /// The standard timetable, kept by a school that has set none: Period 1 to Period 6 with
    /// a break and lunch, 08:45 to 15:50, Monday to Friday.
    pub fn standard() -> Timetable {
        let time = |(h, m): (u32, u32)| NaiveTime::from_hms_opt(h, m, 0).unwrap_or(NaiveTime::MIN);
        let periods: Vec<Period> = STANDARD
            .iter()
            .map(|(name, starts, ends)| Period {
                name: (*name).to_string(),
                starts: time(*starts),
                ends: time(*ends),
            })
            .collect();
        Timetable {
            days: SCHOOL_WEEKDAYS
                .iter()
                .map(|d| (Day::new(None, *d), periods.clone()))
                .collect(),
            week_a: None,
        }
    }

    /// A timetable as stored: each period with its day, and the Monday of a week A on a
    /// two-week timetable. Stored periods were checked when saved; they are put in the
    /// order of the day, and a period of the wrong kind of week is left out.
    pub fn from_stored(periods: Vec<(Day, Period)>, week_a: Option<NaiveDate>) -> Timetable {
        let week_a = week_a.map(monday_of);
        let mut days = Days::new();
        for (day, period) in periods {
            if day.week.is_some() == week_a.is_some() {
                days.entry(day).or_default().push(period);
            }
        }
        for periods in days.values_mut() {
            periods.sort_by_key(|p| p.starts);
        }
        Timetable { days, week_a }
    }

    /// Whether the timetable has two weeks.
    pub fn is_two_weekly(&self) -> bool {
        self.week_a.is_some()
    }

    /// The Monday of a week A, on a two-week timetable.
    pub fn week_a(&self) -> Option<NaiveDate> {
        self.week_a
    }

    /// The days the school's page shows, in order: Monday to Friday, or week A's then week
    /// B's; and any other day with periods.
    pub fn days(&self) -> Vec<Day> {
        let weeks: Vec<Option<Week>> = if self.is_two_weekly() {
            vec![Some(Week::A), Some(Week::B)]
        } else {
            vec![None]
        };
        let mut days: Vec<Day> = weeks
            .into_iter()
            .flat_map(|week| SCHOOL_WEEKDAYS.iter().map(move |d| Day::new(week, *d)))
            .collect();
        for day in self.days.keys() {
            if !days.contains(day) {
                days.push(*day);
            }
        }
        days.sort();
        days
    }

    /// A day's periods, in the order of the day.
    pub fn periods(&self, day: Day) -> &[Period] {
        self.days.get(&day).map_or(&[], Vec::as_slice)
    }

    /// Every period with its day, for storing.
    pub fn all_periods(&self) -> impl Iterator<Item = (Day, &Period)> {
        self.days
            .iter()
            .flat_map(|(day, periods)| periods.iter().map(move |p| (*day, p)))
    }

    /// The week (on a two-week timetable) a date falls in: weeks alternate from the Monday
    /// of week A, holidays included.
    pub fn week_of(&self, date: NaiveDate) -> Option<Week> {
        let week_a = self.week_a?;
        let weeks = (monday_of(date) - week_a).num_days().div_euclid(7);
        Some(if weeks.rem_euclid(2) == 0 {
            Week::A
        } else {
            Week::B
        })
    }

    /// The timetable's day for a date.
    pub fn day_of(&self, date: NaiveDate) -> Day {
        Day::new(self.week_of(date), date.weekday())
    }

    /// What the timetable says about a moment, read in London time: the one place a time
    /// becomes a lesson period.
    pub fn moment_at(&self, at: DateTime<Utc>) -> Moment<'_> {
        let local = at.with_timezone(&SCHOOL_TZ);
        let periods = self.periods(self.day_of(local.date_naive()));
        let time = local.time();
        let (Some(first), Some(last)) = (periods.first(), periods.last()) else {
            return Moment::NoLessons;
        };
        if time < first.starts {
            return Moment::BeforeSchool;
        }
        if time >= last.ends {
            return Moment::AfterSchool;
        }
        periods
            .iter()
            .find(|p| p.contains(time))
            .map_or(Moment::Between, Moment::Period)
    }

    /// Whether the moment `at` falls in one of `slots`: a class meeting then is being taught.
    pub fn is_in_slots(&self, at: DateTime<Utc>, slots: &[LessonSlot]) -> bool {
        let Moment::Period(period) = self.moment_at(at) else {
            return false;
        };
        let day = self.day_of(at.with_timezone(&SCHOOL_TZ).date_naive());
        slots.iter().any(|slot| slot.is(day, period))
    }

    /// The name of the period a moment falls in, or "Before school", "Between periods",
    /// "After school" or "No lessons that day": what the pattern reports group by.
    pub fn label_at(&self, at: DateTime<Utc>) -> &str {
        self.moment_at(at).label()
    }

    /// Where a label comes in the school day, for ordering report groups: before school,
    /// then the periods by their earliest start in the week, between periods, after school,
    /// days without lessons. A label the timetable does not know comes last.
    pub fn position(&self, label: &str) -> usize {
        let mut named: Vec<(NaiveTime, &str)> = Vec::new();
        for period in self.days.values().flatten() {
            match named.iter_mut().find(|(_, name)| *name == period.name) {
                Some(entry) => entry.0 = entry.0.min(period.starts),
                None => named.push((period.starts, &period.name)),
            }
        }
        named.sort();
        if label == BEFORE_SCHOOL {
            return 0;
        }
        if let Some(i) = named.iter().position(|(_, name)| *name == label) {
            return i + 1;
        }
        let after = named.len() + 1;
        match label {
            BETWEEN_PERIODS => after,
            AFTER_SCHOOL => after + 1,
            NO_LESSONS => after + 2,
            _ => after + 3,
        }
    }

    /// The timetable with one day's periods replaced by those typed (blank rows left out).
    pub fn with_day(&self, day: Day, rows: &[PeriodDraft]) -> Result<Timetable, TimetableError> {
        if day.week.is_some() != self.is_two_weekly() {
            return Err(TimetableError::Day(if self.is_two_weekly() {
                "choose a day of week A or week B".into()
            } else {
                "this timetable is the same every week: choose a weekday".into()
            }));
        }
        let periods = parse_day(rows)?;
        let mut next = self.clone();
        if periods.is_empty() {
            next.days.remove(&day);
        } else {
            next.days.insert(day, periods);
        }
        Ok(next)
    }

    /// The timetable on one week (`week_a` `None`) or two weeks alternating from the week of
    /// `week_a`. Going to two weeks, both weeks start as the one week was; going back to one,
    /// week A's periods are kept for every week.
    pub fn with_weeks(&self, week_a: Option<NaiveDate>) -> Timetable {
        let week_a = week_a.map(monday_of);
        let days = match (self.is_two_weekly(), week_a.is_some()) {
            (false, true) => self
                .days
                .iter()
                .flat_map(|(day, periods)| {
                    [Week::A, Week::B].map(|week| {
                        (
                            Day {
                                week: Some(week),
                                ..*day
                            },
                            periods.clone(),
                        )
                    })
                })
                .collect(),
            (true, false) => self
                .days
                .iter()
                .filter(|(day, _)| day.week == Some(Week::A))
                .map(|(day, periods)| (Day { week: None, ..*day }, periods.clone()))
                .collect(),
            _ => self.days.clone(),
        };
        Timetable { days, week_a }
    }
}

/// Reads the "first Monday of week A" typed on the form: a date, blank for one week.
pub fn parse_week_a(two_weeks: bool, raw: &str) -> Result<Option<NaiveDate>, TimetableError> {
    if !two_weeks {
        return Ok(None);
    }
    let raw = raw.trim();
    if raw.is_empty() {
        return Err(TimetableError::WeekA(
            "give the date of a Monday in week A".into(),
        ));
    }
    NaiveDate::parse_from_str(raw, "%Y-%m-%d")
        .map(|d| Some(monday_of(d)))
        .map_err(|_| TimetableError::WeekA("must be a date, such as 2026-09-07".into()))
}

/// Minutes after midnight of a time of day, as stored.
pub fn minutes_of(t: NaiveTime) -> i16 {
    i16::try_from(t.hour() * 60 + t.minute()).unwrap_or(0)
}

/// The time of day `minutes` after midnight, as stored; `None` outside the day.
pub fn time_of_minutes(minutes: i16) -> Option<NaiveTime> {
    let minutes = u32::try_from(minutes).ok()?;
    NaiveTime::from_hms_opt(minutes / 60, minutes % 60, 0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn draft(name: &str, starts: &str, ends: &str) -> PeriodDraft {
        PeriodDraft {
            name: name.into(),
            starts: starts.into(),
            ends: ends.into(),
        }
    }

    fn utc(y: i32, m: u32, d: u32, h: u32, min: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(y, m, d, h, min, 0).unwrap()
    }

    fn date(y: i32, m: u32, d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, d).unwrap()
    }

    #[test]
    fn the_standard_timetable_reads_london_time_in_summer_and_winter() {
        let t = Timetable::standard();
        // 09:00 London is 08:00 UTC in summer time and 09:00 UTC in winter.
        assert_eq!(t.label_at(utc(2025, 10, 20, 8, 0)), "Period 1");
        assert_eq!(t.label_at(utc(2025, 11, 3, 9, 0)), "Period 1");
        // 08:30 UTC on a summer Monday is 09:30 London, still Period 1; in winter it is
        // before school.
        assert_eq!(t.label_at(utc(2025, 10, 20, 8, 30)), "Period 1");
        assert_eq!(t.label_at(utc(2025, 11, 3, 8, 30)), BEFORE_SCHOOL);
        assert_eq!(t.label_at(utc(2025, 11, 3, 13, 10)), "Lunch");
        assert_eq!(t.label_at(utc(2025, 11, 3, 7, 30)), BEFORE_SCHOOL);
        // A period's end belongs to the next one; the last one's to after school.
        assert_eq!(t.label_at(utc(2025, 11, 3, 9, 45)), "Period 2");
        assert_eq!(t.label_at(utc(2025, 11, 3, 15, 50)), AFTER_SCHOOL);
        // Saturday has no lessons.
        assert_eq!(t.label_at(utc(2025, 11, 8, 10, 0)), NO_LESSONS);
    }

    #[test]
    fn the_clock_change_days_read_their_own_offset() {
        let t = Timetable::standard();
        // Sunday 30 March 2025 the clocks went forward; Monday 31 March 08:50 UTC is 09:50
        // BST: Period 2. Monday 27 October (GMT again) 08:50 UTC is 08:50: Period 1.
        assert_eq!(t.label_at(utc(2025, 3, 31, 8, 50)), "Period 2");
        assert_eq!(t.label_at(utc(2025, 10, 27, 8, 50)), "Period 1");
        // Friday 28 March, still GMT: 08:50 UTC is Period 1.
        assert_eq!(t.label_at(utc(2025, 3, 28, 8, 50)), "Period 1");
    }

    #[test]
    fn a_day_is_checked_row_by_row() {
        let ok = parse_day(&[
            draft("Period 2", "10:00", "11:00"),
            draft("", "", ""),
            draft(" Period 1 ", "9:00", "10:00"),
        ])
        .unwrap();
        assert_eq!(
            ok.iter().map(|p| p.name.as_str()).collect::<Vec<_>>(),
            vec!["Period 1", "Period 2"]
        );
        let err = parse_day(&[draft("P1", "10:00", "10:00")]).unwrap_err();
        assert_eq!(err.field(), "ends_1");
        assert!(err.to_string().contains("after its start"));
        let err = parse_day(&[draft("", "10:00", "11:00")]).unwrap_err();
        assert_eq!(err.field(), "name_1");
        let err = parse_day(&[draft("P1", "ten", "11:00")]).unwrap_err();
        assert_eq!(err.field(), "starts_1");
        let err = parse_day(&[draft("P1", "10:00", "25:00")]).unwrap_err();
        assert_eq!(err.field(), "ends_1");
        let err =
            parse_day(&[draft("P1", "09:00", "10:00"), draft("p1", "10:00", "11:00")]).unwrap_err();
        assert_eq!(err.field(), "name_2");
    }

    #[test]
    fn overlaps_are_refused_at_the_later_period() {
        let err = parse_day(&[
            draft("Period 2", "09:50", "10:50"),
            draft("Period 1", "09:00", "10:00"),
        ])
        .unwrap_err();
        assert_eq!(err.field(), "starts_1");
        assert_eq!(
            err.to_string(),
            "overlaps Period 1 (09:00 to 10:00): start it at 10:00 or later"
        );
        // Touching is fine.
        assert!(parse_day(&[
            draft("Period 1", "09:00", "10:00"),
            draft("Period 2", "10:00", "11:00"),
        ])
        .is_ok());
    }

    #[test]
    fn a_day_holds_at_most_twelve_periods() {
        let rows: Vec<PeriodDraft> = (0..13)
            .map(|i| {
                draft(
                    &format!("P{i}"),
                    &format!("{:02}:00", 7 + i),
                    &format!("{:02}:30", 7 + i),
                )
            })
            .collect();
        assert_eq!(parse_day(&rows[..12]).unwrap().len(), 12);
        let err = parse_day(&rows).unwrap_err();
        assert_eq!(err.field(), "name_13");
    }

    #[test]
    fn gaps_and_empty_days_have_their_own_labels() {
        let t = Timetable::standard()
            .with_day(
                Day::new(None, Weekday::Wed),
                &[
                    draft("Registration", "08:30", "08:45"),
                    draft("Lesson 1", "09:00", "10:00"),
                ],
            )
            .unwrap()
            .with_day(Day::new(None, Weekday::Fri), &[])
            .unwrap();
        // Wednesday 5 November 2025 (GMT).
        assert_eq!(t.label_at(utc(2025, 11, 5, 8, 40)), "Registration");
        assert_eq!(t.label_at(utc(2025, 11, 5, 8, 50)), BETWEEN_PERIODS);
        assert_eq!(t.label_at(utc(2025, 11, 5, 9, 30)), "Lesson 1");
        assert_eq!(t.label_at(utc(2025, 11, 5, 10, 30)), AFTER_SCHOOL);
        assert_eq!(t.label_at(utc(2025, 11, 7, 10, 0)), NO_LESSONS);
        // Ordering: before school, periods by their earliest start, then the rest.
        assert!(t.position(BEFORE_SCHOOL) < t.position("Registration"));
        assert!(t.position("Registration") < t.position("Period 1"));
        assert!(t.position("Period 1") < t.position("Lesson 1"));
        assert!(t.position("Period 6") < t.position(BETWEEN_PERIODS));
        assert!(t.position(BETWEEN_PERIODS) < t.position(AFTER_SCHOOL));
        assert!(t.position(AFTER_SCHOOL) < t.position(NO_LESSONS));
        assert!(t.position(NO_LESSONS) < t.position("Something else"));
    }

    #[test]
    fn two_weeks_alternate_from_week_a() {
        // Week A starts Monday 1 September 2025 (named by any day of that week).
        let t = Timetable::standard().with_weeks(Some(date(2025, 9, 3)));
        assert_eq!(t.week_a(), Some(date(2025, 9, 1)));
        assert_eq!(t.week_of(date(2025, 9, 5)), Some(Week::A));
        assert_eq!(t.week_of(date(2025, 9, 8)), Some(Week::B));
        assert_eq!(t.week_of(date(2025, 9, 15)), Some(Week::A));
        assert_eq!(t.week_of(date(2025, 8, 25)), Some(Week::B));
        let b_monday = Day::new(Some(Week::B), Weekday::Mon);
        assert_eq!(t.periods(b_monday).len(), 8);
        let t = t
            .with_day(b_monday, &[draft("Games", "13:00", "15:00")])
            .unwrap();
        // Monday 8 September is week B: games after lunch; Monday 15 is week A again.
        assert_eq!(t.label_at(utc(2025, 9, 8, 13, 30)), "Games");
        assert_eq!(t.label_at(utc(2025, 9, 15, 13, 30)), "Period 5");
        // A week A/B day only on a two-week timetable, and the other way round.
        assert!(matches!(
            t.with_day(Day::new(None, Weekday::Mon), &[]),
            Err(TimetableError::Day(_))
        ));
        assert!(matches!(
            Timetable::standard().with_day(b_monday, &[]),
            Err(TimetableError::Day(_))
        ));
        // Back to one week keeps week A's days.
        let one = t.with_weeks(None);
        assert!(!one.is_two_weekly());
        assert_eq!(one.periods(Day::new(None, Weekday::Mon)).len(), 8);
        assert_eq!(one.days().len(), 5);
    }

    #[test]
    fn stored_timetables_come_back_in_the_order_of_the_day() {
        let time = |h, m| NaiveTime::from_hms_opt(h, m, 0).unwrap();
        let monday = Day::new(None, Weekday::Mon);
        let stored = vec![
            (
                monday,
                Period {
                    name: "Late".into(),
                    starts: time(10, 0),
                    ends: time(11, 0),
                },
            ),
            (
                monday,
                Period {
                    name: "Early".into(),
                    starts: time(9, 0),
                    ends: time(10, 0),
                },
            ),
            // A week B day on a one-week timetable is left out.
            (
                Day::new(Some(Week::B), Weekday::Mon),
                Period {
                    name: "Stray".into(),
                    starts: time(9, 0),
                    ends: time(10, 0),
                },
            ),
        ];
        let t = Timetable::from_stored(stored, None);
        assert_eq!(
            t.periods(monday)
                .iter()
                .map(|p| p.name.as_str())
                .collect::<Vec<_>>(),
            vec!["Early", "Late"]
        );
        assert_eq!(t.all_periods().count(), 2);
        assert_eq!(Day::from_iso(None, monday.iso_number()), Some(monday));
        assert_eq!(Day::from_iso(None, 8), None);
        let b_friday = Day::new(Some(Week::B), Weekday::Fri);
        assert_eq!(b_friday.key(), "fri-b");
        assert_eq!(Day::parse_key("fri-b"), Some(b_friday));
        assert_eq!(Day::parse_key("mon"), Some(monday));
        assert_eq!(Day::parse_key("mon-c"), None);
        assert_eq!(Day::parse_key("someday"), None);
        assert_eq!(b_friday.title(), "Friday, week B");
        assert_eq!(
            time_of_minutes(minutes_of(time(13, 50))),
            Some(time(13, 50))
        );
        assert_eq!(time_of_minutes(24 * 60), None);
    }

    #[test]
    fn week_a_is_a_date_when_two_weeks_are_chosen() {
        assert_eq!(parse_week_a(false, "nonsense"), Ok(None));
        assert_eq!(parse_week_a(true, "2026-09-09"), Ok(Some(date(2026, 9, 7))));
        assert_eq!(parse_week_a(true, "").unwrap_err().field(), "week_a");
        assert_eq!(parse_week_a(true, "soon").unwrap_err().field(), "week_a");
    }

    #[test]
    fn lesson_slots_are_read_as_timetable_exports_write_them() {
        let slot = |raw: &str| LessonSlot::parse(raw).unwrap();
        assert_eq!(slot("1").day, None);
        assert_eq!(slot("Period 3").period, "Period 3");
        assert_eq!(slot("Mon 1").day, Some(Day::new(None, Weekday::Mon)));
        assert_eq!(
            slot("tuesday:Period 2").day,
            Some(Day::new(None, Weekday::Tue))
        );
        assert_eq!(
            slot("Wed-A 4").day,
            Some(Day::new(Some(Week::A), Weekday::Wed))
        );
        assert_eq!(
            slot("ThuB 5").day,
            Some(Day::new(Some(Week::B), Weekday::Thu))
        );
        assert_eq!(slot("Wed-A 4").label(), "Wed-A 4");
        assert_eq!(slot("mon 1").label(), "Mon 1");
        assert_eq!(slot("Mon").day, None, "a lone word is a period's name");
        assert!(LessonSlot::parse("Mon:").unwrap_err().contains("no period"));
        assert!(LessonSlot::parse(" ").is_err());
        assert_eq!(LessonSlot::parse_list("1, 4,,Fri 6").unwrap().len(), 3);
        assert!(LessonSlot::parse_list("1,Mon:").is_err());
    }

    #[test]
    fn a_class_is_taught_now_when_the_moment_falls_in_one_of_its_slots() {
        let timetable = Timetable::standard();
        // Monday 7 December 2026, 09:00 in London (GMT): Period 1.
        let monday_nine = Utc.with_ymd_and_hms(2026, 12, 7, 9, 0, 0).unwrap();
        let slots = |raw: &str| LessonSlot::parse_list(raw).unwrap();
        assert!(timetable.is_in_slots(monday_nine, &slots("1")));
        assert!(timetable.is_in_slots(monday_nine, &slots("Mon 1")));
        assert!(timetable.is_in_slots(monday_nine, &slots("Monday:Period 1")));
        assert!(timetable.is_in_slots(monday_nine, &slots("3, mon 01")));
        assert!(!timetable.is_in_slots(monday_nine, &slots("Tue 1")));
        assert!(!timetable.is_in_slots(monday_nine, &slots("2")));
        assert!(!timetable.is_in_slots(monday_nine, &slots("11")));
        // Break is no lesson, whatever the slots say.
        let break_time = Utc.with_ymd_and_hms(2026, 12, 7, 10, 50, 0).unwrap();
        assert!(!timetable.is_in_slots(break_time, &slots("1,2,3,4,5,6")));
        // On a two-week timetable whose week A began on 30 November, 7 December is in week
        // B: a slot of week A is not taught then, one of every week is.
        let two_weeks = timetable.with_weeks(Some(date(2026, 11, 30)));
        assert!(two_weeks.is_in_slots(monday_nine, &slots("Mon-B 1")));
        assert!(!two_weeks.is_in_slots(monday_nine, &slots("Mon-A 1")));
        assert!(two_weeks.is_in_slots(monday_nine, &slots("Mon 1")));
    }
}
