//! `POST /api/v1/incidents`: logging an incident, safely repeatable with `Idempotency-Key`.

use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::suggestions::SuggestionJson;
use super::{read_json, ApiBody};
use crate::db::idempotency::{self, IdempotencyKey, StoredAnswer};
use crate::db::incidents::RecordedIncident;
use crate::db::logging::{Caller, LogRequest};
use crate::db::{from_db_time, tokens, Database};
use crate::domain::incident::{IncidentSubmission, NewIncident};
use crate::error::Error;
use crate::web::auth::ApiBearer;
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

/// Logs an incident once, whatever number of times it is sent with one idempotency key: the
/// work, and the answer kept for repeats, are one transaction (logged together with the
/// other requests of a group commit, see [`crate::db::logging`]). Shared by the API and the
/// logging page.
///
/// A token is checked in the same transaction (no trip to the database of its own), so a
/// revoked one is refused at once: `Error::Unauthenticated`. A repeated key is answered with
/// the answer first given for it (whose `request_hash` the caller compares with its own).
pub async fn log_once(
    db: &Database,
    caller: Caller,
    key: Option<IdempotencyKey>,
    request_hash: String,
    new: NewIncident,
) -> Result<StoredAnswer, Error> {
    db.log(LogRequest {
        caller,
        key,
        request_hash,
        new,
        now: Utc::now(),
        answer_body,
    })
    .await
}

/// The body of the answer to a logged incident (and the one kept for its repeats).
fn answer_body(recorded: RecordedIncident) -> Result<String, Error> {
    serde_json::to_string(&IncidentCreated::from(recorded))
        .map_err(|e| Error::Internal(format!("answer could not be written: {e}")))
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
    bearer: ApiBearer,
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
    let now = Utc::now();
    let read = read_json::<IncidentJson>(&body).and_then(|submitted| {
        NewIncident::parse(
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
        .map_err(|e| Error::invalid(e.field, format!("{}: {}", e.field, e.message)))
    });
    let new = match read {
        Ok(new) => new,
        Err(refused) => {
            // A caller whose token does not work learns only that, whatever they sent.
            let token_hash = bearer.token_hash.clone();
            let valid = state
                .db
                .transaction(move |conn| tokens::find_valid(conn, &token_hash, now))
                .await?;
            if valid.is_none() {
                return Err(bearer.refuse(&state).await.into());
            }
            return Err(refused.into());
        }
    };
    let request_hash = idempotency::request_hash(&body);
    let caller = Caller::Token {
        token_hash: bearer.token_hash.clone(),
    };
    let answer = match log_once(&state.db, caller, key, request_hash.clone(), new).await {
        Err(Error::Unauthenticated) => return Err(bearer.refuse(&state).await.into()),
        other => other?,
    };
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
