//! Account recovery (docs/protocol.md, "Account recovery"): verification, forgot and reset,
//! password change. Each use case is one method here, which both adapters (the JSON API and the
//! server-function context) call.
//!
//! The rules each method keeps, and why:
//! - forgot-password does the same work for every address (a rate-limit check and one outbox
//!   row), so its answer cannot tell whether an account exists; the worker finds out;
//! - a reset link is used by one conditional update, so it works once across every instance,
//!   and only a POST uses it (a GET of the page never does: mail scanners open links);
//! - a reset revokes every session of the account and opens the new one through the same
//!   session path as sign-in; a change revokes every other session. Both announce it, so every
//!   instance refuses the old sessions within the liveness bound.

use super::{
    hash_password, limits::Attempt, verify_password, wrong_credentials, Accounts, ClientInfo,
};
use crate::server::{
    db::now_ms,
    error::Error,
    metrics,
    sessions::{tokens, Principal, Sessions, TokenPair},
    store::recovery::{NewToken, Purpose},
};
use crate::{
    error::{ApiError, ErrorCode},
    types::{Email, Password, User},
};

/// The longest link token accepted (the engine's are 43 characters); anything longer, or with
/// characters a token never has, is refused before it is hashed or looked up.
const MAX_LINK_TOKEN: usize = 128;

/// A link token as the request gave it: plausible, or `invalid_link`.
fn link_token(raw: &str) -> Result<&str, ApiError> {
    let ok = !raw.is_empty()
        && raw.len() <= MAX_LINK_TOKEN
        && raw
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    if ok {
        Ok(raw)
    } else {
        Err(invalid_link())
    }
}

pub(crate) fn invalid_link() -> ApiError {
    metrics::account_event("invalid_link");
    ErrorCode::InvalidLink.into()
}

fn mail_off() -> ApiError {
    ApiError::new(
        ErrorCode::Unavailable,
        "Email is not available on this server, so links by email cannot be sent.",
    )
}

impl Accounts {
    /// Whether messages leave at all (SMTP or the development outbox).
    pub fn mail_enabled(&self) -> bool {
        self.outbox.enabled()
    }

    /// Queues a verification message for `user` (a new link each time; older ones keep
    /// working until they expire: confirming is idempotent).
    pub(crate) async fn queue_verification(&self, user: &User) -> Result<(), Error> {
        if !self.outbox.enabled() {
            return Ok(());
        }
        let token = tokens::random_refresh_token();
        let now = now_ms();
        let mail = crate::server::mail::verification(&self.config, user, &token);
        let link = NewToken {
            hash: &tokens::token_hash(&token),
            user_id: &user.id,
            purpose: Purpose::Verify,
            now,
            expires_at: now + self.config.recovery.verify_ttl.as_millis() as i64,
        };
        let id = uuid::Uuid::new_v4().to_string();
        self.recovery().queue_verification(&id, link, &mail).await?;
        metrics::mail("queued");
        self.outbox.wake();
        Ok(())
    }

    /// Forgot-password: the same answer, after the same work, for every well-formed address.
    #[tracing::instrument(skip_all)]
    pub async fn forgot_password(&self, email: &str, who: ClientInfo<'_>) -> Result<(), Error> {
        if !self.outbox.enabled() {
            return Err(mail_off().into());
        }
        let email = Email::parse(email)?;
        self.limit(Attempt::Recovery, who, &email).await?;
        let id = uuid::Uuid::new_v4().to_string();
        self.recovery()
            .queue_reset_request(&id, email.as_str(), now_ms())
            .await?;
        metrics::account_event("reset_requested");
        self.outbox.wake();
        Ok(())
    }

    /// Sends the caller a new verification link (nothing when already confirmed).
    pub async fn resend_verification(
        &self,
        caller: &Principal,
        who: ClientInfo<'_>,
    ) -> Result<(), Error> {
        if !self.outbox.enabled() {
            return Err(mail_off().into());
        }
        let email = Email::parse(&caller.user.email)?;
        self.limit(Attempt::Recovery, who, &email).await?;
        match self.recovery().account(&caller.user.id).await? {
            Some((user, _)) if !user.email_verified => self.queue_verification(&user).await,
            _ => Ok(()),
        }
    }

    /// Sends a new verification link to someone who cannot sign in yet because their address is
    /// unconfirmed (`REQUIRE_VERIFIED_EMAIL`): they prove the account is theirs with its
    /// password, checked like a sign-in (and limited like one). `invalid_credentials` otherwise.
    pub async fn resend_unverified(
        &self,
        email: &str,
        password: &str,
        who: ClientInfo<'_>,
    ) -> Result<(), Error> {
        if !self.outbox.enabled() {
            return Err(mail_off().into());
        }
        // A malformed email or password cannot match an account: the same answer as a wrong one.
        let (Ok(email), Ok(password)) = (Email::parse(email), Password::parse(password)) else {
            return Err(wrong_credentials().into());
        };
        let user = self
            .check_password(&email, password, who)
            .await?
            .ok_or_else(wrong_credentials)?;
        if !user.email_verified {
            self.limit(Attempt::Recovery, who, &email).await?;
            self.queue_verification(&user).await?;
        }
        Ok(())
    }

    /// Confirms the address a verification link belongs to (idempotent until it expires).
    pub async fn verify_email(&self, sessions: &Sessions, token: &str) -> Result<User, Error> {
        let hash = tokens::token_hash(link_token(token)?);
        let user = self
            .recovery()
            .verify_email(&hash, now_ms())
            .await?
            .ok_or_else(invalid_link)?;
        // Pages read the user through the sessions believed live: forget them, so the next
        // request of every session of this user sees the address confirmed.
        sessions.forget_user(&user.id);
        metrics::account_event("email_verified");
        Ok(user)
    }

    /// Whether a reset link can still be used (the page asks, to offer a new one early).
    pub async fn reset_link_usable(&self, token: &str) -> Result<bool, Error> {
        let Ok(token) = link_token(token) else {
            return Ok(false);
        };
        Ok(self
            .recovery()
            .reset_link_usable(&tokens::token_hash(token), now_ms())
            .await?)
    }

    /// Uses a reset link: a new password, the address confirmed, every session of the account
    /// revoked (announced to every instance), and a new session for this browser.
    #[tracing::instrument(skip_all)]
    pub async fn reset_password(
        &self,
        sessions: &Sessions,
        token: &str,
        password: Password,
        who: ClientInfo<'_>,
    ) -> Result<TokenPair, Error> {
        let hash = tokens::token_hash(link_token(token)?);
        let recovery = self.recovery();
        // Cheap refusal before the expensive hash; the conditional update below decides.
        if !recovery.reset_link_usable(&hash, now_ms()).await? {
            return Err(invalid_link().into());
        }
        let password_hash = self
            .hashing(move || hash_password(password.expose()))
            .await?
            .map_err(Error::internal)?;
        let (session, refresh) = sessions.new_session("", who.user_agent);
        let user = recovery
            .reset_password(&hash, &password_hash, &session, now_ms())
            .await?
            .ok_or_else(invalid_link)?;
        sessions.revoked_user(&user.id).await;
        metrics::account_event("reset");
        tracing::info!(user = %user.id, "password reset: every earlier session revoked");
        Ok(sessions.pair(user, session.id, refresh))
    }

    /// Changes the caller's password after checking the current one: every other session of
    /// the account is revoked (announced), this one continues. The answer carries a new access
    /// token for this session and no refresh token (the session's stays as it is, so a lost
    /// answer signs nobody out).
    #[tracing::instrument(skip_all)]
    pub async fn change_password(
        &self,
        sessions: &Sessions,
        caller: &Principal,
        current: &str,
        new: Password,
        who: ClientInfo<'_>,
    ) -> Result<TokenPair, Error> {
        let email = Email::parse(&caller.user.email)?;
        // Guessing the current password is a sign-in attempt, and limited like one.
        self.limit(Attempt::SignIn, who, &email).await?;
        let recovery = self.recovery();
        let Some((user, hash)) = recovery.account(&caller.user.id).await? else {
            return Err(
                ApiError::new(ErrorCode::InvalidToken, "The account no longer exists.").into(),
            );
        };
        let current = current.to_owned();
        let (ok, new_hash) = self
            .hashing(move || {
                let ok = verify_password(&current, &hash);
                let new_hash = ok.then(|| hash_password(new.expose()));
                (ok, new_hash)
            })
            .await?;
        let new_hash = match (ok, new_hash) {
            (true, Some(h)) => h.map_err(Error::internal)?,
            _ => {
                return Err(ApiError::new(
                    ErrorCode::InvalidCredentials,
                    "The current password is incorrect.",
                )
                .with_field("current_password")
                .into())
            }
        };
        let revoked = recovery
            .change_password(&user.id, &new_hash, &caller.session_id, now_ms())
            .await?;
        sessions.revoked_user(&user.id).await;
        metrics::account_event("password_changed");
        tracing::info!(user = %user.id, revoked, "password changed: the other sessions revoked");
        Ok(sessions.access_only(user, caller.session_id.clone()))
    }
}
