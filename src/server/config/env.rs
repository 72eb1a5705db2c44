//! The engine's settings from environment variables (the README's table): each variable parsed
//! here, each rule checked once, by [`AuthConfigBuilder::build`]. An app adds only its own
//! (listen address, database URL) and where the signing secret comes from.

use super::{AuthConfig, AuthConfigBuilder, ConfigError, MailTransport, RateLimit};
use std::{net::SocketAddr, time::Duration};

impl AuthConfig {
    /// Every setting from the process environment, `JWT_SECRET` included (required here; an app
    /// that generates a development secret reads it itself and uses
    /// [`AuthConfigBuilder::from_lookup`]). `site_addr` gives the defaults that depend on where
    /// the site listens (`COOKIE_SECURE`, `PUBLIC_URL`).
    pub fn from_env(site_addr: SocketAddr) -> Result<Self, ConfigError> {
        let get = |k: &str| std::env::var(k).ok();
        let secret = get("JWT_SECRET").ok_or_else(|| {
            ConfigError::new("JWT_SECRET", "", "required (at least 32 characters)")
        })?;
        AuthConfigBuilder::from_lookup(get, site_addr)?
            .with_secret(secret)
            .build()
    }
}

impl AuthConfigBuilder {
    /// The settings other than the signing secret, read through `get` (the environment, or a
    /// map in tests): `ACCESS_TOKEN_TTL`, `REFRESH_TOKEN_TTL`, `REFRESH_REUSE_GRACE`,
    /// `JWT_LEEWAY`, `JWT_ACCEPTED_SECRETS`, `COOKIE_SECURE`, `PUBLIC_URL`, `TRUSTED_PROXIES`,
    /// `CLIENT_IP_HEADER`, `AUTH_RATE_LIMIT_PER_ADDRESS`, `AUTH_RATE_LIMIT_PER_ACCOUNT`,
    /// `PASSWORD_HASH_WORKERS`, `PASSWORD_HASH_QUEUE`, `SMTP_URL`, `MAIL_FROM`,
    /// `PASSWORD_RESET_TTL`, `EMAIL_VERIFY_TTL`, `REQUIRE_VERIFIED_EMAIL`,
    /// `RECOVERY_RATE_LIMIT_PER_EMAIL`. A value that does not parse, or breaks a rule of
    /// [`build`](Self::build), is an error naming its variable.
    ///
    /// Without `SMTP_URL`, a debug build or a loopback address gets the development outbox
    /// (`data/outbox/`); anything else has mail off.
    pub fn from_lookup(
        get: impl Fn(&str) -> Option<String>,
        site_addr: SocketAddr,
    ) -> Result<Self, ConfigError> {
        let secure = match get("COOKIE_SECURE") {
            Some(v) => parse_bool(&v)
                .ok_or_else(|| ConfigError::new("COOKIE_SECURE", &v, "expected true or false"))?,
            None => !site_addr.ip().is_loopback(),
        };
        let defaults = AuthConfig::builder([0u8; 32]).0;
        let mut b = AuthConfig::builder([0u8; 32])
            .cookie_secure(secure)
            .access_ttl(duration(
                &get,
                "ACCESS_TOKEN_TTL",
                defaults.tokens.access_ttl,
            )?)
            .refresh_ttl(duration(
                &get,
                "REFRESH_TOKEN_TTL",
                defaults.tokens.refresh_ttl,
            )?)
            .reuse_grace(duration(
                &get,
                "REFRESH_REUSE_GRACE",
                defaults.tokens.reuse_grace,
            )?)
            .leeway(duration(&get, "JWT_LEEWAY", defaults.tokens.leeway)?);
        if let Some(v) = get("JWT_ACCEPTED_SECRETS") {
            b = b.accepted_secrets(v.split(',').map(str::trim).filter(|s| !s.is_empty()));
        }
        b = match get("PUBLIC_URL") {
            Some(v) => b.public_origins(v.split(',').map(str::trim).filter(|u| !u.is_empty())),
            None => b.public_origins_for(site_addr),
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
            b = b.trusted_proxies(proxies);
        }
        if let Some(v) = get("CLIENT_IP_HEADER") {
            let header = v.trim().parse::<axum::http::HeaderName>().map_err(|_| {
                ConfigError::new(
                    "CLIENT_IP_HEADER",
                    &v,
                    "expected a header name like X-Forwarded-For",
                )
            })?;
            b = b.client_ip_header(header);
        }
        let workers = count(
            &get,
            "PASSWORD_HASH_WORKERS",
            defaults.limits.hash_workers,
            1,
        )?;
        b = b
            .rate_limits(
                rate(
                    &get,
                    "AUTH_RATE_LIMIT_PER_ADDRESS",
                    defaults.limits.per_address,
                )?,
                rate(
                    &get,
                    "AUTH_RATE_LIMIT_PER_ACCOUNT",
                    defaults.limits.per_account,
                )?,
            )
            .hash_pool(workers, count(&get, "PASSWORD_HASH_QUEUE", 4 * workers, 0)?)
            .page_concurrency(count(
                &get,
                "PAGE_CONCURRENCY",
                defaults.limits.page_concurrency,
                1,
            )?);
        b = b.mail(match get("SMTP_URL").filter(|v| !v.trim().is_empty()) {
            Some(url) => MailTransport::Smtp(url.trim().to_owned().into()),
            None if cfg!(debug_assertions) || site_addr.ip().is_loopback() => {
                MailTransport::DevOutbox("data/outbox".into())
            }
            None => MailTransport::Off,
        });
        if let Some(v) = get("MAIL_FROM").filter(|v| !v.trim().is_empty()) {
            b = b.mail_from(v.trim());
        }
        let recovery = &defaults.recovery;
        b = b
            .password_reset_ttl(duration(&get, "PASSWORD_RESET_TTL", recovery.reset_ttl)?)
            .email_verify_ttl(duration(&get, "EMAIL_VERIFY_TTL", recovery.verify_ttl)?)
            .recovery_rate_limit(rate(
                &get,
                "RECOVERY_RATE_LIMIT_PER_EMAIL",
                defaults.limits.recovery_per_email,
            )?);
        if let Some(v) = get("REQUIRE_VERIFIED_EMAIL") {
            let required = parse_bool(&v).ok_or_else(|| {
                ConfigError::new("REQUIRE_VERIFIED_EMAIL", &v, "expected true or false")
            })?;
            b = b.require_verified_email(required);
        }
        // Every rule of `build` (caps, lifetimes, origins, accepted keys) checked now, once.
        b.clone().build()?;
        Ok(b)
    }
}

fn parse_bool(v: &str) -> Option<bool> {
    match v.trim().to_ascii_lowercase().as_str() {
        "1" | "true" | "yes" | "on" => Some(true),
        "0" | "false" | "no" | "off" => Some(false),
        _ => None,
    }
}

fn duration(
    get: &impl Fn(&str) -> Option<String>,
    var: &'static str,
    default: Duration,
) -> Result<Duration, ConfigError> {
    let Some(v) = get(var) else {
        return Ok(default);
    };
    let d = humantime::parse_duration(v.trim())
        .map_err(|_| ConfigError::new(var, &v, "expected a duration like 15m, 2s or 30d"))?;
    if d > Duration::from_secs(10 * 365 * 24 * 3600) {
        return Err(ConfigError::new(var, &v, "must be at most ten years"));
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

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn lookup(vars: &[(&str, &str)]) -> Result<AuthConfigBuilder, ConfigError> {
        let map: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        AuthConfigBuilder::from_lookup(|k| map.get(k).cloned(), "127.0.0.1:3000".parse().unwrap())
    }

    #[test]
    fn every_variable_parses_and_every_rule_names_its_variable() {
        let c = lookup(&[
            ("ACCESS_TOKEN_TTL", "2s"),
            (
                "JWT_ACCEPTED_SECRETS",
                "an-older-key-that-is-long-enough-000000, ",
            ),
            ("TRUSTED_PROXIES", "10.0.0.0/8"),
            ("AUTH_RATE_LIMIT_PER_ACCOUNT", "3/1m"),
            ("PAGE_CONCURRENCY", "3"),
        ])
        .unwrap()
        .with_secret([1u8; 32])
        .build()
        .unwrap();
        assert_eq!(c.tokens.access_ttl, Duration::from_secs(2));
        assert_eq!(c.accepted_secrets.len(), 1);
        assert_eq!(c.limits.per_account.burst, 3);
        assert_eq!(c.limits.page_concurrency, 3);
        for (var, value) in [
            ("REFRESH_REUSE_GRACE", "6m"),
            ("JWT_LEEWAY", "banana"),
            ("ACCESS_TOKEN_TTL", "0s"),
            ("JWT_ACCEPTED_SECRETS", "short"),
            ("PUBLIC_URL", "notes.example.com"),
            ("COOKIE_SECURE", "maybe"),
            ("PASSWORD_HASH_WORKERS", "0"),
            ("PAGE_CONCURRENCY", "0"),
            ("PAGE_CONCURRENCY", "lots"),
        ] {
            let e = lookup(&[(var, value)]).unwrap_err();
            assert_eq!(e.var, var, "{e}");
        }
    }
}
