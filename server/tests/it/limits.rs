//! Abuse that must not cost the owner (docs/limits.md, docs/threats.md): password hashing is
//! bounded, and nobody locks an owner out; the sign-in and registration limits hold, per address
//! and across instances.

use crate::support::*;
use futures::future::join_all;
use reqwest::{header, Client, Response};
use serde_json::json;
use std::time::Duration;

async fn login(app: &TestApp, client: &Client, email: &str, password: &str) -> Response {
    client
        .post(app.url("/api/auth/login"))
        .json(&json!({"email": email, "password": password}))
        .send()
        .await
        .expect("login answers")
}

// ── Password hashing is bounded ────────────────────────────────────────────────────────────

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

// ── Nobody locks an owner out ──────────────────────────────────────────────────────────────

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
    let Some(pg) = Backend::postgres() else {
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
