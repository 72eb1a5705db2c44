//! The store on PostgreSQL: a native `PgPool`; a rotation is one statement (one round trip);
//! revocations are announced to the other instances with `NOTIFY`. The owner traits both
//! backends answer alike are implemented once ([`super::shared`]); PostgreSQL takes concurrent
//! writers itself, so it has no write turn.

use super::migrations::{
    legacy_migrator, legacy_postgres_migrator, migrator, MADE_BEFORE_THE_PREFIX,
};
use super::model::{user_of, Backend, OnAnnouncement, Rotated, Rotation};
use super::recovery::SqlRecovery;
use super::shared::SqlBackend;
use super::traits::{AnnouncementStore, RootStore};
use crate::server::metrics;
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
impl SqlBackend for PgStore {
    type Pool = PgPool;

    fn pool(&self) -> &PgPool {
        &self.pool
    }

    /// PostgreSQL takes concurrent writers itself.
    fn write_turn(&self) -> Option<&tokio::sync::Mutex<()>> {
        None
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
