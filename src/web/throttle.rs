//! Failed sign-ins slow the next attempt, counted per account (the address typed, whether or
//! not an account has it, so the answer never tells which) and per client address: after
//! five failures each attempt must wait, longer each time (see
//! [`crate::domain::sign_in::SIGN_IN_THROTTLE`]). Failures and lockouts of known accounts go
//! to their school's audit log.

use actix_web::HttpRequest;
use chrono::{DateTime, Utc};

use crate::accounts::hash_secret;
use crate::db::audit::{self, AuditEntry};
use crate::db::sign_in;
use crate::db::{to_db_time, Database};
use crate::domain::sign_in::{retry_after_seconds, SIGN_IN_THROTTLE};
use crate::error::{Error, Result};

/// The client's network address: the connection's peer, or, when that is a proxy on the same
/// machine, the address that proxy added last to `X-Forwarded-For` (earlier entries are
/// whatever the client sent, so they are not trusted).
pub fn client_address(request: &HttpRequest) -> String {
    let peer = request.peer_addr().map(|addr| addr.ip());
    match peer {
        Some(ip) if ip.is_loopback() => request
            .headers()
            .get_all("x-forwarded-for")
            .filter_map(|value| value.to_str().ok())
            .flat_map(|value| value.split(','))
            .map(str::trim)
            .rfind(|entry| !entry.is_empty())
            .map(str::to_string)
            .unwrap_or_else(|| ip.to_string()),
        Some(ip) => ip.to_string(),
        None => "unknown".to_string(),
    }
}

/// What an attempt to sign in is counted under.
#[derive(Debug, Clone)]
pub struct Attempt {
    keys: Vec<String>,
    /// The account the address typed belongs to, when one does: `(school id, staff id)`.
    account: Option<(i64, i64)>,
}

impl Attempt {
    /// An attempt with a typed address (`None` for an API token) from a client.
    pub fn new(request: &HttpRequest, email: Option<&str>, account: Option<(i64, i64)>) -> Self {
        let mut keys = vec![hash_secret(&format!("address:{}", client_address(request)))];
        if let Some(email) = email {
            keys.push(hash_secret(&format!(
                "account:{}",
                email.trim().to_lowercase()
            )));
        }
        Attempt { keys, account }
    }

    /// Opening a family link (`/family/{token}`): counted per client address only, apart from
    /// sign-ins, so guessing tokens slows the guesser the way wrong passwords do.
    pub fn family_link(request: &HttpRequest) -> Self {
        Attempt {
            keys: vec![hash_secret(&format!(
                "family-link:{}",
                client_address(request)
            ))],
            account: None,
        }
    }

    /// Refuses the attempt while an earlier run of failures makes it wait.
    pub async fn refuse_if_waiting(&self, db: &Database, now: DateTime<Utc>) -> Result<()> {
        let keys = self.keys.clone();
        let at = to_db_time(now);
        let wait = db
            .transaction(move |conn| {
                let mut longest = None;
                for key in &keys {
                    let run = sign_in::failure_run(conn, key)?;
                    longest = longest.max(SIGN_IN_THROTTLE.wait(run.as_ref(), at));
                }
                Ok(longest)
            })
            .await?;
        match wait {
            Some(wait) => Err(Error::TooManyAttempts {
                retry_after_seconds: retry_after_seconds(wait),
            }),
            None => Ok(()),
        }
    }

    /// Counts a failure, auditing it (and a lockout it starts) for a known account.
    pub async fn failed(&self, db: &Database, now: DateTime<Utc>) -> Result<()> {
        let (keys, account) = (self.keys.clone(), self.account);
        let at = to_db_time(now);
        let locked = db
            .write(move |conn| {
                let mut locked = false;
                for key in &keys {
                    let earlier = sign_in::failure_run(conn, key)?;
                    let run = SIGN_IN_THROTTLE.after_failure(earlier.as_ref(), at);
                    locked |= SIGN_IN_THROTTLE.wait(Some(&run), at).is_some();
                    sign_in::save_failure_run(conn, key, &run)?;
                }
                if let Some((school_id, staff_id)) = account {
                    let mut entry = AuditEntry {
                        school_id,
                        actor_id: None,
                        action: "sign_in_failed",
                        entity: "staff",
                        entity_id: Some(staff_id),
                        detail: String::new(),
                        at,
                    };
                    audit::record(conn, entry.clone())?;
                    if locked {
                        entry.action = "sign_in_locked";
                        audit::record(conn, entry)?;
                    }
                }
                Ok(locked)
            })
            .await?;
        if locked {
            tracing::warn!("sign-in attempts paused after repeated failures");
        }
        Ok(())
    }

    /// Forgets the runs of failures after a successful sign-in.
    pub async fn succeeded(&self, db: &Database) -> Result<()> {
        let keys = self.keys.clone();
        db.write(move |conn| {
            for key in &keys {
                sign_in::forget_failures(conn, key)?;
            }
            Ok(())
        })
        .await
    }
}
