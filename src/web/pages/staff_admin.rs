//! The school's staff, kept by administrators (`/admin/staff`): everyone who can sign in,
//! with their roles, year groups and houses; a person added (and invited by email to
//! choose a password), changed, deactivated or reactivated, and an invitation sent again.
//! A deactivated account cannot sign in or use its API tokens, and keeps its history.
//! Many people at once come from a file through the import page.

use actix_session::Session;
use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use chrono::{NaiveDateTime, Utc};
use maud::{html, Markup};

use super::form::{
    field_problem, html_response, local, problem_summary, see_other, Fields, Problem,
};
use super::layout::{csrf_field, page};
use super::with_viewer;
use crate::db::audit::{self, AuditEntry};
use crate::db::staff::{self, StaffAccount, StaffMember};
use crate::db::{account_links, from_db_time, to_db_time, DbConnection};
use crate::domain::account_link::LinkPurpose;
use crate::domain::details::{EmailAddress, PersonName, YearNumber};
use crate::domain::staff_roster::{parse_houses, parse_year_groups, show_roles};
use crate::domain::Role;
use crate::error::{Error, Result};
use crate::web::auth::{require_role, CsrfForm, SignedIn};
use crate::web::error::PageError;
use crate::web::AppState;

/// The roles that keep the staff list.
const KEEPERS: [Role; 1] = [Role::Admin];

/// What the add and edit forms give, checked.
struct StaffChoice {
    email: Option<EmailAddress>,
    name: PersonName,
    roles: Vec<Role>,
    year_groups: Vec<YearNumber>,
    houses: Vec<String>,
}

impl StaffChoice {
    /// Reads the form; `with_email` for a new person. The first problem names its field.
    fn parse(fields: &Fields, with_email: bool) -> std::result::Result<StaffChoice, Problem> {
        let at = |field: &str, message: String| Problem {
            field: Some(field.to_string()),
            message,
        };
        let email = if with_email {
            Some(
                EmailAddress::parse(fields.get("email").unwrap_or_default()).map_err(|e| {
                    at(
                        "email",
                        format!("the email {}", e.message.trim_start_matches("the email ")),
                    )
                })?,
            )
        } else {
            None
        };
        let name = PersonName::parse("name", fields.get("name").unwrap_or_default())
            .map_err(|e| at("name", format!("the name {}", e.message)))?;
        let mut roles = fields
            .all("roles")
            .map(|r| Role::parse(r).map_err(|e| at("roles", e.to_string())))
            .collect::<std::result::Result<Vec<_>, _>>()?;
        roles.sort();
        roles.dedup();
        if roles.is_empty() {
            return Err(at("roles", "choose at least one role".into()));
        }
        let year_groups = parse_year_groups(fields.get("year_groups").unwrap_or_default())
            .map_err(|m| at("year_groups", m))?;
        let houses =
            parse_houses(fields.get("houses").unwrap_or_default()).map_err(|m| at("houses", m))?;
        Ok(StaffChoice {
            email,
            name,
            roles,
            year_groups,
            houses,
        })
    }

    /// What the audit log keeps of it: roles, year groups and houses, never the name.
    fn audit_detail(&self) -> String {
        let years: Vec<i16> = self.year_groups.iter().map(|y| y.get()).collect();
        format!(
            "roles: {}; year groups: {}; houses: {}",
            show_roles(&self.roles),
            crate::domain::staff_roster::show_years(&years),
            self.houses.join(", ")
        )
    }
}

/// Years as a form's text: `9, 10`.
fn years_text(years: &[i16]) -> String {
    years
        .iter()
        .map(i16::to_string)
        .collect::<Vec<_>>()
        .join(", ")
}

/// Role checkboxes, ticked as given.
fn role_choices(chosen: &[Role], problem: Option<&Problem>) -> Markup {
    html! {
        fieldset {
            legend { "Roles" }
            @for role in Role::ALL {
                label.choice {
                    input type="checkbox" name="roles" value=(role.as_str()) checked[chosen.contains(&role)];
                    " " (role.title())
                }
            }
            (field_problem(problem, "roles"))
        }
    }
}

/// The fields of a person (name, roles, year groups, houses), filled with `values`.
fn person_fields(values: &Fields, roles: &[Role], problem: Option<&Problem>) -> Markup {
    html! {
        label for="name" { "Name" }
        input #name type="text" name="name" maxlength="100" required value=(values.raw("name"));
        (field_problem(problem, "name"))
        (role_choices(roles, problem))
        label for="year_groups" { "Year groups they lead" }
        input #year_groups type="text" name="year_groups" value=(values.raw("year_groups")) aria-describedby="years-hint";
        p.hint #years-hint { "For a Head of Year: such as 9, or 9, 10. Leave empty for none." }
        (field_problem(problem, "year_groups"))
        label for="houses" { "Houses they lead" }
        input #houses type="text" name="houses" value=(values.raw("houses")) aria-describedby="houses-hint";
        p.hint #houses-hint { "Separate several with commas. Leave empty for none." }
        (field_problem(problem, "houses"))
    }
}

fn chosen_roles(values: &Fields) -> Vec<Role> {
    values
        .all("roles")
        .filter_map(|r| Role::parse(r).ok())
        .collect()
}

fn sign_in_status(account: &StaffAccount, invited_until: Option<NaiveDateTime>) -> Markup {
    html! {
        @if !account.active {
            span.tag.warn { "deactivated" }
        } @else if account.has_password {
            "has a password"
        } @else if let Some(until) = invited_until {
            "invited (link works until " (local(from_db_time(until))) ")"
        } @else {
            "no password yet: not invited, or the invitation expired"
        }
    }
}

fn list_page(
    accounts: &[StaffAccount],
    invitations: &std::collections::HashMap<i64, NaiveDateTime>,
    notice: Option<&str>,
    values: &Fields,
    problem: Option<&Problem>,
    csrf: &str,
) -> Markup {
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

fn edit_page(
    account: &StaffAccount,
    invited_until: Option<NaiveDateTime>,
    viewer: &StaffMember,
    notice: Option<&str>,
    values: &Fields,
    problem: Option<&Problem>,
    csrf: &str,
) -> Markup {
    let roles = if problem.is_some() {
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

fn notice_of(request: &HttpRequest) -> Option<&'static str> {
    let query = Fields::from_query(request.query_string());
    [
        ("added", "Added."),
        ("invited", "Invitation queued: it is emailed in a moment."),
        ("saved", "Saved."),
        (
            "deactivated",
            "Deactivated: they can no longer sign in or use their API tokens.",
        ),
        ("reactivated", "Reactivated: they can sign in again."),
        (
            "signed_out",
            "Signed out everywhere: each of their devices must sign in again.",
        ),
    ]
    .into_iter()
    .find(|(key, _)| query.get(key).is_some())
    .map(|(_, notice)| notice)
}

fn staff_id(path: &str) -> Result<i64> {
    path.parse().map_err(|_| Error::NotFound("staff member"))
}

async fn show_list(
    member: &StaffMember,
    session: &Session,
    state: &AppState,
    status: StatusCode,
    notice: Option<&str>,
    values: &Fields,
    problem: Option<&Problem>,
) -> Result<HttpResponse> {
    let school_id = member.school_id;
    let (accounts, invitations) = state
        .db
        .transaction(move |conn| {
            Ok((
                staff::accounts(conn, school_id)?,
                account_links::open_invitations(conn, school_id, Utc::now())?,
            ))
        })
        .await?;
    let markup = with_viewer(member, session, |viewer| {
        page(
            "Staff",
            viewer,
            list_page(
                &accounts,
                &invitations,
                notice,
                values,
                problem,
                viewer.csrf,
            ),
        )
    });
    Ok(html_response(status, markup))
}

#[allow(clippy::too_many_arguments)]
async fn show_edit(
    member: &StaffMember,
    session: &Session,
    state: &AppState,
    id: i64,
    status: StatusCode,
    notice: Option<&str>,
    values: Option<&Fields>,
    problem: Option<&Problem>,
) -> Result<HttpResponse> {
    let school_id = member.school_id;
    let (account, invitations) = state
        .db
        .transaction(move |conn| {
            Ok((
                staff::account(conn, school_id, id)?,
                account_links::open_invitations(conn, school_id, Utc::now())?,
            ))
        })
        .await?;
    let values = values.cloned().unwrap_or_else(|| account_values(&account));
    let markup = with_viewer(member, session, |viewer| {
        page(
            &account.name,
            viewer,
            edit_page(
                &account,
                invitations.get(&account.id).copied(),
                member,
                notice,
                &values,
                problem,
                viewer.csrf,
            ),
        )
    });
    Ok(html_response(status, markup))
}

fn status_of(error: &Error) -> StatusCode {
    StatusCode::from_u16(error.status()).unwrap_or(StatusCode::BAD_REQUEST)
}

/// `GET /admin/staff`: everyone, and the form to add a person.
pub async fn list(
    SignedIn(member): SignedIn,
    session: Session,
    request: HttpRequest,
    state: web::Data<AppState>,
) -> std::result::Result<HttpResponse, PageError> {
    require_role(&member, &KEEPERS)?;
    Ok(show_list(
        &member,
        &session,
        &state,
        StatusCode::OK,
        notice_of(&request),
        &Fields::default(),
        None,
    )
    .await?)
}

/// `POST /admin/staff`: adds a person, and emails them an invitation when asked. Audited.
pub async fn add(
    SignedIn(member): SignedIn,
    session: Session,
    form: CsrfForm<Fields>,
    state: web::Data<AppState>,
) -> std::result::Result<HttpResponse, PageError> {
    require_role(&member, &KEEPERS)?;
    let values = form.0;
    let choice = match StaffChoice::parse(&values, true) {
        Ok(choice) => choice,
        Err(problem) => {
            let page = show_list(
                &member,
                &session,
                &state,
                StatusCode::BAD_REQUEST,
                None,
                &values,
                Some(&problem),
            );
            return Ok(page.await?);
        }
    };
    let invite = values.get("invite").is_some();
    let (school_id, actor) = (member.school_id, member.id);
    let public_url = state.settings.public_url.clone();
    let outcome = state
        .db
        .write(move |conn| {
            let now = Utc::now();
            let Some(email) = &choice.email else {
                return Err(Error::invalid("email", "the email is required"));
            };
            let id = staff::insert_account(conn, school_id, email, &choice.name, now)?;
            save_responsibilities(conn, school_id, id, &choice)?;
            audit::record(
                conn,
                AuditEntry {
                    school_id,
                    actor_id: Some(actor),
                    action: "staff.add",
                    entity: "staff",
                    entity_id: Some(id),
                    detail: choice.audit_detail(),
                    at: to_db_time(now),
                },
            )?;
            if invite {
                account_links::send(
                    conn,
                    &public_url,
                    id,
                    LinkPurpose::Invitation,
                    Some(actor),
                    now,
                )?;
            }
            Ok(id)
        })
        .await;
    match outcome {
        Ok(_) => Ok(see_other("/admin/staff?added=1")),
        Err(error) => {
            let Some(problem) = Problem::of(&error) else {
                return Err(PageError(error));
            };
            let page = show_list(
                &member,
                &session,
                &state,
                status_of(&error),
                None,
                &values,
                Some(&problem),
            );
            Ok(page.await?)
        }
    }
}

fn save_responsibilities(
    conn: &mut DbConnection,
    school_id: i64,
    id: i64,
    choice: &StaffChoice,
) -> Result<()> {
    staff::set_name(conn, school_id, id, &choice.name)?;
    staff::set_roles(conn, school_id, id, &choice.roles)?;
    staff::set_year_groups(conn, school_id, id, &choice.year_groups)?;
    staff::set_houses(conn, school_id, id, &choice.houses)
}

/// `GET /admin/staff/{id}`: one person, to change, deactivate, reactivate or invite again.
pub async fn show(
    SignedIn(member): SignedIn,
    session: Session,
    path: web::Path<String>,
    request: HttpRequest,
    state: web::Data<AppState>,
) -> std::result::Result<HttpResponse, PageError> {
    require_role(&member, &KEEPERS)?;
    let id = staff_id(&path)?;
    Ok(show_edit(
        &member,
        &session,
        &state,
        id,
        StatusCode::OK,
        notice_of(&request),
        None,
        None,
    )
    .await?)
}

/// `POST /admin/staff/{id}`: changes a person's name, roles, year groups and houses.
/// Audited; their API tokens are read again with the new roles.
pub async fn update(
    SignedIn(member): SignedIn,
    session: Session,
    path: web::Path<String>,
    form: CsrfForm<Fields>,
    state: web::Data<AppState>,
) -> std::result::Result<HttpResponse, PageError> {
    require_role(&member, &KEEPERS)?;
    let id = staff_id(&path)?;
    let values = form.0;
    let choice = StaffChoice::parse(&values, false).and_then(|choice| {
        if id == member.id && !choice.roles.contains(&Role::Admin) {
            Err(Problem {
                field: Some("roles".into()),
                message: "you cannot take the administrator role from yourself: ask another administrator".into(),
            })
        } else {
            Ok(choice)
        }
    });
    let choice = match choice {
        Ok(choice) => choice,
        Err(problem) => {
            let page = show_edit(
                &member,
                &session,
                &state,
                id,
                StatusCode::BAD_REQUEST,
                None,
                Some(&values),
                Some(&problem),
            );
            return Ok(page.await?);
        }
    };
    let (school_id, actor) = (member.school_id, member.id);
    state
        .db
        .write(move |conn| {
            staff::account(conn, school_id, id)?;
            save_responsibilities(conn, school_id, id, &choice)?;
            audit::record(
                conn,
                AuditEntry {
                    school_id,
                    actor_id: Some(actor),
                    action: "staff.update",
                    entity: "staff",
                    entity_id: Some(id),
                    detail: choice.audit_detail(),
                    at: to_db_time(Utc::now()),
                },
            )
        })
        .await?;
    state.db.members().forget_staff(id);
    Ok(see_other(&format!("/admin/staff/{id}?saved=1")))
}

/// Opens or closes an account, audited; the person's cached API tokens are forgotten at
/// once.
async fn set_active(
    member: StaffMember,
    session: Session,
    state: web::Data<AppState>,
    path: &str,
    active: bool,
) -> std::result::Result<HttpResponse, PageError> {
    require_role(&member, &KEEPERS)?;
    let id = staff_id(path)?;
    if !active && id == member.id {
        let problem = Problem {
            field: None,
            message: "you cannot deactivate your own account: ask another administrator".into(),
        };
        let page = show_edit(
            &member,
            &session,
            &state,
            id,
            StatusCode::BAD_REQUEST,
            None,
            None,
            Some(&problem),
        );
        return Ok(page.await?);
    }
    let (school_id, actor) = (member.school_id, member.id);
    state
        .db
        .write(move |conn| {
            let now = Utc::now();
            staff::set_active(conn, school_id, id, active, now)?;
            audit::record(
                conn,
                AuditEntry {
                    school_id,
                    actor_id: Some(actor),
                    action: if active {
                        "staff.reactivate"
                    } else {
                        "staff.deactivate"
                    },
                    entity: "staff",
                    entity_id: Some(id),
                    detail: if active {
                        "can sign in again".into()
                    } else {
                        "sign-in and API tokens stopped; history kept".into()
                    },
                    at: to_db_time(now),
                },
            )
        })
        .await?;
    state.db.members().forget_staff(id);
    let done = if active { "reactivated" } else { "deactivated" };
    Ok(see_other(&format!("/admin/staff/{id}?{done}=1")))
}

/// `POST /admin/staff/{id}/deactivate`: closes the account at once (sign-in and API
/// tokens), keeping its history.
pub async fn deactivate(
    SignedIn(member): SignedIn,
    session: Session,
    path: web::Path<String>,
    _form: CsrfForm<Fields>,
    state: web::Data<AppState>,
) -> std::result::Result<HttpResponse, PageError> {
    set_active(member, session, state, &path, false).await
}

/// `POST /admin/staff/{id}/sign-out`: ends every session the person has open, at once.
/// Audited.
pub async fn sign_out_everywhere(
    SignedIn(member): SignedIn,
    path: web::Path<String>,
    _form: CsrfForm<Fields>,
    state: web::Data<AppState>,
) -> std::result::Result<HttpResponse, PageError> {
    require_role(&member, &KEEPERS)?;
    let id = staff_id(&path)?;
    let (school_id, actor) = (member.school_id, member.id);
    state
        .db
        .write(move |conn| {
            staff::account(conn, school_id, id)?;
            let ended = crate::db::sign_in::end_all(conn, school_id, id, None)?;
            audit::record(
                conn,
                AuditEntry {
                    school_id,
                    actor_id: Some(actor),
                    action: "session.end",
                    entity: "staff",
                    entity_id: Some(id),
                    detail: format!("signed out everywhere by an administrator ({ended} sessions)"),
                    at: to_db_time(Utc::now()),
                },
            )
        })
        .await?;
    Ok(see_other(&format!("/admin/staff/{id}?signed_out=1")))
}

/// `POST /admin/staff/{id}/reactivate`: opens a deactivated account again.
pub async fn reactivate(
    SignedIn(member): SignedIn,
    session: Session,
    path: web::Path<String>,
    _form: CsrfForm<Fields>,
    state: web::Data<AppState>,
) -> std::result::Result<HttpResponse, PageError> {
    set_active(member, session, state, &path, true).await
}

/// `POST /admin/staff/{id}/invite`: emails a new invitation to a person without a
/// password (replacing any sent before). Audited.
pub async fn invite(
    SignedIn(member): SignedIn,
    session: Session,
    path: web::Path<String>,
    _form: CsrfForm<Fields>,
    state: web::Data<AppState>,
) -> std::result::Result<HttpResponse, PageError> {
    require_role(&member, &KEEPERS)?;
    let id = staff_id(&path)?;
    let (school_id, actor) = (member.school_id, member.id);
    let public_url = state.settings.public_url.clone();
    let outcome = state
        .db
        .write(move |conn| {
            let account = staff::account(conn, school_id, id)?;
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
            let now = Utc::now();
            account_links::send(conn, &public_url, id, LinkPurpose::Invitation, Some(actor), now)?;
            Ok(())
        })
        .await;
    match outcome {
        Ok(()) => Ok(see_other(&format!("/admin/staff/{id}?invited=1"))),
        Err(error) => {
            let Some(problem) = Problem::of(&error) else {
                return Err(PageError(error));
            };
            let page = show_edit(
                &member,
                &session,
                &state,
                id,
                status_of(&error),
                None,
                None,
                Some(&problem),
            );
            Ok(page.await?)
        }
    }
}
