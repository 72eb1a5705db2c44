//! What an operator sees of the real binary: Prometheus metrics on `METRICS_ADDR` only (never on
//! the public port) that move with the events a client causes, and JSON log lines with
//! `LOG_FORMAT=json`.

use serde_json::{json, Value};
use std::{
    process::{Child, Command, Stdio},
    time::{Duration, Instant},
};

/// The server binary on free loopback ports over a fresh SQLite file; killed (by PID) on drop.
struct Running {
    child: Child,
    site: String,
    metrics: String,
    _dir: tempfile::TempDir,
}

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port()
}

async fn start() -> Running {
    let dir = tempfile::tempdir().unwrap();
    let (site, metrics) = (free_port(), free_port());
    let child = Command::new(env!("CARGO_BIN_EXE_server"))
        .current_dir(dir.path())
        .env("LEPTOS_SITE_ADDR", format!("127.0.0.1:{site}"))
        .env("METRICS_ADDR", format!("127.0.0.1:{metrics}"))
        .env("LOG_FORMAT", "json")
        .env("RUST_LOG", "info")
        .env("JWT_SECRET", "operations-test-secret-0123456789abcdef")
        .env(
            "DATABASE_URL",
            format!("sqlite://{}/app.db?mode=rwc", dir.path().display()),
        )
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the server starts");
    let running = Running {
        child,
        site: format!("http://127.0.0.1:{site}"),
        metrics: format!("http://127.0.0.1:{metrics}/metrics"),
        _dir: dir,
    };
    let deadline = Instant::now() + Duration::from_secs(30);
    let client = reqwest::Client::new();
    loop {
        let up = client
            .get(format!("{}/healthz", running.site))
            .send()
            .await
            .is_ok_and(|r| r.status() == 200);
        if up {
            return running;
        }
        assert!(Instant::now() < deadline, "the server did not come up");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// The value of one sample line (`name{labels} value`), 0 when absent.
fn sample(text: &str, series: &str) -> f64 {
    text.lines()
        .find(|l| l.starts_with(series) && l[series.len()..].starts_with(' '))
        .and_then(|l| l.rsplit(' ').next())
        .and_then(|v| v.parse().ok())
        .unwrap_or(0.0)
}

#[tokio::test]
async fn metrics_move_with_what_clients_do_and_are_not_on_the_public_port() {
    let server = start().await;
    let http = reqwest::Client::new();
    let metrics = || async {
        http.get(&server.metrics)
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap()
    };
    let body = json!({"email": "ada@example.com", "password": "correct horse battery"});
    let res = http
        .post(format!("{}/api/auth/register", server.site))
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 201);
    let wrong = json!({"email": "ada@example.com", "password": "wrong horse battery"});
    let res = http
        .post(format!("{}/api/auth/login", server.site))
        .json(&wrong)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 401);
    let mut login = body.clone();
    login["transport"] = json!("body");
    let tokens: Value = http
        .post(format!("{}/api/auth/login", server.site))
        .json(&login)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let refresh = || {
        http.post(format!("{}/api/auth/refresh", server.site))
            .json(&json!({"refresh_token": tokens["refresh_token"]}))
            .send()
    };
    assert_eq!(refresh().await.unwrap().status(), 200);
    assert_eq!(refresh().await.unwrap().status(), 200, "joined (coalesced)");

    let text = metrics().await;
    for (series, at_least) in [
        (r#"sessionflow_registrations_total{outcome="ok"}"#, 1.0),
        (
            r#"sessionflow_sign_ins_total{outcome="invalid_credentials"}"#,
            1.0,
        ),
        (r#"sessionflow_sign_ins_total{outcome="ok"}"#, 1.0),
        (
            r#"sessionflow_refresh_outcomes_total{outcome="rotated"}"#,
            1.0,
        ),
        (
            r#"sessionflow_refresh_outcomes_total{outcome="joined"}"#,
            1.0,
        ),
        (
            r#"sessionflow_refreshes_total{path="api",result="ok"}"#,
            2.0,
        ),
        ("sessionflow_rotation_duration_seconds_count", 1.0),
        (
            r#"sessionflow_request_duration_seconds_count{kind="api"}"#,
            5.0,
        ),
    ] {
        assert!(
            sample(&text, series) >= at_least,
            "{series} below {at_least}:\n{text}"
        );
    }
    let public = http
        .get(format!("{}/metrics", server.site))
        .send()
        .await
        .unwrap();
    assert_eq!(public.status(), 404, "never served on the public port");
    assert!(!public.text().await.unwrap().contains("sessionflow_"));
}

#[tokio::test]
async fn json_logs_are_one_object_per_line_and_never_hold_a_secret() {
    let mut server = start().await;
    let _ = reqwest::Client::new()
        .post(format!("{}/api/auth/login", server.site))
        .json(&json!({"email": "nobody@example.com", "password": "hunter2hunter2"}))
        .send()
        .await
        .unwrap();
    let _ = server.child.kill();
    let out = server.child.wait_with_output_ref();
    let lines: Vec<&str> = out.lines().filter(|l| !l.trim().is_empty()).collect();
    assert!(!lines.is_empty(), "the server logged nothing");
    for line in &lines {
        let v: Value = serde_json::from_str(line).unwrap_or_else(|e| panic!("{e}: {line}"));
        assert!(v.get("level").is_some(), "{line}");
    }
    assert!(lines.iter().any(|l| l.contains("listening on")));
    assert!(!out.contains("operations-test-secret") && !out.contains("hunter2"));
}

trait OutputRef {
    fn wait_with_output_ref(&mut self) -> String;
}

impl OutputRef for Child {
    /// Everything the (stopped) process wrote to stdout and stderr.
    fn wait_with_output_ref(&mut self) -> String {
        use std::io::Read;
        let _ = self.wait();
        let mut all = String::new();
        if let Some(mut o) = self.stdout.take() {
            let _ = o.read_to_string(&mut all);
        }
        if let Some(mut e) = self.stderr.take() {
            let _ = e.read_to_string(&mut all);
        }
        all
    }
}

#[test]
fn with_json_logs_a_start_up_failure_is_a_json_line_naming_the_variable() {
    let dir = tempfile::tempdir().unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_server"))
        .current_dir(dir.path())
        .env("LEPTOS_SITE_ADDR", "127.0.0.1:0")
        .env("LOG_FORMAT", "json")
        .env("JWT_SECRET", "operations-test-secret-0123456789abcdef")
        .env(
            "DATABASE_URL",
            "postgres://nobody:secretpw@127.0.0.1:1/none",
        )
        .output()
        .expect("the server runs");
    assert!(!out.status.success());
    let text =
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    let last = text
        .lines()
        .rev()
        .find(|l| !l.trim().is_empty())
        .unwrap_or_default();
    let v: Value = serde_json::from_str(last).unwrap_or_else(|e| panic!("{e}: {text}"));
    assert_eq!(v["level"], "ERROR", "{last}");
    assert!(
        last.contains("DATABASE_URL") && !text.contains("secretpw"),
        "{text}"
    );
}
