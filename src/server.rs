//! The server half of the engine (`ssr` feature).
//!
//! - [`Auth`]: built by [`Auth::connect`] from the app's database pool and an
//!   [`config::AuthConfig`]; [`Auth::install`] puts everything it needs on the app's
//!   axum `Router` in the right order.
//! - [`context`]: what server functions call (the caller, sign-in, sign-out, devices).
//! - [`extract`]: the axum extractors for the app's own JSON handlers.
//! - [`Error`]: the server-side error; it becomes the contract's [`ApiError`](crate::ApiError)
//!   (and is logged, once) where it turns into a response.

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
pub use error::{Error, RefreshFailure};
pub use http::install::PagePolicy;
pub use http::page_layer::page_turns;
pub use http::request::RequestSession;
pub use http::routes::{page_context, SessionRoutes};
pub use http::{api, context};
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
    pub use crate::server::http::client_ip::ClientIp;
    pub use crate::server::http::request::{CurrentUser, MaybeUser};
}

/// Internals the fuzz targets exercise directly. Not part of the API.
#[doc(hidden)]
pub mod __fuzz {
    pub use crate::server::config::ClientIpConfig;
    pub use crate::server::http::client_ip::client_ip;
    pub use crate::server::http::idempotency::parse_key;

    /// A cookie's value from a request's `Cookie` headers.
    pub fn cookie(headers: &axum::http::HeaderMap, name: &str) -> Option<String> {
        crate::server::http::request::cookie(headers, name)
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
            crate::server::http::request::bearer_or_cookie(headers, "access_token")
        }
    }
}
