//! Server functions. Each body is short: who is calling, one service call. An `Err` is answered
//! with its contract status (401, 404, 409…) by the engine's installed error layer.

use crate::model::Note;
use leptos::prelude::*;
use sessionflow::{ApiError, AuthClient, Device, DirectClient, User};

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
pub async fn list_devices() -> Result<Vec<Device>, ApiError> {
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
