//! The owner traits both backends answer alike, implemented once: for any [`SqlBackend`] (a
//! backend's native pool, its write turn and its own rotation), [`AccountStore`],
//! [`SessionStore`] and [`IdempotencyStore`] are the [`Statements`] on its pool, after the write
//! turn where the backend has one. A backend's file then holds only what it does its own way: a
//! rotation, the health check, migrations, announcing revocations.

use super::model::{
    IdempotencyRecord, NewAccount, NewSession, Replay, Rotated, Rotation, StoredSession, TokenState,
};
use super::portable::Statements;
use super::traits::{AccountStore, IdempotencyStore, SessionStore};
use crate::types::User;

/// What a backend brings to the shared implementations.
#[async_trait::async_trait]
pub(crate) trait SqlBackend: Send + Sync + 'static {
    /// The backend's native pool (`SqlitePool`, `PgPool`).
    type Pool: Statements;

    fn pool(&self) -> &Self::Pool;

    /// This process's one writer at a time, where the database has one writer (SQLite: queueing
    /// here is far cheaper than spinning in its busy handler); `None` where the database takes
    /// concurrent writers itself. Account creation, session creation and marking a lost answer
    /// wait for it; a rotation takes it on its own terms.
    fn write_turn(&self) -> Option<&tokio::sync::Mutex<()>>;

    /// Spends a refresh token and issues its successor, atomically (see
    /// [`SessionStore::rotate`]): the one statement each backend writes its own way.
    async fn rotate(&self, r: Rotation<'_>) -> Result<Option<Rotated>, sqlx::Error>;
}

/// Waits for the backend's write turn, if it has one.
async fn turn<B: SqlBackend>(backend: &B) -> Option<tokio::sync::MutexGuard<'_, ()>> {
    match backend.write_turn() {
        Some(writes) => Some(writes.lock().await),
        None => None,
    }
}

#[async_trait::async_trait]
impl<B: SqlBackend> AccountStore for B {
    async fn find_account(&self, email: &str) -> Result<Option<(User, String)>, sqlx::Error> {
        self.pool().find_account(email).await
    }

    async fn create_account(
        &self,
        account: NewAccount<'_>,
        session: &NewSession,
    ) -> Result<(), sqlx::Error> {
        let _turn = turn(self).await;
        self.pool().create_account(account, session).await
    }

    async fn take_bucket(
        &self,
        bucket: &str,
        now: i64,
        t: i64,
        burst: i64,
    ) -> Result<Option<i64>, sqlx::Error> {
        self.pool().take_bucket(bucket, now, t, burst).await
    }

    async fn sweep_buckets(&self, now: i64) -> Result<(), sqlx::Error> {
        self.pool().sweep_buckets(now).await
    }
}

#[async_trait::async_trait]
impl<B: SqlBackend> SessionStore for B {
    async fn create_session(&self, session: &NewSession) -> Result<(), sqlx::Error> {
        let _turn = turn(self).await;
        self.pool().create_session(session).await
    }

    async fn rotate(&self, r: Rotation<'_>) -> Result<Option<Rotated>, sqlx::Error> {
        SqlBackend::rotate(self, r).await
    }

    async fn replay(&self, hash: &str) -> Result<Option<Replay>, sqlx::Error> {
        self.pool().replay(hash).await
    }

    async fn token_in_session(
        &self,
        hash: &str,
        sid: &str,
    ) -> Result<Option<TokenState>, sqlx::Error> {
        self.pool().token_in_session(hash, sid).await
    }

    async fn mark_lost_answer(
        &self,
        parent_hash: &str,
        child_hash: &str,
        sid: &str,
        now: i64,
    ) -> Result<bool, sqlx::Error> {
        let _turn = turn(self).await;
        self.pool()
            .mark_lost_answer(parent_hash, child_hash, sid, now)
            .await
    }

    async fn live_session(&self, sid: &str, now: i64) -> Result<Option<(User, i64)>, sqlx::Error> {
        self.pool().live_session(sid, now).await
    }

    async fn session_live(
        &self,
        sid: &str,
        unspent: Option<&str>,
        now: i64,
    ) -> Result<bool, sqlx::Error> {
        self.pool().session_live(sid, unspent, now).await
    }

    async fn session_of_token(&self, hash: &str) -> Result<Option<String>, sqlx::Error> {
        self.pool().session_of_token(hash).await
    }

    async fn revoke_session(
        &self,
        sid: &str,
        user_id: Option<&str>,
        now: i64,
    ) -> Result<bool, sqlx::Error> {
        self.pool().revoke_session(sid, user_id, now).await
    }

    async fn revoke_user(&self, user_id: &str, now: i64) -> Result<u64, sqlx::Error> {
        self.pool().revoke_user(user_id, now).await
    }

    async fn count_sessions(&self, user_id: &str, now: i64, cap: u32) -> Result<u64, sqlx::Error> {
        self.pool().count_sessions(user_id, now, cap).await
    }

    async fn list_sessions(
        &self,
        user_id: &str,
        now: i64,
    ) -> Result<Vec<StoredSession>, sqlx::Error> {
        self.pool().list_sessions(user_id, now).await
    }

    async fn sweep_sessions(&self, now: i64, spent_before: i64) -> Result<(), sqlx::Error> {
        self.pool().sweep_sessions(now, spent_before).await
    }
}

#[async_trait::async_trait]
impl<B: SqlBackend> IdempotencyStore for B {
    async fn claim_key(
        &self,
        user_id: &str,
        key: &str,
        fingerprint: &str,
        now: i64,
    ) -> Result<bool, sqlx::Error> {
        self.pool().claim_key(user_id, key, fingerprint, now).await
    }

    async fn read_key(
        &self,
        user_id: &str,
        key: &str,
    ) -> Result<Option<IdempotencyRecord>, sqlx::Error> {
        self.pool().read_key(user_id, key).await
    }

    async fn finish_key(
        &self,
        user_id: &str,
        key: &str,
        status: i32,
        headers: &str,
        body: &str,
    ) -> Result<(), sqlx::Error> {
        self.pool()
            .finish_key(user_id, key, status, headers, body)
            .await
    }

    async fn release_key(&self, user_id: &str, key: &str) -> Result<(), sqlx::Error> {
        self.pool().release_key(user_id, key).await
    }

    async fn sweep_keys(&self, created_before: i64) -> Result<(), sqlx::Error> {
        self.pool().sweep_keys(created_before).await
    }
}
