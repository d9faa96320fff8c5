//! A staff member's own email preference: each notice as it happens, or one daily digest at
//! an hour they choose (calendar invitations always come on their own).

use diesel::prelude::*;
use maud::{html, Markup};

use super::form::{Fields, Form, Problem};
use super::form_page::{FormPage, PageResult, Visit};
use super::layout::csrf_field;
use crate::db::schema::staff;
use crate::db::staff::StaffMember;
use crate::db::DbConnection;
use crate::error::Result;
use crate::web::auth::CsrfForm;

/// The hours (school time) a digest can come at.
const DIGEST_HOURS: std::ops::RangeInclusive<i16> = 6..=18;

/// The member's choice: the hour of their daily digest, or none for each notice on its own.
struct EmailChoice {
    chosen: Option<i16>,
}

impl FormPage for EmailChoice {
    type Key = ();
    const TITLE: &'static str = "Email";

    fn load(conn: &mut DbConnection, member: &StaffMember, _: ()) -> Result<Self> {
        let chosen = staff::table
            .filter(staff::id.eq(member.id))
            .filter(staff::school_id.eq(member.school_id))
            .select(staff::digest_hour)
            .get_result(conn)?;
        Ok(EmailChoice { chosen })
    }

    fn notice(query: &Fields) -> Option<String> {
        query.get("saved").map(|_| "Saved.".to_string())
    }

    fn render(&self, form: &Form, notice: Option<&str>, csrf: &str) -> Markup {
        let chosen = self.chosen;
        html! {
            (super::own_account::account_nav("/account/email"))
            h1 { "How you get email" }
            @if let Some(notice) = notice { p.notice role="status" { (notice) } }
            form.stack method="post" action="/account/email" {
                (csrf_field(csrf))
                label for="digest_hour" { "Notices about meetings" }
                select #digest_hour name="digest_hour" {
                    option value="" selected[chosen.is_none()] { "Each one as it happens" }
                    @for hour in DIGEST_HOURS {
                        option value=(hour) selected[chosen == Some(hour)] { "One daily digest at " (format!("{hour:02}:00")) }
                    }
                }
                (form.problem_at("digest_hour"))
                p.hint { "Calendar invitations always come on their own, so your calendar can take them." }
                button.primary type="submit" { "Save" }
            }
            p { a href="/account/security" { "Sign-in security: your authenticator app and recovery codes" } }
        }
    }
}

/// `GET /account/email`: the preference and its form.
pub async fn show(visit: Visit) -> PageResult {
    visit.show::<EmailChoice>(()).await
}

/// `POST /account/email`: saves the preference, or shows the form again with the problem.
pub async fn save(visit: Visit, form: CsrfForm<Fields>) -> PageResult {
    let chosen = match form.0.get("digest_hour") {
        None => Ok(None),
        Some(raw) => raw
            .parse::<i16>()
            .ok()
            .filter(|hour| DIGEST_HOURS.contains(hour))
            .map(Some)
            .ok_or_else(|| Problem::at("digest_hour", "choose one of the hours offered")),
    };
    visit
        .submit::<EmailChoice, _, _>((), form.0, chosen, |conn, by, _, chosen| {
            diesel::update(
                staff::table
                    .filter(staff::id.eq(by.id))
                    .filter(staff::school_id.eq(by.school_id)),
            )
            .set(staff::digest_hour.eq(chosen))
            .execute(conn)?;
            Ok("/account/email?saved=1".to_string())
        })
        .await
}
