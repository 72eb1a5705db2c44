//! The axum server: wiring only. The engine (`sessionflow`) owns auth, the app (`app`) owns pages,
//! server functions and notes; this crate puts them behind one router.

pub mod config;
pub mod db;
mod notes_api;
pub mod telemetry;

use app::{shell, App};
use axum::{
    extract::{FromRef, State},
    http::StatusCode,
    routing::get,
    Router,
};
use leptos::prelude::*;
use sessionflow::server::{page_context, Auth, PageRoutes};
use sqlx::AnyPool;
use std::{sync::Arc, time::Duration};
use tower_http::{
    compression::CompressionLayer, services::ServeDir, timeout::TimeoutLayer, trace::TraceLayer,
};

#[derive(Clone, FromRef)]
pub struct AppState {
    pub auth: Auth,
    pub db: AnyPool,
    pub leptos_options: LeptosOptions,
}

/// The whole application: the app's pages, server functions and JSON handlers, static files with
/// the app's 404 page behind them, all under what the engine installs.
///
/// Static files are served by `ServeDir` directly, never through Leptos: leptos_axum's
/// `file_and_error_handler` builds each static response under `Owner::new()`, which adopts
/// whatever reactive owner the worker thread last left current (another request's render), so a
/// static file could pick up that request's `ResponseOptions` and answer with its status.
pub fn router(auth: Auth, db: AnyPool, leptos_options: LeptosOptions) -> Router {
    let state = AppState {
        auth: auth.clone(),
        db: db.clone(),
        leptos_options: leptos_options.clone(),
    };
    // What every Leptos render and server function of a request gets in its context, besides
    // what the engine puts there.
    let context = {
        let db = db.clone();
        move || provide_context(db.clone())
    };
    let pages = Router::new().page_routes_with_context(&state, App, context.clone(), shell);
    // The engine's layers: around the app's routes (below) and its not-found page.
    let layers = auth.layers(app::page_policy());
    let not_found = layers.not_found_page(Router::new().fallback(
        leptos_axum::render_app_to_stream_in_order_with_context(page_context(context), {
            let options = leptos_options.clone();
            move || shell(options.clone())
        }),
    ));
    let files = ServeDir::new(leptos_options.site_root.as_ref())
        .precompressed_br()
        .precompressed_gzip()
        .not_found_service(not_found);
    // Brotli to browsers that accept it, else gzip: from the `.br`/`.gz` files a release build
    // made (`--precompress`), or, without them (debug builds), compressed here at a level cheap
    // enough for a megabyte of wasm.
    let files = Router::new()
        .fallback_service(files)
        .layer(CompressionLayer::new().quality(tower_http::CompressionLevel::Precise(5)))
        .layer(axum::middleware::from_fn_with_state(
            PkgCache::new(&leptos_options),
            pkg_cache,
        ));
    let (api, description) = api_routes(&auth);
    let description = Arc::new(description);
    let app = Router::new()
        .merge(pages)
        .merge(api)
        .route(
            OPENAPI_PATH,
            get(move || {
                let description = description.clone();
                async move { axum::Json(description.as_ref().clone()) }
            }),
        )
        .fallback_service(files)
        .with_state(state);
    layers
        .install(app)
        .layer(CompressionLayer::new().no_br())
        .layer(TimeoutLayer::with_status_code(
            StatusCode::SERVICE_UNAVAILABLE,
            Duration::from_secs(30),
        ))
        .layer(TraceLayer::new_for_http().make_span_with(request_span))
}

/// The span of one request: its method and path, never its query string, where a reset or
/// verification link carries its token (`/reset-password?token=…`).
fn request_span(req: &axum::http::Request<axum::body::Body>) -> tracing::Span {
    tracing::debug_span!("request", method = %req.method(), path = %req.uri().path())
}

/// Which static answers may be cached for good: the bundle (`/pkg/*`) when its names carry a
/// content hash (cargo-leptos `hash-files`), since a new build has new names.
#[derive(Clone)]
struct PkgCache {
    prefix: Option<Arc<str>>,
}

impl PkgCache {
    fn new(options: &LeptosOptions) -> Self {
        Self {
            prefix: options
                .hash_files
                .then(|| format!("/{}/", options.site_pkg_dir).into()),
        }
    }
}

async fn pkg_cache(
    State(cache): State<PkgCache>,
    req: axum::extract::Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    let immutable = cache
        .prefix
        .as_deref()
        .is_some_and(|p| req.uri().path().starts_with(p));
    let mut res = next.run(req).await;
    if immutable && res.status() == StatusCode::OK {
        res.headers_mut().insert(
            axum::http::header::CACHE_CONTROL,
            axum::http::HeaderValue::from_static("public, max-age=31536000, immutable"),
        );
    }
    res
}

/// Where the OpenAPI description of the JSON API is served.
pub const OPENAPI_PATH: &str = "/api/openapi.json";

/// The app's JSON routes and the whole API's OpenAPI 3.1 description (the engine's part and the
/// app's, each built from its handlers).
fn api_routes(auth: &Auth) -> (Router<AppState>, utoipa::openapi::OpenApi) {
    use utoipa::OpenApi;
    use utoipa_axum::{router::OpenApiRouter, routes};
    let mut doc = ApiDoc::openapi();
    doc.merge(auth.openapi());
    OpenApiRouter::with_openapi(doc)
        .routes(routes!(notes_api::list, notes_api::create))
        .routes(routes!(healthz))
        .split_for_parts()
}

#[derive(utoipa::OpenApi)]
#[openapi(
    info(title = "sessionflow notes", description = "The JSON API: sign-in, sessions and notes."),
    tags((name = "notes", description = "Private notes"), (name = "health"))
)]
struct ApiDoc;

/// 200 when the database answers, 503 otherwise. Both pools are asked: the app's (notes) and
/// the engine's (sessions), which are separate pools on the same database.
#[utoipa::path(get, path = "/healthz", tag = "health",
    responses(
        (status = 200, description = "The database answers (and, on SQLite, takes writes)", body = String),
        (status = 503, description = "The database is down, locked or slow", body = String),
    ))]
async fn healthz(
    State(auth): State<Auth>,
    State(db): State<AnyPool>,
) -> (StatusCode, &'static str) {
    let app = sqlx::query("SELECT 1").execute(&db).await.map(drop);
    match app
        .map_err(sessionflow::server::Error::from)
        .and(auth.health().await)
    {
        Ok(()) => (StatusCode::OK, "ok"),
        Err(e) => {
            tracing::warn!(error = %e, "health check failed");
            (StatusCode::SERVICE_UNAVAILABLE, "database unavailable")
        }
    }
}

/// Leptos options from cargo-leptos' environment, or the workspace defaults when the binary is
/// started on its own (tests, `target/release/server`). Hashed bundle names are used whenever
/// cargo-leptos left its hash file beside the binary.
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
    let hash_file = std::env::current_exe()
        .ok()
        .and_then(|exe| Some(exe.parent()?.join(options.hash_file.as_ref())));
    if hash_file.is_some_and(|f| f.is_file()) {
        options.hash_files = true;
    }
    options
}
