//! The school's houses, kept by administrators and senior leaders: add a house, rename one,
//! remove one that has no pupils. Each house shows its pupils and its Heads of House
//! (pastoral leads responsible for it, who see and decide for its pupils as a Head of Year
//! does for a year group).

use actix_session::Session;
use actix_web::http::StatusCode;
use actix_web::{web, HttpResponse};
use chrono::Utc;
use maud::{html, Markup};

use super::form::{field_problem, html_response, problem_summary, see_other, Fields, Problem};
use super::layout::{csrf_field, page};
use super::with_viewer;
use crate::db::audit::{self, AuditEntry};
use crate::db::houses::{self, House, MAX_NAME_CHARS};
use crate::db::staff::StaffMember;
use crate::db::to_db_time;
use crate::domain::Role;
use crate::error::{Error, Result};
use crate::web::auth::{require_role, CsrfForm, SignedIn};
use crate::web::error::PageError;
use crate::web::AppState;

/// The roles that keep the houses.
const KEEPERS: [Role; 2] = [Role::Admin, Role::Slt];

/// Which form a problem belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Target {
    New,
    Rename(i64),
    Remove(i64),
}

fn pupils_text(n: i64) -> String {
    match n {
        0 => "no pupils".into(),
        1 => "1 pupil".into(),
        n => format!("{n} pupils"),
    }
}

fn render(
    listed: &[House],
    problem: Option<(Target, &Problem)>,
    values: &Fields,
    csrf: &str,
) -> Markup {
    let problem_for = |target: Target| problem.filter(|(t, _)| *t == target).map(|(_, p)| p);
    let new_problem = problem_for(Target::New);
    html! {
        h1 { "Houses" }
        p.muted {
            "The school's houses. A pastoral lead responsible for a house (a Head of House) sees and "
            "decides for its pupils as a Head of Year does for a year group: decisions, meetings, "
            "emails and insight."
        }
        section.card {
            h2 { "Add a house" }
            form.stack method="post" action="/admin/houses" {
                (csrf_field(csrf))
                label for="new-name" { "Name" }
                input #new-name type="text" name="name" maxlength=(MAX_NAME_CHARS) required
                    value=(if new_problem.is_some() { values.raw("name") } else { "" })
                    aria-describedby="error-name";
                (field_problem(new_problem, "name"))
                button.primary type="submit" { "Add" }
            }
        }
        section.card {
            h2 { "The houses" }
            @if listed.is_empty() {
                p.muted #no-houses { "No houses yet." }
            }
            ul.house-list {
                @for house in listed {
                    @let renaming = problem_for(Target::Rename(house.id));
                    @let removing = problem_for(Target::Remove(house.id));
                    li id={ "house-" (house.id) } {
                        form.house method="post" action={ "/admin/houses/" (house.id) } {
                            (csrf_field(csrf))
                            label.visually-hidden for={ "name-" (house.id) } { "Name" }
                            input id={ "name-" (house.id) } type="text" name="name" maxlength=(MAX_NAME_CHARS) required
                                value=(if renaming.is_some() { values.raw("name") } else { &house.name });
                            button type="submit" { "Rename" }
                            @if renaming.is_some() { (field_problem(renaming, "name")) }
                        }
                        p.small {
                            span.pupils { (pupils_text(house.pupils)) }
                            @if house.left_pupils > 0 { " (and " (house.left_pupils) " who have left)" }
                            " · "
                            span.leads {
                                @if house.leads.is_empty() { "no Head of House" }
                                @else { "Head of House: " (house.leads.join(", ")) }
                            }
                        }
                        @if house.pupils == 0 && house.left_pupils == 0 {
                            form.inline method="post" action={ "/admin/houses/" (house.id) "/remove" } {
                                (csrf_field(csrf))
                                button type="submit" { "Remove" }
                            }
                        }
                        @if removing.is_some() { (problem_summary(removing, &[])) }
                    }
                }
            }
        }
    }
}

async fn listed(state: &AppState, school_id: i64) -> Result<Vec<House>> {
    state
        .db
        .transaction(move |conn| houses::list(conn, school_id))
        .await
}

fn show_page(
    member: &StaffMember,
    session: &Session,
    status: StatusCode,
    listed: &[House],
    problem: Option<(Target, &Problem)>,
    values: &Fields,
) -> HttpResponse {
    let markup = with_viewer(member, session, |viewer| {
        page(
            "Houses",
            viewer,
            render(listed, problem, values, viewer.csrf),
        )
    });
    html_response(status, markup)
}

/// `GET /admin/houses`: the houses, with a form for each and one to add.
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

/// Runs a change to the houses in one transaction, audited (without the name), then shows
/// the houses again (a problem next to its form).
async fn change(
    member: StaffMember,
    session: Session,
    state: web::Data<AppState>,
    target: Target,
    values: Fields,
) -> Result<HttpResponse, PageError> {
    require_role(&member, &KEEPERS)?;
    let (school_id, actor) = (member.school_id, member.id);
    let name = values.raw("name").to_string();
    let outcome = state
        .db
        .write(move |conn| {
            let (action, entity_id, detail) = match target {
                Target::New => {
                    let id = houses::add(conn, school_id, &name)?;
                    ("house.add", id, String::new())
                }
                Target::Rename(id) => {
                    houses::rename(conn, school_id, id, &name)?;
                    ("house.rename", id, String::new())
                }
                Target::Remove(id) => {
                    let leads = houses::remove(conn, school_id, id)?;
                    (
                        "house.remove",
                        id,
                        format!("heads of house released: {leads}"),
                    )
                }
            };
            audit::record(
                conn,
                AuditEntry {
                    school_id,
                    actor_id: Some(actor),
                    action,
                    entity: "house",
                    entity_id: Some(entity_id),
                    detail,
                    at: to_db_time(Utc::now()),
                },
            )
        })
        .await;
    match outcome {
        Ok(()) => Ok(see_other("/admin/houses")),
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

fn house_id(path: &str) -> Result<i64> {
    path.parse().map_err(|_| Error::NotFound("house"))
}

/// `POST /admin/houses`: adds a house.
pub async fn add(
    SignedIn(member): SignedIn,
    session: Session,
    form: CsrfForm<Fields>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, PageError> {
    change(member, session, state, Target::New, form.0).await
}

/// `POST /admin/houses/{id}`: renames a house.
pub async fn rename(
    SignedIn(member): SignedIn,
    session: Session,
    path: web::Path<String>,
    form: CsrfForm<Fields>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, PageError> {
    let id = house_id(&path)?;
    change(member, session, state, Target::Rename(id), form.0).await
}

/// `POST /admin/houses/{id}/remove`: removes a house with no pupils; its Heads of House no
/// longer lead it.
pub async fn remove(
    SignedIn(member): SignedIn,
    session: Session,
    path: web::Path<String>,
    form: CsrfForm<Fields>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, PageError> {
    let id = house_id(&path)?;
    change(member, session, state, Target::Remove(id), form.0).await
}
