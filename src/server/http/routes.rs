//! The app's Leptos routes, registered the engine's way: every render and server function gets
//! what the engine needs in its context (the CSP nonce: docs/threats.md), so an app
//! has nothing of the engine's to remember in its own context.

use axum::{extract::FromRef, Router};
use leptos::prelude::{IntoView, LeptosOptions};
use leptos_axum::LeptosRoutes;

/// Registers a Leptos app's pages and server functions on an axum `Router`, like leptos_axum's
/// `LeptosRoutes`, with the engine's context in every render: the request's CSP nonce, which
/// Leptos puts on its hydration scripts (without it the Content-Security-Policy blocks
/// hydration).
///
/// `app` is the root component (its routes are listed with `generate_route_list`); `shell`
/// renders the whole document from the site's `LeptosOptions` (taken from the router's state).
pub trait SessionRoutes<S> {
    /// The same as [`session_routes`](Self::session_routes), with `context` run in every render
    /// and server function too (the app's own context: a database pool, say).
    fn session_routes_with_context<A, AV, SH, IV>(
        self,
        state: &S,
        app: A,
        context: impl Fn() + Clone + Send + Sync + 'static,
        shell: SH,
    ) -> Self
    where
        A: Fn() -> AV + Clone + Send + 'static,
        AV: IntoView + 'static,
        SH: Fn(LeptosOptions) -> IV + Clone + Send + Sync + 'static,
        IV: IntoView + 'static;

    /// The app's routes, rendered by `shell`.
    fn session_routes<A, AV, SH, IV>(self, state: &S, app: A, shell: SH) -> Self
    where
        Self: Sized,
        A: Fn() -> AV + Clone + Send + 'static,
        AV: IntoView + 'static,
        SH: Fn(LeptosOptions) -> IV + Clone + Send + Sync + 'static,
        IV: IntoView + 'static,
    {
        self.session_routes_with_context(state, app, || {}, shell)
    }
}

impl<S> SessionRoutes<S> for Router<S>
where
    S: Clone + Send + Sync + 'static,
    LeptosOptions: FromRef<S>,
{
    fn session_routes_with_context<A, AV, SH, IV>(
        self,
        state: &S,
        app: A,
        context: impl Fn() + Clone + Send + Sync + 'static,
        shell: SH,
    ) -> Self
    where
        A: Fn() -> AV + Clone + Send + 'static,
        AV: IntoView + 'static,
        SH: Fn(LeptosOptions) -> IV + Clone + Send + Sync + 'static,
        IV: IntoView + 'static,
    {
        let options = LeptosOptions::from_ref(state);
        // The renders take page turns; the app's other routes on this router do not.
        let leptos = Router::new().leptos_routes_with_context(
            state,
            leptos_axum::generate_route_list(app),
            page_context(context),
            move || shell(options.clone()),
        );
        if !leptos.has_routes() {
            return self;
        }
        self.merge(leptos.route_layer(axum::middleware::from_fn(super::page_layer::page_turns)))
    }
}

/// `context` plus the engine's: what a render the app makes itself (a fallback page through
/// leptos_axum's `render_app_to_stream_with_context`) passes as its additional context.
pub fn page_context(
    context: impl Fn() + Clone + Send + Sync + 'static,
) -> impl Fn() + Clone + Send + Sync + 'static {
    move || {
        super::headers::provide_nonce();
        context();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::server::{auth::Auth, config::AuthConfig, http::install::PagePolicy};
    use axum::{body::Body, extract::ConnectInfo, http::Request, http::StatusCode};
    use std::time::Duration;
    use tower::ServiceExt;

    /// The app's Leptos renders wait for a page turn; a route the app adds beside them (a health
    /// check) does not.
    #[tokio::test]
    async fn leptos_renders_take_page_turns_and_the_apps_other_routes_do_not() {
        let config = AuthConfig::builder("a-test-secret-that-is-long-enough-0123456789")
            .cookie_secure(false)
            .page_concurrency(1)
            .build()
            .expect("config");
        let auth = Auth::connect("sqlite::memory:", config)
            .await
            .expect("connect");
        let options = LeptosOptions::builder().output_name("test").build();
        let app = Router::new()
            .session_routes(&options, || "rendered", |_| "rendered")
            .route("/healthz", axum::routing::get(|| async { "ok" }));
        let router = auth.install(app, PagePolicy::new()).with_state(options);
        let get = |path: &'static str| {
            let req = Request::get(path)
                .extension(ConnectInfo(std::net::SocketAddr::from(([127, 0, 0, 1], 1))))
                .body(Body::empty())
                .expect("request");
            router.clone().oneshot(req)
        };

        // Every turn is taken, as by a render still streaming.
        let held = auth.page_turn().await;
        let health = tokio::time::timeout(Duration::from_secs(5), get("/healthz"))
            .await
            .expect("the health check waited behind a render")
            .expect("answer");
        assert_eq!(health.status(), StatusCode::OK);
        let page = tokio::spawn(get("/"));
        // The claim is that the render does not start: nothing to wait on but time.
        tokio::time::sleep(Duration::from_millis(300)).await;
        assert!(!page.is_finished(), "a render ran without a turn");
        drop(held);
        let page = tokio::time::timeout(Duration::from_secs(5), page)
            .await
            .expect("the render never got its turn")
            .expect("task")
            .expect("answer");
        assert_eq!(page.status(), StatusCode::OK);
    }
}
