//! The list page (`GET /log`): the confirmation of what was just logged, a search, the
//! classes the member teaches (the one meeting now first, open), the forms they tutor and the
//! pupils they logged for lately, each pupil with a one-tap
//! Coaching Prompt; and the as-you-type search the page's script asks (`GET /log/pupils`).

use actix_web::http::StatusCode;
use actix_web::{web, HttpResponse};
use chrono::{DateTime, Utc};
use maud::{html, Markup};
use serde::{Deserialize, Serialize};

use super::{confirmation, find_pupils, pupils_in_order, render_confirmation, Confirmation};
use super::{prompt_form, SEARCH_LIMIT};
use crate::db::pupils::{self, PupilView};
use crate::db::staff::StaffMember;
use crate::db::teaching_groups::{self, TaughtGroup};
use crate::db::{overview, timetable, DbConnection};
use crate::domain::timetable::LessonSlot;
use crate::domain::Level;
use crate::error::Result;
use crate::web::auth::SignedIn;
use crate::web::error::PageError;
use crate::web::pages::form_page::{PageResult, Visit};
use crate::web::pages::layout::level_chip;
use crate::web::AppState;

/// Most pupils listed from the forms a member tutors.
const FORM_LIMIT: i64 = 300;
/// How many recent pupils are listed.
const RECENT_PUPILS: usize = 8;
/// How many of the member's latest incidents are read to find their recent pupils.
const RECENT_INCIDENTS: i64 = 40;
/// Most pupils the as-you-type search answers.
const LIVE_SEARCH_LIMIT: i64 = 20;

fn pupil_row(pupil: &PupilView, csrf: &str) -> Markup {
    html! {
        li.pupil-row data-pupil=(pupil.id) {
            a.who href={ "/pupils/" (pupil.id) } {
                span.name { (pupil.full_name()) }
                span.meta { (pupil.form) " " (level_chip(pupil.level)) }
            }
            a.button.details href={ "/log/new?pupil=" (pupil.id) } { "Details" }
            (prompt_form(pupil, csrf))
        }
    }
}

fn pupil_rows(pupils: &[PupilView], csrf: &str) -> Markup {
    html! {
        ul.pupil-rows {
            @for pupil in pupils { (pupil_row(pupil, csrf)) }
        }
    }
}

/// Everything the logging page lists, read in one transaction.
struct LogData {
    /// The classes the member teaches, those meeting now (by the school's timetable) first.
    classes: Vec<TaughtGroup>,
    /// How many of `classes` are meeting now.
    teaching_now: usize,
    /// The forms the member tutors, each with its pupils.
    forms: Vec<(String, Vec<PupilView>)>,
    recent: Vec<PupilView>,
    results: Option<Vec<PupilView>>,
    confirmation: Option<Confirmation>,
}

fn gather(
    conn: &mut DbConnection,
    member: &StaffMember,
    text: &str,
    shown: Option<i64>,
    now: DateTime<Utc>,
) -> Result<LogData> {
    let school_id = member.school_id;
    let timetable = timetable::load(conn, school_id)?;
    let (mut classes, later): (Vec<TaughtGroup>, Vec<TaughtGroup>) =
        teaching_groups::taught_by(conn, school_id, member.id)?
            .into_iter()
            .partition(|group| timetable.is_in_slots(now, &group.slots));
    let teaching_now = classes.len();
    classes.extend(later);
    let mut forms: Vec<(String, Vec<PupilView>)> = Vec::new();
    for pupil in pupils::tutored_by(conn, school_id, member.id, FORM_LIMIT)? {
        match forms.last_mut() {
            Some((form, list)) if *form == pupil.form => list.push(pupil),
            _ => forms.push((pupil.form.clone(), vec![pupil])),
        }
    }
    let mut recent_ids: Vec<i64> = Vec::new();
    for (_, ids) in overview::recent_incidents_by(conn, school_id, member.id, RECENT_INCIDENTS)? {
        for id in ids {
            if !recent_ids.contains(&id) {
                recent_ids.push(id);
            }
        }
    }
    recent_ids.truncate(RECENT_PUPILS);
    let recent = pupils_in_order(conn, school_id, &recent_ids)?;
    let results = if text.is_empty() {
        None
    } else {
        Some(find_pupils(conn, school_id, text, SEARCH_LIMIT)?)
    };
    let confirmation = match shown {
        Some(id) => confirmation(conn, member, id, now)?,
        None => None,
    };
    Ok(LogData {
        classes,
        teaching_now,
        forms,
        recent,
        results,
        confirmation,
    })
}

/// The query of `GET /log/pupils`.
#[derive(Debug, Default, Deserialize)]
pub struct LogQuery {
    q: Option<String>,
}

/// `GET /log?q=&logged=&undone=`: the logging page, with the incident just logged (or
/// undone) confirmed.
pub async fn show(visit: Visit) -> PageResult {
    let text = visit.query.get("q").unwrap_or_default().to_string();
    let shown = visit
        .query
        .get("logged")
        .or(visit.query.get("undone"))
        .and_then(|id| id.parse::<i64>().ok());
    let member = visit.member.clone();
    let searched = text.clone();
    let data = visit
        .state
        .db
        .transaction(move |conn| gather(conn, &member, &searched, shown, Utc::now()))
        .await?;
    Ok(visit.page("Log", StatusCode::OK, |csrf| render_log(&data, csrf, &text)))
}

fn render_log(data: &LogData, csrf: &str, text: &str) -> Markup {
    html! {
        div #logger {
            h1 { "Log a prompt" }
            p #queue-status.queue-status role="status" aria-live="polite" hidden {}
            div #confirmation aria-live="polite" {
                @if let Some(shown) = &data.confirmation { (render_confirmation(shown, csrf)) }
            }
            form.search #find method="get" action="/log" role="search" {
                label for="q" { "Find a pupil" }
                div.row {
                    input #q type="search" name="q" value=(text) placeholder="Name or UPN"
                        autocomplete="off" data-live-search="/log/pupils";
                    button type="submit" { "Find" }
                }
            }
            section #results aria-live="polite" {
                @if let Some(results) = &data.results {
                    @if results.is_empty() {
                        p.muted { "No pupil matches." }
                    } @else {
                        (pupil_rows(results, csrf))
                    }
                }
            }
            @for (index, class) in data.classes.iter().enumerate() {
                @let now = index < data.teaching_now;
                section.group.class {
                    details open[now] {
                        summary {
                            h2 {
                                @if now { "Teaching now: " }
                                (class.name)
                            }
                            span.meta {
                                (class.pupils.len()) " pupils"
                                @if !class.slots.is_empty() {
                                    " · " (class.slots.iter().map(LessonSlot::label).collect::<Vec<_>>().join(", "))
                                }
                            }
                        }
                        (pupil_rows(&class.pupils, csrf))
                    }
                }
            }
            @for (form, pupils) in &data.forms {
                section.group.tutor-form {
                    h2 { "Your form " (form) }
                    (pupil_rows(pupils, csrf))
                }
            }
            @if !data.recent.is_empty() {
                section.group #recent {
                    h2 { "Logged lately" }
                    (pupil_rows(&data.recent, csrf))
                }
            }
            @if data.classes.is_empty() && data.forms.is_empty() && data.recent.is_empty() && data.results.is_none() {
                p.muted { "Find a pupil by name or UPN. The pupils of the classes you teach (the one you are teaching now first), of a form you tutor, and the pupils you log for are listed here." }
            }
            p { a.button href="/log/new" { "Log an incident with details" } }
            // The row the script copies for results as you type: the same markup as above.
            template #pupil-row-template {
                (pupil_row(&template_pupil(), csrf))
            }
        }
    }
}

/// A placeholder pupil for the script's templates; the script fills in the real one.
pub(super) fn template_pupil() -> PupilView {
    PupilView {
        id: 0,
        school_id: 0,
        upn: String::new(),
        given_name: String::new(),
        family_name: String::new(),
        year: 0,
        form: String::new(),
        house: None,
        house_id: None,
        sen_status: crate::domain::details::SenStatus::None,
        level: Level::None,
        level_since: DateTime::<Utc>::UNIX_EPOCH,
        date_of_birth: None,
        left_on: None,
    }
}

/// One pupil of the as-you-type search.
#[derive(Debug, Serialize)]
pub struct PupilChoice {
    pub id: i64,
    pub name: String,
    pub form: String,
    /// 0-6.
    pub level: i16,
    pub level_title: &'static str,
}

/// `GET /log/pupils?q=`: pupils of the member's school matching a name or UPN, the name
/// typed first, for results as you type:
/// `{"pupils":[{"id","name","form","level","level_title"}]}`.
pub async fn pupils_json(
    SignedIn(member): SignedIn,
    query: web::Query<LogQuery>,
    state: web::Data<AppState>,
) -> std::result::Result<HttpResponse, PageError> {
    let text = query.q.clone().unwrap_or_default();
    let school_id = member.school_id;
    let found = state
        .db
        .transaction(move |conn| find_pupils(conn, school_id, &text, LIVE_SEARCH_LIMIT))
        .await?;
    let pupils: Vec<PupilChoice> = found
        .into_iter()
        .map(|p| PupilChoice {
            id: p.id,
            name: p.full_name(),
            form: p.form,
            level: p.level.number(),
            level_title: p.level.title(),
        })
        .collect();
    Ok(HttpResponse::Ok()
        .insert_header((actix_web::http::header::CACHE_CONTROL, "no-store"))
        .json(serde_json::json!({ "pupils": pupils })))
}
