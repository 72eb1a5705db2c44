//! The binary's configuration, read once from the environment (and `.env` when present).
//!
//! | variable | default |
//! |---|---|
//! | `LEPTOS_SITE_ADDR` | `127.0.0.1:3000` |
//! | `DATABASE_URL` | `sqlite://data/app.db?mode=rwc` |
//! | `JWT_SECRET` | dev only: generated into `data/jwt-secret` (0600) |
//! | `JWT_ACCEPTED_SECRETS` | none: comma-separated keys that verify but never sign |
//! | `ACCESS_TOKEN_TTL`, `REFRESH_TOKEN_TTL` | `15m`, `30d` |
//! | `REFRESH_REUSE_GRACE`, `JWT_LEEWAY` | `10s`, `5s` (each at most `5m`) |
//! | `COOKIE_SECURE` | `true` unless the site address is loopback |
//! | `PUBLIC_URL` | derived from `LEPTOS_SITE_ADDR` |
//! | `TRUSTED_PROXIES`, `CLIENT_IP_HEADER` | none, `X-Forwarded-For` |
//! | `AUTH_RATE_LIMIT_PER_ADDRESS`, `AUTH_RATE_LIMIT_PER_ACCOUNT` | `30/5m`, `10/5m` |
//! | `PASSWORD_HASH_WORKERS`, `PASSWORD_HASH_QUEUE` | cores, 4 × workers |
//! | `METRICS_ADDR` | off: the address of a separate Prometheus listener (`/metrics`) |
//! | `LOG_FORMAT` | `text`; `json` for one JSON object per line |
//!
//! A bad value is a [`ConfigError`] whose `Display` is one line naming the variable.

use secrecy::{ExposeSecret, SecretString};
use sessionflow::server::config::{AuthConfig, AuthConfigBuilder, ConfigError, RateLimit};
use std::{
    net::SocketAddr,
    path::{Path, PathBuf},
    time::Duration,
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
        let cookie_secure = match get("COOKIE_SECURE") {
            Some(v) => parse_bool(&v)
                .ok_or_else(|| ConfigError::new("COOKIE_SECURE", &v, "expected true or false"))?,
            None => !site_addr.ip().is_loopback(),
        };
        let secret = match get("JWT_SECRET") {
            Some(v) if v.len() >= 32 => SecretSource::Env(SecretString::from(v)),
            Some(_) => {
                return Err(ConfigError::new(
                    "JWT_SECRET",
                    "<hidden>",
                    "must be at least 32 characters",
                ))
            }
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
        let mut auth = AuthConfig::builder([0u8; 32])
            .cookie_secure(cookie_secure)
            .access_ttl(duration(
                &get,
                "ACCESS_TOKEN_TTL",
                Duration::from_secs(900),
                false,
            )?)
            .refresh_ttl(duration(
                &get,
                "REFRESH_TOKEN_TTL",
                Duration::from_secs(30 * 86400),
                false,
            )?)
            .reuse_grace(capped(
                &get,
                "REFRESH_REUSE_GRACE",
                Duration::from_secs(10),
            )?)
            .leeway(capped(&get, "JWT_LEEWAY", Duration::from_secs(5))?);
        if let Some(v) = get("JWT_ACCEPTED_SECRETS") {
            // Checked (length, never echoed) where the engine's configuration is built.
            auth = auth.accepted_secrets(v.split(',').map(str::trim).filter(|s| !s.is_empty()));
        }
        auth = match get("PUBLIC_URL") {
            Some(v) => {
                let urls: Vec<&str> = v.split(',').map(str::trim).collect();
                for u in &urls {
                    sessionflow::server::config::origin_of(u)
                        .map_err(|r| ConfigError::new("PUBLIC_URL", &v, r))?;
                }
                auth.public_origins(urls)
            }
            None => auth.public_origins_for(site_addr),
        };
        if let Some(v) = get("TRUSTED_PROXIES") {
            let proxies = v
                .split(',')
                .map(str::trim)
                .filter(|p| !p.is_empty())
                .map(|p| {
                    p.parse::<ipnet::IpNet>()
                        .or_else(|_| p.parse::<std::net::IpAddr>().map(ipnet::IpNet::from))
                        .map_err(|_| {
                            ConfigError::new(
                                "TRUSTED_PROXIES",
                                &v,
                                "expected addresses or networks like 10.0.0.1, 10.0.0.0/8",
                            )
                        })
                })
                .collect::<Result<Vec<_>, _>>()?;
            auth = auth.trusted_proxies(proxies);
        }
        if let Some(v) = get("CLIENT_IP_HEADER") {
            let header = v.trim().parse::<axum::http::HeaderName>().map_err(|_| {
                ConfigError::new(
                    "CLIENT_IP_HEADER",
                    &v,
                    "expected a header name like X-Forwarded-For",
                )
            })?;
            auth = auth.client_ip_header(header);
        }
        let cores = std::thread::available_parallelism().map_or(2, usize::from);
        let workers = count(&get, "PASSWORD_HASH_WORKERS", cores, 1)?;
        auth = auth
            .rate_limits(
                rate(&get, "AUTH_RATE_LIMIT_PER_ADDRESS", "30/5m")?,
                rate(&get, "AUTH_RATE_LIMIT_PER_ACCOUNT", "10/5m")?,
            )
            .hash_pool(workers, count(&get, "PASSWORD_HASH_QUEUE", 4 * workers, 0)?);
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

fn duration(
    get: &impl Fn(&str) -> Option<String>,
    var: &'static str,
    default: Duration,
    zero_ok: bool,
) -> Result<Duration, ConfigError> {
    let Some(v) = get(var) else {
        return Ok(default);
    };
    let d = humantime::parse_duration(v.trim())
        .map_err(|_| ConfigError::new(var, &v, "expected a duration like 15m, 2s or 30d"))?;
    if d.is_zero() && !zero_ok {
        return Err(ConfigError::new(var, &v, "must be longer than zero"));
    }
    if d > Duration::from_secs(10 * 365 * 24 * 3600) {
        return Err(ConfigError::new(var, &v, "must be at most ten years"));
    }
    Ok(d)
}

fn capped(
    get: &impl Fn(&str) -> Option<String>,
    var: &'static str,
    default: Duration,
) -> Result<Duration, ConfigError> {
    let d = duration(get, var, default, true)?;
    if d > sessionflow::server::config::MAX_GRACE {
        return Err(ConfigError::new(
            var,
            &get(var).unwrap_or_default(),
            "must be at most 5m",
        ));
    }
    Ok(d)
}

fn rate(
    get: &impl Fn(&str) -> Option<String>,
    var: &'static str,
    default: &str,
) -> Result<RateLimit, ConfigError> {
    let v = get(var).unwrap_or_else(|| default.to_owned());
    RateLimit::parse(&v).map_err(|r| ConfigError::new(var, &v, r))
}

fn count(
    get: &impl Fn(&str) -> Option<String>,
    var: &'static str,
    default: usize,
    min: usize,
) -> Result<usize, ConfigError> {
    match get(var) {
        Some(v) => v
            .trim()
            .parse::<usize>()
            .ok()
            .filter(|n| (min..=4096).contains(n))
            .ok_or_else(|| {
                ConfigError::new(
                    var,
                    &v,
                    format!("expected a whole number from {min} to 4096"),
                )
            }),
        None => Ok(default),
    }
}

fn parse_bool(v: &str) -> Option<bool> {
    match v.trim().to_ascii_lowercase().as_str() {
        "1" | "true" | "yes" | "on" => Some(true),
        "0" | "false" | "no" | "off" => Some(false),
        _ => None,
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
