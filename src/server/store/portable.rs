//! The statements both backends run alike, written once over sqlx's generic `Pool<DB>`:
//! [`Statements`] is implemented for any pool whose database has what they use, so the owner
//! traits' shared implementations ([`super::shared`]) call `self.pool().find_account(email)` on
//! either backend's native pool. Portable means: `$n` placeholders, `TEXT` ids and hashes,
//! `BIGINT` unix-millisecond timestamps, `CASE` rather than `GREATEST`/`MAX`.
//!
//! What a backend does its own way (a rotation, the health check, announcing revocations,
//! migrations) is in its own file, `sqlite/mod.rs` or `postgres.rs`.

use super::model::{
    user_of, IdempotencyRecord, NewAccount, NewSession, Replay, StoredSession, TokenState,
};
use crate::types::User;
use sqlx::{Database, Pool, Row};
use std::future::Future;

const FIND_ACCOUNT: &str =
    "SELECT id, email, email_verified_at, password_hash FROM sessionflow_users WHERE email = $1";

const INSERT_USER: &str = "INSERT INTO sessionflow_users (id, email, password_hash, created_at) \
     VALUES ($1, $2, $3, $4)";

const INSERT_SESSION: &str = "INSERT INTO sessionflow_sessions \
     (id, user_id, created_at, last_used_at, expires_at, user_agent) \
     VALUES ($1, $2, $3, $3, $4, $5)";

const INSERT_FIRST_TOKEN: &str = "INSERT INTO sessionflow_refresh_tokens \
     (hash, session_id, created_at, expires_at) VALUES ($1, $2, $3, $4)";

const REPLAY: &str = "SELECT t.session_id, t.spent_at, s.user_id, s.revoked_at \
     FROM sessionflow_refresh_tokens t JOIN sessionflow_sessions s ON s.id = t.session_id \
     WHERE t.hash = $1";

const TOKEN_IN_SESSION: &str = "SELECT spent_at, expires_at FROM sessionflow_refresh_tokens \
     WHERE hash = $1 AND session_id = $2";

const MARK_LOST_ANSWER: &str = "UPDATE sessionflow_refresh_tokens SET replayed_at = $1 \
     WHERE hash = $2 AND replayed_at IS NULL AND EXISTS ( \
       SELECT 1 FROM sessionflow_refresh_tokens c WHERE c.hash = $3 AND c.session_id = $4 \
       AND c.spent_at IS NULL AND c.expires_at > $1)";

const LIVE_SESSION: &str = "SELECT u.id, u.email, u.email_verified_at, s.expires_at \
     FROM sessionflow_sessions s JOIN sessionflow_users u ON u.id = s.user_id \
     WHERE s.id = $1 AND s.revoked_at IS NULL AND s.expires_at > $2";

const SESSION_LIVE: &str = "SELECT 1 AS live FROM sessionflow_sessions \
     WHERE id = $1 AND revoked_at IS NULL AND expires_at > $2";

const SESSION_AND_TOKEN_LIVE: &str = "SELECT 1 AS live FROM sessionflow_sessions s \
     JOIN sessionflow_refresh_tokens t ON t.session_id = s.id \
     WHERE s.id = $1 AND s.revoked_at IS NULL AND s.expires_at > $2 \
     AND t.hash = $3 AND t.spent_at IS NULL";

const SESSION_OF_TOKEN: &str = "SELECT session_id FROM sessionflow_refresh_tokens WHERE hash = $1";

const REVOKE_SESSION: &str = "UPDATE sessionflow_sessions SET revoked_at = $1 \
     WHERE id = $2 AND ($3 IS NULL OR user_id = $3) AND revoked_at IS NULL";

const REVOKE_USER: &str = "UPDATE sessionflow_sessions SET revoked_at = $1 \
     WHERE user_id = $2 AND revoked_at IS NULL";

const COUNT_SESSIONS: &str = "SELECT COUNT(*) AS n FROM (SELECT 1 FROM sessionflow_sessions \
     WHERE user_id = $1 AND revoked_at IS NULL AND expires_at > $2 LIMIT $3) AS live";

const LIST_SESSIONS: &str = "SELECT id, created_at, last_used_at, user_agent \
     FROM sessionflow_sessions \
     WHERE user_id = $1 AND revoked_at IS NULL AND expires_at > $2 \
     ORDER BY last_used_at DESC, created_at DESC";

const SWEEP_SESSIONS: &str =
    "DELETE FROM sessionflow_sessions WHERE expires_at < $1 OR revoked_at < $2";

const SWEEP_TOKENS: &str =
    "DELETE FROM sessionflow_refresh_tokens WHERE expires_at < $1 OR spent_at < $2";

const SWEEP_KEYS: &str = "DELETE FROM sessionflow_idempotency_keys WHERE created_at < $1";

const SWEEP_BUCKETS: &str = "DELETE FROM sessionflow_rate_limits WHERE tat < $1";

const CLAIM_KEY: &str = "INSERT INTO sessionflow_idempotency_keys \
     (user_id, key, fingerprint, created_at) \
     VALUES ($1, $2, $3, $4) ON CONFLICT (user_id, key) DO NOTHING";

const READ_KEY: &str = "SELECT fingerprint, status, headers, body, created_at \
     FROM sessionflow_idempotency_keys WHERE user_id = $1 AND key = $2";

const FINISH_KEY: &str =
    "UPDATE sessionflow_idempotency_keys SET status = $1, headers = $2, body = $3 \
     WHERE user_id = $4 AND key = $5";

const RELEASE_KEY: &str =
    "DELETE FROM sessionflow_idempotency_keys WHERE user_id = $1 AND key = $2";

/// One conditional upsert: taken when `RETURNING` answers.
const TAKE_BUCKET: &str = "INSERT INTO sessionflow_rate_limits (bucket, tat) VALUES ($1, $2 + $3) \
     ON CONFLICT (bucket) DO UPDATE SET tat = \
       (CASE WHEN sessionflow_rate_limits.tat > $2 THEN sessionflow_rate_limits.tat ELSE $2 END) + $3 \
     WHERE (CASE WHEN sessionflow_rate_limits.tat > $2 THEN sessionflow_rate_limits.tat ELSE $2 END) \
       + $3 - $2 <= $4 \
     RETURNING tat";

const BUCKET: &str = "SELECT tat FROM sessionflow_rate_limits WHERE bucket = $1";

/// How many rows a statement changed: each backend's query result says it, sqlx's generic
/// `Database` does not.
pub(crate) trait RowsAffected {
    fn rows_affected(&self) -> u64;
}

impl RowsAffected for sqlx::sqlite::SqliteQueryResult {
    fn rows_affected(&self) -> u64 {
        self.rows_affected()
    }
}

impl RowsAffected for sqlx::postgres::PgQueryResult {
    fn rows_affected(&self) -> u64 {
        self.rows_affected()
    }
}

/// The statements both backends run alike, as one bound: implemented once, for any sqlx pool
/// whose database has what they use, and called by the owner traits' shared implementations
/// ([`super::shared`]). Only ever used statically, so its futures are plain (not boxed as the
/// owner traits' are): a store call costs one allocation, as it did with inherent methods.
pub(crate) trait Statements: Send + Sync + 'static {
    fn find_account(
        &self,
        email: &str,
    ) -> impl Future<Output = Result<Option<(User, String)>, sqlx::Error>> + Send;

    /// The user and its first session, in one transaction.
    fn create_account(
        &self,
        account: NewAccount<'_>,
        session: &NewSession,
    ) -> impl Future<Output = Result<(), sqlx::Error>> + Send;

    fn create_session(
        &self,
        session: &NewSession,
    ) -> impl Future<Output = Result<(), sqlx::Error>> + Send;

    fn replay(
        &self,
        hash: &str,
    ) -> impl Future<Output = Result<Option<Replay>, sqlx::Error>> + Send;

    fn token_in_session(
        &self,
        hash: &str,
        sid: &str,
    ) -> impl Future<Output = Result<Option<TokenState>, sqlx::Error>> + Send;

    fn mark_lost_answer(
        &self,
        parent_hash: &str,
        child_hash: &str,
        sid: &str,
        now: i64,
    ) -> impl Future<Output = Result<bool, sqlx::Error>> + Send;

    fn live_session(
        &self,
        sid: &str,
        now: i64,
    ) -> impl Future<Output = Result<Option<(User, i64)>, sqlx::Error>> + Send;

    fn session_live(
        &self,
        sid: &str,
        unspent: Option<&str>,
        now: i64,
    ) -> impl Future<Output = Result<bool, sqlx::Error>> + Send;

    fn session_of_token(
        &self,
        hash: &str,
    ) -> impl Future<Output = Result<Option<String>, sqlx::Error>> + Send;

    fn revoke_session(
        &self,
        sid: &str,
        user_id: Option<&str>,
        now: i64,
    ) -> impl Future<Output = Result<bool, sqlx::Error>> + Send;

    fn revoke_user(
        &self,
        user_id: &str,
        now: i64,
    ) -> impl Future<Output = Result<u64, sqlx::Error>> + Send;

    fn count_sessions(
        &self,
        user_id: &str,
        now: i64,
        cap: u32,
    ) -> impl Future<Output = Result<u64, sqlx::Error>> + Send;

    fn list_sessions(
        &self,
        user_id: &str,
        now: i64,
    ) -> impl Future<Output = Result<Vec<StoredSession>, sqlx::Error>> + Send;

    /// Sessions first, then their tokens: two statements, no transaction.
    fn sweep_sessions(
        &self,
        now: i64,
        spent_before: i64,
    ) -> impl Future<Output = Result<(), sqlx::Error>> + Send;

    fn sweep_keys(
        &self,
        created_before: i64,
    ) -> impl Future<Output = Result<(), sqlx::Error>> + Send;

    fn sweep_buckets(&self, now: i64) -> impl Future<Output = Result<(), sqlx::Error>> + Send;

    fn claim_key(
        &self,
        user_id: &str,
        key: &str,
        fingerprint: &str,
        now: i64,
    ) -> impl Future<Output = Result<bool, sqlx::Error>> + Send;

    fn read_key(
        &self,
        user_id: &str,
        key: &str,
    ) -> impl Future<Output = Result<Option<IdempotencyRecord>, sqlx::Error>> + Send;

    fn finish_key(
        &self,
        user_id: &str,
        key: &str,
        status: i32,
        headers: &str,
        body: &str,
    ) -> impl Future<Output = Result<(), sqlx::Error>> + Send;

    fn release_key(
        &self,
        user_id: &str,
        key: &str,
    ) -> impl Future<Output = Result<(), sqlx::Error>> + Send;

    fn take_bucket(
        &self,
        bucket: &str,
        now: i64,
        t: i64,
        burst: i64,
    ) -> impl Future<Output = Result<Option<i64>, sqlx::Error>> + Send;
}

impl<DB> Statements for Pool<DB>
where
    DB: Database,
    for<'q> DB::Arguments<'q>: sqlx::IntoArguments<'q, DB>,
    for<'c> &'c mut DB::Connection: sqlx::Executor<'c, Database = DB>,
    for<'c> &'c Pool<DB>: sqlx::Executor<'c, Database = DB>,
    for<'q> &'q str: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
    for<'q> Option<&'q str>: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
    for<'q> i64: sqlx::Encode<'q, DB> + sqlx::Decode<'q, DB> + sqlx::Type<DB>,
    for<'q> i32: sqlx::Encode<'q, DB> + sqlx::Decode<'q, DB> + sqlx::Type<DB>,
    for<'r> String: sqlx::Decode<'r, DB> + sqlx::Type<DB>,
    for<'a> &'a str: sqlx::ColumnIndex<DB::Row>,
    DB::QueryResult: RowsAffected,
{
    async fn find_account(&self, email: &str) -> Result<Option<(User, String)>, sqlx::Error> {
        let row = sqlx::query(FIND_ACCOUNT)
            .bind(email)
            .fetch_optional(self)
            .await?;
        row.map(|r| Ok((user_of(&r)?, r.try_get("password_hash")?)))
            .transpose()
    }

    /// The user and its first session, in one transaction.
    async fn create_account(
        &self,
        account: NewAccount<'_>,
        session: &NewSession,
    ) -> Result<(), sqlx::Error> {
        let mut tx = self.begin().await?;
        sqlx::query(INSERT_USER)
            .bind(account.user.id.as_str())
            .bind(account.user.email.as_str())
            .bind(account.password_hash)
            .bind(account.now)
            .execute(&mut *tx)
            .await?;
        insert_session(&mut tx, session).await?;
        tx.commit().await
    }

    async fn create_session(&self, session: &NewSession) -> Result<(), sqlx::Error> {
        let mut tx = self.begin().await?;
        insert_session(&mut tx, session).await?;
        tx.commit().await
    }

    async fn replay(&self, hash: &str) -> Result<Option<Replay>, sqlx::Error> {
        let row = sqlx::query(REPLAY).bind(hash).fetch_optional(self).await?;
        row.map(|r| {
            Ok(Replay {
                session_id: r.try_get("session_id")?,
                user_id: r.try_get("user_id")?,
                spent_at: r.try_get("spent_at")?,
                session_revoked: r.try_get::<Option<i64>, _>("revoked_at")?.is_some(),
            })
        })
        .transpose()
    }

    async fn token_in_session(
        &self,
        hash: &str,
        sid: &str,
    ) -> Result<Option<TokenState>, sqlx::Error> {
        let row = sqlx::query(TOKEN_IN_SESSION)
            .bind(hash)
            .bind(sid)
            .fetch_optional(self)
            .await?;
        row.map(|r| {
            Ok(TokenState {
                spent_at: r.try_get("spent_at")?,
                expires_at: r.try_get("expires_at")?,
            })
        })
        .transpose()
    }

    async fn mark_lost_answer(
        &self,
        parent_hash: &str,
        child_hash: &str,
        sid: &str,
        now: i64,
    ) -> Result<bool, sqlx::Error> {
        let marked = sqlx::query(MARK_LOST_ANSWER)
            .bind(now)
            .bind(parent_hash)
            .bind(child_hash)
            .bind(sid)
            .execute(self)
            .await?;
        Ok(marked.rows_affected() == 1)
    }

    async fn live_session(&self, sid: &str, now: i64) -> Result<Option<(User, i64)>, sqlx::Error> {
        let row = sqlx::query(LIVE_SESSION)
            .bind(sid)
            .bind(now)
            .fetch_optional(self)
            .await?;
        row.map(|r| Ok((user_of(&r)?, r.try_get("expires_at")?)))
            .transpose()
    }

    async fn session_live(
        &self,
        sid: &str,
        unspent: Option<&str>,
        now: i64,
    ) -> Result<bool, sqlx::Error> {
        let row = match unspent {
            None => {
                sqlx::query(SESSION_LIVE)
                    .bind(sid)
                    .bind(now)
                    .fetch_optional(self)
                    .await?
            }
            Some(hash) => {
                sqlx::query(SESSION_AND_TOKEN_LIVE)
                    .bind(sid)
                    .bind(now)
                    .bind(hash)
                    .fetch_optional(self)
                    .await?
            }
        };
        Ok(row.is_some())
    }

    async fn session_of_token(&self, hash: &str) -> Result<Option<String>, sqlx::Error> {
        sqlx::query(SESSION_OF_TOKEN)
            .bind(hash)
            .fetch_optional(self)
            .await?
            .map(|r| r.try_get("session_id"))
            .transpose()
    }

    async fn revoke_session(
        &self,
        sid: &str,
        user_id: Option<&str>,
        now: i64,
    ) -> Result<bool, sqlx::Error> {
        let done = sqlx::query(REVOKE_SESSION)
            .bind(now)
            .bind(sid)
            .bind(user_id)
            .execute(self)
            .await?;
        Ok(done.rows_affected() == 1)
    }

    async fn revoke_user(&self, user_id: &str, now: i64) -> Result<u64, sqlx::Error> {
        let done = sqlx::query(REVOKE_USER)
            .bind(now)
            .bind(user_id)
            .execute(self)
            .await?;
        Ok(done.rows_affected())
    }

    async fn count_sessions(&self, user_id: &str, now: i64, cap: u32) -> Result<u64, sqlx::Error> {
        let row = sqlx::query(COUNT_SESSIONS)
            .bind(user_id)
            .bind(now)
            .bind(i64::from(cap))
            .fetch_one(self)
            .await?;
        Ok(row.try_get::<i64, _>("n")?.max(0) as u64)
    }

    async fn list_sessions(
        &self,
        user_id: &str,
        now: i64,
    ) -> Result<Vec<StoredSession>, sqlx::Error> {
        let rows = sqlx::query(LIST_SESSIONS)
            .bind(user_id)
            .bind(now)
            .fetch_all(self)
            .await?;
        rows.into_iter()
            .map(|r| {
                Ok(StoredSession {
                    id: r.try_get("id")?,
                    created_at: r.try_get("created_at")?,
                    last_used_at: r.try_get("last_used_at")?,
                    user_agent: r.try_get("user_agent")?,
                })
            })
            .collect()
    }

    /// Sessions first, then their tokens: two statements, no transaction.
    async fn sweep_sessions(&self, now: i64, spent_before: i64) -> Result<(), sqlx::Error> {
        sqlx::query(SWEEP_SESSIONS)
            .bind(now)
            .bind(spent_before)
            .execute(self)
            .await?;
        sqlx::query(SWEEP_TOKENS)
            .bind(now)
            .bind(spent_before)
            .execute(self)
            .await
            .map(drop)
    }

    async fn sweep_keys(&self, created_before: i64) -> Result<(), sqlx::Error> {
        sqlx::query(SWEEP_KEYS)
            .bind(created_before)
            .execute(self)
            .await
            .map(drop)
    }

    async fn sweep_buckets(&self, now: i64) -> Result<(), sqlx::Error> {
        sqlx::query(SWEEP_BUCKETS)
            .bind(now)
            .execute(self)
            .await
            .map(drop)
    }

    async fn claim_key(
        &self,
        user_id: &str,
        key: &str,
        fingerprint: &str,
        now: i64,
    ) -> Result<bool, sqlx::Error> {
        let inserted = sqlx::query(CLAIM_KEY)
            .bind(user_id)
            .bind(key)
            .bind(fingerprint)
            .bind(now)
            .execute(self)
            .await?;
        Ok(inserted.rows_affected() == 1)
    }

    async fn read_key(
        &self,
        user_id: &str,
        key: &str,
    ) -> Result<Option<IdempotencyRecord>, sqlx::Error> {
        let row = sqlx::query(READ_KEY)
            .bind(user_id)
            .bind(key)
            .fetch_optional(self)
            .await?;
        row.map(|r| {
            Ok(IdempotencyRecord {
                fingerprint: r.try_get("fingerprint")?,
                status: r.try_get("status")?,
                headers: r.try_get("headers")?,
                body: r.try_get("body")?,
                created_at: r.try_get("created_at")?,
            })
        })
        .transpose()
    }

    async fn finish_key(
        &self,
        user_id: &str,
        key: &str,
        status: i32,
        headers: &str,
        body: &str,
    ) -> Result<(), sqlx::Error> {
        sqlx::query(FINISH_KEY)
            .bind(status)
            .bind(headers)
            .bind(body)
            .bind(user_id)
            .bind(key)
            .execute(self)
            .await
            .map(drop)
    }

    async fn release_key(&self, user_id: &str, key: &str) -> Result<(), sqlx::Error> {
        sqlx::query(RELEASE_KEY)
            .bind(user_id)
            .bind(key)
            .execute(self)
            .await
            .map(drop)
    }

    async fn take_bucket(
        &self,
        bucket: &str,
        now: i64,
        t: i64,
        burst: i64,
    ) -> Result<Option<i64>, sqlx::Error> {
        let taken = sqlx::query(TAKE_BUCKET)
            .bind(bucket)
            .bind(now)
            .bind(t)
            .bind(burst)
            .fetch_optional(self)
            .await?;
        if taken.is_some() {
            return Ok(None);
        }
        let tat = sqlx::query(BUCKET)
            .bind(bucket)
            .fetch_optional(self)
            .await?
            .map(|r| r.try_get::<i64, _>("tat"))
            .transpose()?;
        Ok(Some(tat.unwrap_or(now)))
    }
}

/// Inserts a session and its first refresh token inside `tx`.
pub(crate) async fn insert_session<DB>(
    tx: &mut sqlx::Transaction<'static, DB>,
    s: &NewSession,
) -> Result<(), sqlx::Error>
where
    DB: Database,
    for<'q> DB::Arguments<'q>: sqlx::IntoArguments<'q, DB>,
    for<'c> &'c mut DB::Connection: sqlx::Executor<'c, Database = DB>,
    for<'q> &'q str: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
    for<'q> Option<&'q str>: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
    for<'q> i64: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
{
    sqlx::query(INSERT_SESSION)
        .bind(s.id.as_str())
        .bind(s.user_id.as_str())
        .bind(s.now)
        .bind(s.expires_at)
        .bind(s.user_agent.as_deref())
        .execute(&mut **tx)
        .await?;
    sqlx::query(INSERT_FIRST_TOKEN)
        .bind(s.refresh_hash.as_str())
        .bind(s.id.as_str())
        .bind(s.now)
        .bind(s.expires_at)
        .execute(&mut **tx)
        .await
        .map(drop)
}
