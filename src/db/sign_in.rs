//! Sessions and failed sign-ins as rows. A session row is found by the SHA-256 hash of the
//! key its cookie carries; a run of failures by the hash of what it is counted under (the
//! address typed, or the client's network address), so neither secret nor typed address is
//! stored as such.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use super::schema::{login_failures, schools, sessions};
use super::DbConnection;
use crate::domain::sign_in::{FailureRun, SessionLimits};
use crate::error::Result;

/// What a session row records besides its key: its state (a JSON object of the values the
/// web layer keeps), and, once someone has signed in, who and from what device.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionRecord {
    pub state: String,
    pub staff_id: Option<i64>,
    pub school_id: Option<i64>,
    pub device: String,
}

/// A stored session as loaded: its state, and whether its "last used" time is due a write.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoadedSession {
    pub id: i64,
    pub state: String,
    pub last_seen_at: NaiveDateTime,
}

/// The live session with this key hash at `now`, or `None` when there is none or it has
/// expired: past its own expiry, or, once signed in, idle or older than its school allows.
pub fn load(
    conn: &mut DbConnection,
    key_hash: &str,
    now: NaiveDateTime,
) -> Result<Option<LoadedSession>> {
    type Row = (
        i64,
        String,
        NaiveDateTime,
        NaiveDateTime,
        NaiveDateTime,
        Option<(i32, i32)>,
    );
    let row: Option<Row> = sessions::table
        .left_join(schools::table)
        .filter(sessions::key_hash.eq(key_hash))
        .select((
            sessions::id,
            sessions::state,
            sessions::created_at,
            sessions::last_seen_at,
            sessions::expires_at,
            (
                schools::session_idle_minutes,
                schools::session_lifetime_hours,
            )
                .nullable(),
        ))
        .get_result(conn)
        .optional()?;
    let Some((id, state, created_at, last_seen_at, expires_at, limits)) = row else {
        return Ok(None);
    };
    let alive = expires_at > now
        && limits.is_none_or(|(idle_minutes, lifetime_hours)| {
            SessionLimits {
                idle_minutes,
                lifetime_hours,
            }
            .is_alive(created_at, last_seen_at, now)
        });
    Ok(alive.then_some(LoadedSession {
        id,
        state,
        last_seen_at,
    }))
}

/// Stores a new session.
pub fn insert(
    conn: &mut DbConnection,
    key_hash: &str,
    record: &SessionRecord,
    now: NaiveDateTime,
    expires_at: NaiveDateTime,
) -> Result<()> {
    diesel::insert_into(sessions::table)
        .values((
            sessions::key_hash.eq(key_hash),
            sessions::state.eq(&record.state),
            sessions::staff_id.eq(record.staff_id),
            sessions::school_id.eq(record.school_id),
            sessions::device.eq(&record.device),
            sessions::created_at.eq(now),
            sessions::last_seen_at.eq(now),
            sessions::expires_at.eq(expires_at),
        ))
        .execute(conn)?;
    Ok(())
}

/// Replaces a stored session's state; whether the session was still there to update (it may
/// have been ended meanwhile, and must then not come back).
pub fn update(
    conn: &mut DbConnection,
    key_hash: &str,
    record: &SessionRecord,
    now: NaiveDateTime,
    expires_at: NaiveDateTime,
) -> Result<bool> {
    let updated = diesel::update(sessions::table.filter(sessions::key_hash.eq(key_hash)))
        .set((
            sessions::state.eq(&record.state),
            sessions::staff_id.eq(record.staff_id),
            sessions::school_id.eq(record.school_id),
            sessions::device.eq(&record.device),
            sessions::last_seen_at.eq(now),
            sessions::expires_at.eq(expires_at),
        ))
        .execute(conn)?;
    Ok(updated > 0)
}

/// Notes that a session was used at `now`.
pub fn touch(conn: &mut DbConnection, id: i64, now: NaiveDateTime) -> Result<()> {
    diesel::update(sessions::table.find(id))
        .set(sessions::last_seen_at.eq(now))
        .execute(conn)?;
    Ok(())
}

/// Deletes the session with this key hash (signing out).
pub fn delete(conn: &mut DbConnection, key_hash: &str) -> Result<()> {
    diesel::delete(sessions::table.filter(sessions::key_hash.eq(key_hash))).execute(conn)?;
    Ok(())
}

/// One of a person's sessions, as their sessions page lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionListing {
    pub id: i64,
    pub state: String,
    pub device: String,
    pub created_at: NaiveDateTime,
    pub last_seen_at: NaiveDateTime,
}

/// A person's sessions, most recently used first (expired ones included until the nightly
/// clear-out; the page marks them by the school's limits).
pub fn list_for(
    conn: &mut DbConnection,
    school_id: i64,
    staff_id: i64,
) -> Result<Vec<SessionListing>> {
    Ok(sessions::table
        .filter(sessions::school_id.eq(school_id))
        .filter(sessions::staff_id.eq(staff_id))
        .order((sessions::last_seen_at.desc(), sessions::id.desc()))
        .select((
            sessions::id,
            sessions::state,
            sessions::device,
            sessions::created_at,
            sessions::last_seen_at,
        ))
        .load::<(i64, String, String, NaiveDateTime, NaiveDateTime)>(conn)?
        .into_iter()
        .map(
            |(id, state, device, created_at, last_seen_at)| SessionListing {
                id,
                state,
                device,
                created_at,
                last_seen_at,
            },
        )
        .collect())
}

/// Ends one of a person's sessions; whether there was one to end.
pub fn end_one(conn: &mut DbConnection, school_id: i64, staff_id: i64, id: i64) -> Result<bool> {
    let ended = diesel::delete(
        sessions::table
            .filter(sessions::id.eq(id))
            .filter(sessions::school_id.eq(school_id))
            .filter(sessions::staff_id.eq(staff_id)),
    )
    .execute(conn)?;
    Ok(ended > 0)
}

/// Ends every session of a person, but for the one with id `keep` (their own, when they
/// change their password); how many were ended.
pub fn end_all(
    conn: &mut DbConnection,
    school_id: i64,
    staff_id: i64,
    keep: Option<i64>,
) -> Result<usize> {
    let theirs = sessions::table
        .filter(sessions::school_id.eq(school_id))
        .filter(sessions::staff_id.eq(staff_id))
        .filter(sessions::id.ne(keep.unwrap_or(-1)));
    Ok(diesel::delete(theirs).execute(conn)?)
}

/// Clears out sessions past their own expiry, or idle or older than their school allows, and
/// runs of failed sign-ins that are over and forgotten; how many sessions were cleared.
pub fn clear_expired(conn: &mut DbConnection, now: NaiveDateTime) -> Result<usize> {
    let forgotten = now - crate::domain::sign_in::SIGN_IN_THROTTLE.forgotten_after;
    diesel::delete(
        login_failures::table
            .filter(login_failures::last_failed_at.lt(forgotten))
            .filter(
                login_failures::locked_until
                    .is_null()
                    .or(login_failures::locked_until.lt(now)),
            ),
    )
    .execute(conn)?;
    let mut ended =
        diesel::delete(sessions::table.filter(sessions::expires_at.le(now))).execute(conn)?;
    let signed_in: Vec<(i64, NaiveDateTime, NaiveDateTime, i32, i32)> = sessions::table
        .inner_join(schools::table)
        .select((
            sessions::id,
            sessions::created_at,
            sessions::last_seen_at,
            schools::session_idle_minutes,
            schools::session_lifetime_hours,
        ))
        .load(conn)?;
    let dead: Vec<i64> = signed_in
        .into_iter()
        .filter(|(_, created, seen, idle_minutes, lifetime_hours)| {
            !SessionLimits {
                idle_minutes: *idle_minutes,
                lifetime_hours: *lifetime_hours,
            }
            .is_alive(*created, *seen, now)
        })
        .map(|(id, ..)| id)
        .collect();
    for chunk in dead.chunks(500) {
        ended +=
            diesel::delete(sessions::table.filter(sessions::id.eq_any(chunk))).execute(conn)?;
    }
    Ok(ended)
}

/// A school's session limits.
pub fn session_limits(conn: &mut DbConnection, school_id: i64) -> Result<SessionLimits> {
    let (idle_minutes, lifetime_hours) = schools::table
        .find(school_id)
        .select((
            schools::session_idle_minutes,
            schools::session_lifetime_hours,
        ))
        .first::<(i32, i32)>(conn)?;
    Ok(SessionLimits {
        idle_minutes,
        lifetime_hours,
    })
}

/// Sets a school's session limits (already checked), audited as `actor`'s.
pub fn set_session_limits(
    conn: &mut DbConnection,
    school_id: i64,
    limits: SessionLimits,
    actor: i64,
    now: NaiveDateTime,
) -> Result<()> {
    diesel::update(schools::table.find(school_id))
        .set((
            schools::session_idle_minutes.eq(limits.idle_minutes),
            schools::session_lifetime_hours.eq(limits.lifetime_hours),
        ))
        .execute(conn)?;
    super::audit::record(
        conn,
        super::audit::AuditEntry {
            school_id,
            actor_id: Some(actor),
            action: "school.session_limits",
            entity: "school",
            entity_id: Some(school_id),
            detail: format!(
                "idle {} minutes, at most {} hours",
                limits.idle_minutes, limits.lifetime_hours
            ),
            at: now,
        },
    )
}

/// The stored run of failures under a key hash.
pub fn failure_run(conn: &mut DbConnection, key_hash: &str) -> Result<Option<FailureRun>> {
    Ok(login_failures::table
        .find(key_hash)
        .select((
            login_failures::failures,
            login_failures::last_failed_at,
            login_failures::locked_until,
        ))
        .get_result::<(i32, NaiveDateTime, Option<NaiveDateTime>)>(conn)
        .optional()?
        .map(|(failures, last_failed_at, locked_until)| FailureRun {
            failures,
            last_failed_at,
            locked_until,
        }))
}

/// Stores the run of failures under a key hash.
pub fn save_failure_run(conn: &mut DbConnection, key_hash: &str, run: &FailureRun) -> Result<()> {
    let updated = diesel::update(login_failures::table.find(key_hash))
        .set((
            login_failures::failures.eq(run.failures),
            login_failures::last_failed_at.eq(run.last_failed_at),
            login_failures::locked_until.eq(run.locked_until),
        ))
        .execute(conn)?;
    if updated == 0 {
        diesel::insert_into(login_failures::table)
            .values((
                login_failures::key_hash.eq(key_hash),
                login_failures::failures.eq(run.failures),
                login_failures::last_failed_at.eq(run.last_failed_at),
                login_failures::locked_until.eq(run.locked_until),
            ))
            .execute(conn)?;
    }
    Ok(())
}

/// Forgets the run of failures under a key hash (after a successful sign-in).
pub fn forget_failures(conn: &mut DbConnection, key_hash: &str) -> Result<()> {
    diesel::delete(login_failures::table.find(key_hash)).execute(conn)?;
    Ok(())
}
