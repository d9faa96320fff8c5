//! Erasing one record on request (a person's right to erasure, or a record that should never
//! have been made): senior leaders and administrators only, from the record on the pupil's
//! page. A confirmation form asks for the reason; then the record goes with everything
//! hanging from it, and the audit log keeps who, when, which record and why, never its
//! content. Incidents and Coaching Conversations can be erased this way.

use actix_session::Session;
use actix_web::http::StatusCode;
use actix_web::{web, HttpResponse};
use chrono::Utc;
use maud::{html, Markup};

use super::form::{
    field_problem, html_response, local, problem_summary, see_other, Fields, Problem,
};
use super::layout::{csrf_field, page};
use super::with_viewer;
use crate::db::schema::conversations;
use crate::db::staff::StaffMember;
use crate::db::{from_db_time, incidents, pupils, DbConnection};
use crate::domain::Role;
use crate::error::{Error, Result};
use crate::web::auth::{require_role, CsrfForm, SignedIn};
use crate::web::error::PageError;
use crate::web::AppState;

/// Who may erase a record on request.
pub const ERASERS: [Role; 2] = [Role::Slt, Role::Admin];

/// The longest reason kept, in characters.
const MAX_REASON_CHARS: usize = 500;

/// The field of the reason.
const REASON: &str = "reason";

/// A kind of record that can be erased on request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Erasable {
    Incident,
    Conversation,
}

impl Erasable {
    fn path(self, id: i64) -> String {
        match self {
            Erasable::Incident => format!("/incidents/{id}/erase"),
            Erasable::Conversation => format!("/conversations/{id}/erase"),
        }
    }

    fn name(self) -> &'static str {
        match self {
            Erasable::Incident => "incident",
            Erasable::Conversation => "Coaching Conversation",
        }
    }

    fn not_found(self) -> Error {
        match self {
            Erasable::Incident => Error::NotFound("incident"),
            Erasable::Conversation => Error::NotFound("conversation"),
        }
    }
}

/// What the confirmation shows of the record: when, what, and whose.
struct Summary {
    what: String,
    pupils: Vec<(i64, String)>,
}

fn summary(conn: &mut DbConnection, school_id: i64, kind: Erasable, id: i64) -> Result<Summary> {
    let (what, pupil_ids) = match kind {
        Erasable::Incident => {
            let (row, pupil_ids) = incidents::get(conn, school_id, id)?;
            (
                format!(
                    "Incident {id}: {}, {}",
                    row.behaviour,
                    local(from_db_time(row.occurred_at))
                ),
                pupil_ids,
            )
        }
        Erasable::Conversation => {
            use diesel::prelude::*;
            let (pupil_id, held_at): (i64, chrono::NaiveDateTime) = conversations::table
                .filter(conversations::id.eq(id))
                .filter(conversations::school_id.eq(school_id))
                .select((conversations::pupil_id, conversations::held_at))
                .first(conn)
                .optional()?
                .ok_or(Error::NotFound("conversation"))?;
            (
                format!(
                    "Coaching Conversation {id}, held {}",
                    local(from_db_time(held_at))
                ),
                vec![pupil_id],
            )
        }
    };
    let mut pupils_named = Vec::new();
    for pupil_id in pupil_ids {
        let pupil = pupils::get(conn, school_id, pupil_id)?;
        pupils_named.push((pupil.id, pupil.full_name()));
    }
    Ok(Summary {
        what,
        pupils: pupils_named,
    })
}

fn render(
    member: &StaffMember,
    session: &Session,
    kind: Erasable,
    id: i64,
    record: &Summary,
    typed: Option<(&Fields, &Problem)>,
) -> Markup {
    let problem = typed.map(|(_, p)| p);
    let reason = typed.map_or("", |(values, _)| values.raw(REASON));
    with_viewer(member, session, |viewer| {
        page(
            &format!("Erase this {}", kind.name()),
            viewer,
            html! {
                h1 { "Erase this " (kind.name()) }
                p { strong { (record.what) } }
                @if !record.pupils.is_empty() {
                    p {
                        "About: "
                        @for (i, (pupil_id, name)) in record.pupils.iter().enumerate() {
                            @if i > 0 { ", " }
                            a href={ "/pupils/" (pupil_id) } { (name) }
                        }
                    }
                }
                p.notice {
                    "The record is deleted for good, with everything that hangs from it "
                    "(its links to pupils and conversations, its place in the evidence of suggestions, and the counts the reports make of it). "
                    "The audit log keeps who erased it, when and why, never what it said."
                }
                (problem_summary(problem, &[REASON]))
                form.stack method="post" action=(kind.path(id)) {
                    (csrf_field(viewer.csrf))
                    label for=(REASON) { "Why it is erased" }
                    textarea #reason name=(REASON) maxlength=(MAX_REASON_CHARS) required { (reason) }
                    (field_problem(problem, REASON))
                    p.hint { "For example: a request for erasure from the family, or logged for the wrong pupil. Name no one." }
                    button.danger type="submit" { "Erase for good" }
                }
            },
        )
    })
}

/// Reads the reason: required, at most [`MAX_REASON_CHARS`] characters.
fn read_reason(values: &Fields) -> std::result::Result<String, Problem> {
    let refuse = |message: String| Problem {
        field: Some(REASON.to_string()),
        message,
    };
    let reason = values
        .get(REASON)
        .ok_or_else(|| refuse("say why the record is erased".to_string()))?;
    if reason.chars().count() > MAX_REASON_CHARS {
        return Err(refuse(format!(
            "a reason is at most {MAX_REASON_CHARS} characters"
        )));
    }
    Ok(reason.to_string())
}

async fn confirm(
    member: StaffMember,
    session: Session,
    state: web::Data<AppState>,
    kind: Erasable,
    raw_id: &str,
) -> std::result::Result<HttpResponse, PageError> {
    require_role(&member, &ERASERS)?;
    let id: i64 = raw_id.parse().map_err(|_| kind.not_found())?;
    let school_id = member.school_id;
    let record = state
        .db
        .transaction(move |conn| summary(conn, school_id, kind, id))
        .await?;
    Ok(html_response(
        StatusCode::OK,
        render(&member, &session, kind, id, &record, None),
    ))
}

async fn submit(
    member: StaffMember,
    session: Session,
    values: Fields,
    state: web::Data<AppState>,
    kind: Erasable,
    raw_id: &str,
) -> std::result::Result<HttpResponse, PageError> {
    require_role(&member, &ERASERS)?;
    let id: i64 = raw_id.parse().map_err(|_| kind.not_found())?;
    let school_id = member.school_id;
    let reason = match read_reason(&values) {
        Ok(reason) => reason,
        Err(problem) => {
            let record = state
                .db
                .transaction(move |conn| summary(conn, school_id, kind, id))
                .await?;
            return Ok(html_response(
                StatusCode::UNPROCESSABLE_ENTITY,
                render(
                    &member,
                    &session,
                    kind,
                    id,
                    &record,
                    Some((&values, &problem)),
                ),
            ));
        }
    };
    let actor = member.id;
    let pupil_id = state
        .db
        .write(move |conn| {
            let now = Utc::now();
            Ok(match kind {
                Erasable::Incident => incidents::erase(conn, school_id, actor, id, &reason, now)?
                    .first()
                    .copied(),
                Erasable::Conversation => Some(crate::db::conversations::erase(
                    conn, school_id, actor, id, &reason, now,
                )?),
            })
        })
        .await?;
    Ok(see_other(&match pupil_id {
        Some(pupil_id) => format!("/pupils/{pupil_id}?erased=1"),
        None => "/".to_string(),
    }))
}

/// Reads the record's kind from the route's first segment (`incidents` or `conversations`).
fn erasable(segment: &str) -> std::result::Result<Erasable, PageError> {
    match segment {
        "incidents" => Ok(Erasable::Incident),
        "conversations" => Ok(Erasable::Conversation),
        _ => Err(Error::NotFound("page").into()),
    }
}

/// `GET /incidents/{id}/erase` and `GET /conversations/{id}/erase`: the confirmation form.
pub async fn form(
    SignedIn(member): SignedIn,
    session: Session,
    path: web::Path<(String, String)>,
    state: web::Data<AppState>,
) -> std::result::Result<HttpResponse, PageError> {
    let (kind, id) = path.into_inner();
    confirm(member, session, state, erasable(&kind)?, &id).await
}

/// `POST /incidents/{id}/erase` and `POST /conversations/{id}/erase`: erases the record (with
/// a reason), or shows the form again with the problem at the reason.
pub async fn erase(
    SignedIn(member): SignedIn,
    session: Session,
    path: web::Path<(String, String)>,
    form: CsrfForm<Fields>,
    state: web::Data<AppState>,
) -> std::result::Result<HttpResponse, PageError> {
    let (kind, id) = path.into_inner();
    submit(member, session, form.0, state, erasable(&kind)?, &id).await
}
