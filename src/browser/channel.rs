//! Tabs of one browser talk over a BroadcastChannel (docs/browser.md, "One refresh": they talk,
//! they don't lock). Messages are small JSON objects; a tab without BroadcastChannel works on its
//! own. Owns the channel, the claims of an election in progress, and who waits for another
//! tab's refresh; applies what the other tabs say to this one.

use super::{config::config, platform::random_bytes, refresh, sink};
use crate::{
    session::{self, Listener, Session, SessionStatus},
    types::User,
};
use futures::channel::oneshot;
use leptos::prelude::Set;
use serde::{Deserialize, Serialize};
use std::cell::{Cell, RefCell};
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

#[derive(Default)]
struct Tabs {
    /// The channel to the other tabs, once listening.
    channel: RefCell<Option<web_sys::BroadcastChannel>>,
    /// Who waits for another tab's refresh to end.
    waiters: RefCell<Vec<oneshot::Sender<Outcome>>>,
    /// During an election: this tab's claim and the other tabs' claims heard (`None` outside one).
    claims: RefCell<Option<(u64, Vec<u64>)>>,
    /// When another tab last said it is refreshing (ms since the epoch), until its outcome.
    remote_refresh: Cell<Option<f64>>,
}

thread_local! {
    static TABS: Tabs = Tabs::default();
}

/// Whether this tab can talk to the others.
pub(crate) fn available() -> bool {
    TABS.with(|t| t.channel.borrow().is_some())
}

/// Starts listening on the configured channel, and to the page's session: a session provided
/// after the session ended shows it, and this tab's sign-ins and sign-outs are told to the
/// others (idempotent).
pub(crate) fn listen() {
    session::listen(Listener {
        provided: |session: Session| {
            if refresh::ended() {
                session.status.set(SessionStatus::Ended);
            }
        },
        signed_in_or_out: |user| match user {
            Some(user) => post(&Message::SignedIn(user.clone())),
            None => post(&Message::SignedOut),
        },
    });
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
    TABS.with(|t| *t.channel.borrow_mut() = Some(channel));
}

/// Tells the other tabs.
pub(crate) fn post(message: &Message) {
    let Ok(text) = serde_json::to_string(message) else {
        return;
    };
    TABS.with(|t| {
        if let Some(channel) = t.channel.borrow().as_ref() {
            let _ = channel.post_message(&text.into());
        }
    });
}

fn receive(message: Message) {
    match message {
        Message::Claim { n } => {
            // A tab that claimed after this one's claim went out never heard it: say it again,
            // once per claim newly heard, so every tab in the election counts the same claims.
            let echo = TABS.with(|t| match t.claims.borrow_mut().as_mut() {
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
            TABS.with(|t| t.remote_refresh.set(Some(js_sys::Date::now())));
            sink::status(SessionStatus::Refreshing);
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
        Message::SignedIn(user) => sink::with_session(|s| s.set_user(Some(user))),
        Message::SignedOut => sink::with_session(|s| s.set_user(None)),
    }
}

fn settle(outcome: Outcome) {
    let waiters = TABS.with(|t| {
        t.remote_refresh.set(None);
        t.waiters.take()
    });
    for waiter in waiters {
        let _ = waiter.send(outcome.clone());
    }
}

/// Whether another tab said it is refreshing and has not told how it ended (within the refresh
/// timeout: a tab closed mid-refresh is not waited for forever).
pub(crate) fn remote_refresh_running() -> bool {
    let limit = config().refresh_timeout.as_millis() as f64;
    TABS.with(|t| t.remote_refresh.get())
        .is_some_and(|at| js_sys::Date::now() - at < limit)
}

/// Resolves with the outcome of another tab's refresh (or `None` when the channel closed).
pub(crate) fn outcome() -> oneshot::Receiver<Outcome> {
    let (tx, rx) = oneshot::channel();
    TABS.with(|t| t.waiters.borrow_mut().push(tx));
    rx
}

/// Starts collecting other tabs' claims; returns this tab's claim after announcing it.
pub(crate) fn start_claim() -> u64 {
    let n = u64::from_le_bytes(random_bytes());
    TABS.with(|t| *t.claims.borrow_mut() = Some((n, Vec::new())));
    post(&Message::Claim { n });
    n
}

/// The claims other tabs made since [`start_claim`]; stops collecting.
pub(crate) fn end_claim() -> Vec<u64> {
    TABS.with(|t| t.claims.take())
        .map(|(_, heard)| heard)
        .unwrap_or_default()
}
