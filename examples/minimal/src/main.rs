//! The server of the minimal example: the app's routes, its static files, and the engine.
//!
//! `cargo xtask example` builds it and serves it on <http://127.0.0.1:3002> (in an app of your own,
//! `cargo leptos watch` does the same). Settings from the environment, besides Leptos' own:
//! `DATABASE_URL` (default `sqlite://minimal.db?mode=rwc`), `JWT_SECRET` (at least 32 characters;
//! a fixed development value when unset), and every engine variable of the README's table
//! (`ACCESS_TOKEN_TTL`, `REFRESH_REUSE_GRACE`, …), read by the engine itself.

use axum::Router;
use leptos::prelude::*;
use leptos_axum::{generate_route_list, LeptosRoutes};
use minimal::{shell, App};
use sessionflow::server::{
    config::{AuthConfig, AuthConfigBuilder},
    provide_nonce, Auth, PagePolicy,
};

// README: begin — the wiring an app adds to use the engine (tests/readme.rs keeps the copy in the
// README's "Using the engine in another app" identical to this).
async fn wire(
    options: LeptosOptions,
    db: sqlx::AnyPool,
    config: AuthConfig,
) -> anyhow::Result<Router> {
    let auth = Auth::connect(db, config).await?;
    let routes = generate_route_list(App);
    let app = Router::new()
        .leptos_routes_with_context(&options, routes, provide_nonce, {
            let options = options.clone();
            move || shell(options.clone())
        })
        .fallback_service(tower_http::services::ServeDir::new(&*options.site_root))
        .with_state(options);
    let pages = PagePolicy::new()
        .protect(["/private"])
        .guest_only(["/login"])
        .home("/private");
    Ok(auth.install(app, pages))
}
// README: end

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let options = get_configuration(None)?.leptos_options;
    let env = |k: &str| std::env::var(k).ok();
    let url = env("DATABASE_URL").unwrap_or_else(|| "sqlite://minimal.db?mode=rwc".into());
    let db = sessionflow::server::any_pool(&url).await?;
    let secret =
        env("JWT_SECRET").unwrap_or_else(|| "minimal-example-development-secret-0123".into());
    let config = AuthConfigBuilder::from_lookup(env, options.site_addr)?
        .with_secret(secret)
        .build()?;
    let app = wire(options.clone(), db, config).await?;
    let listener = tokio::net::TcpListener::bind(options.site_addr).await?;
    println!("listening on http://{}", options.site_addr);
    sessionflow::server::serve(listener, app).await?;
    Ok(())
}
