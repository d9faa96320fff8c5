//! The one application error type. Raised anywhere below the web layer; rendered as the JSON
//! error shape for `/api/v1` (see `web::api::ApiError`) and as a page for the HTML routes.

/// What went wrong, in terms a caller can act on.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Input was malformed or broke a rule; `field` names the input at fault when there is one.
    #[error("{message}")]
    Invalid {
        code: &'static str,
        message: String,
        field: Option<String>,
    },
    /// No valid credentials were presented.
    #[error("sign in first")]
    Unauthenticated,
    /// The signed-in member must set up a second factor before anything else (their role
    /// requires one); pages send them to do so.
    #[error("set up your second factor (an authenticator app) first")]
    SecondFactorNeeded,
    /// The user is known but their role does not allow this.
    #[error("{0}")]
    Forbidden(String),
    /// The record does not exist, or belongs to another school.
    #[error("{0} not found")]
    NotFound(&'static str),
    /// The request clashes with what is already stored.
    #[error("{message}")]
    Conflict {
        message: String,
        field: Option<String>,
    },
    /// Too many failed attempts to sign in: the next may come after this many seconds.
    #[error(
        "too many failed attempts to sign in: wait {}, then try again",
        crate::domain::sign_in::wait_in_words(*retry_after_seconds)
    )]
    TooManyAttempts { retry_after_seconds: i64 },
    /// A report was not run, or was stopped, so that logging stays quick: as many reports of
    /// the school as may run at once are running, or this one ran longer than a report may
    /// (see [`crate::db::Database::report`]), or PostgreSQL gave this write up in a deadlock.
    /// Worth trying again after this many seconds.
    #[error("{message}")]
    Busy {
        message: String,
        retry_after_seconds: i64,
    },
    /// A fault of the database; details are logged, never shown.
    #[error("database error")]
    Database(diesel::result::Error),
    /// A database connection could not be had from the pool: the database is down or
    /// unreachable, or every connection stayed busy too long.
    #[error(
        "the database cannot be reached just now; nothing was changed, please try again shortly"
    )]
    Pool(#[from] diesel::r2d2::PoolError),
    /// The connection to the database was lost during the request; details are logged.
    #[error(
        "the database cannot be reached just now; nothing was changed, please try again shortly"
    )]
    Unavailable(String),
    /// Anything else unexpected; details are logged, never shown.
    #[error("internal error")]
    Internal(String),
}

impl From<diesel::result::Error> for Error {
    /// A lost connection is the database being unavailable (503, worth retrying); any other
    /// database error is a fault of its own.
    fn from(error: diesel::result::Error) -> Self {
        use diesel::result::{DatabaseErrorKind, Error as Diesel};
        match error {
            Diesel::DatabaseError(
                DatabaseErrorKind::ClosedConnection | DatabaseErrorKind::UnableToSendCommand,
                info,
            ) => Error::Unavailable(info.message().to_string()),
            // PostgreSQL gave up one of two writes that waited for each other (a deadlock, or
            // a conflict of concurrent transactions): this one was rolled back whole and may
            // simply be sent again.
            Diesel::DatabaseError(kind, info)
                if matches!(kind, DatabaseErrorKind::SerializationFailure)
                    || info.message().starts_with("deadlock detected") =>
            {
                Error::Busy {
                    message: "Another change was being saved at the same moment, so this one \
                              was not saved. Please send it again."
                        .into(),
                    retry_after_seconds: 1,
                }
            }
            other => Error::Database(other),
        }
    }
}

impl From<crate::domain::details::DetailError> for Error {
    /// A refused detail is a validation error on its field.
    fn from(error: crate::domain::details::DetailError) -> Self {
        Error::invalid(error.field, error.message)
    }
}

/// Shorthand for results that fail with the application [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    /// A validation error on one named field.
    pub fn invalid(field: &str, message: impl Into<String>) -> Self {
        Error::Invalid {
            code: "invalid",
            message: message.into(),
            field: Some(field.to_string()),
        }
    }

    /// A validation error that is not about one field.
    pub fn bad_request(message: impl Into<String>) -> Self {
        Error::Invalid {
            code: "bad_request",
            message: message.into(),
            field: None,
        }
    }

    /// A request that the current state of the records does not allow (HTTP 422).
    pub fn unprocessable(message: impl Into<String>) -> Self {
        Error::Invalid {
            code: "unprocessable",
            message: message.into(),
            field: None,
        }
    }

    /// A request body larger than the service accepts (HTTP 413).
    pub fn too_large(message: impl Into<String>) -> Self {
        Error::Invalid {
            code: "too_large",
            message: message.into(),
            field: None,
        }
    }

    /// A clash with an existing record on one field.
    pub fn conflict(field: &str, message: impl Into<String>) -> Self {
        Error::Conflict {
            message: message.into(),
            field: Some(field.to_string()),
        }
    }

    /// The HTTP status this error is shown with.
    pub fn status(&self) -> u16 {
        match self {
            Error::Invalid { code, .. } if *code == "unprocessable" => 422,
            Error::Invalid { code, .. } if *code == "too_large" => 413,
            Error::Invalid { .. } => 400,
            Error::Unauthenticated => 401,
            Error::Forbidden(_) | Error::SecondFactorNeeded => 403,
            Error::NotFound(_) => 404,
            Error::Conflict { .. } => 409,
            Error::TooManyAttempts { .. } | Error::Busy { .. } => 429,
            Error::Database(diesel::result::Error::NotFound) => 404,
            Error::Pool(_) | Error::Unavailable(_) => 503,
            Error::Database(_) | Error::Internal(_) => 500,
        }
    }

    /// The stable machine-readable code of the JSON error shape.
    pub fn code(&self) -> &'static str {
        match self {
            Error::Invalid { code, .. } => code,
            Error::Unauthenticated => "unauthenticated",
            Error::Forbidden(_) | Error::SecondFactorNeeded => "forbidden",
            Error::NotFound(_) | Error::Database(diesel::result::Error::NotFound) => "not_found",
            Error::Conflict { .. } => "conflict",
            Error::TooManyAttempts { .. } => "too_many_attempts",
            Error::Busy { .. } => "busy",
            Error::Pool(_) | Error::Unavailable(_) => "database_unavailable",
            Error::Database(_) | Error::Internal(_) => "internal",
        }
    }

    /// How long to wait before trying again, for the `Retry-After` header of a 429.
    pub fn retry_after_seconds(&self) -> Option<i64> {
        match self {
            Error::TooManyAttempts {
                retry_after_seconds,
            }
            | Error::Busy {
                retry_after_seconds,
                ..
            } => Some(*retry_after_seconds),
            _ => None,
        }
    }

    /// Whether the database could not be reached: the request may succeed when retried.
    pub fn is_unavailable(&self) -> bool {
        matches!(self, Error::Pool(_) | Error::Unavailable(_))
    }

    /// The field at fault, when there is one.
    pub fn field(&self) -> Option<&str> {
        match self {
            Error::Invalid { field, .. } | Error::Conflict { field, .. } => field.as_deref(),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use diesel::result::{DatabaseErrorKind, Error as Diesel};

    #[test]
    fn a_write_given_up_in_a_deadlock_is_worth_sending_again() {
        for (kind, message) in [
            (
                DatabaseErrorKind::SerializationFailure,
                "could not serialize",
            ),
            (DatabaseErrorKind::Unknown, "deadlock detected"),
        ] {
            let error = Error::from(Diesel::DatabaseError(kind, Box::new(message.to_string())));
            assert!(matches!(error, Error::Busy { .. }), "{message}");
        }
        let other = Error::from(Diesel::DatabaseError(
            DatabaseErrorKind::Unknown,
            Box::new("division by zero".to_string()),
        ));
        assert!(matches!(other, Error::Database(_)));
    }
}
