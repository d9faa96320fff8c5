//! The session store: every session is a row in the database (see [`crate::db::sign_in`]),
//! found by the hash of the random key its cookie carries. Signing out deletes the row, so a
//! copied cookie stops working at once, in every instance; a signed-in session also ends
//! when idle or older than its school allows.

use std::collections::HashMap;

use actix_session::storage::{LoadError, SaveError, SessionKey, SessionStore, UpdateError};
use actix_web::cookie::time::Duration;
use chrono::{NaiveDateTime, TimeDelta, Utc};

use super::auth::{SESSION_DEVICE, SESSION_SCHOOL_ID, SESSION_STAFF_ID, SESSION_UNAVAILABLE};
use crate::accounts::{hash_secret, random_token};
use crate::db::sign_in::{self, SessionRecord};
use crate::db::{to_db_time, Database};
use crate::domain::sign_in::SESSION_TOUCH_EVERY;

/// Sessions kept in the database.
#[derive(Clone)]
pub struct DatabaseSessionStore {
    db: Database,
}

impl DatabaseSessionStore {
    pub fn new(db: Database) -> Self {
        DatabaseSessionStore { db }
    }
}

/// A session's values as the row keeps them: the state as one JSON object, and who signed in
/// from what device pulled out into columns of their own.
fn record_of(state: &HashMap<String, String>) -> Result<SessionRecord, serde_json::Error> {
    let number = |key: &str| state.get(key).and_then(|v| v.parse::<i64>().ok());
    let device = state
        .get(SESSION_DEVICE)
        .and_then(|v| serde_json::from_str::<String>(v).ok())
        .unwrap_or_default();
    Ok(SessionRecord {
        state: serde_json::to_string(state)?,
        staff_id: number(SESSION_STAFF_ID),
        school_id: number(SESSION_SCHOOL_ID),
        device,
    })
}

fn now() -> NaiveDateTime {
    to_db_time(Utc::now())
}

/// How long a session no one has signed in to is kept (a visitor to the sign-in page).
const ANONYMOUS_SESSION: TimeDelta = TimeDelta::hours(12);

/// When a session row expires: `ttl` after its last change, sooner for an anonymous one.
fn expiry(now: NaiveDateTime, ttl: &Duration, record: &SessionRecord) -> NaiveDateTime {
    let kept = TimeDelta::seconds(ttl.whole_seconds().max(60));
    let kept = if record.staff_id.is_some() {
        kept
    } else {
        kept.min(ANONYMOUS_SESSION)
    };
    now + kept
}

impl SessionStore for DatabaseSessionStore {
    async fn load(
        &self,
        session_key: &SessionKey,
    ) -> Result<Option<HashMap<String, String>>, LoadError> {
        let key_hash = hash_secret(session_key.as_ref());
        let at = now();
        let loaded = match self
            .db
            .transaction(move |conn| sign_in::load(conn, &key_hash, at))
            .await
        {
            Ok(loaded) => loaded,
            // The request goes on without its session; whatever needs the session then answers
            // 503 like every other request while the database is away (see `auth`).
            Err(error) if error.is_unavailable() => {
                return Ok(Some(HashMap::from([(
                    SESSION_UNAVAILABLE.to_string(),
                    "true".to_string(),
                )])))
            }
            Err(error) => return Err(LoadError::Other(anyhow::anyhow!("{error}"))),
        };
        let Some(loaded) = loaded else {
            return Ok(None);
        };
        if at - loaded.last_seen_at >= SESSION_TOUCH_EVERY {
            let id = loaded.id;
            self.db
                .write(move |conn| sign_in::touch(conn, id, at))
                .await
                .map_err(|e| LoadError::Other(anyhow::anyhow!("{e}")))?;
        }
        serde_json::from_str(&loaded.state)
            .map(Some)
            .map_err(|e| LoadError::Deserialization(e.into()))
    }

    async fn save(
        &self,
        mut session_state: HashMap<String, String>,
        ttl: &Duration,
    ) -> Result<SessionKey, SaveError> {
        session_state.remove(SESSION_UNAVAILABLE);
        let record = record_of(&session_state).map_err(|e| SaveError::Serialization(e.into()))?;
        let key = random_token();
        let key_hash = hash_secret(&key);
        let at = now();
        let expires_at = expiry(at, ttl, &record);
        self.db
            .write(move |conn| sign_in::insert(conn, &key_hash, &record, at, expires_at))
            .await
            .map_err(|e| SaveError::Other(anyhow::anyhow!("{e}")))?;
        SessionKey::try_from(key).map_err(|e| SaveError::Other(e.into()))
    }

    async fn update(
        &self,
        session_key: SessionKey,
        session_state: HashMap<String, String>,
        ttl: &Duration,
    ) -> Result<SessionKey, UpdateError> {
        if session_state.contains_key(SESSION_UNAVAILABLE) {
            // A session that could not be loaded is never written over: it stays as stored.
            return Ok(session_key);
        }
        let record = record_of(&session_state).map_err(|e| UpdateError::Serialization(e.into()))?;
        let key_hash = hash_secret(session_key.as_ref());
        let at = now();
        let expires_at = expiry(at, ttl, &record);
        let stored = record.clone();
        let updated = self
            .db
            .write(move |conn| sign_in::update(conn, &key_hash, &stored, at, expires_at))
            .await
            .map_err(|e| UpdateError::Other(anyhow::anyhow!("{e}")))?;
        if updated {
            return Ok(session_key);
        }
        // The session was ended while this request ran: it does not come back signed in. What
        // else it held (a form's CSRF token) carries on in a new anonymous session.
        let mut anonymous = session_state;
        anonymous.retain(|key, _| key != SESSION_STAFF_ID && key != SESSION_SCHOOL_ID);
        self.save(anonymous, ttl).await.map_err(|e| match e {
            SaveError::Serialization(e) => UpdateError::Serialization(e),
            SaveError::Other(e) => UpdateError::Other(e),
        })
    }

    async fn update_ttl(&self, _session_key: &SessionKey, _ttl: &Duration) -> anyhow::Result<()> {
        // Use is noted when a session is loaded (at most once a minute); nothing more to do.
        Ok(())
    }

    async fn delete(&self, session_key: &SessionKey) -> anyhow::Result<()> {
        let key_hash = hash_secret(session_key.as_ref());
        self.db
            .write(move |conn| sign_in::delete(conn, &key_hash))
            .await
            .map_err(|e| anyhow::anyhow!("{e}"))
    }
}
