//! The pupil page: who they are, their current level and what it means, what waits for a
//! decision, the level forms, incidents over time and the timeline.

use std::collections::HashMap;

use actix_web::http::StatusCode;
use actix_web::{web, HttpResponse};
use chrono::NaiveDate;
use maud::{html, Markup};

use super::level::{moved_sentences, render_level_forms};
use super::timeline::{render_event, render_filters, suggestion_body};
use crate::db::audit;
use crate::db::inbox::{self, Outcome};
use crate::db::models::{IncidentRow, SuggestionRow};
use crate::db::pupils::{self, PupilView};
use crate::db::staff::StaffMember;
use crate::db::timeline::{
    self, EventDetail, EventKind, TimelineEvent, TimelineFilter, TimelineKey,
};
use crate::db::{conversations, from_db_time, incidents, DbConnection};
use crate::domain::calendar::SchoolCalendar;
use crate::domain::paging::PageRequest;
use crate::domain::visibility::Record;
use crate::domain::words;
use crate::domain::{Level, Move};
use crate::error::{Error, Result};
use crate::web::api::timeline::optional_date;
use crate::web::pages::form::{html_response, local, Fields, Form};
use crate::web::pages::form_page::{PageResult, Visit};
use crate::web::pages::layout::{level_badge, page};
use crate::web::pages::log::prompt_form;
use crate::web::pages::with_counted_viewer;

/// How many entries the timeline shows at once, the newest; a link shows older ones.
const TIMELINE_PAGE: usize = 100;

/// Most incidents shown as the evidence of one suggestion, or as followed up by one conversation.
pub(super) const EVIDENCE_SHOWN: usize = 10;

/// The timeline's filters as chosen on the page, with a problem in them if any.
pub(super) struct Filters {
    pub(super) filter: TimelineFilter,
    pub(super) problem: Option<Error>,
    pub(super) from: String,
    pub(super) to: String,
    /// The page of the timeline shown: the newest entries, or those older than a cursor.
    pub(super) page: PageRequest<TimelineKey>,
}

impl Filters {
    /// The query of the page with these filters (without a cursor), for links.
    pub(super) fn query(&self) -> String {
        let mut query = url::form_urlencoded::Serializer::new(String::new());
        for kind in &self.filter.kinds {
            query.append_pair("type", kind.as_str());
        }
        if !self.from.trim().is_empty() {
            query.append_pair("from", &self.from);
        }
        if !self.to.trim().is_empty() {
            query.append_pair("to", &self.to);
        }
        query.finish()
    }
}

/// The name a timeline page's cursors are bound to: the pupil and the filters.
fn timeline_list(pupil_id: i64, kinds: &[EventKind], from: &str, to: &str) -> String {
    let kinds: Vec<&str> = kinds.iter().map(|k| k.as_str()).collect();
    format!(
        "pupil-timeline/{pupil_id}?type={}&from={}&to={}",
        kinds.join(","),
        from.trim(),
        to.trim()
    )
}

pub(super) fn read_filters(pupil_id: i64, query: &Fields) -> Filters {
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
    let list = timeline_list(pupil_id, &kinds, &from_raw, &to_raw);
    let page = match PageRequest::read(&list, None, query.get("cursor")) {
        Ok(page) => PageRequest {
            limit: TIMELINE_PAGE,
            ..page
        },
        Err(_) => {
            problem.get_or_insert(Error::invalid(
                "cursor",
                "that link to older entries no longer works: these are the newest",
            ));
            PageRequest::first(&list, TIMELINE_PAGE)
        }
    };
    Filters {
        filter: TimelineFilter {
            kinds,
            from,
            to,
            limit: page.fetch_i64(),
            after: page.after,
        },
        problem,
        from: from_raw,
        to: to_raw,
        page,
    }
}

/// Everything the pupil page shows, read in one transaction.
pub(super) struct PupilPage {
    pub(super) pupil: PupilView,
    /// The timeline's page shown, newest first.
    pub(super) events: Vec<TimelineEvent>,
    /// The cursor of the page of older entries, when there are any.
    pub(super) older: Option<String>,
    /// Suggestions waiting for a decision, whatever the filters.
    pub(super) open: Vec<SuggestionRow>,
    /// Incidents named as evidence or followed up, by id.
    pub(super) incidents: HashMap<i64, IncidentRow>,
    /// The incidents each conversation on the timeline follows up.
    pub(super) followed_up: HashMap<i64, Vec<i64>>,
    /// A move just made by hand, to confirm.
    pub(super) moved: Option<Outcome>,
    /// Open suggestions waiting for the member, for members with an inbox.
    pub(super) decisions: Option<i64>,
    /// Incidents over time and whether each step helped, for those who may see them.
    pub(super) insight: Markup,
    /// Whether the member may erase a record on request.
    pub(super) may_erase: bool,
    /// Whether a record was just erased on request, to confirm.
    pub(super) erased: bool,
    /// The school's date today, for the meetings' states.
    pub(super) today: NaiveDate,
    /// The pupil's family contacts, for those who keep them (`Record::Contacts`).
    pub(super) contacts: Option<Vec<crate::db::contacts::ContactRow>>,
}

pub(super) fn evidence_of(row: &SuggestionRow) -> Vec<i64> {
    serde_json::from_str(&row.evidence).unwrap_or_default()
}

pub(super) fn gather(
    conn: &mut DbConnection,
    member: &StaffMember,
    pupil_id: i64,
    filters: (&TimelineFilter, &PageRequest<TimelineKey>),
    moved: Option<(i64, Option<i64>)>,
) -> Result<PupilPage> {
    let (filter, page) = filters;
    let school_id = member.school_id;
    let pupil = pupils::get(conn, school_id, pupil_id)?;
    let moved = match moved {
        Some((change, meeting)) => inbox::move_outcome(conn, school_id, pupil_id, change, meeting)?,
        None => None,
    };
    let today = SchoolCalendar::local_date(chrono::Utc::now());
    let decisions = inbox::count_for_nav(conn, member, today)?;
    let shown = page.cut(
        timeline::for_pupil(conn, member, &pupil, filter)?,
        TimelineEvent::key,
    );
    let (events, older) = (shown.items, shown.next);
    let insight = crate::web::pages::insight::pupil_section(conn, member, &pupil, today)?;
    let suggestions_only = TimelineFilter {
        kinds: vec![EventKind::Suggestion],
        from: None,
        to: None,
        limit: 50,
        after: None,
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
    let contacts = if crate::db::contacts::may_keep(member, pupil.place()) {
        Some(crate::db::contacts::list(conn, school_id, pupil.id)?)
    } else {
        None
    };
    Ok(PupilPage {
        contacts,
        pupil,
        events,
        older,
        open,
        incidents,
        followed_up,
        moved,
        decisions,
        insight,
        may_erase: member.has_any_role(&crate::web::pages::erase::ERASERS),
        erased: false,
        today,
    })
}

/// `GET /pupils/{id}?type=incident&type=meeting&from=YYYY-MM-DD&to=YYYY-MM-DD`: one pupil of
/// the member's school, with their timeline.
pub async fn show(visit: Visit, path: web::Path<String>) -> PageResult {
    let pupil_id: i64 = path.parse().map_err(|_| Error::NotFound("pupil"))?;
    let query = &visit.query;
    let filters = read_filters(pupil_id, query);
    let recorded = query.get("recorded") == Some("conversation");
    let moved = query
        .get("moved")
        .and_then(|id| id.parse::<i64>().ok())
        .map(|id| (id, query.get("meeting").and_then(|m| m.parse::<i64>().ok())));
    let (filter, page) = (filters.filter.clone(), filters.page.clone());
    let for_member = visit.member.clone();
    let mut data = visit
        .state
        .db
        .transaction(move |conn| gather(conn, &for_member, pupil_id, (&filter, &page), moved))
        .await?;
    data.erased = query.get("erased").is_some();
    audit::record_sen_read(&visit.state.db, &visit.member, &data.pupil).await?;
    let status = if filters.problem.is_some() {
        StatusCode::BAD_REQUEST
    } else {
        StatusCode::OK
    };
    Ok(pupil_response(
        &visit,
        status,
        &data,
        &filters,
        recorded,
        &Form::default(),
    ))
}

/// The pupil page, with the state of its level forms.
pub(super) fn pupil_response(
    visit: &Visit,
    status: StatusCode,
    data: &PupilPage,
    filters: &Filters,
    recorded: bool,
    level_form: &Form,
) -> HttpResponse {
    let member = &visit.member;
    let markup = with_counted_viewer(member, &visit.session, data.decisions, |viewer| {
        let body = render_pupil(data, filters, recorded, viewer.csrf, member, level_form);
        page(&data.pupil.full_name(), viewer, body)
    });
    html_response(status, markup)
}

/// The query of the page of older entries: the filters and the cursor.
fn older_query(filters: &Filters, cursor: &str) -> String {
    let mut query = url::form_urlencoded::Serializer::new(filters.query());
    query.append_pair("cursor", cursor);
    query.finish()
}

fn render_pupil(
    data: &PupilPage,
    filters: &Filters,
    recorded: bool,
    csrf: &str,
    member: &StaffMember,
    level_form: &Form,
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
                "Left the school on " (words::long_date(left_on)) ". Everything recorded is kept and can be read; nothing new can be added."
            }
        }
        div.actions.pupil-actions {
            @if pupil.left_on.is_none() {
                (prompt_form(pupil, csrf))
                a.button href={ "/log/new?pupil=" (pupil.id) } { "Log with details" }
                a.button href={ "/pupils/" (pupil.id) "/conversations/new" } { "Record a Coaching Conversation" }
            }
            @if crate::web::pages::programme::links_shown(member, pupil, Record::Plan) { a.button href={ "/pupils/" (pupil.id) "/plan" } { "Coaching Plan" } }
            @if crate::web::pages::programme::links_shown(member, pupil, Record::Programme) { a.button href={ "/pupils/" (pupil.id) "/programme" } { "Programme" } }
            @if crate::web::pages::provision::linked_from_pupil(member, pupil) { a.button href={ "/pupils/" (pupil.id) "/provision" } { "Provision map" } }
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
                p { (words::without_level(data.open.first().map(|row| Move::between_numbers(row.from_level, row.to_level)))) }
            }
        }
        @if pupil.left_on.is_none() { (render_level_forms(pupil, &data.open, member, level_form, csrf)) }
        @if !data.open.is_empty() {
            section.card.open-suggestions {
                h2 { "Waiting for a decision" }
                @for row in &data.open {
                    div.suggestion-note {
                        p { strong { "Suggested: " (Move::between_numbers(row.from_level, row.to_level).suggested()) } " · " (local(from_db_time(row.created_at))) }
                        (suggestion_body(row, &data.incidents))
                    }
                }
            }
        }
        @if let Some(contacts) = &data.contacts {
            section.card #family-contacts {
                h2 { "Family contacts" }
                @if contacts.is_empty() {
                    p.muted { "No contacts kept for this pupil yet." }
                } @else {
                    ul {
                        @for contact in contacts {
                            li {
                                (contact.name) " · " (contact.relationship_title())
                                @if contact.invited { span.muted { " · invited to meetings" } }
                            }
                        }
                    }
                }
                p { a href={ "/pupils/" (pupil.id) "/contacts" } { "Family contacts: add, change or remove" } }
            }
        }
        (data.insight)
        section.card #timeline {
            h2 { "Timeline" }
            (render_filters(pupil.id, filters))
            @if filters.page.after.is_some() {
                p.muted { "Older entries. " a href={ "/pupils/" (pupil.id) "?" (filters.query()) "#timeline" } { "Back to the newest" } }
            }
            @if data.events.is_empty() {
                p.muted { @if filters.page.after.is_some() { "Nothing older." } @else { "Nothing recorded yet." } }
            } @else {
                ol.timeline {
                    @for event in &data.events { (render_event(event, data)) }
                }
            }
            @if let Some(older) = &data.older {
                p.more { a href={ "/pupils/" (pupil.id) "?" (older_query(filters, older)) "#timeline" } { "Show older entries" } }
            }
        }
    }
}
