//! What both crates' tests share, kept once: the engine's tests (`tests/support/mod.rs`) and the
//! server's (`server/tests/support/mod.rs`, by `#[path]`, since the two test trees are different
//! crates) include this file. The backends a test runs on, one test per backend
//! ([`per_backend!`]), the signing secret and the log capture.
#![allow(dead_code, unused_macros, unused_imports)] // each test binary uses a part

/// The secret the tests sign with.
pub const SECRET: &str = "integration-tests-secret-0123456789abcdef";
pub const PASSWORD: &str = "correct horse battery";

/// Past both the grace window these tests set (200 ms at most) and the 2 s in which a finished
/// rotation stays joinable in its process (a replay inside it is one burst with the rotation,
/// not a late one).
pub const PAST_THE_WINDOWS: std::time::Duration = std::time::Duration::from_millis(2_300);

/// The database a test runs on.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Backend {
    /// A SQLite file in a folder of the test's own.
    Sqlite,
    /// An in-memory SQLite pool handed to the engine (the engine's tests only: the server opens
    /// its database by URL).
    SqliteMemory,
    /// A new database on the PostgreSQL server of `TEST_DATABASE_URL` (this URL), whose role
    /// may create databases.
    Postgres(String),
}

impl Backend {
    /// PostgreSQL at `TEST_DATABASE_URL`; `None`, said on stderr, when it is not set: the
    /// PostgreSQL case then does not run.
    pub fn postgres() -> Option<Self> {
        match std::env::var("TEST_DATABASE_URL") {
            Ok(url) => Some(Self::Postgres(url)),
            Err(_) => {
                eprintln!("TEST_DATABASE_URL is not set: the PostgreSQL case does not run");
                None
            }
        }
    }
}

/// A new, empty database on the PostgreSQL server of `admin_url` (whose role may create
/// databases); its URL.
pub async fn new_postgres_database(admin_url: &str) -> String {
    let admin = sqlx::PgPool::connect(admin_url)
        .await
        .expect("TEST_DATABASE_URL answers");
    let name = format!("t_{}", uuid::Uuid::new_v4().simple());
    sqlx::query(&format!("CREATE DATABASE {name}"))
        .execute(&admin)
        .await
        .expect("the test role may create databases");
    admin.close().await;
    let (base, _) = admin_url
        .rsplit_once('/')
        .expect("postgres URL has a database");
    format!("{base}/{name}")
}

/// Each `async fn name(b: Backend)` named as tests of their own, one per backend, so a failure
/// says which: `sqlite::name` and `postgres::name`; with `memory:` first, `sqlite_memory::name`
/// too. The PostgreSQL ones return at once (and say so) when `TEST_DATABASE_URL` is not set.
macro_rules! per_backend {
    (memory: $($name:ident),* $(,)?) => {
        $crate::support::per_backend!($($name),*);
        $crate::support::per_backend!(
            @module sqlite_memory,
            Some($crate::support::Backend::SqliteMemory),
            $($name),*
        );
    };
    ($($name:ident),* $(,)?) => {
        $crate::support::per_backend!(
            @module sqlite,
            Some($crate::support::Backend::Sqlite),
            $($name),*
        );
        $crate::support::per_backend!(
            @module postgres,
            $crate::support::Backend::postgres(),
            $($name),*
        );
    };
    (@module $module:ident, $backend:expr, $($name:ident),*) => {
        mod $module {
            $(
                #[tokio::test]
                async fn $name() {
                    if let Some(backend) = $backend {
                        super::$name(backend).await;
                    }
                }
            )*
        }
    };
}
pub(crate) use per_backend;

/// Log lines (WARN and above, or from `capture_at`'s level) emitted on this thread while the
/// guard lives; or, made with `default()`, whatever a subscriber given it as its writer writes.
/// With the default single-threaded test runtime the server under test runs on this thread too.
#[derive(Clone, Default)]
pub struct Logs(std::sync::Arc<std::sync::Mutex<Vec<u8>>>);

impl Logs {
    pub fn capture() -> (Self, tracing::subscriber::DefaultGuard) {
        Self::capture_at(tracing::Level::WARN)
    }

    /// Every event at `level` and above, with its spans.
    pub fn capture_at(level: tracing::Level) -> (Self, tracing::subscriber::DefaultGuard) {
        let logs = Self::default();
        let subscriber = tracing_subscriber::fmt()
            .with_max_level(level)
            .with_ansi(false)
            .with_writer(logs.clone())
            .finish();
        let guard = tracing::subscriber::set_default(subscriber);
        (logs, guard)
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().expect("logs")).into_owned()
    }
}

impl std::io::Write for Logs {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().expect("logs").extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for Logs {
    type Writer = Logs;
    fn make_writer(&'a self) -> Self::Writer {
        self.clone()
    }
}
