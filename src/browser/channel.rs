//! Tabs of one browser talk over a BroadcastChannel (docs/browser.md, "One refresh": they talk, they don't
//! lock). Messages are small JSON objects; a tab without BroadcastChannel works on its own.

use super::{config, refresh, state, with_session};
use crate::{session::SessionStatus, types::User};
use futures::channel::oneshot;
use leptos::prelude::Set;
use serde::{Deserialize, Serialize};
use wasm_bindgen::{closure::Closure, JsCast};

/// What tabs tell each other.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "t", rename_all = "snake_case")]
pub(crate) enum Message {
    /// "I need a refresh" with a random number; the smallest claim in a short window refreshes.
    Claim {
        n: u64,
    },
    /// The winner started its refresh.
    Refreshing,
    /// The refresh succeeded: the cookies are new, everyone can re-send.
    Refreshed,
    /// The refresh could not reach the server: the session is kept; nobody else should hammer.
    Failed {
        message: String,
    },
    /// The refresh was rejected: the session is over in every tab.
    Ended,
    SignedIn(User),
    SignedOut,
}

/// How a refresh run by another tab ended, for the tabs that waited for it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Outcome {
    Refreshed,
    Failed(String),
    Ended,
}

/// Whether this tab can talk to the others.
pub(crate) fn available() -> bool {
    state::with(|l| l.channel.borrow().is_some())
}

/// Starts listening on the configured channel (idempotent).
pub(crate) fn listen() {
    if available() {
        return;
    }
    let Ok(channel) = web_sys::BroadcastChannel::new(&config().channel) else {
        return;
    };
    let on_message = Closure::<dyn Fn(web_sys::MessageEvent)>::new(|e: web_sys::MessageEvent| {
        if let Some(message) = e
            .data()
            .as_string()
            .and_then(|s| serde_json::from_str::<Message>(&s).ok())
        {
            receive(message);
        }
    });
    channel.set_onmessage(Some(on_message.as_ref().unchecked_ref()));
    on_message.forget();
    state::with(|l| *l.channel.borrow_mut() = Some(channel));
}

/// Tells the other tabs.
pub(crate) fn post(message: &Message) {
    let Ok(text) = serde_json::to_string(message) else {
        return;
    };
    state::with(|l| {
        if let Some(channel) = l.channel.borrow().as_ref() {
            let _ = channel.post_message(&text.into());
        }
    });
}

fn receive(message: Message) {
    match message {
        Message::Claim { n } => {
            // A tab that claimed after this one's claim went out never heard it: say it again,
            // once per claim newly heard, so every tab in the election counts the same claims.
            let echo = state::with(|l| match l.claims.borrow_mut().as_mut() {
                Some((mine, heard)) if n != *mine && !heard.contains(&n) => {
                    heard.push(n);
                    Some(*mine)
                }
                _ => None,
            });
            if let Some(mine) = echo {
                post(&Message::Claim { n: mine });
            }
        }
        Message::Refreshing => {
            state::with(|l| l.remote_refresh.set(Some(js_sys::Date::now())));
            with_session(|s| s.status.set(SessionStatus::Refreshing));
        }
        Message::Refreshed => {
            refresh::heard_refreshed();
            settle(Outcome::Refreshed);
        }
        Message::Failed { message } => settle(Outcome::Failed(message)),
        Message::Ended => {
            settle(Outcome::Ended);
            refresh::end_here();
        }
        Message::SignedIn(user) => with_session(|s| s.set_user(Some(user))),
        Message::SignedOut => with_session(|s| s.set_user(None)),
    }
}

fn settle(outcome: Outcome) {
    let waiters = state::with(|l| {
        l.remote_refresh.set(None);
        l.waiters.take()
    });
    for waiter in waiters {
        let _ = waiter.send(outcome.clone());
    }
}

/// Whether another tab said it is refreshing and has not told how it ended (within the refresh
/// timeout: a tab closed mid-refresh is not waited for forever).
pub(crate) fn remote_refresh_running() -> bool {
    let limit = config().refresh_timeout.as_millis() as f64;
    state::with(|l| l.remote_refresh.get()).is_some_and(|at| js_sys::Date::now() - at < limit)
}

/// Resolves with the outcome of another tab's refresh (or `None` when the channel closed).
pub(crate) fn outcome() -> oneshot::Receiver<Outcome> {
    let (tx, rx) = oneshot::channel();
    state::with(|l| l.waiters.borrow_mut().push(tx));
    rx
}

/// Starts collecting other tabs' claims; returns this tab's claim after announcing it.
pub(crate) fn start_claim() -> u64 {
    let n = u64::from_le_bytes(state::random_bytes());
    state::with(|l| *l.claims.borrow_mut() = Some((n, Vec::new())));
    post(&Message::Claim { n });
    n
}

/// The claims other tabs made since [`start_claim`]; stops collecting.
pub(crate) fn end_claim() -> Vec<u64> {
    state::with(|l| l.claims.take())
        .map(|(_, heard)| heard)
        .unwrap_or_default()
}
