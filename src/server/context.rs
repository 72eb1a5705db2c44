//! Helpers for server functions: the caller, the engine and the cookie jar of the current request,
//! taken from the request extensions that the session layer filled (never from a global).

use super::{cookies, request::RequestSession, Auth, Issued, Principal};
use crate::error::ApiError;
use axum::http::{header, request::Parts, HeaderValue, StatusCode};
use leptos::prelude::use_context;
use leptos_axum::ResponseOptions;
use std::sync::Arc;
use tower_cookies::Cookies;

fn parts() -> Result<Parts, ApiError> {
    use_context::<Parts>().ok_or_else(|| {
        tracing::error!("server function called outside a request");
        ApiError::unavailable()
    })
}

/// Sets the response status (and `WWW-Authenticate` for 401) for an error, so that a failed
/// server function answers 401/400/409… rather than 500, and returns the error.
pub fn fail(e: ApiError) -> ApiError {
    if let Some(res) = use_context::<ResponseOptions>() {
        let status = StatusCode::from_u16(e.status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        res.set_status(status);
        if status == StatusCode::UNAUTHORIZED {
            res.insert_header(header::WWW_AUTHENTICATE, super::request::www_authenticate());
        }
        if let Some(secs) = e.retry_after {
            res.insert_header(header::RETRY_AFTER, HeaderValue::from(secs));
        }
    }
    e
}

/// The engine, as placed in the request by the session layer.
pub fn auth() -> Result<Auth, ApiError> {
    parts()?.extensions.get::<Auth>().cloned().ok_or_else(|| {
        tracing::error!("the session layer is not installed in front of this route");
        fail(ApiError::unavailable())
    })
}

fn session() -> Result<Arc<RequestSession>, ApiError> {
    parts()?
        .extensions
        .get::<Arc<RequestSession>>()
        .cloned()
        .ok_or_else(|| {
            tracing::error!("the session layer is not installed in front of this route");
            fail(ApiError::unavailable())
        })
}

/// The signed-in caller, or the 401 (`token_expired`, `missing_token`, `invalid_token`).
pub fn require_user() -> Result<Principal, ApiError> {
    session()?.require().cloned().map_err(fail)
}

/// The caller if signed in; `None` when the request carried no credentials at all.
pub fn maybe_user() -> Result<Option<Principal>, ApiError> {
    session()?.maybe().map(|p| p.cloned()).map_err(fail)
}

/// A request header of the current request.
pub fn header_value(name: header::HeaderName) -> Option<String> {
    parts()
        .ok()?
        .headers
        .get(name)?
        .to_str()
        .ok()
        .map(str::to_owned)
}

fn jar() -> Result<Cookies, ApiError> {
    parts()?
        .extensions
        .get::<Cookies>()
        .cloned()
        .ok_or_else(|| {
            tracing::error!("CookieManagerLayer is not installed");
            fail(ApiError::unavailable())
        })
}

/// Who is signing in or registering: the client address (per the engine's proxy settings) and
/// the user agent of the current request.
pub fn attempter_ip() -> Result<std::net::IpAddr, ApiError> {
    let auth = auth()?;
    let parts = parts()?;
    Ok(super::client_ip::client_ip(
        &auth.settings().client_ip,
        super::client_ip::peer(&parts.extensions),
        &parts.headers,
    ))
}

/// Signs the caller out (CONTRACT §6): revokes the session the refresh cookie belongs to (and the
/// access token's, if another), whether or not the access cookie is still there, and clears both
/// cookies.
pub async fn sign_out() -> Result<(), ApiError> {
    let auth = auth()?;
    let refresh = super::request::cookie(&parts()?.headers, cookies::REFRESH_COOKIE);
    let access_sid = session()?.principal().map(|p| p.session_id.clone());
    auth.sign_out(refresh.as_deref(), access_sid.as_deref())
        .await
        .map_err(|e| fail(super::api::db_error(e)))?;
    clear_session_cookies(&auth)
}

/// Writes both auth cookies for a freshly issued pair.
pub fn set_session_cookies(auth: &Auth, issued: &Issued) -> Result<(), ApiError> {
    cookies::set_pair(&jar()?, issued, auth.cookie_secure());
    Ok(())
}

/// Clears both auth cookies.
pub fn clear_session_cookies(auth: &Auth) -> Result<(), ApiError> {
    cookies::clear_pair(&jar()?, auth.cookie_secure());
    Ok(())
}

/// Whether the current request is a plain HTML form post (JavaScript off), which is answered with
/// a redirect rather than data.
pub fn is_plain_form_post() -> bool {
    header_value(header::ACCEPT).is_some_and(|a| a.contains("text/html"))
}

/// Answers a plain form post with 303 to `to`; does nothing for a call from the hydrated app,
/// which handles the result itself. Returns whether it redirected.
pub fn redirect_plain_form(to: &str) -> bool {
    if !is_plain_form_post() {
        return false;
    }
    if let (Ok(v), Some(res)) = (HeaderValue::from_str(to), use_context::<ResponseOptions>()) {
        res.set_status(StatusCode::SEE_OTHER);
        res.insert_header(header::LOCATION, v);
    }
    true
}
