//! Account recovery: `/forgot-password`, `/reset-password`, `/verify-email`, and `/account`
//! (change the password). Every form is an `ActionForm`: a plain form post before hydration (the
//! server answers with a redirect that carries the outcome in the query string), a call
//! through the request layer after it.

use leptos::prelude::*;
use leptos_router::{components::A, hooks::use_query_map, params::ParamsMap};
use sessionflow::{
    recovery::{
        mail_enabled, reset_link_usable, verify_email, ChangePassword, ForgotPassword,
        ResendUnverified, ResetPassword,
    },
    session::use_session,
    ApiError, ErrorCode,
};

/// A form's failure: from its action (hydrated) or from the query string (plain post).
fn failure<T>(
    value: Option<Result<T, ApiError>>,
    query: &ParamsMap,
) -> Option<(ErrorCode, String)> {
    match value {
        Some(Err(e)) => Some((e.error, e.message)),
        Some(Ok(_)) => None,
        None => {
            let raw = query.get("error")?;
            let code: ErrorCode = serde_json::from_value(serde_json::Value::String(raw)).ok()?;
            Some((code, code.message().to_owned()))
        }
    }
}

/// A failure under a form.
fn failure_view(failure: Option<(ErrorCode, String)>) -> impl IntoView {
    failure.map(|(code, message)| {
        view! {
            <p class="field-error" role="alert" data-testid="form-error" data-code=code.as_str()>
                {message}
            </p>
        }
    })
}

/// What a link page shows when its link cannot be used.
#[component]
fn InvalidLink(#[prop(into)] ask_again: String) -> impl IntoView {
    view! {
        <div class="notice error" role="alert" data-testid="invalid-link">
            <p>{ErrorCode::InvalidLink.message()}</p>
            <A href=ask_again>"Send me a new link"</A>
        </div>
    }
}

#[component]
pub fn ForgotPasswordPage() -> impl IntoView {
    let action = ServerAction::<ForgotPassword>::new();
    let query = use_query_map();
    let mail = Resource::new(|| (), |_| mail_enabled());
    let sent = move || {
        matches!(action.value().get(), Some(Ok(()))) || query.with(|q| q.get("sent").is_some())
    };
    let error = move || query.with(|q| failure(action.value().get(), q));
    let pending = action.pending();
    view! {
        <section class="card narrow">
            <h1>"Forgot your password?"</h1>
            <Suspense fallback=|| view! { <p class="muted">"…"</p> }>
                {move || Suspend::new(async move {
                    if let Ok(false) = mail.await {
                        return view! {
                            <p class="notice" data-testid="mail-off">
                                "Password reset by email is not available on this server. "
                                "Ask its operator to reset your password."
                            </p>
                        }
                        .into_any();
                    }
                    view! {
                        <Show
                            when=sent
                            fallback=move || {
                                view! {
                                    <p class="muted">
                                        "Enter your address: we will send a link to choose a new password."
                                    </p>
                                    <ActionForm action=action>
                                        <label for="email">"Email"</label>
                                        <input id="email" name="email" type="email" autocomplete="email"
                                            required data-testid="email"/>
                                        {move || failure_view(error())}
                                        <button type="submit" data-testid="submit" disabled=move || pending.get()>
                                            "Send the link"
                                        </button>
                                    </ActionForm>
                                }
                            }
                        >
                            <p class="notice" role="status" data-testid="reset-sent">
                                "If an account has this address, a link to choose a new password is "
                                "on its way. It works once, for a limited time, from any browser."
                            </p>
                        </Show>
                    }
                    .into_any()
                })}
            </Suspense>
            <p class="muted"><A href="/login">"Back to sign in"</A></p>
        </section>
    }
}

#[component]
pub fn ResetPasswordPage() -> impl IntoView {
    let query = use_query_map();
    let token = move || query.with(|q| q.get("token").unwrap_or_default());
    // Reading whether the link is usable never uses it (mail scanners open links).
    let usable = Resource::new(token, reset_link_usable);
    let action = ServerAction::<ResetPassword>::new();
    let session = use_session();
    Effect::new(move |_| {
        if let Some(Ok(user)) = action.value().get() {
            session.signed_in(user);
        }
    });
    let error = move || query.with(|q| failure(action.value().get(), q));
    let spent = move || matches!(error(), Some((ErrorCode::InvalidLink, _)));
    let pending = action.pending();
    view! {
        <section class="card narrow">
            <h1>"Choose a new password"</h1>
            <Suspense fallback=|| view! { <p class="muted">"…"</p> }>
                {move || Suspend::new(async move {
                    let usable = matches!(usable.await, Ok(true));
                    view! {
                        <Show when=move || usable && !spent() fallback=|| view! { <InvalidLink ask_again="/forgot-password"/> }>
                            <ActionForm action=action>
                                <input type="hidden" name="token" value=token/>
                                <input type="hidden" name="next" value="/notes"/>
                                <label for="password">"New password"</label>
                                <input id="password" name="password" type="password"
                                    autocomplete="new-password" required minlength="8"
                                    data-testid="password"/>
                                {move || failure_view(error())}
                                <button type="submit" data-testid="submit" disabled=move || pending.get()>
                                    "Set the password and sign in"
                                </button>
                            </ActionForm>
                            <p class="muted small">
                                "Every device signed in to this account will be signed out."
                            </p>
                        </Show>
                    }
                })}
            </Suspense>
        </section>
    }
}

#[component]
pub fn VerifyEmailPage() -> impl IntoView {
    let query = use_query_map();
    let token = move || query.with(|q| q.get("token").unwrap_or_default());
    // Opening the link confirms the address: idempotent, so a scanner's visit harms nothing.
    let verified = Resource::new(token, verify_email);
    let session = use_session();
    // This tab and every other tab of the same user learn that the address is confirmed.
    Effect::new(move |_| {
        if let (Some(Ok(confirmed)), Some(current)) = (verified.get(), session.user.get()) {
            if current.id == confirmed.id && !current.email_verified {
                session.signed_in(confirmed);
            }
        }
    });
    view! {
        <section class="card narrow">
            <h1>"Confirm your address"</h1>
            <Suspense fallback=|| view! { <p class="muted">"Confirming…"</p> }>
                {move || Suspend::new(async move {
                    match verified.await {
                        Ok(user) => view! {
                            <p class="notice" role="status" data-testid="email-verified">
                                {format!("Thank you: {} is confirmed.", user.email)}
                            </p>
                            <A href="/notes">"Open your notes"</A>
                        }
                        .into_any(),
                        Err(e) if e.error == ErrorCode::InvalidLink => view! {
                            <div class="notice error" role="alert" data-testid="invalid-link">
                                <p>{e.message}</p>
                                <p>"Signed in, you can ask from the notice at the top of any page."</p>
                            </div>
                        }
                        .into_any(),
                        Err(e) => view! {
                            <p class="notice error" role="alert" data-testid="error">{e.message}</p>
                        }
                        .into_any(),
                    }
                })}
            </Suspense>
        </section>
    }
}

#[component]
pub fn AccountPage() -> impl IntoView {
    let action = ServerAction::<ChangePassword>::new();
    let query = use_query_map();
    let session = use_session();
    let changed = move || {
        matches!(action.value().get(), Some(Ok(_))) || query.with(|q| q.get("changed").is_some())
    };
    let error = move || query.with(|q| failure(action.value().get(), q));
    let pending = action.pending();
    view! {
        <section class="card narrow">
            <h1>"Account"</h1>
            <p class="muted" data-testid="account-email">
                {move || session.user.get().map(|u| u.email)}
            </p>
            <h2>"Change your password"</h2>
            <Show when=changed>
                <p class="notice" role="status" data-testid="password-changed">
                    "Your password is changed. Every other device was signed out; this one stays signed in."
                </p>
            </Show>
            <ActionForm action=action>
                <label for="current_password">"Current password"</label>
                <input id="current_password" name="current_password" type="password"
                    autocomplete="current-password" required data-testid="current-password"/>
                <label for="new_password">"New password"</label>
                <input id="new_password" name="new_password" type="password"
                    autocomplete="new-password" required minlength="8" data-testid="new-password"/>
                {move || failure_view(error())}
                <button type="submit" data-testid="submit" disabled=move || pending.get()>
                    "Change the password"
                </button>
            </ActionForm>
            <p class="muted"><A href="/sessions">"See your devices"</A></p>
        </section>
    }
}

/// Under the sign-in form when the address must be confirmed first: a new link, for whoever
/// knows the password.
#[component]
pub fn ResendUnverifiedForm() -> impl IntoView {
    let action = ServerAction::<ResendUnverified>::new();
    let query = use_query_map();
    let sent = move || {
        matches!(action.value().get(), Some(Ok(()))) || query.with(|q| q.get("resent").is_some())
    };
    let error = move || query.with(|q| failure(action.value().get(), q));
    view! {
        <Show
            when=sent
            fallback=move || view! {
                <ActionForm action=action attr:class="stacked" attr:data-testid="resend-unverified">
                    <p class="muted">"Send a new confirmation link:"</p>
                    <input name="email" type="email" autocomplete="email" placeholder="Email" required/>
                    <input name="password" type="password" autocomplete="current-password" placeholder="Password" required/>
                    {move || failure_view(error())}
                    <button type="submit" class="secondary">"Send a new link"</button>
                </ActionForm>
            }
        >
            <p class="notice" role="status" data-testid="link-resent">"A new confirmation link is on its way."</p>
        </Show>
    }
}
