//! The store on SQLite: a native `SqlitePool`, one writer at a time (queued in the process, see
//! `writer()`), revocations learnt by other processes on the file within the liveness bound.
//! Rotations run on a thread of their own ([`writer`]), one hop each, committed in groups. The
//! statements both backends share are [`Portable`]'s; which of them wait for the write turn is
//! said here, method by method.

mod writer;

use super::migrations::{legacy_migrator, migrator, MADE_BEFORE_THE_PREFIX};
use super::model::{
    Backend, IdempotencyRecord, NewAccount, NewSession, OnAnnouncement, Replay, Rotated, Rotation,
    StoredSession, TokenState,
};
use super::portable::Portable;
use super::recovery::SqlRecovery;
use super::traits::{AccountStore, AnnouncementStore, IdempotencyStore, RootStore, SessionStore};
use crate::types::User;
use sqlx::{
    sqlite::{
        SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous,
    },
    Executor, Row, Sqlite,
};
use std::sync::{Arc, OnceLock};

pub(crate) struct SqliteStore {
    pool: SqlitePool,
    /// SQLite has one writer at a time; queueing this process's writers here is far cheaper than
    /// letting them spin in SQLite's sleeping busy handler. (Other processes on the same file
    /// still meet at SQLite's lock, with its busy timeout.)
    writes: Arc<tokio::sync::Mutex<()>>,
    /// The rotation thread, started by the first rotation once the database is a file on disk;
    /// `None` for an in-memory database, which no second connection can open (rotations then
    /// run on the pool, the same statements).
    rotations: OnceLock<Option<writer::Writer>>,
}

/// The engine's own pool on the app's database: WAL (readers never block the writer) and
/// `synchronous = NORMAL` (fsync at checkpoints; WAL keeps that crash-safe). An in-memory
/// database ignores the journal mode.
pub(crate) fn lazy_pool(options: SqliteConnectOptions, pool: SqlitePoolOptions) -> SqlitePool {
    pool.connect_lazy_with(
        options
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Normal),
    )
}

impl SqliteStore {
    pub fn new(pool: SqlitePool) -> Self {
        Self {
            pool,
            writes: Arc::new(tokio::sync::Mutex::new(())),
            rotations: OnceLock::new(),
        }
    }

    /// Account recovery on the same pool, taking the same write turn.
    pub fn recovery(&self) -> SqlRecovery<Sqlite> {
        SqlRecovery::new(self.pool.clone(), Some(self.writes.clone()), false)
    }

    fn sql(&self) -> Portable<'_, Sqlite> {
        Portable(&self.pool)
    }

    fn rotations(&self) -> Option<&writer::Writer> {
        self.rotations
            .get_or_init(|| {
                let path = self.pool.connect_options().get_filename().to_owned();
                if !path.is_file() {
                    return None;
                }
                writer::Writer::start(path, self.writes.clone())
                    .inspect_err(|e| tracing::warn!(error = %e, "no SQLite rotation thread"))
                    .ok()
            })
            .as_ref()
    }

    /// This process's turn to write.
    async fn writer(&self) -> tokio::sync::MutexGuard<'_, ()> {
        self.writes.lock().await
    }
}

#[async_trait::async_trait]
impl RootStore for SqliteStore {
    fn backend(&self) -> Backend {
        Backend::Sqlite
    }

    async fn migrate(&self) -> Result<(), sqlx::migrate::MigrateError> {
        let legacy = sqlx::query_scalar::<_, i64>(MADE_BEFORE_THE_PREFIX)
            .fetch_one(&self.pool)
            .await
            .is_ok_and(|n| n > 0);
        if legacy {
            legacy_migrator().run(&self.pool).await?;
        }
        migrator().run(&self.pool).await
    }

    /// A reader always gets through (WAL), so this takes the write lock for an instant
    /// (`BEGIN IMMEDIATE`, then `ROLLBACK`), which fails after the busy timeout while another
    /// process holds it.
    async fn health(&self) -> Result<(), sqlx::Error> {
        let _turn = self.writer().await;
        let mut conn = self.pool.acquire().await?;
        conn.execute("BEGIN IMMEDIATE").await?;
        if let Err(e) = conn.execute("ROLLBACK").await {
            // Never hand a connection with an open transaction back to the pool.
            conn.detach();
            return Err(e);
        }
        Ok(())
    }
}

#[async_trait::async_trait]
impl AccountStore for SqliteStore {
    async fn find_account(&self, email: &str) -> Result<Option<(User, String)>, sqlx::Error> {
        self.sql().find_account(email).await
    }

    async fn create_account(
        &self,
        account: NewAccount<'_>,
        session: &NewSession,
    ) -> Result<(), sqlx::Error> {
        let _turn = self.writer().await;
        self.sql().create_account(account, session).await
    }

    async fn take_bucket(
        &self,
        bucket: &str,
        now: i64,
        t: i64,
        burst: i64,
    ) -> Result<Option<i64>, sqlx::Error> {
        self.sql().take_bucket(bucket, now, t, burst).await
    }

    async fn sweep_buckets(&self, now: i64) -> Result<(), sqlx::Error> {
        self.sql().sweep_buckets(now).await
    }
}

#[async_trait::async_trait]
impl SessionStore for SqliteStore {
    async fn create_session(&self, session: &NewSession) -> Result<(), sqlx::Error> {
        let _turn = self.writer().await;
        self.sql().create_session(session).await
    }

    /// On the rotation thread (one hop, group commit); for an in-memory database, the same
    /// statements in a transaction on the pool.
    async fn rotate(&self, r: Rotation<'_>) -> Result<Option<Rotated>, sqlx::Error> {
        if let Some(rotations) = self.rotations() {
            return rotations.rotate(r).await;
        }
        let _turn = self.writer().await;
        let mut tx = self.pool.begin().await?;
        let spent = sqlx::query(writer::SPEND)
            .bind(r.now)
            .bind(r.hash)
            .fetch_optional(&mut *tx)
            .await?;
        let Some(spent) = spent else {
            tx.rollback().await?;
            return Ok(None);
        };
        let session_id: String = spent.try_get("session_id")?;
        let session = sqlx::query(writer::EXTEND)
            .bind(r.now)
            .bind(r.expires_at)
            .bind(&session_id)
            .fetch_one(&mut *tx)
            .await?;
        let user = User {
            id: session.try_get("user_id")?,
            email: session.try_get("email")?,
            email_verified: session
                .try_get::<Option<i64>, _>("email_verified_at")?
                .is_some(),
        };
        sqlx::query(writer::INSERT_CHILD)
            .bind(r.child_hash)
            .bind(&session_id)
            .bind(r.now)
            .bind(r.expires_at)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(Some(Rotated { session_id, user }))
    }

    async fn replay(&self, hash: &str) -> Result<Option<Replay>, sqlx::Error> {
        self.sql().replay(hash).await
    }

    async fn token_in_session(
        &self,
        hash: &str,
        sid: &str,
    ) -> Result<Option<TokenState>, sqlx::Error> {
        self.sql().token_in_session(hash, sid).await
    }

    async fn mark_lost_answer(
        &self,
        parent_hash: &str,
        child_hash: &str,
        sid: &str,
        now: i64,
    ) -> Result<bool, sqlx::Error> {
        let _turn = self.writer().await;
        self.sql()
            .mark_lost_answer(parent_hash, child_hash, sid, now)
            .await
    }

    async fn live_session(&self, sid: &str, now: i64) -> Result<Option<(User, i64)>, sqlx::Error> {
        self.sql().live_session(sid, now).await
    }

    async fn session_live(
        &self,
        sid: &str,
        unspent: Option<&str>,
        now: i64,
    ) -> Result<bool, sqlx::Error> {
        self.sql().session_live(sid, unspent, now).await
    }

    async fn session_of_token(&self, hash: &str) -> Result<Option<String>, sqlx::Error> {
        self.sql().session_of_token(hash).await
    }

    async fn revoke_session(
        &self,
        sid: &str,
        user_id: Option<&str>,
        now: i64,
    ) -> Result<bool, sqlx::Error> {
        self.sql().revoke_session(sid, user_id, now).await
    }

    async fn revoke_user(&self, user_id: &str, now: i64) -> Result<u64, sqlx::Error> {
        self.sql().revoke_user(user_id, now).await
    }

    async fn count_sessions(&self, user_id: &str, now: i64, cap: u32) -> Result<u64, sqlx::Error> {
        self.sql().count_sessions(user_id, now, cap).await
    }

    async fn list_sessions(
        &self,
        user_id: &str,
        now: i64,
    ) -> Result<Vec<StoredSession>, sqlx::Error> {
        self.sql().list_sessions(user_id, now).await
    }

    async fn sweep_sessions(&self, now: i64, spent_before: i64) -> Result<(), sqlx::Error> {
        self.sql().sweep_sessions(now, spent_before).await
    }
}

#[async_trait::async_trait]
impl IdempotencyStore for SqliteStore {
    async fn claim_key(
        &self,
        user_id: &str,
        key: &str,
        fingerprint: &str,
        now: i64,
    ) -> Result<bool, sqlx::Error> {
        self.sql().claim_key(user_id, key, fingerprint, now).await
    }

    async fn read_key(
        &self,
        user_id: &str,
        key: &str,
    ) -> Result<Option<IdempotencyRecord>, sqlx::Error> {
        self.sql().read_key(user_id, key).await
    }

    async fn finish_key(
        &self,
        user_id: &str,
        key: &str,
        status: i32,
        headers: &str,
        body: &str,
    ) -> Result<(), sqlx::Error> {
        self.sql()
            .finish_key(user_id, key, status, headers, body)
            .await
    }

    async fn release_key(&self, user_id: &str, key: &str) -> Result<(), sqlx::Error> {
        self.sql().release_key(user_id, key).await
    }

    async fn sweep_keys(&self, created_before: i64) -> Result<(), sqlx::Error> {
        self.sql().sweep_keys(created_before).await
    }
}

/// SQLite has no way to tell other processes: they learn within the liveness bound.
#[async_trait::async_trait]
impl AnnouncementStore for SqliteStore {
    async fn announce(&self, _payload: &str) -> Result<bool, sqlx::Error> {
        Ok(false)
    }

    async fn follow_announcements(
        &self,
        _on: OnAnnouncement,
        _stop: tokio::sync::oneshot::Receiver<()>,
    ) {
    }
}
