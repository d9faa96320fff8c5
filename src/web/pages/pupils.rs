//! Finding a pupil, and the pupil page: the current level with what it means, and the history.

use actix_session::Session;
use actix_web::{web, HttpResponse};
use chrono::{DateTime, NaiveDate, Utc};
use maud::{html, Markup};
use serde::Deserialize;

use super::layout::{level_badge, page};
use super::with_viewer;
use crate::db::from_db_time;
use crate::db::pupils::{self, PupilHistoryRows, PupilSearch, PupilView};
use crate::domain::calendar::SCHOOL_TZ;
use crate::domain::Level;
use crate::error::Error;
use crate::web::auth::SignedIn;
use crate::web::error::PageError;
use crate::web::AppState;

/// Most pupils a search page lists.
const SEARCH_LIMIT: i64 = 100;

/// How many records of each kind the pupil page shows.
const HISTORY_LIMIT: i64 = 200;

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
) -> Result<HttpResponse, PageError> {
    let text = query.q.clone().unwrap_or_default();
    let year = crate::web::api::optional_number::<i16>("year", query.year.as_deref())?;
    let school_id = member.school_id;
    let searched = !text.trim().is_empty() || year.is_some();
    let search = PupilSearch {
        text: Some(text.clone()),
        year,
        form: None,
        limit: SEARCH_LIMIT,
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

/// `GET /pupils/{id}`: one pupil of the member's school.
pub async fn show(
    SignedIn(member): SignedIn,
    session: Session,
    path: web::Path<String>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, PageError> {
    let pupil_id: i64 = path.parse().map_err(|_| Error::NotFound("pupil"))?;
    let school_id = member.school_id;
    let (pupil, history) = state
        .db
        .transaction(move |conn| {
            let pupil = pupils::get(conn, school_id, pupil_id)?;
            let history = pupils::history(conn, school_id, pupil_id, HISTORY_LIMIT)?;
            Ok((pupil, history))
        })
        .await?;
    let body = render_pupil(&pupil, &history);
    Ok(html_page(with_viewer(&member, &session, |viewer| {
        page(&pupil.full_name(), viewer, body)
    })))
}

/// One entry of the pupil's history, whatever its kind.
struct Entry {
    at: DateTime<Utc>,
    kind: &'static str,
    title: String,
    detail: Option<String>,
}

fn local(at: DateTime<Utc>) -> String {
    at.with_timezone(&SCHOOL_TZ)
        .format("%a %-d %b %Y, %H:%M")
        .to_string()
}

fn date(on: NaiveDate) -> String {
    on.format("%a %-d %b %Y").to_string()
}

fn level_title(number: i16) -> &'static str {
    Level::from_number(i64::from(number))
        .map(|l| l.title())
        .unwrap_or("unknown level")
}

/// Merges the pupil's records into one list, newest first.
fn entries(history: &PupilHistoryRows) -> Vec<Entry> {
    let mut entries = Vec::new();
    for incident in &history.incidents {
        let mut detail: Vec<String> = vec![format!(
            "{} · response: {}",
            incident.severity, incident.response
        )];
        detail.extend(incident.lesson.iter().map(|l| format!("lesson: {l}")));
        detail.extend(incident.location.iter().map(|l| format!("where: {l}")));
        detail.extend(incident.note.iter().cloned());
        entries.push(Entry {
            at: from_db_time(incident.occurred_at),
            kind: "incident",
            title: incident.behaviour.clone(),
            detail: Some(detail.join(" · ")),
        });
    }
    for change in &history.level_changes {
        let verb = if change.to_level > change.from_level {
            "Moved up"
        } else {
            "Stepped down"
        };
        entries.push(Entry {
            at: from_db_time(change.occurred_at),
            kind: "level",
            title: format!(
                "{verb} from {} to {}",
                level_title(change.from_level),
                level_title(change.to_level)
            ),
            detail: Some(change.reason.clone()),
        });
    }
    for suggestion in &history.suggestions {
        entries.push(Entry {
            at: from_db_time(suggestion.created_at),
            kind: "suggestion",
            title: format!(
                "Suggested: {} ({})",
                level_title(suggestion.to_level),
                suggestion.status
            ),
            detail: Some(suggestion.reason.clone()),
        });
    }
    for meeting in &history.meetings {
        let at = meeting
            .held_at
            .or(meeting.starts_at)
            .map(from_db_time)
            .unwrap_or_else(|| from_db_time(meeting.created_at));
        let status = match meeting.status.as_str() {
            "held" => "held".to_string(),
            "scheduled" => "booked".to_string(),
            "due" => format!("due by {}", date(meeting.due_on)),
            other => other.to_string(),
        };
        entries.push(Entry {
            at,
            kind: "meeting",
            title: format!("{} meeting, {status}", level_title(meeting.level)),
            detail: meeting.summary.clone(),
        });
    }
    entries.sort_by_key(|entry| std::cmp::Reverse(entry.at));
    entries
}

fn render_pupil(pupil: &PupilView, history: &PupilHistoryRows) -> Markup {
    let facts = pupil.level.facts();
    html! {
        h1 { (pupil.full_name()) }
        p.muted {
            "Year " (pupil.year) " · form " (pupil.form)
            @if let Some(house) = &pupil.house { " · " (house) }
            " · UPN " span.mono { (pupil.upn) }
            " · " (pupil.sen_status.title())
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
                p { "No support level: no Coaching Prompts waiting for a pattern." }
            }
        }
        section.card {
            h2 { "History" }
            @let entries = entries(history);
            @if entries.is_empty() {
                p.muted { "Nothing recorded yet." }
            } @else {
                ol.timeline {
                    @for entry in &entries {
                        li class={ "entry " (entry.kind) } {
                            time datetime=(entry.at.to_rfc3339()) { (local(entry.at)) }
                            strong { (entry.title) }
                            @if let Some(detail) = &entry.detail { p { (detail) } }
                        }
                    }
                }
            }
        }
    }
}
