//! # sessionflow
//!
//! Sign-in that never interrupts, for Leptos apps: short-lived JWT access tokens and long-lived
//! rotating refresh tokens in HttpOnly cookies, refreshed on the server while a page renders and in
//! the browser when a server function fails with 401.
//!
//! The crate has two halves, chosen by feature like any Leptos library:
//!
//! - `ssr` — `sessionflow::server`: accounts (argon2, rate limits), tokens, the rotating refresh
//!   store, the session layer that refreshes before the first byte of a page, `Idempotency-Key`,
//!   CSRF, security headers, the JSON API under `/api/auth/`, and the helpers server functions
//!   call.
//! - `hydrate` — `sessionflow::browser`: the one request layer every server function goes
//!   through, with a global on-failure hook that aborts, refreshes once and retries, tabs that
//!   coordinate, and timeouts.
//!
//! Shared by both: [`AuthClient`] (the server-function client), [`ApiError`] (the contract's error
//! body), [`User`], [`session`] (the session as reactive state for components).
//!
//! ## 1. The server: connect, install
//!
//! The app hands the engine its database (a URL, or its own pool) and a configuration, registers
//! its Leptos routes with `server::SessionRoutes` (leptos_axum's `leptos_routes`, plus what the
//! engine needs in each render's context), adds its own handlers and static files, and lets the
//! engine install itself on the router. This is the whole wiring of `examples/minimal`:
//!
//! ```no_run
//! # #[cfg(feature = "ssr")] mod wiring {
//! use axum::Router;
//! use leptos::prelude::*;
//! use sessionflow::server::{config::AuthConfig, serve, Auth, PagePolicy, SessionRoutes};
//!
//! # #[component] fn App() -> impl IntoView { () }
//! # fn shell(_: LeptosOptions) -> impl IntoView { view! { <App/> } }
//! async fn run(options: LeptosOptions) -> anyhow::Result<()> {
//!     let config = AuthConfig::from_env(options.site_addr)?; // every engine variable, checked
//!     let auth = Auth::connect("sqlite://app.db?mode=rwc", config).await?; // + its migrations
//!     let app = Router::new()
//!         .session_routes(&options, App, shell)
//!         .fallback_service(tower_http::services::ServeDir::new(&*options.site_root))
//!         .with_state(options.clone());
//!     let pages = PagePolicy::new().protect(["/private"]).guest_only(["/login"]);
//!     let listener = tokio::net::TcpListener::bind(options.site_addr).await?;
//!     Ok(serve(listener, auth.install(app, pages)).await?) // keeps client addresses
//! }
//! # }
//! ```
//!
//! ## 2. Server functions: the caller comes from the request
//!
//! Declare every server function with `client = sessionflow::AuthClient`; read the caller with
//! `server::context`. An `Err` is answered with the contract's status (401 makes the browser
//! refresh and retry). The sign-in call itself uses [`DirectClient`], which skips the hook.
//!
//! ```no_run
//! use leptos::prelude::*;
//! use sessionflow::{ApiError, AuthClient, DirectClient, User};
//!
//! #[server(client = AuthClient)]
//! pub async fn secret_message() -> Result<String, ApiError> {
//!     let who = sessionflow::server::context::require_user()?;
//!     Ok(format!("Hello {}", who.user.email))
//! }
//!
//! #[server(client = DirectClient)]
//! pub async fn sign_in(email: String, password: String) -> Result<User, ApiError> {
//!     sessionflow::server::context::sign_in(&email, &password).await
//! }
//! ```
//!
//! ## 3. The browser: install a policy, then hydrate
//!
//! ```no_run
//! # #[cfg(feature = "hydrate")] {
//! # use leptos::prelude::*;
//! # #[component] fn App() -> impl IntoView { () }
//! sessionflow::browser::install_default_hook(); // or a policy of your own: see `browser`
//! leptos::mount::hydrate_body(App);
//! # }
//! ```
//!
//! The default policy refreshes once on `token_expired`, `missing_token` or `invalid_token`
//! (sharing the refresh between calls and between tabs) and re-sends; a rejected refresh sends the
//! user to the sign-in page with `reason=session_ended`; a refresh that cannot reach the server
//! keeps the session and fails the call as `unavailable`. Components read the session with
//! [`session::use_session`] after [`session::provide_session`] in the root component.

#![warn(missing_docs)]

pub mod error;
// `#[server]` makes a struct per function whose fields are its arguments; the functions carry
// the documentation.
#[allow(missing_docs)]
pub mod recovery;
/// The browser layer's decisions as plain Rust, unit-tested natively in place. Private: what a
/// hook sees of them (`FailureInfo`, `Cause`, `Recovery`) is re-exported by `browser`.
#[cfg(any(feature = "hydrate", test))]
#[cfg_attr(not(feature = "hydrate"), allow(dead_code))]
mod retry;
pub mod session;
pub mod types;

#[cfg(feature = "ssr")]
pub mod server;

#[cfg(feature = "hydrate")]
pub mod browser;

pub mod client;

pub use client::{AuthClient, DirectClient};
pub use error::{ApiError, ErrorCode};
pub use types::{Email, Password, SessionInfo, User};
