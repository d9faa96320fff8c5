//! `POST /api/v1/imports/{kind}`: a school's files brought in through the API, the file as
//! the request body. A dry run (`?dry_run=true`) writes nothing and says what would change;
//! a file with problems answers 422 with every problem and writes nothing.

use actix_web::{web, HttpResponse};
use chrono::Utc;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::ApiBody;
use crate::config::Settings;
use crate::error::Error;
use crate::imports::{self, ImportKind, ImportOptions, ImportReport};
use crate::web::auth::{require_role, ApiUser};
use crate::web::error::{ApiError, ErrorBody, ErrorDetail};
use crate::web::AppState;

/// The options of an import, as query parameters; each kind reads those that apply to it.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct ImportQuery {
    /// `true` to say what would change and write nothing (default `false`).
    pub dry_run: Option<String>,
    /// `true` when the file is the whole roll: pupils not in it are marked as left (pupils
    /// and OneRoster bundles; default `false`).
    pub full: Option<String>,
    /// Incidents: `true` to place each pupil with no level yet on the ladder by replaying
    /// the school's policy over their history (default `false`).
    pub place: Option<String>,
    /// Staff: `true` to email each new person an invitation to choose a password, a
    /// single-use link valid 7 days (default `false`).
    pub invite: Option<String>,
}

impl ImportQuery {
    /// The options for `kind`; a flag that does not apply to it is refused, naming it.
    fn options(&self, kind: ImportKind, settings: &Settings) -> Result<ImportOptions, Error> {
        let full = flag("full", self.full.as_deref())?;
        let place = flag("place", self.place.as_deref())?;
        let invite = flag("invite", self.invite.as_deref())?;
        if invite && !kind.takes_invite() {
            return Err(Error::invalid(
                "invite",
                format!("invite does not apply to a {} import", kind.as_str()),
            ));
        }
        if full && !kind.takes_full() {
            return Err(Error::invalid(
                "full",
                format!("full does not apply to a {} import", kind.as_str()),
            ));
        }
        if place && !kind.takes_place() {
            return Err(Error::invalid(
                "place",
                format!("place does not apply to a {} import", kind.as_str()),
            ));
        }
        Ok(ImportOptions {
            dry_run: flag("dry_run", self.dry_run.as_deref())?,
            full,
            place,
            invite,
            ..ImportOptions::for_settings(settings)
        })
    }
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
    run(ImportKind::Pupils, user, query, body, state).await
}

/// Brings in behaviour history exported from the previous system (Date, Time, UPN,
/// Behaviour, Staff, and optionally Location, Lesson, Note, Severity, Response), stored as
/// imported incidents; with `place=true` pupils are placed on the ladder. No email is sent.
#[utoipa::path(
    post,
    path = "/api/v1/imports/incidents",
    params(ImportQuery),
    request_body(content = String, content_type = "text/csv", description = "The CSV file as the previous system exports it"),
    responses(
        (status = 200, description = "Incidents added and already held, behaviours added, and with placement how many pupils land at each level", body = ImportReport),
        (status = 400, description = "A query parameter is malformed", body = ErrorBody),
        (status = 401, description = "No valid token", body = ErrorBody),
        (status = 403, description = "Not an administrator", body = ErrorBody),
        (status = 413, description = "The file is larger than an import reads", body = ErrorBody),
        (status = 422, description = "The file has problems, each named by line and column; nothing was written", body = RefusedImport)
    )
)]
pub async fn incidents(
    user: ApiUser,
    query: web::Query<ImportQuery>,
    body: ApiBody,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    run(ImportKind::Incidents, user, query, body, state).await
}

/// Brings in staff from a CSV file (email; name, or title, forename and surname; roles;
/// year groups; houses), matched by email. Nobody is deleted or closed.
#[utoipa::path(
    post,
    path = "/api/v1/imports/staff",
    params(ImportQuery),
    request_body(content = String, content_type = "text/csv", description = "The CSV file: a header line, then one person a line"),
    responses(
        (status = 200, description = "What was (or, on a dry run, would be) added, changed and left unchanged", body = ImportReport),
        (status = 400, description = "A query parameter is malformed, unknown or does not apply", body = ErrorBody),
        (status = 401, description = "No valid token", body = ErrorBody),
        (status = 403, description = "Not an administrator", body = ErrorBody),
        (status = 413, description = "The file is larger than an import reads", body = ErrorBody),
        (status = 422, description = "The file has problems, each named by line and column; nothing was written", body = RefusedImport)
    )
)]
pub async fn staff(
    user: ApiUser,
    query: web::Query<ImportQuery>,
    body: ApiBody,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    run(ImportKind::Staff, user, query, body, state).await
}

/// Brings in the signed-in school from a OneRoster 1.1 or 1.2 CSV bundle (the `.zip` a MIS
/// publishes for School Data Sync or Apple School Manager): the org whose `identifier` is
/// the school's code gives its pupils (by UPN), staff (by email), forms and their tutors,
/// teaching groups (by `sourcedId`) and the holidays between its terms.
#[utoipa::path(
    post,
    path = "/api/v1/imports/oneroster",
    params(ImportQuery),
    request_body(content = BinaryFile, content_type = "application/octet-stream", description = "The OneRoster bundle as a .zip file (sent as application/zip or application/octet-stream): a .zip of orgs.csv, users.csv (and roles.csv in 1.2), classes.csv, enrollments.csv and academicSessions.csv"),
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
    run(ImportKind::OneRoster, user, query, body, state).await
}

/// Runs an import of `kind` for an administrator, the file as the body.
async fn run(
    kind: ImportKind,
    user: ApiUser,
    query: web::Query<ImportQuery>,
    body: ApiBody,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    require_role(&user.0, kind.importers())?;
    let options = query.options(kind, &state.settings)?;
    let (school_id, actor) = (user.0.school_id, user.0.id);
    let file = body.0;
    let report = state
        .db
        .write(move |conn| {
            imports::run(
                kind,
                conn,
                school_id,
                Some(actor),
                &file,
                &options,
                Utc::now(),
            )
        })
        .await?;
    if kind == ImportKind::Staff && report.applied && report.changed > 0 {
        // Roles may have changed: tokens' owners are read again.
        state.db.members().forget_all();
    }
    if kind == ImportKind::Calendar && report.applied {
        // Logging reads the calendar through a short-lived cache: the new closures count now.
        state.db.rules().forget(school_id);
    }
    Ok(answer(report))
}

/// Brings in term dates from an iCalendar file such as a local authority publishes:
/// whole-day holidays, half terms, bank holidays and INSET days become the school's closures
/// (matched on first day, last day and kind; nothing is taken away), other events are listed
/// in `skipped` with why, and the due dates not yet passed that the new closures move are
/// moved and listed in `moved`. For administrators and SLT.
#[utoipa::path(
    post,
    path = "/api/v1/imports/calendar",
    params(ImportQuery),
    request_body(content = String, content_type = "text/calendar", description = "The .ics file (RFC 5545)"),
    responses(
        (status = 200, description = "What was (or, on a dry run, would be) added and renamed, left unchanged and skipped, and the due dates moved", body = ImportReport),
        (status = 400, description = "A query parameter is malformed", body = ErrorBody),
        (status = 401, description = "No valid token", body = ErrorBody),
        (status = 403, description = "Neither an administrator nor SLT", body = ErrorBody),
        (status = 413, description = "The file is larger than an import reads", body = ErrorBody),
        (status = 422, description = "The file has problems, each named by line and property; nothing was written", body = RefusedImport)
    )
)]
pub async fn calendar(
    user: ApiUser,
    query: web::Query<ImportQuery>,
    body: ApiBody,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    run(ImportKind::Calendar, user, query, body, state).await
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
