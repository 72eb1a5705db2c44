//! Server functions. Each body is short: who is calling, one service call. An `Err` is answered
//! with its contract status (401, 404, 409…) by the engine's installed error layer.

use crate::model::Note;
use leptos::prelude::*;
use sessionflow::{ApiError, AuthClient, DirectClient, SessionInfo, User};

#[cfg(feature = "ssr")]
use sessionflow::server::context;

/// The app's database pool, provided to every request's Leptos context by the server.
#[cfg(feature = "ssr")]
fn db() -> Result<sqlx::AnyPool, ApiError> {
    use_context::<sqlx::AnyPool>().ok_or_else(|| {
        tracing::error!("the database pool is not in the Leptos context");
        ApiError::unavailable()
    })
}

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

/// After a sign-in or registration: a redirect to `next`, or, for a failed plain form post
/// (JavaScript off), back to the form with the error in the query string.
#[cfg(feature = "ssr")]
fn after_sign_in(result: Result<User, ApiError>, form: &str, next: &str) -> Result<User, ApiError> {
    match result {
        Ok(user) => {
            leptos_axum::redirect(&landing(next));
            Ok(user)
        }
        Err(e) => {
            let q = |s: &str| -> String { form_urlencoded::byte_serialize(s.as_bytes()).collect() };
            let back = format!(
                "{form}?error={}&field={}&next={}",
                e.error,
                q(e.field.as_deref().unwrap_or("")),
                q(next)
            );
            context::redirect_plain_form(&back);
            Err(e)
        }
    }
}

/// Signing in never goes through the hook (a 401 here is a wrong password, not an expired
/// session): the per-call opt-out.
#[server(client = DirectClient)]
pub async fn login(email: String, password: String, next: String) -> Result<User, ApiError> {
    after_sign_in(context::sign_in(&email, &password).await, "/login", &next)
}

#[server(client = DirectClient)]
pub async fn register(email: String, password: String, next: String) -> Result<User, ApiError> {
    after_sign_in(
        context::register(&email, &password).await,
        "/register",
        &next,
    )
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
    Ok(crate::notes::list(&db()?, &who.user.id).await?)
}

/// Creates a note. A re-sent call (same `Idempotency-Key`, which the browser layer keeps across
/// the retry) is answered by the engine with the first call's answer; the key is also kept in
/// the note's row, so even a crash between the two cannot duplicate it.
#[server(client = AuthClient)]
pub async fn create_note(title: String, body: String) -> Result<Note, ApiError> {
    let who = context::require_user()?;
    let key = context::header_value(http::HeaderName::from_static("idempotency-key"));
    Ok(crate::notes::create(&db()?, &who.user.id, &title, &body, key.as_deref()).await?)
}

/// The user's notes as plain text, streamed a note at a time (the notes page's export). A
/// streaming call goes through the request layer like any other: a 401 before the first chunk is
/// refreshed and retried.
#[server(output = server_fn::codec::StreamingText, client = AuthClient)]
pub async fn export_notes() -> Result<server_fn::codec::TextStream<ApiError>, ApiError> {
    let who = context::require_user()?;
    let notes = crate::notes::list(&db()?, &who.user.id).await?;
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
    Ok(crate::notes::update(&db()?, &who.user.id, &id, &title, &body).await?)
}

#[server(client = AuthClient)]
pub async fn delete_note(id: String) -> Result<(), ApiError> {
    let who = context::require_user()?;
    Ok(crate::notes::delete(&db()?, &who.user.id, &id).await?)
}

#[server(client = AuthClient)]
pub async fn list_devices() -> Result<Vec<SessionInfo>, ApiError> {
    context::devices().await
}

/// How many devices the user is signed in on (the notes page shows the number), up to
/// [`DEVICE_COUNT_CAP`].
#[server(client = AuthClient)]
pub async fn count_devices() -> Result<u64, ApiError> {
    context::device_count(DEVICE_COUNT_CAP).await
}

/// The most devices the notes page counts ("100+" beyond).
pub const DEVICE_COUNT_CAP: u32 = 100;

/// Revokes one of the user's sessions (`not_found` if it is not theirs).
#[server(client = AuthClient)]
pub async fn revoke_device(id: String) -> Result<(), ApiError> {
    context::revoke_device(&id).await
}

/// Signs out everywhere: every session of the user is revoked, this one included.
#[server(client = AuthClient)]
pub async fn logout_everywhere() -> Result<(), ApiError> {
    context::sign_out_everywhere().await?;
    leptos_axum::redirect("/login");
    Ok(())
}

/// For a failed plain form post (JavaScript off): back to `page` with the error in the query
/// string (`extra` keeps what the page needs, e.g. the link's token).
#[cfg(feature = "ssr")]
fn plain_form_failed(page: &str, extra: &[(&str, &str)], e: &ApiError) {
    let mut query = form_urlencoded::Serializer::new(String::new());
    for (k, v) in extra {
        query.append_pair(k, v);
    }
    query.append_pair("error", e.error.as_str());
    query.append_pair("field", e.field.as_deref().unwrap_or(""));
    context::redirect_plain_form(&format!("{page}?{}", query.finish()));
}

/// For a plain form post that worked: on to `to`.
#[cfg(feature = "ssr")]
fn plain_form_done<T>(
    result: Result<T, ApiError>,
    page: &str,
    extra: &[(&str, &str)],
    to: &str,
) -> Result<T, ApiError> {
    match &result {
        Ok(_) => {
            context::redirect_plain_form(to);
        }
        Err(e) => plain_form_failed(page, extra, e),
    }
    result
}

/// Whether mail leaves this server (pages say when reset by email is not available).
#[server(client = AuthClient)]
pub async fn mail_enabled() -> Result<bool, ApiError> {
    context::mail_enabled()
}

/// Asks for a reset link: the same answer for every address.
#[server(client = AuthClient)]
pub async fn forgot_password(email: String) -> Result<(), ApiError> {
    plain_form_done(
        context::forgot_password(&email).await,
        "/forgot-password",
        &[],
        "/forgot-password?sent=1",
    )
}

/// Whether a reset link can still be used; reading it never uses it.
#[server(client = AuthClient)]
pub async fn reset_link_usable(token: String) -> Result<bool, ApiError> {
    context::reset_link_usable(&token).await
}

/// Uses a reset link: sets the password and signs this browser in with a new session. Like
/// sign-in, it never goes through the hook (a 401 here is not an expired session).
#[server(client = DirectClient)]
pub async fn reset_password(token: String, password: String) -> Result<User, ApiError> {
    // Signed in: on to the notes, as after a sign-in (hydrated or not).
    let result = context::reset_password(&token, &password).await;
    match &result {
        Ok(_) => leptos_axum::redirect("/notes"),
        Err(e) => plain_form_failed("/reset-password", &[("token", &token)], e),
    }
    result
}

/// Changes the password (the current one is checked); every other device is signed out.
#[server(client = AuthClient)]
pub async fn change_password(
    current_password: String,
    new_password: String,
) -> Result<User, ApiError> {
    plain_form_done(
        context::change_password(&current_password, &new_password).await,
        "/account",
        &[],
        "/account?changed=1",
    )
}

/// Confirms the address a verification link belongs to (the `/verify-email` page does this
/// when opened: confirming twice harms nothing).
#[server(client = AuthClient)]
pub async fn verify_email(token: String) -> Result<User, ApiError> {
    context::verify_email(&token).await
}

/// Sends the signed-in user a new verification link.
#[server(client = AuthClient)]
pub async fn resend_verification() -> Result<(), ApiError> {
    let result = context::resend_verification().await;
    let back = context::header_value(http::header::REFERER)
        .and_then(|r| {
            r.split_once("://")
                .and_then(|(_, rest)| rest.find('/').map(|i| rest[i..].to_owned()))
        })
        .map(|p| sessionflow::types::safe_next(Some(p.split('?').next().unwrap_or("/"))))
        .unwrap_or_else(|| "/".into());
    plain_form_done(result, &back, &[], &format!("{back}?resent=1"))
}

/// A new verification link for someone refused sign-in because the address is unconfirmed.
#[server(client = DirectClient)]
pub async fn resend_unverified(email: String, password: String) -> Result<(), ApiError> {
    plain_form_done(
        context::resend_unverified(&email, &password).await,
        "/login",
        &[],
        "/login?resent=1",
    )
}
