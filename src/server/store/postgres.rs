//! The store on PostgreSQL: a native `PgPool`; a rotation is one statement (one round trip);
//! revocations are announced to the other instances with `NOTIFY`. The statements both backends
//! share are [`Portable`]'s; PostgreSQL takes concurrent writers itself, so no method here waits
//! for a turn.

use super::migrations::{
    legacy_migrator, legacy_postgres_migrator, migrator, MADE_BEFORE_THE_PREFIX,
};
use super::model::{
    user_of, Backend, IdempotencyRecord, NewAccount, NewSession, OnAnnouncement, Replay, Rotated,
    Rotation, StoredSession, TokenState,
};
use super::portable::Portable;
use super::recovery::SqlRecovery;
use super::traits::{AccountStore, AnnouncementStore, IdempotencyStore, RootStore, SessionStore};
use crate::{server::metrics, types::User};
use sqlx::{
    postgres::{PgListener, PgPool},
    Postgres, Row,
};
use std::time::Duration;

/// The channel revocations are announced on; payload `s:<session id>` or `u:<user id>`.
const CHANNEL: &str = "sessionflow_revocations";

pub(crate) struct PgStore {
    pool: PgPool,
}

impl PgStore {
    pub fn new(pool: PgPool) -> Self {
        Self { pool }
    }

    /// Account recovery on the same pool; outbox rows claimed with `FOR UPDATE SKIP LOCKED`.
    pub fn recovery(&self) -> SqlRecovery<Postgres> {
        SqlRecovery::new(self.pool.clone(), None, true)
    }

    fn sql(&self) -> Portable<'_, Postgres> {
        Portable(&self.pool)
    }
}

#[async_trait::async_trait]
impl RootStore for PgStore {
    fn backend(&self) -> Backend {
        Backend::Postgres
    }

    async fn migrate(&self) -> Result<(), sqlx::migrate::MigrateError> {
        let legacy = sqlx::query_scalar::<_, i64>(MADE_BEFORE_THE_PREFIX)
            .fetch_one(&self.pool)
            .await
            .is_ok_and(|n| n > 0);
        if legacy {
            legacy_migrator().run(&self.pool).await?;
            legacy_postgres_migrator().run(&self.pool).await?;
        }
        migrator().run(&self.pool).await
    }

    async fn health(&self) -> Result<(), sqlx::Error> {
        sqlx::query("SELECT 1").execute(&self.pool).await.map(drop)
    }
}

#[async_trait::async_trait]
impl AccountStore for PgStore {
    async fn find_account(&self, email: &str) -> Result<Option<(User, String)>, sqlx::Error> {
        self.sql().find_account(email).await
    }

    async fn create_account(
        &self,
        account: NewAccount<'_>,
        session: &NewSession,
    ) -> Result<(), sqlx::Error> {
        self.sql().create_account(account, session).await
    }

    async fn take_bucket(
        &self,
        bucket: &str,
        now: i64,
        t: i64,
        burst: i64,
    ) -> Result<Option<i64>, sqlx::Error> {
        self.sql().take_bucket(bucket, now, t, burst).await
    }

    async fn sweep_buckets(&self, now: i64) -> Result<(), sqlx::Error> {
        self.sql().sweep_buckets(now).await
    }
}

#[async_trait::async_trait]
impl SessionStore for PgStore {
    async fn create_session(&self, session: &NewSession) -> Result<(), sqlx::Error> {
        self.sql().create_session(session).await
    }

    /// One statement: spend the token (the conditional update that succeeds once per token, and
    /// only while its session is live), extend the session, insert the successor, answer whose
    /// session it is. A concurrent spender waits on the row and then finds it spent.
    async fn rotate(&self, r: Rotation<'_>) -> Result<Option<Rotated>, sqlx::Error> {
        let row = sqlx::query(
            "WITH spent AS ( \
               UPDATE sessionflow_refresh_tokens t SET spent_at = $1 \
               WHERE t.hash = $2 AND t.spent_at IS NULL AND t.expires_at > $1 AND EXISTS ( \
                 SELECT 1 FROM sessionflow_sessions s \
                 WHERE s.id = t.session_id AND s.revoked_at IS NULL AND s.expires_at > $1) \
               RETURNING t.session_id), \
             extended AS ( \
               UPDATE sessionflow_sessions s SET last_used_at = $1, expires_at = $3 FROM spent \
               WHERE s.id = spent.session_id AND s.revoked_at IS NULL \
               RETURNING s.id, s.user_id), \
             child AS ( \
               INSERT INTO sessionflow_refresh_tokens (hash, session_id, created_at, expires_at) \
               SELECT $4, id, $1, $3 FROM extended) \
             SELECT e.id AS session_id, u.id, u.email, u.email_verified_at \
             FROM extended e JOIN sessionflow_users u ON u.id = e.user_id",
        )
        .bind(r.now)
        .bind(r.hash)
        .bind(r.expires_at)
        .bind(r.child_hash)
        .fetch_optional(&self.pool)
        .await?;
        row.map(|r| {
            Ok(Rotated {
                session_id: r.try_get("session_id")?,
                user: user_of(&r)?,
            })
        })
        .transpose()
    }

    async fn replay(&self, hash: &str) -> Result<Option<Replay>, sqlx::Error> {
        self.sql().replay(hash).await
    }

    async fn token_in_session(
        &self,
        hash: &str,
        sid: &str,
    ) -> Result<Option<TokenState>, sqlx::Error> {
        self.sql().token_in_session(hash, sid).await
    }

    async fn mark_lost_answer(
        &self,
        parent_hash: &str,
        child_hash: &str,
        sid: &str,
        now: i64,
    ) -> Result<bool, sqlx::Error> {
        self.sql()
            .mark_lost_answer(parent_hash, child_hash, sid, now)
            .await
    }

    async fn live_session(&self, sid: &str, now: i64) -> Result<Option<(User, i64)>, sqlx::Error> {
        self.sql().live_session(sid, now).await
    }

    async fn session_live(
        &self,
        sid: &str,
        unspent: Option<&str>,
        now: i64,
    ) -> Result<bool, sqlx::Error> {
        self.sql().session_live(sid, unspent, now).await
    }

    async fn session_of_token(&self, hash: &str) -> Result<Option<String>, sqlx::Error> {
        self.sql().session_of_token(hash).await
    }

    async fn revoke_session(
        &self,
        sid: &str,
        user_id: Option<&str>,
        now: i64,
    ) -> Result<bool, sqlx::Error> {
        self.sql().revoke_session(sid, user_id, now).await
    }

    async fn revoke_user(&self, user_id: &str, now: i64) -> Result<u64, sqlx::Error> {
        self.sql().revoke_user(user_id, now).await
    }

    async fn count_sessions(&self, user_id: &str, now: i64, cap: u32) -> Result<u64, sqlx::Error> {
        self.sql().count_sessions(user_id, now, cap).await
    }

    async fn list_sessions(
        &self,
        user_id: &str,
        now: i64,
    ) -> Result<Vec<StoredSession>, sqlx::Error> {
        self.sql().list_sessions(user_id, now).await
    }

    async fn sweep_sessions(&self, now: i64, spent_before: i64) -> Result<(), sqlx::Error> {
        self.sql().sweep_sessions(now, spent_before).await
    }
}

#[async_trait::async_trait]
impl IdempotencyStore for PgStore {
    async fn claim_key(
        &self,
        user_id: &str,
        key: &str,
        fingerprint: &str,
        now: i64,
    ) -> Result<bool, sqlx::Error> {
        self.sql().claim_key(user_id, key, fingerprint, now).await
    }

    async fn read_key(
        &self,
        user_id: &str,
        key: &str,
    ) -> Result<Option<IdempotencyRecord>, sqlx::Error> {
        self.sql().read_key(user_id, key).await
    }

    async fn finish_key(
        &self,
        user_id: &str,
        key: &str,
        status: i32,
        headers: &str,
        body: &str,
    ) -> Result<(), sqlx::Error> {
        self.sql()
            .finish_key(user_id, key, status, headers, body)
            .await
    }

    async fn release_key(&self, user_id: &str, key: &str) -> Result<(), sqlx::Error> {
        self.sql().release_key(user_id, key).await
    }

    async fn sweep_keys(&self, created_before: i64) -> Result<(), sqlx::Error> {
        self.sql().sweep_keys(created_before).await
    }
}

#[async_trait::async_trait]
impl AnnouncementStore for PgStore {
    async fn announce(&self, payload: &str) -> Result<bool, sqlx::Error> {
        sqlx::query("SELECT pg_notify($1, $2)")
            .bind(CHANNEL)
            .bind(payload)
            .execute(&self.pool)
            .await?;
        Ok(true)
    }

    async fn follow_announcements(
        &self,
        on: OnAnnouncement,
        mut stop: tokio::sync::oneshot::Receiver<()>,
    ) {
        let mut listener = loop {
            match PgListener::connect_with(&self.pool).await {
                Ok(l) => break l,
                Err(e) => {
                    tracing::warn!(error = %e, "cannot listen for revocations yet");
                    tokio::select! {
                        _ = &mut stop => return,
                        _ = tokio::time::sleep(Duration::from_secs(5)) => {}
                    }
                }
            }
        };
        if let Err(e) = listener.listen(CHANNEL).await {
            tracing::warn!(error = %e, "cannot listen for revocations");
            return;
        }
        tracing::debug!("listening for revocations from other instances");
        loop {
            let next = tokio::select! {
                _ = &mut stop => return,
                next = listener.try_recv() => next,
            };
            let go_on = match next {
                Ok(Some(n)) => {
                    tracing::debug!(payload = n.payload(), "revocation announced");
                    metrics::revocation_announcement("received");
                    on(Some(n.payload()))
                }
                // The connection dropped (it is made again on the next call): whatever was
                // announced meanwhile is lost, so nothing remembered is believed.
                Ok(None) => on(None),
                Err(e) => {
                    let go_on = on(None);
                    tracing::warn!(error = %e, "revocation listener failed; retrying");
                    tokio::time::sleep(Duration::from_secs(1)).await;
                    go_on
                }
            };
            if !go_on {
                return;
            }
        }
    }
}
