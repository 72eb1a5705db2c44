//! What a browser sees around pages: 404 pages that know who is signed in, static files beside
//! them, and the message when a session ended.

use crate::support::*;
use futures::future::join_all;
use reqwest::header;

// ── 404s, static files, and the session-ended message ──────────────────────────────────────

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
