//! Who is asking: staff signed in with a session cookie (pages), or presenting an API token
//! (`/api/v1`); what their role allows; and the CSRF check on every form.

use std::future::Future;
use std::pin::Pin;

use actix_session::{Session, SessionExt};
use actix_web::{web, FromRequest, HttpRequest};
use chrono::Utc;
use serde::de::DeserializeOwned;
use serde::Deserialize;
use subtle::ConstantTimeEq;

use super::error::{body_error, ApiError, PageError};
use super::throttle::Attempt;
use super::AppState;
use crate::accounts::{hash_secret, random_token};
use crate::db::staff::{self, StaffMember};
use crate::db::tokens;
use crate::domain::Role;
use crate::error::Error;

/// The signed-in staff member's id.
pub const SESSION_STAFF_ID: &str = "staff_id";
/// Their school's id.
pub const SESSION_SCHOOL_ID: &str = "school_id";
const SESSION_CSRF: &str = "csrf";
/// The browser (user agent) a session was signed in from, as shown on the sessions page.
pub const SESSION_DEVICE: &str = "device";
/// A random reference that tells a person's sessions apart, so the sessions page knows which
/// one is "this device" without handling the secret key.
pub const SESSION_REFERENCE: &str = "reference";

/// Marks a session that could not be loaded because the database is away.
pub const SESSION_UNAVAILABLE: &str = "unavailable";

/// Refuses, as the database being away (503), a request whose session could not be loaded.
fn refuse_if_unloaded(session: &Session) -> Result<(), Error> {
    match session.get::<bool>(SESSION_UNAVAILABLE) {
        Ok(Some(true)) => Err(Error::Unavailable("the session could not be loaded".into())),
        _ => Ok(()),
    }
}

/// Name of the hidden field that carries the CSRF token in every form.
pub const CSRF_FIELD: &str = "csrf_token";

pub(crate) fn app_state(req: &HttpRequest) -> Result<web::Data<AppState>, Error> {
    req.app_data::<web::Data<AppState>>()
        .cloned()
        .ok_or_else(|| Error::Internal("application state missing".into()))
}

/// Refuses unless `member` holds one of `roles`.
pub fn require_role(member: &StaffMember, roles: &[Role]) -> Result<(), Error> {
    if member.has_any_role(roles) {
        Ok(())
    } else {
        let allowed: Vec<&str> = roles.iter().map(|r| r.as_str()).collect();
        Err(Error::Forbidden(format!(
            "this needs one of the roles: {}",
            allowed.join(", ")
        )))
    }
}

/// A staff member signed in through the login page.
pub struct SignedIn(pub StaffMember);

impl FromRequest for SignedIn {
    type Error = PageError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, PageError>>>>;

    fn from_request(req: &HttpRequest, _: &mut actix_web::dev::Payload) -> Self::Future {
        let session = req.get_session();
        let state = app_state(req);
        let path = req.path().to_string();
        Box::pin(async move {
            let state = state?;
            refuse_if_unloaded(&session)?;
            let ids = (
                session.get::<i64>(SESSION_STAFF_ID).ok().flatten(),
                session.get::<i64>(SESSION_SCHOOL_ID).ok().flatten(),
            );
            let (Some(staff_id), Some(school_id)) = ids else {
                return Err(PageError(Error::Unauthenticated));
            };
            let member = state
                .db
                .transaction(move |conn| staff::get_member(conn, school_id, staff_id))
                .await?;
            match member {
                Some(member) => {
                    crate::web::pages::second_factor::enrolment_gate(&session, &path)?;
                    Ok(SignedIn(member))
                }
                None => {
                    session.purge();
                    Err(PageError(Error::Unauthenticated))
                }
            }
        })
    }
}

/// The longest device description kept with a session (a browser's user agent).
const MAX_DEVICE_CHARS: usize = 200;

/// Starts a fresh session (with a new key) for a staff member who has just proved who they
/// are, noting the device they signed in from.
pub fn sign_in(
    session: &Session,
    request: &HttpRequest,
    member_id: i64,
    school_id: i64,
) -> Result<(), Error> {
    let device: String = request
        .headers()
        .get(actix_web::http::header::USER_AGENT)
        .and_then(|value| value.to_str().ok())
        .unwrap_or_default()
        .chars()
        .take(MAX_DEVICE_CHARS)
        .collect();
    session.renew();
    session.clear();
    let stored = session
        .insert(SESSION_STAFF_ID, member_id)
        .and_then(|_| session.insert(SESSION_SCHOOL_ID, school_id))
        .and_then(|_| session.insert(SESSION_DEVICE, device))
        .and_then(|_| session.insert(SESSION_REFERENCE, random_token()))
        .and_then(|_| session.insert(SESSION_CSRF, random_token()));
    stored.map_err(|e| Error::Internal(format!("session could not be written: {e}")))
}

/// Ends the session.
pub fn sign_out(session: &Session) {
    session.purge();
}

/// A staff member presenting a valid `Authorization: Bearer` API token. Whether the token
/// still works is read on every request, so a revoked or expired token, or a closed account,
/// is refused at once. Failed attempts count against the client's address like failed
/// sign-ins: after five, a wrong token is answered `429` with `Retry-After`.
pub struct ApiUser(pub StaffMember);

impl FromRequest for ApiUser {
    type Error = ApiError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, ApiError>>>>;

    fn from_request(req: &HttpRequest, _: &mut actix_web::dev::Payload) -> Self::Future {
        let token = bearer_hash(req);
        let state = app_state(req);
        let request = req.clone();
        Box::pin(async move {
            let state = state?;
            let now = Utc::now();
            let valid = match token {
                Some(token_hash) => {
                    state
                        .db
                        .transaction(move |conn| tokens::find_valid(conn, &token_hash, now))
                        .await?
                }
                None => None,
            };
            let Some(valid) = valid else {
                return Err(refuse_token(&state, &request, now).await.into());
            };
            if valid.needs_touch(now) {
                let token_id = valid.token_id;
                state
                    .db
                    .write(move |conn| tokens::touch(conn, token_id, now))
                    .await?;
            }
            let members = state.db.members();
            if let Some(member) = members.get(valid.staff_id) {
                return Ok(ApiUser(member));
            }
            let (school_id, staff_id) = (valid.school_id, valid.staff_id);
            let member = state
                .db
                .transaction(move |conn| staff::get_member(conn, school_id, staff_id))
                .await?
                .ok_or(ApiError(Error::Unauthenticated))?;
            members.keep(member.clone());
            Ok(ApiUser(member))
        })
    }
}

/// The hash of the request's `Authorization: Bearer` token, when it carries one.
fn bearer_hash(req: &HttpRequest) -> Option<String> {
    req.headers()
        .get(actix_web::http::header::AUTHORIZATION)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.split_once(' '))
        .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
        .map(|(_, token)| hash_secret(token.trim()))
}

/// Counts a request whose token did not work against its address (like a failed sign-in)
/// and answers why it is refused: `429` after five, otherwise `401`.
pub async fn refuse_token(
    state: &AppState,
    request: &HttpRequest,
    now: chrono::DateTime<Utc>,
) -> Error {
    let attempt = Attempt::new(request, None, None);
    if let Err(waiting) = attempt.refuse_if_waiting(&state.db, now).await {
        return waiting;
    }
    if let Err(error) = attempt.failed(&state.db, now).await {
        return error;
    }
    Error::Unauthenticated
}

/// A request presenting an `Authorization: Bearer` API token, not yet checked: for a write
/// that checks it inside its own transaction ([`tokens::use_valid`]), so the check is not a
/// trip to the database of its own. As with [`ApiUser`], a revoked or expired token, or a
/// closed account, is refused at once; a request without a token is refused here.
pub struct ApiBearer {
    /// The hash of the token presented.
    pub token_hash: String,
    request: HttpRequest,
}

impl ApiBearer {
    /// Refuses the request because its token did not work (see [`refuse_token`]).
    pub async fn refuse(&self, state: &AppState) -> Error {
        refuse_token(state, &self.request, Utc::now()).await
    }
}

impl FromRequest for ApiBearer {
    type Error = ApiError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, ApiError>>>>;

    fn from_request(req: &HttpRequest, _: &mut actix_web::dev::Payload) -> Self::Future {
        let token = bearer_hash(req);
        let state = app_state(req);
        let request = req.clone();
        Box::pin(async move {
            let state = state?;
            match token {
                Some(token_hash) => Ok(ApiBearer {
                    token_hash,
                    request,
                }),
                None => Err(refuse_token(&state, &request, Utc::now()).await.into()),
            }
        })
    }
}

/// The session's CSRF token, created when the session has none yet. Put it in every form.
pub fn csrf_token(session: &Session) -> String {
    if let Ok(Some(token)) = session.get::<String>(SESSION_CSRF) {
        return token;
    }
    let token = random_token();
    // A session that cannot be written yields a token that will not verify: the form then
    // fails safely with a clear message.
    let _ = session.insert(SESSION_CSRF, token.clone());
    token
}

#[derive(Deserialize)]
struct CsrfField {
    csrf_token: Option<String>,
}

/// A submitted form whose CSRF token matched the session's. Every form handler takes this
/// instead of `web::Form`, so no form can be posted from another site.
pub struct CsrfForm<T>(pub T);

impl<T: DeserializeOwned + 'static> FromRequest for CsrfForm<T> {
    type Error = PageError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, PageError>>>>;

    fn from_request(req: &HttpRequest, payload: &mut actix_web::dev::Payload) -> Self::Future {
        let session = req.get_session();
        let body = web::Bytes::from_request(req, payload);
        Box::pin(async move {
            // At most `MAX_BODY_BYTES`, set for every body in `web::start`.
            let bytes = body.await.map_err(|e| body_error(&e, "the form"))?;
            let sent = serde_urlencoded::from_bytes::<CsrfField>(&bytes)
                .ok()
                .and_then(|f| f.csrf_token)
                .unwrap_or_default();
            check_csrf(&session, &sent)?;
            let form = serde_urlencoded::from_bytes::<T>(&bytes)
                .map_err(|e| Error::bad_request(format!("the form could not be read: {e}")))?;
            Ok(CsrfForm(form))
        })
    }
}

/// Refuses a form whose CSRF token is not the session's.
fn check_csrf(session: &Session, sent: &str) -> Result<(), PageError> {
    refuse_if_unloaded(session)?;
    let expected = session.get::<String>(SESSION_CSRF).ok().flatten();
    let matches = expected
        .map(|expected| bool::from(expected.as_bytes().ct_eq(sent.as_bytes())))
        .unwrap_or(false);
    if matches {
        Ok(())
    } else {
        Err(PageError(Error::Forbidden(
            "this form has expired or did not come from Steadfast: go back, reload the page and try again"
                .into(),
        )))
    }
}

/// A submitted `multipart/form-data` form carrying one file (an import), whose CSRF token
/// matched the session's. The file may be at most [`crate::imports::MAX_IMPORT_BYTES`].
pub struct CsrfUpload {
    /// The form's other fields.
    pub fields: crate::web::pages::form::Fields,
    /// The chosen file's bytes (empty when none was chosen).
    pub file: Vec<u8>,
}

impl FromRequest for CsrfUpload {
    type Error = PageError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, PageError>>>>;

    fn from_request(req: &HttpRequest, payload: &mut actix_web::dev::Payload) -> Self::Future {
        use futures_util::StreamExt;
        let session = req.get_session();
        let mut parts = actix_multipart::Multipart::new(req.headers(), payload.take());
        Box::pin(async move {
            let unreadable = || Error::bad_request("the uploaded form could not be read");
            let limit = crate::imports::MAX_IMPORT_BYTES;
            let mut fields = Vec::new();
            let mut file = Vec::new();
            while let Some(part) = parts.next().await {
                let mut part = part.map_err(|_| unreadable())?;
                let name = part.name().unwrap_or_default().to_string();
                let is_file = part
                    .content_disposition()
                    .and_then(|d| d.get_filename())
                    .is_some();
                let mut bytes = Vec::new();
                while let Some(chunk) = part.next().await {
                    let chunk = chunk.map_err(|_| unreadable())?;
                    if bytes.len() + chunk.len() > limit {
                        return Err(PageError(Error::too_large(format!(
                            "the file is larger than the {} MiB an import reads",
                            limit / (1024 * 1024)
                        ))));
                    }
                    bytes.extend_from_slice(&chunk);
                }
                if is_file {
                    file = bytes;
                } else {
                    fields.push((name, String::from_utf8_lossy(&bytes).into_owned()));
                }
            }
            let fields = crate::web::pages::form::Fields::new(fields);
            check_csrf(&session, fields.raw(CSRF_FIELD))?;
            Ok(CsrfUpload { fields, file })
        })
    }
}
