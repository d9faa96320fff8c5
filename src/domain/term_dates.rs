//! Term dates from the iCalendar files (RFC 5545) that local authorities and schools
//! publish: whole-day events named as holidays, half terms, bank holidays or INSET (staff
//! training) days become the school's closures; every other event (term starts, timed
//! events, parents' evenings) is listed as skipped, with why. Also the one check a closure
//! typed on the calendar page passes, and the comparison of a file with the closures held.
//!
//! Pure: the file's text, the stored closures and today come in; what to add and change goes
//! out, and `db::calendar` applies it.

use std::collections::HashMap;

use chrono::{Datelike, NaiveDate, NaiveDateTime, NaiveTime, TimeDelta};

use super::calendar::{Closure, ClosureKind};
use super::details::{refuse, DetailError};
use super::import::RowError;
use super::roster::FieldChange;

/// How far from today, in years either way, a closure typed on the calendar page may lie;
/// a file's events further ahead than this are skipped.
pub const MAX_YEARS_AWAY: i32 = 5;

/// How long ago, in years, a file's closures may have ended (a file may keep the dates of
/// years gone by, which still count for the reports over them).
pub const MAX_YEARS_PAST_IN_FILE: i32 = 20;

/// The longest closure, in calendar days: a summer holiday is about 45.
pub const MAX_CLOSURE_DAYS: i64 = 100;

/// The longest name a closure may have, in characters.
pub const MAX_CLOSURE_NAME_CHARS: usize = 200;

/// A closure read from a file, with the line its event starts on (`BEGIN:VEVENT`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DatedClosure {
    /// The line of `BEGIN:VEVENT`.
    pub line: usize,
    /// The dates, kind and name the event gives.
    pub closure: Closure,
}

/// An event of the file that is not a closure, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SkippedEvent {
    /// The line of `BEGIN:VEVENT`.
    pub line: usize,
    /// Its SUMMARY (blank when it has none).
    pub summary: String,
    /// Why it is not read as a closure.
    pub reason: String,
}

/// What a term-dates file holds: its closures, and the events skipped.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct TermDates {
    /// Whole-day holidays, half terms, bank holidays and INSET days, in file order.
    pub closures: Vec<DatedClosure>,
    /// Every other event, in file order.
    pub skipped: Vec<SkippedEvent>,
}

/// One logical line of the file (folded lines joined), with the line it starts on.
#[derive(Debug, Clone, PartialEq, Eq)]
struct ContentLine {
    number: usize,
    text: String,
}

/// Joins folded lines (RFC 5545 3.1: a line break followed by one space or tab continues
/// the line). The `ical` crate's own line reader trims the space a fold may end with, which
/// would glue two words of a long SUMMARY together, so unfolding is done here.
fn unfold(text: &str) -> Vec<ContentLine> {
    let mut lines: Vec<ContentLine> = Vec::new();
    for (index, raw) in text.split('\n').enumerate() {
        let raw = raw.strip_suffix('\r').unwrap_or(raw);
        let continued = raw.starts_with([' ', '\t']);
        match lines.last_mut() {
            Some(last) if continued => last.text.push_str(&raw[1..]),
            _ if raw.trim().is_empty() => {}
            _ => lines.push(ContentLine {
                number: index + 1,
                text: raw.to_string(),
            }),
        }
    }
    lines
}

/// A property of an event: its name (upper case), parameters, value and line.
#[derive(Debug, Clone)]
struct Property {
    line: usize,
    name: String,
    params: Vec<(String, Vec<String>)>,
    value: String,
}

impl Property {
    /// The first value of a parameter, such as `VALUE` (parameter names are upper case).
    fn param(&self, name: &str) -> Option<&str> {
        self.params
            .iter()
            .find(|(n, _)| n == name)
            .and_then(|(_, values)| values.first())
            .map(String::as_str)
    }
}

/// Reads one content line as a property with the `ical` crate's property parser.
fn property_of(line: &ContentLine) -> Result<Property, RowError> {
    let parsed = ical::PropertyParser::from_reader(line.text.as_bytes()).next();
    match parsed {
        Some(Ok(property)) => Ok(Property {
            line: line.number,
            name: property.name.trim().to_ascii_uppercase(),
            params: property.params.unwrap_or_default(),
            value: property.value.unwrap_or_default(),
        }),
        _ => Err(RowError::new(
            line.number,
            "",
            "the line cannot be read as an iCalendar property (NAME:value)",
        )),
    }
}

/// One `VEVENT` of the file: the line it begins on and its own properties (those of an alarm
/// inside it left out).
#[derive(Debug, Clone)]
struct Event {
    line: usize,
    properties: Vec<Property>,
}

impl Event {
    fn get(&self, name: &str) -> Option<&Property> {
        self.properties.iter().find(|p| p.name == name)
    }
}

/// The events of an iCalendar text, or the problems with its structure.
fn events_of(text: &str) -> Result<Vec<Event>, Vec<RowError>> {
    let lines = unfold(text);
    let Some(first) = lines.first() else {
        return Err(vec![RowError::new(1, "", "the file is empty")]);
    };
    let starts_right = first.text.split_once(':').is_some_and(|(name, value)| {
        name.trim().eq_ignore_ascii_case("BEGIN") && value.trim().eq_ignore_ascii_case("VCALENDAR")
    });
    if !starts_right {
        return Err(vec![RowError::new(
            first.number,
            "",
            "this is not an iCalendar file: it should start with BEGIN:VCALENDAR",
        )]);
    }
    let mut problems = Vec::new();
    let mut events = Vec::new();
    let mut open: Vec<(String, usize)> = Vec::new();
    let mut event: Option<Event> = None;
    for line in &lines {
        let property = match property_of(line) {
            Ok(property) => property,
            Err(problem) => {
                problems.push(problem);
                continue;
            }
        };
        if open.is_empty()
            && !(property.name == "BEGIN"
                && property.value.trim().eq_ignore_ascii_case("VCALENDAR"))
        {
            problems.push(RowError::new(
                line.number,
                property.name.clone(),
                "only BEGIN:VCALENDAR may follow END:VCALENDAR",
            ));
            break;
        }
        match property.name.as_str() {
            "BEGIN" => {
                let component = property.value.trim().to_ascii_uppercase();
                if component == "VEVENT" && open.len() == 1 {
                    event = Some(Event {
                        line: line.number,
                        properties: Vec::new(),
                    });
                }
                open.push((component, line.number));
            }
            "END" => {
                let component = property.value.trim().to_ascii_uppercase();
                match open.pop() {
                    // An event of the calendar itself (not one nested deeper) is complete.
                    Some((begun, _))
                        if begun == component && begun == "VEVENT" && open.len() == 1 =>
                    {
                        events.extend(event.take());
                    }
                    Some((begun, _)) if begun == component => {}
                    Some((begun, begun_on)) => {
                        problems.push(RowError::new(
                            line.number,
                            "END",
                            format!("END:{component} closes BEGIN:{begun} of line {begun_on}"),
                        ));
                        break;
                    }
                    None => {}
                }
            }
            _ => {
                if open.len() == 2 {
                    if let Some(event) = event.as_mut() {
                        event.properties.push(property);
                    }
                }
            }
        }
    }
    if problems.is_empty() {
        if let Some((component, begun_on)) = open.last() {
            let last = lines.last().map_or(1, |l| l.number);
            problems.push(RowError::new(
                last,
                "END",
                format!("the file ends before END:{component} (BEGIN:{component} is on line {begun_on})"),
            ));
        }
    }
    if problems.is_empty() {
        Ok(events)
    } else {
        Err(problems)
    }
}

/// A TEXT value with its escapes read (RFC 5545 3.3.11); line breaks become spaces, as a
/// closure's name is one line.
fn unescape(raw: &str) -> String {
    let mut text = String::with_capacity(raw.len());
    let mut chars = raw.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            text.push(if c.is_control() { ' ' } else { c });
            continue;
        }
        match chars.next() {
            Some('n' | 'N') => text.push(' '),
            Some(other) => text.push(other),
            None => text.push('\\'),
        }
    }
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// A DTSTART or DTEND value: a whole date, or a date and time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum When {
    Date(NaiveDate),
    Time(NaiveDateTime),
}

impl When {
    fn date(self) -> NaiveDate {
        match self {
            When::Date(d) => d,
            When::Time(t) => t.date(),
        }
    }
}

/// Reads a `YYYYMMDD` date or a `YYYYMMDDTHHMMSS[Z]` date and time.
fn read_when(property: &Property) -> Result<When, RowError> {
    let raw = property.value.trim();
    let refuse = || {
        RowError::new(
            property.line,
            property.name.clone(),
            format!("{raw:?} is not a date: iCalendar writes dates as YYYYMMDD (such as 20251027)"),
        )
    };
    let is_date = |s: &str| s.len() == 8 && s.bytes().all(|b| b.is_ascii_digit());
    let wants_date = property
        .param("VALUE")
        .is_some_and(|v| v.eq_ignore_ascii_case("DATE"));
    if is_date(raw) {
        return NaiveDate::parse_from_str(raw, "%Y%m%d")
            .map(When::Date)
            .map_err(|_| refuse());
    }
    if wants_date {
        return Err(refuse());
    }
    let time = raw.strip_suffix(['Z', 'z']).unwrap_or(raw);
    match time.split_once(['T', 't']) {
        Some((date, clock))
            if is_date(date) && clock.len() == 6 && clock.bytes().all(|b| b.is_ascii_digit()) =>
        {
            NaiveDateTime::parse_from_str(&format!("{date}T{clock}"), "%Y%m%dT%H%M%S")
                .map(When::Time)
                .map_err(|_| refuse())
        }
        _ => Err(refuse()),
    }
}

/// Reads a whole number of days or weeks (`P1D`, `P5D`, `P2W`, `P1DT0H0M0S`) as days.
fn read_duration(property: &Property) -> Result<i64, RowError> {
    let raw = property.value.trim().to_ascii_uppercase();
    let refuse = || {
        RowError::new(
            property.line,
            "DURATION",
            format!("{raw:?} is not a whole number of days (such as P5D) or weeks (such as P1W)"),
        )
    };
    let body = raw
        .strip_prefix('+')
        .unwrap_or(&raw)
        .strip_prefix('P')
        .ok_or_else(refuse)?;
    let (days_part, time_part) = body.split_once('T').unwrap_or((body, ""));
    if !time_part.is_empty()
        && !["0H", "0M", "0S"]
            .iter()
            .fold(time_part.to_string(), |rest, zero| rest.replace(zero, ""))
            .is_empty()
    {
        return Err(refuse());
    }
    let number = |s: &str| s.parse::<i64>().map_err(|_| refuse());
    if let Some(weeks) = days_part.strip_suffix('W') {
        return Ok(number(weeks)? * 7);
    }
    if let Some(days) = days_part.strip_suffix('D') {
        return number(days);
    }
    Err(refuse())
}

/// The words of a SUMMARY for matching: lower case letters and digits, single spaces, with
/// a space either side.
fn words(summary: &str) -> String {
    let spaced: String = summary
        .chars()
        .map(|c| {
            if c.is_alphanumeric() {
                c.to_ascii_lowercase()
            } else {
                ' '
            }
        })
        .collect();
    format!(
        " {} ",
        spaced.split_whitespace().collect::<Vec<_>>().join(" ")
    )
}

/// Words of a SUMMARY that name a day of term rather than a closure ("Last day of term",
/// "Half term starts", "School reopens").
const TERM_DAY_WORDS: &[&str] = &[
    " last day",
    " first day",
    " start",
    " starts",
    " begin",
    " begins",
    " ends",
    " return",
    " returns",
    " reopen",
    " reopens",
    " open",
    " opens",
];

/// What a SUMMARY naming a staff training day says.
const INSET_WORDS: &[&str] = &[
    " inset",
    " training day",
    " teacher training",
    " staff training",
    " staff development",
    " professional development",
    " non pupil day",
    " pupil free day",
];

/// What a SUMMARY naming a holiday says, English bank holidays by name included.
const HOLIDAY_WORDS: &[&str] = &[
    " holiday",
    " half term",
    " halfterm",
    " good friday",
    " easter monday",
    " christmas day",
    " boxing day",
    " new year s day",
    " may day",
    " occasional day",
    " school closed",
    " schools closed",
    " closure day",
];

/// Whether the words of a SUMMARY (see [`words`]) hold one of `list`, as whole words (a
/// plural may follow).
fn says_any(text: &str, list: &[&str]) -> bool {
    list.iter().any(|w| {
        text.match_indices(w).any(|(at, _)| {
            text[at + w.len()..]
                .chars()
                .next()
                .is_some_and(|c| c == ' ' || c == 's')
        })
    })
}

/// Whether a SUMMARY names a day of term (a start, an end, a return), such as "Last day
/// before half term".
fn names_a_day_of_term(summary: &str) -> bool {
    says_any(&words(summary), TERM_DAY_WORDS)
}

/// The kind of closure a SUMMARY names, or `None` when it names none (or names a day of
/// term, such as "Last day before half term").
pub fn closure_kind(summary: &str) -> Option<ClosureKind> {
    let text = words(summary);
    if says_any(&text, TERM_DAY_WORDS) {
        return None;
    }
    if says_any(&text, INSET_WORDS) {
        return Some(ClosureKind::Inset);
    }
    says_any(&text, HOLIDAY_WORDS).then_some(ClosureKind::Holiday)
}

/// What reading one event gives.
enum Reading {
    Closure(DatedClosure),
    Skipped(SkippedEvent),
}

/// Why a closure from `starts_on` to `ends_on` (not before it) is too long, if it is.
fn length_problem(starts_on: NaiveDate, ends_on: NaiveDate) -> Option<String> {
    let days = (ends_on - starts_on).num_days() + 1;
    (days > MAX_CLOSURE_DAYS)
        .then(|| format!("lasts {days} days; a closure lasts at most {MAX_CLOSURE_DAYS} days"))
}

/// Why a closure's dates are out of bounds, and the field at fault: an end before the
/// start, a closure too long, or dates too far from today.
fn dates_in_bounds(
    starts_on: NaiveDate,
    ends_on: NaiveDate,
    today: NaiveDate,
) -> Result<(), (&'static str, String)> {
    if ends_on < starts_on {
        return Err((
            "ends_on",
            format!("ends on {ends_on}, before it starts on {starts_on}"),
        ));
    }
    if let Some(problem) = length_problem(starts_on, ends_on) {
        return Err(("ends_on", problem));
    }
    distance_problem(starts_on, ends_on, today)
}

/// Why a closure's dates lie too far from today, and the field at fault.
fn distance_problem(
    starts_on: NaiveDate,
    ends_on: NaiveDate,
    today: NaiveDate,
) -> Result<(), (&'static str, String)> {
    let earliest = years_from(today, -MAX_YEARS_AWAY);
    let latest = years_from(today, MAX_YEARS_AWAY);
    if starts_on > latest {
        return Err((
            "starts_on",
            format!("starts on {starts_on}, more than {MAX_YEARS_AWAY} years from today"),
        ));
    }
    if ends_on < earliest {
        return Err((
            "ends_on",
            format!("ended on {ends_on}, more than {MAX_YEARS_AWAY} years ago"),
        ));
    }
    Ok(())
}

/// `today` moved by whole years (29 February becomes 28 February).
fn years_from(today: NaiveDate, years: i32) -> NaiveDate {
    let year = today.year() + years;
    NaiveDate::from_ymd_opt(year, today.month(), today.day())
        .or_else(|| NaiveDate::from_ymd_opt(year, today.month(), 28))
        .unwrap_or(today)
}

fn read_event(event: &Event, today: NaiveDate) -> Result<Reading, Vec<RowError>> {
    let summary = event
        .get("SUMMARY")
        .map(|p| unescape(&p.value))
        .unwrap_or_default();
    let skip = |reason: String| {
        Ok(Reading::Skipped(SkippedEvent {
            line: event.line,
            summary: summary.clone(),
            reason,
        }))
    };
    let Some(start_property) = event.get("DTSTART") else {
        let what = if summary.is_empty() {
            "the event".to_string()
        } else {
            format!("the event {summary:?}")
        };
        return Err(vec![RowError::new(
            event.line,
            "DTSTART",
            format!("{what} has no DTSTART (its first day)"),
        )]);
    };
    let mut problems = Vec::new();
    let start = read_when(start_property).map_err(|e| problems.push(e)).ok();
    let end_property = event.get("DTEND");
    let end = end_property
        .map(read_when)
        .transpose()
        .map_err(|e| problems.push(e))
        .ok()
        .flatten();
    let duration_property = event.get("DURATION").filter(|_| end_property.is_none());
    let duration = duration_property
        .map(read_duration)
        .transpose()
        .map_err(|e| problems.push(e))
        .ok()
        .flatten();
    let Some(start) = start else {
        return Err(problems);
    };
    if !problems.is_empty() {
        return Err(problems);
    }
    if let (Some(end), Some(end_property)) = (end, end_property) {
        let before = match (start, end) {
            (When::Time(from), When::Time(to)) => to < from,
            _ => end.date() < start.date(),
        };
        if before {
            return Err(vec![RowError::new(
                end_property.line,
                "DTEND",
                format!(
                    "DTEND ({}) is before DTSTART ({})",
                    end_property.value.trim(),
                    start_property.value.trim()
                ),
            )]);
        }
    }
    if let (Some(days), Some(property)) = (duration, duration_property) {
        if days < 0 {
            return Err(vec![RowError::new(
                property.line,
                "DURATION",
                "DURATION is negative: the event would end before it starts",
            )]);
        }
    }
    if event.get("RRULE").is_some() || event.get("RDATE").is_some() {
        return skip(
            "it repeats (RRULE): repeating events are not read; add its dates by hand".into(),
        );
    }
    if event
        .get("STATUS")
        .is_some_and(|s| s.value.trim().eq_ignore_ascii_case("CANCELLED"))
    {
        return skip("it is cancelled (STATUS:CANCELLED)".into());
    }
    // Whole days: DTEND is the day after the last (RFC 5545 3.6.1); a DTEND on DTSTART's own
    // day, which some calendars write, is read as that one day. An event from midnight to
    // a later midnight is whole days too.
    let (starts_on, ends_on) = match (start, end) {
        (When::Date(first), None) => {
            let days = duration.unwrap_or(1).max(1);
            (first, shift(first, days - 1))
        }
        (When::Date(first), Some(end)) => (first, shift(end.date(), -1).max(first)),
        (When::Time(from), Some(When::Time(to)))
            if from.time() == NaiveTime::MIN && to.time() == NaiveTime::MIN && to > from =>
        {
            (from.date(), shift(to.date(), -1))
        }
        (When::Time(from), _) => {
            return skip(format!(
                "it is a timed event (from {}), not whole days",
                from.format("%H:%M on %-d %b %Y")
            ));
        }
    };
    if summary.is_empty() {
        return skip("it has no SUMMARY to say what it is".into());
    }
    let Some(kind) = closure_kind(&summary) else {
        if names_a_day_of_term(&summary) {
            return skip(
                "it marks a day of term (a start, an end, a return), not a closure".into(),
            );
        }
        return skip("it does not name a holiday, half term, bank holiday or INSET day".into());
    };
    if summary.chars().count() > MAX_CLOSURE_NAME_CHARS {
        let line = event.get("SUMMARY").map_or(event.line, |p| p.line);
        return Err(vec![RowError::new(
            line,
            "SUMMARY",
            format!("the SUMMARY is longer than {MAX_CLOSURE_NAME_CHARS} characters"),
        )]);
    }
    if let Some(message) = length_problem(starts_on, ends_on) {
        let line = end_property
            .or(duration_property)
            .map_or(event.line, |p| p.line);
        let column = if end_property.is_some() {
            "DTEND"
        } else {
            "DURATION"
        };
        return Err(vec![RowError::new(
            line,
            column,
            format!("the closure {message}"),
        )]);
    }
    if starts_on > years_from(today, MAX_YEARS_AWAY) {
        return skip(format!(
            "it starts on {starts_on}, more than {MAX_YEARS_AWAY} years from today"
        ));
    }
    if ends_on < years_from(today, -MAX_YEARS_PAST_IN_FILE) {
        return skip(format!(
            "it ended on {ends_on}, more than {MAX_YEARS_PAST_IN_FILE} years ago"
        ));
    }
    Ok(Reading::Closure(DatedClosure {
        line: event.line,
        closure: Closure {
            starts_on,
            ends_on,
            kind,
            name: summary,
        },
    }))
}

/// `d` moved by `days`, held at the ends of chrono's range.
fn shift(d: NaiveDate, days: i64) -> NaiveDate {
    TimeDelta::try_days(days)
        .and_then(|delta| d.checked_add_signed(delta))
        .unwrap_or(d)
}

/// Reads a term-dates iCalendar text (already decoded): its closures and the events skipped,
/// or every problem with the file by line and property. `today` bounds how far away a
/// closure may be (events more than [`MAX_YEARS_AWAY`] years ahead or
/// [`MAX_YEARS_PAST_IN_FILE`] years ago are skipped). Two events with the same dates and
/// kind are read once.
pub fn read_term_dates(text: &str, today: NaiveDate) -> Result<TermDates, Vec<RowError>> {
    let events = events_of(text)?;
    let mut read = TermDates::default();
    let mut problems = Vec::new();
    let mut seen: HashMap<(NaiveDate, NaiveDate, ClosureKind), usize> = HashMap::new();
    for event in &events {
        match read_event(event, today) {
            Ok(Reading::Closure(found)) => {
                let c = &found.closure;
                match seen.get(&(c.starts_on, c.ends_on, c.kind)) {
                    Some(first) => read.skipped.push(SkippedEvent {
                        line: found.line,
                        summary: c.name.clone(),
                        reason: format!("the event of line {first} has the same dates"),
                    }),
                    None => {
                        seen.insert((c.starts_on, c.ends_on, c.kind), found.line);
                        read.closures.push(found);
                    }
                }
            }
            Ok(Reading::Skipped(skipped)) => read.skipped.push(skipped),
            Err(found) => problems.extend(found),
        }
    }
    if problems.is_empty() {
        Ok(read)
    } else {
        Err(problems)
    }
}

// ---------------------------------------------------------------------------------------------
// A closure typed on the calendar page
// ---------------------------------------------------------------------------------------------

/// Reads a closure as the calendar page sends it (`name`, `starts_on`, `ends_on` as
/// `YYYY-MM-DD`, and `kind`), refusing the field at fault: a blank name, a date that is not
/// one, an end before the start, a closure over [`MAX_CLOSURE_DAYS`] days or more than
/// [`MAX_YEARS_AWAY`] years from today.
pub fn parse_closure(
    name: &str,
    starts_on: &str,
    ends_on: &str,
    kind: &str,
    today: NaiveDate,
) -> Result<Closure, DetailError> {
    let name = name.split_whitespace().collect::<Vec<_>>().join(" ");
    if name.is_empty() {
        return Err(refuse(
            "name",
            "give the closure a name, such as \"October half term\"",
        ));
    }
    if name.chars().count() > MAX_CLOSURE_NAME_CHARS {
        return Err(refuse(
            "name",
            format!("must be at most {MAX_CLOSURE_NAME_CHARS} characters"),
        ));
    }
    if name.chars().any(char::is_control) {
        return Err(refuse("name", "must not contain control characters"));
    }
    let date = |field: &'static str, raw: &str| {
        let raw = raw.trim();
        if raw.is_empty() {
            return Err(refuse(field, "choose a date"));
        }
        NaiveDate::parse_from_str(raw, "%Y-%m-%d").map_err(|_| {
            refuse(
                field,
                format!("{raw:?} is not a date: write it as 2026-10-26"),
            )
        })
    };
    let starts_on = date("starts_on", starts_on)?;
    // A blank last day is a closure of one day.
    let ends_on = if ends_on.trim().is_empty() {
        starts_on
    } else {
        date("ends_on", ends_on)?
    };
    let kind =
        ClosureKind::parse(kind).ok_or_else(|| refuse("kind", "choose holiday or INSET day"))?;
    dates_in_bounds(starts_on, ends_on, today)
        .map_err(|(field, message)| refuse(field, format!("the closure {message}")))?;
    Ok(Closure {
        starts_on,
        ends_on,
        kind,
        name,
    })
}

// ---------------------------------------------------------------------------------------------
// Comparing with what is stored
// ---------------------------------------------------------------------------------------------

/// A closure the school holds, with its id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredClosure {
    /// The row's id.
    pub id: i64,
    /// Its dates, kind and name.
    pub closure: Closure,
}

/// A held closure the file names differently.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RenamedClosure {
    /// The held closure's id.
    pub id: i64,
    /// The line of the file's event.
    pub line: usize,
    /// The closure as the file gives it.
    pub closure: Closure,
    /// The name held until now.
    pub from_name: String,
}

/// What importing a term-dates file would do to the school's calendar. Nothing is taken
/// away: closures not in the file stay.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct CalendarPlan {
    /// Closures not held yet.
    pub added: Vec<DatedClosure>,
    /// Held closures (same dates and kind) the file names differently.
    pub changed: Vec<RenamedClosure>,
    /// How many closures the file gives exactly as held.
    pub unchanged: usize,
    /// The file's events that are not closures, with why.
    pub skipped: Vec<SkippedEvent>,
}

impl CalendarPlan {
    /// Whether applying the plan would change nothing.
    pub fn is_empty(&self) -> bool {
        self.added.is_empty() && self.changed.is_empty()
    }

    /// The school's closures once the plan is applied.
    pub fn closures_after(&self, stored: &[StoredClosure]) -> Vec<Closure> {
        let renamed: HashMap<i64, &Closure> =
            self.changed.iter().map(|c| (c.id, &c.closure)).collect();
        stored
            .iter()
            .map(|s| renamed.get(&s.id).map_or(&s.closure, |c| c).clone())
            .chain(self.added.iter().map(|a| a.closure.clone()))
            .collect()
    }
}

/// A closure's dates as an import names it: `2025-10-27/2025-10-31` (an ISO 8601
/// interval), or one date for a single day.
pub fn dates_key(closure: &Closure) -> String {
    if closure.starts_on == closure.ends_on {
        closure.starts_on.to_string()
    } else {
        format!("{}/{}", closure.starts_on, closure.ends_on)
    }
}

/// Compares a file's closures with the held ones, matching on first day, last day and kind:
/// the same name is unchanged, another name a change of name; the rest are added.
pub fn plan_calendar(stored: &[StoredClosure], read: TermDates) -> CalendarPlan {
    let mut held: HashMap<(NaiveDate, NaiveDate, ClosureKind), Vec<&StoredClosure>> =
        HashMap::new();
    for s in stored {
        let c = &s.closure;
        held.entry((c.starts_on, c.ends_on, c.kind))
            .or_default()
            .push(s);
    }
    let mut plan = CalendarPlan {
        skipped: read.skipped,
        ..CalendarPlan::default()
    };
    for found in read.closures {
        let c = &found.closure;
        match held.get(&(c.starts_on, c.ends_on, c.kind)) {
            None => plan.added.push(found),
            Some(same) if same.iter().any(|s| s.closure.name == c.name) => plan.unchanged += 1,
            Some(same) => {
                let first = same[0];
                plan.changed.push(RenamedClosure {
                    id: first.id,
                    line: found.line,
                    from_name: first.closure.name.clone(),
                    closure: found.closure,
                });
            }
        }
    }
    plan
}

/// The change of name, as an import report lists it.
pub fn name_change(renamed: &RenamedClosure) -> FieldChange {
    FieldChange {
        field: "name",
        from: renamed.from_name.clone(),
        to: renamed.closure.name.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(y: i32, m: u32, day: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, day).unwrap()
    }

    fn today() -> NaiveDate {
        d(2025, 9, 1)
    }

    fn calendar(events: &str) -> String {
        format!("BEGIN:VCALENDAR\nVERSION:2.0\nPRODID:-//Test//EN\n{events}END:VCALENDAR\n")
    }

    fn read(text: &str) -> TermDates {
        read_term_dates(text, today()).unwrap()
    }

    /// Autumn 2025 as an English county council publishes it: CRLF line endings, a calendar
    /// name, a time zone, long lines folded (one fold right after a space), a term start, a
    /// parents' evening, a bank holiday without DTEND and an INSET day.
    const COUNTY: &str = "BEGIN:VCALENDAR\r\n\
PRODID:-//Northshire County Council//School Term Dates//EN\r\n\
VERSION:2.0\r\n\
CALSCALE:GREGORIAN\r\n\
METHOD:PUBLISH\r\n\
X-WR-CALNAME:Northshire school term and holiday dates 2025 to 2026\r\n\
X-WR-TIMEZONE:Europe/London\r\n\
BEGIN:VTIMEZONE\r\n\
TZID:Europe/London\r\n\
BEGIN:DAYLIGHT\r\n\
TZOFFSETFROM:+0000\r\n\
TZOFFSETTO:+0100\r\n\
TZNAME:BST\r\n\
DTSTART:19700329T010000\r\n\
RRULE:FREQ=YEARLY;BYMONTH=3;BYDAY=-1SU\r\n\
END:DAYLIGHT\r\n\
BEGIN:STANDARD\r\n\
TZOFFSETFROM:+0100\r\n\
TZOFFSETTO:+0000\r\n\
TZNAME:GMT\r\n\
DTSTART:19701025T020000\r\n\
RRULE:FREQ=YEARLY;BYMONTH=10;BYDAY=-1SU\r\n\
END:STANDARD\r\n\
END:VTIMEZONE\r\n\
BEGIN:VEVENT\r\n\
UID:term-start-2025@northshire.gov.uk\r\n\
DTSTAMP:20250401T090000Z\r\n\
DTSTART;VALUE=DATE:20250903\r\n\
DTEND;VALUE=DATE:20250904\r\n\
SUMMARY:Autumn term starts\r\n\
END:VEVENT\r\n\
BEGIN:VEVENT\r\n\
UID:october-half-term-2025@northshire.gov.uk\r\n\
DTSTAMP:20250401T090000Z\r\n\
DTSTART;VALUE=DATE:20251027\r\n\
DTEND;VALUE=DATE:20251101\r\n\
SUMMARY:October half term (schools closed to pupils\\, staff and \r\n \
 families)\r\n\
DESCRIPTION:Schools are closed for the October half term holiday. Some sch\r\n \
ools may set their own dates: check with your school.\r\n\
TRANSP:TRANSPARENT\r\n\
END:VEVENT\r\n\
BEGIN:VEVENT\r\n\
UID:inset-2025-11-03@northshire.gov.uk\r\n\
DTSTAMP:20250401T090000Z\r\n\
DTSTART;VALUE=DATE:20251103\r\n\
SUMMARY:INSET day\r\n\
END:VEVENT\r\n\
BEGIN:VEVENT\r\n\
UID:parents-evening@northshire.gov.uk\r\n\
DTSTAMP:20250401T090000Z\r\n\
DTSTART;TZID=Europe/London:20251113T160000\r\n\
DTEND;TZID=Europe/London:20251113T190000\r\n\
SUMMARY:Year 9 parents' evening\r\n\
BEGIN:VALARM\r\n\
ACTION:DISPLAY\r\n\
TRIGGER:-PT1H\r\n\
SUMMARY:Parents' evening reminder holiday\r\n\
END:VALARM\r\n\
END:VEVENT\r\n\
BEGIN:VEVENT\r\n\
UID:christmas-2025@northshire.gov.uk\r\n\
DTSTAMP:20250401T090000Z\r\n\
DTSTART;VALUE=DATE:20251222\r\n\
DTEND;VALUE=DATE:20260105\r\n\
SUMMARY:Christmas holiday\r\n\
END:VEVENT\r\n\
END:VCALENDAR\r\n";

    #[test]
    fn a_county_council_file_gives_its_closures_and_lists_the_rest() {
        let dates = read(COUNTY);
        let closures: Vec<_> = dates.closures.iter().map(|c| &c.closure).collect();
        assert_eq!(closures.len(), 3, "{closures:#?}");
        assert_eq!(closures[0].starts_on, d(2025, 10, 27));
        assert_eq!(closures[0].ends_on, d(2025, 10, 31), "DTEND is exclusive");
        assert_eq!(closures[0].kind, ClosureKind::Holiday);
        assert_eq!(
            closures[0].name, "October half term (schools closed to pupils, staff and families)",
            "folded after a space, escapes read"
        );
        assert_eq!(dates.closures[0].line, 32);
        assert_eq!(
            (closures[1].starts_on, closures[1].ends_on, closures[1].kind),
            (d(2025, 11, 3), d(2025, 11, 3), ClosureKind::Inset),
            "no DTEND: one day"
        );
        assert_eq!(closures[2].ends_on, d(2026, 1, 4));
        let skipped: Vec<_> = dates
            .skipped
            .iter()
            .map(|s| (s.line, s.summary.as_str()))
            .collect();
        assert_eq!(
            skipped,
            vec![(25, "Autumn term starts"), (49, "Year 9 parents' evening")]
        );
        assert!(dates.skipped[1].reason.contains("timed event"));
    }

    #[test]
    fn summaries_are_sorted_into_holidays_inset_days_and_the_rest() {
        for (summary, kind) in [
            ("October Half Term", Some(ClosureKind::Holiday)),
            ("Half-term", Some(ClosureKind::Holiday)),
            ("Spring bank holiday", Some(ClosureKind::Holiday)),
            ("Good Friday", Some(ClosureKind::Holiday)),
            ("New Year's Day", Some(ClosureKind::Holiday)),
            ("Summer holidays", Some(ClosureKind::Holiday)),
            (
                "INSET Day (school closed to pupils)",
                Some(ClosureKind::Inset),
            ),
            ("Staff training day", Some(ClosureKind::Inset)),
            ("Teacher Training Days", Some(ClosureKind::Inset)),
            ("Last day before half term", None),
            ("Autumn term starts", None),
            ("Schools reopen after the holiday", None),
            ("Parents' evening", None),
            ("Sports day", None),
            ("Insetting of the new hall", None),
        ] {
            assert_eq!(closure_kind(summary), kind, "{summary}");
        }
    }

    #[test]
    fn multi_day_events_and_durations_are_read_as_whole_days() {
        let dates = read(&calendar(
            "BEGIN:VEVENT\nDTSTART;VALUE=DATE:20260216\nDURATION:P5D\nSUMMARY:February half term\nEND:VEVENT\n\
             BEGIN:VEVENT\nDTSTART:20260525T000000\nDTEND:20260530T000000\nSUMMARY:May half term\nEND:VEVENT\n\
             BEGIN:VEVENT\nDTSTART;VALUE=DATE:20260504\nDTEND;VALUE=DATE:20260504\nSUMMARY:Early May bank holiday\nEND:VEVENT\n",
        ));
        let spans: Vec<_> = dates
            .closures
            .iter()
            .map(|c| (c.closure.starts_on, c.closure.ends_on))
            .collect();
        assert_eq!(
            spans,
            vec![
                (d(2026, 2, 16), d(2026, 2, 20)),
                (d(2026, 5, 25), d(2026, 5, 29)),
                (d(2026, 5, 4), d(2026, 5, 4)),
            ]
        );
    }

    #[test]
    fn repeating_cancelled_distant_and_repeated_events_are_skipped() {
        let dates = read(&calendar(
            "BEGIN:VEVENT\nDTSTART;VALUE=DATE:20251225\nRRULE:FREQ=YEARLY\nSUMMARY:Christmas Day\nEND:VEVENT\n\
             BEGIN:VEVENT\nDTSTART;VALUE=DATE:20251103\nSTATUS:CANCELLED\nSUMMARY:INSET day\nEND:VEVENT\n\
             BEGIN:VEVENT\nDTSTART;VALUE=DATE:20350101\nSUMMARY:New Year's Day\nEND:VEVENT\n\
             BEGIN:VEVENT\nDTSTART;VALUE=DATE:20251027\nDTEND;VALUE=DATE:20251101\nSUMMARY:Half term\nEND:VEVENT\n\
             BEGIN:VEVENT\nDTSTART;VALUE=DATE:20251027\nDTEND;VALUE=DATE:20251101\nSUMMARY:October holiday\nEND:VEVENT\n\
             BEGIN:VEVENT\nDTSTART;VALUE=DATE:20251104\nEND:VEVENT\n",
        ));
        assert_eq!(dates.closures.len(), 1);
        let reasons: Vec<_> = dates.skipped.iter().map(|s| s.reason.as_str()).collect();
        assert!(reasons[0].contains("RRULE"), "{reasons:?}");
        assert!(reasons[1].contains("cancelled"), "{reasons:?}");
        assert!(reasons[2].contains("5 years"), "{reasons:?}");
        assert!(reasons[3].contains("line 18"), "{reasons:?}");
        assert!(reasons[4].contains("no SUMMARY"), "{reasons:?}");
    }

    #[test]
    fn problems_name_their_line_and_property() {
        let text = calendar(
            "BEGIN:VEVENT\nSUMMARY:Half term\nEND:VEVENT\n\
             BEGIN:VEVENT\nDTSTART;VALUE=DATE:20251340\nSUMMARY:Half term\nEND:VEVENT\n\
             BEGIN:VEVENT\nDTSTART;VALUE=DATE:20251031\nDTEND;VALUE=DATE:20251027\nSUMMARY:Half term\nEND:VEVENT\n\
             BEGIN:VEVENT\nDTSTART;VALUE=DATE:2025-10-27\nSUMMARY:Half term\nEND:VEVENT\n\
             BEGIN:VEVENT\nDTSTART;VALUE=DATE:20251027\nDURATION:PT2H\nSUMMARY:Half term\nEND:VEVENT\n",
        );
        let problems = read_term_dates(&text, today()).unwrap_err();
        let places: Vec<_> = problems
            .iter()
            .map(|p| (p.line, p.column.as_str()))
            .collect();
        assert_eq!(
            places,
            vec![
                (4, "DTSTART"),
                (8, "DTSTART"),
                (13, "DTEND"),
                (17, "DTSTART"),
                (22, "DURATION"),
            ]
        );
        assert!(problems[0].message.contains("\"Half term\" has no DTSTART"));
        assert!(problems[1].message.contains("20251340"));
        assert!(problems[2].message.contains("before DTSTART"));
    }

    #[test]
    fn a_file_that_is_not_a_calendar_is_refused() {
        let problems = read_term_dates("UPN,Surname\nA1,Smith\n", today()).unwrap_err();
        assert_eq!(problems[0].line, 1);
        assert!(problems[0].message.contains("BEGIN:VCALENDAR"));
        let problems = read_term_dates("", today()).unwrap_err();
        assert_eq!(problems[0].message, "the file is empty");
        let unfinished = "BEGIN:VCALENDAR\nBEGIN:VEVENT\nDTSTART;VALUE=DATE:20251027\n";
        let problems = read_term_dates(unfinished, today()).unwrap_err();
        assert_eq!((problems[0].line, problems[0].column.as_str()), (3, "END"));
        let crossed = "BEGIN:VCALENDAR\nBEGIN:VEVENT\nEND:VCALENDAR\n";
        let problems = read_term_dates(crossed, today()).unwrap_err();
        assert_eq!(problems[0].line, 3);
    }

    #[test]
    fn a_closure_lasting_months_is_a_problem_at_its_end() {
        let text = calendar(
            "BEGIN:VEVENT\nDTSTART;VALUE=DATE:20250721\nDTEND;VALUE=DATE:20260901\nSUMMARY:Summer holiday\nEND:VEVENT\n",
        );
        let problems = read_term_dates(&text, today()).unwrap_err();
        assert_eq!(
            (problems[0].line, problems[0].column.as_str()),
            (6, "DTEND")
        );
    }

    #[test]
    fn a_typed_closure_is_checked_field_by_field() {
        let ok = parse_closure(
            "  October   half term ",
            "2025-10-27",
            "2025-10-31",
            "holiday",
            today(),
        )
        .unwrap();
        assert_eq!(ok.name, "October half term");
        assert_eq!(ok.ends_on, d(2025, 10, 31));
        let one_day = parse_closure("INSET", "2025-11-03", "", "inset", today()).unwrap();
        assert_eq!(one_day.ends_on, d(2025, 11, 3));
        let field = |name: &str, starts: &str, ends: &str, kind: &str| {
            parse_closure(name, starts, ends, kind, today())
                .unwrap_err()
                .field
        };
        assert_eq!(field(" ", "2025-10-27", "2025-10-31", "holiday"), "name");
        assert_eq!(field("Half term", "27/10/2025", "", "holiday"), "starts_on");
        assert_eq!(
            field("Half term", "2025-10-27", "2025-10-20", "holiday"),
            "ends_on"
        );
        assert_eq!(
            field("Half term", "2025-10-27", "2025-10-31", "party"),
            "kind"
        );
        assert_eq!(
            field("Half term", "2035-10-27", "2035-10-31", "holiday"),
            "starts_on"
        );
        assert_eq!(
            field("Half term", "2015-10-27", "2015-10-31", "holiday"),
            "ends_on"
        );
        assert_eq!(
            field("Half term", "2025-10-27", "2026-10-31", "holiday"),
            "ends_on"
        );
    }

    #[test]
    fn a_file_is_compared_on_dates_and_kind() {
        let stored = vec![
            StoredClosure {
                id: 1,
                closure: Closure {
                    starts_on: d(2025, 10, 27),
                    ends_on: d(2025, 10, 31),
                    kind: ClosureKind::Holiday,
                    name: "Half term".into(),
                },
            },
            StoredClosure {
                id: 2,
                closure: Closure {
                    starts_on: d(2025, 11, 3),
                    ends_on: d(2025, 11, 3),
                    kind: ClosureKind::Inset,
                    name: "INSET day".into(),
                },
            },
            StoredClosure {
                id: 3,
                closure: Closure {
                    starts_on: d(2025, 12, 22),
                    ends_on: d(2026, 1, 2),
                    kind: ClosureKind::Holiday,
                    name: "Christmas".into(),
                },
            },
        ];
        let plan = plan_calendar(&stored, read(COUNTY));
        assert_eq!(plan.added.len(), 1, "Christmas ends on another day");
        assert_eq!(plan.unchanged, 1, "the INSET day");
        assert_eq!(plan.changed.len(), 1);
        assert_eq!(plan.changed[0].id, 1);
        assert_eq!(name_change(&plan.changed[0]).from, "Half term");
        assert_eq!(plan.skipped.len(), 2);
        let after = plan.closures_after(&stored);
        assert_eq!(after.len(), 4, "nothing is taken away");
        assert!(after[0].name.starts_with("October half term"));
        assert_eq!(dates_key(&after[0]), "2025-10-27/2025-10-31");
        assert_eq!(dates_key(&after[1]), "2025-11-03");
    }
}
