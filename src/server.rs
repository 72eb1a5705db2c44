//! The server half of the engine (`ssr` feature): accounts, tokens, the rotating refresh store,
//! cookies, the per-request session layer and the JSON API.

pub mod accounts;
pub mod api;
pub mod client_ip;
pub mod config;
pub mod context;
pub mod cookies;
pub mod csrf;
pub mod db;
mod flight;
pub mod headers;
pub mod idempotency;
pub mod limits;
pub mod page_layer;
pub mod refresh_store;
pub mod request;
pub mod status;
pub mod tokens;

use crate::types::User;
use config::{AuthSettings, Config, TokenConfig};
use sqlx::AnyPool;
use std::{sync::Arc, time::Duration};
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
    settings: AuthSettings,
    flights: flight::Flights,
    limiter: limits::Limiter,
    hashing: limits::HashPool,
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
        Ok(Self::new(db, &secret, config.auth.clone()))
    }

    pub fn new(db: AnyPool, secret: &[u8], settings: AuthSettings) -> Self {
        let sqlite = db.connect_options().database_url.scheme() == "sqlite";
        Self(Arc::new(Inner {
            sqlite_writes: sqlite.then(|| tokio::sync::Mutex::new(())),
            keys: Keys::new(secret, &settings.tokens),
            flights: flight::Flights::new(settings.tokens.reuse_grace),
            limiter: limits::Limiter::new(&settings.limits),
            hashing: limits::HashPool::new(&settings.limits),
            db,
            settings,
        }))
    }

    pub fn db(&self) -> &AnyPool {
        &self.0.db
    }

    pub fn settings(&self) -> &AuthSettings {
        &self.0.settings
    }

    pub fn token_config(&self) -> &TokenConfig {
        &self.0.settings.tokens
    }

    pub fn cookie_secure(&self) -> bool {
        self.0.settings.cookie_secure
    }

    /// The most password hashes that ran at once since start (bounded by the configured workers).
    pub fn hashing_peak(&self) -> usize {
        self.0.hashing.peak()
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
                auth.0.limiter.retain_recent();
            }
        })
    }
}

/// Reads `ttl` as whole seconds for JWT `exp` and cookie `Max-Age`.
fn secs(d: Duration) -> i64 {
    d.as_secs().max(1) as i64
}
