use leptos::prelude::*;
use leptos_router::components::A;

#[component]
pub fn HomePage() -> impl IntoView {
    view! {
        <section class="hero">
            <h1>"Private notes that never sign you out mid-sentence."</h1>
            <p>
                "Pages render on the server, signed in from the first byte; the browser refreshes "
                "your session quietly when it runs out, and retries what you were doing."
            </p>
            <p class="actions">
                <A href="/register" attr:class="button">"Create an account"</A>
                <A href="/notes" attr:class="button secondary">"Open your notes"</A>
            </p>
        </section>
    }
}

/// Any path no route matches. The server answers it with status 404 (the static-file service
/// sets it; this sets it too, for routers that render the app for unknown paths themselves).
#[component]
pub fn NotFound() -> impl IntoView {
    #[cfg(feature = "ssr")]
    if let Some(res) = use_context::<leptos_axum::ResponseOptions>() {
        res.set_status(http::StatusCode::NOT_FOUND);
    }
    view! {
        <section class="card narrow" data-testid="not-found">
            <h1>"Page not found"</h1>
            <p>"Nothing lives at this address. " <A href="/">"Go to the start page"</A></p>
        </section>
    }
}
