//! Erasing one record on request (a person's right to erasure, or a record that should never
//! have been made): senior leaders and administrators only, from the record on the pupil's
//! page. A confirmation form asks for the reason; then the record goes with everything
//! hanging from it, and the audit log keeps who, when, which record and why, never its
//! content. Incidents and Coaching Conversations can be erased this way.

use actix_web::web;
use chrono::Utc;
use maud::{html, Markup};

use super::form::{local, problem_summary, Fields, Form, Problem};
use super::form_page::{FormPage, PageResult, Visit};
use super::layout::csrf_field;
use crate::db::schema::conversations;
use crate::db::staff::StaffMember;
use crate::db::{from_db_time, incidents, pupils, DbConnection};
use crate::domain::Role;
use crate::error::{Error, Result};
use crate::web::auth::{require_role, CsrfForm};
use crate::web::error::PageError;

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

/// What the confirmation shows of the record: its kind, when, what, and whose.
struct Summary {
    kind: Erasable,
    id: i64,
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
        kind,
        id,
        what,
        pupils: pupils_named,
    })
}

impl FormPage for Summary {
    type Key = (Erasable, i64);
    const TITLE: &'static str = "Erase a record";

    fn title(&self) -> String {
        format!("Erase this {}", self.kind.name())
    }

    fn load(conn: &mut DbConnection, member: &StaffMember, (kind, id): Self::Key) -> Result<Self> {
        require_role(member, &ERASERS)?;
        summary(conn, member.school_id, kind, id)
    }

    fn render(&self, form: &Form, _notice: Option<&str>, csrf: &str) -> Markup {
        render(self, form, csrf)
    }
}

fn render(record: &Summary, form: &Form, csrf: &str) -> Markup {
    let kind = record.kind;
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
        (problem_summary(form.problem(), &[REASON]))
        form.stack method="post" action=(kind.path(record.id)) {
            (csrf_field(csrf))
            label for=(REASON) { "Why it is erased" }
            textarea #reason name=(REASON) maxlength=(MAX_REASON_CHARS) required { (form.values.raw(REASON)) }
            (form.problem_at(REASON))
            p.hint { "For example: a request for erasure from the family, or logged for the wrong pupil. Name no one." }
            button.danger type="submit" { "Erase for good" }
        }
    }
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

/// Reads the record's kind from the route's first segment (`incidents` or `conversations`).
fn erasable(segment: &str) -> std::result::Result<Erasable, PageError> {
    match segment {
        "incidents" => Ok(Erasable::Incident),
        "conversations" => Ok(Erasable::Conversation),
        _ => Err(Error::NotFound("page").into()),
    }
}

/// The record the route names: its kind from the first segment and its id.
fn record_of(path: web::Path<(String, String)>) -> std::result::Result<(Erasable, i64), PageError> {
    let (segment, raw_id) = path.into_inner();
    let kind = erasable(&segment)?;
    let id = raw_id.parse().map_err(|_| kind.not_found())?;
    Ok((kind, id))
}

/// `GET /incidents/{id}/erase` and `GET /conversations/{id}/erase`: the confirmation form.
pub async fn form(visit: Visit, path: web::Path<(String, String)>) -> PageResult {
    visit.show::<Summary>(record_of(path)?).await
}

/// `POST /incidents/{id}/erase` and `POST /conversations/{id}/erase`: erases the record (with
/// a reason), or shows the form again with the problem at the reason (422).
pub async fn erase(
    visit: Visit,
    path: web::Path<(String, String)>,
    form: CsrfForm<Fields>,
) -> PageResult {
    let (kind, id) = record_of(path)?;
    require_role(&visit.member, &ERASERS)?;
    let reason = read_reason(&form.0);
    visit
        .submit::<Summary, _, _>((kind, id), form.0, Ok(()), move |conn, by, _, ()| {
            let reason = reason.map_err(Problem::unprocessable)?;
            let (school_id, now) = (by.school_id, Utc::now());
            let pupil_id = match kind {
                Erasable::Incident => incidents::erase(conn, school_id, by.id, id, &reason, now)?
                    .first()
                    .copied(),
                Erasable::Conversation => Some(crate::db::conversations::erase(
                    conn, school_id, by.id, id, &reason, now,
                )?),
            };
            Ok(match pupil_id {
                Some(pupil_id) => format!("/pupils/{pupil_id}?erased=1"),
                None => "/".to_string(),
            })
        })
        .await
}
