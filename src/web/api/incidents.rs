//! `POST /api/v1/incidents`: logging an incident, safely repeatable with `Idempotency-Key`.

use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::suggestions::SuggestionJson;
use super::{read_json, ApiBody};
use crate::db::idempotency::{self, IdempotencyKey, StoredAnswer};
use crate::db::incidents::{self, RecordedIncident};
use crate::db::{from_db_time, Database};
use crate::domain::incident::{IncidentSubmission, NewIncident};
use crate::error::Error;
use crate::web::auth::ApiUser;
use crate::web::error::{ApiError, ErrorBody};
use crate::web::AppState;

/// The header that makes a request safe to repeat.
pub const IDEMPOTENCY_HEADER: &str = "Idempotency-Key";

/// The body of `POST /api/v1/incidents`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct IncidentJson {
    /// The pupils involved (1 to 30), all of the caller's school.
    pub pupil_ids: Vec<i64>,
    /// What happened: usually one of the school's behaviours.
    pub behaviour: String,
    /// minor (default) or serious.
    pub severity: Option<String>,
    /// The response given: none, prompt (default) or conversation.
    pub response: Option<String>,
    /// When it happened (RFC 3339); now when left out.
    pub occurred_at: Option<DateTime<Utc>>,
    pub location: Option<String>,
    pub lesson: Option<String>,
    /// A short factual note.
    pub note: Option<String>,
}

/// A level change made by logging (a first Coaching Prompt places a pupil at level 1).
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct LevelChangeJson {
    pub pupil_id: i64,
    pub from_level: i16,
    pub to_level: i16,
    pub reason: String,
    pub at: DateTime<Utc>,
}

/// A logged incident, and the suggestions and level changes logging it led to.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct IncidentCreated {
    pub id: i64,
    pub pupil_ids: Vec<i64>,
    pub behaviour: String,
    pub severity: String,
    pub response: String,
    pub occurred_at: DateTime<Utc>,
    pub location: Option<String>,
    pub lesson: Option<String>,
    pub note: Option<String>,
    /// The staff member who logged it.
    pub reported_by: i64,
    pub level_changes: Vec<LevelChangeJson>,
    /// Suggestions the rules made because of this incident.
    pub suggestions: Vec<SuggestionJson>,
}

impl From<RecordedIncident> for IncidentCreated {
    fn from(recorded: RecordedIncident) -> Self {
        let incident = recorded.incident;
        IncidentCreated {
            id: incident.id,
            pupil_ids: recorded.pupil_ids,
            behaviour: incident.behaviour,
            severity: incident.severity,
            response: incident.response,
            occurred_at: from_db_time(incident.occurred_at),
            location: incident.location,
            lesson: incident.lesson,
            note: incident.note,
            reported_by: incident.reported_by,
            level_changes: recorded
                .level_changes
                .into_iter()
                .map(|c| LevelChangeJson {
                    pupil_id: c.pupil_id,
                    from_level: c.from_level,
                    to_level: c.to_level,
                    reason: c.reason,
                    at: from_db_time(c.occurred_at),
                })
                .collect(),
            suggestions: recorded
                .suggestions
                .into_iter()
                .map(SuggestionJson::from)
                .collect(),
        }
    }
}

/// Logs an incident once, whatever number of times it is sent with one idempotency key:
/// the work, and the answer kept for repeats, are one transaction. Shared by the API and
/// the logging page.
pub async fn log_once(
    db: &Database,
    school_id: i64,
    staff_id: i64,
    key: Option<IdempotencyKey>,
    request_hash: String,
    new: NewIncident,
) -> Result<StoredAnswer, Error> {
    let now = Utc::now();
    let attempt_key = key.clone();
    let rules_cache = db.rules();
    let attempt = db
        .write(move |conn| {
            if let Some(key) = &attempt_key {
                if let Some(stored) = idempotency::find(conn, staff_id, key)? {
                    return Ok(stored);
                }
            }
            let rules = rules_cache.load(conn, school_id)?;
            let recorded = incidents::record(conn, school_id, staff_id, &new, &rules, now)?;
            let body = serde_json::to_string(&IncidentCreated::from(recorded))
                .map_err(|e| Error::Internal(format!("answer could not be written: {e}")))?;
            let answer = StoredAnswer {
                request_hash,
                status_code: StatusCode::CREATED.as_u16(),
                body,
            };
            if let Some(key) = &attempt_key {
                idempotency::store(conn, school_id, staff_id, key, &answer, now)?;
            }
            Ok(answer)
        })
        .await;
    match (attempt, key) {
        // The same key arrived twice at once and the other request won: answer as it did.
        (Err(error), Some(key)) if idempotency::is_key_clash(&error) => db
            .transaction(move |conn| idempotency::find(conn, staff_id, &key))
            .await?
            .ok_or(error),
        (outcome, _) => outcome,
    }
}

/// Logs an incident for one or more pupils of the caller's school and evaluates the rules
/// for each at once. With an `Idempotency-Key`, a repeat returns the first answer and
/// writes nothing.
#[utoipa::path(
    post,
    path = "/api/v1/incidents",
    request_body = IncidentJson,
    params(("Idempotency-Key" = Option<String>, Header, description = "Makes the request safe to repeat: 8 to 200 visible characters, such as a UUID")),
    responses(
        (status = 201, description = "The incident was logged (or, for a repeated key, had been)", body = IncidentCreated),
        (status = 400, description = "A field is missing or malformed, or a pupil is not of this school; `field` names it. Nothing was written", body = ErrorBody),
        (status = 401, description = "No valid token", body = ErrorBody),
        (status = 413, description = "The body is larger than 64 KiB", body = ErrorBody),
        (status = 422, description = "The Idempotency-Key was used before for a different request", body = ErrorBody),
        (status = 503, description = "The database cannot be reached just now (`database_unavailable`); nothing was written, and the request may be repeated with its key", body = ErrorBody)
    )
)]
pub async fn create(
    user: ApiUser,
    request: HttpRequest,
    body: ApiBody,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let key = match request.headers().get(IDEMPOTENCY_HEADER) {
        Some(value) => Some(IdempotencyKey::parse(
            IDEMPOTENCY_HEADER,
            value.to_str().unwrap_or_default(),
        )?),
        None => None,
    };
    let body = body.0;
    let submitted: IncidentJson = read_json(&body)?;
    let now = Utc::now();
    let new = NewIncident::parse(
        &IncidentSubmission {
            pupil_ids: &submitted.pupil_ids,
            behaviour: &submitted.behaviour,
            severity: submitted.severity.as_deref(),
            response: submitted.response.as_deref(),
            occurred_at: submitted.occurred_at,
            location: submitted.location.as_deref(),
            lesson: submitted.lesson.as_deref(),
            note: submitted.note.as_deref(),
        },
        now,
    )
    .map_err(|e| Error::invalid(e.field, format!("{}: {}", e.field, e.message)))?;
    let request_hash = idempotency::request_hash(&body);
    let answer = log_once(
        &state.db,
        user.0.school_id,
        user.0.id,
        key,
        request_hash.clone(),
        new,
    )
    .await?;
    if answer.request_hash != request_hash {
        return Err(Error::unprocessable(
            "this Idempotency-Key was already used for a different request",
        )
        .into());
    }
    let status = StatusCode::from_u16(answer.status_code).unwrap_or(StatusCode::CREATED);
    Ok(HttpResponse::build(status)
        .content_type("application/json")
        .body(answer.body))
}
