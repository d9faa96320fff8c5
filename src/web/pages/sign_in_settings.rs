//! `/admin/sign-in`: the school's sign-in settings, kept by administrators: which roles must
//! confirm a password sign-in with an authenticator app (by default those who read SEN and
//! plan records: SENDCO, senior leaders and administrators), and how long sessions last.

use actix_session::Session;
use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use chrono::Utc;
use maud::html;

use super::form::{field_problem, html_response, problem_summary, see_other, Fields, Problem};
use super::layout::{csrf_field, page};
use super::with_viewer;
use crate::db::staff::StaffMember;
use crate::db::{second_factor, sign_in, to_db_time};
use crate::domain::sign_in::SessionLimits;
use crate::domain::Role;
use crate::error::Error;
use crate::web::auth::{require_role, CsrfForm, SignedIn};
use crate::web::error::PageError;
use crate::web::AppState;

/// The form field naming each role that must use a second factor (repeated).
const ROLES_FIELD: &str = "mfa_roles";
/// The form fields of the session limits.
const IDLE_FIELD: &str = "session_idle_minutes";
const LIFETIME_FIELD: &str = "session_lifetime_hours";

/// Renders the page: the settings as stored, or the sessions form as typed with its problem.
async fn render(
    member: &StaffMember,
    session: &Session,
    state: &AppState,
    status: StatusCode,
    saved: bool,
    typed: Option<(&Fields, &Problem)>,
) -> Result<HttpResponse, PageError> {
    let school_id = member.school_id;
    let (required, limits) = state
        .db
        .transaction(move |conn| {
            Ok((
                second_factor::required_roles(conn, school_id)?,
                sign_in::session_limits(conn, school_id)?,
            ))
        })
        .await?;
    let problem = typed.map(|(_, problem)| problem);
    let value = |field: &str, stored: i32| match typed {
        Some((values, _)) => values.raw(field).to_string(),
        None => stored.to_string(),
    };
    let idle = value(IDLE_FIELD, limits.idle_minutes);
    let lifetime = value(LIFETIME_FIELD, limits.lifetime_hours);
    let markup = with_viewer(member, session, |viewer| {
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
                h2 { "Sessions" }
                (problem_summary(problem, &[IDLE_FIELD, LIFETIME_FIELD]))
                form.stack method="post" action="/admin/sign-in/sessions" {
                    (csrf_field(viewer.csrf))
                    label for=(IDLE_FIELD) { "Sign out after this many minutes unused" }
                    input id=(IDLE_FIELD) type="number" name=(IDLE_FIELD) value=(idle) required
                        min=(SessionLimits::IDLE_MINUTES.start()) max=(SessionLimits::IDLE_MINUTES.end());
                    (field_problem(problem, IDLE_FIELD))
                    label for=(LIFETIME_FIELD) { "Sign out this many hours after signing in, whatever the use" }
                    input id=(LIFETIME_FIELD) type="number" name=(LIFETIME_FIELD) value=(lifetime) required
                        min=(SessionLimits::LIFETIME_HOURS.start()) max=(SessionLimits::LIFETIME_HOURS.end());
                    (field_problem(problem, LIFETIME_FIELD))
                    p.hint { "Sessions already open follow the new limits at once." }
                    button.primary type="submit" { "Save" }
                }
            },
        )
    });
    Ok(html_response(status, markup))
}

/// `GET /admin/sign-in`: the settings and their forms.
pub async fn show(
    SignedIn(member): SignedIn,
    session: Session,
    request: HttpRequest,
    state: web::Data<AppState>,
) -> Result<HttpResponse, PageError> {
    require_role(&member, &[Role::Admin])?;
    let saved = Fields::from_query(request.query_string())
        .get("saved")
        .is_some();
    render(&member, &session, &state, StatusCode::OK, saved, None).await
}

/// `POST /admin/sign-in/sessions`: saves how long sessions last (audited), or shows the form
/// again with the problem at its field.
pub async fn save_sessions(
    SignedIn(member): SignedIn,
    session: Session,
    form: CsrfForm<Fields>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, PageError> {
    require_role(&member, &[Role::Admin])?;
    let values = form.0;
    let number = |field: &str| {
        values
            .raw(field)
            .trim()
            .parse::<i32>()
            .map_err(|_| Error::invalid(field, "type a whole number"))
    };
    let checked = number(IDLE_FIELD)
        .and_then(|idle| Ok((idle, number(LIFETIME_FIELD)?)))
        .and_then(|(idle, lifetime)| SessionLimits::new(idle, lifetime));
    let limits = match checked {
        Ok(limits) => limits,
        Err(error) => {
            let (status, problem) = Problem::to_show_again(error)?;
            return render(
                &member,
                &session,
                &state,
                status,
                false,
                Some((&values, &problem)),
            )
            .await;
        }
    };
    let (school_id, actor) = (member.school_id, member.id);
    state
        .db
        .write(move |conn| {
            sign_in::set_session_limits(conn, school_id, limits, actor, to_db_time(Utc::now()))
        })
        .await?;
    Ok(see_other("/admin/sign-in?saved=1"))
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
