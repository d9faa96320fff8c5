//! Signing in and out.

use actix_session::Session;
use actix_web::{http::header, web, HttpRequest, HttpResponse};
use chrono::Utc;
use maud::{html, Markup};
use serde::Deserialize;

use super::form::{html_response, refusal_page, sentence};
use super::layout::{csrf_field, public_page};
use super::oidc;
use super::second_factor;
use crate::accounts::{dummy_password_hash, verify_password};
use crate::db::{schools, staff};
use crate::error::Error;
use crate::web::auth::{csrf_token, sign_out, CsrfForm};
use crate::web::error::PageError;
use crate::web::throttle::Attempt;
use crate::web::AppState;

fn login_form(csrf: &str, email: &str, problem: Option<&str>, sso_links: &Markup) -> Markup {
    public_page(
        "Sign in",
        html! {
            h1 { "Sign in" }
            @if let Some(problem) = problem {
                p.error role="alert" { (problem) }
            }
            form.stack method="post" action="/login" {
                (csrf_field(csrf))
                label for="email" { "Email" }
                input #email type="email" name="email" value=(email) autocomplete="username" required autofocus;
                label for="password" { "Password" }
                input #password type="password" name="password" autocomplete="current-password" required;
                button.primary type="submit" { "Sign in" }
            }
            p { a href="/login/reset" { "Forgotten your password?" } }
            (sso_links)
        },
    )
}

/// `GET /login`: the sign-in form (or the getting-started page on an empty deployment).
pub async fn show(session: Session, state: web::Data<AppState>) -> Result<HttpResponse, PageError> {
    let schools = state.db.transaction(schools::count).await?;
    if schools == 0 {
        return Ok(HttpResponse::SeeOther()
            .insert_header((header::LOCATION, "/"))
            .finish());
    }
    Ok(html_response(
        actix_web::http::StatusCode::OK,
        login_form(
            &csrf_token(&session),
            "",
            None,
            &oidc::sign_in_links(&state).await?,
        ),
    ))
}

/// The sign-in form's fields.
#[derive(Deserialize)]
pub struct LoginForm {
    #[serde(default)]
    email: String,
    #[serde(default)]
    password: String,
}

/// `POST /login`: checks the password and starts a session. After repeated failures for the
/// address typed or from the client's network address, attempts wait (429), and the answer
/// and its timing are the same whether or not an account has the address.
pub async fn submit(
    session: Session,
    request: HttpRequest,
    form: CsrfForm<LoginForm>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, PageError> {
    let LoginForm { email, password } = form.0;
    let now = Utc::now();
    let lookup = email.clone();
    let account = state
        .db
        .transaction(move |conn| staff::find_for_login(conn, &lookup))
        .await?;
    let attempt = Attempt::new(
        &request,
        Some(&email),
        account.as_ref().map(|a| (a.school_id, a.id)),
    );
    if let Err(waiting) = attempt.refuse_if_waiting(&state.db, now).await {
        let links = oidc::sign_in_links(&state).await?;
        return Ok(refused(&session, &email, &waiting, &links));
    }
    let stored_hash = account
        .as_ref()
        .and_then(|a| a.password_hash.clone())
        .unwrap_or_else(|| dummy_password_hash().to_string());
    let verified = web::block(move || verify_password(&password, &stored_hash))
        .await
        .map_err(|e| Error::Internal(format!("password check failed: {e}")))?;
    match account {
        Some(account) if verified => {
            if let Some(refusal) = oidc::password_refusal(&state, account.school_id).await? {
                return Ok(html_response(
                    actix_web::http::StatusCode::FORBIDDEN,
                    login_form(
                        &csrf_token(&session),
                        &email,
                        Some(&refusal),
                        &oidc::sign_in_links(&state).await?,
                    ),
                ));
            }
            attempt.succeeded(&state.db).await?;
            second_factor::after_password(&session, &request, &state, account.id, account.school_id)
                .await
        }
        _ => {
            attempt.failed(&state.db, now).await?;
            tracing::info!("sign-in refused");
            let wrong = Error::Unauthenticated;
            let links = oidc::sign_in_links(&state).await?;
            Ok(refused(&session, &email, &wrong, &links))
        }
    }
}

/// The sign-in form again after a refusal: a wrong email or password (401), or a wait after
/// too many failures (429, with `Retry-After`).
fn refused(session: &Session, email: &str, why: &Error, sso_links: &Markup) -> HttpResponse {
    let problem = match why {
        Error::TooManyAttempts { .. } => format!(
            "{} If you have forgotten your password, ask for a new one below.",
            sentence(&why.to_string())
        ),
        _ => {
            "That email and password do not match an account. Check both and try again.".to_string()
        }
    };
    refusal_page(
        why,
        login_form(&csrf_token(session), email, Some(&problem), sso_links),
    )
}

/// `POST /logout`: ends the session.
pub async fn logout(
    session: Session,
    _form: CsrfForm<std::collections::HashMap<String, String>>,
) -> HttpResponse {
    sign_out(&session);
    HttpResponse::SeeOther()
        .insert_header((header::LOCATION, "/login"))
        .finish()
}
