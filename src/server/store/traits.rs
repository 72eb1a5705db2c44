//! What the engine asks of its database, one trait per owner: each part of the engine holds the
//! trait it owns and nothing else (docs/architecture.md, "Storage"). Timestamps are unix
//! milliseconds; tokens and bucket names arrive hashed.
//!
//! | trait                 | owner                               |
//! |-----------------------|-------------------------------------|
//! | [`RootStore`]         | `auth.rs` (start-up, health, sweep) |
//! | [`AccountStore`]      | `accounts/` (and the mail worker)   |
//! | [`SessionStore`]      | `sessions/`                         |
//! | [`AnnouncementStore`] | `sessions/` (liveness), `auth.rs`   |
//! | [`IdempotencyStore`]  | `http/idempotency.rs`               |
//!
//! Account recovery's storage is [`RecoveryStore`](super::recovery::RecoveryStore), beside its
//! one implementation.

use super::model::{
    Backend, IdempotencyRecord, NewAccount, NewSession, OnAnnouncement, Replay, Rotated, Rotation,
    StoredSession, TokenState,
};
use crate::types::User;

/// The database as a whole: which backend, its migrations, whether it takes writes.
#[async_trait::async_trait]
pub(crate) trait RootStore: Send + Sync + 'static {
    fn backend(&self) -> Backend;

    /// Applies the engine's migrations: the legacy ones first on a database created before the
    /// prefix, then the current ones.
    async fn migrate(&self) -> Result<(), sqlx::migrate::MigrateError>;

    /// Whether the database can take the writes signing in needs.
    async fn health(&self) -> Result<(), sqlx::Error>;
}

/// Accounts and the sign-in limits kept in the database (docs/limits.md).
#[async_trait::async_trait]
pub(crate) trait AccountStore: Send + Sync + 'static {
    /// The user and their password hash; `email` is matched exactly (the caller normalises it).
    async fn find_account(&self, email: &str) -> Result<Option<(User, String)>, sqlx::Error>;

    /// Inserts the user and its first session in one transaction: a failure leaves neither (a
    /// taken email is a unique violation).
    async fn create_account(
        &self,
        account: NewAccount<'_>,
        session: &NewSession,
    ) -> Result<(), sqlx::Error>;

    /// GCRA: moves the bucket's theoretical arrival time `t` later if that stays within `burst`
    /// of `now`. `None` when it had room; else the bucket's current arrival time.
    async fn take_bucket(
        &self,
        bucket: &str,
        now: i64,
        t: i64,
        burst: i64,
    ) -> Result<Option<i64>, sqlx::Error>;

    /// Deletes the buckets that are full again (arrival time before `now`): nothing to remember.
    async fn sweep_buckets(&self, now: i64) -> Result<(), sqlx::Error>;
}

/// Sessions (refresh families) and their refresh tokens.
#[async_trait::async_trait]
pub(crate) trait SessionStore: Send + Sync + 'static {
    async fn create_session(&self, session: &NewSession) -> Result<(), sqlx::Error>;

    /// Spends the token if it is unspent, unexpired and its session live, and stores its
    /// successor: one unit, at most once per token however many instances race. `None` when the
    /// token could not be spent (nothing changed).
    async fn rotate(&self, rotation: Rotation<'_>) -> Result<Option<Rotated>, sqlx::Error>;

    /// What is known about a stored token and its session.
    async fn replay(&self, hash: &str) -> Result<Option<Replay>, sqlx::Error>;

    /// A token of session `sid`.
    async fn token_in_session(
        &self,
        hash: &str,
        sid: &str,
    ) -> Result<Option<TokenState>, sqlx::Error>;

    /// Marks the parent as replayed once, if its successor is still unspent and unexpired: `true`
    /// for the one caller that marked it.
    async fn mark_lost_answer(
        &self,
        parent_hash: &str,
        child_hash: &str,
        sid: &str,
        now: i64,
    ) -> Result<bool, sqlx::Error>;

    /// The live session's user and when it expires.
    async fn live_session(&self, sid: &str, now: i64) -> Result<Option<(User, i64)>, sqlx::Error>;

    /// Whether the session is live and, with `unspent`, that token of it unspent.
    async fn session_live(
        &self,
        sid: &str,
        unspent: Option<&str>,
        now: i64,
    ) -> Result<bool, sqlx::Error>;

    /// The session a refresh token belongs to.
    async fn session_of_token(&self, hash: &str) -> Result<Option<String>, sqlx::Error>;

    /// Revokes a session (only if it is `user_id`'s, when given): `true` if it was live.
    async fn revoke_session(
        &self,
        sid: &str,
        user_id: Option<&str>,
        now: i64,
    ) -> Result<bool, sqlx::Error>;

    /// Revokes every session of a user: how many were live.
    async fn revoke_user(&self, user_id: &str, now: i64) -> Result<u64, sqlx::Error>;

    /// Live sessions of a user, counting at most `cap`.
    async fn count_sessions(&self, user_id: &str, now: i64, cap: u32) -> Result<u64, sqlx::Error>;

    /// The user's live sessions, most recently used first.
    async fn list_sessions(
        &self,
        user_id: &str,
        now: i64,
    ) -> Result<Vec<StoredSession>, sqlx::Error>;

    /// Deletes sessions and refresh tokens that expired before `now`, and those revoked (spent)
    /// before `spent_before`.
    async fn sweep_sessions(&self, now: i64, spent_before: i64) -> Result<(), sqlx::Error>;
}

/// Revocations told to the other instances on the same database.
#[async_trait::async_trait]
pub(crate) trait AnnouncementStore: Send + Sync + 'static {
    /// Tells other instances about a revocation (`s:<sid>` or `u:<user id>`); `false` when this
    /// backend has no way to (they learn within the liveness bound instead).
    async fn announce(&self, payload: &str) -> Result<bool, sqlx::Error>;

    /// Follows other instances' announcements until `stop` fires or `on` returns `false`;
    /// returns at once on a backend without announcements.
    async fn follow_announcements(
        &self,
        on: OnAnnouncement,
        stop: tokio::sync::oneshot::Receiver<()>,
    );
}

/// Idempotency records: one answer per (user, key).
#[async_trait::async_trait]
pub(crate) trait IdempotencyStore: Send + Sync + 'static {
    /// Inserts a pending record: `true` if this caller holds the key now.
    async fn claim_key(
        &self,
        user_id: &str,
        key: &str,
        fingerprint: &str,
        now: i64,
    ) -> Result<bool, sqlx::Error>;

    async fn read_key(
        &self,
        user_id: &str,
        key: &str,
    ) -> Result<Option<IdempotencyRecord>, sqlx::Error>;

    /// Stores the final answer.
    async fn finish_key(
        &self,
        user_id: &str,
        key: &str,
        status: i32,
        headers: &str,
        body: &str,
    ) -> Result<(), sqlx::Error>;

    async fn release_key(&self, user_id: &str, key: &str) -> Result<(), sqlx::Error>;

    /// Deletes the records created before `created_before`.
    async fn sweep_keys(&self, created_before: i64) -> Result<(), sqlx::Error>;
}
