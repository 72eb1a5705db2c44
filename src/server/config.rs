//! [`AuthConfig`]: everything the engine needs to know besides the database, built with
//! [`AuthConfig::builder`] from a signing secret and sensible defaults.
//!
//! ```
//! use sessionflow::server::config::{AuthConfig, RateLimit};
//! use std::time::Duration;
//!
//! let config = AuthConfig::builder(b"a signing secret of at least 32 bytes!!")
//!     .access_ttl(Duration::from_secs(5 * 60))
//!     .public_origins(["https://app.example.com"])
//!     .trusted_proxies(["10.0.0.0/8".parse().unwrap()])
//!     .rate_limits(RateLimit::parse("30/5m").unwrap(), RateLimit::parse("10/5m").unwrap())
//!     .build()
//!     .expect("a valid configuration");
//! assert_eq!(config.refresh_path(), "/api/auth/refresh");
//! ```

use axum::http::HeaderName;
use std::{net::SocketAddr, path::PathBuf, time::Duration};

mod env;

/// A setting that cannot be used, in one line naming it:
/// `ACCESS_TOKEN_TTL="banana": expected a duration like 15m or 2s`.
#[derive(Debug, thiserror::Error)]
#[error("{var}={value:?}: {reason}")]
pub struct ConfigError {
    /// The setting (an environment variable's name when it came from one).
    pub var: &'static str,
    /// The value given (secrets hidden).
    pub value: String,
    /// What is wrong with it.
    pub reason: String,
}

impl ConfigError {
    /// A setting `var` whose `value` is unusable for `reason`.
    pub fn new(var: &'static str, value: &str, reason: impl Into<String>) -> Self {
        Self {
            var,
            value: value.to_owned(),
            reason: reason.into(),
        }
    }
}

/// Longest reuse grace and clock-skew leeway accepted.
pub const MAX_GRACE: Duration = Duration::from_secs(300);

/// How long `Idempotency-Key` records are kept (a re-send after that runs again).
pub(crate) const IDEMPOTENCY_KEEP: Duration = Duration::from_secs(24 * 3600);

/// Lifetimes and checks of the two tokens.
#[derive(Debug, Clone)]
pub(crate) struct TokenConfig {
    pub access_ttl: Duration,
    pub refresh_ttl: Duration,
    pub reuse_grace: Duration,
    pub leeway: Duration,
    pub issuer: String,
    pub audience: String,
}

impl Default for TokenConfig {
    fn default() -> Self {
        Self {
            access_ttl: Duration::from_secs(15 * 60),
            refresh_ttl: Duration::from_secs(30 * 24 * 3600),
            reuse_grace: Duration::from_secs(10),
            leeway: Duration::from_secs(5),
            issuer: "sessionflow".into(),
            audience: "sessionflow-app".into(),
        }
    }
}

/// Names and attributes of the two auth cookies (`HttpOnly`, `SameSite=Lax` and `Path=/` are
/// not negotiable).
#[derive(Debug, Clone)]
pub(crate) struct CookieConfig {
    pub access: String,
    pub refresh: String,
    pub secure: bool,
}

/// Where a request's client address comes from: the peer address, or `header` when the peer is
/// one of `trusted_proxies`.
#[derive(Debug, Clone)]
pub struct ClientIpConfig {
    /// Reverse proxies allowed to name the client.
    pub trusted_proxies: Vec<ipnet::IpNet>,
    /// `X-Forwarded-For` (the right-most address that is not a trusted proxy) or a single-address
    /// header such as `X-Real-IP`.
    pub header: HeaderName,
}

impl Default for ClientIpConfig {
    fn default() -> Self {
        Self {
            trusted_proxies: Vec::new(),
            header: HeaderName::from_static("x-forwarded-for"),
        }
    }
}

/// A token bucket: `burst` attempts at once, refilled evenly over `per`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateLimit {
    /// Attempts allowed at once.
    pub burst: u32,
    /// Time over which the whole burst refills.
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

/// Bounds on the expensive and abusable work of signing in (docs/limits.md).
#[derive(Debug, Clone)]
pub(crate) struct Limits {
    pub per_address: RateLimit,
    pub per_account: RateLimit,
    pub hash_workers: usize,
    pub hash_queue: usize,
    /// Pages rendered at once (docs/limits.md, "Pages in flight").
    pub page_concurrency: usize,
    /// Forgot-password and resend-verification requests per asked-about address, from any
    /// client (a mail bomb aimed at one person needs many addresses, and still meets this).
    pub recovery_per_email: RateLimit,
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
            page_concurrency: 8 * cores,
            recovery_per_email: RateLimit {
                burst: 3,
                per: Duration::from_secs(15 * 60),
            },
        }
    }
}

/// How mail leaves (docs/operations.md, "Mail").
#[derive(Clone)]
#[non_exhaustive]
pub enum MailTransport {
    /// No mail: the forgot-password and verification flows say they are not available.
    Off,
    /// SMTP, in lettre's URL forms: `smtps://user:pass@host` (TLS),
    /// `smtp://user:pass@host:587?tls=required` (STARTTLS), `smtp://host:port` (plain, a local
    /// relay). Kept secret: it may hold a password.
    Smtp(secrecy::SecretString),
    /// Development: each message is logged with its link and written as an `.eml` file here.
    DevOutbox(PathBuf),
    /// A mailer of the app's own (an HTTP mail API, say).
    Custom(std::sync::Arc<dyn crate::server::mailer::Mailer>),
}

impl std::fmt::Debug for MailTransport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Off => f.write_str("Off"),
            Self::Smtp(_) => f.write_str("Smtp(<hidden>)"),
            Self::DevOutbox(dir) => write!(f, "DevOutbox({})", dir.display()),
            Self::Custom(_) => f.write_str("Custom"),
        }
    }
}

/// Mail and account recovery (docs/protocol.md, "Account recovery", "Mail").
#[derive(Debug, Clone)]
pub(crate) struct RecoveryConfig {
    pub transport: MailTransport,
    /// `None`: `no-reply@<the first public origin's host>`.
    pub from: Option<String>,
    /// Named in every message.
    pub app_name: String,
    pub reset_ttl: Duration,
    pub verify_ttl: Duration,
    pub require_verified: bool,
    pub reset_page: String,
    pub verify_page: String,
    /// The first retry's delay; each next one doubles, up to [`MAIL_RETRY_CAP`].
    pub retry_base: Duration,
    /// Attempts before a message is given up (counted as failed).
    pub max_attempts: u32,
    /// How often the worker looks for due messages besides being woken.
    pub poll: Duration,
}

/// The longest wait between two delivery attempts.
pub const MAIL_RETRY_CAP: Duration = Duration::from_secs(300);

/// The engine's configuration. Build it with [`AuthConfig::builder`].
#[derive(Clone)]
pub struct AuthConfig {
    pub(crate) secret: secrecy::SecretSlice<u8>,
    /// Secrets that verify access tokens but never sign (key rotation).
    pub(crate) accepted_secrets: Vec<secrecy::SecretSlice<u8>>,
    pub(crate) tokens: TokenConfig,
    pub(crate) cookies: CookieConfig,
    pub(crate) api_prefix: String,
    pub(crate) login_path: String,
    pub(crate) public_origins: Vec<String>,
    pub(crate) client_ip: ClientIpConfig,
    pub(crate) limits: Limits,
    pub(crate) body_limit: usize,
    pub(crate) liveness_ttl: Duration,
    pub(crate) recovery: RecoveryConfig,
    /// Sources the app adds to the pages' Content-Security-Policy, by directive
    /// ([`AuthConfigBuilder::csp_sources`]).
    pub(crate) csp_sources: Vec<(String, Vec<String>)>,
}

impl std::fmt::Debug for AuthConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AuthConfig")
            .field("tokens", &self.tokens)
            .field("cookies", &self.cookies)
            .field("api_prefix", &self.api_prefix)
            .field("login_path", &self.login_path)
            .field("public_origins", &self.public_origins)
            .field("client_ip", &self.client_ip)
            .field("limits", &self.limits)
            .field("recovery", &self.recovery)
            .finish_non_exhaustive()
    }
}

impl AuthConfig {
    /// Starts a configuration around the HS256 signing secret (at least 32 bytes), with the
    /// contract's defaults: access tokens 15 min, refresh tokens 30 days (sliding), reuse grace
    /// 10 s, leeway 5 s, cookies `access_token`/`refresh_token` without `Secure`, the JSON API
    /// under `/api/`, sign-in at `/login`, sign-in limits `30/5m` per address and `10/5m` per
    /// (address, account), one hashing worker per core with a queue of four per worker, request
    /// bodies up to 256 KiB.
    pub fn builder(secret: impl AsRef<[u8]>) -> AuthConfigBuilder {
        AuthConfigBuilder(AuthConfig {
            secret: secret.as_ref().to_vec().into(),
            accepted_secrets: Vec::new(),
            tokens: TokenConfig::default(),
            cookies: CookieConfig {
                access: "access_token".into(),
                refresh: "refresh_token".into(),
                secure: false,
            },
            api_prefix: "/api/".into(),
            login_path: "/login".into(),
            public_origins: Vec::new(),
            client_ip: ClientIpConfig::default(),
            limits: Limits::default(),
            body_limit: 256 * 1024,
            liveness_ttl: Duration::from_secs(1),
            recovery: RecoveryConfig {
                transport: MailTransport::Off,
                from: None,
                app_name: "sessionflow".into(),
                reset_ttl: Duration::from_secs(30 * 60),
                verify_ttl: Duration::from_secs(48 * 3600),
                require_verified: false,
                reset_page: "/reset-password".into(),
                verify_page: "/verify-email".into(),
                retry_base: Duration::from_secs(2),
                max_attempts: 16,
                poll: Duration::from_secs(1),
            },
            csp_sources: Vec::new(),
        })
    }

    /// Whether mail leaves at all (SMTP or the development outbox): without it, the pages say
    /// that reset by email is not available.
    pub fn mail_enabled(&self) -> bool {
        !matches!(self.recovery.transport, MailTransport::Off)
    }

    /// Whether sign-in of an unverified account is refused (`REQUIRE_VERIFIED_EMAIL`).
    pub fn require_verified_email(&self) -> bool {
        self.recovery.require_verified
    }

    /// The sender of every message: `MAIL_FROM`, or `no-reply@<host of the first public
    /// origin>` (`no-reply@localhost` when that is an address, not a name).
    pub fn mail_from(&self) -> String {
        if let Some(from) = &self.recovery.from {
            return from.clone();
        }
        let host = self
            .public_origins
            .first()
            .and_then(|o| o.split_once("://"))
            .map(|(_, rest)| rest.rsplit_once(':').map_or(rest, |(h, _)| h))
            .filter(|h| h.chars().any(|c| c.is_ascii_alphabetic()) && !h.starts_with('['))
            .unwrap_or("localhost");
        format!("no-reply@{host}")
    }

    /// The absolute address of a page with a link's token (`<first public origin><page>?token=…`).
    pub(crate) fn link(&self, page: &str, token: &str) -> String {
        let origin = self.public_origins.first().map_or("", String::as_str);
        format!("{origin}{page}?token={token}")
    }

    /// Where the browser refreshes: `{api_prefix}auth/refresh`.
    pub fn refresh_path(&self) -> String {
        format!("{}auth/refresh", self.api_prefix)
    }

    /// The prefix of the JSON API and of server functions (`/api/`).
    pub fn api_prefix(&self) -> &str {
        &self.api_prefix
    }

    /// Whether `path` belongs to the JSON API and server functions (not a page).
    pub fn is_api_path(&self, path: &str) -> bool {
        is_api_path(&self.api_prefix, path)
    }

    /// The sign-in page.
    pub fn login_path(&self) -> &str {
        &self.login_path
    }

    /// Whether the auth cookies are `Secure`.
    pub fn cookie_secure(&self) -> bool {
        self.cookies.secure
    }

    /// The origins whose state-changing cookie requests are accepted.
    pub fn public_origins(&self) -> &[String] {
        &self.public_origins
    }
}

/// Builds an [`AuthConfig`]; every setting has a default.
#[derive(Debug, Clone)]
pub struct AuthConfigBuilder(AuthConfig);

impl AuthConfigBuilder {
    /// Replaces the signing secret (for settings gathered before the secret was loaded).
    pub fn with_secret(mut self, secret: impl AsRef<[u8]>) -> Self {
        self.0.secret = secret.as_ref().to_vec().into();
        self
    }

    /// Secrets that still verify access tokens but never sign (`JWT_ACCEPTED_SECRETS`): the
    /// previous key after a rotation, or the next one announced before it signs. Each must be as
    /// long as the signing secret must be.
    pub fn accepted_secrets<I, T>(mut self, secrets: I) -> Self
    where
        I: IntoIterator<Item = T>,
        T: AsRef<[u8]>,
    {
        self.0.accepted_secrets = secrets
            .into_iter()
            .map(|s| s.as_ref().to_vec().into())
            .collect();
        self
    }

    /// Lifetime of access tokens (and of their cookie).
    pub fn access_ttl(mut self, ttl: Duration) -> Self {
        self.0.tokens.access_ttl = ttl;
        self
    }

    /// Lifetime of refresh tokens; each rotation extends the session by this much.
    pub fn refresh_ttl(mut self, ttl: Duration) -> Self {
        self.0.tokens.refresh_ttl = ttl;
        self
    }

    /// How long a rotated refresh token presented again still gets the same successor (at most
    /// [`MAX_GRACE`]).
    pub fn reuse_grace(mut self, grace: Duration) -> Self {
        self.0.tokens.reuse_grace = grace;
        self
    }

    /// Clock-skew leeway when checking `exp` (at most [`MAX_GRACE`]).
    pub fn leeway(mut self, leeway: Duration) -> Self {
        self.0.tokens.leeway = leeway;
        self
    }

    /// `iss` and `aud` of access tokens, checked on every request.
    pub fn issuer_audience(mut self, issuer: &str, audience: &str) -> Self {
        self.0.tokens.issuer = issuer.into();
        self.0.tokens.audience = audience.into();
        self
    }

    /// The `Secure` flag on both cookies (set it whenever the site is served over HTTPS).
    pub fn cookie_secure(mut self, secure: bool) -> Self {
        self.0.cookies.secure = secure;
        self
    }

    /// The names of the access and refresh cookies.
    pub fn cookie_names(mut self, access: &str, refresh: &str) -> Self {
        self.0.cookies.access = access.into();
        self.0.cookies.refresh = refresh.into();
        self
    }

    /// Where the JSON API and server functions live (`/api/`; with a trailing slash). The auth
    /// endpoints are mounted under `{prefix}auth/`, `GET {prefix}me` beside them.
    pub fn api_prefix(mut self, prefix: &str) -> Self {
        let mut prefix = prefix.to_owned();
        if !prefix.starts_with('/') {
            prefix.insert(0, '/');
        }
        if !prefix.ends_with('/') {
            prefix.push('/');
        }
        self.0.api_prefix = prefix;
        self
    }

    /// The sign-in page protected pages send signed-out visitors to.
    pub fn login_path(mut self, path: &str) -> Self {
        self.0.login_path = path.into();
        self
    }

    /// Adds `sources` to one directive of the pages' Content-Security-Policy: an image host
    /// (`.csp_sources("img-src", ["https://avatars.example.com"])`), a font host (`font-src`),
    /// an analytics endpoint (`connect-src`). The policy only grows: the directive keeps
    /// `'self'` and its defaults, scripts keep the per-request nonce and `'wasm-unsafe-eval'`.
    /// Called again for the same directive, the sources add up.
    ///
    /// The directives: `default-src`, `script-src`, `style-src`, `img-src`, `font-src`,
    /// `connect-src`, `media-src`, `frame-src`, `worker-src`, `manifest-src`, `form-action`.
    /// [`build`](Self::build) refuses another directive, an empty source, a source with
    /// whitespace, `;`, `,` or a character outside visible ASCII, and the sources that would
    /// weaken the policy: `*`, `'unsafe-inline'`, `'unsafe-eval'`, `'unsafe-hashes'`, and in
    /// `script-src` or `default-src` a bare scheme (`https:`, `data:`…), which allows any script.
    pub fn csp_sources<I, S>(mut self, directive: &str, sources: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        let sources = sources.into_iter().map(Into::into).collect::<Vec<_>>();
        match self.0.csp_sources.iter_mut().find(|(d, _)| d == directive) {
            Some((_, known)) => known.extend(sources),
            None => self.0.csp_sources.push((directive.to_owned(), sources)),
        }
        self
    }

    /// The site's origins as browsers send them in `Origin` (`https://app.example.com`); a
    /// cookie-authenticated state-changing request from any other origin is refused with 403.
    /// Without any, `Origin` is compared with `Host`. Invalid URLs fail [`build`](Self::build).
    pub fn public_origins<I, T>(mut self, urls: I) -> Self
    where
        I: IntoIterator<Item = T>,
        T: AsRef<str>,
    {
        self.0.public_origins = urls.into_iter().map(|u| u.as_ref().to_owned()).collect();
        self
    }

    /// The public origins that serving at `addr` implies (`http(s)://addr`, and `localhost`
    /// and `[::1]` on loopback); none for an unspecified address such as `0.0.0.0`.
    pub fn public_origins_for(self, addr: SocketAddr) -> Self {
        let secure = self.0.cookies.secure;
        self.public_origins(derived_origins(addr, secure))
    }

    /// Reverse proxies whose client-address header is believed.
    pub fn trusted_proxies(mut self, proxies: impl IntoIterator<Item = ipnet::IpNet>) -> Self {
        self.0.client_ip.trusted_proxies = proxies.into_iter().collect();
        self
    }

    /// The header trusted proxies name the client in (`X-Forwarded-For`).
    pub fn client_ip_header(mut self, header: HeaderName) -> Self {
        self.0.client_ip.header = header;
        self
    }

    /// Sign-in (and, in buckets of their own, registration) attempts per client address and per
    /// (address, account).
    pub fn rate_limits(mut self, per_address: RateLimit, per_account: RateLimit) -> Self {
        self.0.limits.per_address = per_address;
        self.0.limits.per_account = per_account;
        self
    }

    /// Password hashes computed at once, and how many may wait for a worker before the answer is
    /// 503 with `Retry-After`.
    pub fn hash_pool(mut self, workers: usize, queue: usize) -> Self {
        self.0.limits.hash_workers = workers.max(1);
        self.0.limits.hash_queue = queue;
        self
    }

    /// Pages rendered at once (at least 1; 8 per core by default). A page request past that
    /// waits its turn, first come first served, before any of its work starts, and keeps its turn
    /// until its body is produced: a burst of page requests holds a bounded amount of memory and
    /// each page finishes sooner, while the JSON API and server functions never wait behind pages.
    pub fn page_concurrency(mut self, pages: usize) -> Self {
        self.0.limits.page_concurrency = pages.max(1);
        self
    }

    /// How mail leaves (`SMTP_URL`; [`MailTransport::Off`] by default, which turns the
    /// recovery flows off).
    pub fn mail(mut self, transport: MailTransport) -> Self {
        self.0.recovery.transport = transport;
        self
    }

    /// The sender address (`MAIL_FROM`).
    pub fn mail_from(mut self, from: &str) -> Self {
        self.0.recovery.from = Some(from.to_owned());
        self
    }

    /// The app's name, as messages call it.
    pub fn app_name(mut self, name: &str) -> Self {
        self.0.recovery.app_name = name.to_owned();
        self
    }

    /// Delivery retries: the first after `base`, each next one twice as long (at most five
    /// minutes apart), `attempts` in all before a message counts as failed.
    pub fn mail_retry(mut self, base: Duration, attempts: u32) -> Self {
        self.0.recovery.retry_base = base;
        self.0.recovery.max_attempts = attempts.max(1);
        self
    }

    /// How often the mail worker looks for due messages (besides being woken by a request in
    /// this process): 1 s.
    pub fn mail_poll(mut self, every: Duration) -> Self {
        self.0.recovery.poll = every;
        self
    }

    /// Lifetime of a reset link (`PASSWORD_RESET_TTL`, 30 min).
    pub fn password_reset_ttl(mut self, ttl: Duration) -> Self {
        self.0.recovery.reset_ttl = ttl;
        self
    }

    /// Lifetime of a verification link (`EMAIL_VERIFY_TTL`, 48 h).
    pub fn email_verify_ttl(mut self, ttl: Duration) -> Self {
        self.0.recovery.verify_ttl = ttl;
        self
    }

    /// Refuse sign-in of an unverified account with 403 `email_unverified`
    /// (`REQUIRE_VERIFIED_EMAIL`).
    pub fn require_verified_email(mut self, required: bool) -> Self {
        self.0.recovery.require_verified = required;
        self
    }

    /// The pages the links in mail open: `/reset-password` and `/verify-email`.
    pub fn recovery_pages(mut self, reset: &str, verify: &str) -> Self {
        self.0.recovery.reset_page = reset.to_owned();
        self.0.recovery.verify_page = verify.to_owned();
        self
    }

    /// Forgot-password and resend requests per asked-about address, from every client together
    /// (`RECOVERY_RATE_LIMIT_PER_EMAIL`, `3/15m`); per client address they share the sign-in
    /// limit's size.
    pub fn recovery_rate_limit(mut self, per_email: RateLimit) -> Self {
        self.0.limits.recovery_per_email = per_email;
        self
    }

    /// The largest request body accepted (413 with the JSON error body beyond it).
    pub fn body_limit(mut self, bytes: usize) -> Self {
        self.0.body_limit = bytes;
        self
    }

    /// How long a session seen live is believed without asking the database again (1 s, the
    /// contract's bound on a revocation reaching every instance; zero asks on every request).
    /// Revocations through the engine take effect at once in the process that makes them and,
    /// on PostgreSQL, in every instance (announced with `NOTIFY`); this bounds the rest (another
    /// process on one SQLite file, an announcement lost while the listener reconnects).
    pub fn liveness_ttl(mut self, ttl: Duration) -> Self {
        self.0.liveness_ttl = ttl;
        self
    }

    /// Checks the settings: a secret of at least 32 bytes, grace and leeway at most 5 minutes,
    /// lifetimes above zero, public origins that are origins.
    pub fn build(self) -> Result<AuthConfig, ConfigError> {
        use secrecy::ExposeSecret;
        let mut c = self.0;
        if c.secret.expose_secret().len() < 32 {
            return Err(ConfigError::new(
                "JWT_SECRET",
                "<hidden>",
                "must be at least 32 characters",
            ));
        }
        if c.accepted_secrets
            .iter()
            .any(|s| s.expose_secret().len() < 32)
        {
            return Err(ConfigError::new(
                "JWT_ACCEPTED_SECRETS",
                "<hidden>",
                "each key must be at least 32 characters",
            ));
        }
        for (var, d) in [
            ("REFRESH_REUSE_GRACE", c.tokens.reuse_grace),
            ("JWT_LEEWAY", c.tokens.leeway),
        ] {
            if d > MAX_GRACE {
                return Err(ConfigError::new(
                    var,
                    &humantime::format_duration(d).to_string(),
                    "must be at most 5m",
                ));
            }
        }
        for (var, d) in [
            ("ACCESS_TOKEN_TTL", c.tokens.access_ttl),
            ("REFRESH_TOKEN_TTL", c.tokens.refresh_ttl),
        ] {
            if d.is_zero() {
                return Err(ConfigError::new(var, "0s", "must be longer than zero"));
            }
        }
        c.public_origins = c
            .public_origins
            .iter()
            .map(|u| origin_of(u).map_err(|r| ConfigError::new("PUBLIC_URL", u, r)))
            .collect::<Result<_, _>>()?;
        for (var, d) in [
            ("PASSWORD_RESET_TTL", c.recovery.reset_ttl),
            ("EMAIL_VERIFY_TTL", c.recovery.verify_ttl),
        ] {
            if d.is_zero() {
                return Err(ConfigError::new(var, "0s", "must be longer than zero"));
            }
        }
        if let MailTransport::Smtp(url) = &c.recovery.transport {
            use lettre::{AsyncSmtpTransport, Tokio1Executor};
            AsyncSmtpTransport::<Tokio1Executor>::from_url(url.expose_secret()).map_err(|e| {
                ConfigError::new(
                    "SMTP_URL",
                    "<hidden>",
                    format!("expected smtp://host:port, smtps://user:pass@host or smtp://…?tls=required ({e})"),
                )
            })?;
            if c.public_origins.is_empty() {
                return Err(ConfigError::new(
                    "PUBLIC_URL",
                    "",
                    "required with SMTP_URL: the links in mail are built from it",
                ));
            }
        }
        if let Err(e) = c.mail_from().parse::<lettre::message::Mailbox>() {
            return Err(ConfigError::new(
                "MAIL_FROM",
                &c.mail_from(),
                format!("expected an address like no-reply@example.com ({e})"),
            ));
        }
        for (directive, sources) in &c.csp_sources {
            check_csp_sources(directive, sources)?;
        }
        if c.recovery.require_verified && !c.mail_enabled() {
            return Err(ConfigError::new(
                "REQUIRE_VERIFIED_EMAIL",
                "true",
                "needs mail (SMTP_URL): nobody could verify an address",
            ));
        }
        Ok(c)
    }
}

/// The directives [`AuthConfigBuilder::csp_sources`] may extend.
pub(crate) const CSP_DIRECTIVES: &[&str] = &[
    "default-src",
    "script-src",
    "style-src",
    "img-src",
    "font-src",
    "connect-src",
    "media-src",
    "frame-src",
    "worker-src",
    "manifest-src",
    "form-action",
];

/// The rules of [`AuthConfigBuilder::csp_sources`].
fn check_csp_sources(directive: &str, sources: &[String]) -> Result<(), ConfigError> {
    let fail = |value: &str, reason: String| Err(ConfigError::new("csp_sources", value, reason));
    if !CSP_DIRECTIVES.contains(&directive) {
        return fail(
            directive,
            format!(
                "not a directive the policy may extend: one of {}",
                CSP_DIRECTIVES.join(", ")
            ),
        );
    }
    for source in sources {
        if source.is_empty()
            || !source.bytes().all(|b| b.is_ascii_graphic())
            || source.contains([';', ','])
        {
            return fail(
                source,
                format!("{directive}: one source per item, visible ASCII without ';' or ','"),
            );
        }
        let lower = source.to_ascii_lowercase();
        if ["*", "'unsafe-inline'", "'unsafe-eval'", "'unsafe-hashes'"].contains(&lower.as_str()) {
            return fail(source, format!("{directive}: would weaken the policy"));
        }
        let bare_scheme = lower.ends_with(':') && !lower.contains('/');
        if bare_scheme && matches!(directive, "script-src" | "default-src") {
            return fail(
                source,
                format!("{directive}: a bare scheme would allow any script; name a host"),
            );
        }
    }
    Ok(())
}

/// Whether `path` lies under the API `prefix` (which ends with a slash). The one definition of
/// "an API request" that the page layer, the security headers and the metrics share.
pub(crate) fn is_api_path(prefix: &str, path: &str) -> bool {
    path.starts_with(prefix)
}

/// `https://App.Example.com:443/app` → `https://app.example.com`: scheme, host and a
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

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &[u8] = b"0123456789abcdef0123456789abcdef";

    #[test]
    fn the_defaults_follow_the_contract() {
        let c = AuthConfig::builder(SECRET).build().unwrap();
        assert_eq!(c.tokens.access_ttl, Duration::from_secs(900));
        assert_eq!(c.tokens.refresh_ttl, Duration::from_secs(30 * 86400));
        assert_eq!(c.tokens.reuse_grace, Duration::from_secs(10));
        assert_eq!(c.tokens.leeway, Duration::from_secs(5));
        assert_eq!(
            (c.cookies.access.as_str(), c.cookies.refresh.as_str()),
            ("access_token", "refresh_token")
        );
        assert_eq!(c.refresh_path(), "/api/auth/refresh");
        assert_eq!(c.login_path(), "/login");
    }

    #[test]
    fn a_short_secret_is_refused_without_echoing_it() {
        let e = AuthConfig::builder(b"tiny-secret").build().unwrap_err();
        assert_eq!(e.var, "JWT_SECRET");
        assert!(!e.to_string().contains("tiny-secret"));
    }

    #[test]
    fn a_short_accepted_secret_is_refused_without_echoing_it() {
        let e = AuthConfig::builder(SECRET)
            .accepted_secrets([SECRET, b"short-old-key".as_slice()])
            .build()
            .unwrap_err();
        assert_eq!(e.var, "JWT_ACCEPTED_SECRETS");
        assert!(!e.to_string().contains("short-old-key"));
    }

    #[test]
    fn grace_and_leeway_above_five_minutes_are_refused() {
        let grace = AuthConfig::builder(SECRET)
            .reuse_grace(Duration::from_secs(301))
            .build();
        assert_eq!(grace.unwrap_err().var, "REFRESH_REUSE_GRACE");
        let leeway = AuthConfig::builder(SECRET)
            .leeway(Duration::from_secs(600))
            .build();
        assert_eq!(leeway.unwrap_err().var, "JWT_LEEWAY");
        assert!(AuthConfig::builder(SECRET)
            .reuse_grace(MAX_GRACE)
            .build()
            .is_ok());
    }

    #[test]
    fn the_api_prefix_is_normalised_and_moves_the_refresh_path() {
        let c = AuthConfig::builder(SECRET)
            .api_prefix("auth-api")
            .build()
            .unwrap();
        assert_eq!(c.api_prefix(), "/auth-api/");
        assert_eq!(c.refresh_path(), "/auth-api/auth/refresh");
    }

    #[test]
    fn public_urls_become_origins_without_default_ports_or_paths() {
        assert_eq!(
            origin_of("https://App.Example.com:443/app").unwrap(),
            "https://app.example.com"
        );
        assert_eq!(
            origin_of("http://127.0.0.1:3000").unwrap(),
            "http://127.0.0.1:3000"
        );
        assert_eq!(origin_of("http://[::1]:80").unwrap(), "http://[::1]");
        for bad in ["ftp://x", "app.example.com", "https://", "https://u@x"] {
            assert!(origin_of(bad).is_err(), "{bad}");
        }
        let c = AuthConfig::builder(SECRET)
            .public_origins(["https://a.example/", "https://b.example:8443"])
            .build()
            .unwrap();
        assert_eq!(
            c.public_origins(),
            ["https://a.example", "https://b.example:8443"]
        );
        let bad = AuthConfig::builder(SECRET)
            .public_origins(["a.example"])
            .build();
        assert_eq!(bad.unwrap_err().var, "PUBLIC_URL");
    }

    #[test]
    fn csp_sources_that_would_weaken_or_break_the_policy_are_refused() {
        let with = |directive: &str, source: &str| {
            AuthConfig::builder(SECRET)
                .csp_sources(directive, [source])
                .build()
        };
        for (directive, source) in [
            ("img-src", "https://avatars.example.com"),
            ("font-src", "https://fonts.example.com"),
            ("connect-src", "wss://live.example.com"),
            ("img-src", "blob:"),
            ("script-src", "https://cdn.example.com/lib.js"),
            ("form-action", "https://pay.example.com"),
        ] {
            let c = with(directive, source).unwrap_or_else(|e| panic!("{e}"));
            assert_eq!(
                c.csp_sources,
                [(directive.to_owned(), vec![source.to_owned()])]
            );
        }
        for (directive, source) in [
            ("img-src", "*"),
            ("style-src", "'unsafe-inline'"),
            ("script-src", "'UNSAFE-EVAL'"),
            ("script-src", "'unsafe-hashes'"),
            ("script-src", "https:"),
            ("default-src", "data:"),
            ("img-src", "https://a.example.com https://b.example.com"),
            ("img-src", "https://a.example.com; script-src *"),
            ("img-src", "https://a.example.com,https://b.example.com"),
            ("img-src", ""),
            ("img-src", "https://bücher.example"),
            ("frame-ancestors", "https://a.example.com"),
            ("sandbox", "allow-scripts"),
        ] {
            let e = with(directive, source).expect_err(source);
            assert_eq!(e.var, "csp_sources", "{directive} {source}: {e}");
        }
    }

    #[test]
    fn origins_derived_from_the_address_cover_its_loopback_names() {
        let c = AuthConfig::builder(SECRET)
            .public_origins_for("127.0.0.1:3100".parse().unwrap())
            .build()
            .unwrap();
        assert!(c
            .public_origins()
            .contains(&"http://localhost:3100".to_owned()));
        let any = AuthConfig::builder(SECRET)
            .public_origins_for("0.0.0.0:80".parse().unwrap())
            .build()
            .unwrap();
        assert!(
            any.public_origins().is_empty(),
            "checked against Host instead"
        );
    }

    #[test]
    fn rate_limits_parse() {
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
    }

    proptest::proptest! {
        #[test]
        fn origins_are_stable_under_reparsing(raw in "(https?://)?[a-zA-Z0-9.:\\[\\]/@-]{0,30}") {
            if let Ok(origin) = origin_of(&raw) {
                proptest::prop_assert_eq!(origin_of(&origin), Ok(origin.clone()));
            }
        }

        #[test]
        fn rate_limits_parse_or_explain(raw in "\\PC{0,20}") {
            let _ = RateLimit::parse(&raw);
        }
    }
}
