//! iCalendar (RFC 5545) invitations for one meeting, in the iTIP style (RFC 5546) that
//! Outlook, Google Calendar and Apple Calendar accept from email: `METHOD:REQUEST` to invite
//! or move a meeting, `METHOD:CANCEL` to call it off.
//!
//! Written by hand because it is short and every line matters: times are given in
//! Europe/London with a `VTIMEZONE` describing GMT and BST, text is escaped, and lines are
//! folded at 75 octets (never inside a character) and end in CRLF.

use chrono::{DateTime, Duration, LocalResult, TimeZone, Utc};
use chrono_tz::Tz;

/// The time zone every meeting time is written in.
pub const TZID: &str = "Europe/London";

/// The zone database's Europe/London, which the `VTIMEZONE` below describes.
const LONDON: Tz = chrono_tz::Europe::London;

/// The product identifier written into every calendar object.
pub const PRODID: &str = "-//Steadfast//Pupil support meetings//EN";

/// Europe/London as a `VTIMEZONE`: BST from 01:00 UTC on the last Sunday of March, GMT from
/// 01:00 UTC on the last Sunday of October (each `DTSTART` is in the local time before the change).
const VTIMEZONE: &[&str] = &[
    "BEGIN:VTIMEZONE",
    "TZID:Europe/London",
    "BEGIN:DAYLIGHT",
    "TZOFFSETFROM:+0000",
    "TZOFFSETTO:+0100",
    "TZNAME:BST",
    "DTSTART:19700329T010000",
    "RRULE:FREQ=YEARLY;BYMONTH=3;BYDAY=-1SU",
    "END:DAYLIGHT",
    "BEGIN:STANDARD",
    "TZOFFSETFROM:+0100",
    "TZOFFSETTO:+0000",
    "TZNAME:GMT",
    "DTSTART:19701025T020000",
    "RRULE:FREQ=YEARLY;BYMONTH=10;BYDAY=-1SU",
    "END:STANDARD",
    "END:VTIMEZONE",
];

/// What a calendar object asks of its reader.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    /// Add the meeting, or update it when the UID is already known (a higher SEQUENCE wins).
    Request,
    /// Remove the meeting with this UID.
    Cancel,
}

impl Method {
    /// The value written after `METHOD:`.
    pub fn as_str(self) -> &'static str {
        match self {
            Method::Request => "REQUEST",
            Method::Cancel => "CANCEL",
        }
    }
}

/// Someone named in the invitation: the organiser or a participant.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Person {
    /// Display name, e.g. "Jo Bloggs".
    pub name: String,
    /// Email address.
    pub email: lettre::Address,
}

/// Everything one invitation, update or cancellation says about a meeting.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MeetingEvent {
    /// The meeting's id: with `host` it makes the UID, which never changes.
    pub meeting_id: i64,
    /// The host part of the UID, from [`crate::mail::identity_host`].
    pub host: String,
    /// Invite/update or cancel.
    pub method: Method,
    /// 0 on the first invitation, one more for every update or cancellation.
    pub sequence: u32,
    /// When this version of the invitation was made.
    pub stamp: DateTime<Utc>,
    /// When the meeting starts.
    pub starts_at: DateTime<Utc>,
    /// How long it lasts.
    pub duration_minutes: u32,
    /// The calendar entry's title.
    pub summary: String,
    /// Where it takes place.
    pub location: String,
    /// A few lines shown with the entry (e.g. the meeting page's address).
    pub description: String,
    /// Who organises the meeting: the Head of Year who runs it.
    pub organizer: Person,
    /// Who is invited.
    pub attendees: Vec<Person>,
}

/// The stable UID of a meeting's calendar entry.
pub fn uid(meeting_id: i64, host: &str) -> String {
    format!("meeting-{meeting_id}@{host}")
}

/// Writes the complete calendar object for one meeting.
pub fn render(event: &MeetingEvent) -> String {
    let request = event.method == Method::Request;
    let host: String = event
        .host
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-'))
        .collect();
    let host = if host.is_empty() { "steadfast" } else { &host };
    let ends_at = event.starts_at + Duration::minutes(i64::from(event.duration_minutes));

    let mut lines: Vec<String> = vec![
        "BEGIN:VCALENDAR".into(),
        format!("PRODID:{PRODID}"),
        "VERSION:2.0".into(),
        "CALSCALE:GREGORIAN".into(),
        format!("METHOD:{}", event.method.as_str()),
    ];
    lines.extend(VTIMEZONE.iter().map(|line| line.to_string()));
    lines.extend([
        "BEGIN:VEVENT".into(),
        format!("UID:{}", uid(event.meeting_id, host)),
        format!("SEQUENCE:{}", event.sequence),
        format!("DTSTAMP:{}", utc_stamp(event.stamp)),
        format!("DTSTART{}", local_stamp(event.starts_at)),
        format!("DTEND{}", local_stamp(ends_at)),
        format!("SUMMARY:{}", escape_text(&event.summary)),
        format!("LOCATION:{}", escape_text(&event.location)),
        format!("DESCRIPTION:{}", escape_text(&event.description)),
        format!(
            "ORGANIZER;CN={}:mailto:{}",
            quote_param(&event.organizer.name),
            event.organizer.email
        ),
    ]);
    for attendee in &event.attendees {
        // Replies come through Steadfast's own pages (a family's link, the meeting page), not
        // by calendar email.
        let reply = if request {
            ";PARTSTAT=NEEDS-ACTION;RSVP=FALSE"
        } else {
            ""
        };
        lines.push(format!(
            "ATTENDEE;CN={};CUTYPE=INDIVIDUAL;ROLE=REQ-PARTICIPANT{reply}:mailto:{}",
            quote_param(&attendee.name),
            attendee.email
        ));
    }
    lines.extend([
        format!("STATUS:{}", if request { "CONFIRMED" } else { "CANCELLED" }),
        "TRANSP:OPAQUE".into(),
        "END:VEVENT".into(),
        "END:VCALENDAR".into(),
    ]);
    lines.iter().map(|line| fold(line)).collect()
}

/// The METHOD of a calendar object, if it is one this module writes.
pub fn method_of(calendar: &str) -> Option<Method> {
    calendar
        .lines()
        .map(|line| line.trim_end_matches('\r'))
        .find_map(|line| {
            let (name, value) = line.split_once(':')?;
            if !name.eq_ignore_ascii_case("METHOD") {
                return None;
            }
            match value.trim().to_ascii_uppercase().as_str() {
                "REQUEST" => Some(Method::Request),
                "CANCEL" => Some(Method::Cancel),
                _ => None,
            }
        })
}

/// Escapes a TEXT value: backslash, semicolon and comma get a backslash, any line break
/// becomes `\n`, and other control characters (which TEXT may not hold) are dropped.
pub fn escape_text(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    let mut chars = value.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\\' => out.push_str("\\\\"),
            ';' => out.push_str("\\;"),
            ',' => out.push_str("\\,"),
            '\n' => out.push_str("\\n"),
            '\r' => {
                if chars.peek() != Some(&'\n') {
                    out.push_str("\\n");
                }
            }
            '\t' => out.push(c),
            c if c.is_control() => {}
            c => out.push(c),
        }
    }
    out
}

/// Folds one content line so no physical line exceeds 75 octets, splitting only between
/// characters; continuation lines start with a space. The result ends in CRLF.
pub fn fold(line: &str) -> String {
    const LIMIT: usize = 75;
    let mut out = String::with_capacity(line.len() + line.len() / 25 + 2);
    let mut used = 0;
    for c in line.chars() {
        if used + c.len_utf8() > LIMIT {
            out.push_str("\r\n ");
            used = 1;
        }
        out.push(c);
        used += c.len_utf8();
    }
    out.push_str("\r\n");
    out
}

/// A parameter value in double quotes; a quote (which cannot be escaped there) becomes an
/// apostrophe and control characters are dropped.
fn quote_param(value: &str) -> String {
    let inner: String = value
        .chars()
        .filter(|c| !c.is_control())
        .map(|c| if c == '"' { '\'' } else { c })
        .collect();
    format!("\"{inner}\"")
}

/// `YYYYMMDDTHHMMSSZ`.
fn utc_stamp(instant: DateTime<Utc>) -> String {
    instant.format("%Y%m%dT%H%M%SZ").to_string()
}

/// The parameters and value of a DTSTART or DTEND: London local time with its TZID, except
/// for the second 01:xx hour of the October change, which local time cannot name (RFC 5545
/// reads a repeated local time as its first occurrence), so it is written in UTC.
fn local_stamp(instant: DateTime<Utc>) -> String {
    let london = instant.with_timezone(&LONDON);
    let local = london.naive_local();
    let first_occurrence = match LONDON.from_local_datetime(&local) {
        LocalResult::Ambiguous(first, _) => first == london,
        _ => true,
    };
    if first_occurrence {
        format!(";TZID={TZID}:{}", local.format("%Y%m%dT%H%M%S"))
    } else {
        format!(":{}", utc_stamp(instant))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{Datelike, NaiveDate, NaiveDateTime, Offset, Weekday};

    fn person(name: &str, email: &str) -> Person {
        Person {
            name: name.into(),
            email: email.parse().unwrap(),
        }
    }

    fn event() -> MeetingEvent {
        MeetingEvent {
            meeting_id: 42,
            host: "steadfast.oakfield.example".into(),
            method: Method::Request,
            sequence: 0,
            stamp: Utc.with_ymd_and_hms(2026, 11, 20, 9, 0, 0).unwrap(),
            starts_at: Utc.with_ymd_and_hms(2026, 12, 1, 15, 30, 0).unwrap(),
            duration_minutes: 30,
            summary: "Coaching Time meeting: Sam T., Year 9".into(),
            location: "Room 12, Learning Support; upstairs".into(),
            description: "Meeting page:\nhttp://127.0.0.1:8080/meetings/42".into(),
            organizer: person("Oakfield Academy (Steadfast)", "steadfast@localhost"),
            attendees: vec![
                person("Jo Bloggs", "jo.bloggs@oakfield.example"),
                person("Priya \"PK\" Kaur", "p.kaur@oakfield.example"),
            ],
        }
    }

    /// Undoes folding, strictly: a line break must be CRLF, a continuation starts with one space.
    fn unfold(text: &str) -> Vec<String> {
        assert!(text.ends_with("\r\n"), "must end in CRLF");
        let mut lines: Vec<String> = Vec::new();
        for physical in text.trim_end_matches("\r\n").split("\r\n") {
            assert!(
                !physical.contains('\n') && !physical.contains('\r'),
                "bare line break"
            );
            assert!(
                physical.len() <= 75,
                "{} octets: {physical:?}",
                physical.len()
            );
            match physical.strip_prefix(' ') {
                Some(rest) => lines.last_mut().unwrap().push_str(rest),
                None => lines.push(physical.to_string()),
            }
        }
        lines
    }

    /// The value of the first content line with this name (parameters included), outside
    /// the VTIMEZONE.
    fn property<'a>(lines: &'a [String], name: &str) -> &'a str {
        let tz_start = lines.iter().position(|l| l == "BEGIN:VTIMEZONE").unwrap();
        let tz_end = lines.iter().position(|l| l == "END:VTIMEZONE").unwrap();
        lines[..tz_start]
            .iter()
            .chain(&lines[tz_end..])
            .find_map(|line| {
                line.strip_prefix(name)
                    .filter(|rest| rest.starts_with(':') || rest.starts_with(';'))
            })
            .unwrap_or_else(|| panic!("no {name}"))
    }

    fn unescape(value: &str) -> String {
        let mut out = String::new();
        let mut chars = value.chars();
        while let Some(c) = chars.next() {
            if c == '\\' {
                match chars.next() {
                    Some('n') | Some('N') => out.push('\n'),
                    Some(other) => out.push(other),
                    None => panic!("dangling backslash"),
                }
            } else {
                out.push(c);
            }
        }
        out
    }

    /// Reads a DTSTART/DTEND back the way RFC 5545 says a reader must.
    fn instant(value: &str) -> DateTime<Utc> {
        if let Some(local) = value.strip_prefix(";TZID=Europe/London:") {
            let local = NaiveDateTime::parse_from_str(local, "%Y%m%dT%H%M%S").unwrap();
            match LONDON.from_local_datetime(&local) {
                LocalResult::Single(t) | LocalResult::Ambiguous(t, _) => t.with_timezone(&Utc),
                LocalResult::None => panic!("{local} does not exist in London"),
            }
        } else {
            let utc = value.strip_prefix(':').unwrap();
            NaiveDateTime::parse_from_str(utc, "%Y%m%dT%H%M%SZ")
                .unwrap()
                .and_utc()
        }
    }

    #[test]
    fn text_values_are_escaped() {
        assert_eq!(
            escape_text("a\\b;c,d\ne\r\nf\rg"),
            "a\\\\b\\;c\\,d\\ne\\nf\\ng"
        );
        assert_eq!(escape_text("bell\u{7}\ttab"), "bell\ttab");
        assert_eq!(escape_text("Café: 10 o'clock"), "Café: 10 o'clock");
        assert_eq!(unescape(&escape_text("x;y,z\\w\nv")), "x;y,z\\w\nv");
    }

    #[test]
    fn short_lines_are_not_folded() {
        let line = "X".repeat(75);
        assert_eq!(fold(&line), format!("{line}\r\n"));
        assert_eq!(
            fold(&"X".repeat(76)),
            format!("{}\r\n X\r\n", "X".repeat(75))
        );
    }

    #[test]
    fn long_lines_fold_at_75_octets_and_unfold_to_the_original() {
        let line = format!("DESCRIPTION:{}", "abcdefghij".repeat(30));
        let folded = fold(&line);
        assert_eq!(unfold(&folded), vec![line]);
        assert!(folded.split("\r\n").all(|l| l.len() <= 75));
    }

    #[test]
    fn folding_never_splits_a_character() {
        // Two-, three- and four-octet characters at every possible offset from the limit.
        for pad in 0..4 {
            let line = format!("SUMMARY:{}{}", "x".repeat(pad), "é€😀ŵ".repeat(40));
            let folded = fold(&line);
            // `folded` is a `String`, so each piece is valid UTF-8 only if no split was mid-character;
            // check the pieces as bytes too, to be explicit.
            for physical in folded.as_bytes().split(|b| *b == b'\n') {
                assert!(std::str::from_utf8(physical).is_ok());
                assert!(physical.len() <= 76, "{} octets with CR", physical.len());
            }
            assert_eq!(unfold(&folded), vec![line]);
        }
    }

    #[test]
    fn an_invitation_has_every_required_part() {
        let text = render(&event());
        let lines = unfold(&text);
        assert_eq!(lines.first().unwrap(), "BEGIN:VCALENDAR");
        assert_eq!(lines.last().unwrap(), "END:VCALENDAR");
        assert_eq!(property(&lines, "VERSION"), ":2.0");
        assert_eq!(property(&lines, "PRODID"), format!(":{PRODID}"));
        assert_eq!(property(&lines, "METHOD"), ":REQUEST");
        assert!(lines.contains(&"TZID:Europe/London".to_string()));
        assert_eq!(
            property(&lines, "UID"),
            ":meeting-42@steadfast.oakfield.example"
        );
        assert_eq!(property(&lines, "SEQUENCE"), ":0");
        assert_eq!(property(&lines, "DTSTAMP"), ":20261120T090000Z");
        assert_eq!(
            property(&lines, "DTSTART"),
            ";TZID=Europe/London:20261201T153000"
        );
        assert_eq!(
            property(&lines, "DTEND"),
            ";TZID=Europe/London:20261201T160000"
        );
        assert_eq!(property(&lines, "STATUS"), ":CONFIRMED");
        assert_eq!(
            unescape(property(&lines, "LOCATION").trim_start_matches(':')),
            "Room 12, Learning Support; upstairs"
        );
        assert_eq!(
            unescape(property(&lines, "DESCRIPTION").trim_start_matches(':')),
            "Meeting page:\nhttp://127.0.0.1:8080/meetings/42"
        );
        assert_eq!(
            property(&lines, "ORGANIZER"),
            ";CN=\"Oakfield Academy (Steadfast)\":mailto:steadfast@localhost"
        );
        let attendees: Vec<&String> = lines.iter().filter(|l| l.starts_with("ATTENDEE")).collect();
        assert_eq!(attendees.len(), 2);
        assert!(attendees.iter().all(|l| l.contains(";RSVP=FALSE")));
        assert!(attendees[1].starts_with("ATTENDEE;CN=\"Priya 'PK' Kaur\";"));
        assert!(attendees[1].ends_with(":mailto:p.kaur@oakfield.example"));
        assert_eq!(method_of(&text), Some(Method::Request));
    }

    #[test]
    fn a_cancellation_keeps_the_uid_and_raises_the_sequence() {
        let invite = unfold(&render(&event()));
        let cancel_text = render(&MeetingEvent {
            method: Method::Cancel,
            sequence: 2,
            ..event()
        });
        let cancel = unfold(&cancel_text);
        assert_eq!(property(&cancel, "METHOD"), ":CANCEL");
        assert_eq!(property(&cancel, "UID"), property(&invite, "UID"));
        assert_eq!(property(&cancel, "SEQUENCE"), ":2");
        assert_eq!(property(&cancel, "STATUS"), ":CANCELLED");
        assert_eq!(
            cancel.iter().filter(|l| l.starts_with("ATTENDEE")).count(),
            2
        );
        assert!(!cancel_text.contains("RSVP"));
        assert_eq!(method_of(&cancel_text), Some(Method::Cancel));
    }

    #[test]
    fn times_either_side_of_the_october_change_use_local_time() {
        // Friday 23 October 2026 is BST (UTC+1); Monday 26 October is GMT.
        let before = MeetingEvent {
            starts_at: Utc.with_ymd_and_hms(2026, 10, 23, 14, 0, 0).unwrap(),
            ..event()
        };
        let after = MeetingEvent {
            starts_at: Utc.with_ymd_and_hms(2026, 10, 26, 15, 0, 0).unwrap(),
            ..event()
        };
        let before = unfold(&render(&before));
        let after = unfold(&render(&after));
        assert_eq!(
            property(&before, "DTSTART"),
            ";TZID=Europe/London:20261023T150000"
        );
        assert_eq!(
            property(&after, "DTSTART"),
            ";TZID=Europe/London:20261026T150000"
        );
    }

    #[test]
    fn a_meeting_across_the_october_change_keeps_its_length() {
        // Starts 00:30 BST on Sunday 25 October 2026, lasts two hours: clocks go back at
        // 02:00 BST, so it ends at 01:30 GMT, a local time that happens twice that night.
        let starts_at = Utc.with_ymd_and_hms(2026, 10, 24, 23, 30, 0).unwrap();
        let across = MeetingEvent {
            starts_at,
            duration_minutes: 120,
            ..event()
        };
        let lines = unfold(&render(&across));
        let start = property(&lines, "DTSTART");
        let end = property(&lines, "DTEND");
        assert_eq!(start, ";TZID=Europe/London:20261025T003000");
        assert_eq!(end, ":20261025T013000Z");
        assert_eq!(instant(start), starts_at);
        assert_eq!(instant(end) - instant(start), Duration::minutes(120));

        // Every quarter hour through both changes of 2026 reads back as the same instant.
        for day in [(3, 28), (10, 24)] {
            let midnight = Utc.with_ymd_and_hms(2026, day.0, day.1, 22, 0, 0).unwrap();
            for quarter in 0..24 {
                let t = midnight + Duration::minutes(15 * quarter);
                assert_eq!(instant(&local_stamp(t)), t, "{t}");
            }
        }
    }

    #[test]
    fn the_vtimezone_rules_match_the_time_zone_database() {
        fn last_sunday(year: i32, month: u32) -> NaiveDate {
            let mut day = NaiveDate::from_ymd_opt(year, month + 1, 1)
                .unwrap()
                .pred_opt()
                .unwrap();
            while day.weekday() != Weekday::Sun {
                day = day.pred_opt().unwrap();
            }
            day
        }
        // The DTSTARTs name the last Sundays of March and October 1970.
        assert_eq!(
            last_sunday(1970, 3),
            NaiveDate::from_ymd_opt(1970, 3, 29).unwrap()
        );
        assert_eq!(
            last_sunday(1970, 10),
            NaiveDate::from_ymd_opt(1970, 10, 25).unwrap()
        );
        let offset = |t: DateTime<Utc>| t.with_timezone(&LONDON).offset().fix().local_minus_utc();
        for year in 1996..2100 {
            for (month, before, after) in [(3, 0, 3600), (10, 3600, 0)] {
                let change = last_sunday(year, month)
                    .and_hms_opt(1, 0, 0)
                    .unwrap()
                    .and_utc();
                assert_eq!(
                    offset(change - Duration::seconds(1)),
                    before,
                    "{year}-{month}"
                );
                assert_eq!(offset(change), after, "{year}-{month}");
            }
        }
    }

    #[test]
    fn a_parser_reads_it_back() {
        for method in [Method::Request, Method::Cancel] {
            let text = render(&MeetingEvent {
                method,
                sequence: 1,
                ..event()
            });
            let mut parser = ical::IcalParser::new(std::io::BufReader::new(text.as_bytes()));
            let calendar = parser.next().expect("one calendar").expect("it parses");
            assert!(parser.next().is_none());
            let value = |props: &[ical::property::Property], name: &str| {
                props
                    .iter()
                    .find(|p| p.name == name)
                    .and_then(|p| p.value.clone())
                    .unwrap_or_else(|| panic!("no {name}"))
            };
            assert_eq!(value(&calendar.properties, "METHOD"), method.as_str());
            assert_eq!(value(&calendar.properties, "VERSION"), "2.0");
            assert_eq!(calendar.timezones.len(), 1);
            assert_eq!(calendar.timezones[0].transitions.len(), 2);
            assert_eq!(calendar.events.len(), 1);
            let event = &calendar.events[0].properties;
            assert_eq!(value(event, "UID"), "meeting-42@steadfast.oakfield.example");
            assert_eq!(value(event, "DTSTART"), "20261201T153000");
            let start = event.iter().find(|p| p.name == "DTSTART").unwrap();
            assert_eq!(
                start.params,
                Some(vec![(
                    "TZID".to_string(),
                    vec!["Europe/London".to_string()]
                )])
            );
            let attendees: Vec<_> = event.iter().filter(|p| p.name == "ATTENDEE").collect();
            assert_eq!(attendees.len(), 2);
            assert_eq!(
                attendees[0].value.as_deref(),
                Some("mailto:jo.bloggs@oakfield.example")
            );
        }
    }

    #[test]
    fn a_uid_names_the_meeting_and_the_installation() {
        assert_eq!(uid(7, "h.example"), "meeting-7@h.example");
    }
}
