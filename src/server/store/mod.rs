//! The storage seam (docs/architecture.md, "Storage"): every question the engine asks of its
//! database is a method of one of the traits in [`traits`], one per owner ([`AccountStore`],
//! [`SessionStore`], [`AnnouncementStore`], [`IdempotencyStore`], [`RootStore`]) or of
//! [`RecoveryStore`], answered by [`sqlite::SqliteStore`] on a native `SqlitePool` or
//! [`postgres::PgStore`] on a native `PgPool`. [`Stores`] hands each owner its trait.
//!
//! Statements both backends run alike are written once ([`portable`], generic over sqlx's
//! `Pool<DB>`), and the owner traits that are nothing but them once more ([`shared`], for any
//! backend's pool, after its write turn); what each backend does its own way (a rotation, the
//! health check, announcing revocations, migrations, whether it has a write turn) is in its own
//! file, as plain `impl` blocks. So "where is the SQL for rotation?" has one answer per backend:
//! `sqlite/` and `postgres.rs`.
//!
//! The files import one way: `mod.rs` declares, re-exports and constructs; the backends use
//! [`model`], [`traits`], [`shared`], [`migrations`] and [`recovery`], never `mod.rs`.
//!
//! The engine's rules (which replay is a lost answer, when a family is revoked) are not here:
//! they live in `sessions/mod.rs`, which asks these questions.

mod migrations;
pub(crate) mod model;
mod portable;
mod postgres;
pub(crate) mod recovery;
mod shared;
mod sqlite;
pub(crate) mod traits;

#[cfg(test)]
mod contract_tests;

pub(crate) use model::{Backend, NewAccount, NewSession, OnAnnouncement, Rotation, TokenState};
pub(crate) use recovery::RecoveryStore;
pub(crate) use traits::{
    AccountStore, AnnouncementStore, IdempotencyStore, RootStore, SessionStore,
};

use sqlx::{any::AnyConnectOptions, postgres::PgPool, sqlite::SqlitePool, AnyPool};
use std::sync::Arc;

/// One database's stores, each handed to the part of the engine that owns it (`Auth` keeps the
/// root and gives out the rest). All of them are the same backend store on the same pool.
#[derive(Clone)]
pub(crate) struct Stores {
    pub root: Arc<dyn RootStore>,
    pub accounts: Arc<dyn AccountStore>,
    pub recovery: Arc<dyn RecoveryStore>,
    pub sessions: Arc<dyn SessionStore>,
    pub announcements: Arc<dyn AnnouncementStore>,
    pub idempotency: Arc<dyn IdempotencyStore>,
}

impl Stores {
    fn of<S>(store: S, recovery: impl RecoveryStore + 'static) -> Self
    where
        S: RootStore + AccountStore + SessionStore + AnnouncementStore + IdempotencyStore,
    {
        let store = Arc::new(store);
        Self {
            root: store.clone(),
            accounts: store.clone(),
            recovery: Arc::new(recovery),
            sessions: store.clone(),
            announcements: store.clone(),
            idempotency: store,
        }
    }

    pub(crate) fn sqlite(pool: SqlitePool) -> Self {
        let store = sqlite::SqliteStore::new(pool);
        let recovery = store.recovery();
        Self::of(store, recovery)
    }

    pub(crate) fn postgres(pool: PgPool) -> Self {
        let store = postgres::PgStore::new(pool);
        let recovery = store.recovery();
        Self::of(store, recovery)
    }
}

/// The database the engine keeps its tables in, built with `From`: from the app's own pool (a
/// `SqlitePool` or `PgPool` is used as it is; an `AnyPool` gives a native pool of the same
/// backend, as large and as patient as the app's, opened lazily on its connect options; an
/// in-memory SQLite `AnyPool` would be a second, separate database: pass a `SqlitePool` for
/// that), or from a URL (`sqlite://…`, `postgres://…`) for an app that has no pool of its own.
/// [`Auth::connect`](crate::server::Auth::connect) reports a pool or URL it cannot take.
#[derive(Clone, Debug)]
pub struct Database(Pool);

#[derive(Clone, Debug)]
enum Pool {
    Sqlite(SqlitePool),
    Postgres(PgPool),
    Any(AnyPool),
    Url(String),
}

impl From<SqlitePool> for Database {
    fn from(pool: SqlitePool) -> Self {
        Self(Pool::Sqlite(pool))
    }
}

impl From<PgPool> for Database {
    fn from(pool: PgPool) -> Self {
        Self(Pool::Postgres(pool))
    }
}

impl From<AnyPool> for Database {
    fn from(pool: AnyPool) -> Self {
        Self(Pool::Any(pool))
    }
}

impl From<&AnyPool> for Database {
    fn from(pool: &AnyPool) -> Self {
        Self(Pool::Any(pool.clone()))
    }
}

impl From<&str> for Database {
    fn from(url: &str) -> Self {
        Self(Pool::Url(url.to_owned()))
    }
}

impl From<String> for Database {
    fn from(url: String) -> Self {
        Self(Pool::Url(url))
    }
}

impl Database {
    /// The stores for this database. A URL or an `AnyPool` becomes a native pool (sqlx's own
    /// conversion of the connect options), sized like the app's pool when there is one; a scheme
    /// the engine does not speak, or a URL that does not parse, is an error that says why.
    pub(crate) fn into_stores(self) -> Result<Stores, String> {
        match self.0 {
            Pool::Sqlite(pool) => Ok(Stores::sqlite(pool)),
            Pool::Postgres(pool) => Ok(Stores::postgres(pool)),
            Pool::Url(url) => native(&url.parse().map_err(|e: sqlx::Error| e.to_string())?, None),
            Pool::Any(any) => native(
                &any.connect_options(),
                Some((
                    any.options().get_max_connections(),
                    any.options().get_acquire_timeout(),
                )),
            ),
        }
    }
}

/// The stores on a native pool for `options`, opened lazily; `size`: the app pool's connection
/// count and acquire timeout, to be as large and as patient.
fn native(
    options: &AnyConnectOptions,
    size: Option<(u32, std::time::Duration)>,
) -> Result<Stores, String> {
    fn pool<DB: sqlx::Database>(
        size: Option<(u32, std::time::Duration)>,
    ) -> sqlx::pool::PoolOptions<DB> {
        let pool = sqlx::pool::PoolOptions::new();
        match size {
            Some((max, timeout)) => pool.max_connections(max).acquire_timeout(timeout),
            None => pool,
        }
    }
    let why = |e: sqlx::Error| e.to_string();
    Ok(match options.database_url.scheme() {
        "sqlite" => Stores::sqlite(sqlite::lazy_pool(
            options.try_into().map_err(why)?,
            pool(size),
        )),
        "postgres" | "postgresql" => {
            Stores::postgres(pool(size).connect_lazy_with(options.try_into().map_err(why)?))
        }
        other => return Err(format!("the engine needs sqlite or postgres, not {other}")),
    })
}
