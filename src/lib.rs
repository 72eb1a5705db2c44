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
//! The app opens its pool (SQLite or PostgreSQL through `sqlx::AnyPool`), hands it to the engine
//! with a configuration, builds its own router — Leptos routes with `server::provide_nonce` in
//! their context, its own JSON handlers, its static files — and lets the engine install itself
//! on it. This is the whole wiring of `examples/minimal`:
//!
//! ```no_run
//! # #[cfg(feature = "ssr")] mod wiring {
//! use axum::Router;
//! use leptos::prelude::*;
//! use leptos_axum::{generate_route_list, LeptosRoutes};
//! use sessionflow::server::{config::AuthConfig, provide_nonce, Auth, PagePolicy};
//!
//! # #[component] fn App() -> impl IntoView { () }
//! # fn shell(_: LeptosOptions) -> impl IntoView { view! { <App/> } }
//! async fn router(options: LeptosOptions, db: sqlx::AnyPool) -> anyhow::Result<Router> {
//!     let config = AuthConfig::builder(std::env::var("JWT_SECRET")?)
//!         .public_origins_for(options.site_addr)
//!         .build()?;
//!     let auth = Auth::connect(db, config).await?; // applies the engine's own migrations
//!     let app = Router::new()
//!         .leptos_routes_with_context(&options, generate_route_list(App), provide_nonce, {
//!             let options = options.clone();
//!             move || shell(options.clone())
//!         })
//!         .fallback_service(tower_http::services::ServeDir::new(&*options.site_root))
//!         .with_state(options);
//!     let pages = PagePolicy::new().protect(["/private"]).guest_only(["/login"]).home("/private");
//!     Ok(auth.install(app, pages))
//! }
//! # }
//! ```
//!
//! Serve it with `into_make_service_with_connect_info::<SocketAddr>()` (the rate limits count
//! by client address).
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
