//! What crosses the storage seam: the rows the engine hands a store and the answers it gets
//! back. Every backend and every caller imports these from here; nothing in this file knows a
//! backend.

use crate::types::User;

/// Which backend a store runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Backend {
    Sqlite,
    Postgres,
}

/// A session (refresh family) and its first refresh token, to be inserted.
pub(crate) struct NewSession {
    pub id: String,
    pub user_id: String,
    /// Kept to its first 256 characters.
    pub user_agent: Option<String>,
    /// The hash of its first refresh token.
    pub refresh_hash: String,
    pub now: i64,
    pub expires_at: i64,
}

/// An account to be inserted.
pub(crate) struct NewAccount<'a> {
    pub user: &'a User,
    pub password_hash: &'a str,
    pub now: i64,
}

/// One rotation: spend `hash` and store `child_hash` as its successor, extending the session to
/// `expires_at`.
pub(crate) struct Rotation<'a> {
    pub hash: &'a str,
    pub child_hash: &'a str,
    pub now: i64,
    pub expires_at: i64,
}

/// What a rotation that spent its token produced: the session and its user.
pub(crate) struct Rotated {
    pub session_id: String,
    pub user: User,
}

/// What is known about a token that could not be spent (docs/protocol.md#reuse).
pub(crate) struct Replay {
    pub session_id: String,
    pub user_id: String,
    /// `None`: never spent (it expired).
    pub spent_at: Option<i64>,
    pub session_revoked: bool,
}

/// A stored token's state: `spent_at` and `expires_at`.
pub(crate) struct TokenState {
    pub spent_at: Option<i64>,
    pub expires_at: i64,
}

/// A live session, as the devices page lists it.
pub(crate) struct StoredSession {
    pub id: String,
    pub created_at: i64,
    pub last_used_at: i64,
    pub user_agent: Option<String>,
}

/// An idempotency record.
pub(crate) struct IdempotencyRecord {
    pub fingerprint: String,
    pub status: Option<i32>,
    pub headers: Option<String>,
    pub body: Option<String>,
    pub created_at: i64,
}

/// Called with each revocation another instance announces (`Some(payload)`), or `None` when
/// announcements may have been missed (the connection dropped).
pub(crate) type OnAnnouncement = Box<dyn Fn(Option<&str>) -> bool + Send + Sync>;

/// The user in a row with `id`, `email` and `email_verified_at` columns.
pub(crate) fn user_of<R>(r: &R) -> Result<User, sqlx::Error>
where
    R: sqlx::Row,
    for<'a> &'a str: sqlx::ColumnIndex<R>,
    for<'r> String: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
    for<'r> Option<i64>: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
{
    Ok(User {
        id: r.try_get("id")?,
        email: r.try_get("email")?,
        email_verified: r.try_get::<Option<i64>, _>("email_verified_at")?.is_some(),
    })
}
