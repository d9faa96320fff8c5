//! Behaviour history from another system: reading its CSV export, and placing each pupil on
//! the ladder by replaying the school's escalation policy over what they have recorded.
//!
//! Placement walks a pupil's history day by day, as the rules would have seen it: at the end
//! of each day with an incident (and of each day a quiet spell could end, and at the moment
//! of the import) the rules are judged, and the move they suggest is taken as if accepted,
//! with its reason and evidence. Meetings are not in an old system's export, so the moves
//! that follow meetings never happen: a pupil lands at most at Coaching Plan.
//!
//! Pure: the file's text, the policy, calendar and facts come in; records and moves go out.

use std::collections::{BTreeSet, HashMap};

use chrono::{DateTime, NaiveDate, NaiveDateTime, NaiveTime, TimeDelta, TimeZone, Utc};
use sha2::{Digest, Sha256};

use super::calendar::{SchoolCalendar, SCHOOL_TZ};
use super::details::Upn;
use super::import::{ColumnMap, ColumnSpec, CsvRow, CsvTable, RowError, RowProblems};
use super::incident::MAX_LABEL_CHARS;
use super::level::Level;
use super::policy::EscalationPolicy;
use super::replay::day_start;
use super::rules::{
    evaluate, DecidedSuggestion, IncidentFact, PupilHistory, Response, RuleId, Severity,
};
use super::transition::{apply, events_for_target, PupilState};

/// The columns of a behaviour history export, with the header names systems give them.
pub const HISTORY_COLUMNS: &[ColumnSpec] = &[
    ColumnSpec {
        key: "date",
        label: "Date",
        aliases: &["Date", "Incident Date", "Date of Incident", "Event Date"],
        required: true,
    },
    ColumnSpec {
        key: "time",
        label: "Time",
        aliases: &["Time", "Incident Time", "Time of Incident"],
        required: false,
    },
    ColumnSpec {
        key: "upn",
        label: "UPN",
        aliases: &["UPN", "Pupil UPN", "Student UPN"],
        required: true,
    },
    ColumnSpec {
        key: "behaviour",
        label: "Behaviour",
        aliases: &["Behaviour", "Behavior", "Type", "Incident Type", "Category"],
        required: true,
    },
    ColumnSpec {
        key: "staff",
        label: "Staff",
        aliases: &[
            "Staff",
            "Recorded By",
            "Staff Email",
            "Reported By",
            "Teacher",
        ],
        required: true,
    },
    ColumnSpec {
        key: "location",
        label: "Location",
        aliases: &["Location", "Place", "Where"],
        required: false,
    },
    ColumnSpec {
        key: "lesson",
        label: "Lesson",
        aliases: &["Lesson", "Subject", "Period"],
        required: false,
    },
    ColumnSpec {
        key: "note",
        label: "Note",
        aliases: &["Note", "Notes", "Comment", "Comments", "Description"],
        required: false,
    },
    ColumnSpec {
        key: "severity",
        label: "Severity",
        aliases: &["Severity", "Level", "Seriousness"],
        required: false,
    },
    ColumnSpec {
        key: "response",
        label: "Response",
        aliases: &["Response", "Action Taken", "Action"],
        required: false,
    },
];

/// The longest note kept from an old system.
pub const MAX_NOTE_CHARS: usize = 2000;

/// One incident of the old system, every field checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HistoryRecord {
    /// The line of the file.
    pub line: usize,
    pub occurred_at: DateTime<Utc>,
    pub upn: Upn,
    pub behaviour: String,
    /// The recorder's email address or name, as the file gives it.
    pub staff: String,
    pub location: Option<String>,
    pub lesson: Option<String>,
    pub note: Option<String>,
    pub severity: Severity,
    /// The response given: a Coaching Prompt unless the file says otherwise.
    pub response: Response,
    /// A key that stays the same for the same incident in any later export, so importing
    /// the same file again adds nothing.
    pub key: String,
}

/// Reads every incident of a history export; `now` refuses incidents in the future.
pub fn read_history(
    text: &str,
    mapped: &[(String, String)],
    now: DateTime<Utc>,
) -> Result<(Vec<HistoryRecord>, ColumnMap), Vec<RowError>> {
    let table = CsvTable::parse(text).map_err(|e| vec![e])?;
    let map = ColumnMap::recognise(HISTORY_COLUMNS, &table.headers, mapped)?;
    let mut records = Vec::new();
    let mut problems = Vec::new();
    for row in &table.rows {
        match read_record(&map, row, now) {
            Ok(record) => records.push(record),
            Err(mut found) => problems.append(&mut found),
        }
    }
    if problems.is_empty() {
        Ok((records, map))
    } else {
        Err(problems)
    }
}

fn read_record(
    map: &ColumnMap,
    row: &CsvRow,
    now: DateTime<Utc>,
) -> Result<HistoryRecord, Vec<RowError>> {
    let mut problems = RowProblems::new(map, row);
    let cell = |key: &str| map.cell(row, key);
    let date = problems.check(
        "date",
        cell("date")
            .ok_or_else(|| "the date is missing".to_string())
            .and_then(parse_date_and_time),
    );
    let time = problems.check("time", cell("time").map(parse_time).transpose());
    let upn = problems.check(
        "upn",
        Upn::parse(cell("upn").unwrap_or_default())
            .map_err(|_| format!("{:?} is not a UPN", cell("upn").unwrap_or_default())),
    );
    let behaviour = problems.check(
        "behaviour",
        cell("behaviour")
            .ok_or_else(|| "the behaviour is missing".to_string())
            .and_then(|b| label("behaviour", b, MAX_LABEL_CHARS)),
    );
    let staff = problems.check(
        "staff",
        cell("staff")
            .ok_or_else(|| "who recorded it is missing".to_string())
            .and_then(|s| label("staff", s, 200)),
    );
    let location = problems.check(
        "location",
        cell("location")
            .map(|l| label("place", l, MAX_LABEL_CHARS))
            .transpose(),
    );
    let lesson = problems.check(
        "lesson",
        cell("lesson")
            .map(|l| label("lesson", l, MAX_LABEL_CHARS))
            .transpose(),
    );
    let note = problems.check("note", cell("note").map(note_text).transpose());
    let severity = problems.check("severity", parse_severity(cell("severity")));
    let response = problems.check("response", parse_response(cell("response")));
    let (Some((day, time_in_date)), Some(time), Some(upn), Some(behaviour), Some(staff)) =
        (date, time, upn, behaviour, staff)
    else {
        return Err(problems.found);
    };
    let (Some(location), Some(lesson), Some(note), Some(severity), Some(response)) =
        (location, lesson, note, severity, response)
    else {
        return Err(problems.found);
    };
    let clock = time.or(time_in_date).unwrap_or(NOON);
    let Some(occurred_at) = london(day.and_time(clock)) else {
        problems.check::<()>(
            "time",
            Err("that time does not exist in London".to_string()),
        );
        return Err(problems.found);
    };
    if occurred_at > now {
        problems.check::<()>("date", Err("the incident is in the future".to_string()));
        return Err(problems.found);
    }
    let key = record_key(&upn, occurred_at, &behaviour, &staff, note.as_deref());
    Ok(HistoryRecord {
        line: row.line,
        occurred_at,
        upn,
        behaviour,
        staff,
        location,
        lesson,
        note,
        severity,
        response,
        key,
    })
}

/// The time given to an incident whose export has no time.
const NOON: NaiveTime = match NaiveTime::from_hms_opt(12, 0, 0) {
    Some(time) => time,
    None => NaiveTime::MIN,
};

/// A London wall-clock time as UTC; the earlier of two when the clocks go back.
fn london(at: NaiveDateTime) -> Option<DateTime<Utc>> {
    SCHOOL_TZ
        .from_local_datetime(&at)
        .earliest()
        .map(|t| t.with_timezone(&Utc))
}

/// Reads a date, `dd/mm/yyyy` or `yyyy-mm-dd`, with a time after it when the export puts
/// both in one column.
fn parse_date_and_time(raw: &str) -> Result<(NaiveDate, Option<NaiveTime>), String> {
    let text = raw.trim();
    let (date, time) = match text.split_once([' ', 'T']) {
        Some((date, time)) => (date, Some(time)),
        None => (text, None),
    };
    let day = super::roster::parse_uk_date(date)?;
    let time = time.map(parse_time).transpose()?;
    Ok((day, time))
}

/// Reads a time of day, `HH:MM` or `HH:MM:SS`.
fn parse_time(raw: &str) -> Result<NaiveTime, String> {
    let text = raw.trim();
    NaiveTime::parse_from_str(text, "%H:%M")
        .or_else(|_| NaiveTime::parse_from_str(text, "%H:%M:%S"))
        .map_err(|_| format!("{text:?} is not a time: write it as 14:05"))
}

fn label(what: &str, raw: &str, max: usize) -> Result<String, String> {
    let text = raw.trim();
    if text.chars().count() > max || text.chars().any(char::is_control) {
        return Err(format!("the {what} is longer than {max} characters"));
    }
    Ok(text.to_string())
}

fn note_text(raw: &str) -> Result<String, String> {
    let text = raw.trim();
    if text.chars().count() > MAX_NOTE_CHARS {
        return Err(format!(
            "the note is longer than {MAX_NOTE_CHARS} characters"
        ));
    }
    if text
        .chars()
        .any(|c| c.is_control() && !matches!(c, '\n' | '\r' | '\t'))
    {
        return Err("the note holds control characters".to_string());
    }
    Ok(text.to_string())
}

/// Reads a severity: minor unless the file says serious (or major, high).
fn parse_severity(raw: Option<&str>) -> Result<Severity, String> {
    match raw.map(|r| r.trim().to_ascii_lowercase()).as_deref() {
        None | Some("") | Some("minor") | Some("low") | Some("normal") => Ok(Severity::Minor),
        Some("serious") | Some("major") | Some("high") | Some("severe") => Ok(Severity::Serious),
        Some(other) => Err(format!(
            "{other:?} is not a severity: write minor or serious"
        )),
    }
}

/// Reads the response given: a Coaching Prompt unless the file says none or conversation.
fn parse_response(raw: Option<&str>) -> Result<Response, String> {
    match raw.map(|r| r.trim().to_ascii_lowercase()).as_deref() {
        None | Some("") => Ok(Response::Prompt),
        Some(other) => Response::parse(other).map_err(|_| {
            format!("{other:?} is not a response: write none, prompt or conversation")
        }),
    }
}

/// The stable key of one incident of an old system.
fn record_key(
    upn: &Upn,
    at: DateTime<Utc>,
    behaviour: &str,
    staff: &str,
    note: Option<&str>,
) -> String {
    let mut hash = Sha256::new();
    for part in [
        upn.as_str(),
        &at.to_rfc3339(),
        behaviour,
        &staff.to_lowercase(),
        note.unwrap_or_default(),
    ] {
        hash.update(part.as_bytes());
        hash.update([0u8]);
    }
    hex::encode(hash.finalize())
}

// ---------------------------------------------------------------------------------------------
// Placement on the ladder
// ---------------------------------------------------------------------------------------------

/// One move placement takes, as if its suggestion had been accepted when the rules made it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlacedMove {
    pub from: Level,
    pub to: Level,
    pub at: DateTime<Utc>,
    /// The rule behind it; `None` for the first Coaching Prompt.
    pub rule: Option<RuleId>,
    pub reason: String,
    /// The incidents behind it.
    pub evidence: Vec<i64>,
}

/// Where a pupil's history places them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Placement {
    pub state: PupilState,
    /// When they reached that level.
    pub since: Option<DateTime<Utc>>,
    pub moves: Vec<PlacedMove>,
}

/// The most moves taken on one day (the ladder is six rungs high).
const MOVES_PER_DAY: usize = 6;

/// Replays the policy over one pupil's incidents (any order) up to `now`, starting with no
/// level, and answers where they land with every move on the way.
pub fn place(
    policy: &EscalationPolicy,
    calendar: &SchoolCalendar,
    incidents: &[IncidentFact],
    now: DateTime<Utc>,
) -> Placement {
    let mut facts: Vec<IncidentFact> = incidents.to_vec();
    facts.sort_by_key(|f| (f.occurred_at, f.id));
    let today = SchoolCalendar::local_date(now);
    let mut days: BTreeSet<NaiveDate> = facts
        .iter()
        .map(|f| SchoolCalendar::local_date(f.occurred_at))
        .collect();
    days.insert(today);
    let mut state = PupilState::initial();
    let mut since: Option<DateTime<Utc>> = None;
    let mut moves = Vec::new();
    let mut decided: Vec<DecidedSuggestion> = Vec::new();
    while let Some(day) = days.pop_first() {
        let at = if day >= today { now } else { end_of(day) };
        let seen = facts.partition_point(|f| f.occurred_at <= at);
        if state.level == Level::None {
            // A Coaching Prompt given after support last closed starts the pupil again.
            let starts = facts[..seen].iter().find(|f| {
                f.response == Response::Prompt && since.is_none_or(|s| f.occurred_at > s)
            });
            if let Some(first) = starts {
                moves.push(PlacedMove {
                    from: Level::None,
                    to: Level::Prompt,
                    at: first.occurred_at,
                    rule: None,
                    reason: "A Coaching Prompt was logged.".to_string(),
                    evidence: vec![first.id],
                });
                state.level = Level::Prompt;
                since = Some(first.occurred_at);
            }
        }
        for _ in 0..MOVES_PER_DAY {
            let history = PupilHistory {
                state: state.clone(),
                level_since: since.unwrap_or(at),
                incidents: facts[..seen].to_vec(),
                meetings: Vec::new(),
                open_targets: Vec::new(),
                decided: decided.clone(),
            };
            let Some(suggestion) = evaluate(policy, calendar, &history, at).into_iter().next()
            else {
                break;
            };
            let Some(next) = events_for_target(&state, suggestion.to)
                .ok()
                .and_then(|events| {
                    events
                        .iter()
                        .try_fold(state.clone(), |s, event| apply(&s, event).ok())
                })
            else {
                break;
            };
            moves.push(PlacedMove {
                from: state.level,
                to: next.level,
                at,
                rule: Some(suggestion.rule),
                reason: suggestion.reason,
                evidence: suggestion.evidence,
            });
            decided.push(DecidedSuggestion {
                to: suggestion.to,
                decided_at: at,
            });
            state = next;
            since = Some(at);
        }
        // A quiet spell long enough to step down could end after this day.
        if state.level != Level::None && policy.quiet_days_for_step_down > 0 {
            let quiet_ends = calendar.add_school_days(day, policy.quiet_days_for_step_down);
            if quiet_ends > day && quiet_ends <= today {
                days.insert(quiet_ends);
            }
        }
    }
    Placement {
        state,
        since,
        moves,
    }
}

/// The last instant of a school date.
fn end_of(day: NaiveDate) -> DateTime<Utc> {
    day_start(day + TimeDelta::days(1)) - TimeDelta::microseconds(1)
}

/// How many pupils land at each level 0 to 6.
pub fn landing_counts<'a>(placements: impl IntoIterator<Item = &'a Placement>) -> [usize; 7] {
    let mut counts = [0usize; 7];
    for placement in placements {
        if let Some(slot) = usize::try_from(placement.state.level.number())
            .ok()
            .and_then(|l| counts.get_mut(l))
        {
            *slot += 1;
        }
    }
    counts
}

/// The behaviours of a file that the school's list does not hold (compared ignoring case),
/// each with the first line it is on.
pub fn unknown_behaviours(records: &[HistoryRecord], known: &[String]) -> Vec<(String, usize)> {
    let known: BTreeSet<String> = known.iter().map(|b| b.to_lowercase()).collect();
    let mut first: HashMap<String, (String, usize)> = HashMap::new();
    for record in records {
        let lower = record.behaviour.to_lowercase();
        if !known.contains(&lower) {
            first
                .entry(lower)
                .or_insert_with(|| (record.behaviour.clone(), record.line));
        }
    }
    let mut unknown: Vec<(String, usize)> = first.into_values().collect();
    unknown.sort_by_key(|(_, line)| *line);
    unknown
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(date: &str, time: &str) -> DateTime<Utc> {
        let day = NaiveDate::parse_from_str(date, "%Y-%m-%d").unwrap();
        london(day.and_time(NaiveTime::parse_from_str(time, "%H:%M").unwrap())).unwrap()
    }

    fn prompt(id: i64, when: DateTime<Utc>) -> IncidentFact {
        IncidentFact {
            id,
            occurred_at: when,
            severity: Severity::Minor,
            response: Response::Prompt,
        }
    }

    #[test]
    fn an_export_is_read_with_times_in_london() {
        let text = "Date,Time,UPN,Behaviour,Recorded By,Location,Subject,Comment,Severity\n\
                    14/07/2026,09:15,T820200126001,Off task,ms.o'neill@school.example,Room 4,Maths,\"Talked over the teacher, twice\",\n\
                    15/12/2025 14:05,,T820200126001,Défiance,Siân O'Neill,,,,Serious\n";
        let now = at("2026-12-06", "12:00");
        let (records, _) = read_history(text, &[], now).unwrap();
        assert_eq!(records.len(), 2);
        assert_eq!(records[0].occurred_at, at("2026-07-14", "09:15"));
        assert_eq!(
            records[0].occurred_at.to_rfc3339(),
            "2026-07-14T08:15:00+00:00",
            "summer time"
        );
        assert_eq!(
            records[0].note.as_deref(),
            Some("Talked over the teacher, twice")
        );
        assert_eq!(records[0].response, Response::Prompt);
        assert_eq!(
            records[1].occurred_at.to_rfc3339(),
            "2025-12-15T14:05:00+00:00"
        );
        assert_eq!(records[1].severity, Severity::Serious);
        assert_eq!(records[1].behaviour, "Défiance");
        assert_ne!(records[0].key, records[1].key);
        let (again, _) = read_history(text, &[], now).unwrap();
        assert_eq!(again[0].key, records[0].key, "the key is stable");
    }

    #[test]
    fn every_bad_cell_is_named() {
        let text = "Date,Time,UPN,Behaviour,Staff,Severity\n\
                    31/02/2026,09:00,T820200126001,Off task,a@b.example,\n\
                    01/03/2026,25:00,X1,,a@b.example,Huge\n\
                    01/03/2099,09:00,T820200126001,Off task,a@b.example,\n";
        let problems = read_history(text, &[], at("2026-12-06", "12:00")).unwrap_err();
        let at: Vec<(usize, &str)> = problems
            .iter()
            .map(|p| (p.line, p.column.as_str()))
            .collect();
        assert_eq!(
            at,
            vec![
                (2, "Date"),
                (3, "Time"),
                (3, "UPN"),
                (3, "Behaviour"),
                (3, "Severity"),
                (4, "Date")
            ]
        );
    }

    #[test]
    fn three_prompts_in_a_week_place_a_pupil_at_coaching_conversation() {
        let calendar = SchoolCalendar::weekdays_only();
        let policy = EscalationPolicy::default();
        let facts = [
            prompt(1, at("2026-11-02", "09:00")),
            prompt(2, at("2026-11-03", "10:00")),
            prompt(3, at("2026-11-04", "11:00")),
        ];
        // Judged the day after, before any quiet spell could end.
        let placed = place(&policy, &calendar, &facts, at("2026-11-05", "12:00"));
        assert_eq!(placed.state.level, Level::Conversation);
        let tos: Vec<Level> = placed.moves.iter().map(|m| m.to).collect();
        assert_eq!(tos, vec![Level::Prompt, Level::Conversation]);
        assert_eq!(placed.moves[1].evidence, vec![1, 2, 3]);
        assert_eq!(placed.moves[1].rule, Some(RuleId::PromptsToConversation));
        assert_eq!(
            placed.since,
            Some(end_of(NaiveDate::from_ymd_opt(2026, 11, 4).unwrap()))
        );
    }

    #[test]
    fn a_long_quiet_spell_steps_a_pupil_back_down() {
        let calendar = SchoolCalendar::weekdays_only();
        let policy = EscalationPolicy::default();
        let facts = [
            prompt(1, at("2026-09-07", "09:00")),
            prompt(2, at("2026-09-08", "10:00")),
            prompt(3, at("2026-09-09", "11:00")),
        ];
        let placed = place(&policy, &calendar, &facts, at("2026-12-04", "12:00"));
        assert_eq!(placed.state.level, Level::None, "{:?}", placed.moves);
        assert!(placed
            .moves
            .iter()
            .any(|m| m.rule == Some(RuleId::QuietStepDown)));
        assert_eq!(landing_counts([&placed]), [1, 0, 0, 0, 0, 0, 0]);
    }

    #[test]
    fn a_serious_incident_places_at_coaching_time() {
        let calendar = SchoolCalendar::weekdays_only();
        let policy = EscalationPolicy::default();
        let facts = [IncidentFact {
            id: 9,
            occurred_at: at("2026-11-30", "13:00"),
            severity: Severity::Serious,
            response: Response::Prompt,
        }];
        let placed = place(&policy, &calendar, &facts, at("2026-12-01", "09:00"));
        assert_eq!(placed.state.level, Level::Time);
    }
}
