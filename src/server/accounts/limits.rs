//! Bounded, abuse-resistant sign-in (docs/limits.md): rate limits per client address and per
//! (address, account), and a password-hashing pool with a short queue.
//!
//! Keying by address and (address, account), never by account alone, means nobody can lock an
//! owner out from elsewhere: someone else's failures fill someone else's buckets.
//!
//! The buckets live in memory on SQLite (one instance) and in the database on PostgreSQL, so a
//! limit holds across every instance that shares it (one atomic GCRA upsert per bucket).

use crate::server::{
    config::{Limits, RateLimit},
    store::AccountStore,
};
use governor::{clock::Clock, DefaultKeyedRateLimiter, Quota, RateLimiter};
use std::{
    net::IpAddr,
    num::NonZeroU32,
    sync::{
        atomic::{AtomicUsize, Ordering},
        Arc,
    },
};
use tokio::sync::Semaphore;

/// What is being attempted; each has its own buckets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Attempt {
    SignIn,
    Register,
    /// Forgot-password and resend-verification: per client address, and per asked-about
    /// address from every client together (a mail bomb aimed at one person).
    Recovery,
}

impl Attempt {
    fn name(self) -> &'static str {
        match self {
            Self::SignIn => "sign_in",
            Self::Register => "register",
            Self::Recovery => "recovery",
        }
    }

    /// The address part of the second bucket's key: the client's, or none for recovery.
    fn account_ip(self, ip: IpAddr) -> IpAddr {
        match self {
            Self::Recovery => IpAddr::V4(std::net::Ipv4Addr::UNSPECIFIED),
            _ => ip,
        }
    }
}

/// Which bucket refused an attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Bucket {
    Address,
    Account,
}

impl Bucket {
    pub fn name(self) -> &'static str {
        match self {
            Self::Address => "address",
            Self::Account => "account",
        }
    }
}

/// An attempt refused: which bucket, and the seconds until it has room.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limited {
    pub bucket: Bucket,
    pub retry_after: u64,
}

/// Where the buckets live.
pub(crate) enum RateLimits {
    /// This process only (SQLite: one instance).
    Memory(Box<Limiter>),
    /// The database's `rate_limits` table (PostgreSQL: every instance).
    Shared(SharedLimiter),
}

impl RateLimits {
    pub fn new(limits: &Limits, shared: bool) -> Self {
        if shared {
            Self::Shared(SharedLimiter {
                per_address: limits.per_address,
                per_account: limits.per_account,
                recovery_per_email: limits.recovery_per_email,
            })
        } else {
            Self::Memory(Box::new(Limiter::new(limits)))
        }
    }

    /// Takes one attempt from the address's and then the (address, account) bucket.
    pub async fn check(
        &self,
        store: &dyn AccountStore,
        attempt: Attempt,
        ip: IpAddr,
        account: &str,
    ) -> Result<Result<(), Limited>, sqlx::Error> {
        let shared = match self {
            Self::Memory(l) => return Ok(l.check(attempt, ip, account)),
            Self::Shared(l) => l,
        };
        let by_address = format!("{}/address/{ip}", attempt.name());
        if let Some(retry_after) = take(store, &by_address, shared.per_address).await? {
            return Ok(Err(Limited {
                bucket: Bucket::Address,
                retry_after,
            }));
        }
        let by_account = format!(
            "{}/account/{}/{account}",
            attempt.name(),
            attempt.account_ip(ip)
        );
        let per_account = match attempt {
            Attempt::Recovery => shared.recovery_per_email,
            _ => shared.per_account,
        };
        if let Some(retry_after) = take(store, &by_account, per_account).await? {
            return Ok(Err(Limited {
                bucket: Bucket::Account,
                retry_after,
            }));
        }
        Ok(Ok(()))
    }

    pub fn retain_recent(&self) {
        if let Self::Memory(l) = self {
            l.retain_recent();
        }
    }
}

/// Buckets in the database: a GCRA per bucket, one conditional upsert per attempt ([`take`]).
pub(crate) struct SharedLimiter {
    per_address: RateLimit,
    per_account: RateLimit,
    recovery_per_email: RateLimit,
}

/// One attempt from bucket `name`: `None` when it had room, else the seconds to wait. GCRA: each
/// attempt moves the bucket's theoretical arrival time (`tat`) one interval `t` later, and an
/// attempt is refused when that would put it more than the whole burst ahead of now.
async fn take(
    store: &dyn AccountStore,
    name: &str,
    limit: RateLimit,
) -> Result<Option<u64>, sqlx::Error> {
    let burst = i64::from(limit.burst.max(1));
    let t = (limit.per.as_millis() as i64 / burst).max(1);
    let now = crate::server::db::now_ms();
    let bucket = crate::server::sessions::tokens::token_hash(name);
    let Some(tat) = store.take_bucket(&bucket, now, t, t * burst).await? else {
        return Ok(None);
    };
    let wait_ms = tat.max(now) + t - now - t * burst;
    Ok(Some((wait_ms.max(0) as u64).div_ceil(1000).max(1)))
}

type ByAccount = DefaultKeyedRateLimiter<(IpAddr, String)>;

pub(crate) struct Limiter {
    sign_in: (DefaultKeyedRateLimiter<IpAddr>, ByAccount),
    register: (DefaultKeyedRateLimiter<IpAddr>, ByAccount),
    recovery: (DefaultKeyedRateLimiter<IpAddr>, ByAccount),
}

fn quota(limit: RateLimit) -> Quota {
    let burst = NonZeroU32::new(limit.burst).unwrap_or(NonZeroU32::MIN);
    let every = (limit.per / burst.get()).max(std::time::Duration::from_millis(1));
    Quota::with_period(every)
        .expect("a period of at least 1 ms")
        .allow_burst(burst)
}

impl Limiter {
    pub fn new(limits: &Limits) -> Self {
        let pair = || {
            (
                RateLimiter::keyed(quota(limits.per_address)),
                RateLimiter::keyed(quota(limits.per_account)),
            )
        };
        Self {
            sign_in: pair(),
            register: pair(),
            recovery: (
                RateLimiter::keyed(quota(limits.per_address)),
                RateLimiter::keyed(quota(limits.recovery_per_email)),
            ),
        }
    }

    /// Takes one attempt from the address's and the (address, account) bucket, or says which
    /// refused and how many seconds to wait.
    pub fn check(&self, attempt: Attempt, ip: IpAddr, account: &str) -> Result<(), Limited> {
        let (by_address, by_account) = match attempt {
            Attempt::SignIn => &self.sign_in,
            Attempt::Register => &self.register,
            Attempt::Recovery => &self.recovery,
        };
        let wait = |bucket: Bucket| {
            move |not_until: governor::NotUntil<_>| {
                let now = governor::clock::DefaultClock::default().now();
                Limited {
                    bucket,
                    retry_after: not_until.wait_time_from(now).as_secs().max(1),
                }
            }
        };
        by_address.check_key(&ip).map_err(wait(Bucket::Address))?;
        by_account
            .check_key(&(attempt.account_ip(ip), account.to_owned()))
            .map_err(wait(Bucket::Account))
    }

    pub fn retain_recent(&self) {
        for (a, b) in [&self.sign_in, &self.register, &self.recovery] {
            a.retain_recent();
            b.retain_recent();
        }
    }
}

/// The hashing pool is full: answer 503 with `Retry-After`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Busy;

/// At most `workers` hashes at once, at most `queue` more waiting; everything else is refused at
/// once. A waiting job whose request went away leaves the queue without running (dropping the
/// future drops its place); a running one finishes and only then frees its worker, so the bound
/// holds even when clients hang up.
pub(crate) struct HashPool {
    workers: Arc<Semaphore>,
    admitted: Arc<Semaphore>,
    /// Workers plus queue: the admitted jobs at most.
    capacity: usize,
    running: Arc<AtomicUsize>,
    peak: Arc<AtomicUsize>,
}

impl HashPool {
    pub fn new(limits: &Limits) -> Self {
        let workers = limits.hash_workers.max(1);
        Self {
            workers: Arc::new(Semaphore::new(workers)),
            admitted: Arc::new(Semaphore::new(workers + limits.hash_queue)),
            capacity: workers + limits.hash_queue,
            running: Arc::default(),
            peak: Arc::default(),
        }
    }

    pub async fn run<R: Send + 'static>(
        &self,
        job: impl FnOnce() -> R + Send + 'static,
    ) -> Result<R, Busy> {
        let ticket = self
            .admitted
            .clone()
            .try_acquire_owned()
            .map_err(|_| Busy)?;
        let depth = || self.capacity - self.admitted.available_permits();
        crate::server::metrics::hashing_queue_depth(depth());
        let worker = self
            .workers
            .clone()
            .acquire_owned()
            .await
            .map_err(|_| Busy)?;
        let (running, peak) = (self.running.clone(), self.peak.clone());
        let out = tokio::task::spawn_blocking(move || {
            let now = running.fetch_add(1, Ordering::SeqCst) + 1;
            peak.fetch_max(now, Ordering::SeqCst);
            let out = job();
            running.fetch_sub(1, Ordering::SeqCst);
            drop((worker, ticket));
            out
        })
        .await
        .map_err(|_| Busy);
        crate::server::metrics::hashing_queue_depth(depth());
        out
    }

    #[cfg(test)]
    pub fn peak(&self) -> usize {
        self.peak.load(Ordering::SeqCst)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn limits(burst: u32, workers: usize, queue: usize) -> Limits {
        Limits {
            per_address: RateLimit {
                burst: burst * 3,
                per: Duration::from_secs(60),
            },
            per_account: RateLimit {
                burst,
                per: Duration::from_secs(60),
            },
            hash_workers: workers,
            hash_queue: queue,
            ..Limits::default()
        }
    }

    #[test]
    fn one_address_failing_on_an_account_does_not_touch_another_address() {
        let l = Limiter::new(&limits(3, 1, 1));
        let (attacker, owner): (IpAddr, IpAddr) =
            ("10.0.0.2".parse().unwrap(), "10.0.0.3".parse().unwrap());
        for _ in 0..3 {
            assert!(l.check(Attempt::SignIn, attacker, "ada").is_ok());
        }
        assert!(
            l.check(Attempt::SignIn, attacker, "ada")
                .unwrap_err()
                .retry_after
                >= 1
        );
        assert!(l.check(Attempt::SignIn, owner, "ada").is_ok());
        assert!(
            l.check(Attempt::Register, attacker, "ada").is_ok(),
            "registration has its own buckets"
        );
    }

    #[test]
    fn one_address_spraying_many_accounts_hits_its_address_bucket() {
        let l = Limiter::new(&limits(3, 1, 1));
        let ip: IpAddr = "10.0.0.9".parse().unwrap();
        let refused = (0..20)
            .filter(|i| l.check(Attempt::SignIn, ip, &format!("user{i}")).is_err())
            .count();
        assert_eq!(refused, 20 - 9);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn the_pool_runs_at_most_its_workers_and_refuses_beyond_its_queue() {
        let pool = Arc::new(HashPool::new(&limits(1, 2, 3)));
        let jobs = (0..20).map(|_| {
            let pool = pool.clone();
            tokio::spawn(async move {
                pool.run(|| std::thread::sleep(Duration::from_millis(50)))
                    .await
            })
        });
        let results = futures::future::join_all(jobs).await;
        let done = results.iter().filter(|r| matches!(r, Ok(Ok(())))).count();
        let busy = results
            .iter()
            .filter(|r| matches!(r, Ok(Err(Busy))))
            .count();
        assert_eq!(done + busy, 20);
        assert!((2..=5).contains(&done), "{done} ran");
        assert!(pool.peak() <= 2, "peak {}", pool.peak());
    }
}
