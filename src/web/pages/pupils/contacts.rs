//! A pupil's family contacts (`/pupils/{id}/contacts`): the people the family names to the
//! school, each with a form of its own to change or remove them, and one to add another.
//! Kept by the pupil's Head of Year or House, the SENDCO, SLT and the school office
//! (`Record::Contacts`); a roster import with contact columns puts the school's own list in
//! their place.

use actix_web::web;
use maud::{html, Markup};

use crate::db::contacts::{self, ContactRow};
use crate::db::pupils::PupilView;
use crate::db::staff::StaffMember;
use crate::db::DbConnection;
use crate::domain::contact::{Contact, ContactDraft, Relationship, MAX_CONTACTS};
use crate::error::{Error, Result};
use crate::web::auth::CsrfForm;
use crate::web::pages::form::{problem_summary, Fields, Form, Problem};
use crate::web::pages::form_page::{FormPage, PageResult, Visit};
use crate::web::pages::layout::csrf_field;

/// The fields of a contact's form.
const FIELDS: [&str; 5] = ["name", "relationship", "email", "phone", "invited"];

/// What a form on the page does.
#[derive(Debug, Clone, Copy)]
enum Change {
    Add,
    Edit(i64),
    Remove(i64),
}

impl Change {
    /// The name on the page of the form that sends the change.
    fn form_name(self) -> String {
        match self {
            Change::Add => "new".to_string(),
            Change::Edit(id) => format!("contact-{id}"),
            Change::Remove(id) => format!("remove-{id}"),
        }
    }
}

/// What the page shows.
struct ContactsPage {
    pupil: PupilView,
    contacts: Vec<ContactRow>,
}

impl FormPage for ContactsPage {
    type Key = i64;
    const TITLE: &'static str = "Family contacts";

    fn load(conn: &mut DbConnection, member: &StaffMember, pupil_id: i64) -> Result<Self> {
        let (pupil, contacts) = contacts::list_for(conn, member, pupil_id)?;
        Ok(ContactsPage { pupil, contacts })
    }

    fn notice(query: &Fields) -> Option<String> {
        match query.get("done")? {
            "added" => Some("Contact added.".into()),
            "saved" => Some("Contact saved.".into()),
            "removed" => Some("Contact removed.".into()),
            _ => None,
        }
    }

    fn render(&self, form: &Form, notice: Option<&str>, csrf: &str) -> Markup {
        render(self, form, notice, csrf)
    }
}

/// A contact's fields, as one form on the page (`form` its name, `prefix` what makes its
/// fields' ids unique).
fn contact_fields(form: &Form, own: &str, prefix: &str, held: Option<&ContactRow>) -> Markup {
    let value = |field: &str, stored: &str| form.value_in(own, field, stored).to_string();
    let stored_email = held.and_then(|c| c.email.clone()).unwrap_or_default();
    let stored_phone = held.and_then(|c| c.phone.clone()).unwrap_or_default();
    let name = value("name", held.map_or("", |c| c.name.as_str()));
    let relationship = value("relationship", held.map_or("", |c| c.relationship.as_str()));
    let email = value("email", &stored_email);
    let phone = value("phone", &stored_phone);
    let invited = if form.is_sent(own) {
        form.values.get("invited").is_some()
    } else {
        held.is_none_or(|c| c.invited)
    };
    let id = |field: &str| format!("{prefix}-{field}");
    let slot = |field: &str| format!("error-{own}-{field}");
    html! {
        label for=(id("name")) { "Name" }
        input id=(id("name")) type="text" name="name" maxlength="100" required value=(name)
            aria-describedby=(slot("name"));
        (form.problem_in(own, "name"))
        label for=(id("relationship")) { "Relationship to the pupil" }
        select id=(id("relationship")) name="relationship" aria-describedby=(slot("relationship")) {
            @for choice in Relationship::ALL {
                option value=(choice.as_str()) selected[relationship == choice.as_str()] { (choice.title()) }
            }
        }
        (form.problem_in(own, "relationship"))
        label for=(id("email")) { "Email (optional)" }
        input id=(id("email")) type="email" name="email" maxlength="254" value=(email)
            autocomplete="off" aria-describedby=(slot("email"));
        (form.problem_in(own, "email"))
        label for=(id("phone")) { "Phone (optional)" }
        input id=(id("phone")) type="tel" name="phone" maxlength="40" value=(phone)
            autocomplete="off" aria-describedby=(slot("phone"));
        (form.problem_in(own, "phone"))
        label.choice {
            input type="checkbox" name="invited" checked[invited];
            " Invited to the pupil's meetings"
        }
    }
}

fn render(data: &ContactsPage, form: &Form, notice: Option<&str>, csrf: &str) -> Markup {
    let pupil = &data.pupil;
    let base = format!("/pupils/{}/contacts", pupil.id);
    let adding = Change::Add.form_name();
    html! {
        p { a href={ "/pupils/" (pupil.id) } { "← " (pupil.full_name()) } }
        h1 { "Family contacts" }
        p.muted {
            "The people " (pupil.full_name()) "'s family has named to the school. Those invited to "
            "the pupil's meetings are offered as guests when a meeting is booked. A roster import "
            "with contact columns replaces this list with the school's own."
        }
        @if let Some(notice) = notice { p.notice role="status" { (notice) } }
        section.card {
            h2 { "Contacts (" (data.contacts.len()) ")" }
            @if data.contacts.is_empty() {
                p.muted #no-contacts { "No contacts yet." }
            }
            ul.contact-list {
                @for contact in &data.contacts {
                    @let own = Change::Edit(contact.id).form_name();
                    li id={ "contact-" (contact.id) } {
                        p {
                            strong { (contact.name) } " · " (contact.relationship_title())
                            @if contact.invited { " · invited to meetings" }
                        }
                        details.change open[form.is_sent(&own)] {
                            summary { "Change " (contact.name) "'s details" }
                            form.stack method="post" action={ (base) "/" (contact.id) } {
                                (csrf_field(csrf))
                                (contact_fields(form, &own, &own, Some(contact)))
                                button type="submit" { "Save" }
                            }
                        }
                        (problem_summary(form.problem_of(&own), &FIELDS))
                        form.inline method="post" action={ (base) "/" (contact.id) "/remove" } {
                            (csrf_field(csrf))
                            button type="submit" { "Remove" }
                        }
                        (problem_summary(form.problem_of(&Change::Remove(contact.id).form_name()), &[]))
                    }
                }
            }
        }
        section.card {
            h2 { "Add a contact" }
            @if data.contacts.len() >= MAX_CONTACTS {
                p.muted { "A pupil has at most " (MAX_CONTACTS) " contacts: remove one to add another." }
            } @else {
                form.stack method="post" action=(base) {
                    (csrf_field(csrf))
                    (contact_fields(form, &adding, "new", None))
                    button.primary type="submit" { "Add" }
                }
                (problem_summary(form.problem_of(&adding), &FIELDS))
            }
        }
    }
}

/// A contact's form, read and checked (the first problem at its field).
fn read_contact(typed: &Fields) -> std::result::Result<Contact, Problem> {
    let draft = ContactDraft {
        name: typed.raw("name").to_string(),
        relationship: typed.raw("relationship").to_string(),
        email: typed.get("email").map(str::to_string),
        phone: typed.get("phone").map(str::to_string),
        invited: typed.get("invited").is_some(),
    };
    Contact::parse(&draft).map_err(Problem::from)
}

fn ids(pupil: &str, contact: Option<&str>) -> Result<(i64, Option<i64>)> {
    let pupil = pupil.parse().map_err(|_| Error::NotFound("pupil"))?;
    let contact = contact
        .map(|c| c.parse().map_err(|_| Error::NotFound("contact")))
        .transpose()?;
    Ok((pupil, contact))
}

/// Runs one change in one write, then shows the list again (a refusal at its field, with
/// what was typed).
async fn change(visit: Visit, pupil_id: i64, change: Change, typed: Fields) -> PageResult {
    let read = match change {
        Change::Remove(_) => Ok(None),
        Change::Add | Change::Edit(_) => read_contact(&typed).map(Some),
    };
    let sent = Some(change.form_name());
    visit
        .submit_to::<ContactsPage, _, _>(
            pupil_id,
            sent,
            typed,
            read,
            move |conn, by, _, contact: Option<Contact>| {
                let done = match (change, contact) {
                    (Change::Add, Some(contact)) => {
                        contacts::add(conn, by, pupil_id, &contact)?;
                        "added"
                    }
                    (Change::Edit(id), Some(contact)) => {
                        contacts::edit(conn, by, pupil_id, id, &contact)?;
                        "saved"
                    }
                    (Change::Remove(id), _) => {
                        contacts::remove(conn, by, pupil_id, id)?;
                        "removed"
                    }
                    _ => return Err(Error::bad_request("the contact's form was not read")),
                };
                Ok(format!("/pupils/{pupil_id}/contacts?done={done}"))
            },
        )
        .await
}

/// `GET /pupils/{id}/contacts`: the pupil's contacts, each with its form, and one to add.
pub async fn show(visit: Visit, path: web::Path<String>) -> PageResult {
    let (pupil_id, _) = ids(&path, None)?;
    visit.show::<ContactsPage>(pupil_id).await
}

/// `POST /pupils/{id}/contacts`: adds a contact.
pub async fn add(visit: Visit, path: web::Path<String>, form: CsrfForm<Fields>) -> PageResult {
    let (pupil_id, _) = ids(&path, None)?;
    change(visit, pupil_id, Change::Add, form.0).await
}

/// `POST /pupils/{id}/contacts/{contact}`: changes a contact.
pub async fn edit(
    visit: Visit,
    path: web::Path<(String, String)>,
    form: CsrfForm<Fields>,
) -> PageResult {
    let (pupil_id, contact_id) = ids(&path.0, Some(&path.1))?;
    let contact_id = contact_id.ok_or(Error::NotFound("contact"))?;
    change(visit, pupil_id, Change::Edit(contact_id), form.0).await
}

/// `POST /pupils/{id}/contacts/{contact}/remove`: removes a contact.
pub async fn remove(
    visit: Visit,
    path: web::Path<(String, String)>,
    form: CsrfForm<Fields>,
) -> PageResult {
    let (pupil_id, contact_id) = ids(&path.0, Some(&path.1))?;
    let contact_id = contact_id.ok_or(Error::NotFound("contact"))?;
    change(visit, pupil_id, Change::Remove(contact_id), form.0).await
}
