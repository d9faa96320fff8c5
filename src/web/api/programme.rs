//! A pupil's Coaching Plan (with its earlier versions) and Coaching Programme (blocks with
//! their sessions, fidelity and band) in the API; recording a session and a block review. Who
//! may read and write is the rule of the plan, programme and session pages
//! ([`crate::domain::visibility`]); a write goes through the same domain checks and storage
//! as the pages' forms.

use actix_web::{web, HttpResponse};
use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::meetings::MeetingJson;
use super::pupils::PupilJson;
use super::ApiJson;
use crate::db::audit::{self, Read};
use crate::db::models::{ProgrammeBlockRow, ProgrammeSessionRow};
use crate::db::notices::NoticeContext;
use crate::db::plans::{self, PlanVersion};
use crate::db::programmes::{self, BlockView, ReviewInput, SessionInput};
use crate::db::{evaluation, from_db_time, pupils};
use crate::domain::calendar::SchoolCalendar;
use crate::domain::details::SenStatus;
use crate::domain::programme::{BlockFidelity, SessionOutcome};
use crate::domain::visibility::Record;
use crate::error::Error;
use crate::web::auth::ApiUser;
use crate::web::error::{ApiError, ErrorBody};
use crate::web::pages::programme::pupil_seen_by;
use crate::web::AppState;

// ---------------------------------------------------------------------------------------------
// The Coaching Plan
// ---------------------------------------------------------------------------------------------

/// One goal of a Coaching Plan.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct GoalJson {
    pub text: String,
    /// How everyone will know it is met.
    pub success_criterion: String,
}

/// One action step of a Coaching Plan: what, who, and by when.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct ActionStepJson {
    pub what: String,
    pub owner: String,
    pub by_when: NaiveDate,
}

/// One version of a pupil's Coaching Plan.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct PlanVersionJson {
    pub id: i64,
    /// 1 for the plan first agreed, then one more for each revision.
    pub version: i32,
    /// The Coaching Plan meeting it was agreed in, when recorded there.
    pub meeting_id: Option<i64>,
    pub goals: Vec<GoalJson>,
    pub pathway_to_independence: String,
    pub action_steps: Vec<ActionStepJson>,
    pub review_on: NaiveDate,
    /// Who agreed it with the school (the pupil's parent or carer, by name).
    pub agreed_with: Option<String>,
    /// The member of staff who recorded it.
    pub created_by: i64,
    pub created_at: DateTime<Utc>,
}

impl From<PlanVersion> for PlanVersionJson {
    fn from(plan: PlanVersion) -> Self {
        PlanVersionJson {
            id: plan.row.id,
            version: plan.row.version,
            meeting_id: plan.row.meeting_id,
            goals: plan
                .goals
                .into_iter()
                .map(|g| GoalJson {
                    text: g.text,
                    success_criterion: g.success_criterion,
                })
                .collect(),
            pathway_to_independence: plan.row.pathway_to_independence,
            action_steps: plan
                .action_steps
                .into_iter()
                .map(|s| ActionStepJson {
                    what: s.what,
                    owner: s.owner,
                    by_when: s.by_when,
                })
                .collect(),
            review_on: plan.row.review_on,
            agreed_with: plan.row.agreed_with,
            created_by: plan.row.created_by,
            created_at: from_db_time(plan.row.created_at),
        }
    }
}

/// The answer of `GET /api/v1/pupils/{id}/plan`.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct PlanJson {
    pub pupil_id: i64,
    /// The plan in force (the latest version); null when none has been agreed.
    pub current: Option<PlanVersionJson>,
    /// Whether the plan in force has reached its review date.
    pub review_due: bool,
    /// The earlier versions, newest first.
    pub earlier: Vec<PlanVersionJson>,
}

/// A pupil's Coaching Plan in force and its earlier versions. The read is recorded in the
/// audit log, as the plan page's is.
#[utoipa::path(
    get,
    path = "/api/v1/pupils/{id}/plan",
    params(("id" = i64, Path, description = "The pupil's id")),
    responses(
        (status = 200, description = "The plan in force and its earlier versions", body = PlanJson),
        (status = 401, description = "No valid token", body = ErrorBody),
        (status = 403, description = "Plans are for the pupil's Head of Year or Head of House, the SENDCO and SLT", body = ErrorBody),
        (status = 404, description = "No such pupil in this school", body = ErrorBody)
    )
)]
pub async fn plan(
    user: ApiUser,
    path: web::Path<i64>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let (member, pupil_id) = (user.0, path.into_inner());
    let today = SchoolCalendar::local_date(Utc::now());
    let reader = member.clone();
    let answer = audit::read_recorded(&state.db, &reader, Read::Plan, move |conn| {
        let pupil = pupil_seen_by(conn, &member, pupil_id, Record::Plan)?;
        let mut versions = plans::versions(conn, member.school_id, pupil.id)?.into_iter();
        let current = versions.next();
        let plan = PlanJson {
            pupil_id: pupil.id,
            review_due: current.as_ref().is_some_and(|p| p.review_due(today)),
            current: current.map(PlanVersionJson::from),
            earlier: versions.map(PlanVersionJson::from).collect(),
        };
        Ok((plan, Some(pupil.id), String::new()))
    })
    .await?;
    Ok(HttpResponse::Ok().json(answer))
}

// ---------------------------------------------------------------------------------------------
// The Coaching Programme
// ---------------------------------------------------------------------------------------------

/// What happened at a session as the API names it: `delivered`, `absent` (the pupil was not
/// there) or `not_delivered`.
fn outcome_name(stored: &str) -> String {
    match SessionOutcome::parse(stored) {
        Ok(SessionOutcome::PupilAbsent) => "absent".to_string(),
        Ok(outcome) => outcome.as_str().to_string(),
        Err(_) => stored.to_string(),
    }
}

/// A Coaching Programme session (the `SESSION` shape of the API).
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct SessionJson {
    pub id: i64,
    pub block_id: i64,
    pub pupil_id: i64,
    pub on_date: NaiveDate,
    /// Local start time, `HH:MM`.
    pub session_time: Option<String>,
    /// The block's final session, whose end the parent or carer attends.
    pub is_final: bool,
    /// `delivered`, `absent` or `not_delivered`; null while nothing is recorded.
    pub outcome: Option<String>,
    /// How long a delivered session lasted.
    pub minutes: Option<i32>,
    /// Who ran a delivered session, by name.
    pub delivered_by: Option<String>,
    /// A short note against the plan's goals.
    pub note: Option<String>,
    /// Why it was not delivered, or a note about an absence.
    pub reason: Option<String>,
    /// At the final session: whether the parent or carer attended its end.
    pub parent_attended: Option<bool>,
    /// The member of staff who recorded it (null when recorded at home by the family).
    pub recorded_by: Option<i64>,
    pub recorded_at: Option<DateTime<Utc>>,
    /// Recorded at home by a parent, carer or coach through their family link.
    pub recorded_at_home: bool,
}

impl From<ProgrammeSessionRow> for SessionJson {
    fn from(row: ProgrammeSessionRow) -> Self {
        SessionJson {
            id: row.id,
            block_id: row.block_id,
            pupil_id: row.pupil_id,
            on_date: row.on_date,
            session_time: row.session_time,
            is_final: row.is_final,
            outcome: row.outcome.as_deref().map(outcome_name),
            minutes: row.minutes,
            delivered_by: row.delivered_by,
            note: row.note,
            reason: row.reason,
            parent_attended: row.parent_attended,
            recorded_by: row.recorded_by,
            recorded_at: row.recorded_at.map(from_db_time),
            recorded_at_home: row.recorded_by_family.is_some(),
        }
    }
}

/// A block's fidelity: sessions delivered over those that should have taken place by now.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct FidelityJson {
    pub delivered: u32,
    pub planned: u32,
    /// Delivered as a whole percentage of planned; null while nothing is planned yet.
    pub percent: Option<u32>,
    /// `low` (under 40%), `partial` (40-59%), `adequate` (60-79%) or `high` (80% and over);
    /// null while nothing is planned yet.
    pub band: Option<String>,
    pub pupil_absent: u32,
    pub not_delivered: u32,
    /// Sessions whose day has passed with nothing recorded: they count against fidelity.
    pub unrecorded: u32,
    /// Sessions today or later with nothing recorded: not counted yet.
    pub upcoming: u32,
}

impl From<BlockFidelity> for FidelityJson {
    fn from(f: BlockFidelity) -> Self {
        FidelityJson {
            delivered: f.fidelity.delivered,
            planned: f.fidelity.planned,
            percent: f.fidelity.percent(),
            band: f
                .fidelity
                .band()
                .and_then(|b| serde_json::to_value(b).ok())
                .and_then(|v| v.as_str().map(str::to_string)),
            pupil_absent: f.pupil_absent,
            not_delivered: f.not_delivered,
            unrecorded: f.unrecorded,
            upcoming: f.upcoming,
        }
    }
}

/// A programme block with its sessions and fidelity.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct BlockJson {
    pub id: i64,
    pub pupil_id: i64,
    /// The Coaching Plan version it was planned against.
    pub plan_id: Option<i64>,
    /// 2, 4 or 6.
    pub weeks: i16,
    pub starts_on: NaiveDate,
    pub ends_on: NaiveDate,
    pub sessions_per_week: i32,
    /// Three-letter weekday names, Monday first.
    pub weekdays: Vec<String>,
    /// Planned minutes a session.
    pub minutes: i32,
    /// Local start time, `HH:MM`.
    pub session_time: Option<String>,
    /// `in_school` or `at_home`.
    pub place: String,
    /// Who leads the sessions: `specialist_staff`, `trained_staff`, `parent_carer` or `coach`.
    pub led_by: String,
    /// The practitioner on the school's staff who runs them.
    pub practitioner_id: Option<i64>,
    /// Who runs them, by name, when not on the school's staff.
    pub practitioner_name: Option<String>,
    /// `running`, `reviewed`, or `ended` (left without a block review).
    pub status: String,
    /// The review's decision: `goals_met`, `next_block` or `provision_map`.
    pub decision: Option<String>,
    pub decision_reason: Option<String>,
    pub reviewed_at: Option<DateTime<Utc>>,
    pub reviewed_by: Option<i64>,
    /// As of today (for a reviewed block, its sessions as recorded).
    pub fidelity: FidelityJson,
    /// In date order.
    pub sessions: Vec<SessionJson>,
}

impl BlockJson {
    fn new(block: ProgrammeBlockRow, fidelity: BlockFidelity, sessions: Vec<SessionJson>) -> Self {
        BlockJson {
            id: block.id,
            pupil_id: block.pupil_id,
            plan_id: block.plan_id,
            weeks: block.weeks,
            starts_on: block.starts_on,
            ends_on: block.ends_on,
            sessions_per_week: block.sessions_per_week,
            weekdays: block
                .weekdays
                .split(',')
                .map(str::trim)
                .filter(|d| !d.is_empty())
                .map(str::to_string)
                .collect(),
            minutes: block.minutes,
            session_time: block.session_time,
            place: block.place,
            led_by: block.led_by,
            practitioner_id: block.practitioner_id,
            practitioner_name: block.practitioner_name,
            status: block.status,
            decision: block.decision,
            decision_reason: block.decision_reason,
            reviewed_at: block.reviewed_at.map(from_db_time),
            reviewed_by: block.reviewed_by,
            fidelity: FidelityJson::from(fidelity),
            sessions,
        }
    }
}

impl From<BlockView> for BlockJson {
    fn from(view: BlockView) -> Self {
        let sessions = view.sessions.into_iter().map(SessionJson::from).collect();
        BlockJson::new(view.block, view.fidelity, sessions)
    }
}

/// The answer of `GET /api/v1/pupils/{id}/programme`.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct ProgrammeJson {
    pub pupil_id: i64,
    /// The pupil's level now (5 while on the Coaching Programme).
    pub level: i16,
    /// Every block, newest first, each with its sessions, fidelity and band.
    pub blocks: Vec<BlockJson>,
}

/// A pupil's Coaching Programme: every block with its sessions, fidelity and band. The read
/// is recorded in the audit log, as the programme page's is.
#[utoipa::path(
    get,
    path = "/api/v1/pupils/{id}/programme",
    params(("id" = i64, Path, description = "The pupil's id")),
    responses(
        (status = 200, description = "The programme's blocks, newest first", body = ProgrammeJson),
        (status = 401, description = "No valid token", body = ErrorBody),
        (status = 403, description = "Programmes are for the pupil's Head of Year or Head of House, the SENDCO and SLT", body = ErrorBody),
        (status = 404, description = "No such pupil in this school", body = ErrorBody)
    )
)]
pub async fn programme(
    user: ApiUser,
    path: web::Path<i64>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let (member, pupil_id) = (user.0, path.into_inner());
    let today = SchoolCalendar::local_date(Utc::now());
    let reader = member.clone();
    let answer = audit::read_recorded(&state.db, &reader, Read::Programme, move |conn| {
        let pupil = pupil_seen_by(conn, &member, pupil_id, Record::Programme)?;
        let blocks = programmes::blocks_for(conn, member.school_id, pupil.id, today)?;
        let programme = ProgrammeJson {
            pupil_id: pupil.id,
            level: pupil.level.number(),
            blocks: blocks.into_iter().map(BlockJson::from).collect(),
        };
        Ok((programme, Some(pupil.id), format!("pupil {}", pupil.id)))
    })
    .await?;
    Ok(HttpResponse::Ok().json(answer))
}

// ---------------------------------------------------------------------------------------------
// Recording a session
// ---------------------------------------------------------------------------------------------

/// The body of `POST /api/v1/sessions/{id}/record`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RecordSessionJson {
    /// `delivered`, `absent` (the pupil was not there) or `not_delivered`.
    pub outcome: String,
    /// How long a delivered session lasted, 1 to 240; left out, the block's planned minutes.
    /// Only a delivered session has a length.
    pub minutes: Option<u32>,
    /// A short note against the plan's goals.
    pub note: Option<String>,
    /// Why the session was not delivered (required then); optional for an absence.
    pub reason: Option<String>,
    /// At the block's final session: whether a parent or carer attended its end.
    pub parent_attended: Option<bool>,
    /// Who ran a delivered session, when not the caller (a name).
    pub delivered_by: Option<String>,
}

/// The stored name of an outcome the API names: `absent` is the pupil's absence.
fn stored_outcome(raw: &str) -> &str {
    match raw.trim() {
        "absent" => SessionOutcome::PupilAbsent.as_str(),
        other => other,
    }
}

/// Records what happened at a programme session (or corrects it while its block runs), as
/// the session page does: the practitioner who runs the block, the pupil's Head of Year or
/// Head of House, the SENDCO or SLT. The block's fidelity follows from it.
#[utoipa::path(
    post,
    path = "/api/v1/sessions/{id}/record",
    params(("id" = i64, Path, description = "The session's id")),
    request_body = RecordSessionJson,
    responses(
        (status = 200, description = "Recorded", body = SessionJson),
        (status = 400, description = "A field is missing or wrong; `field` names it", body = ErrorBody),
        (status = 401, description = "No valid token", body = ErrorBody),
        (status = 403, description = "Sessions are recorded by the practitioner who runs them, the Head of Year or Head of House, the SENDCO or SLT", body = ErrorBody),
        (status = 404, description = "No such session in this school", body = ErrorBody),
        (status = 409, description = "The block has been reviewed: its sessions can no longer change", body = ErrorBody),
        (status = 413, description = "The body is larger than 64 KiB", body = ErrorBody),
        (status = 422, description = "The session's day has not come", body = ErrorBody)
    )
)]
pub async fn record_session(
    user: ApiUser,
    path: web::Path<i64>,
    body: ApiJson<RecordSessionJson>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let request = body.0;
    let (member, id, now) = (user.0, path.into_inner(), Utc::now());
    let recorded = state
        .db
        .write(move |conn| {
            let view = programmes::session_for(conn, &member, id)?;
            let outcome = stored_outcome(&request.outcome);
            let delivered = outcome == SessionOutcome::Delivered.as_str();
            let planned = u32::try_from(view.block.minutes).ok();
            let input = SessionInput {
                outcome,
                minutes: request.minutes.or(planned.filter(|_| delivered)),
                reason: request.reason.as_deref(),
                note: request.note.as_deref(),
                delivered_by: request.delivered_by.as_deref(),
                parent_attended: request.parent_attended,
            };
            let row =
                programmes::record_session(conn, &member, id, &input, now).map_err(
                    |e| match e {
                        // The domain names its own values; the API's body names the absence `absent`.
                        Error::Invalid { code, field, .. }
                            if field.as_deref() == Some("outcome") =>
                        {
                            Error::Invalid {
                                code,
                                field,
                                message: "outcome must be one of delivered, absent, not_delivered"
                                    .into(),
                            }
                        }
                        other => other,
                    },
                )?;
            Ok(SessionJson::from(row))
        })
        .await?;
    Ok(HttpResponse::Ok().json(recorded))
}

// ---------------------------------------------------------------------------------------------
// The block review
// ---------------------------------------------------------------------------------------------

/// The body of `POST /api/v1/programme-blocks/{id}/review`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReviewJson {
    /// `goals_met` (step down to the Coaching Plan), `next_block` (the 4-week block after the
    /// 2-week, the 6-week after the 4-week) or `provision_map` (a Bespoke Provision Map).
    pub decision: String,
    /// Needed to move on with fidelity under 80%, and for a Bespoke Provision Map before the
    /// 6-week block has been reviewed (an SLT or SENDCO decision).
    pub reason: Option<String>,
    /// A short summary of the review meeting; left out, a plain note that it was recorded
    /// through the API.
    pub summary: Option<String>,
    /// When the review was held; left out, now. Not in the future.
    pub held_at: Option<DateTime<Utc>>,
}

/// The answer of a block review: the block as reviewed, the pupil as moved, and their next
/// meeting.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct ReviewedJson {
    pub block: BlockJson,
    pub pupil: PupilJson,
    /// The meeting that follows: the next block's review, the Coaching Plan review after
    /// stepping down, or the provision map's team meeting.
    pub next_meeting: Option<MeetingJson>,
}

/// The summary stored for a review recorded without one.
const API_REVIEW_SUMMARY: &str = "Block review recorded through the API.";

/// Records a block review and carries out its decision, as the programme page does: the
/// block's fidelity is fixed, its review meeting is recorded as held, and the pupil steps
/// down, starts the next block or moves to a Bespoke Provision Map.
#[utoipa::path(
    post,
    path = "/api/v1/programme-blocks/{id}/review",
    params(("id" = i64, Path, description = "The programme block's id")),
    request_body = ReviewJson,
    responses(
        (status = 200, description = "Reviewed: the block and the pupil as moved", body = ReviewedJson),
        (status = 400, description = "A field is missing or wrong (a reason is needed, the decision is not allowed); `field` names it", body = ErrorBody),
        (status = 401, description = "No valid token", body = ErrorBody),
        (status = 403, description = "Block reviews are for the pupil's Head of Year or Head of House, the SENDCO and SLT", body = ErrorBody),
        (status = 404, description = "No such block in this school", body = ErrorBody),
        (status = 409, description = "The block has already been reviewed", body = ErrorBody),
        (status = 413, description = "The body is larger than 64 KiB", body = ErrorBody),
        (status = 422, description = "The pupil is no longer on the Coaching Programme", body = ErrorBody)
    )
)]
pub async fn review_block(
    user: ApiUser,
    path: web::Path<i64>,
    body: ApiJson<ReviewJson>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let request = body.0;
    let (member, block_id, now) = (user.0, path.into_inner(), Utc::now());
    let context = NoticeContext::from_settings(&state.settings);
    let answer = state
        .db
        .write(move |conn| {
            let rules = evaluation::load_rules(conn, member.school_id)?;
            let input = ReviewInput {
                decision: &request.decision,
                reason: request.reason.as_deref(),
                summary: request.summary.as_deref().unwrap_or(API_REVIEW_SUMMARY),
                held_at: request.held_at.unwrap_or(now),
            };
            let result =
                programmes::review_block(conn, &member, &context, block_id, &input, &rules, now)?;
            let pupil = pupils::get(conn, member.school_id, result.block.pupil_id)?;
            if pupil.sen_status != SenStatus::None {
                let detail = pupil.sen_status.as_str().to_string();
                audit::record_read(conn, &member, Read::SenStatus, Some(pupil.id), detail)?;
            }
            let today = SchoolCalendar::local_date(now);
            let block = programmes::blocks_for(conn, member.school_id, pupil.id, today)?
                .into_iter()
                .find(|b| b.block.id == block_id)
                .map(BlockJson::from)
                .ok_or(Error::NotFound("programme block"))?;
            let next_meeting = result
                .next_meeting
                .map(|m| MeetingJson::load(conn, m))
                .transpose()?;
            Ok(ReviewedJson {
                block,
                pupil: PupilJson::from(pupil),
                next_meeting,
            })
        })
        .await?;
    Ok(HttpResponse::Ok().json(answer))
}
