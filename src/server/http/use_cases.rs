//! Each use case once: sign in, register, refresh, sign out (here and everywhere), the devices,
//! and account recovery (forgot, reset, change, verify, resend). Both adapters call these — the
//! JSON API (`api.rs`) and what server functions call (`context.rs`) — and do nothing but read
//! their input and shape their answer, so a rule (what a malformed sign-in answers, which
//! cookies a reset sets, what a foreign session id is) lives here and nowhere else.

use crate::server::{
    accounts::wrong_credentials,
    auth::Auth,
    error::RefreshFailure,
    http::{client_ip::Client, cookies::AuthCookies},
    metrics::RefreshPath,
    sessions::{Principal, TokenPair},
};
use crate::{
    error::{ApiError, ErrorCode},
    types::{Device, Email, Password, User},
};
use axum::{
    extract::{FromRef, FromRequestParts},
    http::request::Parts,
};
use serde::Deserialize;
use tower_cookies::Cookies;

/// One request as a use case sees it: the engine, who asks, and the cookie jar of its answer.
/// An extractor for the JSON API; `context` builds it from the request a server function runs
/// in.
pub(crate) struct Exchange {
    pub auth: Auth,
    pub client: Client,
    pub jar: Cookies,
}

impl<S: Send + Sync> FromRequestParts<S> for Exchange
where
    Auth: FromRef<S>,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let auth = Auth::from_ref(state);
        let jar = Cookies::from_request_parts(parts, state)
            .await
            .map_err(|_| ApiError::unavailable())?;
        Ok(Self {
            client: Client::of(&auth, &parts.extensions, &parts.headers),
            jar,
            auth,
        })
    }
}

/// Where a freshly issued pair goes: into cookies (browsers), or only into the answer's body
/// (clients without a cookie jar: `"transport": "body"`).
#[derive(Deserialize, PartialEq, Eq, Clone, Copy, Default, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub(crate) enum Transport {
    #[default]
    Cookie,
    Body,
}

impl Exchange {
    fn deliver(&self, issued: &TokenPair, transport: Transport) {
        if transport == Transport::Cookie {
            AuthCookies::of(&self.auth).set(&self.jar, issued);
        }
    }
}

/// An email and a password, as a sign-in or a registration receives them.
pub(crate) struct Credentials<'a> {
    pub email: &'a str,
    pub password: &'a str,
    pub transport: Transport,
}

/// Signs in. A malformed email or password cannot match an account: the same
/// `invalid_credentials` as a wrong password, whichever it was.
pub(crate) async fn sign_in(x: &Exchange, c: Credentials<'_>) -> Result<TokenPair, ApiError> {
    let (Ok(email), Ok(password)) = (Email::parse(c.email), Password::parse(c.password)) else {
        return Err(wrong_credentials());
    };
    let issued = x.auth.login(email, password, x.client.info()).await?;
    x.deliver(&issued, c.transport);
    Ok(issued)
}

/// Creates an account and signs it in: `validation` beside the field at fault, `conflict` when
/// the email is taken.
pub(crate) async fn register(x: &Exchange, c: Credentials<'_>) -> Result<TokenPair, ApiError> {
    let email = Email::parse(c.email)?;
    let password = Password::parse(c.password)?;
    let issued = x.auth.register(email, password, x.client.info()).await?;
    x.deliver(&issued, c.transport);
    Ok(issued)
}

/// Rotates the presented refresh token (`None`: none presented, which is `Invalid`). A new pair
/// goes into cookies when `write_pair`; a definitive failure clears them; a transient one keeps
/// them. The session layer's refresh before a page and the JSON endpoint both come here.
pub(crate) async fn refresh(
    auth: &Auth,
    jar: &Cookies,
    presented: Option<&str>,
    path: RefreshPath,
    write_pair: bool,
) -> Result<TokenPair, RefreshFailure> {
    let refreshed = match presented {
        Some(token) => auth.refresh(token, path).await,
        None => Err(RefreshFailure::Invalid),
    };
    AuthCookies::of(auth).after_refresh(jar, &refreshed, write_pair);
    refreshed
}

/// Signs out: revokes the session the refresh token belongs to, and the access token's session
/// if that is another one, whether or not either is still valid; clears both cookies.
pub(crate) async fn sign_out(
    auth: &Auth,
    jar: &Cookies,
    presented_refresh: Option<&str>,
    access_session: Option<&str>,
) -> Result<(), ApiError> {
    auth.sign_out(presented_refresh, access_session).await?;
    AuthCookies::of(auth).clear(jar);
    Ok(())
}

/// Signs the caller out everywhere: every session of the user is revoked, this one included.
pub(crate) async fn sign_out_everywhere(
    auth: &Auth,
    jar: &Cookies,
    caller: &Principal,
) -> Result<(), ApiError> {
    auth.revoke_all(&caller.user.id).await?;
    AuthCookies::of(auth).clear(jar);
    Ok(())
}

/// The caller's live sessions, most recently used first, the current one marked.
pub(crate) async fn devices(auth: &Auth, caller: &Principal) -> Result<Vec<Device>, ApiError> {
    Ok(auth.list_sessions(caller).await?)
}

/// Revokes one of the caller's sessions; `not_found` when it is not theirs (or not at all).
pub(crate) async fn revoke_device(
    auth: &Auth,
    caller: &Principal,
    id: &str,
) -> Result<(), ApiError> {
    match auth.revoke_session(&caller.user.id, id).await {
        Ok(true) => Ok(()),
        Ok(false) => Err(ApiError::new(ErrorCode::NotFound, "No such session.")),
        Err(e) => Err(e.into()),
    }
}

/// Forgot-password: the same `Ok` for every well-formed address, whether or not an account has
/// it; the message leaves from the outbox.
pub(crate) async fn forgot_password(x: &Exchange, email: &str) -> Result<(), ApiError> {
    Ok(x.auth.forgot_password(email, x.client.info()).await?)
}

/// Uses a reset link: the new password is set, every other session of the account revoked, and
/// this browser signed in with a new session (cookies set).
pub(crate) async fn reset_password(
    x: &Exchange,
    token: &str,
    password: &str,
) -> Result<TokenPair, ApiError> {
    let password = Password::parse(password)?;
    let issued = x
        .auth
        .reset_password(token, password, x.client.info())
        .await?;
    x.deliver(&issued, Transport::Cookie);
    Ok(issued)
}

/// Changes the caller's password (checked against the current one): every other session is
/// revoked; this one continues with a new access cookie.
pub(crate) async fn change_password(
    x: &Exchange,
    caller: &Principal,
    current: &str,
    new: &str,
) -> Result<TokenPair, ApiError> {
    let new = Password::parse(new).map_err(|e| e.with_field("new_password"))?;
    let issued = x
        .auth
        .change_password(caller, current, new, x.client.info())
        .await?;
    x.deliver(&issued, Transport::Cookie);
    Ok(issued)
}

/// Confirms the address a verification link belongs to (idempotent until it expires).
pub(crate) async fn verify_email(auth: &Auth, token: &str) -> Result<User, ApiError> {
    Ok(auth.verify_email(token).await?)
}

/// Sends the caller a new verification link (nothing when the address is confirmed).
pub(crate) async fn resend_verification(x: &Exchange, caller: &Principal) -> Result<(), ApiError> {
    Ok(x.auth.resend_verification(caller, x.client.info()).await?)
}

/// A new verification link for someone whose sign-in was refused with `email_unverified`: the
/// password proves the account is theirs.
pub(crate) async fn resend_unverified(
    x: &Exchange,
    email: &str,
    password: &str,
) -> Result<(), ApiError> {
    Ok(x.auth
        .resend_unverified(email, password, x.client.info())
        .await?)
}
