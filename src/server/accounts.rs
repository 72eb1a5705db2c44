//! Accounts: registration and sign-in with argon2 password hashes.

use super::{db, Auth, Issued};
use crate::{
    error::{ApiError, ErrorCode},
    types::{Email, Password, User},
};
use argon2::{
    password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString},
    Argon2,
};
use sqlx::Row;

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

/// Server-side failure that is logged and answered as `unavailable`.
fn internal(e: impl std::fmt::Display) -> ApiError {
    tracing::error!(error = %e, "account operation failed");
    ApiError::unavailable()
}

impl Auth {
    /// Creates an account and signs it in. `conflict` if the email is taken.
    #[tracing::instrument(skip(self, password, user_agent), fields(email = %email.as_str()))]
    pub async fn register(
        &self,
        email: Email,
        password: Password,
        user_agent: Option<&str>,
    ) -> Result<Issued, ApiError> {
        let hash = tokio::task::spawn_blocking(move || hash_password(password.expose()))
            .await
            .map_err(internal)?
            .map_err(internal)?;
        let user = User {
            id: uuid::Uuid::new_v4().to_string(),
            email: email.as_str().to_owned(),
        };
        let inserted = sqlx::query(
            "INSERT INTO users (id, email, password_hash, created_at) VALUES ($1, $2, $3, $4)",
        )
        .bind(&user.id)
        .bind(&user.email)
        .bind(&hash)
        .bind(db::now_ms())
        .execute(self.db())
        .await;
        match inserted {
            Ok(_) => {}
            Err(e) if db::is_unique_violation(&e) => {
                return Err(ApiError {
                    error: ErrorCode::Conflict,
                    message: "An account with this email already exists.".into(),
                    field: Some("email".into()),
                })
            }
            Err(e) => return Err(internal(e)),
        }
        self.start_session(user, user_agent).await.map_err(internal)
    }

    /// Signs in. `invalid_credentials` for an unknown email or a wrong password alike;
    /// `rate_limited` (with the seconds to wait) after repeated attempts on one email.
    #[tracing::instrument(skip(self, password, user_agent), fields(email = %email.as_str()))]
    pub async fn login(
        &self,
        email: Email,
        password: Password,
        user_agent: Option<&str>,
    ) -> Result<Issued, LoginError> {
        if let Err(not_until) = self.0.login_limiter.check_key(&email.as_str().to_owned()) {
            let wait = not_until.wait_time_from(governor::clock::Clock::now(
                &governor::clock::DefaultClock::default(),
            ));
            return Err(LoginError::RateLimited(wait.as_secs().max(1)));
        }
        let row = sqlx::query("SELECT id, email, password_hash FROM users WHERE email = $1")
            .bind(email.as_str())
            .fetch_optional(self.db())
            .await
            .map_err(internal)?;
        let (user, hash) = match row {
            Some(r) => {
                let user = User {
                    id: r.try_get("id").map_err(internal)?,
                    email: r.try_get("email").map_err(internal)?,
                };
                (
                    Some(user),
                    r.try_get::<String, _>("password_hash").map_err(internal)?,
                )
            }
            None => (None, DUMMY_HASH.clone()),
        };
        let ok = tokio::task::spawn_blocking(move || verify_password(password.expose(), &hash))
            .await
            .map_err(internal)?;
        match user {
            Some(user) if ok => Ok(self
                .start_session(user, user_agent)
                .await
                .map_err(internal)?),
            _ => Err(ApiError::new(
                ErrorCode::InvalidCredentials,
                "The email or password is incorrect.",
            )
            .into()),
        }
    }
}

/// A failed sign-in: the error, or a rate limit with the seconds to wait (`Retry-After`).
#[derive(Debug)]
pub enum LoginError {
    Api(ApiError),
    RateLimited(u64),
}

impl From<ApiError> for LoginError {
    fn from(e: ApiError) -> Self {
        Self::Api(e)
    }
}

impl From<LoginError> for ApiError {
    fn from(e: LoginError) -> Self {
        match e {
            LoginError::Api(e) => e,
            LoginError::RateLimited(secs) => ApiError::new(
                ErrorCode::RateLimited,
                format!("Too many sign-in attempts; try again in {secs} s."),
            ),
        }
    }
}
