//! The second step of password sign-in. Once a password is verified, [`after_password`]
//! either signs the person in or, when their authenticator is on, notes a pending sign-in in
//! the session (who, until when: 5 minutes) and asks for a code at `/login/code`, which takes
//! a 6-digit code or a recovery code. Someone whose role the school requires a second factor
//! of, and who has none, is signed in with a mark in the session that keeps them on
//! `/account/security` until they set one up (see [`enrolment_gate`]).

use actix_session::Session;
use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use chrono::{TimeDelta, Utc};
use maud::{html, Markup};
use serde::{Deserialize, Serialize};

use super::form::{html_response, refusal_page, see_other, sentence, Fields};
use super::layout::{csrf_field, public_page};
use crate::db::second_factor::{self, Accepted};
use crate::error::Error;
use crate::web::auth::{csrf_token, sign_in, CsrfForm};
use crate::web::error::PageError;
use crate::web::throttle::Attempt;
use crate::web::AppState;

/// The session entry of a sign-in whose password was right and whose code is awaited.
const SESSION_PENDING: &str = "second_factor_pending";
/// The session entry marking a member who must set up a second factor before anything else.
const SESSION_MUST_ENROL: &str = "second_factor_enrol";
/// How long the code may be typed after the password.
const PENDING_LIFETIME: TimeDelta = TimeDelta::minutes(5);
/// Wrong codes allowed for one password; then the password is asked for again.
const MAX_WRONG_CODES: u8 = 5;
/// The page a member who must enrol is kept on (with the addresses below it).
pub const SECURITY_PAGE: &str = "/account/security";

/// A sign-in awaiting its second factor.
#[derive(Debug, Serialize, Deserialize)]
struct Pending {
    staff_id: i64,
    school_id: i64,
    /// When it lapses (seconds since 1970).
    until: i64,
    /// Wrong codes typed so far.
    wrong: u8,
}

/// Continues a sign-in whose password (or password link) was just verified: signs the person
/// in, or asks for their code, or signs them in to set up a second factor first.
pub async fn after_password(
    session: &Session,
    request: &HttpRequest,
    state: &AppState,
    staff_id: i64,
    school_id: i64,
) -> Result<HttpResponse, PageError> {
    let (factor_on, must_enrol) = state
        .db
        .transaction(move |conn| {
            Ok((
                second_factor::is_on(conn, staff_id)?,
                second_factor::must_enrol(conn, school_id, staff_id)?,
            ))
        })
        .await?;
    if factor_on {
        session.renew();
        session.clear();
        let pending = Pending {
            staff_id,
            school_id,
            until: (Utc::now() + PENDING_LIFETIME).timestamp(),
            wrong: 0,
        };
        write(session, SESSION_PENDING, &pending)?;
        tracing::info!(staff_id, "password accepted, code asked for");
        return Ok(see_other("/login/code"));
    }
    sign_in(session, request, staff_id, school_id)?;
    tracing::info!(staff_id, "signed in");
    if must_enrol {
        write(session, SESSION_MUST_ENROL, &true)?;
        return Ok(see_other(SECURITY_PAGE));
    }
    Ok(see_other("/"))
}

fn write<T: Serialize>(session: &Session, key: &str, value: &T) -> Result<(), Error> {
    session
        .insert(key, value)
        .map_err(|e| Error::Internal(format!("session could not be written: {e}")))
}

/// Refuses every page but [`SECURITY_PAGE`] (and the addresses under it) to a member who
/// must set up a second factor first. Called where the signed-in member is read.
pub fn enrolment_gate(session: &Session, path: &str) -> Result<(), Error> {
    let on_security_page = path == SECURITY_PAGE || path.starts_with(&format!("{SECURITY_PAGE}/"));
    if must_enrol(session) && !on_security_page {
        return Err(Error::SecondFactorNeeded);
    }
    Ok(())
}

/// Whether this session's member must set up a second factor before anything else.
pub fn must_enrol(session: &Session) -> bool {
    session
        .get::<bool>(SESSION_MUST_ENROL)
        .ok()
        .flatten()
        .unwrap_or(false)
}

/// Marks or clears the session's need to set up a second factor.
pub fn set_must_enrol(session: &Session, must: bool) -> Result<(), Error> {
    if must {
        write(session, SESSION_MUST_ENROL, &true)
    } else {
        session.remove(SESSION_MUST_ENROL);
        Ok(())
    }
}

/// The pending sign-in of this session, when there is one still in time.
fn pending(session: &Session) -> Option<Pending> {
    let pending = session.get::<Pending>(SESSION_PENDING).ok().flatten()?;
    if pending.until <= Utc::now().timestamp() {
        session.remove(SESSION_PENDING);
        return None;
    }
    Some(pending)
}

fn code_form(csrf: &str, problem: Option<&str>) -> Markup {
    public_page(
        "Your code",
        html! {
            h1 { "Your code" }
            p { "Type the 6-digit code your authenticator app shows for Steadfast." }
            @if let Some(problem) = problem {
                p.error role="alert" { (problem) }
            }
            form.stack method="post" action="/login/code" {
                (csrf_field(csrf))
                label for="code" { "Code" }
                input #code type="text" name="code" autocomplete="one-time-code" autocapitalize="off"
                    spellcheck="false" required autofocus aria-describedby="code-hint";
                p.hint #code-hint { "No phone to hand? Type one of your recovery codes instead; each works once." }
                button.primary type="submit" { "Sign in" }
            }
            p { a href="/login" { "Start again" } }
        },
    )
}

/// `GET /login/code`: the box for the code, while a sign-in awaits one.
pub async fn show(session: Session) -> HttpResponse {
    if pending(&session).is_none() {
        return see_other("/login");
    }
    html_response(StatusCode::OK, code_form(&csrf_token(&session), None))
}

/// `POST /login/code`: signs the person in when the code is a current one not used before,
/// or an unused recovery code; the box again otherwise.
pub async fn submit(
    session: Session,
    request: HttpRequest,
    form: CsrfForm<Fields>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, PageError> {
    let Some(mut attempt) = pending(&session) else {
        return Ok(see_other("/login"));
    };
    let (staff_id, school_id) = (attempt.staff_id, attempt.school_id);
    let typed = form.0.raw("code").to_string();
    // Wrong codes count like wrong passwords, against the account and the client's address.
    let email = state
        .db
        .transaction(move |conn| crate::db::staff::get_member(conn, school_id, staff_id))
        .await?
        .map(|member| member.email)
        .unwrap_or_default();
    let limits = Attempt::new(&request, Some(&email), Some((school_id, staff_id)));
    let now = Utc::now();
    if let Err(waiting) = limits.refuse_if_waiting(&state.db, now).await {
        let form = code_form(&csrf_token(&session), Some(&sentence(&waiting.to_string())));
        return Ok(refusal_page(&waiting, form));
    }
    let accepted = state
        .db
        .write(move |conn| second_factor::check(conn, school_id, staff_id, &typed, now))
        .await?;
    if let Some(how) = accepted {
        limits.succeeded(&state.db).await?;
        sign_in(&session, &request, staff_id, school_id)?;
        tracing::info!(staff_id, "signed in");
        return Ok(match how {
            Accepted::Authenticator => see_other("/"),
            Accepted::Recovery => see_other(&format!("{SECURITY_PAGE}?recovery=used")),
        });
    }
    limits.failed(&state.db, now).await?;
    attempt.wrong += 1;
    if attempt.wrong >= MAX_WRONG_CODES {
        session.remove(SESSION_PENDING);
        let markup = public_page(
            "Too many wrong codes",
            html! {
                h1 { "Too many wrong codes" }
                p.error role="alert" { "That code did not work either. Sign in again with your password, then type the code your app shows at that moment." }
                p { a href="/login" { "Sign in again" } }
            },
        );
        return Ok(html_response(StatusCode::UNAUTHORIZED, markup));
    }
    write(&session, SESSION_PENDING, &attempt)?;
    Ok(html_response(
        StatusCode::UNAUTHORIZED,
        code_form(
            &csrf_token(&session),
            Some("That code did not work. Codes change every 30 seconds and each works once: type the one your app shows now."),
        ),
    ))
}
