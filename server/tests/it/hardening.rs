//! The reuse rules (docs/protocol.md) and abuse and failure (docs/threats.md), from the outside: what a
//! hostile, an unlucky or a failing client can do, and that no session ends that shouldn't, or
//! lives on that shouldn't.

use crate::support::*;
use futures::future::join_all;
use reqwest::{header, Client, Response, StatusCode};
use serde_json::{json, Value};
use std::time::Duration;

/// The URL a server function is registered at.
fn server_fn<T: leptos::server_fn::ServerFn>() -> String {
    T::PATH.to_owned()
}

async fn login(app: &TestApp, client: &Client, email: &str, password: &str) -> Response {
    client
        .post(app.url("/api/auth/login"))
        .json(&json!({"email": email, "password": password}))
        .send()
        .await
        .expect("login answers")
}

/// Whether the session an access token belongs to is still live.
async fn live(app: &TestApp, access: &str) -> bool {
    app.count(&format!(
        "SELECT COUNT(*) FROM sessionflow_sessions WHERE revoked_at IS NULL AND id = '{}'",
        sid_of(access)
    ))
    .await
        == 1
}

// ── 1. Every sign-out path ends the refresh cookie's session ─────────────────────────────────

#[tokio::test]
async fn signing_out_through_the_app_after_the_access_cookie_expired_revokes_the_session() {
    for b in backends() {
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

// ── 2. Password hashing is bounded ────────────────────────────────────────────────────────────

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_flood_of_sign_ins_gets_503_with_retry_after_and_health_stays_answering() {
    let app = TestApp::spawn(&Backend::Sqlite).await;
    // 48 sign-ins at once, each from its own address (so no rate limit applies) with a fresh
    // email: each would cost an argon2 verification (~19 MiB) if nothing bounded them.
    let flood = join_all((1..=48).map(|i| {
        let client = app.client_at(&format!("127.0.1.{i}"));
        let app = &app;
        async move { login(app, &client, &format!("u{i}@example.com"), PASSWORD).await }
    }));
    let health = async {
        tokio::time::sleep(Duration::from_millis(20)).await;
        app.bare().get(app.url("/healthz")).send().await.unwrap()
    };
    let (answers, health) = tokio::join!(flood, health);
    assert_eq!(
        health.status(),
        200,
        "the health check answers during the flood"
    );
    let mut busy = 0;
    for res in answers {
        match res.status().as_u16() {
            401 => assert_eq!(error_code(res).await.1, "invalid_credentials"),
            503 => {
                busy += 1;
                let wait: u64 = res.headers()[header::RETRY_AFTER]
                    .to_str()
                    .unwrap()
                    .parse()
                    .unwrap();
                assert!(wait >= 1);
                assert_eq!(error_code(res).await.1, "unavailable");
            }
            other => panic!("a sign-in answered {other}"),
        }
    }
    assert!(
        busy > 0,
        "beyond the queue, sign-ins are refused rather than queued"
    );
}

// ── 3. Nobody locks an owner out ──────────────────────────────────────────────────────────────

/// Wrong passwords from `client` until a 429 (with `Retry-After`) or `max` attempts.
async fn guess_until_limited(app: &TestApp, client: &Client, email: &str, max: usize) -> bool {
    for _ in 0..max {
        let res = login(app, client, email, "wrong password 1").await;
        if res.status() == 429 {
            assert!(res.headers().contains_key(header::RETRY_AFTER));
            assert_eq!(error_code(res).await.1, "rate_limited");
            return true;
        }
        assert_eq!(res.status(), 401);
    }
    false
}

#[tokio::test]
async fn someone_elses_failures_never_stop_the_owner_signing_in_from_another_address() {
    let app = TestApp::spawn(&Backend::Sqlite).await;
    let owner = app.client_at("127.0.0.3");
    app.post_register(&owner, "ada@example.com").await;
    let attacker = app.client_at("127.0.0.2");
    assert!(
        guess_until_limited(&app, &attacker, "ada@example.com", 40).await,
        "the guesser is slowed down"
    );
    assert_eq!(
        login(&app, &owner, "ada@example.com", PASSWORD)
            .await
            .status(),
        200,
        "the owner, elsewhere, signs in"
    );
}

#[tokio::test]
async fn on_postgres_the_sign_in_limits_hold_across_instances() {
    use sessionflow::server::config::{AuthConfigBuilder, RateLimit};
    let Some(pg) = backends()
        .into_iter()
        .find(|b| matches!(b, Backend::Postgres(_)))
    else {
        return;
    };
    let limits = |c: AuthConfigBuilder| {
        c.rate_limits(
            RateLimit::parse("100/5m").unwrap(),
            RateLimit::parse("4/5m").unwrap(),
        )
    };
    for instances in [2, 3] {
        let first = TestApp::with(&pg, limits).await;
        let mut apps = vec![first];
        for _ in 1..instances {
            let sibling = apps[0].sibling(limits).await;
            apps.push(sibling);
        }
        apps[0]
            .post_register(&apps[0].client_at("127.0.0.3"), "ada@example.com")
            .await;
        // Behind a round-robin balancer: the guesses go to each instance in turn.
        let mut statuses = Vec::new();
        for i in 0..8 {
            let app = &apps[i % instances];
            let res = login(
                app,
                &app.client_at("127.0.0.2"),
                "ada@example.com",
                "wrong-guess",
            )
            .await;
            if res.status() == 429 {
                assert!(res.headers().contains_key(header::RETRY_AFTER));
            }
            statuses.push(res.status().as_u16());
        }
        let before_429 = statuses.iter().take_while(|s| **s == 401).count();
        eprintln!(
            "{instances} instances: {before_429} attempts before the first 429 ({statuses:?})"
        );
        assert_eq!(
            statuses,
            [401, 401, 401, 401, 429, 429, 429, 429],
            "{instances} instances: 4 attempts in all, not 4 on each"
        );
        for app in &apps {
            assert_eq!(
                login(
                    app,
                    &app.client_at("127.0.0.3"),
                    "ada@example.com",
                    PASSWORD
                )
                .await
                .status(),
                200,
                "the owner, from another address, signs in on any instance"
            );
        }
    }
}

#[tokio::test]
async fn one_address_trying_many_accounts_is_rate_limited() {
    let app = TestApp::spawn(&Backend::Sqlite).await;
    let sprayer = app.client_at("127.0.0.4");
    let mut limited = false;
    for i in 0..60 {
        let res = login(
            &app,
            &sprayer,
            &format!("victim{i}@example.com"),
            "Password1",
        )
        .await;
        if res.status() == 429 {
            limited = true;
            break;
        }
    }
    assert!(limited, "one address cannot spray sign-ins across accounts");
}

#[tokio::test]
async fn registration_is_rate_limited_per_address() {
    let app = TestApp::spawn(&Backend::Sqlite).await;
    let bot = app.client_at("127.0.0.5");
    let mut limited = None;
    for i in 0..60 {
        let res = bot
            .post(app.url("/api/auth/register"))
            .json(&json!({"email": format!("bot{i}@example.com"), "password": PASSWORD}))
            .send()
            .await
            .unwrap();
        if res.status() == 429 {
            limited = Some(res);
            break;
        }
        assert_eq!(res.status(), 201);
    }
    let res = limited.expect("mass registration from one address is limited");
    assert!(res.headers().contains_key(header::RETRY_AFTER));
    app.post_register(&app.client_at("127.0.0.6"), "human@example.com")
        .await;
}

#[tokio::test]
async fn behind_a_trusted_proxy_limits_follow_the_forwarded_address_and_a_spoofed_header_does_not()
{
    let app = TestApp::with(&Backend::Sqlite, |b| {
        b.trusted_proxies(["127.0.0.1/32".parse().unwrap()])
            .client_ip_header(header::HeaderName::from_static("x-forwarded-for"))
    })
    .await;
    let proxy = Proxy::start(&app.base).await;
    let owner = app.client_at("127.0.0.8");
    owner
        .post(proxy.url("/api/auth/register"))
        .json(&json!({"email": "ada@example.com", "password": PASSWORD}))
        .send()
        .await
        .unwrap();
    // Through the proxy, every client reaches the server from 127.0.0.1: only the header tells
    // them apart.
    let attacker = app.client_at("127.0.0.7");
    let mut limited = false;
    for _ in 0..40 {
        let res = attacker
            .post(proxy.url("/api/auth/login"))
            .json(&json!({"email": "ada@example.com", "password": "wrong password 1"}))
            .send()
            .await
            .unwrap();
        if res.status() == 429 {
            limited = true;
            break;
        }
    }
    assert!(limited);
    let res = owner
        .post(proxy.url("/api/auth/login"))
        .json(&json!({"email": "ada@example.com", "password": PASSWORD}))
        .send()
        .await
        .unwrap();
    assert_eq!(
        res.status(),
        200,
        "the owner behind the same proxy signs in"
    );

    // A client that is not the proxy cannot choose its address by sending the header itself.
    let spoofer = app.client_at("127.0.0.9");
    let mut limited = false;
    for i in 0..60 {
        let res = spoofer
            .post(app.url("/api/auth/login"))
            .header("x-forwarded-for", format!("198.51.100.{i}"))
            .json(&json!({"email": format!("v{i}@example.com"), "password": "Password1"}))
            .send()
            .await
            .unwrap();
        if res.status() == 429 {
            limited = true;
            break;
        }
    }
    assert!(limited, "a forged X-Forwarded-For is ignored");
}

// ── 4. A kept rotation never outlives its session ─────────────────────────────────────────────

#[tokio::test]
async fn a_replayed_parent_after_logout_is_refused_even_inside_the_grace_window() {
    for b in backends() {
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

#[tokio::test]
async fn a_revocation_on_one_instance_reaches_the_others() {
    for b in backends() {
        // PostgreSQL announces revocations (NOTIFY), so even a long liveness bound does not
        // delay them; on SQLite the default bound (1 s) is what limits the delay.
        let (one, two) = match b {
            Backend::Postgres(_) => {
                let long = Duration::from_secs(60);
                let one = TestApp::with(&b, |c| c.liveness_ttl(long)).await;
                let two = one.sibling(|c| c.liveness_ttl(long)).await;
                (one, two)
            }
            Backend::Sqlite => {
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
}

// ── 5. Joining does not depend on the grace window ────────────────────────────────────────────

#[tokio::test]
async fn parallel_refreshes_share_one_rotation_even_without_a_grace_window() {
    for b in backends() {
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
}

/// Bursts per backend in the straggler test (`STRAGGLER_BURSTS`; 200 or more before a release).
fn straggler_bursts() -> usize {
    std::env::var("STRAGGLER_BURSTS")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(20)
}

#[tokio::test]
async fn without_a_grace_window_the_stragglers_of_a_burst_still_share_its_rotation() {
    for b in backends() {
        let app = TestApp::with(&b, |b| b.reuse_grace(Duration::ZERO)).await;
        let (_, _, user_id) = app.post_register_with_tokens("ada@example.com").await;
        let user = sessionflow::User {
            id: user_id,
            email: "ada@example.com".into(),
            email_verified: false,
        };
        for burst in 0..straggler_bursts() {
            let session = app.auth.start_session(user.clone(), None).await.unwrap();
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
}

// ── 6. A lost answer is not theft ─────────────────────────────────────────────────────────────

/// Past both the 200 ms grace these tests set and the 2 s in which a finished rotation stays
/// joinable in its process (a replay inside it is one burst with the rotation, not a late one).
const PAST_THE_WINDOWS: Duration = Duration::from_millis(2_300);

#[tokio::test]
async fn a_lost_refresh_answer_gets_its_successor_once_even_after_the_grace_window() {
    for b in backends() {
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
}

#[tokio::test]
async fn a_second_late_replay_of_the_same_token_revokes_the_session() {
    for b in backends() {
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
}

// ── 7. 404s, static files, and the session-ended message ──────────────────────────────────────

#[tokio::test]
async fn unknown_paths_answer_a_404_page_that_shows_who_is_signed_in() {
    let _serial = one_renderer_at_a_time().await;
    let app = TestApp::spawn(&Backend::Sqlite).await;
    let browser = app.browser();
    app.post_register(&browser, "ada@example.com").await;
    let (logs, _capturing) = Logs::capture();
    for path in ["/no-such-page", "/favicon.ico", "/notes/elsewhere"] {
        let res = browser
            .get(app.url(path))
            .header(header::ACCEPT, "text/html")
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 404, "{path}");
        assert!(set_cookies(&res).is_empty(), "a 404 never rotates tokens");
        let html = res.text().await.unwrap();
        assert!(html.contains("Page not found"), "{path}: {html}");
        assert!(
            html.contains("ada@example.com"),
            "{path} shows who is signed in"
        );
        assert!(html.contains(r#"rel="icon""#), "the page links its icon");
    }
    assert!(
        !logs.text().contains("ERROR"),
        "a 404 is no error: {}",
        logs.text()
    );
    assert_eq!(
        browser
            .get(app.url("/favicon.svg"))
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn static_files_stay_200_while_404_pages_render_alongside() {
    let _serial = one_renderer_at_a_time().await;
    let app = TestApp::spawn(&Backend::Sqlite).await;
    let client = app.browser();
    app.post_register(&client, "ada@example.com").await;
    let js = SITE_FILES
        .iter()
        .find(|(p, _)| *p == "pkg/app.js")
        .unwrap()
        .1;
    // 4,000 requests, 32 at a time, alternating a missing icon and the app's script.
    let mut wrong = Vec::new();
    for round in 0..125 {
        let batch = (0..32).map(|i| {
            let client = client.clone();
            let path = if i % 2 == 0 {
                "/favicon.ico"
            } else {
                "/pkg/app.js"
            };
            let url = app.url(path);
            async move {
                let res = client.get(url).send().await.unwrap();
                (path, res.status(), res.text().await.unwrap_or_default())
            }
        });
        for (path, status, body) in join_all(batch).await {
            let ok = match path {
                "/pkg/app.js" => status == 200 && body == js,
                _ => status == 404,
            };
            if !ok {
                wrong.push(format!("round {round}: {path} → {status}"));
            }
        }
    }
    assert!(
        wrong.is_empty(),
        "{} wrong answers: {:?}",
        wrong.len(),
        &wrong[..wrong.len().min(5)]
    );
}

#[tokio::test]
async fn a_page_load_after_the_session_ended_says_so_on_the_way_to_sign_in() {
    let _serial = one_renderer_at_a_time().await;
    let app = TestApp::spawn(&Backend::Sqlite).await;
    let (access, r0, _) = app.post_register_with_tokens("ada@example.com").await;
    let res = app
        .bare()
        .post(app.url("/api/auth/logout-all"))
        .bearer_auth(&access)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 204);
    let res = app
        .bare()
        .get(app.url("/notes"))
        .header(header::COOKIE, format!("refresh_token={r0}"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 303);
    assert_eq!(
        res.headers()[header::LOCATION],
        "/login?next=/notes&reason=session_ended"
    );
    let res = app.bare().get(app.url("/notes")).send().await.unwrap();
    assert_eq!(
        res.headers()[header::LOCATION],
        "/login?next=/notes",
        "never signed in: nothing ended"
    );
}

// ── 8. Idempotency-Key ────────────────────────────────────────────────────────────────────────

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

#[tokio::test]
async fn the_same_key_with_another_body_is_422_and_creates_nothing() {
    for b in backends() {
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

#[tokio::test]
async fn a_re_sent_server_function_answers_what_the_first_call_answered() {
    let _serial = one_renderer_at_a_time().await;
    for b in backends() {
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
}

#[tokio::test]
async fn concurrent_requests_with_one_key_create_one_note_and_agree() {
    for b in backends() {
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
    app.auth.sweep().await.unwrap();
    let res = post_note(&app, &access, Some("k-day"), "bread").await;
    assert_eq!(
        res.status(),
        422,
        "a 23-hour-old key still stands for its first request"
    );
    age(25 * hour).await.unwrap();
    app.auth.sweep().await.unwrap();
    assert_eq!(
        app.count("SELECT COUNT(*) FROM sessionflow_idempotency_keys")
            .await,
        0
    );
}

#[tokio::test]
async fn an_aborted_request_that_reached_the_server_is_applied_once_and_its_re_send_replays_it() {
    // PostgreSQL can block inserts into one table while the key's own record goes through.
    let Some(pg) = backends()
        .into_iter()
        .find(|b| matches!(b, Backend::Postgres(_)))
    else {
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

// ── 9. Caching and framing ────────────────────────────────────────────────────────────────────

#[tokio::test]
async fn signed_in_pages_and_cookie_answers_are_not_stored_and_pages_cannot_be_framed() {
    let _serial = one_renderer_at_a_time().await;
    let app = TestApp::spawn(&Backend::Sqlite).await;
    let browser = app.browser();
    let res = browser
        .post(app.url("/api/auth/register"))
        .json(&json!({"email": "ada@example.com", "password": PASSWORD}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.headers()[header::CACHE_CONTROL], "no-store");
    for path in ["/notes", "/sessions", "/", "/api/me"] {
        let res = browser.get(app.url(path)).send().await.unwrap();
        assert_eq!(res.status(), 200, "{path}");
        assert_eq!(res.headers()[header::CACHE_CONTROL], "no-store", "{path}");
        assert_eq!(res.headers()["x-frame-options"], "DENY", "{path}");
    }
    let res = browser.get(app.url("/notes")).send().await.unwrap();
    let csp = res.headers()[header::CONTENT_SECURITY_POLICY]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(csp.contains("frame-ancestors 'none'"), "{csp}");
    let nonce = csp
        .split("'nonce-")
        .nth(1)
        .and_then(|r| r.split('\'').next())
        .expect("scripts are allowed by nonce")
        .to_owned();
    let html = res.text().await.unwrap();
    assert!(
        html.contains(&format!("nonce=\"{nonce}\"")),
        "the page's own scripts carry the policy's nonce"
    );
    let js = browser.get(app.url("/pkg/app.js")).send().await.unwrap();
    assert_eq!(js.status(), 200);
    assert!(
        js.headers().get(header::CACHE_CONTROL).is_none(),
        "static files stay cacheable"
    );
}

#[tokio::test]
async fn the_bundle_is_brotli_to_browsers_that_accept_it_and_gzip_to_the_others() {
    let app = TestApp::spawn(&Backend::Sqlite).await;
    for (accept, expected) in [("gzip, deflate, br", "br"), ("gzip", "gzip")] {
        let res = app
            .bare()
            .get(app.url("/pkg/app.js"))
            .header(header::ACCEPT_ENCODING, accept)
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 200);
        assert_eq!(
            res.headers()
                .get(header::CONTENT_ENCODING)
                .and_then(|v| v.to_str().ok()),
            Some(expected),
            "Accept-Encoding: {accept}"
        );
    }
}

// ── 10. CSRF: Bearer exempt, the full origin compared ─────────────────────────────────────────

#[tokio::test]
async fn bearer_requests_with_a_foreign_origin_are_not_refused_as_csrf() {
    let app = TestApp::spawn(&Backend::Sqlite).await;
    let (access, _, _) = app.post_register_with_tokens("ada@example.com").await;
    let res = app
        .bare()
        .post(app.url("/api/notes"))
        .bearer_auth(&access)
        .header(header::ORIGIN, "https://tools.example")
        .json(&json!({"title": "from a script"}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 201);
}

#[tokio::test]
async fn behind_a_proxy_that_rewrites_host_the_public_origin_is_what_counts() {
    let app = TestApp::with(&Backend::Sqlite, |b| {
        b.public_origins(["https://notes.example.com"])
    })
    .await;
    let proxy = Proxy::start(&app.base).await;
    let browser = app.browser();
    let res = browser
        .post(proxy.url("/api/auth/register"))
        .header(header::ORIGIN, "https://notes.example.com")
        .json(&json!({"email": "ada@example.com", "password": PASSWORD}))
        .send()
        .await
        .unwrap();
    assert_eq!(
        res.status(),
        201,
        "the site's own origin passes whatever Host arrives"
    );
    let note = |origin: &'static str| {
        browser
            .post(proxy.url("/api/notes"))
            .header(header::ORIGIN, origin)
            .json(&json!({"title": "t"}))
            .send()
    };
    assert_eq!(
        note("https://notes.example.com").await.unwrap().status(),
        201
    );
    for foreign in ["http://notes.example.com", "https://evil.example", "null"] {
        assert_eq!(
            error_code(note(foreign).await.unwrap()).await,
            (StatusCode::FORBIDDEN, "csrf".into()),
            "{foreign}"
        );
    }
    assert_eq!(app.count("SELECT COUNT(*) FROM notes").await, 1);
}
