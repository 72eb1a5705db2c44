//! The engine's tables in someone else's database: every one of them prefixed `sessionflow_`, so
//! an app keeps its own `users`; and a database created before the prefix, upgraded in place
//! with everyone still signed in. Each case runs on SQLite and, when `TEST_DATABASE_URL` is set,
//! on PostgreSQL, as tests of their own (`sqlite::…`, `postgres::…`).

use axum::{
    body::Body,
    extract::ConnectInfo,
    http::{header, Request, StatusCode},
    routing::post,
    Json, Router,
};
use serde_json::{json, Value};
use sessionflow::server::config::{AuthConfig, RateLimit};
use sqlx::{any::AnyPoolOptions, migrate::Migrator, AnyPool, Row};
use std::{
    net::SocketAddr,
    path::Path,
    sync::{
        atomic::{AtomicU64, Ordering},
        Arc,
    },
    time::Duration,
};

mod support;
use support::{new_postgres_database, next_client, per_backend, Backend, Engine, PASSWORD, SECRET};

/// A new, empty database of `backend`, by URL (with the folder that holds a SQLite file).
async fn new_database(backend: &Backend) -> (String, Option<tempfile::TempDir>) {
    match backend {
        Backend::Sqlite => {
            let dir = tempfile::tempdir().expect("temp dir");
            let url = format!("sqlite://{}/app.db?mode=rwc", dir.path().display());
            (url, Some(dir))
        }
        Backend::Postgres(admin) => (new_postgres_database(admin).await, None),
        Backend::SqliteMemory => unreachable!("an upgrade needs a database that outlives a pool"),
    }
}

/// The test's own connection to the database, beside the engine's.
async fn open(url: &str) -> AnyPool {
    sqlx::any::install_default_drivers();
    AnyPoolOptions::new()
        .max_connections(2)
        .connect(url)
        .await
        .expect("the test connects")
}

/// Every table, column, index and constraint, one line each, sorted: two databases with the same
/// lines have the same schema. sqlx's bookkeeping table is left out.
async fn schema(db: &AnyPool, backend: &Backend) -> Vec<String> {
    let queries: &[&str] = match backend {
        Backend::Sqlite | Backend::SqliteMemory => &[
            "SELECT m.name || '.' || p.name || ' ' || p.type || ' notnull=' || p.\"notnull\" \
               || ' pk=' || p.pk || ' default=' || coalesce(p.dflt_value, '') \
             FROM sqlite_master m JOIN pragma_table_info(m.name) p \
             WHERE m.type = 'table' AND m.name NOT LIKE '\\_sqlx%' ESCAPE '\\' \
             ORDER BY m.name, p.cid",
            "SELECT m.name || ' index ' || m.tbl_name || '(' || group_concat(i.name, ',') || ')' \
             FROM sqlite_master m JOIN pragma_index_info(m.name) i \
             WHERE m.type = 'index' GROUP BY m.name",
            "SELECT m.name || '.' || f.\"from\" || ' -> ' || f.\"table\" || '.' || f.\"to\" \
               || ' on delete ' || f.on_delete \
             FROM sqlite_master m JOIN pragma_foreign_key_list(m.name) f \
             WHERE m.type = 'table'",
        ],
        Backend::Postgres(_) => &[
            "SELECT table_name || '.' || column_name || ' ' || data_type || ' nullable=' \
               || is_nullable || ' default=' || coalesce(column_default, '') \
             FROM information_schema.columns \
             WHERE table_schema = current_schema() AND table_name NOT LIKE '\\_sqlx%' \
             ORDER BY table_name, ordinal_position",
            "SELECT indexdef FROM pg_indexes \
             WHERE schemaname = current_schema() AND tablename NOT LIKE '\\_sqlx%'",
            "SELECT conrelid::regclass::text || ' ' || conname || ' ' || pg_get_constraintdef(oid) \
             FROM pg_constraint \
             WHERE connamespace = current_schema()::regnamespace \
               AND conrelid::regclass::text NOT LIKE '\\_sqlx%'",
        ],
    };
    let mut lines = Vec::new();
    for q in queries {
        for row in sqlx::query(q).fetch_all(db).await.expect(q) {
            lines.push(row.try_get::<String, _>(0).expect("a text line"));
        }
    }
    lines.sort();
    lines
}

/// Every table, and the index of every table, in the database.
async fn tables_and_indexes(db: &AnyPool, backend: &Backend) -> Vec<(String, String)> {
    let q = match backend {
        Backend::Sqlite | Backend::SqliteMemory => {
            "SELECT type, name FROM sqlite_master WHERE type IN ('table', 'index') \
             AND tbl_name NOT LIKE '\\_sqlx%' ESCAPE '\\'"
        }
        Backend::Postgres(_) => {
            "SELECT 'table', table_name::text FROM information_schema.tables \
               WHERE table_schema = current_schema() AND table_name NOT LIKE '\\_sqlx%' \
             UNION ALL SELECT 'index', indexname::text FROM pg_indexes \
               WHERE schemaname = current_schema() AND tablename NOT LIKE '\\_sqlx%'"
        }
    };
    sqlx::query(q)
        .fetch_all(db)
        .await
        .expect(q)
        .iter()
        .map(|r| (r.get::<String, _>(0), r.get::<String, _>(1)))
        .collect()
}

fn config() -> AuthConfig {
    AuthConfig::builder(SECRET)
        // Long enough that a token rotated before the upgrade is still inside it afterwards.
        .reuse_grace(Duration::from_secs(60))
        .cookie_secure(false)
        .rate_limits(
            // Slow enough (15 s a token) that no client's bucket is full again, and swept by the
            // engine that starts after the upgrade, before its rows are counted.
            RateLimit::parse("20/5m").expect("limit"),
            RateLimit::parse("3/5m").expect("limit"),
        )
        .build()
        .expect("config")
}

/// The app's one route: a counter that counts the calls that ran, behind the engine's
/// `Idempotency-Key`. Shared by the engine before and after the upgrade, like a real app's data.
fn counter_app(count: Arc<AtomicU64>) -> Router {
    Router::new().route(
        "/api/count",
        post(move || {
            let count = count.clone();
            async move { Json(json!({ "count": count.fetch_add(1, Ordering::SeqCst) + 1 })) }
        }),
    )
}

async fn count(engine: &Engine, access: &str, key: &str) -> (StatusCode, Value) {
    let req = Request::post("/api/count")
        .header(header::AUTHORIZATION, format!("Bearer {access}"))
        .header("idempotency-key", key)
        .extension(ConnectInfo(next_client()))
        .body(Body::empty())
        .expect("request");
    engine.send(req).await
}

async fn sign_in_from(
    engine: &Engine,
    from: SocketAddr,
    email: &str,
    password: &str,
) -> StatusCode {
    let req = Request::post("/api/auth/login")
        .header(header::CONTENT_TYPE, "application/json")
        .extension(ConnectInfo(from))
        .body(Body::from(
            json!({"email": email, "password": password, "transport": "body"}).to_string(),
        ))
        .expect("request");
    engine.send(req).await.0
}

async fn refresh(engine: &Engine, token: &str) -> (StatusCode, Option<String>) {
    engine.post_refresh(token).await
}

/// An app that already has `users` and `sessions` tables of its own adopts the engine: its
/// tables and rows stay as they were, sign-in works, and every table and index the engine made
/// carries the prefix.
async fn an_app_keeps_its_own_users_table(backend: Backend) {
    let (url, _dir) = new_database(&backend).await;
    let db = open(&url).await;
    sqlx::raw_sql(
        "CREATE TABLE users (id BIGINT PRIMARY KEY, nickname TEXT NOT NULL); \
         CREATE TABLE sessions (token TEXT PRIMARY KEY, started BIGINT NOT NULL); \
         INSERT INTO users (id, nickname) VALUES (1, 'the app''s own user'); \
         INSERT INTO sessions (token, started) VALUES ('app-token', 7);",
    )
    .execute(&db)
    .await
    .expect("the app's tables");
    let app_schema = schema(&db, &backend).await;

    let engine = Engine::on(url.clone(), config(), Router::new(), "adopter").await;
    engine.post_register("ada@example.com").await;
    assert_eq!(
        sign_in_from(&engine, next_client(), "ada@example.com", PASSWORD).await,
        StatusCode::OK,
        "sign-in with an app's users table beside the engine's"
    );

    let nickname: String = sqlx::query("SELECT nickname FROM users WHERE id = 1")
        .fetch_one(&db)
        .await
        .expect("the app's user is still there")
        .get(0);
    assert_eq!(nickname, "the app's own user");
    let count: i64 = sqlx::query("SELECT COUNT(*) FROM sessions")
        .fetch_one(&db)
        .await
        .expect("the app's sessions")
        .get(0);
    assert_eq!(
        count, 1,
        "the engine's sign-in wrote nothing in the app's sessions"
    );
    let now = schema(&db, &backend).await;
    for line in &app_schema {
        assert!(
            now.contains(line),
            "the app's schema changed: {line} is gone"
        );
    }

    for (kind, name) in tables_and_indexes(&db, &backend).await {
        let the_apps = ["users", "sessions", "users_pkey", "sessions_pkey"]
            .contains(&name.as_str())
            || name.starts_with("sqlite_autoindex_users")
            || name.starts_with("sqlite_autoindex_sessions");
        let prefixed =
            name.starts_with("sessionflow_") || name.starts_with("sqlite_autoindex_sessionflow_");
        assert!(
            the_apps || prefixed,
            "the engine made the {kind} {name} without the sessionflow_ prefix"
        );
    }
}

/// The engine's migrations as they stood before the prefix: `src/migrations/legacy` up to the
/// renaming.
async fn migrations_before_the_prefix() -> Migrator {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("src/migrations/legacy");
    let mut migrator = Migrator::new(dir).await.expect("the legacy migrations");
    let before: Vec<_> = migrator
        .migrations
        .iter()
        .filter(|m| m.version < 20261205000005)
        .cloned()
        .collect();
    assert_eq!(
        before.len(),
        4,
        "the migrations that made unprefixed tables"
    );
    migrator.migrations = before.into();
    migrator.set_ignore_missing(true);
    migrator
}

/// Takes a database of today's schema back to the one before the prefix, rows and all: what the
/// renaming migration undoes, and sqlx's bookkeeping as the old migrations left it.
async fn back_to_before_the_prefix(db: &AnyPool, backend: &Backend) {
    sqlx::raw_sql(
        "ALTER TABLE sessionflow_users RENAME TO users; \
         ALTER TABLE sessionflow_sessions RENAME TO sessions; \
         ALTER TABLE sessionflow_refresh_tokens RENAME TO refresh_tokens; \
         ALTER TABLE sessionflow_idempotency_keys RENAME TO idempotency_keys; \
         ALTER TABLE sessionflow_rate_limits RENAME TO rate_limits; \
         DROP INDEX sessionflow_sessions_user_id; \
         CREATE INDEX sessions_user_id ON sessions (user_id); \
         DROP INDEX sessionflow_refresh_tokens_session_id; \
         CREATE INDEX refresh_tokens_session_id ON refresh_tokens (session_id); \
         DROP INDEX sessionflow_idempotency_keys_created; \
         CREATE INDEX idempotency_keys_created ON idempotency_keys (created_at); \
         DELETE FROM _sqlx_migrations WHERE version = 20261205000007;",
    )
    .execute(db)
    .await
    .expect("tables renamed back");
    if matches!(backend, Backend::Postgres(_)) {
        sqlx::raw_sql(
            "DO $$ DECLARE r record; BEGIN \
               FOR r IN SELECT cls.relname AS tbl, con.conname AS name \
                 FROM pg_constraint con JOIN pg_class cls ON cls.oid = con.conrelid \
                 WHERE cls.relnamespace = current_schema()::regnamespace \
                   AND cls.relname IN \
                     ('users', 'sessions', 'refresh_tokens', 'idempotency_keys', 'rate_limits') \
               LOOP \
                 EXECUTE format('ALTER TABLE %I RENAME CONSTRAINT %I TO %I', \
                   r.tbl, r.name, substr(r.name, length('sessionflow_') + 1)); \
               END LOOP; \
             END $$;",
        )
        .execute(db)
        .await
        .expect("constraints renamed back");
    }
    for m in migrations_before_the_prefix().await.iter() {
        sqlx::query(
            "INSERT INTO _sqlx_migrations (version, description, success, checksum, execution_time) \
             VALUES ($1, $2, TRUE, $3, 0)",
        )
        .bind(m.version)
        .bind(m.description.to_string())
        .bind(m.checksum.to_vec())
        .execute(db)
        .await
        .expect("bookkeeping of the old migrations");
    }
}

/// A database created by the engine's migrations from before the prefix, in use: users, live
/// sessions, a token rotated a moment ago (inside the grace window), a session that signed out,
/// an idempotency record and spent sign-in attempts. The engine upgrades it at start; afterwards
/// everyone signs in, every refresh token meets the fate it had, the idempotent call answers
/// what it answered, and the limits still count what they counted.
async fn an_upgrade_keeps_everyone_signed_in(backend: Backend) {
    let (url, _dir) = new_database(&backend).await;
    let db = open(&url).await;
    let calls = Arc::new(AtomicU64::new(0));
    let before = Engine::on(url.clone(), config(), counter_app(calls.clone()), "before").await;
    let today = schema(&db, &backend).await;

    // Ada: a live session, and an idempotent call made once.
    let (status, ada) = before
        .post(
            "/api/auth/register",
            json!({"email": "ada@example.com", "password": PASSWORD, "transport": "body"}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{ada}");
    let ada_access = ada["access_token"].as_str().expect("access").to_owned();
    let ada_refresh = ada["refresh_token"].as_str().expect("refresh").to_owned();
    let (status, first) = count(&before, &ada_access, "upgrade-key-1").await;
    assert_eq!((status, first["count"].as_u64()), (StatusCode::OK, Some(1)));
    // Bob: a token rotated just now, so its old token is inside the grace window.
    let bob0 = before.post_register("bob@example.com").await;
    let (status, bob1) = refresh(&before, &bob0).await;
    assert_eq!(status, StatusCode::OK);
    let bob1 = bob1.expect("bob's successor");
    // Dan: signed out, so his refresh token is dead.
    let dan = before.post_register("dan@example.com").await;
    let (status, _) = before
        .post("/api/auth/logout", json!({"refresh_token": dan}))
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    // Eve: three wrong passwords from one address, the per-account limit's whole budget.
    before.post_register("eve@example.com").await;
    let eve_client = next_client();
    for _ in 0..3 {
        let status = sign_in_from(&before, eve_client, "eve@example.com", "wrong password 1").await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);
    }
    let rows = |table: &'static str| {
        let db = db.clone();
        async move {
            sqlx::query(&format!("SELECT COUNT(*) FROM {table}"))
                .fetch_one(&db)
                .await
                .expect(table)
                .get::<i64, _>(0)
        }
    };
    let kept = [
        ("users", rows("sessionflow_users").await),
        ("sessions", rows("sessionflow_sessions").await),
        ("refresh_tokens", rows("sessionflow_refresh_tokens").await),
        (
            "idempotency_keys",
            rows("sessionflow_idempotency_keys").await,
        ),
        ("rate_limits", rows("sessionflow_rate_limits").await),
    ];
    if matches!(backend, Backend::Postgres(_)) {
        assert!(
            kept[4].1 > 0,
            "PostgreSQL keeps the limits' buckets in the database"
        );
    }

    back_to_before_the_prefix(&db, &backend).await;
    let reference = new_database(&backend).await;
    let old = open(&reference.0).await;
    migrations_before_the_prefix()
        .await
        .run(&old)
        .await
        .expect("the old migrations");
    assert_eq!(
        schema(&db, &backend).await,
        schema(&old, &backend).await,
        "the database now looks as the old migrations made it"
    );
    for (table, n) in kept {
        assert_eq!(rows(table).await, n, "{table} before the upgrade");
    }

    // The upgrade: the engine starts again on the old database.
    let after = Engine::on(url.clone(), config(), counter_app(calls.clone()), "after").await;
    assert_eq!(
        schema(&db, &backend).await,
        today,
        "upgraded to today's schema"
    );
    for (table, n) in kept {
        let table = match table {
            "users" => "sessionflow_users",
            "sessions" => "sessionflow_sessions",
            "refresh_tokens" => "sessionflow_refresh_tokens",
            "idempotency_keys" => "sessionflow_idempotency_keys",
            _ => "sessionflow_rate_limits",
        };
        assert_eq!(rows(table).await, n, "every row of {table} moved");
    }

    for who in ["ada@example.com", "bob@example.com", "dan@example.com"] {
        assert_eq!(
            sign_in_from(&after, next_client(), who, PASSWORD).await,
            StatusCode::OK,
            "{who} signs in after the upgrade"
        );
    }
    // The same key answers the stored answer, and the call does not run again.
    let (status, again) = count(&after, &ada_access, "upgrade-key-1").await;
    assert_eq!((status, again), (StatusCode::OK, first));
    assert_eq!(
        calls.load(Ordering::SeqCst),
        1,
        "the idempotent call ran once"
    );
    // Ada's token is live; Bob's old one gets the successor it got before, which is live;
    // Dan's stays dead.
    let (status, _) = refresh(&after, &ada_refresh).await;
    assert_eq!(status, StatusCode::OK, "a live session refreshes");
    let (status, successor) = refresh(&after, &bob0).await;
    assert_eq!(
        (status, successor.as_deref()),
        (StatusCode::OK, Some(bob1.as_str())),
        "inside the grace window the old token still gets its successor"
    );
    let (status, _) = refresh(&after, &bob1).await;
    assert_eq!(status, StatusCode::OK, "and the successor rotates");
    let (status, _) = refresh(&after, &dan).await;
    assert_eq!(
        status,
        StatusCode::UNAUTHORIZED,
        "a signed-out session stays ended"
    );
    // PostgreSQL keeps the limits in the database (SQLite, one instance, in memory: a restart
    // empties them there, upgrade or not).
    if matches!(backend, Backend::Postgres(_)) {
        let status = sign_in_from(&after, eve_client, "eve@example.com", PASSWORD).await;
        assert_eq!(
            status,
            StatusCode::TOO_MANY_REQUESTS,
            "the spent attempts still count after the upgrade"
        );
    }
}

per_backend!(
    an_app_keeps_its_own_users_table,
    an_upgrade_keeps_everyone_signed_in,
);
