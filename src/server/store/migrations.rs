//! The engine's migrations, embedded at compile time, and how a backend tells a database made
//! before the `sessionflow_` prefix. Each backend's `migrate()` runs them in its order.

/// The current schema (`src/migrations`), every table prefixed `sessionflow_`. The app's
/// migrations share sqlx's bookkeeping table, so each migrator ignores the other's versions.
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
