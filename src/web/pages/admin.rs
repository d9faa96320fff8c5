//! The school's behaviour list, kept by administrators and senior leaders: add a behaviour,
//! rename it, mark it serious, take it off the list (incidents already logged keep their text).

use actix_web::web;
use maud::{html, Markup};

use super::form::{Fields, Form};
use super::form_page::{FormPage, PageResult, Visit};
use super::layout::csrf_field;
use crate::db::audit;
use crate::db::behaviours::{self, Behaviour};
use crate::db::staff::StaffMember;
use crate::db::DbConnection;
use crate::domain::incident::MAX_LABEL_CHARS;
use crate::domain::Role;
use crate::error::{Error, Result};
use crate::web::auth::{require_role, CsrfForm};

/// The roles that keep the behaviour list.
const KEEPERS: [Role; 2] = [Role::Admin, Role::Slt];

/// The form adding a behaviour (its name on the page).
const NEW_FORM: &str = "new";

/// The name on the page of the form changing behaviour `id`.
fn behaviour_form(id: i64) -> String {
    format!("behaviour-{id}")
}

fn yes_no(flag: bool) -> &'static str {
    if flag {
        "yes"
    } else {
        "no"
    }
}

/// The behaviour list: every behaviour, on the list or taken off it.
struct BehavioursPage {
    listed: Vec<Behaviour>,
}

impl FormPage for BehavioursPage {
    type Key = ();
    const TITLE: &'static str = "Behaviours";

    fn load(conn: &mut DbConnection, member: &StaffMember, _: ()) -> Result<Self> {
        require_role(member, &KEEPERS)?;
        Ok(BehavioursPage {
            listed: behaviours::list(conn, member.school_id, true)?,
        })
    }

    fn render(&self, form: &Form, _notice: Option<&str>, csrf: &str) -> Markup {
        render(&self.listed, form, csrf)
    }
}

fn render(listed: &[Behaviour], form: &Form, csrf: &str) -> Markup {
    html! {
        h1 { "Behaviours" }
        p.muted { "The list staff choose from when they log an incident. Behaviours marked serious are logged as serious unless the adult says otherwise." }
        section.card {
            h2 { "Add a behaviour" }
            form.stack method="post" action="/admin/behaviours" {
                (csrf_field(csrf))
                label for="new-name" { "Name" }
                input #new-name type="text" name="name" maxlength=(MAX_LABEL_CHARS) required
                    value=(form.value_in(NEW_FORM, "name", ""));
                (form.problem_in(NEW_FORM, "name"))
                label.choice { input type="checkbox" name="serious" value="on"; " Serious" }
                button.primary type="submit" { "Add" }
            }
        }
        section.card {
            h2 { "The list" }
            ul.behaviour-list {
                @for behaviour in listed {
                    @let own = behaviour_form(behaviour.id);
                    li.inactive[!behaviour.active] {
                        form.behaviour method="post" action={ "/admin/behaviours/" (behaviour.id) } {
                            (csrf_field(csrf))
                            label.visually-hidden for={ "name-" (behaviour.id) } { "Name" }
                            input id={ "name-" (behaviour.id) } type="text" name="name" maxlength=(MAX_LABEL_CHARS) required
                                value=(form.value_in(&own, "name", &behaviour.name));
                            label.choice { input type="checkbox" name="serious" value="on" checked[behaviour.serious]; " Serious" }
                            label.choice { input type="checkbox" name="active" value="on" checked[behaviour.active]; " On the list" }
                            button type="submit" { "Save" }
                            (form.problem_in(&own, "name"))
                        }
                    }
                }
            }
        }
    }
}

/// `GET /admin/behaviours`: the list, with a form for each behaviour and one to add.
pub async fn show(visit: Visit) -> PageResult {
    visit.show::<BehavioursPage>(()).await
}

/// Runs a change to the list in one write, audited, then shows the list again (a problem
/// next to its form, with what was typed). `id` is the behaviour changed; none adds one.
async fn change(visit: Visit, id: Option<i64>, typed: Fields) -> PageResult {
    require_role(&visit.member, &KEEPERS)?;
    let name = typed.get("name").unwrap_or_default().to_string();
    let serious = typed.get("serious").is_some();
    let active = typed.get("active").is_some();
    let sent = Some(id.map_or_else(|| NEW_FORM.to_string(), behaviour_form));
    visit
        .submit_to::<BehavioursPage, _, _>((), sent, typed, Ok(()), move |conn, by, _, ()| {
            let school_id = by.school_id;
            let (action, detail) = match id {
                None => {
                    behaviours::add(conn, school_id, &name, serious)?;
                    ("behaviour.add", format!("serious: {}", yes_no(serious)))
                }
                Some(id) => {
                    behaviours::update(conn, school_id, id, &name, serious, active)?;
                    (
                        "behaviour.update",
                        format!(
                            "serious: {}, on the list: {}",
                            yes_no(serious),
                            yes_no(active)
                        ),
                    )
                }
            };
            audit::record_by(conn, by, action, "behaviour", id, detail)?;
            Ok("/admin/behaviours".to_string())
        })
        .await
}

/// `POST /admin/behaviours`: adds a behaviour at the end of the list.
pub async fn add(visit: Visit, form: CsrfForm<Fields>) -> PageResult {
    change(visit, None, form.0).await
}

/// `POST /admin/behaviours/{id}`: renames a behaviour, marks it serious or not, or takes it
/// off the list.
pub async fn update(visit: Visit, path: web::Path<String>, form: CsrfForm<Fields>) -> PageResult {
    let id: i64 = path.parse().map_err(|_| Error::NotFound("behaviour"))?;
    change(visit, Some(id), form.0).await
}
