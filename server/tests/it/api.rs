//! The JSON API and the token rules from the outside: the real router on port 0, a fresh database per test.

use crate::support::*;
use futures::future::join_all;
use reqwest::{header, StatusCode};
use serde_json::{json, Value};
use std::time::Duration;

async fn register_answers_201_with_the_token_response_and_both_cookies(b: Backend) {
    let app = TestApp::spawn(&b).await;
    let res = app
        .bare()
        .post(app.url("/api/auth/register"))
        .json(&json!({"email": "Ada@Example.com", "password": PASSWORD}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 201);
    let cookies = set_cookies(&res);
    for (name, max_age) in [
        ("access_token", "Max-Age=900"),
        ("refresh_token", "Max-Age=2592000"),
    ] {
        let (_, c) = cookies.iter().find(|(n, _)| n == name).expect(name);
        for attr in ["HttpOnly", "SameSite=Lax", "Path=/", max_age] {
            assert!(c.contains(attr), "{name} lacks {attr}: {c}");
        }
        assert!(
            !c.contains("Secure"),
            "loopback test server: no Secure flag"
        );
    }
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["token_type"], "Bearer");
    assert_eq!(body["expires_in"], 900);
    assert_eq!(body["user"]["email"], "ada@example.com");
    assert!(
        body.get("refresh_token").is_none(),
        "cookie transport keeps the refresh token out of the body"
    );
    assert_eq!(
        app.get_me(body["access_token"].as_str().unwrap())
            .await
            .status(),
        200
    );
}

async fn registering_a_taken_email_in_another_case_is_409_conflict(b: Backend) {
    let app = TestApp::spawn(&b).await;
    app.post_register(&app.bare(), "ada@example.com").await;
    let res = app
        .bare()
        .post(app.url("/api/auth/register"))
        .json(&json!({"email": "ADA@example.com", "password": PASSWORD}))
        .send()
        .await
        .unwrap();
    assert_eq!(
        error_code(res).await,
        (StatusCode::CONFLICT, "conflict".into())
    );
}

#[tokio::test]
async fn bad_emails_and_passwords_are_400_validation() {
    let app = TestApp::spawn(&Backend::Sqlite).await;
    for body in [
        json!({"email": "not-an-email", "password": PASSWORD}),
        json!({"email": "ada@example.com", "password": "short"}),
        json!({"email": "ada@example.com", "password": "x".repeat(1025)}),
    ] {
        let res = app
            .bare()
            .post(app.url("/api/auth/register"))
            .json(&body)
            .send()
            .await
            .unwrap();
        assert_eq!(
            error_code(res).await,
            (StatusCode::BAD_REQUEST, "validation".into())
        );
    }
    assert_eq!(app.count("SELECT COUNT(*) FROM sessionflow_users").await, 0);
}

#[tokio::test]
async fn wrong_passwords_and_unknown_emails_are_401_invalid_credentials() {
    let app = TestApp::spawn(&Backend::Sqlite).await;
    app.post_register(&app.bare(), "ada@example.com").await;
    for (email, password) in [
        ("ada@example.com", "wrong password"),
        ("nobody@example.com", PASSWORD),
    ] {
        let res = app
            .bare()
            .post(app.url("/api/auth/login"))
            .json(&json!({"email": email, "password": password}))
            .send()
            .await
            .unwrap();
        assert_eq!(
            error_code(res).await,
            (StatusCode::UNAUTHORIZED, "invalid_credentials".into())
        );
    }
}

#[tokio::test]
async fn login_with_body_transport_returns_the_refresh_token_and_sets_no_cookies() {
    let app = TestApp::spawn(&Backend::Sqlite).await;
    app.post_register(&app.bare(), "ada@example.com").await;
    let res = app
        .bare()
        .post(app.url("/api/auth/login"))
        .json(&json!({"email": "ada@example.com", "password": PASSWORD, "transport": "body"}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    assert!(set_cookies(&res).is_empty());
    let body: Value = res.json().await.unwrap();
    let refresh = body["refresh_token"]
        .as_str()
        .expect("refresh token in the body");
    assert_eq!(app.post_refresh(refresh).await.status(), 200);
}

#[tokio::test]
async fn repeated_sign_in_attempts_are_rate_limited_with_retry_after() {
    let app = TestApp::spawn(&Backend::Sqlite).await;
    let attempt = || {
        app.bare()
            .post(app.url("/api/auth/login"))
            .json(&json!({"email": "target@example.com", "password": "guessing-1234"}))
            .send()
    };
    let mut last = None;
    for _ in 0..12 {
        last = Some(attempt().await.unwrap());
    }
    let res = last.unwrap();
    assert_eq!(res.status(), 429);
    let wait: u64 = res.headers()[header::RETRY_AFTER]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!(wait >= 1);
    assert_eq!(error_code(res).await.1, "rate_limited");
}

async fn refresh_rotates_the_refresh_token_and_spends_the_old_one(b: Backend) {
    let app = TestApp::spawn(&b).await;
    let browser = app.browser();
    app.post_register(&browser, "ada@example.com").await;
    let res = browser
        .post(app.url("/api/auth/refresh"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let cookies = set_cookies(&res);
    assert!(cookies.iter().any(|(n, _)| n == "refresh_token"));
    assert!(cookies.iter().any(|(n, _)| n == "access_token"));
    assert_eq!(
        app.count("SELECT COUNT(*) FROM sessionflow_refresh_tokens WHERE spent_at IS NOT NULL")
            .await,
        1
    );
    assert_eq!(
        app.count("SELECT COUNT(*) FROM sessionflow_refresh_tokens WHERE spent_at IS NULL")
            .await,
        1
    );
    // The browser now holds the new pair and can go on.
    assert_eq!(
        browser
            .get(app.url("/api/me"))
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
    assert_eq!(
        browser
            .post(app.url("/api/auth/refresh"))
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
}

async fn refresh_reused_within_grace_keeps_the_session_and_gives_the_same_successor(b: Backend) {
    let app = TestApp::spawn(&b).await;
    let (_, r0, _) = app.post_register_with_tokens("ada@example.com").await;
    let first: Value = app.post_refresh(&r0).await.json().await.unwrap();
    let again = app.post_refresh(&r0).await;
    assert_eq!(
        again.status(),
        200,
        "inside the grace window a replay is not a theft"
    );
    let again: Value = again.json().await.unwrap();
    assert_eq!(
        first["refresh_token"], again["refresh_token"],
        "both callers converge on one token"
    );
    let r1 = first["refresh_token"].as_str().unwrap();
    assert_eq!(
        app.post_refresh(r1).await.status(),
        200,
        "the session survived"
    );
}

async fn refresh_reused_after_grace_revokes_the_whole_session(b: Backend) {
    let app = TestApp::with(&b, |b| b.reuse_grace(Duration::from_millis(200))).await;
    let (_, r0, _) = app.post_register_with_tokens("ada@example.com").await;
    let first: Value = app.post_refresh(&r0).await.json().await.unwrap();
    let r1 = first["refresh_token"].as_str().unwrap();
    // The successor was used, so the answer to r0's rotation was not lost: r0 again is theft.
    let second: Value = app.post_refresh(r1).await.json().await.unwrap();
    let (a2, r2) = (
        second["access_token"].as_str().unwrap(),
        second["refresh_token"].as_str().unwrap(),
    );
    tokio::time::sleep(Duration::from_millis(400)).await;
    let stolen = app.post_refresh(&r0).await;
    assert_eq!(
        error_code(stolen).await,
        (StatusCode::UNAUTHORIZED, "invalid_refresh_token".into())
    );
    assert_eq!(
        error_code(app.post_refresh(r2).await).await.1,
        "invalid_refresh_token",
        "newest token revoked too"
    );
    assert_eq!(
        error_code(app.get_me(a2).await).await.1,
        "invalid_token",
        "access tokens of the session stop working"
    );
}

async fn thirty_two_concurrent_refreshes_of_one_token_all_get_a_working_pair(b: Backend) {
    let app = TestApp::spawn(&b).await;
    let (_, r0, _) = app.post_register_with_tokens("ada@example.com").await;
    let results = join_all((0..32).map(|_| app.post_refresh(&r0))).await;
    let mut successors = std::collections::HashSet::new();
    for res in results {
        assert_eq!(res.status(), 200);
        let body: Value = res.json().await.unwrap();
        assert_eq!(
            app.get_me(body["access_token"].as_str().unwrap())
                .await
                .status(),
            200
        );
        successors.insert(body["refresh_token"].as_str().unwrap().to_owned());
    }
    assert_eq!(successors.len(), 1, "one rotation, one successor");
    let r1 = successors.into_iter().next().unwrap();
    assert_eq!(
        app.post_refresh(&r1).await.status(),
        200,
        "the session survives"
    );
    assert_eq!(
        app.count("SELECT COUNT(*) FROM sessionflow_sessions WHERE revoked_at IS NOT NULL")
            .await,
        0
    );
}

async fn two_server_instances_on_one_database_rotate_a_token_once(b: Backend) {
    let one = TestApp::spawn(&b).await;
    let two = one.sibling(|b| b).await;
    let (access, r0, _) = one.post_register_with_tokens("ada@example.com").await;
    let (a, b2) = tokio::join!(one.post_refresh(&r0), two.post_refresh(&r0));
    let a: Value = a.json().await.unwrap();
    let b2: Value = b2.json().await.unwrap();
    assert_eq!(a["refresh_token"], b2["refresh_token"]);
    assert_eq!(
        one.tokens_of(&sid_of(&access)).await,
        2,
        "one rotation across both instances"
    );
}

#[tokio::test]
async fn an_invalid_refresh_clears_both_cookies_and_a_missing_one_is_401() {
    let app = TestApp::spawn(&Backend::Sqlite).await;
    let res = app
        .bare()
        .post(app.url("/api/auth/refresh"))
        .header(header::COOKIE, "refresh_token=not-a-real-token")
        .send()
        .await
        .unwrap();
    let cleared = set_cookies(&res);
    assert!(cleared
        .iter()
        .any(|(n, c)| n == "refresh_token" && c.contains("Max-Age=0")));
    assert!(cleared
        .iter()
        .any(|(n, c)| n == "access_token" && c.contains("Max-Age=0")));
    assert_eq!(
        res.headers()[header::WWW_AUTHENTICATE],
        r#"Bearer error="invalid_token""#
    );
    assert_eq!(
        error_code(res).await,
        (StatusCode::UNAUTHORIZED, "invalid_refresh_token".into())
    );
    let res = app
        .bare()
        .post(app.url("/api/auth/refresh"))
        .send()
        .await
        .unwrap();
    assert_eq!(error_code(res).await.1, "invalid_refresh_token");
}

async fn logout_revokes_the_session_and_clears_cookies(b: Backend) {
    let app = TestApp::spawn(&b).await;
    let browser = app.browser();
    let body = app.post_register(&browser, "ada@example.com").await;
    let access = body["access_token"].as_str().unwrap().to_owned();
    let res = browser
        .post(app.url("/api/auth/logout"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 204);
    assert!(set_cookies(&res)
        .iter()
        .all(|(_, c)| c.contains("Max-Age=0")));
    assert_eq!(
        error_code(app.get_me(&access).await).await.1,
        "invalid_token"
    );
    assert_eq!(
        app.count("SELECT COUNT(*) FROM sessionflow_sessions WHERE revoked_at IS NULL")
            .await,
        0
    );
}

#[tokio::test]
async fn logout_with_a_body_token_revokes_that_session() {
    let app = TestApp::spawn(&Backend::Sqlite).await;
    let (access, refresh, _) = app.post_register_with_tokens("ada@example.com").await;
    let res = app
        .bare()
        .post(app.url("/api/auth/logout"))
        .json(&json!({"refresh_token": refresh}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 204);
    assert_eq!(app.get_me(&access).await.status(), 401);
    assert_eq!(app.post_refresh(&refresh).await.status(), 401);
}

async fn logout_all_revokes_every_session_of_the_user_only(b: Backend) {
    let app = TestApp::spawn(&b).await;
    let (a1, _, _) = app.post_register_with_tokens("ada@example.com").await;
    let (a2, _, _) = app.post_register_with_tokens("ada2@example.com").await;
    let second: Value = app
        .bare()
        .post(app.url("/api/auth/login"))
        .json(&json!({"email": "ada@example.com", "password": PASSWORD}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let res = app
        .bare()
        .post(app.url("/api/auth/logout-all"))
        .bearer_auth(&a1)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 204);
    assert_eq!(app.get_me(&a1).await.status(), 401);
    assert_eq!(
        app.get_me(second["access_token"].as_str().unwrap())
            .await
            .status(),
        401
    );
    assert_eq!(
        app.get_me(&a2).await.status(),
        200,
        "another user is untouched"
    );
}

async fn sessions_are_listed_with_the_current_one_marked_and_others_can_be_revoked(b: Backend) {
    let app = TestApp::spawn(&b).await;
    let (a1, _, _) = app.post_register_with_tokens("ada@example.com").await;
    let list = app.get_sessions(&a1).await;
    assert_eq!(list.len(), 2, "register and login each opened a session");
    let current: Vec<_> = list.iter().filter(|s| s["current"] == true).collect();
    assert_eq!(current.len(), 1);
    assert_eq!(current[0]["id"], sid_of(&a1));
    for key in ["id", "created_at", "last_used_at", "user_agent", "current"] {
        assert!(list[0].get(key).is_some(), "{key}");
    }
    let other = list.iter().find(|s| s["current"] == false).unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let res = app
        .bare()
        .delete(app.url(&format!("/api/auth/sessions/{other}")))
        .bearer_auth(&a1)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 204);
    let res = app
        .bare()
        .delete(app.url(&format!("/api/auth/sessions/{other}")))
        .bearer_auth(&a1)
        .send()
        .await
        .unwrap();
    assert_eq!(
        error_code(res).await,
        (StatusCode::NOT_FOUND, "not_found".into())
    );
}

#[tokio::test]
async fn a_session_of_another_user_cannot_be_deleted() {
    let app = TestApp::spawn(&Backend::Sqlite).await;
    let (a1, _, _) = app.post_register_with_tokens("ada@example.com").await;
    let (a2, _, _) = app.post_register_with_tokens("bob@example.com").await;
    let res = app
        .bare()
        .delete(app.url(&format!("/api/auth/sessions/{}", sid_of(&a2))))
        .bearer_auth(&a1)
        .send()
        .await
        .unwrap();
    assert_eq!(
        error_code(res).await,
        (StatusCode::NOT_FOUND, "not_found".into())
    );
    assert_eq!(app.get_me(&a2).await.status(), 200);
}

#[tokio::test]
async fn bad_access_tokens_get_the_right_401_code() {
    let app = TestApp::spawn(&Backend::Sqlite).await;
    let (access, _, user_id) = app.post_register_with_tokens("ada@example.com").await;
    let sid = sid_of(&access);
    let res = app.bare().get(app.url("/api/me")).send().await.unwrap();
    assert_eq!(
        res.headers()[header::WWW_AUTHENTICATE],
        r#"Bearer error="invalid_token""#
    );
    assert_eq!(
        error_code(res).await,
        (StatusCode::UNAUTHORIZED, "missing_token".into())
    );
    assert_eq!(
        error_code(app.get_me(&signed_access(&user_id, &sid, -60)).await)
            .await
            .1,
        "token_expired"
    );

    use base64::Engine;
    let b64 = |s: &str| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(s);
    let payload = access.split('.').nth(1).unwrap();
    let alg_none = format!("{}.{payload}.", b64(r#"{"alg":"none","typ":"JWT"}"#));
    let mut tampered = access.clone();
    tampered.replace_range(access.len() - 5.., "AAAAA");
    let forged = {
        let claims = json!({"sub": user_id, "sid": sid, "jti": "x", "iat": 0, "exp": 4_000_000_000i64,
            "iss": "sessionflow", "aud": "sessionflow-app"});
        jsonwebtoken::encode(
            &jsonwebtoken::Header::default(),
            &claims,
            &jsonwebtoken::EncodingKey::from_secret(b"some-other-secret-of-enough-length!!"),
        )
        .unwrap()
    };
    for bad in [
        alg_none,
        tampered,
        forged,
        "garbage".into(),
        "a".repeat(9000),
    ] {
        assert_eq!(
            error_code(app.get_me(&bad).await).await,
            (StatusCode::UNAUTHORIZED, "invalid_token".into())
        );
    }
    // A token from the cookie is accepted as well as the header.
    let res = app
        .bare()
        .get(app.url("/api/me"))
        .header(header::COOKIE, format!("access_token={access}"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
}

#[tokio::test]
async fn malformed_bodies_are_400_or_413_never_500() {
    let app = TestApp::spawn(&Backend::Sqlite).await;
    let (access, _, _) = app.post_register_with_tokens("ada@example.com").await;
    let post = |path: &str, body: Vec<u8>| {
        app.bare()
            .post(app.url(path))
            .bearer_auth(&access)
            .header(header::CONTENT_TYPE, "application/json")
            .body(body)
            .send()
    };
    for (path, body) in [
        ("/api/auth/login", b"{not json".to_vec()),
        (
            "/api/auth/register",
            br#"{"email": 42, "password": []}"#.to_vec(),
        ),
        ("/api/notes", br#"{"title": null}"#.to_vec()),
        ("/api/notes", br#"{"title": ""}"#.to_vec()),
    ] {
        let (status, code) = error_code(post(path, body).await.unwrap()).await;
        assert_eq!(
            (status, code.as_str()),
            (StatusCode::BAD_REQUEST, "validation"),
            "{path}"
        );
    }
    let huge = format!(
        r#"{{"title": "x", "body": "{}"}}"#,
        "a".repeat(3 * 1024 * 1024)
    )
    .into_bytes();
    let (status, code) = error_code(post("/api/notes", huge).await.unwrap()).await;
    assert_eq!(
        (status, code.as_str()),
        (StatusCode::PAYLOAD_TOO_LARGE, "validation")
    );
    assert_eq!(app.count("SELECT COUNT(*) FROM notes").await, 0);
}

async fn the_same_idempotency_key_twice_creates_one_note(b: Backend) {
    let app = TestApp::spawn(&b).await;
    let (access, _, _) = app.post_register_with_tokens("ada@example.com").await;
    let create = || {
        app.bare()
            .post(app.url("/api/notes"))
            .bearer_auth(&access)
            .header("Idempotency-Key", "key-1")
            .json(&json!({"title": "Groceries", "body": "milk"}))
            .send()
    };
    let first = create().await.unwrap();
    assert_eq!(first.status(), 201);
    let first: Value = first.json().await.unwrap();
    let second = create().await.unwrap();
    assert_eq!(
        second.status(),
        201,
        "a replay answers as the first call did"
    );
    let second: Value = second.json().await.unwrap();
    assert_eq!(first["id"], second["id"]);
    let list: Vec<Value> = app
        .bare()
        .get(app.url("/api/notes"))
        .bearer_auth(&access)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(list.len(), 1);
}

#[tokio::test]
async fn notes_are_private_to_their_owner() {
    let app = TestApp::spawn(&Backend::Sqlite).await;
    let (ada, _, _) = app.post_register_with_tokens("ada@example.com").await;
    let (bob, _, _) = app.post_register_with_tokens("bob@example.com").await;
    let res = app
        .bare()
        .post(app.url("/api/notes"))
        .bearer_auth(&ada)
        .json(&json!({"title": "secret"}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 201);
    let list: Vec<Value> = app
        .bare()
        .get(app.url("/api/notes"))
        .bearer_auth(&bob)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(list.is_empty());
}

async fn sessions_survive_a_server_restart(b: Backend) {
    let before = TestApp::spawn(&b).await;
    let (access, refresh, _) = before.post_register_with_tokens("ada@example.com").await;
    let after = before.sibling(|b| b).await;
    drop(before);
    assert_eq!(after.get_me(&access).await.status(), 200);
    assert_eq!(after.post_refresh(&refresh).await.status(), 200);
}

#[tokio::test]
async fn cookie_authenticated_writes_from_a_foreign_origin_are_403_csrf() {
    let app = TestApp::spawn(&Backend::Sqlite).await;
    let browser = app.browser();
    app.post_register(&browser, "ada@example.com").await;
    let res = browser
        .post(app.url("/api/notes"))
        .header(header::ORIGIN, "https://evil.example")
        .json(&json!({"title": "planted"}))
        .send()
        .await
        .unwrap();
    assert_eq!(
        error_code(res).await,
        (StatusCode::FORBIDDEN, "csrf".into())
    );
    let res = browser
        .post(app.url("/api/notes"))
        .header(header::ORIGIN, &app.base)
        .json(&json!({"title": "mine"}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 201);
    assert_eq!(app.count("SELECT COUNT(*) FROM notes").await, 1);
}

#[tokio::test]
async fn healthz_answers_200_while_the_database_answers() {
    let app = TestApp::spawn(&Backend::Sqlite).await;
    assert_eq!(
        app.bare()
            .get(app.url("/healthz"))
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
    app.db.close().await;
    assert_eq!(
        app.bare()
            .get(app.url("/healthz"))
            .send()
            .await
            .unwrap()
            .status(),
        503
    );
}

#[tokio::test]
async fn the_sweep_deletes_expired_sessions_and_keeps_live_ones() {
    let app = TestApp::with(&Backend::Sqlite, |b| b.refresh_ttl(Duration::from_secs(1))).await;
    app.post_register_with_tokens("ada@example.com").await;
    let live = app.sibling(|b| b).await;
    live.post_register_with_tokens("bob@example.com").await;
    tokio::time::sleep(Duration::from_millis(1100)).await;
    sessionflow::server::__internals::sweep(&app.auth)
        .await
        .unwrap();
    let users = app
        .count("SELECT COUNT(DISTINCT user_id) FROM sessionflow_sessions")
        .await;
    assert_eq!(
        users, 1,
        "ada's one-second sessions are gone, bob's 30-day ones stay"
    );
}

#[tokio::test]
async fn a_refresh_token_of_the_wrong_type_is_refused_not_read_as_absent() {
    let app = TestApp::spawn(&Backend::Sqlite).await;
    let (_, refresh, _) = app.post_register_with_tokens("ada@example.com").await;
    for path in ["/api/auth/logout", "/api/auth/refresh"] {
        for body in [
            serde_json::json!({"refresh_token": 42}),
            serde_json::json!({"refresh_token": {"nested": true}}),
            serde_json::json!([refresh]),
        ] {
            let res = app
                .bare()
                .post(app.url(path))
                .json(&body)
                .send()
                .await
                .unwrap();
            assert_eq!(
                error_code(res).await,
                (reqwest::StatusCode::BAD_REQUEST, "validation".into()),
                "{path} {body}"
            );
        }
        // Whitespace is not JSON either (schemathesis sent a lone "\r"): refused, not read as
        // no body, which would sign out by cookie.
        let res = app
            .bare()
            .post(app.url(path))
            .header("content-type", "application/json")
            .body("\r")
            .send()
            .await
            .unwrap();
        assert_eq!(
            error_code(res).await,
            (reqwest::StatusCode::BAD_REQUEST, "validation".into()),
            "{path} with a whitespace body"
        );
    }
    // Nothing was signed out by the malformed calls; a `null` body (the description's optional
    // body) and no body at all still work.
    let res = app.post_refresh(&refresh).await;
    assert_eq!(res.status(), 200);
    let res = app
        .bare()
        .post(app.url("/api/auth/refresh"))
        .json(&serde_json::Value::Null)
        .send()
        .await
        .unwrap();
    assert_eq!(
        error_code(res).await.1,
        "invalid_refresh_token",
        "null is no body: no token"
    );
    let res = app
        .bare()
        .post(app.url("/api/auth/logout"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 204);
}

per_backend!(
    register_answers_201_with_the_token_response_and_both_cookies,
    registering_a_taken_email_in_another_case_is_409_conflict,
    refresh_rotates_the_refresh_token_and_spends_the_old_one,
    refresh_reused_within_grace_keeps_the_session_and_gives_the_same_successor,
    refresh_reused_after_grace_revokes_the_whole_session,
    thirty_two_concurrent_refreshes_of_one_token_all_get_a_working_pair,
    two_server_instances_on_one_database_rotate_a_token_once,
    logout_revokes_the_session_and_clears_cookies,
    logout_all_revokes_every_session_of_the_user_only,
    sessions_are_listed_with_the_current_one_marked_and_others_can_be_revoked,
    the_same_idempotency_key_twice_creates_one_note,
    sessions_survive_a_server_restart,
);
