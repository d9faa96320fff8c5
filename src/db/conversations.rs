//! Coaching Conversation records: when, with whom, and the conversation in the shape of the
//! coaching seeds (what happened, what got in the way, what could help, the plan for next
//! time, good for me / good for you / good for everyone), linked to the incidents it follows up.

use std::collections::HashMap;

use chrono::{DateTime, TimeDelta, Utc};
use diesel::prelude::*;

use super::audit::{self, AuditEntry};
use super::schema::{conversation_incidents, conversations, incident_pupils};
use super::{pupils, to_db_time, DbConnection};
use crate::domain::details::DetailError;
use crate::error::{Error, Result};

/// Longest answer to one of the conversation's questions.
pub const MAX_ANSWER_CHARS: usize = 2000;
/// Longest "with whom".
pub const MAX_WITH_WHOM_CHARS: usize = 200;
/// Most incidents one conversation may follow up.
pub const MAX_LINKED_INCIDENTS: usize = 30;
/// How far back a conversation may be recorded.
pub const MAX_BACKDATE_DAYS: i64 = 30;
/// Clock drift tolerated for a time "in the future".
const FUTURE_TOLERANCE_MINUTES: i64 = 5;

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

fn refuse(field: &'static str, message: impl Into<String>) -> DetailError {
    DetailError {
        field,
        message: message.into(),
    }
}

/// Trims an optional answer; blank becomes `None`; too long or with control characters is refused.
fn answer(
    field: &'static str,
    raw: Option<&str>,
    max: usize,
) -> Result<Option<String>, DetailError> {
    let Some(text) = raw.map(str::trim).filter(|t| !t.is_empty()) else {
        return Ok(None);
    };
    if text.chars().count() > max {
        return Err(refuse(field, format!("must be at most {max} characters")));
    }
    if text
        .chars()
        .any(|c| c.is_control() && c != '\n' && c != '\r' && c != '\t')
    {
        return Err(refuse(field, "must not contain control characters"));
    }
    Ok(Some(text.to_string()))
}

impl NewConversation {
    /// Checks a submission as of `now`; the first fault found is returned with its field.
    /// What happened and the plan for next time are required.
    pub fn parse(
        submission: &ConversationSubmission<'_>,
        now: DateTime<Utc>,
    ) -> Result<Self, DetailError> {
        let held_at = submission.held_at.unwrap_or(now);
        if held_at > now + TimeDelta::minutes(FUTURE_TOLERANCE_MINUTES) {
            return Err(refuse("held_at", "is in the future"));
        }
        if held_at < now - TimeDelta::days(MAX_BACKDATE_DAYS) {
            return Err(refuse(
                "held_at",
                format!("is more than {MAX_BACKDATE_DAYS} days ago"),
            ));
        }
        let with_whom = answer("with_whom", submission.with_whom, MAX_WITH_WHOM_CHARS)?;
        let what_happened = answer("what_happened", submission.what_happened, MAX_ANSWER_CHARS)?
            .ok_or_else(|| refuse("what_happened", "say briefly what happened"))?;
        let what_got_in_the_way = answer(
            "what_got_in_the_way",
            submission.what_got_in_the_way,
            MAX_ANSWER_CHARS,
        )?;
        let what_could_help = answer(
            "what_could_help",
            submission.what_could_help,
            MAX_ANSWER_CHARS,
        )?;
        let plan_next_time = answer(
            "plan_next_time",
            submission.plan_next_time,
            MAX_ANSWER_CHARS,
        )?
        .ok_or_else(|| refuse("plan_next_time", "write down the plan agreed for next time"))?;
        let good_for_everyone = answer(
            "good_for_everyone",
            submission.good_for_everyone,
            MAX_ANSWER_CHARS,
        )?;
        let incident_ids = submission.incident_ids.to_vec();
        if incident_ids.len() > MAX_LINKED_INCIDENTS {
            return Err(refuse(
                "incident_ids",
                format!("a conversation follows up at most {MAX_LINKED_INCIDENTS} incidents"),
            ));
        }
        let mut seen = incident_ids.clone();
        seen.sort_unstable();
        if seen.windows(2).any(|w| w[0] == w[1]) {
            return Err(refuse("incident_ids", "an incident is named twice"));
        }
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

/// Stores a Coaching Conversation held by `staff_id` with a pupil of the school, with its
/// links to the incidents it follows up (each must be one of that pupil's), audited without
/// any of its text. Runs in the caller's transaction; answers the new conversation's id.
pub fn record(
    conn: &mut DbConnection,
    school_id: i64,
    staff_id: i64,
    new: &NewConversation,
    now: DateTime<Utc>,
) -> Result<i64> {
    pupils::get(conn, school_id, new.pupil_id)?;
    if !new.incident_ids.is_empty() {
        let theirs: Vec<i64> = incident_pupils::table
            .filter(incident_pupils::school_id.eq(school_id))
            .filter(incident_pupils::pupil_id.eq(new.pupil_id))
            .filter(incident_pupils::incident_id.eq_any(&new.incident_ids))
            .select(incident_pupils::incident_id)
            .load(conn)?;
        if let Some(stranger) = new.incident_ids.iter().find(|id| !theirs.contains(id)) {
            return Err(Error::invalid(
                "incident_ids",
                format!("incident {stranger} is not one of this pupil's"),
            ));
        }
    }
    let id: i64 = diesel::insert_into(conversations::table)
        .values((
            conversations::school_id.eq(school_id),
            conversations::pupil_id.eq(new.pupil_id),
            conversations::held_by.eq(staff_id),
            conversations::held_at.eq(to_db_time(new.held_at)),
            conversations::with_whom.eq(&new.with_whom),
            conversations::what_happened.eq(&new.what_happened),
            conversations::what_got_in_the_way.eq(&new.what_got_in_the_way),
            conversations::what_could_help.eq(&new.what_could_help),
            conversations::plan_next_time.eq(&new.plan_next_time),
            conversations::good_for_everyone.eq(&new.good_for_everyone),
            conversations::created_at.eq(to_db_time(now)),
        ))
        .returning(conversations::id)
        .get_result(conn)?;
    for incident_id in &new.incident_ids {
        diesel::insert_into(conversation_incidents::table)
            .values((
                conversation_incidents::conversation_id.eq(id),
                conversation_incidents::incident_id.eq(incident_id),
                conversation_incidents::school_id.eq(school_id),
            ))
            .execute(conn)?;
    }
    audit::record(
        conn,
        AuditEntry {
            school_id,
            actor_id: Some(staff_id),
            action: "conversation.record",
            entity: "conversation",
            entity_id: Some(id),
            detail: format!(
                "pupil {}, {} incident(s) followed up",
                new.pupil_id,
                new.incident_ids.len()
            ),
            at: to_db_time(now),
        },
    )?;
    Ok(id)
}

/// The incidents each of these conversations of the school follows up, by conversation id.
pub fn linked_incidents(
    conn: &mut DbConnection,
    school_id: i64,
    conversation_ids: &[i64],
) -> Result<HashMap<i64, Vec<i64>>> {
    let links: Vec<(i64, i64)> = conversation_incidents::table
        .filter(conversation_incidents::school_id.eq(school_id))
        .filter(conversation_incidents::conversation_id.eq_any(conversation_ids))
        .order((
            conversation_incidents::conversation_id,
            conversation_incidents::incident_id,
        ))
        .select((
            conversation_incidents::conversation_id,
            conversation_incidents::incident_id,
        ))
        .load(conn)?;
    let mut by_conversation: HashMap<i64, Vec<i64>> = HashMap::new();
    for (conversation, incident) in links {
        by_conversation
            .entry(conversation)
            .or_default()
            .push(incident);
    }
    Ok(by_conversation)
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
            held_at: Some(now() + TimeDelta::hours(1)),
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
