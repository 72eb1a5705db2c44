//! The axum server: wiring only. The engine (`sessionflow`) owns auth, the app (`app`) owns pages
//! and server functions; this crate puts them behind one router.

mod notes_api;

use app::{shell, App};
use axum::{
    extract::{FromRef, State},
    http::{header, HeaderValue, StatusCode},
    middleware::{from_fn, from_fn_with_state, map_response},
    routing::get,
    Router,
};
use leptos::prelude::*;
use leptos_axum::{generate_route_list, LeptosRoutes};
use sessionflow::server::{
    csrf::csrf_guard,
    session::{session_layer, PagePolicy, SessionLayerState},
    status::error_status,
    Auth,
};
use std::{sync::Arc, time::Duration};
use tower_cookies::CookieManagerLayer;
use tower_http::{
    compression::CompressionLayer, limit::RequestBodyLimitLayer,
    set_header::SetResponseHeaderLayer, timeout::TimeoutLayer, trace::TraceLayer,
};

/// Largest request body accepted (notes are at most 20 000 characters).
pub const BODY_LIMIT: usize = 256 * 1024;

#[derive(Clone, FromRef)]
pub struct AppState {
    pub auth: Auth,
    pub leptos_options: LeptosOptions,
}

/// The whole application: JSON API, server functions and pages behind the session layer,
/// static files, and the cross-cutting layers.
pub fn router(auth: Auth, leptos_options: LeptosOptions) -> Router {
    let state = AppState {
        auth: auth.clone(),
        leptos_options: leptos_options.clone(),
    };
    let policy = Arc::new(PagePolicy {
        api_prefix: "/api/",
        protected: app::PROTECTED,
        guest_only: app::GUEST_ONLY,
        login_path: "/login",
        home: "/notes",
    });
    let pages = Router::new()
        .leptos_routes_with_context(&state, generate_route_list(App), || (), {
            let options = leptos_options.clone();
            move || shell(options.clone())
        })
        .route_layer(from_fn_with_state(
            SessionLayerState { auth, policy },
            session_layer,
        ));

    Router::new()
        .merge(sessionflow::server::api::router())
        .route("/api/notes", get(notes_api::list).post(notes_api::create))
        .route("/healthz", get(healthz))
        .merge(pages)
        .fallback(leptos_axum::file_and_error_handler::<AppState, _>(shell))
        .with_state(state)
        .layer(from_fn(csrf_guard))
        .layer(CookieManagerLayer::new())
        .layer(RequestBodyLimitLayer::new(BODY_LIMIT))
        .layer(map_response(error_status))
        .layer(CompressionLayer::new())
        .layer(TimeoutLayer::with_status_code(
            StatusCode::SERVICE_UNAVAILABLE,
            Duration::from_secs(30),
        ))
        .layer(SetResponseHeaderLayer::if_not_present(
            header::X_CONTENT_TYPE_OPTIONS,
            HeaderValue::from_static("nosniff"),
        ))
        .layer(SetResponseHeaderLayer::if_not_present(
            header::REFERRER_POLICY,
            HeaderValue::from_static("same-origin"),
        ))
        .layer(TraceLayer::new_for_http())
}

/// 200 when the database answers, 503 otherwise.
async fn healthz(State(auth): State<Auth>) -> (StatusCode, &'static str) {
    match sqlx::query("SELECT 1").execute(auth.db()).await {
        Ok(_) => (StatusCode::OK, "ok"),
        Err(e) => {
            tracing::warn!(error = %e, "health check failed");
            (StatusCode::SERVICE_UNAVAILABLE, "database unavailable")
        }
    }
}

/// Leptos options from cargo-leptos' environment, or the workspace defaults when the binary is
/// started on its own (tests, `target/release/server`).
pub fn leptos_options(site_addr: std::net::SocketAddr) -> LeptosOptions {
    let from_cargo_leptos = std::env::var_os("LEPTOS_OUTPUT_NAME").is_some();
    let mut options = from_cargo_leptos
        .then(|| leptos::config::get_configuration(None).ok())
        .flatten()
        .map(|c| c.leptos_options)
        .unwrap_or_else(|| {
            LeptosOptions::builder()
                .output_name("app")
                .site_root("target/site")
                .site_pkg_dir("pkg")
                .build()
        });
    options.site_addr = site_addr;
    options
}
