//! How an application [`Error`] is shown: the JSON error shape under `/api/v1`, a page
//! elsewhere. Faults of the server are logged with their cause and shown without it.

use actix_web::error::PayloadError;
use actix_web::http::{header, StatusCode};
use actix_web::{HttpResponse, ResponseError};
use serde::Serialize;

use crate::error::Error;

/// The largest request body read: a JSON body of the API or a form of a page. Larger ones
/// are refused with 413 before they are read.
pub const MAX_BODY_BYTES: usize = 64 * 1024;

/// Why a request body could not be read, as an application error: too large (413) or
/// unreadable (400). `what` names the body ("the JSON body", "the form").
pub fn body_error(error: &actix_web::Error, what: &str) -> Error {
    match error.as_error::<PayloadError>() {
        Some(PayloadError::Overflow) => Error::too_large(format!(
            "{what} is larger than the {} KiB accepted",
            MAX_BODY_BYTES / 1024
        )),
        _ => Error::bad_request(format!("{what} could not be read")),
    }
}

/// An error answered as `{"error":{"code","message","field"?}}`.
#[derive(Debug, thiserror::Error)]
#[error(transparent)]
pub struct ApiError(#[from] pub Error);

/// The JSON error shape of the API.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ErrorBody {
    pub error: ErrorDetail,
}

/// What went wrong, for a program to act on and a person to read.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ErrorDetail {
    /// Stable code: invalid, bad_request, too_large, unprocessable, unauthenticated, forbidden, not_found, method_not_allowed, conflict, internal, database_unavailable.
    pub code: String,
    /// A sentence saying what is wrong.
    pub message: String,
    /// The input field at fault, when there is one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
}

impl ErrorBody {
    /// The JSON body for an error.
    pub fn from_error(error: &Error) -> Self {
        ErrorBody {
            error: ErrorDetail {
                code: error.code().to_string(),
                message: error.to_string(),
                field: error.field().map(str::to_string),
            },
        }
    }
}

fn status_of(error: &Error) -> StatusCode {
    StatusCode::from_u16(error.status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
}

/// Logs the cause of a server-side fault (never shown to the user).
pub(crate) fn log_if_server_fault(error: &Error) {
    match error {
        Error::Database(diesel::result::Error::NotFound) => {}
        Error::Database(cause) => tracing::error!(cause = %cause, "database error"),
        Error::Pool(cause) => tracing::error!(cause = %cause, "database unavailable"),
        Error::Unavailable(cause) => tracing::error!(cause = %cause, "database connection lost"),
        Error::Internal(cause) => tracing::error!(cause = %cause, "internal error"),
        _ => {}
    }
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        status_of(&self.0)
    }

    fn error_response(&self) -> HttpResponse {
        log_if_server_fault(&self.0);
        let mut response = HttpResponse::build(self.status_code());
        if matches!(self.0, Error::Unauthenticated) {
            response.insert_header((header::WWW_AUTHENTICATE, "Bearer"));
        }
        if let Some(seconds) = self.0.retry_after_seconds() {
            response.insert_header((header::RETRY_AFTER, seconds.to_string()));
        }
        response.json(ErrorBody::from_error(&self.0))
    }
}

/// An error answered with a page; a request that is not signed in goes to the login page, and
/// one from a member who must first set up a second factor to `/account/security`.
#[derive(Debug, thiserror::Error)]
#[error(transparent)]
pub struct PageError(#[from] pub Error);

impl From<diesel::result::Error> for PageError {
    fn from(e: diesel::result::Error) -> Self {
        PageError(Error::from(e))
    }
}

impl From<diesel::result::Error> for ApiError {
    fn from(e: diesel::result::Error) -> Self {
        ApiError(Error::from(e))
    }
}

impl ResponseError for PageError {
    fn status_code(&self) -> StatusCode {
        match self.0 {
            Error::Unauthenticated | Error::SecondFactorNeeded => StatusCode::SEE_OTHER,
            _ => status_of(&self.0),
        }
    }

    fn error_response(&self) -> HttpResponse {
        log_if_server_fault(&self.0);
        if matches!(self.0, Error::Unauthenticated) {
            return HttpResponse::SeeOther()
                .insert_header((header::LOCATION, "/login"))
                .finish();
        }
        if matches!(self.0, Error::SecondFactorNeeded) {
            return HttpResponse::SeeOther()
                .insert_header((header::LOCATION, "/account/security"))
                .finish();
        }
        let status = self.status_code();
        let title = match status.as_u16() {
            400 | 422 => "That did not work",
            403 => "Not allowed",
            404 => "Not found",
            409 => "Already there",
            413 => "Too much to send",
            429 => "Wait a moment",
            503 => "Try again shortly",
            _ => "Something went wrong",
        };
        let message = if self.0.is_unavailable() {
            "Steadfast cannot reach its database just now. Nothing was changed; please try again in a moment."
                .to_string()
        } else if status.is_server_error() {
            "Steadfast could not finish this. Nothing was changed; please try again.".to_string()
        } else {
            self.0.to_string()
        };
        let body = crate::web::pages::layout::error_page(title, &message);
        let mut response = HttpResponse::build(status);
        if let Some(seconds) = self.0.retry_after_seconds() {
            response.insert_header((header::RETRY_AFTER, seconds.to_string()));
        }
        response
            .content_type("text/html; charset=utf-8")
            .body(body.into_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A report refused because the school's reports are all running answers the API's JSON
    /// error shape with 429 and `Retry-After`, and a page with the same status.
    #[actix_web::test]
    async fn busy_reports_answer_429_with_retry_after() {
        let response = ApiError(crate::db::reports::busy()).error_response();
        assert_eq!(response.status(), StatusCode::TOO_MANY_REQUESTS);
        assert_eq!(
            response
                .headers()
                .get(header::RETRY_AFTER)
                .and_then(|v| v.to_str().ok()),
            Some("5")
        );
        let body = actix_web::body::to_bytes(response.into_body())
            .await
            .unwrap_or_default();
        let json: serde_json::Value = serde_json::from_slice(&body).unwrap_or_default();
        assert_eq!(json["error"]["code"], "busy");
        assert!(json["error"]["message"]
            .as_str()
            .is_some_and(|m| m.contains("try again in a moment")));

        let page = PageError(crate::db::reports::too_long()).error_response();
        assert_eq!(page.status(), StatusCode::TOO_MANY_REQUESTS);
        assert!(page.headers().contains_key(header::RETRY_AFTER));
    }
}
