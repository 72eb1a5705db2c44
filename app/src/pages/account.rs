//! Sign-in and registration forms: Leptos `ActionForm`s that post plainly without JavaScript.

use crate::api::{Login, Register};
use leptos::prelude::*;
use leptos_router::{components::A, hooks::use_query_map};
use sessionflow::{ApiError, ErrorCode, User};

/// The error to show beside `field`: from the action (hydrated) or the query string (no JS).
fn field_error(
    value: Option<Result<User, ApiError>>,
    query: (Option<String>, Option<String>),
    field: &'static str,
) -> Option<String> {
    match value {
        Some(Err(e)) if e.field.as_deref() == Some(field) => Some(e.message),
        Some(Err(e)) if field == "form" && e.field.is_none() => Some(e.message),
        Some(_) => None,
        None => {
            let (code, query_field) = query;
            let code: ErrorCode = serde_json::from_value(serde_json::Value::String(code?)).ok()?;
            let query_field = query_field.filter(|f| !f.is_empty());
            match (query_field.as_deref(), field) {
                (Some(f), _) if f == field => Some(code.message().to_owned()),
                (None, "form") => Some(code.message().to_owned()),
                _ => None,
            }
        }
    }
}

/// The fields, errors and messages both forms share; each page wraps them in its `ActionForm`.
#[component]
fn CredentialsFields(
    submit: &'static str,
    pending_label: &'static str,
    autocomplete: &'static str,
    value: Signal<Option<Result<User, ApiError>>>,
    pending: Signal<bool>,
) -> impl IntoView {
    let query = use_query_map();
    let next = move || query.with(|q| q.get("next").unwrap_or_default());
    let from_query = move || query.with(|q| (q.get("error"), q.get("field")));
    let session = sessionflow::session::use_session();
    Effect::new(move |_| {
        if let Some(Ok(user)) = value.get() {
            session.signed_in(user);
        }
    });
    let err = move |field| field_error(value.get(), from_query(), field);
    let session_ended = move || query.with(|q| q.get("reason").as_deref() == Some("session_ended"));
    view! {
        <Show when=session_ended>
            <p class="notice" role="status" data-testid="session-ended">
                "Your session ended. Sign in again to continue."
            </p>
        </Show>
        <input type="hidden" name="next" value=next/>
        <label for="email">"Email"</label>
        <input id="email" name="email" type="email" autocomplete="email" required
            data-testid="email" aria-invalid=move || err("email").is_some().to_string()/>
        {move || err("email").map(|m| view! { <p class="field-error" data-testid="email-error">{m}</p> })}
        <label for="password">"Password"</label>
        <input id="password" name="password" type="password" autocomplete=autocomplete
            required minlength="8" data-testid="password"
            aria-invalid=move || err("password").is_some().to_string()/>
        {move || err("password").map(|m| view! { <p class="field-error" data-testid="password-error">{m}</p> })}
        {move || err("form").map(|m| view! { <p class="field-error" role="alert" data-testid="form-error">{m}</p> })}
        <button type="submit" data-testid="submit" disabled=move || pending.get()>
            {move || if pending.get() { pending_label } else { submit }}
        </button>
    }
}

#[component]
pub fn LoginPage() -> impl IntoView {
    let action = ServerAction::<Login>::new();
    let value = Signal::derive(move || action.value().get());
    let pending = Signal::derive(move || action.pending().get());
    let query = use_query_map();
    // The address must be confirmed first (`REQUIRE_VERIFIED_EMAIL`): offer a new link.
    let unverified = move || match action.value().get() {
        Some(Err(e)) => e.error == ErrorCode::EmailUnverified,
        Some(Ok(_)) => false,
        None => query.with(|q| {
            q.get("error").as_deref() == Some("email_unverified") || q.get("resent").is_some()
        }),
    };
    view! {
        <section class="card narrow">
            <h1>"Sign in"</h1>
            <ActionForm action=action>
                <CredentialsFields submit="Sign in" pending_label="Signing in…"
                    autocomplete="current-password" value pending/>
            </ActionForm>
            <Show when=unverified>
                <super::recovery::ResendUnverifiedForm/>
            </Show>
            <p class="muted">
                <A href="/forgot-password" attr:data-testid="forgot-link">"Forgot your password?"</A>
            </p>
            <p class="muted">"New here? " <A href="/register">"Create an account"</A></p>
        </section>
    }
}

#[component]
pub fn RegisterPage() -> impl IntoView {
    let action = ServerAction::<Register>::new();
    let value = Signal::derive(move || action.value().get());
    let pending = Signal::derive(move || action.pending().get());
    view! {
        <section class="card narrow">
            <h1>"Create an account"</h1>
            <ActionForm action=action>
                <CredentialsFields submit="Create account" pending_label="Creating…"
                    autocomplete="new-password" value pending/>
            </ActionForm>
            <p class="muted">"Already have one? " <A href="/login">"Sign in"</A></p>
        </section>
    }
}
