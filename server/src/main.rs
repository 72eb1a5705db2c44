//! `server`: reads the configuration, opens the database, serves.

use server::config::Config;
use std::process::ExitCode;

/// A page render allocates many short-lived objects; mimalloc serves them far cheaper than
/// glibc's allocator (which was about a quarter of the server's CPU under SSR load).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[tokio::main]
async fn main() -> ExitCode {
    let config = match Config::from_env() {
        Ok(c) => c,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::FAILURE;
        }
    };
    let format = config.log_format;
    server::telemetry::init_logs(format);
    match run(config).await {
        Ok(()) => ExitCode::SUCCESS,
        // With JSON logs every line a shipper reads is JSON, the last one too.
        Err(e) if format == server::config::LogFormat::Json => {
            tracing::error!("{e:#}");
            ExitCode::FAILURE
        }
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

async fn run(config: Config) -> anyhow::Result<()> {
    let auth_config = config.auth_config()?;
    if auth_config.public_origins().is_empty() {
        tracing::warn!(
            "PUBLIC_URL is not set and {} names no host: cross-site checks compare Origin with Host",
            config.site_addr
        );
    }
    let (auth, db) = server::db::start(&config.database_url, auth_config).await?;
    if let Some(addr) = config.metrics_addr {
        let bound = server::telemetry::serve_metrics(addr).await?;
        tracing::info!("metrics on http://{bound}/metrics");
    }
    let app = server::router(auth, db, server::leptos_options(config.site_addr));
    let listener = tokio::net::TcpListener::bind(config.site_addr)
        .await
        .map_err(|e| {
            anyhow::anyhow!("LEPTOS_SITE_ADDR={}: cannot listen: {e}", config.site_addr)
        })?;
    let bound = listener.local_addr().unwrap_or(config.site_addr);
    tracing::info!("listening on http://{bound}");
    sessionflow::server::serve(listener, app).await?;
    Ok(())
}
