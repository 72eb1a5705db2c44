//! One rotation per refresh token per process (docs/protocol.md, "Joining"): concurrent refreshes presenting the
//! same token join the rotation in flight, keyed by the token's hash, whatever the grace setting.
//! A finished result is kept for the grace window, and at least for a short
//! coalescing window ([`COALESCE`]) whatever the grace setting: requests that one client sent
//! together are one burst even when the server reads the last of them after the first rotation
//! committed. The caller re-checks the session before handing out a kept result, so a session
//! revoked meanwhile is never served from here.

use crate::server::{error::RefreshFailure, sessions::tokens::TokenPair};
use std::{
    collections::HashMap,
    future::Future,
    sync::{Arc, Mutex},
    time::Duration,
};
use tokio::{sync::OnceCell, time::Instant};

type Cell = Arc<OnceCell<Result<TokenPair, RefreshFailure>>>;

/// How long a finished rotation stays joinable even with `REFRESH_REUSE_GRACE=0s`: long enough
/// for the stragglers of one burst (a page's parallel calls, a few tabs waking together) to
/// reach the server, short enough that a replay after it is judged by the reuse rules.
pub(crate) const COALESCE: Duration = Duration::from_secs(2);

/// Entries kept at most: at 5,000 rotations a second and a 10 s grace, 50,000 are live. Tokens
/// that do not exist reach the map too (each costs one indexed update first), for the 2 s
/// coalescing window; to fill it, a flood of them would have to outrun the database's writer
/// several times over. When it is full, rotations run without joining.
const MAX_ENTRIES: usize = 100_000;

/// How often a full map may be swept of stale entries. Sweeping is O(entries): done on every
/// rotation of a full map, it was most of a rotation's own CPU under load.
const SWEEP_AT_MOST_EVERY: Duration = Duration::from_millis(500);

struct Entry {
    cell: Cell,
    /// When the rotation finished; `None` while it runs.
    done_at: Option<Instant>,
}

pub(crate) struct Flights {
    grace: Duration,
    keep: Duration,
    map: Mutex<Map>,
    /// Rotations running now (a gauge for operators).
    running: std::sync::atomic::AtomicUsize,
}

/// Counts one running rotation for as long as it lives (its future may be dropped mid-way).
struct Running<'a>(&'a std::sync::atomic::AtomicUsize);

impl<'a> Running<'a> {
    fn start(n: &'a std::sync::atomic::AtomicUsize) -> Self {
        let now = n.fetch_add(1, std::sync::atomic::Ordering::Relaxed) + 1;
        crate::server::metrics::rotations_in_flight(now);
        Self(n)
    }
}

impl Drop for Running<'_> {
    fn drop(&mut self) {
        let now = self.0.fetch_sub(1, std::sync::atomic::Ordering::Relaxed) - 1;
        crate::server::metrics::rotations_in_flight(now);
    }
}

struct Map {
    entries: HashMap<String, Entry>,
    swept: Instant,
}

/// Which rotation a caller's result comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Joined {
    /// One in flight: the caller ran it or waited for it.
    InFlight,
    /// One that had finished, within the grace window.
    WithinGrace,
    /// One that finished longer ago than the grace window but within the coalescing window:
    /// the same burst only while its successor is still unused (the caller checks).
    PastGrace,
}

impl Flights {
    /// Keeps finished results for `grace`, or for [`COALESCE`] if that is longer.
    pub fn new(grace: Duration) -> Self {
        Self {
            grace,
            keep: grace.max(COALESCE),
            map: Mutex::new(Map {
                entries: HashMap::new(),
                swept: Instant::now(),
            }),
            running: Default::default(),
        }
    }

    fn is_live(&self, e: &Entry, now: Instant) -> bool {
        e.done_at
            .is_none_or(|done| now.duration_since(done) <= self.keep)
    }

    /// Runs `rotate` once for `key`, however many callers arrive while it runs or within the
    /// keep window after it finished. A transient failure is not kept: the next caller retries.
    pub async fn run<F, Fut>(
        &self,
        key: &str,
        rotate: F,
    ) -> (Result<TokenPair, RefreshFailure>, Joined)
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<TokenPair, RefreshFailure>>,
    {
        let joined = {
            let mut guard = self.map.lock().expect("flight map poisoned");
            let now = Instant::now();
            let Map {
                entries: map,
                swept,
            } = &mut *guard;
            match map.get(key) {
                Some(e) if self.is_live(e, now) => {
                    let source = match e.done_at {
                        None => Joined::InFlight,
                        Some(done) if now.duration_since(done) <= self.grace => Joined::WithinGrace,
                        Some(_) => Joined::PastGrace,
                    };
                    Some((e.cell.clone(), source))
                }
                _ => {
                    if map.len() >= MAX_ENTRIES && now.duration_since(*swept) >= SWEEP_AT_MOST_EVERY
                    {
                        map.retain(|_, e| self.is_live(e, now));
                        *swept = now;
                    }
                    (map.len() < MAX_ENTRIES).then(|| {
                        let cell = Cell::default();
                        map.insert(
                            key.to_owned(),
                            Entry {
                                cell: cell.clone(),
                                done_at: None,
                            },
                        );
                        (cell, Joined::InFlight)
                    })
                }
            }
        };
        // The map is full of rotations in flight: rotate without joining (the database's
        // conditional update still spends the token once).
        let counted = || async {
            let _running = Running::start(&self.running);
            rotate().await
        };
        let Some((cell, source)) = joined else {
            return (counted().await, Joined::InFlight);
        };
        let result = cell.get_or_init(counted).await.clone();
        let mut guard = self.map.lock().expect("flight map poisoned");
        let map = &mut guard.entries;
        if let Some(e) = map.get_mut(key).filter(|e| Arc::ptr_eq(&e.cell, &cell)) {
            if matches!(result, Err(RefreshFailure::Unavailable)) {
                map.remove(key);
            } else if e.done_at.is_none() {
                e.done_at = Some(Instant::now());
            }
        }
        (result, source)
    }

    pub fn prune(&self) {
        let now = Instant::now();
        let mut guard = self.map.lock().expect("flight map poisoned");
        guard.entries.retain(|_, e| self.is_live(e, now));
        guard.swept = now;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::types::User;
    use std::sync::atomic::{AtomicUsize, Ordering};

    fn issued(n: usize) -> TokenPair {
        TokenPair {
            user: User {
                id: "u".into(),
                email: "e".into(),
                email_verified: false,
            },
            session_id: "s".into(),
            access_token: format!("a{n}"),
            access_max_age: 1,
            refresh_token: format!("r{n}"),
            refresh_max_age: 1,
        }
    }

    async fn concurrent(flights: Arc<Flights>) -> (Vec<String>, usize) {
        let runs = Arc::new(AtomicUsize::new(0));
        let tasks: Vec<_> = (0..16)
            .map(|_| {
                let (flights, runs) = (flights.clone(), runs.clone());
                tokio::spawn(async move {
                    flights
                        .run("k", || async move {
                            let n = runs.fetch_add(1, Ordering::SeqCst);
                            tokio::time::sleep(Duration::from_millis(20)).await;
                            Ok(issued(n))
                        })
                        .await
                })
            })
            .collect();
        let mut tokens = Vec::new();
        for t in tasks {
            tokens.push(t.await.unwrap().0.unwrap().refresh_token);
        }
        (tokens, runs.load(Ordering::SeqCst))
    }

    #[tokio::test]
    async fn concurrent_callers_share_one_rotation() {
        let (tokens, runs) = concurrent(Arc::new(Flights::new(Duration::from_secs(10)))).await;
        assert!(tokens.iter().all(|t| t == "r0"));
        assert_eq!(runs, 1);
    }

    #[tokio::test]
    async fn joining_a_rotation_in_flight_does_not_depend_on_the_grace_window() {
        let (tokens, runs) = concurrent(Arc::new(Flights::new(Duration::ZERO))).await;
        assert!(tokens.iter().all(|t| t == "r0"), "{tokens:?}");
        assert_eq!(runs, 1);
    }

    #[tokio::test]
    async fn a_finished_result_is_kept_for_the_window_and_marked_as_kept() {
        let flights = Flights::new(Duration::from_secs(10));
        let (first, source) = flights.run("k", || async { Ok(issued(1)) }).await;
        assert_eq!(
            (first.unwrap().refresh_token, source),
            ("r1".into(), Joined::InFlight)
        );
        let (again, source) = flights.run("k", || async { Ok(issued(2)) }).await;
        assert_eq!(
            (again.unwrap().refresh_token, source),
            ("r1".into(), Joined::WithinGrace)
        );
    }

    #[tokio::test(start_paused = true)]
    async fn without_grace_a_result_is_kept_for_the_coalescing_window_only() {
        let zero = Flights::new(Duration::ZERO);
        let _ = zero.run("k", || async { Ok(issued(1)) }).await;
        tokio::time::advance(COALESCE - Duration::from_millis(10)).await;
        let (straggler, source) = zero.run("k", || async { Ok(issued(2)) }).await;
        assert_eq!(
            (straggler.unwrap().refresh_token, source),
            ("r1".into(), Joined::PastGrace),
            "a straggler of the burst joins it"
        );
        tokio::time::advance(Duration::from_millis(20)).await;
        let (later, _) = zero.run("k", || async { Ok(issued(3)) }).await;
        assert_eq!(
            later.unwrap().refresh_token,
            "r3",
            "after the window a replay is the reuse rules' to judge"
        );
    }

    #[tokio::test]
    async fn a_transient_failure_is_retried_by_the_next_caller() {
        let flights = Flights::new(Duration::from_secs(10));
        let (first, _) = flights
            .run("k", || async { Err(RefreshFailure::Unavailable) })
            .await;
        assert!(matches!(first, Err(RefreshFailure::Unavailable)));
        let (second, _) = flights.run("k", || async { Ok(issued(1)) }).await;
        assert_eq!(second.unwrap().refresh_token, "r1");
    }
}
