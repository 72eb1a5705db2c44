//! Accounts: registration and sign-in with argon2 password hashes.

pub(crate) mod limits;
mod recovery;

use crate::server::{
    accounts::limits::{Attempt, Busy, HashPool, RateLimits},
    config::AuthConfig,
    db,
    error::Error,
    mail::Outbox,
    sessions::{Sessions, TokenPair},
    store::{AccountStore, NewAccount, RecoveryStore},
};
use crate::{
    error::{ApiError, ErrorCode},
    types::{Email, Password, User},
};
use argon2::{
    password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString},
    Argon2,
};
use std::sync::Arc;

/// A hash of a random password, verified against when the email is unknown so that a miss
/// costs as much time as a wrong password.
static DUMMY_HASH: std::sync::LazyLock<String> =
    std::sync::LazyLock::new(|| hash_password("not-a-real-password-0").expect("argon2 hashes"));

fn hash_password(password: &str) -> Result<String, argon2::password_hash::Error> {
    let salt = SaltString::generate(&mut argon2::password_hash::rand_core::OsRng);
    Ok(Argon2::default()
        .hash_password(password.as_bytes(), &salt)?
        .to_string())
}

fn verify_password(password: &str, hash: &str) -> bool {
    PasswordHash::new(hash)
        .map(|h| {
            Argon2::default()
                .verify_password(password.as_bytes(), &h)
                .is_ok()
        })
        .unwrap_or(false)
}

/// Who is attempting: the client address (for the rate limits) and its user agent.
#[derive(Debug, Clone, Copy)]
pub struct ClientInfo<'a> {
    /// The client address the rate limits count by.
    pub ip: std::net::IpAddr,
    /// Shown on the devices page for the new session.
    pub user_agent: Option<&'a str>,
}

/// Accounts: the store they live in, the sign-in buckets and the password-hashing pool. One
/// per engine, owned by `Auth`; a sign-in opens its session through [`Sessions`].
pub(crate) struct Accounts {
    store: Arc<dyn AccountStore>,
    /// Recovery's links, passwords and outbox rows (`recovery.rs`).
    recovery: Arc<dyn RecoveryStore>,
    limiter: RateLimits,
    hashing: HashPool,
    /// Where messages go (the worker's side; requests only queue and wake it).
    outbox: Arc<Outbox>,
    /// Recovery's settings: lifetimes of links, pages, whether sign-in needs a confirmed address.
    config: AuthConfig,
}

impl Accounts {
    /// Buckets in the database when they must hold across instances (`shared_limits`).
    pub fn new(
        store: Arc<dyn AccountStore>,
        recovery: Arc<dyn RecoveryStore>,
        config: &AuthConfig,
        shared_limits: bool,
        outbox: Arc<Outbox>,
    ) -> Self {
        Self {
            limiter: RateLimits::new(&config.limits, shared_limits),
            hashing: HashPool::new(&config.limits),
            store,
            recovery,
            outbox,
            config: config.clone(),
        }
    }

    fn store(&self) -> &dyn AccountStore {
        &*self.store
    }

    fn recovery(&self) -> &dyn RecoveryStore {
        &*self.recovery
    }

    /// Forgets in-memory buckets that are full again.
    pub fn prune(&self) {
        self.limiter.retain_recent();
    }

    async fn limit(
        &self,
        attempt: Attempt,
        who: ClientInfo<'_>,
        email: &Email,
    ) -> Result<(), Error> {
        let checked = self
            .limiter
            .check(self.store(), attempt, who.ip, email.as_str())
            .await?;
        checked.map_err(|limited| {
            tracing::info!(ip = %who.ip, ?attempt, bucket = limited.bucket.name(), "sign-in rate limit reached");
            crate::server::metrics::rate_limited(limited.bucket.name());
            ApiError::rate_limited(limited.retry_after).into()
        })
    }

    /// Runs a password hash in the bounded pool: 503 with `Retry-After` when it is full.
    async fn hashing<R: Send + 'static>(
        &self,
        job: impl FnOnce() -> R + Send + 'static,
    ) -> Result<R, ApiError> {
        self.hashing.run(job).await.map_err(|Busy| {
            tracing::warn!("password hashing saturated; refusing with 503");
            crate::server::metrics::unavailable("hashing_queue");
            ApiError::busy()
        })
    }

    /// Creates an account and signs it in. `conflict` if the email is taken.
    #[tracing::instrument(skip(self, sessions, password, who), fields(email = %email.as_str()))]
    pub async fn register(
        &self,
        sessions: &Sessions,
        email: Email,
        password: Password,
        who: ClientInfo<'_>,
    ) -> Result<TokenPair, Error> {
        let result = self.register_account(sessions, email, password, who).await;
        crate::server::metrics::registration(outcome(&result));
        result
    }

    async fn register_account(
        &self,
        sessions: &Sessions,
        email: Email,
        password: Password,
        who: ClientInfo<'_>,
    ) -> Result<TokenPair, Error> {
        self.limit(Attempt::Register, who, &email).await?;
        let hash = self
            .hashing(move || hash_password(password.expose()))
            .await?
            .map_err(Error::internal)?;
        let user = User {
            id: uuid::Uuid::new_v4().to_string(),
            email: email.as_str().to_owned(),
            email_verified: false,
        };
        // The user and its first session in one transaction: a failure leaves neither.
        let (session, refresh) = sessions.new_session(&user.id, who.user_agent);
        let account = NewAccount {
            user: &user,
            password_hash: &hash,
            now: db::now_ms(),
        };
        match self.store().create_account(account, &session).await {
            Ok(()) => {}
            Err(e) if db::is_unique_violation(&e) => {
                return Err(ApiError::validation("email", ErrorCode::Conflict.message())
                    .with_code(ErrorCode::Conflict)
                    .into())
            }
            Err(e) => return Err(e.into()),
        }
        // The verification message: its own transaction, after the account's (a failure here
        // leaves a signed-in account that can ask again from the notice).
        if let Err(e) = self.queue_verification(&user).await {
            tracing::warn!(error = %e, "the verification message could not be queued");
        }
        Ok(sessions.pair(user, session.id, refresh))
    }

    /// Signs in. `invalid_credentials` for an unknown email or a wrong password alike;
    /// `rate_limited` (with the seconds to wait) after repeated attempts from one address.
    #[tracing::instrument(skip(self, sessions, password, who), fields(email = %email.as_str()))]
    pub async fn login(
        &self,
        sessions: &Sessions,
        email: Email,
        password: Password,
        who: ClientInfo<'_>,
    ) -> Result<TokenPair, Error> {
        let result = self.sign_in(sessions, email, password, who).await;
        crate::server::metrics::sign_in(outcome(&result));
        result
    }

    async fn sign_in(
        &self,
        sessions: &Sessions,
        email: Email,
        password: Password,
        who: ClientInfo<'_>,
    ) -> Result<TokenPair, Error> {
        match self.check_password(&email, password, who).await? {
            // Only someone who knows the password learns that the address is unconfirmed.
            Some(user) if self.config.recovery.require_verified && !user.email_verified => {
                Err(ApiError::from(ErrorCode::EmailUnverified).into())
            }
            Some(user) => Ok(sessions.start_session(user, who.user_agent).await?),
            None => Err(wrong_credentials().into()),
        }
    }

    /// The account whose password this is, or `None`; limited as a sign-in attempt. An unknown
    /// email costs a full verification too (against a dummy hash, built on the pool's thread the
    /// first time), so timing does not tell accounts apart.
    async fn check_password(
        &self,
        email: &Email,
        password: Password,
        who: ClientInfo<'_>,
    ) -> Result<Option<User>, Error> {
        self.limit(Attempt::SignIn, who, email).await?;
        let (user, hash) = match self.store().find_account(email.as_str()).await? {
            Some((user, hash)) => (Some(user), Some(hash)),
            None => (None, None),
        };
        let ok = self
            .hashing(move || {
                verify_password(password.expose(), hash.as_deref().unwrap_or(&DUMMY_HASH))
            })
            .await?;
        Ok(user.filter(|_| ok))
    }
}

/// The one answer to a wrong email or password, whichever it was.
pub(crate) fn wrong_credentials() -> ApiError {
    ErrorCode::InvalidCredentials.into()
}

/// A sign-in's or registration's outcome label: `ok`, or the contract's error code.
fn outcome(result: &Result<TokenPair, Error>) -> &'static str {
    match result {
        Ok(_) => "ok",
        Err(Error::Api(e)) => e.error.as_str(),
        Err(Error::Database(e)) if crate::server::db::is_unique_violation(e) => "conflict",
        Err(_) => "unavailable",
    }
}
