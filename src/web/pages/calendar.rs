//! The school calendar (`/admin/calendar`), kept by administrators and senior leaders: the
//! closures by date (holidays, half terms, bank holidays, INSET days), each editable and
//! removable, a form to add one, and a link to import a term-dates file. Every count in
//! school days follows the calendar: after a change, the meetings whose due date it moved
//! are listed with the dates before and after.

use actix_web::web;
use chrono::{NaiveDate, Utc};
use maud::{html, Markup};

use super::form::{problem_summary, Fields, Form, Problem};
use super::form_page::{FormPage, PageResult, Visit};
use super::layout::csrf_field;
use crate::db::calendar::{self as closures, kind_word, MeetingNamed, CALENDAR_KEEPERS};
use crate::db::staff::StaffMember;
use crate::db::DbConnection;
use crate::domain::calendar::{Closure, ClosureKind, MovedDueDate, SchoolCalendar};
use crate::domain::term_dates::{parse_closure, StoredClosure, MAX_CLOSURE_NAME_CHARS};
use crate::domain::words::{level_of, MeetingKind};
use crate::error::{Error, Result};
use crate::web::auth::{require_role, CsrfForm};
use crate::web::error::PageError;

/// How many moved due dates a page lists after a change (the rest are counted).
const LISTED_MOVES: usize = 100;

/// The form adding a closure (its name on the page).
const NEW_FORM: &str = "new";

/// The name on the page of the form changing closure `id`.
fn closure_form(id: i64) -> String {
    format!("closure-{id}")
}

/// The name on the page of the form removing closure `id`.
fn remove_form(id: i64) -> String {
    format!("remove-{id}")
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
    fn from_query(fields: &Fields) -> Done {
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
    /// What the last change did.
    done: Done,
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

fn span(closure: &Closure) -> String {
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

fn render(data: &CalendarPage, form: &Form, csrf: &str) -> Markup {
    let typed = |field: &str| form.value_in(NEW_FORM, field, "").to_string();
    html! {
        h1 { "School calendar" }
        p.muted {
            "The days the school is closed to pupils: holidays, half terms, bank holidays and INSET days. "
            "Weekends are never school days. Every count in school days (escalation windows, meeting due dates, "
            "step downs) follows this calendar; a change that moves a due date not yet passed moves it, and says so here."
        }
        (render_done(&data.done, data))
        section.card {
            h2 { "Add a closure" }
            form.stack method="post" action="/admin/calendar" {
                (csrf_field(csrf))
                label for="new-name" { "Name" }
                input #new-name type="text" name="name" maxlength=(MAX_CLOSURE_NAME_CHARS) required
                    placeholder="October half term" value=(typed("name"));
                (form.problem_in(NEW_FORM, "name"))
                label for="new-starts_on" { "First day closed" }
                input #new-starts_on type="date" name="starts_on" required value=(typed("starts_on"));
                (form.problem_in(NEW_FORM, "starts_on"))
                label for="new-ends_on" { "Last day closed" }
                input #new-ends_on type="date" name="ends_on" value=(typed("ends_on"));
                p.hint { "Leave it empty for a single day." }
                (form.problem_in(NEW_FORM, "ends_on"))
                label for="new-kind" { "Kind" }
                (kind_select("new-kind", form.value_in(NEW_FORM, "kind", "holiday")))
                (form.problem_in(NEW_FORM, "kind"))
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
                    @let own = closure_form(id);
                    @let c = &stored.closure;
                    @let shown = |field: &str, held: String| form.value_in(&own, field, &held).to_string();
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
                                (form.problem_in(&own, field))
                            }
                        }
                        form.inline method="post" action={ "/admin/calendar/" (id) "/remove" } {
                            (csrf_field(csrf))
                            button type="submit" { "Remove" }
                        }
                        (problem_summary(form.problem_of(&remove_form(id)), &[]))
                    }
                }
            }
        }
    }
}

impl FormPage for CalendarPage {
    type Key = Done;
    const TITLE: &'static str = "School calendar";

    fn load(conn: &mut DbConnection, member: &StaffMember, done: Done) -> Result<Self> {
        require_role(member, &CALENDAR_KEEPERS)?;
        let school_id = member.school_id;
        let stored = closures::stored(conn, school_id)?;
        let ids: Vec<i64> = done.moved.iter().map(|(id, _)| *id).collect();
        let named = closures::meetings_named(conn, school_id, &ids)?;
        let mut moved: Vec<(MeetingNamed, NaiveDate)> = done
            .moved
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
            done,
            closures: stored,
            moved,
            today: SchoolCalendar::local_date(Utc::now()),
        })
    }

    fn render(&self, form: &Form, _notice: Option<&str>, csrf: &str) -> Markup {
        render(self, form, csrf)
    }
}

/// `GET /admin/calendar`: the closures by date, a form for each and one to add; after a
/// change, what it did and the due dates it moved.
pub async fn show(visit: Visit) -> PageResult {
    let done = Done::from_query(&visit.query);
    visit.show::<CalendarPage>(done).await
}

/// What a change does to the calendar.
enum Change {
    Add(Closure),
    Save(i64, Closure),
    Remove(i64),
}

/// The closure as typed, read in the school's today.
fn read_closure(typed: &Fields) -> std::result::Result<Closure, Problem> {
    let today = SchoolCalendar::local_date(Utc::now());
    let (name, kind) = (typed.raw("name"), typed.raw("kind"));
    parse_closure(
        name,
        typed.raw("starts_on"),
        typed.raw("ends_on"),
        kind,
        today,
    )
    .map_err(Problem::from)
}

/// Runs a change to the calendar in one write, then shows the page: what it did, or the
/// problem next to its field of the form `sent`, with what was typed.
async fn change(
    visit: Visit,
    sent: String,
    typed: Fields,
    read: std::result::Result<Change, Problem>,
) -> PageResult {
    require_role(&visit.member, &CALENDAR_KEEPERS)?;
    let state = visit.state.clone();
    let school_id = visit.member.school_id;
    let answer = visit
        .submit_to::<CalendarPage, _, _>(
            Done::default(),
            Some(sent),
            typed,
            read,
            move |conn, by, _, change| {
                let (actor, now) = (Some(by.id), Utc::now());
                let (what, moved) = match change {
                    Change::Add(closure) => (
                        "added",
                        closures::add(conn, school_id, actor, &closure, now)?.1,
                    ),
                    Change::Save(id, closure) => (
                        "saved",
                        closures::update(conn, school_id, actor, id, &closure, now)?,
                    ),
                    Change::Remove(id) => (
                        "removed",
                        closures::remove(conn, school_id, actor, id, now)?.1,
                    ),
                };
                Ok(Done::location(what, &moved))
            },
        )
        .await;
    // Logging reads the calendar through a short-lived cache: a change counts now.
    state.db.rules().forget(school_id);
    answer
}

fn closure_id(path: &str) -> Result<i64, PageError> {
    path.parse()
        .map_err(|_| PageError(Error::NotFound("closure")))
}

/// `POST /admin/calendar`: adds a closure.
pub async fn add(visit: Visit, form: CsrfForm<Fields>) -> PageResult {
    let read = read_closure(&form.0).map(Change::Add);
    change(visit, NEW_FORM.to_string(), form.0, read).await
}

/// `POST /admin/calendar/{id}`: changes a closure's name, dates or kind.
pub async fn update(visit: Visit, path: web::Path<String>, form: CsrfForm<Fields>) -> PageResult {
    let id = closure_id(&path)?;
    let read = read_closure(&form.0).map(|closure| Change::Save(id, closure));
    change(visit, closure_form(id), form.0, read).await
}

/// `POST /admin/calendar/{id}/remove`: removes a closure.
pub async fn remove(visit: Visit, path: web::Path<String>, form: CsrfForm<Fields>) -> PageResult {
    let id = closure_id(&path)?;
    change(visit, remove_form(id), form.0, Ok(Change::Remove(id))).await
}
