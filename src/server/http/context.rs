//! What server functions call: the caller, sign-in, registration, sign-out and devices, for the
//! current request. Everything comes from the request the session layer prepared (never from a
//! global). An `Err` a server function returns is answered with its contract status
//! (401, 409, 429…) by the layer [`Auth::install`] puts around the app.
//!
//! ```no_run
//! use leptos::prelude::*;
//! use sessionflow::{server::context, ApiError, User};
//!
//! #[server(client = sessionflow::AuthClient)]
//! pub async fn whoami() -> Result<User, ApiError> {
//!     Ok(context::require_user()?.user)
//! }
//!
//! #[server(client = sessionflow::DirectClient)]
//! pub async fn sign_in(email: String, password: String) -> Result<User, ApiError> {
//!     context::sign_in(&email, &password).await
//! }
//! ```

use crate::server::{
    auth::Auth,
    http::{
        client_ip::Client,
        cookies::AuthCookies,
        request::Caller,
        use_cases::{self, Credentials, Exchange, Transport},
    },
    sessions::Principal,
};
use crate::{
    error::ApiError,
    types::{Device, User},
};
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

fn not_installed() -> ApiError {
    tracing::error!("Auth::install was not applied to this route");
    ApiError::unavailable()
}

/// The engine, as placed in the request by the session layer.
pub fn auth() -> Result<Auth, ApiError> {
    parts()?
        .extensions
        .get::<Auth>()
        .cloned()
        .ok_or_else(not_installed)
}

fn session() -> Result<Arc<Caller>, ApiError> {
    parts()?
        .extensions
        .get::<Arc<Caller>>()
        .cloned()
        .ok_or_else(not_installed)
}

fn jar() -> Result<Cookies, ApiError> {
    parts()?
        .extensions
        .get::<Cookies>()
        .cloned()
        .ok_or_else(not_installed)
}

/// The signed-in caller, or the 401 (`token_expired`, `missing_token`, `invalid_token`) that
/// makes the browser layer refresh and retry.
pub fn require_user() -> Result<Principal, ApiError> {
    session()?.require().cloned()
}

/// The caller if signed in; `None` when the request carried no credentials at all (credentials
/// that no longer work still fail, so the browser refreshes).
pub fn maybe_user() -> Result<Option<Principal>, ApiError> {
    session()?.maybe().map(|p| p.cloned())
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

/// The current request as the use cases see it.
fn exchange() -> Result<Exchange, ApiError> {
    let auth = auth()?;
    let parts = parts()?;
    Ok(Exchange {
        client: Client::of(&auth, &parts.extensions, &parts.headers),
        jar: jar()?,
        auth,
    })
}

fn credentials<'a>(email: &'a str, password: &'a str) -> Credentials<'a> {
    Credentials {
        email,
        password,
        transport: Transport::Cookie,
    }
}

/// Signs in with an email and a password: the session's cookies are set on the response.
/// `invalid_credentials` for anything that does not match (a malformed email or password
/// included), `rate_limited` or `unavailable` (with `Retry-After`) under pressure.
pub async fn sign_in(email: &str, password: &str) -> Result<User, ApiError> {
    let issued = use_cases::sign_in(&exchange()?, credentials(email, password)).await?;
    Ok(issued.user)
}

/// Creates an account and signs it in (cookies set). `validation` beside the field at fault,
/// `conflict` when the email is taken.
pub async fn register(email: &str, password: &str) -> Result<User, ApiError> {
    let issued = use_cases::register(&exchange()?, credentials(email, password)).await?;
    Ok(issued.user)
}

/// Signs the caller out (docs/protocol.md, "Sign-out"): revokes the session the refresh cookie
/// belongs to (and the access token's, if another), whether or not the access cookie is still
/// there, and clears both cookies.
pub async fn sign_out() -> Result<(), ApiError> {
    let auth = auth()?;
    let refresh = AuthCookies::of(&auth).refresh_in(&parts()?.headers);
    let access_sid = session()?.principal().map(|p| p.session_id.clone());
    use_cases::sign_out(&auth, &jar()?, refresh.as_deref(), access_sid.as_deref()).await
}

/// Signs the caller out everywhere: every session of the user is revoked, this one included.
pub async fn sign_out_everywhere() -> Result<(), ApiError> {
    let caller = require_user()?;
    use_cases::sign_out_everywhere(&auth()?, &jar()?, &caller).await
}

/// The caller's live sessions (devices), most recently used first, the current one marked.
pub async fn devices() -> Result<Vec<Device>, ApiError> {
    let caller = require_user()?;
    use_cases::devices(&auth()?, &caller).await
}

/// How many devices the caller is signed in on, counting at most `cap`.
pub async fn device_count(cap: u32) -> Result<u64, ApiError> {
    let who = require_user()?;
    Ok(auth()?.count_sessions(&who.user.id, cap).await?)
}

/// Revokes one of the caller's sessions; `not_found` when it is not theirs.
pub async fn revoke_device(id: &str) -> Result<(), ApiError> {
    let caller = require_user()?;
    use_cases::revoke_device(&auth()?, &caller, id).await
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

/// Whether messages leave at all: without mail, pages say that reset by email is not
/// available (and hide the address-confirmation notice).
pub fn mail_enabled() -> Result<bool, ApiError> {
    Ok(auth()?.mail_enabled())
}

/// Forgot-password: the same `Ok` for every well-formed address, whether or not an account has
/// it; the message leaves from the outbox.
pub async fn forgot_password(email: &str) -> Result<(), ApiError> {
    use_cases::forgot_password(&exchange()?, email).await
}

/// Whether a reset link can still be used (the page offers a new one when not). Reading it
/// never uses it.
pub async fn reset_link_usable(token: &str) -> Result<bool, ApiError> {
    Ok(auth()?.reset_link_usable(token).await?)
}

/// Uses a reset link: the new password is set, every other session of the account revoked, and
/// this browser signed in with a new session (cookies set), through the sign-in path.
pub async fn reset_password(token: &str, password: &str) -> Result<User, ApiError> {
    let issued = use_cases::reset_password(&exchange()?, token, password).await?;
    Ok(issued.user)
}

/// Changes the caller's password (checked against the current one): every other session is
/// revoked; this one continues (a new access cookie).
pub async fn change_password(current: &str, new: &str) -> Result<User, ApiError> {
    let caller = require_user()?;
    let issued = use_cases::change_password(&exchange()?, &caller, current, new).await?;
    Ok(issued.user)
}

/// Confirms the address a verification link belongs to (idempotent until it expires).
pub async fn verify_email(token: &str) -> Result<User, ApiError> {
    use_cases::verify_email(&auth()?, token).await
}

/// Sends the caller a new verification link.
pub async fn resend_verification() -> Result<(), ApiError> {
    let caller = require_user()?;
    use_cases::resend_verification(&exchange()?, &caller).await
}

/// A new verification link for someone whose sign-in was refused with `email_unverified`: the
/// password proves the account is theirs.
pub async fn resend_unverified(email: &str, password: &str) -> Result<(), ApiError> {
    use_cases::resend_unverified(&exchange()?, email, password).await
}

/// The page a reset link opens (`AuthConfig::recovery_pages`).
pub fn reset_page() -> Result<String, ApiError> {
    Ok(auth()?.config().recovery.reset_page.clone())
}

/// The local path of the page a plain form was posted from (its `Referer`), if any.
fn referring_path() -> Option<String> {
    let referer = header_value(header::REFERER)?;
    let (_, rest) = referer.split_once("://")?;
    let path = &rest[rest.find('/')?..];
    let path = path.split(['?', '#']).next().unwrap_or("/");
    Some(crate::types::safe_next(Some(path)))
}

/// Answers a plain form post (JavaScript off) with a redirect back to its page: `page`, or the
/// page it was posted from, or the sign-in page. After a success the query is `ok`; after a
/// failure it is `keep` plus `error=<code>&field=<field>`, for the page to show. Does nothing
/// for a call from the hydrated app, which reads the result itself.
pub fn plain_form_outcome<T>(
    result: &Result<T, ApiError>,
    page: Option<&str>,
    ok: &[(&str, &str)],
    keep: &[(&str, &str)],
) {
    if !is_plain_form_post() {
        return;
    }
    let page = page
        .map(str::to_owned)
        .or_else(referring_path)
        .or_else(|| auth().ok().map(|a| a.config().login_path().to_owned()))
        .unwrap_or_else(|| "/".into());
    let mut query = form_urlencoded::Serializer::new(String::new());
    match result {
        Ok(_) => {
            for (k, v) in ok {
                query.append_pair(k, v);
            }
        }
        Err(e) => {
            for (k, v) in keep {
                query.append_pair(k, v);
            }
            query.append_pair("error", e.error.as_str());
            query.append_pair("field", e.field.as_deref().unwrap_or(""));
        }
    }
    redirect_plain_form(&format!("{page}?{}", query.finish()));
}
