//! Pieces shared by the pages: the header and the error notice.

use crate::api::{current_user, Logout};
use leptos::prelude::*;
use leptos_router::components::A;
use sessionflow::{
    session::{use_session, SessionStatus},
    ApiError, ErrorCode,
};

#[component]
pub fn Header() -> impl IntoView {
    let session = use_session();
    let user = Resource::new(move || session.version.get(), |_| current_user());
    // What the server said is who the session state starts from (no version bump: nothing
    // changed, it was only learned).
    Effect::new(move |_| {
        if let Some(Ok(u)) = user.get() {
            session.user.set(u);
        }
    });
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
                    {move || Suspend::new(async move { match user.await {
                        Ok(Some(u)) => view! {
                            <A href="/notes">"Notes"</A>
                            <A href="/sessions">"Devices"</A>
                            <span class="who" data-testid="signed-in-as">{u.email}</span>
                            <ActionForm action=logout attr:class="inline">
                                <button type="submit" class="link" data-testid="sign-out">"Sign out"</button>
                            </ActionForm>
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

/// A human sentence for an error code (for errors that arrive as a code in the query string).
pub fn describe(code: ErrorCode) -> &'static str {
    match code {
        ErrorCode::InvalidCredentials => "The email or password is incorrect.",
        ErrorCode::Conflict => "An account with this email already exists.",
        ErrorCode::Validation => "Check the highlighted field.",
        ErrorCode::RateLimited => "Too many attempts; wait a minute and try again.",
        ErrorCode::Unavailable => "The service is temporarily unavailable; try again.",
        _ => "Something went wrong; try again.",
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
