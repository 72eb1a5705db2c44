//! The layer's state, all of it, in one place (docs/browser.md#state): one value per page,
//! owned by one thread-local. The other modules are the transitions: `transport` sends and
//! registers calls, `refresh` moves the generation and ends the session, `channel` applies what
//! other tabs say. [`Session`](crate::session::Session) is the reactive mirror the page reads.

use super::{channel::Outcome, transport::InFlight, Hook, LayerConfig, RefreshError};
use crate::{retry::SingleFlight, session::Session};
use futures::channel::oneshot;
use std::{
    cell::{Cell, RefCell},
    collections::HashMap,
};

#[derive(Default)]
pub(crate) struct Layer {
    /// The global on-failure hook.
    pub hook: RefCell<Option<Hook>>,
    /// Paths and timeouts; `None` until first read or [`configure`](super::configure)d.
    pub config: RefCell<Option<LayerConfig>>,
    /// The page's reactive session state, once attached.
    pub session: Cell<Option<Session>>,
    /// How many refreshes this tab has made or heard of.
    pub generation: Cell<u64>,
    /// A refresh was rejected, here or in another tab: terminal for this page.
    pub ended: Cell<bool>,
    /// The refresh in flight in this tab.
    pub refresh: SingleFlight<Result<(), RefreshError>>,
    /// Calls in flight, by id, so that they can all be aborted.
    pub in_flight: RefCell<HashMap<u64, InFlight>>,
    pub next_call: Cell<u64>,
    /// The channel to the other tabs, once listening.
    pub channel: RefCell<Option<web_sys::BroadcastChannel>>,
    /// Who waits for another tab's refresh to end.
    pub waiters: RefCell<Vec<oneshot::Sender<Outcome>>>,
    /// During an election: this tab's claim and the other tabs' claims heard (`None` outside one).
    pub claims: RefCell<Option<(u64, Vec<u64>)>>,
    /// When another tab last said it is refreshing (ms since the epoch), until its outcome.
    pub remote_refresh: Cell<Option<f64>>,
}

thread_local! {
    static LAYER: Layer = Layer::default();
}

/// Runs `f` on the layer's state. Never hold a borrow across an `.await`.
pub(crate) fn with<R>(f: impl FnOnce(&Layer) -> R) -> R {
    LAYER.with(f)
}

/// `N` random bytes from `crypto.getRandomValues`, which every browser context has (unlike
/// `crypto.randomUUID`, missing on plain-HTTP origins and older Safari); `Math.random` as a last
/// resort.
pub(crate) fn random_bytes<const N: usize>() -> [u8; N] {
    let mut bytes = [0u8; N];
    let from_crypto = web_sys::window()
        .and_then(|w| w.crypto().ok())
        .is_some_and(|c| c.get_random_values_with_u8_array(&mut bytes).is_ok());
    if !from_crypto {
        for b in &mut bytes {
            *b = (js_sys::Math::random() * 256.0) as u8;
        }
    }
    bytes
}
