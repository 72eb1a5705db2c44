//! Sessions (refresh families) and the rotation of their refresh tokens.
//!
//! The rules live here; the SQL is in `store/` (one rotation per backend). A rotation spends its
//! token with a conditional update that can succeed once per token. Whoever loses that race, in
//! this process or another, sees the token as spent and takes the grace path.

pub(crate) mod flight;
pub(crate) mod liveness;
pub(crate) mod tokens;

pub use tokens::{Principal, TokenPair};

use crate::server::{
    config::TokenConfig,
    db::now_ms,
    error::RefreshFailure,
    metrics,
    metrics::{RefreshOutcome, RefreshPath},
    store::{AnnouncementStore, NewSession, Rotation, SessionStore, TokenState},
};
use crate::types::{Device, User};
use std::{sync::Arc, time::Duration};

/// Longer than any refresh token this server issues (43 characters); anything longer, or empty,
/// is refused before it is hashed or looked up.
const MAX_REFRESH_TOKEN: usize = 128;

fn plausible(token: &str) -> bool {
    !token.is_empty() && token.len() <= MAX_REFRESH_TOKEN
}

/// Successors followed at most when a parent is replayed inside the grace window.
const MAX_CHAIN: usize = 16;

/// Reads `ttl` as whole seconds for JWT `exp` and cookie `Max-Age`.
fn secs(d: Duration) -> i64 {
    d.as_secs().max(1) as i64
}

/// Sessions and their tokens: the store they live in, the signing keys, the rotations in
/// flight, and the sessions believed live. One per engine, owned by `Auth`.
pub(crate) struct Sessions {
    store: Arc<dyn SessionStore>,
    /// Revocations told to the other instances.
    announcements: Arc<dyn AnnouncementStore>,
    keys: tokens::Keys,
    tokens: TokenConfig,
    flights: flight::Flights,
    live: liveness::LiveSessions,
}

impl Sessions {
    pub fn new(
        store: Arc<dyn SessionStore>,
        announcements: Arc<dyn AnnouncementStore>,
        keys: tokens::Keys,
        tokens: TokenConfig,
        liveness_ttl: Duration,
    ) -> Self {
        Self {
            flights: flight::Flights::new(tokens.reuse_grace),
            live: liveness::LiveSessions::new(liveness_ttl),
            store,
            announcements,
            keys,
            tokens,
        }
    }

    fn store(&self) -> &dyn SessionStore {
        &*self.store
    }

    /// The signing and accepted keys.
    pub fn keys(&self) -> &tokens::Keys {
        &self.keys
    }

    fn token_config(&self) -> &TokenConfig {
        &self.tokens
    }

    /// Forgets what another instance announced revoked (`None`: everything, the announcements
    /// were interrupted).
    pub fn forget_announced(&self, payload: Option<&str>) {
        match payload {
            Some(p) => self.live.apply(p),
            None => self.live.forget_all(),
        }
    }

    /// Drops what is past its time: kept rotation results, sessions believed live.
    pub fn prune(&self) {
        self.flights.prune();
        self.live.prune();
    }

    /// Opens a session for `user` and issues its first pair.
    pub async fn start_session(
        &self,
        user: User,
        user_agent: Option<&str>,
    ) -> Result<TokenPair, sqlx::Error> {
        let (session, refresh) = self.new_session(&user.id, user_agent);
        self.store().create_session(&session).await?;
        Ok(self.pair(user, session.id, refresh))
    }

    /// A new session's row and its first refresh token (in clear), not yet stored.
    pub(crate) fn new_session(
        &self,
        user_id: &str,
        user_agent: Option<&str>,
    ) -> (NewSession, String) {
        let now = now_ms();
        let refresh = tokens::random_refresh_token();
        let session = NewSession {
            id: uuid::Uuid::new_v4().to_string(),
            user_id: user_id.to_owned(),
            user_agent: user_agent.map(|ua| ua.chars().take(256).collect()),
            refresh_hash: tokens::token_hash(&refresh),
            now,
            expires_at: now + self.refresh_ttl_ms(),
        };
        (session, refresh)
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
        // Straight to the rotation: its conditional update is the authority on spending, and a
        // token it cannot spend (spent, unknown, expired) takes the replay path inside the same
        // flight, so a refresh crosses to the database's thread once.
        let key = hash.as_str();
        let slot = &mut *noted;
        let (result, source) = self
            .flights
            .run(key, move || async move {
                let started = std::time::Instant::now();
                let rotated = self.rotate(token, key, slot).await;
                if rotated.is_ok() {
                    metrics::rotation_duration(started.elapsed());
                }
                rotated
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

    async fn session_live(&self, sid: &str, unspent: Option<&str>) -> Result<bool, sqlx::Error> {
        self.store().session_live(sid, unspent, now_ms()).await
    }

    async fn rotate(
        &self,
        token: &str,
        hash: &str,
        noted: &mut Option<RefreshOutcome>,
    ) -> Result<TokenPair, RefreshFailure> {
        let now = now_ms();
        let child = self.keys().successor(token);
        let rotation = Rotation {
            hash,
            child_hash: &tokens::token_hash(&child),
            now,
            expires_at: now + self.refresh_ttl_ms(),
        };
        let Some(rotated) = self.store().rotate(rotation).await? else {
            return self.replayed(token, hash, now, noted).await;
        };
        *noted = Some(RefreshOutcome::Rotated);
        Ok(self.pair(rotated.user, rotated.session_id, child))
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
        let Some(facts) = self.store().replay(hash).await? else {
            return Err(RefreshFailure::Invalid);
        };
        let (sid, user_id) = (facts.session_id, facts.user_id);
        let Some(spent_at) = facts.spent_at else {
            return Err(RefreshFailure::Invalid); // expired (or its session ended), never spent
        };
        if facts.session_revoked {
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
            let Some((next, state)) = self.stored_successor(&current, sid).await? else {
                break;
            };
            current = next;
            if state.spent_at.is_none() && state.expires_at > now {
                return self.pair_for_live(sid, current, now).await;
            }
        }
        Err(RefreshFailure::Invalid)
    }

    /// The stored successor of `parent` in session `sid`, with its state, under whichever
    /// accepted key rotated it (the signing key is tried first).
    async fn stored_successor(
        &self,
        parent: &str,
        sid: &str,
    ) -> Result<Option<(String, TokenState)>, sqlx::Error> {
        for child in self.keys().successors(parent) {
            let hash = tokens::token_hash(&child);
            if let Some(state) = self.store().token_in_session(&hash, sid).await? {
                return Ok(Some((child, state)));
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
        let Some((child, _)) = self.stored_successor(token, sid).await? else {
            return Ok(None);
        };
        let child_hash = tokens::token_hash(&child);
        if !self
            .store()
            .mark_lost_answer(hash, &child_hash, sid, now)
            .await?
        {
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
        match self.store().live_session(sid, now).await? {
            Some((user, _)) => Ok(self.pair(user, sid.to_owned(), refresh)),
            None => Err(RefreshFailure::Invalid),
        }
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
        if let Some(user) = self.live.get(&claims.sid, now) {
            return Ok(principal(user));
        }
        let revision = self.live.revision();
        let Some((user, expires_at)) = self.store().live_session(&claims.sid, now).await? else {
            return Ok(None);
        };
        self.live
            .put(revision, &claims.sid, user.clone(), expires_at);
        Ok(principal(user))
    }

    /// Forgets revoked sessions here and tells the other instances (PostgreSQL).
    async fn revoked(&self, payload: String) {
        self.live.apply(&payload);
        match self.announcements.announce(&payload).await {
            Ok(true) => metrics::revocation_announcement("sent"),
            Ok(false) => {}
            Err(e) => {
                tracing::warn!(error = %e, "could not announce a revocation to other instances")
            }
        }
    }

    /// Forgets what is believed of the user's sessions here (their user changed: an address
    /// confirmed), so the next request reads it again.
    pub fn forget_user(&self, user_id: &str) {
        self.live.forget_user(user_id);
    }

    /// The user's sessions were revoked in the database (a password reset or change): forget
    /// them here and tell the other instances, the path sign-out-everywhere takes.
    pub async fn revoked_user(&self, user_id: &str) {
        self.revoked(format!("u:{user_id}")).await;
    }

    async fn revoke_family(&self, sid: &str, now: i64) -> Result<(), sqlx::Error> {
        self.store().revoke_session(sid, None, now).await?;
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
            Some(t) => {
                self.store()
                    .session_of_token(&tokens::token_hash(t))
                    .await?
            }
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
        let done = self
            .store()
            .revoke_session(sid, Some(user_id), now_ms())
            .await?;
        self.revoked(format!("s:{sid}")).await;
        Ok(done)
    }

    /// Revokes every session of a user ("sign out everywhere"); returns how many were live.
    pub async fn revoke_all(&self, user_id: &str) -> Result<u64, sqlx::Error> {
        let done = self.store().revoke_user(user_id, now_ms()).await?;
        self.revoked(format!("u:{user_id}")).await;
        Ok(done)
    }

    /// How many live sessions the user has, counting at most `cap` (a page that shows the
    /// number need not read every row of an account with thousands).
    pub async fn count_sessions(&self, user_id: &str, cap: u32) -> Result<u64, sqlx::Error> {
        self.store().count_sessions(user_id, now_ms(), cap).await
    }

    /// The user's live sessions, most recently used first.
    pub async fn list_sessions(&self, who: &Principal) -> Result<Vec<Device>, sqlx::Error> {
        let rows = self.store().list_sessions(&who.user.id, now_ms()).await?;
        Ok(rows
            .into_iter()
            .map(|r| Device {
                current: r.id == who.session_id,
                created_at: crate::server::db::rfc3339(r.created_at),
                last_used_at: crate::server::db::rfc3339(r.last_used_at),
                user_agent: r.user_agent,
                id: r.id,
            })
            .collect())
    }

    fn refresh_ttl_ms(&self) -> i64 {
        self.token_config().refresh_ttl.as_millis() as i64
    }

    /// A new access token for a session whose refresh token stays as it is: the pair's
    /// `refresh_token` is empty, and only the access cookie is set from it.
    pub(crate) fn access_only(&self, user: User, session_id: String) -> TokenPair {
        let mut pair = self.pair(user, session_id, String::new());
        pair.refresh_max_age = 0;
        pair
    }

    pub(crate) fn pair(&self, user: User, session_id: String, refresh_token: String) -> TokenPair {
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
