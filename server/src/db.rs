//! Opening the database: one `sqlx::AnyPool` over SQLite (default, embedded; its folder is
//! created and WAL is on) or PostgreSQL; then the engine on it (`Auth::connect`, its
//! migrations) and the app's migrations, in that order: a note refers to the engine's users.

use crate::config::redact_url;
use sessionflow::server::{
    config::{AuthConfig, ConfigError},
    Auth,
};
use sqlx::{any::AnyPoolOptions, AnyPool, Executor};
use std::{path::Path, time::Duration};

/// Opens the pool for `url`, connects the engine on it and applies the app's migrations.
pub async fn start(url: &str, config: AuthConfig) -> Result<(Auth, AnyPool), ConfigError> {
    let pool = connect(url).await?;
    let fail = |reason: String| ConfigError::new("DATABASE_URL", &redact_url(url), reason);
    let auth = Auth::connect(pool.clone(), config)
        .await
        .map_err(|e| fail(e.to_string()))?;
    app::migrate(&pool)
        .await
        .map_err(|e| fail(format!("the app's migrations failed: {e}")))?;
    Ok((auth, pool))
}

/// Opens the pool for `url`, without migrations.
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
    Ok(pool)
}

/// `sqlite://data/app.db?mode=rwc` → `data/app.db`.
fn sqlite_path(url: &str) -> Option<&Path> {
    let rest = url
        .strip_prefix("sqlite://")
        .or_else(|| url.strip_prefix("sqlite:"))?;
    let path = rest.split('?').next()?;
    (!path.is_empty() && path != ":memory:").then(|| Path::new(path))
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
}
