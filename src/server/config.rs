//! Typed configuration, read once from the environment (and `.env` when present).
//!
//! | variable | default |
//! |---|---|
//! | `LEPTOS_SITE_ADDR` | `127.0.0.1:3000` |
//! | `DATABASE_URL` | `sqlite://data/app.db?mode=rwc` |
//! | `JWT_SECRET` | dev only: generated into `data/jwt-secret` (0600) |
//! | `ACCESS_TOKEN_TTL` | `15m` |
//! | `REFRESH_TOKEN_TTL` | `30d` |
//! | `REFRESH_REUSE_GRACE` | `10s` |
//! | `JWT_LEEWAY` | `5s` |
//! | `COOKIE_SECURE` | `true` unless the site address is loopback |
//!
//! A bad value is a [`ConfigError`] whose `Display` is one line naming the variable.

use secrecy::SecretString;
use std::{net::SocketAddr, path::PathBuf, time::Duration};

/// One line, naming the variable: `ACCESS_TOKEN_TTL="banana": expected a duration like 15m or 2s`.
#[derive(Debug, thiserror::Error)]
#[error("{var}={value:?}: {reason}")]
pub struct ConfigError {
    pub var: &'static str,
    pub value: String,
    pub reason: String,
}

impl ConfigError {
    pub fn new(var: &'static str, value: &str, reason: impl Into<String>) -> Self {
        Self {
            var,
            value: value.to_owned(),
            reason: reason.into(),
        }
    }
}

/// Lifetimes and checks of the two tokens.
#[derive(Debug, Clone)]
pub struct TokenConfig {
    pub access_ttl: Duration,
    pub refresh_ttl: Duration,
    pub reuse_grace: Duration,
    pub leeway: Duration,
}

impl Default for TokenConfig {
    fn default() -> Self {
        Self {
            access_ttl: Duration::from_secs(15 * 60),
            refresh_ttl: Duration::from_secs(30 * 24 * 3600),
            reuse_grace: Duration::from_secs(10),
            leeway: Duration::from_secs(5),
        }
    }
}

/// Where the JWT key comes from.
#[derive(Debug, Clone)]
pub enum SecretSource {
    /// `JWT_SECRET` was set.
    Env(SecretString),
    /// Not set: generate once into this file and reuse it (development only).
    DevFile(PathBuf),
}

#[derive(Debug, Clone)]
pub struct Config {
    pub site_addr: SocketAddr,
    pub database_url: String,
    pub secret: SecretSource,
    pub tokens: TokenConfig,
    pub cookie_secure: bool,
}

impl Config {
    /// Reads `.env` (if present) and the environment.
    pub fn from_env() -> Result<Self, ConfigError> {
        let _ = dotenvy::dotenv();
        Self::from_lookup(|k| std::env::var(k).ok())
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
        let d = TokenConfig::default();
        let tokens = TokenConfig {
            access_ttl: duration(&get, "ACCESS_TOKEN_TTL", d.access_ttl, false)?,
            refresh_ttl: duration(&get, "REFRESH_TOKEN_TTL", d.refresh_ttl, false)?,
            reuse_grace: duration(&get, "REFRESH_REUSE_GRACE", d.reuse_grace, true)?,
            leeway: duration(&get, "JWT_LEEWAY", d.leeway, true)?,
        };
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
        Ok(Self {
            site_addr,
            database_url,
            secret,
            tokens,
            cookie_secure,
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

    #[test]
    fn defaults_follow_the_contract() {
        let c = parse(&[]).unwrap();
        assert_eq!(c.site_addr.to_string(), "127.0.0.1:3000");
        assert_eq!(c.database_url, "sqlite://data/app.db?mode=rwc");
        assert_eq!(c.tokens.access_ttl, Duration::from_secs(900));
        assert_eq!(c.tokens.refresh_ttl, Duration::from_secs(30 * 86400));
        assert_eq!(c.tokens.reuse_grace, Duration::from_secs(10));
        assert_eq!(c.tokens.leeway, Duration::from_secs(5));
        assert!(
            !c.cookie_secure,
            "loopback site address means no Secure flag"
        );
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
    fn an_unknown_database_scheme_is_rejected() {
        let e = parse(&[("DATABASE_URL", "mysql://x")]).unwrap_err();
        assert_eq!(e.var, "DATABASE_URL");
    }

    #[test]
    fn a_public_address_defaults_to_secure_cookies() {
        let c = parse(&[
            ("LEPTOS_SITE_ADDR", "0.0.0.0:8080"),
            ("JWT_SECRET", &"k".repeat(32)),
        ]);
        assert!(c.unwrap().cookie_secure);
    }

    #[test]
    fn a_short_secret_is_refused_without_echoing_it() {
        let e = parse(&[("JWT_SECRET", "tiny-secret")]).unwrap_err();
        assert!(!e.to_string().contains("tiny-secret"));
    }

    #[test]
    fn redacted_urls_hide_the_password() {
        assert_eq!(
            redact_url("postgres://app:pw@localhost/db"),
            "postgres://app:***@localhost/db"
        );
        assert_eq!(redact_url("sqlite://data/app.db"), "sqlite://data/app.db");
    }
}
