//! What the engine's test binaries share: the databases a test runs on (`common.rs`, shared
//! with the server's tests), and the engine alone behind a minimal router, called in process
//! (no port, no app).
#![allow(dead_code)] // each test binary uses a part

use axum::{
    body::Body,
    extract::ConnectInfo,
    http::{header, Request, StatusCode},
    Router,
};
use serde_json::{json, Value};
use sessionflow::server::{config::AuthConfig, Auth, Database, PagePolicy};
use std::{net::SocketAddr, time::Duration};
use tower::ServiceExt;

mod common;
pub use common::*;

pub fn next_client() -> SocketAddr {
    static N: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(1);
    let n = N.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    SocketAddr::from(([127, (n >> 16) as u8, (n >> 8) as u8, n as u8], 40000))
}

pub struct Engine {
    pub router: Router,
    pub name: &'static str,
    /// The SQLite file's folder, as long as the engine lives.
    _dir: Option<tempfile::TempDir>,
}

impl Engine {
    pub async fn start(backend: &Backend, grace: Duration) -> Self {
        let config = AuthConfig::builder(SECRET)
            .reuse_grace(grace)
            .cookie_secure(false)
            .build()
            .expect("config");
        let mut dir = None;
        let (database, name): (Database, _) = match backend {
            // By URL: the engine opens its own pool (an app with no pool of its own).
            Backend::Sqlite => {
                let path = dir.insert(tempfile::tempdir().expect("temp dir")).path();
                (
                    format!("sqlite://{}/engine.db?mode=rwc", path.display()).into(),
                    "sqlite file",
                )
            }
            Backend::SqliteMemory => (
                sqlx::sqlite::SqlitePoolOptions::new()
                    .max_connections(1)
                    .connect("sqlite::memory:")
                    .await
                    .expect("sqlite memory")
                    .into(),
                "sqlite memory",
            ),
            Backend::Postgres(url) => (
                sqlx::PgPool::connect(&new_postgres_database(url).await)
                    .await
                    .expect("pg")
                    .into(),
                "postgres",
            ),
        };
        let mut engine = Self::on(database, config, Router::new(), name).await;
        engine._dir = dir;
        engine
    }

    /// The engine on `database`, installed on the app's `router`.
    pub async fn on(
        database: impl Into<Database>,
        config: AuthConfig,
        router: Router,
        name: &'static str,
    ) -> Self {
        let auth = Auth::connect(database, config).await.expect("connect");
        Self {
            router: auth.install(router, PagePolicy::new()),
            name,
            _dir: None,
        }
    }

    pub async fn post(&self, path: &str, body: Value) -> (StatusCode, Value) {
        let req = Request::post(path)
            .header(header::CONTENT_TYPE, "application/json")
            // Each request from its own loopback address: the sign-in limits count per address.
            .extension(ConnectInfo(next_client()))
            .body(Body::from(body.to_string()))
            .expect("request");
        self.send(req).await
    }

    /// Any request; the answer's status and JSON body (`Null` when it has none).
    pub async fn send(&self, req: Request<Body>) -> (StatusCode, Value) {
        let res = self.router.clone().oneshot(req).await.expect("answer");
        let status = res.status();
        let bytes = axum::body::to_bytes(res.into_body(), 1 << 20)
            .await
            .expect("body");
        (
            status,
            serde_json::from_slice(&bytes).unwrap_or(Value::Null),
        )
    }

    pub async fn post_register(&self, email: &str) -> String {
        let (status, body) = self
            .post(
                "/api/auth/register",
                json!({"email": email, "password": PASSWORD, "transport": "body"}),
            )
            .await;
        assert_eq!(
            status,
            StatusCode::CREATED,
            "{}: register {body}",
            self.name
        );
        body["refresh_token"]
            .as_str()
            .expect("refresh token")
            .to_owned()
    }

    pub async fn post_refresh(&self, token: &str) -> (StatusCode, Option<String>) {
        let (status, body) = self
            .post("/api/auth/refresh", json!({"refresh_token": token}))
            .await;
        (status, body["refresh_token"].as_str().map(str::to_owned))
    }
}
