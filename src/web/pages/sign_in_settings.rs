//! `/admin/sign-in`: the school's sign-in settings, kept by administrators: which roles must
//! confirm a password sign-in with an authenticator app (by default those who read SEN and
//! plan records: SENDCO, senior leaders and administrators), and how long sessions last.

use chrono::Utc;
use maud::{html, Markup};

use super::form::{problem_summary, Fields, Form};
use super::form_page::{FormPage, PageResult, Visit};
use super::layout::csrf_field;
use crate::db::staff::StaffMember;
use crate::db::{second_factor, sign_in, to_db_time, DbConnection};
use crate::domain::sign_in::SessionLimits;
use crate::domain::Role;
use crate::error::{Error, Result};
use crate::web::auth::{require_role, CsrfForm};

/// The form field naming each role that must use a second factor (repeated).
const ROLES_FIELD: &str = "mfa_roles";
/// The form fields of the session limits.
const IDLE_FIELD: &str = "session_idle_minutes";
const LIFETIME_FIELD: &str = "session_lifetime_hours";

/// Who keeps the settings.
const KEEPERS: [Role; 1] = [Role::Admin];

/// The settings as stored.
struct SignInSettings {
    required: Vec<Role>,
    limits: SessionLimits,
}

impl FormPage for SignInSettings {
    type Key = ();
    const TITLE: &'static str = "Sign-in settings";

    fn load(conn: &mut DbConnection, member: &StaffMember, _: ()) -> Result<Self> {
        require_role(member, &KEEPERS)?;
        Ok(SignInSettings {
            required: second_factor::required_roles(conn, member.school_id)?,
            limits: sign_in::session_limits(conn, member.school_id)?,
        })
    }

    fn first_values(&self, _member: &StaffMember, _query: &Fields) -> Fields {
        Fields::from_pairs([
            (IDLE_FIELD, self.limits.idle_minutes.to_string()),
            (LIFETIME_FIELD, self.limits.lifetime_hours.to_string()),
        ])
    }

    fn notice(query: &Fields) -> Option<String> {
        query.get("saved").map(|_| "Saved.".to_string())
    }

    fn render(&self, form: &Form, notice: Option<&str>, csrf: &str) -> Markup {
        render(&self.required, form, notice, csrf)
    }
}

/// The page: the roles that must use an authenticator app, and the sessions form (as typed
/// when it comes back with a problem).
fn render(required: &[Role], form: &Form, notice: Option<&str>, csrf: &str) -> Markup {
    let (idle, lifetime) = (form.values.raw(IDLE_FIELD), form.values.raw(LIFETIME_FIELD));
    html! {
                h1 { "Sign-in settings" }
                @if let Some(notice) = notice { p.notice role="status" { (notice) } }
                h2 { "Authenticator app" }
                form.stack method="post" action="/admin/sign-in" {
                    (csrf_field(csrf))
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
                (problem_summary(form.problem(), &[IDLE_FIELD, LIFETIME_FIELD]))
                form.stack method="post" action="/admin/sign-in/sessions" {
                    (csrf_field(csrf))
                    label for=(IDLE_FIELD) { "Sign out after this many minutes unused" }
                    input id=(IDLE_FIELD) type="number" name=(IDLE_FIELD) value=(idle) required
                        min=(SessionLimits::IDLE_MINUTES.start()) max=(SessionLimits::IDLE_MINUTES.end());
                    (form.problem_at(IDLE_FIELD))
                    label for=(LIFETIME_FIELD) { "Sign out this many hours after signing in, whatever the use" }
                    input id=(LIFETIME_FIELD) type="number" name=(LIFETIME_FIELD) value=(lifetime) required
                        min=(SessionLimits::LIFETIME_HOURS.start()) max=(SessionLimits::LIFETIME_HOURS.end());
                    (form.problem_at(LIFETIME_FIELD))
                    p.hint { "Sessions already open follow the new limits at once." }
                    button.primary type="submit" { "Save" }
                }
    }
}

/// `GET /admin/sign-in`: the settings and their forms.
pub async fn show(visit: Visit) -> PageResult {
    visit.show::<SignInSettings>(()).await
}

/// `POST /admin/sign-in/sessions`: saves how long sessions last (audited), or shows the form
/// again with the problem at its field.
pub async fn save_sessions(visit: Visit, form: CsrfForm<Fields>) -> PageResult {
    require_role(&visit.member, &KEEPERS)?;
    let typed = form.0;
    let number = |field: &str| {
        typed
            .raw(field)
            .trim()
            .parse::<i32>()
            .map_err(|_| Error::invalid(field, "type a whole number"))
    };
    let (idle, lifetime) = (number(IDLE_FIELD), number(LIFETIME_FIELD));
    visit
        .submit::<SignInSettings, _, _>((), typed, Ok(()), move |conn, by, _, ()| {
            let limits = SessionLimits::new(idle?, lifetime?)?;
            let at = to_db_time(Utc::now());
            sign_in::set_session_limits(conn, by.school_id, limits, by.id, at)?;
            Ok("/admin/sign-in?saved=1".to_string())
        })
        .await
}

/// `POST /admin/sign-in`: saves the settings (audited).
pub async fn save(visit: Visit, form: CsrfForm<Fields>) -> PageResult {
    require_role(&visit.member, &KEEPERS)?;
    let roles = form
        .0
        .all(ROLES_FIELD)
        .map(|name| Role::parse(name).map_err(|e| Error::invalid(ROLES_FIELD, e.to_string())))
        .collect::<Result<Vec<Role>>>()?;
    visit
        .submit::<SignInSettings, _, _>((), form.0, Ok(roles), |conn, by, _, roles| {
            let by_whom = Some(by.id);
            second_factor::set_required_roles(conn, by.school_id, &roles, by_whom, Utc::now())?;
            Ok("/admin/sign-in?saved=1".to_string())
        })
        .await
}
