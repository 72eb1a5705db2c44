//! The server half of the engine (`ssr` feature): accounts, tokens, the rotating refresh store,
//! cookies, the per-request session layer and the JSON API.

pub mod accounts;
pub mod api;
pub mod config;
pub mod context;
pub mod cookies;
pub mod csrf;
pub mod db;
mod flight;
pub mod request;
pub mod session;
pub mod sessions;
pub mod status;
pub mod tokens;

use crate::types::User;
use config::{Config, TokenConfig};
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};
use sqlx::AnyPool;
use std::{num::NonZeroU32, sync::Arc, time::Duration};
use tokens::Keys;

/// A freshly issued token pair. Lives only in memory and in the cookies it is written to.
#[derive(Clone)]
pub struct Issued {
    pub user: User,
    pub session_id: String,
    pub access_token: String,
    pub access_max_age: i64,
    pub refresh_token: String,
    pub refresh_max_age: i64,
}

impl std::fmt::Debug for Issued {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Issued")
            .field("user", &self.user)
            .field("session_id", &self.session_id)
            .finish_non_exhaustive()
    }
}

/// Who is calling: a user in one session (refresh family).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principal {
    pub user: User,
    pub session_id: String,
}

/// The auth engine: database, keys and settings. Cheap to clone.
#[derive(Clone)]
pub struct Auth(Arc<Inner>);

struct Inner {
    db: AnyPool,
    keys: Keys,
    tokens: TokenConfig,
    cookie_secure: bool,
    flights: flight::Flights,
    login_limiter: DefaultKeyedRateLimiter<String>,
    /// SQLite has one writer at a time; queueing writers here is far cheaper than letting them
    /// spin in SQLite's sleeping busy handler. `None` on PostgreSQL. (Other processes on the same
    /// file still meet at SQLite's lock, with its busy timeout.)
    sqlite_writes: Option<tokio::sync::Mutex<()>>,
}

impl Auth {
    /// Connects to the database, applies migrations and loads the signing secret.
    pub async fn from_config(config: &Config) -> anyhow::Result<Self> {
        let db = db::connect(&config.database_url).await?;
        let secret = tokens::load_secret(&config.secret)?;
        Ok(Self::new(
            db,
            &secret,
            config.tokens.clone(),
            config.cookie_secure,
        ))
    }

    pub fn new(db: AnyPool, secret: &[u8], tokens: TokenConfig, cookie_secure: bool) -> Self {
        // Ten sign-in attempts per address in a burst, then one every six seconds.
        let quota = Quota::with_period(Duration::from_secs(6))
            .expect("non-zero period")
            .allow_burst(NonZeroU32::new(10).expect("non-zero"));
        let sqlite = db.connect_options().database_url.scheme() == "sqlite";
        Self(Arc::new(Inner {
            sqlite_writes: sqlite.then(|| tokio::sync::Mutex::new(())),
            keys: Keys::new(secret, &tokens),
            flights: flight::Flights::new(tokens.reuse_grace),
            login_limiter: RateLimiter::keyed(quota),
            db,
            tokens,
            cookie_secure,
        }))
    }

    pub fn db(&self) -> &AnyPool {
        &self.0.db
    }

    pub fn token_config(&self) -> &TokenConfig {
        &self.0.tokens
    }

    pub fn cookie_secure(&self) -> bool {
        self.0.cookie_secure
    }

    pub(crate) fn keys(&self) -> &Keys {
        &self.0.keys
    }

    /// Held around multi-statement write transactions (see `Inner::sqlite_writes`).
    pub(crate) async fn write_turn(&self) -> Option<tokio::sync::MutexGuard<'_, ()>> {
        match &self.0.sqlite_writes {
            Some(m) => Some(m.lock().await),
            None => None,
        }
    }

    /// Spawns the periodic sweep of expired sessions and old spent tokens.
    pub fn spawn_sweeper(&self, every: Duration) -> tokio::task::JoinHandle<()> {
        let auth = self.clone();
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(every);
            loop {
                tick.tick().await;
                if let Err(e) = auth.sweep().await {
                    tracing::warn!(error = %e, "session sweep failed");
                }
                auth.0.flights.prune();
                auth.0.login_limiter.retain_recent();
            }
        })
    }
}

/// Reads `ttl` as whole seconds for JWT `exp` and cookie `Max-Age`.
fn secs(d: Duration) -> i64 {
    d.as_secs().max(1) as i64
}
