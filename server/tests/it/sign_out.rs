//! Every sign-out and revocation ends what it should, on every instance (docs/protocol.md,
//! docs/threats.md): each sign-out path ends the refresh cookie's session, a kept rotation never
//! outlives its session, and a revocation on one instance reaches the others.

use crate::support::*;
use futures::future::join_all;
use reqwest::{header, StatusCode};
use serde_json::{json, Value};
use std::time::Duration;

// ── Every sign-out path ends the refresh cookie's session ─────────────────────────────────

async fn signing_out_through_the_app_after_the_access_cookie_expired_revokes_the_session(
    b: Backend,
) {
    let app = TestApp::spawn(&b).await;
    let (access, r0, _) = app.post_register_with_tokens("ada@example.com").await;
    // The access cookie's Max-Age ran out, so the browser sends the refresh cookie alone.
    let res = app
        .bare()
        .post(app.url(&server_fn::<app::api::Logout>()))
        .header(header::COOKIE, format!("refresh_token={r0}"))
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
        .body("")
        .send()
        .await
        .unwrap();
    assert!(
        res.status().is_success() || res.status().is_redirection(),
        "{}",
        res.status()
    );
    assert!(set_cookies(&res)
        .iter()
        .any(|(n, c)| n == "refresh_token" && c.contains("Max-Age=0")));
    assert_eq!(
        error_code(app.post_refresh(&r0).await).await,
        (StatusCode::UNAUTHORIZED, "invalid_refresh_token".into()),
        "the old refresh cookie, replayed from outside, is refused"
    );
    assert!(!live(&app, &access).await);
}

#[tokio::test]
async fn the_json_logout_with_only_the_refresh_cookie_revokes_the_session() {
    let app = TestApp::spawn(&Backend::Sqlite).await;
    let (access, r0, _) = app.post_register_with_tokens("ada@example.com").await;
    let res = app
        .bare()
        .post(app.url("/api/auth/logout"))
        .header(header::COOKIE, format!("refresh_token={r0}"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 204);
    assert_eq!(app.post_refresh(&r0).await.status(), 401);
    assert_eq!(app.get_me(&access).await.status(), 401);
}

// ── A kept rotation never outlives its session ─────────────────────────────────────────────

async fn a_replayed_parent_after_logout_is_refused_even_inside_the_grace_window(b: Backend) {
    let app = TestApp::spawn(&b).await;
    let (_, r0, _) = app.post_register_with_tokens("ada@example.com").await;
    let first: Value = app.post_refresh(&r0).await.json().await.unwrap();
    let r1 = first["refresh_token"].as_str().unwrap();
    let res = app
        .bare()
        .post(app.url("/api/auth/logout"))
        .json(&json!({"refresh_token": r1}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 204);
    assert_eq!(
        error_code(app.post_refresh(&r0).await).await,
        (StatusCode::UNAUTHORIZED, "invalid_refresh_token".into()),
        "the rotation kept for the grace window died with its session"
    );
    assert_eq!(app.post_refresh(r1).await.status(), 401);
}

#[tokio::test]
async fn garbage_refresh_tokens_are_refused_without_touching_real_sessions() {
    let app = TestApp::spawn(&Backend::Sqlite).await;
    let (_, r0, _) = app.post_register_with_tokens("ada@example.com").await;
    let before = app
        .count("SELECT COUNT(*) FROM sessionflow_refresh_tokens")
        .await;
    let junk = join_all((0..64).map(|i| app.post_refresh_owned(format!("junk-{i}")))).await;
    assert!(junk.iter().all(|r| r.status() == 401));
    assert_eq!(
        app.count("SELECT COUNT(*) FROM sessionflow_refresh_tokens")
            .await,
        before
    );
    assert_eq!(app.post_refresh(&r0).await.status(), 200);
}

// ── Revocation reaches every instance ─────────────────────────────────────────────────────────

async fn a_revocation_on_one_instance_reaches_the_others(b: Backend) {
    // PostgreSQL announces revocations (NOTIFY), so even a long liveness bound does not
    // delay them; on SQLite the default bound (1 s) is what limits the delay.
    let (one, two) = match b {
        Backend::Postgres(_) => {
            let long = Duration::from_secs(60);
            let one = TestApp::with(&b, |c| c.liveness_ttl(long)).await;
            let two = one.sibling(|c| c.liveness_ttl(long)).await;
            (one, two)
        }
        Backend::Sqlite | Backend::SqliteMemory => {
            let one = TestApp::spawn(&b).await;
            let two = one.sibling(|c| c).await;
            (one, two)
        }
    };
    let (access, _, _) = one.post_register_with_tokens("ada@example.com").await;
    assert_eq!(
        one.get_me(&access).await.status(),
        200,
        "one has seen the session live"
    );
    let res = two
        .bare()
        .post(two.url("/api/auth/logout-all"))
        .bearer_auth(&access)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 204);
    assert_eq!(
        two.get_me(&access).await.status(),
        401,
        "at once where it was made"
    );
    // Honoured by every other instance within 1 second (docs/operations.md).
    let deadline = std::time::Instant::now() + Duration::from_secs(1);
    while one.get_me(&access).await.status() != 401 {
        assert!(
            std::time::Instant::now() < deadline,
            "{b:?}: still signed in on one"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

per_backend!(
    signing_out_through_the_app_after_the_access_cookie_expired_revokes_the_session,
    a_replayed_parent_after_logout_is_refused_even_inside_the_grace_window,
    a_revocation_on_one_instance_reaches_the_others,
);
