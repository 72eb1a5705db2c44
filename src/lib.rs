//! # sessionflow
//!
//! Sign-in that never interrupts, for Leptos apps: short-lived JWT access tokens and long-lived
//! rotating refresh tokens in HttpOnly cookies, refreshed on the server while a page renders and in
//! the browser when a server function fails with 401.
//!
//! - `ssr` feature ([`server`]): accounts, tokens, the rotating refresh store, the session layer
//!   that refreshes before the first byte of a page, server-function helpers and the JSON API.
//! - `hydrate` feature (`browser`): the one request layer every server function goes through,
//!   with a global on-failure hook that aborts, refreshes once and retries.
//!
//! ```ignore
//! // server: put the session layer in front of the Leptos routes
//! let auth = Auth::from_config(&Config::from_env()?).await?;
//! let pages = Router::new()
//!     .leptos_routes(&leptos_options, routes, App)
//!     .route_layer(from_fn_with_state(SessionLayerState { auth, policy }, session_layer));
//!
//! // app: route every server function through the browser layer
//! #[server(client = sessionflow::AuthClient)]
//! pub async fn list_notes() -> Result<Vec<Note>, ApiError> {
//!     let who = sessionflow::server::context::require_user()?;
//!     // …
//! }
//! ```

pub mod error;
pub mod retry;
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
