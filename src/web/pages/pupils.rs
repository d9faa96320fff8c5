//! Finding a pupil, and the pupil page: the current level with what it means on top, then
//! the timeline (incidents, conversations, level changes, suggestions and meetings, newest
//! first), filtered by kind and date. Members who may decide the pupil's moves change the
//! level by hand there: step up, step down or close with a reason, and for SLT and the
//! SENDCO an override to any level, with a reason.

use std::collections::HashMap;

use actix_session::Session;
use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use chrono::{DateTime, NaiveDate, Utc};
use maud::{html, Markup};
use serde::Deserialize;

use super::form::{html_response, local, see_other, Fields};
use super::inbox::{meeting_sentence, with_counted_viewer};
use super::layout::{csrf_field, level_badge, page};
use super::log::prompt_form;
use super::with_viewer;
use crate::db::audit;
use crate::db::decisions::{self, ManualMove, MAX_REASON_CHARS};
use crate::db::inbox::{self, Outcome};
use crate::db::models::{IncidentRow, SuggestionRow};
use crate::db::notices::NoticeContext;
use crate::db::pupils::{self, PupilSearch, PupilView};
use crate::db::staff::StaffMember;
use crate::db::timeline::{self, EventDetail, EventKind, TimelineEvent, TimelineFilter};
use crate::db::{conversations, evaluation, from_db_time, incidents, DbConnection};
use crate::domain::calendar::SchoolCalendar;
use crate::domain::programme::SessionOutcome;
use crate::domain::visibility::Record;
use crate::domain::{Level, Role};
use crate::error::{Error, Result};
use crate::web::api::timeline::optional_date;
use crate::web::auth::{CsrfForm, SignedIn};
use crate::web::error::PageError;
use crate::web::AppState;

/// Most pupils a search page lists.
const SEARCH_LIMIT: i64 = 100;

/// How many entries of each kind the timeline shows.
const TIMELINE_LIMIT: i64 = 200;

/// Most incidents shown as the evidence of one suggestion, or as followed up by one conversation.
const EVIDENCE_SHOWN: usize = 10;

/// The search form's fields.
#[derive(Debug, Deserialize)]
pub struct SearchQuery {
    q: Option<String>,
    year: Option<String>,
}

fn html_page(markup: Markup) -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/html; charset=utf-8")
        .body(markup.into_string())
}

/// `GET /pupils`: search by name or UPN, optionally within a year group.
pub async fn search(
    SignedIn(member): SignedIn,
    session: Session,
    query: web::Query<SearchQuery>,
    state: web::Data<AppState>,
) -> std::result::Result<HttpResponse, PageError> {
    let text = query.q.clone().unwrap_or_default();
    let year = crate::web::api::optional_number::<i16>("year", query.year.as_deref())?;
    let school_id = member.school_id;
    let searched = !text.trim().is_empty() || year.is_some();
    let search = PupilSearch {
        text: Some(text.clone()),
        year,
        form: None,
        limit: SEARCH_LIMIT,
        include_left: false,
    };
    let found = if searched {
        state
            .db
            .transaction(move |conn| pupils::search(conn, school_id, &search))
            .await?
    } else {
        Vec::new()
    };
    let body = html! {
        h1 { "Pupils" }
        form.search method="get" action="/pupils" role="search" {
            label for="q" { "Name or UPN" }
            div.row {
                input #q type="search" name="q" value=(text) autocomplete="off" autofocus;
                select name="year" aria-label="Year group" {
                    option value="" { "All years" }
                    @for y in 7..=13i16 {
                        option value=(y) selected[year == Some(y)] { "Year " (y) }
                    }
                }
                button type="submit" { "Search" }
            }
        }
        @if searched {
            @if found.is_empty() {
                p.muted { "No pupil matches." }
            } @else {
                p.muted { (found.len()) @if found.len() as i64 == SEARCH_LIMIT { "+" } " found" }
                table.pupils {
                    thead { tr { th { "Name" } th { "Form" } th { "UPN" } th { "Level" } } }
                    tbody {
                        @for pupil in &found {
                            tr {
                                td { a href={ "/pupils/" (pupil.id) } { (pupil.family_name) ", " (pupil.given_name) } }
                                td { (pupil.form) }
                                td.mono { (pupil.upn) }
                                td { (level_badge(pupil.level)) }
                            }
                        }
                    }
                }
            }
        }
    };
    Ok(html_page(with_viewer(&member, &session, |viewer| {
        page("Pupils", viewer, body)
    })))
}

/// The timeline's filters as chosen on the page, with a problem in them if any.
struct Filters {
    filter: TimelineFilter,
    problem: Option<Error>,
    from: String,
    to: String,
}

fn read_filters(query: &Fields) -> Filters {
    let kinds: Vec<EventKind> = query
        .all("type")
        .filter_map(|k| EventKind::parse(k).ok())
        .collect();
    let from_raw = query.get("from").unwrap_or_default().to_string();
    let to_raw = query.get("to").unwrap_or_default().to_string();
    let mut problem = None;
    let mut date = |field: &str, raw: &str| match optional_date(field, Some(raw)) {
        Ok(date) => date,
        Err(error) => {
            problem.get_or_insert(error);
            None
        }
    };
    let mut from = date("from", &from_raw);
    let mut to = date("to", &to_raw);
    if let (Some(f), Some(t)) = (from, to) {
        if f > t {
            problem.get_or_insert(Error::invalid(
                "to",
                "the end date is before the start date",
            ));
            (from, to) = (None, None);
        }
    }
    Filters {
        filter: TimelineFilter {
            kinds,
            from,
            to,
            limit: TIMELINE_LIMIT,
        },
        problem,
        from: from_raw,
        to: to_raw,
    }
}

/// Everything the pupil page shows, read in one transaction.
struct PupilPage {
    pupil: PupilView,
    events: Vec<TimelineEvent>,
    /// Suggestions waiting for a decision, whatever the filters.
    open: Vec<SuggestionRow>,
    /// Incidents named as evidence or followed up, by id.
    incidents: HashMap<i64, IncidentRow>,
    /// The incidents each conversation on the timeline follows up.
    followed_up: HashMap<i64, Vec<i64>>,
    /// A move just made by hand, to confirm.
    moved: Option<Outcome>,
    /// Open suggestions waiting for the member, for members with an inbox.
    decisions: Option<i64>,
    /// Incidents over time and whether each step helped, for those who may see them.
    insight: Markup,
    /// Whether the member may erase a record on request.
    may_erase: bool,
    /// Whether a record was just erased on request, to confirm.
    erased: bool,
}

fn evidence_of(row: &SuggestionRow) -> Vec<i64> {
    serde_json::from_str(&row.evidence).unwrap_or_default()
}

fn gather(
    conn: &mut DbConnection,
    member: &StaffMember,
    pupil_id: i64,
    filter: &TimelineFilter,
    moved: Option<(i64, Option<i64>)>,
) -> Result<PupilPage> {
    let school_id = member.school_id;
    let pupil = pupils::get(conn, school_id, pupil_id)?;
    let moved = match moved {
        Some((change, meeting)) => inbox::move_outcome(conn, school_id, pupil_id, change, meeting)?,
        None => None,
    };
    let decisions =
        inbox::count_for_nav(conn, member, SchoolCalendar::local_date(chrono::Utc::now()))?;
    let events = timeline::for_pupil(conn, member, &pupil, filter)?;
    let insight = super::insight::pupil_section(
        conn,
        member,
        &pupil,
        SchoolCalendar::local_date(chrono::Utc::now()),
    )?;
    let suggestions_only = TimelineFilter {
        kinds: vec![EventKind::Suggestion],
        from: None,
        to: None,
        limit: 50,
    };
    let open: Vec<SuggestionRow> = timeline::for_pupil(conn, member, &pupil, &suggestions_only)?
        .into_iter()
        .filter_map(|event| match event.detail {
            EventDetail::Suggestion(row) if row.status == "open" => Some(row),
            _ => None,
        })
        .collect();
    let mut incidents: HashMap<i64, IncidentRow> = HashMap::new();
    let mut conversation_ids = Vec::new();
    for event in &events {
        match &event.detail {
            EventDetail::Incident(row, _) => {
                incidents.insert(row.id, row.clone());
            }
            EventDetail::Conversation(c) => conversation_ids.push(c.id),
            _ => {}
        }
    }
    let followed_up = conversations::linked_incidents(conn, school_id, &conversation_ids)?;
    let mut wanted: Vec<i64> = open
        .iter()
        .flat_map(|s| evidence_of(s).into_iter().take(EVIDENCE_SHOWN))
        .chain(
            followed_up
                .values()
                .flat_map(|ids| ids.iter().copied().take(EVIDENCE_SHOWN)),
        )
        .filter(|id| !incidents.contains_key(id))
        .collect();
    wanted.sort_unstable();
    wanted.dedup();
    for id in wanted {
        match incidents::get(conn, school_id, id) {
            Ok((row, _)) => {
                incidents.insert(id, row);
            }
            Err(Error::NotFound(_)) => {}
            Err(other) => return Err(other),
        }
    }
    Ok(PupilPage {
        pupil,
        events,
        open,
        incidents,
        followed_up,
        moved,
        decisions,
        insight,
        may_erase: member.has_any_role(&super::erase::ERASERS),
        erased: false,
    })
}

/// `GET /pupils/{id}?type=incident&type=meeting&from=YYYY-MM-DD&to=YYYY-MM-DD`: one pupil of
/// the member's school, with their timeline.
pub async fn show(
    SignedIn(member): SignedIn,
    session: Session,
    path: web::Path<String>,
    request: HttpRequest,
    state: web::Data<AppState>,
) -> std::result::Result<HttpResponse, PageError> {
    let pupil_id: i64 = path.parse().map_err(|_| Error::NotFound("pupil"))?;
    let query = Fields::from_query(request.query_string());
    let filters = read_filters(&query);
    let recorded = query.get("recorded") == Some("conversation");
    let moved = query
        .get("moved")
        .and_then(|id| id.parse::<i64>().ok())
        .map(|id| (id, query.get("meeting").and_then(|m| m.parse::<i64>().ok())));
    let filter = filters.filter.clone();
    let for_member = member.clone();
    let mut data = state
        .db
        .transaction(move |conn| gather(conn, &for_member, pupil_id, &filter, moved))
        .await?;
    data.erased = query.get("erased").is_some();
    audit::record_sen_read(&state.db, &member, &data.pupil).await?;
    let status = if filters.problem.is_some() {
        StatusCode::BAD_REQUEST
    } else {
        StatusCode::OK
    };
    Ok(pupil_response(
        &member,
        &session,
        status,
        &data,
        &filters,
        recorded,
        &LevelForm::default(),
    ))
}

/// The pupil page, with the state of its level forms.
fn pupil_response(
    member: &StaffMember,
    session: &Session,
    status: StatusCode,
    data: &PupilPage,
    filters: &Filters,
    recorded: bool,
    level_form: &LevelForm,
) -> HttpResponse {
    let markup = with_counted_viewer(member, session, data.decisions, |viewer| {
        let body = render_pupil(data, filters, recorded, viewer.csrf, member, level_form);
        page(&data.pupil.full_name(), viewer, body)
    });
    html_response(status, markup)
}

fn date(on: NaiveDate) -> String {
    on.format("%a %-d %b %Y").to_string()
}

fn level_title(number: i16) -> &'static str {
    Level::from_number(i64::from(number))
        .map(|l| l.title())
        .unwrap_or("unknown level")
}

fn response_words(response: &str) -> &'static str {
    match response {
        "prompt" => "Coaching Prompt given",
        "conversation" => "Coaching Conversation held",
        _ => "no coaching response",
    }
}

fn time_of(at: DateTime<Utc>) -> Markup {
    html! { time datetime=(at.to_rfc3339()) { (local(at)) } }
}

/// A short list of incidents by their time and behaviour (evidence, or followed up).
fn incident_list(ids: &[i64], known: &HashMap<i64, IncidentRow>) -> Markup {
    html! {
        ul.evidence {
            @for id in ids.iter().take(EVIDENCE_SHOWN) {
                li {
                    @if let Some(incident) = known.get(id) {
                        a href={ "#incident-" (id) } { (local(from_db_time(incident.occurred_at))) }
                        " · " (incident.behaviour)
                        @if incident.voided_at.is_some() { " " span.tag { "undone" } }
                    } @else {
                        "Incident " (id)
                    }
                }
            }
            @if ids.len() > EVIDENCE_SHOWN { li.muted { "and " (ids.len() - EVIDENCE_SHOWN) " more" } }
        }
    }
}

fn suggestion_body(row: &SuggestionRow, known: &HashMap<i64, IncidentRow>) -> Markup {
    let evidence = evidence_of(row);
    html! {
        p { (row.reason) }
        @if row.status == "open" && !evidence.is_empty() {
            p.muted { "Evidence:" }
            (incident_list(&evidence, known))
        }
    }
}

fn render_event(event: &TimelineEvent, data: &PupilPage) -> Markup {
    html! {
        @match &event.detail {
            EventDetail::Incident(row, logged_by) => {
                @let undone = row.voided_at.is_some();
                li.entry.incident.undone[undone] id={ "incident-" (row.id) } {
                    (time_of(event.at))
                    strong {
                        @if undone { del { (row.behaviour) } } @else { (row.behaviour) }
                    }
                    @if undone { " " span.tag.alert { "undone" } }
                    @if row.edited_at.is_some() { " " span.tag { "edited" } }
                    p {
                        (row.severity) " · " (response_words(&row.response))
                        @if let Some(lesson) = &row.lesson { " · lesson: " (lesson) }
                        @if let Some(location) = &row.location { " · where: " (location) }
                        " · logged by " (logged_by)
                    }
                    @if let Some(note) = &row.note { p.note { (note) } }
                    @if data.may_erase { p.small { a.erase href={ "/incidents/" (row.id) "/erase" } { "Erase this incident…" } } }
                }
            }
            EventDetail::Conversation(c) => {
                li.entry.conversation id={ "conversation-" (c.id) } {
                    (time_of(event.at))
                    strong { "Coaching Conversation" }
                    " held by " (c.held_by)
                    @if let Some(with_whom) = &c.with_whom { " with " (with_whom) }
                    dl.seeds {
                        dt { "What happened" } dd { (c.what_happened) }
                        @if let Some(text) = &c.what_got_in_the_way { dt { "What got in the way" } dd { (text) } }
                        @if let Some(text) = &c.what_could_help { dt { "What could help" } dd { (text) } }
                        dt { "The plan for next time" } dd { (c.plan_next_time) }
                        @if let Some(text) = &c.good_for_everyone { dt { "Good for me, good for you, good for everyone" } dd { (text) } }
                    }
                    @if let Some(ids) = data.followed_up.get(&c.id) {
                        p.muted { "Follows up:" }
                        (incident_list(ids, &data.incidents))
                    }
                    @if data.may_erase { p.small { a.erase href={ "/conversations/" (c.id) "/erase" } { "Erase this conversation…" } } }
                }
            }
            EventDetail::LevelChange(change) => {
                li.entry.level {
                    (time_of(event.at))
                    strong {
                        @if change.to_level > change.from_level { "Moved up" }
                        @else if change.to_level == 0 { "Support closed" }
                        @else { "Stepped down" }
                        " from " (level_title(change.from_level)) " to " (level_title(change.to_level))
                    }
                    @if change.is_override { " " span.tag.override { "Override: SLT/SENDCO decision" } }
                    p { (change.reason) }
                }
            }
            EventDetail::Suggestion(row) => {
                li.entry.suggestion.open[row.status == "open"] {
                    (time_of(event.at))
                    strong { "Suggested: " (level_title(row.to_level)) }
                    " " span.tag { (row.status) }
                    (suggestion_body(row, &data.incidents))
                }
            }
            EventDetail::Meeting(meeting) => {
                li.entry.meeting {
                    (time_of(event.at))
                    strong {
                        (level_title(meeting.level)) " meeting, "
                        @match meeting.status.as_str() {
                            "held" => "held",
                            "scheduled" => "booked",
                            "due" => { "due by " (date(meeting.due_on)) },
                            other => (other),
                        }
                    }
                    @if let Some(summary) = &meeting.summary { p { (summary) } }
                }
            }
            EventDetail::Session(session) => {
                li.entry.session {
                    (time_of(event.at))
                    strong {
                        "Programme session: "
                        (session.outcome.as_deref().and_then(|o| SessionOutcome::parse(o).ok()).map_or("recorded", SessionOutcome::title))
                    }
                    @if let Some(minutes) = session.minutes { " (" (minutes) " minutes)" }
                    @if let Some(by) = &session.delivered_by { " with " (by) }
                    @if let Some(note) = session.note.as_ref().or(session.reason.as_ref()) { p { (note) } }
                }
            }
        }
    }
}

fn render_filters(pupil_id: i64, filters: &Filters) -> Markup {
    let chosen = &filters.filter.kinds;
    let problem = filters.problem.as_ref();
    html! {
        form.filters method="get" action={ "/pupils/" (pupil_id) } {
            fieldset.kinds {
                legend { "Show" }
                @for kind in EventKind::ALL {
                    label.chip {
                        input type="checkbox" name="type" value=(kind.as_str())
                            checked[chosen.is_empty() || chosen.contains(&kind)];
                        " " (kind.label())
                    }
                }
            }
            div.row {
                label { "From " input type="date" name="from" value=(filters.from); }
                label { "To " input type="date" name="to" value=(filters.to); }
                button type="submit" { "Apply" }
                a href={ "/pupils/" (pupil_id) } { "Clear" }
            }
            @if let Some(problem) = problem {
                p.field-error role="alert" { (problem.to_string()) }
            }
        }
    }
}

fn render_pupil(
    data: &PupilPage,
    filters: &Filters,
    recorded: bool,
    csrf: &str,
    member: &StaffMember,
    level_form: &LevelForm,
) -> Markup {
    let pupil = &data.pupil;
    let facts = pupil.level.facts();
    html! {
        h1 { (pupil.full_name()) }
        p.muted {
            "Year " (pupil.year) " · form " (pupil.form)
            @if let Some(house) = &pupil.house { " · " (house) }
            " · UPN " span.mono { (pupil.upn) }
            @if member.may_read(pupil.place(), Record::SenStatus) { " · " (pupil.sen_status.title()) }
        }
        @if let Some(left_on) = pupil.left_on {
            p.notice.left role="status" {
                "Left the school on " (date(left_on)) ". Everything recorded is kept and can be read; nothing new can be added."
            }
        }
        div.actions.pupil-actions {
            @if pupil.left_on.is_none() {
                (prompt_form(pupil, csrf))
                a.button href={ "/log/new?pupil=" (pupil.id) } { "Log with details" }
                a.button href={ "/pupils/" (pupil.id) "/conversations/new" } { "Record a Coaching Conversation" }
            }
            @if super::programme::links_shown(member, pupil, Record::Plan) { a.button href={ "/pupils/" (pupil.id) "/plan" } { "Coaching Plan" } }
            @if super::programme::links_shown(member, pupil, Record::Programme) { a.button href={ "/pupils/" (pupil.id) "/programme" } { "Programme" } }
            @if super::provision::linked_from_pupil(member, pupil) { a.button href={ "/pupils/" (pupil.id) "/provision" } { "Provision map" } }
            @if member.may_read(pupil.place(), Record::SubjectAccess) { a.button href={ "/pupils/" (pupil.id) "/export" } { "Subject access record" } }
            @if member.may_read(pupil.place(), Record::TransferRecord) { a.button href={ "/pupils/" (pupil.id) "/transfer" } { "Record for a new school" } }
        }
        @if recorded {
            p.notice role="status" { "Coaching Conversation recorded." }
        }
        @if data.erased {
            p.notice #erased role="status" { "The record was erased. The audit log keeps who erased it, when and why." }
        }
        @if let Some(moved) = &data.moved {
            div.notice #moved role="status" {
                @for sentence in moved_sentences(moved) { p { (sentence) } }
            }
        }
        section.card.current {
            h2 { "Current level " (level_badge(pupil.level)) }
            p.muted { "Since " (local(pupil.level_since)) }
            @if pupil.level != Level::None {
                dl.facts {
                    dt { "Time" } dd { (facts.time) }
                    dt { "When" } dd { (facts.when) }
                    dt { "Who" } dd { (facts.who) }
                    dt { "Purpose" } dd { (facts.purpose) }
                }
            } @else {
                p { (facts.purpose) " Logging a Coaching Prompt places them at Coaching Prompt." }
            }
        }
        @if pupil.left_on.is_none() { (render_level_forms(pupil, member, level_form, csrf)) }
        @if !data.open.is_empty() {
            section.card.open-suggestions {
                h2 { "Waiting for a decision" }
                @for row in &data.open {
                    div.suggestion-note {
                        p { strong { "Suggested: " (level_title(row.to_level)) } " · " (local(from_db_time(row.created_at))) }
                        (suggestion_body(row, &data.incidents))
                    }
                }
            }
        }
        (data.insight)
        section.card #timeline {
            h2 { "Timeline" }
            (render_filters(pupil.id, filters))
            @if data.events.is_empty() {
                p.muted { "Nothing recorded yet." }
            } @else {
                ol.timeline {
                    @for event in &data.events { (render_event(event, data)) }
                }
            }
        }
    }
}

// ---------------------------------------------------------------------------------------
// Changing the level by hand

/// The moves `member` may offer for a pupil at their current level.
struct LevelChoices {
    up: Option<Level>,
    down: Option<Level>,
    close: bool,
    /// Levels an SLT or SENDCO override may move the pupil to.
    override_to: Vec<Level>,
}

fn level_choices(member: &StaffMember, pupil: &PupilView) -> LevelChoices {
    let (place, at) = (pupil.place(), pupil.level);
    let may = |to: Level| decisions::may_decide(member, place, at, to);
    LevelChoices {
        up: at.next().filter(|to| may(*to)),
        down: at.previous().filter(|to| *to != Level::None && may(*to)),
        close: at != Level::None && may(Level::None),
        override_to: if member.has_any_role(&[Role::Slt, Role::Sendco]) {
            Level::ALL
                .into_iter()
                .filter(|to| *to != at && may(*to))
                .collect()
        } else {
            Vec::new()
        },
    }
}

/// Which of the two level forms was sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
enum LevelFormKind {
    /// Step up, step down or close.
    #[default]
    Move,
    /// An SLT or SENDCO override.
    Override,
}

/// The level forms after a refused move: the problem, and what was typed.
#[derive(Debug, Clone, Default)]
struct LevelForm {
    kind: LevelFormKind,
    /// The field at fault when it is the reason, else `None` (shown above the forms).
    reason_problem: Option<String>,
    /// Why the move was refused, when it is not the reason's fault.
    refused: Option<String>,
    reason: String,
    to: Option<Level>,
}

fn moved_sentences(outcome: &Outcome) -> Vec<String> {
    let mut said = Vec::new();
    if let Some(change) = &outcome.change {
        let word = if change.is_override {
            " (an override)"
        } else {
            ""
        };
        said.push(format!(
            "{} moved from {} to {}{word}.",
            outcome.pupil.full_name(),
            level_title(change.from_level),
            level_title(change.to_level)
        ));
    }
    if let Some(meeting) = &outcome.meeting {
        said.push(meeting_sentence(meeting));
    }
    said
}

fn reason_problem(message: Option<&str>, id: &str) -> Markup {
    html! {
        p.field-error id={ "error-" (id) } role="alert" hidden[message.is_none()] {
            @if let Some(message) = message { (message) }
        }
    }
}

fn render_level_forms(
    pupil: &PupilView,
    member: &StaffMember,
    form: &LevelForm,
    csrf: &str,
) -> Markup {
    let choices = level_choices(member, pupil);
    let nothing = choices.up.is_none()
        && choices.down.is_none()
        && !choices.close
        && choices.override_to.is_empty();
    let action = format!("/pupils/{}/level", pupil.id);
    let for_kind = |kind: LevelFormKind| (form.kind == kind).then_some(form);
    let moving = for_kind(LevelFormKind::Move);
    let overriding = for_kind(LevelFormKind::Override);
    html! {
        @if !nothing {
            section.card.change-level #level {
                h2 { "Change level" }
                @if let Some(refused) = &form.refused {
                    p.error #level-refused role="alert" { (refused) }
                }
                @if choices.up.is_some() || choices.down.is_some() || choices.close {
                    form.stack method="post" action=(action) {
                        (csrf_field(csrf))
                        label for="level-reason" { "Why? (required)" }
                        textarea #level-reason name="reason" rows="2" required maxlength=(MAX_REASON_CHARS)
                            aria-describedby="error-level-reason" {
                            (moving.map(|f| f.reason.as_str()).unwrap_or_default())
                        }
                        (reason_problem(moving.and_then(|f| f.reason_problem.as_deref()), "level-reason"))
                        div.actions {
                            @if let Some(up) = choices.up {
                                button type="submit" name="to" value=(up.number()) { "Step up to " (up.title()) }
                            }
                            @if let Some(down) = choices.down {
                                button type="submit" name="to" value=(down.number()) { "Step down to " (down.title()) }
                            }
                            @if choices.close {
                                button type="submit" name="to" value=(Level::None.number()) { "Close support" }
                            }
                        }
                    }
                }
                @if !choices.override_to.is_empty() {
                    details.override open[overriding.is_some()] {
                        summary { "Override the sequence (SLT or SENDCO)" }
                        form.stack method="post" action=(action) {
                            (csrf_field(csrf))
                            input type="hidden" name="override" value="1";
                            label for="override-to" { "Move to" }
                            select #override-to name="to" {
                                @for level in &choices.override_to {
                                    option value=(level.number())
                                        selected[overriding.and_then(|f| f.to) == Some(*level)] {
                                        (level.number()) " · " (level.title())
                                    }
                                }
                            }
                            label for="override-reason" { "Why? (required)" }
                            textarea #override-reason name="reason" rows="2" required maxlength=(MAX_REASON_CHARS)
                                aria-describedby="error-override-reason" {
                                (overriding.map(|f| f.reason.as_str()).unwrap_or_default())
                            }
                            (reason_problem(overriding.and_then(|f| f.reason_problem.as_deref()), "override-reason"))
                            p.hint { "An override moves the pupil outside the usual order; it is recorded as your decision." }
                            button type="submit" { "Override" }
                        }
                    }
                }
            }
        }
    }
}

/// The fields of the level forms.
#[derive(Debug, Deserialize)]
pub struct LevelFields {
    #[serde(default)]
    to: String,
    #[serde(default)]
    reason: String,
    /// Present ("1") on the override form.
    #[serde(default, rename = "override")]
    override_gates: String,
}

/// `POST /pupils/{id}/level`: moves the pupil by hand, with a reason: `to` is the level
/// (0-6); with `override=1`, an SLT or SENDCO override. A move the sequence does not allow
/// shows the page again with why (422), and nothing is changed.
pub async fn change_level(
    SignedIn(member): SignedIn,
    session: Session,
    path: web::Path<String>,
    CsrfForm(fields): CsrfForm<LevelFields>,
    state: web::Data<AppState>,
) -> std::result::Result<HttpResponse, PageError> {
    let pupil_id: i64 = path.parse().map_err(|_| Error::NotFound("pupil"))?;
    let kind = if fields.override_gates.trim().is_empty() {
        LevelFormKind::Move
    } else {
        LevelFormKind::Override
    };
    let to = fields
        .to
        .trim()
        .parse::<i64>()
        .ok()
        .and_then(|n| Level::from_number(n).ok());
    let outcome = match to {
        Some(to) => {
            let (by, reason) = (member.clone(), fields.reason.clone());
            let context = NoticeContext::from_settings(&state.settings);
            state
                .db
                .write(move |conn| {
                    let rules = evaluation::load_rules(conn, by.school_id)?;
                    let request = ManualMove {
                        pupil_id,
                        to,
                        reason: &reason,
                        override_gates: kind == LevelFormKind::Override,
                    };
                    decisions::move_pupil(conn, &by, &request, &rules, &context, chrono::Utc::now())
                        .map(|d| (d.level_change.map(|c| c.id), d.meeting.map(|m| m.id)))
                })
                .await
        }
        None => Err(Error::invalid("to", "choose the level to move to")),
    };
    let error = match outcome {
        Ok((change, meeting)) => {
            let mut to = format!("/pupils/{pupil_id}");
            if let Some(change) = change {
                to.push_str(&format!("?moved={change}"));
                if let Some(meeting) = meeting {
                    to.push_str(&format!("&meeting={meeting}"));
                }
            }
            to.push_str("#level");
            return Ok(see_other(&to));
        }
        Err(error @ (Error::Invalid { .. } | Error::Conflict { .. })) => error,
        Err(other) => return Err(PageError(other)),
    };
    let status = StatusCode::from_u16(error.status()).unwrap_or(StatusCode::BAD_REQUEST);
    let about_reason = error.field() == Some("reason");
    let form = LevelForm {
        kind,
        reason_problem: about_reason.then(|| error.to_string()),
        refused: (!about_reason).then(|| format!("Nothing was changed: {error}.")),
        reason: fields.reason,
        to,
    };
    let filters = read_filters(&Fields::default());
    let filter = filters.filter.clone();
    let for_member = member.clone();
    let data = state
        .db
        .transaction(move |conn| gather(conn, &for_member, pupil_id, &filter, None))
        .await?;
    Ok(pupil_response(
        &member, &session, status, &data, &filters, false, &form,
    ))
}
