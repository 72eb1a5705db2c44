//! Protected pages render signed in on the first byte, refreshing during SSR once per
//! request, with the rotated cookies on the response.

use crate::support::*;
use futures::future::join_all;
use reqwest::{header, Response};
use serde_json::json;

/// A user with one note, signed in over the body transport: (access, refresh, user id).
async fn user_with_note(app: &TestApp) -> (String, String, String) {
    let (access, refresh, id) = app.post_register_with_tokens("ada@example.com").await;
    let res = app
        .bare()
        .post(app.url("/api/notes"))
        .bearer_auth(&access)
        .json(&json!({"title": "Remember the milk", "body": "two litres"}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 201);
    (access, refresh, id)
}

async fn get_with_cookies(app: &TestApp, path: &str, cookies: &str) -> Response {
    app.bare()
        .get(app.url(path))
        .header(header::COOKIE, cookies)
        .header(header::ACCEPT, "text/html")
        .send()
        .await
        .unwrap()
}

fn rotated_pair(res: &Response) -> (Vec<String>, Vec<String>) {
    let cookies = set_cookies(res);
    let pick = |name: &str| -> Vec<String> {
        cookies
            .iter()
            .filter(|(n, _)| n == name)
            .map(|(_, c)| cookie_value(c))
            .collect()
    };
    (pick("access_token"), pick("refresh_token"))
}

async fn an_expired_access_cookie_is_refreshed_during_ssr_and_the_page_renders_signed_in(
    b: Backend,
) {
    let _serial = one_renderer_at_a_time().await;
    let app = TestApp::spawn(&b).await;
    let (access, r0, user_id) = user_with_note(&app).await;
    let expired = signed_access(&user_id, &sid_of(&access), -60);
    let res = get_with_cookies(
        &app,
        "/notes",
        &format!("access_token={expired}; refresh_token={r0}"),
    )
    .await;
    assert_eq!(res.status(), 200);
    let (accesses, refreshes) = rotated_pair(&res);
    assert_eq!(
        (accesses.len(), refreshes.len()),
        (1, 1),
        "exactly one rotated pair"
    );
    assert_ne!(refreshes[0], r0);
    let html = res.text().await.unwrap();
    assert!(
        html.contains("ada@example.com"),
        "the header shows who is signed in"
    );
    assert!(
        html.contains("Remember the milk"),
        "the notes are in the SSR HTML"
    );
    assert!(
        !html.contains(&refreshes[0]) && !html.contains(&accesses[0]) && !html.contains(&r0),
        "no token in the HTML or hydration data"
    );
    assert_eq!(app.tokens_of(&sid_of(&access)).await, 2, "one rotation");
    assert_eq!(
        app.get_me(&accesses[0]).await.status(),
        200,
        "the new access token works"
    );
}

#[tokio::test]
async fn a_refresh_cookie_alone_is_enough_to_render_signed_in() {
    let _serial = one_renderer_at_a_time().await;
    let app = TestApp::spawn(&Backend::Sqlite).await;
    let (_, r0, _) = user_with_note(&app).await;
    let res = get_with_cookies(&app, "/notes", &format!("refresh_token={r0}")).await;
    assert_eq!(res.status(), 200);
    let (accesses, refreshes) = rotated_pair(&res);
    assert_eq!((accesses.len(), refreshes.len()), (1, 1));
    assert!(res.text().await.unwrap().contains("Remember the milk"));
}

#[tokio::test]
async fn a_page_with_three_server_functions_rotates_once() {
    let _serial = one_renderer_at_a_time().await;
    let app = TestApp::spawn(&Backend::Sqlite).await;
    let (access, r0, _) = user_with_note(&app).await;
    // /notes runs current_user, list_notes and list_devices while it renders.
    let res = get_with_cookies(&app, "/notes", &format!("refresh_token={r0}")).await;
    let html = res.text().await.unwrap();
    assert!(html.contains("ada@example.com") && html.contains("Remember the milk"));
    assert!(
        html.contains("device-count"),
        "the third server function rendered"
    );
    assert_eq!(app.tokens_of(&sid_of(&access)).await, 2);
}

async fn concurrent_page_loads_with_one_refresh_token_share_one_rotation(b: Backend) {
    let _serial = one_renderer_at_a_time().await;
    let app = TestApp::spawn(&b).await;
    let (access, r0, _) = user_with_note(&app).await;
    let cookie = format!("refresh_token={r0}");
    let pages = join_all((0..6).map(|_| get_with_cookies(&app, "/notes", &cookie))).await;
    let mut successors = std::collections::HashSet::new();
    for res in &pages {
        assert_eq!(res.status(), 200);
        successors.extend(rotated_pair(res).1);
    }
    assert_eq!(successors.len(), 1, "every tab got the same successor");
    assert_eq!(app.tokens_of(&sid_of(&access)).await, 2);
    assert_eq!(
        app.count("SELECT COUNT(*) FROM sessionflow_sessions WHERE revoked_at IS NOT NULL")
            .await,
        0
    );
}

#[tokio::test]
async fn server_functions_called_over_http_answer_401_and_do_not_refresh() {
    let _serial = one_renderer_at_a_time().await;
    let app = TestApp::spawn(&Backend::Sqlite).await;
    let (access, r0, user_id) = user_with_note(&app).await;
    let expired = signed_access(&user_id, &sid_of(&access), -60);
    let path = server_fn_path("list_notes");
    let res = app
        .bare()
        .post(app.url(&path))
        .header(
            header::COOKIE,
            format!("access_token={expired}; refresh_token={r0}"),
        )
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 401);
    assert!(
        set_cookies(&res).is_empty(),
        "no refresh on a server-function call"
    );
    let body: serde_json::Value = res.json().await.unwrap();
    assert_eq!(body["error"], "token_expired");
    assert_eq!(
        app.count("SELECT COUNT(*) FROM sessionflow_refresh_tokens WHERE spent_at IS NOT NULL")
            .await,
        0
    );
    let res = app
        .bare()
        .post(app.url(&path))
        .header(header::COOKIE, format!("refresh_token={r0}"))
        .send()
        .await
        .unwrap();
    let body: serde_json::Value = res.json().await.unwrap();
    assert_eq!(
        body["error"], "missing_token",
        "an access cookie past its Max-Age is simply absent"
    );
}

/// The URL of a server function, as registered by the app.
fn server_fn_path(name: &str) -> String {
    use leptos::server_fn::ServerFn;
    let path = match name {
        "list_notes" => <app::api::ListNotes as ServerFn>::PATH,
        "login" => <app::api::Login as ServerFn>::PATH,
        other => panic!("unknown server function {other}"),
    };
    path.to_owned()
}

#[tokio::test]
async fn without_a_session_protected_pages_answer_303_to_login_with_next() {
    let _serial = one_renderer_at_a_time().await;
    let app = TestApp::spawn(&Backend::Sqlite).await;
    for (path, next) in [("/notes", "/notes"), ("/sessions?tab=1", "/sessions?tab=1")] {
        let res = get_with_cookies(&app, path, "").await;
        assert_eq!(res.status(), 303);
        assert_eq!(
            res.headers()[header::LOCATION],
            format!("/login?next={next}").as_str()
        );
    }
    // A dead refresh cookie: cleared, and still 303.
    let res = get_with_cookies(&app, "/notes", "refresh_token=dead").await;
    assert_eq!(res.status(), 303);
    assert!(set_cookies(&res)
        .iter()
        .all(|(_, c)| c.contains("Max-Age=0")));
}

#[tokio::test]
async fn signed_in_users_visiting_login_go_to_a_local_next_or_notes() {
    let _serial = one_renderer_at_a_time().await;
    let app = TestApp::spawn(&Backend::Sqlite).await;
    let (access, _, _) = user_with_note(&app).await;
    let cookie = format!("access_token={access}");
    for (path, to) in [
        ("/login", "/notes"),
        ("/login?next=%2Fsessions", "/sessions"),
        ("/login?next=%2F%2Fevil.example", "/notes"),
        ("/login?next=https%3A%2F%2Fevil.example", "/notes"),
        ("/register", "/notes"),
    ] {
        let res = get_with_cookies(&app, path, &cookie).await;
        assert_eq!(res.status(), 303, "{path}");
        assert_eq!(res.headers()[header::LOCATION], to, "{path}");
    }
}

#[tokio::test]
async fn a_plain_form_sign_in_lands_on_next_only_when_it_is_local() {
    let _serial = one_renderer_at_a_time().await;
    let app = TestApp::spawn(&Backend::Sqlite).await;
    app.post_register_with_tokens("ada@example.com").await;
    let path = server_fn_path("login");
    for (next, to) in [
        ("/sessions", "/sessions"),
        ("//evil.example", "/notes"),
        ("http://evil.example/x", "/notes"),
    ] {
        let res = app
            .bare()
            .post(app.url(&path))
            .header(header::ACCEPT, "text/html")
            .header(header::ORIGIN, &app.base)
            .form(&[
                ("email", "ada@example.com"),
                ("password", PASSWORD),
                ("next", next),
            ])
            .send()
            .await
            .unwrap();
        assert!(res.status().is_redirection(), "{next}: {}", res.status());
        assert_eq!(res.headers()[header::LOCATION], to, "{next}");
        assert!(set_cookies(&res).iter().any(|(n, _)| n == "refresh_token"));
    }
    // Wrong password without JavaScript: back to the form with the error code.
    let res = app
        .bare()
        .post(app.url(&path))
        .header(header::ACCEPT, "text/html")
        .form(&[
            ("email", "ada@example.com"),
            ("password", "wrong password"),
            ("next", "/notes"),
        ])
        .send()
        .await
        .unwrap();
    assert!(res.status().is_redirection());
    let location = res.headers()[header::LOCATION].to_str().unwrap();
    assert!(
        location.starts_with("/login?error=invalid_credentials"),
        "{location}"
    );
    assert!(set_cookies(&res).is_empty());
}

/// Signing in with an address that is not one is the same answer as a wrong password, through
/// the JSON API and through the server function alike: one rule, in the sign-in use case.
#[tokio::test]
async fn a_malformed_email_signing_in_is_invalid_credentials_on_every_path() {
    let _serial = one_renderer_at_a_time().await;
    let app = TestApp::spawn(&Backend::Sqlite).await;
    let res = app
        .bare()
        .post(app.url("/api/auth/login"))
        .json(&serde_json::json!({"email": "not an address", "password": PASSWORD}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 401);
    let body: serde_json::Value = res.json().await.unwrap();
    assert_eq!(body["error"], "invalid_credentials");
    let sentence = body["message"].as_str().unwrap().to_owned();

    let path = server_fn_path("login");
    let form = [
        ("email", "not an address"),
        ("password", PASSWORD),
        ("next", "/notes"),
    ];
    // Without JavaScript: back to the form with the same code.
    let res = app
        .bare()
        .post(app.url(&path))
        .header(header::ACCEPT, "text/html")
        .form(&form)
        .send()
        .await
        .unwrap();
    assert!(res.status().is_redirection(), "{}", res.status());
    let location = res.headers()[header::LOCATION].to_str().unwrap();
    assert!(
        location.starts_with("/login?error=invalid_credentials"),
        "{location}"
    );
    // The form it comes back to says what the JSON API said, word for word.
    let page = get_with_cookies(&app, location, "")
        .await
        .text()
        .await
        .unwrap();
    assert!(
        page.contains(&sentence),
        "{sentence:?} not in the page:\n{page}"
    );
    // From the browser layer: a 401 whose error names the same code.
    let res = app
        .bare()
        .post(app.url(&path))
        .form(&form)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 401);
    let body = res.text().await.unwrap();
    assert!(body.contains("invalid_credentials"), "{body}");
    assert!(!body.contains("validation"), "{body}");
}

#[tokio::test]
async fn the_home_page_renders_for_everyone() {
    let _serial = one_renderer_at_a_time().await;
    let app = TestApp::spawn(&Backend::Sqlite).await;
    let res = get_with_cookies(&app, "/", "").await;
    assert_eq!(res.status(), 200);
    let html = res.text().await.unwrap();
    assert!(html.contains("Private notes that never sign you out"));
    assert!(
        html.contains("/pkg/app.js") || html.contains("/pkg/app"),
        "hydration scripts are linked"
    );
}

/// Hundreds of signed-in page renders, twenty at a time: every response completes. (Leptos has
/// had intermittent SSR stream stalls with resources under Suspense; this guards against them.)
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn many_concurrent_page_renders_all_complete() {
    let _serial = one_renderer_at_a_time().await;
    let app = TestApp::spawn(&Backend::Sqlite).await;
    let (access, refresh, _) = user_with_note(&app).await;
    let cookie = format!("access_token={access}");
    // A third of the renders refresh first (all with one token: one rotation, the rest join it).
    let refreshing = format!("refresh_token={refresh}");
    for _ in 0..15 {
        let (app, cookie, refreshing) = (&app, &cookie, &refreshing);
        let batch = join_all((0..21).map(|i| {
            let path = if i % 2 == 0 { "/notes" } else { "/sessions" };
            let cookie = if i % 3 == 0 { refreshing } else { cookie };
            async move {
                let limit = std::time::Duration::from_secs(10);
                let head = tokio::time::timeout(limit, get_with_cookies(app, path, cookie))
                    .await
                    .unwrap_or_else(|_| panic!("{path}: no response head within 10 s"));
                let body = tokio::time::timeout(limit, head.text()).await;
                (path, body)
            }
        }))
        .await;
        for (path, res) in batch {
            let html = res
                .unwrap_or_else(|_| panic!("{path}: the head came, the body stalled"))
                .unwrap();
            assert!(html.contains("ada@example.com"), "{path}");
        }
    }
}

/// Key rotation, step 3 done too early: the old key is accepted nowhere, yet nobody is signed out.
async fn a_page_load_with_a_token_of_a_dropped_key_is_refreshed_during_ssr(b: Backend) {
    let _serial = one_renderer_at_a_time().await;
    let old = TestApp::spawn(&b).await;
    let (a_old, r0, _) = old.post_register_with_tokens("ada@example.com").await;
    // Step 3, too early: the old key is no longer accepted anywhere.
    let dropped = old
        .sibling(|c| c.with_secret(b"the-next-signing-key-0123456789abcdef"))
        .await;
    let (status, code) = error_code(dropped.get_me(&a_old).await).await;
    assert_eq!((status.as_u16(), code.as_str()), (401, "invalid_token"));
    let page = dropped
        .bare()
        .get(dropped.url("/notes"))
        .header(
            header::COOKIE,
            format!("access_token={a_old}; refresh_token={r0}"),
        )
        .header(header::ACCEPT, "text/html")
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), 200, "rendered, not sent to sign in");
    let set: Vec<String> = set_cookies(&page).into_iter().map(|(n, _)| n).collect();
    assert!(
        set.contains(&"access_token".to_owned()) && set.contains(&"refresh_token".to_owned()),
        "{set:?}"
    );
    assert!(page.text().await.unwrap().contains("ada@example.com"));
}

per_backend!(
    an_expired_access_cookie_is_refreshed_during_ssr_and_the_page_renders_signed_in,
    concurrent_page_loads_with_one_refresh_token_share_one_rotation,
    a_page_load_with_a_token_of_a_dropped_key_is_refreshed_during_ssr,
);
