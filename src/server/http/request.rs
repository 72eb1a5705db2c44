//! What one request knows about its caller, resolved once and shared by everything that serves it
//! (docs/architecture.md): an `Arc<Caller>` in the request extensions.

use crate::error::{ApiError, ErrorCode};
use crate::server::{auth::Auth, http::cookies::AuthCookies, sessions::Principal};
use axum::{
    extract::{FromRef, FromRequestParts},
    http::{header, request::Parts, HeaderMap, HeaderValue, StatusCode},
    response::{IntoResponse, Response},
    Json,
};
use std::sync::Arc;

/// The caller of one request.
#[derive(Debug, Clone)]
pub enum Caller {
    /// A valid access token of a live session.
    SignedIn(Principal),
    /// No usable access token. `reason` is `None` when the request carried no credentials at all,
    /// otherwise the code a protected call answers with (`token_expired`, `missing_token` when only
    /// a refresh cookie came, `invalid_token`).
    Anonymous {
        /// The 401 code, or `None` without credentials.
        reason: Option<ErrorCode>,
    },
    /// The database did not answer while checking the session.
    Unavailable,
}

impl Caller {
    /// The caller, or the 401/503 a protected call answers with.
    pub fn require(&self) -> Result<&Principal, ApiError> {
        match self {
            Self::SignedIn(p) => Ok(p),
            Self::Anonymous { reason } => Err(reason.unwrap_or(ErrorCode::MissingToken).into()),
            Self::Unavailable => Err(ApiError::unavailable()),
        }
    }

    /// The caller if any. Credentials that no longer work still fail (so the browser refreshes);
    /// no credentials at all is `None`.
    pub fn maybe(&self) -> Result<Option<&Principal>, ApiError> {
        match self {
            Self::Anonymous { reason: None } => Ok(None),
            _ => self.require().map(Some),
        }
    }

    /// The caller, when signed in.
    pub fn principal(&self) -> Option<&Principal> {
        match self {
            Self::SignedIn(p) => Some(p),
            _ => None,
        }
    }
}

impl Auth {
    /// Resolves the caller from the request headers: verifies the access token and checks that its
    /// session is live. Never refreshes.
    pub async fn resolve(&self, headers: &HeaderMap) -> Caller {
        let cookies = AuthCookies::of(self);
        let has_refresh = cookies.refresh_in(headers).is_some();
        let Some(token) = cookies.access_in(headers) else {
            let reason = has_refresh.then_some(ErrorCode::MissingToken);
            return Caller::Anonymous { reason };
        };
        let claims = match self.sessions().keys().verify(&token) {
            Ok(c) => c,
            Err(code) => return Caller::Anonymous { reason: Some(code) },
        };
        match self.sessions().principal(&claims).await {
            Ok(Some(p)) => Caller::SignedIn(p),
            Ok(None) => Caller::Anonymous {
                reason: Some(ErrorCode::InvalidToken),
            },
            Err(e) => {
                tracing::error!(error = %e, "session check failed on the database");
                crate::server::metrics::unavailable("database");
                Caller::Unavailable
            }
        }
    }

    /// The request's caller: the `Arc<Caller>` the session layer left in the extensions,
    /// or, where it did not run, resolved now and left there for whatever reads it next.
    pub(crate) async fn session_of(
        &self,
        extensions: &mut axum::http::Extensions,
        headers: &HeaderMap,
    ) -> Arc<Caller> {
        if let Some(s) = extensions.get::<Arc<Caller>>() {
            return s.clone();
        }
        let session = Arc::new(self.resolve(headers).await);
        extensions.insert(session.clone());
        session
    }
}

async fn request_session<S>(parts: &mut Parts, state: &S) -> Arc<Caller>
where
    Auth: FromRef<S>,
{
    Auth::from_ref(state)
        .session_of(&mut parts.extensions, &parts.headers)
        .await
}

/// Extractor: the signed-in caller, or a 401 with the contract's body and `WWW-Authenticate`.
pub struct CurrentUser(pub Principal);

impl<S: Send + Sync> FromRequestParts<S> for CurrentUser
where
    Auth: FromRef<S>,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        request_session(parts, state)
            .await
            .require()
            .cloned()
            .map(Self)
    }
}

/// Extractor: the caller if signed in (`None` without credentials; expired credentials are 401).
pub struct MaybeUser(pub Option<Principal>);

impl<S: Send + Sync> FromRequestParts<S> for MaybeUser
where
    Auth: FromRef<S>,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        request_session(parts, state)
            .await
            .maybe()
            .map(|p| Self(p.cloned()))
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status =
            StatusCode::from_u16(self.status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let retry_after = self.retry_after;
        let mut res = (status, Json(&self)).into_response();
        error_headers(res.headers_mut(), status, retry_after);
        res
    }
}

/// The headers every error answer carries: `WWW-Authenticate` on a 401, `Retry-After` when the
/// error says when to come back. JSON handlers and server functions both get them from here.
pub(crate) fn error_headers(headers: &mut HeaderMap, status: StatusCode, retry_after: Option<u64>) {
    if status == StatusCode::UNAUTHORIZED {
        headers.insert(header::WWW_AUTHENTICATE, www_authenticate());
    }
    if let Some(secs) = retry_after {
        headers.insert(header::RETRY_AFTER, HeaderValue::from(secs));
    }
}

/// RFC 6750, as the contract has it: every 401 carries `Bearer error="invalid_token"`.
pub(crate) fn www_authenticate() -> HeaderValue {
    HeaderValue::from_static(r#"Bearer error="invalid_token""#)
}
