//! People's second factors (see `domain::second_factor`): enrolling an authenticator,
//! checking a code (each step accepted once), recovery codes (stored as SHA-256 hashes, each
//! used once), turning it off, and the school setting naming the roles that must have one.
//! Every change is audited, never with a code, a secret or a name.

use chrono::{DateTime, NaiveDateTime, Utc};
use diesel::prelude::*;

use super::audit::{self, AuditEntry};
use super::schema::{recovery_codes, schools, second_factors, staff};
use super::{to_db_time, DbConnection};
use crate::accounts::hash_secret;
use crate::domain::second_factor::{
    parse_required_roles, required_roles_text, Authenticator, TypedCode,
};
use crate::domain::Role;
use crate::error::{Error, Result};

/// A person's authenticator as stored.
#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = second_factors)]
pub struct FactorRow {
    pub secret: String,
    pub created_at: NaiveDateTime,
    pub confirmed_at: Option<NaiveDateTime>,
    pub last_used_step: Option<i64>,
}

impl FactorRow {
    /// Whether its first code was typed, so that it is on.
    pub fn is_on(&self) -> bool {
        self.confirmed_at.is_some()
    }
}

/// How a code was accepted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Accepted {
    /// A code from the authenticator app.
    Authenticator,
    /// A recovery code, now used.
    Recovery,
}

/// A person's authenticator, on or awaiting its first code; `None` when they have none.
pub fn find(conn: &mut DbConnection, staff_id: i64) -> Result<Option<FactorRow>> {
    Ok(second_factors::table
        .filter(second_factors::staff_id.eq(staff_id))
        .select(FactorRow::as_select())
        .first(conn)
        .optional()?)
}

/// Whether a person's second factor is on.
pub fn is_on(conn: &mut DbConnection, staff_id: i64) -> Result<bool> {
    Ok(find(conn, staff_id)?.is_some_and(|f| f.is_on()))
}

fn record(
    conn: &mut DbConnection,
    school_id: i64,
    staff_id: i64,
    action: &str,
    now: DateTime<Utc>,
) -> Result<()> {
    audit::record(
        conn,
        AuditEntry {
            school_id,
            actor_id: Some(staff_id),
            action,
            entity: "staff",
            entity_id: Some(staff_id),
            detail: String::new(),
            at: to_db_time(now),
        },
    )
}

/// Starts enrolling a new authenticator with `secret` (base32), replacing one that awaits
/// its first code. Refused while one is on.
pub fn start(
    conn: &mut DbConnection,
    school_id: i64,
    staff_id: i64,
    secret: &str,
    now: DateTime<Utc>,
) -> Result<()> {
    if is_on(conn, staff_id)? {
        return Err(Error::conflict(
            "code",
            "your authenticator is already on: turn it off first to set up another",
        ));
    }
    diesel::delete(second_factors::table.filter(second_factors::staff_id.eq(staff_id)))
        .execute(conn)?;
    diesel::insert_into(second_factors::table)
        .values((
            second_factors::school_id.eq(school_id),
            second_factors::staff_id.eq(staff_id),
            second_factors::secret.eq(secret),
            second_factors::created_at.eq(to_db_time(now)),
        ))
        .execute(conn)?;
    Ok(())
}

/// Turns on the authenticator awaiting its first code when `code` is a current code of it,
/// and stores the hashes of a first set of recovery codes. Answers whether it was turned on.
/// Audited as `second_factor.on`.
pub fn confirm(
    conn: &mut DbConnection,
    school_id: i64,
    staff_id: i64,
    account: &str,
    code: &str,
    recovery: &[String],
    now: DateTime<Utc>,
) -> Result<bool> {
    let Some(factor) = find(conn, staff_id)?.filter(|f| !f.is_on()) else {
        return Ok(false);
    };
    let app = authenticator(&factor, account)?;
    let Some(step) = app.matching_step(code, now.timestamp(), None) else {
        return Ok(false);
    };
    // Only while still unconfirmed: of two confirmations at once, one turns it on.
    let confirmed = diesel::update(
        second_factors::table
            .filter(second_factors::staff_id.eq(staff_id))
            .filter(second_factors::confirmed_at.is_null()),
    )
    .set((
        second_factors::confirmed_at.eq(Some(to_db_time(now))),
        second_factors::last_used_step.eq(Some(step)),
    ))
    .execute(conn)?;
    if confirmed == 0 {
        return Ok(false);
    }
    store_recovery_codes(conn, staff_id, recovery, now)?;
    record(conn, school_id, staff_id, "second_factor.on", now)?;
    Ok(true)
}

fn authenticator(factor: &FactorRow, account: &str) -> Result<Authenticator> {
    Authenticator::from_base32(&factor.secret, account)
        .map_err(|e| Error::Internal(format!("a stored second factor: {e}")))
}

/// Replaces a person's recovery codes with these (canonical codes; only hashes are kept).
fn store_recovery_codes(
    conn: &mut DbConnection,
    staff_id: i64,
    codes: &[String],
    now: DateTime<Utc>,
) -> Result<()> {
    diesel::delete(recovery_codes::table.filter(recovery_codes::staff_id.eq(staff_id)))
        .execute(conn)?;
    let at = to_db_time(now);
    // One row at a time: a batch insert does not run over both engines' connection.
    for code in codes {
        diesel::insert_into(recovery_codes::table)
            .values((
                recovery_codes::staff_id.eq(staff_id),
                recovery_codes::code_hash.eq(hash_secret(code)),
                recovery_codes::created_at.eq(at),
            ))
            .execute(conn)?;
    }
    Ok(())
}

/// Checks a code typed by a person whose authenticator is on: a current code of a step not
/// used before (that step is then used), or an unused recovery code (then used, audited as
/// `second_factor.recovery_used`). `None` when it is refused.
pub fn check(
    conn: &mut DbConnection,
    school_id: i64,
    staff_id: i64,
    typed: &str,
    now: DateTime<Utc>,
) -> Result<Option<Accepted>> {
    let Some(factor) = find(conn, staff_id)?.filter(FactorRow::is_on) else {
        return Ok(None);
    };
    match TypedCode::parse(typed) {
        Some(TypedCode::Authenticator(code)) => {
            let app = authenticator(&factor, "")?;
            let Some(step) = app.matching_step(&code, now.timestamp(), factor.last_used_step)
            else {
                return Ok(None);
            };
            // Only a later step than the one stored: two requests with one code cannot
            // both pass.
            let updated = diesel::update(
                second_factors::table
                    .filter(second_factors::staff_id.eq(staff_id))
                    .filter(
                        second_factors::last_used_step
                            .is_null()
                            .or(second_factors::last_used_step.lt(step)),
                    ),
            )
            .set(second_factors::last_used_step.eq(Some(step)))
            .execute(conn)?;
            Ok((updated == 1).then_some(Accepted::Authenticator))
        }
        Some(TypedCode::Recovery(code)) => {
            let used = diesel::update(
                recovery_codes::table
                    .filter(recovery_codes::staff_id.eq(staff_id))
                    .filter(recovery_codes::code_hash.eq(hash_secret(&code)))
                    .filter(recovery_codes::used_at.is_null()),
            )
            .set(recovery_codes::used_at.eq(Some(to_db_time(now))))
            .execute(conn)?;
            if used == 0 {
                return Ok(None);
            }
            record(
                conn,
                school_id,
                staff_id,
                "second_factor.recovery_used",
                now,
            )?;
            Ok(Some(Accepted::Recovery))
        }
        None => Ok(None),
    }
}

/// How many unused recovery codes a person has.
pub fn recovery_codes_left(conn: &mut DbConnection, staff_id: i64) -> Result<i64> {
    Ok(recovery_codes::table
        .filter(recovery_codes::staff_id.eq(staff_id))
        .filter(recovery_codes::used_at.is_null())
        .count()
        .get_result(conn)?)
}

/// Replaces a person's recovery codes with new ones when `typed` is accepted by [`check`].
/// Answers whether they were replaced. Audited as `second_factor.recovery_codes`.
pub fn renew_recovery_codes(
    conn: &mut DbConnection,
    school_id: i64,
    staff_id: i64,
    typed: &str,
    codes: &[String],
    now: DateTime<Utc>,
) -> Result<bool> {
    if check(conn, school_id, staff_id, typed, now)?.is_none() {
        return Ok(false);
    }
    store_recovery_codes(conn, staff_id, codes, now)?;
    record(
        conn,
        school_id,
        staff_id,
        "second_factor.recovery_codes",
        now,
    )?;
    Ok(true)
}

/// Turns a person's second factor off, with its recovery codes, when `typed` is accepted by
/// [`check`]. Answers whether it was turned off. Audited as `second_factor.off`.
pub fn turn_off(
    conn: &mut DbConnection,
    school_id: i64,
    staff_id: i64,
    typed: &str,
    now: DateTime<Utc>,
) -> Result<bool> {
    if check(conn, school_id, staff_id, typed, now)?.is_none() {
        return Ok(false);
    }
    diesel::delete(recovery_codes::table.filter(recovery_codes::staff_id.eq(staff_id)))
        .execute(conn)?;
    diesel::delete(second_factors::table.filter(second_factors::staff_id.eq(staff_id)))
        .execute(conn)?;
    record(conn, school_id, staff_id, "second_factor.off", now)?;
    Ok(true)
}

/// The roles a school requires a second factor of.
pub fn required_roles(conn: &mut DbConnection, school_id: i64) -> Result<Vec<Role>> {
    let text: String = schools::table
        .find(school_id)
        .select(schools::mfa_roles)
        .first(conn)?;
    Ok(parse_required_roles(&text))
}

/// Sets the roles a school requires a second factor of. Audited as `school.mfa_roles`, the
/// roles in its detail.
pub fn set_required_roles(
    conn: &mut DbConnection,
    school_id: i64,
    roles: &[Role],
    actor_id: Option<i64>,
    now: DateTime<Utc>,
) -> Result<()> {
    let text = required_roles_text(roles);
    diesel::update(schools::table.find(school_id))
        .set(schools::mfa_roles.eq(&text))
        .execute(conn)?;
    audit::record(
        conn,
        AuditEntry {
            school_id,
            actor_id,
            action: "school.mfa_roles",
            entity: "school",
            entity_id: Some(school_id),
            detail: text,
            at: to_db_time(now),
        },
    )
}

/// Whether a member of staff must have a second factor on and has none: they hold a role
/// their school requires it of.
pub fn must_enrol(conn: &mut DbConnection, school_id: i64, staff_id: i64) -> Result<bool> {
    let required = required_roles(conn, school_id)?;
    if required.is_empty() || is_on(conn, staff_id)? {
        return Ok(false);
    }
    let roles: Vec<String> = super::schema::staff_roles::table
        .filter(super::schema::staff_roles::staff_id.eq(staff_id))
        .select(super::schema::staff_roles::role)
        .load(conn)?;
    Ok(roles
        .iter()
        .filter_map(|r| Role::parse(r).ok())
        .any(|r| required.contains(&r)))
}

/// The email address of a member of staff, the account name shown in their app.
pub fn account_name(conn: &mut DbConnection, staff_id: i64) -> Result<String> {
    Ok(staff::table
        .find(staff_id)
        .select(staff::email)
        .first(conn)?)
}
