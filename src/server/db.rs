//! The database: the app's `sqlx::AnyPool` over SQLite or PostgreSQL, and the engine's own
//! migrations. All SQL in this crate is portable: `$n` placeholders (sqlx's SQLite driver binds them
//! by number), `TEXT` ids and hashes, `BIGINT` unix-millisecond timestamps.

use sqlx::{AnyPool, Executor};

/// Applies the engine's own migrations (`src/migrations`, embedded at compile time) to the app's
/// pool. The app's migrations share sqlx's bookkeeping table, so each migrator ignores the
/// other's versions.
pub(crate) async fn migrate(db: &AnyPool) -> Result<(), sqlx::migrate::MigrateError> {
    let mut migrator = sqlx::migrate!("./src/migrations");
    migrator.set_ignore_missing(true);
    migrator.run(db).await
}

impl super::Auth {
    /// Whether the database can take the writes signing in needs. PostgreSQL: it answers.
    /// SQLite: a reader always gets through (WAL), so this takes the write lock for an instant
    /// (`BEGIN IMMEDIATE`, then `ROLLBACK`), which fails after the busy timeout while another
    /// process holds it.
    pub async fn health(&self) -> Result<(), sqlx::Error> {
        let Some(turn) = self.0.sqlite_writes.as_ref() else {
            sqlx::query("SELECT 1").execute(self.db()).await?;
            return Ok(());
        };
        let _turn = turn.lock().await;
        let mut conn = self.db().acquire().await?;
        conn.execute("BEGIN IMMEDIATE").await?;
        if let Err(e) = conn.execute("ROLLBACK").await {
            // Never hand a connection with an open transaction back to the pool.
            conn.detach();
            return Err(e);
        }
        Ok(())
    }
}

/// Milliseconds since the Unix epoch: the one time format stored.
pub(crate) fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

/// RFC 3339 for a stored millisecond timestamp.
pub(crate) fn rfc3339(ms: i64) -> String {
    time::OffsetDateTime::from_unix_timestamp_nanos(ms as i128 * 1_000_000)
        .ok()
        .and_then(|t| {
            t.format(&time::format_description::well_known::Rfc3339)
                .ok()
        })
        .unwrap_or_default()
}

/// Whether a database error is a unique-constraint violation (→ `conflict`, never 500).
pub(crate) fn is_unique_violation(e: &sqlx::Error) -> bool {
    matches!(e, sqlx::Error::Database(d) if d.is_unique_violation())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_format_as_rfc3339() {
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00Z");
    }
}
