//! The one browser-facing error type, shared by the JSON API and every server function.
//!
//! It serialises to exactly the contract's error body, `{"error": CODE, "message": TEXT}`, so a
//! server function's failure and a JSON endpoint's failure look the same on the wire, and the
//! browser request layer can read the code of either.

use serde::{Deserialize, Serialize};
use server_fn::{
    codec::JsonEncoding,
    error::{FromServerFnError, ServerFnErrorErr},
};
use std::fmt;

/// The contract's error codes, one variant each.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum ErrorCode {
    /// 401: no access token (the access cookie's Max-Age ran out, or the caller never signed in).
    MissingToken,
    /// 401: the access token is past its `exp`.
    TokenExpired,
    /// 401: the access token is forged, malformed, or its session was revoked.
    InvalidToken,
    /// 401: wrong email or password.
    InvalidCredentials,
    /// 401: the refresh token is unknown, spent beyond the rules, or its session is over.
    InvalidRefreshToken,
    /// 400 (422 for a reused idempotency key): the input is not acceptable.
    Validation,
    /// 409: it already exists, or the same request is still running.
    Conflict,
    /// 403: a cross-site request with the browser's cookies.
    Csrf,
    /// 429: too many attempts; `Retry-After` says when to try again.
    RateLimited,
    /// 503: the database or the server is unavailable or busy; nothing was lost.
    Unavailable,
    /// 404: no such thing (for this caller).
    NotFound,
    /// 400: a link from a message (reset, verification) that is unknown, used, expired,
    /// superseded or malformed: ask for a new one.
    InvalidLink,
    /// 403: the account's address is not confirmed yet and this server requires it
    /// (`REQUIRE_VERIFIED_EMAIL`).
    EmailUnverified,
}

impl ErrorCode {
    /// The HTTP status this code is answered with.
    pub fn status(self) -> u16 {
        match self {
            Self::MissingToken
            | Self::TokenExpired
            | Self::InvalidToken
            | Self::InvalidCredentials
            | Self::InvalidRefreshToken => 401,
            Self::Validation | Self::InvalidLink => 400,
            Self::EmailUnverified => 403,
            Self::Conflict => 409,
            Self::Csrf => 403,
            Self::RateLimited => 429,
            Self::Unavailable => 503,
            Self::NotFound => 404,
        }
    }

    /// The code as it appears on the wire (`"token_expired"`).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::MissingToken => "missing_token",
            Self::TokenExpired => "token_expired",
            Self::InvalidToken => "invalid_token",
            Self::InvalidCredentials => "invalid_credentials",
            Self::InvalidRefreshToken => "invalid_refresh_token",
            Self::Validation => "validation",
            Self::Conflict => "conflict",
            Self::Csrf => "csrf",
            Self::RateLimited => "rate_limited",
            Self::Unavailable => "unavailable",
            Self::NotFound => "not_found",
            Self::InvalidLink => "invalid_link",
            Self::EmailUnverified => "email_unverified",
        }
    }

    /// The sentence the engine answers this code with when it has nothing more particular to
    /// say: the one wording of each failure, for the JSON API, the server functions and a page
    /// that only has the code (a form posted without JavaScript comes back with `?error=CODE`).
    pub fn message(self) -> &'static str {
        match self {
            Self::MissingToken => "Sign in to continue.",
            Self::TokenExpired => "The access token has expired.",
            Self::InvalidToken => "The access token is not valid.",
            Self::InvalidCredentials => "The email or password is incorrect.",
            Self::InvalidRefreshToken => "The session has ended; sign in again.",
            Self::Validation => "Check the highlighted field.",
            // The conflict a person meets: registering an address that has an account.
            Self::Conflict => "An account with this email already exists.",
            Self::Csrf => "Cross-site request refused.",
            Self::RateLimited => "Too many attempts; wait a minute and try again.",
            Self::Unavailable => "The service is temporarily unavailable; please try again.",
            Self::NotFound => "Not found.",
            Self::InvalidLink => {
                "This link is no longer valid (used, expired, or replaced by a newer one). \
                 Ask for a new one."
            }
            Self::EmailUnverified => {
                "Confirm your address first: open the link we sent you, or ask for a new one."
            }
        }
    }

    /// Whether a refresh can cure this failure of an access token, so the browser layer
    /// refreshes once and re-sends: `token_expired`, `missing_token` (the access cookie's
    /// Max-Age ran out), `invalid_token` (a token signed with a key no longer accepted, say, or
    /// a revoked device, whose refresh then ends the session properly). The one definition:
    /// the browser layer asks this (docs/browser.md).
    pub fn is_refreshable(self) -> bool {
        matches!(
            self,
            Self::TokenExpired | Self::MissingToken | Self::InvalidToken
        )
    }
}

impl fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// `{"error": CODE, "message": TEXT}`: what every failed request answers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[error("{message} ({error})")]
pub struct ApiError {
    /// The contract's error code.
    pub error: ErrorCode,
    /// A sentence for people.
    pub message: String,
    /// Which form field the error is about, for errors shown beside a field.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
    /// Seconds to wait before trying again; also sent as `Retry-After`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retry_after: Option<u64>,
}

impl ApiError {
    /// An error with a code and a message.
    pub fn new(error: ErrorCode, message: impl Into<String>) -> Self {
        Self {
            error,
            message: message.into(),
            field: None,
            retry_after: None,
        }
    }

    /// A `validation` error about one form field.
    pub fn validation(field: &str, message: impl Into<String>) -> Self {
        Self {
            error: ErrorCode::Validation,
            message: message.into(),
            field: Some(field.to_owned()),
            retry_after: None,
        }
    }

    /// 503 `unavailable`, with the standard message.
    pub fn unavailable() -> Self {
        ErrorCode::Unavailable.into()
    }

    /// 429: too many attempts; try again in `secs` seconds.
    pub fn rate_limited(secs: u64) -> Self {
        Self {
            retry_after: Some(secs),
            ..Self::new(
                ErrorCode::RateLimited,
                format!("Too many attempts; try again in {secs} s."),
            )
        }
    }

    /// 503 with `Retry-After`: the server is saturated (e.g. every password-hashing slot busy).
    pub fn busy() -> Self {
        Self {
            retry_after: Some(1),
            ..Self::new(
                ErrorCode::Unavailable,
                "The server is busy; please try again in a moment.",
            )
        }
    }

    /// 404 `not_found`.
    pub fn not_found() -> Self {
        ErrorCode::NotFound.into()
    }

    /// The same error beside a form field.
    pub fn with_field(mut self, field: &str) -> Self {
        self.field = Some(field.to_owned());
        self
    }

    /// The same error under another code (`conflict` beside a field, say).
    pub fn with_code(mut self, code: ErrorCode) -> Self {
        self.error = code;
        self
    }

    /// The HTTP status it is answered with.
    pub fn status(&self) -> u16 {
        self.error.status()
    }
}

/// The code with its standard sentence ([`ErrorCode::message`]).
impl From<ErrorCode> for ApiError {
    fn from(code: ErrorCode) -> Self {
        Self::new(code, code.message())
    }
}

impl FromServerFnError for ApiError {
    type Encoder = JsonEncoding;

    /// Failures of the server-function machinery itself (bad arguments, a network error in the
    /// browser, an undecodable body) become `validation` or `unavailable`.
    fn from_server_fn_error(value: ServerFnErrorErr) -> Self {
        match value {
            ServerFnErrorErr::Args(m)
            | ServerFnErrorErr::MissingArg(m)
            | ServerFnErrorErr::Deserialization(m) => Self::new(ErrorCode::Validation, m),
            ServerFnErrorErr::Request(m) => Self::new(
                ErrorCode::Unavailable,
                format!("The request could not be sent: {m}"),
            ),
            other => Self::new(ErrorCode::Unavailable, other.to_string()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_body_matches_the_contract_shape() {
        let body = serde_json::to_value(ApiError::new(ErrorCode::TokenExpired, "expired")).unwrap();
        assert_eq!(
            body,
            serde_json::json!({"error": "token_expired", "message": "expired"})
        );
    }

    #[test]
    fn access_token_failures_are_refreshable_a_rejected_refresh_is_not() {
        assert!(ErrorCode::TokenExpired.is_refreshable());
        assert!(ErrorCode::MissingToken.is_refreshable());
        assert!(ErrorCode::InvalidToken.is_refreshable());
        assert!(!ErrorCode::InvalidRefreshToken.is_refreshable());
    }
}
