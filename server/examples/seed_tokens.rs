//! Benchmark seeding: `seed_tokens EMAIL N OUT_FILE` creates N sessions for an existing user
//! straight in the database (`DATABASE_URL`) and writes their refresh tokens to OUT_FILE, one per
//! line, for `shared/peers/bench.sh … contract` (`SEED_TOKENS_CMD`).

use sessionflow::{
    server::{config::AuthConfig, Auth},
    User,
};
use sqlx::Row;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [email, n, out] = args.as_slice() else {
        anyhow::bail!("usage: seed_tokens EMAIL N OUT_FILE");
    };
    let n: usize = n.parse()?;
    let url =
        std::env::var("DATABASE_URL").unwrap_or_else(|_| "sqlite://data/app.db?mode=rwc".into());
    let pool = server::db::connect(&url).await?;
    let row = sqlx::query("SELECT id, email FROM sessionflow_users WHERE email = $1")
        .bind(email.to_lowercase())
        .fetch_one(&pool)
        .await?;
    let user = User {
        id: row.try_get("id")?,
        email: row.try_get("email")?,
        email_verified: false,
    };
    // Seeding needs no signing key: only the refresh tokens are kept.
    let auth = Auth::connect(pool, AuthConfig::builder([0u8; 32]).build()?).await?;
    let mut lines = String::with_capacity(n * 45);
    for _ in 0..n {
        lines.push_str(
            &sessionflow::server::__internals::start_session(&auth, user.clone(), Some("bench"))
                .await?
                .refresh_token,
        );
        lines.push('\n');
    }
    std::fs::write(out, lines)?;
    Ok(())
}
