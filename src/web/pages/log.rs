//! The logging page, for class staff on a phone between two sentences of a lesson: find the
//! pupil (the forms they tutor first, the pupils they logged for lately next, or a search),
//! log a Coaching Prompt with one tap, or an incident with its details; then a clear
//! confirmation, with undo and edit for the author within the author's window.
//!
//! Every form works without JavaScript. `static/log.js` adds results as you type and a queue
//! on the device: it sends the same forms with `Accept: application/json`, and these routes
//! then answer JSON instead of redirecting. Each submission carries an idempotency key, so a
//! double tap, a resubmitted form or a replay from the queue never logs twice.

use actix_session::Session;
use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use chrono::{DateTime, TimeDelta, Utc};
use maud::{html, Markup};
use serde::{Deserialize, Serialize};

use super::form::{
    field_problem, html_response, json_error, local, local_clock, local_input_value,
    parse_local_time, problem_summary, see_other, wants_json, Fields, Problem,
};
use super::layout::{csrf_field, level_chip, page};
use super::with_viewer;
use crate::accounts::random_token;
use crate::db::behaviours::{self, Behaviour};
use crate::db::idempotency::{self, IdempotencyKey};
use crate::db::incidents::{self, IncidentEdit, AUTHOR_WINDOW};
use crate::db::models::{IncidentRow, SuggestionRow};
use crate::db::pupils::{self, PupilSearch, PupilView};
use crate::db::staff::StaffMember;
use crate::db::timeline::{self, EventDetail, EventKind, TimelineFilter};
use crate::db::{from_db_time, overview, timetable, DbConnection};
use crate::domain::details::DetailError;
use crate::domain::details::MAX_BACKDATE_DAYS;
use crate::domain::incident::{IncidentSubmission, NewIncident};
use crate::domain::timetable::{Moment, Timetable};
use crate::domain::{Level, Move};
use crate::error::{Error, Result};
use crate::web::api::incidents::{log_once, IncidentCreated};
use crate::web::auth::{csrf_token, CsrfForm, SignedIn};
use crate::web::error::PageError;
use crate::web::AppState;

/// What a one-tap prompt records as its behaviour; its author may add the details while the
/// author's window is open.
pub const QUICK_PROMPT_BEHAVIOUR: &str = "Coaching Prompt, no details";

/// Most pupils listed from the forms a member tutors.
const FORM_LIMIT: i64 = 300;
/// How many recent pupils are listed.
const RECENT_PUPILS: usize = 8;
/// How many of the member's latest incidents are read to find their recent pupils.
const RECENT_INCIDENTS: i64 = 40;
/// Most pupils a search on the page lists.
const SEARCH_LIMIT: i64 = 30;
/// Most pupils the as-you-type search answers.
const LIVE_SEARCH_LIMIT: i64 = 20;

fn detail_error(error: DetailError) -> Error {
    Error::invalid(error.field, error.message)
}

/// The pupils of the school with these ids, in the order given (others left out).
fn pupils_in_order(conn: &mut DbConnection, school_id: i64, ids: &[i64]) -> Result<Vec<PupilView>> {
    let found = pupils::by_ids(conn, school_id, ids)?;
    Ok(ids.iter().filter_map(|id| found.get(id).cloned()).collect())
}

// ---------------------------------------------------------------------------------------
// The confirmation

/// What the author sees after logging: what was logged, for whom, any suggestion it raised,
/// and until when it may be undone or edited.
pub struct Confirmation {
    incident: IncidentRow,
    pupils: Vec<PupilView>,
    /// Open suggestions with this incident among their evidence, with their pupil.
    suggestions: Vec<(PupilView, SuggestionRow)>,
    /// The end of the author's window, while it is open and the incident stands.
    open_until: Option<DateTime<Utc>>,
}

/// The confirmation of an incident the member logged; `None` for anyone else's incident or
/// one of another school.
pub fn confirmation(
    conn: &mut DbConnection,
    member: &StaffMember,
    incident_id: i64,
    now: DateTime<Utc>,
) -> Result<Option<Confirmation>> {
    let (incident, pupil_ids) = match incidents::get(conn, member.school_id, incident_id) {
        Ok(found) => found,
        Err(Error::NotFound(_)) => return Ok(None),
        Err(other) => return Err(other),
    };
    if incident.reported_by != member.id {
        return Ok(None);
    }
    let pupils = pupils_in_order(conn, member.school_id, &pupil_ids)?;
    let mut suggestions = Vec::new();
    if incident.voided_at.is_none() {
        let filter = TimelineFilter {
            kinds: vec![EventKind::Suggestion],
            from: None,
            to: None,
            limit: 20,
        };
        for pupil in &pupils {
            for event in timeline::for_pupil(conn, member, pupil, &filter)? {
                if let EventDetail::Suggestion(row) = event.detail {
                    let evidence: Vec<i64> =
                        serde_json::from_str(&row.evidence).unwrap_or_default();
                    if row.status == "open" && evidence.contains(&incident.id) {
                        suggestions.push((pupil.clone(), row));
                    }
                }
            }
        }
    }
    let deadline = from_db_time(incident.created_at) + AUTHOR_WINDOW;
    let open_until = (incident.voided_at.is_none() && now < deadline).then_some(deadline);
    Ok(Some(Confirmation {
        incident,
        pupils,
        suggestions,
        open_until,
    }))
}

/// "Coaching Prompt", "Coaching Conversation" or "incident": what a response is called.
fn what_was_logged(response: &str) -> &'static str {
    match response {
        "prompt" => "Coaching Prompt",
        "conversation" => "Coaching Conversation",
        _ => "incident",
    }
}

/// The sentence announcing a suggestion, e.g. "A Coaching Conversation is now suggested for Sam".
pub fn suggestion_sentence(row: &SuggestionRow, pupil: &PupilView) -> String {
    Move::between_numbers(row.from_level, row.to_level).suggested_for(&pupil.given_name)
}

fn names(pupils: &[PupilView]) -> String {
    pupils
        .iter()
        .map(PupilView::full_name)
        .collect::<Vec<_>>()
        .join(", ")
}

/// The confirmation card; also sent as HTML to the page's script after it logs.
pub fn render_confirmation(shown: &Confirmation, csrf: &str) -> Markup {
    let incident = &shown.incident;
    let what = what_was_logged(&incident.response);
    html! {
        section.card.confirmation #confirmation-card data-incident=(incident.id) {
            @if incident.voided_at.is_some() {
                h2 { "Undone" }
                p { "The " (what) " for " strong { (names(&shown.pupils)) } " no longer counts." }
            } @else {
                h2 { "Logged" }
                p.logged-what {
                    strong { (what) } " for " strong { (names(&shown.pupils)) }
                    " at " (local_clock(from_db_time(incident.occurred_at)))
                }
                p.muted { (incident.behaviour) " · " (incident.severity) }
                @for (pupil, suggestion) in &shown.suggestions {
                    div.suggestion-note {
                        p { strong { (suggestion_sentence(suggestion, pupil)) "." } }
                        p.muted { (suggestion.reason) }
                    }
                }
                @if let Some(until) = shown.open_until {
                    div.actions {
                        form.inline method="post" action={ "/log/incidents/" (incident.id) "/undo" } {
                            (csrf_field(csrf))
                            button.undo type="submit" { "Undo" }
                        }
                        a.button href={ "/log/incidents/" (incident.id) "/edit" } { "Edit" }
                    }
                    p.muted.small { "You can undo or edit this until " (local_clock(until)) "." }
                }
                ul.links {
                    @for pupil in &shown.pupils {
                        li {
                            a href={ "/pupils/" (pupil.id) } { (pupil.given_name) "'s timeline" }
                            " · "
                            a href={ "/pupils/" (pupil.id) "/conversations/new?incident=" (incident.id) } {
                                "Record a Coaching Conversation"
                            }
                        }
                    }
                }
            }
        }
    }
}

// ---------------------------------------------------------------------------------------
// The list of pupils

/// The form that logs a Coaching Prompt for one pupil with one tap. Its idempotency key is
/// fresh on every page, so a double tap or a resubmitted page logs once.
pub fn prompt_form(pupil: &PupilView, csrf: &str) -> Markup {
    html! {
        form.prompt method="post" action="/log/prompt" data-queue="prompt" data-label=(pupil.full_name()) {
            (csrf_field(csrf))
            input type="hidden" name="idempotency_key" value=(random_token());
            input type="hidden" name="pupil_id" value=(pupil.id);
            button.prompt type="submit" title={ "Log a Coaching Prompt for " (pupil.full_name()) } { "Prompt" }
        }
    }
}

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
        let search = PupilSearch {
            text: Some(text.to_string()),
            year: None,
            form: None,
            limit: SEARCH_LIMIT,
            include_left: false,
        };
        Some(pupils::search(conn, school_id, &search)?)
    };
    let confirmation = match shown {
        Some(id) => confirmation(conn, member, id, now)?,
        None => None,
    };
    Ok(LogData {
        forms,
        recent,
        results,
        confirmation,
    })
}

/// The query of `GET /log`.
#[derive(Debug, Default, Deserialize)]
pub struct LogQuery {
    q: Option<String>,
    /// An incident just logged, to confirm.
    logged: Option<String>,
    /// An incident just undone.
    undone: Option<String>,
}

/// `GET /log`: the logging page.
pub async fn show(
    SignedIn(member): SignedIn,
    session: Session,
    query: web::Query<LogQuery>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, PageError> {
    let text = query.q.as_deref().unwrap_or_default().trim().to_string();
    let shown = query
        .logged
        .as_deref()
        .or(query.undone.as_deref())
        .and_then(|id| id.trim().parse::<i64>().ok());
    let for_member = member.clone();
    let searched = text.clone();
    let data = state
        .db
        .transaction(move |conn| gather(conn, &for_member, &searched, shown, Utc::now()))
        .await?;
    let markup = with_viewer(&member, &session, |viewer| {
        page("Log", viewer, render_log(&data, viewer.csrf, &text))
    });
    Ok(html_response(StatusCode::OK, markup))
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
            @for (form, pupils) in &data.forms {
                section.group {
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
            @if data.forms.is_empty() && data.recent.is_empty() && data.results.is_none() {
                p.muted { "Find a pupil by name or UPN. The pupils of a form you tutor, and the pupils you log for, are listed here." }
            }
            p { a.button href="/log/new" { "Log an incident with details" } }
            // The row the script copies for results as you type: the same markup as above.
            template #pupil-row-template {
                (pupil_row(&template_pupil(), csrf))
            }
        }
    }
}

/// A placeholder pupil for the script's row template; the script fills in the real one.
fn template_pupil() -> PupilView {
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

/// `GET /log/pupils?q=`: pupils of the member's school matching a name or UPN, for results as
/// you type: `{"pupils":[{"id","name","form","level","level_title"}]}`.
pub async fn pupils_json(
    SignedIn(member): SignedIn,
    query: web::Query<LogQuery>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, PageError> {
    let text = query.q.as_deref().unwrap_or_default().trim().to_string();
    let school_id = member.school_id;
    let found = if text.is_empty() {
        Vec::new()
    } else {
        let search = PupilSearch {
            text: Some(text),
            year: None,
            form: None,
            limit: LIVE_SEARCH_LIMIT,
            include_left: false,
        };
        state
            .db
            .transaction(move |conn| pupils::search(conn, school_id, &search))
            .await?
    };
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

// ---------------------------------------------------------------------------------------
// Logging

/// The JSON answer to the page's script after logging.
#[derive(Debug, Serialize)]
pub struct Logged {
    pub id: i64,
    /// The confirmation card, rendered (and escaped) here so the script need not.
    pub confirmation_html: String,
}

/// A fingerprint of what was submitted, to tell a true repeat from a key used again for
/// something else. A one-tap prompt's time is left out: a replay from the device's queue
/// says how long ago the tap was, which changes between tries.
fn fingerprint(new: &NewIncident, explicit_time: Option<DateTime<Utc>>) -> String {
    let canonical = serde_json::json!({
        "page": "log",
        "pupil_ids": new.pupil_ids,
        "behaviour": new.behaviour,
        "severity": new.severity.as_str(),
        "response": new.response.as_str(),
        "occurred_at": explicit_time.map(|t| t.to_rfc3339()),
        "location": new.location,
        "lesson": new.lesson,
        "note": new.note,
    });
    idempotency::request_hash(canonical.to_string().as_bytes())
}

/// Logs through `log_once` with the form's key; answers the incident's id.
async fn log(
    state: &AppState,
    member: &StaffMember,
    key: IdempotencyKey,
    new: NewIncident,
    explicit_time: Option<DateTime<Utc>>,
) -> Result<i64> {
    let hash = fingerprint(&new, explicit_time);
    let answer = log_once(
        &state.db,
        member.school_id,
        member.id,
        Some(key),
        hash.clone(),
        new,
    )
    .await?;
    if answer.request_hash != hash {
        return Err(Error::unprocessable(
            "this form was already sent with other details: reload the page and log again",
        ));
    }
    let created: IncidentCreated = serde_json::from_str(&answer.body)
        .map_err(|e| Error::Internal(format!("a stored answer could not be read: {e}")))?;
    Ok(created.id)
}

/// Answers a logging form: JSON for the page's script, a redirect to the confirmation for a
/// plain form.
async fn finish_logging(
    state: &AppState,
    member: &StaffMember,
    session: &Session,
    json: bool,
    outcome: Result<i64>,
) -> Result<HttpResponse, PageError> {
    match outcome {
        Ok(id) if json => {
            let for_member = member.clone();
            let shown = state
                .db
                .transaction(move |conn| confirmation(conn, &for_member, id, Utc::now()))
                .await;
            let shown = match shown {
                Ok(shown) => shown,
                Err(error) => return Ok(json_error(&error)),
            };
            let csrf = csrf_token(session);
            let confirmation_html = shown
                .map(|c| render_confirmation(&c, &csrf).into_string())
                .unwrap_or_default();
            Ok(HttpResponse::Created().json(Logged {
                id,
                confirmation_html,
            }))
        }
        Ok(id) => Ok(see_other(&format!("/log?logged={id}"))),
        Err(error) if json => Ok(json_error(&error)),
        Err(error) => Err(PageError(error)),
    }
}

/// The one-tap form's fields.
#[derive(Debug, Deserialize)]
pub struct PromptForm {
    #[serde(default)]
    idempotency_key: String,
    #[serde(default)]
    pupil_id: String,
    /// Sent by the page's script: how many seconds ago the tap was (a queued tap is sent
    /// later). Measured on the device, so a phone's clock being wrong does not matter.
    #[serde(default)]
    age_seconds: String,
}

fn parse_prompt(form: &PromptForm, now: DateTime<Utc>) -> Result<(IdempotencyKey, NewIncident)> {
    let key = IdempotencyKey::parse("idempotency_key", &form.idempotency_key)?;
    let pupil_id: i64 = form
        .pupil_id
        .trim()
        .parse()
        .map_err(|_| Error::invalid("pupil_ids", "choose a pupil"))?;
    let age = match form.age_seconds.trim() {
        "" => 0,
        raw => raw
            .parse::<i64>()
            .map_err(|_| Error::invalid("age_seconds", "age_seconds must be a whole number"))?,
    };
    // A negative age (a confused device) counts as now; one past the backdating limit is
    // refused below rather than logged at the wrong time.
    let age = age.clamp(0, (MAX_BACKDATE_DAYS + 1) * 24 * 60 * 60);
    let new = NewIncident::parse(
        &IncidentSubmission {
            pupil_ids: &[pupil_id],
            behaviour: QUICK_PROMPT_BEHAVIOUR,
            severity: Some("minor"),
            response: Some("prompt"),
            occurred_at: Some(now - TimeDelta::seconds(age)),
            ..Default::default()
        },
        now,
    )
    .map_err(detail_error)?;
    Ok((key, new))
}

/// `POST /log/prompt`: logs a Coaching Prompt for one pupil, now.
pub async fn prompt(
    SignedIn(member): SignedIn,
    session: Session,
    request: HttpRequest,
    form: CsrfForm<PromptForm>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, PageError> {
    let outcome = match parse_prompt(&form.0, Utc::now()) {
        Ok((key, new)) => log(&state, &member, key, new, None).await,
        Err(error) => Err(error),
    };
    finish_logging(&state, &member, &session, wants_json(&request), outcome).await
}

// ---------------------------------------------------------------------------------------
// The details form

/// What the details form shows besides the values typed.
struct DetailsData {
    chosen: Vec<PupilView>,
    behaviours: Vec<Behaviour>,
    /// Pupils found to add, when searched.
    results: Option<Vec<PupilView>>,
    /// The school's timetable, to say which lesson period the incident falls in.
    timetable: Timetable,
}

/// The lesson period a moment falls in, as the form says it: "Period 3, 11:05 to 12:05", or
/// "Before school" and the like.
fn period_words(timetable: &Timetable, at: DateTime<Utc>) -> String {
    match timetable.moment_at(at) {
        Moment::Period(period) => format!("{}, {}", period.name, period.span()),
        other => other.label().to_string(),
    }
}

/// The fields of the details form, as rendered.
const DETAIL_FIELDS: [&str; 8] = [
    "pupil_ids",
    "behaviour",
    "severity",
    "response",
    "occurred_at",
    "location",
    "lesson",
    "note",
];

fn radio(name: &str, value: &str, label: &str, values: &Fields) -> Markup {
    html! {
        label.choice {
            input type="radio" name=(name) value=(value) checked[values.get(name) == Some(value)];
            " " (label)
        }
    }
}

fn render_details(
    data: &DetailsData,
    values: &Fields,
    problem: Option<&Problem>,
    csrf: &str,
    searched: &str,
) -> Markup {
    let chosen_behaviour = values.get("behaviour").unwrap_or_default();
    let listed = data.behaviours.iter().any(|b| b.name == chosen_behaviour);
    // The period of the time in the form (now, when the form is new).
    let period_time = parse_local_time("occurred_at", values.get("occurred_at"))
        .ok()
        .flatten()
        .unwrap_or_else(Utc::now);
    let add_link = |extra: i64| {
        let mut link = String::from("/log/new?");
        for pupil in &data.chosen {
            link.push_str(&format!("pupil={}&", pupil.id));
        }
        link.push_str(&format!("pupil={extra}"));
        link
    };
    html! {
        div #logger {
            h1 { "Log an incident" }
            p #queue-status.queue-status role="status" aria-live="polite" hidden {}
            (problem_summary(problem, &DETAIL_FIELDS))
            form #details.stack method="post" action="/log/new" data-queue="details" data-label="Incident" {
                (csrf_field(csrf))
                input type="hidden" name="idempotency_key" value=(values.raw("idempotency_key"));
                fieldset {
                    legend { "Pupils" }
                    @if data.chosen.is_empty() {
                        p.muted { "No pupil chosen yet: find them below." }
                    }
                    @for pupil in &data.chosen {
                        label.choice {
                            input type="checkbox" name="pupil_ids" value=(pupil.id) checked;
                            " " (pupil.full_name()) " " span.muted { (pupil.form) }
                        }
                    }
                    (field_problem(problem, "pupil_ids"))
                }
                label for="behaviour" { "What happened" }
                select #behaviour name="behaviour" {
                    option value="" { "Choose a behaviour" }
                    @if !chosen_behaviour.is_empty() && !listed {
                        option value=(chosen_behaviour) selected { (chosen_behaviour) }
                    }
                    @for behaviour in &data.behaviours {
                        option value=(behaviour.name) data-serious[behaviour.serious] selected[behaviour.name == chosen_behaviour] {
                            (behaviour.name) @if behaviour.serious { " (serious)" }
                        }
                    }
                }
                (field_problem(problem, "behaviour"))
                fieldset #severity {
                    legend { "How serious" }
                    (radio("severity", "minor", "Minor", values))
                    (radio("severity", "serious", "Serious", values))
                    p.hint { "Left blank, it follows the behaviour: those marked serious are logged as serious." }
                    (field_problem(problem, "severity"))
                }
                fieldset {
                    legend { "Your response" }
                    (radio("response", "prompt", "Coaching Prompt", values))
                    (radio("response", "conversation", "Coaching Conversation", values))
                    (radio("response", "none", "No coaching response", values))
                    (field_problem(problem, "response"))
                }
                label for="occurred_at" { "When (London time)" }
                input #occurred_at type="datetime-local" name="occurred_at" value=(values.raw("occurred_at")) data-now-unless-changed aria-describedby="current-period";
                p.hint #current-period {
                    "Lesson period: " strong.period { (period_words(&data.timetable, period_time)) }
                }
                (field_problem(problem, "occurred_at"))
                label for="location" { "Where (optional)" }
                input #location type="text" name="location" maxlength="100" value=(values.raw("location")) placeholder="Room, corridor, field…";
                (field_problem(problem, "location"))
                label for="lesson" { "Lesson or subject (optional)" }
                input #lesson type="text" name="lesson" maxlength="100" value=(values.raw("lesson"));
                (field_problem(problem, "lesson"))
                label for="note" { "A short note (optional)" }
                textarea #note name="note" rows="3" maxlength="1000" { (values.raw("note")) }
                (field_problem(problem, "note"))
                button.primary type="submit" { "Log" }
            }
            section.card #add-pupils {
                h2 { "Add a pupil" }
                form.search method="get" action="/log/new" role="search" {
                    @for pupil in &data.chosen {
                        input type="hidden" name="pupil" value=(pupil.id);
                    }
                    label for="add-q" { "Name or UPN" }
                    div.row {
                        input #add-q type="search" name="q" value=(searched) autocomplete="off";
                        button type="submit" { "Find" }
                    }
                }
                @if let Some(results) = &data.results {
                    @if results.is_empty() {
                        p.muted { "No pupil matches." }
                    } @else {
                        ul.list {
                            @for pupil in results {
                                li { a href=(add_link(pupil.id)) { "Add " (pupil.full_name()) } " " span.muted { (pupil.form) } }
                            }
                        }
                    }
                }
            }
            p { a href="/log" { "Back to the list" } }
        }
    }
}

/// The details form's first values: a Coaching Prompt, now, with a fresh key.
fn fresh_details(now: DateTime<Utc>) -> Fields {
    Fields::from_pairs([
        ("idempotency_key", random_token()),
        ("response", "prompt".to_string()),
        ("occurred_at", local_input_value(now)),
    ])
}

fn details_page(
    member: &StaffMember,
    session: &Session,
    data: &DetailsData,
    values: &Fields,
    problem: Option<&Problem>,
    searched: &str,
) -> Markup {
    with_viewer(member, session, |viewer| {
        let body = render_details(data, values, problem, viewer.csrf, searched);
        page("Log an incident", viewer, body)
    })
}

/// `GET /log/new?pupil=ID&pupil=ID&q=`: the details form for the chosen pupils.
pub async fn details_form(
    SignedIn(member): SignedIn,
    session: Session,
    request: HttpRequest,
    state: web::Data<AppState>,
) -> Result<HttpResponse, PageError> {
    let query = Fields::from_query(request.query_string());
    let mut chosen = query.ids_lenient("pupil");
    chosen.dedup();
    let searched = query.get("q").unwrap_or_default().to_string();
    let school_id = member.school_id;
    let text = searched.clone();
    let data = state
        .db
        .transaction(move |conn| {
            let chosen = pupils_in_order(conn, school_id, &chosen)?;
            let behaviours = behaviours::list(conn, school_id, false)?;
            let results = if text.is_empty() {
                None
            } else {
                let search = PupilSearch {
                    text: Some(text),
                    year: None,
                    form: None,
                    limit: SEARCH_LIMIT,
                    include_left: false,
                };
                let found = pupils::search(conn, school_id, &search)?;
                Some(
                    found
                        .into_iter()
                        .filter(|p| !chosen.iter().any(|c| c.id == p.id))
                        .collect(),
                )
            };
            Ok(DetailsData {
                chosen,
                behaviours,
                results,
                timetable: timetable::load(conn, school_id)?,
            })
        })
        .await?;
    let values = fresh_details(Utc::now());
    Ok(html_response(
        StatusCode::OK,
        details_page(&member, &session, &data, &values, None, &searched),
    ))
}

/// Reads the details form into an incident: the key, the incident, and the time given.
fn parse_details(
    fields: &Fields,
    behaviours: &[Behaviour],
    now: DateTime<Utc>,
) -> Result<(IdempotencyKey, NewIncident, Option<DateTime<Utc>>)> {
    let key = IdempotencyKey::parse("idempotency_key", fields.raw("idempotency_key"))?;
    let pupil_ids = fields.ids("pupil_ids", "pupil_ids").map_err(detail_error)?;
    let behaviour = fields.get("behaviour").unwrap_or_default();
    let severity = fields.get("severity").or_else(|| {
        behaviours.iter().find(|b| b.name == behaviour).map(|b| {
            if b.serious {
                "serious"
            } else {
                "minor"
            }
        })
    });
    let occurred_at =
        parse_local_time("occurred_at", fields.get("occurred_at")).map_err(detail_error)?;
    let new = NewIncident::parse(
        &IncidentSubmission {
            pupil_ids: &pupil_ids,
            behaviour,
            severity,
            response: fields.get("response"),
            occurred_at,
            location: fields.get("location"),
            lesson: fields.get("lesson"),
            note: fields.get("note"),
        },
        now,
    )
    .map_err(detail_error)?;
    Ok((key, new, occurred_at))
}

/// `POST /log/new`: logs an incident with its details. A fault shows the form again with
/// the message next to the field (400) and writes nothing.
pub async fn details_submit(
    SignedIn(member): SignedIn,
    session: Session,
    request: HttpRequest,
    form: CsrfForm<Fields>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, PageError> {
    let json = wants_json(&request);
    let fields = form.0;
    let school_id = member.school_id;
    let listed = state
        .db
        .transaction(move |conn| behaviours::list(conn, school_id, false))
        .await?;
    let outcome = match parse_details(&fields, &listed, Utc::now()) {
        Ok((key, new, explicit_time)) => log(&state, &member, key, new, explicit_time).await,
        Err(error) => Err(error),
    };
    let problem = match &outcome {
        Err(error) if !json && error.status() == 400 => Problem::of(error),
        _ => None,
    };
    let Some(problem) = problem else {
        return finish_logging(&state, &member, &session, json, outcome).await;
    };
    let chosen = fields.ids_lenient("pupil_ids");
    let (chosen, timetable) = state
        .db
        .transaction(move |conn| {
            Ok((
                pupils_in_order(conn, school_id, &chosen)?,
                timetable::load(conn, school_id)?,
            ))
        })
        .await?;
    let data = DetailsData {
        chosen,
        behaviours: listed,
        results: None,
        timetable,
    };
    Ok(html_response(
        StatusCode::BAD_REQUEST,
        details_page(&member, &session, &data, &fields, Some(&problem), ""),
    ))
}

// ---------------------------------------------------------------------------------------
// Undo and edit

fn incident_id(path: &str) -> Result<i64> {
    path.parse().map_err(|_| Error::NotFound("incident"))
}

/// `POST /log/incidents/{id}/undo`: the author undoes an incident within the window.
pub async fn undo(
    SignedIn(member): SignedIn,
    path: web::Path<String>,
    _form: CsrfForm<Fields>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, PageError> {
    let id = incident_id(&path)?;
    let (school_id, staff_id) = (member.school_id, member.id);
    state
        .db
        .write(move |conn| incidents::void(conn, school_id, staff_id, id, Utc::now()))
        .await?;
    tracing::info!(incident_id = id, "incident undone by its author");
    Ok(see_other(&format!("/log?undone={id}")))
}

fn render_edit(
    incident: &IncidentRow,
    pupils: &[PupilView],
    behaviours: &[Behaviour],
    values: &Fields,
    problem: Option<&Problem>,
    csrf: &str,
) -> Markup {
    let chosen = values.get("behaviour").unwrap_or_default();
    let listed = behaviours.iter().any(|b| b.name == chosen);
    html! {
        h1 { "Edit what you logged" }
        p.muted {
            (what_was_logged(&incident.response)) " for " (names(pupils)) ", "
            (local(from_db_time(incident.occurred_at))) " · " (incident.severity)
        }
        (problem_summary(problem, &["behaviour", "location", "lesson", "note"]))
        form.stack method="post" action={ "/log/incidents/" (incident.id) "/edit" } {
            (csrf_field(csrf))
            label for="behaviour" { "What happened" }
            select #behaviour name="behaviour" {
                @if !chosen.is_empty() && !listed {
                    option value=(chosen) selected { (chosen) }
                }
                @for behaviour in behaviours {
                    option value=(behaviour.name) selected[behaviour.name == chosen] { (behaviour.name) }
                }
            }
            (field_problem(problem, "behaviour"))
            label for="location" { "Where (optional)" }
            input #location type="text" name="location" maxlength="100" value=(values.raw("location"));
            (field_problem(problem, "location"))
            label for="lesson" { "Lesson or subject (optional)" }
            input #lesson type="text" name="lesson" maxlength="100" value=(values.raw("lesson"));
            (field_problem(problem, "lesson"))
            label for="note" { "A short note (optional)" }
            textarea #note name="note" rows="3" maxlength="1000" { (values.raw("note")) }
            (field_problem(problem, "note"))
            p.hint { "The change is recorded: which details changed, when, and by whom." }
            button.primary type="submit" { "Save" }
        }
        p { a href={ "/log?logged=" (incident.id) } { "Back" } }
    }
}

/// What the edit form needs: the incident, its pupils and the behaviour list.
type EditData = (IncidentRow, Vec<PupilView>, Vec<Behaviour>);

async fn edit_data(state: &AppState, member: &StaffMember, id: i64) -> Result<EditData> {
    let school_id = member.school_id;
    let (incident, pupils, listed) = state
        .db
        .transaction(move |conn| {
            let (incident, pupil_ids) = incidents::get(conn, school_id, id)?;
            let pupils = pupils_in_order(conn, school_id, &pupil_ids)?;
            let listed = behaviours::list(conn, school_id, false)?;
            Ok((incident, pupils, listed))
        })
        .await?;
    if incident.reported_by != member.id {
        return Err(Error::Forbidden(
            "only the adult who logged an incident may change it".into(),
        ));
    }
    Ok((incident, pupils, listed))
}

/// `GET /log/incidents/{id}/edit`: the author's correction form.
pub async fn edit_form(
    SignedIn(member): SignedIn,
    session: Session,
    path: web::Path<String>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, PageError> {
    let id = incident_id(&path)?;
    let (incident, pupils, listed) = edit_data(&state, &member, id).await?;
    let values = Fields::from_pairs([
        ("behaviour", incident.behaviour.clone()),
        ("location", incident.location.clone().unwrap_or_default()),
        ("lesson", incident.lesson.clone().unwrap_or_default()),
        ("note", incident.note.clone().unwrap_or_default()),
    ]);
    let markup = with_viewer(&member, &session, |viewer| {
        let body = render_edit(&incident, &pupils, &listed, &values, None, viewer.csrf);
        page("Edit", viewer, body)
    });
    Ok(html_response(StatusCode::OK, markup))
}

/// `POST /log/incidents/{id}/edit`: saves the author's correction (audited by the database
/// layer, which records which fields changed).
pub async fn edit_submit(
    SignedIn(member): SignedIn,
    session: Session,
    path: web::Path<String>,
    form: CsrfForm<Fields>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, PageError> {
    let id = incident_id(&path)?;
    let values = form.0;
    let (incident, pupils, listed) = edit_data(&state, &member, id).await?;
    let now = Utc::now();
    let pupil_ids: Vec<i64> = pupils.iter().map(|p| p.id).collect();
    let checked = NewIncident::parse(
        &IncidentSubmission {
            pupil_ids: &pupil_ids,
            behaviour: values.get("behaviour").unwrap_or_default(),
            severity: Some(&incident.severity),
            response: Some(&incident.response),
            location: values.get("location"),
            lesson: values.get("lesson"),
            note: values.get("note"),
            occurred_at: None,
        },
        now,
    );
    let change = match checked {
        Ok(checked) => IncidentEdit {
            behaviour: checked.behaviour,
            location: checked.location,
            lesson: checked.lesson,
            note: checked.note,
        },
        Err(error) => {
            let problem = Problem::from(error);
            let markup = with_viewer(&member, &session, |viewer| {
                let body = render_edit(
                    &incident,
                    &pupils,
                    &listed,
                    &values,
                    Some(&problem),
                    viewer.csrf,
                );
                page("Edit", viewer, body)
            });
            return Ok(html_response(StatusCode::BAD_REQUEST, markup));
        }
    };
    let (school_id, staff_id) = (member.school_id, member.id);
    state
        .db
        .write(move |conn| incidents::edit(conn, school_id, staff_id, id, &change, now))
        .await?;
    tracing::info!(incident_id = id, "incident edited by its author");
    Ok(see_other(&format!("/log?logged={id}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pupil() -> PupilView {
        PupilView {
            given_name: "Sam".into(),
            family_name: "Okafor".into(),
            ..template_pupil()
        }
    }

    fn suggestion(from: i16, to: i16) -> SuggestionRow {
        SuggestionRow {
            id: 1,
            school_id: 1,
            pupil_id: 0,
            from_level: from,
            to_level: to,
            rule: "r".into(),
            reason: "Three prompts in five school days.".into(),
            evidence: "[1,2,3]".into(),
            status: "open".into(),
            policy_version: 1,
            created_at: chrono::NaiveDateTime::default(),
            decided_by: None,
            decided_at: None,
            decision_note: None,
            snoozed_until: None,
        }
    }

    #[test]
    fn suggestions_are_announced_in_words() {
        assert_eq!(
            suggestion_sentence(&suggestion(1, 2), &pupil()),
            "A Coaching Conversation is now suggested for Sam"
        );
        assert_eq!(
            suggestion_sentence(&suggestion(2, 3), &pupil()),
            "Coaching Time is now suggested for Sam"
        );
        assert_eq!(
            suggestion_sentence(&suggestion(2, 1), &pupil()),
            "A step down to Coaching Prompt is now suggested for Sam"
        );
    }

    #[test]
    fn a_prompt_needs_a_key_and_a_pupil() {
        let now = Utc::now();
        let form = |key: &str, pupil: &str, age: &str| PromptForm {
            idempotency_key: key.into(),
            pupil_id: pupil.into(),
            age_seconds: age.into(),
        };
        let key = "0123456789abcdef";
        let (_, new) = parse_prompt(&form(key, "7", "90"), now).unwrap();
        assert_eq!(new.pupil_ids, vec![7]);
        assert_eq!(new.occurred_at, now - TimeDelta::seconds(90));
        assert_eq!(new.behaviour, QUICK_PROMPT_BEHAVIOUR);
        assert_eq!(
            parse_prompt(&form("", "7", ""), now).unwrap_err().field(),
            Some("idempotency_key")
        );
        assert_eq!(
            parse_prompt(&form(key, "x", ""), now).unwrap_err().field(),
            Some("pupil_ids")
        );
        // A negative age (a confused device) counts as now.
        let (_, new) = parse_prompt(&form(key, "7", "-50"), now).unwrap();
        assert_eq!(new.occurred_at, now);
        // A tap queued for longer than incidents may be backdated is refused, not misdated.
        let ancient = (MAX_BACKDATE_DAYS * 24 * 60 * 60 + 60).to_string();
        assert_eq!(
            parse_prompt(&form(key, "7", &ancient), now)
                .unwrap_err()
                .field(),
            Some("occurred_at")
        );
        assert!(parse_prompt(&form(key, "7", &i64::MAX.to_string()), now).is_err());
    }

    #[test]
    fn the_fingerprint_ignores_a_prompts_time_but_not_a_chosen_one() {
        let now = Utc::now();
        let key = "0123456789abcdef";
        let prompt = |age: &str| {
            parse_prompt(
                &PromptForm {
                    idempotency_key: key.into(),
                    pupil_id: "7".into(),
                    age_seconds: age.into(),
                },
                now,
            )
            .unwrap()
            .1
        };
        assert_eq!(
            fingerprint(&prompt("1"), None),
            fingerprint(&prompt("9"), None)
        );
        let at = now - TimeDelta::minutes(3);
        assert_ne!(
            fingerprint(&prompt("1"), Some(at)),
            fingerprint(&prompt("1"), None)
        );
    }

    #[test]
    fn a_serious_behaviour_makes_a_serious_incident_unless_told_otherwise() {
        let listed = vec![Behaviour {
            id: 1,
            name: "Bullying".into(),
            serious: true,
            position: 1,
            active: true,
        }];
        let now = Utc::now();
        let fields = |severity: &str| {
            Fields::from_query(&format!(
                "idempotency_key=0123456789abcdef&pupil_ids=4&pupil_ids=5&behaviour=Bullying&response=prompt&severity={severity}"
            ))
        };
        let (_, new, time) = parse_details(&fields(""), &listed, now).unwrap();
        assert_eq!(new.severity.as_str(), "serious");
        assert_eq!(new.pupil_ids, vec![4, 5]);
        assert_eq!(time, None);
        let (_, new, _) = parse_details(&fields("minor"), &listed, now).unwrap();
        assert_eq!(new.severity.as_str(), "minor");
    }
}
