//! The school's timetable, kept by administrators and senior leaders: each weekday's lesson
//! periods (name, start, end), on one week or a two-week timetable. The incident form offers
//! the period it is now, and the pattern reports group incidents by these periods.

use chrono::Utc;
use maud::{html, Markup};

use super::form::{field_problem, problem_summary, Fields, Form, Problem};
use super::form_page::{FormPage, PageResult, Visit};
use super::layout::csrf_field;
use crate::db::audit;
use crate::db::staff::StaffMember;
use crate::db::{timetable, DbConnection};
use crate::domain::timetable::{
    parse_week_a, Day, PeriodDraft, Timetable, TimetableError, MAX_NAME_CHARS, MAX_PERIODS_PER_DAY,
};
use crate::domain::Role;
use crate::error::{Error, Result};
use crate::web::auth::{require_role, CsrfForm};

/// The roles that keep the timetable.
const KEEPERS: [Role; 2] = [Role::Admin, Role::Slt];

/// Most rows read from one day's form: a day holds at most [`MAX_PERIODS_PER_DAY`], and the
/// rows beyond are read only to say so.
const MAX_ROWS_READ: usize = 2 * MAX_PERIODS_PER_DAY;

/// Blank rows offered under a day's periods, to add more.
const SPARE_ROWS: usize = 2;

/// The form choosing one week or two (its name on the page).
const WEEKS_FORM: &str = "weeks";

/// The name on the page of the form of `day`'s periods.
fn day_form(day: Day) -> String {
    format!("day-{}", day.key())
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

fn render_day(shown: &Timetable, day: Day, form: &Form, csrf: &str) -> Markup {
    let own = form.problem_of(&day_form(day));
    let rows = rows_shown(shown, day, own.map(|_| &form.values));
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

fn render(shown: &Shown, form: &Form, csrf: &str) -> Markup {
    let timetable = &shown.timetable;
    let weeks_problem = form.problem_of(WEEKS_FORM);
    let two_weeks = match weeks_problem {
        Some(_) => form.values.get("two_weeks").is_some(),
        None => timetable.is_two_weekly(),
    };
    let week_a = match weeks_problem {
        Some(_) => form.values.raw("week_a").to_string(),
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
            (render_day(timetable, day, form, csrf))
        }
    }
}

impl FormPage for Shown {
    type Key = ();
    const TITLE: &'static str = "Timetable";

    fn load(conn: &mut DbConnection, member: &StaffMember, _: ()) -> Result<Self> {
        require_role(member, &KEEPERS)?;
        Ok(Shown {
            timetable: timetable::load(conn, member.school_id)?,
            own: timetable::is_own(conn, member.school_id)?,
        })
    }

    fn render(&self, form: &Form, _notice: Option<&str>, csrf: &str) -> Markup {
        render(self, form, csrf)
    }
}

/// `GET /admin/timetable`: each day's periods, with a form for each and one for the weeks.
pub async fn show(visit: Visit) -> PageResult {
    visit.show::<Shown>(()).await
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

/// Runs a change to the timetable in one write, audited, then shows the timetable again
/// (a problem in the form `sent`, with what was typed).
async fn change(
    visit: Visit,
    sent: String,
    typed: Fields,
    read: std::result::Result<Change, Problem>,
) -> PageResult {
    require_role(&visit.member, &KEEPERS)?;
    let location = format!("/admin/timetable#{sent}");
    let (db, school_id) = (visit.state.db.clone(), visit.member.school_id);
    let answer = visit
        .submit_to::<Shown, _, _>((), Some(sent), typed, read, move |conn, by, _, change| {
            let (school_id, now) = (by.school_id, Utc::now());
            let current = timetable::lock(conn, school_id)?;
            let (action, detail) = match change {
                Change::Day(day, rows) => {
                    let next = current.with_day(day, &rows).map_err(timetable_error)?;
                    timetable::save(conn, school_id, &next, now)?;
                    let periods = next.periods(day).len();
                    (
                        "timetable.day",
                        format!("day: {}, periods: {periods}", day.key()),
                    )
                }
                Change::Weeks(week_a) => {
                    let next = current.with_weeks(week_a);
                    timetable::save(conn, school_id, &next, now)?;
                    let weeks = if week_a.is_some() {
                        "two weeks"
                    } else {
                        "one week"
                    };
                    ("timetable.weeks", weeks.to_string())
                }
                Change::Reset => {
                    timetable::reset(conn, school_id)?;
                    ("timetable.reset", "standard periods".to_string())
                }
            };
            audit::record_by(conn, by, action, "timetable", None, detail)?;
            Ok(location)
        })
        .await;
    // Incidents logged from now on are grouped by the new periods.
    db.rules().forget(school_id);
    answer
}

/// `POST /admin/timetable/day`: replaces one day's periods (`day` = `mon`…`fri`, or `mon-a`…
/// `fri-b` on a two-week timetable) with the rows typed.
pub async fn save_day(visit: Visit, form: CsrfForm<Fields>) -> PageResult {
    require_role(&visit.member, &KEEPERS)?;
    let typed = form.0;
    let day = Day::parse_key(typed.raw("day"))
        .ok_or_else(|| Error::invalid("day", "choose a day of the timetable"))?;
    let rows = drafts(&typed);
    change(visit, day_form(day), typed, Ok(Change::Day(day, rows))).await
}

/// `POST /admin/timetable/weeks`: one week, or two weeks alternating from `week_a`.
pub async fn save_weeks(visit: Visit, form: CsrfForm<Fields>) -> PageResult {
    let typed = form.0;
    let week_a = parse_week_a(typed.get("two_weeks").is_some(), typed.raw("week_a"))
        .map(Change::Weeks)
        .map_err(|error| Problem::at(&error.field(), error.to_string()));
    change(visit, WEEKS_FORM.to_string(), typed, week_a).await
}

/// `POST /admin/timetable/reset`: forgets the school's own periods for the standard ones.
pub async fn reset(visit: Visit, form: CsrfForm<Fields>) -> PageResult {
    change(visit, WEEKS_FORM.to_string(), form.0, Ok(Change::Reset)).await
}
