//! `GET /api/v1/pupils/{id}/timeline`: everything recorded about a pupil's support.

use actix_web::{web, HttpRequest, HttpResponse};
use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::paging::{self, PageRequest};
use super::suggestions::SuggestionJson;
use crate::db::timeline::{
    self, EventDetail, EventKind, TimelineEvent, TimelineFilter, TimelineKey,
};
use crate::db::{from_db_time, pupils};
use crate::error::Error;
use crate::web::auth::ApiUser;
use crate::web::error::{ApiError, ErrorBody};
use crate::web::AppState;

/// One entry of a timeline; `type` says which kind.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum TimelineEventJson {
    Incident {
        id: i64,
        at: DateTime<Utc>,
        behaviour: String,
        severity: String,
        response: String,
        location: Option<String>,
        lesson: Option<String>,
        note: Option<String>,
        /// The name of the adult who logged it.
        logged_by: String,
        /// Undone by its author: it no longer counts.
        undone: bool,
        edited: bool,
    },
    Conversation {
        id: i64,
        at: DateTime<Utc>,
        held_by: String,
        with_whom: Option<String>,
        what_happened: String,
        what_got_in_the_way: Option<String>,
        what_could_help: Option<String>,
        plan_next_time: String,
        good_for_everyone: Option<String>,
    },
    LevelChange {
        id: i64,
        at: DateTime<Utc>,
        from_level: i16,
        to_level: i16,
        reason: String,
        /// An SLT or SENDCO decision outside the usual order.
        is_override: bool,
    },
    Suggestion {
        at: DateTime<Utc>,
        #[serde(flatten)]
        suggestion: SuggestionJson,
    },
    Meeting {
        id: i64,
        at: DateTime<Utc>,
        level: i16,
        due_on: NaiveDate,
        status: String,
        starts_at: Option<DateTime<Utc>>,
        held_at: Option<DateTime<Utc>>,
        summary: Option<String>,
        goals_met: Option<bool>,
    },
    /// A Coaching Programme session as recorded.
    Session {
        id: i64,
        at: DateTime<Utc>,
        block_id: i64,
        /// `delivered`, `pupil_absent` or `not_delivered`.
        outcome: Option<String>,
        minutes: Option<i32>,
        delivered_by: Option<String>,
        note: Option<String>,
        reason: Option<String>,
        /// At the block's final session: whether the parent or carer attended its end.
        parent_attended: Option<bool>,
    },
}

impl From<TimelineEvent> for TimelineEventJson {
    fn from(event: TimelineEvent) -> Self {
        let at = event.at;
        match event.detail {
            EventDetail::Incident(row, logged_by) => TimelineEventJson::Incident {
                id: row.id,
                at,
                behaviour: row.behaviour,
                severity: row.severity,
                response: row.response,
                location: row.location,
                lesson: row.lesson,
                note: row.note,
                logged_by,
                undone: row.voided_at.is_some(),
                edited: row.edited_at.is_some(),
            },
            EventDetail::Conversation(c) => TimelineEventJson::Conversation {
                id: c.id,
                at,
                held_by: c.held_by,
                with_whom: c.with_whom,
                what_happened: c.what_happened,
                what_got_in_the_way: c.what_got_in_the_way,
                what_could_help: c.what_could_help,
                plan_next_time: c.plan_next_time,
                good_for_everyone: c.good_for_everyone,
            },
            EventDetail::LevelChange(row) => TimelineEventJson::LevelChange {
                id: row.id,
                at,
                from_level: row.from_level,
                to_level: row.to_level,
                reason: row.reason,
                is_override: row.is_override,
            },
            EventDetail::Suggestion(row) => TimelineEventJson::Suggestion {
                at,
                suggestion: SuggestionJson::from(row),
            },
            EventDetail::Meeting(row) => TimelineEventJson::Meeting {
                id: row.id,
                at,
                level: row.level,
                due_on: row.due_on,
                status: row.status,
                starts_at: row.starts_at.map(from_db_time),
                held_at: row.held_at.map(from_db_time),
                summary: row.summary,
                goals_met: row.goals_met,
            },
            EventDetail::Session(row) => TimelineEventJson::Session {
                id: row.id,
                at,
                block_id: row.block_id,
                outcome: row.outcome,
                minutes: row.minutes,
                delivered_by: row.delivered_by,
                note: row.note,
                reason: row.reason,
                parent_attended: row.parent_attended,
            },
        }
    }
}

/// The answer of `GET /api/v1/pupils/{id}/timeline`.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct Timeline {
    /// Newest first; entries of the same time by kind (incident, conversation, level_change,
    /// suggestion, meeting, session), then the highest id first.
    pub events: Vec<TimelineEventJson>,
    /// The path (with query) of the next page (older entries), or null on the last page.
    pub next: Option<String>,
}

/// Filters of the timeline.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct TimelineQuery {
    /// Only entries of these kinds, comma separated: incident, conversation, level_change, suggestion, meeting.
    #[serde(rename = "type")]
    pub kinds: Option<String>,
    /// From this school date (YYYY-MM-DD), included.
    pub from: Option<String>,
    /// Up to this school date (YYYY-MM-DD), included.
    pub to: Option<String>,
    /// Most entries in the page: 1 to 500, 100 unless given.
    pub limit: Option<String>,
    /// Where the page starts: the `cursor` in the `next` path of the page before. Absent for
    /// the first page.
    pub cursor: Option<String>,
}

/// Reads an optional `YYYY-MM-DD` date, naming the field when it is malformed.
pub fn optional_date(field: &str, raw: Option<&str>) -> Result<Option<NaiveDate>, Error> {
    match raw.map(str::trim).filter(|v| !v.is_empty()) {
        None => Ok(None),
        Some(value) => NaiveDate::parse_from_str(value, "%Y-%m-%d")
            .map(Some)
            .map_err(|_| {
                Error::invalid(
                    field,
                    format!("{field} must be a date as YYYY-MM-DD, got {value:?}"),
                )
            }),
    }
}

impl TimelineQuery {
    /// The checked filter, reading `limit + 1` entries of the page `request` asks for.
    pub fn filter(&self, request: &PageRequest<TimelineKey>) -> Result<TimelineFilter, Error> {
        let kinds = match self
            .kinds
            .as_deref()
            .map(str::trim)
            .filter(|k| !k.is_empty())
        {
            Some(list) => list
                .split(',')
                .map(EventKind::parse)
                .collect::<Result<Vec<_>, _>>()?,
            None => Vec::new(),
        };
        let from = optional_date("from", self.from.as_deref())?;
        let to = optional_date("to", self.to.as_deref())?;
        if let (Some(from), Some(to)) = (from, to) {
            if from > to {
                return Err(Error::invalid("to", "to must not be before from"));
            }
        }
        Ok(TimelineFilter {
            kinds,
            from,
            to,
            limit: request.fetch_i64(),
            after: request.after,
        })
    }
}

/// A pupil's timeline, newest first, a page at a time.
#[utoipa::path(
    get,
    path = "/api/v1/pupils/{id}/timeline",
    params(("id" = i64, Path, description = "The pupil's id"), TimelineQuery),
    responses(
        (status = 200, description = "A page of incidents, conversations, level changes, suggestions, meetings and programme sessions, newest first, with the path of the next (older) page: meeting records and sessions only for those who may read them", body = Timeline),
        (status = 400, description = "A filter, `limit` or `cursor` is malformed; `field` names it", body = ErrorBody),
        (status = 401, description = "No valid token", body = ErrorBody),
        (status = 404, description = "No such pupil in this school", body = ErrorBody)
    )
)]
pub async fn get(
    req: HttpRequest,
    user: ApiUser,
    path: web::Path<i64>,
    query: web::Query<TimelineQuery>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let request =
        paging::read::<TimelineKey>(&req, query.limit.as_deref(), query.cursor.as_deref())?;
    let filter = query.filter(&request)?;
    let (reader, pupil_id) = (user.0, path.into_inner());
    let events = state
        .db
        .transaction(move |conn| {
            let pupil = pupils::get(conn, reader.school_id, pupil_id)?;
            timeline::for_pupil(conn, &reader, &pupil, &filter)
        })
        .await?;
    let page = request.cut(events, TimelineEvent::key);
    Ok(HttpResponse::Ok().json(Timeline {
        events: page
            .items
            .into_iter()
            .map(TimelineEventJson::from)
            .collect(),
        next: paging::next_path(&req, page.next),
    }))
}
