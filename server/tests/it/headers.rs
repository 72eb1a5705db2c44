//! What the answers tell caches and browsers: signed-in pages and cookie answers are not
//! stored, pages cannot be framed, the bundle is compressed, and CSRF compares the full origin
//! while Bearer requests are exempt.

use crate::support::*;
use reqwest::{header, StatusCode};
use serde_json::json;

// ── Caching and framing ────────────────────────────────────────────────────────────────────

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

// ── CSRF: Bearer exempt, the full origin compared ─────────────────────────────────────────

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
