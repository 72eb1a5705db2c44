//! The binary's configuration, read once from the environment (and `.env` when present).
//!
//! The binary's own variables:
//!
//! | variable | default |
//! |---|---|
//! | `LEPTOS_SITE_ADDR` | `127.0.0.1:3000` |
//! | `DATABASE_URL` | `sqlite://data/app.db?mode=rwc` |
//! | `JWT_SECRET` | dev only: generated into `data/jwt-secret` (0600) |
//! | `METRICS_ADDR` | off: the address of a separate Prometheus listener (`/metrics`) |
//! | `LOG_FORMAT` | `text`; `json` for one JSON object per line |
//!
//! The engine reads and checks its own (token lifetimes, grace, leeway, accepted keys, cookies,
//! origins, proxies, limits, the hashing pool): `AuthConfigBuilder::from_lookup`.
//!
//! A bad value is a [`ConfigError`] whose `Display` is one line naming the variable.

use secrecy::{ExposeSecret, SecretString};
use sessionflow::server::config::{AuthConfig, AuthConfigBuilder, ConfigError};
use std::{
    net::SocketAddr,
    path::{Path, PathBuf},
};

/// Where the JWT key comes from.
#[derive(Debug, Clone)]
pub enum SecretSource {
    /// `JWT_SECRET` was set.
    Env(SecretString),
    /// Not set: generate once into this file and reuse it (development only).
    DevFile(PathBuf),
}

/// How log lines are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    /// Human-readable lines (the default).
    Text,
    /// One JSON object per line, for log shippers.
    Json,
}

/// Everything the binary reads from the environment.
#[derive(Debug, Clone)]
pub struct Config {
    pub site_addr: SocketAddr,
    /// Where Prometheus metrics are served (`/metrics`), on a listener of their own; off when
    /// `None`.
    pub metrics_addr: Option<SocketAddr>,
    pub log_format: LogFormat,
    pub database_url: String,
    pub secret: SecretSource,
    /// The engine's settings, waiting for the secret.
    pub auth: AuthConfigBuilder,
}

impl Config {
    /// Reads `.env` (if present) and the environment.
    pub fn from_env() -> Result<Self, ConfigError> {
        let _ = dotenvy::dotenv();
        Self::from_lookup(|k| std::env::var(k).ok())
    }

    /// The engine's configuration, with the secret loaded (or, in development, generated).
    pub fn auth_config(&self) -> anyhow::Result<AuthConfig> {
        let secret = load_secret(&self.secret)?;
        Ok(self.auth.clone().with_secret(secret).build()?)
    }

    /// The same parse over any lookup, so tests need not touch the process environment.
    pub fn from_lookup(get: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let site_addr = match get("LEPTOS_SITE_ADDR") {
            Some(v) => v.parse::<SocketAddr>().map_err(|_| {
                ConfigError::new(
                    "LEPTOS_SITE_ADDR",
                    &v,
                    "expected an address like 127.0.0.1:3000",
                )
            })?,
            None => SocketAddr::from(([127, 0, 0, 1], 3000)),
        };
        let database_url =
            get("DATABASE_URL").unwrap_or_else(|| "sqlite://data/app.db?mode=rwc".to_owned());
        if !(database_url.starts_with("sqlite:")
            || database_url.starts_with("postgres://")
            || database_url.starts_with("postgresql://"))
        {
            return Err(ConfigError::new(
                "DATABASE_URL",
                &redact_url(&database_url),
                "expected a sqlite:// or postgres:// URL",
            ));
        }
        let secret = match get("JWT_SECRET") {
            Some(v) => SecretSource::Env(SecretString::from(v)),
            None if cfg!(debug_assertions) || site_addr.ip().is_loopback() => {
                SecretSource::DevFile(PathBuf::from("data/jwt-secret"))
            }
            None => {
                return Err(ConfigError::new(
                    "JWT_SECRET",
                    "",
                    "required for a release build listening on a non-loopback address",
                ))
            }
        };
        // The engine reads and checks its own variables; a secret given here is checked by the
        // same rules now (a generated one is long enough by construction).
        let auth = AuthConfigBuilder::from_lookup(&get, site_addr)?.app_name("sessionflow notes");
        if let SecretSource::Env(s) = &secret {
            auth.clone().with_secret(s.expose_secret()).build()?;
        }
        let metrics_addr = get("METRICS_ADDR")
            .filter(|v| !v.trim().is_empty())
            .map(|v| {
                v.trim().parse::<SocketAddr>().map_err(|_| {
                    ConfigError::new(
                        "METRICS_ADDR",
                        &v,
                        "expected an address like 127.0.0.1:9100",
                    )
                })
            })
            .transpose()?;
        if metrics_addr.is_some_and(|m| m == site_addr && m.port() != 0) {
            return Err(ConfigError::new(
                "METRICS_ADDR",
                &site_addr.to_string(),
                "must not be the site's own address (metrics are never public)",
            ));
        }
        let log_format = match get("LOG_FORMAT").as_deref().map(str::trim) {
            None | Some("text") => LogFormat::Text,
            Some("json") => LogFormat::Json,
            Some(other) => {
                return Err(ConfigError::new(
                    "LOG_FORMAT",
                    other,
                    "expected text or json",
                ))
            }
        };
        Ok(Self {
            site_addr,
            metrics_addr,
            log_format,
            database_url,
            secret,
            auth,
        })
    }
}

/// A database URL with its password replaced, safe to print.
pub fn redact_url(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(s), Some(at)) if at > s => {
            let creds = &url[s + 3..at];
            match creds.split_once(':') {
                Some((user, _)) => format!("{}{}:***{}", &url[..s + 3], user, &url[at..]),
                None => url.to_owned(),
            }
        }
        _ => url.to_owned(),
    }
}

/// Loads the signing secret: `JWT_SECRET`, or the development file (created on first use, 0600).
pub fn load_secret(source: &SecretSource) -> anyhow::Result<Vec<u8>> {
    use anyhow::Context;
    use rand::RngCore;
    match source {
        SecretSource::Env(s) => Ok(s.expose_secret().as_bytes().to_vec()),
        SecretSource::DevFile(path) => {
            if let Ok(existing) = std::fs::read_to_string(path) {
                let existing = existing.trim();
                if existing.len() >= 32 {
                    tracing::warn!(path = %path.display(), "JWT_SECRET is not set; using the development secret file");
                    return Ok(existing.as_bytes().to_vec());
                }
            }
            let mut bytes = [0u8; 48];
            rand::thread_rng().fill_bytes(&mut bytes);
            let secret = hex::encode(bytes);
            write_private(path, &secret)
                .with_context(|| format!("Failed to write {}", path.display()))?;
            tracing::warn!(path = %path.display(), "JWT_SECRET is not set; generated a development secret");
            Ok(secret.into_bytes())
        }
    }
}

fn write_private(path: &Path, contents: &str) -> std::io::Result<()> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    std::io::Write::write_all(&mut options.open(path)?, contents.as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn parse(vars: &[(&str, &str)]) -> Result<Config, ConfigError> {
        let map: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        Config::from_lookup(|k| map.get(k).cloned())
    }

    fn built(c: Config) -> AuthConfig {
        c.auth.with_secret(vec![1u8; 32]).build().unwrap()
    }

    #[test]
    fn defaults_follow_the_contract() {
        let c = parse(&[]).unwrap();
        assert_eq!(c.site_addr.to_string(), "127.0.0.1:3000");
        assert_eq!(c.database_url, "sqlite://data/app.db?mode=rwc");
        let auth = built(c);
        assert!(
            !auth.cookie_secure(),
            "loopback site address means no Secure flag"
        );
        assert!(auth
            .public_origins()
            .contains(&"http://localhost:3000".to_owned()));
    }

    #[test]
    fn a_bad_duration_names_its_variable() {
        let e = parse(&[("ACCESS_TOKEN_TTL", "banana")]).unwrap_err();
        assert!(
            e.to_string().starts_with("ACCESS_TOKEN_TTL=\"banana\""),
            "{e}"
        );
    }

    #[test]
    fn grace_and_leeway_above_five_minutes_are_refused() {
        for var in ["REFRESH_REUSE_GRACE", "JWT_LEEWAY"] {
            assert_eq!(parse(&[(var, "301s")]).unwrap_err().var, var);
            assert!(parse(&[(var, "5m")]).is_ok());
        }
    }

    #[test]
    fn an_unknown_database_scheme_is_rejected() {
        assert_eq!(
            parse(&[("DATABASE_URL", "mysql://x")]).unwrap_err().var,
            "DATABASE_URL"
        );
    }

    #[test]
    fn a_public_address_defaults_to_secure_cookies_and_no_derived_origin_for_any_address() {
        let c = parse(&[
            ("LEPTOS_SITE_ADDR", "0.0.0.0:8080"),
            ("JWT_SECRET", &"k".repeat(32)),
        ]);
        let auth = built(c.unwrap());
        assert!(auth.cookie_secure());
        assert!(auth.public_origins().is_empty());
    }

    #[test]
    fn a_short_secret_is_refused_without_echoing_it() {
        let e = parse(&[("JWT_SECRET", "tiny-secret")]).unwrap_err();
        assert!(!e.to_string().contains("tiny-secret"));
    }

    #[test]
    fn proxies_origins_and_limits_parse_or_name_their_variable() {
        let c = parse(&[
            ("TRUSTED_PROXIES", "10.0.0.1, 192.168.0.0/16"),
            ("PUBLIC_URL", "https://a.example, https://b.example:8443"),
        ]);
        let auth = built(c.unwrap());
        assert_eq!(
            auth.public_origins(),
            ["https://a.example", "https://b.example:8443"]
        );
        for (var, bad) in [
            ("TRUSTED_PROXIES", "proxy.local"),
            ("PUBLIC_URL", "notes.example.com"),
            ("PASSWORD_HASH_WORKERS", "0"),
            ("AUTH_RATE_LIMIT_PER_ADDRESS", "lots"),
        ] {
            assert_eq!(parse(&[(var, bad)]).unwrap_err().var, var);
        }
    }

    #[test]
    fn redacted_urls_hide_the_password() {
        assert_eq!(
            redact_url("postgres://app:pw@localhost/db"),
            "postgres://app:***@localhost/db"
        );
        assert_eq!(redact_url("sqlite://data/app.db"), "sqlite://data/app.db");
    }

    proptest::proptest! {
        #[test]
        fn any_setting_value_parses_or_names_its_variable(raw in "\\PC{0,30}") {
            for var in ["ACCESS_TOKEN_TTL", "REFRESH_REUSE_GRACE", "JWT_LEEWAY", "PUBLIC_URL",
                        "TRUSTED_PROXIES", "AUTH_RATE_LIMIT_PER_ADDRESS", "PASSWORD_HASH_WORKERS"] {
                match parse(&[(var, &raw)]) {
                    Ok(c) => { proptest::prop_assert!(c.auth.with_secret(vec![1u8; 32]).build().is_ok()); }
                    Err(e) => proptest::prop_assert_eq!(e.var, var),
                }
            }
        }
    }
}
