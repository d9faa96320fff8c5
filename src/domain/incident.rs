//! A logged incident's details, checked: which pupils, what happened, how serious, the
//! response given, when and where. Parsed once when logged; trusted after.

use chrono::{DateTime, Utc};

use crate::domain::details::{distinct_ids, optional_text, recorded_time, refuse, DetailError};
use crate::domain::rules::{Response, Severity};

/// Most pupils one incident may involve.
pub const MAX_PUPILS: usize = 30;
/// Longest behaviour name, location or lesson.
pub const MAX_LABEL_CHARS: usize = 100;
/// Longest note.
pub const MAX_NOTE_CHARS: usize = 1000;

/// The behaviours a new school starts with; admins edit the list. `true` marks a behaviour
/// logged as serious unless the adult says otherwise.
pub const DEFAULT_BEHAVIOURS: &[(&str, bool)] = &[
    ("Low-level disruption", false),
    ("Off task", false),
    ("Calling out", false),
    ("Late to lesson", false),
    ("Equipment missing", false),
    ("Phone out", false),
    ("Unkind words", false),
    ("Refusal to follow instruction", false),
    ("Leaving lesson without permission", false),
    ("Rough play", false),
    ("Swearing at an adult", true),
    ("Physical aggression", true),
    ("Bullying", true),
    ("Damage to property", true),
];

/// An incident ready to be stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewIncident {
    /// The pupils involved: at least one, no repeats, in the order given.
    pub pupil_ids: Vec<i64>,
    pub behaviour: String,
    pub severity: Severity,
    pub response: Response,
    pub occurred_at: DateTime<Utc>,
    pub location: Option<String>,
    pub lesson: Option<String>,
    pub note: Option<String>,
}

/// An incident as submitted, before checking.
#[derive(Debug, Clone, Default)]
pub struct IncidentSubmission<'a> {
    pub pupil_ids: &'a [i64],
    pub behaviour: &'a str,
    pub severity: Option<&'a str>,
    pub response: Option<&'a str>,
    pub occurred_at: Option<DateTime<Utc>>,
    pub location: Option<&'a str>,
    pub lesson: Option<&'a str>,
    pub note: Option<&'a str>,
}

impl NewIncident {
    /// Checks a submission as of `now`: the first fault found is returned with its field.
    /// Severity defaults to minor, the response to a Coaching Prompt, the time to now.
    pub fn parse(
        submission: &IncidentSubmission<'_>,
        now: DateTime<Utc>,
    ) -> Result<Self, DetailError> {
        if submission.pupil_ids.is_empty() {
            return Err(refuse("pupil_ids", "name at least one pupil"));
        }
        let pupil_ids = distinct_ids("pupil_ids", submission.pupil_ids, MAX_PUPILS, "pupil")?;
        let behaviour = optional_text("behaviour", Some(submission.behaviour), MAX_LABEL_CHARS)?
            .ok_or_else(|| refuse("behaviour", "say what happened: choose a behaviour"))?;
        let severity = match submission.severity.map(str::trim).filter(|s| !s.is_empty()) {
            Some(raw) => {
                Severity::parse(raw).map_err(|_| refuse("severity", "must be minor or serious"))?
            }
            None => Severity::Minor,
        };
        let response = match submission.response.map(str::trim).filter(|s| !s.is_empty()) {
            Some(raw) => Response::parse(raw)
                .map_err(|_| refuse("response", "must be none, prompt or conversation"))?,
            None => Response::Prompt,
        };
        let occurred_at = recorded_time("occurred_at", submission.occurred_at, now)?;
        Ok(NewIncident {
            pupil_ids,
            behaviour,
            severity,
            response,
            occurred_at,
            location: optional_text("location", submission.location, MAX_LABEL_CHARS)?,
            lesson: optional_text("lesson", submission.lesson, MAX_LABEL_CHARS)?,
            note: optional_text("note", submission.note, MAX_NOTE_CHARS)?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn now() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 11, 23, 10, 0, 0).unwrap()
    }

    fn submission(pupils: &[i64]) -> IncidentSubmission<'_> {
        IncidentSubmission {
            pupil_ids: pupils,
            behaviour: "Off task",
            ..Default::default()
        }
    }

    #[test]
    fn a_bare_submission_is_a_minor_prompt_now() {
        let incident = NewIncident::parse(&submission(&[7]), now()).unwrap();
        assert_eq!(incident.severity, Severity::Minor);
        assert_eq!(incident.response, Response::Prompt);
        assert_eq!(incident.occurred_at, now());
        assert_eq!(incident.note, None);
    }

    #[test]
    fn pupils_must_be_named_once_each() {
        assert_eq!(
            NewIncident::parse(&submission(&[]), now())
                .unwrap_err()
                .field,
            "pupil_ids"
        );
        assert_eq!(
            NewIncident::parse(&submission(&[3, 4, 3]), now())
                .unwrap_err()
                .field,
            "pupil_ids"
        );
        let many: Vec<i64> = (1..=31).collect();
        assert_eq!(
            NewIncident::parse(&submission(&many), now())
                .unwrap_err()
                .field,
            "pupil_ids"
        );
        assert!(NewIncident::parse(&submission(&[3, 4]), now()).is_ok());
    }

    #[test]
    fn each_field_is_checked() {
        let pupils = [1];
        let cases: Vec<(IncidentSubmission<'_>, &str)> = vec![
            (
                IncidentSubmission {
                    behaviour: "  ",
                    ..submission(&pupils)
                },
                "behaviour",
            ),
            (
                IncidentSubmission {
                    severity: Some("awful"),
                    ..submission(&pupils)
                },
                "severity",
            ),
            (
                IncidentSubmission {
                    response: Some("detention"),
                    ..submission(&pupils)
                },
                "response",
            ),
            (
                IncidentSubmission {
                    occurred_at: Some(now() + chrono::TimeDelta::hours(1)),
                    ..submission(&pupils)
                },
                "occurred_at",
            ),
            (
                IncidentSubmission {
                    occurred_at: Some(now() - chrono::TimeDelta::days(31)),
                    ..submission(&pupils)
                },
                "occurred_at",
            ),
        ];
        for (case, field) in cases {
            assert_eq!(NewIncident::parse(&case, now()).unwrap_err().field, field);
        }
        let long_note = "x".repeat(MAX_NOTE_CHARS + 1);
        let case = IncidentSubmission {
            note: Some(&long_note),
            ..submission(&pupils)
        };
        assert_eq!(NewIncident::parse(&case, now()).unwrap_err().field, "note");
    }

    #[test]
    fn optional_texts_are_trimmed_and_blank_is_none() {
        let pupils = [1];
        let case = IncidentSubmission {
            location: Some("  Room 12 "),
            lesson: Some(""),
            note: Some(" Settled quickly.\\n"),
            severity: Some("Serious"),
            response: Some("conversation"),
            ..submission(&pupils)
        };
        let incident = NewIncident::parse(&case, now()).unwrap();
        assert_eq!(incident.location.as_deref(), Some("Room 12"));
        assert_eq!(incident.lesson, None);
        assert_eq!(incident.severity, Severity::Serious);
        assert_eq!(incident.response, Response::Conversation);
    }

    #[test]
    fn default_behaviours_are_unique() {
        let mut names: Vec<&str> = DEFAULT_BEHAVIOURS.iter().map(|(n, _)| *n).collect();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), DEFAULT_BEHAVIOURS.len());
    }
}
