//! A test server: the real router on 127.0.0.1:0 over a fresh database (SQLite always,
//! PostgreSQL as well when `TEST_DATABASE_URL` is set), and cookie-keeping clients.
#![allow(dead_code)]

use jsonwebtoken::{encode, EncodingKey, Header};
use reqwest::{header, Client, Response};
use serde_json::{json, Value};
use sessionflow::server::{config::TokenConfig, db, Auth};
use std::time::Duration;

pub const SECRET: &[u8] = b"integration-tests-secret-0123456789abcdef";
pub const PASSWORD: &str = "correct horse battery";

/// Leptos SSR stalls mid-body when several test servers, each on its own tokio runtime, render
/// at once in one process (seen here with leptos 0.8.23; never with one server on one runtime,
/// which is what production runs and what `many_concurrent_page_renders_all_complete` hammers).
/// Tests that render pages take this guard so they run one at a time.
pub async fn one_renderer_at_a_time() -> tokio::sync::MutexGuard<'static, ()> {
    static RENDERING: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());
    RENDERING.lock().await
}

#[derive(Clone, Debug)]
pub enum Backend {
    Sqlite,
    Postgres(String),
}

/// SQLite, and PostgreSQL when `TEST_DATABASE_URL` is set.
pub fn backends() -> Vec<Backend> {
    let mut all = vec![Backend::Sqlite];
    if let Ok(url) = std::env::var("TEST_DATABASE_URL") {
        all.push(Backend::Postgres(url));
    }
    all
}

pub struct TestApp {
    pub base: String,
    pub auth: Auth,
    pub db_url: String,
    server: tokio::task::JoinHandle<()>,
    _dir: tempfile::TempDir,
}

impl Drop for TestApp {
    fn drop(&mut self) {
        self.server.abort();
    }
}

/// A fresh, empty database URL for one test.
pub async fn fresh_database(backend: &Backend, dir: &std::path::Path) -> String {
    match backend {
        Backend::Sqlite => format!("sqlite://{}/test.db?mode=rwc", dir.display()),
        Backend::Postgres(admin) => {
            sqlx::any::install_default_drivers();
            let name = format!("t_{}", uuid::Uuid::new_v4().simple());
            let pool = sqlx::AnyPool::connect(admin)
                .await
                .expect("TEST_DATABASE_URL answers");
            sqlx::query(&format!("CREATE DATABASE {name}"))
                .execute(&pool)
                .await
                .expect("the test role may create databases");
            pool.close().await;
            let (base, _) = admin.rsplit_once('/').expect("postgres URL has a database");
            format!("{base}/{name}")
        }
    }
}

impl TestApp {
    pub async fn spawn(backend: &Backend) -> Self {
        Self::with(backend, |_| {}).await
    }

    pub async fn with(backend: &Backend, tweak: impl FnOnce(&mut TokenConfig)) -> Self {
        let dir = tempfile::tempdir().expect("temp dir");
        let db_url = fresh_database(backend, dir.path()).await;
        Self::on(db_url, dir, tweak).await
    }

    /// Another server process on the same database (restarts, several instances).
    pub async fn sibling(&self, tweak: impl FnOnce(&mut TokenConfig)) -> Self {
        Self::on(
            self.db_url.clone(),
            tempfile::tempdir().expect("temp dir"),
            tweak,
        )
        .await
    }

    async fn on(
        db_url: String,
        dir: tempfile::TempDir,
        tweak: impl FnOnce(&mut TokenConfig),
    ) -> Self {
        let pool = db::connect(&db_url).await.expect("database connects");
        let mut tokens = TokenConfig::default();
        tweak(&mut tokens);
        let auth = Auth::new(pool, SECRET, tokens, false);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let addr = listener.local_addr().expect("addr");
        let router = server::router(auth.clone(), server::leptos_options(addr));
        let server = tokio::spawn(async move {
            axum::serve(listener, router.into_make_service())
                .await
                .expect("serve");
        });
        Self {
            base: format!("http://{addr}"),
            auth,
            db_url,
            server,
            _dir: dir,
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// A client that keeps cookies and does not follow redirects.
    pub fn browser(&self) -> Client {
        Client::builder()
            .cookie_store(true)
            .redirect(reqwest::redirect::Policy::none())
            .timeout(Duration::from_secs(30))
            .build()
            .expect("client")
    }

    /// A client with no cookie jar.
    pub fn bare(&self) -> Client {
        Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .timeout(Duration::from_secs(30))
            .build()
            .expect("client")
    }

    pub async fn register(&self, client: &Client, email: &str) -> Value {
        let res = client
            .post(self.url("/api/auth/register"))
            .json(&json!({"email": email, "password": PASSWORD}))
            .send()
            .await
            .expect("register");
        assert_eq!(res.status(), 201, "register {email}");
        res.json().await.expect("json")
    }

    /// Registers over the body transport: (access token, refresh token, user id).
    pub async fn register_body(&self, email: &str) -> (String, String, String) {
        self.register(&self.bare(), email).await;
        let body: Value = self
            .bare()
            .post(self.url("/api/auth/login"))
            .json(&json!({"email": email, "password": PASSWORD, "transport": "body"}))
            .send()
            .await
            .expect("login")
            .json()
            .await
            .expect("json");
        (
            body["access_token"].as_str().expect("access").to_owned(),
            body["refresh_token"].as_str().expect("refresh").to_owned(),
            body["user"]["id"].as_str().expect("id").to_owned(),
        )
    }

    pub async fn refresh_body(&self, token: &str) -> Response {
        self.bare()
            .post(self.url("/api/auth/refresh"))
            .json(&json!({"refresh_token": token}))
            .send()
            .await
            .expect("refresh")
    }

    pub async fn me(&self, access: &str) -> Response {
        self.bare()
            .get(self.url("/api/me"))
            .bearer_auth(access)
            .send()
            .await
            .expect("me")
    }

    /// Refresh tokens (spent or not) of one session: 1 + the number of rotations.
    pub async fn tokens_of(&self, sid: &str) -> i64 {
        use sqlx::Row;
        sqlx::query("SELECT COUNT(*) FROM refresh_tokens WHERE session_id = $1")
            .bind(sid)
            .fetch_one(self.auth.db())
            .await
            .expect("count")
            .get::<i64, _>(0)
    }

    pub async fn count(&self, sql: &str) -> i64 {
        use sqlx::Row;
        sqlx::query(sql)
            .fetch_one(self.auth.db())
            .await
            .expect("count")
            .get::<i64, _>(0)
    }
}

/// The `Set-Cookie` headers of a response, by cookie name.
pub fn set_cookies(res: &Response) -> Vec<(String, String)> {
    res.headers()
        .get_all(header::SET_COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .map(|v| {
            let name = v.split('=').next().unwrap_or_default().to_owned();
            (name, v.to_owned())
        })
        .collect()
}

pub fn cookie_value(set_cookie: &str) -> String {
    set_cookie
        .split(';')
        .next()
        .and_then(|p| p.split_once('='))
        .map(|(_, v)| v.to_owned())
        .unwrap_or_default()
}

/// An access token signed with the test secret, `exp` seconds from now (negative: expired).
pub fn signed_access(user_id: &str, sid: &str, exp_from_now: i64) -> String {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    let claims = json!({
        "sub": user_id, "sid": sid, "jti": uuid::Uuid::new_v4().to_string(),
        "iat": now - 3600, "exp": now + exp_from_now,
        "iss": "sessionflow", "aud": "sessionflow-app",
    });
    encode(
        &Header::default(),
        &claims,
        &EncodingKey::from_secret(SECRET),
    )
    .expect("sign")
}

/// The session id inside an access token (no verification; tests only).
pub fn sid_of(access: &str) -> String {
    use base64::Engine;
    let payload = access.split('.').nth(1).expect("jwt");
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(payload)
        .expect("b64");
    serde_json::from_slice::<Value>(&bytes).expect("claims")["sid"]
        .as_str()
        .expect("sid")
        .to_owned()
}
