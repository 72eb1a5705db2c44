//! Pieces shared by the pages: the header and the error notice.

use crate::api::{current_user, Logout};
use leptos::prelude::*;
use leptos_router::{components::A, hooks::use_query_map};
use sessionflow::{
    recovery::{mail_enabled, ResendVerification},
    session::{use_session, SessionStatus},
    ApiError, ErrorCode, User,
};

/// Who is signed in, as the server said: one resource for the page, read by the header and by
/// any page that shows the user, so a render asks once (refetched when the session changes).
#[derive(Clone, Copy)]
pub struct UserResource(pub Resource<Result<Option<User>, ApiError>>);

/// Creates the page's [`UserResource`] (the app does, once, above its routes).
pub fn provide_current_user() {
    let session = use_session();
    let user = Resource::new(move || session.version.get(), |_| current_user());
    provide_context(UserResource(user));
}

/// The resource in the page's [`UserResource`].
pub fn use_current_user() -> Resource<Result<Option<User>, ApiError>> {
    expect_context::<UserResource>().0
}

#[component]
pub fn Header() -> impl IntoView {
    let session = use_session();
    let user = use_current_user();
    // What the server said is who the session state starts from (no version bump: nothing
    // changed, it was only learned).
    Effect::new(move |_| {
        if let Some(Ok(u)) = user.get() {
            session.user.set(u);
        }
    });
    // Created here, with the page's other resources, not inside the suspended branch that
    // shows the notice: resources made while a branch resolves get ids in another order on the
    // server and in the browser, and hydration fails.
    let mail = Resource::new(|| (), |_| mail_enabled());
    let resend = ServerAction::<ResendVerification>::new();
    let logout = ServerAction::<Logout>::new();
    Effect::new(move |_| {
        if let Some(Ok(())) = logout.value().get() {
            session.signed_out();
        }
    });
    let status = move || match session.status.get() {
        SessionStatus::Refreshing => Some(("refreshing", "Reconnecting…")),
        SessionStatus::Unreachable => {
            Some(("unreachable", "Offline: your work is kept, try again"))
        }
        SessionStatus::Ended | SessionStatus::Active => None,
    };
    view! {
        <header class="site-header">
            <A href="/" attr:class="brand">"sessionflow notes"</A>
            {move || status().map(|(code, text)| view! {
                <span class="muted small" role="status" data-testid="session-status" data-status=code>{text}</span>
            })}
            <nav>
                <Transition fallback=|| view! { <span class="muted">"…"</span> }>
                    {move || Suspend::new(async move {
                        // Both load at once (each started when created); one boundary for both.
                        let (user, mail_on) = (user.await, matches!(mail.await, Ok(true)));
                        match user {
                        Ok(Some(u)) => view! {
                            <A href="/notes">"Notes"</A>
                            <A href="/sessions">"Devices"</A>
                            <A href="/account">"Account"</A>
                            <span class="who" data-testid="signed-in-as">{u.email.clone()}</span>
                            <ActionForm action=logout attr:class="inline">
                                <button type="submit" class="link" data-testid="sign-out">"Sign out"</button>
                            </ActionForm>
                            <VerifyNotice signed_in=u mail_on resend/>
                        }
                        .into_any(),
                        _ => view! {
                            <A href="/login">"Sign in"</A>
                            <A href="/register">"Create account"</A>
                        }
                        .into_any(),
                    }})}
                </Transition>
            </nav>
        </header>
    }
}

/// "Confirm your address", with a resend button, until the address is confirmed (here or in
/// any other tab: it follows the session state, which tabs share). Only where mail leaves.
#[component]
fn VerifyNotice(
    signed_in: sessionflow::User,
    mail_on: bool,
    resend: ServerAction<ResendVerification>,
) -> impl IntoView {
    let session = use_session();
    let query = use_query_map();
    let fallback = signed_in.clone();
    // Before the session state knows the user (on the server, and until hydration has run the
    // header's effect), the server's answer decides.
    let unverified = move || {
        session
            .user
            .get()
            .filter(|u| u.id == fallback.id)
            .map_or(!fallback.email_verified, |u| !u.email_verified)
    };
    let sent = move || {
        matches!(resend.value().get(), Some(Ok(()))) || query.with(|q| q.get("resent").is_some())
    };
    let text = format!(
        "Confirm your address: we sent a link to {}.",
        signed_in.email
    );
    view! {
        <Show when=move || mail_on && unverified()>
            <div class="notice verify" role="status" data-testid="verify-notice">
                <span>{text.clone()}</span>
                {move || match resend.value().get() {
                    Some(Err(e)) => Some(view! { <span class="field-error" data-testid="resend-error">{e.message}</span> }.into_any()),
                    _ if sent() => Some(view! { <span class="muted" data-testid="resent">"Sent: check your inbox."</span> }.into_any()),
                    _ => None,
                }}
                <ActionForm action=resend attr:class="inline">
                    <button type="submit" class="link" data-testid="resend">"Send it again"</button>
                </ActionForm>
            </div>
        </Show>
    }
}

/// An error with a Retry button when trying again can help (`unavailable`).
#[component]
pub fn ErrorNotice(
    error: ApiError,
    #[prop(optional)] on_retry: Option<Callback<()>>,
) -> impl IntoView {
    let retryable = error.error == ErrorCode::Unavailable;
    view! {
        <div class="notice error" role="alert" data-testid="error" data-code=error.error.as_str()>
            <span>{error.message.clone()}</span>
            {(retryable && on_retry.is_some()).then(|| {
                let retry = on_retry.expect("checked");
                view! {
                    <button type="button" class="secondary" data-testid="retry" on:click=move |_| retry.run(())>
                        "Retry"
                    </button>
                }
            })}
        </div>
    }
}
