//! The school's timetable, kept by administrators and senior leaders: each weekday's lesson
//! periods (name, start, end), on one week or a two-week timetable. The incident form offers
//! the period it is now, and the pattern reports group incidents by these periods.

use actix_session::Session;
use actix_web::http::StatusCode;
use actix_web::{web, HttpResponse};
use chrono::Utc;
use maud::{html, Markup};

use super::form::{field_problem, html_response, problem_summary, see_other, Fields, Problem};
use super::layout::{csrf_field, page};
use super::with_viewer;
use crate::db::audit::{self, AuditEntry};
use crate::db::staff::StaffMember;
use crate::db::{timetable, to_db_time};
use crate::domain::timetable::{
    parse_week_a, Day, PeriodDraft, Timetable, TimetableError, MAX_NAME_CHARS, MAX_PERIODS_PER_DAY,
};
use crate::domain::Role;
use crate::error::{Error, Result};
use crate::web::auth::{require_role, CsrfForm, SignedIn};
use crate::web::error::PageError;
use crate::web::AppState;

/// The roles that keep the timetable.
const KEEPERS: [Role; 2] = [Role::Admin, Role::Slt];

/// Most rows read from one day's form: a day holds at most [`MAX_PERIODS_PER_DAY`], and the
/// rows beyond are read only to say so.
const MAX_ROWS_READ: usize = 2 * MAX_PERIODS_PER_DAY;

/// Blank rows offered under a day's periods, to add more.
const SPARE_ROWS: usize = 2;

/// Which form a problem belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Target {
    /// One day's periods.
    Day(Day),
    /// One week or two.
    Weeks,
}

/// The timetable as the page shows it, and whether it is the school's own.
struct Shown {
    timetable: Timetable,
    own: bool,
}

/// The rows typed for a day: `name_N`, `starts_N`, `ends_N` for N from 1.
fn drafts(values: &Fields) -> Vec<PeriodDraft> {
    let mut rows: Vec<PeriodDraft> = (1..=MAX_ROWS_READ)
        .map(|i| PeriodDraft {
            name: values.raw(&format!("name_{i}")).to_string(),
            starts: values.raw(&format!("starts_{i}")).to_string(),
            ends: values.raw(&format!("ends_{i}")).to_string(),
        })
        .collect();
    while rows.last().is_some_and(|r| *r == PeriodDraft::default()) {
        rows.pop();
    }
    rows
}

/// The rows a day's form shows: the periods stored, or what was typed when the form comes
/// back with a problem; then a few blank rows, up to the most a day holds.
fn rows_shown(shown: &Timetable, day: Day, typed: Option<&Fields>) -> Vec<PeriodDraft> {
    let mut rows: Vec<PeriodDraft> = match typed {
        Some(values) => drafts(values),
        None => shown
            .periods(day)
            .iter()
            .map(|p| PeriodDraft {
                name: p.name.clone(),
                starts: p.starts.format("%H:%M").to_string(),
                ends: p.ends.format("%H:%M").to_string(),
            })
            .collect(),
    };
    let wanted = (rows.len() + SPARE_ROWS)
        .min(MAX_PERIODS_PER_DAY)
        .max(rows.len());
    rows.resize(wanted, PeriodDraft::default());
    rows
}

fn render_day(
    shown: &Timetable,
    day: Day,
    problem: Option<(Target, &Problem)>,
    values: &Fields,
    csrf: &str,
) -> Markup {
    let own = problem
        .filter(|(t, _)| *t == Target::Day(day))
        .map(|(_, p)| p);
    let rows = rows_shown(shown, day, own.map(|_| values));
    let key = day.key();
    let fields: Vec<String> = (1..=rows.len())
        .flat_map(|i| {
            [
                format!("name_{i}"),
                format!("starts_{i}"),
                format!("ends_{i}"),
            ]
        })
        .collect();
    let field_names: Vec<&str> = fields.iter().map(String::as_str).collect();
    html! {
        section.card.timetable-day id={ "day-" (key) } {
            h2 { (day.title()) }
            form.stack method="post" action="/admin/timetable/day" {
                (csrf_field(csrf))
                input type="hidden" name="day" value=(key);
                (problem_summary(own, &field_names))
                table.periods {
                    thead { tr { th { "Period" } th { "Starts" } th { "Ends" } } }
                    tbody {
                        @for (i, row) in rows.iter().enumerate() {
                            @let n = i + 1;
                            tr {
                                td {
                                    label.visually-hidden for={ (key) "-name-" (n) } { "Name of period " (n) }
                                    input id={ (key) "-name-" (n) } type="text" name={ "name_" (n) }
                                        maxlength=(MAX_NAME_CHARS) value=(row.name);
                                    @if own.is_some() { (field_problem(own, &format!("name_{n}"))) }
                                }
                                td {
                                    label.visually-hidden for={ (key) "-starts-" (n) } { "Start of period " (n) }
                                    input id={ (key) "-starts-" (n) } type="time" name={ "starts_" (n) } value=(row.starts);
                                    @if own.is_some() { (field_problem(own, &format!("starts_{n}"))) }
                                }
                                td {
                                    label.visually-hidden for={ (key) "-ends-" (n) } { "End of period " (n) }
                                    input id={ (key) "-ends-" (n) } type="time" name={ "ends_" (n) } value=(row.ends);
                                    @if own.is_some() { (field_problem(own, &format!("ends_{n}"))) }
                                }
                            }
                        }
                    }
                }
                p.hint { "Clear a row to remove its period; fill a blank row to add one. At most " (MAX_PERIODS_PER_DAY) " periods a day." }
                button type="submit" { "Save " (day.title()) }
            }
        }
    }
}

fn render(
    shown: &Shown,
    problem: Option<(Target, &Problem)>,
    values: &Fields,
    csrf: &str,
) -> Markup {
    let timetable = &shown.timetable;
    let weeks_problem = problem.filter(|(t, _)| *t == Target::Weeks).map(|(_, p)| p);
    let two_weeks = match weeks_problem {
        Some(_) => values.get("two_weeks").is_some(),
        None => timetable.is_two_weekly(),
    };
    let week_a = match weeks_problem {
        Some(_) => values.raw("week_a").to_string(),
        None => timetable
            .week_a()
            .map(|d| d.to_string())
            .unwrap_or_default(),
    };
    html! {
        h1 { "Timetable" }
        p.muted {
            "The school's lesson periods. The incident form offers the period it is now, and the "
            "incident patterns are grouped by these periods (times in London time)."
        }
        @if shown.own {
            form.inline method="post" action="/admin/timetable/reset" {
                (csrf_field(csrf))
                p #own-timetable { "This is your school's own timetable. "
                    button type="submit" { "Use the standard periods again" }
                }
            }
        } @else {
            p.notice #standard-timetable {
                "These are the standard periods, Period 1 to Period 6 with a break and lunch. "
                "Save a day to make the timetable your school's own."
            }
        }
        section.card #weeks {
            h2 { "One week or two" }
            form.stack method="post" action="/admin/timetable/weeks" {
                (csrf_field(csrf))
                (problem_summary(weeks_problem, &["week_a"]))
                label.choice {
                    input type="checkbox" name="two_weeks" value="on" checked[two_weeks];
                    " A two-week timetable (week A and week B)"
                }
                label for="week_a" { "A Monday of week A" }
                input #week_a type="date" name="week_a" value=(week_a) aria-describedby="error-week_a";
                (field_problem(weeks_problem, "week_a"))
                p.hint {
                    "Weeks alternate from this week, holidays included. Going to two weeks, both weeks "
                    "start as the one week is; going back to one, week A's periods are kept."
                }
                button type="submit" { "Save" }
            }
        }
        @for day in timetable.days() {
            (render_day(timetable, day, problem, values, csrf))
        }
    }
}

async fn load(state: &AppState, school_id: i64) -> Result<Shown> {
    state
        .db
        .transaction(move |conn| {
            Ok(Shown {
                timetable: timetable::load(conn, school_id)?,
                own: timetable::is_own(conn, school_id)?,
            })
        })
        .await
}

fn show_page(
    member: &StaffMember,
    session: &Session,
    status: StatusCode,
    shown: &Shown,
    problem: Option<(Target, &Problem)>,
    values: &Fields,
) -> HttpResponse {
    let markup = with_viewer(member, session, |viewer| {
        page(
            "Timetable",
            viewer,
            render(shown, problem, values, viewer.csrf),
        )
    });
    html_response(status, markup)
}

/// `GET /admin/timetable`: each day's periods, with a form for each and one for the weeks.
pub async fn show(
    SignedIn(member): SignedIn,
    session: Session,
    state: web::Data<AppState>,
) -> Result<HttpResponse, PageError> {
    require_role(&member, &KEEPERS)?;
    let shown = load(&state, member.school_id).await?;
    Ok(show_page(
        &member,
        &session,
        StatusCode::OK,
        &shown,
        None,
        &Fields::default(),
    ))
}

/// A timetable problem as the application's error, at its field.
fn timetable_error(error: TimetableError) -> Error {
    Error::invalid(&error.field(), error.to_string())
}

/// What a change does to the timetable.
enum Change {
    Day(Day, Vec<PeriodDraft>),
    Weeks(Option<chrono::NaiveDate>),
    Reset,
}

/// Runs a change to the timetable in one transaction, audited, then shows the timetable
/// again (a problem in its form, with what was typed).
async fn change(
    member: StaffMember,
    session: Session,
    state: web::Data<AppState>,
    target: Target,
    change: Result<Change>,
    values: Fields,
) -> Result<HttpResponse, PageError> {
    let (school_id, actor) = (member.school_id, member.id);
    let outcome = match change {
        Err(error) => Err(error),
        Ok(change) => {
            state
                .db
                .write(move |conn| {
                    let now = Utc::now();
                    let current = timetable::lock(conn, school_id)?;
                    let (action, detail) = match change {
                        Change::Day(day, rows) => {
                            let next = current.with_day(day, &rows).map_err(timetable_error)?;
                            timetable::save(conn, school_id, &next, now)?;
                            (
                                "timetable.day",
                                format!("day: {}, periods: {}", day.key(), next.periods(day).len()),
                            )
                        }
                        Change::Weeks(week_a) => {
                            let next = current.with_weeks(week_a);
                            timetable::save(conn, school_id, &next, now)?;
                            (
                                "timetable.weeks",
                                match week_a {
                                    Some(_) => "two weeks".to_string(),
                                    None => "one week".to_string(),
                                },
                            )
                        }
                        Change::Reset => {
                            timetable::reset(conn, school_id)?;
                            ("timetable.reset", "standard periods".to_string())
                        }
                    };
                    audit::record(
                        conn,
                        AuditEntry {
                            school_id,
                            actor_id: Some(actor),
                            action,
                            entity: "timetable",
                            entity_id: None,
                            detail,
                            at: to_db_time(now),
                        },
                    )
                })
                .await
        }
    };
    match outcome {
        Ok(()) => Ok(see_other(&match target {
            Target::Day(day) => format!("/admin/timetable#day-{}", day.key()),
            Target::Weeks => "/admin/timetable#weeks".to_string(),
        })),
        Err(error) => {
            let (status, problem) = Problem::to_show_again(error)?;
            let shown = load(&state, member.school_id).await?;
            Ok(show_page(
                &member,
                &session,
                status,
                &shown,
                Some((target, &problem)),
                &values,
            ))
        }
    }
}

/// `POST /admin/timetable/day`: replaces one day's periods (`day` = `mon`…`fri`, or `mon-a`…
/// `fri-b` on a two-week timetable) with the rows typed.
pub async fn save_day(
    SignedIn(member): SignedIn,
    session: Session,
    form: CsrfForm<Fields>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, PageError> {
    require_role(&member, &KEEPERS)?;
    let values = form.0;
    let day = Day::parse_key(values.raw("day"))
        .ok_or_else(|| Error::invalid("day", "choose a day of the timetable"))?;
    let rows = drafts(&values);
    change(
        member,
        session,
        state,
        Target::Day(day),
        Ok(Change::Day(day, rows)),
        values,
    )
    .await
}

/// `POST /admin/timetable/weeks`: one week, or two weeks alternating from `week_a`.
pub async fn save_weeks(
    SignedIn(member): SignedIn,
    session: Session,
    form: CsrfForm<Fields>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, PageError> {
    require_role(&member, &KEEPERS)?;
    let values = form.0;
    let week_a = parse_week_a(values.get("two_weeks").is_some(), values.raw("week_a"))
        .map(Change::Weeks)
        .map_err(timetable_error);
    change(member, session, state, Target::Weeks, week_a, values).await
}

/// `POST /admin/timetable/reset`: forgets the school's own periods for the standard ones.
pub async fn reset(
    SignedIn(member): SignedIn,
    session: Session,
    form: CsrfForm<Fields>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, PageError> {
    require_role(&member, &KEEPERS)?;
    change(
        member,
        session,
        state,
        Target::Weeks,
        Ok(Change::Reset),
        form.0,
    )
    .await
}
