//! The school calendar (`/admin/calendar`), kept by administrators and senior leaders: the
//! closures by date (holidays, half terms, bank holidays, INSET days), each editable and
//! removable, a form to add one, and a link to import a term-dates file. Every count in
//! school days follows the calendar: after a change, the meetings whose due date it moved
//! are listed with the dates before and after.

use actix_session::Session;
use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use chrono::{NaiveDate, Utc};
use maud::{html, Markup};

use super::form::{field_problem, html_response, see_other, Fields, Problem};
use super::layout::{csrf_field, page};
use super::with_viewer;
use crate::db::calendar::{self as closures, kind_word, MeetingNamed, CALENDAR_KEEPERS};
use crate::db::staff::StaffMember;
use crate::domain::calendar::{ClosureKind, MovedDueDate, SchoolCalendar};
use crate::domain::term_dates::{parse_closure, StoredClosure, MAX_CLOSURE_NAME_CHARS};
use crate::domain::words::{level_of, MeetingKind};
use crate::error::{Error, Result};
use crate::web::auth::{require_role, CsrfForm, SignedIn};
use crate::web::error::PageError;
use crate::web::AppState;

/// How many moved due dates a page lists after a change (the rest are counted).
const LISTED_MOVES: usize = 100;

/// Which form a problem belongs to: the new closure's, or one closure's.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Target {
    New,
    Existing(i64),
    Remove(i64),
}

/// What the last change did, as the page after it says.
#[derive(Debug, Clone, Default)]
struct Done {
    /// `added`, `saved` or `removed`.
    what: Option<String>,
    /// Each moved meeting with its due date before the change.
    moved: Vec<(i64, NaiveDate)>,
    /// Moved meetings not listed.
    more: usize,
}

impl Done {
    /// Reads `?done=added&moved=12-20251103,15-20251104&more=0`; anything unreadable is
    /// left out.
    fn from_query(query: &str) -> Done {
        let fields = Fields::from_query(query);
        let what = fields
            .get("done")
            .filter(|w| ["added", "saved", "removed"].contains(w))
            .map(str::to_string);
        let moved = fields
            .get("moved")
            .unwrap_or_default()
            .split(',')
            .filter_map(|pair| {
                let (id, from) = pair.split_once('-')?;
                Some((
                    id.parse().ok()?,
                    NaiveDate::parse_from_str(from, "%Y%m%d").ok()?,
                ))
            })
            .take(LISTED_MOVES)
            .collect();
        let more = fields.get("more").and_then(|m| m.parse().ok()).unwrap_or(0);
        Done { what, moved, more }
    }

    /// The address of the page after a change, saying what it did.
    fn location(what: &str, moved: &[MovedDueDate]) -> String {
        let listed: Vec<String> = moved
            .iter()
            .take(LISTED_MOVES)
            .map(|m| format!("{}-{}", m.meeting_id, m.from.format("%Y%m%d")))
            .collect();
        let more = moved.len().saturating_sub(LISTED_MOVES);
        let mut location = format!("/admin/calendar?done={what}");
        if !listed.is_empty() {
            location.push_str(&format!("&moved={}", listed.join(",")));
        }
        if more > 0 {
            location.push_str(&format!("&more={more}"));
        }
        location
    }
}

/// Everything the page shows.
struct CalendarPage {
    closures: Vec<StoredClosure>,
    moved: Vec<(MeetingNamed, NaiveDate)>,
    today: NaiveDate,
}

fn meeting_title(meeting: &MeetingNamed) -> String {
    MeetingKind::of_stored(level_of(meeting.level), &meeting.purpose).name()
}

fn day(d: NaiveDate) -> String {
    d.format("%a %-d %b %Y").to_string()
}

fn span(closure: &crate::domain::Closure) -> String {
    if closure.starts_on == closure.ends_on {
        day(closure.starts_on)
    } else {
        format!("{} to {}", day(closure.starts_on), day(closure.ends_on))
    }
}

fn kind_select(id: &str, chosen: &str) -> Markup {
    html! {
        select id=(id) name="kind" {
            @for kind in [ClosureKind::Holiday, ClosureKind::Inset] {
                option value=(kind.as_str()) selected[chosen == kind.as_str()] { (kind.title()) }
            }
        }
    }
}

fn render_done(done: &Done, data: &CalendarPage) -> Markup {
    let Some(what) = &done.what else {
        return html! {};
    };
    let total = data.moved.len() + done.more;
    html! {
        section.card.notice role="status" {
            p {
                "Closure " (what) ". "
                @match total {
                    0 => "No due date moved.",
                    1 => "1 due date moved:",
                    n => { (n) " due dates moved:" }
                }
            }
            @if !data.moved.is_empty() {
                ul.list.moved {
                    @for (meeting, from) in &data.moved {
                        li {
                            a href={ "/meetings/" (meeting.meeting_id) } { (meeting_title(meeting)) " for " (meeting.pupil_name) }
                            ": due " (day(*from)) " → " (day(meeting.due_on))
                        }
                    }
                }
            }
            @if done.more > 0 { p { "and " (done.more) " more." } }
        }
    }
}

fn render(
    data: &CalendarPage,
    done: &Done,
    problem: Option<(Target, &Problem)>,
    values: &Fields,
    csrf: &str,
) -> Markup {
    let problem_for = |target: Target| problem.filter(|(t, _)| *t == target).map(|(_, p)| p);
    let new_problem = problem_for(Target::New);
    let typed = |field: &str| {
        if new_problem.is_some() {
            values.raw(field).to_string()
        } else {
            String::new()
        }
    };
    html! {
        h1 { "School calendar" }
        p.muted {
            "The days the school is closed to pupils: holidays, half terms, bank holidays and INSET days. "
            "Weekends are never school days. Every count in school days (escalation windows, meeting due dates, "
            "step downs) follows this calendar; a change that moves a due date not yet passed moves it, and says so here."
        }
        (render_done(done, data))
        section.card {
            h2 { "Add a closure" }
            form.stack method="post" action="/admin/calendar" {
                (csrf_field(csrf))
                label for="new-name" { "Name" }
                input #new-name type="text" name="name" maxlength=(MAX_CLOSURE_NAME_CHARS) required
                    placeholder="October half term" value=(typed("name"));
                (field_problem(new_problem, "name"))
                label for="new-starts_on" { "First day closed" }
                input #new-starts_on type="date" name="starts_on" required value=(typed("starts_on"));
                (field_problem(new_problem, "starts_on"))
                label for="new-ends_on" { "Last day closed" }
                input #new-ends_on type="date" name="ends_on" value=(typed("ends_on"));
                p.hint { "Leave it empty for a single day." }
                (field_problem(new_problem, "ends_on"))
                label for="new-kind" { "Kind" }
                (kind_select("new-kind", if new_problem.is_some() { values.raw("kind") } else { "holiday" }))
                (field_problem(new_problem, "kind"))
                button.primary type="submit" { "Add" }
            }
            p {
                a href="/admin/import?kind=calendar" { "Import term dates from an iCalendar (.ics) file" }
                span.hint { " such as your local authority publishes." }
            }
        }
        section.card {
            h2 { "Closures" }
            @if data.closures.is_empty() {
                p.muted { "No closures yet: every weekday is a school day." }
            }
            ul.closure-list {
                @for stored in &data.closures {
                    @let id = stored.id;
                    @let own = problem_for(Target::Existing(id));
                    @let c = &stored.closure;
                    @let shown = |field: &str, held: String| if own.is_some() { values.raw(field).to_string() } else { held };
                    li.past[c.ends_on < data.today] id={ "closure-" (id) } {
                        p.when { strong { (span(c)) } " · " (kind_word(c.kind)) " · " (c.name) }
                        form.closure method="post" action={ "/admin/calendar/" (id) } {
                            (csrf_field(csrf))
                            label for={ "name-" (id) } { "Name" }
                            input id={ "name-" (id) } type="text" name="name" maxlength=(MAX_CLOSURE_NAME_CHARS) required
                                value=(shown("name", c.name.clone()));
                            label for={ "starts_on-" (id) } { "First day" }
                            input id={ "starts_on-" (id) } type="date" name="starts_on" required
                                value=(shown("starts_on", c.starts_on.to_string()));
                            label for={ "ends_on-" (id) } { "Last day" }
                            input id={ "ends_on-" (id) } type="date" name="ends_on"
                                value=(shown("ends_on", c.ends_on.to_string()));
                            label for={ "kind-" (id) } { "Kind" }
                            (kind_select(&format!("kind-{id}"), &shown("kind", c.kind.as_str().to_string())))
                            button type="submit" { "Save" }
                            @for field in ["name", "starts_on", "ends_on", "kind"] {
                                (field_problem(own, field))
                            }
                        }
                        form.inline method="post" action={ "/admin/calendar/" (id) "/remove" } {
                            (csrf_field(csrf))
                            button type="submit" { "Remove" }
                        }
                    }
                }
            }
        }
    }
}

async fn load(state: &AppState, school_id: i64, done: &Done) -> Result<CalendarPage> {
    let pairs = done.moved.clone();
    state
        .db
        .transaction(move |conn| {
            let stored = closures::stored(conn, school_id)?;
            let ids: Vec<i64> = pairs.iter().map(|(id, _)| *id).collect();
            let named = closures::meetings_named(conn, school_id, &ids)?;
            let mut moved: Vec<(MeetingNamed, NaiveDate)> = pairs
                .iter()
                .filter_map(|(id, from)| {
                    named
                        .iter()
                        .find(|m| m.meeting_id == *id)
                        .map(|m| (m.clone(), *from))
                })
                .collect();
            moved.sort_by_key(|(m, from)| (*from, m.meeting_id));
            Ok(CalendarPage {
                closures: stored,
                moved,
                today: SchoolCalendar::local_date(Utc::now()),
            })
        })
        .await
}

#[allow(clippy::too_many_arguments)]
fn show_page(
    member: &StaffMember,
    session: &Session,
    status: StatusCode,
    data: &CalendarPage,
    done: &Done,
    problem: Option<(Target, &Problem)>,
    values: &Fields,
) -> HttpResponse {
    let markup = with_viewer(member, session, |viewer| {
        page(
            "School calendar",
            viewer,
            render(data, done, problem, values, viewer.csrf),
        )
    });
    html_response(status, markup)
}

/// `GET /admin/calendar`: the closures by date, a form for each and one to add; after a
/// change, what it did and the due dates it moved.
pub async fn show(
    SignedIn(member): SignedIn,
    session: Session,
    request: HttpRequest,
    state: web::Data<AppState>,
) -> Result<HttpResponse, PageError> {
    require_role(&member, &CALENDAR_KEEPERS)?;
    let done = Done::from_query(request.query_string());
    let data = load(&state, member.school_id, &done).await?;
    Ok(show_page(
        &member,
        &session,
        StatusCode::OK,
        &data,
        &done,
        None,
        &Fields::default(),
    ))
}

/// Runs a change to the calendar, then shows the page again: what it did, or the problem
/// next to its field with what was typed.
async fn change(
    member: StaffMember,
    session: Session,
    state: web::Data<AppState>,
    target: Target,
    values: Fields,
) -> Result<HttpResponse, PageError> {
    require_role(&member, &CALENDAR_KEEPERS)?;
    let (school_id, actor) = (member.school_id, member.id);
    let now = Utc::now();
    let today = SchoolCalendar::local_date(now);
    let typed = values.clone();
    let outcome = state
        .db
        .write(move |conn| {
            let read = || {
                parse_closure(
                    typed.raw("name"),
                    typed.raw("starts_on"),
                    typed.raw("ends_on"),
                    typed.raw("kind"),
                    today,
                )
                .map_err(Error::from)
            };
            match target {
                Target::New => {
                    let closure = read()?;
                    closures::add(conn, school_id, Some(actor), &closure, now)
                        .map(|(_, moved)| ("added", moved))
                }
                Target::Existing(id) => {
                    let closure = read()?;
                    closures::update(conn, school_id, Some(actor), id, &closure, now)
                        .map(|moved| ("saved", moved))
                }
                Target::Remove(id) => closures::remove(conn, school_id, Some(actor), id, now)
                    .map(|(_, moved)| ("removed", moved)),
            }
        })
        .await;
    match outcome {
        Ok((what, moved)) => {
            // Logging reads the calendar through a short-lived cache: the change counts now.
            state.db.rules().forget(school_id);
            Ok(see_other(&Done::location(what, &moved)))
        }
        Err(error) => {
            let (status, problem) = Problem::to_show_again(error)?;
            let done = Done::default();
            let data = load(&state, school_id, &done).await?;
            Ok(show_page(
                &member,
                &session,
                status,
                &data,
                &done,
                Some((target, &problem)),
                &values,
            ))
        }
    }
}

fn closure_id(path: &str) -> Result<i64, PageError> {
    path.parse()
        .map_err(|_| PageError(Error::NotFound("closure")))
}

/// `POST /admin/calendar`: adds a closure.
pub async fn add(
    SignedIn(member): SignedIn,
    session: Session,
    form: CsrfForm<Fields>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, PageError> {
    change(member, session, state, Target::New, form.0).await
}

/// `POST /admin/calendar/{id}`: changes a closure's name, dates or kind.
pub async fn update(
    SignedIn(member): SignedIn,
    session: Session,
    path: web::Path<String>,
    form: CsrfForm<Fields>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, PageError> {
    let id = closure_id(&path)?;
    change(member, session, state, Target::Existing(id), form.0).await
}

/// `POST /admin/calendar/{id}/remove`: removes a closure.
pub async fn remove(
    SignedIn(member): SignedIn,
    session: Session,
    path: web::Path<String>,
    form: CsrfForm<Fields>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, PageError> {
    let id = closure_id(&path)?;
    change(member, session, state, Target::Remove(id), form.0).await
}
