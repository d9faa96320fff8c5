//! Answers kept for requests that carry an idempotency key: a repeat of the same request
//! gets the first answer back and changes nothing. Keys belong to the staff member who sent
//! them, so one adult's key never collides with another's.

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use sha2::{Digest, Sha256};

use super::schema::idempotency_keys;
use super::{to_db_time, DbConnection};
use crate::error::{Error, Result};

/// How long the answer to a keyed request is kept. A phone that queued a Prompt while offline
/// sends it again within this time and logs it once; after it the key is forgotten (the answer
/// holds the incident as logged, personal data the school need not keep).
pub const ANSWERS_KEPT_DAYS: i64 = 30;

/// A checked idempotency key: 8 to 200 visible ASCII characters (a UUID fits).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdempotencyKey(String);

impl IdempotencyKey {
    /// Reads a key sent as the `Idempotency-Key` header or a form field.
    pub fn parse(field: &str, raw: &str) -> Result<Self> {
        let key = raw.trim();
        let valid = (8..=200).contains(&key.len()) && key.bytes().all(|b| b.is_ascii_graphic());
        if !valid {
            return Err(Error::invalid(
                field,
                "an idempotency key is 8 to 200 visible characters, such as a UUID",
            ));
        }
        Ok(IdempotencyKey(key.to_string()))
    }

    /// The key as stored.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// The first answer given to a keyed request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredAnswer {
    pub request_hash: String,
    pub status_code: u16,
    pub body: String,
}

/// A fingerprint of a request's content, to tell a true repeat from a reused key.
pub fn request_hash(content: &[u8]) -> String {
    hex::encode(Sha256::digest(content))
}

/// The answer already given to this staff member's keyed request, if any.
pub fn find(
    conn: &mut DbConnection,
    staff_id: i64,
    key: &IdempotencyKey,
) -> Result<Option<StoredAnswer>> {
    let row: Option<(String, i32, String)> = idempotency_keys::table
        .filter(idempotency_keys::staff_id.eq(staff_id))
        .filter(idempotency_keys::idempotency_key.eq(key.as_str()))
        .select((
            idempotency_keys::request_hash,
            idempotency_keys::status_code,
            idempotency_keys::response_body,
        ))
        .get_result(conn)
        .optional()?;
    Ok(row.map(|(request_hash, status, body)| StoredAnswer {
        request_hash,
        status_code: u16::try_from(status).unwrap_or(200),
        body,
    }))
}

/// An answer to keep: for whom, under which key, and when it was given.
pub struct AnswerToKeep<'a> {
    pub school_id: i64,
    pub staff_id: i64,
    pub key: &'a IdempotencyKey,
    pub answer: &'a StoredAnswer,
    pub at: DateTime<Utc>,
}

/// Keeps the answers to keyed requests, in the transaction that did their work: one insert.
/// A second request with a key already kept (or racing one) fails on the unique index, and
/// rolls back.
pub fn store_all(conn: &mut DbConnection, answers: &[AnswerToKeep<'_>]) -> Result<()> {
    if answers.is_empty() {
        return Ok(());
    }
    let rows: Vec<_> = answers
        .iter()
        .map(|kept| {
            (
                idempotency_keys::school_id.eq(kept.school_id),
                idempotency_keys::staff_id.eq(kept.staff_id),
                idempotency_keys::idempotency_key.eq(kept.key.as_str()),
                idempotency_keys::request_hash.eq(&kept.answer.request_hash),
                idempotency_keys::status_code.eq(i32::from(kept.answer.status_code)),
                idempotency_keys::response_body.eq(&kept.answer.body),
                idempotency_keys::created_at.eq(to_db_time(kept.at)),
            )
        })
        .collect();
    super::on_each_engine!(conn, |c| diesel::insert_into(idempotency_keys::table)
        .values(rows)
        .execute(c)?);
    Ok(())
}

/// Replaces the answers kept for keyed requests that logged these incidents (an answer holds
/// the incident as it was logged) with "not found": a repeat of such a request still writes
/// nothing, and never shows the erased incident again.
pub fn forget_answers_about(
    conn: &mut DbConnection,
    school_id: i64,
    incident_ids: &[i64],
) -> Result<usize> {
    let erased = Error::NotFound("incident");
    let answer = serde_json::json!({
        "error": { "code": erased.code(), "message": erased.to_string() }
    })
    .to_string();
    let mut forgotten = 0;
    for incident_id in incident_ids {
        let candidates: Vec<(i64, String)> = idempotency_keys::table
            .filter(idempotency_keys::school_id.eq(school_id))
            .filter(idempotency_keys::response_body.like(format!("%\"id\":{incident_id}%")))
            .select((idempotency_keys::id, idempotency_keys::response_body))
            .load(conn)?;
        for (row_id, body) in candidates {
            let about = serde_json::from_str::<serde_json::Value>(&body)
                .ok()
                .and_then(|kept| kept.get("id").and_then(serde_json::Value::as_i64));
            if about == Some(*incident_id) {
                forgotten += diesel::update(idempotency_keys::table.find(row_id))
                    .set((
                        idempotency_keys::status_code.eq(i32::from(erased.status())),
                        idempotency_keys::response_body.eq(&answer),
                    ))
                    .execute(conn)?;
            }
        }
    }
    Ok(forgotten)
}

/// Deletes the answers kept longer than [`ANSWERS_KEPT_DAYS`] before `now`; answers how many.
pub fn clear_expired(conn: &mut DbConnection, now: DateTime<Utc>) -> Result<usize> {
    let oldest_kept = now - chrono::TimeDelta::days(ANSWERS_KEPT_DAYS);
    Ok(diesel::delete(
        idempotency_keys::table.filter(idempotency_keys::created_at.lt(to_db_time(oldest_kept))),
    )
    .execute(conn)?)
}

/// Whether a database error is the unique index refusing a second use of a key.
pub fn is_key_clash(error: &Error) -> bool {
    matches!(
        error,
        Error::Database(diesel::result::Error::DatabaseError(
            diesel::result::DatabaseErrorKind::UniqueViolation,
            _
        ))
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_checked() {
        assert!(
            IdempotencyKey::parse("Idempotency-Key", "0b8f9d2e-3c1a-4c7e-9b55-1f2e3d4c5b6a")
                .is_ok()
        );
        for bad in ["", "short", "has space in it", &"k".repeat(201)] {
            let err = IdempotencyKey::parse("Idempotency-Key", bad).unwrap_err();
            assert_eq!(err.field(), Some("Idempotency-Key"), "{bad:?}");
        }
    }

    #[test]
    fn request_hashes_tell_content_apart() {
        assert_eq!(request_hash(b"{}"), request_hash(b"{}"));
        assert_ne!(request_hash(b"{}"), request_hash(b"{ }"));
    }
}
