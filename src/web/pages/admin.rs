//! The school's behaviour list, kept by administrators and senior leaders: add a behaviour,
//! rename it, mark it serious, take it off the list (incidents already logged keep their text).

use actix_session::Session;
use actix_web::http::StatusCode;
use actix_web::{web, HttpResponse};
use chrono::Utc;
use maud::{html, Markup};

use super::form::{field_problem, html_response, see_other, Fields, Problem};
use super::layout::{csrf_field, page};
use super::with_viewer;
use crate::db::audit::{self, AuditEntry};
use crate::db::behaviours::{self, Behaviour};
use crate::db::staff::StaffMember;
use crate::db::to_db_time;
use crate::domain::incident::MAX_LABEL_CHARS;
use crate::domain::Role;
use crate::error::{Error, Result};
use crate::web::auth::{require_role, CsrfForm, SignedIn};
use crate::web::error::PageError;
use crate::web::AppState;

/// The roles that keep the behaviour list.
const KEEPERS: [Role; 2] = [Role::Admin, Role::Slt];

/// Which form a problem belongs to: the new behaviour's, or one behaviour's.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Target {
    New,
    Existing(i64),
}

fn yes_no(flag: bool) -> &'static str {
    if flag {
        "yes"
    } else {
        "no"
    }
}

fn render(
    listed: &[Behaviour],
    problem: Option<(Target, &Problem)>,
    values: &Fields,
    csrf: &str,
) -> Markup {
    let problem_for = |target: Target| problem.filter(|(t, _)| *t == target).map(|(_, p)| p);
    let new_problem = problem_for(Target::New);
    html! {
        h1 { "Behaviours" }
        p.muted { "The list staff choose from when they log an incident. Behaviours marked serious are logged as serious unless the adult says otherwise." }
        section.card {
            h2 { "Add a behaviour" }
            form.stack method="post" action="/admin/behaviours" {
                (csrf_field(csrf))
                label for="new-name" { "Name" }
                input #new-name type="text" name="name" maxlength=(MAX_LABEL_CHARS) required
                    value=(if new_problem.is_some() { values.raw("name") } else { "" });
                (field_problem(new_problem, "name"))
                label.choice { input type="checkbox" name="serious" value="on"; " Serious" }
                button.primary type="submit" { "Add" }
            }
        }
        section.card {
            h2 { "The list" }
            ul.behaviour-list {
                @for behaviour in listed {
                    @let own = problem_for(Target::Existing(behaviour.id));
                    li.inactive[!behaviour.active] {
                        form.behaviour method="post" action={ "/admin/behaviours/" (behaviour.id) } {
                            (csrf_field(csrf))
                            label.visually-hidden for={ "name-" (behaviour.id) } { "Name" }
                            input id={ "name-" (behaviour.id) } type="text" name="name" maxlength=(MAX_LABEL_CHARS) required
                                value=(if own.is_some() { values.raw("name") } else { &behaviour.name });
                            label.choice { input type="checkbox" name="serious" value="on" checked[behaviour.serious]; " Serious" }
                            label.choice { input type="checkbox" name="active" value="on" checked[behaviour.active]; " On the list" }
                            button type="submit" { "Save" }
                            (field_problem(own, "name"))
                        }
                    }
                }
            }
        }
    }
}

async fn listed(state: &AppState, school_id: i64) -> Result<Vec<Behaviour>> {
    state
        .db
        .transaction(move |conn| behaviours::list(conn, school_id, true))
        .await
}

fn show_page(
    member: &StaffMember,
    session: &Session,
    status: StatusCode,
    listed: &[Behaviour],
    problem: Option<(Target, &Problem)>,
    values: &Fields,
) -> HttpResponse {
    let markup = with_viewer(member, session, |viewer| {
        page(
            "Behaviours",
            viewer,
            render(listed, problem, values, viewer.csrf),
        )
    });
    html_response(status, markup)
}

/// `GET /admin/behaviours`: the list, with a form for each behaviour and one to add.
pub async fn show(
    SignedIn(member): SignedIn,
    session: Session,
    state: web::Data<AppState>,
) -> Result<HttpResponse, PageError> {
    require_role(&member, &KEEPERS)?;
    let all = listed(&state, member.school_id).await?;
    Ok(show_page(
        &member,
        &session,
        StatusCode::OK,
        &all,
        None,
        &Fields::default(),
    ))
}

/// Runs a change to the list, then shows the list again (a fault next to its form).
async fn change(
    member: StaffMember,
    session: Session,
    state: web::Data<AppState>,
    target: Target,
    values: Fields,
) -> Result<HttpResponse, PageError> {
    require_role(&member, &KEEPERS)?;
    let (school_id, actor) = (member.school_id, member.id);
    let name = values.get("name").unwrap_or_default().to_string();
    let serious = values.get("serious").is_some();
    let active = values.get("active").is_some();
    let outcome = state
        .db
        .write(move |conn| {
            let now = to_db_time(Utc::now());
            let (action, entity_id, detail) = match target {
                Target::New => {
                    behaviours::add(conn, school_id, &name, serious)?;
                    (
                        "behaviour.add",
                        None,
                        format!("serious: {}", yes_no(serious)),
                    )
                }
                Target::Existing(id) => {
                    behaviours::update(conn, school_id, id, &name, serious, active)?;
                    (
                        "behaviour.update",
                        Some(id),
                        format!(
                            "serious: {}, on the list: {}",
                            yes_no(serious),
                            yes_no(active)
                        ),
                    )
                }
            };
            audit::record(
                conn,
                AuditEntry {
                    school_id,
                    actor_id: Some(actor),
                    action,
                    entity: "behaviour",
                    entity_id,
                    detail,
                    at: now,
                },
            )
        })
        .await;
    match outcome {
        Ok(()) => Ok(see_other("/admin/behaviours")),
        Err(error) => {
            let (status, problem) = Problem::to_show_again(error)?;
            let all = listed(&state, member.school_id).await?;
            Ok(show_page(
                &member,
                &session,
                status,
                &all,
                Some((target, &problem)),
                &values,
            ))
        }
    }
}

/// `POST /admin/behaviours`: adds a behaviour at the end of the list.
pub async fn add(
    SignedIn(member): SignedIn,
    session: Session,
    form: CsrfForm<Fields>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, PageError> {
    change(member, session, state, Target::New, form.0).await
}

/// `POST /admin/behaviours/{id}`: renames a behaviour, marks it serious or not, or takes it
/// off the list.
pub async fn update(
    SignedIn(member): SignedIn,
    session: Session,
    path: web::Path<String>,
    form: CsrfForm<Fields>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, PageError> {
    let id: i64 = path.parse().map_err(|_| Error::NotFound("behaviour"))?;
    change(member, session, state, Target::Existing(id), form.0).await
}
