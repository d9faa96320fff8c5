//! A staff member's own email preference: each notice as it happens, or one daily digest at
//! an hour they choose (calendar invitations always come on their own).

use actix_session::Session;
use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use diesel::prelude::*;
use maud::html;

use super::form::{html_response, see_other, Fields};
use super::layout::{csrf_field, page};
use super::with_viewer;
use crate::db::schema::staff;
use crate::error::Error;
use crate::web::auth::{CsrfForm, SignedIn};
use crate::web::error::PageError;
use crate::web::AppState;

/// The hours (school time) a digest can come at.
const DIGEST_HOURS: std::ops::RangeInclusive<i16> = 6..=18;

/// `GET /account/email`: the preference and its form.
pub async fn show(
    SignedIn(member): SignedIn,
    session: Session,
    request: HttpRequest,
    state: web::Data<AppState>,
) -> Result<HttpResponse, PageError> {
    let (school_id, id) = (member.school_id, member.id);
    let chosen: Option<i16> = state
        .db
        .transaction(move |conn| {
            Ok(staff::table
                .filter(staff::id.eq(id))
                .filter(staff::school_id.eq(school_id))
                .select(staff::digest_hour)
                .get_result(conn)?)
        })
        .await?;
    let saved = Fields::from_query(request.query_string())
        .get("saved")
        .is_some();
    let markup = with_viewer(&member, &session, |viewer| {
        page(
            "Email",
            viewer,
            html! {
                (super::own_account::account_nav("/account/email"))
                h1 { "How you get email" }
                @if saved { p.notice role="status" { "Saved." } }
                form.stack method="post" action="/account/email" {
                    (csrf_field(viewer.csrf))
                    label for="digest_hour" { "Notices about meetings" }
                    select #digest_hour name="digest_hour" {
                        option value="" selected[chosen.is_none()] { "Each one as it happens" }
                        @for hour in DIGEST_HOURS {
                            option value=(hour) selected[chosen == Some(hour)] { "One daily digest at " (format!("{hour:02}:00")) }
                        }
                    }
                    p.hint { "Calendar invitations always come on their own, so your calendar can take them." }
                    button.primary type="submit" { "Save" }
                }
                p { a href="/account/security" { "Sign-in security: your authenticator app and recovery codes" } }
            },
        )
    });
    Ok(html_response(StatusCode::OK, markup))
}

/// `POST /account/email`: saves the preference.
pub async fn save(
    SignedIn(member): SignedIn,
    form: CsrfForm<Fields>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, PageError> {
    let chosen = match form.0.get("digest_hour").map(str::trim) {
        None | Some("") => None,
        Some(raw) => Some(
            raw.parse::<i16>()
                .ok()
                .filter(|hour| DIGEST_HOURS.contains(hour))
                .ok_or_else(|| Error::invalid("digest_hour", "choose one of the hours offered"))?,
        ),
    };
    let (school_id, id) = (member.school_id, member.id);
    state
        .db
        .write(move |conn| {
            diesel::update(
                staff::table
                    .filter(staff::id.eq(id))
                    .filter(staff::school_id.eq(school_id)),
            )
            .set(staff::digest_hour.eq(chosen))
            .execute(conn)?;
            Ok(())
        })
        .await?;
    Ok(see_other("/account/email?saved=1"))
}
