//! Sessions (refresh families) and the rotation of their refresh tokens.
//!
//! Rotation is one transaction whose first statement is a conditional update that can succeed
//! once per token (`… SET spent_at = now WHERE hash = ? AND spent_at IS NULL …`). Whoever loses
//! that race, in this process or another, sees the token as spent and takes the grace path.

use super::{
    db::now_ms,
    flight, metrics,
    metrics::{RefreshOutcome, RefreshPath},
    secs, tokens, Auth, Principal, TokenPair,
};
use crate::types::{SessionInfo, User};
use sqlx::Row;

/// Why a refresh did not produce a pair. `Invalid` is definitive (401, cookies cleared);
/// `Unavailable` is transient (503, cookies kept).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RefreshFailure {
    /// The token opens nothing (unknown, expired, revoked, or a replay that revoked its family).
    Invalid,
    /// The database did not answer; try again, keep the cookies.
    Unavailable,
}

impl From<sqlx::Error> for RefreshFailure {
    fn from(e: sqlx::Error) -> Self {
        tracing::error!(error = %e, "refresh failed on the database");
        metrics::unavailable("database");
        Self::Unavailable
    }
}

/// Longer than any refresh token this server issues (43 characters); anything longer, or empty,
/// is refused before it is hashed or looked up.
const MAX_REFRESH_TOKEN: usize = 128;

fn plausible(token: &str) -> bool {
    !token.is_empty() && token.len() <= MAX_REFRESH_TOKEN
}

/// Successors followed at most when a parent is replayed inside the grace window.
const MAX_CHAIN: usize = 16;

impl Auth {
    /// Opens a session for `user` and issues its first pair.
    pub async fn start_session(
        &self,
        user: User,
        user_agent: Option<&str>,
    ) -> Result<TokenPair, sqlx::Error> {
        let _turn = self.sqlite_write_lock().await;
        let mut tx = self.db().begin().await?;
        let issued = self.open_session(&mut tx, user, user_agent).await?;
        tx.commit().await?;
        Ok(issued)
    }

    /// Inserts a session and its first refresh token inside the caller's transaction (sign-in
    /// opens its own; registration shares one with the new user row).
    pub(crate) async fn open_session(
        &self,
        tx: &mut sqlx::AnyConnection,
        user: User,
        user_agent: Option<&str>,
    ) -> Result<TokenPair, sqlx::Error> {
        let now = now_ms();
        let sid = uuid::Uuid::new_v4().to_string();
        let refresh = tokens::random_refresh_token();
        let expires = now + self.refresh_ttl_ms();
        let ua = user_agent.map(|s| s.chars().take(256).collect::<String>());
        sqlx::query(
            "INSERT INTO sessions (id, user_id, created_at, last_used_at, expires_at, user_agent) \
             VALUES ($1, $2, $3, $3, $4, $5)",
        )
        .bind(&sid)
        .bind(&user.id)
        .bind(now)
        .bind(expires)
        .bind(ua)
        .execute(&mut *tx)
        .await?;
        sqlx::query(
            "INSERT INTO refresh_tokens (hash, session_id, created_at, expires_at) VALUES ($1, $2, $3, $4)",
        )
        .bind(tokens::token_hash(&refresh))
        .bind(&sid)
        .bind(now)
        .bind(expires)
        .execute(&mut *tx)
        .await?;
        Ok(self.pair(user, sid, refresh))
    }

    /// Rotates a refresh token: one rotation per token per process, one spend per token overall,
    /// the same successor for a replay inside the grace window, the successor once more for a
    /// late replay whose answer was lost, family revocation for anything else. `path` says
    /// where the refresh was asked for (it is counted, nothing else).
    pub async fn refresh(
        &self,
        token: &str,
        path: RefreshPath,
    ) -> Result<TokenPair, RefreshFailure> {
        let mut noted = None;
        let result = self.refresh_noted(token, &mut noted).await;
        let outcome = match (&result, noted) {
            (Ok(_), Some(o)) | (Err(_), Some(o @ RefreshOutcome::ReuseRevoked)) => o,
            (Ok(_), None) => RefreshOutcome::Joined,
            (Err(RefreshFailure::Invalid), _) => RefreshOutcome::Invalid,
            (Err(RefreshFailure::Unavailable), _) => RefreshOutcome::Unavailable,
        };
        metrics::refresh_outcome(outcome);
        metrics::refresh_path(path, result.is_ok());
        result
    }

    /// [`refresh`](Self::refresh); `noted` says what this caller's own rotation did (left
    /// `None` when it joined another's).
    async fn refresh_noted(
        &self,
        token: &str,
        noted: &mut Option<RefreshOutcome>,
    ) -> Result<TokenPair, RefreshFailure> {
        if !plausible(token) {
            return Err(RefreshFailure::Invalid);
        }
        let hash = tokens::token_hash(token);
        // A cheap read first: a token that does not exist never takes a flight slot or SQLite's
        // write turn. The conditional UPDATE in `rotate` stays the authority on spending.
        let spent = match self.token_state(&hash).await? {
            None => return Err(RefreshFailure::Invalid),
            Some(spent) => spent,
        };
        let key = hash.as_str();
        let slot = &mut *noted;
        let (result, source) = self
            .0
            .flights
            .run(key, move || async move {
                if spent {
                    self.replayed(token, key, now_ms(), slot).await
                } else {
                    let started = std::time::Instant::now();
                    let rotated = self.rotate(token, key, slot).await;
                    if rotated.is_ok() {
                        metrics::rotation_duration(started.elapsed());
                    }
                    rotated
                }
            })
            .await;
        match (result, source) {
            (Ok(issued), flight::Joined::InFlight) => Ok(issued),
            // A kept result must not outlive its session (logout, revocation since).
            (Ok(issued), flight::Joined::WithinGrace) => {
                if self.session_live(&issued.session_id, None).await? {
                    Ok(issued)
                } else {
                    Err(RefreshFailure::Invalid)
                }
            }
            // Past grace, a straggler belongs to the burst only while the successor is unused;
            // otherwise it is a replay like any other, judged by the reuse rules.
            (Ok(issued), flight::Joined::PastGrace) => {
                let successor = tokens::token_hash(&issued.refresh_token);
                if self
                    .session_live(&issued.session_id, Some(&successor))
                    .await?
                {
                    Ok(issued)
                } else {
                    self.replayed(token, key, now_ms(), noted).await
                }
            }
            (failed, _) => failed,
        }
    }

    /// `Some(spent)` for a stored token, `None` for an unknown one.
    async fn token_state(&self, hash: &str) -> Result<Option<bool>, sqlx::Error> {
        let row = sqlx::query("SELECT spent_at FROM refresh_tokens WHERE hash = $1")
            .bind(hash)
            .fetch_optional(self.db())
            .await?;
        row.map(|r| Ok(r.try_get::<Option<i64>, _>("spent_at")?.is_some()))
            .transpose()
    }

    /// Whether session `sid` is live (and, with `unspent`, whether that token of it is unspent).
    async fn session_live(&self, sid: &str, unspent: Option<&str>) -> Result<bool, sqlx::Error> {
        let now = now_ms();
        let row = match unspent {
            None => sqlx::query(
                "SELECT 1 AS live FROM sessions WHERE id = $1 AND revoked_at IS NULL AND expires_at > $2",
            )
            .bind(sid)
            .bind(now)
            .fetch_optional(self.db())
            .await?,
            Some(hash) => sqlx::query(
                "SELECT 1 AS live FROM sessions s JOIN refresh_tokens t ON t.session_id = s.id \
                 WHERE s.id = $1 AND s.revoked_at IS NULL AND s.expires_at > $2 \
                 AND t.hash = $3 AND t.spent_at IS NULL",
            )
            .bind(sid)
            .bind(now)
            .bind(hash)
            .fetch_optional(self.db())
            .await?,
        };
        Ok(row.is_some())
    }

    async fn rotate(
        &self,
        token: &str,
        hash: &str,
        noted: &mut Option<RefreshOutcome>,
    ) -> Result<TokenPair, RefreshFailure> {
        let turn = self.sqlite_write_lock().await;
        let now = now_ms();
        let mut tx = self.db().begin().await?;
        let spent = sqlx::query(
            "UPDATE refresh_tokens SET spent_at = $1 \
             WHERE hash = $2 AND spent_at IS NULL AND expires_at > $1 RETURNING session_id",
        )
        .bind(now)
        .bind(hash)
        .fetch_optional(&mut *tx)
        .await?;
        let Some(row) = spent else {
            tx.rollback().await?;
            drop(turn);
            return self.replayed(token, hash, now, noted).await;
        };
        let sid: String = row.try_get("session_id")?;
        let expires = now + self.refresh_ttl_ms();
        // The session must be live; extending it answers who it belongs to in the same round
        // trip (each statement is a hop to the database's thread: they are the rotation's cost).
        let session = sqlx::query(
            "UPDATE sessions SET last_used_at = $1, expires_at = $2 \
             WHERE id = $3 AND revoked_at IS NULL AND expires_at > $1 \
             RETURNING user_id, (SELECT email FROM users WHERE users.id = sessions.user_id) AS email",
        )
        .bind(now)
        .bind(expires)
        .bind(&sid)
        .fetch_optional(&mut *tx)
        .await?;
        let Some(session) = session else {
            tx.rollback().await?;
            return Err(RefreshFailure::Invalid);
        };
        let user = User {
            id: session.try_get("user_id")?,
            email: session.try_get("email")?,
        };
        let child = self.keys().successor(token);
        sqlx::query(
            "INSERT INTO refresh_tokens (hash, session_id, created_at, expires_at) \
             VALUES ($1, $2, $3, $4)",
        )
        .bind(tokens::token_hash(&child))
        .bind(&sid)
        .bind(now)
        .bind(expires)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        *noted = Some(RefreshOutcome::Rotated);
        Ok(self.pair(user, sid, child))
    }

    /// The token was not spendable: unknown, expired, or already spent. Inside the grace window a
    /// spent token gets the newest token of its family. After it, a token whose successor was
    /// never used gets that successor once (its answer was lost on the way); anything else
    /// revokes the family (docs/protocol.md, "Reuse").
    async fn replayed(
        &self,
        token: &str,
        hash: &str,
        now: i64,
        noted: &mut Option<RefreshOutcome>,
    ) -> Result<TokenPair, RefreshFailure> {
        let row = sqlx::query(
            "SELECT t.session_id, t.spent_at, s.user_id, s.revoked_at \
             FROM refresh_tokens t JOIN sessions s ON s.id = t.session_id WHERE t.hash = $1",
        )
        .bind(hash)
        .fetch_optional(self.db())
        .await?;
        let Some(row) = row else {
            return Err(RefreshFailure::Invalid);
        };
        let sid: String = row.try_get("session_id")?;
        let user_id: String = row.try_get("user_id")?;
        let revoked: Option<i64> = row.try_get("revoked_at")?;
        let Some(spent_at) = row.try_get::<Option<i64>, _>("spent_at")? else {
            return Err(RefreshFailure::Invalid); // expired, never spent
        };
        if revoked.is_some() {
            return Err(RefreshFailure::Invalid);
        }
        let grace = self.token_config().reuse_grace.as_millis() as i64;
        if now - spent_at <= grace {
            let newest = self.newest_of_chain(token, &sid, now).await;
            if newest.is_ok() {
                *noted = Some(RefreshOutcome::Grace);
            }
            return newest;
        }
        if let Some(issued) = self.lost_answer(token, hash, &sid, now).await? {
            tracing::info!(
                user_id = %user_id,
                session_id = %sid,
                "a refresh answer was lost; its successor was handed out again, once"
            );
            *noted = Some(RefreshOutcome::LostAnswer);
            return Ok(issued);
        }
        self.revoke_family(&sid, now).await?;
        *noted = Some(RefreshOutcome::ReuseRevoked);
        tracing::warn!(
            security_event = "refresh_token_reuse",
            user_id = %user_id,
            session_id = %sid,
            "a spent refresh token was presented after the grace window; session revoked"
        );
        Err(RefreshFailure::Invalid)
    }

    /// Inside the grace window: the newest unspent token of the successor chain.
    async fn newest_of_chain(
        &self,
        token: &str,
        sid: &str,
        now: i64,
    ) -> Result<TokenPair, RefreshFailure> {
        let mut current = token.to_owned();
        for _ in 0..MAX_CHAIN {
            let Some((next, spent, expires)) = self.stored_successor(&current, sid).await? else {
                break;
            };
            current = next;
            if spent.is_none() && expires > now {
                return self.pair_for_live(sid, current, now).await;
            }
        }
        Err(RefreshFailure::Invalid)
    }

    /// The stored successor of `parent` in session `sid`, with its `spent_at` and `expires_at`,
    /// under whichever accepted key rotated it (the signing key is tried first).
    async fn stored_successor(
        &self,
        parent: &str,
        sid: &str,
    ) -> Result<Option<(String, Option<i64>, i64)>, sqlx::Error> {
        for child in self.keys().successors(parent) {
            let row = sqlx::query(
                "SELECT spent_at, expires_at FROM refresh_tokens WHERE hash = $1 AND session_id = $2",
            )
            .bind(tokens::token_hash(&child))
            .bind(sid)
            .fetch_optional(self.db())
            .await?;
            if let Some(row) = row {
                return Ok(Some((
                    child,
                    row.try_get("spent_at")?,
                    row.try_get("expires_at")?,
                )));
            }
        }
        Ok(None)
    }

    /// After the grace window: the successor, if it was never used and this parent was never
    /// replayed late before. One conditional update marks the parent, so of two late replays
    /// (here or on another instance) exactly one gets the successor.
    async fn lost_answer(
        &self,
        token: &str,
        hash: &str,
        sid: &str,
        now: i64,
    ) -> Result<Option<TokenPair>, RefreshFailure> {
        let Some((child, _, _)) = self.stored_successor(token, sid).await? else {
            return Ok(None);
        };
        let _turn = self.sqlite_write_lock().await;
        let marked = sqlx::query(
            "UPDATE refresh_tokens SET replayed_at = $1 \
             WHERE hash = $2 AND replayed_at IS NULL AND EXISTS ( \
               SELECT 1 FROM refresh_tokens c \
               WHERE c.hash = $3 AND c.session_id = $4 AND c.spent_at IS NULL AND c.expires_at > $1)",
        )
        .bind(now)
        .bind(hash)
        .bind(tokens::token_hash(&child))
        .bind(sid)
        .execute(self.db())
        .await?;
        if marked.rows_affected() != 1 {
            return Ok(None);
        }
        self.pair_for_live(sid, child, now).await.map(Some)
    }

    async fn pair_for_live(
        &self,
        sid: &str,
        refresh: String,
        now: i64,
    ) -> Result<TokenPair, RefreshFailure> {
        let mut conn = self.db().acquire().await?;
        match self.live_session_user(&mut conn, sid, now).await? {
            Some(user) => Ok(self.pair(user, sid.to_owned(), refresh)),
            None => Err(RefreshFailure::Invalid),
        }
    }

    async fn live_session_user(
        &self,
        conn: &mut sqlx::AnyConnection,
        sid: &str,
        now: i64,
    ) -> Result<Option<User>, sqlx::Error> {
        let row = sqlx::query(
            "SELECT u.id, u.email FROM sessions s JOIN users u ON u.id = s.user_id \
             WHERE s.id = $1 AND s.revoked_at IS NULL AND s.expires_at > $2",
        )
        .bind(sid)
        .bind(now)
        .fetch_optional(&mut *conn)
        .await?;
        row.map(|r| {
            Ok(User {
                id: r.try_get("id")?,
                email: r.try_get("email")?,
            })
        })
        .transpose()
    }

    /// Checks that an access token's session is still live and returns its user.
    pub(crate) async fn principal(
        &self,
        claims: &tokens::Claims,
    ) -> Result<Option<Principal>, sqlx::Error> {
        let now = now_ms();
        let principal = |user: User| {
            (user.id == claims.sub).then(|| Principal {
                user,
                session_id: claims.sid.clone(),
            })
        };
        if let Some(user) = self.0.live.get(&claims.sid, now) {
            return Ok(principal(user));
        }
        let revision = self.0.live.revision();
        let row = sqlx::query(
            "SELECT u.id, u.email, s.expires_at FROM sessions s JOIN users u ON u.id = s.user_id \
             WHERE s.id = $1 AND s.revoked_at IS NULL AND s.expires_at > $2",
        )
        .bind(&claims.sid)
        .bind(now)
        .fetch_optional(self.db())
        .await?;
        let Some(row) = row else { return Ok(None) };
        let user = User {
            id: row.try_get("id")?,
            email: row.try_get("email")?,
        };
        let expires_at: i64 = row.try_get("expires_at")?;
        self.0
            .live
            .put(revision, &claims.sid, user.clone(), expires_at);
        Ok(principal(user))
    }

    /// Forgets revoked sessions here and, on PostgreSQL, tells the other instances.
    async fn revoked(&self, payload: String) {
        self.0.live.apply(&payload);
        if self.0.sqlite_writes.is_none() {
            // `SELECT pg_notify(..)` answers a `void` column, which sqlx's Any driver cannot read.
            let told = sqlx::query("SELECT 1 AS sent FROM pg_notify($1, $2)")
                .bind(super::liveness::CHANNEL)
                .bind(&payload)
                .execute(self.db())
                .await;
            match told {
                Ok(_) => metrics::revocation_announcement("sent"),
                Err(e) => {
                    tracing::warn!(error = %e, "could not announce a revocation to other instances")
                }
            }
        }
    }

    async fn revoke_family(&self, sid: &str, now: i64) -> Result<(), sqlx::Error> {
        sqlx::query("UPDATE sessions SET revoked_at = $1 WHERE id = $2 AND revoked_at IS NULL")
            .bind(now)
            .bind(sid)
            .execute(self.db())
            .await?;
        self.revoked(format!("s:{sid}")).await;
        Ok(())
    }

    /// Signs out (every path: the JSON logout and the app's sign-out): revokes the session the
    /// refresh token belongs to, and the access token's session if that is another one.
    pub async fn sign_out(
        &self,
        refresh: Option<&str>,
        access_session: Option<&str>,
    ) -> Result<(), sqlx::Error> {
        let now = now_ms();
        let from_refresh = match refresh.filter(|t| plausible(t)) {
            Some(t) => sqlx::query("SELECT session_id FROM refresh_tokens WHERE hash = $1")
                .bind(tokens::token_hash(t))
                .fetch_optional(self.db())
                .await?
                .map(|r| r.try_get::<String, _>("session_id"))
                .transpose()?,
            None => None,
        };
        for sid in [from_refresh.as_deref(), access_session]
            .into_iter()
            .flatten()
        {
            self.revoke_family(sid, now).await?;
        }
        if from_refresh.is_some()
            && access_session.is_some()
            && from_refresh.as_deref() != access_session
        {
            tracing::info!(
                "sign-out revoked two sessions: the refresh cookie's and the access token's"
            );
        }
        Ok(())
    }

    /// Revokes one session of `user_id`; `false` when it is not theirs (or does not exist).
    pub async fn revoke_session(&self, user_id: &str, sid: &str) -> Result<bool, sqlx::Error> {
        let done = sqlx::query(
            "UPDATE sessions SET revoked_at = $1 WHERE id = $2 AND user_id = $3 AND revoked_at IS NULL",
        )
        .bind(now_ms())
        .bind(sid)
        .bind(user_id)
        .execute(self.db())
        .await?;
        self.revoked(format!("s:{sid}")).await;
        Ok(done.rows_affected() == 1)
    }

    /// Revokes every session of a user ("sign out everywhere"); returns how many were live.
    pub async fn revoke_all(&self, user_id: &str) -> Result<u64, sqlx::Error> {
        let done = sqlx::query(
            "UPDATE sessions SET revoked_at = $1 WHERE user_id = $2 AND revoked_at IS NULL",
        )
        .bind(now_ms())
        .bind(user_id)
        .execute(self.db())
        .await?;
        self.revoked(format!("u:{user_id}")).await;
        Ok(done.rows_affected())
    }

    /// How many live sessions the user has, counting at most `cap` (a page that shows the
    /// number need not read every row of an account with thousands).
    pub async fn count_sessions(&self, user_id: &str, cap: u32) -> Result<u64, sqlx::Error> {
        let row = sqlx::query(
            "SELECT COUNT(*) AS n FROM (SELECT 1 FROM sessions \
             WHERE user_id = $1 AND revoked_at IS NULL AND expires_at > $2 LIMIT $3) AS live",
        )
        .bind(user_id)
        .bind(now_ms())
        .bind(i64::from(cap))
        .fetch_one(self.db())
        .await?;
        Ok(row.try_get::<i64, _>("n")?.max(0) as u64)
    }

    /// The user's live sessions, most recently used first.
    pub async fn list_sessions(&self, who: &Principal) -> Result<Vec<SessionInfo>, sqlx::Error> {
        let rows = sqlx::query(
            "SELECT id, created_at, last_used_at, user_agent FROM sessions \
             WHERE user_id = $1 AND revoked_at IS NULL AND expires_at > $2 \
             ORDER BY last_used_at DESC, created_at DESC",
        )
        .bind(&who.user.id)
        .bind(now_ms())
        .fetch_all(self.db())
        .await?;
        rows.into_iter()
            .map(|r| {
                let id: String = r.try_get("id")?;
                Ok(SessionInfo {
                    current: id == who.session_id,
                    created_at: super::db::rfc3339(r.try_get("created_at")?),
                    last_used_at: super::db::rfc3339(r.try_get("last_used_at")?),
                    user_agent: r.try_get("user_agent")?,
                    id,
                })
            })
            .collect()
    }

    /// Deletes expired sessions, revoked ones after a day, and spent tokens after a day (reuse of
    /// a token older than that is answered as unknown rather than revoking).
    pub async fn sweep(&self) -> Result<(), sqlx::Error> {
        let now = now_ms();
        let day = 24 * 3600 * 1000;
        sqlx::query("DELETE FROM sessions WHERE expires_at < $1 OR revoked_at < $2")
            .bind(now)
            .bind(now - day)
            .execute(self.db())
            .await?;
        sqlx::query("DELETE FROM refresh_tokens WHERE expires_at < $1 OR spent_at < $2")
            .bind(now)
            .bind(now - day)
            .execute(self.db())
            .await?;
        if matches!(self.0.limiter, super::limits::RateLimits::Shared(_)) {
            super::limits::sweep_shared(self.db(), now).await?;
        }
        self.sweep_idempotency(now).await
    }

    fn refresh_ttl_ms(&self) -> i64 {
        self.token_config().refresh_ttl.as_millis() as i64
    }

    fn pair(&self, user: User, session_id: String, refresh_token: String) -> TokenPair {
        let access_max_age = secs(self.token_config().access_ttl);
        let (access_token, _) = self.keys().issue(&user.id, &session_id, access_max_age);
        TokenPair {
            user,
            session_id,
            access_token,
            access_max_age,
            refresh_token,
            refresh_max_age: secs(self.token_config().refresh_ttl),
        }
    }
}
