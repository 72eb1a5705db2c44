//! Account recovery against a real SMTP server (mailin-embedded, in this process): the message
//! arrives, its link works once, a GET never spends it, a reset ends every other session on
//! every instance, the forgot-password answer tells nothing, and mail survives an SMTP outage
//! and a restart.

use crate::support::*;
use mailin_embedded::{response, Handler, Response, Server, SslConfig};
use serde_json::{json, Value};
use sessionflow::server::config::MailTransport;
use std::{
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

/// One message as the SMTP server received it.
#[derive(Clone, Debug)]
struct Received {
    to: Vec<String>,
    /// The raw message, quoted-printable decoded.
    text: String,
}

#[derive(Clone, Default)]
struct Inbox {
    received: Arc<Mutex<Vec<Received>>>,
    to: Vec<String>,
    data: Vec<u8>,
}

impl Handler for Inbox {
    fn data_start(&mut self, _domain: &str, _from: &str, _is8bit: bool, to: &[String]) -> Response {
        self.to = to.to_vec();
        self.data.clear();
        response::OK
    }

    fn data(&mut self, buf: &[u8]) -> std::io::Result<()> {
        self.data.extend_from_slice(buf);
        Ok(())
    }

    fn data_end(&mut self) -> Response {
        let text = quoted_printable(&String::from_utf8_lossy(&self.data));
        self.received.lock().unwrap().push(Received {
            to: self.to.clone(),
            text,
        });
        response::OK
    }
}

/// Soft line breaks out, `=XX` decoded: enough to read a link out of a message.
fn quoted_printable(raw: &str) -> String {
    let joined = raw.replace("=\r\n", "").replace("=\n", "");
    let bytes = joined.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'=' && i + 2 < bytes.len() {
            if let Ok(b) = u8::from_str_radix(&joined[i + 1..i + 3], 16) {
                out.push(b);
                i += 3;
                continue;
            }
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// A real SMTP server on 127.0.0.1 (plain, as a local relay), in a thread of its own.
struct Smtp {
    port: u16,
    inbox: Arc<Mutex<Vec<Received>>>,
}

impl Smtp {
    fn start() -> Self {
        Self::start_on(0)
    }

    fn start_on(port: u16) -> Self {
        let listener = std::net::TcpListener::bind(("127.0.0.1", port)).expect("SMTP port");
        let port = listener.local_addr().unwrap().port();
        let inbox = Inbox::default();
        let received = inbox.received.clone();
        let mut server = Server::new(inbox);
        server
            .with_name("smtp.test")
            .with_ssl(SslConfig::None)
            .expect("no TLS")
            .with_tcp_listener(listener);
        std::thread::spawn(move || {
            let _ = server.serve();
        });
        Self {
            port,
            inbox: received,
        }
    }

    fn url(&self) -> String {
        format!("smtp://127.0.0.1:{}", self.port)
    }

    /// The `n`th message (from 1) to `to`, waiting up to 10 s for it.
    async fn message(&self, to: &str, n: usize) -> Received {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let found: Vec<Received> = self
                .inbox
                .lock()
                .unwrap()
                .iter()
                .filter(|m| m.to.iter().any(|t| t == to))
                .cloned()
                .collect();
            if let Some(m) = found.get(n - 1) {
                return m.clone();
            }
            assert!(
                Instant::now() < deadline,
                "no message {n} to {to} within 10 s"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    fn count(&self) -> usize {
        self.inbox.lock().unwrap().len()
    }
}

/// The token of the link to `page` in a message.
fn link_token(message: &Received, page: &str) -> String {
    let marker = format!("{page}?token=");
    let at = message.text.find(&marker).expect("a link in the message") + marker.len();
    message.text[at..]
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric() || *c == '-' || *c == '_')
        .collect()
}

fn with_smtp(
    url: String,
) -> impl FnOnce(
    sessionflow::server::config::AuthConfigBuilder,
) -> sessionflow::server::config::AuthConfigBuilder {
    move |b| {
        b.mail(MailTransport::Smtp(url.into()))
            .mail_poll(Duration::from_millis(100))
            .mail_retry(Duration::from_millis(200), 50)
    }
}

async fn post(
    client: &reqwest::Client,
    app: &TestApp,
    path: &str,
    body: Value,
) -> reqwest::Response {
    client
        .post(app.url(path))
        .json(&body)
        .send()
        .await
        .expect(path)
}

async fn login(app: &TestApp, email: &str, password: &str) -> reqwest::Response {
    let body = json!({"email": email, "password": password});
    post(&app.bare(), app, "/api/auth/login", body).await
}

/// `POST /api/auth/password/reset` from a client with no cookies.
async fn reset(app: &TestApp, token: &str, password: &str) -> reqwest::Response {
    let body = json!({"token": token, "password": password});
    post(&app.bare(), app, "/api/auth/password/reset", body).await
}

async fn forgot(app: &TestApp, email: &str) -> reqwest::Response {
    post(
        &app.bare(),
        app,
        "/api/auth/password/forgot",
        json!({"email": email}),
    )
    .await
}

/// Whether `holds` turns true within `within` (asked every 50 ms).
async fn within<F: std::future::Future<Output = bool>>(
    within: Duration,
    holds: impl Fn() -> F,
) -> bool {
    let deadline = Instant::now() + within;
    loop {
        if holds().await {
            return true;
        }
        if Instant::now() > deadline {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Waits up to `within` for `GET /api/me` with `access` on `app` to be refused.
async fn refused_within(app: &TestApp, access: &str, limit: Duration) -> bool {
    within(limit, || async { app.get_me(access).await.status() == 401 }).await
}

/// Waits until every outbox row is done (sent, failed or answered as no account), so that what
/// has not arrived by then never will.
async fn outbox_drained(app: &TestApp) {
    let drained = within(Duration::from_secs(10), || async {
        app.count("SELECT COUNT(*) FROM sessionflow_outbox WHERE done_at IS NULL")
            .await
            == 0
    })
    .await;
    assert!(drained, "the outbox did not drain within 10 s");
}

async fn a_reset_link_arrives_works_once_from_any_client_and_ends_every_other_session(b: Backend) {
    let smtp = Smtp::start();
    let app = TestApp::with(&b, with_smtp(smtp.url())).await;
    let other_instance = app.sibling(with_smtp(smtp.url())).await;
    let email = "ada@example.com";
    app.post_register(&app.browser(), email).await;
    let verification = smtp.message(email, 1).await;
    assert!(verification.text.contains("Confirm your address"), "{b:?}");
    // Someone holds a session: a thief, or the person's other device.
    let (thief_access, thief_refresh, _) = app.post_login_with_tokens(email).await;

    let res = forgot(&app, email).await;
    assert_eq!(res.status(), 202, "{b:?}");
    let message = smtp.message(email, 2).await;
    assert!(
        message.text.contains("Reset your"),
        "{b:?}: {}",
        message.text
    );
    let token = link_token(&message, "/reset-password");
    assert!(token.len() >= 22, "at least 128 bits: {token}");
    let stored: i64 = app
        .count(&format!(
            "SELECT COUNT(*) FROM sessionflow_account_tokens WHERE hash = '{token}'"
        ))
        .await;
    assert_eq!(stored, 0, "{b:?}: the token is stored only as a hash");

    // A mail scanner opens the link twice: the page shows, the link stays usable.
    {
        let _serial = one_renderer_at_a_time().await;
        for _ in 0..2 {
            let page = app
                .bare()
                .get(app.url(&format!("/reset-password?token={token}")))
                .send()
                .await
                .unwrap();
            assert_eq!(page.status(), 200, "{b:?}");
            assert_eq!(
                page.headers()["referrer-policy"],
                "no-referrer",
                "{b:?}: the page sends no Referer"
            );
        }
    }

    // Another client, which never asked, uses it.
    let device = app.browser();
    let res = post(
        &device,
        &app,
        "/api/auth/password/reset",
        json!({"token": token, "password": "a brand new password"}),
    )
    .await;
    assert_eq!(res.status(), 200, "{b:?}");
    assert_eq!(res.headers()["cache-control"], "no-store");
    let cookies: Vec<String> = set_cookies(&res).into_iter().map(|(n, _)| n).collect();
    assert!(
        cookies.contains(&"access_token".to_string()),
        "{b:?}: {cookies:?}"
    );
    assert!(
        cookies.contains(&"refresh_token".to_string()),
        "{b:?}: {cookies:?}"
    );
    let me: Value = device
        .get(app.url("/api/me"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(me["email"], email, "{b:?}: signed in by the reset");
    assert_eq!(
        me["email_verified"], true,
        "{b:?}: a reset confirms the address"
    );

    // Once only.
    let again = reset(&app, &token, "yet another password").await;
    assert_eq!(
        error_code(again).await,
        (reqwest::StatusCode::BAD_REQUEST, "invalid_link".into()),
        "{b:?}"
    );

    // Every earlier session is over, on this instance and the other.
    let refreshed = app.post_refresh(&thief_refresh).await;
    assert_eq!(
        refreshed.status(),
        401,
        "{b:?}: the thief's refresh is refused"
    );
    assert!(
        refused_within(&app, &thief_access, Duration::from_secs(1)).await,
        "{b:?}: the thief's access token is refused within 1 s"
    );
    assert!(
        refused_within(&other_instance, &thief_access, Duration::from_secs(1)).await,
        "{b:?}: and on the other instance within 1 s"
    );

    // The new password signs in; the old one no longer does.
    let old = login(&app, email, PASSWORD).await;
    assert_eq!(old.status(), 401, "{b:?}");
    let new = login(&app, email, "a brand new password").await;
    assert_eq!(new.status(), 200, "{b:?}");
}

async fn bad_expired_and_superseded_links_get_invalid_link(b: Backend) {
    let smtp = Smtp::start();
    let app = TestApp::with(&b, |c| {
        with_smtp(smtp.url())(c).password_reset_ttl(Duration::from_secs(1))
    })
    .await;
    let email = "grace@example.com";
    app.post_register(&app.bare(), email).await;
    smtp.message(email, 1).await;
    forgot(&app, email).await;
    let first = link_token(&smtp.message(email, 2).await, "/reset-password");
    forgot(&app, email).await;
    let second = link_token(&smtp.message(email, 3).await, "/reset-password");
    let refused = |token: String| {
        let app = &app;
        async move { error_code(reset(app, &token, "a brand new password").await).await }
    };
    let invalid = (reqwest::StatusCode::BAD_REQUEST, "invalid_link".to_string());
    assert_eq!(
        refused(first).await,
        invalid,
        "{b:?}: superseded by a newer link"
    );
    for token in [
        "unknown-token-0000000000000000000000000000".to_string(),
        "x".repeat(500),
        "not a token!".into(),
        String::new(),
    ] {
        assert_eq!(refused(token).await, invalid, "{b:?}");
    }
    tokio::time::sleep(Duration::from_millis(1200)).await;
    assert_eq!(refused(second).await, invalid, "{b:?}: expired");
    // A body of the wrong shape is a validation error, not a missing field read as empty.
    let body = json!({"token": 42, "password": "a brand new password"});
    let wrong = post(&app.bare(), &app, "/api/auth/password/reset", body).await;
    assert_eq!(
        error_code(wrong).await,
        (reqwest::StatusCode::BAD_REQUEST, "validation".into())
    );
}

async fn forgot_password_answers_known_and_unknown_addresses_byte_for_byte_alike(b: Backend) {
    let smtp = Smtp::start();
    let app = TestApp::with(&b, with_smtp(smtp.url())).await;
    app.post_register(&app.bare(), "known@example.com").await;
    let answer = |res: reqwest::Response| async move {
        let status = res.status();
        let mut headers: Vec<(String, String)> = res
            .headers()
            .iter()
            .filter(|(n, _)| *n != "date")
            .map(|(n, v)| (n.to_string(), v.to_str().unwrap_or("").to_owned()))
            .collect();
        headers.sort();
        (status, headers, res.bytes().await.unwrap())
    };
    let known = answer(forgot(&app, "known@example.com").await).await;
    let unknown = answer(forgot(&app, "nobody@example.com").await).await;
    assert_eq!(known.0, 202, "{b:?}");
    assert_eq!(&known.2[..], b"{}", "{b:?}");
    assert_eq!(known, unknown, "{b:?}");
    // Only the known address gets mail (the verification, then the reset).
    smtp.message("known@example.com", 2).await;
    outbox_drained(&app).await;
    assert!(
        smtp.inbox
            .lock()
            .unwrap()
            .iter()
            .all(|m| !m.to.iter().any(|t| t == "nobody@example.com")),
        "{b:?}"
    );
    // And neither the token nor the address of an account leaks into the outbox after
    // sending: the bodies are erased.
    let kept = app
        .count("SELECT COUNT(*) FROM sessionflow_outbox WHERE text_body <> '' OR html_body <> ''")
        .await;
    assert_eq!(kept, 0, "{b:?}");
}

async fn forgot_password_is_limited_per_asked_about_address_from_any_client(b: Backend) {
    let smtp = Smtp::start();
    let app = TestApp::with(&b, with_smtp(smtp.url())).await;
    let mut statuses = Vec::new();
    for n in 0..5 {
        let client = app.client_at(&format!("127.0.0.{}", 2 + n));
        let res = post(
            &client,
            &app,
            "/api/auth/password/forgot",
            json!({"email": "victim@example.com"}),
        )
        .await;
        statuses.push(res.status().as_u16());
        if res.status() == 429 {
            assert!(res.headers().contains_key("retry-after"), "{b:?}");
        }
    }
    assert_eq!(statuses, [202, 202, 202, 429, 429], "{b:?}");
}

async fn mail_survives_an_smtp_outage_and_a_server_restart(b: Backend) {
    // A port where nothing listens yet.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let url = format!("smtp://127.0.0.1:{port}");
    let app = TestApp::with(&b, with_smtp(url.clone())).await;
    let email = "outage@example.com";
    app.post_register(&app.bare(), email).await;
    assert_eq!(forgot(&app, email).await.status(), 202, "{b:?}");
    // Attempts fail while SMTP is down, and are counted.
    let retried = within(Duration::from_secs(10), || async {
        app.count("SELECT COUNT(*) FROM sessionflow_outbox WHERE attempts >= 2 AND done_at IS NULL")
            .await
            >= 2
    })
    .await;
    assert!(retried, "{b:?}: no retries seen");
    // The server restarts while SMTP is still down.
    let restarted = app.sibling(with_smtp(url)).await;
    drop(app);
    let smtp = Smtp::start_on(port);
    // Both messages arrive, in whichever order the worker took them.
    let both = [smtp.message(email, 1).await, smtp.message(email, 2).await];
    let reset_message = both
        .iter()
        .find(|m| m.text.contains("/reset-password?token="))
        .expect("the reset message")
        .clone();
    assert!(
        both.iter().any(|m| m.text.contains("/verify-email?token=")),
        "{b:?}: the verification message"
    );
    outbox_drained(&restarted).await;
    assert_eq!(smtp.count(), 2, "{b:?}: each message once");
    let token = link_token(&reset_message, "/reset-password");
    let res = reset(&restarted, &token, "a brand new password").await;
    assert_eq!(res.status(), 200, "{b:?}: the link still works");
}

async fn a_verification_link_confirms_the_address_and_keeps_working(b: Backend) {
    let smtp = Smtp::start();
    let app = TestApp::with(&b, with_smtp(smtp.url())).await;
    let email = "lin@example.com";
    let (access, _, _) = app.post_register_with_tokens(email).await;
    let me: Value = app.get_me(&access).await.json().await.unwrap();
    assert_eq!(me["email_verified"], false, "{b:?}");
    let token = link_token(&smtp.message(email, 1).await, "/verify-email");
    for _ in 0..2 {
        let res = post(
            &app.bare(),
            &app,
            "/api/auth/email/verify",
            json!({"token": token}),
        )
        .await;
        assert_eq!(res.status(), 200, "{b:?}");
        let body: Value = res.json().await.unwrap();
        assert_eq!(body, json!({"email_verified": true}), "{b:?}");
    }
    let me: Value = app.get_me(&access).await.json().await.unwrap();
    assert_eq!(me["email_verified"], true, "{b:?}: seen at once");
    let unknown = post(
        &app.bare(),
        &app,
        "/api/auth/email/verify",
        json!({"token": "no-such-token-00000000000000000000000000"}),
    )
    .await;
    assert_eq!(
        error_code(unknown).await,
        (reqwest::StatusCode::BAD_REQUEST, "invalid_link".into())
    );
    // Resend: a confirmed address gets nothing more.
    let res = app
        .bare()
        .post(app.url("/api/auth/email/resend"))
        .bearer_auth(&access)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 202, "{b:?}");
    outbox_drained(&app).await;
    assert_eq!(
        smtp.count(),
        1,
        "{b:?}: nothing more for a confirmed address"
    );
}

async fn required_verification_refuses_sign_in_until_the_address_is_confirmed(b: Backend) {
    let smtp = Smtp::start();
    let app = TestApp::with(&b, |c| {
        with_smtp(smtp.url())(c).require_verified_email(true)
    })
    .await;
    let email = "kay@example.com";
    app.post_register(&app.bare(), email).await;
    let refused = |password: &'static str| {
        let app = &app;
        async move { error_code(login(app, email, password).await).await }
    };
    assert_eq!(
        refused(PASSWORD).await,
        (reqwest::StatusCode::FORBIDDEN, "email_unverified".into()),
        "{b:?}"
    );
    assert_eq!(
        refused("a wrong password").await,
        (
            reqwest::StatusCode::UNAUTHORIZED,
            "invalid_credentials".into()
        ),
        "{b:?}: only the password's owner learns the address is unconfirmed"
    );
    let token = link_token(&smtp.message(email, 1).await, "/verify-email");
    post(
        &app.bare(),
        &app,
        "/api/auth/email/verify",
        json!({"token": token}),
    )
    .await;
    let ok = login(&app, email, PASSWORD).await;
    assert_eq!(ok.status(), 200, "{b:?}");
}

async fn changing_the_password_keeps_this_session_and_ends_every_other(b: Backend) {
    let app = TestApp::spawn(&b).await;
    let other_instance = app.sibling(|c| c).await;
    let email = "max@example.com";
    let (access, refresh, _) = app.post_register_with_tokens(email).await;
    let (other_access, other_refresh, _) = app.post_login_with_tokens(email).await;
    let change = |current: &'static str| {
        let (app, access) = (&app, access.clone());
        async move {
            app.bare()
                .post(app.url("/api/auth/password/change"))
                .bearer_auth(access)
                .json(&json!({"current_password": current, "new_password": "a brand new password"}))
                .send()
                .await
                .unwrap()
        }
    };
    assert_eq!(
        error_code(change("not the password").await).await,
        (
            reqwest::StatusCode::UNAUTHORIZED,
            "invalid_credentials".into()
        ),
        "{b:?}"
    );
    let res = change(PASSWORD).await;
    assert_eq!(res.status(), 200, "{b:?}");
    let body: Value = res.json().await.unwrap();
    let new_access = body["access_token"].as_str().unwrap().to_owned();
    assert_eq!(app.get_me(&new_access).await.status(), 200, "{b:?}");
    assert_eq!(
        app.get_me(&access).await.status(),
        200,
        "{b:?}: this session continues"
    );
    assert_eq!(app.post_refresh(&refresh).await.status(), 200, "{b:?}");
    assert_eq!(
        app.post_refresh(&other_refresh).await.status(),
        401,
        "{b:?}"
    );
    assert!(
        refused_within(&app, &other_access, Duration::from_secs(1)).await,
        "{b:?}"
    );
    assert!(
        refused_within(&other_instance, &other_access, Duration::from_secs(1)).await,
        "{b:?}: on the other instance too"
    );
    assert_eq!(
        app.get_sessions(&new_access).await.len(),
        1,
        "{b:?}: one device left"
    );
}

async fn without_mail_the_recovery_requests_say_so(b: Backend) {
    let app = TestApp::spawn(&b).await;
    let res = forgot(&app, "ada@example.com").await;
    assert_eq!(
        error_code(res).await,
        (
            reqwest::StatusCode::SERVICE_UNAVAILABLE,
            "unavailable".into()
        ),
        "{b:?}"
    );
}

#[tokio::test]
async fn a_link_token_never_reaches_the_logs_even_at_trace_level() {
    let smtp = Smtp::start();
    let app = TestApp::with(&Backend::Sqlite, with_smtp(smtp.url())).await;
    let email = "quiet@example.com";
    app.post_register(&app.bare(), email).await;
    forgot(&app, email).await;
    let token = link_token(&smtp.message(email, 2).await, "/reset-password");
    let (logs, _guard) = Logs::capture_at(tracing::Level::TRACE);
    {
        let _serial = one_renderer_at_a_time().await;
        let page = app
            .bare()
            .get(app.url(&format!("/reset-password?token={token}")))
            .send()
            .await
            .unwrap();
        assert_eq!(page.status(), 200);
    }
    assert_eq!(
        reset(&app, &token, "a brand new password").await.status(),
        200
    );
    let text = logs.text();
    assert!(
        text.contains("/reset-password"),
        "the request was logged: {text}"
    );
    assert!(!text.contains(&token), "the token is in the logs");
}

per_backend!(
    a_reset_link_arrives_works_once_from_any_client_and_ends_every_other_session,
    bad_expired_and_superseded_links_get_invalid_link,
    forgot_password_answers_known_and_unknown_addresses_byte_for_byte_alike,
    forgot_password_is_limited_per_asked_about_address_from_any_client,
    mail_survives_an_smtp_outage_and_a_server_restart,
    a_verification_link_confirms_the_address_and_keeps_working,
    required_verification_refuses_sign_in_until_the_address_is_confirmed,
    changing_the_password_keeps_this_session_and_ends_every_other,
    without_mail_the_recovery_requests_say_so,
);
