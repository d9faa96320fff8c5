//! `/admin/retention`: the school's retention schedule, how long each kind of record is kept,
//! kept by administrators and read by senior leaders; and, before anything goes, the list of
//! what has expired today by pupil (UPN) and kind of record: what the daily jobs and
//! `steadfast retention` erase next.

use actix_session::Session;
use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use chrono::Utc;
use maud::html;

use super::form::{field_problem, html_response, problem_summary, see_other, Fields, Problem};
use super::layout::{csrf_field, page};
use super::with_viewer;
use crate::db::retention::{self, Expired};
use crate::db::staff::StaffMember;
use crate::domain::calendar::SchoolCalendar;
use crate::domain::retention::{Measure, RecordKind, Schedule};
use crate::domain::Role;
use crate::web::auth::{require_role, CsrfForm, SignedIn};
use crate::web::error::PageError;
use crate::web::AppState;

/// Who keeps the schedule.
const KEEPERS: [Role; 1] = [Role::Admin];
/// Who may read it and the list of what goes.
const READERS: [Role; 2] = [Role::Admin, Role::Slt];

/// What the page says of a period.
fn period_words(kind: RecordKind) -> &'static str {
    match kind.measure() {
        Measure::UntilBirthday => "until the pupil's birthday of this age, once they have left",
        Measure::YearsAfterWritten => "years after it was written",
    }
}

/// Renders the page: the schedule as stored (or as typed, with its problem) and the list.
async fn render(
    member: &StaffMember,
    session: &Session,
    state: &AppState,
    status: StatusCode,
    saved: bool,
    typed: Option<(&Fields, &Problem)>,
) -> Result<HttpResponse, PageError> {
    let school_id = member.school_id;
    let today = SchoolCalendar::local_date(Utc::now());
    let (schedule, expired) = state
        .db
        .transaction(move |conn| {
            Ok((
                retention::schedule(conn, school_id)?,
                retention::expired_in_school(conn, school_id, today)?,
            ))
        })
        .await?;
    let may_edit = member.has_any_role(&KEEPERS);
    let problem = typed.map(|(_, problem)| problem);
    let fields: Vec<&str> = RecordKind::ALL.iter().map(|k| k.as_str()).collect();
    let value = |kind: RecordKind| match typed {
        Some((values, _)) => values.raw(kind.as_str()).to_string(),
        None => schedule.years(kind).to_string(),
    };
    let markup = with_viewer(member, session, |viewer| {
        page(
            "Retention",
            viewer,
            html! {
                h1 { "Retention" }
                @if saved { p.notice role="status" { "Saved." } }
                p {
                    "How long Steadfast keeps each kind of record. The daily jobs erase what has expired: "
                    "the records of pupils who have left, and audit entries and emails past their age. "
                    "The records of a pupil on roll are never erased. The defaults follow the IRMS toolkit for schools."
                }
                p.hint #no-birth-date {
                    "When a pupil's date of birth is not recorded, Steadfast takes the latest birth date their year group when they left allows, "
                    "and a year later still for a pupil taught above their age, so their records are kept longer, never shorter."
                }
                p.hint {
                    "Before a pupil's records go, what the Insight reports count of them is kept without the pupil, "
                    "so the school's figures for past terms stay the same."
                }
                (problem_summary(problem, &fields))
                form.stack method="post" action="/admin/retention" {
                    (csrf_field(viewer.csrf))
                    table.retention-schedule {
                        thead { tr { th { "Record" } th { "Kept" } th { "Default" } } }
                        tbody {
                            @for kind in RecordKind::ALL {
                                @let allowed = kind.allowed_years();
                                tr {
                                    td { label for=(kind.as_str()) { (kind.title()) } }
                                    td {
                                        input id=(kind.as_str()) type="number" name=(kind.as_str()) value=(value(kind))
                                            min=(allowed.start()) max=(allowed.end()) required disabled[!may_edit];
                                        " " span.hint { (period_words(kind)) }
                                        (field_problem(problem, kind.as_str()))
                                    }
                                    td { (kind.default_years()) }
                                }
                            }
                        }
                    }
                    @if may_edit {
                        button.primary type="submit" { "Save" }
                    } @else {
                        p.muted { "Administrators change the schedule." }
                    }
                }
                h2 { "What goes next" }
                (expired_list(&expired))
            },
        )
    });
    Ok(html_response(status, markup))
}

/// The list of what has expired today, by pupil and kind of record.
fn expired_list(expired: &[Expired]) -> maud::Markup {
    html! {
        @if expired.is_empty() {
            p.muted #nothing-expired { "Nothing has expired today." }
        } @else {
            p { "The next run of the daily jobs erases these:" }
            div.scroll tabindex="0" role="region" aria-label="Records to erase" {
                table #expired {
                    thead { tr { th { "Pupil (UPN)" } th { "Record" } th.num { "How many" } } }
                    tbody {
                        @for line in expired {
                            tr {
                                td { (line.upn.as_deref().unwrap_or("Every pupil and member of staff")) }
                                td { (line.kind.title()) }
                                td.num { (line.count) }
                            }
                        }
                    }
                }
            }
        }
    }
}

/// `GET /admin/retention`: the schedule and what goes next.
pub async fn show(
    SignedIn(member): SignedIn,
    session: Session,
    request: HttpRequest,
    state: web::Data<AppState>,
) -> Result<HttpResponse, PageError> {
    require_role(&member, &READERS)?;
    let saved = Fields::from_query(request.query_string())
        .get("saved")
        .is_some();
    render(&member, &session, &state, StatusCode::OK, saved, None).await
}

/// `POST /admin/retention`: saves the schedule (audited), or shows the form again with the
/// problem at its field.
pub async fn save(
    SignedIn(member): SignedIn,
    session: Session,
    form: CsrfForm<Fields>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, PageError> {
    require_role(&member, &KEEPERS)?;
    let values = form.0;
    let school_id = member.school_id;
    let current = state
        .db
        .transaction(move |conn| retention::schedule(conn, school_id))
        .await?;
    let schedule = match Schedule::parse(&current, |name| Some(values.raw(name))) {
        Ok(schedule) => schedule,
        Err(problem) => {
            let problem = Problem::from(problem);
            return render(
                &member,
                &session,
                &state,
                StatusCode::UNPROCESSABLE_ENTITY,
                false,
                Some((&values, &problem)),
            )
            .await;
        }
    };
    let actor = member.id;
    state
        .db
        .write(move |conn| retention::save_schedule(conn, school_id, &schedule, actor, Utc::now()))
        .await?;
    Ok(see_other("/admin/retention?saved=1"))
}
