//! The server-side error: whatever went wrong on the way to an answer. It becomes the contract's
//! [`ApiError`] (and, for failures of the server itself, is logged) exactly once, where it turns
//! into a response: `From<Error> for ApiError`, used by `?` in server functions, and
//! `IntoResponse` for JSON handlers.

use crate::error::{ApiError, ErrorCode};
use axum::response::{IntoResponse, Response};

/// A failure on the server.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// An answer for the client (401, 404, a validation error…): passed through as is.
    #[error(transparent)]
    Api(#[from] ApiError),
    /// The database failed or is unreachable: 503 `unavailable` (a unique-constraint
    /// violation is 409 `conflict`).
    #[error("database: {0}")]
    Database(#[from] sqlx::Error),
    /// [`Auth::connect`](crate::server::Auth::connect) was given a database the engine does not
    /// speak (it speaks SQLite and PostgreSQL): the URL's scheme, or a URL that does not parse.
    #[error("unsupported database: {0}")]
    UnsupportedDatabase(String),
    /// The engine's migrations could not be applied at start.
    #[error("the engine's migrations failed: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    /// Anything else that is the server's fault: 503 `unavailable`.
    #[error("{0}")]
    Internal(String),
}

impl Error {
    /// An internal failure with a message for the log (never shown to the client).
    pub fn internal(message: impl std::fmt::Display) -> Self {
        Self::Internal(message.to_string())
    }
}

impl From<Error> for ApiError {
    fn from(e: Error) -> Self {
        match e {
            Error::Api(api) => api,
            Error::Database(db) if super::db::is_unique_violation(&db) => {
                ApiError::new(ErrorCode::Conflict, "That already exists.")
            }
            Error::Database(db) => {
                tracing::error!(error = %db, "database error");
                super::metrics::unavailable("database");
                ApiError::unavailable()
            }
            other @ (Error::UnsupportedDatabase(_) | Error::Migrate(_) | Error::Internal(_)) => {
                tracing::error!(error = %other, "internal error");
                ApiError::unavailable()
            }
        }
    }
}

impl IntoResponse for Error {
    fn into_response(self) -> Response {
        ApiError::from(self).into_response()
    }
}

/// Why a refresh did not produce a pair. `Invalid` is definitive (401, cookies cleared);
/// `Unavailable` is transient (503, cookies kept).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RefreshFailure {
    /// The token opens nothing (unknown, expired, revoked, or a replay that revoked its family).
    Invalid,
    /// The database did not answer; try again, keep the cookies.
    Unavailable,
}

impl From<sqlx::Error> for RefreshFailure {
    fn from(e: sqlx::Error) -> Self {
        tracing::error!(error = %e, "refresh failed on the database");
        super::metrics::unavailable("database");
        Self::Unavailable
    }
}

/// A database failure as the contract's answer (503 `unavailable`, or 409 for a unique
/// violation), logged once.
pub(crate) fn db_error(e: sqlx::Error) -> ApiError {
    Error::from(e).into()
}
