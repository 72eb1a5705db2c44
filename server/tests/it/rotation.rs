//! The reuse rules (docs/protocol.md, "Reuse"): concurrent refreshes join one rotation whatever
//! the grace window, and a lost answer is not theft while a second late replay is.

use crate::support::*;
use futures::future::join_all;
use serde_json::Value;
use std::time::Duration;

// ── Joining does not depend on the grace window ────────────────────────────────────────────

async fn parallel_refreshes_share_one_rotation_even_without_a_grace_window(b: Backend) {
    let app = TestApp::with(&b, |b| b.reuse_grace(Duration::ZERO)).await;
    let (access, r0, _) = app.post_register_with_tokens("ada@example.com").await;
    // A slow database keeps the first rotation in flight while the others arrive.
    let lock = HeldLock::on_refresh_token(&app, &r0).await;
    let refreshes = join_all((0..16).map(|_| app.post_refresh(&r0)));
    let release = async {
        tokio::time::sleep(Duration::from_millis(500)).await;
        lock.release().await;
    };
    let (answers, ()) = tokio::join!(refreshes, release);
    let mut successors = std::collections::HashSet::new();
    for res in answers {
        assert_eq!(res.status(), 200);
        let body: Value = res.json().await.unwrap();
        successors.insert(body["refresh_token"].as_str().unwrap().to_owned());
    }
    assert_eq!(successors.len(), 1, "one rotation");
    assert!(live(&app, &access).await, "nobody was signed out");
}

/// Bursts per backend in the straggler test (`STRAGGLER_BURSTS`; 200 or more before a release).
fn straggler_bursts() -> usize {
    std::env::var("STRAGGLER_BURSTS")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(20)
}

async fn without_a_grace_window_the_stragglers_of_a_burst_still_share_its_rotation(b: Backend) {
    let app = TestApp::with(&b, |b| b.reuse_grace(Duration::ZERO)).await;
    let (_, _, user_id) = app.post_register_with_tokens("ada@example.com").await;
    let user = sessionflow::User {
        id: user_id,
        email: "ada@example.com".into(),
        email_verified: false,
    };
    for burst in 0..straggler_bursts() {
        let session =
            sessionflow::server::__internals::start_session(&app.auth, user.clone(), None)
                .await
                .unwrap();
        let r0 = session.refresh_token;
        // The burst's first request is served and committed before the others are read:
        // the worst order the server can see 8 requests that one client sent together.
        let first = app.post_refresh(&r0).await;
        assert_eq!(first.status(), 200, "burst {burst}: the first");
        let first: Value = first.json().await.unwrap();
        let stragglers = join_all((0..7).map(|_| app.post_refresh(&r0))).await;
        for res in stragglers {
            assert_eq!(res.status(), 200, "burst {burst}: a straggler was refused");
            let body: Value = res.json().await.unwrap();
            assert_eq!(
                body["refresh_token"], first["refresh_token"],
                "burst {burst}: one rotation, one successor"
            );
        }
        let r1 = first["refresh_token"].as_str().unwrap();
        assert_eq!(
            app.post_refresh(r1).await.status(),
            200,
            "burst {burst}: the session survived its burst"
        );
    }
}

// ── A lost answer is not theft ─────────────────────────────────────────────────────────────

async fn a_lost_refresh_answer_gets_its_successor_once_even_after_the_grace_window(b: Backend) {
    let app = TestApp::with(&b, |b| b.reuse_grace(Duration::from_millis(200))).await;
    let (access, r0, _) = app.post_register_with_tokens("ada@example.com").await;
    let lost: Value = app.post_refresh(&r0).await.json().await.unwrap();
    tokio::time::sleep(PAST_THE_WINDOWS).await;
    let late = app.post_refresh(&r0).await;
    assert_eq!(late.status(), 200, "a lost answer does not sign anyone out");
    let late: Value = late.json().await.unwrap();
    assert_eq!(
        late["refresh_token"], lost["refresh_token"],
        "the same successor"
    );
    let r1 = late["refresh_token"].as_str().unwrap();
    assert_eq!(app.post_refresh(r1).await.status(), 200, "and it works");
    assert!(live(&app, &access).await);
}

async fn a_second_late_replay_of_the_same_token_revokes_the_session(b: Backend) {
    let app = TestApp::with(&b, |b| b.reuse_grace(Duration::from_millis(200))).await;
    let (access, r0, _) = app.post_register_with_tokens("ada@example.com").await;
    let lost: Value = app.post_refresh(&r0).await.json().await.unwrap();
    tokio::time::sleep(PAST_THE_WINDOWS).await;
    assert_eq!(app.post_refresh(&r0).await.status(), 200);
    tokio::time::sleep(PAST_THE_WINDOWS).await;
    assert_eq!(
        error_code(app.post_refresh(&r0).await).await.1,
        "invalid_refresh_token"
    );
    let r1 = lost["refresh_token"].as_str().unwrap();
    assert_eq!(
        app.post_refresh(r1).await.status(),
        401,
        "the whole family is revoked"
    );
    assert!(!live(&app, &access).await);
}

per_backend!(
    parallel_refreshes_share_one_rotation_even_without_a_grace_window,
    without_a_grace_window_the_stragglers_of_a_burst_still_share_its_rotation,
    a_lost_refresh_answer_gets_its_successor_once_even_after_the_grace_window,
    a_second_late_replay_of_the_same_token_revokes_the_session,
);
