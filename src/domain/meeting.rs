//! The rules of a meeting's page: which step it is at (book it, then record it), who is
//! suggested to take part, how staff are found by name, and when a meeting may be recorded as
//! missed.

use chrono::{DateTime, Utc};

use super::words::MeetingStatus;

/// The step a meeting is at: booking it (when, where, who), then recording what happened.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MeetingStep {
    /// Due and not yet booked.
    Book,
    /// Booked: record it as held or missed (or move it).
    Record,
}

impl MeetingStep {
    /// The step a meeting with `status` is at; `None` once it is held, missed or cancelled.
    pub fn of(status: MeetingStatus) -> Option<MeetingStep> {
        match status {
            MeetingStatus::Due => Some(MeetingStep::Book),
            MeetingStatus::Scheduled => Some(MeetingStep::Record),
            MeetingStatus::Held | MeetingStatus::Missed | MeetingStatus::Cancelled => None,
        }
    }
}

/// Why a member of staff is suggested for a meeting about a pupil.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reason {
    /// Leads the pupil's year group or house.
    PastoralLead,
    /// Tutors the pupil's form.
    Tutor,
    /// The school's SENDCO.
    Sendco,
    /// Logged this many incidents about the pupil.
    Logged(u32),
}

impl Reason {
    /// How the reason reads beside the name.
    pub fn text(self) -> String {
        match self {
            Reason::PastoralLead => "Head of Year or House".to_string(),
            Reason::Tutor => "Tutor".to_string(),
            Reason::Sendco => "SENDCO".to_string(),
            Reason::Logged(1) => "logged 1 incident about the pupil".to_string(),
            Reason::Logged(n) => format!("logged {n} incidents about the pupil"),
        }
    }
}

/// What is known of one member of staff in relation to the meeting's pupil.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Closeness {
    pub staff_id: i64,
    pub leads_pupil: bool,
    pub tutors_pupil: bool,
    pub is_sendco: bool,
    /// Incidents about the pupil they logged.
    pub logged: u32,
}

/// How many of those who logged most about the pupil are suggested.
pub const MOST_LOGGED: usize = 3;

/// A member of staff suggested for the meeting, with every reason they are.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Suggested {
    pub staff_id: i64,
    pub reasons: Vec<Reason>,
}

/// The staff to suggest for a meeting about a pupil: their Head of Year (or House), tutor
/// and the SENDCO first, in that order, then the [`MOST_LOGGED`] who logged most about the
/// pupil (most first, ties by id). Each member is suggested once, with all their reasons.
pub fn suggest_staff(staff: &[Closeness]) -> Vec<Suggested> {
    let by_role = |pick: fn(&Closeness) -> bool| {
        let mut picked: Vec<&Closeness> = staff.iter().filter(|s| pick(s)).collect();
        picked.sort_by_key(|s| s.staff_id);
        picked
    };
    let mut loggers: Vec<&Closeness> = staff.iter().filter(|s| s.logged > 0).collect();
    loggers.sort_by(|a, b| b.logged.cmp(&a.logged).then(a.staff_id.cmp(&b.staff_id)));
    loggers.truncate(MOST_LOGGED);
    let order = by_role(|s| s.leads_pupil)
        .into_iter()
        .chain(by_role(|s| s.tutors_pupil))
        .chain(by_role(|s| s.is_sendco))
        .chain(loggers);
    let mut suggested: Vec<Suggested> = Vec::new();
    for member in order {
        if suggested.iter().any(|s| s.staff_id == member.staff_id) {
            continue;
        }
        let reasons = [
            (member.leads_pupil, Reason::PastoralLead),
            (member.tutors_pupil, Reason::Tutor),
            (member.is_sendco, Reason::Sendco),
            (member.logged > 0, Reason::Logged(member.logged)),
        ]
        .into_iter()
        .filter_map(|(holds, reason)| holds.then_some(reason))
        .collect();
        suggested.push(Suggested {
            staff_id: member.staff_id,
            reasons,
        });
    }
    suggested
}

/// Whether a member of staff called `name` is found by `search`: every word of the search
/// begins a word of the name, letter case ignored ("jo sm" finds "Jo Smith"). An empty
/// search finds everyone.
pub fn name_matches(name: &str, search: &str) -> bool {
    let name = name.to_lowercase();
    let words: Vec<&str> = name.split_whitespace().collect();
    search
        .to_lowercase()
        .split_whitespace()
        .all(|wanted| words.iter().any(|word| word.starts_with(wanted)))
}

/// Whether a meeting booked to start at `starts_at` may be recorded as missed at `now`: only
/// once it has been booked and its time has come. The refusal says why.
pub fn may_record_missed(
    starts_at: Option<DateTime<Utc>>,
    now: DateTime<Utc>,
) -> Result<(), &'static str> {
    match starts_at {
        None => Err("it has not been booked yet: book it, or cancel it"),
        Some(starts) if now < starts => Err(
            "it has not started yet: it can be recorded as missed once its booked time has come",
        ),
        Some(_) => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn person(id: i64) -> Closeness {
        Closeness {
            staff_id: id,
            ..Closeness::default()
        }
    }

    #[test]
    fn the_step_follows_the_status() {
        assert_eq!(MeetingStep::of(MeetingStatus::Due), Some(MeetingStep::Book));
        assert_eq!(
            MeetingStep::of(MeetingStatus::Scheduled),
            Some(MeetingStep::Record)
        );
        for done in [
            MeetingStatus::Held,
            MeetingStatus::Missed,
            MeetingStatus::Cancelled,
        ] {
            assert_eq!(MeetingStep::of(done), None, "{done:?}");
        }
    }

    #[test]
    fn roles_come_first_then_those_who_logged_most() {
        let staff = vec![
            Closeness {
                logged: 2,
                ..person(1)
            },
            Closeness {
                is_sendco: true,
                ..person(2)
            },
            Closeness {
                logged: 9,
                ..person(3)
            },
            Closeness {
                tutors_pupil: true,
                logged: 4,
                ..person(4)
            },
            Closeness {
                leads_pupil: true,
                ..person(5)
            },
            Closeness {
                logged: 1,
                ..person(6)
            },
            person(7),
        ];
        let suggested = suggest_staff(&staff);
        let ids: Vec<i64> = suggested.iter().map(|s| s.staff_id).collect();
        // Head of Year, tutor, SENDCO; then 3 (9 logged), 1 (2): the tutor (4 logged) is one
        // of the three who logged most and is not listed twice; 6 and 7 are left out.
        assert_eq!(ids, vec![5, 4, 2, 3, 1]);
        assert_eq!(suggested[1].reasons, vec![Reason::Tutor, Reason::Logged(4)]);
        assert_eq!(suggested[3].reasons, vec![Reason::Logged(9)]);
    }

    #[test]
    fn nobody_close_means_no_suggestion() {
        assert!(suggest_staff(&[person(1), person(2)]).is_empty());
    }

    #[test]
    fn reasons_read_as_words() {
        assert_eq!(
            Reason::Logged(1).text(),
            "logged 1 incident about the pupil"
        );
        assert_eq!(
            Reason::Logged(3).text(),
            "logged 3 incidents about the pupil"
        );
    }

    #[test]
    fn names_are_found_by_the_start_of_their_words() {
        assert!(name_matches("Jo Smith", "jo sm"));
        assert!(name_matches("Jo Smith", "SMITH"));
        assert!(name_matches("Jo Smith", ""));
        assert!(!name_matches("Jo Smith", "mith"));
        assert!(!name_matches("Jo Smith", "jo x"));
    }

    #[test]
    fn missed_only_once_booked_and_its_time_has_come() {
        let starts = Utc.with_ymd_and_hms(2026, 3, 2, 9, 0, 0).unwrap();
        let before = starts - chrono::TimeDelta::minutes(1);
        assert!(may_record_missed(Some(starts), before)
            .unwrap_err()
            .contains("not started yet"));
        assert_eq!(may_record_missed(Some(starts), starts), Ok(()));
        assert!(may_record_missed(None, starts)
            .unwrap_err()
            .contains("not been booked"));
    }
}
