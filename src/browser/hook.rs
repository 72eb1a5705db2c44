//! The global on-failure hook (Nuxoblivius' `SetRequestFailure`) and the default policy: the
//! top of the layer's decisions. Owns the hook.

use super::{
    channel,
    coordinate::refresh_session,
    refresh::{ended, generation, session_ended_error, RefreshError},
    transport::abort_all_requests,
};
use crate::retry::{FailureInfo, Recovery};
use futures::future::LocalBoxFuture;
use std::{cell::RefCell, rc::Rc};

pub(crate) type Hook = Rc<dyn Fn(FailureInfo) -> LocalBoxFuture<'static, Recovery>>;

thread_local! {
    static HOOK: RefCell<Option<Hook>> = const { RefCell::new(None) };
}

/// Installs the global on-failure hook, replacing any previous one.
pub fn set_request_failure<F, Fut>(hook: F)
where
    F: Fn(FailureInfo) -> Fut + 'static,
    Fut: std::future::Future<Output = Recovery> + 'static,
{
    channel::listen();
    let hook: Hook = Rc::new(move |info| Box::pin(hook(info)));
    HOOK.with(|h| *h.borrow_mut() = Some(hook));
}

/// The hook installed, if any.
pub(crate) fn hook() -> Option<Hook> {
    HOOK.with(|h| h.borrow().clone())
}

/// The default policy (docs/browser.md, "Default policy"): on 401 `token_expired`, `missing_token`, `invalid_token` or an
/// abort with code 401, abort every other in-flight call with 401, refresh once (sharing a
/// refresh in flight, here or in another tab), and retry. A rejected refresh ends the session in
/// every tab (each goes to the sign-in page); one that cannot reach the server keeps it and fails
/// the call as `unavailable`. Anything else fails unchanged.
pub async fn default_policy(info: FailureInfo) -> Recovery {
    if !info.needs_refresh() || !info.can_retry {
        // Nothing a refresh cures, or a call that already used its retry: the failure as is.
        return Recovery::Fail;
    }
    if ended() {
        return Recovery::FailWith(session_ended_error());
    }
    if generation() > info.generation {
        // A refresh happened (here or in another tab) since this request left: just re-send.
        return Recovery::Retry;
    }
    abort_all_requests(401);
    match refresh_session(info.generation).await {
        Ok(()) => Recovery::Retry,
        Err(RefreshError::Rejected) => Recovery::FailWith(session_ended_error()),
        Err(RefreshError::Unavailable(message)) => Recovery::unavailable(message),
    }
}

/// Installs [`default_policy`] as the hook (and starts listening to the other tabs).
pub fn install_default_hook() {
    set_request_failure(default_policy);
}
