//! A signed-in person's own sign-in: changing their password (`/account/password`), the
//! sessions they have open on their devices (`/account/sessions`), and their API tokens
//! (`/account/tokens`). Every change ends or revokes at once, in every instance.

use actix_session::Session;
use actix_web::http::StatusCode;
use actix_web::{web, HttpResponse};
use chrono::{TimeDelta, Utc};
use maud::{html, Markup};

use super::form::{
    field_problem, html_response, local, problem_summary, see_other, Fields, Problem,
};
use super::layout::{csrf_field, page, Viewer};
use super::with_viewer;
use crate::accounts::{hash_password, new_api_token, verify_password, MIN_PASSWORD_LENGTH};
use crate::db::audit::{self, AuditEntry};
use crate::db::sign_in::{self, SessionListing};
use crate::db::staff::{self, StaffMember};
use crate::db::to_db_time;
use crate::db::tokens::{self, TokenListing, MAX_TOKEN_NAME_CHARS};
use crate::error::Error;
use crate::web::auth::{CsrfForm, SignedIn, SESSION_REFERENCE};
use crate::web::error::PageError;
use crate::web::throttle::Attempt;
use crate::web::AppState;

/// The links between a person's own account pages.
pub fn account_nav(current: &str) -> Markup {
    const PAGES: [(&str, &str); 5] = [
        ("/account/email", "Email"),
        ("/account/password", "Password"),
        ("/account/security", "Two-step sign-in"),
        ("/account/sessions", "Signed-in devices"),
        ("/account/tokens", "API tokens"),
    ];
    html! {
        nav.subnav aria-label="Your account" {
            @for (href, label) in PAGES {
                @if href == current { a href=(href) aria-current="page" { (label) } }
                @else { a href=(href) { (label) } }
            }
        }
    }
}

/// An audit entry for something a person did to their own account.
fn own_entry(member: &StaffMember, action: &'static str, detail: &str) -> AuditEntry<'static> {
    AuditEntry {
        school_id: member.school_id,
        actor_id: Some(member.id),
        action,
        entity: "staff",
        entity_id: Some(member.id),
        detail: detail.to_string(),
        at: to_db_time(Utc::now()),
    }
}

// ---- Password ----

fn password_page(viewer: &Viewer<'_>, saved: bool, problem: Option<&Problem>) -> Markup {
    page(
        "Password",
        viewer,
        html! {
            (account_nav("/account/password"))
            h1 { "Change your password" }
            @if saved { p.notice role="status" { "Your password is changed. Your other devices are signed out." } }
            (problem_summary(problem, &["current", "password", "confirm"]))
            form.stack method="post" action="/account/password" {
                (csrf_field(viewer.csrf))
                input type="hidden" name="username" value=(viewer.member.email) autocomplete="username";
                label for="current" { "Your current password" }
                input #current type="password" name="current" autocomplete="current-password" required;
                (field_problem(problem, "current"))
                label for="password" { "New password" }
                input #password type="password" name="password" autocomplete="new-password" required
                    minlength=(MIN_PASSWORD_LENGTH) aria-describedby="password-hint";
                p.hint #password-hint { "At least " (MIN_PASSWORD_LENGTH) " characters. A few unrelated words make a password that is easy to remember and hard to guess." }
                (field_problem(problem, "password"))
                label for="confirm" { "The new password again" }
                input #confirm type="password" name="confirm" autocomplete="new-password" required;
                (field_problem(problem, "confirm"))
                button.primary type="submit" { "Change password" }
            }
            p.hint { "Changing it signs you out on every other device." }
        },
    )
}

/// `GET /account/password` (signed in, no link token): the form to change one's password.
pub async fn password_form(member: StaffMember, session: Session, saved: bool) -> HttpResponse {
    let markup = with_viewer(&member, &session, |viewer| {
        password_page(viewer, saved, None)
    });
    html_response(StatusCode::OK, markup)
}

/// `POST /account/password` (signed in, no link token): checks the current password (a wrong
/// one counts as a failed sign-in), then the new one, saves it and ends the person's other
/// sessions.
pub async fn change_password(
    member: StaffMember,
    session: Session,
    request: &actix_web::HttpRequest,
    fields: Fields,
    state: &AppState,
) -> Result<HttpResponse, PageError> {
    let now = Utc::now();
    let attempt = Attempt::new(
        request,
        Some(&member.email),
        Some((member.school_id, member.id)),
    );
    attempt.refuse_if_waiting(&state.db, now).await?;
    let (school_id, id) = (member.school_id, member.id);
    let stored = state
        .db
        .transaction(move |conn| staff::password_hash_of(conn, school_id, id))
        .await?
        .unwrap_or_else(|| crate::accounts::dummy_password_hash().to_string());
    let current = fields.raw("current").to_string();
    let verified = web::block(move || verify_password(&current, &stored))
        .await
        .map_err(|e| Error::Internal(format!("password check failed: {e}")))?;
    let password = fields.raw("password").to_string();
    let problem = if !verified {
        attempt.failed(&state.db, now).await?;
        Some(Problem {
            field: Some("current".into()),
            message: "that is not your current password".into(),
        })
    } else {
        super::password::new_password_problem(&fields, &[&member.name, &member.email])
    };
    if let Some(problem) = problem {
        let markup = with_viewer(&member, &session, |viewer| {
            password_page(viewer, false, Some(&problem))
        });
        return Ok(html_response(StatusCode::BAD_REQUEST, markup));
    }
    let hash = web::block(move || hash_password(&password))
        .await
        .map_err(|e| Error::Internal(format!("password hashing failed: {e}")))??;
    let reference = session.get::<String>(SESSION_REFERENCE).ok().flatten();
    let entry = own_entry(&member, "account.password_changed", "by its owner");
    state
        .db
        .write(move |conn| {
            let keep = this_session(conn, school_id, id, reference.as_deref())?;
            staff::set_password(conn, school_id, id, &hash, keep)?;
            audit::record(conn, entry)
        })
        .await?;
    session.renew();
    Ok(see_other("/account/password?saved=1"))
}

// ---- Sessions ----

/// The id of the listed session that is the one making this request.
fn current_session(listed: &[SessionListing], reference: Option<&str>) -> Option<i64> {
    let reference = reference?;
    listed
        .iter()
        .find(|listing| {
            serde_json::from_str::<std::collections::HashMap<String, String>>(&listing.state)
                .ok()
                .and_then(|state| state.get(SESSION_REFERENCE).cloned())
                .and_then(|stored| serde_json::from_str::<String>(&stored).ok())
                .is_some_and(|stored| stored == reference)
        })
        .map(|listing| listing.id)
}

/// The id of the person's session that carries `reference` (the one making this request).
fn this_session(
    conn: &mut crate::db::DbConnection,
    school_id: i64,
    staff_id: i64,
    reference: Option<&str>,
) -> crate::error::Result<Option<i64>> {
    let listed = sign_in::list_for(conn, school_id, staff_id)?;
    Ok(current_session(&listed, reference))
}

/// A device in words, from its browser's user agent: "Chrome on Android".
fn device_in_words(user_agent: &str) -> String {
    let parsed = woothee::parser::Parser::new().parse(user_agent);
    match parsed {
        Some(found) if found.name != woothee::woothee::VALUE_UNKNOWN => {
            if found.os == woothee::woothee::VALUE_UNKNOWN {
                found.name.to_string()
            } else {
                format!("{} on {}", found.name, found.os)
            }
        }
        _ if user_agent.is_empty() => "An unknown device".to_string(),
        _ => "Another program or device".to_string(),
    }
}

async fn sessions_page(
    member: &StaffMember,
    session: &Session,
    state: &AppState,
    notice: Option<&str>,
) -> Result<HttpResponse, PageError> {
    let (school_id, id) = (member.school_id, member.id);
    let listed = state
        .db
        .transaction(move |conn| sign_in::list_for(conn, school_id, id))
        .await?;
    let reference = session.get::<String>(SESSION_REFERENCE).ok().flatten();
    let current = current_session(&listed, reference.as_deref());
    let markup = with_viewer(member, session, |viewer| {
        page(
            "Signed-in devices",
            viewer,
            html! {
                (account_nav("/account/sessions"))
                h1 { "Where you are signed in" }
                @if let Some(notice) = notice { p.notice role="status" { (notice) } }
                p.muted { "A session ends when you sign out, after a while unused, or at the latest the school's set number of hours after signing in. End any you do not recognise, and change your password." }
                table.list {
                    thead { tr { th { "Device" } th { "Signed in" } th { "Last used" } th {} } }
                    tbody {
                        @for listing in &listed {
                            tr {
                                td {
                                    (device_in_words(&listing.device))
                                    @if Some(listing.id) == current { " " span.tag { "this device" } }
                                }
                                td { (local(listing.created_at.and_utc())) }
                                td { (local(listing.last_seen_at.and_utc())) }
                                td {
                                    form method="post" action={ "/account/sessions/" (listing.id) "/end" } {
                                        (csrf_field(viewer.csrf))
                                        button type="submit" { @if Some(listing.id) == current { "Sign out" } @else { "End" } }
                                    }
                                }
                            }
                        }
                    }
                }
                @if listed.len() > 1 {
                    form method="post" action="/account/sessions/end-others" {
                        (csrf_field(viewer.csrf))
                        button type="submit" { "Sign out everywhere else" }
                    }
                }
            },
        )
    });
    Ok(html_response(StatusCode::OK, markup))
}

/// `GET /account/sessions`: the person's sessions, with their device and when last used.
pub async fn sessions(
    SignedIn(member): SignedIn,
    session: Session,
    request: actix_web::HttpRequest,
    state: web::Data<AppState>,
) -> Result<HttpResponse, PageError> {
    let query = Fields::from_query(request.query_string());
    let notice = query
        .get("ended")
        .map(|_| "That session is ended: the device it was on is signed out.");
    sessions_page(&member, &session, &state, notice).await
}

/// `POST /account/sessions/{id}/end`: ends one of the person's sessions (ending this one
/// signs out).
pub async fn end_session(
    SignedIn(member): SignedIn,
    session: Session,
    path: web::Path<String>,
    _form: CsrfForm<Fields>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, PageError> {
    let id: i64 = path
        .parse()
        .map_err(|_| PageError(Error::NotFound("session")))?;
    let (school_id, staff_id) = (member.school_id, member.id);
    let reference = session.get::<String>(SESSION_REFERENCE).ok().flatten();
    let entry = own_entry(&member, "session.end", "one session, by its owner");
    let was_current = state
        .db
        .write(move |conn| {
            let current = this_session(conn, school_id, staff_id, reference.as_deref())?;
            if !sign_in::end_one(conn, school_id, staff_id, id)? {
                return Err(Error::NotFound("session"));
            }
            audit::record(conn, entry)?;
            Ok(current == Some(id))
        })
        .await?;
    if was_current {
        session.purge();
        return Ok(see_other("/login"));
    }
    Ok(see_other("/account/sessions?ended=1"))
}

/// `POST /account/sessions/end-others`: ends every session of the person but this one.
pub async fn end_other_sessions(
    SignedIn(member): SignedIn,
    session: Session,
    _form: CsrfForm<Fields>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, PageError> {
    let (school_id, staff_id) = (member.school_id, member.id);
    let reference = session.get::<String>(SESSION_REFERENCE).ok().flatten();
    let entry = own_entry(&member, "session.end", "all other sessions, by their owner");
    state
        .db
        .write(move |conn| {
            let current = this_session(conn, school_id, staff_id, reference.as_deref())?;
            sign_in::end_all(conn, school_id, staff_id, current)?;
            audit::record(conn, entry)
        })
        .await?;
    Ok(see_other("/account/sessions?ended=1"))
}

// ---- API tokens ----

/// The expiries offered for a new token, in days (none: until revoked).
const TOKEN_EXPIRIES: [(i64, &str); 4] = [
    (30, "in 30 days"),
    (90, "in 90 days"),
    (365, "in a year"),
    (0, "never (until revoked)"),
];

fn tokens_markup(
    viewer: &Viewer<'_>,
    listed: &[TokenListing],
    new_secret: Option<&str>,
    problem: Option<&Problem>,
    values: &Fields,
) -> Markup {
    let now = Utc::now();
    page(
        "API tokens",
        viewer,
        html! {
            (account_nav("/account/tokens"))
            h1 { "Your API tokens" }
            p.muted { "A token lets a script or another system use Steadfast's API as you, with your role. Keep each one secret; revoke any you no longer use." }
            @if let Some(secret) = new_secret {
                section.card role="status" {
                    h2 { "Your new token" }
                    p { "Copy it now: it is shown only this once." }
                    p { code.secret { (secret) } }
                }
            }
            @if listed.is_empty() {
                p { "You have no API tokens." }
            } @else {
                table.list {
                    thead { tr { th { "Name" } th { "Created" } th { "Last used" } th { "Expires" } th {} } }
                    tbody {
                        @for token in listed {
                            tr {
                                td { @if token.name.is_empty() { span.muted { "(no name)" } } @else { (token.name) } }
                                td { (local(token.created_at.and_utc())) }
                                td { @match token.last_used_at { Some(at) => (local(at.and_utc())), None => "never" } }
                                td { @match token.expires_at { Some(at) => (local(at.and_utc())), None => "never" } }
                                td {
                                    @if token.works(now) {
                                        form method="post" action={ "/account/tokens/" (token.id) "/revoke" } {
                                            (csrf_field(viewer.csrf))
                                            button type="submit" { "Revoke" }
                                        }
                                    } @else if token.revoked_at.is_some() {
                                        span.muted { "revoked" }
                                    } @else {
                                        span.muted { "expired" }
                                    }
                                }
                            }
                        }
                    }
                }
            }
            section.card {
                h2 { "Make a new token" }
                (problem_summary(problem, &["name", "expires_in_days"]))
                form.stack method="post" action="/account/tokens" {
                    (csrf_field(viewer.csrf))
                    label for="name" { "Name" }
                    input #name type="text" name="name" maxlength=(MAX_TOKEN_NAME_CHARS) required
                        value=(values.raw("name")) aria-describedby="name-hint";
                    p.hint #name-hint { "What it is for, such as the script that uses it." }
                    (field_problem(problem, "name"))
                    label for="expires_in_days" { "Stops working" }
                    select #expires_in_days name="expires_in_days" {
                        @for (days, label) in TOKEN_EXPIRIES {
                            option value=(days) selected[values.raw("expires_in_days") == days.to_string()] { (label) }
                        }
                    }
                    (field_problem(problem, "expires_in_days"))
                    button.primary type="submit" { "Make token" }
                }
            }
        },
    )
}

async fn tokens_page(
    member: &StaffMember,
    session: &Session,
    state: &AppState,
    status: StatusCode,
    new_secret: Option<&str>,
    problem: Option<&Problem>,
    values: &Fields,
) -> Result<HttpResponse, PageError> {
    let (school_id, id) = (member.school_id, member.id);
    let listed = state
        .db
        .transaction(move |conn| tokens::list_for(conn, school_id, id))
        .await?;
    let markup = with_viewer(member, session, |viewer| {
        tokens_markup(viewer, &listed, new_secret, problem, values)
    });
    Ok(html_response(status, markup))
}

/// `GET /account/tokens`: the person's tokens and the form for a new one.
pub async fn tokens(
    SignedIn(member): SignedIn,
    session: Session,
    state: web::Data<AppState>,
) -> Result<HttpResponse, PageError> {
    let values = Fields::new(Vec::new());
    tokens_page(
        &member,
        &session,
        &state,
        StatusCode::OK,
        None,
        None,
        &values,
    )
    .await
}

/// `POST /account/tokens`: makes a named token, optionally expiring, and shows its secret
/// once.
pub async fn create_token(
    SignedIn(member): SignedIn,
    session: Session,
    form: CsrfForm<Fields>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, PageError> {
    let values = form.0;
    let now = Utc::now();
    let checked = tokens::check_name(values.raw("name")).and_then(|name| {
        if name.is_empty() {
            return Err(Error::invalid("name", "give the token a name"));
        }
        let days = values.raw("expires_in_days");
        let expires_at = match TOKEN_EXPIRIES.iter().find(|(d, _)| d.to_string() == days) {
            Some((0, _)) => None,
            Some((days, _)) => Some(now + TimeDelta::days(*days)),
            None => {
                return Err(Error::invalid(
                    "expires_in_days",
                    "choose one of the expiries offered",
                ))
            }
        };
        Ok((name, expires_at))
    });
    let (name, expires_at) = match checked {
        Ok(checked) => checked,
        Err(error) => {
            let (status, problem) = Problem::to_show_again(error)?;
            return tokens_page(
                &member,
                &session,
                &state,
                status,
                None,
                Some(&problem),
                &values,
            )
            .await;
        }
    };
    let token = new_api_token();
    let hash = token.hash.clone();
    let stored_member = member.clone();
    let entry = own_entry(&member, "token.create", "on the tokens page");
    state
        .db
        .write(move |conn| {
            tokens::add(conn, &stored_member, &hash, &name, expires_at, now)?;
            audit::record(conn, entry)
        })
        .await?;
    let cleared = Fields::new(Vec::new());
    tokens_page(
        &member,
        &session,
        &state,
        StatusCode::CREATED,
        Some(&token.secret),
        None,
        &cleared,
    )
    .await
}

/// `POST /account/tokens/{id}/revoke`: revokes one of the person's tokens, at once.
pub async fn revoke_token(
    SignedIn(member): SignedIn,
    path: web::Path<String>,
    _form: CsrfForm<Fields>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, PageError> {
    let id: i64 = path
        .parse()
        .map_err(|_| PageError(Error::NotFound("token")))?;
    let (school_id, staff_id) = (member.school_id, member.id);
    let entry = own_entry(&member, "token.revoke", "on the tokens page");
    state
        .db
        .write(move |conn| {
            let revoked = tokens::revoke(
                conn,
                school_id,
                staff_id,
                tokens::Revoke::Id(id),
                Utc::now(),
            )?;
            if revoked == 0 {
                return Err(Error::NotFound("token"));
            }
            audit::record(conn, entry)
        })
        .await?;
    Ok(see_other("/account/tokens"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn devices_are_named_from_their_user_agent() {
        let android = "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.0.0 Mobile Safari/537.36";
        assert_eq!(device_in_words(android), "Chrome on Android");
        assert_eq!(device_in_words(""), "An unknown device");
        assert_eq!(device_in_words("reqwest/0.12"), "Another program or device");
    }
}
