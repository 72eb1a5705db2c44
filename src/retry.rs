//! The browser layer's decisions, as plain Rust with no browser in sight, so they are unit-tested
//! natively: what a failure looks like to the hook, when it calls for a refresh, the retry budget
//! of one per cause, and the one-refresh-at-a-time single flight.

use crate::error::ErrorCode;
use futures::future::{FutureExt, LocalBoxFuture, Shared};
use std::{cell::RefCell, future::Future, rc::Rc};

/// What the global on-failure hook is told about a failed server-function call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FailureInfo {
    /// HTTP status, when a response arrived.
    pub status: Option<u16>,
    /// The contract error code of the response body, when it had one.
    pub code: Option<ErrorCode>,
    /// Whether the request was aborted (by [`abort_all_requests`](crate::browser::abort_all_requests)).
    pub aborted: bool,
    /// The code it was aborted with.
    pub abort_code: Option<u16>,
    pub method: String,
    pub url: String,
    /// The session generation the request was sent under. A refresh (in this tab or, announced,
    /// in another) bumps it, so a failure from before that refresh just retries.
    pub generation: u64,
}

impl FailureInfo {
    /// The failures a refresh can cure: 401 `token_expired` / `missing_token`, or an abort with
    /// code 401 (the hook aborted it while refreshing for another request).
    pub fn needs_refresh(&self) -> bool {
        let refreshable_401 =
            self.status == Some(401) && self.code.is_some_and(ErrorCode::is_refreshable);
        refreshable_401 || (self.aborted && self.abort_code == Some(401))
    }
}

/// The hook's answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Recovery {
    /// Send the request again (once).
    Retry,
    /// Give the caller the original failure.
    Fail,
    /// Give the caller an `unavailable` error with this message (e.g. the refresh hit a network
    /// error: the session is kept and the call can be tried again).
    Unavailable(String),
}

/// What one call ends as, after at most one retry.
#[derive(Debug, PartialEq, Eq)]
pub enum Outcome<T, E> {
    Done(Result<T, E>),
    Unavailable(String),
}

/// Sends, and on a failure the hook recognises asks it what to do: the request is re-sent at most
/// once, whatever the second attempt answers (the retry budget of DESIGN browser §2).
pub async fn with_recovery<T, E, S, SF, H, HF>(
    mut send: S,
    classify: impl Fn(&Result<T, E>) -> Option<FailureInfo>,
    hook: H,
) -> Outcome<T, E>
where
    S: FnMut(bool) -> SF,
    SF: Future<Output = Result<T, E>>,
    H: FnOnce(FailureInfo) -> HF,
    HF: Future<Output = Recovery>,
{
    let first = send(false).await;
    let Some(info) = classify(&first) else {
        return Outcome::Done(first);
    };
    match hook(info).await {
        Recovery::Retry => Outcome::Done(send(true).await),
        Recovery::Fail => Outcome::Done(first),
        Recovery::Unavailable(message) => Outcome::Unavailable(message),
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
            generation: 0,
        }
    }

    #[test]
    fn only_refreshable_401s_and_401_aborts_need_a_refresh() {
        assert!(info(Some(401), Some(ErrorCode::TokenExpired), None).needs_refresh());
        assert!(info(Some(401), Some(ErrorCode::MissingToken), None).needs_refresh());
        assert!(info(None, None, Some(401)).needs_refresh());
        assert!(!info(Some(401), Some(ErrorCode::InvalidCredentials), None).needs_refresh());
        assert!(!info(Some(500), Some(ErrorCode::Unavailable), None).needs_refresh());
        assert!(!info(None, None, Some(20)).needs_refresh());
    }

    fn classify(r: &Result<u16, u16>) -> Option<FailureInfo> {
        match r {
            Err(401) => Some(info(Some(401), Some(ErrorCode::TokenExpired), None)),
            _ => None,
        }
    }

    #[test]
    fn a_request_failing_401_again_after_the_retry_reaches_the_caller() {
        let sends = Cell::new(0);
        let hooks = Cell::new(0);
        let out = block_on(with_recovery(
            |_| {
                sends.set(sends.get() + 1);
                async { Err::<u16, u16>(401) }
            },
            classify,
            |_| {
                hooks.set(hooks.get() + 1);
                async { Recovery::Retry }
            },
        ));
        assert_eq!(out, Outcome::Done(Err(401)));
        assert_eq!(
            (sends.get(), hooks.get()),
            (2, 1),
            "one retry, one hook call: no loop"
        );
    }

    #[test]
    fn errors_other_than_401_pass_through_without_the_hook() {
        let hooks = Cell::new(0);
        let out = block_on(with_recovery(
            |_| async { Err::<u16, u16>(500) },
            classify,
            |_| {
                hooks.set(1);
                async { Recovery::Retry }
            },
        ));
        assert_eq!(out, Outcome::Done(Err(500)));
        assert_eq!(hooks.get(), 0);
    }

    #[test]
    fn a_retry_after_refresh_returns_the_second_answer() {
        let out = block_on(with_recovery(
            |retry| async move {
                if retry {
                    Ok::<u16, u16>(200)
                } else {
                    Err(401)
                }
            },
            classify,
            |_| async { Recovery::Retry },
        ));
        assert_eq!(out, Outcome::Done(Ok(200)));
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
}
