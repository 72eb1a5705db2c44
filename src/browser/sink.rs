//! Where the layer tells the page what it is going through: the page's
//! [`Session`](crate::session::Session), when one was provided. The session is plain reactive
//! state; only the layer writes its status, through here.

use crate::session::{self, Session, SessionStatus};
use leptos::prelude::{GetUntracked, Set};

/// Runs `f` on the page's session state, if one was provided.
pub(crate) fn with_session(f: impl FnOnce(&Session)) {
    if let Some(s) = session::provided() {
        f(&s);
    }
}

/// Sets the page's session status.
pub(crate) fn status(status: SessionStatus) {
    with_session(|s| s.status.set(status));
}

/// Sets the status back to `Active` if it was `from` (an answer came after the server was
/// unreachable).
pub(crate) fn recovered_from(from: SessionStatus) {
    with_session(|s| {
        if s.status.get_untracked() == from {
            s.status.set(SessionStatus::Active);
        }
    });
}
