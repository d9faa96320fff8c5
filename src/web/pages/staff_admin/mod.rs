//! The school's staff, kept by administrators (`/admin/staff`): everyone who can sign in,
//! with their roles, year groups and houses; a person added (and invited by email to
//! choose a password), changed, deactivated or reactivated, and an invitation sent again.
//! A deactivated account cannot sign in or use its API tokens, and keeps its history.
//! Many people at once come from a file through the import page.
//!
//! `list.rs` is the list with the form to add a person; `person.rs` one person's page.

mod list;
mod person;

use chrono::NaiveDateTime;
use maud::{html, Markup};

pub use list::{add, list};
pub use person::{deactivate, invite, reactivate, show, sign_out_everywhere, update};

use super::form::{field_problem, local, Fields, Problem};
use crate::db::audit;
use crate::db::staff::{self, StaffAccount, StaffMember};
use crate::db::{from_db_time, DbConnection};
use crate::domain::details::{EmailAddress, PersonName, YearNumber};
use crate::domain::staff_roster::{parse_houses, parse_year_groups, show_roles};
use crate::domain::Role;
use crate::error::{Error, Result};

/// The roles that keep the staff list.
pub(super) const KEEPERS: [Role; 1] = [Role::Admin];

/// What the add and edit forms give, checked.
pub(super) struct StaffChoice {
    pub(super) email: Option<EmailAddress>,
    pub(super) name: PersonName,
    pub(super) roles: Vec<Role>,
    pub(super) year_groups: Vec<YearNumber>,
    pub(super) houses: Vec<String>,
}

impl StaffChoice {
    /// Reads the form; `with_email` for a new person. The first problem names its field.
    pub(super) fn parse(
        fields: &Fields,
        with_email: bool,
    ) -> std::result::Result<StaffChoice, Problem> {
        let at = |field: &str, message: String| Problem::at(field, message);
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
    pub(super) fn audit_detail(&self) -> String {
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
pub(super) fn years_text(years: &[i16]) -> String {
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
pub(super) fn person_fields(values: &Fields, roles: &[Role], problem: Option<&Problem>) -> Markup {
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

pub(super) fn chosen_roles(values: &Fields) -> Vec<Role> {
    values
        .all("roles")
        .filter_map(|r| Role::parse(r).ok())
        .collect()
}

pub(super) fn sign_in_status(
    account: &StaffAccount,
    invited_until: Option<NaiveDateTime>,
) -> Markup {
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

/// What the staff pages say after a change sent the browser back to them.
pub(super) fn staff_notice(query: &Fields) -> Option<String> {
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
    .map(|(_, notice)| notice.to_string())
}

pub(super) fn staff_id(path: &str) -> Result<i64> {
    path.parse().map_err(|_| Error::NotFound("staff member"))
}

/// Saves a person's name, roles, year groups and houses.
pub(super) fn save_responsibilities(
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

/// Records in the audit log a change `by` an administrator to staff member `id`.
pub(super) fn record(
    conn: &mut DbConnection,
    by: &StaffMember,
    action: &'static str,
    id: i64,
    detail: String,
) -> Result<()> {
    audit::record_by(conn, by, action, "staff", Some(id), detail)
}
