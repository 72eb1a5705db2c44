//! The server half of the engine (`ssr` feature).
//!
//! Connecting and installing:
//!
//! - [`Auth`]: the engine. [`Auth::connect`] builds it from a [`Database`] (a URL or the app's
//!   pool) and a [`config::AuthConfig`], and runs its migrations; [`Auth::install`] puts
//!   everything it needs on the app's axum `Router` in the right order.
//! - [`Layers`] ([`Auth::layers`]): the same layers as one value, which also wraps the app's
//!   not-found page ([`Layers::not_found_page`]: it shows who is signed in, never refreshes).
//! - [`Database`]: what [`Auth::connect`] accepts, built with `From` from a URL, an `AnyPool`,
//!   a `SqlitePool` or a `PgPool`.
//! - [`PagePolicy`]: which pages need a session and which are for signed-out visitors.
//! - [`PageRoutes`]: registers the app's Leptos routes with the engine's render context (the
//!   CSP nonce); [`page_context`] does the same for a render the app makes itself.
//! - [`page_turns`]: the middleware that makes a page render wait for one of the
//!   `page_concurrency` turns (the routes of [`PageRoutes`] already have it).
//! - [`serve`]: serves the router with each client's address and a graceful stop.
//! - [`config`]: [`config::AuthConfig`], its builder, and [`config::ConfigError`].
//! - [`mail`]: the mail seam, the shipped mailers and the outbox worker.
//!
//! For server functions and handlers:
//!
//! - [`context`]: what server functions call (the caller, sign-in, sign-out, devices, account
//!   recovery).
//! - [`extract`]: the axum extractors for the app's own JSON handlers ([`extract::ApiJson`]:
//!   JSON whose rejections are the contract's errors).
//! - [`Caller`]: what a request knows of its caller; [`Principal`]: a signed-in user in
//!   one session; [`TokenPair`]: a freshly issued access and refresh token.
//! - [`ClientInfo`]: the client address and user agent of an attempt the limits count.
//!
//! Errors and metrics:
//!
//! - [`Error`]: the server-side error, and the one error type of [`Auth`]'s methods (from
//!   [`Auth::connect`]: [`Error::UnsupportedDatabase`], [`Error::Migrate`]); it becomes the
//!   [`ApiError`](crate::ApiError) every failure answers (and is logged, once) where it turns
//!   into a response.
//! - [`RefreshPath`], [`RequestKind`]: the labels of the refresh and request-duration metrics.

// The parts, one owner each (docs/architecture.md, "Modules"): `auth` (`Auth`, which composes
// the others), `sessions` (rotation rules, flights, liveness, token material), `accounts`
// (sign-in, registration, limits), `http` (the layers, the JSON API, the server-function
// context), `store` (every SQL statement). This file only names what is public.
mod accounts;
mod auth;
pub mod config;
mod db;
mod error;
mod http;
pub mod mail;
mod mailer;
mod metrics;
mod sessions;
mod store;

pub use accounts::ClientInfo;
pub use auth::Auth;
pub use error::Error;
pub use http::context;
pub use http::install::Layers;
pub use http::page_layer::page_turns;
pub use http::pages::PagePolicy;
pub use http::request::Caller;
pub use http::routes::{page_context, PageRoutes};
pub use metrics::{RefreshPath, RequestKind};
pub use sessions::{Principal, TokenPair};
pub use store::Database;

/// Serves `app` on `listener` the way the engine needs: with each connection's peer address (the
/// rate limits count per client address; without it every client would share one bucket) and a
/// graceful stop on SIGTERM or Ctrl-C.
pub async fn serve(listener: tokio::net::TcpListener, app: axum::Router) -> std::io::Result<()> {
    axum::serve(
        listener,
        app.into_make_service_with_connect_info::<std::net::SocketAddr>(),
    )
    .with_graceful_shutdown(shutdown_signal())
    .await
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        use tokio::signal::unix::{signal, SignalKind};
        if let Ok(mut s) = signal(SignalKind::terminate()) {
            s.recv().await;
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! { _ = ctrl_c => {}, _ = term => {} }
}

/// Axum extractors for the app's own handlers.
pub mod extract {
    pub use crate::server::http::api::ApiJson;
    pub use crate::server::http::client_ip::ClientIp;
    pub use crate::server::http::request::{CurrentUser, MaybeUser};
}

/// What the benches, the token seeder and the tests drive below the HTTP surface: a session
/// opened without a password, a rotation, a sweep. Not part of the API (an app signs users in
/// through [`context`] or the JSON endpoints, and the engine sweeps by itself).
#[doc(hidden)]
pub mod __internals {
    pub use super::error::RefreshFailure;
    use super::{Auth, Error, RefreshPath, TokenPair};
    use crate::types::User;

    /// Opens a session for `user` and issues its first pair.
    pub async fn start_session(
        auth: &Auth,
        user: User,
        user_agent: Option<&str>,
    ) -> Result<TokenPair, Error> {
        Ok(auth.start_session(user, user_agent).await?)
    }

    /// Rotates a refresh token, as the refresh endpoint does.
    pub async fn refresh(
        auth: &Auth,
        token: &str,
        path: RefreshPath,
    ) -> Result<TokenPair, RefreshFailure> {
        auth.refresh(token, path).await
    }

    /// One sweep now (expired sessions, spent tokens, old idempotency records, full buckets).
    pub async fn sweep(auth: &Auth) -> Result<(), Error> {
        Ok(auth.sweep().await?)
    }
}

/// Internals the fuzz targets exercise directly. Not part of the API.
#[doc(hidden)]
pub mod __fuzz {
    pub use crate::server::config::ClientIpConfig;
    pub use crate::server::http::client_ip::client_ip;
    pub use crate::server::http::idempotency::parse_key;

    /// A cookie's value from a request's `Cookie` headers.
    pub fn cookie(headers: &axum::http::HeaderMap, name: &str) -> Option<String> {
        crate::server::http::cookies::cookie(headers, name)
    }

    /// Access-token extraction and verification with a fixed key.
    pub struct Tokens(crate::server::sessions::tokens::Keys);

    impl Default for Tokens {
        fn default() -> Self {
            Self(crate::server::sessions::tokens::Keys::new(
                &[7u8; 32],
                [],
                &Default::default(),
            ))
        }
    }

    impl Tokens {
        /// A valid token.
        pub fn issue(&self) -> String {
            self.0.issue("user", "session", 600).0
        }

        /// Whether `token` verifies.
        pub fn verifies(&self, token: &str) -> bool {
            self.0.verify(token).is_ok()
        }

        /// The access token a request with these headers presents.
        pub fn presented(&self, headers: &axum::http::HeaderMap) -> Option<String> {
            crate::server::http::cookies::bearer_or_cookie(headers, "access_token")
        }
    }
}
