//! The server of the minimal example: the app's routes, its static files, and the engine.
//!
//! `cargo xtask example` builds it and serves it on <http://127.0.0.1:3002> (in an app of your own,
//! `cargo leptos watch` does the same). Settings from the environment, besides Leptos' own:
//! `DATABASE_URL` (default `sqlite://minimal.db?mode=rwc`), `JWT_SECRET` (at least 32 characters;
//! a fixed development value when unset), and every engine variable of the README's table
//! (`ACCESS_TOKEN_TTL`, `REFRESH_REUSE_GRACE`, …), read by the engine itself.

use axum::Router;
use leptos::prelude::*;
use minimal::{shell, App};
use sessionflow::server::{config::AuthConfigBuilder, serve, Auth, PagePolicy, PageRoutes};
use tower_http::services::ServeDir;

/// For `cargo leptos watch` on a fresh clone only; a deployment sets `JWT_SECRET`.
const DEVELOPMENT_SECRET: &str = "minimal-example-development-secret-0";

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    // README: begin — the whole wiring (tests/readme.rs keeps the README's copy identical).
    let options = get_configuration(None)?.leptos_options;
    let env = |k: &str| std::env::var(k).ok();
    let url = env("DATABASE_URL").unwrap_or_else(|| "sqlite://minimal.db?mode=rwc".into());
    let secret = env("JWT_SECRET").unwrap_or_else(|| DEVELOPMENT_SECRET.into());
    // Every engine variable of the README's table, checked by the engine; the private page's
    // avatar comes from another host, which the Content-Security-Policy must allow.
    let config = AuthConfigBuilder::from_lookup(env, options.site_addr)?
        .with_secret(secret)
        .csp_sources("img-src", ["https://www.gravatar.com"]);
    // Opens the database and applies the engine's own migrations.
    let auth = Auth::connect(url, config.build()?).await?;
    let app = Router::new()
        .page_routes(&options, App, shell) // Leptos routes, the CSP nonce in their context
        .fallback_service(ServeDir::new(&*options.site_root))
        .with_state(options.clone());
    let pages = PagePolicy::new()
        .protect(["/private"])
        .guest_only(["/login"]);
    let listener = tokio::net::TcpListener::bind(options.site_addr).await?;
    // Keeps each client's address (the sign-in limits count by it); stops on SIGTERM.
    Ok(serve(listener, auth.install(app, pages)).await?)
    // README: end
}
