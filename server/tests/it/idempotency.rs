//! Idempotency-Key (docs/protocol.md): a re-sent request is answered what the first answered
//! and applied once, whatever the body, the key, the user or the timing.

use crate::support::*;
use futures::future::join_all;
use reqwest::{Client, Response, StatusCode};
use serde_json::{json, Value};
use std::time::Duration;

// ── Idempotency-Key ────────────────────────────────────────────────────────────────────────

async fn post_note(app: &TestApp, access: &str, key: Option<&str>, title: &str) -> Response {
    let mut req = app
        .bare()
        .post(app.url("/api/notes"))
        .bearer_auth(access)
        .json(&json!({"title": title, "body": "b"}));
    if let Some(k) = key {
        req = req.header("idempotency-key", k);
    }
    req.send().await.unwrap()
}

async fn the_same_key_with_another_body_is_422_and_creates_nothing(b: Backend) {
    let app = TestApp::spawn(&b).await;
    let (access, _, _) = app.post_register_with_tokens("ada@example.com").await;
    let first = post_note(&app, &access, Some("k-1"), "milk").await;
    assert_eq!(first.status(), 201);
    let first: Value = first.json().await.unwrap();
    let again = post_note(&app, &access, Some("k-1"), "milk").await;
    assert_eq!(
        again.status(),
        201,
        "a replay answers what the first call answered"
    );
    assert_eq!(again.json::<Value>().await.unwrap(), first);
    let other = post_note(&app, &access, Some("k-1"), "bread").await;
    assert_eq!(
        error_code(other).await,
        (StatusCode::UNPROCESSABLE_ENTITY, "validation".into())
    );
    assert_eq!(app.count("SELECT COUNT(*) FROM notes").await, 1);
}

#[tokio::test]
async fn keys_longer_than_255_or_not_visible_ascii_are_400_validation() {
    let app = TestApp::spawn(&Backend::Sqlite).await;
    let (access, _, _) = app.post_register_with_tokens("ada@example.com").await;
    for bad in ["k".repeat(256), "has space".into(), "tab\there".into()] {
        let res = post_note(&app, &access, Some(&bad), "milk").await;
        assert_eq!(
            error_code(res).await,
            (StatusCode::BAD_REQUEST, "validation".into()),
            "{bad:?}"
        );
    }
    assert_eq!(app.count("SELECT COUNT(*) FROM notes").await, 0);
    let longest = "k".repeat(255);
    assert_eq!(
        post_note(&app, &access, Some(&longest), "a").await.status(),
        201
    );
    assert_eq!(
        post_note(&app, &access, Some(&longest), "a").await.status(),
        201
    );
    assert_eq!(app.count("SELECT COUNT(*) FROM notes").await, 1);
}

#[tokio::test]
async fn keys_are_scoped_to_their_user() {
    let app = TestApp::spawn(&Backend::Sqlite).await;
    let (ada, _, _) = app.post_register_with_tokens("ada@example.com").await;
    let (bob, _, _) = app.post_register_with_tokens("bob@example.com").await;
    assert_eq!(
        post_note(&app, &ada, Some("same"), "ada's").await.status(),
        201
    );
    let res = post_note(&app, &bob, Some("same"), "bob's").await;
    assert_eq!(res.status(), 201);
    assert_eq!(res.json::<Value>().await.unwrap()["title"], "bob's");
    assert_eq!(app.count("SELECT COUNT(*) FROM notes").await, 2);
}

async fn a_re_sent_server_function_answers_what_the_first_call_answered(b: Backend) {
    let _serial = one_renderer_at_a_time().await;
    let app = TestApp::spawn(&b).await;
    let (access, _, _) = app.post_register_with_tokens("ada@example.com").await;
    let (other, _, _) = app.post_login_with_tokens("ada@example.com").await;
    let device = sid_of(&other);
    let revoke = || {
        app.bare()
            .post(app.url(&server_fn::<app::api::RevokeDevice>()))
            .bearer_auth(&access)
            .header("idempotency-key", "revoke-1")
            .form(&[("id", device.as_str())])
            .send()
    };
    let first = revoke().await.unwrap();
    assert!(first.status().is_success(), "{}", first.status());
    let again = revoke().await.unwrap();
    assert_eq!(
        again.status(),
        first.status(),
        "a re-sent revoke is not a 404"
    );
    let create = |title: &'static str| {
        app.bare()
            .post(app.url(&server_fn::<app::api::CreateNote>()))
            .bearer_auth(&access)
            .header("idempotency-key", "create-1")
            .form(&[("title", title), ("body", "")])
            .send()
    };
    assert!(create("milk").await.unwrap().status().is_success());
    assert_eq!(create("bread").await.unwrap().status(), 422);
    assert_eq!(app.count("SELECT COUNT(*) FROM notes").await, 1);
}

async fn concurrent_requests_with_one_key_create_one_note_and_agree(b: Backend) {
    let app = TestApp::spawn(&b).await;
    let (access, _, _) = app.post_register_with_tokens("ada@example.com").await;
    let answers = join_all((0..8).map(|_| post_note(&app, &access, Some("k-c"), "milk"))).await;
    let mut ids = std::collections::HashSet::new();
    for res in answers {
        assert_eq!(res.status(), 201);
        ids.insert(res.json::<Value>().await.unwrap()["id"].to_string());
    }
    assert_eq!(ids.len(), 1);
    assert_eq!(app.count("SELECT COUNT(*) FROM notes").await, 1);
}

#[tokio::test]
async fn keys_are_kept_for_a_day_and_then_swept() {
    let app = TestApp::spawn(&Backend::Sqlite).await;
    let (access, _, _) = app.post_register_with_tokens("ada@example.com").await;
    assert_eq!(
        post_note(&app, &access, Some("k-day"), "milk")
            .await
            .status(),
        201
    );
    let hour = 3_600_000i64;
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64;
    let age = |ms: i64| {
        sqlx::query("UPDATE sessionflow_idempotency_keys SET created_at = $1")
            .bind(now - ms)
            .execute(&app.db)
    };
    age(23 * hour).await.unwrap();
    sessionflow::server::__internals::sweep(&app.auth)
        .await
        .unwrap();
    let res = post_note(&app, &access, Some("k-day"), "bread").await;
    assert_eq!(
        res.status(),
        422,
        "a 23-hour-old key still stands for its first request"
    );
    age(25 * hour).await.unwrap();
    sessionflow::server::__internals::sweep(&app.auth)
        .await
        .unwrap();
    assert_eq!(
        app.count("SELECT COUNT(*) FROM sessionflow_idempotency_keys")
            .await,
        0
    );
}

#[tokio::test]
async fn an_aborted_request_that_reached_the_server_is_applied_once_and_its_re_send_replays_it() {
    // PostgreSQL can block inserts into one table while the key's own record goes through.
    let Some(pg) = Backend::postgres() else {
        return;
    };
    let app = TestApp::spawn(&pg).await;
    let (access, _, _) = app.post_register_with_tokens("ada@example.com").await;
    let lock = HeldLock::on_table(&app, "notes").await;
    let impatient = Client::builder()
        .timeout(Duration::from_millis(300))
        .build()
        .unwrap();
    let aborted = impatient
        .post(app.url("/api/notes"))
        .bearer_auth(&access)
        .header("idempotency-key", "k-abort")
        .json(&json!({"title": "milk", "body": "b"}))
        .send()
        .await;
    assert!(
        aborted.is_err(),
        "the client gave up while the server worked"
    );
    let resend = post_note(&app, &access, Some("k-abort"), "milk");
    let release = async {
        tokio::time::sleep(Duration::from_millis(300)).await;
        lock.release().await;
    };
    let (res, ()) = tokio::join!(resend, release);
    assert_eq!(res.status(), 201);
    assert_eq!(app.count("SELECT COUNT(*) FROM notes").await, 1);
}

per_backend!(
    the_same_key_with_another_body_is_422_and_creates_nothing,
    a_re_sent_server_function_answers_what_the_first_call_answered,
    concurrent_requests_with_one_key_create_one_note_and_agree,
);
