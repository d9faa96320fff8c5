//! A Coaching Conversation's record, checked: when and with whom, and the conversation in the
//! shape of a coaching conversation (what happened, what got in the way, what could help, the
//! plan for next time, good for me / good for you / good for everyone).

use chrono::{DateTime, Utc};

use crate::domain::details::{distinct_ids, optional_text, recorded_time, refuse, DetailError};

/// Longest answer to one of the conversation's questions.
pub const MAX_ANSWER_CHARS: usize = 2000;
/// Longest "with whom".
pub const MAX_WITH_WHOM_CHARS: usize = 200;
/// Most incidents one conversation may follow up.
pub const MAX_LINKED_INCIDENTS: usize = 30;

/// A conversation as submitted, before checking.
#[derive(Debug, Clone, Default)]
pub struct ConversationSubmission<'a> {
    pub pupil_id: i64,
    /// When it was held; now when left out.
    pub held_at: Option<DateTime<Utc>>,
    pub with_whom: Option<&'a str>,
    pub what_happened: Option<&'a str>,
    pub what_got_in_the_way: Option<&'a str>,
    pub what_could_help: Option<&'a str>,
    pub plan_next_time: Option<&'a str>,
    pub good_for_everyone: Option<&'a str>,
    pub incident_ids: &'a [i64],
}

/// A checked Coaching Conversation, ready to be stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewConversation {
    pub pupil_id: i64,
    pub held_at: DateTime<Utc>,
    pub with_whom: Option<String>,
    pub what_happened: String,
    pub what_got_in_the_way: Option<String>,
    pub what_could_help: Option<String>,
    pub plan_next_time: String,
    pub good_for_everyone: Option<String>,
    /// The incidents it follows up: no repeats, in the order given.
    pub incident_ids: Vec<i64>,
}

impl NewConversation {
    /// Checks a submission as of `now`; the first fault found is returned with its field.
    /// What happened and the plan for next time are required.
    pub fn parse(
        submission: &ConversationSubmission<'_>,
        now: DateTime<Utc>,
    ) -> Result<Self, DetailError> {
        let held_at = recorded_time("held_at", submission.held_at, now)?;
        let with_whom = optional_text("with_whom", submission.with_whom, MAX_WITH_WHOM_CHARS)?;
        let what_happened =
            optional_text("what_happened", submission.what_happened, MAX_ANSWER_CHARS)?
                .ok_or_else(|| refuse("what_happened", "say briefly what happened"))?;
        let what_got_in_the_way = optional_text(
            "what_got_in_the_way",
            submission.what_got_in_the_way,
            MAX_ANSWER_CHARS,
        )?;
        let what_could_help = optional_text(
            "what_could_help",
            submission.what_could_help,
            MAX_ANSWER_CHARS,
        )?;
        let plan_next_time = optional_text(
            "plan_next_time",
            submission.plan_next_time,
            MAX_ANSWER_CHARS,
        )?
        .ok_or_else(|| refuse("plan_next_time", "write down the plan agreed for next time"))?;
        let good_for_everyone = optional_text(
            "good_for_everyone",
            submission.good_for_everyone,
            MAX_ANSWER_CHARS,
        )?;
        let incident_ids = distinct_ids(
            "incident_ids",
            submission.incident_ids,
            MAX_LINKED_INCIDENTS,
            "incident",
        )?;
        Ok(NewConversation {
            pupil_id: submission.pupil_id,
            held_at,
            with_whom,
            what_happened,
            what_got_in_the_way,
            what_could_help,
            plan_next_time,
            good_for_everyone,
            incident_ids,
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

    fn submission<'a>(incidents: &'a [i64]) -> ConversationSubmission<'a> {
        ConversationSubmission {
            pupil_id: 4,
            what_happened: Some("Called out across the room."),
            plan_next_time: Some("Hand up, and a card on the desk when it is hard to wait."),
            incident_ids: incidents,
            ..Default::default()
        }
    }

    #[test]
    fn a_minimal_conversation_is_now_with_blanks_as_none() {
        let parsed = NewConversation::parse(
            &ConversationSubmission {
                what_got_in_the_way: Some("   "),
                ..submission(&[1, 2])
            },
            now(),
        )
        .unwrap();
        assert_eq!(parsed.held_at, now());
        assert_eq!(parsed.what_got_in_the_way, None);
        assert_eq!(parsed.incident_ids, vec![1, 2]);
    }

    #[test]
    fn what_happened_and_the_plan_are_required() {
        let missing_story = ConversationSubmission {
            what_happened: Some(" "),
            ..submission(&[])
        };
        assert_eq!(
            NewConversation::parse(&missing_story, now())
                .unwrap_err()
                .field,
            "what_happened"
        );
        let missing_plan = ConversationSubmission {
            plan_next_time: None,
            ..submission(&[])
        };
        assert_eq!(
            NewConversation::parse(&missing_plan, now())
                .unwrap_err()
                .field,
            "plan_next_time"
        );
    }

    #[test]
    fn times_lengths_and_links_are_checked() {
        let future = ConversationSubmission {
            held_at: Some(now() + chrono::TimeDelta::hours(1)),
            ..submission(&[])
        };
        assert_eq!(
            NewConversation::parse(&future, now()).unwrap_err().field,
            "held_at"
        );
        let long = "x".repeat(MAX_ANSWER_CHARS + 1);
        let too_long = ConversationSubmission {
            what_could_help: Some(&long),
            ..submission(&[])
        };
        assert_eq!(
            NewConversation::parse(&too_long, now()).unwrap_err().field,
            "what_could_help"
        );
        assert_eq!(
            NewConversation::parse(&submission(&[3, 3]), now())
                .unwrap_err()
                .field,
            "incident_ids"
        );
    }
}
