//! Provision in the API: a pupil's Bespoke Provision Map (each provision with its reviews),
//! and the whole-school provision map with its totals. Who may read them is the rule of the
//! provision pages ([`crate::domain::visibility`]); the map's filters are read by the page's
//! own reader, so they refuse the same input.

use actix_web::{web, HttpRequest, HttpResponse};
use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::paging;
use super::programme::FidelityJson;
use crate::db::audit::{self, Read};
use crate::db::from_db_time;
use crate::db::models::{ProvisionItemRow, ProvisionReviewRow};
use crate::db::provision::{self, BlockSummary, ItemView, MapRow};
use crate::domain::calendar::SchoolCalendar;
use crate::domain::programme::BlockFidelity;
use crate::error::Error;
use crate::web::auth::ApiUser;
use crate::web::error::{ApiError, ErrorBody};
use crate::web::pages::form::Fields;
use crate::web::pages::provision::{map_detail, read_map_filter, require_map};
use crate::web::AppState;

/// One assess-plan-do-review turn of a provision.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct ProvisionReviewJson {
    pub id: i64,
    pub reviewed_on: NaiveDate,
    pub assessment: String,
    /// `good`, `some` or `none`.
    pub progress: String,
    pub next_plan: Option<String>,
    /// `continue`, `adjust` or `end`.
    pub decision: String,
    pub next_review_on: Option<NaiveDate>,
    pub reviewed_by: i64,
    pub created_at: DateTime<Utc>,
}

impl From<ProvisionReviewRow> for ProvisionReviewJson {
    fn from(row: ProvisionReviewRow) -> Self {
        ProvisionReviewJson {
            id: row.id,
            reviewed_on: row.reviewed_on,
            assessment: row.assessment,
            progress: row.progress,
            next_plan: row.next_plan,
            decision: row.decision,
            next_review_on: row.next_review_on,
            reviewed_by: row.reviewed_by,
            created_at: from_db_time(row.created_at),
        }
    }
}

/// One provision on a pupil's Bespoke Provision Map, with its reviews (oldest first).
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct ProvisionItemJson {
    pub id: i64,
    pub pupil_id: i64,
    /// What the provision is.
    pub what: String,
    /// Given by someone outside the school.
    pub external: bool,
    pub provider_name: String,
    pub frequency_per_week: i32,
    pub session_minutes: i32,
    pub starts_on: NaiveDate,
    /// When it is next reviewed.
    pub review_on: NaiveDate,
    pub ends_on: NaiveDate,
    pub cost_per_session_pence: i64,
    /// The cost of a term (13 weeks), in pence.
    pub cost_per_term_pence: u64,
    /// Where the pupil was when it started.
    pub entry_data: String,
    pub target: String,
    /// Where the pupil was when it ended.
    pub exit_data: Option<String>,
    /// The progress it ended with: `good`, `some` or `none`.
    pub outcome: Option<String>,
    /// `active` or `ended`.
    pub status: String,
    /// Whether an active provision's review date has come.
    pub review_due: bool,
    pub created_at: DateTime<Utc>,
    pub ended_at: Option<DateTime<Utc>>,
    pub reviews: Vec<ProvisionReviewJson>,
}

impl ProvisionItemJson {
    fn new(view: ItemView, today: NaiveDate) -> Self {
        let cost_per_term_pence = view.cost_per_term_pence();
        let review_due = view.review_due_by(today);
        let ItemView { item, reviews } = view;
        let ProvisionItemRow {
            id,
            pupil_id,
            what,
            external,
            provider_name,
            frequency_per_week,
            session_minutes,
            starts_on,
            review_on,
            ends_on,
            cost_per_session_pence,
            entry_data,
            target,
            exit_data,
            outcome,
            status,
            created_at,
            ended_at,
            ..
        } = item;
        ProvisionItemJson {
            id,
            pupil_id,
            what,
            external,
            provider_name,
            frequency_per_week,
            session_minutes,
            starts_on,
            review_on,
            ends_on,
            cost_per_session_pence,
            cost_per_term_pence,
            entry_data,
            target,
            exit_data,
            outcome,
            status,
            review_due,
            created_at: from_db_time(created_at),
            ended_at: ended_at.map(from_db_time),
            reviews: reviews.into_iter().map(ProvisionReviewJson::from).collect(),
        }
    }
}

/// The answer of `GET /api/v1/pupils/{id}/provision`.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct PupilProvisionJson {
    pub pupil_id: i64,
    /// The pupil's level now (6 on a Bespoke Provision Map).
    pub level: i16,
    /// Active provision first, each with its reviews.
    pub items: Vec<ProvisionItemJson>,
    /// The cost of a term of the provision still running, in pence.
    pub active_cost_per_term_pence: u64,
}

/// A pupil's Bespoke Provision Map: each provision with its costs and reviews. The read is
/// recorded in the audit log, as the provision page's is.
#[utoipa::path(
    get,
    path = "/api/v1/pupils/{id}/provision",
    params(("id" = i64, Path, description = "The pupil's id")),
    responses(
        (status = 200, description = "The pupil's provision, active first", body = PupilProvisionJson),
        (status = 401, description = "No valid token", body = ErrorBody),
        (status = 403, description = "Provision is for the pupil's Head of Year or Head of House, the SENDCO and SLT", body = ErrorBody),
        (status = 404, description = "No such pupil in this school", body = ErrorBody)
    )
)]
pub async fn pupil(
    user: ApiUser,
    path: web::Path<i64>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let (member, pupil_id) = (user.0, path.into_inner());
    let today = SchoolCalendar::local_date(Utc::now());
    let reader = member.clone();
    let answer = audit::read_recorded(&state.db, &reader, Read::Provision, move |conn| {
        let (pupil, _) = provision::pupil_for_support(conn, &member, pupil_id)?;
        let items: Vec<ProvisionItemJson> = provision::items_for(conn, member.school_id, pupil.id)?
            .into_iter()
            .map(|item| ProvisionItemJson::new(item, today))
            .collect();
        let provision = PupilProvisionJson {
            pupil_id: pupil.id,
            level: pupil.level,
            active_cost_per_term_pence: items
                .iter()
                .filter(|i| i.status == "active")
                .map(|i| i.cost_per_term_pence)
                .sum(),
            items,
        };
        Ok((provision, Some(pupil.id), String::new()))
    })
    .await?;
    Ok(HttpResponse::Ok().json(answer))
}

/// Filters of `GET /api/v1/provision`.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct MapQuery {
    /// Only this year group.
    pub year: Option<String>,
    /// Only this level: 4, 5 or 6.
    pub level: Option<String>,
    /// Only this SEN status: `none`, `sen_support` or `ehcp`.
    pub sen: Option<String>,
    /// Most entries in the page: 1 to 500, 100 unless given.
    pub limit: Option<String>,
    /// Where the page starts: the `cursor` in the `next` path of the page before. Absent for
    /// the first page.
    pub cursor: Option<String>,
}

/// A pupil as the whole-school map shows them.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct MapPupilJson {
    pub id: i64,
    pub upn: String,
    pub given_name: String,
    pub family_name: String,
    pub year: i16,
    pub form: String,
    /// 4, 5 or 6.
    pub level: i16,
    /// `none`, `sen_support` or `ehcp`.
    pub sen_status: String,
}

/// The Coaching Plan in force, as the map shows it.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct MapPlanJson {
    pub version: i32,
    pub review_on: NaiveDate,
}

/// The programme block the map reports: the running block, else the latest.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct MapBlockJson {
    pub weeks: i16,
    /// `running`, `reviewed` or `ended`.
    pub status: String,
    /// `goals_met`, `next_block` or `provision_map`, once reviewed.
    pub decision: Option<String>,
    /// As of today for a running block; as fixed at its review otherwise.
    pub fidelity: FidelityJson,
}

/// One pupil on the whole-school map.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct MapRowJson {
    pub pupil: MapPupilJson,
    pub plan: Option<MapPlanJson>,
    pub block: Option<MapBlockJson>,
    pub items: Vec<ProvisionItemJson>,
    /// The cost of a term of the pupil's active provision, in pence.
    pub cost_per_term_pence: u64,
    /// The earliest review due: the plan's, the block's or a provision's.
    pub next_review: Option<NaiveDate>,
    /// The outcome so far, in words, as the map page says it.
    pub outcome: String,
}

/// The map's totals over every pupil the filters keep.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct MapTotalsJson {
    pub pupils: usize,
    /// Provisions still running.
    pub active_items: usize,
    /// The cost of a term of all active provision, in pence.
    pub cost_per_term_pence: u64,
    /// Delivered over planned across the programme blocks shown, with its percent and band
    /// (the counts of absent, not delivered, unrecorded and upcoming sessions are not totalled
    /// and read 0).
    pub fidelity: FidelityJson,
}

/// The answer of `GET /api/v1/provision`.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct SchoolMapJson {
    /// Pupils at levels 4 to 6 on roll, in order of their id, a page at a time.
    pub pupils: Vec<MapRowJson>,
    /// Over every pupil the filters keep, whichever page this is.
    pub totals: MapTotalsJson,
    /// The path (with query) of the next page, or null on the last page.
    pub next: Option<String>,
}

fn map_row(row: MapRow, today: NaiveDate) -> MapRowJson {
    let outcome = row.outcome();
    let MapRow {
        pupil,
        year,
        form,
        plan,
        block,
        items,
        cost_per_term_pence,
        next_review,
    } = row;
    MapRowJson {
        pupil: MapPupilJson {
            id: pupil.id,
            upn: pupil.upn,
            given_name: pupil.given_name,
            family_name: pupil.family_name,
            year,
            form,
            level: pupil.level,
            sen_status: pupil.sen_status,
        },
        plan: plan.map(|(version, review_on)| MapPlanJson { version, review_on }),
        block: block.map(|b: BlockSummary| MapBlockJson {
            weeks: b.weeks,
            status: b.status,
            decision: b.decision.map(|d| d.as_str().to_string()),
            fidelity: FidelityJson::from(b.fidelity),
        }),
        items: items
            .into_iter()
            .map(|item| ProvisionItemJson::new(item, today))
            .collect(),
        cost_per_term_pence,
        next_review,
        outcome,
    }
}

/// The whole-school provision map: every pupil at levels 4 to 6 on roll that the filters keep,
/// with their plan, programme block, provision, costs and outcome, and the totals. For the
/// SENDCO and SLT; the read is recorded in the audit log, as the map page's is.
#[utoipa::path(
    get,
    path = "/api/v1/provision",
    params(MapQuery),
    responses(
        (status = 200, description = "A page of the map, its totals and the path of the next page", body = SchoolMapJson),
        (status = 400, description = "A filter, `limit` or `cursor` is wrong; `field` names it", body = ErrorBody),
        (status = 401, description = "No valid token", body = ErrorBody),
        (status = 403, description = "The whole-school provision map is for the SENDCO and SLT", body = ErrorBody),
        (status = 429, description = "As many of the school's reports as may run at once are running; `Retry-After` says when to try again", body = ErrorBody)
    )
)]
pub async fn school(
    req: HttpRequest,
    user: ApiUser,
    query: web::Query<MapQuery>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let member = user.0;
    require_map(&member)?;
    // The page's reader, with the API's name for the SEN filter.
    let mut pairs: Vec<(&str, String)> = Vec::new();
    for (name, value) in [
        ("year", &query.year),
        ("level", &query.level),
        ("sen_status", &query.sen),
    ] {
        if let Some(value) = value {
            pairs.push((name, value.clone()));
        }
    }
    let (filter, problem) = read_map_filter(&Fields::from_pairs(pairs));
    if let Some(problem) = problem {
        let field = match problem.field.as_deref() {
            Some("sen_status") => "sen",
            Some(other) => other,
            None => "query",
        }
        .to_string();
        return Err(ApiError(Error::invalid(
            &field,
            format!("{field}: {}", problem.message),
        )));
    }
    let request = paging::read::<i64>(&req, query.limit.as_deref(), query.cursor.as_deref())?;
    let today = SchoolCalendar::local_date(Utc::now());
    // A report, as the map page reads it: on the reports' own connections, then the read
    // recorded in a short write of its own.
    let school_id = member.school_id;
    let detail = map_detail(&filter);
    let map = state
        .db
        .report(school_id, move |conn| {
            provision::school_map(conn, school_id, &filter, today)
        })
        .await?;
    state
        .db
        .write(move |conn| audit::record_read(conn, &member, Read::ProvisionMap, None, detail))
        .await?;
    let totals = MapTotalsJson {
        pupils: map.rows.len(),
        active_items: map.active_items,
        cost_per_term_pence: map.cost_per_term_pence,
        fidelity: FidelityJson::from(BlockFidelity {
            fidelity: map.fidelity,
            ..BlockFidelity::default()
        }),
    };
    // The map is built whole for its totals (a few percent of the roll); its pages are cut
    // in order of pupil id, a key that never changes.
    let mut rows = map.rows;
    rows.sort_by_key(|row| row.pupil.id);
    rows.retain(|row| request.after.is_none_or(|after| row.pupil.id > after));
    let page = request.cut(rows, |row| row.pupil.id);
    Ok(HttpResponse::Ok().json(SchoolMapJson {
        pupils: page
            .items
            .into_iter()
            .map(|row| map_row(row, today))
            .collect(),
        totals,
        next: paging::next_path(&req, page.next),
    }))
}
