//! The store on SQLite: a native `SqlitePool`, one writer at a time (queued in the process, see
//! `writer()`), revocations learnt by other processes on the file within the liveness bound.
//! Rotations run on a thread of their own ([`writer`]), one hop each, committed in groups. The
//! owner traits both backends answer alike are implemented once ([`super::shared`]); this file
//! gives them the pool, the write turn and the rotation.

mod writer;

use super::migrations::{legacy_migrator, migrator, MADE_BEFORE_THE_PREFIX};
use super::model::{Backend, OnAnnouncement, Rotated, Rotation};
use super::recovery::SqlRecovery;
use super::shared::SqlBackend;
use super::traits::{AnnouncementStore, RootStore};
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
impl SqlBackend for SqliteStore {
    type Pool = SqlitePool;

    fn pool(&self) -> &SqlitePool {
        &self.pool
    }

    fn write_turn(&self) -> Option<&tokio::sync::Mutex<()>> {
        Some(&self.writes)
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
