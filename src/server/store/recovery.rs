//! The storage of account recovery (held by `accounts/recovery.rs` and the mail worker): one-time
//! links, the password and verification columns of `users`, and the mail outbox. A trait of its
//! own rather than more methods on [`AccountStore`](super::traits::AccountStore): one seam per
//! concern.
//!
//! Written once, generic over the backend's native pool ([`SqlRecovery`]); the one difference
//! between the backends (PostgreSQL claims outbox rows with `FOR UPDATE SKIP LOCKED`, so two
//! instances never take the same message) is a flag.

use super::model::{user_of, NewSession};
use crate::server::mailer::Mail;
use crate::types::User;
use sqlx::{Database, Pool, Row};
use std::sync::Arc;

/// What a one-time link is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Purpose {
    /// A password reset: single use.
    Reset,
    /// An address confirmation: idempotent until it expires.
    Verify,
}

impl Purpose {
    fn as_str(self) -> &'static str {
        match self {
            Self::Reset => "reset",
            Self::Verify => "verify",
        }
    }
}

/// A one-time link's token, hashed, to be stored.
pub(crate) struct NewToken<'a> {
    pub hash: &'a str,
    pub user_id: &'a str,
    pub purpose: Purpose,
    pub now: i64,
    pub expires_at: i64,
}

/// What an outbox row holds for its worker.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Pending {
    /// Ready to send.
    Message(Mail),
    /// A forgot-password request for this address: the worker finds out whether an account has
    /// it (so the request's answer cannot tell).
    ResetRequest(String),
}

/// An outbox row a worker claimed.
#[derive(Debug, Clone)]
pub(crate) struct Claimed {
    pub id: String,
    pub pending: Pending,
    /// Attempts so far, this one included.
    pub attempts: i64,
}

/// How an outbox row ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Outcome {
    Sent,
    Failed,
    /// A forgot-password request for an address no account has.
    NoAccount,
}

impl Outcome {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Sent => "sent",
            Self::Failed => "failed",
            Self::NoAccount => "no_account",
        }
    }
}

/// Everything account recovery asks of the database. Times are unix milliseconds; tokens arrive
/// hashed.
#[async_trait::async_trait]
pub(crate) trait RecoveryStore: Send + Sync {
    /// Queues a forgot-password request (the same write whether or not an account has `email`).
    async fn queue_reset_request(&self, id: &str, email: &str, now: i64)
        -> Result<(), sqlx::Error>;

    /// Stores a verification link and its message in one transaction.
    async fn queue_verification(
        &self,
        id: &str,
        token: NewToken<'_>,
        mail: &Mail,
    ) -> Result<(), sqlx::Error>;

    /// Claims up to `limit` due rows until `lease_until` (another worker takes a row only
    /// after its lease ran out), counting the attempt.
    async fn claim(
        &self,
        now: i64,
        lease_until: i64,
        limit: i64,
    ) -> Result<Vec<Claimed>, sqlx::Error>;

    /// Turns a claimed reset request into its message, in one transaction with the link it
    /// carries; older unused reset links of the account are void from then on.
    async fn attach_reset(
        &self,
        id: &str,
        token: NewToken<'_>,
        mail: &Mail,
    ) -> Result<(), sqlx::Error>;

    /// Ends a row: its bodies (which hold a link) are erased.
    async fn finish(&self, id: &str, now: i64, outcome: Outcome) -> Result<(), sqlx::Error>;

    /// Releases a row for another attempt at `at`.
    async fn retry_at(&self, id: &str, at: i64, error: &str) -> Result<(), sqlx::Error>;

    /// Rows not yet done.
    async fn outbox_depth(&self) -> Result<i64, sqlx::Error>;

    /// Whether a reset link is usable now (unused, unexpired, not superseded).
    async fn reset_link_usable(&self, hash: &str, now: i64) -> Result<bool, sqlx::Error>;

    /// Uses a reset link: sets the password, confirms the address, voids the account's other
    /// links, revokes every session of the account and opens `session`, in one transaction.
    /// `None` when the link is not usable (nothing changed). `session.user_id` is ignored: the
    /// link says whose account it is.
    async fn reset_password(
        &self,
        hash: &str,
        password_hash: &str,
        session: &NewSession,
        now: i64,
    ) -> Result<Option<User>, sqlx::Error>;

    /// Confirms the address a verification link belongs to (again: idempotent); `None` when the
    /// link is unknown or expired.
    async fn verify_email(&self, hash: &str, now: i64) -> Result<Option<User>, sqlx::Error>;

    /// The account's user and password hash.
    async fn account(&self, user_id: &str) -> Result<Option<(User, String)>, sqlx::Error>;

    /// Sets a new password, voids the account's reset links and revokes every session but
    /// `keep_session`, in one transaction: how many were revoked.
    async fn change_password(
        &self,
        user_id: &str,
        password_hash: &str,
        keep_session: &str,
        now: i64,
    ) -> Result<u64, sqlx::Error>;
}

/// [`RecoveryStore`] on a native pool.
pub(crate) struct SqlRecovery<DB: Database> {
    pool: Pool<DB>,
    /// SQLite: the store's write turn (one writer at a time, queued in the process).
    writes: Option<Arc<tokio::sync::Mutex<()>>>,
    /// PostgreSQL: claim with `FOR UPDATE SKIP LOCKED`.
    skip_locked: bool,
}

impl<DB: Database> SqlRecovery<DB> {
    pub fn new(
        pool: Pool<DB>,
        writes: Option<Arc<tokio::sync::Mutex<()>>>,
        skip_locked: bool,
    ) -> Self {
        Self {
            pool,
            writes,
            skip_locked,
        }
    }

    async fn turn(&self) -> Option<tokio::sync::MutexGuard<'_, ()>> {
        match &self.writes {
            Some(w) => Some(w.lock().await),
            None => None,
        }
    }
}

const INSERT_TOKEN: &str = "INSERT INTO sessionflow_account_tokens \
     (hash, user_id, purpose, created_at, expires_at) VALUES ($1, $2, $3, $4, $5)";

const INSERT_MAIL: &str = "INSERT INTO sessionflow_outbox (id, kind, recipient, subject, \
     text_body, html_body, created_at, attempts, next_attempt_at, locked_until) \
     VALUES ($1, $2, $3, $4, $5, $6, $7, 0, $7, 0)";

const VOID_RESET_LINKS: &str = "UPDATE sessionflow_account_tokens SET used_at = $1 \
     WHERE user_id = $2 AND purpose = 'reset' AND used_at IS NULL";

const USER: &str = "SELECT id, email, email_verified_at FROM sessionflow_users WHERE id = $1";

#[async_trait::async_trait]
impl<DB> RecoveryStore for SqlRecovery<DB>
where
    DB: Database,
    for<'q> DB::Arguments<'q>: sqlx::IntoArguments<'q, DB>,
    for<'c> &'c mut DB::Connection: sqlx::Executor<'c, Database = DB>,
    for<'c> &'c Pool<DB>: sqlx::Executor<'c, Database = DB>,
    for<'q> &'q str: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
    for<'q> Option<&'q str>: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
    for<'q> i64: sqlx::Encode<'q, DB> + sqlx::Decode<'q, DB> + sqlx::Type<DB>,
    for<'r> String: sqlx::Decode<'r, DB> + sqlx::Type<DB>,
    for<'a> &'a str: sqlx::ColumnIndex<DB::Row>,
{
    async fn queue_reset_request(
        &self,
        id: &str,
        email: &str,
        now: i64,
    ) -> Result<(), sqlx::Error> {
        let _turn = self.turn().await;
        sqlx::query(INSERT_MAIL)
            .bind(id)
            .bind("reset_request")
            .bind(email)
            .bind("")
            .bind("")
            .bind("")
            .bind(now)
            .execute(&self.pool)
            .await
            .map(drop)
    }

    async fn queue_verification(
        &self,
        id: &str,
        token: NewToken<'_>,
        mail: &Mail,
    ) -> Result<(), sqlx::Error> {
        let _turn = self.turn().await;
        let mut tx = self.pool.begin().await?;
        insert_token(&mut tx, &token).await?;
        sqlx::query(INSERT_MAIL)
            .bind(id)
            .bind("message")
            .bind(mail.to.as_str())
            .bind(mail.subject.as_str())
            .bind(mail.text.as_str())
            .bind(mail.html.as_str())
            .bind(token.now)
            .execute(&mut *tx)
            .await?;
        tx.commit().await
    }

    async fn claim(
        &self,
        now: i64,
        lease_until: i64,
        limit: i64,
    ) -> Result<Vec<Claimed>, sqlx::Error> {
        let _turn = self.turn().await;
        let sql = format!(
            "UPDATE sessionflow_outbox SET attempts = attempts + 1, locked_until = $2 \
             WHERE id IN (SELECT id FROM sessionflow_outbox \
               WHERE done_at IS NULL AND next_attempt_at <= $1 AND locked_until <= $1 \
               ORDER BY next_attempt_at LIMIT $3{}) \
             RETURNING id, kind, recipient, subject, text_body, html_body, attempts",
            if self.skip_locked {
                " FOR UPDATE SKIP LOCKED"
            } else {
                ""
            }
        );
        let rows = sqlx::query(&sql)
            .bind(now)
            .bind(lease_until)
            .bind(limit)
            .fetch_all(&self.pool)
            .await?;
        rows.iter()
            .map(|r| {
                let kind: String = r.try_get("kind")?;
                let to: String = r.try_get("recipient")?;
                let pending = if kind == "reset_request" {
                    Pending::ResetRequest(to)
                } else {
                    Pending::Message(Mail {
                        to,
                        subject: r.try_get("subject")?,
                        text: r.try_get("text_body")?,
                        html: r.try_get("html_body")?,
                    })
                };
                Ok(Claimed {
                    id: r.try_get("id")?,
                    pending,
                    attempts: r.try_get("attempts")?,
                })
            })
            .collect()
    }

    async fn attach_reset(
        &self,
        id: &str,
        token: NewToken<'_>,
        mail: &Mail,
    ) -> Result<(), sqlx::Error> {
        let _turn = self.turn().await;
        let mut tx = self.pool.begin().await?;
        sqlx::query(VOID_RESET_LINKS)
            .bind(token.now)
            .bind(token.user_id)
            .execute(&mut *tx)
            .await?;
        insert_token(&mut tx, &token).await?;
        sqlx::query(
            "UPDATE sessionflow_outbox SET kind = 'message', subject = $2, text_body = $3, \
             html_body = $4 WHERE id = $1",
        )
        .bind(id)
        .bind(mail.subject.as_str())
        .bind(mail.text.as_str())
        .bind(mail.html.as_str())
        .execute(&mut *tx)
        .await?;
        tx.commit().await
    }

    async fn finish(&self, id: &str, now: i64, outcome: Outcome) -> Result<(), sqlx::Error> {
        let _turn = self.turn().await;
        sqlx::query(
            "UPDATE sessionflow_outbox SET done_at = $2, outcome = $3, text_body = '', \
             html_body = '', locked_until = 0 WHERE id = $1",
        )
        .bind(id)
        .bind(now)
        .bind(outcome.as_str())
        .execute(&self.pool)
        .await
        .map(drop)
    }

    async fn retry_at(&self, id: &str, at: i64, error: &str) -> Result<(), sqlx::Error> {
        let _turn = self.turn().await;
        sqlx::query(
            "UPDATE sessionflow_outbox SET next_attempt_at = $2, locked_until = 0, \
             last_error = $3 WHERE id = $1",
        )
        .bind(id)
        .bind(at)
        .bind(error)
        .execute(&self.pool)
        .await
        .map(drop)
    }

    async fn outbox_depth(&self) -> Result<i64, sqlx::Error> {
        sqlx::query("SELECT COUNT(*) AS n FROM sessionflow_outbox WHERE done_at IS NULL")
            .fetch_one(&self.pool)
            .await?
            .try_get("n")
    }

    async fn reset_link_usable(&self, hash: &str, now: i64) -> Result<bool, sqlx::Error> {
        let row = sqlx::query(
            "SELECT user_id FROM sessionflow_account_tokens \
             WHERE hash = $1 AND purpose = 'reset' AND used_at IS NULL AND expires_at > $2",
        )
        .bind(hash)
        .bind(now)
        .fetch_optional(&self.pool)
        .await?;
        Ok(row.is_some())
    }

    async fn reset_password(
        &self,
        hash: &str,
        password_hash: &str,
        session: &NewSession,
        now: i64,
    ) -> Result<Option<User>, sqlx::Error> {
        let _turn = self.turn().await;
        let mut tx = self.pool.begin().await?;
        // The one conditional update that can succeed once per link, on any instance.
        let used = sqlx::query(
            "UPDATE sessionflow_account_tokens SET used_at = $2 \
             WHERE hash = $1 AND purpose = 'reset' AND used_at IS NULL AND expires_at > $2 \
             RETURNING user_id",
        )
        .bind(hash)
        .bind(now)
        .fetch_optional(&mut *tx)
        .await?;
        let Some(used) = used else {
            tx.rollback().await?;
            return Ok(None);
        };
        let user_id: String = used.try_get("user_id")?;
        sqlx::query(
            "UPDATE sessionflow_users SET password_hash = $1, \
             email_verified_at = COALESCE(email_verified_at, $2) WHERE id = $3",
        )
        .bind(password_hash)
        .bind(now)
        .bind(user_id.as_str())
        .execute(&mut *tx)
        .await?;
        sqlx::query(VOID_RESET_LINKS)
            .bind(now)
            .bind(user_id.as_str())
            .execute(&mut *tx)
            .await?;
        sqlx::query(
            "UPDATE sessionflow_sessions SET revoked_at = $1 WHERE user_id = $2 AND revoked_at IS NULL",
        )
        .bind(now)
        .bind(user_id.as_str())
        .execute(&mut *tx)
        .await?;
        sqlx::query(
            "INSERT INTO sessionflow_sessions (id, user_id, created_at, last_used_at, expires_at, user_agent) \
             VALUES ($1, $2, $3, $3, $4, $5)",
        )
        .bind(session.id.as_str())
        .bind(user_id.as_str())
        .bind(session.now)
        .bind(session.expires_at)
        .bind(session.user_agent.as_deref())
        .execute(&mut *tx)
        .await?;
        sqlx::query(
            "INSERT INTO sessionflow_refresh_tokens (hash, session_id, created_at, expires_at) \
             VALUES ($1, $2, $3, $4)",
        )
        .bind(session.refresh_hash.as_str())
        .bind(session.id.as_str())
        .bind(session.now)
        .bind(session.expires_at)
        .execute(&mut *tx)
        .await?;
        let user = user_of(
            &sqlx::query(USER)
                .bind(user_id.as_str())
                .fetch_one(&mut *tx)
                .await?,
        )?;
        tx.commit().await?;
        Ok(Some(user))
    }

    async fn verify_email(&self, hash: &str, now: i64) -> Result<Option<User>, sqlx::Error> {
        let _turn = self.turn().await;
        let row = sqlx::query(
            "UPDATE sessionflow_users SET email_verified_at = COALESCE(email_verified_at, $2) \
             WHERE id = (SELECT user_id FROM sessionflow_account_tokens \
               WHERE hash = $1 AND purpose = 'verify' AND expires_at > $2) \
             RETURNING id, email, email_verified_at",
        )
        .bind(hash)
        .bind(now)
        .fetch_optional(&self.pool)
        .await?;
        row.map(|r| user_of(&r)).transpose()
    }

    async fn account(&self, user_id: &str) -> Result<Option<(User, String)>, sqlx::Error> {
        let row = sqlx::query(
            "SELECT id, email, email_verified_at, password_hash FROM sessionflow_users WHERE id = $1",
        )
        .bind(user_id)
        .fetch_optional(&self.pool)
        .await?;
        row.map(|r| Ok((user_of(&r)?, r.try_get("password_hash")?)))
            .transpose()
    }

    async fn change_password(
        &self,
        user_id: &str,
        password_hash: &str,
        keep_session: &str,
        now: i64,
    ) -> Result<u64, sqlx::Error> {
        let _turn = self.turn().await;
        let mut tx = self.pool.begin().await?;
        sqlx::query("UPDATE sessionflow_users SET password_hash = $1 WHERE id = $2")
            .bind(password_hash)
            .bind(user_id)
            .execute(&mut *tx)
            .await?;
        sqlx::query(VOID_RESET_LINKS)
            .bind(now)
            .bind(user_id)
            .execute(&mut *tx)
            .await?;
        let revoked = sqlx::query(
            "UPDATE sessionflow_sessions SET revoked_at = $1 \
             WHERE user_id = $2 AND revoked_at IS NULL AND id <> $3 RETURNING id",
        )
        .bind(now)
        .bind(user_id)
        .bind(keep_session)
        .fetch_all(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(revoked.len() as u64)
    }
}

async fn insert_token<DB>(
    tx: &mut sqlx::Transaction<'static, DB>,
    token: &NewToken<'_>,
) -> Result<(), sqlx::Error>
where
    DB: Database,
    for<'q> DB::Arguments<'q>: sqlx::IntoArguments<'q, DB>,
    for<'c> &'c mut DB::Connection: sqlx::Executor<'c, Database = DB>,
    for<'q> &'q str: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
    for<'q> i64: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
{
    sqlx::query(INSERT_TOKEN)
        .bind(token.hash)
        .bind(token.user_id)
        .bind(token.purpose.as_str())
        .bind(token.now)
        .bind(token.expires_at)
        .execute(&mut **tx)
        .await
        .map(drop)
}
