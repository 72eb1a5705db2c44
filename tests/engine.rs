//! The engine on its own: a minimal router with nothing but `Auth::install`, called in process
//! (no port, no app), on a SQLite file, an in-memory SQLite pool, and PostgreSQL when
//! `TEST_DATABASE_URL` names a database whose role may create databases: each such case a test
//! per backend (`sqlite::…`, `sqlite_memory::…`, `postgres::…`). What a user of the
//! JSON API would notice: sign-in, rotation, the grace window, reuse revocation, and many
//! sessions rotating at once each keeping their own session.

use axum::{
    body::Body,
    extract::ConnectInfo,
    http::{header, Request, StatusCode},
    Router,
};
use serde_json::json;
use sessionflow::server::{config::AuthConfig, page_turns, Auth, PagePolicy};
use std::time::Duration;
use tower::ServiceExt;

mod support;
use support::{
    next_client, per_backend, Backend, Engine, Logs, PASSWORD, PAST_THE_WINDOWS, SECRET,
};

#[tokio::test]
async fn a_database_url_the_engine_cannot_use_is_an_error_not_a_panic() {
    for url in ["mysql://localhost/db", "not a url", "postgres://[::1"] {
        let config = AuthConfig::builder(SECRET).build().expect("config");
        match Auth::connect(url, config).await {
            Err(sessionflow::server::Error::UnsupportedDatabase(why)) => {
                assert!(!why.is_empty(), "{url}: the error says why");
            }
            Err(other) => panic!("{url}: an unsupported database, not {other:?}"),
            Ok(_) => panic!("{url} must be refused"),
        }
    }
}

async fn a_refresh_token_rotates_once_and_a_late_replay_ends_the_session(backend: Backend) {
    let engine = Engine::start(&backend, Duration::from_millis(200)).await;
    let r0 = engine.post_register("ada@example.com").await;
    let (status, r1) = engine.post_refresh(&r0).await;
    assert_eq!(status, StatusCode::OK, "{}", engine.name);
    let r1 = r1.expect("successor");
    assert_ne!(r1, r0);
    // Inside the grace window, the old token gets the same successor.
    let (status, again) = engine.post_refresh(&r0).await;
    assert_eq!(status, StatusCode::OK, "{}", engine.name);
    assert_eq!(again.as_deref(), Some(r1.as_str()), "{}", engine.name);
    // The successor rotates; then the first token, replayed long after, is a theft.
    let (status, r2) = engine.post_refresh(&r1).await;
    assert_eq!(status, StatusCode::OK, "{}", engine.name);
    // What is judged here is time itself: a replay after both the 200 ms grace and the
    // 2 s coalescing window (a burst's stragglers share its rotation within it). There is
    // no event to wait for.
    tokio::time::sleep(PAST_THE_WINDOWS).await;
    let (status, _) = engine.post_refresh(&r0).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{}", engine.name);
    let (status, _) = engine.post_refresh(&r2.expect("r2")).await;
    assert_eq!(
        status,
        StatusCode::UNAUTHORIZED,
        "{}: the whole session ended",
        engine.name
    );
}

async fn many_sessions_rotating_at_once_each_keep_their_own_session(backend: Backend) {
    let engine = Engine::start(&backend, Duration::ZERO).await;
    let mut tokens = Vec::new();
    for i in 0..24 {
        tokens.push(engine.post_register(&format!("user{i}@example.com")).await);
    }
    // Every session twice, all at once: the rotations queue and commit together.
    for _ in 0..2 {
        let answers =
            futures::future::join_all(tokens.iter().map(|t| engine.post_refresh(t))).await;
        let mut next = Vec::new();
        for (status, successor) in answers {
            assert_eq!(status, StatusCode::OK, "{}", engine.name);
            next.push(successor.expect("successor"));
        }
        let distinct: std::collections::HashSet<_> = next.iter().collect();
        assert_eq!(distinct.len(), tokens.len(), "{}", engine.name);
        tokens = next;
    }
}

#[tokio::test]
async fn served_without_the_client_address_the_engine_says_so_once() {
    let logs = Logs::default();
    let _capture = tracing::subscriber::set_default(
        tracing_subscriber::fmt()
            .with_writer(logs.clone())
            .with_ansi(false)
            .finish(),
    );
    let engine = Engine::start(&Backend::SqliteMemory, Duration::from_secs(10)).await;
    let anonymous = |email: &str| {
        Request::post("/api/auth/register")
            .header(header::CONTENT_TYPE, "application/json")
            .body(Body::from(
                json!({"email": email, "password": PASSWORD}).to_string(),
            ))
            .expect("request")
    };
    for email in ["one@example.com", "two@example.com"] {
        let res = engine
            .router
            .clone()
            .oneshot(anonymous(email))
            .await
            .expect("answer");
        assert_eq!(res.status(), StatusCode::CREATED);
    }
    let text = logs.text();
    assert_eq!(
        text.matches("without the client address").count(),
        1,
        "one loud line, not one per request: {text}"
    );
}

/// The browser layer learns the refresh path and the sign-in page from the page itself, so an
/// app that moves them configures them once, on the server.
#[tokio::test]
async fn every_page_tells_the_browser_the_servers_paths() {
    let config = AuthConfig::builder(SECRET)
        .api_prefix("auth-api")
        .login_path("/sign-in")
        .cookie_secure(false)
        .build()
        .expect("config");
    let db = sqlx::sqlite::SqlitePoolOptions::new()
        .max_connections(1)
        .connect("sqlite::memory:")
        .await
        .expect("sqlite");
    let auth = Auth::connect(db, config).await.expect("connect");
    let page = axum::response::Html(
        "<!DOCTYPE html><html><head><title>t</title></head><body>hi</body></html>",
    );
    let app = Router::new().route("/", axum::routing::get(move || async move { page }));
    let router = auth.install(app, PagePolicy::new());
    let get = |path: &'static str| {
        let router = router.clone();
        async move {
            let res = get_from(router, path).await;
            let bytes = axum::body::to_bytes(res.into_body(), 1 << 20)
                .await
                .expect("body");
            String::from_utf8(bytes.to_vec()).expect("utf-8")
        }
    };
    let html = get("/").await;
    assert!(
        html.starts_with(
            "<!DOCTYPE html><html><head><meta name=\"sessionflow\" content=\"{&quot;loginPath&quot;:\
             &quot;/sign-in&quot;,&quot;refreshPath&quot;:&quot;/auth-api/auth/refresh&quot;}\">\
             <title>t</title>"
        ),
        "{html}"
    );
    assert_eq!(html.matches("name=\"sessionflow\"").count(), 1, "{html}");
    // The JSON API answers JSON, untouched.
    let me = get("/auth-api/me").await;
    assert!(!me.contains("sessionflow"), "{me}");
}

/// A burst of page requests cannot hold more renders in memory than the configured number: the
/// others wait their turn before they render, a render keeps its turn until its body is
/// produced, and neither the JSON API nor a route that renders no page is held behind pages.
/// The Leptos routes `PageRoutes` registers take turns; an app's own rendering route takes
/// them with the `page_turns` layer.
#[tokio::test]
async fn pages_render_a_bounded_number_at_once_and_nothing_else_waits_behind_them() {
    use futures::StreamExt;
    use leptos::prelude::LeptosOptions;
    use sessionflow::server::PageRoutes;
    use std::sync::{
        atomic::{AtomicUsize, Ordering},
        Arc,
    };
    let config = AuthConfig::builder(SECRET)
        .cookie_secure(false)
        .page_concurrency(1)
        .build()
        .expect("config");
    let auth = Auth::connect("sqlite::memory:", config)
        .await
        .expect("connect");
    let started = Arc::new(AtomicUsize::new(0));
    let release = Arc::new(tokio::sync::Semaphore::new(0));
    let page = {
        let (started, release) = (started.clone(), release.clone());
        move || {
            let (started, release) = (started.clone(), release.clone());
            async move {
                started.fetch_add(1, Ordering::SeqCst);
                // The head now; the rest of the page once the test allows it.
                let body = futures::stream::iter([Ok::<_, std::io::Error>(
                    "<!DOCTYPE html><html><head></head>".to_owned(),
                )])
                .chain(futures::stream::once(async move {
                    release.acquire().await.expect("open").forget();
                    Ok("<body>done</body></html>".to_owned())
                }));
                axum::response::Html(Body::from_stream(body))
            }
        }
    };
    // `/` is a Leptos render; `/slow` renders a page of the app's own; `/plain` (a health check,
    // say) is a GET on the app's routes that renders nothing, and takes no turn.
    let options = LeptosOptions::builder().output_name("test").build();
    let app = Router::new()
        .page_routes(&options, || "rendered", |_| "rendered")
        .route(
            "/slow",
            axum::routing::get(page).route_layer(axum::middleware::from_fn(page_turns)),
        )
        .route("/plain", axum::routing::get(|| async { "ok" }));
    let router = auth.install(app, PagePolicy::new()).with_state(options);
    let send = |path: &'static str| get_from(router.clone(), path);
    // A page read to its end in a task of its own, so its turn goes back as soon as it is read.
    let read_in_task = |path: &'static str| {
        let answer = send(path);
        tokio::spawn(async move {
            let res = answer.await;
            let status = res.status();
            let body = axum::body::to_bytes(res.into_body(), 1 << 20)
                .await
                .expect("body");
            (status, String::from_utf8_lossy(&body).into_owned())
        })
    };
    /// `task`, or a failure saying `what` did not happen within 5 s.
    async fn within<T>(what: &str, task: impl std::future::Future<Output = T>) -> T {
        tokio::time::timeout(Duration::from_secs(5), task)
            .await
            .unwrap_or_else(|_| panic!("{what}"))
    }

    let first = within("the first page never answered", send("/slow")).await;
    assert_eq!(started.load(Ordering::SeqCst), 1);
    let second = read_in_task("/slow");
    let leptos = read_in_task("/");
    // Nothing to wait for: the claim is that something does not happen. 300 ms is ample for an
    // in-process request to reach its handler when nothing holds it back.
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(
        started.load(Ordering::SeqCst),
        1,
        "a second page started rendering while the first's body was still being produced"
    );
    assert!(!leptos.is_finished(), "a Leptos render ran without a turn");
    let me = within("the API waited behind a page", send("/api/me")).await;
    assert_eq!(me.status(), StatusCode::UNAUTHORIZED);
    let plain = within(
        "a GET that renders no page waited behind one",
        send("/plain"),
    )
    .await;
    assert_eq!(plain.status(), StatusCode::OK);

    release.add_permits(2);
    let body = axum::body::to_bytes(first.into_body(), 1 << 20)
        .await
        .expect("body");
    assert!(String::from_utf8_lossy(&body).ends_with("done</body></html>"));
    let (status, body) = within("the second page never rendered", second)
        .await
        .expect("task");
    assert_eq!(status, StatusCode::OK);
    assert!(body.ends_with("done</body></html>"));
    assert_eq!(started.load(Ordering::SeqCst), 2);
    let (status, body) = within("the Leptos page never rendered", leptos)
        .await
        .expect("task");
    assert_eq!(status, StatusCode::OK);
    assert!(body.contains("rendered"), "{body}");
}

/// A GET of `path` on `router`, from a client address of its own, as `serve` would pass it.
async fn get_from(router: Router, path: &str) -> axum::response::Response {
    let req = Request::get(path)
        .extension(ConnectInfo(next_client()))
        .body(Body::empty())
        .expect("request");
    router.oneshot(req).await.expect("answer")
}

per_backend!(
    memory: a_refresh_token_rotates_once_and_a_late_replay_ends_the_session,
    many_sessions_rotating_at_once_each_keep_their_own_session,
);
