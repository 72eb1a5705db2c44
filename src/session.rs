//! The session as reactive state for components (docs/browser.md, "Session state"): who is signed in and what the
//! request layer is going through, without a token in sight.
//!
//! ```
//! use leptos::prelude::*;
//! use sessionflow::session::{provide_session, use_session, SessionStatus};
//!
//! #[component]
//! fn App() -> impl IntoView {
//!     provide_session();
//!     view! { <Status/> }
//! }
//!
//! #[component]
//! fn Status() -> impl IntoView {
//!     let session = use_session();
//!     move || match session.status.get() {
//!         SessionStatus::Refreshing => "Reconnecting…",
//!         SessionStatus::Unreachable => "The server is unreachable; retrying when you act.",
//!         SessionStatus::Ended => "Your session ended.",
//!         SessionStatus::Active => "",
//!     }
//! }
//! ```
//!
//! In the browser the request layer updates it (a refresh starts, succeeds, is rejected, or cannot
//! reach the server), and so do sign-in and sign-out in any tab of the browser
//! ([`Session::signed_in`], [`Session::signed_out`]). On the server it is per request (context),
//! never a global.
//!
//! The session never calls the layer: it is plain reactive state that the layer writes. The
//! layer finds the page's session through `provided()` and registers a `Listener` to hear of
//! the session being provided and of sign-ins and sign-outs made in this tab (which it tells the
//! other tabs).

use crate::types::User;
use leptos::prelude::*;
#[cfg(feature = "hydrate")]
use std::cell::Cell;

/// What the request layer is going through.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SessionStatus {
    /// Nothing to report: requests go through (signed in or not: see [`Session::user`]).
    #[default]
    Active,
    /// A refresh is in flight (here or in another tab); calls wait for it.
    Refreshing,
    /// The session was rejected (signed out elsewhere, revoked, expired): sign in again.
    Ended,
    /// The server could not be reached (network error, 5xx, timeout); the session is kept.
    Unreachable,
}

/// The session of this page: signals, cheap to copy.
#[derive(Debug, Clone, Copy)]
pub struct Session {
    /// The signed-in user, once known (`None`: signed out or not loaded yet).
    pub user: RwSignal<Option<User>>,
    /// What the request layer is going through.
    pub status: RwSignal<SessionStatus>,
    /// Bumped whenever who is signed in changes (here or in another tab): key resources on it
    /// to reload what depends on the user.
    pub version: RwSignal<u32>,
}

impl Session {
    /// Records a sign-in in this tab and tells the other tabs.
    pub fn signed_in(&self, user: User) {
        self.set_user(Some(user.clone()));
        #[cfg(feature = "hydrate")]
        tell(|l| (l.signed_in_or_out)(Some(&user)));
    }

    /// Records a sign-out in this tab and tells the other tabs.
    pub fn signed_out(&self) {
        self.set_user(None);
        #[cfg(feature = "hydrate")]
        tell(|l| (l.signed_in_or_out)(None));
    }

    /// Updates the user (and the version when it changed) without telling anyone.
    pub fn set_user(&self, user: Option<User>) {
        let changed = self
            .user
            .with_untracked(|u| u.as_ref().map(|u| &u.id) != user.as_ref().map(|u| &u.id));
        self.user.set(user);
        if changed {
            self.version.update(|v| *v += 1);
            if self.status.get_untracked() == SessionStatus::Ended {
                self.status.set(SessionStatus::Active);
            }
        }
    }
}

/// Creates the page's session state and provides it as context (call once, in the root
/// component). In the browser the request layer is connected to it.
pub fn provide_session() -> Session {
    let session = Session {
        user: RwSignal::new(None),
        status: RwSignal::new(SessionStatus::Active),
        version: RwSignal::new(0),
    };
    provide_context(session);
    #[cfg(feature = "hydrate")]
    {
        page::PROVIDED.with(|p| p.set(Some(session)));
        tell(|l| (l.provided)(session));
    }
    session
}

/// The page's session state (from [`provide_session`]).
///
/// # Panics
/// When no ancestor called [`provide_session`].
pub fn use_session() -> Session {
    expect_context::<Session>()
}

/// Who hears of the page's session besides its components: the browser's request layer
/// registers one ([`listen`]).
#[cfg(feature = "hydrate")]
#[derive(Clone, Copy)]
pub(crate) struct Listener {
    /// The page's session was provided.
    pub provided: fn(Session),
    /// This tab signed in (`Some`) or out (`None`).
    pub signed_in_or_out: fn(Option<&User>),
}

/// The page's session and its listener: one page per browser thread, never on the server.
#[cfg(feature = "hydrate")]
mod page {
    use super::{Listener, Session};
    use std::cell::Cell;

    thread_local! {
        pub(super) static PROVIDED: Cell<Option<Session>> = const { Cell::new(None) };
        pub(super) static LISTENER: Cell<Option<Listener>> = const { Cell::new(None) };
    }
}

/// Registers the listener (the first registration hears of a session provided before it).
#[cfg(feature = "hydrate")]
pub(crate) fn listen(listener: Listener) {
    if page::LISTENER.with(|l| l.replace(Some(listener))).is_none() {
        if let Some(session) = provided() {
            (listener.provided)(session);
        }
    }
}

/// The page's session, once [`provide_session`] ran in the browser.
#[cfg(feature = "hydrate")]
pub(crate) fn provided() -> Option<Session> {
    page::PROVIDED.with(Cell::get)
}

#[cfg(feature = "hydrate")]
fn tell(f: impl FnOnce(&Listener)) {
    if let Some(listener) = page::LISTENER.with(Cell::get) {
        f(&listener);
    }
}
