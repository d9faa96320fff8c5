//! The school's emails, for administrators and senior leaders: what was sent, what waits
//! for a retry, and what failed (with a button to send it again); each email as it was
//! written, and, when email goes to files, the file itself.

use actix_session::Session;
use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use chrono::Utc;
use maud::{html, Markup};

use super::form::{html_response, local, see_other, Fields};
use super::layout::{csrf_field, page};
use super::with_viewer;
use crate::db::account_links;
use crate::db::audit::{self, AuditEntry};
use crate::db::models::OutboxRow;
use crate::db::outbox::{self, status};
use crate::db::{from_db_time, to_db_time};
use crate::domain::Role;
use crate::error::{Error, Result};
use crate::mail::{sanitise_key, transport};
use crate::web::auth::{require_role, CsrfForm, SignedIn};
use crate::web::error::PageError;
use crate::web::AppState;

/// The roles that look after the school's email.
const KEEPERS: [Role; 2] = [Role::Admin, Role::Slt];
/// Emails listed at once.
const LISTED: i64 = 200;
/// The statuses the list can be filtered by.
const STATUSES: [&str; 5] = [
    status::PENDING,
    status::SENT,
    status::FAILED,
    status::HELD,
    status::COLLATED,
];

fn status_tag(row: &OutboxRow) -> Markup {
    html! {
        @match row.status.as_str() {
            "failed" => span.tag.warn { "failed" },
            "pending" if row.attempts > 0 => span.tag { "retrying" },
            other => span.tag { (other) },
        }
    }
}

/// `GET /admin/outbox?status=`: the school's latest emails.
pub async fn list(
    SignedIn(member): SignedIn,
    session: Session,
    request: HttpRequest,
    state: web::Data<AppState>,
) -> std::result::Result<HttpResponse, PageError> {
    require_role(&member, &KEEPERS)?;
    let query = Fields::from_query(request.query_string());
    let only = query
        .get("status")
        .filter(|s| STATUSES.contains(s))
        .map(str::to_string);
    let school_id = member.school_id;
    let shown = only.clone();
    let rows = state
        .db
        .transaction(move |conn| outbox::list(conn, school_id, shown.as_deref(), LISTED))
        .await?;
    let notice = query.get("resent").map(|_| "Queued to be sent again.");
    let markup = with_viewer(&member, &session, |viewer| {
        page(
            "Emails",
            viewer,
            html! {
                h1 { "Emails" }
                p.muted { "Every email Steadfast sends, newest first. Failed emails can be sent again." }
                @if let Some(notice) = notice { p.notice role="status" { (notice) } }
                p {
                    a href="/admin/outbox" { "All" }
                    @for s in STATUSES { " · " a href={ "/admin/outbox?status=" (s) } { (s) } }
                }
                @if rows.is_empty() { p.muted { "No emails here." } }
                table {
                    thead { tr { th { "Queued" } th { "To" } th { "About" } th { "Status" } th { "Tries" } th {} } }
                    tbody {
                        @for row in &rows {
                            tr {
                                td { (local(from_db_time(row.created_at))) }
                                td { (row.recipient) }
                                td { a href={ "/admin/outbox/" (row.id) } { (row.subject) } }
                                td { (status_tag(row)) }
                                td { (row.attempts) }
                                td {
                                    @if row.status == status::FAILED {
                                        form method="post" action={ "/admin/outbox/" (row.id) "/resend" } {
                                            (csrf_field(viewer.csrf))
                                            button type="submit" { "Send again" }
                                        }
                                    }
                                }
                            }
                        }
                    }
                }
            },
        )
    });
    Ok(html_response(StatusCode::OK, markup))
}

fn email_id(path: &str) -> Result<i64> {
    path.parse().map_err(|_| Error::NotFound("email"))
}

/// `GET /admin/outbox/{id}`: one email as written; the `.eml` file too when email goes to
/// files.
pub async fn show(
    SignedIn(member): SignedIn,
    session: Session,
    path: web::Path<String>,
    state: web::Data<AppState>,
) -> std::result::Result<HttpResponse, PageError> {
    require_role(&member, &KEEPERS)?;
    let id = email_id(&path)?;
    let school_id = member.school_id;
    let row = state
        .db
        .transaction(move |conn| outbox::get(conn, school_id, id))
        .await?;
    let file_name = format!("{}.eml", sanitise_key(&row.message_key));
    let file = transport::read_sent(&state.settings.data_dir, &file_name).ok();
    let hidden = row.topic == account_links::LINK_EMAIL_TOPIC;
    let markup = with_viewer(&member, &session, |viewer| {
        page(
            "Email",
            viewer,
            html! {
                h1 { (row.subject) }
                dl.facts {
                    dt { "To" } dd { (row.recipient) }
                    dt { "Status" } dd { (status_tag(&row)) }
                    dt { "Queued" } dd { (local(from_db_time(row.created_at))) }
                    @if let Some(sent) = row.sent_at { dt { "Sent" } dd { (local(from_db_time(sent))) } }
                    dt { "Attempts" } dd { (row.attempts) }
                    @if let Some(error) = &row.last_error { dt { "Last error" } dd { (error) } }
                    dt { "Calendar invitation" } dd { @if row.calendar_ics.is_some() { "attached" } @else { "none" } }
                }
                @if row.status == status::FAILED {
                    form method="post" action={ "/admin/outbox/" (row.id) "/resend" } {
                        (csrf_field(viewer.csrf))
                        button.primary type="submit" { "Send again" }
                    }
                }
                h2 { "The email" }
                @if hidden {
                    p.muted { "This email carries a single-use link into someone's account (an invitation or a password reset), so its text is not shown here. The person can ask for a new link at any time." }
                } @else {
                    pre.prewrap { (row.body_text) }
                }
                @if let (Some(file), false) = (&file, hidden) {
                    h2 { "The file written (" (file_name) ")" }
                    pre.prewrap { (file) }
                }
                p { a href="/admin/outbox" { "All emails" } }
            },
        )
    });
    Ok(html_response(StatusCode::OK, markup))
}

/// `POST /admin/outbox/{id}/resend`: queues a failed email again. Audited.
pub async fn resend(
    SignedIn(member): SignedIn,
    path: web::Path<String>,
    _form: CsrfForm<Fields>,
    state: web::Data<AppState>,
) -> std::result::Result<HttpResponse, PageError> {
    require_role(&member, &KEEPERS)?;
    let id = email_id(&path)?;
    let (school_id, actor) = (member.school_id, member.id);
    state
        .db
        .write(move |conn| {
            let now = Utc::now();
            outbox::resend(conn, school_id, id, now)?;
            audit::record(
                conn,
                AuditEntry {
                    school_id,
                    actor_id: Some(actor),
                    action: "email.resend",
                    entity: "outbox",
                    entity_id: Some(id),
                    detail: "queued again after failing".into(),
                    at: to_db_time(now),
                },
            )
        })
        .await?;
    Ok(see_other("/admin/outbox?resent=1"))
}
