//! Which sessions are live, remembered for a short while so that an authenticated request needs
//! no database query (docs/operations.md, "Several instances"):
//!
//! - every revocation through this engine forgets the session (or all of a user's) at once;
//! - on PostgreSQL, revocations are also announced with `NOTIFY`, and every instance listening
//!   forgets them within moments;
//! - whatever else happens (another process on the same SQLite file, a lost notification), an
//!   entry is believed for at most `ttl` before the database is asked again.

use crate::types::User;
use std::{
    collections::HashMap,
    sync::RwLock,
    time::{Duration, Instant},
};

/// Entries kept at most (a bound against many sessions: the oldest half goes when it is full).
const MAX_ENTRIES: usize = 100_000;

struct Entry {
    user: User,
    /// When the session itself expires (ms since the epoch).
    expires_at: i64,
    checked: Instant,
}

pub(crate) struct LiveSessions {
    ttl: Duration,
    map: RwLock<HashMap<String, Entry>>,
    /// Bumped by every forgetting: a database answer read before a revocation must not be
    /// remembered after it.
    revision: std::sync::atomic::AtomicU64,
}

impl LiveSessions {
    pub fn new(ttl: Duration) -> Self {
        Self {
            ttl,
            map: RwLock::new(HashMap::new()),
            revision: std::sync::atomic::AtomicU64::new(0),
        }
    }

    /// The session's user when it was seen live less than `ttl` ago and has not expired since.
    pub fn get(&self, sid: &str, now_ms: i64) -> Option<User> {
        if self.ttl.is_zero() {
            return None;
        }
        let map = self.map.read().expect("live sessions poisoned");
        let e = map.get(sid)?;
        (e.checked.elapsed() < self.ttl && e.expires_at > now_ms).then(|| e.user.clone())
    }

    /// The revision to pass to [`put`](Self::put), read before asking the database.
    pub fn revision(&self) -> u64 {
        self.revision.load(std::sync::atomic::Ordering::SeqCst)
    }

    fn bump(&self) {
        self.revision
            .fetch_add(1, std::sync::atomic::Ordering::SeqCst);
    }

    /// Remembers a session the database said was live, unless something was forgotten since
    /// `revision` was read (the answer may predate a revocation).
    pub fn put(&self, revision: u64, sid: &str, user: User, expires_at: i64) {
        if self.ttl.is_zero() {
            return;
        }
        let mut map = self.map.write().expect("live sessions poisoned");
        if self.revision() != revision {
            return;
        }
        if map.len() >= MAX_ENTRIES {
            let ttl = self.ttl;
            map.retain(|_, e| e.checked.elapsed() < ttl);
            if map.len() >= MAX_ENTRIES {
                map.clear();
            }
        }
        map.insert(
            sid.to_owned(),
            Entry {
                user,
                expires_at,
                checked: Instant::now(),
            },
        );
        crate::server::metrics::live_sessions_remembered(map.len());
    }

    pub fn forget(&self, sid: &str) {
        let mut map = self.map.write().expect("live sessions poisoned");
        self.bump();
        map.remove(sid);
    }

    pub fn forget_user(&self, user_id: &str) {
        let mut map = self.map.write().expect("live sessions poisoned");
        self.bump();
        map.retain(|_, e| e.user.id != user_id);
    }

    pub fn forget_all(&self) {
        let mut map = self.map.write().expect("live sessions poisoned");
        self.bump();
        map.clear();
    }

    /// Applies an announced revocation (`s:<sid>` or `u:<user id>`).
    pub fn apply(&self, payload: &str) {
        match payload.split_once(':') {
            Some(("s", sid)) => self.forget(sid),
            Some(("u", user)) => self.forget_user(user),
            _ => self.forget_all(),
        }
    }

    pub fn prune(&self) {
        let ttl = self.ttl;
        let mut map = self.map.write().expect("live sessions poisoned");
        map.retain(|_, e| e.checked.elapsed() < ttl);
        crate::server::metrics::live_sessions_remembered(map.len());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn user(id: &str) -> User {
        User {
            id: id.into(),
            email: format!("{id}@example.com"),
            email_verified: false,
        }
    }

    #[test]
    fn a_live_session_is_remembered_until_revoked_or_stale() {
        let live = LiveSessions::new(Duration::from_secs(60));
        for (sid, u) in [("s1", "u1"), ("s2", "u1"), ("s3", "u2")] {
            live.put(live.revision(), sid, user(u), i64::MAX);
        }
        assert_eq!(live.get("s1", 0), Some(user("u1")));
        live.forget("s1");
        assert_eq!(live.get("s1", 0), None);
        live.apply("u:u1");
        assert_eq!(live.get("s2", 0), None, "sign out everywhere");
        assert!(live.get("s3", 0).is_some(), "another user is untouched");
        live.put(live.revision(), "s4", user("u3"), 1_000);
        assert_eq!(live.get("s4", 2_000), None, "the session itself expired");
        let stale = LiveSessions::new(Duration::from_millis(1));
        stale.put(stale.revision(), "s", user("u"), i64::MAX);
        std::thread::sleep(Duration::from_millis(5));
        assert_eq!(stale.get("s", 0), None, "believed for at most the ttl");
        let off = LiveSessions::new(Duration::ZERO);
        off.put(off.revision(), "s", user("u"), i64::MAX);
        assert_eq!(off.get("s", 0), None);
    }

    #[test]
    fn an_answer_read_before_a_revocation_is_not_remembered_after_it() {
        let live = LiveSessions::new(Duration::from_secs(60));
        let before = live.revision();
        live.forget("s1"); // a revocation lands while the lookup is in flight
        live.put(before, "s1", user("u1"), i64::MAX);
        assert_eq!(live.get("s1", 0), None);
    }
}
