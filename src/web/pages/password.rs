//! Choosing a password through a single-use link (`/account/password?token=...`, from an
//! invitation or a reset email), and asking for a reset from the sign-in page
//! (`/login/reset`), which answers the same whether or not an account has the address.

use actix_session::Session;
use actix_web::http::{header, StatusCode};
use actix_web::{web, HttpRequest, HttpResponse};
use chrono::Utc;
use maud::{html, Markup};

use super::form::{problem_summary, Fields, Form, Problem};
use super::form_page::{PageResult, Visit};
use super::layout::{csrf_field, public_page};
use super::own_account;
use crate::accounts::{check_new_password, hash_password, MIN_PASSWORD_LENGTH};
use crate::db::account_links::{self, FoundLink};
use crate::domain::account_link::{LinkPurpose, LinkState};
use crate::error::Error;
use crate::web::auth::{csrf_token, CsrfForm};
use crate::web::error::PageError;
use crate::web::AppState;

/// A page that may carry a link's token in its address: never cached, never sent on as a
/// referrer.
fn private_page(status: StatusCode, markup: Markup) -> HttpResponse {
    HttpResponse::build(status)
        .content_type("text/html; charset=utf-8")
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .insert_header(("Referrer-Policy", "no-referrer"))
        .body(markup.into_string())
}

/// The page for a link that does not work: why, and how to get a new one.
fn refused(state: LinkState) -> HttpResponse {
    let status = match state {
        LinkState::Unknown => StatusCode::NOT_FOUND,
        _ => StatusCode::GONE,
    };
    let markup = public_page(
        "This link does not work",
        html! {
            h1 { "This link does not work" }
            p.error role="alert" { (state.explanation()) }
            h2 { "Getting a new link" }
            ul {
                @if state == LinkState::Used {
                    li { "If you chose your password with it, " a href="/login" { "sign in" } " with your email address and that password." }
                }
                li { "Forgotten your password, or your link has expired? " a href="/login/reset" { "Ask for a new link" } " and one will be emailed to you; it works for 2 hours." }
                li { "Waiting to join? Ask your school's Steadfast administrator to send your invitation again; it works for 7 days." }
            }
        },
    );
    private_page(status, markup)
}

/// The boxes for a new password and the same again, each with the slot for its problem.
pub fn new_password_fields(form: &Form, first: &str, again: &str) -> Markup {
    html! {
        label for="password" { (first) }
        input #password type="password" name="password" autocomplete="new-password" required
            minlength=(MIN_PASSWORD_LENGTH) aria-describedby="password-hint";
        p.hint #password-hint { "At least " (MIN_PASSWORD_LENGTH) " characters. A few unrelated words make a password that is easy to remember and hard to guess." }
        (form.problem_at("password"))
        label for="confirm" { (again) }
        input #confirm type="password" name="confirm" autocomplete="new-password" required;
        (form.problem_at("confirm"))
    }
}

fn choose_form(link: &FoundLink, token: &str, csrf: &str, form: &Form) -> Markup {
    let (title, intro) = match link.purpose {
        LinkPurpose::Invitation => (
            "Choose your password",
            format!(
                "Welcome to Steadfast, {}. Choose the password you will sign in with, together with your email address {}.",
                link.name, link.email
            ),
        ),
        LinkPurpose::Reset => (
            "Choose a new password",
            format!(
                "Choose a new password for {}. Your old password stops working once you save.",
                link.email
            ),
        ),
    };
    public_page(
        title,
        html! {
            h1 { (title) }
            p { (intro) }
            (problem_summary(form.problem(), &["password", "confirm"]))
            form.stack method="post" action="/account/password" {
                (csrf_field(csrf))
                input type="hidden" name="token" value=(token);
                input type="hidden" name="username" value=(link.email) autocomplete="username";
                (new_password_fields(form, "Password", "The same password again"))
                button.primary type="submit" { "Save my password" }
            }
        },
    )
}

/// What is wrong with a new password typed in a form's `password` and `confirm` boxes: the
/// two differ, or the password breaks the rules of [`check_new_password`] (given what is
/// known about the person, `about_them`).
pub fn new_password_problem(fields: &Fields, about_them: &[&str]) -> Option<Problem> {
    let password = fields.raw("password");
    if password != fields.raw("confirm") {
        return Some(Problem::at(
            "confirm",
            "the two passwords are not the same: type it again in both boxes",
        ));
    }
    check_new_password(password, about_them)
        .err()
        .and_then(|e| Problem::of(&e))
}

async fn find_link(state: &AppState, token: String) -> Result<Option<FoundLink>, Error> {
    state
        .db
        .transaction(move |conn| account_links::find(conn, &token, Utc::now()))
        .await
}

/// `GET /account/password?token=...`: the form to choose a password, or why the link does
/// not work; without a token, a signed-in person's form to change theirs.
pub async fn show(
    session: Session,
    visit: Option<Visit>,
    request: HttpRequest,
    state: web::Data<AppState>,
) -> PageResult {
    let query = Fields::from_query(request.query_string());
    let token = query.get("token").unwrap_or_default().to_string();
    if token.is_empty() {
        return match visit {
            Some(visit) => own_account::password_form(visit).await,
            None => Err(PageError(Error::Unauthenticated)),
        };
    }
    let Some(link) = find_link(&state, token.clone()).await? else {
        return Ok(refused(LinkState::Unknown));
    };
    if link.state != LinkState::Usable {
        return Ok(refused(link.state));
    }
    Ok(private_page(
        StatusCode::OK,
        choose_form(&link, &token, &csrf_token(&session), &Form::default()),
    ))
}

/// `POST /account/password`: sets the password when the link still works and the password
/// is not trivially weak, marks the link used (audited), ends the person's other sessions and
/// signs them in; without a token, a signed-in person changing theirs.
pub async fn submit(
    session: Session,
    visit: Option<Visit>,
    request: HttpRequest,
    form: CsrfForm<Fields>,
    state: web::Data<AppState>,
) -> PageResult {
    let fields = form.0;
    let token = fields.get("token").unwrap_or_default().to_string();
    if token.is_empty() {
        return match visit {
            Some(visit) => own_account::change_password(visit, &request, fields).await,
            None => Err(PageError(Error::Unauthenticated)),
        };
    }
    let Some(link) = find_link(&state, token.clone()).await? else {
        return Ok(refused(LinkState::Unknown));
    };
    if link.state != LinkState::Usable {
        return Ok(refused(link.state));
    }
    let password = fields.raw("password").to_string();
    let problem = new_password_problem(&fields, &[&link.name, &link.email]);
    if let Some(problem) = problem {
        let form = Form::again(fields, problem);
        return Ok(private_page(
            StatusCode::BAD_REQUEST,
            choose_form(&link, &token, &csrf_token(&session), &form),
        ));
    }
    let hash = web::block(move || hash_password(&password))
        .await
        .map_err(|e| Error::Internal(format!("password hashing failed: {e}")))??;
    let used = state
        .db
        .write(move |conn| account_links::use_link(conn, &token, &hash, Utc::now()))
        .await?;
    match used {
        Ok(link) => {
            tracing::info!(
                staff_id = link.staff_id,
                purpose = link.purpose.as_str(),
                "password chosen through a link"
            );
            // Like a password sign-in: an authenticator that is on still asks for its code.
            super::second_factor::after_password(
                &session,
                &request,
                &state,
                link.staff_id,
                link.school_id,
            )
            .await
        }
        Err(state) => Ok(refused(state)),
    }
}

fn reset_form(csrf: &str, form: &Form) -> Markup {
    public_page(
        "Forgotten your password?",
        html! {
            h1 { "Forgotten your password?" }
            p { "Type the email address you sign in with. If an account uses it, we will email a link to choose a new password; the link works once, for 2 hours." }
            form.stack method="post" action="/login/reset" {
                (csrf_field(csrf))
                label for="email" { "Email" }
                input #email type="email" name="email" value=(form.values.raw("email")) autocomplete="username" required autofocus;
                (form.problem_at("email"))
                button.primary type="submit" { "Email me a link" }
            }
            p { a href="/login" { "Back to sign in" } }
        },
    )
}

/// `GET /login/reset`: the form to ask for a password-reset link.
pub async fn reset_show(session: Session) -> HttpResponse {
    private_page(
        StatusCode::OK,
        reset_form(&csrf_token(&session), &Form::default()),
    )
}

/// `POST /login/reset`: queues a reset email when an active account has the address, and
/// answers the same page either way.
pub async fn reset_submit(
    session: Session,
    form: CsrfForm<Fields>,
    state: web::Data<AppState>,
) -> PageResult {
    let Some(typed) = form.0.get("email").map(str::to_string) else {
        let problem = Problem::at("email", "type the email address you sign in with");
        return Ok(private_page(
            StatusCode::BAD_REQUEST,
            reset_form(&csrf_token(&session), &Form::again(form.0, problem)),
        ));
    };
    let public_url = state.settings.public_url.clone();
    state
        .db
        .write(move |conn| account_links::request_reset(conn, &public_url, &typed, Utc::now()))
        .await?;
    Ok(private_page(
        StatusCode::OK,
        public_page(
            "Check your email",
            html! {
                h1 { "Check your email" }
                p role="status" { "If an account uses this address, an email with a link to choose a new password is on its way. The link works once, for 2 hours." }
                p.muted { "Nothing after a few minutes? Check your junk folder, make sure you typed the address you sign in with, or ask your school's Steadfast administrator." }
                p { a href="/login" { "Back to sign in" } }
            },
        ),
    ))
}
