//! [`Layers`]: everything the engine puts on the app's router, in the right order, and around
//! its not-found page; [`Auth::install`] is the short form for an app without a page of its own.

use crate::server::{
    auth::Auth,
    http::csrf::csrf_guard,
    http::headers::{no_store, security_headers, Csp, SecurityHeaders},
    http::idempotency::idempotency,
    http::page_layer::{page_turns, session_layer, SessionLayerState},
    http::pages::PagePolicy,
    http::status::error_status,
};
use axum::{
    middleware::{from_fn, from_fn_with_state, map_response},
    Router,
};
use std::{sync::Arc, time::Duration};
use tower_cookies::CookieManagerLayer;
use tower_http::limit::RequestBodyLimitLayer;

/// How often expired sessions, old spent tokens and idempotency records are swept.
const SWEEP_EVERY: Duration = Duration::from_secs(600);

impl Auth {
    /// The engine's layers for an app whose pages follow `pages`: what [`Layers::install`] puts
    /// on its routes and [`Layers::not_found_page`] around its not-found page.
    pub fn layers(&self, pages: PagePolicy) -> Layers {
        Layers {
            pages: SessionLayerState {
                auth: self.clone(),
                policy: Arc::new(pages),
                refresh: true,
            },
            // A stray URL is no page of the app's: nothing to protect, and never a refresh.
            not_found: SessionLayerState {
                auth: self.clone(),
                policy: Arc::new(PagePolicy::new()),
                refresh: false,
            },
        }
    }

    /// `self.layers(pages).install(router)`: the engine on an app's router, for an app whose
    /// not-found page needs no session ([`Layers`] has both).
    pub fn install<S>(&self, router: Router<S>, pages: PagePolicy) -> Router<S>
    where
        S: Clone + Send + Sync + 'static,
    {
        self.layers(pages).install(router)
    }

    /// The OpenAPI description of the engine's JSON API (paths under the API prefix, schemas,
    /// security schemes), to merge into the app's own.
    pub fn openapi(&self) -> utoipa::openapi::OpenApi {
        let (_, paths) =
            crate::server::http::api::router::<Auth>(self.config().api_prefix()).split_for_parts();
        let mut doc = <crate::server::http::api::AuthApi as utoipa::OpenApi>::openapi();
        doc.merge(paths);
        doc
    }
}

/// The engine's layers for one app ([`Auth::layers`]): the session layer its pages get (with the
/// app's [`PagePolicy`]) and the one its not-found page gets (no policy, no refresh), and every
/// other layer [`install`](Self::install) puts around the app.
#[derive(Clone)]
pub struct Layers {
    pages: SessionLayerState,
    not_found: SessionLayerState,
}

impl Layers {
    /// Installs the engine on the app's router, which holds the app's routes — its Leptos pages
    /// and server functions (registered with [`PageRoutes`](crate::server::PageRoutes)),
    /// its own JSON handlers — and its fallback (static files, the not-found page).
    ///
    /// On the app's routes, innermost first: `Cache-Control: no-store`; `Idempotency-Key` for
    /// mutations of signed-in callers; the session layer (resolves the caller once per request,
    /// refreshes before a page renders, sends signed-out visitors of protected pages to sign in).
    /// Then the engine's JSON API is merged in under the API prefix, and around everything:
    /// the CSRF guard, the cookie jar, the body limit, the contract's error statuses, and the
    /// security headers (no framing, a nonce-based Content-Security-Policy). The periodic sweep
    /// starts (once per engine) on the current tokio runtime.
    ///
    /// The app's own compression, timeouts and tracing go around the result.
    pub fn install<S>(&self, router: Router<S>) -> Router<S>
    where
        S: Clone + Send + Sync + 'static,
    {
        let auth = &self.pages.auth;
        auth.start_sweeping(SWEEP_EVERY);
        let (engine_api, _) =
            crate::server::http::api::router(auth.config().api_prefix()).split_for_parts();
        let engine_api = engine_api.layer(from_fn(no_store)).with_state(auth.clone());
        // `cargo leptos watch` reloads the page over a websocket on another port.
        let mut csp_sources = auth.config().csp_sources.clone();
        if std::env::var_os("LEPTOS_WATCH").is_some() {
            csp_sources.push(("connect-src".into(), vec!["ws:".into()]));
        }
        let headers = Arc::new(SecurityHeaders {
            csp: Csp::new(&csp_sources),
            api_prefix: auth.config().api_prefix().to_owned(),
            page_meta: crate::server::http::headers::page_meta(
                &auth.config().refresh_path(),
                auth.config().login_path(),
            ),
            no_referrer: vec![
                auth.config().recovery.reset_page.clone(),
                auth.config().recovery.verify_page.clone(),
            ],
        });
        // The app's routes get the session layer. An app with no routes of its own (only the
        // engine's API) is fine too: axum refuses a route layer on a router without routes.
        let router = if router.has_routes() {
            router
                .route_layer(from_fn(no_store))
                .route_layer(from_fn_with_state(auth.clone(), idempotency))
                .route_layer(from_fn_with_state(self.pages.clone(), session_layer))
                // A route layer also wraps each route's "method not allowed" answer, so a PUT to a
                // POST route would spend (or trip over) an Idempotency-Key before it got its 405.
                // This puts a plain 405 back outside those layers; axum still adds `Allow`.
                .method_not_allowed_fallback(method_not_allowed)
        } else {
            router
        };
        router
            .merge(engine_api)
            .layer(from_fn_with_state(auth.clone(), csrf_guard))
            .layer(CookieManagerLayer::new())
            .layer(RequestBodyLimitLayer::new(auth.config().body_limit))
            .layer(map_response(error_status))
            .layer(from_fn_with_state(headers, security_headers))
            .layer(from_fn_with_state(
                crate::server::metrics::Kinds::new(auth.config().api_prefix()),
                crate::server::metrics::timed,
            ))
    }

    /// Wraps the app's not-found page (served behind its static files): the caller is resolved
    /// from the access cookie so the page can show who is signed in, but a stray URL never
    /// refreshes or rotates tokens, and the answer is not stored.
    pub fn not_found_page<S>(&self, page: Router<S>) -> Router<S>
    where
        S: Clone + Send + Sync + 'static,
    {
        page.layer(from_fn(page_turns))
            .layer(from_fn_with_state(self.not_found.clone(), session_layer))
            .layer(from_fn(no_store))
    }
}

/// The answer to a method a route does not serve (the outer layers give it its JSON body).
async fn method_not_allowed() -> axum::http::StatusCode {
    axum::http::StatusCode::METHOD_NOT_ALLOWED
}
