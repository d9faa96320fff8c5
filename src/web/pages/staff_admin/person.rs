//! `/admin/staff/{id}`: one person, to change, deactivate, reactivate, sign out everywhere
//! or invite again.

use actix_web::web;
use chrono::{NaiveDateTime, Utc};
use maud::{html, Markup};

use super::{
    chosen_roles, person_fields, record, save_responsibilities, sign_in_status, staff_id,
    staff_notice, years_text, StaffChoice, KEEPERS,
};
use crate::db::staff::{self, StaffAccount, StaffMember};
use crate::db::{account_links, DbConnection};
use crate::domain::account_link::LinkPurpose;
use crate::domain::Role;
use crate::error::{Error, Result};
use crate::web::auth::{require_role, CsrfForm};
use crate::web::pages::form::{problem_summary, Fields, Form, Problem};
use crate::web::pages::form_page::{FormPage, PageResult, Visit};
use crate::web::pages::layout::csrf_field;

/// The forms about signing in (invite, sign out, deactivate, reactivate), by their name on
/// the page; the person's own form has none.
const ACCOUNT_FORM: &str = "account";

/// One person's account, whether an invitation is open, and who looks.
struct PersonPage {
    account: StaffAccount,
    invited_until: Option<NaiveDateTime>,
    viewer: StaffMember,
}

impl FormPage for PersonPage {
    type Key = i64;
    const TITLE: &'static str = "Staff";

    fn title(&self) -> String {
        self.account.name.to_string()
    }

    fn load(conn: &mut DbConnection, member: &StaffMember, id: i64) -> Result<Self> {
        require_role(member, &KEEPERS)?;
        let account = staff::account(conn, member.school_id, id)?;
        let invitations = account_links::open_invitations(conn, member.school_id, Utc::now())?;
        Ok(PersonPage {
            invited_until: invitations.get(&account.id).copied(),
            account,
            viewer: member.clone(),
        })
    }

    fn first_values(&self, _member: &StaffMember, _query: &Fields) -> Fields {
        account_values(&self.account)
    }

    fn notice(query: &Fields) -> Option<String> {
        staff_notice(query)
    }

    fn render(&self, form: &Form, notice: Option<&str>, csrf: &str) -> Markup {
        edit_page(self, form, notice, csrf)
    }
}

fn edit_page(page: &PersonPage, form: &Form, notice: Option<&str>, csrf: &str) -> Markup {
    let (account, invited_until, viewer) = (&page.account, page.invited_until, &page.viewer);
    let problem = form.problem();
    // A refusal of signing in (an invitation, deactivating) leaves the person's fields as
    // they are stored.
    let values = if form.is_sent(ACCOUNT_FORM) {
        &account_values(account)
    } else {
        &form.values
    };
    let roles = if problem.is_some() && !form.is_sent(ACCOUNT_FORM) {
        chosen_roles(values)
    } else {
        account.roles.clone()
    };
    let action = format!("/admin/staff/{}", account.id);
    html! {
        p { a href="/admin/staff" { "All staff" } }
        h1 { (account.name) }
        p { (account.email) " · " (sign_in_status(account, invited_until)) }
        @if let Some(notice) = notice { p.notice role="status" { (notice) } }
        (problem_summary(problem, &["name", "roles", "year_groups", "houses"]))
        section.card {
            h2 { "Roles and responsibilities" }
            form.stack method="post" action=(action) {
                (csrf_field(csrf))
                (person_fields(values, &roles, problem))
                button.primary type="submit" { "Save" }
            }
        }
        section.card {
            h2 { "Signing in" }
            @if account.active {
                @if !account.has_password {
                    p { "They have no password yet. An invitation emails them a link to choose one; it works once, for 7 days, and replaces any invitation sent before." }
                    form method="post" action={ (action) "/invite" } {
                        (csrf_field(csrf))
                        button type="submit" { @if invited_until.is_some() { "Send the invitation again" } @else { "Send an invitation" } }
                    }
                } @else {
                    p.muted { "They have a password. If they forget it, \"Forgotten your password?\" on the sign-in page emails them a link to choose a new one." }
                }
                p { "Signing them out everywhere ends every session they have open, on every device, at once (their API tokens keep working)." }
                form method="post" action={ (action) "/sign-out" } {
                    (csrf_field(csrf))
                    button type="submit" { "Sign out everywhere" }
                }
                @if account.id != viewer.id {
                    p { "Deactivating stops them signing in and their API tokens working at once. Everything they recorded is kept, and they can be reactivated." }
                    form method="post" action={ (action) "/deactivate" } {
                        (csrf_field(csrf))
                        button.danger type="submit" { "Deactivate" }
                    }
                }
            } @else {
                p { "Deactivated: they cannot sign in and their API tokens do not work. Everything they recorded is kept." }
                form method="post" action={ (action) "/reactivate" } {
                    (csrf_field(csrf))
                    button type="submit" { "Reactivate" }
                }
            }
        }
    }
}

/// The values an edit form starts with.
fn account_values(account: &StaffAccount) -> Fields {
    Fields::from_pairs([
        ("name", account.name.clone()),
        ("year_groups", years_text(&account.year_groups)),
        ("houses", account.houses.join(", ")),
    ])
}

/// `GET /admin/staff/{id}`: one person, to change, deactivate, reactivate or invite again.
pub async fn show(visit: Visit, path: web::Path<String>) -> PageResult {
    visit.show::<PersonPage>(staff_id(&path)?).await
}

/// `POST /admin/staff/{id}`: changes a person's name, roles, year groups and houses.
/// Audited; their API tokens are read again with the new roles.
pub async fn update(visit: Visit, path: web::Path<String>, form: CsrfForm<Fields>) -> PageResult {
    require_role(&visit.member, &KEEPERS)?;
    let id = staff_id(&path)?;
    let own = id == visit.member.id;
    let choice = StaffChoice::parse(&form.0, false).and_then(|choice| {
        if own && !choice.roles.contains(&Role::Admin) {
            Err(Problem::at(
                "roles",
                "you cannot take the administrator role from yourself: ask another administrator",
            ))
        } else {
            Ok(choice)
        }
    });
    change(visit, id, None, form.0, choice, move |conn, by, choice| {
        staff::account(conn, by.school_id, id)?;
        save_responsibilities(conn, by.school_id, id, &choice)?;
        record(conn, by, "staff.update", id, choice.audit_detail())?;
        Ok("saved")
    })
    .await
}

/// Runs a change to person `id` in one write (`done` names what it did on the page after);
/// their cached API tokens are forgotten at once. A refusal shows the page again with the
/// problem at the form `sent`.
async fn change<T: Send + 'static>(
    visit: Visit,
    id: i64,
    sent: Option<&str>,
    typed: Fields,
    read: std::result::Result<T, Problem>,
    done: impl FnOnce(&mut DbConnection, &StaffMember, T) -> Result<&'static str> + Send + 'static,
) -> PageResult {
    require_role(&visit.member, &KEEPERS)?;
    let state = visit.state.clone();
    let sent = sent.map(str::to_string);
    let answer = visit
        .submit_to::<PersonPage, _, _>(id, sent, typed, read, move |conn, by, _, asked| {
            let what = done(conn, by, asked)?;
            Ok(format!("/admin/staff/{id}?{what}=1"))
        })
        .await;
    state.db.members().forget_staff(id);
    answer
}

/// Opens or closes an account, audited.
async fn set_active(visit: Visit, path: &str, typed: Fields, active: bool) -> PageResult {
    let id = staff_id(path)?;
    let read = if !active && id == visit.member.id {
        Err(Problem {
            field: None,
            message: "you cannot deactivate your own account: ask another administrator".into(),
        })
    } else {
        Ok(())
    };
    change(
        visit,
        id,
        Some(ACCOUNT_FORM),
        typed,
        read,
        move |conn, by, ()| {
            staff::set_active(conn, by.school_id, id, active, Utc::now())?;
            let (action, detail, done) = if active {
                ("staff.reactivate", "can sign in again", "reactivated")
            } else {
                let detail = "sign-in and API tokens stopped; history kept";
                ("staff.deactivate", detail, "deactivated")
            };
            record(conn, by, action, id, detail.to_string())?;
            Ok(done)
        },
    )
    .await
}

/// `POST /admin/staff/{id}/deactivate`: closes the account at once (sign-in and API
/// tokens), keeping its history.
pub async fn deactivate(
    visit: Visit,
    path: web::Path<String>,
    form: CsrfForm<Fields>,
) -> PageResult {
    set_active(visit, &path, form.0, false).await
}

/// `POST /admin/staff/{id}/reactivate`: opens a deactivated account again.
pub async fn reactivate(
    visit: Visit,
    path: web::Path<String>,
    form: CsrfForm<Fields>,
) -> PageResult {
    set_active(visit, &path, form.0, true).await
}

/// `POST /admin/staff/{id}/sign-out`: ends every session the person has open, at once.
/// Audited.
pub async fn sign_out_everywhere(
    visit: Visit,
    path: web::Path<String>,
    form: CsrfForm<Fields>,
) -> PageResult {
    let id = staff_id(&path)?;
    change(
        visit,
        id,
        Some(ACCOUNT_FORM),
        form.0,
        Ok(()),
        move |conn, by, ()| {
            staff::account(conn, by.school_id, id)?;
            let ended = crate::db::sign_in::end_all(conn, by.school_id, id, None)?;
            let detail = format!("signed out everywhere by an administrator ({ended} sessions)");
            record(conn, by, "session.end", id, detail)?;
            Ok("signed_out")
        },
    )
    .await
}

/// `POST /admin/staff/{id}/invite`: emails a new invitation to a person without a
/// password (replacing any sent before). Audited.
pub async fn invite(visit: Visit, path: web::Path<String>, form: CsrfForm<Fields>) -> PageResult {
    let id = staff_id(&path)?;
    let public_url = visit.state.settings.public_url.clone();
    change(visit, id, Some(ACCOUNT_FORM), form.0, Ok(()), move |conn, by, ()| {
        let account = staff::account(conn, by.school_id, id)?;
        if !account.active {
            return Err(Error::bad_request(
                "this account is deactivated: reactivate it before inviting them",
            ));
        }
        if account.has_password {
            return Err(Error::bad_request(
                "they already have a password: \"Forgotten your password?\" on the sign-in page emails them a link to choose a new one",
            ));
        }
        let purpose = LinkPurpose::Invitation;
        account_links::send(conn, &public_url, id, purpose, Some(by.id), Utc::now())?;
        Ok("invited")
    })
    .await
}
