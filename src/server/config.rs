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

/// Everything the binary reads from the environment.
#[derive(Debug, Clone)]
pub struct Config {
    pub site_addr: SocketAddr,
    pub database_url: String,
    pub secret: SecretSource,
    pub auth: AuthSettings,
}

/// The engine's settings besides the database and the secret.
#[derive(Debug, Clone, Default)]
pub struct AuthSettings {
    pub tokens: TokenConfig,
    /// `Secure` flag on both auth cookies.
    pub cookie_secure: bool,
    /// Origins (`https://notes.example.com`) whose state-changing requests are accepted. Empty:
    /// compare the `Origin` with the request's `Host` and the scheme `cookie_secure` implies.
    pub public_origins: Vec<String>,
    pub client_ip: ClientIpConfig,
    pub limits: Limits,
}

/// Where a request's client address comes from: the peer address, or `header` when the peer is
/// one of `trusted_proxies`.
#[derive(Debug, Clone, Default)]
pub struct ClientIpConfig {
    pub trusted_proxies: Vec<ipnet::IpNet>,
    /// `X-Forwarded-For` (the right-most address that is not a trusted proxy) or a single-address
    /// header such as `X-Real-IP`.
    pub header: Option<axum::http::HeaderName>,
}

/// A token bucket: `burst` attempts at once, refilled evenly over `per`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateLimit {
    pub burst: u32,
    pub per: Duration,
}

impl RateLimit {
    /// `"30/5m"`: 30 at once, then one every 10 s.
    pub fn parse(raw: &str) -> Result<Self, String> {
        let expected = || "expected attempts per duration, like 30/5m".to_owned();
        let (n, d) = raw.trim().split_once('/').ok_or_else(expected)?;
        let burst: u32 = n.trim().parse().map_err(|_| expected())?;
        let per = humantime::parse_duration(d.trim()).map_err(|_| expected())?;
        if burst == 0 || per.is_zero() {
            return Err("both numbers must be above zero".into());
        }
        Ok(Self { burst, per })
    }
}

/// Bounds on the expensive and abusable work of signing in (CONTRACT §6).
#[derive(Debug, Clone)]
pub struct Limits {
    /// Sign-in attempts per client address; registration has a bucket of the same size.
    pub per_address: RateLimit,
    /// Sign-in (and registration) attempts per client address and account.
    pub per_account: RateLimit,
    /// Password hashes computed at once (argon2 takes ~19 MiB and a core each).
    pub hash_workers: usize,
    /// Hashes allowed to wait for a worker; beyond that the answer is 503 with `Retry-After`.
    pub hash_queue: usize,
}

impl Default for Limits {
    fn default() -> Self {
        let cores = std::thread::available_parallelism().map_or(2, usize::from);
        Self {
            per_address: RateLimit {
                burst: 30,
                per: Duration::from_secs(300),
            },
            per_account: RateLimit {
                burst: 10,
                per: Duration::from_secs(300),
            },
            hash_workers: cores,
            hash_queue: 4 * cores,
        }
    }
}

/// Longest `REFRESH_REUSE_GRACE` and `JWT_LEEWAY` accepted (CONTRACT §5).
pub const MAX_GRACE: Duration = Duration::from_secs(300);

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
            reuse_grace: capped(
                duration(&get, "REFRESH_REUSE_GRACE", d.reuse_grace, true)?,
                &get,
                "REFRESH_REUSE_GRACE",
            )?,
            leeway: capped(
                duration(&get, "JWT_LEEWAY", d.leeway, true)?,
                &get,
                "JWT_LEEWAY",
            )?,
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
        let public_origins = match get("PUBLIC_URL") {
            Some(v) => v
                .split(',')
                .map(|u| origin_of(u).map_err(|r| ConfigError::new("PUBLIC_URL", &v, r)))
                .collect::<Result<Vec<_>, _>>()?,
            None => derived_origins(site_addr, cookie_secure),
        };
        let client_ip = ClientIpConfig {
            trusted_proxies: match get("TRUSTED_PROXIES") {
                Some(v) => v
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
                    .collect::<Result<Vec<_>, _>>()?,
                None => Vec::new(),
            },
            header: match get("CLIENT_IP_HEADER") {
                Some(v) => Some(v.trim().parse::<axum::http::HeaderName>().map_err(|_| {
                    ConfigError::new(
                        "CLIENT_IP_HEADER",
                        &v,
                        "expected a header name like X-Forwarded-For",
                    )
                })?),
                None => Some(axum::http::HeaderName::from_static("x-forwarded-for")),
            },
        };
        let dl = Limits::default();
        let limits = Limits {
            per_address: rate(&get, "AUTH_RATE_LIMIT_PER_ADDRESS", dl.per_address)?,
            per_account: rate(&get, "AUTH_RATE_LIMIT_PER_ACCOUNT", dl.per_account)?,
            hash_workers: count(&get, "PASSWORD_HASH_WORKERS", dl.hash_workers, 1)?,
            hash_queue: count(&get, "PASSWORD_HASH_QUEUE", dl.hash_queue, 0)?,
        };
        Ok(Self {
            site_addr,
            database_url,
            secret,
            auth: AuthSettings {
                tokens,
                cookie_secure,
                public_origins,
                client_ip,
                limits,
            },
        })
    }
}

fn capped(
    d: Duration,
    get: &impl Fn(&str) -> Option<String>,
    var: &'static str,
) -> Result<Duration, ConfigError> {
    if d > MAX_GRACE {
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
    default: RateLimit,
) -> Result<RateLimit, ConfigError> {
    match get(var) {
        Some(v) => RateLimit::parse(&v).map_err(|r| ConfigError::new(var, &v, r)),
        None => Ok(default),
    }
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

/// `https://Notes.Example.com:443/app` → `https://notes.example.com`: scheme, host and a
/// non-default port, as browsers send them in `Origin`.
pub fn origin_of(url: &str) -> Result<String, String> {
    let url = url.trim();
    let bad = || format!("expected an http:// or https:// URL, got {url:?}");
    let (scheme, rest) = url.split_once("://").ok_or_else(bad)?;
    let scheme = scheme.to_ascii_lowercase();
    let default_port = match scheme.as_str() {
        "http" => "80",
        "https" => "443",
        _ => return Err(bad()),
    };
    let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
    if authority.is_empty() || authority.contains('@') {
        return Err(bad());
    }
    let authority = authority.to_ascii_lowercase();
    let authority = authority
        .strip_suffix(&format!(":{default_port}"))
        .map_or(authority.clone(), str::to_owned);
    Ok(format!("{scheme}://{authority}"))
}

/// Without `PUBLIC_URL`: the site address itself (and, on loopback, its other names). An
/// unspecified address (`0.0.0.0`) derives nothing: requests are then checked against `Host`.
fn derived_origins(addr: SocketAddr, secure: bool) -> Vec<String> {
    let scheme = if secure { "https" } else { "http" };
    let port = addr.port();
    let ip = addr.ip();
    if ip.is_unspecified() {
        return Vec::new();
    }
    let hosts: Vec<String> = if ip.is_loopback() {
        vec!["127.0.0.1".into(), "localhost".into(), "[::1]".into()]
    } else {
        match ip {
            std::net::IpAddr::V4(v4) => vec![v4.to_string()],
            std::net::IpAddr::V6(v6) => vec![format!("[{v6}]")],
        }
    };
    hosts
        .into_iter()
        .filter_map(|h| origin_of(&format!("{scheme}://{h}:{port}")).ok())
        .collect()
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
        assert_eq!(c.auth.tokens.access_ttl, Duration::from_secs(900));
        assert_eq!(c.auth.tokens.refresh_ttl, Duration::from_secs(30 * 86400));
        assert_eq!(c.auth.tokens.reuse_grace, Duration::from_secs(10));
        assert_eq!(c.auth.tokens.leeway, Duration::from_secs(5));
        assert!(
            !c.auth.cookie_secure,
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
        assert!(c.unwrap().auth.cookie_secure);
    }

    #[test]
    fn a_short_secret_is_refused_without_echoing_it() {
        let e = parse(&[("JWT_SECRET", "tiny-secret")]).unwrap_err();
        assert!(!e.to_string().contains("tiny-secret"));
    }

    #[test]
    fn grace_and_leeway_above_five_minutes_are_refused() {
        for var in ["REFRESH_REUSE_GRACE", "JWT_LEEWAY"] {
            assert_eq!(parse(&[(var, "301s")]).unwrap_err().var, var);
            assert!(parse(&[(var, "5m")]).is_ok());
        }
    }

    #[test]
    fn public_urls_become_origins_without_default_ports_or_paths() {
        assert_eq!(
            origin_of("https://Notes.Example.com:443/app").unwrap(),
            "https://notes.example.com"
        );
        assert_eq!(
            origin_of("http://127.0.0.1:3000").unwrap(),
            "http://127.0.0.1:3000"
        );
        assert_eq!(origin_of("http://[::1]:80").unwrap(), "http://[::1]");
        for bad in ["ftp://x", "notes.example.com", "https://", "https://u@x"] {
            assert!(origin_of(bad).is_err(), "{bad}");
        }
        let c = parse(&[("PUBLIC_URL", "https://a.example, https://b.example:8443")]).unwrap();
        assert_eq!(
            c.auth.public_origins,
            ["https://a.example", "https://b.example:8443"]
        );
    }

    #[test]
    fn the_default_origins_are_the_site_address_and_its_loopback_names() {
        let c = parse(&[("LEPTOS_SITE_ADDR", "127.0.0.1:3100")]).unwrap();
        assert!(c
            .auth
            .public_origins
            .contains(&"http://localhost:3100".to_owned()));
        assert!(c
            .auth
            .public_origins
            .contains(&"http://127.0.0.1:3100".to_owned()));
        let c = parse(&[
            ("LEPTOS_SITE_ADDR", "0.0.0.0:80"),
            ("JWT_SECRET", &"k".repeat(32)),
        ])
        .unwrap();
        assert!(
            c.auth.public_origins.is_empty(),
            "checked against Host instead"
        );
    }

    #[test]
    fn rate_limits_and_proxies_parse_or_name_their_variable() {
        assert_eq!(
            RateLimit::parse("30/5m").unwrap(),
            RateLimit {
                burst: 30,
                per: Duration::from_secs(300)
            }
        );
        for bad in ["30", "0/5m", "x/5m", "5/banana"] {
            assert!(RateLimit::parse(bad).is_err(), "{bad}");
        }
        let c = parse(&[("TRUSTED_PROXIES", "10.0.0.1, 192.168.0.0/16")]).unwrap();
        assert_eq!(c.auth.client_ip.trusted_proxies.len(), 2);
        assert_eq!(
            parse(&[("TRUSTED_PROXIES", "proxy.local")])
                .unwrap_err()
                .var,
            "TRUSTED_PROXIES"
        );
        assert_eq!(
            parse(&[("PASSWORD_HASH_WORKERS", "0")]).unwrap_err().var,
            "PASSWORD_HASH_WORKERS"
        );
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
                    Ok(c) => {
                        proptest::prop_assert!(c.auth.tokens.reuse_grace <= MAX_GRACE);
                        proptest::prop_assert!(c.auth.tokens.leeway <= MAX_GRACE);
                    }
                    Err(e) => proptest::prop_assert_eq!(e.var, var),
                }
            }
        }

        #[test]
        fn origins_are_stable_under_reparsing(raw in "(https?://)?[a-zA-Z0-9.:\\[\\]/@-]{0,30}") {
            if let Ok(origin) = origin_of(&raw) {
                proptest::prop_assert_eq!(origin_of(&origin), Ok(origin.clone()));
            }
        }
    }
}
