//! The JSON API for the auth endpoints (`/api/auth/*`, `/api/me`), described by
//! OpenAPI from the handlers themselves (`utoipa`): the routes and their description are built
//! together, so the two cannot drift apart. [`ApiJson`] is for the app's own JSON handlers.

use crate::server::{
    auth::Auth,
    error::RefreshFailure,
    http::{
        cookies::AuthCookies,
        request::CurrentUser,
        use_cases::{self, Exchange, Transport},
    },
    metrics::RefreshPath,
    sessions::TokenPair,
};
use crate::{
    error::{ApiError, ErrorCode},
    types::User,
};
use axum::{
    extract::{rejection::JsonRejection, FromRef, FromRequest, Path, Request, State},
    http::{header, HeaderMap, HeaderValue, StatusCode},
    response::{IntoResponse, Response},
    Json,
};
use serde::{de::DeserializeOwned, Deserialize, Serialize};
use tower_cookies::Cookies;

/// `Json<T>` whose rejections are the contract's JSON errors: 400 `validation`, 413 for bodies
/// over the limit, 415 without a JSON content type; never a 500.
pub struct ApiJson<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for ApiJson<T> {
    type Rejection = Response;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        match Json::<T>::from_request(req, state).await {
            Ok(Json(v)) => Ok(Self(v)),
            Err(rejection) => Err(json_rejection(rejection)),
        }
    }
}

fn json_rejection(rejection: JsonRejection) -> Response {
    let status = rejection.status();
    let message = match status {
        StatusCode::PAYLOAD_TOO_LARGE => "The request body is too large.".to_owned(),
        StatusCode::UNSUPPORTED_MEDIA_TYPE => {
            "Send a JSON body (Content-Type: application/json).".to_owned()
        }
        _ => rejection.body_text(),
    };
    // Wrong types (422 in axum) and anything unexpected are plain 400s, as the contract says.
    let status = match status {
        StatusCode::PAYLOAD_TOO_LARGE | StatusCode::UNSUPPORTED_MEDIA_TYPE => status,
        _ => StatusCode::BAD_REQUEST,
    };
    (status, Json(ApiError::new(ErrorCode::Validation, message))).into_response()
}

/// Sign-in or registration.
#[derive(Deserialize, utoipa::ToSchema)]
pub(crate) struct Credentials {
    #[schema(format = "email", max_length = 254, example = "ada@example.com")]
    email: String,
    #[schema(min_length = 8, max_length = 1024, example = "correct horse battery")]
    password: String,
    /// `body`: also return the refresh token in the body and set no cookies.
    #[serde(default)]
    transport: Option<Transport>,
}

impl Credentials {
    fn transport(&self) -> Transport {
        self.transport.unwrap_or_default()
    }

    fn as_credentials(&self) -> use_cases::Credentials<'_> {
        use_cases::Credentials {
            email: &self.email,
            password: &self.password,
            transport: self.transport(),
        }
    }
}

/// A refresh token sent in the body (clients without a cookie jar); otherwise the cookie is used.
#[derive(Deserialize, Default, utoipa::ToSchema)]
pub(crate) struct RefreshBody {
    refresh_token: Option<String>,
}

/// The token response of login, registration and refresh.
#[derive(Serialize, utoipa::ToSchema)]
pub(crate) struct TokenResponse {
    access_token: String,
    token_type: &'static str,
    expires_in: i64,
    user: User,
    #[serde(skip_serializing_if = "Option::is_none")]
    refresh_token: Option<String>,
}

/// The routes and their OpenAPI description, under `prefix` (`/api/` → `/api/auth/*`,
/// `/api/me`).
pub(crate) fn router<S>(prefix: &str) -> utoipa_axum::router::OpenApiRouter<S>
where
    S: Clone + Send + Sync + 'static,
    Auth: FromRef<S>,
{
    use utoipa_axum::routes;
    let routes = utoipa_axum::router::OpenApiRouter::new()
        .routes(routes!(register))
        .routes(routes!(login))
        .routes(routes!(refresh))
        .routes(routes!(logout))
        .routes(routes!(logout_all))
        .routes(routes!(sessions))
        .routes(routes!(delete_session))
        .routes(routes!(me))
        .routes(routes!(forgot_password))
        .routes(routes!(reset_password))
        .routes(routes!(change_password))
        .routes(routes!(verify_email))
        .routes(routes!(resend_verification));
    utoipa_axum::router::OpenApiRouter::new().nest(prefix.trim_end_matches('/'), routes)
}

/// The engine's part of the OpenAPI document besides its paths: schemas and the two ways to
/// present an access token (`Authorization: Bearer` or the access cookie).
#[derive(utoipa::OpenApi)]
#[openapi(
    components(schemas(ApiError, crate::error::ErrorCode, User, TokenResponse)),
    modifiers(&SecuritySchemes),
    tags((name = "auth", description = "Accounts, sessions and tokens"))
)]
pub(crate) struct AuthApi;

struct SecuritySchemes;

impl utoipa::Modify for SecuritySchemes {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::security::{
            ApiKey, ApiKeyValue, HttpAuthScheme, HttpBuilder, SecurityScheme,
        };
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .bearer_format("JWT")
                    .build(),
            ),
        );
        components.add_security_scheme(
            "cookie",
            SecurityScheme::ApiKey(ApiKey::Cookie(ApiKeyValue::new("access_token"))),
        );
    }
}

/// The token response for a freshly issued pair (the use case has set the cookies unless
/// `transport: body`, which puts the refresh token in the body instead).
fn issued_response(issued: TokenPair, status: StatusCode, transport: Transport) -> Response {
    let body_refresh = (transport == Transport::Body).then(|| issued.refresh_token.clone());
    let body = TokenResponse {
        access_token: issued.access_token,
        token_type: "Bearer",
        expires_in: issued.access_max_age,
        user: issued.user,
        refresh_token: body_refresh,
    };
    let mut res = (status, Json(body)).into_response();
    res.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    res
}

#[utoipa::path(post, path = "/auth/register", tag = "auth", request_body = Credentials,
    responses(
        (status = 201, description = "Signed up and in; cookies set", body = TokenResponse),
        (status = 400, description = "Malformed body or invalid email/password (`validation`)", body = ApiError),
        (status = 403, description = "Cross-site request (`csrf`)", body = ApiError),
        (status = 409, description = "The email is taken (`conflict`)", body = ApiError),
        (status = 413, description = "Body too large", body = ApiError),
        (status = 415, description = "Not a JSON body", body = ApiError),
        (status = 429, description = "Too many attempts (`rate_limited`, `Retry-After`)", body = ApiError),
        (status = 503, description = "Busy or database unavailable (`unavailable`)", body = ApiError),
    ))]
async fn register(x: Exchange, ApiJson(c): ApiJson<Credentials>) -> Result<Response, ApiError> {
    let issued = use_cases::register(&x, c.as_credentials()).await?;
    Ok(issued_response(issued, StatusCode::CREATED, c.transport()))
}

#[utoipa::path(post, path = "/auth/login", tag = "auth", request_body = Credentials,
    responses(
        (status = 200, description = "Signed in; cookies set unless `transport` is `body`", body = TokenResponse),
        (status = 400, description = "Malformed body (`validation`)", body = ApiError),
        (status = 401, description = "`invalid_credentials`", body = ApiError),
        (status = 403, description = "Cross-site request (`csrf`)", body = ApiError),
        (status = 413, description = "Body too large", body = ApiError),
        (status = 415, description = "Not a JSON body", body = ApiError),
        (status = 429, description = "Too many attempts (`rate_limited`, `Retry-After`)", body = ApiError),
        (status = 503, description = "Busy or database unavailable (`unavailable`)", body = ApiError),
    ))]
async fn login(x: Exchange, ApiJson(c): ApiJson<Credentials>) -> Result<Response, ApiError> {
    let issued = use_cases::sign_in(&x, c.as_credentials()).await?;
    Ok(issued_response(issued, StatusCode::OK, c.transport()))
}

/// The refresh token from the JSON body (if any) or else the cookie. The body is optional, but
/// a body that is there must be the described object: `{"refresh_token": 42}` is a malformed
/// request (400 `validation`), never read as "no token".
fn presented_refresh(
    auth: &Auth,
    headers: &HeaderMap,
    body: axum::body::Bytes,
) -> Result<(Option<String>, bool), ApiError> {
    // Only an empty body is "no body": whitespace alone is not JSON.
    let from_body = if body.is_empty() {
        None
    } else {
        // `null` (the description's optional body) or an object; serde alone would also read
        // `["token"]` into the struct.
        serde_json::from_slice::<Option<serde_json::Map<String, serde_json::Value>>>(&body)
            .and_then(|object| {
                serde_json::from_value::<RefreshBody>(object.unwrap_or_default().into())
            })
            .map_err(|e| {
                ApiError::new(
                    ErrorCode::Validation,
                    format!("Send no body, or a JSON object with a refresh_token string ({e})."),
                )
            })?
            .refresh_token
            .filter(|t| !t.is_empty())
    };
    Ok(match from_body {
        Some(t) => (Some(t), true),
        None => (AuthCookies::of(auth).refresh_in(headers), false),
    })
}

#[utoipa::path(post, path = "/auth/refresh", tag = "auth",
    request_body(content = Option<RefreshBody>, description = "Optional: without it the `refresh_token` cookie is used"),
    responses(
        (status = 200, description = "Rotated; a new pair", body = TokenResponse),
        (status = 400, description = "A body that is not the described object (`validation`)", body = ApiError),
        (status = 401, description = "`invalid_refresh_token`; both cookies cleared", body = ApiError),
        (status = 403, description = "Cross-site request (`csrf`)", body = ApiError),
        (status = 413, description = "Body too large", body = ApiError),
        (status = 503, description = "Database unavailable; cookies kept", body = ApiError),
    ))]
async fn refresh(
    State(auth): State<Auth>,
    jar: Cookies,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Response {
    let (token, via_body) = match presented_refresh(&auth, &headers, body) {
        Ok(presented) => presented,
        Err(e) => return e.into_response(),
    };
    let transport = if via_body {
        Transport::Body
    } else {
        Transport::Cookie
    };
    let path = if via_body {
        RefreshPath::Api
    } else {
        RefreshPath::Browser
    };
    // A pair delivered in the body sets no cookies; a definitive failure clears them.
    let refreshed = use_cases::refresh(&auth, &jar, token.as_deref(), path, !via_body).await;
    match refreshed {
        Ok(issued) => issued_response(issued, StatusCode::OK, transport),
        Err(RefreshFailure::Invalid) => {
            ApiError::from(ErrorCode::InvalidRefreshToken).into_response()
        }
        Err(RefreshFailure::Unavailable) => ApiError::unavailable().into_response(),
    }
}

#[utoipa::path(post, path = "/auth/logout", tag = "auth",
    request_body(content = Option<RefreshBody>, description = "Optional: the refresh cookie or an access token work too"),
    responses(
        (status = 204, description = "The session is revoked and both cookies cleared"),
        (status = 400, description = "A body that is not the described object (`validation`)", body = ApiError),
        (status = 403, description = "Cross-site request (`csrf`)", body = ApiError),
        (status = 413, description = "Body too large", body = ApiError),
        (status = 503, description = "Database unavailable", body = ApiError),
    ))]
async fn logout(
    State(auth): State<Auth>,
    jar: Cookies,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Result<StatusCode, ApiError> {
    let (token, _) = presented_refresh(&auth, &headers, body)?;
    let session = auth.resolve(&headers).await;
    let access_sid = session.principal().map(|p| p.session_id.as_str());
    use_cases::sign_out(&auth, &jar, token.as_deref(), access_sid).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(post, path = "/auth/logout-all", tag = "auth",
    security(("bearer" = []), ("cookie" = [])),
    responses(
        (status = 204, description = "Every session of the user is revoked"),
        (status = 401, description = "`missing_token`, `token_expired` or `invalid_token`", body = ApiError),
        (status = 403, description = "Cross-site request (`csrf`)", body = ApiError),
        (status = 503, description = "Database unavailable", body = ApiError),
    ))]
async fn logout_all(
    State(auth): State<Auth>,
    jar: Cookies,
    CurrentUser(who): CurrentUser,
) -> Result<StatusCode, ApiError> {
    use_cases::sign_out_everywhere(&auth, &jar, &who).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(get, path = "/auth/sessions", tag = "auth",
    security(("bearer" = []), ("cookie" = [])),
    responses(
        (status = 200, description = "The user's live sessions, most recently used first", body = Vec<crate::types::Device>),
        (status = 401, description = "`missing_token`, `token_expired` or `invalid_token`", body = ApiError),
        (status = 503, description = "Database unavailable", body = ApiError),
    ))]
async fn sessions(
    State(auth): State<Auth>,
    CurrentUser(who): CurrentUser,
) -> Result<Response, ApiError> {
    Ok(Json(use_cases::devices(&auth, &who).await?).into_response())
}

#[utoipa::path(delete, path = "/auth/sessions/{id}", tag = "auth",
    security(("bearer" = []), ("cookie" = [])),
    params(("id" = String, Path, description = "A session id from `GET /api/auth/sessions`")),
    responses(
        (status = 204, description = "The session is revoked"),
        (status = 401, description = "`missing_token`, `token_expired` or `invalid_token`", body = ApiError),
        (status = 403, description = "Cross-site request (`csrf`)", body = ApiError),
        (status = 404, description = "Not one of the caller's sessions (`not_found`)", body = ApiError),
        (status = 503, description = "Database unavailable", body = ApiError),
    ))]
async fn delete_session(
    State(auth): State<Auth>,
    CurrentUser(who): CurrentUser,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    use_cases::revoke_device(&auth, &who, &id).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(get, path = "/me", tag = "auth",
    security(("bearer" = []), ("cookie" = [])),
    responses(
        (status = 200, description = "The signed-in user", body = User),
        (status = 401, description = "`missing_token`, `token_expired` or `invalid_token`", body = ApiError),
        (status = 503, description = "Database unavailable", body = ApiError),
    ))]
async fn me(CurrentUser(who): CurrentUser) -> Json<User> {
    Json(who.user)
}

/// A forgot-password request.
#[derive(Deserialize, utoipa::ToSchema)]
pub(crate) struct ForgotPassword {
    #[schema(format = "email", max_length = 254, example = "ada@example.com")]
    email: String,
}

/// A reset link's token and the new password.
#[derive(Deserialize, utoipa::ToSchema)]
pub(crate) struct ResetPassword {
    /// The `token` of the link in the message.
    #[schema(min_length = 1, max_length = 128, pattern = "^[A-Za-z0-9_-]+$")]
    token: String,
    #[schema(min_length = 8, max_length = 1024, example = "a new horse battery")]
    password: String,
}

/// A password change.
#[derive(Deserialize, utoipa::ToSchema)]
pub(crate) struct ChangePassword {
    current_password: String,
    #[schema(min_length = 8, max_length = 1024, example = "a new horse battery")]
    new_password: String,
}

/// A verification link's token.
#[derive(Deserialize, utoipa::ToSchema)]
pub(crate) struct VerifyEmail {
    /// The `token` of the link in the message.
    #[schema(min_length = 1, max_length = 128, pattern = "^[A-Za-z0-9_-]+$")]
    token: String,
}

/// The answer to a confirmed address.
#[derive(Serialize, utoipa::ToSchema)]
pub(crate) struct EmailVerified {
    email_verified: bool,
}

/// An empty JSON object: accepted, nothing to tell.
#[derive(Serialize, utoipa::ToSchema)]
pub(crate) struct Accepted {}

fn accepted() -> Response {
    (StatusCode::ACCEPTED, Json(Accepted {})).into_response()
}

#[utoipa::path(post, path = "/auth/password/forgot", tag = "auth", request_body = ForgotPassword,
    responses(
        (status = 202, description = "Queued when an account has the address; the same answer, in the same time, when none has", body = Accepted),
        (status = 400, description = "Malformed body or address (`validation`)", body = ApiError),
        (status = 403, description = "Cross-site request (`csrf`)", body = ApiError),
        (status = 413, description = "Body too large", body = ApiError),
        (status = 415, description = "Not a JSON body", body = ApiError),
        (status = 429, description = "Too many requests from this client or for this address (`rate_limited`, `Retry-After`)", body = ApiError),
        (status = 503, description = "Mail is off, or the database is unavailable (`unavailable`)", body = ApiError),
    ))]
async fn forgot_password(
    x: Exchange,
    ApiJson(body): ApiJson<ForgotPassword>,
) -> Result<Response, ApiError> {
    use_cases::forgot_password(&x, &body.email).await?;
    Ok(accepted())
}

#[utoipa::path(post, path = "/auth/password/reset", tag = "auth", request_body = ResetPassword,
    responses(
        (status = 200, description = "Password set, address confirmed, every other session revoked; signed in with a new session (cookies set)", body = TokenResponse),
        (status = 400, description = "`invalid_link` (unknown, used, expired, superseded or malformed token) or `validation` (the password)", body = ApiError),
        (status = 403, description = "Cross-site request (`csrf`)", body = ApiError),
        (status = 413, description = "Body too large", body = ApiError),
        (status = 415, description = "Not a JSON body", body = ApiError),
        (status = 503, description = "Busy or database unavailable (`unavailable`)", body = ApiError),
    ))]
async fn reset_password(
    x: Exchange,
    ApiJson(body): ApiJson<ResetPassword>,
) -> Result<Response, ApiError> {
    let issued = use_cases::reset_password(&x, &body.token, &body.password).await?;
    Ok(issued_response(issued, StatusCode::OK, Transport::Cookie))
}

#[utoipa::path(post, path = "/auth/password/change", tag = "auth", request_body = ChangePassword,
    security(("bearer" = []), ("cookie" = [])),
    responses(
        (status = 200, description = "Password changed; every other session revoked; a new access token for this session (its refresh token is kept)", body = TokenResponse),
        (status = 400, description = "Malformed body or new password (`validation`)", body = ApiError),
        (status = 401, description = "`invalid_credentials` (the current password), or `missing_token`, `token_expired`, `invalid_token`", body = ApiError),
        (status = 403, description = "Cross-site request (`csrf`)", body = ApiError),
        (status = 413, description = "Body too large", body = ApiError),
        (status = 415, description = "Not a JSON body", body = ApiError),
        (status = 429, description = "Too many attempts (`rate_limited`, `Retry-After`)", body = ApiError),
        (status = 503, description = "Busy or database unavailable (`unavailable`)", body = ApiError),
    ))]
async fn change_password(
    x: Exchange,
    CurrentUser(caller): CurrentUser,
    ApiJson(body): ApiJson<ChangePassword>,
) -> Result<Response, ApiError> {
    let issued =
        use_cases::change_password(&x, &caller, &body.current_password, &body.new_password).await?;
    Ok(issued_response(issued, StatusCode::OK, Transport::Cookie))
}

#[utoipa::path(post, path = "/auth/email/verify", tag = "auth", request_body = VerifyEmail,
    responses(
        (status = 200, description = "The address is confirmed (again: the link works until it expires)", body = EmailVerified),
        (status = 400, description = "`invalid_link` (unknown, expired or malformed token) or a malformed body (`validation`)", body = ApiError),
        (status = 403, description = "Cross-site request (`csrf`)", body = ApiError),
        (status = 413, description = "Body too large", body = ApiError),
        (status = 415, description = "Not a JSON body", body = ApiError),
        (status = 503, description = "Database unavailable", body = ApiError),
    ))]
async fn verify_email(
    State(auth): State<Auth>,
    ApiJson(body): ApiJson<VerifyEmail>,
) -> Result<Json<EmailVerified>, ApiError> {
    use_cases::verify_email(&auth, &body.token).await?;
    Ok(Json(EmailVerified {
        email_verified: true,
    }))
}

#[utoipa::path(post, path = "/auth/email/resend", tag = "auth",
    security(("bearer" = []), ("cookie" = [])),
    responses(
        (status = 202, description = "A new verification link is on its way (nothing is sent when the address is confirmed)", body = Accepted),
        (status = 401, description = "`missing_token`, `token_expired` or `invalid_token`", body = ApiError),
        (status = 403, description = "Cross-site request (`csrf`)", body = ApiError),
        (status = 429, description = "Too many requests (`rate_limited`, `Retry-After`)", body = ApiError),
        (status = 503, description = "Mail is off, or the database is unavailable (`unavailable`)", body = ApiError),
    ))]
async fn resend_verification(
    x: Exchange,
    CurrentUser(caller): CurrentUser,
) -> Result<Response, ApiError> {
    use_cases::resend_verification(&x, &caller).await?;
    Ok(accepted())
}
