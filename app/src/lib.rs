//! The Leptos app: routes, pages and server functions of the notes app built on `sessionflow`.
//!
//! Every server function uses `client = sessionflow::AuthClient`, so in the browser each call
//! goes through the one request layer that refreshes and retries on 401.

pub mod api;
mod components;
pub mod model;
mod pages;

#[cfg(feature = "ssr")]
pub mod notes;
#[cfg(feature = "ssr")]
mod time;

/// Applies the app's migrations (the top-level `migrations/`: the notes). The engine applies its
/// own (accounts, sessions) when connected; both share sqlx's bookkeeping table, so each ignores
/// the other's versions. Run this after `Auth::connect`: a note refers to the engine's
/// `sessionflow_users`.
#[cfg(feature = "ssr")]
pub async fn migrate(pool: &sqlx::AnyPool) -> Result<(), sqlx::migrate::MigrateError> {
    let mut migrator = sqlx::migrate!("../migrations");
    migrator.set_ignore_missing(true);
    migrator.run(pool).await
}

use components::Header;
use leptos::prelude::*;
use leptos_meta::{provide_meta_context, HashedStylesheet, MetaTags, Title};
use leptos_router::{
    components::{Route, Router, Routes},
    path, SsrMode,
};
pub use pages::NoteList;
use pages::{
    AccountPage, ForgotPasswordPage, HomePage, LoginPage, NotFound, NotesPage, RegisterPage,
    ResetPasswordPage, SessionsPage, VerifyEmailPage,
};

/// Which pages need a session (303 to `/login?next=…` without one) and which are for signed-out
/// visitors only.
#[cfg(feature = "ssr")]
pub fn page_policy() -> sessionflow::server::PagePolicy {
    sessionflow::server::PagePolicy::new()
        .protect(["/notes", "/sessions", "/account"])
        .guest_only(["/login", "/register"])
        .home("/notes")
}

/// The HTML document around the app.
pub fn shell(options: LeptosOptions) -> impl IntoView {
    view! {
        <!DOCTYPE html>
        <html lang="en">
            <head>
                <meta charset="utf-8"/>
                <meta name="viewport" content="width=device-width, initial-scale=1"/>
                <link rel="icon" href="/favicon.svg" type="image/svg+xml"/>
                <AutoReload options=options.clone()/>
                <HashedStylesheet options=options.clone() id="leptos"/>
                <HydrationScripts options/>
                <MetaTags/>
            </head>
            <body>
                <App/>
            </body>
        </html>
    }
}

/// Every route streams in order: Suspense content arrives in place, so pages read fine (and forms
/// work) before or without the wasm. Auth cookies do not depend on the mode: the session layer
/// sets them before the first byte of any mode.
#[component]
pub fn App() -> impl IntoView {
    provide_meta_context();
    sessionflow::session::provide_session();
    crate::components::provide_current_user();
    view! {
        <Title text="Notes — sessionflow"/>
        <Router>
            <Header/>
            <main class="container">
                <Routes fallback=NotFound>
                    <Route path=path!("") view=HomePage ssr=SsrMode::InOrder/>
                    <Route path=path!("/login") view=LoginPage ssr=SsrMode::InOrder/>
                    <Route path=path!("/register") view=RegisterPage ssr=SsrMode::InOrder/>
                    <Route path=path!("/notes") view=NotesPage ssr=SsrMode::InOrder/>
                    <Route path=path!("/sessions") view=SessionsPage ssr=SsrMode::InOrder/>
                    <Route path=path!("/account") view=AccountPage ssr=SsrMode::InOrder/>
                    <Route path=path!("/forgot-password") view=ForgotPasswordPage ssr=SsrMode::InOrder/>
                    <Route path=path!("/reset-password") view=ResetPasswordPage ssr=SsrMode::InOrder/>
                    <Route path=path!("/verify-email") view=VerifyEmailPage ssr=SsrMode::InOrder/>
                </Routes>
            </main>
        </Router>
    }
}

/// The app's request policy: the engine's default (refresh once on 401 and retry), plus a
/// back-off when the server says it is busy (503 with a short `Retry-After`).
#[cfg(feature = "hydrate")]
pub fn install_request_policy() {
    use sessionflow::browser::{default_policy, set_request_failure, FailureInfo, Recovery};
    set_request_failure(|info: FailureInfo| async move {
        match (info.status, info.retry_after()) {
            (Some(503), Some(wait)) if wait <= std::time::Duration::from_secs(10) => {
                Recovery::RetryAfter(wait)
            }
            _ => default_policy(info).await,
        }
    });
}

/// Browser entry point: install the request layer's hook, then hydrate.
#[cfg(feature = "hydrate")]
#[wasm_bindgen::prelude::wasm_bindgen]
pub fn hydrate() {
    console_error_panic_hook::set_once();
    install_request_policy();
    leptos::mount::hydrate_body(App);
    // A marker for tests and scripts that need to know the page is interactive.
    let _ = js_sys::Reflect::set(&window(), &"__sessionflow_hydrated".into(), &true.into());
}
