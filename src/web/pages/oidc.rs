//! Signing in with a school account through the school's OpenID Connect provider.
//!
//! `GET /auth/oidc/{school code}` discovers the provider from the school's issuer and sends
//! the browser there (authorization code flow with PKCE S256, `state` and `nonce` kept in the
//! session). `GET /auth/oidc/callback` checks the `state`, exchanges the code, verifies the ID
//! token (signature against the provider's JWKS, issuer, audience, expiry, nonce), requires a
//! verified email address, matches it to an active member of that school's staff and signs
//! them in. Every refusal is a page saying what went wrong, audited when the school is known.

use actix_session::Session;
use actix_web::http::{header, StatusCode};
use actix_web::{web, HttpRequest, HttpResponse};
use chrono::Utc;
use maud::{html, Markup};
use openidconnect::core::{CoreAuthenticationFlow, CoreClient, CoreProviderMetadata};
use openidconnect::{
    reqwest, AuthorizationCode, ClientId, ClientSecret, CsrfToken, EndpointMaybeSet,
    EndpointNotSet, EndpointSet, IssuerUrl, Nonce, PkceCodeChallenge, PkceCodeVerifier,
    RedirectUrl, Scope, TokenResponse,
};
use serde::{Deserialize, Serialize};
use subtle::ConstantTimeEq;

use super::layout::public_page;
use crate::db::audit::{self, AuditEntry};
use crate::db::sso::{self, SchoolSignIn};
use crate::db::to_db_time;
use crate::domain::details::EmailAddress;
use crate::domain::sso::{verified_email, OidcClient};
use crate::error::Error;
use crate::web::auth::sign_in;
use crate::web::error::PageError;
use crate::web::AppState;

/// The session key of a sign-in under way.
const SESSION_PENDING: &str = "oidc_pending";

/// How long Steadfast waits for the provider to answer.
const PROVIDER_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(10);

/// A client of a provider found by discovery, with its token and user info endpoints.
type ProviderClient = CoreClient<
    EndpointSet,
    EndpointNotSet,
    EndpointNotSet,
    EndpointNotSet,
    EndpointMaybeSet,
    EndpointMaybeSet,
>;

/// What the callback needs to finish a sign-in this browser started.
#[derive(Serialize, Deserialize)]
struct Pending {
    school_id: i64,
    state: String,
    nonce: String,
    pkce_verifier: String,
}

/// Why a sign-in with a school account did not end in a session.
struct Refusal {
    status: StatusCode,
    /// A short, stable reason, for the audit log.
    reason: &'static str,
    /// What went wrong, for the person signing in.
    message: String,
}

impl Refusal {
    fn new(status: StatusCode, reason: &'static str, message: impl Into<String>) -> Self {
        Refusal {
            status,
            reason,
            message: message.into(),
        }
    }

    /// The provider could not be reached, or answered with something unusable.
    fn provider(what: &str, error: &dyn std::error::Error) -> Self {
        Refusal::new(
            StatusCode::BAD_GATEWAY,
            "provider_unavailable",
            format!("Steadfast could not {what}: {}", error_chain(error)),
        )
    }

    fn page(&self) -> HttpResponse {
        let body = public_page(
            "Sign-in with your school account refused",
            html! {
                h1 { "Sign-in with your school account refused" }
                p.error role="alert" { (self.message) }
                p { a href="/login" { "Back to sign in" } }
            },
        );
        HttpResponse::build(self.status)
            .content_type("text/html; charset=utf-8")
            .body(body.into_string())
    }
}

/// An error with its causes, as one line.
fn error_chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

/// `GET /auth/oidc/{school code}`: sends the browser to the school's provider.
pub async fn start(
    session: Session,
    code: web::Path<String>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, PageError> {
    let code = code.into_inner();
    let school = state
        .db
        .transaction(move |conn| sso::find_by_code(conn, &code))
        .await?;
    let Some((school, oidc)) = school.and_then(|s| s.oidc().map(|oidc| (s, oidc))) else {
        return Ok(Refusal::new(
            StatusCode::NOT_FOUND,
            "not_configured",
            "No school with this code signs in with a school account.",
        )
        .page());
    };
    match begin(&session, &state.settings.public_url, school.id, &oidc).await {
        Ok(url) => Ok(HttpResponse::SeeOther()
            .insert_header((header::LOCATION, url.to_string()))
            .finish()),
        Err(refusal) => refuse(&state, school.id, refusal).await,
    }
}

/// Discovers the provider, keeps what the callback will check in the session and answers
/// the provider's address to send the browser to.
async fn begin(
    session: &Session,
    public_url: &str,
    school_id: i64,
    oidc: &OidcClient,
) -> Result<url::Url, Refusal> {
    let http = http_client()?;
    let client = provider_client(&http, public_url, oidc).await?;
    let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
    let (url, csrf_state, nonce) = client
        .authorize_url(
            CoreAuthenticationFlow::AuthorizationCode,
            CsrfToken::new_random,
            Nonce::new_random,
        )
        .add_scope(Scope::new("email".into()))
        .add_scope(Scope::new("profile".into()))
        .set_pkce_challenge(challenge)
        .url();
    let pending = Pending {
        school_id,
        state: csrf_state.secret().clone(),
        nonce: nonce.secret().clone(),
        pkce_verifier: verifier.secret().clone(),
    };
    session.insert(SESSION_PENDING, pending).map_err(|_| {
        Refusal::new(
            StatusCode::BAD_REQUEST,
            "session",
            "Steadfast could not keep this sign-in in your session: allow cookies and try again.",
        )
    })?;
    Ok(url)
}

/// An HTTP client for the provider that never follows redirects (they would let a provider
/// point Steadfast at other addresses).
fn http_client() -> Result<reqwest::Client, Refusal> {
    reqwest::ClientBuilder::new()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(PROVIDER_TIMEOUT)
        .build()
        .map_err(|e| Refusal::provider("open a connection to your school's sign-in provider", &e))
}

/// The school's client of its provider, from the provider's discovery document and keys.
async fn provider_client(
    http: &reqwest::Client,
    public_url: &str,
    oidc: &OidcClient,
) -> Result<ProviderClient, Refusal> {
    let issuer = IssuerUrl::new(oidc.issuer().to_string()).map_err(|e| {
        Refusal::provider("read the issuer URL of your school's sign-in provider", &e)
    })?;
    let metadata = CoreProviderMetadata::discover_async(issuer, http)
        .await
        .map_err(|e| {
            Refusal::provider(
                "read the discovery document of your school's sign-in provider",
                &e,
            )
        })?;
    let redirect = RedirectUrl::new(format!(
        "{}/auth/oidc/callback",
        public_url.trim_end_matches('/')
    ))
    .map_err(|e| {
        Refusal::provider(
            "build the address your school's sign-in provider returns to",
            &e,
        )
    })?;
    Ok(CoreClient::from_provider_metadata(
        metadata,
        ClientId::new(oidc.client_id().to_string()),
        Some(ClientSecret::new(oidc.client_secret().to_string())),
    )
    .set_redirect_uri(redirect))
}

/// What the provider sends the browser back with.
#[derive(Deserialize)]
pub struct CallbackQuery {
    code: Option<String>,
    state: Option<String>,
    error: Option<String>,
    error_description: Option<String>,
}

/// `GET /auth/oidc/callback`: finishes a sign-in with a school account.
pub async fn callback(
    session: Session,
    request: HttpRequest,
    query: web::Query<CallbackQuery>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, PageError> {
    let Some(Ok(pending)) = session.remove_as::<Pending>(SESSION_PENDING) else {
        return Ok(Refusal::new(
            StatusCode::BAD_REQUEST,
            "no_sign_in",
            "No sign-in with a school account is under way in this browser (it may have \
             expired): start again from the sign-in page.",
        )
        .page());
    };
    let school_id = pending.school_id;
    let school = state
        .db
        .transaction(move |conn| sso::get(conn, school_id))
        .await?;
    let email = match finish(&state.settings.public_url, &query, pending, &school).await {
        Ok(email) => email,
        Err(refusal) => return refuse(&state, school.id, refusal).await,
    };
    let member = state
        .db
        .transaction(move |conn| sso::active_staff_with_email(conn, school_id, &email))
        .await?;
    let Some(member_id) = member else {
        let refusal = Refusal::new(
            StatusCode::FORBIDDEN,
            "no_staff",
            format!(
                "The email address of your school account is not that of an active member of \
                 staff at {}: ask your Steadfast administrator to add you.",
                school.name
            ),
        );
        return refuse(&state, school.id, refusal).await;
    };
    state
        .db
        .write(move |conn| {
            audit::record(
                conn,
                AuditEntry {
                    school_id,
                    actor_id: Some(member_id),
                    action: "sign_in.sso",
                    entity: "staff",
                    entity_id: Some(member_id),
                    detail: "school account".into(),
                    at: to_db_time(Utc::now()),
                },
            )
        })
        .await?;
    sign_in(&session, &request, member_id, school_id)?;
    tracing::info!(
        staff_id = member_id,
        school_id,
        "signed in with a school account"
    );
    Ok(HttpResponse::SeeOther()
        .insert_header((header::LOCATION, "/"))
        .finish())
}

/// Checks the provider's answer and the ID token, and answers the verified email address it
/// vouches for.
async fn finish(
    public_url: &str,
    query: &CallbackQuery,
    pending: Pending,
    school: &SchoolSignIn,
) -> Result<EmailAddress, Refusal> {
    if let Some(error) = &query.error {
        let detail = query
            .error_description
            .as_deref()
            .map(|d| format!(" ({d})"))
            .unwrap_or_default();
        return Err(Refusal::new(
            StatusCode::UNAUTHORIZED,
            "provider_refused",
            format!("Your school's provider did not sign you in: {error}{detail}."),
        ));
    }
    let sent_state = query.state.as_deref().unwrap_or_default();
    if !bool::from(sent_state.as_bytes().ct_eq(pending.state.as_bytes())) {
        return Err(Refusal::new(
            StatusCode::BAD_REQUEST,
            "state_mismatch",
            "The answer from your school's provider does not belong to the sign-in started in \
             this browser (its state does not match): start again from the sign-in page.",
        ));
    }
    let Some(code) = query.code.clone() else {
        return Err(Refusal::new(
            StatusCode::BAD_REQUEST,
            "no_code",
            "Your school's provider sent no authorization code: start again from the sign-in page.",
        ));
    };
    let Some(oidc) = school.oidc() else {
        return Err(Refusal::new(
            StatusCode::NOT_FOUND,
            "not_configured",
            format!("{} no longer signs in with a school account.", school.name),
        ));
    };
    let http = http_client()?;
    let client = provider_client(&http, public_url, &oidc).await?;
    let tokens = client
        .exchange_code(AuthorizationCode::new(code))
        .map_err(|e| {
            Refusal::provider(
                "find the token endpoint of your school's sign-in provider",
                &e,
            )
        })?
        .set_pkce_verifier(PkceCodeVerifier::new(pending.pkce_verifier))
        .request_async(&http)
        .await
        .map_err(|e| {
            Refusal::new(
                StatusCode::UNAUTHORIZED,
                "code_exchange",
                format!(
                    "Your school's provider did not accept the sign-in: {}",
                    error_chain(&e)
                ),
            )
        })?;
    let id_token = tokens.id_token().ok_or_else(|| {
        Refusal::new(
            StatusCode::UNAUTHORIZED,
            "no_id_token",
            "Your school's provider sent no ID token.",
        )
    })?;
    let claims = id_token
        .claims(&client.id_token_verifier(), &Nonce::new(pending.nonce))
        .map_err(|e| {
            Refusal::new(
                StatusCode::UNAUTHORIZED,
                "id_token_invalid",
                format!(
                    "The ID token from your school's provider was refused: {}",
                    error_chain(&e)
                ),
            )
        })?;
    verified_email(
        claims.email().map(|email| email.as_str()),
        claims.email_verified(),
    )
    .map_err(|problem| Refusal::new(StatusCode::FORBIDDEN, problem.reason(), problem.to_string()))
}

/// Audits a refused sign-in of a known school and shows why it was refused.
async fn refuse(
    state: &AppState,
    school_id: i64,
    refusal: Refusal,
) -> Result<HttpResponse, PageError> {
    tracing::info!(
        school_id,
        reason = refusal.reason,
        "sign-in with a school account refused"
    );
    let reason = refusal.reason;
    state
        .db
        .write(move |conn| {
            audit::record(
                conn,
                AuditEntry {
                    school_id,
                    actor_id: None,
                    action: "sign_in.sso_refused",
                    entity: "school",
                    entity_id: Some(school_id),
                    detail: reason.into(),
                    at: to_db_time(Utc::now()),
                },
            )
        })
        .await?;
    Ok(refusal.page())
}

/// The sign-in page's links, one for each school whose staff sign in with a school account.
pub async fn sign_in_links(state: &AppState) -> Result<Markup, Error> {
    let schools = state.db.transaction(sso::with_provider).await?;
    Ok(html! {
        @for (code, name) in &schools {
            p.sso {
                a href={ "/auth/oidc/" (code) } { "Sign in with your school account" }
                @if schools.len() > 1 { " (" (name) ")" }
            }
        }
    })
}

/// Why a password sign-in to this school is refused, when the school allows none.
pub async fn password_refusal(state: &AppState, school_id: i64) -> Result<Option<String>, Error> {
    let school = state
        .db
        .transaction(move |conn| sso::get(conn, school_id))
        .await?;
    Ok((!school.password_login).then(|| {
        format!(
            "{} does not use passwords to sign in: use \"Sign in with your school account\" below.",
            school.name
        )
    }))
}
