//! The browser request layer (`hydrate` feature): every server function declared with
//! `client = sessionflow::AuthClient` is sent from here.
//!
//! Modelled on Nuxoblivius' `SetRequestFailure(async (info, retry) => …)` and
//! `tryAbortAllRequest(code)`:
//!
//! - [`set_request_failure`] installs the one global hook. It gets a [`FailureInfo`] (status,
//!   error code, whether and with which code the request was aborted) and answers a
//!   [`Recovery`]: retry (once), fail, or fail as `unavailable`.
//! - [`abort_all_requests`] aborts every in-flight first attempt with a code the hook will see.
//! - [`refresh_session`] refreshes through `POST /api/auth/refresh`, one refresh at a time per
//!   tab, and tells the other tabs (BroadcastChannel) so they retry instead of refreshing.
//! - [`install_default_hook`] is the policy the app uses: on a refreshable 401 (or an abort with
//!   401), abort the others, refresh once, retry; a rejected refresh sends the user to
//!   `/login?next=…`; a transient one keeps the session and fails the call as retryable.
//!
//! Mutations (every non-GET call) carry an `Idempotency-Key` generated once per logical call and
//! kept across the retry.

mod refresh;
mod response;
mod transport;

pub use crate::retry::{FailureInfo, Recovery};
pub use refresh::{generation, refresh_session, RefreshError, REFRESH_PATH};
pub use response::AuthResponse;
pub use transport::{abort_all_requests, send};

use futures::future::LocalBoxFuture;
use std::{cell::RefCell, rc::Rc};

type Hook = Rc<dyn Fn(FailureInfo) -> LocalBoxFuture<'static, Recovery>>;

thread_local! {
    static HOOK: RefCell<Option<Hook>> = const { RefCell::new(None) };
}

/// Installs the global on-failure hook, replacing any previous one.
pub fn set_request_failure<F, Fut>(hook: F)
where
    F: Fn(FailureInfo) -> Fut + 'static,
    Fut: std::future::Future<Output = Recovery> + 'static,
{
    let hook: Hook = Rc::new(move |info| Box::pin(hook(info)));
    HOOK.with(|h| *h.borrow_mut() = Some(hook));
}

pub(crate) fn hook() -> Option<Hook> {
    HOOK.with(|h| h.borrow().clone())
}

/// The app's policy (CONTRACT §8). A rejected refresh sends the browser to
/// `/login?next=<current path>&reason=session_ended`.
pub fn install_default_hook() {
    refresh::listen();
    set_request_failure(|info: FailureInfo| async move {
        if !info.needs_refresh() {
            return Recovery::Fail;
        }
        if generation() > info.generation {
            // A refresh happened (here or in another tab) since this request left: just re-send.
            return Recovery::Retry;
        }
        abort_all_requests(401);
        match refresh_session(info.generation).await {
            Ok(()) => Recovery::Retry,
            Err(RefreshError::Rejected) => {
                abort_all_requests(401);
                go_to_login();
                Recovery::Fail
            }
            Err(RefreshError::Unavailable(message)) => Recovery::Unavailable(message),
        }
    });
}

/// Full navigation to the sign-in page, keeping where the user was.
pub fn go_to_login() {
    let Some(window) = web_sys::window() else {
        return;
    };
    let location = window.location();
    let here = format!(
        "{}{}",
        location.pathname().unwrap_or_default(),
        location.search().unwrap_or_default()
    );
    let next = crate::types::next_param(&here);
    let _ = location.set_href(&format!("/login?next={next}&reason=session_ended"));
}
