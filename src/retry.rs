//! The browser layer's decisions, as plain Rust with no browser in sight, so they are unit-tested
//! natively with a fake clock: what a failure looks like to the hook, what the hook may answer,
//! the retry budget of one per cause, delays and timeouts, the one-refresh-at-a-time single
//! flight, and which tab refreshes when several need to at once.

use crate::error::{ApiError, ErrorCode};
use futures::{
    future::{select, Either, FutureExt, LocalBoxFuture, Shared},
    pin_mut,
};
use std::{cell::RefCell, future::Future, rc::Rc, time::Duration};

/// Attempts one call makes at most, whatever the hook answers (the first and one per cause).
pub const MAX_ATTEMPTS: u32 = 4;
/// Longest delay a hook may ask for before a retry.
pub const MAX_DELAY: Duration = Duration::from_secs(60);

/// What the global on-failure hook is told about a failed server-function call: every failure,
/// whatever its kind (docs/browser.md).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct FailureInfo {
    /// HTTP status, when a response arrived.
    pub status: Option<u16>,
    /// The contract error code of the response body, when it had one.
    pub code: Option<ErrorCode>,
    /// Response headers, names in lower case.
    pub headers: Vec<(String, String)>,
    /// The network error, when no response arrived (offline, DNS, connection reset).
    pub network_error: Option<String>,
    /// Whether the request was aborted (by `browser::abort_all_requests`).
    pub aborted: bool,
    /// The code it was aborted with.
    pub abort_code: Option<u16>,
    /// Whether the attempt ran past its timeout (and was aborted for it).
    pub timed_out: bool,
    /// The call's HTTP method.
    pub method: String,
    /// The call's URL.
    pub url: String,
    /// 1 for the first attempt, 2 for the first retry…
    pub attempt: u32,
    /// Whether a retry answer would be honoured: this cause has not been retried yet and attempts
    /// are left. A policy should not refresh for a call that cannot be re-sent.
    pub can_retry: bool,
    /// The session generation the request was sent under. A refresh (in this tab or, announced,
    /// in another) bumps it, so a failure from before that refresh just retries.
    pub generation: u64,
}

/// Why an attempt failed; the retry budget is one retry per cause.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cause {
    /// 401, or aborted with code 401 (while the session is refreshed): one cause, so a call is
    /// never refreshed for twice.
    Unauthorized,
    /// Aborted with another code, or without one.
    Aborted,
    /// The attempt ran past its timeout.
    Timeout,
    /// No response arrived.
    Network,
    /// Any other HTTP status.
    Status(u16),
}

impl FailureInfo {
    /// What the retry budget counts this failure as.
    pub fn cause(&self) -> Cause {
        if self.status == Some(401) || (self.aborted && self.abort_code == Some(401)) {
            Cause::Unauthorized
        } else if self.timed_out {
            Cause::Timeout
        } else if self.aborted {
            Cause::Aborted
        } else if let Some(status) = self.status {
            Cause::Status(status)
        } else {
            Cause::Network
        }
    }

    /// A response header (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// `Retry-After` in seconds, when the response had one.
    pub fn retry_after(&self) -> Option<Duration> {
        self.header("retry-after")?
            .trim()
            .parse::<u64>()
            .ok()
            .map(Duration::from_secs)
    }

    /// A 401 whose code a refresh can cure ([`ErrorCode::is_refreshable`]), or an abort with
    /// code 401.
    pub fn needs_refresh(&self) -> bool {
        let refreshable_401 =
            self.status == Some(401) && self.code.is_some_and(ErrorCode::is_refreshable);
        refreshable_401 || (self.aborted && self.abort_code == Some(401))
    }
}

/// The hook's answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Recovery {
    /// Send the request again now (at most once per cause).
    Retry,
    /// Send it again after this delay (capped at 60 s).
    RetryAfter(Duration),
    /// Give the caller the original failure.
    Fail,
    /// Give the caller this error instead.
    FailWith(ApiError),
}

impl Recovery {
    /// Fail as `unavailable` with a message of the hook's own (the session is kept; the call
    /// can be tried again).
    pub fn unavailable(message: impl Into<String>) -> Self {
        Self::FailWith(ApiError::new(ErrorCode::Unavailable, message))
    }
}

/// What one call ends as.
#[derive(Debug, PartialEq, Eq)]
pub enum Outcome<T, E> {
    /// The last attempt's own result.
    Done(Result<T, E>),
    /// The hook's error.
    Failed(ApiError),
}

/// Sends, and on every failure asks the hook what to do. A cause is retried at most once: when
/// the hook answers "retry" for a cause already retried, the caller gets the failure (the retry
/// budget of docs/browser.md, "Retry budget"). `send` gets the attempt number and the causes already retried;
/// `sleep` is the clock (a fake one in tests).
pub async fn with_recovery<T, E, S, SF, H, HF, Z, ZF>(
    mut send: S,
    classify: impl Fn(&Result<T, E>, u32) -> Option<FailureInfo>,
    mut hook: H,
    mut sleep: Z,
) -> Outcome<T, E>
where
    S: FnMut(u32, &[Cause]) -> SF,
    SF: Future<Output = Result<T, E>>,
    H: FnMut(FailureInfo) -> HF,
    HF: Future<Output = Recovery>,
    Z: FnMut(Duration) -> ZF,
    ZF: Future<Output = ()>,
{
    let mut retried: Vec<Cause> = Vec::new();
    let mut attempt = 1;
    loop {
        let result = send(attempt, &retried).await;
        let Some(mut info) = classify(&result, attempt) else {
            return Outcome::Done(result);
        };
        let cause = info.cause();
        let spent = retried.contains(&cause) || attempt >= MAX_ATTEMPTS;
        info.can_retry = !spent;
        match hook(info).await {
            Recovery::FailWith(e) => return Outcome::Failed(e),
            Recovery::Fail => return Outcome::Done(result),
            _ if spent => return Outcome::Done(result),
            Recovery::Retry => {}
            Recovery::RetryAfter(d) => sleep(d.min(MAX_DELAY)).await,
        }
        retried.push(cause);
        attempt += 1;
    }
}

/// `Err(())` when `fut` did not finish within `after` on the given clock.
pub async fn timeout<T, Z: Future<Output = ()>>(
    fut: impl Future<Output = T>,
    after: Z,
) -> Result<T, ()> {
    pin_mut!(fut);
    pin_mut!(after);
    match select(fut, after).await {
        Either::Left((out, _)) => Ok(out),
        Either::Right(((), _)) => Err(()),
    }
}

/// One operation at a time: callers arriving while it runs share its result; the next caller
/// after it finished starts a new one.
pub struct SingleFlight<T: Clone + 'static> {
    slot: Rc<RefCell<Option<Shared<LocalBoxFuture<'static, T>>>>>,
}

impl<T: Clone + 'static> Default for SingleFlight<T> {
    fn default() -> Self {
        Self {
            slot: Rc::default(),
        }
    }
}

impl<T: Clone + 'static> SingleFlight<T> {
    /// Joins the operation in flight, or starts `start()` as the new one.
    pub fn run<F>(&self, start: impl FnOnce() -> F) -> Shared<LocalBoxFuture<'static, T>>
    where
        F: Future<Output = T> + 'static,
    {
        if let Some(running) = self.slot.borrow().as_ref() {
            return running.clone();
        }
        let slot = self.slot.clone();
        let fut = start();
        let shared = async move {
            let out = fut.await;
            slot.borrow_mut().take();
            out
        }
        .boxed_local()
        .shared();
        *self.slot.borrow_mut() = Some(shared.clone());
        shared
    }

    /// The operation in flight, if any.
    pub fn in_flight(&self) -> Option<Shared<LocalBoxFuture<'static, T>>> {
        self.slot.borrow().clone()
    }
}

/// Which tab refreshes when several need to at once (no locks: docs/browser.md, "One refresh"). Each tab
/// that needs a refresh announces a claim and listens for a short window; the smallest claim
/// heard wins and refreshes, the others wait for its announced outcome. A tab that hears a
/// refresh already running elsewhere joins that one instead of claiming.
#[derive(Debug, Clone, Default)]
pub struct Election {
    mine: Option<u64>,
    heard: Vec<u64>,
}

impl Election {
    /// This tab claims (its random claim number).
    pub fn claim(&mut self, claim: u64) {
        self.mine = Some(claim);
    }

    /// Another tab's claim arrived.
    pub fn hear(&mut self, claim: u64) {
        self.heard.push(claim);
    }

    /// After the window: whether this tab refreshes. Ties (equal numbers) go to both, which the
    /// server's reuse grace makes harmless.
    pub fn won(&self) -> bool {
        match self.mine {
            Some(mine) => self.heard.iter().all(|&other| mine <= other),
            None => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use futures::{channel::oneshot, executor::block_on, future::join_all};
    use std::cell::Cell;

    fn info(status: Option<u16>, code: Option<ErrorCode>, abort: Option<u16>) -> FailureInfo {
        FailureInfo {
            status,
            code,
            aborted: abort.is_some(),
            abort_code: abort,
            method: "POST".into(),
            url: "/api/x".into(),
            attempt: 1,
            ..FailureInfo::default()
        }
    }

    #[test]
    fn expired_missing_and_invalid_tokens_and_401_aborts_need_a_refresh() {
        assert!(info(Some(401), Some(ErrorCode::TokenExpired), None).needs_refresh());
        assert!(info(Some(401), Some(ErrorCode::MissingToken), None).needs_refresh());
        assert!(info(Some(401), Some(ErrorCode::InvalidToken), None).needs_refresh());
        assert!(info(None, None, Some(401)).needs_refresh());
        assert!(!info(Some(401), Some(ErrorCode::InvalidCredentials), None).needs_refresh());
        assert!(!info(Some(503), Some(ErrorCode::Unavailable), None).needs_refresh());
        assert!(!info(None, None, Some(20)).needs_refresh());
    }

    #[test]
    fn causes_group_a_401_and_a_401_abort_together() {
        assert_eq!(info(Some(401), None, None).cause(), Cause::Unauthorized);
        assert_eq!(info(None, None, Some(401)).cause(), Cause::Unauthorized);
        assert_eq!(info(None, None, Some(7)).cause(), Cause::Aborted);
        assert_eq!(info(Some(503), None, None).cause(), Cause::Status(503));
        assert_eq!(info(None, None, None).cause(), Cause::Network);
        let timed_out = FailureInfo {
            timed_out: true,
            aborted: true,
            ..FailureInfo::default()
        };
        assert_eq!(timed_out.cause(), Cause::Timeout);
    }

    #[test]
    fn retry_after_is_read_from_the_headers_in_any_case() {
        let i = FailureInfo {
            headers: vec![("Retry-After".into(), " 3 ".into())],
            ..FailureInfo::default()
        };
        assert_eq!(i.retry_after(), Some(Duration::from_secs(3)));
        assert_eq!(FailureInfo::default().retry_after(), None);
    }

    /// A server that answers with `statuses` in turn (then 200), counting sends and hook calls.
    struct Script {
        statuses: Vec<u16>,
        sends: Cell<u32>,
        hooks: Cell<u32>,
        slept: RefCell<Vec<Duration>>,
    }

    impl Script {
        fn new(statuses: &[u16]) -> Self {
            Self {
                statuses: statuses.to_vec(),
                sends: Cell::new(0),
                hooks: Cell::new(0),
                slept: RefCell::default(),
            }
        }

        fn run(&self, answer: impl Fn(&FailureInfo) -> Recovery) -> Outcome<u16, u16> {
            block_on(with_recovery(
                |_, _| {
                    let n = self.sends.get();
                    self.sends.set(n + 1);
                    let status = self.statuses.get(n as usize).copied().unwrap_or(200);
                    async move {
                        if status == 200 {
                            Ok(200)
                        } else {
                            Err(status)
                        }
                    }
                },
                |r, attempt| match r {
                    Err(status) => Some(FailureInfo {
                        status: Some(*status),
                        code: (*status == 401).then_some(ErrorCode::TokenExpired),
                        attempt,
                        ..FailureInfo::default()
                    }),
                    Ok(_) => None,
                },
                |i| {
                    self.hooks.set(self.hooks.get() + 1);
                    let r = answer(&i);
                    async move { r }
                },
                |d| {
                    self.slept.borrow_mut().push(d);
                    async {}
                },
            ))
        }
    }

    #[test]
    fn a_request_failing_401_again_after_its_retry_reaches_the_caller() {
        let s = Script::new(&[401, 401, 401]);
        assert_eq!(s.run(|_| Recovery::Retry), Outcome::Done(Err(401)));
        assert_eq!(
            (s.sends.get(), s.hooks.get()),
            (2, 2),
            "one retry; the hook saw both"
        );
    }

    #[test]
    fn the_hook_is_told_when_a_retry_would_not_be_honoured() {
        let s = Script::new(&[401, 401]);
        let seen = RefCell::new(Vec::new());
        s.run(|i| {
            seen.borrow_mut().push(i.can_retry);
            Recovery::Retry
        });
        assert_eq!(*seen.borrow(), vec![true, false]);
    }

    #[test]
    fn each_cause_is_retried_once_so_a_call_can_recover_from_two_different_ones() {
        let s = Script::new(&[503, 401]);
        assert_eq!(s.run(|_| Recovery::Retry), Outcome::Done(Ok(200)));
        assert_eq!(s.sends.get(), 3);
        let s = Script::new(&[503, 503, 503]);
        assert_eq!(s.run(|_| Recovery::Retry), Outcome::Done(Err(503)));
        assert_eq!(s.sends.get(), 2);
    }

    #[test]
    fn the_hook_sees_every_failure_and_may_fail_it_or_replace_it() {
        let s = Script::new(&[403]);
        assert_eq!(s.run(|_| Recovery::Fail), Outcome::Done(Err(403)));
        assert_eq!((s.sends.get(), s.hooks.get()), (1, 1));
        let s = Script::new(&[500]);
        let out = s.run(|_| Recovery::unavailable("later"));
        assert!(matches!(out, Outcome::Failed(e) if e.message == "later"));
    }

    #[test]
    fn a_delay_asked_for_is_slept_on_the_clock_and_capped() {
        let s = Script::new(&[503, 429]);
        let out = s.run(|i| match i.status {
            Some(503) => Recovery::RetryAfter(Duration::from_secs(2)),
            _ => Recovery::RetryAfter(Duration::from_secs(3600)),
        });
        assert_eq!(out, Outcome::Done(Ok(200)));
        assert_eq!(*s.slept.borrow(), vec![Duration::from_secs(2), MAX_DELAY]);
    }

    #[test]
    fn attempts_are_numbered_and_bounded_whatever_the_hook_says() {
        let s = Script::new(&[500, 501, 502, 503, 504, 505]);
        let seen = RefCell::new(Vec::new());
        let out = s.run(|i| {
            seen.borrow_mut().push(i.attempt);
            Recovery::Retry
        });
        assert_eq!(out, Outcome::Done(Err(503)));
        assert_eq!(*seen.borrow(), vec![1, 2, 3, 4]);
        assert_eq!(s.sends.get(), MAX_ATTEMPTS);
    }

    #[test]
    fn a_timeout_fires_on_the_clock_and_not_before() {
        let finished = block_on(timeout(async { 7 }, futures::future::pending::<()>()));
        assert_eq!(
            finished,
            Ok(7),
            "the clock never reached the deadline: the result"
        );
        let expired = block_on(timeout(futures::future::pending::<u8>(), async {}));
        assert_eq!(expired, Err(()), "the deadline came first: a timeout");
    }

    #[test]
    fn concurrent_callers_share_one_refresh_and_the_next_starts_anew() {
        let flight = SingleFlight::<u32>::default();
        let starts = Rc::new(Cell::new(0));
        let (tx, rx) = oneshot::channel::<u32>();
        let mut rx = Some(rx);
        let joined: Vec<_> = (0..5)
            .map(|_| {
                let starts = starts.clone();
                let rx = rx.take();
                flight.run(move || {
                    starts.set(starts.get() + 1);
                    async move { rx.expect("only the first caller starts").await.unwrap() }
                })
            })
            .collect();
        tx.send(7).unwrap();
        assert_eq!(block_on(join_all(joined)), vec![7; 5]);
        assert_eq!(starts.get(), 1);
        assert!(flight.in_flight().is_none(), "finished flights are cleared");
        let again = flight.run(|| async { 8 });
        assert_eq!(block_on(again), 8);
    }

    #[test]
    fn of_tabs_claiming_at_once_exactly_one_wins() {
        let claims = [42u64, 7, 99, 13];
        let winners = claims
            .iter()
            .filter(|&&mine| {
                let mut e = Election::default();
                e.claim(mine);
                claims
                    .iter()
                    .filter(|&&c| c != mine)
                    .for_each(|&c| e.hear(c));
                e.won()
            })
            .count();
        assert_eq!(winners, 1);
        let mut alone = Election::default();
        alone.claim(5);
        assert!(
            alone.won(),
            "a tab alone (or without BroadcastChannel) refreshes itself"
        );
        assert!(!Election::default().won(), "no claim, no refresh");
    }
}
