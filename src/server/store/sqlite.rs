//! The store on SQLite: a native `SqlitePool`, one writer at a time (queued in the process, see
//! `writer`), revocations learnt by other processes on the file within the liveness bound.

use super::{
    Backend, IdempotencyRecord, NewAccount, NewSession, OnAnnouncement, Replay, Rotated, Rotation,
    StoredSession, Sweep, TokenState,
};
use crate::types::User;
use sqlx::{
    sqlite::{
        SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous,
    },
    Executor, Row, Sqlite,
};
use std::str::FromStr;

pub(crate) struct SqliteStore {
    pool: SqlitePool,
    /// SQLite has one writer at a time; queueing this process's writers here is far cheaper than
    /// letting them spin in SQLite's sleeping busy handler. (Other processes on the same file
    /// still meet at SQLite's lock, with its busy timeout.)
    writes: tokio::sync::Mutex<()>,
}

/// A native pool on the URL of the app's `AnyPool`: WAL (readers never block the writer) and
/// `synchronous = NORMAL` (fsync at checkpoints; WAL keeps that crash-safe).
pub(super) fn lazy_pool(url: &str, max_connections: u32) -> SqlitePool {
    let options = SqliteConnectOptions::from_str(url)
        .unwrap_or_else(|_| SqliteConnectOptions::new().filename(url));
    let in_memory = url.contains(":memory:") || url.contains("mode=memory");
    let options = if in_memory {
        options
    } else {
        options
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Normal)
    };
    SqlitePoolOptions::new()
        .max_connections(max_connections)
        .connect_lazy_with(options)
}

impl SqliteStore {
    pub fn new(pool: SqlitePool) -> Self {
        Self {
            pool,
            writes: tokio::sync::Mutex::new(()),
        }
    }

    /// This process's turn to write.
    async fn writer(&self) -> Option<tokio::sync::MutexGuard<'_, ()>> {
        Some(self.writes.lock().await)
    }
}

insert_session_fn!(Sqlite);

store_impl!(SqliteStore, {
    fn backend(&self) -> Backend {
        Backend::Sqlite
    }

    async fn migrate(&self) -> Result<(), sqlx::migrate::MigrateError> {
        let mut migrator = sqlx::migrate!("./src/migrations");
        migrator.set_ignore_missing(true);
        migrator.run(&self.pool).await
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

    /// One transaction: spend (the conditional update that succeeds once per token), extend the
    /// session (which answers whose it is), insert the successor.
    async fn rotate(&self, r: Rotation<'_>) -> Result<Option<Rotated>, sqlx::Error> {
        let _turn = self.writer().await;
        let mut tx = self.pool.begin().await?;
        let spent = sqlx::query(
            "UPDATE refresh_tokens SET spent_at = $1 \
             WHERE hash = $2 AND spent_at IS NULL AND expires_at > $1 RETURNING session_id",
        )
        .bind(r.now)
        .bind(r.hash)
        .fetch_optional(&mut *tx)
        .await?;
        let Some(spent) = spent else {
            tx.rollback().await?;
            return Ok(None);
        };
        let sid: String = spent.try_get("session_id")?;
        let session = sqlx::query(
            "UPDATE sessions SET last_used_at = $1, expires_at = $2 \
             WHERE id = $3 AND revoked_at IS NULL AND expires_at > $1 \
             RETURNING user_id, (SELECT email FROM users WHERE users.id = sessions.user_id) AS email",
        )
        .bind(r.now)
        .bind(r.expires_at)
        .bind(&sid)
        .fetch_optional(&mut *tx)
        .await?;
        // A revoked or expired session: nothing is spent.
        let Some(session) = session else {
            tx.rollback().await?;
            return Ok(None);
        };
        let user = User {
            id: session.try_get("user_id")?,
            email: session.try_get("email")?,
        };
        sqlx::query(
            "INSERT INTO refresh_tokens (hash, session_id, created_at, expires_at) \
             VALUES ($1, $2, $3, $4)",
        )
        .bind(r.child_hash)
        .bind(&sid)
        .bind(r.now)
        .bind(r.expires_at)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(Some(Rotated {
            session_id: sid,
            user,
        }))
    }

    async fn announce(&self, _payload: &str) -> Result<bool, sqlx::Error> {
        Ok(false)
    }

    async fn follow_announcements(
        &self,
        _on: OnAnnouncement,
        _stop: tokio::sync::oneshot::Receiver<()>,
    ) {
    }
});
