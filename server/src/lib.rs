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
    headers::{no_store, provide_nonce, security_headers, PagePolicyHeaders},
    idempotency::idempotency,
    page_layer::{session_layer, PagePolicy, SessionLayerState},
    status::error_status,
    Auth,
};
use std::{sync::Arc, time::Duration};
use tower_cookies::CookieManagerLayer;
use tower_http::{
    compression::CompressionLayer, limit::RequestBodyLimitLayer, services::ServeDir,
    set_header::SetResponseHeaderLayer, timeout::TimeoutLayer, trace::TraceLayer,
};

/// Largest request body accepted (notes are at most 20 000 characters).
pub const BODY_LIMIT: usize = 256 * 1024;

#[derive(Clone, FromRef)]
pub struct AppState {
    pub auth: Auth,
    pub leptos_options: LeptosOptions,
}

/// The whole application: JSON API, server functions and pages behind the session layer, static
/// files with the app's 404 page behind them, and the cross-cutting layers.
///
/// Static files are served by `ServeDir` directly, never through Leptos: leptos_axum's
/// `file_and_error_handler` builds each static response under `Owner::new()`, which adopts
/// whatever reactive owner the worker thread last left current (another request's render), so a
/// static file could pick up that request's `ResponseOptions` and answer with its status.
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
    let idempotent = from_fn_with_state(auth.clone(), idempotency);
    let pages = Router::new()
        .leptos_routes_with_context(&state, generate_route_list(App), provide_nonce, {
            let options = leptos_options.clone();
            move || shell(options.clone())
        })
        .route_layer(idempotent.clone())
        .route_layer(from_fn_with_state(
            SessionLayerState {
                auth: auth.clone(),
                policy: policy.clone(),
                refresh: true,
            },
            session_layer,
        ));
    let not_found = Router::new()
        .fallback(leptos_axum::render_app_to_stream_in_order_with_context(
            provide_nonce,
            {
                let options = leptos_options.clone();
                move || shell(options.clone())
            },
        ))
        .layer(from_fn_with_state(
            SessionLayerState {
                auth: auth.clone(),
                // An unknown path is not a page: nothing is protected or guest-only there.
                policy: Arc::new(PagePolicy {
                    protected: &[],
                    guest_only: &[],
                    ..(*policy).clone()
                }),
                refresh: false,
            },
            session_layer,
        ))
        .layer(from_fn(no_store));
    let files = ServeDir::new(leptos_options.site_root.as_ref())
        .precompressed_br()
        .precompressed_gzip()
        .not_found_service(not_found);
    let (api, description) = api_routes(&auth);
    let description = Arc::new(description);
    let api = api.route(
        OPENAPI_PATH,
        get(move || {
            let description = description.clone();
            async move { axum::Json(description.as_ref().clone()) }
        }),
    );
    let reload = std::env::var_os("LEPTOS_WATCH").is_some();
    let page_headers = Arc::new(PagePolicyHeaders {
        connect_src: if reload {
            vec!["ws:".into()]
        } else {
            Vec::new()
        },
    });

    Router::new()
        .merge(api)
        .merge(pages)
        .layer(from_fn(no_store))
        .fallback_service(files)
        .with_state(state)
        .layer(from_fn_with_state(auth, csrf_guard))
        .layer(CookieManagerLayer::new())
        .layer(RequestBodyLimitLayer::new(BODY_LIMIT))
        .layer(map_response(error_status))
        .layer(CompressionLayer::new())
        .layer(TimeoutLayer::with_status_code(
            StatusCode::SERVICE_UNAVAILABLE,
            Duration::from_secs(30),
        ))
        .layer(from_fn_with_state(page_headers, security_headers))
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

/// Where the OpenAPI description of the JSON API is served.
pub const OPENAPI_PATH: &str = "/api/openapi.json";

/// The JSON API's routes and, built from the same handlers, its OpenAPI 3.1 description.
fn api_routes(auth: &Auth) -> (Router<AppState>, utoipa::openapi::OpenApi) {
    use utoipa_axum::{router::OpenApiRouter, routes};
    let notes = OpenApiRouter::new()
        .routes(routes!(notes_api::list, notes_api::create))
        .route_layer(from_fn_with_state(auth.clone(), idempotency));
    OpenApiRouter::with_openapi(ApiDoc::openapi())
        .merge(sessionflow::server::api::router())
        .merge(notes)
        .routes(routes!(healthz))
        .split_for_parts()
}

#[derive(utoipa::OpenApi)]
#[openapi(
    info(title = "sessionflow notes", description = "The JSON API of CONTRACT §6."),
    tags((name = "notes", description = "Private notes"), (name = "health"))
)]
struct ApiDoc;

/// The whole description: the engine's part and the app's.
impl ApiDoc {
    fn openapi() -> utoipa::openapi::OpenApi {
        let mut doc = <Self as utoipa::OpenApi>::openapi();
        doc.merge(<sessionflow::server::api::AuthApi as utoipa::OpenApi>::openapi());
        doc
    }
}

/// 200 when the database answers, 503 otherwise.
#[utoipa::path(get, path = "/healthz", tag = "health",
    responses(
        (status = 200, description = "The database answers (and, on SQLite, takes writes)", body = String),
        (status = 503, description = "The database is down, locked or slow", body = String),
    ))]
async fn healthz(State(auth): State<Auth>) -> (StatusCode, &'static str) {
    match auth.health().await {
        Ok(()) => (StatusCode::OK, "ok"),
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
