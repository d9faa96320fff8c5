//! `/admin/school`: the school's details that families see on the pages their links open:
//! phone, contact email, postal address and logo. Kept by administrators.

use chrono::Utc;
use maud::{html, Markup};

use super::form::{problem_summary, Fields, Form};
use super::form_page::{FormPage, PageResult, Visit};
use super::layout::csrf_field;
use crate::db::family::{self, SchoolContact};
use crate::db::staff::StaffMember;
use crate::db::DbConnection;
use crate::domain::family::{SchoolDetails, MAX_ADDRESS_CHARS};
use crate::domain::Role;
use crate::error::Result;
use crate::web::auth::{require_role, CsrfForm};

const FIELDS: [&str; 4] = ["phone", "email", "address", "logo_url"];

/// The details as stored.
struct SchoolDetailsPage {
    contact: SchoolContact,
}

impl FormPage for SchoolDetailsPage {
    type Key = ();
    const TITLE: &'static str = "School details";

    fn load(conn: &mut DbConnection, member: &StaffMember, _: ()) -> Result<Self> {
        require_role(member, &[Role::Admin])?;
        Ok(SchoolDetailsPage {
            contact: family::school_contact(conn, member.school_id)?,
        })
    }

    fn first_values(&self, _member: &StaffMember, _query: &Fields) -> Fields {
        let c = &self.contact;
        Fields::from_pairs([
            ("phone", c.phone.clone()),
            ("email", c.email.clone()),
            ("address", c.address.clone()),
            ("logo_url", c.logo_url.clone().unwrap_or_default()),
        ])
    }

    fn notice(query: &Fields) -> Option<String> {
        query.get("saved").map(|_| "Saved.".to_string())
    }

    fn render(&self, form: &Form, notice: Option<&str>, csrf: &str) -> Markup {
        let v = &form.values;
        html! {
            h1 { "School details" }
            @if let Some(notice) = notice { p.notice role="status" { (notice) } }
            p { "Parents, carers and outside professionals see these on the pages their links open, with the name of the member of staff to contact: " strong { (self.contact.name) } "." }
            (problem_summary(form.problem(), &FIELDS))
            form.stack method="post" action="/admin/school" {
                (csrf_field(csrf))
                label for="phone" { "Phone" }
                input #phone type="tel" name="phone" maxlength="30" value=(v.raw("phone")) aria-describedby="error-phone";
                (form.problem_at("phone"))
                label for="email" { "Contact email" }
                input #email type="email" name="email" maxlength="254" value=(v.raw("email")) aria-describedby="error-email";
                (form.problem_at("email"))
                label for="address" { "Postal address (one line each)" }
                textarea #address name="address" rows="5" maxlength=(MAX_ADDRESS_CHARS) aria-describedby="error-address" { (v.raw("address")) }
                (form.problem_at("address"))
                label for="logo_url" { "Logo address (optional, https://...)" }
                input #logo_url type="url" name="logo_url" maxlength="500" value=(v.raw("logo_url")) aria-describedby="error-logo_url";
                (form.problem_at("logo_url"))
                button.primary type="submit" { "Save" }
            }
        }
    }
}

/// `GET /admin/school`: the school's details for families.
pub async fn show(visit: Visit) -> PageResult {
    visit.show::<SchoolDetailsPage>(()).await
}

/// `POST /admin/school`: saves them (audited), or shows the form again with the problem at
/// its field.
pub async fn save(visit: Visit, form: CsrfForm<Fields>) -> PageResult {
    require_role(&visit.member, &[Role::Admin])?;
    let typed = form.0;
    let details = SchoolDetails::parse(
        typed.raw("phone"),
        typed.raw("email"),
        typed.raw("address"),
        typed.raw("logo_url"),
    )
    .map_err(super::form::Problem::from);
    visit
        .submit::<SchoolDetailsPage, _, _>((), typed, details, move |conn, by, _, details| {
            family::save_school_details(conn, by, &details, Utc::now())?;
            Ok("/admin/school?saved=1".to_string())
        })
        .await
}
