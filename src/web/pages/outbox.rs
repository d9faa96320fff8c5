//! The school's emails, for administrators and senior leaders: what was sent, what waits
//! for a retry, and what failed (with a button to send it again); each email as it was
//! written, and, when email goes to files, the file itself.

use actix_web::http::StatusCode;
use actix_web::web;
use chrono::Utc;
use maud::{html, Markup};

use super::form::{local, problem_summary, Fields, Form};
use super::form_page::{FormPage, PageResult, Visit};
use super::layout::csrf_field;
use crate::db::account_links;
use crate::db::audit::{self, AuditEntry};
use crate::db::models::OutboxRow;
use crate::db::outbox::{self, status};
use crate::db::staff::StaffMember;
use crate::db::{from_db_time, to_db_time, DbConnection};
use crate::domain::paging::PageRequest;
use crate::domain::Role;
use crate::error::{Error, Result};
use crate::mail::{sanitise_key, transport};
use crate::web::auth::{require_role, CsrfForm};

/// The roles that look after the school's email.
const KEEPERS: [Role; 2] = [Role::Admin, Role::Slt];
/// Emails listed at once, the newest; a link shows older ones.
const LISTED: usize = 200;
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

/// The school's latest emails, of one status or all, a page at a time.
struct EmailsPage {
    rows: Vec<OutboxRow>,
    /// The status shown, or all.
    only: Option<String>,
    /// Whether these are older emails (a later page).
    older_page: bool,
    /// The cursor of the page of older emails, when there are any.
    older: Option<String>,
}

impl FormPage for EmailsPage {
    /// The status shown, or all, and the cursor of the page shown (the newest without one).
    type Key = (Option<String>, Option<String>);
    const TITLE: &'static str = "Emails";

    fn load(
        conn: &mut DbConnection,
        member: &StaffMember,
        (only, cursor): (Option<String>, Option<String>),
    ) -> Result<Self> {
        require_role(member, &KEEPERS)?;
        let list = format!("outbox?status={}", only.as_deref().unwrap_or_default());
        // A cursor that no longer reads shows the newest emails.
        let request = PageRequest::read(&list, None, cursor.as_deref())
            .map(|request| PageRequest {
                limit: LISTED,
                ..request
            })
            .unwrap_or_else(|_| PageRequest::first(&list, LISTED));
        let page = outbox::page(conn, member.school_id, only.as_deref(), &request)?;
        Ok(EmailsPage {
            rows: page.items,
            only,
            older_page: request.after.is_some(),
            older: page.next,
        })
    }

    fn notice(query: &Fields) -> Option<String> {
        query
            .get("resent")
            .map(|_| "Queued to be sent again.".to_string())
    }

    fn render(&self, form: &Form, notice: Option<&str>, csrf: &str) -> Markup {
        html! {
            h1 { "Emails" }
            p.muted { "Every email Steadfast sends, newest first. Failed emails can be sent again." }
            @if let Some(notice) = notice { p.notice role="status" { (notice) } }
            (problem_summary(form.problem(), &[]))
            p {
                a href="/admin/outbox" { "All" }
                @for s in STATUSES { " · " a href={ "/admin/outbox?status=" (s) } { (s) } }
            }
            @if self.older_page {
                p.muted { "Older emails. " a href=(self.link(None)) { "Back to the newest" } }
            }
            @if self.rows.is_empty() { p.muted { "No emails here." } }
            table {
                thead { tr { th { "Queued" } th { "To" } th { "About" } th { "Status" } th { "Tries" } th {} } }
                tbody {
                    @for row in &self.rows {
                        tr {
                            td { (local(from_db_time(row.created_at))) }
                            td { (row.recipient) }
                            td { a href={ "/admin/outbox/" (row.id) } { (row.subject) } }
                            td { (status_tag(row)) }
                            td { (row.attempts) }
                            td {
                                @if row.status == status::FAILED {
                                    form method="post" action={ "/admin/outbox/" (row.id) "/resend" } {
                                        (csrf_field(csrf))
                                        button type="submit" { "Send again" }
                                    }
                                }
                            }
                        }
                    }
                }
            }
            @if let Some(older) = &self.older {
                p.more { a href=(self.link(Some(older))) { "Show older emails" } }
            }
        }
    }
}

impl EmailsPage {
    /// The address of this list (same status) at the page `cursor` starts, or the newest.
    fn link(&self, cursor: Option<&str>) -> String {
        let mut query = url::form_urlencoded::Serializer::new(String::new());
        if let Some(only) = &self.only {
            query.append_pair("status", only);
        }
        if let Some(cursor) = cursor {
            query.append_pair("cursor", cursor);
        }
        let query = query.finish();
        if query.is_empty() {
            "/admin/outbox".to_string()
        } else {
            format!("/admin/outbox?{query}")
        }
    }
}

/// `GET /admin/outbox?status=`: the school's latest emails.
pub async fn list(visit: Visit) -> PageResult {
    let only = visit
        .query
        .get("status")
        .filter(|s| STATUSES.contains(s))
        .map(str::to_string);
    let cursor = visit.query.get("cursor").map(str::to_string);
    visit.show::<EmailsPage>((only, cursor)).await
}

fn email_id(path: &str) -> Result<i64> {
    path.parse().map_err(|_| Error::NotFound("email"))
}

/// `GET /admin/outbox/{id}`: one email as written; the `.eml` file too when email goes to
/// files.
pub async fn show(visit: Visit, path: web::Path<String>) -> PageResult {
    require_role(&visit.member, &KEEPERS)?;
    let id = email_id(&path)?;
    let school_id = visit.member.school_id;
    let row = visit
        .state
        .db
        .transaction(move |conn| outbox::get(conn, school_id, id))
        .await?;
    let file_name = format!("{}.eml", sanitise_key(&row.message_key));
    let file = transport::read_sent(&visit.state.settings.data_dir, &file_name).ok();
    let hidden = row.topic == account_links::LINK_EMAIL_TOPIC
        || row.topic == crate::db::family::FAMILY_LINK_TOPIC;
    Ok(visit.page("Email", StatusCode::OK, |csrf| {
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
                        (csrf_field(csrf))
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
            }
    }))
}

/// `POST /admin/outbox/{id}/resend`: queues a failed email again. Audited.
pub async fn resend(visit: Visit, path: web::Path<String>, form: CsrfForm<Fields>) -> PageResult {
    require_role(&visit.member, &KEEPERS)?;
    let id = email_id(&path)?;
    visit
        .submit::<EmailsPage, _, _>((None, None), form.0, Ok(()), move |conn, by, _, ()| {
            let school_id = by.school_id;
            let now = Utc::now();
            outbox::resend(conn, school_id, id, now)?;
            audit::record(
                conn,
                AuditEntry {
                    school_id,
                    actor_id: Some(by.id),
                    action: "email.resend",
                    entity: "outbox",
                    entity_id: Some(id),
                    detail: "queued again after failing".into(),
                    at: to_db_time(now),
                },
            )?;
            Ok("/admin/outbox?resent=1".to_string())
        })
        .await
}
