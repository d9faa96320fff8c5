//! Meetings in the API: listing them, booking (or moving), cancelling, and recording them as
//! held or missed; the `MEETING` shape.

use actix_web::{web, HttpRequest, HttpResponse};
use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::{optional_number, paging, ApiJson};
use crate::db::meetings::{self, Booking, GuestRole, MeetingFilter, MeetingKey, NewGuest, Outcome};
use crate::db::models::{MeetingGuestRow, MeetingRow};
use crate::db::notices::NoticeContext;
use crate::db::{evaluation, from_db_time, DbConnection};
use crate::domain::calendar::SchoolCalendar;
use crate::web::auth::ApiUser;
use crate::web::error::{ApiError, ErrorBody};
use crate::web::AppState;

/// A meeting (the `MEETING` shape of the API).
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct MeetingJson {
    pub id: i64,
    pub pupil_id: i64,
    /// The level the meeting belongs to: 3, 4 or 6, or 5 for a programme block review.
    pub level: i16,
    pub due_on: NaiveDate,
    /// due, scheduled, held, missed or cancelled.
    pub status: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub starts_at: Option<DateTime<Utc>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub duration_minutes: Option<i32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub location: Option<String>,
    /// Staff ids invited.
    pub participants: Vec<i64>,
    /// People without a staff account invited: parents and carers, external professionals.
    pub guests: Vec<GuestJson>,
    pub parent_invited: bool,
    /// Bumped at each move or cancellation; calendars use it to replace the entry.
    pub sequence: i32,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cancel_reason: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub outcome: Option<MeetingOutcomeJson>,
}

/// A guest of a meeting.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct GuestJson {
    pub name: String,
    pub email: Option<String>,
    /// parent_carer or external.
    pub role: String,
}

impl From<MeetingGuestRow> for GuestJson {
    fn from(row: MeetingGuestRow) -> Self {
        GuestJson {
            name: row.name,
            email: row.email,
            role: row.role,
        }
    }
}

/// What a held meeting recorded: a summary, whether goals were met, and the six parts of a
/// coaching conversation.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct MeetingOutcomeJson {
    pub held_at: Option<DateTime<Utc>>,
    pub summary: Option<String>,
    pub goals_met: Option<bool>,
    pub follow_up: Option<String>,
    pub successes: Option<String>,
    pub challenges: Option<String>,
    pub focus: Option<String>,
    pub action_steps: Option<String>,
    pub next_step: Option<String>,
}

impl MeetingJson {
    /// The API shape of a stored meeting, with its participants and guests.
    pub fn load(conn: &mut DbConnection, row: MeetingRow) -> crate::error::Result<Self> {
        let participants = meetings::participants(conn, row.id)?;
        let guests = meetings::guests(conn, row.id)?;
        Ok(MeetingJson::new(row, participants, guests))
    }

    /// The API shape of many stored meetings, in the same order, with participants and
    /// guests read for all of them at once.
    pub fn load_all(
        conn: &mut DbConnection,
        rows: Vec<MeetingRow>,
    ) -> crate::error::Result<Vec<Self>> {
        let ids: Vec<i64> = rows.iter().map(|row| row.id).collect();
        let mut participants = meetings::participants_of(conn, &ids)?;
        let mut guests = meetings::guests_of(conn, &ids)?;
        Ok(rows
            .into_iter()
            .map(|row| {
                let invited = participants.remove(&row.id).unwrap_or_default();
                let guests = guests.remove(&row.id).unwrap_or_default();
                MeetingJson::new(row, invited, guests)
            })
            .collect())
    }

    fn new(row: MeetingRow, participants: Vec<i64>, guests: Vec<MeetingGuestRow>) -> Self {
        let outcome = (row.status == "held").then(|| MeetingOutcomeJson {
            held_at: row.held_at.map(from_db_time),
            summary: row.summary.clone(),
            goals_met: row.goals_met,
            follow_up: row.follow_up.clone(),
            successes: row.successes.clone(),
            challenges: row.challenges.clone(),
            focus: row.focus.clone(),
            action_steps: row.action_steps.clone(),
            next_step: row.next_step.clone(),
        });
        MeetingJson {
            id: row.id,
            pupil_id: row.pupil_id,
            level: row.level,
            due_on: row.due_on,
            status: row.status,
            starts_at: row.starts_at.map(from_db_time),
            duration_minutes: row.duration_minutes,
            location: row.location,
            participants,
            guests: guests.into_iter().map(GuestJson::from).collect(),
            parent_invited: row.parent_invited,
            sequence: row.sequence,
            cancel_reason: row.cancel_reason,
            outcome,
        }
    }
}

/// The answer of `GET /api/v1/meetings`.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct MeetingList {
    /// Soonest due first.
    pub meetings: Vec<MeetingJson>,
    /// The path (with query) of the next page, or null on the last page.
    pub next: Option<String>,
}

/// Filters of `GET /api/v1/meetings`.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct MeetingQuery {
    /// due, scheduled, held, missed, cancelled, or overdue (not booked by its due day, or its
    /// booked day passed with nothing recorded).
    pub status: Option<String>,
    pub pupil_id: Option<String>,
    /// Most entries in the page: 1 to 500, 100 unless given.
    pub limit: Option<String>,
    /// Where the page starts: the `cursor` in the `next` path of the page before. Absent for
    /// the first page.
    pub cursor: Option<String>,
}

/// Lists the meetings the caller runs (a Head of Year's year groups, the SENDCO's levels
/// 4-6, the whole school for SLT), soonest due first.
#[utoipa::path(
    get,
    path = "/api/v1/meetings",
    params(MeetingQuery),
    responses(
        (status = 200, description = "A page of meetings, soonest due first, with the path of the next page", body = MeetingList),
        (status = 400, description = "A filter, `limit` or `cursor` is malformed; `field` names it", body = ErrorBody),
        (status = 401, description = "No valid token", body = ErrorBody)
    )
)]
pub async fn list(
    req: HttpRequest,
    user: ApiUser,
    query: web::Query<MeetingQuery>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let filter = MeetingFilter {
        status: query
            .status
            .as_deref()
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(str::to_string),
        pupil_id: optional_number::<i64>("pupil_id", query.pupil_id.as_deref())?,
        open: false,
    };
    let request =
        paging::read::<MeetingKey>(&req, query.limit.as_deref(), query.cursor.as_deref())?;
    let member = user.0;
    let today = SchoolCalendar::local_date(Utc::now());
    let (listed, next) = state
        .db
        .transaction(move |conn| {
            let page = meetings::page_for(conn, &member, &filter, today, &request)?;
            let rows = page.items.into_iter().map(|view| view.meeting).collect();
            Ok((MeetingJson::load_all(conn, rows)?, page.next))
        })
        .await?;
    Ok(HttpResponse::Ok().json(MeetingList {
        meetings: listed,
        next: paging::next_path(&req, next),
    }))
}

/// A guest in a booking.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct GuestInput {
    /// A person's name: at most 100 characters, no invisible (text direction or zero-width)
    /// characters. A refusal names the field `guests[i].name`.
    pub name: String,
    /// An address the mailer can send to; a refusal names the field `guests[i].email`.
    pub email: Option<String>,
    /// parent_carer or external.
    pub role: String,
}

/// The body of `POST /api/v1/meetings/{id}/schedule`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ScheduleJson {
    pub starts_at: DateTime<Utc>,
    pub duration_minutes: i32,
    pub location: String,
    /// Staff ids invited (all of the caller's school).
    pub participant_ids: Vec<i64>,
    pub parent_invited: bool,
    /// People without a staff account: parents and carers, external professionals.
    #[serde(default)]
    pub guests: Vec<GuestInput>,
}

/// Books a due meeting, or moves a booked one: everyone taking part is emailed an invitation
/// (or an update) with a calendar entry.
#[utoipa::path(
    post,
    path = "/api/v1/meetings/{id}/schedule",
    params(("id" = i64, Path, description = "The meeting's id")),
    request_body = ScheduleJson,
    responses(
        (status = 200, description = "Booked", body = MeetingJson),
        (status = 400, description = "A field is missing or wrong; `field` names it", body = ErrorBody),
        (status = 401, description = "No valid token", body = ErrorBody),
        (status = 413, description = "The body is larger than 64 KiB", body = ErrorBody),
        (status = 403, description = "The caller does not run this pupil's meetings", body = ErrorBody),
        (status = 404, description = "No such meeting in this school", body = ErrorBody),
        (status = 409, description = "The meeting is held, missed or cancelled", body = ErrorBody)
    )
)]
pub async fn schedule(
    user: ApiUser,
    path: web::Path<i64>,
    body: ApiJson<ScheduleJson>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let request = body.0;
    let guests = request
        .guests
        .into_iter()
        .map(|g| {
            Ok(NewGuest {
                role: GuestRole::parse(&g.role)?,
                name: g.name,
                email: g.email,
            })
        })
        .collect::<crate::error::Result<Vec<_>>>()?;
    let booking = Booking {
        starts_at: request.starts_at,
        duration_minutes: request.duration_minutes,
        location: request.location,
        participant_ids: request.participant_ids,
        parent_invited: request.parent_invited,
        guests,
    };
    let (member, id, now) = (user.0, path.into_inner(), Utc::now());
    let context = NoticeContext::from_settings(&state.settings);
    let booked = state
        .db
        .write(move |conn| {
            let row = meetings::schedule(conn, &member, &context, id, &booking, now)?;
            MeetingJson::load(conn, row)
        })
        .await?;
    Ok(HttpResponse::Ok().json(booked))
}

/// The body of `POST /api/v1/meetings/{id}/cancel` and `…/missed`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReasonJson {
    /// Why (required).
    pub reason: String,
}

/// Cancels a due or booked meeting with a reason; everyone invited is emailed, and their
/// calendars drop the entry.
#[utoipa::path(
    post,
    path = "/api/v1/meetings/{id}/cancel",
    params(("id" = i64, Path, description = "The meeting's id")),
    request_body = ReasonJson,
    responses(
        (status = 200, description = "Cancelled", body = MeetingJson),
        (status = 400, description = "The reason is missing", body = ErrorBody),
        (status = 401, description = "No valid token", body = ErrorBody),
        (status = 413, description = "The body is larger than 64 KiB", body = ErrorBody),
        (status = 403, description = "The caller does not run this pupil's meetings", body = ErrorBody),
        (status = 404, description = "No such meeting in this school", body = ErrorBody),
        (status = 409, description = "The meeting is held, missed or cancelled already", body = ErrorBody)
    )
)]
pub async fn cancel(
    user: ApiUser,
    path: web::Path<i64>,
    body: ApiJson<ReasonJson>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let request = body.0;
    let (member, id, now) = (user.0, path.into_inner(), Utc::now());
    let context = NoticeContext::from_settings(&state.settings);
    let cancelled = state
        .db
        .write(move |conn| {
            let row = meetings::cancel(conn, &member, &context, id, &request.reason, now)?;
            MeetingJson::load(conn, row)
        })
        .await?;
    Ok(HttpResponse::Ok().json(cancelled))
}

/// The answer of recording a meeting as missed: it, and the meeting now due in its place.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct Missed {
    pub meeting: MeetingJson,
    pub due_again: MeetingJson,
}

/// Records that a meeting did not take place; a new one is made due in its place, and the
/// Head of Year (and from level 4 the SENDCO) are told.
#[utoipa::path(
    post,
    path = "/api/v1/meetings/{id}/missed",
    params(("id" = i64, Path, description = "The meeting's id")),
    responses(
        (status = 200, description = "Recorded as missed", body = Missed),
        (status = 401, description = "No valid token", body = ErrorBody),
        (status = 403, description = "The caller does not run this pupil's meetings", body = ErrorBody),
        (status = 404, description = "No such meeting in this school", body = ErrorBody),
        (status = 409, description = "The meeting is held, missed or cancelled already, or not booked, or its booked time has not come (field `missed`)", body = ErrorBody)
    )
)]
pub async fn missed(
    user: ApiUser,
    path: web::Path<i64>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let (member, id, now) = (user.0, path.into_inner(), Utc::now());
    let context = NoticeContext::from_settings(&state.settings);
    let answer = state
        .db
        .write(move |conn| {
            let rules = evaluation::load_rules(conn, member.school_id)?;
            let (missed, again) =
                meetings::record_missed(conn, &member, &context, id, &rules, now)?;
            Ok(Missed {
                meeting: MeetingJson::load(conn, missed)?,
                due_again: MeetingJson::load(conn, again)?,
            })
        })
        .await?;
    Ok(HttpResponse::Ok().json(answer))
}

/// The body of `POST /api/v1/meetings/{id}/outcome`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct OutcomeJson {
    pub held_at: DateTime<Utc>,
    /// A short summary (required).
    pub summary: String,
    /// Whether the goals under review were met; null where the meeting reviews none.
    pub goals_met: Option<bool>,
    /// Follow-up on the steps agreed last time.
    pub follow_up: Option<String>,
    /// Successes, and what they changed.
    pub successes: Option<String>,
    /// Challenges, and the steps already taken.
    pub challenges: Option<String>,
    /// The one focus agreed.
    pub focus: Option<String>,
    /// Action steps, each with who and by when.
    pub action_steps: Option<String>,
    /// The next step, and a reflection.
    pub next_step: Option<String>,
    /// For the review meeting of a running Coaching Programme block (level 5): what the
    /// review decided, `goals_met`, `next_block` or `provision_map`. Left out, it follows from
    /// `goals_met` (not met: the next block, or a Bespoke Provision Map after the 6-week
    /// block). The review is recorded as `POST /api/v1/programme-blocks/{id}/review` records it.
    pub decision: Option<String>,
    /// For a block review: why moving on is right with fidelity under 80%, or why a Bespoke
    /// Provision Map comes early.
    pub reason: Option<String>,
}

/// Records a meeting as held, in the six parts of a coaching conversation; the rules are
/// evaluated at once (a held Coaching Plan meeting suggests the programme). The review
/// meeting of a running programme block is the block review: its decision is carried out as
/// the programme page's (and `POST /api/v1/programme-blocks/{id}/review`) is.
#[utoipa::path(
    post,
    path = "/api/v1/meetings/{id}/outcome",
    params(("id" = i64, Path, description = "The meeting's id")),
    request_body = OutcomeJson,
    responses(
        (status = 200, description = "Recorded as held", body = MeetingJson),
        (status = 400, description = "A field is missing or wrong; `field` names it", body = ErrorBody),
        (status = 401, description = "No valid token", body = ErrorBody),
        (status = 413, description = "The body is larger than 64 KiB", body = ErrorBody),
        (status = 403, description = "The caller does not run this pupil's meetings", body = ErrorBody),
        (status = 404, description = "No such meeting in this school", body = ErrorBody),
        (status = 409, description = "The meeting is held, missed or cancelled already", body = ErrorBody)
    )
)]
pub async fn outcome(
    user: ApiUser,
    path: web::Path<i64>,
    body: ApiJson<OutcomeJson>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let request = body.0;
    let (member, id, now) = (user.0, path.into_inner(), Utc::now());
    let context = NoticeContext::from_settings(&state.settings);
    let held = state
        .db
        .write(move |conn| {
            let rules = evaluation::load_rules(conn, member.school_id)?;
            let outcome = Outcome {
                held_at: request.held_at,
                summary: &request.summary,
                goals_met: request.goals_met,
                follow_up: request.follow_up.as_deref(),
                successes: request.successes.as_deref(),
                challenges: request.challenges.as_deref(),
                focus: request.focus.as_deref(),
                action_steps: request.action_steps.as_deref(),
                next_step: request.next_step.as_deref(),
                decision: request.decision.as_deref(),
                reason: request.reason.as_deref(),
            };
            let (row, _) =
                meetings::record_outcome(conn, &member, &context, id, &outcome, &rules, now)?;
            MeetingJson::load(conn, row)
        })
        .await?;
    Ok(HttpResponse::Ok().json(held))
}
