//! The smallest Leptos app on the sessionflow engine, using only its public API: a home page, a
//! sign-in page, one protected page whose server function answers only a signed-in caller, and
//! password reset by email (two forms on the engine's server functions).
//! Its server is `src/main.rs`: a handful of lines of wiring.

use leptos::prelude::*;
use leptos_router::{
    components::{Route, Router, Routes, A},
    path, SsrMode,
};
use sessionflow::{ApiError, AuthClient, DirectClient, User};

#[cfg(feature = "ssr")]
use sessionflow::server::context;

/// Only for the signed-in caller. Past the access token's expiry the browser layer refreshes
/// once and re-sends it; the page never notices.
#[server(client = AuthClient)]
pub async fn secret_message() -> Result<String, ApiError> {
    let who = context::require_user()?;
    Ok(format!("Hello {}, this is for you only.", who.user.email))
}

/// The sign-in call itself opts out of the refresh hook (its 401 means a wrong password).
#[server(client = DirectClient)]
pub async fn sign_in(email: String, password: String) -> Result<User, ApiError> {
    let user = context::sign_in(&email, &password).await?;
    leptos_axum::redirect("/private");
    Ok(user)
}

#[server(client = AuthClient)]
pub async fn sign_out() -> Result<(), ApiError> {
    context::sign_out().await?;
    leptos_axum::redirect("/");
    Ok(())
}

/// The HTML document.
pub fn shell(options: LeptosOptions) -> impl IntoView {
    view! {
        <!DOCTYPE html>
        <html lang="en">
            <head>
                <meta charset="utf-8"/>
                <title>"sessionflow: minimal"</title>
                <AutoReload options=options.clone()/>
                <HydrationScripts options/>
            </head>
            <body><App/></body>
        </html>
    }
}

#[component]
pub fn App() -> impl IntoView {
    sessionflow::session::provide_session();
    view! {
        <Router>
            <nav><A href="/">"Home"</A> " · " <A href="/private">"Private"</A></nav>
            <Routes fallback=|| "Not found.">
                <Route path=path!("") view=|| view! { <h1>"Minimal"</h1> } ssr=SsrMode::InOrder/>
                <Route path=path!("/login") view=SignIn ssr=SsrMode::InOrder/>
                <Route path=path!("/private") view=Private ssr=SsrMode::InOrder/>
                <Route path=path!("/forgot-password") view=Forgot ssr=SsrMode::InOrder/>
                <Route path=path!("/reset-password") view=Reset ssr=SsrMode::InOrder/>
            </Routes>
        </Router>
    }
}

#[component]
fn SignIn() -> impl IntoView {
    let action = ServerAction::<SignIn>::new();
    view! {
        <h1>"Sign in"</h1>
        <ActionForm action>
            <input name="email" type="email" data-testid="email"/>
            <input name="password" type="password" data-testid="password"/>
            <button type="submit" data-testid="submit">"Sign in"</button>
        </ActionForm>
        {move || action.value().get().and_then(Result::err).map(|e| view! { <p role="alert">{e.message}</p> })}
    }
}

/// Password reset: the engine's server functions (`sessionflow::recovery`) behind two forms.
#[component]
fn Forgot() -> impl IntoView {
    let action = ServerAction::<sessionflow::recovery::ForgotPassword>::new();
    view! {
        <ActionForm action><input name="email" type="email"/><button type="submit">"Send a reset link"</button></ActionForm>
        {move || action.value().get().map(|r| r.map_or_else(|e| e.message, |()| "Check your mail.".into()))}
    }
}

#[component]
fn Reset() -> impl IntoView {
    let action = ServerAction::<sessionflow::recovery::ResetPassword>::new();
    let token = leptos_router::hooks::use_query_map()
        .with_untracked(|q| q.get("token").unwrap_or_default());
    view! {
        <ActionForm action>
            <input type="hidden" name="token" value=token/><input type="hidden" name="next" value="/private"/>
            <input name="password" type="password"/><button type="submit">"Set the password"</button>
        </ActionForm>
        {move || action.value().get().and_then(Result::err).map(|e| e.message)}
    }
}

/// A picture from another origin, which the default policy (`img-src 'self' data:`) refuses.
pub const AVATAR: &str = "https://www.gravatar.com/avatar/?d=mp&s=32";

#[component]
fn Private() -> impl IntoView {
    let asked = RwSignal::new(0);
    let message = Resource::new(move || asked.get(), |_| secret_message());
    let out = ServerAction::<SignOut>::new();
    view! {
        <h1>"Private"</h1>
        // From an avatar host: main.rs adds it to the Content-Security-Policy's img-src.
        <img data-testid="avatar" src=AVATAR alt="" width="32" height="32"/>
        <Transition fallback=|| "…">
            {move || Suspend::new(async move {
                match message.await {
                    Ok(text) => view! { <p data-testid="message">{text}</p> }.into_any(),
                    Err(e) => view! { <p role="alert" data-testid="error">{e.message}</p> }.into_any(),
                }
            })}
        </Transition>
        <button type="button" data-testid="ask" on:click=move |_| asked.update(|n| *n += 1)>"Ask again"</button>
        <ActionForm action=out><button type="submit" data-testid="sign-out">"Sign out"</button></ActionForm>
    }
}

/// Browser entry point: the engine's request policy, then hydration.
#[cfg(feature = "hydrate")]
#[wasm_bindgen::prelude::wasm_bindgen]
pub fn hydrate() {
    console_error_panic_hook::set_once();
    sessionflow::browser::install_default_hook();
    leptos::mount::hydrate_body(App);
    // For scripts and tests that need to know the page is interactive.
    if let Some(body) = document().body() {
        let _ = body.set_attribute("data-hydrated", "true");
    }
}
