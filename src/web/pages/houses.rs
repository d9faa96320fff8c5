//! The school's houses, kept by administrators and senior leaders: add a house, rename one,
//! remove one that has no pupils. Each house shows its pupils and its Heads of House
//! (pastoral leads responsible for it, who see and decide for its pupils as a Head of Year
//! does for a year group).

use actix_web::web;
use maud::{html, Markup};

use super::form::{problem_summary, Fields, Form};
use super::form_page::{FormPage, PageResult, Visit};
use super::layout::csrf_field;
use crate::db::audit;
use crate::db::houses::{self, House, MAX_NAME_CHARS};
use crate::db::staff::StaffMember;
use crate::db::DbConnection;
use crate::domain::Role;
use crate::error::{Error, Result};
use crate::web::auth::{require_role, CsrfForm};

/// The roles that keep the houses.
const KEEPERS: [Role; 2] = [Role::Admin, Role::Slt];

/// What a change does to the houses (each is sent by its own form on the page).
#[derive(Debug, Clone, Copy)]
enum Change {
    Add,
    Rename(i64),
    Remove(i64),
}

impl Change {
    /// The name on the page of the form that sends the change.
    fn form_name(self) -> String {
        match self {
            Change::Add => "new".to_string(),
            Change::Rename(id) => format!("house-{id}"),
            Change::Remove(id) => format!("remove-{id}"),
        }
    }
}

fn pupils_text(n: i64) -> String {
    match n {
        0 => "no pupils".into(),
        1 => "1 pupil".into(),
        n => format!("{n} pupils"),
    }
}

fn render(listed: &[House], form: &Form, csrf: &str) -> Markup {
    let adding = Change::Add.form_name();
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
                    value=(form.value_in(&adding, "name", ""))
                    aria-describedby="error-name";
                (form.problem_in(&adding, "name"))
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
                    @let renaming = Change::Rename(house.id).form_name();
                    @let removing = form.problem_of(&Change::Remove(house.id).form_name());
                    li id={ "house-" (house.id) } {
                        form.house method="post" action={ "/admin/houses/" (house.id) } {
                            (csrf_field(csrf))
                            label.visually-hidden for={ "name-" (house.id) } { "Name" }
                            input id={ "name-" (house.id) } type="text" name="name" maxlength=(MAX_NAME_CHARS) required
                                value=(form.value_in(&renaming, "name", &house.name));
                            button type="submit" { "Rename" }
                            @if form.is_sent(&renaming) { (form.problem_in(&renaming, "name")) }
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

/// The school's houses.
struct HousesPage {
    listed: Vec<House>,
}

impl FormPage for HousesPage {
    type Key = ();
    const TITLE: &'static str = "Houses";

    fn load(conn: &mut DbConnection, member: &StaffMember, _: ()) -> Result<Self> {
        require_role(member, &KEEPERS)?;
        Ok(HousesPage {
            listed: houses::list(conn, member.school_id)?,
        })
    }

    fn render(&self, form: &Form, _notice: Option<&str>, csrf: &str) -> Markup {
        render(&self.listed, form, csrf)
    }
}

/// `GET /admin/houses`: the houses, with a form for each and one to add.
pub async fn show(visit: Visit) -> PageResult {
    visit.show::<HousesPage>(()).await
}

/// Runs a change to the houses in one write, audited (without the name), then shows the
/// houses again (a problem next to its form, with what was typed).
async fn change(visit: Visit, change: Change, typed: Fields) -> PageResult {
    require_role(&visit.member, &KEEPERS)?;
    let name = typed.raw("name").to_string();
    let sent = Some(change.form_name());
    visit
        .submit_to::<HousesPage, _, _>((), sent, typed, Ok(()), move |conn, by, _, ()| {
            let school_id = by.school_id;
            let (action, entity_id, detail) = match change {
                Change::Add => (
                    "house.add",
                    houses::add(conn, school_id, &name)?,
                    String::new(),
                ),
                Change::Rename(id) => {
                    houses::rename(conn, school_id, id, &name)?;
                    ("house.rename", id, String::new())
                }
                Change::Remove(id) => {
                    let leads = houses::remove(conn, school_id, id)?;
                    let detail = format!("heads of house released: {leads}");
                    ("house.remove", id, detail)
                }
            };
            audit::record_by(conn, by, action, "house", Some(entity_id), detail)?;
            Ok("/admin/houses".to_string())
        })
        .await
}

fn house_id(path: &str) -> Result<i64> {
    path.parse().map_err(|_| Error::NotFound("house"))
}

/// `POST /admin/houses`: adds a house.
pub async fn add(visit: Visit, form: CsrfForm<Fields>) -> PageResult {
    change(visit, Change::Add, form.0).await
}

/// `POST /admin/houses/{id}`: renames a house.
pub async fn rename(visit: Visit, path: web::Path<String>, form: CsrfForm<Fields>) -> PageResult {
    change(visit, Change::Rename(house_id(&path)?), form.0).await
}

/// `POST /admin/houses/{id}/remove`: removes a house with no pupils; its Heads of House no
/// longer lead it.
pub async fn remove(visit: Visit, path: web::Path<String>, form: CsrfForm<Fields>) -> PageResult {
    change(visit, Change::Remove(house_id(&path)?), form.0).await
}
