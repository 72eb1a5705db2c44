//! One rotation per refresh token per process (DESIGN §3): concurrent refreshes presenting the
//! same token join the rotation in flight, keyed by the token's hash, and its result is kept for
//! the reuse grace window so late joiners converge on the same pair.

use super::{sessions::RefreshFailure, Issued};
use std::{
    collections::HashMap,
    future::Future,
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};
use tokio::sync::OnceCell;

type Cell = Arc<OnceCell<Result<Issued, RefreshFailure>>>;

pub(super) struct Flights {
    keep: Duration,
    map: Mutex<HashMap<String, (Instant, Cell)>>,
}

impl Flights {
    pub fn new(keep: Duration) -> Self {
        Self {
            keep,
            map: Mutex::new(HashMap::new()),
        }
    }

    /// Runs `rotate` once for `key`, however many callers arrive while it runs or within the
    /// grace window after it finished. A transient failure is not kept: the next caller retries.
    pub async fn run<F, Fut>(&self, key: &str, rotate: F) -> Result<Issued, RefreshFailure>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<Issued, RefreshFailure>>,
    {
        let cell = {
            let mut map = self.map.lock().expect("flight map poisoned");
            let now = Instant::now();
            if map.len() > 4096 {
                let keep = self.keep;
                map.retain(|_, (at, _)| now.duration_since(*at) <= keep);
            }
            match map.get(key) {
                Some((at, cell)) if now.duration_since(*at) <= self.keep => cell.clone(),
                _ => {
                    let cell = Cell::default();
                    map.insert(key.to_owned(), (now, cell.clone()));
                    cell
                }
            }
        };
        let result = cell.get_or_init(rotate).await.clone();
        if matches!(result, Err(RefreshFailure::Unavailable)) {
            let mut map = self.map.lock().expect("flight map poisoned");
            if map.get(key).is_some_and(|(_, c)| Arc::ptr_eq(c, &cell)) {
                map.remove(key);
            }
        }
        result
    }

    pub fn prune(&self) {
        let now = Instant::now();
        let keep = self.keep;
        self.map
            .lock()
            .expect("flight map poisoned")
            .retain(|_, (at, _)| now.duration_since(*at) <= keep);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::types::User;
    use std::sync::atomic::{AtomicUsize, Ordering};

    fn issued(n: usize) -> Issued {
        Issued {
            user: User {
                id: "u".into(),
                email: "e".into(),
            },
            session_id: "s".into(),
            access_token: format!("a{n}"),
            access_max_age: 1,
            refresh_token: format!("r{n}"),
            refresh_max_age: 1,
        }
    }

    #[tokio::test]
    async fn concurrent_callers_share_one_rotation() {
        let flights = Arc::new(Flights::new(Duration::from_secs(10)));
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
        for t in tasks {
            assert_eq!(t.await.unwrap().unwrap().refresh_token, "r0");
        }
        assert_eq!(runs.load(Ordering::SeqCst), 1);
    }

    #[tokio::test]
    async fn a_transient_failure_is_retried_by_the_next_caller() {
        let flights = Flights::new(Duration::from_secs(10));
        let first = flights
            .run("k", || async { Err(RefreshFailure::Unavailable) })
            .await;
        assert!(matches!(first, Err(RefreshFailure::Unavailable)));
        let second = flights.run("k", || async { Ok(issued(1)) }).await;
        assert_eq!(second.unwrap().refresh_token, "r1");
    }
}
