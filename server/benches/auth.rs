//! Micro-benchmarks of the hot paths: verifying an access token (every authenticated request),
//! issuing one, hashing a password (registration), and a full refresh rotation on SQLite.
//!
//! `cargo xtask bench` (or `cargo bench -p server`).

use criterion::{criterion_group, criterion_main, Criterion};
use sessionflow::server::{__internals, config::AuthConfig};

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime")
}

fn bench(c: &mut Criterion) {
    let rt = runtime();
    let dir = tempfile::tempdir().expect("temp dir");
    let url = format!("sqlite://{}/bench.db?mode=rwc", dir.path().display());
    let auth = rt.block_on(async {
        let unlimited = sessionflow::server::config::RateLimit::parse("1000000/1s").unwrap();
        let config = AuthConfig::builder(b"bench-secret-0123456789abcdef0123456789")
            .rate_limits(unlimited, unlimited)
            .build()
            .expect("config");
        server::db::start(&url, config).await.expect("migrations").0
    });
    let issued = rt.block_on(async {
        let email = sessionflow::Email::parse("bench@example.com").unwrap();
        let password = sessionflow::Password::parse("bench-password-1").unwrap();
        let who = sessionflow::server::ClientInfo {
            ip: std::net::Ipv4Addr::LOCALHOST.into(),
            user_agent: None,
        };
        auth.register(email, password, who).await.expect("register")
    });

    let headers = {
        let mut h = axum::http::HeaderMap::new();
        h.insert(
            axum::http::header::AUTHORIZATION,
            format!("Bearer {}", issued.access_token).parse().unwrap(),
        );
        h
    };
    c.bench_function(
        "resolve access token (verify; session liveness remembered)",
        |b| b.to_async(&rt).iter(|| auth.resolve(&headers)),
    );

    let user = issued.user.clone();
    c.bench_function("start a session (first pair)", |b| {
        b.to_async(&rt)
            .iter(|| __internals::start_session(&auth, user.clone(), None))
    });

    let mut n = 0u64;
    c.bench_function("register (argon2 hash, account and first session)", |b| {
        b.iter(|| {
            n += 1;
            let email = sessionflow::Email::parse(&format!("u{n}@example.com")).unwrap();
            let password = sessionflow::Password::parse("bench-password-1").unwrap();
            let who = sessionflow::server::ClientInfo {
                ip: std::net::Ipv4Addr::LOCALHOST.into(),
                user_agent: None,
            };
            rt.block_on(auth.register(email, password, who))
                .expect("registers")
        })
    });

    let mut token = issued.refresh_token.clone();
    c.bench_function("refresh rotation (one transaction)", |b| {
        b.iter(|| {
            let next = rt
                .block_on(__internals::refresh(
                    &auth,
                    &token,
                    sessionflow::server::RefreshPath::Api,
                ))
                .expect("rotates");
            token = next.refresh_token;
        })
    });
}

criterion_group!(benches, bench);
criterion_main!(benches);
