//! Suggestions in the API: listing them, accepting and declining; the `SUGGESTION` shape.

use actix_web::{web, HttpRequest, HttpResponse};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::meetings::MeetingJson;
use super::paging::{self, Page, PageRequest};
use super::pupils::PupilJson;
use super::{optional_number, read_json, ApiBody, ApiJson};
use crate::db::inbox::{self, InboxScope, INBOX_ROLES};
use crate::db::models::SuggestionRow;
use crate::db::notices::NoticeContext;
use crate::db::staff::StaffMember;
use crate::db::{decisions, evaluation, from_db_time, pupils, DbConnection};
use crate::error::Error;
use crate::web::auth::{require_role, ApiUser};
use crate::web::error::{ApiError, ErrorBody};
use crate::web::AppState;

/// A move suggested by a rule (the `SUGGESTION` shape of the API).
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct SuggestionJson {
    pub id: i64,
    pub pupil_id: i64,
    /// Level 0-6 when the suggestion was made.
    pub from_level: i16,
    /// The suggested level; below `from_level` for a step down.
    pub to_level: i16,
    /// Why, in plain words.
    pub reason: String,
    /// The incidents behind the suggestion.
    pub evidence: Vec<i64>,
    /// open, accepted, declined or withdrawn.
    pub status: String,
    pub created_at: DateTime<Utc>,
}

impl From<SuggestionRow> for SuggestionJson {
    fn from(row: SuggestionRow) -> Self {
        SuggestionJson {
            id: row.id,
            pupil_id: row.pupil_id,
            from_level: row.from_level,
            to_level: row.to_level,
            reason: row.reason,
            evidence: serde_json::from_str(&row.evidence).unwrap_or_default(),
            status: row.status,
            created_at: from_db_time(row.created_at),
        }
    }
}

/// The answer of `GET /api/v1/suggestions`.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct SuggestionList {
    /// Newest first.
    pub suggestions: Vec<SuggestionJson>,
    /// The path (with query) of the next page, or null on the last page.
    pub next: Option<String>,
}

/// Filters of `GET /api/v1/suggestions`.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct SuggestionQuery {
    /// open, accepted, declined or withdrawn.
    pub status: Option<String>,
    pub pupil_id: Option<String>,
    /// Most entries in the page: 1 to 500, 100 unless given.
    pub limit: Option<String>,
    /// Where the page starts: the `cursor` in the `next` path of the page before. Absent for
    /// the first page.
    pub cursor: Option<String>,
}

/// Lists the suggestions the caller's inbox covers: a Head of Year's year groups and
/// houses, the SENDCO's levels 4-6, the whole school for SLT; newest first. Other roles
/// (administrators among them) have no inbox and are refused.
#[utoipa::path(
    get,
    path = "/api/v1/suggestions",
    params(SuggestionQuery),
    responses(
        (status = 200, description = "A page of suggestions, newest first, with the path of the next page", body = SuggestionList),
        (status = 400, description = "A filter, `limit` or `cursor` is malformed; `field` names it", body = ErrorBody),
        (status = 401, description = "No valid token", body = ErrorBody),
        (status = 403, description = "The caller's role does not decide suggestions", body = ErrorBody)
    )
)]
pub async fn list(
    req: HttpRequest,
    user: ApiUser,
    query: web::Query<SuggestionQuery>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    require_role(&user.0, &INBOX_ROLES)?;
    let status = match query
        .status
        .as_deref()
        .map(str::trim)
        .filter(|s| !s.is_empty())
    {
        Some(s) if ["open", "accepted", "declined", "withdrawn"].contains(&s) => {
            Some(s.to_string())
        }
        Some(_) => {
            return Err(Error::invalid(
                "status",
                "status must be open, accepted, declined or withdrawn",
            )
            .into())
        }
        None => None,
    };
    let pupil_id = optional_number::<i64>("pupil_id", query.pupil_id.as_deref())?;
    let request =
        paging::read::<SuggestionKey>(&req, query.limit.as_deref(), query.cursor.as_deref())?;
    let member = user.0;
    let rows = state
        .db
        .transaction(move |conn| {
            suggestion_page(conn, &member, status.as_deref(), pupil_id, &request)
        })
        .await?;
    Ok(HttpResponse::Ok().json(SuggestionList {
        suggestions: rows.items.into_iter().map(SuggestionJson::from).collect(),
        next: paging::next_path(&req, rows.next),
    }))
}

/// Where a suggestion sorts in a paged list: when it was made and its id, newest first.
type SuggestionKey = (chrono::NaiveDateTime, i64);

/// One page of the suggestions `member` may see, filtered, newest first: their inbox's scope,
/// whatever the status.
fn suggestion_page(
    conn: &mut DbConnection,
    member: &StaffMember,
    status: Option<&str>,
    pupil_id: Option<i64>,
    request: &PageRequest<SuggestionKey>,
) -> crate::error::Result<Page<SuggestionRow>> {
    use crate::db::schema::suggestions;
    use diesel::prelude::*;
    let mut query = inbox::visible_to(member.school_id, &InboxScope::of(member))
        .order((suggestions::created_at.desc(), suggestions::id.desc()))
        .limit(request.fetch_i64());
    if let Some((created_at, id)) = request.after {
        query = query.filter(
            suggestions::created_at
                .lt(created_at)
                .or(suggestions::created_at
                    .eq(created_at)
                    .and(suggestions::id.lt(id))),
        );
    }
    if let Some(status) = status {
        query = query.filter(suggestions::status.eq(status.to_string()));
    }
    if let Some(pupil_id) = pupil_id {
        query = query.filter(suggestions::pupil_id.eq(pupil_id));
    }
    let rows = query.select(SuggestionRow::as_select()).load(conn)?;
    Ok(request.cut(rows, |row: &SuggestionRow| (row.created_at, row.id)))
}

/// The body of `POST /api/v1/suggestions/{id}/accept`.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AcceptJson {
    pub note: Option<String>,
}

/// The answer of accepting a suggestion.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct Accepted {
    pub suggestion: SuggestionJson,
    pub pupil: PupilJson,
    /// The meeting the new level needs, created as due; null when it needs none.
    pub meeting: Option<MeetingJson>,
}

/// Accepts an open suggestion: the pupil moves as suggested, and the meeting the new level
/// needs is created as due (its date counted in school days).
#[utoipa::path(
    post,
    path = "/api/v1/suggestions/{id}/accept",
    params(("id" = i64, Path, description = "The suggestion's id")),
    request_body(content = Option<AcceptJson>, description = "Optional: an empty body accepts without a note"),
    responses(
        (status = 200, description = "Accepted", body = Accepted),
        (status = 400, description = "The body is not the JSON expected; `field` names what is wrong", body = ErrorBody),
        (status = 401, description = "No valid token", body = ErrorBody),
        (status = 413, description = "The body is larger than 64 KiB", body = ErrorBody),
        (status = 403, description = "Not the caller's to decide", body = ErrorBody),
        (status = 404, description = "No such suggestion in this school", body = ErrorBody),
        (status = 409, description = "Already decided: nothing changed", body = ErrorBody),
        (status = 422, description = "The sequence does not allow this move now", body = ErrorBody)
    )
)]
pub async fn accept(
    user: ApiUser,
    path: web::Path<i64>,
    body: ApiBody,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let body = body.0;
    let request: AcceptJson = if body.iter().all(u8::is_ascii_whitespace) {
        AcceptJson::default()
    } else {
        read_json(&body)?
    };
    let (member, id, now) = (user.0, path.into_inner(), Utc::now());
    let context = NoticeContext::from_settings(&state.settings);
    let (decision, pupil, meeting) = state
        .db
        .write(move |conn| {
            let rules = evaluation::load_rules(conn, member.school_id)?;
            let decision = decisions::accept(
                conn,
                &member,
                id,
                request.note.as_deref(),
                &rules,
                &context,
                now,
            )?;
            let pupil_id = decision
                .suggestion
                .as_ref()
                .map(|s| s.pupil_id)
                .unwrap_or_default();
            let pupil = pupils::get(conn, member.school_id, pupil_id)?;
            let meeting = match &decision.meeting {
                Some(m) => Some(MeetingJson::load(conn, m.clone())?),
                None => None,
            };
            Ok((decision, pupil, meeting))
        })
        .await?;
    let suggestion = decision
        .suggestion
        .ok_or_else(|| Error::Internal("accepted suggestion missing".into()))?;
    Ok(HttpResponse::Ok().json(Accepted {
        suggestion: SuggestionJson::from(suggestion),
        pupil: PupilJson::from(pupil),
        meeting,
    }))
}

/// The body of `POST /api/v1/suggestions/{id}/decline`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DeclineJson {
    /// Why the move is not taken (required).
    pub reason: String,
}

/// The answer of declining a suggestion.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct Declined {
    pub suggestion: SuggestionJson,
}

/// Declines an open suggestion with a reason.
#[utoipa::path(
    post,
    path = "/api/v1/suggestions/{id}/decline",
    params(("id" = i64, Path, description = "The suggestion's id")),
    request_body = DeclineJson,
    responses(
        (status = 200, description = "Declined", body = Declined),
        (status = 400, description = "The reason is missing", body = ErrorBody),
        (status = 401, description = "No valid token", body = ErrorBody),
        (status = 413, description = "The body is larger than 64 KiB", body = ErrorBody),
        (status = 403, description = "Not the caller's to decide", body = ErrorBody),
        (status = 404, description = "No such suggestion in this school", body = ErrorBody),
        (status = 409, description = "Already decided: nothing changed", body = ErrorBody)
    )
)]
pub async fn decline(
    user: ApiUser,
    path: web::Path<i64>,
    body: ApiJson<DeclineJson>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let (member, id, now, reason) = (user.0, path.into_inner(), Utc::now(), body.0.reason);
    let suggestion = state
        .db
        .write(move |conn| decisions::decline(conn, &member, id, &reason, now))
        .await?;
    Ok(HttpResponse::Ok().json(Declined {
        suggestion: SuggestionJson::from(suggestion),
    }))
}
