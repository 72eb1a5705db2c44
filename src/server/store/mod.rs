//! The storage seam (docs/architecture.md, "Storage"): every question the engine asks of its
//! database is a method of [`Store`], answered by [`sqlite::SqliteStore`] on a native
//! `SqlitePool` or [`postgres::PgStore`] on a native `PgPool`.
//!
//! Statements both backends run alike are written once ([`portable`]); what each backend does its
//! own way (a rotation, the health check, announcing revocations, migrations) is in its own file.
//! So "where is the SQL for rotation?" has one answer per backend: `sqlite.rs` and `postgres.rs`.
//!
//! The engine's rules (which replay is a lost answer, when a family is revoked) are not here:
//! they live in `sessions/mod.rs`, which asks these questions.

#[macro_use]
mod portable;
mod postgres;
pub(crate) mod recovery;
mod sqlite;

use crate::types::User;
use sqlx::{any::AnyConnectOptions, postgres::PgPool, sqlite::SqlitePool, AnyPool};
use std::sync::Arc;

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
    /// The store for this database. A URL or an `AnyPool` becomes a native pool (sqlx's own
    /// conversion of the connect options), sized like the app's pool when there is one; a scheme
    /// the engine does not speak is an error.
    pub(crate) fn into_store(self) -> Result<Arc<dyn Store>, sqlx::Error> {
        match self.0 {
            Pool::Sqlite(pool) => Ok(Arc::new(sqlite::SqliteStore::new(pool))),
            Pool::Postgres(pool) => Ok(Arc::new(postgres::PgStore::new(pool))),
            Pool::Url(url) => native(&url.parse()?, None),
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

/// A store on a native pool for `options`, opened lazily; `size`: the app pool's connection
/// count and acquire timeout, to be as large and as patient.
fn native(
    options: &AnyConnectOptions,
    size: Option<(u32, std::time::Duration)>,
) -> Result<Arc<dyn Store>, sqlx::Error> {
    fn pool<DB: sqlx::Database>(
        size: Option<(u32, std::time::Duration)>,
    ) -> sqlx::pool::PoolOptions<DB> {
        let pool = sqlx::pool::PoolOptions::new();
        match size {
            Some((max, timeout)) => pool.max_connections(max).acquire_timeout(timeout),
            None => pool,
        }
    }
    Ok(match options.database_url.scheme() {
        "sqlite" => Arc::new(sqlite::SqliteStore::new(sqlite::lazy_pool(
            options.try_into()?,
            pool(size),
        ))),
        "postgres" | "postgresql" => Arc::new(postgres::PgStore::new(
            pool(size).connect_lazy_with(options.try_into()?),
        )),
        other => return Err(unsupported(other)),
    })
}

fn unsupported(scheme: &str) -> sqlx::Error {
    sqlx::Error::Configuration(format!("the engine needs sqlite or postgres, not {scheme}").into())
}

/// The engine's migrations (`src/migrations`, embedded at compile time): the current schema,
/// every table prefixed `sessionflow_`. The app's migrations share sqlx's bookkeeping table, so
/// each migrator ignores the other's versions.
pub(crate) fn migrator() -> sqlx::migrate::Migrator {
    let mut migrator = sqlx::migrate!("./src/migrations");
    migrator.set_ignore_missing(true);
    migrator
}

/// The migrations of databases created before the prefix (`src/migrations/legacy`): the rest of
/// the old schema's, then the renaming. Run before `migrator()`, only on such a database
/// ([`MADE_BEFORE_THE_PREFIX`]); a new database never gets an unprefixed table.
pub(crate) fn legacy_migrator() -> sqlx::migrate::Migrator {
    let mut migrator = sqlx::migrate!("./src/migrations/legacy");
    migrator.set_ignore_missing(true);
    migrator
}

/// PostgreSQL's part of the renaming (`src/migrations/legacy/postgres`): constraint names.
pub(crate) fn legacy_postgres_migrator() -> sqlx::migrate::Migrator {
    let mut migrator = sqlx::migrate!("./src/migrations/legacy/postgres");
    migrator.set_ignore_missing(true);
    migrator
}

/// Counts the first legacy migration in sqlx's bookkeeping table: 1 on a database created
/// before the prefix. A database without the table (a new one) fails the query, which says the
/// same as 0.
pub(crate) const MADE_BEFORE_THE_PREFIX: &str =
    "SELECT COUNT(*) FROM _sqlx_migrations WHERE version = 20261122000000";

/// The user in a row with `id`, `email` and `email_verified_at` columns.
pub(crate) fn user_of<R>(r: &R) -> Result<User, sqlx::Error>
where
    R: sqlx::Row,
    for<'a> &'a str: sqlx::ColumnIndex<R>,
    for<'r> String: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
    for<'r> Option<i64>: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
{
    Ok(User {
        id: r.try_get("id")?,
        email: r.try_get("email")?,
        email_verified: r.try_get::<Option<i64>, _>("email_verified_at")?.is_some(),
    })
}

/// Which backend a store runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Backend {
    Sqlite,
    Postgres,
}

/// A session (refresh family) and its first refresh token, to be inserted.
pub(crate) struct NewSession {
    pub id: String,
    pub user_id: String,
    /// Kept to its first 256 characters.
    pub user_agent: Option<String>,
    /// The hash of its first refresh token.
    pub refresh_hash: String,
    pub now: i64,
    pub expires_at: i64,
}

/// An account to be inserted.
pub(crate) struct NewAccount<'a> {
    pub user: &'a User,
    pub password_hash: &'a str,
    pub now: i64,
}

/// One rotation: spend `hash` and store `child_hash` as its successor, extending the session to
/// `expires_at`.
pub(crate) struct Rotation<'a> {
    pub hash: &'a str,
    pub child_hash: &'a str,
    pub now: i64,
    pub expires_at: i64,
}

/// What a rotation that spent its token produced: the session and its user.
pub(crate) struct Rotated {
    pub session_id: String,
    pub user: User,
}

/// What is known about a token that could not be spent (docs/protocol.md#reuse).
pub(crate) struct Replay {
    pub session_id: String,
    pub user_id: String,
    /// `None`: never spent (it expired).
    pub spent_at: Option<i64>,
    pub session_revoked: bool,
}

/// A stored token's state: `spent_at` and `expires_at`.
pub(crate) struct TokenState {
    pub spent_at: Option<i64>,
    pub expires_at: i64,
}

/// A live session, as the devices page lists it.
pub(crate) struct StoredSession {
    pub id: String,
    pub created_at: i64,
    pub last_used_at: i64,
    pub user_agent: Option<String>,
}

/// An idempotency record.
pub(crate) struct IdempotencyRecord {
    pub fingerprint: String,
    pub status: Option<i32>,
    pub headers: Option<String>,
    pub body: Option<String>,
    pub created_at: i64,
}

/// The cut-offs of one sweep: rows older than these go.
pub(crate) struct Sweep {
    pub now: i64,
    /// Revoked sessions and spent tokens revoked/spent before this.
    pub spent_before: i64,
    /// Idempotency records created before this.
    pub idempotency_before: i64,
}

/// Called with each revocation another instance announces (`Some(payload)`), or `None` when
/// announcements may have been missed (the connection dropped).
pub(crate) type OnAnnouncement = Box<dyn Fn(Option<&str>) -> bool + Send + Sync>;

/// Everything the engine asks of its database. Timestamps are unix milliseconds; tokens and
/// bucket names arrive hashed.
#[async_trait::async_trait]
pub(crate) trait Store: Send + Sync + 'static {
    fn backend(&self) -> Backend;

    /// The storage of account recovery (links, passwords, the mail outbox).
    fn recovery(&self) -> &dyn recovery::RecoveryStore;

    /// Applies the engine's migrations: the legacy ones first on a database created before the
    /// prefix, then the current ones.
    async fn migrate(&self) -> Result<(), sqlx::migrate::MigrateError>;

    /// Whether the database can take the writes signing in needs.
    async fn health(&self) -> Result<(), sqlx::Error>;

    // Accounts.

    /// The user and their password hash.
    async fn find_account(&self, email: &str) -> Result<Option<(User, String)>, sqlx::Error>;

    /// Inserts the user and its first session in one transaction: a failure leaves neither (a
    /// taken email is a unique violation).
    async fn create_account(
        &self,
        account: NewAccount<'_>,
        session: &NewSession,
    ) -> Result<(), sqlx::Error>;

    // Sessions and their refresh tokens.

    async fn create_session(&self, session: &NewSession) -> Result<(), sqlx::Error>;

    /// Spends the token if it is unspent, unexpired and its session live, and stores its
    /// successor: one unit, at most once per token however many instances race. `None` when the
    /// token could not be spent (nothing changed).
    async fn rotate(&self, rotation: Rotation<'_>) -> Result<Option<Rotated>, sqlx::Error>;

    /// What is known about a stored token and its session.
    async fn replay(&self, hash: &str) -> Result<Option<Replay>, sqlx::Error>;

    /// A token of session `sid`.
    async fn token_in_session(
        &self,
        hash: &str,
        sid: &str,
    ) -> Result<Option<TokenState>, sqlx::Error>;

    /// Marks the parent as replayed once, if its successor is still unspent and unexpired: `true`
    /// for the one caller that marked it.
    async fn mark_lost_answer(
        &self,
        parent_hash: &str,
        child_hash: &str,
        sid: &str,
        now: i64,
    ) -> Result<bool, sqlx::Error>;

    /// The live session's user and when it expires.
    async fn live_session(&self, sid: &str, now: i64) -> Result<Option<(User, i64)>, sqlx::Error>;

    /// Whether the session is live and, with `unspent`, that token of it unspent.
    async fn session_live(
        &self,
        sid: &str,
        unspent: Option<&str>,
        now: i64,
    ) -> Result<bool, sqlx::Error>;

    /// The session a refresh token belongs to.
    async fn session_of_token(&self, hash: &str) -> Result<Option<String>, sqlx::Error>;

    /// Revokes a session (only if it is `user_id`'s, when given): `true` if it was live.
    async fn revoke_session(
        &self,
        sid: &str,
        user_id: Option<&str>,
        now: i64,
    ) -> Result<bool, sqlx::Error>;

    /// Revokes every session of a user: how many were live.
    async fn revoke_user(&self, user_id: &str, now: i64) -> Result<u64, sqlx::Error>;

    /// Tells other instances about a revocation (`s:<sid>` or `u:<user id>`); `false` when this
    /// backend has no way to (they learn within the liveness bound instead).
    async fn announce(&self, payload: &str) -> Result<bool, sqlx::Error>;

    /// Follows other instances' announcements until `stop` fires or `on` returns `false`;
    /// returns at once on a backend without announcements.
    async fn follow_announcements(
        &self,
        on: OnAnnouncement,
        stop: tokio::sync::oneshot::Receiver<()>,
    );

    /// Live sessions of a user, counting at most `cap`.
    async fn count_sessions(&self, user_id: &str, now: i64, cap: u32) -> Result<u64, sqlx::Error>;

    /// The user's live sessions, most recently used first.
    async fn list_sessions(
        &self,
        user_id: &str,
        now: i64,
    ) -> Result<Vec<StoredSession>, sqlx::Error>;

    /// Deletes what is no longer needed.
    async fn sweep(&self, cutoffs: Sweep) -> Result<(), sqlx::Error>;

    // Idempotency records.

    /// Inserts a pending record: `true` if this caller holds the key now.
    async fn claim_key(
        &self,
        user_id: &str,
        key: &str,
        fingerprint: &str,
        now: i64,
    ) -> Result<bool, sqlx::Error>;

    async fn read_key(
        &self,
        user_id: &str,
        key: &str,
    ) -> Result<Option<IdempotencyRecord>, sqlx::Error>;

    /// Stores the final answer.
    async fn finish_key(
        &self,
        user_id: &str,
        key: &str,
        status: i32,
        headers: &str,
        body: &str,
    ) -> Result<(), sqlx::Error>;

    async fn release_key(&self, user_id: &str, key: &str) -> Result<(), sqlx::Error>;

    // Rate-limit buckets kept in the database (docs/limits.md).

    /// GCRA: moves the bucket's theoretical arrival time `t` later if that stays within `burst`
    /// of `now`. `None` when it had room; else the bucket's current arrival time.
    async fn take_bucket(
        &self,
        bucket: &str,
        now: i64,
        t: i64,
        burst: i64,
    ) -> Result<Option<i64>, sqlx::Error>;
}
