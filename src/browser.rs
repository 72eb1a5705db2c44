//! The browser request layer (`hydrate` feature): every server function declared with
//! `client = sessionflow::AuthClient` is sent from here.
//!
//! Modelled on Nuxoblivius' `SetRequestFailure(async (info, retry) => …)` and
//! `tryAbortAllRequest(code)` (docs/browser.md):
//!
//! - [`set_request_failure`] installs the one global hook. It sees every failure of every call —
//!   status and contract error code, response headers (`Retry-After`), network errors, timeouts,
//!   aborts with their code, method, URL and attempt number ([`FailureInfo`]) — and answers a
//!   [`Recovery`]: retry now, retry after a delay, fail with the original error, or fail with an
//!   error of its own. Each call is retried at most once per cause. Calls declared with
//!   `client = sessionflow::DirectClient` (sign-in, polling) never reach the hook.
//! - [`abort_all_requests`] aborts every in-flight call with a code the hook will see.
//! - [`refresh_session`] refreshes through the configured endpoint, one refresh at a time per tab
//!   and, through a BroadcastChannel, one between the tabs of a browser.
//! - [`default_policy`] is the default policy (docs/browser.md), [`install_default_hook`] installs it.
//!
//! Every request and the refresh have a timeout ([`LayerConfig`]), so nothing waits forever.
//! Mutations (every non-GET call) carry an `Idempotency-Key` generated once per logical call and
//! kept across retries.
//!
//! A custom policy in the style of the seed (abort all with 401, refresh, retry), with a
//! back-off on 503 the default does not have:
//!
//! ```no_run
//! use sessionflow::browser::{
//!     abort_all_requests, default_policy, refresh_session, set_request_failure, FailureInfo,
//!     Recovery, RefreshError,
//! };
//! use std::time::Duration;
//!
//! set_request_failure(|info: FailureInfo| async move {
//!     match info.status {
//!         // The server is busy and says when to come back: wait, then retry once.
//!         Some(503) => match info.retry_after() {
//!             Some(wait) if wait <= Duration::from_secs(10) => Recovery::RetryAfter(wait),
//!             _ => Recovery::Fail,
//!         },
//!         // The access token ran out: stop the others, refresh once, and retry.
//!         _ if info.needs_refresh() && info.can_retry => {
//!             abort_all_requests(401);
//!             match refresh_session(info.generation).await {
//!                 Ok(()) => Recovery::Retry,
//!                 Err(RefreshError::Rejected) => Recovery::Fail,
//!                 Err(RefreshError::Unavailable(m)) => Recovery::unavailable(m),
//!             }
//!         }
//!         // Everything else: what the engine does by default.
//!         _ => default_policy(info).await,
//!     }
//! });
//! ```

// The layer's modules, each owning its state, each using only those above it here:
mod call; // a call from start to end
mod channel; // the other tabs
mod config; // paths and timeouts
mod coordinate; // one refresh per tab and between tabs
mod hook; // the global hook and the default policy
mod platform; // the browser itself: clock, random bytes
mod refresh; // the refresh request; generation and ending
mod response;
mod sink; // the page's session status
mod transport; // one attempt of a call; the calls in flight

pub use crate::retry::{Cause, FailureInfo, Recovery};
pub use call::{send, send_direct};
pub use config::{config, LayerConfig};
pub use coordinate::refresh_session;
pub use hook::{default_policy, install_default_hook, set_request_failure};
pub use refresh::{ended, generation, go_to_login, session_ended_error, RefreshError};
pub use response::AuthResponse;
pub use transport::abort_all_requests;

/// Sets the layer's configuration (page overrides applied) and starts listening to the other
/// tabs on its channel.
pub fn configure(config: LayerConfig) {
    config::set(config);
    channel::listen();
}
