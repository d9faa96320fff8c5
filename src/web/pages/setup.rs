//! Getting started. On an installation with no school, `/setup` (opened with the one-time
//! link `steadfast serve` prints) creates the school and its first administrator; then the
//! administrator's home page walks them through bringing the school in, in order (staff,
//! pupils, calendar, timetable, behaviours, policy), each step showing whether it is done.

use actix_session::Session;
use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use chrono::Utc;
use maud::{html, Markup};

use super::form::{field_problem, html_response, see_other, Fields, Problem};
use super::layout::{csrf_field, public_page};
use crate::accounts;
use crate::db::setup::{self, Progress, Reviewed};
use crate::db::staff::StaffMember;
use crate::domain::details::{EmailAddress, PersonName, SchoolCode};
use crate::domain::Role;
use crate::error::{Error, Result};
use crate::web::auth::{csrf_token, require_role, sign_in, CsrfForm, SignedIn};
use crate::web::error::PageError;
use crate::web::AppState;

/// The fields of the setup form, in order.
const FIELDS: [&str; 6] = ["code", "school", "name", "email", "password", "again"];

/// `GET /setup?token=`: the form that creates the school and its first administrator.
pub async fn show(
    session: Session,
    query: web::Query<Fields>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, PageError> {
    if state.db.transaction(crate::db::schools::count).await? > 0 {
        return Ok(see_other("/login"));
    }
    let token = query.get("token").unwrap_or_default().to_string();
    if !accounts::setup_token_matches(&state.settings.data_dir, &token) {
        return Ok(html_response(StatusCode::FORBIDDEN, link_needed(&state)));
    }
    Ok(html_response(
        StatusCode::OK,
        form(&csrf_token(&session), &token, &Fields::default(), None),
    ))
}

/// `POST /setup`: creates the school and its administrator, signs them in and takes them
/// to their home page; the form again with the problem at its field otherwise.
pub async fn submit(
    session: Session,
    request: HttpRequest,
    form_fields: CsrfForm<Fields>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, PageError> {
    let values = form_fields.0;
    let token = values.raw("token").to_string();
    if !accounts::setup_token_matches(&state.settings.data_dir, &token) {
        return Ok(html_response(StatusCode::FORBIDDEN, link_needed(&state)));
    }
    let read = read_form(&values);
    let outcome = match read {
        Ok((code, school, name, email, hash)) => {
            state
                .db
                .write(move |conn| {
                    setup::first_school(conn, &code, &school, &email, &name, hash, Utc::now())
                })
                .await
        }
        Err(error) => Err(error),
    };
    match outcome {
        Ok((school, admin)) => {
            accounts::forget_setup_token(&state.settings.data_dir);
            sign_in(&session, &request, admin.id, school.id)?;
            Ok(see_other("/"))
        }
        Err(error) => {
            let (status, problem) = Problem::of_refusal(error)?;
            Ok(html_response(
                status,
                form(&csrf_token(&session), &token, &values, Some(&problem)),
            ))
        }
    }
}

type FirstSchool = (SchoolCode, String, PersonName, EmailAddress, String);

/// Reads the setup form into checked values, with the password hashed.
fn read_form(values: &Fields) -> Result<FirstSchool> {
    let code = SchoolCode::parse(values.raw("code"))?;
    let school = values.raw("school").trim().to_string();
    if school.is_empty() || school.chars().count() > 200 {
        return Err(Error::invalid(
            "school",
            "a school name is 1 to 200 characters",
        ));
    }
    let name = PersonName::parse("name", values.raw("name"))?;
    let email =
        EmailAddress::parse(values.raw("email")).map_err(|e| Error::invalid("email", e.message))?;
    let password = values.raw("password");
    accounts::check_new_password(password, &[name.as_str(), email.as_str()])?;
    if values.raw("again") != password {
        return Err(Error::invalid("again", "the two passwords differ"));
    }
    let hash = accounts::hash_password(password)?;
    Ok((code, school, name, email, hash))
}

fn form(csrf: &str, token: &str, values: &Fields, problem: Option<&Problem>) -> Markup {
    let input = |field: &'static str,
                 label: &'static str,
                 kind: &'static str,
                 hint: &'static str| {
        html! {
            label for=(field) { (label) }
            @if !hint.is_empty() { p.hint { (hint) } }
            input id=(field) name=(field) type=(kind) required
                value=(if kind == "password" { "" } else { values.raw(field) })
                autocomplete=(match field { "email" => "username", "password" | "again" => "new-password", _ => "off" });
            (field_problem(problem, field))
        }
    };
    public_page(
        "Set up your school",
        html! {
            h1 { "Set up your school" }
            p { "This creates your school and your own administrator account. You then bring in staff, pupils and the calendar from the files your MIS exports." }
            form.stack method="post" action="/setup" {
                (csrf_field(csrf))
                input type="hidden" name="token" value=(token);
                (input(FIELDS[0], "School code", "text", "A short code for the school, such as NORTH or 8201234 (letters, digits or dashes)."))
                (input(FIELDS[1], "School name", "text", ""))
                (input(FIELDS[2], "Your name", "text", ""))
                (input(FIELDS[3], "Your email", "email", "You sign in with it."))
                (input(FIELDS[4], "Password", "password", "At least 10 characters: a few unrelated words make a good one."))
                (input(FIELDS[5], "Password again", "password", ""))
                button.primary type="submit" { "Create the school" }
            }
        },
    )
}

/// The page shown without the one-time link.
fn link_needed(state: &AppState) -> Markup {
    public_page(
        "Set up your school",
        html! {
            h1 { "Set up your school" }
            p { "Open the set-up link that " code { "steadfast serve" } " printed when it started. It is also kept, readable only by Steadfast's own user, in the file:" }
            pre { code { (state.settings.data_dir.join("setup.token").display()) } }
            p { "Add it to this address as " code { "/setup?token=…" } ". Or try Steadfast with its demo school first: run " code { "steadfast demo" } "." }
        },
    )
}

/// The getting-started checklist an administrator sees until every step is done.
pub fn checklist(progress: &Progress, csrf: &str) -> Markup {
    let steps: [(&str, bool, &str, &str, Option<Reviewed>); 7] = [
        ("Your school", true, "/", "Created.", None),
        ("Staff", progress.staff, "/admin/import?kind=staff", "Bring in staff from a CSV file and send their invitations, or add them one by one on the Staff page.", None),
        ("Pupils", progress.pupils, "/admin/import?kind=pupils", "Bring in the roll from your MIS: a CSV report (SIMS, Arbor, Bromcom) or a OneRoster bundle.", None),
        ("Calendar", progress.calendar, "/admin/calendar", "Term dates, half terms and INSET days: every count of school days follows them. Import your local authority's .ics file or enter them.", None),
        ("Timetable", progress.timetable, "/admin/timetable", "Your lesson periods, so the incident form and the pattern reports use them.", None),
        ("Behaviours", progress.behaviours, "/admin/behaviours", "The list staff choose from when they log. History from your previous system can come in on the import page.", Some(Reviewed::Behaviours)),
        ("Escalation policy", progress.policy, "/admin/policy", "The figures behind each suggestion: how many prompts, in how many school days.", Some(Reviewed::Policy)),
    ];
    html! {
        section.card.getting-started {
            h2 { "Getting started" }
            ol.steps {
                @for (title, done, href, what, reviewed) in steps {
                    li.done[done] {
                        strong { a href=(href) { (title) } }
                        " " span.tag { @if done { "Done" } @else { "To do" } }
                        p.muted { (what) }
                        @if let (false, Some(step)) = (done, reviewed) {
                            form.inline method="post" action="/setup/reviewed" {
                                (csrf_field(csrf))
                                input type="hidden" name="step" value=(step.as_str());
                                button type="submit" { "The defaults suit us" }
                            }
                        }
                    }
                }
            }
        }
    }
}

/// `POST /setup/reviewed`: an administrator keeps the default behaviours or policy.
pub async fn reviewed(
    SignedIn(member): SignedIn,
    form_fields: CsrfForm<Fields>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, PageError> {
    require_role(&member, &[Role::Admin])?;
    let step = form_fields
        .0
        .get("step")
        .and_then(Reviewed::parse)
        .ok_or_else(|| Error::invalid("step", "unknown step"))?;
    let (school_id, actor) = (member.school_id, member.id);
    state
        .db
        .write(move |conn| setup::mark_reviewed(conn, school_id, actor, step, Utc::now()))
        .await?;
    Ok(see_other("/"))
}

/// The school's progress when `member` is an administrator and it is not yet complete.
pub async fn progress_for(state: &AppState, member: &StaffMember) -> Result<Option<Progress>> {
    if !member.has_role(Role::Admin) {
        return Ok(None);
    }
    let school_id = member.school_id;
    let progress = state
        .db
        .transaction(move |conn| setup::progress(conn, school_id))
        .await?;
    Ok((!progress.complete()).then_some(progress))
}
