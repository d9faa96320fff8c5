//! API tokens: each stored as the hash of its secret, with the name its owner gave it and an
//! optional expiry. A token works while it is unrevoked, unexpired and its owner's account is
//! open; that is checked on every request, so revoking one takes effect at once everywhere.

use chrono::{DateTime, NaiveDateTime, TimeDelta, Utc};
use diesel::prelude::*;

use super::schema::{api_tokens, staff};
use super::staff::StaffMember;
use super::{to_db_time, DbConnection};
use crate::error::{Error, Result};

/// The longest name a token may have.
pub const MAX_TOKEN_NAME_CHARS: usize = 80;

/// Checks a token's name: trimmed, at most [`MAX_TOKEN_NAME_CHARS`], without control
/// characters (it may be empty).
pub fn check_name(name: &str) -> Result<String> {
    let name = name.trim();
    if name.chars().count() > MAX_TOKEN_NAME_CHARS {
        return Err(Error::invalid(
            "name",
            format!("a token's name is at most {MAX_TOKEN_NAME_CHARS} characters"),
        ));
    }
    if name.chars().any(char::is_control) {
        return Err(Error::invalid(
            "name",
            "a token's name cannot hold control characters",
        ));
    }
    Ok(name.to_string())
}

/// Stores a new token's hash for a staff member, under a checked name, expiring at
/// `expires_at` if given.
pub fn add(
    conn: &mut DbConnection,
    member: &StaffMember,
    token_hash: &str,
    name: &str,
    expires_at: Option<DateTime<Utc>>,
    now: DateTime<Utc>,
) -> Result<()> {
    let name = check_name(name)?;
    diesel::insert_into(api_tokens::table)
        .values((
            api_tokens::school_id.eq(member.school_id),
            api_tokens::staff_id.eq(member.id),
            api_tokens::token_hash.eq(token_hash),
            api_tokens::name.eq(name),
            api_tokens::created_at.eq(to_db_time(now)),
            api_tokens::expires_at.eq(expires_at.map(to_db_time)),
        ))
        .execute(conn)?;
    Ok(())
}

/// A token that works, and whose it is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ValidToken {
    pub token_id: i64,
    pub school_id: i64,
    pub staff_id: i64,
    pub last_used: Option<NaiveDateTime>,
}

/// How stale a token's "last used" time may get before it is written again: keeps reads
/// from turning into writes on every request.
const TOKEN_USE_PRECISION: TimeDelta = TimeDelta::minutes(5);

impl ValidToken {
    /// Whether the token's "last used" time is stale enough to write again.
    pub fn needs_touch(&self, now: DateTime<Utc>) -> bool {
        let now = to_db_time(now);
        self.last_used
            .is_none_or(|used| now - used > TOKEN_USE_PRECISION)
    }
}

/// The token with this hash, when it works at `now`: unrevoked, unexpired, its owner's
/// account open. One query; only reads.
pub fn find_valid(
    conn: &mut DbConnection,
    token_hash: &str,
    now: DateTime<Utc>,
) -> Result<Option<ValidToken>> {
    let now = to_db_time(now);
    Ok(api_tokens::table
        .inner_join(staff::table)
        .filter(api_tokens::token_hash.eq(token_hash))
        .filter(api_tokens::revoked_at.is_null())
        .filter(
            api_tokens::expires_at
                .is_null()
                .or(api_tokens::expires_at.gt(now)),
        )
        .filter(staff::active.eq(true))
        .filter(staff::school_id.eq(api_tokens::school_id))
        .select((
            api_tokens::id,
            api_tokens::school_id,
            api_tokens::staff_id,
            api_tokens::last_used_at,
        ))
        .get_result::<(i64, i64, i64, Option<NaiveDateTime>)>(conn)
        .optional()?
        .map(|(token_id, school_id, staff_id, last_used)| ValidToken {
            token_id,
            school_id,
            staff_id,
            last_used,
        }))
}

/// Notes that a token was used now.
pub fn touch(conn: &mut DbConnection, token_id: i64, now: DateTime<Utc>) -> Result<()> {
    diesel::update(api_tokens::table.find(token_id))
        .set(api_tokens::last_used_at.eq(to_db_time(now)))
        .execute(conn)?;
    Ok(())
}

/// The token with this hash when it works at `now` (see [`find_valid`]), noting its use when
/// the last note is stale: for a request that checks its token inside its own transaction.
pub fn use_valid(
    conn: &mut DbConnection,
    token_hash: &str,
    now: DateTime<Utc>,
) -> Result<Option<ValidToken>> {
    let valid = find_valid(conn, token_hash, now)?;
    if let Some(valid) = &valid {
        if valid.needs_touch(now) {
            touch(conn, valid.token_id, now)?;
        }
    }
    Ok(valid)
}

/// One of a person's tokens, as listed to them (never its secret).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenListing {
    pub id: i64,
    pub name: String,
    pub created_at: NaiveDateTime,
    pub last_used_at: Option<NaiveDateTime>,
    pub expires_at: Option<NaiveDateTime>,
    pub revoked_at: Option<NaiveDateTime>,
}

impl TokenListing {
    /// Whether the token works at `now` (its owner's account aside).
    pub fn works(&self, now: DateTime<Utc>) -> bool {
        self.revoked_at.is_none() && self.expires_at.is_none_or(|at| at > to_db_time(now))
    }
}

/// A person's tokens, newest first.
pub fn list_for(
    conn: &mut DbConnection,
    school_id: i64,
    staff_id: i64,
) -> Result<Vec<TokenListing>> {
    Ok(api_tokens::table
        .filter(api_tokens::school_id.eq(school_id))
        .filter(api_tokens::staff_id.eq(staff_id))
        .order((api_tokens::created_at.desc(), api_tokens::id.desc()))
        .select((
            api_tokens::id,
            api_tokens::name,
            api_tokens::created_at,
            api_tokens::last_used_at,
            api_tokens::expires_at,
            api_tokens::revoked_at,
        ))
        .load::<(
            i64,
            String,
            NaiveDateTime,
            Option<NaiveDateTime>,
            Option<NaiveDateTime>,
            Option<NaiveDateTime>,
        )>(conn)?
        .into_iter()
        .map(
            |(id, name, created_at, last_used_at, expires_at, revoked_at)| TokenListing {
                id,
                name,
                created_at,
                last_used_at,
                expires_at,
                revoked_at,
            },
        )
        .collect())
}

/// Which of a person's tokens to revoke.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Revoke<'a> {
    /// Every unrevoked one.
    All,
    /// Those with this name.
    Named(&'a str),
    /// The one with this id.
    Id(i64),
}

/// Revokes a person's tokens at `now`; how many were revoked.
pub fn revoke(
    conn: &mut DbConnection,
    school_id: i64,
    staff_id: i64,
    which: Revoke<'_>,
    now: DateTime<Utc>,
) -> Result<usize> {
    let theirs = api_tokens::table
        .filter(api_tokens::school_id.eq(school_id))
        .filter(api_tokens::staff_id.eq(staff_id))
        .filter(api_tokens::revoked_at.is_null())
        .into_boxed();
    let chosen = match which {
        Revoke::All => theirs,
        Revoke::Named(name) => theirs.filter(api_tokens::name.eq(name.trim().to_string())),
        Revoke::Id(id) => theirs.filter(api_tokens::id.eq(id)),
    };
    let ids: Vec<i64> = chosen.select(api_tokens::id).load(conn)?;
    Ok(
        diesel::update(api_tokens::table.filter(api_tokens::id.eq_any(&ids)))
            .set(api_tokens::revoked_at.eq(to_db_time(now)))
            .execute(conn)?,
    )
}
