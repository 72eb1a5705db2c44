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

mod channel;
mod refresh;
mod response;
mod state;
mod transport;

pub use crate::retry::{Cause, FailureInfo, Recovery};
pub use refresh::{ended, generation, refresh_session, RefreshError};
pub use response::AuthResponse;
pub use transport::{abort_all_requests, send, send_direct};

use crate::{error::ApiError, session::Session};
use futures::future::LocalBoxFuture;
use std::{rc::Rc, time::Duration};
use wasm_bindgen::{JsCast, JsValue};

/// Paths, names and timeouts of the layer. Nothing to set in the usual case: the server tells
/// every page its refresh path and sign-in page (`<meta name="sessionflow">`, which
/// [`Default`] reads), and the rest has defaults.
///
/// Set with [`configure`] before hydrating (fields not set: `..Default::default()`, which holds
/// what the server said), or, without recompiling, from the page: a global
/// `window.sessionflowConfig = { refreshTimeoutMs, requestTimeoutMs, refreshPath, loginPath,
/// channel }` overrides what it names (read at [`install_default_hook`] / [`configure`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LayerConfig {
    /// The refresh endpoint (`POST`).
    pub refresh_path: String,
    /// The sign-in page a rejected refresh sends the user to (`?next=…&reason=session_ended`).
    pub login_path: String,
    /// The BroadcastChannel the tabs of one browser talk on.
    pub channel: String,
    /// How long a refresh may take before it counts as unavailable (session kept).
    pub refresh_timeout: Duration,
    /// How long one attempt of a call may take before it is aborted as timed out.
    pub request_timeout: Duration,
    /// How long a tab that needs a refresh listens for other tabs' claims before deciding who
    /// refreshes.
    pub claim_window: Duration,
}

impl Default for LayerConfig {
    /// The engine's defaults, with what the server put in the page's `<meta name="sessionflow">`.
    fn default() -> Self {
        let defaults = Self {
            refresh_path: "/api/auth/refresh".into(),
            login_path: "/login".into(),
            channel: "sessionflow-auth".into(),
            refresh_timeout: Duration::from_secs(10),
            request_timeout: Duration::from_secs(30),
            claim_window: Duration::from_millis(120),
        };
        match server_settings() {
            Some(settings) => defaults.with(&settings),
            None => defaults,
        }
    }
}

/// What the server said in `<meta name="sessionflow" content="{…}">` (docs/browser.md,
/// "Configuration").
fn server_settings() -> Option<JsValue> {
    let meta = web_sys::window()?
        .document()?
        .query_selector(r#"meta[name="sessionflow"]"#)
        .ok()??;
    let json = js_sys::JSON::parse(&meta.get_attribute("content")?).ok()?;
    json.is_object().then_some(json)
}

impl LayerConfig {
    /// This configuration with whatever `window.sessionflowConfig` overrides.
    fn with_page_overrides(self) -> Self {
        match web_sys::window()
            .and_then(|w| js_sys::Reflect::get(&w, &"sessionflowConfig".into()).ok())
            .filter(JsValue::is_object)
        {
            Some(overrides) => self.with(&overrides),
            None => self,
        }
    }

    /// This configuration with what `obj` names (`refreshPath`, `loginPath`, `channel`,
    /// `refreshTimeoutMs`, `requestTimeoutMs`).
    fn with(mut self, obj: &JsValue) -> Self {
        let get = |k: &str| js_sys::Reflect::get(obj, &k.into()).ok();
        let ms = |k: &str| get(k).and_then(|v| v.as_f64()).filter(|v| *v > 0.0);
        let text = |k: &str| get(k).and_then(|v| v.as_string()).filter(|v| !v.is_empty());
        if let Some(v) = ms("refreshTimeoutMs") {
            self.refresh_timeout = Duration::from_millis(v as u64);
        }
        if let Some(v) = ms("requestTimeoutMs") {
            self.request_timeout = Duration::from_millis(v as u64);
        }
        if let Some(v) = text("refreshPath") {
            self.refresh_path = v;
        }
        if let Some(v) = text("loginPath") {
            self.login_path = v;
        }
        if let Some(v) = text("channel") {
            self.channel = v;
        }
        self
    }
}

type Hook = Rc<dyn Fn(FailureInfo) -> LocalBoxFuture<'static, Recovery>>;

/// Sets the layer's configuration (page overrides applied) and starts listening to the other
/// tabs on its channel.
pub fn configure(config: LayerConfig) {
    state::with(|l| *l.config.borrow_mut() = Some(config.with_page_overrides()));
    channel::listen();
}

/// The layer's configuration.
pub fn config() -> LayerConfig {
    state::with(|l| {
        l.config
            .borrow_mut()
            .get_or_insert_with(|| LayerConfig::default().with_page_overrides())
            .clone()
    })
}

/// Installs the global on-failure hook, replacing any previous one.
pub fn set_request_failure<F, Fut>(hook: F)
where
    F: Fn(FailureInfo) -> Fut + 'static,
    Fut: std::future::Future<Output = Recovery> + 'static,
{
    channel::listen();
    let hook: Hook = Rc::new(move |info| Box::pin(hook(info)));
    state::with(|l| *l.hook.borrow_mut() = Some(hook));
}

pub(crate) fn hook() -> Option<Hook> {
    state::with(|l| l.hook.borrow().clone())
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

/// What a call gets when the session is over.
pub fn session_ended_error() -> ApiError {
    ApiError::new(
        crate::error::ErrorCode::InvalidRefreshToken,
        "Your session ended. Sign in again to continue.",
    )
}

/// Full navigation to the sign-in page, keeping where the user was, with the ended message.
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
    let login = config().login_path;
    if location.pathname().ok().as_deref() == Some(login.as_str()) {
        return;
    }
    let next = crate::types::next_param(&here);
    let _ = location.set_href(&format!("{login}?next={next}&reason=session_ended"));
}

/// Connects the page's [`Session`] to the layer (called by [`provide_session`](crate::session::provide_session)).
pub(crate) fn attach_session(session: Session) {
    state::with(|l| l.session.set(Some(session)));
    if ended() {
        leptos::prelude::Set::set(&session.status, crate::session::SessionStatus::Ended);
    }
}

/// Runs `f` on the page's session state, if one is attached.
pub(crate) fn with_session(f: impl FnOnce(&Session)) {
    if let Some(s) = state::with(|l| l.session.get()) {
        f(&s);
    }
}

pub(crate) fn announce_signed_in(user: &crate::types::User) {
    channel::post(&channel::Message::SignedIn(user.clone()));
}

pub(crate) fn announce_signed_out() {
    channel::post(&channel::Message::SignedOut);
}

/// Resolves after `d` (a `setTimeout`); the layer's clock.
pub(crate) async fn sleep(d: Duration) {
    let ms = i32::try_from(d.as_millis()).unwrap_or(i32::MAX);
    let promise = js_sys::Promise::new(&mut |resolve, _| {
        if let Some(w) = web_sys::window() {
            let _ = w.set_timeout_with_callback_and_timeout_and_arguments_0(&resolve, ms);
        }
    });
    let _ = wasm_bindgen_futures::JsFuture::from(promise).await;
}

/// A JS error's message.
pub(crate) fn js_message(e: &JsValue) -> String {
    e.dyn_ref::<js_sys::Error>()
        .map(|e| String::from(e.message()))
        .or_else(|| e.as_string())
        .unwrap_or_else(|| "network error".into())
}
