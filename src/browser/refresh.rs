//! One refresh at a time per tab, and tabs telling each other (DESIGN browser §1, §5).
//!
//! A successful refresh bumps the tab's session *generation* and is announced on a
//! BroadcastChannel; other tabs bump theirs on hearing it. A request remembers the generation it
//! was sent under, so a 401 from before any refresh (here or elsewhere) just retries. No
//! `navigator.locks`: tabs talk, they don't lock; the server's reuse grace covers the rest.

use crate::retry::SingleFlight;
use std::cell::{Cell, RefCell};
use wasm_bindgen::{closure::Closure, JsCast};
use wasm_bindgen_futures::JsFuture;

/// The endpoint the browser refreshes through (CONTRACT §6), never through the hook.
pub const REFRESH_PATH: &str = "/api/auth/refresh";
const CHANNEL: &str = "sessionflow-auth";

/// Why a refresh did not give a new session.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RefreshError {
    /// 401: the session is over; sign in again.
    Rejected,
    /// Network error or 5xx: the session is kept; try again later.
    Unavailable(String),
}

thread_local! {
    static GENERATION: Cell<u64> = const { Cell::new(0) };
    /// Set when a refresh was rejected (401): terminal for this page (DESIGN browser §3). Calls
    /// still in flight or started before the navigation to sign-in lands must not refresh again.
    static ENDED: Cell<bool> = const { Cell::new(false) };
    static FLIGHT: SingleFlight<Result<(), RefreshError>> = SingleFlight::default();
    static CHANNEL_HANDLE: RefCell<Option<web_sys::BroadcastChannel>> = const { RefCell::new(None) };
}

/// The tab's session generation: how many refreshes it has made or heard of.
pub fn generation() -> u64 {
    GENERATION.with(Cell::get)
}

fn bump() {
    GENERATION.with(|g| g.set(g.get() + 1));
}

/// Starts listening to the other tabs (idempotent).
pub(crate) fn listen() {
    CHANNEL_HANDLE.with(|slot| {
        if slot.borrow().is_some() {
            return;
        }
        let Ok(channel) = web_sys::BroadcastChannel::new(CHANNEL) else {
            return;
        };
        let on_message =
            Closure::<dyn Fn(web_sys::MessageEvent)>::new(|e: web_sys::MessageEvent| {
                if e.data().as_string().as_deref() == Some("refreshed") {
                    bump();
                }
            });
        channel.set_onmessage(Some(on_message.as_ref().unchecked_ref()));
        on_message.forget();
        *slot.borrow_mut() = Some(channel);
    });
}

fn announce() {
    CHANNEL_HANDLE.with(|slot| {
        if let Some(channel) = slot.borrow().as_ref() {
            let _ = channel.post_message(&"refreshed".into());
        }
    });
}

/// Waits for the refresh in flight, if any (new requests do not leave with a dead token).
pub(crate) async fn wait_for_refresh() {
    if let Some(running) = FLIGHT.with(SingleFlight::in_flight) {
        let _ = running.await;
    }
}

/// Refreshes the session unless one happened since `seen_generation`; joins a refresh in flight.
pub async fn refresh_session(seen_generation: u64) -> Result<(), RefreshError> {
    listen();
    if ENDED.with(Cell::get) {
        return Err(RefreshError::Rejected);
    }
    if generation() > seen_generation {
        return Ok(());
    }
    FLIGHT.with(|f| f.run(post_refresh)).await
}

async fn post_refresh() -> Result<(), RefreshError> {
    let network = |e: wasm_bindgen::JsValue| {
        RefreshError::Unavailable(format!(
            "The session could not be refreshed ({}); check the connection and try again.",
            e.as_string().unwrap_or_else(|| "network error".into())
        ))
    };
    let window = web_sys::window().ok_or_else(|| RefreshError::Unavailable("no window".into()))?;
    let init = web_sys::RequestInit::new();
    init.set_method("POST");
    init.set_credentials(web_sys::RequestCredentials::SameOrigin);
    let request = web_sys::Request::new_with_str_and_init(REFRESH_PATH, &init).map_err(network)?;
    let response: web_sys::Response = JsFuture::from(window.fetch_with_request(&request))
        .await
        .map_err(network)?
        .unchecked_into();
    match response.status() {
        200..=299 => {
            bump();
            announce();
            Ok(())
        }
        401 => {
            ENDED.with(|e| e.set(true));
            Err(RefreshError::Rejected)
        }
        status => Err(RefreshError::Unavailable(format!(
            "The session could not be refreshed (HTTP {status}); try again."
        ))),
    }
}
