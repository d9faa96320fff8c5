//! A signed-in person's own sign-in: changing their password (`/account/password`), the
//! sessions they have open on their devices (`/account/sessions`), and their API tokens
//! (`/account/tokens`). Every change ends or revokes at once, in every instance.

use actix_web::http::StatusCode;
use actix_web::web;
use chrono::{DateTime, TimeDelta, Utc};
use maud::{html, Markup};

use super::form::{local, problem_summary, see_other, Fields, Form, Problem};
use super::form_page::{FormPage, PageResult, Visit};
use super::layout::csrf_field;
use super::password::{new_password_fields, new_password_problem};
use crate::accounts::{hash_password, new_api_token, verify_password};
use crate::db::audit;
use crate::db::sign_in::{self, SessionListing};
use crate::db::staff::{self, StaffMember};
use crate::db::tokens::{self, TokenListing, MAX_TOKEN_NAME_CHARS};
use crate::db::DbConnection;
use crate::error::{Error, Result};
use crate::web::auth::{CsrfForm, SESSION_REFERENCE};
use crate::web::throttle::Attempt;

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

/// Records something a person did to their own account in the audit log.
fn record_own(
    conn: &mut DbConnection,
    member: &StaffMember,
    action: &'static str,
    detail: &str,
) -> Result<()> {
    audit::record_by(
        conn,
        member,
        action,
        "staff",
        Some(member.id),
        detail.to_string(),
    )
}

/// The id in an address of one of the person's own records (a session, a token); one that is
/// not a number is not found.
fn own_id(path: &str, what: &'static str) -> Result<i64> {
    path.parse().map_err(|_| Error::NotFound(what))
}

// ---- Password ----

/// The page to change one's password: the address it signs in with, for password managers.
struct PasswordPage {
    email: String,
}

impl FormPage for PasswordPage {
    type Key = ();
    const TITLE: &'static str = "Password";

    fn load(_conn: &mut DbConnection, member: &StaffMember, _: ()) -> Result<Self> {
        Ok(PasswordPage {
            email: member.email.clone(),
        })
    }

    fn notice(query: &Fields) -> Option<String> {
        query
            .get("saved")
            .map(|_| "Your password is changed. Your other devices are signed out.".to_string())
    }

    fn render(&self, form: &Form, notice: Option<&str>, csrf: &str) -> Markup {
        html! {
            (account_nav("/account/password"))
            h1 { "Change your password" }
            @if let Some(notice) = notice { p.notice role="status" { (notice) } }
            (problem_summary(form.problem(), &["current", "password", "confirm"]))
            form.stack method="post" action="/account/password" {
                (csrf_field(csrf))
                input type="hidden" name="username" value=(self.email) autocomplete="username";
                label for="current" { "Your current password" }
                input #current type="password" name="current" autocomplete="current-password" required;
                (form.problem_at("current"))
                (new_password_fields(form, "New password", "The new password again"))
                button.primary type="submit" { "Change password" }
            }
            p.hint { "Changing it signs you out on every other device." }
        }
    }
}

/// `GET /account/password` (signed in, no link token): the form to change one's password.
pub async fn password_form(visit: Visit) -> PageResult {
    visit.show::<PasswordPage>(()).await
}

/// `POST /account/password` (signed in, no link token): checks the current password (a wrong
/// one counts as a failed sign-in), then the new one, saves it and ends the person's other
/// sessions.
pub async fn change_password(
    visit: Visit,
    request: &actix_web::HttpRequest,
    typed: Fields,
) -> PageResult {
    let member = visit.member.clone();
    let now = Utc::now();
    let attempt = Attempt::new(
        request,
        Some(&member.email),
        Some((member.school_id, member.id)),
    );
    attempt.refuse_if_waiting(&visit.state.db, now).await?;
    let (school_id, id) = (member.school_id, member.id);
    let stored = visit
        .state
        .db
        .transaction(move |conn| staff::password_hash_of(conn, school_id, id))
        .await?
        .unwrap_or_else(|| crate::accounts::dummy_password_hash().to_string());
    let current = typed.raw("current").to_string();
    let verified = web::block(move || verify_password(&current, &stored))
        .await
        .map_err(|e| Error::Internal(format!("password check failed: {e}")))?;
    let problem = if verified {
        new_password_problem(&typed, &[&member.name, &member.email])
    } else {
        attempt.failed(&visit.state.db, now).await?;
        Some(Problem::at("current", "that is not your current password"))
    };
    if let Some(problem) = problem {
        let form = Form::again(typed, problem);
        return visit
            .again::<PasswordPage>((), form, StatusCode::BAD_REQUEST)
            .await;
    }
    let password = typed.raw("password").to_string();
    let hash = web::block(move || hash_password(&password))
        .await
        .map_err(|e| Error::Internal(format!("password hashing failed: {e}")))??;
    let reference = session_reference(&visit);
    let decided = visit
        .decide::<PasswordPage, _, _>((), None, typed, move |conn, by, _| {
            let keep = this_session(conn, by, reference.as_deref())?;
            staff::set_password(conn, by.school_id, by.id, &hash, keep)?;
            record_own(conn, by, "account.password_changed", "by its owner")
        })
        .await;
    match decided {
        Ok((visit, ())) => {
            visit.session.renew();
            Ok(see_other("/account/password?saved=1"))
        }
        Err(answer) => answer,
    }
}

// ---- Sessions ----

/// The reference of the session making this request, as stored with it.
fn session_reference(visit: &Visit) -> Option<String> {
    visit
        .session
        .get::<String>(SESSION_REFERENCE)
        .ok()
        .flatten()
}

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
    conn: &mut DbConnection,
    member: &StaffMember,
    reference: Option<&str>,
) -> Result<Option<i64>> {
    let listed = sign_in::list_for(conn, member.school_id, member.id)?;
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

/// The person's sessions, and which is the one asking (its key is this session's reference).
struct SessionsPage {
    listed: Vec<SessionListing>,
    current: Option<i64>,
}

impl FormPage for SessionsPage {
    type Key = Option<String>;
    const TITLE: &'static str = "Signed-in devices";

    fn load(
        conn: &mut DbConnection,
        member: &StaffMember,
        reference: Option<String>,
    ) -> Result<Self> {
        let listed = sign_in::list_for(conn, member.school_id, member.id)?;
        let current = current_session(&listed, reference.as_deref());
        Ok(SessionsPage { listed, current })
    }

    fn notice(query: &Fields) -> Option<String> {
        query
            .get("ended")
            .map(|_| "That session is ended: the device it was on is signed out.".to_string())
    }

    fn render(&self, _form: &Form, notice: Option<&str>, csrf: &str) -> Markup {
        html! {
            (account_nav("/account/sessions"))
            h1 { "Where you are signed in" }
            @if let Some(notice) = notice { p.notice role="status" { (notice) } }
            p.muted { "A session ends when you sign out, after a while unused, or at the latest the school's set number of hours after signing in. End any you do not recognise, and change your password." }
            table.list {
                thead { tr { th { "Device" } th { "Signed in" } th { "Last used" } th {} } }
                tbody {
                    @for listing in &self.listed {
                        @let current = Some(listing.id) == self.current;
                        tr {
                            td {
                                (device_in_words(&listing.device))
                                @if current { " " span.tag { "this device" } }
                            }
                            td { (local(listing.created_at.and_utc())) }
                            td { (local(listing.last_seen_at.and_utc())) }
                            td {
                                form method="post" action={ "/account/sessions/" (listing.id) "/end" } {
                                    (csrf_field(csrf))
                                    button type="submit" { @if current { "Sign out" } @else { "End" } }
                                }
                            }
                        }
                    }
                }
            }
            @if self.listed.len() > 1 {
                form method="post" action="/account/sessions/end-others" {
                    (csrf_field(csrf))
                    button type="submit" { "Sign out everywhere else" }
                }
            }
        }
    }
}

/// `GET /account/sessions`: the person's sessions, with their device and when last used.
pub async fn sessions(visit: Visit) -> PageResult {
    let reference = session_reference(&visit);
    visit.show::<SessionsPage>(reference).await
}

/// `POST /account/sessions/{id}/end`: ends one of the person's sessions (ending this one
/// signs out).
pub async fn end_session(
    visit: Visit,
    path: web::Path<String>,
    _form: CsrfForm<Fields>,
) -> PageResult {
    let id = own_id(&path, "session")?;
    let reference = session_reference(&visit);
    let key = reference.clone();
    let decided = visit
        .decide::<SessionsPage, _, _>(key, None, Fields::default(), move |conn, by, _| {
            let current = this_session(conn, by, reference.as_deref())?;
            if !sign_in::end_one(conn, by.school_id, by.id, id)? {
                return Err(Error::NotFound("session"));
            }
            record_own(conn, by, "session.end", "one session, by its owner")?;
            Ok(current == Some(id))
        })
        .await;
    match decided {
        Ok((visit, true)) => {
            visit.session.purge();
            Ok(see_other("/login"))
        }
        Ok((_, false)) => Ok(see_other("/account/sessions?ended=1")),
        Err(answer) => answer,
    }
}

/// `POST /account/sessions/end-others`: ends every session of the person but this one.
pub async fn end_other_sessions(visit: Visit, _form: CsrfForm<Fields>) -> PageResult {
    let reference = session_reference(&visit);
    let key = reference.clone();
    visit
        .submit::<SessionsPage, _, _>(
            key,
            Fields::default(),
            Ok(reference),
            |conn, by, _, reference| {
                let current = this_session(conn, by, reference.as_deref())?;
                sign_in::end_all(conn, by.school_id, by.id, current)?;
                record_own(
                    conn,
                    by,
                    "session.end",
                    "all other sessions, by their owner",
                )?;
                Ok("/account/sessions?ended=1".to_string())
            },
        )
        .await
}

// ---- API tokens ----

/// The expiries offered for a new token, in days (none: until revoked).
const TOKEN_EXPIRIES: [(i64, &str); 4] = [
    (30, "in 30 days"),
    (90, "in 90 days"),
    (365, "in a year"),
    (0, "never (until revoked)"),
];

/// The person's tokens, and the secret of the one just made (shown only this once).
struct TokensPage {
    listed: Vec<TokenListing>,
    new_secret: Option<String>,
}

impl FormPage for TokensPage {
    type Key = ();
    const TITLE: &'static str = "API tokens";

    fn load(conn: &mut DbConnection, member: &StaffMember, _: ()) -> Result<Self> {
        Ok(TokensPage {
            listed: tokens::list_for(conn, member.school_id, member.id)?,
            new_secret: None,
        })
    }

    fn render(&self, form: &Form, _notice: Option<&str>, csrf: &str) -> Markup {
        render_tokens(self, form, csrf)
    }
}

fn render_tokens(data: &TokensPage, form: &Form, csrf: &str) -> Markup {
    let now = Utc::now();
    let values = &form.values;
    html! {
        (account_nav("/account/tokens"))
        h1 { "Your API tokens" }
        p.muted { "A token lets a script or another system use Steadfast's API as you, with your role. Keep each one secret; revoke any you no longer use." }
        @if let Some(secret) = &data.new_secret {
            section.card role="status" {
                h2 { "Your new token" }
                p { "Copy it now: it is shown only this once." }
                p { code.secret { (secret) } }
            }
        }
        @if data.listed.is_empty() {
            p { "You have no API tokens." }
        } @else {
            table.list {
                thead { tr { th { "Name" } th { "Created" } th { "Last used" } th { "Expires" } th {} } }
                tbody {
                    @for token in &data.listed {
                        tr {
                            td { @if token.name.is_empty() { span.muted { "(no name)" } } @else { (token.name) } }
                            td { (local(token.created_at.and_utc())) }
                            td { @match token.last_used_at { Some(at) => (local(at.and_utc())), None => "never" } }
                            td { @match token.expires_at { Some(at) => (local(at.and_utc())), None => "never" } }
                            td {
                                @if token.works(now) {
                                    form method="post" action={ "/account/tokens/" (token.id) "/revoke" } {
                                        (csrf_field(csrf))
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
            (problem_summary(form.problem(), &["name", "expires_in_days"]))
            form.stack method="post" action="/account/tokens" {
                (csrf_field(csrf))
                label for="name" { "Name" }
                input #name type="text" name="name" maxlength=(MAX_TOKEN_NAME_CHARS) required
                    value=(values.raw("name")) aria-describedby="name-hint";
                p.hint #name-hint { "What it is for, such as the script that uses it." }
                (form.problem_at("name"))
                label for="expires_in_days" { "Stops working" }
                select #expires_in_days name="expires_in_days" {
                    @for (days, label) in TOKEN_EXPIRIES {
                        option value=(days) selected[values.raw("expires_in_days") == days.to_string()] { (label) }
                    }
                }
                (form.problem_at("expires_in_days"))
                button.primary type="submit" { "Make token" }
            }
        }
    }
}

/// `GET /account/tokens`: the person's tokens and the form for a new one.
pub async fn tokens(visit: Visit) -> PageResult {
    visit.show::<TokensPage>(()).await
}

/// A new token's name and when it stops working, as typed.
fn read_token(typed: &Fields, now: DateTime<Utc>) -> Result<(String, Option<DateTime<Utc>>)> {
    let name = tokens::check_name(typed.raw("name"))?;
    if name.is_empty() {
        return Err(Error::invalid("name", "give the token a name"));
    }
    let days = typed.raw("expires_in_days");
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
}

/// `POST /account/tokens`: makes a named token, optionally expiring, and shows its secret
/// once.
pub async fn create_token(visit: Visit, form: CsrfForm<Fields>) -> PageResult {
    let typed = form.0;
    let now = Utc::now();
    let read = read_token(&typed, now);
    let token = new_api_token();
    let hash = token.hash;
    let decided = visit
        .decide::<TokensPage, _, _>((), None, typed, move |conn, by, _| {
            let (name, expires_at) = read?;
            tokens::add(conn, by, &hash, &name, expires_at, now)?;
            record_own(conn, by, "token.create", "on the tokens page")?;
            TokensPage::load(conn, by, ())
        })
        .await;
    match decided {
        Ok((visit, listed)) => {
            let data = TokensPage {
                new_secret: Some(token.secret),
                ..listed
            };
            visit.answer(&data, &Form::default(), None, StatusCode::CREATED)
        }
        Err(answer) => answer,
    }
}

/// `POST /account/tokens/{id}/revoke`: revokes one of the person's tokens, at once.
pub async fn revoke_token(
    visit: Visit,
    path: web::Path<String>,
    _form: CsrfForm<Fields>,
) -> PageResult {
    let id = own_id(&path, "token")?;
    visit
        .submit::<TokensPage, _, _>((), Fields::default(), Ok(id), |conn, by, _, id| {
            let revoked = tokens::revoke(
                conn,
                by.school_id,
                by.id,
                tokens::Revoke::Id(id),
                Utc::now(),
            )?;
            if revoked == 0 {
                return Err(Error::NotFound("token"));
            }
            record_own(conn, by, "token.revoke", "on the tokens page")?;
            Ok("/account/tokens".to_string())
        })
        .await
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
