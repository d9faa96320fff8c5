//! Signing in and out.

use actix_session::Session;
use actix_web::{http::header, web, HttpRequest, HttpResponse};
use maud::{html, Markup};
use serde::Deserialize;

use super::layout::{csrf_field, public_page};
use super::oidc;
use crate::accounts::{dummy_password_hash, verify_password};
use crate::db::{schools, staff};
use crate::error::Error;
use crate::web::auth::{csrf_token, sign_in, sign_out, CsrfForm};
use crate::web::error::PageError;
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

fn html_response(status: actix_web::http::StatusCode, markup: Markup) -> HttpResponse {
    HttpResponse::build(status)
        .content_type("text/html; charset=utf-8")
        .body(markup.into_string())
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

/// `POST /login`: checks the password and starts a session.
pub async fn submit(
    session: Session,
    request: HttpRequest,
    form: CsrfForm<LoginForm>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, PageError> {
    let LoginForm { email, password } = form.0;
    let lookup = email.clone();
    let account = state
        .db
        .transaction(move |conn| staff::find_for_login(conn, &lookup))
        .await?;
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
            sign_in(&session, &request, account.id, account.school_id)?;
            tracing::info!(staff_id = account.id, "signed in");
            Ok(HttpResponse::SeeOther()
                .insert_header((header::LOCATION, "/"))
                .finish())
        }
        _ => {
            tracing::info!("sign-in refused");
            Ok(html_response(
                actix_web::http::StatusCode::UNAUTHORIZED,
                login_form(
                    &csrf_token(&session),
                    &email,
                    Some("That email and password do not match an account. Check both and try again."),
                    &oidc::sign_in_links(&state).await?,
                ),
            ))
        }
    }
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
