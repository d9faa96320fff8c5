//! Single-use links to choose a password (see `domain::account_link`): issuing one and
//! queueing its email in the caller's transaction, checking one, using one, and the
//! password-reset request from the sign-in page. Tokens are stored as their SHA-256 hash
//! only; every link issued or used is audited, never with a name or a typed address.

use std::collections::HashMap;

use chrono::{DateTime, NaiveDateTime, TimeDelta, Utc};
use diesel::prelude::*;

use super::audit::{self, AuditEntry};
use super::outbox::{self, Recipient};
use super::schema::{account_links, schools, staff};
use super::{to_db_time, DbConnection};
use crate::accounts::{hash_secret, random_token};
use crate::domain::account_link::{LinkFacts, LinkPurpose, LinkState};
use crate::error::{Error, Result};
use crate::mail::content::{self, AccountLinkEmail};

/// The outbox topic of invitation and reset emails. They carry a way into someone's
/// account, so the admin email pages do not show their text.
pub const LINK_EMAIL_TOPIC: &str = "Password link";

/// At most one reset email per account in this time, however often it is asked for: the
/// form cannot be used to flood someone's inbox.
pub const RESET_REQUEST_GAP: TimeDelta = TimeDelta::minutes(2);

/// A link just issued: its token (only ever in the email) and when it stops working.
#[derive(Debug, Clone)]
pub struct IssuedLink {
    pub id: i64,
    pub token: String,
    pub expires_at: DateTime<Utc>,
}

/// Issues a new link for a member of staff, revoking their older unused links of the same
/// purpose. Writes in the caller's transaction.
pub fn issue(
    conn: &mut DbConnection,
    school_id: i64,
    staff_id: i64,
    purpose: LinkPurpose,
    now: DateTime<Utc>,
) -> Result<IssuedLink> {
    let at = to_db_time(now);
    diesel::update(
        account_links::table
            .filter(account_links::staff_id.eq(staff_id))
            .filter(account_links::purpose.eq(purpose.as_str()))
            .filter(account_links::used_at.is_null())
            .filter(account_links::revoked_at.is_null()),
    )
    .set(account_links::revoked_at.eq(Some(at)))
    .execute(conn)?;
    let token = random_token();
    let expires_at = now + purpose.lifetime();
    let id: i64 = diesel::insert_into(account_links::table)
        .values((
            account_links::school_id.eq(school_id),
            account_links::staff_id.eq(staff_id),
            account_links::purpose.eq(purpose.as_str()),
            account_links::token_hash.eq(hash_secret(&token)),
            account_links::created_at.eq(at),
            account_links::expires_at.eq(to_db_time(expires_at)),
        ))
        .returning(account_links::id)
        .get_result(conn)?;
    Ok(IssuedLink {
        id,
        token,
        expires_at,
    })
}

/// Revokes every unused link of a member of staff (their account closed, or a password
/// just chosen through one of them).
pub fn revoke_all(conn: &mut DbConnection, staff_id: i64, now: DateTime<Utc>) -> Result<()> {
    diesel::update(
        account_links::table
            .filter(account_links::staff_id.eq(staff_id))
            .filter(account_links::used_at.is_null())
            .filter(account_links::revoked_at.is_null()),
    )
    .set(account_links::revoked_at.eq(Some(to_db_time(now))))
    .execute(conn)?;
    Ok(())
}

/// Issues a link for a member of staff and queues its email, in the caller's transaction:
/// the invitation to a new account, or a password reset. Answers the link. Audited as
/// `account.invite` or `account.reset_link`.
pub fn send(
    conn: &mut DbConnection,
    public_url: &str,
    staff_id: i64,
    purpose: LinkPurpose,
    actor_id: Option<i64>,
    now: DateTime<Utc>,
) -> Result<IssuedLink> {
    let (school_id, email, name, school_name): (i64, String, String, String) = staff::table
        .inner_join(schools::table)
        .filter(staff::id.eq(staff_id))
        .select((staff::school_id, staff::email, staff::name, schools::name))
        .get_result(conn)?;
    let link = issue(conn, school_id, staff_id, purpose, now)?;
    let message = content::account_link(&AccountLinkEmail {
        recipient_name: name,
        email: email.clone(),
        school_name,
        purpose,
        url: content::account_link_url(public_url, &link.token),
        expires_at: link.expires_at,
    })
    .into_email(email.clone(), format!("account-link-{}", link.id), None);
    // No staff id on the row: a link must come at once, never held for a daily digest.
    let recipient = Recipient {
        staff_id: None,
        name: String::new(),
        email,
    };
    outbox::enqueue(conn, school_id, &recipient, &message, LINK_EMAIL_TOPIC, now)?;
    audit::record(
        conn,
        AuditEntry {
            school_id,
            actor_id,
            action: match purpose {
                LinkPurpose::Invitation => "account.invite",
                LinkPurpose::Reset => "account.reset_link",
            },
            entity: "staff",
            entity_id: Some(staff_id),
            detail: format!(
                "a single-use link valid for {} queued by email",
                purpose.lifetime_words()
            ),
            at: to_db_time(now),
        },
    )?;
    Ok(link)
}

/// A link found by its token, with whom it is for.
#[derive(Debug, Clone)]
pub struct FoundLink {
    pub id: i64,
    pub school_id: i64,
    pub staff_id: i64,
    pub purpose: LinkPurpose,
    /// The person's name and email, for the page and the password check.
    pub name: String,
    pub email: String,
    pub state: LinkState,
}

/// The link with this token and whether it works at `now`; `None` when no link has it.
pub fn find(conn: &mut DbConnection, token: &str, now: DateTime<Utc>) -> Result<Option<FoundLink>> {
    type Row = (
        i64,
        i64,
        i64,
        String,
        NaiveDateTime,
        Option<NaiveDateTime>,
        Option<NaiveDateTime>,
        bool,
        String,
        String,
    );
    if token.is_empty() || token.len() > 200 {
        return Ok(None);
    }
    let row: Option<Row> = account_links::table
        .inner_join(staff::table)
        .filter(account_links::token_hash.eq(hash_secret(token)))
        .select((
            account_links::id,
            account_links::school_id,
            account_links::staff_id,
            account_links::purpose,
            account_links::expires_at,
            account_links::used_at,
            account_links::revoked_at,
            staff::active,
            staff::name,
            staff::email,
        ))
        .get_result(conn)
        .optional()?;
    let Some((
        id,
        school_id,
        staff_id,
        purpose,
        expires_at,
        used_at,
        revoked_at,
        active,
        name,
        email,
    )) = row
    else {
        return Ok(None);
    };
    let purpose = LinkPurpose::parse(&purpose)
        .ok_or_else(|| Error::Internal(format!("account link {id} has an unknown purpose")))?;
    let facts = LinkFacts {
        expires_at,
        used_at,
        revoked_at,
        account_active: active,
    };
    Ok(Some(FoundLink {
        id,
        school_id,
        staff_id,
        purpose,
        name,
        email,
        state: LinkState::of(&facts, to_db_time(now)),
    }))
}

/// Sets a person's password through a link, in the caller's transaction: the link must
/// still work; it is marked used (once only, even when two tabs post at once), the person's
/// other unused links are revoked, and it is audited. Answers the link, or why it does not
/// work.
pub fn use_link(
    conn: &mut DbConnection,
    token: &str,
    password_hash: &str,
    now: DateTime<Utc>,
) -> Result<std::result::Result<FoundLink, LinkState>> {
    let Some(link) = find(conn, token, now)? else {
        return Ok(Err(LinkState::Unknown));
    };
    if link.state != LinkState::Usable {
        return Ok(Err(link.state));
    }
    let at = to_db_time(now);
    let marked = diesel::update(
        account_links::table
            .filter(account_links::id.eq(link.id))
            .filter(account_links::used_at.is_null()),
    )
    .set(account_links::used_at.eq(Some(at)))
    .execute(conn)?;
    if marked != 1 {
        return Ok(Err(LinkState::Used));
    }
    super::staff::set_password(conn, link.school_id, link.staff_id, password_hash, None)?;
    revoke_all(conn, link.staff_id, now)?;
    audit::record(
        conn,
        AuditEntry {
            school_id: link.school_id,
            actor_id: Some(link.staff_id),
            action: "account.password_set",
            entity: "staff",
            entity_id: Some(link.staff_id),
            detail: format!("through a {} link", link.purpose.as_str()),
            at,
        },
    )?;
    Ok(Ok(link))
}

/// Answers a password-reset request from the sign-in page, in the caller's transaction.
/// For an active account with this address, a reset link is emailed (at most one every
/// [`RESET_REQUEST_GAP`]); for any other address nothing is sent. Either way the request is
/// audited, without the typed address when no account has it (against the school its
/// domain points to, or the only school; otherwise only logged), and the caller answers
/// the same.
pub fn request_reset(
    conn: &mut DbConnection,
    public_url: &str,
    typed: &str,
    now: DateTime<Utc>,
) -> Result<()> {
    let email = typed.trim().to_lowercase();
    let account: Option<(i64, i64)> = staff::table
        .filter(staff::email.eq(&email))
        .filter(staff::active.eq(true))
        .select((staff::id, staff::school_id))
        .get_result(conn)
        .optional()?;
    let Some((staff_id, school_id)) = account else {
        return match school_for_unknown_address(conn, &email)? {
            Some(school_id) => audit::record(
                conn,
                AuditEntry {
                    school_id,
                    actor_id: None,
                    action: "account.reset_asked",
                    entity: "staff",
                    entity_id: None,
                    detail: "asked for an address with no active account: nothing sent".into(),
                    at: to_db_time(now),
                },
            ),
            None => {
                tracing::info!("password reset asked for an address with no active account");
                Ok(())
            }
        };
    };
    let recent: i64 = account_links::table
        .filter(account_links::staff_id.eq(staff_id))
        .filter(account_links::purpose.eq(LinkPurpose::Reset.as_str()))
        .filter(account_links::created_at.gt(to_db_time(now - RESET_REQUEST_GAP)))
        .count()
        .get_result(conn)?;
    if recent > 0 {
        return audit::record(
            conn,
            AuditEntry {
                school_id,
                actor_id: None,
                action: "account.reset_asked",
                entity: "staff",
                entity_id: Some(staff_id),
                detail: "asked again within minutes: the link already sent stands".into(),
                at: to_db_time(now),
            },
        );
    }
    send(conn, public_url, staff_id, LinkPurpose::Reset, None, now)?;
    Ok(())
}

/// The school a reset request for an unknown address is audited against: the one whose
/// staff use the address's domain, or else the deployment's only school.
fn school_for_unknown_address(conn: &mut DbConnection, email: &str) -> Result<Option<i64>> {
    if let Some((_, domain)) = email.rsplit_once('@') {
        let safe = !domain.is_empty()
            && domain
                .chars()
                .all(|c| c.is_alphanumeric() || c == '.' || c == '-');
        if safe {
            let found: Vec<i64> = staff::table
                .filter(staff::email.like(format!("%@{domain}")))
                .select(staff::school_id)
                .distinct()
                .limit(2)
                .load(conn)?;
            if let [only] = found.as_slice() {
                return Ok(Some(*only));
            }
        }
    }
    let all: Vec<i64> = schools::table.select(schools::id).limit(2).load(conn)?;
    Ok(match all.as_slice() {
        [only] => Some(*only),
        _ => None,
    })
}

/// For each member of the school's staff with an unused invitation that still works, when
/// it expires.
pub fn open_invitations(
    conn: &mut DbConnection,
    school_id: i64,
    now: DateTime<Utc>,
) -> Result<HashMap<i64, NaiveDateTime>> {
    let rows: Vec<(i64, NaiveDateTime)> = account_links::table
        .filter(account_links::school_id.eq(school_id))
        .filter(account_links::purpose.eq(LinkPurpose::Invitation.as_str()))
        .filter(account_links::used_at.is_null())
        .filter(account_links::revoked_at.is_null())
        .filter(account_links::expires_at.gt(to_db_time(now)))
        .select((account_links::staff_id, account_links::expires_at))
        .load(conn)?;
    Ok(rows.into_iter().collect())
}
