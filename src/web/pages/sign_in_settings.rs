//! `/admin/sign-in`: the school's sign-in settings, kept by administrators. For now, which
//! roles must confirm a password sign-in with an authenticator app (by default those who read
//! SEN and plan records: SENDCO, senior leaders and administrators).

use actix_session::Session;
use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use chrono::Utc;
use maud::html;

use super::form::{html_response, see_other, Fields};
use super::layout::{csrf_field, page};
use super::with_viewer;
use crate::db::second_factor;
use crate::domain::Role;
use crate::error::Error;
use crate::web::auth::{require_role, CsrfForm, SignedIn};
use crate::web::error::PageError;
use crate::web::AppState;

/// The form field naming each role that must use a second factor (repeated).
const ROLES_FIELD: &str = "mfa_roles";

/// `GET /admin/sign-in`: the settings and their form.
pub async fn show(
    SignedIn(member): SignedIn,
    session: Session,
    request: HttpRequest,
    state: web::Data<AppState>,
) -> Result<HttpResponse, PageError> {
    require_role(&member, &[Role::Admin])?;
    let school_id = member.school_id;
    let required = state
        .db
        .transaction(move |conn| second_factor::required_roles(conn, school_id))
        .await?;
    let saved = Fields::from_query(request.query_string())
        .get("saved")
        .is_some();
    let markup = with_viewer(&member, &session, |viewer| {
        page(
            "Sign-in settings",
            viewer,
            html! {
                h1 { "Sign-in settings" }
                @if saved { p.notice role="status" { "Saved." } }
                h2 { "Authenticator app" }
                form.stack method="post" action="/admin/sign-in" {
                    (csrf_field(viewer.csrf))
                    fieldset {
                        legend { "Roles that must confirm each password sign-in with a code from an authenticator app" }
                        @for role in Role::ALL {
                            label {
                                input type="checkbox" name=(ROLES_FIELD) value=(role.as_str()) checked[required.contains(&role)];
                                " " (role.title())
                            }
                        }
                    }
                    p.hint { "Someone holding a ticked role who has not set up an app is asked to, at their next password sign-in, before they can open anything else. Anyone may set one up on their own Sign-in security page." }
                    button.primary type="submit" { "Save" }
                }
            },
        )
    });
    Ok(html_response(StatusCode::OK, markup))
}

/// `POST /admin/sign-in`: saves the settings (audited).
pub async fn save(
    SignedIn(member): SignedIn,
    form: CsrfForm<Fields>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, PageError> {
    require_role(&member, &[Role::Admin])?;
    let roles = form
        .0
        .all(ROLES_FIELD)
        .map(|name| Role::parse(name).map_err(|e| Error::invalid(ROLES_FIELD, e.to_string())))
        .collect::<Result<Vec<Role>, Error>>()?;
    let (school_id, actor) = (member.school_id, member.id);
    state
        .db
        .write(move |conn| {
            second_factor::set_required_roles(conn, school_id, &roles, Some(actor), Utc::now())
        })
        .await?;
    Ok(see_other("/admin/sign-in?saved=1"))
}
