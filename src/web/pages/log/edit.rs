//! Undo and edit, for the author within the author's window: `POST /log/incidents/{id}/undo`
//! and the correction form `/log/incidents/{id}/edit` (audited by the database layer, which
//! records which fields changed).

use actix_web::web;
use chrono::Utc;
use maud::{html, Markup};

use super::{detail_error, names, place_and_note, pupils_in_order, what_was_logged};
use crate::db::behaviours::{self, Behaviour};
use crate::db::incidents::{self, IncidentEdit};
use crate::db::models::IncidentRow;
use crate::db::pupils::PupilView;
use crate::db::staff::StaffMember;
use crate::db::{from_db_time, DbConnection};
use crate::domain::incident::{IncidentSubmission, NewIncident};
use crate::error::{Error, Result};
use crate::web::auth::CsrfForm;
use crate::web::pages::form::{local, problem_summary, see_other, Fields, Form};
use crate::web::pages::form_page::{FormPage, PageResult, Visit};
use crate::web::pages::layout::csrf_field;

fn incident_id(path: &str) -> Result<i64> {
    path.parse().map_err(|_| Error::NotFound("incident"))
}

/// `POST /log/incidents/{id}/undo`: the author undoes an incident within the window.
pub async fn undo(visit: Visit, path: web::Path<String>, _form: CsrfForm<Fields>) -> PageResult {
    let id = incident_id(&path)?;
    let (school_id, staff_id) = (visit.member.school_id, visit.member.id);
    visit
        .state
        .db
        .write(move |conn| incidents::void(conn, school_id, staff_id, id, Utc::now()))
        .await?;
    tracing::info!(incident_id = id, "incident undone by its author");
    Ok(see_other(&format!("/log?undone={id}")))
}

/// The author's correction form: the incident, its pupils and the behaviour list.
struct EditPage {
    incident: IncidentRow,
    pupils: Vec<PupilView>,
    behaviours: Vec<Behaviour>,
}

/// The incident `id` of the member's school, when the member logged it.
fn authored(
    conn: &mut DbConnection,
    member: &StaffMember,
    id: i64,
) -> Result<(IncidentRow, Vec<i64>)> {
    let (incident, pupil_ids) = incidents::get(conn, member.school_id, id)?;
    if incident.reported_by != member.id {
        return Err(Error::Forbidden(
            "only the adult who logged an incident may change it".into(),
        ));
    }
    Ok((incident, pupil_ids))
}

impl FormPage for EditPage {
    type Key = i64;
    const TITLE: &'static str = "Edit";

    fn load(conn: &mut DbConnection, member: &StaffMember, id: i64) -> Result<EditPage> {
        let (incident, pupil_ids) = authored(conn, member, id)?;
        Ok(EditPage {
            pupils: pupils_in_order(conn, member.school_id, &pupil_ids)?,
            behaviours: behaviours::list(conn, member.school_id, false)?,
            incident,
        })
    }

    fn first_values(&self, _member: &StaffMember, _query: &Fields) -> Fields {
        let incident = &self.incident;
        Fields::from_pairs([
            ("behaviour", incident.behaviour.clone()),
            ("location", incident.location.clone().unwrap_or_default()),
            ("lesson", incident.lesson.clone().unwrap_or_default()),
            ("note", incident.note.clone().unwrap_or_default()),
        ])
    }

    fn render(&self, form: &Form, _notice: Option<&str>, csrf: &str) -> Markup {
        let incident = &self.incident;
        let values = &form.values;
        let chosen = values.get("behaviour").unwrap_or_default();
        let listed = self.behaviours.iter().any(|b| b.name == chosen);
        html! {
            h1 { "Edit what you logged" }
            p.muted {
                (what_was_logged(&incident.response)) " for " (names(&self.pupils)) ", "
                (local(from_db_time(incident.occurred_at))) " · " (incident.severity)
            }
            (problem_summary(form.problem(), &["behaviour", "location", "lesson", "note"]))
            form.stack method="post" action={ "/log/incidents/" (incident.id) "/edit" } {
                (csrf_field(csrf))
                label for="behaviour" { "What happened" }
                select #behaviour name="behaviour" {
                    @if !chosen.is_empty() && !listed {
                        option value=(chosen) selected { (chosen) }
                    }
                    @for behaviour in &self.behaviours {
                        option value=(behaviour.name) selected[behaviour.name == chosen] { (behaviour.name) }
                    }
                }
                (form.problem_at("behaviour"))
                (place_and_note(form))
                p.hint { "The change is recorded: which details changed, when, and by whom." }
                button.primary type="submit" { "Save" }
            }
            p { a href={ "/log?logged=" (incident.id) } { "Back" } }
        }
    }
}

/// `GET /log/incidents/{id}/edit`: the author's correction form.
pub async fn edit_form(visit: Visit, path: web::Path<String>) -> PageResult {
    visit.show::<EditPage>(incident_id(&path)?).await
}

/// `POST /log/incidents/{id}/edit`: saves the author's correction, checked as a new
/// incident's details are.
pub async fn edit_submit(
    visit: Visit,
    path: web::Path<String>,
    form: CsrfForm<Fields>,
) -> PageResult {
    let id = incident_id(&path)?;
    let typed = form.0;
    let read = Ok(typed.clone());
    visit
        .submit::<EditPage, _, _>(id, typed, read, move |conn, by, _, typed: Fields| {
            let now = Utc::now();
            let (incident, pupil_ids) = authored(conn, by, id)?;
            let checked = NewIncident::parse(
                &IncidentSubmission {
                    pupil_ids: &pupil_ids,
                    behaviour: typed.get("behaviour").unwrap_or_default(),
                    severity: Some(&incident.severity),
                    response: Some(&incident.response),
                    location: typed.get("location"),
                    lesson: typed.get("lesson"),
                    note: typed.get("note"),
                    occurred_at: None,
                },
                now,
            )
            .map_err(detail_error)?;
            let change = IncidentEdit {
                behaviour: checked.behaviour,
                location: checked.location,
                lesson: checked.lesson,
                note: checked.note,
            };
            incidents::edit(conn, by.school_id, by.id, id, &change, now)?;
            tracing::info!(incident_id = id, "incident edited by its author");
            Ok(format!("/log?logged={id}"))
        })
        .await
}
