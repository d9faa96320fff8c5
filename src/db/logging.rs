//! Logging incidents, as the writer does it: every logging request queued while the last
//! batch was committing is logged together, in one savepoint of the batch
//! ([`crate::db::writer`]): a few statements for all of them ([`incidents::record_all`]), and
//! the answers kept for keyed requests in one insert. When that fails (a request refused, or a
//! key repeated), each request is logged again alone, in a savepoint of its own, and answered
//! with its own result; a repeated key with the answer first given for it.

use std::collections::{BTreeMap, HashMap};

use actix_web::http::StatusCode;
use chrono::{DateTime, Utc};
use diesel::Connection;

use super::evaluation::{HistoryCache, RulesCache, SchoolRules, StoredHistory};
use super::idempotency::{self, AnswerToKeep, IdempotencyKey, StoredAnswer};
use super::incidents::{self, RecordedIncident, ToRecord};
use super::insight::NewCounts;
use super::{tokens, DbConnection};
use crate::domain::incident::NewIncident;
use crate::error::{Error, Result};

/// Who logs: a signed-in member, or an API token checked inside the logging transaction.
#[derive(Debug, Clone)]
pub enum Caller {
    Member { school_id: i64, staff_id: i64 },
    Token { token_hash: String },
}

/// One request to log an incident.
pub struct LogRequest {
    pub caller: Caller,
    /// Makes the request safe to repeat: its answer is kept under this key.
    pub key: Option<IdempotencyKey>,
    /// The request's fingerprint, kept with its answer (see [`idempotency::request_hash`]).
    pub request_hash: String,
    pub new: NewIncident,
    pub now: DateTime<Utc>,
    /// Writes the answer's body (kept for repeats) from the recorded incident.
    pub answer_body: fn(RecordedIncident) -> Result<String>,
}

/// A logged request: its answer, and the pupils' histories to keep once the batch is
/// committed ([`HistoryCache::keep`]); none when the answer is one kept from before.
#[derive(Debug)]
pub struct Logged {
    pub answer: StoredAnswer,
    pub histories: Vec<(i64, StoredHistory)>,
}

/// The caches logging reads, shared with the [`super::Database`] that starts the writer.
#[derive(Clone, Default)]
pub struct Caches {
    pub rules: RulesCache,
    pub histories: HistoryCache,
}

/// Logs `requests` in the caller's (open) transaction; answers each, in order. Fails as a
/// whole only when the connection cannot go on (a savepoint could not be rolled back).
pub fn log_all(
    conn: &mut DbConnection,
    requests: &[&LogRequest],
    caches: &Caches,
) -> Result<Vec<Result<Logged>>> {
    let callers = identify(conn, requests)?;
    let ready: Vec<(&LogRequest, (i64, i64))> = requests
        .iter()
        .zip(&callers)
        .filter_map(|(request, caller)| caller.as_ref().ok().map(|who| (*request, *who)))
        .collect();
    let mut logged: Vec<Result<Logged>> = Vec::with_capacity(ready.len());
    let together = match ready.len() {
        0 => Ok(Vec::new()),
        _ => conn.transaction(|c| log_together(c, &ready, caches)),
    };
    match together {
        Ok(all) => logged.extend(all.into_iter().map(Ok)),
        Err(error) if ready.len() == 1 => {
            logged.push(answer_failure(conn, &ready[0], error));
        }
        Err(_) => {
            for one in &ready {
                let alone =
                    conn.transaction(|c| log_together(c, std::slice::from_ref(one), caches));
                logged.push(match alone {
                    Ok(mut all) => all
                        .pop()
                        .ok_or_else(|| Error::Internal("the incident was not logged".into())),
                    Err(error) => answer_failure(conn, one, error),
                });
            }
        }
    }
    let mut logged = logged.into_iter();
    Ok(callers
        .into_iter()
        .map(|caller| match caller {
            Ok(_) => logged
                .next()
                .unwrap_or_else(|| Err(Error::Internal("a request was not logged".into()))),
            Err(refused) => Err(refused),
        })
        .collect())
}

/// Each request's school and staff member; `Error::Unauthenticated` for a token that does
/// not work (revoked, expired, or its account closed). A token is read once a batch, and the
/// tokens in the order of their hashes: using one may update it, and every batch takes its
/// locks in one order (see [`super::writer`]).
fn identify(conn: &mut DbConnection, requests: &[&LogRequest]) -> Result<Vec<Result<(i64, i64)>>> {
    let mut first_use: BTreeMap<&str, DateTime<Utc>> = BTreeMap::new();
    for request in requests {
        if let Caller::Token { token_hash } = &request.caller {
            first_use.entry(token_hash.as_str()).or_insert(request.now);
        }
    }
    let mut tokens_read: HashMap<&str, Option<(i64, i64)>> = HashMap::new();
    for (token_hash, now) in first_use {
        let who = tokens::use_valid(conn, token_hash, now)?
            .map(|valid| (valid.school_id, valid.staff_id));
        tokens_read.insert(token_hash, who);
    }
    Ok(requests
        .iter()
        .map(|request| {
            let who = match &request.caller {
                Caller::Member {
                    school_id,
                    staff_id,
                } => Some((*school_id, *staff_id)),
                Caller::Token { token_hash } => {
                    tokens_read.get(token_hash.as_str()).copied().flatten()
                }
            };
            who.ok_or(Error::Unauthenticated)
        })
        .collect())
}

/// Records the requests together and keeps the answers of the keyed ones.
fn log_together(
    conn: &mut DbConnection,
    ready: &[(&LogRequest, (i64, i64))],
    caches: &Caches,
) -> Result<Vec<Logged>> {
    let mut rules: HashMap<i64, SchoolRules> = HashMap::new();
    for (_, (school_id, _)) in ready {
        if !rules.contains_key(school_id) {
            rules.insert(*school_id, caches.rules.load(conn, *school_id)?);
        }
    }
    let items = ready
        .iter()
        .map(|(request, (school_id, staff_id))| {
            Ok(ToRecord {
                school_id: *school_id,
                reporter_id: *staff_id,
                new: &request.new,
                rules: rules
                    .get(school_id)
                    .ok_or_else(|| Error::Internal("a school's rules were not read".into()))?,
                now: request.now,
            })
        })
        .collect::<Result<Vec<_>>>()?;
    let mut counts = NewCounts::default();
    let recorded = incidents::record_all(conn, &items, Some(&caches.histories), &mut counts)?;
    let mut logged = Vec::with_capacity(ready.len());
    for ((request, _), mut incident) in ready.iter().zip(recorded) {
        let histories = std::mem::take(&mut incident.histories);
        let answer = StoredAnswer {
            request_hash: request.request_hash.clone(),
            status_code: StatusCode::CREATED.as_u16(),
            body: (request.answer_body)(incident)?,
        };
        logged.push(Logged { answer, histories });
    }
    let kept: Vec<AnswerToKeep<'_>> = ready
        .iter()
        .zip(&logged)
        .filter_map(|((request, (school_id, staff_id)), logged)| {
            Some(AnswerToKeep {
                school_id: *school_id,
                staff_id: *staff_id,
                key: request.key.as_ref()?,
                answer: &logged.answer,
                at: request.now,
            })
        })
        .collect();
    idempotency::store_all(conn, &kept)?;
    // Last: the school's counted rows stay locked from here until the commit.
    counts.write(conn)?;
    Ok(logged)
}

/// The answer to a request whose logging failed (and was rolled back): the answer first
/// given for its key when it repeats one (sent again, or twice at once with the other
/// logged first), or else the failure.
fn answer_failure(
    conn: &mut DbConnection,
    (request, (_, staff_id)): &(&LogRequest, (i64, i64)),
    error: Error,
) -> Result<Logged> {
    let Some(key) = &request.key else {
        return Err(error);
    };
    if error.is_unavailable() {
        return Err(error);
    }
    match idempotency::find(conn, *staff_id, key)? {
        Some(answer) => Ok(Logged {
            answer,
            histories: Vec::new(),
        }),
        None => Err(error),
    }
}
