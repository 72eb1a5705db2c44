//! A database that is down, locked or slow, and a graceful stop: 503 `unavailable`
//! (never 401, never cleared cookies), `/healthz` 503 meanwhile, and recovery without anyone
//! signed out. These tests stop databases and processes, so they run one at a time.

mod support;

use reqwest::{header, Client, StatusCode};
use serde_json::Value;
use std::{
    io::{BufRead, BufReader},
    process::{Child, Command, Stdio},
    time::{Duration, Instant},
};
use support::*;

async fn one_fault_at_a_time() -> tokio::sync::MutexGuard<'static, ()> {
    static FAULTS: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());
    FAULTS.lock().await
}

async fn health(app: &TestApp) -> StatusCode {
    app.bare()
        .get(app.url("/healthz"))
        .send()
        .await
        .unwrap()
        .status()
}

/// Polls until `/healthz` says 200 (bounded).
async fn until_healthy(app: &TestApp) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while health(app).await != 200 {
        assert!(Instant::now() < deadline, "the server did not recover");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// What the database being unavailable must look like from outside: refresh and a page that
/// needs one answer 503 with the cookies left alone, health says 503.
async fn assert_unavailable_keeps_the_session(app: &TestApp, access: &str, r0: &str, user: &str) {
    let expired = signed_access(user, &sid_of(access), -60);
    let refresh = app
        .bare()
        .post(app.url("/api/auth/refresh"))
        .header(header::COOKIE, format!("refresh_token={r0}"))
        .send();
    let page = app
        .bare()
        .get(app.url("/notes"))
        .header(header::ACCEPT, "text/html")
        .header(
            header::COOKIE,
            format!("access_token={expired}; refresh_token={r0}"),
        )
        .send();
    let (refresh, page, health) = tokio::join!(refresh, page, health(app));
    let refresh = refresh.unwrap();
    assert_eq!(refresh.status(), 503);
    assert!(set_cookies(&refresh).is_empty(), "cookies are kept");
    let body: Value = refresh.json().await.unwrap();
    assert_eq!(body["error"], "unavailable");
    let page = page.unwrap();
    assert_eq!(page.status(), 503);
    assert!(set_cookies(&page).is_empty(), "cookies are kept");
    let html = page.text().await.unwrap();
    assert!(
        html.contains(r#"data-testid="retry""#),
        "a retryable error: {html}"
    );
    assert_eq!(health, 503);
}

#[tokio::test]
async fn sqlite_locked_by_another_process_answers_503_and_recovers_with_the_session_intact() {
    let _one = one_fault_at_a_time().await;
    let app = TestApp::spawn(&Backend::Sqlite).await;
    let (access, r0, user) = app.post_register_with_tokens("ada@example.com").await;
    // Another process takes the write lock and keeps it past the 5 s busy timeout.
    let lock = HeldLock::on_refresh_token(&app, &r0).await;
    assert_unavailable_keeps_the_session(&app, &access, &r0, &user).await;
    lock.release().await;
    until_healthy(&app).await;
    let res = app.post_refresh(&r0).await;
    assert_eq!(res.status(), 200, "the same refresh token still works");
}

#[tokio::test]
async fn postgres_stopped_mid_run_answers_503_and_recovers_by_itself() {
    let _one = one_fault_at_a_time().await;
    // The cluster to stop and start, e.g. "15 main" (set by .ci/run, which runs as root).
    let (Ok(cluster), Some(pg)) = (std::env::var("TEST_PG_CLUSTER"), Backend::postgres()) else {
        eprintln!("TEST_PG_CLUSTER or TEST_DATABASE_URL not set: skipped");
        return;
    };
    let ctl = |action: &str| {
        let mut args: Vec<&str> = cluster.split_whitespace().collect();
        args.push(action);
        if action == "stop" {
            args.extend(["-m", "fast"]);
        }
        let status = Command::new("pg_ctlcluster").args(&args).status().unwrap();
        assert!(status.success(), "pg_ctlcluster {args:?}");
    };
    let app = TestApp::spawn(&pg).await;
    let (access, r0, user) = app.post_register_with_tokens("ada@example.com").await;
    let res = app
        .bare()
        .post(app.url("/api/notes"))
        .bearer_auth(&access)
        .json(&serde_json::json!({"title": "kept"}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 201);
    ctl("stop");
    let outcome = std::panic::AssertUnwindSafe(async {
        assert_unavailable_keeps_the_session(&app, &access, &r0, &user).await;
        // The session was seen live a moment ago, so /api/me may still answer from memory
        // (for at most the liveness bound); what it must never say is 401.
        let me = app.get_me(&access).await;
        assert!(
            me.status() == 503 || me.status() == 200,
            "never 401 while the database is away: {}",
            me.status()
        );
    });
    let result = futures::FutureExt::catch_unwind(outcome).await;
    ctl("start");
    if let Err(panic) = result {
        std::panic::resume_unwind(panic);
    }
    until_healthy(&app).await;
    assert_eq!(app.get_me(&access).await.status(), 200);
    let res = app.post_refresh(&r0).await;
    assert_eq!(res.status(), 200, "the session survived the outage");
    let notes: Value = app
        .bare()
        .get(app.url("/api/notes"))
        .bearer_auth(&access)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(notes[0]["title"], "kept");
}

/// The real binary on a free port over `db`; returns the child and its base URL.
fn start_server(dir: &std::path::Path) -> (Child, String) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_server"))
        .current_dir(dir)
        .env("LEPTOS_SITE_ADDR", "127.0.0.1:0")
        .env(
            "DATABASE_URL",
            format!("sqlite://{}/app.db?mode=rwc", dir.display()),
        )
        .env("JWT_SECRET", SECRET)
        .env("RUST_LOG", "info")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("server starts");
    // tracing's fmt layer writes to standard output.
    let stdout = child.stdout.take().unwrap();
    let mut lines = BufReader::new(stdout).lines();
    let base = loop {
        let line = lines
            .next()
            .expect("the server logs its address")
            .expect("readable");
        if let Some(at) = line.find("listening on ") {
            break line[at + "listening on ".len()..].trim().to_owned();
        }
    };
    // Keep draining the log so the child never blocks on a full pipe.
    std::thread::spawn(move || lines.for_each(drop));
    (child, base)
}

#[tokio::test]
async fn sigterm_lets_a_rotation_in_flight_finish_and_never_half_applies_it() {
    let _one = one_fault_at_a_time().await;
    let dir = tempfile::tempdir().unwrap();
    let (child, base) = start_server(dir.path());
    let mut child = Guard(child);
    let client = Client::new();
    let body: Value = {
        let res = client
            .post(format!("{base}/api/auth/register"))
            .json(&serde_json::json!({"email": "ada@example.com", "password": PASSWORD, "transport": "body"}))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 201);
        res.json().await.unwrap()
    };
    let r0 = body["refresh_token"].as_str().unwrap().to_owned();
    // Slow the rotation down with another process's write lock, then stop the server under it.
    let db_url = format!("sqlite://{}/app.db", dir.path().display());
    let mut lock = {
        use sqlx::Connection;
        sqlx::any::install_default_drivers();
        let mut conn = sqlx::AnyConnection::connect(&db_url).await.unwrap();
        sqlx::query("BEGIN IMMEDIATE")
            .execute(&mut conn)
            .await
            .unwrap();
        conn
    };
    let in_flight = tokio::spawn({
        let (client, base, r0) = (client.clone(), base.clone(), r0.clone());
        async move {
            client
                .post(format!("{base}/api/auth/refresh"))
                .json(&serde_json::json!({"refresh_token": r0}))
                .send()
                .await
        }
    });
    tokio::time::sleep(Duration::from_millis(300)).await;
    let term = Command::new("kill")
        .args(["-TERM", &child.0.id().to_string()])
        .status()
        .unwrap();
    assert!(term.success());
    tokio::time::sleep(Duration::from_millis(300)).await;
    sqlx::query("ROLLBACK").execute(&mut lock).await.unwrap();
    let answer = in_flight.await.unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    let exit = loop {
        if let Some(status) = child.0.try_wait().unwrap() {
            break status;
        }
        assert!(Instant::now() < deadline, "the server did not stop");
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert!(exit.success(), "a graceful stop exits 0: {exit}");

    // Whatever the client saw, the database holds a whole rotation or none.
    let (after, base) = start_server(dir.path());
    let _after = Guard(after);
    match answer {
        Ok(res) if res.status() == 200 => {
            let body: Value = res.json().await.unwrap();
            let r1 = body["refresh_token"].as_str().unwrap();
            let res = client
                .post(format!("{base}/api/auth/refresh"))
                .json(&serde_json::json!({"refresh_token": r1}))
                .send()
                .await
                .unwrap();
            assert_eq!(res.status(), 200, "the finished rotation's token works");
        }
        other => {
            let res = client
                .post(format!("{base}/api/auth/refresh"))
                .json(&serde_json::json!({"refresh_token": r0}))
                .send()
                .await
                .unwrap();
            assert_eq!(
                res.status(),
                200,
                "no answer ({other:?}), so the old token still works"
            );
        }
    }
}

/// Kills the child when the test ends, passing or failing.
struct Guard(Child);
impl Drop for Guard {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}
