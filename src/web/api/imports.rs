//! `POST /api/v1/imports/{kind}`: a school's files brought in through the API, the file as
//! the request body. A dry run (`?dry_run=true`) writes nothing and says what would change;
//! a file with problems answers 422 with every problem and writes nothing.

use actix_web::{web, HttpResponse};
use chrono::Utc;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::ApiBody;
use crate::domain::Role;
use crate::error::Error;
use crate::imports::{self, ImportOptions, ImportReport};
use crate::web::auth::{require_role, ApiUser};
use crate::web::error::{ApiError, ErrorBody, ErrorDetail};
use crate::web::AppState;

/// Who may bring files in: the school's administrators (and the MIS technician's token).
pub const IMPORTERS: &[Role] = &[Role::Admin];

/// The options of an import, as query parameters.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct ImportQuery {
    /// `true` to say what would change and write nothing (default `false`).
    pub dry_run: Option<String>,
    /// `true` when the file is the whole roll: pupils not in it are marked as left (pupils
    /// and OneRoster bundles; default `false`).
    pub full: Option<String>,
}

/// A file with problems: the error shape, beside the report naming each problem.
#[derive(Debug, Serialize, ToSchema)]
pub struct RefusedImport {
    pub error: ErrorDetail,
    #[serde(flatten)]
    pub report: ImportReport,
}

/// A file sent byte for byte as the request body (a `.zip`), as the OpenAPI document shows it.
#[derive(ToSchema)]
#[schema(value_type = String, format = Binary)]
pub struct BinaryFile(pub Vec<u8>);

/// Reads a `true`/`false` query parameter, naming it when it is neither.
fn flag(field: &str, raw: Option<&str>) -> Result<bool, Error> {
    match raw.map(str::trim) {
        None | Some("") | Some("false") => Ok(false),
        Some("true") => Ok(true),
        Some(other) => Err(Error::invalid(
            field,
            format!("{field} must be true or false, got {other:?}"),
        )),
    }
}

/// Brings in pupils from a MIS CSV export (SIMS, Arbor or Bromcom headers, UTF-8 or
/// Windows-1252, comma or semicolon), matched by UPN.
#[utoipa::path(
    post,
    path = "/api/v1/imports/pupils",
    params(ImportQuery),
    request_body(content = String, content_type = "text/csv", description = "The CSV file as the MIS saves it"),
    responses(
        (status = 200, description = "What was (or, on a dry run, would be) added, changed, marked left and left unchanged", body = ImportReport),
        (status = 400, description = "A query parameter is malformed", body = ErrorBody),
        (status = 401, description = "No valid token", body = ErrorBody),
        (status = 403, description = "Not an administrator", body = ErrorBody),
        (status = 413, description = "The file is larger than an import reads", body = ErrorBody),
        (status = 422, description = "The file has problems, each named by line and column; nothing was written", body = RefusedImport)
    )
)]
pub async fn pupils(
    user: ApiUser,
    query: web::Query<ImportQuery>,
    body: ApiBody,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    require_role(&user.0, IMPORTERS)?;
    let options = ImportOptions {
        dry_run: flag("dry_run", query.dry_run.as_deref())?,
        full: flag("full", query.full.as_deref())?,
        mapped: Vec::new(),
    };
    let (school_id, actor) = (user.0.school_id, user.0.id);
    let file = body.0;
    let report = state
        .db
        .write(move |conn| {
            imports::pupils::import(conn, school_id, Some(actor), &file, &options, Utc::now())
        })
        .await?;
    Ok(answer(report))
}

/// Brings in the signed-in school from a OneRoster 1.1 or 1.2 CSV bundle (the `.zip` a MIS
/// publishes for School Data Sync or Apple School Manager): the org whose `identifier` is
/// the school's code gives its pupils (by UPN), staff (by email), forms and their tutors,
/// teaching groups (by `sourcedId`) and the holidays between its terms.
#[utoipa::path(
    post,
    path = "/api/v1/imports/oneroster",
    params(ImportQuery),
    request_body(content = BinaryFile, content_type = "application/zip", description = "The OneRoster bundle: a .zip of orgs.csv, users.csv (and roles.csv in 1.2), classes.csv, enrollments.csv and academicSessions.csv"),
    responses(
        (status = 200, description = "What was (or, on a dry run, would be) added, changed, marked left and left unchanged, keyed by school code and UPN, email, class or holiday", body = ImportReport),
        (status = 400, description = "A query parameter is malformed", body = ErrorBody),
        (status = 401, description = "No valid token", body = ErrorBody),
        (status = 403, description = "Not an administrator", body = ErrorBody),
        (status = 413, description = "The file is larger than an import reads", body = ErrorBody),
        (status = 422, description = "The bundle has problems, each named by file, line and column (`users.csv: grades`); nothing was written", body = RefusedImport)
    )
)]
pub async fn oneroster(
    user: ApiUser,
    query: web::Query<ImportQuery>,
    body: ApiBody,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    require_role(&user.0, IMPORTERS)?;
    let options = ImportOptions {
        dry_run: flag("dry_run", query.dry_run.as_deref())?,
        full: flag("full", query.full.as_deref())?,
        mapped: Vec::new(),
    };
    let (school_id, actor) = (user.0.school_id, user.0.id);
    let grade_offset = state.settings.oneroster_grade_offset;
    let file = body.0;
    let report = state
        .db
        .write(move |conn| {
            imports::oneroster::import(
                conn,
                school_id,
                Some(actor),
                &file,
                &options,
                grade_offset,
                Utc::now(),
            )
        })
        .await?;
    Ok(answer(report))
}

/// 200 with the report, or 422 with the error shape beside it when the file had problems.
pub fn answer(report: ImportReport) -> HttpResponse {
    if report.errors.is_empty() {
        return HttpResponse::Ok().json(report);
    }
    let first = &report.errors[0];
    HttpResponse::UnprocessableEntity().json(RefusedImport {
        error: ErrorDetail {
            code: "import_refused".to_string(),
            message: format!(
                "{} problem(s) in the file, the first at {first}; nothing was written",
                report.errors.len()
            ),
            field: None,
        },
        report,
    })
}
