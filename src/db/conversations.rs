//! Coaching Conversation records: when, with whom, and the conversation in the shape of the
//! coaching seeds (what happened, what got in the way, what could help, the plan for next
//! time, good for me / good for you / good for everyone), linked to the incidents it follows up.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use diesel::prelude::*;

use super::audit::{self, AuditEntry};
use super::schema::{conversation_incidents, conversations, incident_pupils};
use super::{pupils, to_db_time, DbConnection};
use crate::domain::conversation::NewConversation;
use crate::error::{Error, Result};

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

/// Deletes conversations of the school with their links to incidents, in the caller's
/// transaction; answers how many went.
pub fn delete(conn: &mut DbConnection, school_id: i64, ids: &[i64]) -> Result<usize> {
    if ids.is_empty() {
        return Ok(0);
    }
    diesel::delete(
        conversation_incidents::table
            .filter(conversation_incidents::school_id.eq(school_id))
            .filter(conversation_incidents::conversation_id.eq_any(ids)),
    )
    .execute(conn)?;
    Ok(diesel::delete(
        conversations::table
            .filter(conversations::school_id.eq(school_id))
            .filter(conversations::id.eq_any(ids)),
    )
    .execute(conn)?)
}

/// The pupil a conversation of the school is with; not found for another school's.
pub fn pupil_of(conn: &mut DbConnection, school_id: i64, conversation_id: i64) -> Result<i64> {
    conversations::table
        .filter(conversations::id.eq(conversation_id))
        .filter(conversations::school_id.eq(school_id))
        .select(conversations::pupil_id)
        .first(conn)
        .optional()?
        .ok_or(Error::NotFound("conversation"))
}

/// Erases a conversation on request (SLT, administrator) with its links to incidents; the
/// audit entry holds who, when, the record and the reason, never its content. In the
/// caller's transaction; answers the pupil it was with.
pub fn erase(
    conn: &mut DbConnection,
    school_id: i64,
    staff_id: i64,
    conversation_id: i64,
    reason: &str,
    now: DateTime<Utc>,
) -> Result<i64> {
    let pupil_id = pupil_of(conn, school_id, conversation_id)?;
    delete(conn, school_id, &[conversation_id])?;
    audit::record(
        conn,
        AuditEntry {
            school_id,
            actor_id: Some(staff_id),
            action: "conversation.erase",
            entity: "conversation",
            entity_id: Some(conversation_id),
            detail: format!("pupil {pupil_id}; erased on request: {reason}"),
            at: to_db_time(now),
        },
    )?;
    Ok(pupil_id)
}
