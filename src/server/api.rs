//! The JSON API of CONTRACT §6 for the auth endpoints (`/api/auth/*`, `/api/me`).

use super::{
    accounts::Attempter,
    client_ip::ClientIp,
    cookies::{self, REFRESH_COOKIE},
    request::{cookie, unauthorized, CurrentUser},
    sessions::RefreshFailure,
    Auth, Issued,
};
use crate::{
    error::{ApiError, ErrorCode},
    types::{Email, Password, User},
};
use axum::{
    extract::{rejection::JsonRejection, FromRef, FromRequest, Path, Request, State},
    http::{header, HeaderMap, HeaderValue, StatusCode},
    response::{IntoResponse, Response},
    routing::{delete, get, post},
    Json, Router,
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

#[derive(Deserialize)]
struct Credentials {
    email: String,
    password: String,
    #[serde(default)]
    transport: Option<Transport>,
}

#[derive(Deserialize, PartialEq, Eq, Clone, Copy)]
#[serde(rename_all = "lowercase")]
enum Transport {
    Cookie,
    Body,
}

#[derive(Deserialize, Default)]
struct RefreshBody {
    refresh_token: Option<String>,
}

/// The token response of §6.
#[derive(Serialize)]
struct TokenResponse {
    access_token: String,
    token_type: &'static str,
    expires_in: i64,
    user: User,
    #[serde(skip_serializing_if = "Option::is_none")]
    refresh_token: Option<String>,
}

/// The routes, to be nested at the root (`/api/auth/*`, `/api/me`).
pub fn router<S>() -> Router<S>
where
    S: Clone + Send + Sync + 'static,
    Auth: FromRef<S>,
{
    Router::new()
        .route("/api/auth/register", post(register))
        .route("/api/auth/login", post(login))
        .route("/api/auth/refresh", post(refresh))
        .route("/api/auth/logout", post(logout))
        .route("/api/auth/logout-all", post(logout_all))
        .route("/api/auth/sessions", get(sessions))
        .route("/api/auth/sessions/{id}", delete(delete_session))
        .route("/api/me", get(me))
}

fn user_agent(headers: &HeaderMap) -> Option<&str> {
    headers
        .get(header::USER_AGENT)
        .and_then(|v| v.to_str().ok())
}

/// Answers a freshly issued pair: cookies (unless `transport: body`) and the token response.
fn issued_response(
    auth: &Auth,
    jar: &Cookies,
    issued: Issued,
    status: StatusCode,
    transport: Transport,
) -> Response {
    let body_refresh = (transport == Transport::Body).then(|| issued.refresh_token.clone());
    if transport == Transport::Cookie {
        cookies::set_pair(jar, &issued, auth.cookie_secure());
    }
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

async fn register(
    State(auth): State<Auth>,
    jar: Cookies,
    headers: HeaderMap,
    ClientIp(ip): ClientIp,
    ApiJson(c): ApiJson<Credentials>,
) -> Result<Response, ApiError> {
    let email = Email::parse(&c.email)?;
    let password = Password::parse(&c.password)?;
    let who = Attempter {
        ip,
        user_agent: user_agent(&headers),
    };
    let issued = auth.register(email, password, who).await?;
    let transport = c.transport.unwrap_or(Transport::Cookie);
    Ok(issued_response(
        &auth,
        &jar,
        issued,
        StatusCode::CREATED,
        transport,
    ))
}

async fn login(
    State(auth): State<Auth>,
    jar: Cookies,
    headers: HeaderMap,
    ClientIp(ip): ClientIp,
    ApiJson(c): ApiJson<Credentials>,
) -> Result<Response, ApiError> {
    // A malformed email or password cannot match an account: same answer as a wrong password.
    let (Ok(email), Ok(password)) = (Email::parse(&c.email), Password::parse(&c.password)) else {
        return Err(ApiError::new(
            ErrorCode::InvalidCredentials,
            "The email or password is incorrect.",
        ));
    };
    let who = Attempter {
        ip,
        user_agent: user_agent(&headers),
    };
    let issued = auth.login(email, password, who).await?;
    let transport = c.transport.unwrap_or(Transport::Cookie);
    Ok(issued_response(
        &auth,
        &jar,
        issued,
        StatusCode::OK,
        transport,
    ))
}

/// The refresh token from the JSON body (if any) or else the cookie. The body is optional.
fn presented_refresh(headers: &HeaderMap, body: axum::body::Bytes) -> (Option<String>, bool) {
    let from_body = serde_json::from_slice::<RefreshBody>(&body)
        .ok()
        .and_then(|b| b.refresh_token)
        .filter(|t| !t.is_empty());
    match from_body {
        Some(t) => (Some(t), true),
        None => (
            cookie(headers, REFRESH_COOKIE).filter(|t| !t.is_empty()),
            false,
        ),
    }
}

async fn refresh(
    State(auth): State<Auth>,
    jar: Cookies,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Response {
    let (token, via_body) = presented_refresh(&headers, body);
    let Some(token) = token else {
        cookies::clear_pair(&jar, auth.cookie_secure());
        return unauthorized(ErrorCode::InvalidRefreshToken).into_response();
    };
    let transport = if via_body {
        Transport::Body
    } else {
        Transport::Cookie
    };
    match auth.refresh(&token).await {
        Ok(issued) => issued_response(&auth, &jar, issued, StatusCode::OK, transport),
        Err(RefreshFailure::Invalid) => {
            cookies::clear_pair(&jar, auth.cookie_secure());
            unauthorized(ErrorCode::InvalidRefreshToken).into_response()
        }
        Err(RefreshFailure::Unavailable) => ApiError::unavailable().into_response(),
    }
}

async fn logout(
    State(auth): State<Auth>,
    jar: Cookies,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Result<StatusCode, ApiError> {
    let (token, _) = presented_refresh(&headers, body);
    let session = auth.resolve(&headers).await;
    let access_sid = session.principal().map(|p| p.session_id.as_str());
    auth.sign_out(token.as_deref(), access_sid)
        .await
        .map_err(db_error)?;
    cookies::clear_pair(&jar, auth.cookie_secure());
    Ok(StatusCode::NO_CONTENT)
}

async fn logout_all(
    State(auth): State<Auth>,
    jar: Cookies,
    CurrentUser(who): CurrentUser,
) -> Result<StatusCode, ApiError> {
    auth.revoke_all(&who.user.id).await.map_err(db_error)?;
    cookies::clear_pair(&jar, auth.cookie_secure());
    Ok(StatusCode::NO_CONTENT)
}

async fn sessions(
    State(auth): State<Auth>,
    CurrentUser(who): CurrentUser,
) -> Result<Response, ApiError> {
    Ok(Json(auth.list_sessions(&who).await.map_err(db_error)?).into_response())
}

async fn delete_session(
    State(auth): State<Auth>,
    CurrentUser(who): CurrentUser,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    if auth
        .revoke_session(&who.user.id, &id)
        .await
        .map_err(db_error)?
    {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(ApiError::new(ErrorCode::NotFound, "No such session."))
    }
}

async fn me(CurrentUser(who): CurrentUser) -> Json<User> {
    Json(who.user)
}

/// Logs a database failure and answers 503 `unavailable`.
pub fn db_error(e: sqlx::Error) -> ApiError {
    tracing::error!(error = %e, "database error");
    ApiError::unavailable()
}
