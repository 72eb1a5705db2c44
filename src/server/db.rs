//! The database: one `sqlx::AnyPool` over SQLite (default, embedded) or PostgreSQL, and the one
//! migrator. All SQL in this crate is portable: `$n` placeholders (sqlx's SQLite driver binds them
//! by number), `TEXT` ids and hashes, `BIGINT` unix-millisecond timestamps.

use super::config::{redact_url, ConfigError};
use sqlx::{any::AnyPoolOptions, AnyPool, Executor};
use std::{path::Path, time::Duration};

/// Every migration in the top-level `migrations/` folder, embedded at compile time.
pub static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations");

/// Opens the pool, creating the SQLite file's folder if needed, and applies pending migrations.
pub async fn connect(url: &str) -> Result<AnyPool, ConfigError> {
    sqlx::any::install_default_drivers();
    let fail = |reason: String| ConfigError::new("DATABASE_URL", &redact_url(url), reason);
    let sqlite = url.starts_with("sqlite:");
    if sqlite {
        if let Some(dir) = sqlite_path(url).and_then(|p| p.parent().map(Path::to_path_buf)) {
            if !dir.as_os_str().is_empty() {
                std::fs::create_dir_all(&dir)
                    .map_err(|e| fail(format!("cannot create {}: {e}", dir.display())))?;
            }
        }
    }
    let pool = AnyPoolOptions::new()
        .max_connections(if sqlite { 8 } else { 16 })
        .acquire_timeout(Duration::from_secs(5))
        .after_connect(move |conn, _| {
            Box::pin(async move {
                if sqlite {
                    // Per connection: fsync at checkpoints only; WAL keeps that crash-safe.
                    conn.execute("PRAGMA synchronous = NORMAL").await?;
                }
                Ok(())
            })
        })
        .connect(url)
        .await
        .map_err(|e| fail(format!("cannot connect: {e}")))?;
    if sqlite {
        // Persistent in the file: readers never block the writer.
        pool.execute("PRAGMA journal_mode = WAL")
            .await
            .map_err(|e| fail(format!("cannot enable WAL: {e}")))?;
    }
    MIGRATOR
        .run(&pool)
        .await
        .map_err(|e| fail(format!("migrations failed: {e}")))?;
    Ok(pool)
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

/// `sqlite://data/app.db?mode=rwc` → `data/app.db`.
fn sqlite_path(url: &str) -> Option<&Path> {
    let rest = url
        .strip_prefix("sqlite://")
        .or_else(|| url.strip_prefix("sqlite:"))?;
    let path = rest.split('?').next()?;
    (!path.is_empty() && path != ":memory:").then(|| Path::new(path))
}

/// Milliseconds since the Unix epoch: the one time format stored.
pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

/// RFC 3339 for a stored millisecond timestamp.
pub fn rfc3339(ms: i64) -> String {
    time::OffsetDateTime::from_unix_timestamp_nanos(ms as i128 * 1_000_000)
        .ok()
        .and_then(|t| {
            t.format(&time::format_description::well_known::Rfc3339)
                .ok()
        })
        .unwrap_or_default()
}

/// Whether a database error is a unique-constraint violation (→ `conflict`, never 500).
pub fn is_unique_violation(e: &sqlx::Error) -> bool {
    matches!(e, sqlx::Error::Database(d) if d.is_unique_violation())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sqlite_paths_are_read_from_urls() {
        assert_eq!(
            sqlite_path("sqlite://data/app.db?mode=rwc"),
            Some(Path::new("data/app.db"))
        );
        assert_eq!(sqlite_path("sqlite:x.db"), Some(Path::new("x.db")));
        assert_eq!(sqlite_path("sqlite::memory:"), None);
    }

    #[test]
    fn timestamps_format_as_rfc3339() {
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00Z");
    }
}
