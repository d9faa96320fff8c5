//! `/api/v1/pupils`: finding, reading and adding pupils of the caller's school.

use actix_web::{web, HttpRequest, HttpResponse};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::{optional_number, paging, ApiJson};
use crate::db::audit::{self, AuditEntry};
use crate::db::pupils::{self, PupilKey, PupilSearch, PupilView};
use crate::db::to_db_time;
use crate::domain::details::NewPupil;
use crate::domain::Role;
use crate::error::Error;
use crate::web::auth::{require_role, ApiUser};
use crate::web::error::{ApiError, ErrorBody};
use crate::web::AppState;

/// Roles that may add pupils (an MIS integration uses an admin's token).
const CAN_ADD_PUPILS: &[Role] = &[Role::Admin, Role::Slt];

/// A pupil's place in the Coaching Sequence.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct LevelJson {
    /// 0 (none) to 6.
    pub current: i16,
    /// none, prompt, conversation, time, plan, programme or provision.
    pub name: String,
    /// When the pupil reached this level.
    pub since: DateTime<Utc>,
}

/// A pupil (the `PUPIL` shape of the API).
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct PupilJson {
    pub id: i64,
    pub upn: String,
    pub given_name: String,
    pub family_name: String,
    pub year: i16,
    pub form: String,
    /// none, sen_support or ehcp.
    pub sen_status: String,
    pub level: LevelJson,
    /// When the pupil was marked as left (their records are then read-only); null while on roll.
    pub left_on: Option<chrono::NaiveDate>,
}

impl From<PupilView> for PupilJson {
    fn from(pupil: PupilView) -> Self {
        PupilJson {
            id: pupil.id,
            upn: pupil.upn,
            given_name: pupil.given_name,
            family_name: pupil.family_name,
            year: pupil.year,
            form: pupil.form,
            sen_status: pupil.sen_status.as_str().to_string(),
            level: LevelJson {
                current: pupil.level.number(),
                name: pupil.level.name().to_string(),
                since: pupil.level_since,
            },
            left_on: pupil.left_on,
        }
    }
}

/// The answer of `GET /api/v1/pupils`.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct PupilList {
    /// By family name, given name and id.
    pub pupils: Vec<PupilJson>,
    /// The path (with query) of the next page, or null on the last page.
    pub next: Option<String>,
}

/// Filters of `GET /api/v1/pupils`.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct PupilQuery {
    /// Part of a name or UPN.
    pub q: Option<String>,
    /// Year group number.
    pub year: Option<String>,
    /// Form name, such as 7A.
    pub form: Option<String>,
    /// Most entries in the page: 1 to 500, 100 unless given.
    pub limit: Option<String>,
    /// Where the page starts: the `cursor` in the `next` path of the page before. Absent for
    /// the first page.
    pub cursor: Option<String>,
}

/// Finds pupils of the caller's school by name or UPN part, year and form, a page at a time.
#[utoipa::path(
    get,
    path = "/api/v1/pupils",
    params(PupilQuery),
    responses(
        (status = 200, description = "A page of matching pupils, by family name, given name and id, with the path of the next page", body = PupilList),
        (status = 400, description = "A filter, `limit` or `cursor` is malformed; `field` names it", body = ErrorBody),
        (status = 401, description = "No valid token", body = ErrorBody)
    )
)]
pub async fn list(
    req: HttpRequest,
    user: ApiUser,
    query: web::Query<PupilQuery>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let request = paging::read::<PupilKey>(&req, query.limit.as_deref(), query.cursor.as_deref())?;
    let search = PupilSearch {
        text: query.q.clone(),
        year: optional_number::<i16>("year", query.year.as_deref())?,
        form: query.form.clone(),
        limit: 0,
        include_left: false,
    };
    let school_id = user.0.school_id;
    let found = state
        .db
        .transaction(move |conn| pupils::page(conn, school_id, &search, &request))
        .await?;
    Ok(HttpResponse::Ok().json(PupilList {
        pupils: found.items.into_iter().map(PupilJson::from).collect(),
        next: paging::next_path(&req, found.next),
    }))
}

/// Reads one pupil of the caller's school.
#[utoipa::path(
    get,
    path = "/api/v1/pupils/{id}",
    params(("id" = i64, Path, description = "The pupil's id")),
    responses(
        (status = 200, description = "The pupil", body = PupilJson),
        (status = 401, description = "No valid token", body = ErrorBody),
        (status = 404, description = "No such pupil in this school", body = ErrorBody)
    )
)]
pub async fn get(
    user: ApiUser,
    path: web::Path<i64>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let (school_id, pupil_id) = (user.0.school_id, path.into_inner());
    let pupil = state
        .db
        .transaction(move |conn| pupils::get(conn, school_id, pupil_id))
        .await?;
    audit::record_sen_read(&state.db, &user.0, &pupil).await?;
    Ok(HttpResponse::Ok().json(PupilJson::from(pupil)))
}

/// The body of `POST /api/v1/pupils`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewPupilJson {
    /// Unique Pupil Number: a letter, 11 digits, then a digit or letter.
    pub upn: Option<String>,
    pub given_name: Option<String>,
    pub family_name: Option<String>,
    /// Year group number, 0 to 14.
    pub year: Option<i64>,
    /// Form name; created in that year group when new.
    pub form: Option<String>,
    /// none (default), sen_support or ehcp.
    pub sen_status: Option<String>,
}

fn required<'a>(field: &str, value: &'a Option<String>) -> Result<&'a str, Error> {
    value
        .as_deref()
        .ok_or_else(|| Error::invalid(field, format!("{field} is required")))
}

impl NewPupilJson {
    fn parse(&self) -> Result<NewPupil, Error> {
        let year = self
            .year
            .ok_or_else(|| Error::invalid("year", "year is required"))?;
        NewPupil::parse(
            required("upn", &self.upn)?,
            required("given_name", &self.given_name)?,
            required("family_name", &self.family_name)?,
            year,
            required("form", &self.form)?,
            self.sen_status.as_deref(),
        )
        .map_err(|e| Error::invalid(e.field, format!("{}: {}", e.field, e.message)))
    }
}

/// Adds a pupil to the caller's school, at no support level.
#[utoipa::path(
    post,
    path = "/api/v1/pupils",
    request_body = NewPupilJson,
    responses(
        (status = 201, description = "The pupil was added", body = PupilJson),
        (status = 400, description = "A detail is missing or malformed; `field` names it", body = ErrorBody),
        (status = 401, description = "No valid token", body = ErrorBody),
        (status = 413, description = "The body is larger than 64 KiB", body = ErrorBody),
        (status = 403, description = "The caller's role may not add pupils", body = ErrorBody),
        (status = 409, description = "The UPN is already on roll", body = ErrorBody)
    )
)]
pub async fn create(
    user: ApiUser,
    body: ApiJson<NewPupilJson>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    require_role(&user.0, CAN_ADD_PUPILS)?;
    let new = body.0.parse()?;
    let (school_id, actor) = (user.0.school_id, user.0.id);
    let now = Utc::now();
    let pupil = state
        .db
        .write(move |conn| {
            let pupil = pupils::create(conn, school_id, &new, now)?;
            audit::record(
                conn,
                AuditEntry {
                    school_id,
                    actor_id: Some(actor),
                    action: "pupil.add",
                    entity: "pupil",
                    entity_id: Some(pupil.id),
                    detail: format!("year {}", pupil.year),
                    at: to_db_time(now),
                },
            )?;
            Ok(pupil)
        })
        .await?;
    Ok(HttpResponse::Created().json(PupilJson::from(pupil)))
}

/// A ZIP file, described in the OpenAPI document as binary (a `Vec<u8>` would read as a list of
/// numbers).
#[derive(ToSchema)]
#[schema(value_type = String, format = Binary)]
pub struct ZipFile(pub Vec<u8>);

/// `GET /api/v1/pupils/{id}/export`: everything held about the pupil as a ZIP, for a subject
/// access request (SLT and administrators; audited).
#[utoipa::path(
    get,
    path = "/api/v1/pupils/{id}/export",
    params(("id" = i64, Path, description = "The pupil's id")),
    responses(
        (status = 200, description = "The subject access record as a ZIP: `record.json` holding everything, one CSV file per record type, `for_review.csv` listing the free-text fields withheld because they name another pupil, and the readable page as `record.html`", content_type = "application/zip", body = ZipFile),
        (status = 401, description = "No valid token", body = ErrorBody),
        (status = 403, description = "The caller is not SLT or an administrator", body = ErrorBody),
        (status = 404, description = "No such pupil in this school", body = ErrorBody)
    )
)]
pub async fn export(
    user: ApiUser,
    path: web::Path<i64>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let record = crate::web::pages::export::record_for(
        &state,
        user.0,
        path.into_inner(),
        crate::domain::subject_access::RecordKind::SubjectAccess,
        crate::db::subject_access::Form::Api,
    )
    .await?;
    Ok(crate::web::pages::export::zip_response(&record)?)
}
