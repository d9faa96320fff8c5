//! `/admin/staff`: everyone who can sign in, and the form to add a person.

use std::collections::HashMap;

use chrono::{NaiveDateTime, Utc};
use maud::{html, Markup};

use super::{
    chosen_roles, person_fields, record, save_responsibilities, sign_in_status, staff_notice,
    years_text, StaffChoice, KEEPERS,
};
use crate::db::staff::{self, StaffAccount, StaffMember};
use crate::db::{account_links, DbConnection};
use crate::domain::account_link::LinkPurpose;
use crate::domain::Role;
use crate::error::{Error, Result};
use crate::web::auth::{require_role, CsrfForm};
use crate::web::pages::form::{field_problem, problem_summary, Fields, Form};
use crate::web::pages::form_page::{FormPage, PageResult, Visit};
use crate::web::pages::layout::csrf_field;

/// The school's staff, with the invitations still open.
struct StaffList {
    accounts: Vec<StaffAccount>,
    invitations: HashMap<i64, NaiveDateTime>,
}

impl FormPage for StaffList {
    type Key = ();
    const TITLE: &'static str = "Staff";

    fn load(conn: &mut DbConnection, member: &StaffMember, _: ()) -> Result<Self> {
        require_role(member, &KEEPERS)?;
        Ok(StaffList {
            accounts: staff::accounts(conn, member.school_id)?,
            invitations: account_links::open_invitations(conn, member.school_id, Utc::now())?,
        })
    }

    fn notice(query: &Fields) -> Option<String> {
        staff_notice(query)
    }

    fn render(&self, form: &Form, notice: Option<&str>, csrf: &str) -> Markup {
        list_page(self, form, notice, csrf)
    }
}

fn list_page(page: &StaffList, form: &Form, notice: Option<&str>, csrf: &str) -> Markup {
    let (accounts, invitations) = (&page.accounts, &page.invitations);
    let (values, problem) = (&form.values, form.problem());
    let roles = if problem.is_some() {
        chosen_roles(values)
    } else {
        vec![Role::ClassStaff]
    };
    let invite = problem.is_none() || values.get("invite").is_some();
    html! {
        h1 { "Staff" }
        p.muted {
            "Everyone who can sign in to Steadfast at your school. To add or update many people at once from a file, use the "
            a href="/admin/import?kind=staff" { "staff import" } "."
        }
        @if let Some(notice) = notice { p.notice role="status" { (notice) } }
        section.card {
            h2 { "Add a person" }
            (problem_summary(problem, &["email", "name", "roles", "year_groups", "houses"]))
            form.stack method="post" action="/admin/staff" {
                (csrf_field(csrf))
                label for="email" { "Email" }
                input #email type="email" name="email" required value=(values.raw("email"));
                (field_problem(problem, "email"))
                (person_fields(values, &roles, problem))
                label.choice {
                    input type="checkbox" name="invite" value="on" checked[invite];
                    " Email them an invitation to choose a password (the link works for 7 days)"
                }
                button.primary type="submit" { "Add" }
            }
        }
        section.card {
            h2 { "Everyone" }
            div.scroll tabindex="0" role="region" aria-label="Staff accounts" {
                table {
                    thead { tr { th { "Name" } th { "Email" } th { "Roles" } th { "Year groups" } th { "Houses" } th { "Sign-in" } } }
                    tbody {
                        @for account in accounts {
                            tr.inactive[!account.active] {
                                td { a href={ "/admin/staff/" (account.id) } { (account.name) } }
                                td { (account.email) }
                                td { (account.roles.iter().map(|r| r.title()).collect::<Vec<_>>().join(", ")) }
                                td { (years_text(&account.year_groups)) }
                                td { (account.houses.join(", ")) }
                                td { (sign_in_status(account, invitations.get(&account.id).copied())) }
                            }
                        }
                    }
                }
            }
        }
    }
}

/// `GET /admin/staff`: everyone, and the form to add a person.
pub async fn list(visit: Visit) -> PageResult {
    visit.show::<StaffList>(()).await
}

/// `POST /admin/staff`: adds a person, and emails them an invitation when asked. Audited.
pub async fn add(visit: Visit, form: CsrfForm<Fields>) -> PageResult {
    require_role(&visit.member, &KEEPERS)?;
    let choice = StaffChoice::parse(&form.0, true);
    let invite = form.0.get("invite").is_some();
    let public_url = visit.state.settings.public_url.clone();
    visit
        .submit::<StaffList, _, _>((), form.0, choice, move |conn, by, _, choice| {
            let now = Utc::now();
            let Some(email) = &choice.email else {
                return Err(Error::invalid("email", "the email is required"));
            };
            let id = staff::insert_account(conn, by.school_id, email, &choice.name, now)?;
            save_responsibilities(conn, by.school_id, id, &choice)?;
            record(conn, by, "staff.add", id, choice.audit_detail())?;
            if invite {
                let purpose = LinkPurpose::Invitation;
                account_links::send(conn, &public_url, id, purpose, Some(by.id), now)?;
            }
            Ok("/admin/staff?added=1".to_string())
        })
        .await
}
