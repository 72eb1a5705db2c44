//! The server half of the engine (`ssr` feature).
//!
//! - [`Auth`]: built by [`Auth::connect`] from the app's database pool and an
//!   [`config::AuthConfig`]; [`Auth::install`] puts everything it needs on the app's
//!   axum `Router` in the right order.
//! - [`context`]: what server functions call (the caller, sign-in, sign-out, devices).
//! - [`extract`]: the axum extractors for the app's own JSON handlers.
//! - [`Error`]: the server-side error; it becomes the contract's [`ApiError`](crate::ApiError)
//!   (and is logged, once) where it turns into a response.

// The parts, one owner each (docs/architecture.md, "Modules"): `sessions` (rotation rules,
// flights, liveness, token material), `accounts` (sign-in, registration, limits), `http` (the
// layers, the JSON API, the server-function context), `store` (every SQL statement). The root
// holds `Auth`, which composes them.
mod accounts;
pub mod config;
mod db;
mod error;
mod http;
mod metrics;
mod sessions;
mod store;

pub use accounts::ClientInfo;
pub use error::{Error, RefreshFailure};
pub use http::install::PagePolicy;
pub use http::request::RequestSession;
pub use http::routes::{page_context, SessionRoutes};
pub use http::{api, context};
pub use metrics::{RefreshPath, RequestKind};
pub use store::Database;

/// Opens an `sqlx::AnyPool` on `url` (`sqlite://…` or `postgres://…`) with sqlx's drivers
/// installed, for an app that keeps its own tables on either backend; [`Auth::connect`] takes
/// it (or a native `SqlitePool`/`PgPool`). Apps that tune their pool open it themselves (after
/// `sqlx::any::install_default_drivers()`).
pub async fn any_pool(url: &str) -> Result<AnyPool, sqlx::Error> {
    sqlx::any::install_default_drivers();
    AnyPool::connect(url).await
}

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

use crate::types::User;
use config::{AuthConfig, TokenConfig};
use sessions::tokens::Keys;
use sqlx::AnyPool;
use std::{sync::Arc, time::Duration};

/// A freshly issued token pair. Lives only in memory and in the cookies it is written to.
#[derive(Clone)]
pub struct TokenPair {
    /// Whose session it is.
    pub user: User,
    /// The session (refresh family) id.
    pub session_id: String,
    /// The signed access token (a JWT).
    pub access_token: String,
    /// Its lifetime in seconds (the cookie's `Max-Age`, the response's `expires_in`).
    pub access_max_age: i64,
    /// The refresh token, in clear (only the browser's cookie holds it after this).
    pub refresh_token: String,
    /// Its lifetime in seconds.
    pub refresh_max_age: i64,
}

impl std::fmt::Debug for TokenPair {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenPair")
            .field("user", &self.user)
            .field("session_id", &self.session_id)
            .finish_non_exhaustive()
    }
}

/// Who is calling: a user in one session (refresh family).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principal {
    /// The signed-in user.
    pub user: User,
    /// The session the request's access token belongs to.
    pub session_id: String,
}

/// The auth engine: the database, keys and settings. Cheap to clone.
#[derive(Clone)]
pub struct Auth(Arc<Inner>);

struct Inner {
    store: Arc<dyn store::Store>,
    keys: Keys,
    config: AuthConfig,
    flights: sessions::flight::Flights,
    limiter: accounts::limits::RateLimits,
    hashing: accounts::limits::HashPool,
    live: sessions::liveness::LiveSessions,
    /// Dropped with the engine, which stops the revocation listener (and its connection).
    listener_stop: std::sync::Mutex<Option<tokio::sync::oneshot::Sender<()>>>,
    /// The periodic sweep starts once per engine, however many routers it is installed on.
    sweeper: std::sync::Once,
    /// Said once: requests arrive without the client address (see `Auth::client_ip`).
    warned_no_peer: std::sync::atomic::AtomicBool,
}

impl Auth {
    /// Applies the engine's own migrations (users, sessions, refresh tokens, idempotency
    /// records, rate limits) and returns the engine. `db` is the app's pool: an `sqlx::AnyPool`
    /// (the engine opens a native pool on its connect options, as large) or a native
    /// `SqlitePool` or `PgPool` (used as it is). The app's own tables and migrations stay the app's: both
    /// migrators share sqlx's bookkeeping table and ignore each other's versions.
    pub async fn connect(
        db: impl Into<Database>,
        config: AuthConfig,
    ) -> Result<Self, sqlx::migrate::MigrateError> {
        let store = db
            .into()
            .into_store()
            .map_err(sqlx::migrate::MigrateError::Execute)?;
        store.migrate().await?;
        let auth = Self::with_store(store, config);
        auth.follow_revocations();
        Ok(auth)
    }

    /// Forgets the sessions other instances revoke, as they announce them (PostgreSQL).
    fn follow_revocations(&self) {
        if self.0.config.liveness_ttl.is_zero() {
            return;
        }
        let Ok(handle) = tokio::runtime::Handle::try_current() else {
            return;
        };
        let weak = Arc::downgrade(&self.0);
        let on: store::OnAnnouncement = Box::new(move |payload| {
            let Some(inner) = weak.upgrade() else {
                return false;
            };
            match payload {
                Some(p) => inner.live.apply(p),
                None => inner.live.forget_all(),
            }
            true
        });
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        *self.0.listener_stop.lock().expect("listener slot") = Some(stop);
        let store = self.0.store.clone();
        handle.spawn(async move { store.follow_announcements(on, stopped).await });
    }

    fn with_store(store: Arc<dyn store::Store>, config: AuthConfig) -> Self {
        use secrecy::ExposeSecret;
        let shared_limits = store.backend() == store::Backend::Postgres;
        Self(Arc::new(Inner {
            keys: Keys::new(
                config.secret.expose_secret(),
                config.accepted_secrets.iter().map(|s| s.expose_secret()),
                &config.tokens,
            ),
            flights: sessions::flight::Flights::new(config.tokens.reuse_grace),
            limiter: accounts::limits::RateLimits::new(&config.limits, shared_limits),
            hashing: accounts::limits::HashPool::new(&config.limits),
            live: sessions::liveness::LiveSessions::new(config.liveness_ttl),
            listener_stop: std::sync::Mutex::new(None),
            sweeper: std::sync::Once::new(),
            warned_no_peer: Default::default(),
            store,
            config,
        }))
    }

    /// The configuration the engine runs with.
    pub fn config(&self) -> &AuthConfig {
        &self.0.config
    }

    pub(crate) fn store(&self) -> &dyn store::Store {
        &*self.0.store
    }

    pub(crate) fn token_config(&self) -> &TokenConfig {
        &self.0.config.tokens
    }

    pub(crate) fn cookie_secure(&self) -> bool {
        self.0.config.cookies.secure
    }

    pub(crate) fn keys(&self) -> &Keys {
        &self.0.keys
    }

    /// Spawns the periodic sweep of expired sessions, old spent tokens and idempotency records
    /// ([`install`](Self::install) does this once per engine).
    pub(crate) fn spawn_sweeper(&self, every: Duration) -> tokio::task::JoinHandle<()> {
        let auth = self.clone();
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(every);
            loop {
                tick.tick().await;
                if let Err(e) = auth.sweep().await {
                    tracing::warn!(error = %e, "session sweep failed");
                }
                auth.0.flights.prune();
                auth.0.limiter.retain_recent();
                auth.0.live.prune();
            }
        })
    }

    /// Deletes expired sessions, revoked ones after a day, spent tokens after a day (reuse of
    /// a token older than that is answered as unknown rather than revoking), old idempotency
    /// records and full rate-limit buckets.
    pub async fn sweep(&self) -> Result<(), sqlx::Error> {
        let now = db::now_ms();
        let day = 24 * 3600 * 1000;
        self.store()
            .sweep(store::Sweep {
                now,
                spent_before: now - day,
                idempotency_before: now - http::idempotency::KEEP_MS,
            })
            .await
    }
}

/// Reads `ttl` as whole seconds for JWT `exp` and cookie `Max-Age`.
fn secs(d: Duration) -> i64 {
    d.as_secs().max(1) as i64
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
