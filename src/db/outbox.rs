//! The outbox: every email is a row, written in the transaction of the change that causes
//! it, and sent later by the delivery worker (see `crate::jobs::delivery`). A row's message
//! key is unique, so queueing the same email twice keeps one row; a lease stops two workers
//! (or two instances) sending one row at once; failed attempts are retried with growing
//! waits, then the row is marked failed for an admin to resend.

use chrono::{DateTime, TimeDelta, Utc};
use diesel::prelude::*;

use super::models::OutboxRow;
use super::schema::{outbox, staff};
use super::{insert_unless_present, to_db_time, DbConnection};
use crate::error::{Error, Result};
use crate::mail::OutgoingEmail;

/// Attempts before a row is marked failed.
pub const MAX_ATTEMPTS: i32 = 8;

/// How long a claimed row is reserved for the worker sending it. Longer than any send
/// takes (the SMTP timeout is far shorter), so a row is only claimed again when the worker
/// holding it has died.
pub const LEASE: TimeDelta = TimeDelta::minutes(5);

/// Rows claimed at a time by one worker.
const CLAIM_BATCH: i64 = 20;

/// The state of an outbox row.
pub mod status {
    /// Waiting to be sent (or retried).
    pub const PENDING: &str = "pending";
    /// Accepted by the mail server (or written as a file).
    pub const SENT: &str = "sent";
    /// Given up after [`super::MAX_ATTEMPTS`], or refused for good; an admin may resend it.
    pub const FAILED: &str = "failed";
    /// Kept for the recipient's daily digest.
    pub const HELD: &str = "held";
    /// Sent inside a digest.
    pub const COLLATED: &str = "collated";
}

/// How long to wait before attempt `attempts + 1`: 30 seconds, doubling, at most an hour.
pub fn backoff(attempts: i32) -> TimeDelta {
    let doublings = u32::try_from(attempts.saturating_sub(1).clamp(0, 7)).unwrap_or(0);
    (TimeDelta::seconds(30) * 2_i32.pow(doublings)).min(TimeDelta::hours(1))
}

/// Who an email goes to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Recipient {
    /// The staff member, when the recipient has an account (guests have none).
    pub staff_id: Option<i64>,
    pub name: String,
    pub email: String,
}

/// Queues an email in the caller's transaction. An email with the same message key already
/// queued is left as it is: queueing is safe to repeat. A staff member who takes a daily
/// digest gets notices in it, but calendar invitations always come on their own.
pub fn enqueue(
    conn: &mut DbConnection,
    school_id: i64,
    recipient: &Recipient,
    email: &OutgoingEmail,
    topic: &str,
    now: DateTime<Utc>,
) -> Result<()> {
    let takes_digest = match recipient.staff_id {
        Some(id) if email.calendar.is_none() => staff::table
            .find(id)
            .select(staff::digest_hour)
            .get_result::<Option<i16>>(conn)
            .optional()?
            .flatten()
            .is_some(),
        _ => false,
    };
    let state = if takes_digest {
        status::HELD
    } else {
        status::PENDING
    };
    let at = to_db_time(now);
    insert_unless_present(conn, |conn| {
        diesel::insert_into(outbox::table)
            .values((
                outbox::school_id.eq(school_id),
                outbox::message_key.eq(&email.message_key),
                outbox::recipient.eq(&email.to),
                outbox::subject.eq(&email.subject),
                outbox::body_text.eq(&email.text),
                outbox::body_html.eq(Some(&email.html)),
                outbox::calendar_ics.eq(&email.calendar),
                outbox::status.eq(state),
                outbox::attempts.eq(0),
                outbox::next_attempt_at.eq(at),
                outbox::created_at.eq(at),
                outbox::staff_id.eq(recipient.staff_id),
                outbox::topic.eq(topic),
            ))
            .execute(conn)
    })
}

/// Claims rows due for sending as of `now`, leasing them to the caller for [`LEASE`]. On
/// PostgreSQL, rows another instance is claiming are skipped (`FOR UPDATE SKIP LOCKED`);
/// on SQLite the one writer of each process claims them, one process at a time.
///
/// A lease never ends before the real clock's `now + LEASE`: a run set in the past
/// (`jobs run --once --at`) must not lease rows only until a time already gone, which a
/// live worker would take as expired and send the same email again.
pub fn claim(conn: &mut DbConnection, now: DateTime<Utc>) -> Result<Vec<OutboxRow>> {
    let at = to_db_time(now);
    let leased_until = now.max(Utc::now()) + LEASE;
    let due = outbox::table
        .filter(outbox::status.eq(status::PENDING))
        .filter(outbox::next_attempt_at.le(at))
        .filter(outbox::lease_until.is_null().or(outbox::lease_until.lt(at)))
        .order(outbox::id)
        .limit(CLAIM_BATCH)
        .select(outbox::id);
    let ids: Vec<i64> = match conn {
        DbConnection::Postgres(pg) => due.for_update().skip_locked().load(pg)?,
        DbConnection::Sqlite(_) => due.load(conn)?,
    };
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    Ok(
        diesel::update(outbox::table.filter(outbox::id.eq_any(&ids)))
            .set((
                outbox::lease_until.eq(to_db_time(leased_until)),
                outbox::attempts.eq(outbox::attempts + 1),
            ))
            .returning(outbox::all_columns)
            .get_results(conn)?,
    )
}

/// Marks a claimed row as sent.
pub fn mark_sent(conn: &mut DbConnection, id: i64, now: DateTime<Utc>) -> Result<()> {
    diesel::update(outbox::table.find(id))
        .set((
            outbox::status.eq(status::SENT),
            outbox::sent_at.eq(Some(to_db_time(now))),
            outbox::lease_until.eq(None::<chrono::NaiveDateTime>),
            outbox::last_error.eq(None::<String>),
        ))
        .execute(conn)?;
    Ok(())
}

/// Notes a failed attempt on a claimed row: it is retried after [`backoff`], or marked
/// failed when the error is permanent or the attempts are used up. Answers the new status.
pub fn mark_attempt_failed(
    conn: &mut DbConnection,
    row: &OutboxRow,
    error: &str,
    permanent: bool,
    now: DateTime<Utc>,
) -> Result<&'static str> {
    let state = if permanent || row.attempts >= MAX_ATTEMPTS {
        status::FAILED
    } else {
        status::PENDING
    };
    let error: String = error.chars().take(500).collect();
    diesel::update(outbox::table.find(row.id))
        .set((
            outbox::status.eq(state),
            outbox::next_attempt_at.eq(to_db_time(now + backoff(row.attempts))),
            outbox::lease_until.eq(None::<chrono::NaiveDateTime>),
            outbox::last_error.eq(Some(error)),
        ))
        .execute(conn)?;
    Ok(state)
}

/// One page of the school's emails (of one status, or all), newest first, after the email
/// whose id the request holds.
pub fn page(
    conn: &mut DbConnection,
    school_id: i64,
    only: Option<&str>,
    request: &crate::domain::paging::PageRequest<i64>,
) -> Result<crate::domain::paging::Page<OutboxRow>> {
    let mut query = outbox::table
        .filter(outbox::school_id.eq(school_id))
        .order(outbox::id.desc())
        .limit(request.fetch_i64())
        .select(OutboxRow::as_select())
        .into_boxed();
    if let Some(state) = only {
        query = query.filter(outbox::status.eq(state.to_string()));
    }
    if let Some(before) = request.after {
        query = query.filter(outbox::id.lt(before));
    }
    Ok(request.cut(query.load(conn)?, |row: &OutboxRow| row.id))
}

/// One email of the school.
pub fn get(conn: &mut DbConnection, school_id: i64, id: i64) -> Result<OutboxRow> {
    outbox::table
        .filter(outbox::id.eq(id))
        .filter(outbox::school_id.eq(school_id))
        .select(OutboxRow::as_select())
        .get_result(conn)
        .optional()?
        .ok_or(Error::NotFound("email"))
}

/// Puts a failed email back in the queue with its attempts reset.
pub fn resend(conn: &mut DbConnection, school_id: i64, id: i64, now: DateTime<Utc>) -> Result<()> {
    let row = get(conn, school_id, id)?;
    if row.status != status::FAILED {
        return Err(Error::Conflict {
            message: format!(
                "only a failed email can be resent; this one is {}",
                row.status
            ),
            field: None,
        });
    }
    diesel::update(outbox::table.find(id))
        .set((
            outbox::status.eq(status::PENDING),
            outbox::attempts.eq(0),
            outbox::next_attempt_at.eq(to_db_time(now)),
            outbox::lease_until.eq(None::<chrono::NaiveDateTime>),
        ))
        .execute(conn)?;
    Ok(())
}

/// The emails held for one staff member's digest.
pub fn held_for(conn: &mut DbConnection, staff_id: i64) -> Result<Vec<OutboxRow>> {
    Ok(outbox::table
        .filter(outbox::staff_id.eq(staff_id))
        .filter(outbox::status.eq(status::HELD))
        .order(outbox::id)
        .select(OutboxRow::as_select())
        .load(conn)?)
}

/// Marks held emails as sent inside a digest.
pub fn mark_collated(conn: &mut DbConnection, ids: &[i64], now: DateTime<Utc>) -> Result<()> {
    diesel::update(outbox::table.filter(outbox::id.eq_any(ids)))
        .set((
            outbox::status.eq(status::COLLATED),
            outbox::sent_at.eq(Some(to_db_time(now))),
        ))
        .execute(conn)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retries_wait_longer_each_time_up_to_an_hour() {
        assert_eq!(backoff(1), TimeDelta::seconds(30));
        assert_eq!(backoff(2), TimeDelta::seconds(60));
        assert_eq!(backoff(3), TimeDelta::seconds(120));
        assert_eq!(backoff(7), TimeDelta::seconds(30 * 64));
        assert_eq!(backoff(8), TimeDelta::hours(1));
        assert_eq!(backoff(50), TimeDelta::hours(1));
        assert_eq!(backoff(0), TimeDelta::seconds(30));
    }
}
