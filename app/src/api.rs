//! Server functions. Each body is short: who is calling, one service call, errors mapped to the
//! contract's codes with the right status (`context::fail`).

use crate::model::Note;
use leptos::prelude::*;
use sessionflow::{ApiError, AuthClient, DirectClient, SessionInfo, User};

#[cfg(feature = "ssr")]
use sessionflow::server::context::{self, fail};

/// The signed-in user, or `None` when the request carried no credentials.
#[server(client = AuthClient)]
pub async fn current_user() -> Result<Option<User>, ApiError> {
    Ok(context::maybe_user()?.map(|p| p.user))
}

/// Where a sign-in goes: the local `next`, or the notes page.
#[cfg(feature = "ssr")]
fn landing(next: &str) -> String {
    match sessionflow::types::safe_next(Some(next)) {
        p if p == "/" => "/notes".to_owned(),
        p => p,
    }
}

/// A failed form: with JavaScript off, back to the form with the error in the query string.
#[cfg(feature = "ssr")]
fn form_error(form: &str, next: &str, e: ApiError) -> ApiError {
    let q = |s: &str| -> String { form_urlencoded::byte_serialize(s.as_bytes()).collect() };
    let back = format!(
        "{form}?error={}&field={}&next={}",
        e.error,
        q(e.field.as_deref().unwrap_or("")),
        q(next)
    );
    // A plain form post gets the error in the redirect; the hydrated app gets the status.
    if context::redirect_plain_form(&back) {
        e
    } else {
        fail(e)
    }
}

/// After a sign-in or registration: cookies and a redirect to `next`, or the error back to `form`.
#[cfg(feature = "ssr")]
fn signed_in(
    auth: &sessionflow::server::Auth,
    result: Result<sessionflow::server::Issued, ApiError>,
    form: &str,
    next: &str,
) -> Result<User, ApiError> {
    match result {
        Ok(issued) => {
            context::set_session_cookies(auth, &issued)?;
            leptos_axum::redirect(&landing(next));
            Ok(issued.user)
        }
        Err(e) => Err(form_error(form, next, e)),
    }
}

/// A database failure: logged, answered 503 `unavailable`.
#[cfg(feature = "ssr")]
fn db_fail(e: sqlx::Error) -> ApiError {
    fail(sessionflow::server::api::db_error(e))
}

#[cfg(feature = "ssr")]
fn user_agent() -> Option<String> {
    context::header_value(http::header::USER_AGENT)
}

/// The client address and user agent of a sign-in or registration.
#[cfg(feature = "ssr")]
fn attempter(
    user_agent: &Option<String>,
) -> Result<sessionflow::server::accounts::Attempter<'_>, ApiError> {
    Ok(sessionflow::server::accounts::Attempter {
        ip: context::attempter_ip()?,
        user_agent: user_agent.as_deref(),
    })
}

/// Signing in never goes through the hook (a 401 here is a wrong password, not an expired
/// session): the per-call opt-out.
#[server(client = DirectClient)]
pub async fn login(email: String, password: String, next: String) -> Result<User, ApiError> {
    let auth = context::auth()?;
    let attempt = async {
        let email = sessionflow::Email::parse(&email)?;
        let password = sessionflow::Password::parse(&password).map_err(|_| {
            ApiError::new(
                sessionflow::ErrorCode::InvalidCredentials,
                "The email or password is incorrect.",
            )
        })?;
        let ua = user_agent();
        auth.login(email, password, attempter(&ua)?).await
    };
    signed_in(&auth, attempt.await, "/login", &next)
}

#[server(client = DirectClient)]
pub async fn register(email: String, password: String, next: String) -> Result<User, ApiError> {
    let auth = context::auth()?;
    let attempt = async {
        let email = sessionflow::Email::parse(&email)?;
        let password = sessionflow::Password::parse(&password)?;
        let ua = user_agent();
        auth.register(email, password, attempter(&ua)?).await
    };
    signed_in(&auth, attempt.await, "/register", &next)
}

/// Signs out this device: the session its refresh cookie belongs to is revoked (with or without
/// a live access cookie) and the cookies cleared.
#[server(client = AuthClient)]
pub async fn logout() -> Result<(), ApiError> {
    context::sign_out().await?;
    leptos_axum::redirect("/");
    Ok(())
}

#[server(client = AuthClient)]
pub async fn list_notes() -> Result<Vec<Note>, ApiError> {
    let who = context::require_user()?;
    crate::notes::list(context::auth()?.db(), &who.user.id)
        .await
        .map_err(fail)
}

/// Creates a note once per `Idempotency-Key` (the browser layer sends one per logical call and
/// keeps it across the retry).
#[server(client = AuthClient)]
pub async fn create_note(title: String, body: String) -> Result<Note, ApiError> {
    let who = context::require_user()?;
    let key = context::header_value(http::HeaderName::from_static("idempotency-key"));
    let db = context::auth()?;
    crate::notes::create(db.db(), &who.user.id, &title, &body, key.as_deref())
        .await
        .map_err(fail)
}

/// The user's notes as plain text, streamed a note at a time (the notes page's export). A
/// streaming call goes through the request layer like any other: a 401 before the first chunk is
/// refreshed and retried.
#[server(output = server_fn::codec::StreamingText, client = AuthClient)]
pub async fn export_notes() -> Result<server_fn::codec::TextStream<ApiError>, ApiError> {
    let who = context::require_user()?;
    let notes = crate::notes::list(context::auth()?.db(), &who.user.id)
        .await
        .map_err(fail)?;
    let chunks = notes
        .into_iter()
        .map(|n| Ok(format!("# {}\n{}\n\n", n.title, n.body)));
    Ok(server_fn::codec::TextStream::new(futures::stream::iter(
        chunks,
    )))
}

#[server(client = AuthClient)]
pub async fn update_note(id: String, title: String, body: String) -> Result<(), ApiError> {
    let who = context::require_user()?;
    crate::notes::update(context::auth()?.db(), &who.user.id, &id, &title, &body)
        .await
        .map_err(fail)
}

#[server(client = AuthClient)]
pub async fn delete_note(id: String) -> Result<(), ApiError> {
    let who = context::require_user()?;
    crate::notes::delete(context::auth()?.db(), &who.user.id, &id)
        .await
        .map_err(fail)
}

#[server(client = AuthClient)]
pub async fn list_devices() -> Result<Vec<SessionInfo>, ApiError> {
    let who = context::require_user()?;
    let auth = context::auth()?;
    auth.list_sessions(&who).await.map_err(db_fail)
}

/// Revokes one of the user's sessions (`not_found` if it is not theirs).
#[server(client = AuthClient)]
pub async fn revoke_device(id: String) -> Result<(), ApiError> {
    let who = context::require_user()?;
    let auth = context::auth()?;
    match auth.revoke_session(&who.user.id, &id).await {
        Ok(true) => Ok(()),
        Ok(false) => Err(fail(ApiError::not_found())),
        Err(e) => Err(db_fail(e)),
    }
}

/// Signs out everywhere: every session of the user is revoked, this one included.
#[server(client = AuthClient)]
pub async fn logout_everywhere() -> Result<(), ApiError> {
    let who = context::require_user()?;
    let auth = context::auth()?;
    auth.revoke_all(&who.user.id).await.map_err(db_fail)?;
    context::clear_session_cookies(&auth)?;
    leptos_axum::redirect("/login");
    Ok(())
}
