//! Programme sessions: one session's page, where what happened is recorded, and the
//! specialist practitioner's day and week.

use std::collections::HashMap;

use actix_web::http::StatusCode;
use actix_web::web;
use chrono::{Datelike, NaiveDate, TimeDelta, Utc};
use maud::{html, Markup};

use super::{
    day, may_see, name_in, number_in, place_title, radio, runner, session_status, short_day,
    staff_names, PRACTITIONER_ROLES,
};
use crate::db::audit::Read;
use crate::db::plans::{self, PlanVersion};
use crate::db::programmes::{self, PractitionerSession, SessionInput, SessionView};
use crate::db::pupils::{self, PupilView};
use crate::db::staff::StaffMember;
use crate::db::{from_db_time, DbConnection};
use crate::domain::calendar::SchoolCalendar;
use crate::domain::plan::MAX_NAME_CHARS;
use crate::domain::programme::{
    SessionOutcome, MAX_NOTE_CHARS, MAX_RECORDED_MINUTES, MIN_RECORDED_MINUTES,
};
use crate::domain::visibility::Record;
use crate::error::{Error, Result};
use crate::web::auth::{require_role, CsrfForm};
use crate::web::pages::form::{local, problem_summary, Fields, Form, Problem};
use crate::web::pages::form_page::{FormPage, PageResult, Visit};
use crate::web::pages::layout::csrf_field;

// ---------------------------------------------------------------------------------------------
// One session
// ---------------------------------------------------------------------------------------------

/// Fields of the session form.
const SESSION_FIELDS: [&str; 6] = [
    "outcome",
    "minutes",
    "delivered_by",
    "note",
    "reason",
    "parent_attended",
];

/// What the session page shows.
struct SessionPage {
    view: SessionView,
    pupil: PupilView,
    plan: Option<PlanVersion>,
    /// Whether the viewer may open the pupil's programme page.
    sees_programme: bool,
    names: HashMap<i64, String>,
}

fn load_session_page(
    conn: &mut DbConnection,
    member: &StaffMember,
    id: i64,
) -> Result<SessionPage> {
    let view = programmes::session_for(conn, member, id)?;
    let pupil = pupils::get(conn, member.school_id, view.pupil.id)?;
    Ok(SessionPage {
        plan: plans::current(conn, member.school_id, pupil.id)?,
        sees_programme: may_see(member, pupil.place(), Record::Programme),
        names: staff_names(conn, member.school_id)?,
        view,
        pupil,
    })
}

fn session_id_of(path: &str) -> Result<i64> {
    path.parse().map_err(|_| Error::NotFound("session"))
}

/// The session form filled with what was recorded, or the planned minutes.
fn session_values(data: &SessionPage, back: Option<&str>) -> Fields {
    let session = &data.view.session;
    let minutes = session.minutes.unwrap_or(data.view.block.minutes);
    let mut pairs: Vec<(&str, String)> = vec![
        ("outcome", session.outcome.clone().unwrap_or_default()),
        ("minutes", minutes.to_string()),
        (
            "delivered_by",
            session.delivered_by.clone().unwrap_or_default(),
        ),
        ("note", session.note.clone().unwrap_or_default()),
        ("reason", session.reason.clone().unwrap_or_default()),
    ];
    if session.parent_attended == Some(true) {
        pairs.push(("parent_attended", "on".into()));
    }
    if let Some(back) = back {
        pairs.push(("back", back.to_string()));
    }
    Fields::from_pairs(pairs)
}

/// Where the browser goes after a session is recorded: back to the practitioner's list when
/// it came from there, otherwise the session page.
fn after_recording(back: Option<&str>, id: i64) -> String {
    match back {
        Some("practitioner") => format!("/practitioner?done=recorded#session-{id}"),
        _ => format!("/sessions/{id}?done=recorded"),
    }
}

fn session_form(data: &SessionPage, form: &Form, csrf: &str) -> Markup {
    let session = &data.view.session;
    let values = &form.values;
    html! {
        form.stack method="post" action={ "/sessions/" (session.id) } {
            (csrf_field(csrf))
            @if values.get("back") == Some("practitioner") {
                input type="hidden" name="back" value="practitioner";
            }
            fieldset {
                legend { "What happened" }
                @for outcome in SessionOutcome::ALL { (radio("outcome", outcome.as_str(), values, outcome.title())) }
                (form.problem_at("outcome"))
            }
            label for="minutes" { "How many minutes it lasted (when delivered)" }
            input #minutes type="number" name="minutes" min=(MIN_RECORDED_MINUTES) max=(MAX_RECORDED_MINUTES) value=(values.raw("minutes"));
            (form.problem_at("minutes"))
            label for="delivered_by" { "Delivered by (leave blank if it was you)" }
            input #delivered_by type="text" name="delivered_by" maxlength=(MAX_NAME_CHARS) value=(values.raw("delivered_by"));
            (form.problem_at("delivered_by"))
            label for="note" { "Note against the plan's goals (optional)" }
            @if let Some(plan) = &data.plan {
                ul.hint { @for goal in &plan.goals { li { (goal.text) } } }
            }
            textarea #note name="note" rows="3" maxlength=(MAX_NOTE_CHARS) { (values.raw("note")) }
            (form.problem_at("note"))
            label for="reason" { "Reason (needed when it was not delivered; optional for an absence)" }
            textarea #reason name="reason" rows="2" maxlength=(MAX_NOTE_CHARS) { (values.raw("reason")) }
            (form.problem_at("reason"))
            @if session.is_final {
                label.choice {
                    input type="checkbox" name="parent_attended" checked[values.get("parent_attended").is_some()];
                    " A parent or carer attended the end (this is the block's final session)"
                }
                (form.problem_at("parent_attended"))
            }
            button.primary type="submit" { "Save" }
        }
    }
}

fn render_session(data: &SessionPage, form: &Form, notice: Option<&str>, csrf: &str) -> Markup {
    let (session, block) = (&data.view.session, &data.view.block);
    let pupil = &data.pupil;
    let today = SchoolCalendar::local_date(Utc::now());
    let back_to_list = form.values.get("back") == Some("practitioner");
    html! {
        h1 { "Programme session" }
        p {
            @if data.sees_programme {
                a href={ "/pupils/" (pupil.id) "/programme" } { (pupil.full_name()) }
            } @else {
                (pupil.full_name())
            }
            " · Year " (pupil.year) " · " (block.weeks) "-week block"
        }
        @if let Some(notice) = notice { p.notice role="status" { (notice) } }
        dl.facts {
            dt { "Day" } dd { (day(session.on_date)) @if session.is_final { " " span.tag { "final session" } } }
            dt { "Time" } dd { (session.session_time.as_deref().unwrap_or("no set time")) }
            dt { "Planned" } dd { (block.minutes) " minutes, " (place_title(&block.place).to_lowercase()) }
            dt { "Run by" } dd { (runner(block, &data.names)) }
            dt { "Status" }
            dd {
                (session_status(session, today))
                @if let Some(minutes) = session.minutes { " · " (minutes) " minutes" }
                @if let Some(by) = &session.delivered_by { " · by " (by) }
                @if let (Some(id), Some(at)) = (session.recorded_by, session.recorded_at) {
                    br; span.small.muted { "by " (name_in(&data.names, id)) ", " (local(from_db_time(at))) }
                }
            }
        }
        (problem_summary(form.problem(), &SESSION_FIELDS))
        @if block.status != "running" {
            p.muted { "This block has been reviewed; its sessions can no longer change." }
        } @else if session.on_date > today {
            p.muted { "This session is on " (day(session.on_date)) ": record it on the day." }
        } @else {
            h2 { @if session.outcome.is_some() { "Change the record" } @else { "Record the session" } }
            (session_form(data, form, csrf))
        }
        p {
            @if back_to_list { a href="/practitioner" { "Back to your sessions" } }
            @else if data.sees_programme { a href={ "/pupils/" (pupil.id) "/programme" } { "Back to the programme" } }
        }
    }
}

impl FormPage for SessionPage {
    type Key = i64;
    const TITLE: &'static str = "Programme session";
    const READ: Option<Read> = Some(Read::Session);

    fn load(conn: &mut DbConnection, member: &StaffMember, id: i64) -> Result<Self> {
        load_session_page(conn, member, id)
    }

    fn read_about(&self, id: i64) -> (Option<i64>, String) {
        (Some(self.pupil.id), format!("session {id}"))
    }

    fn first_values(&self, _member: &StaffMember, query: &Fields) -> Fields {
        session_values(self, query.get("back"))
    }

    fn notice(query: &Fields) -> Option<String> {
        (query.get("done") == Some("recorded")).then(|| "The session is recorded.".to_string())
    }

    fn render(&self, form: &Form, notice: Option<&str>, csrf: &str) -> Markup {
        render_session(self, form, notice, csrf)
    }
}

/// `GET /sessions/{id}?back=practitioner`: one programme session and the form to record
/// what happened, for the practitioner who runs it and those who run the programme.
pub async fn show_session(visit: Visit, path: web::Path<String>) -> PageResult {
    visit.show::<SessionPage>(session_id_of(&path)?).await
}

/// A session's record as typed: what happened, and the minutes when it was delivered.
struct SessionForm {
    outcome: String,
    minutes: Option<u32>,
    typed: Fields,
}

fn read_session(fields: &Fields) -> std::result::Result<SessionForm, Problem> {
    let outcome = fields.raw("outcome").trim().to_string();
    if outcome.is_empty() {
        return Err(Problem::at(
            "outcome",
            "choose what happened at the session",
        ));
    }
    let minutes = if outcome == SessionOutcome::Delivered.as_str() {
        number_in("minutes", fields.get("minutes"))?
    } else {
        None
    };
    Ok(SessionForm {
        outcome,
        minutes,
        typed: fields.clone(),
    })
}

/// `POST /sessions/{id}`: records what happened at a session (or corrects it while its
/// block runs). The minutes count only for a delivered session.
pub async fn record_session(
    visit: Visit,
    path: web::Path<String>,
    form: CsrfForm<Fields>,
) -> PageResult {
    let id = session_id_of(&path)?;
    let asked = read_session(&form.0);
    visit
        .submit::<SessionPage, _, _>(id, form.0, asked, move |conn, by, _, asked| {
            let typed = &asked.typed;
            let input = SessionInput {
                outcome: &asked.outcome,
                minutes: asked.minutes,
                reason: typed.get("reason"),
                note: typed.get("note"),
                delivered_by: typed.get("delivered_by"),
                parent_attended: Some(typed.get("parent_attended").is_some()),
            };
            programmes::record_session(conn, by, id, &input, Utc::now())?;
            Ok(after_recording(typed.get("back"), id))
        })
        .await
}

// ---------------------------------------------------------------------------------------------
// The practitioner's day and week
// ---------------------------------------------------------------------------------------------

fn practitioner_entry(item: &PractitionerSession, today: NaiveDate, csrf: &str) -> Markup {
    let (session, block, pupil) = (&item.session, &item.block, &item.pupil);
    let unrecorded = session.outcome.is_none();
    let overdue = unrecorded && session.on_date < today;
    html! {
        li.session-entry.overdue[overdue] id={ "session-" (session.id) } {
            div.who {
                strong { (pupil.given_name) " " (pupil.family_name) }
                br;
                span.meta {
                    @if session.on_date != today { (short_day(session.on_date)) " · " }
                    (session.session_time.as_deref().unwrap_or("no set time"))
                    " · " (block.weeks) "-week block"
                    @if session.is_final { " · final session" }
                }
            }
            div.status { (session_status(session, today)) }
            @if unrecorded && session.on_date <= today {
                div.actions {
                    form.inline.tap method="post" action={ "/sessions/" (session.id) } {
                        (csrf_field(csrf))
                        input type="hidden" name="outcome" value=(SessionOutcome::Delivered.as_str());
                        input type="hidden" name="minutes" value=(block.minutes);
                        input type="hidden" name="back" value="practitioner";
                        @if session.is_final {
                            label.choice {
                                input type="checkbox" name="parent_attended";
                                " Parent or carer attended the end"
                            }
                        }
                        button.primary.tap type="submit" { "Delivered" }
                    }
                    a.button href={ "/sessions/" (session.id) "?back=practitioner" } { "Absent or not delivered" }
                }
            } @else if !unrecorded {
                a href={ "/sessions/" (session.id) "?back=practitioner" } { "Change" }
            }
        }
    }
}

/// `GET /practitioner`: the specialist practitioner's sessions, for a phone: today's first,
/// then the rest of this week (Monday to Sunday), each recorded as delivered with one tap.
pub async fn practitioner(visit: Visit) -> PageResult {
    require_role(&visit.member, &PRACTITIONER_ROLES)?;
    let today = SchoolCalendar::local_date(Utc::now());
    let monday = today - TimeDelta::days(i64::from(today.weekday().num_days_from_monday()));
    let sunday = monday + TimeDelta::days(6);
    let viewer = visit.member.clone();
    let sessions = visit
        .state
        .db
        .transaction(move |conn| programmes::sessions_run_by(conn, &viewer, monday, sunday))
        .await?;
    let (todays, rest): (Vec<_>, Vec<_>) = sessions
        .into_iter()
        .partition(|s| s.session.on_date == today);
    let overdue = rest
        .iter()
        .filter(|s| s.session.outcome.is_none() && s.session.on_date < today)
        .count();
    let notice = (visit.query.get("done") == Some("recorded")).then_some("Recorded.");
    Ok(visit.page("Your sessions", StatusCode::OK, |csrf| {
        html! {
                h1 { "Your sessions" }
                @if let Some(notice) = notice { p.notice role="status" { (notice) } }
                h2 { "Today, " (day(today)) }
                @if todays.is_empty() { p.muted { "No sessions today." } }
                ul.sessions { @for item in &todays { (practitioner_entry(item, today, csrf)) } }
                h2 { "The rest of this week" }
                @if overdue > 0 {
                    p.error { (overdue) " earlier session" @if overdue > 1 { "s" } " this week "
                        @if overdue > 1 { "are" } @else { "is" } " not recorded yet." }
                }
                @if rest.is_empty() { p.muted { "No other sessions this week." } }
                ul.sessions { @for item in &rest { (practitioner_entry(item, today, csrf)) } }
        }
    }))
}
