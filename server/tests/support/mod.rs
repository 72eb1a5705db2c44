//! A test server: the real router on 127.0.0.1:0 over a fresh database (SQLite always,
//! PostgreSQL as well when `TEST_DATABASE_URL` is set), and cookie-keeping clients.
#![allow(dead_code)]

use jsonwebtoken::{encode, EncodingKey, Header};
use reqwest::{header, Client, Response};
use serde_json::{json, Value};
use sessionflow::server::{
    config::{AuthConfig, AuthConfigBuilder},
    Auth,
};
use std::{net::IpAddr, time::Duration};

// The backends, `per_backend!`, the secret and the log capture: one copy, shared with the
// engine's tests.
#[path = "../../../tests/support/common.rs"]
mod common;
pub use common::*;

/// Leptos SSR stalls mid-body when several test servers, each on its own tokio runtime, render
/// at once in one process (seen here with leptos 0.8.23; never with one server on one runtime,
/// which is what production runs and what `many_concurrent_page_renders_all_complete` hammers).
/// Tests that render pages take this guard so they run one at a time.
pub async fn one_renderer_at_a_time() -> tokio::sync::MutexGuard<'static, ()> {
    static RENDERING: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());
    RENDERING.lock().await
}

pub struct TestApp {
    pub base: String,
    pub auth: Auth,
    /// The app's pool (the same database the engine uses).
    pub db: sqlx::AnyPool,
    pub db_url: String,
    server: tokio::task::JoinHandle<()>,
    /// The database's folder (SQLite), shared with siblings so it outlives whichever instance
    /// goes first; and this instance's own (its site files).
    db_dir: std::sync::Arc<tempfile::TempDir>,
    _site_dir: tempfile::TempDir,
}

/// The static files a built site has: the app's bundle, its style sheet and the icon.
pub const SITE_FILES: &[(&str, &str)] = &[
    ("pkg/app.js", "export default function init() {}\n"),
    ("pkg/app.wasm", "\0asm fake"),
    ("pkg/app.css", "body { margin: 0 }\n"),
    ("favicon.svg", "<svg xmlns=\"http://www.w3.org/2000/svg\"/>"),
];

impl Drop for TestApp {
    fn drop(&mut self) {
        self.server.abort();
    }
}

/// A fresh, empty database URL for one test.
pub async fn fresh_database(backend: &Backend, dir: &std::path::Path) -> String {
    match backend {
        Backend::Sqlite => format!("sqlite://{}/test.db?mode=rwc", dir.display()),
        Backend::Postgres(admin) => new_postgres_database(admin).await,
        Backend::SqliteMemory => unreachable!("the test server opens its database by URL"),
    }
}

impl TestApp {
    pub async fn spawn(backend: &Backend) -> Self {
        Self::with(backend, |b| b).await
    }

    pub async fn with(
        backend: &Backend,
        tweak: impl FnOnce(AuthConfigBuilder) -> AuthConfigBuilder,
    ) -> Self {
        let dir = std::sync::Arc::new(tempfile::tempdir().expect("temp dir"));
        let db_url = fresh_database(backend, dir.path()).await;
        Self::on(db_url, dir, tweak).await
    }

    /// Another server process on the same database (restarts, several instances).
    pub async fn sibling(
        &self,
        tweak: impl FnOnce(AuthConfigBuilder) -> AuthConfigBuilder,
    ) -> Self {
        Self::on(self.db_url.clone(), self.db_dir.clone(), tweak).await
    }

    async fn on(
        db_url: String,
        db_dir: std::sync::Arc<tempfile::TempDir>,
        tweak: impl FnOnce(AuthConfigBuilder) -> AuthConfigBuilder,
    ) -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let addr = listener.local_addr().expect("addr");
        let config = tweak(AuthConfig::builder(SECRET).public_origins([format!("http://{addr}")]))
            .build()
            .expect("a valid configuration");
        let (auth, pool) = server::db::start(&db_url, config)
            .await
            .expect("the database connects and the migrations apply");
        let site_dir = tempfile::tempdir().expect("temp dir");
        let site = site_dir.path().join("site");
        for (path, contents) in SITE_FILES {
            let file = site.join(path);
            std::fs::create_dir_all(file.parent().unwrap()).expect("site dir");
            std::fs::write(file, contents).expect("site file");
        }
        let mut options = server::leptos_options(addr);
        options.site_root = site.to_string_lossy().into_owned().into();
        let router = server::router(auth.clone(), pool.clone(), options);
        let server = tokio::spawn(async move {
            axum::serve(
                listener,
                router.into_make_service_with_connect_info::<std::net::SocketAddr>(),
            )
            .await
            .expect("serve");
        });
        Self {
            base: format!("http://{addr}"),
            auth,
            db: pool,
            db_url,
            server,
            db_dir,
            _site_dir: site_dir,
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

    /// A client with no cookie jar whose requests leave from `ip` (any 127.x.y.z is this
    /// machine): a separate client as far as per-address limits go.
    pub fn client_at(&self, ip: &str) -> Client {
        Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .timeout(Duration::from_secs(30))
            .local_address(ip.parse::<IpAddr>().expect("an address"))
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

    /// `POST /api/auth/register` from `client` (cookies): the account's JSON.
    pub async fn post_register(&self, client: &Client, email: &str) -> Value {
        let res = client
            .post(self.url("/api/auth/register"))
            .json(&json!({"email": email, "password": PASSWORD}))
            .send()
            .await
            .expect("register");
        assert_eq!(res.status(), 201, "register {email}");
        res.json().await.expect("json")
    }

    /// `POST /api/auth/register`, then `POST /api/auth/login` over the body transport: (access
    /// token, refresh token, user id).
    pub async fn post_register_with_tokens(&self, email: &str) -> (String, String, String) {
        self.post_register(&self.bare(), email).await;
        self.post_login_with_tokens(email).await
    }

    /// `POST /api/auth/login` over the body transport: another session of an existing account.
    pub async fn post_login_with_tokens(&self, email: &str) -> (String, String, String) {
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

    pub async fn post_refresh_owned(&self, token: String) -> Response {
        self.post_refresh(&token).await
    }

    /// `POST /api/auth/refresh` with the token in the body.
    pub async fn post_refresh(&self, token: &str) -> Response {
        self.bare()
            .post(self.url("/api/auth/refresh"))
            .json(&json!({"refresh_token": token}))
            .send()
            .await
            .expect("refresh")
    }

    /// `GET /api/me` with a bearer access token.
    pub async fn get_me(&self, access: &str) -> Response {
        self.bare()
            .get(self.url("/api/me"))
            .bearer_auth(access)
            .send()
            .await
            .expect("me")
    }

    /// `GET /api/auth/sessions` with a bearer access token: the sessions' JSON.
    pub async fn get_sessions(&self, access: &str) -> Vec<Value> {
        self.bare()
            .get(self.url("/api/auth/sessions"))
            .bearer_auth(access)
            .send()
            .await
            .expect("sessions")
            .json()
            .await
            .expect("json")
    }

    /// Refresh tokens (spent or not) of one session: 1 + the number of rotations.
    pub async fn tokens_of(&self, sid: &str) -> i64 {
        use sqlx::Row;
        sqlx::query("SELECT COUNT(*) FROM sessionflow_refresh_tokens WHERE session_id = $1")
            .bind(sid)
            .fetch_one(&self.db)
            .await
            .expect("count")
            .get::<i64, _>(0)
    }

    pub async fn count(&self, sql: &str) -> i64 {
        use sqlx::Row;
        sqlx::query(sql)
            .fetch_one(&self.db)
            .await
            .expect("count")
            .get::<i64, _>(0)
    }
}

/// The status and the contract error code of an error answer.
pub async fn error_code(res: Response) -> (reqwest::StatusCode, String) {
    let status = res.status();
    let body: Value = res.json().await.expect("error bodies are JSON");
    (
        status,
        body["error"].as_str().unwrap_or_default().to_owned(),
    )
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
        &EncodingKey::from_secret(SECRET.as_bytes()),
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

/// A tiny reverse proxy on 127.0.0.1:0 in front of `upstream`, as a deployment would have: it
/// forwards every request with its own `Host` (the upstream's) and appends the address it was
/// reached from to `X-Forwarded-For`.
pub struct Proxy {
    pub base: String,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl Proxy {
    pub async fn start(upstream: &str) -> Self {
        use axum::{
            body::{to_bytes, Body},
            extract::{ConnectInfo, Request, State},
            response::Response,
        };
        use std::net::SocketAddr;

        async fn forward(
            State(upstream): State<String>,
            ConnectInfo(peer): ConnectInfo<SocketAddr>,
            req: Request,
        ) -> Response {
            let (parts, body) = req.into_parts();
            let body = to_bytes(body, 1 << 20).await.unwrap_or_default();
            let url = format!(
                "{upstream}{}",
                parts.uri.path_and_query().map_or("/", |p| p.as_str())
            );
            let mut out = Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .expect("client")
                .request(parts.method.clone(), url);
            let mut forwarded = Vec::new();
            for (name, value) in &parts.headers {
                match name.as_str() {
                    "host" | "content-length" | "connection" => {}
                    "x-forwarded-for" => forwarded.push(value.to_str().unwrap_or("").to_owned()),
                    _ => out = out.header(name, value),
                }
            }
            forwarded.push(peer.ip().to_string());
            let res = out
                .header("x-forwarded-for", forwarded.join(", "))
                .body(body)
                .send()
                .await
                .expect("upstream answers");
            let mut back = Response::builder().status(res.status());
            for (name, value) in res.headers() {
                if !matches!(
                    name.as_str(),
                    "content-length" | "transfer-encoding" | "connection"
                ) {
                    back = back.header(name, value);
                }
            }
            back.body(Body::from(res.bytes().await.unwrap_or_default()))
                .expect("response")
        }

        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let addr = listener.local_addr().expect("addr");
        let router = axum::Router::new()
            .fallback(forward)
            .with_state(upstream.to_owned());
        let task = tokio::spawn(async move {
            axum::serve(
                listener,
                router.into_make_service_with_connect_info::<SocketAddr>(),
            )
            .await
            .expect("proxy serves");
        });
        Self {
            base: format!("http://{addr}"),
            task,
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }
}

/// Holds the write lock on a refresh token's row (PostgreSQL) or on the whole database
/// (SQLite: another connection's `BEGIN IMMEDIATE`), as a slow or busy database would, until
/// released.
pub struct HeldLock(sqlx::AnyConnection);

impl HeldLock {
    pub async fn on_refresh_token(app: &TestApp, token: &str) -> Self {
        use sha2::Digest;
        use sqlx::Connection;
        let mut conn = sqlx::AnyConnection::connect(&app.db_url)
            .await
            .expect("second connection");
        if app.db_url.starts_with("sqlite:") {
            sqlx::query("BEGIN IMMEDIATE")
                .execute(&mut conn)
                .await
                .expect("write lock");
        } else {
            let hash = hex::encode(sha2::Sha256::digest(token.as_bytes()));
            sqlx::query("BEGIN")
                .execute(&mut conn)
                .await
                .expect("begin");
            sqlx::query("SELECT hash FROM sessionflow_refresh_tokens WHERE hash = $1 FOR UPDATE")
                .bind(hash)
                .fetch_one(&mut conn)
                .await
                .expect("row lock");
        }
        Self(conn)
    }

    /// Locks a whole table against writes (PostgreSQL only).
    pub async fn on_table(app: &TestApp, table: &str) -> Self {
        use sqlx::Connection;
        let mut conn = sqlx::AnyConnection::connect(&app.db_url)
            .await
            .expect("second connection");
        sqlx::query("BEGIN")
            .execute(&mut conn)
            .await
            .expect("begin");
        sqlx::query(&format!("LOCK TABLE {table} IN EXCLUSIVE MODE"))
            .execute(&mut conn)
            .await
            .expect("table lock");
        Self(conn)
    }

    pub async fn release(mut self) {
        sqlx::query("ROLLBACK")
            .execute(&mut self.0)
            .await
            .expect("release");
    }
}

/// The URL a server function is registered at.
pub fn server_fn<T: leptos::server_fn::ServerFn>() -> String {
    T::PATH.to_owned()
}

/// Whether the session an access token belongs to is still live.
pub async fn live(app: &TestApp, access: &str) -> bool {
    app.count(&format!(
        "SELECT COUNT(*) FROM sessionflow_sessions WHERE revoked_at IS NULL AND id = '{}'",
        sid_of(access)
    ))
    .await
        == 1
}
