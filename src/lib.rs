//! # sessionflow
//!
//! Sign-in that never interrupts, for Leptos 0.8 apps on axum: short-lived JWT access tokens and
//! long-lived rotating refresh tokens in HttpOnly cookies, refreshed on the server while a page
//! renders and in the browser when a server function fails with 401.
//!
//! ## The two halves
//!
//! The crate has two halves, chosen by feature like any Leptos library:
//!
//! - `ssr`: [`server`]: accounts (argon2, rate limits), tokens, the rotating refresh store, the
//!   session layer that refreshes before the first byte of a page, `Idempotency-Key`, CSRF,
//!   security headers, the JSON API under `/api/auth/`, and the helpers server functions call
//!   ([`server::context`]).
//! - `hydrate`: [`browser`]: the one request layer every server function goes through, with a
//!   global on-failure hook that aborts, refreshes once and retries, tabs that coordinate, and
//!   timeouts.
//!
//! Shared by both: [`AuthClient`] and [`DirectClient`] (the server-function clients),
//! [`ApiError`] and [`ErrorCode`] (the error body every failure answers), [`User`],
//! [`session`] (the session as reactive state for components) and [`recovery`] (the
//! account-recovery server functions).
//!
//! ## Install
//!
//! The app forwards its own `ssr` and `hydrate` features to the crate's:
//!
//! ```toml
//! [dependencies]
//! sessionflow = { path = "../sessionflow" }
//! leptos = "0.8"
//! leptos_axum = { version = "0.8", optional = true }
//! axum = { version = "0.8", optional = true }
//! tokio = { version = "1", features = ["rt-multi-thread", "macros"], optional = true }
//! tower-http = { version = "0.6", features = ["fs"], optional = true }
//! anyhow = { version = "1", optional = true }
//!
//! [features]
//! ssr = ["sessionflow/ssr", "leptos/ssr", "dep:leptos_axum", "dep:axum", "dep:tokio",
//!        "dep:tower-http", "dep:anyhow"]
//! hydrate = ["sessionflow/hydrate", "leptos/hydrate"]
//! ```
//!
//! ## 1. The server: connect, install
//!
//! The app hands the engine its database (a URL, or its own pool) and a configuration
//! ([`AuthConfig`]), registers its Leptos routes with [`PageRoutes`] (leptos_axum's
//! `leptos_routes`, plus what the engine needs in each render's context), adds its own handlers
//! and static files, says which pages need a session ([`PagePolicy`]), and lets the engine
//! install itself on the router ([`Auth::install`]). [`serve`] keeps each client's address for
//! the rate limits and stops gracefully. `examples/minimal` is wired this way (it also reads its
//! database URL and a development secret from the environment, and adds its avatar host to the
//! Content-Security-Policy):
//!
//! ```no_run
//! # #[cfg(feature = "ssr")] mod wiring {
//! use axum::Router;
//! use leptos::prelude::*;
//! use sessionflow::server::{config::AuthConfig, serve, Auth, PagePolicy, PageRoutes};
//! use tower_http::services::ServeDir;
//!
//! # #[component] fn App() -> impl IntoView { () }
//! # fn shell(_: LeptosOptions) -> impl IntoView { view! { <App/> } }
//! async fn run(options: LeptosOptions) -> anyhow::Result<()> {
//!     let config = AuthConfig::from_env(options.site_addr)?; // every engine variable, checked
//!     let auth = Auth::connect("sqlite://app.db?mode=rwc", config).await?; // + its migrations
//!     let app = Router::new()
//!         .page_routes(&options, App, shell) // Leptos routes, the CSP nonce in their context
//!         .fallback_service(ServeDir::new(&*options.site_root))
//!         .with_state(options.clone());
//!     let pages = PagePolicy::new().protect(["/private"]).guest_only(["/login"]);
//!     let listener = tokio::net::TcpListener::bind(options.site_addr).await?;
//!     Ok(serve(listener, auth.install(app, pages)).await?) // keeps client addresses
//! }
//! # }
//! ```
//!
//! [`Auth::connect`] runs the engine's own migrations (embedded; its tables are all prefixed
//! `sessionflow_`, so the app may have a `users` table of its own).
//!
//! ## 2. Server functions: the caller comes from the request
//!
//! Declare every server function with `client = sessionflow::AuthClient`; read the caller with
//! [`server::context`] ([`context::require_user`], [`context::sign_in`], …). An `Err` is
//! answered with its [`ErrorCode`]'s status (401 makes the browser refresh and retry). The
//! sign-in call itself uses [`DirectClient`], which skips the hook.
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
//! use leptos::prelude::*;
//! # #[component] fn App() -> impl IntoView { () }
//! sessionflow::browser::install_default_hook(); // or a policy of your own: see `browser`
//! leptos::mount::hydrate_body(App);
//! # }
//! ```
//!
//! The default policy ([`install_default_hook`], [`default_policy`]) refreshes once on
//! `token_expired`, `missing_token` or `invalid_token` (sharing the refresh between calls and
//! between tabs) and re-sends; a rejected refresh sends the user to the sign-in page with
//! `reason=session_ended`; a refresh that cannot reach the server keeps the session and fails
//! the call as `unavailable`. A policy of the app's own goes through [`set_request_failure`].
//! Components read the session with [`session::use_session`] after
//! [`session::provide_session`] in the root component.
//!
//! ## Settings
//!
//! Every setting has a default. [`AuthConfig::builder`] sets them in code and returns an
//! [`AuthConfigBuilder`]; [`AuthConfigBuilder::from_lookup`] reads every engine variable
//! through a lookup (the environment, a map), without the signing secret;
//! [`AuthConfig::from_env`] reads them from the process environment, with `JWT_SECRET`
//! required. A value that breaks a rule is a [`ConfigError`] naming its variable.
//!
//! - tokens: the signing secret (`JWT_SECRET`, at least 32 bytes) and accepted keys, access
//!   lifetime `15m`, refresh lifetime `30d` (sliding), reuse grace `10s`, leeway `5s`;
//! - cookies and origins: `Secure` (on unless the site listens on loopback), the public origins
//!   (`PUBLIC_URL`) the CSRF check accepts, trusted proxies and the client-address header;
//! - limits: sign-in `30/5m` per address and `10/5m` per (address, account), the hashing pool,
//!   pages rendered at once, the body limit (256 KiB);
//! - mail and recovery: the transport ([`MailTransport`]: SMTP, the development outbox, off, or
//!   the app's own), the sender, link lifetimes, whether a verified address is required;
//! - paths: the API prefix (`/api/`), the sign-in page (`/login`); and extra
//!   Content-Security-Policy sources.
//!
//! The browser half learns its paths from the page the server renders; its timeouts and
//! channel name are [`LayerConfig`].
//!
//! The repository's `docs/` (included in the package) has the rules in depth: the
//! configuration table (`docs/configuration.md`), the token protocol, the browser layer, HTTP
//! behaviour, limits, operations, and a glossary.
//!
//! [`server`]: crate::server
//! [`server::context`]: crate::server::context
//! [`context::require_user`]: crate::server::context::require_user
//! [`context::sign_in`]: crate::server::context::sign_in
//! [`AuthConfig`]: crate::server::config::AuthConfig
//! [`AuthConfigBuilder`]: crate::server::config::AuthConfigBuilder
//! [`AuthConfig::builder`]: crate::server::config::AuthConfig::builder
//! [`AuthConfig::from_env`]: crate::server::config::AuthConfig::from_env
//! [`AuthConfigBuilder::from_lookup`]: crate::server::config::AuthConfigBuilder::from_lookup
//! [`ConfigError`]: crate::server::config::ConfigError
//! [`MailTransport`]: crate::server::config::MailTransport
//! [`PageRoutes`]: crate::server::PageRoutes
//! [`PagePolicy`]: crate::server::PagePolicy
//! [`Auth::install`]: crate::server::Auth::install
//! [`Auth::connect`]: crate::server::Auth::connect
//! [`serve`]: crate::server::serve
//! [`browser`]: crate::browser
//! [`install_default_hook`]: crate::browser::install_default_hook
//! [`default_policy`]: crate::browser::default_policy
//! [`set_request_failure`]: crate::browser::set_request_failure
//! [`LayerConfig`]: crate::browser::LayerConfig
#![cfg_attr(docsrs, feature(doc_cfg))]
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
pub use types::{Device, Email, Password, User};
