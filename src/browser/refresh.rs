//! The refresh itself and what it decides: the tab's session *generation* (how many refreshes it
//! has made or heard of) and whether the session *ended* (docs/browser.md, "One refresh",
//! "Ending"). A request remembers the generation it was sent under, so a 401 from before any
//! refresh (here or elsewhere) just retries. Which tab refreshes, and telling the others, is
//! [`coordinate`](super::coordinate)'s; this module only knows one tab. Every refresh has a
//! timeout: a hung one is "unavailable", never forever.

use super::{
    config::config,
    platform::{js_message, sleep},
    sink, transport,
};
use crate::{error::ApiError, retry::timeout, session::SessionStatus};
use leptos::prelude::Set;
use std::cell::Cell;
use wasm_bindgen::JsCast;

/// Why a refresh did not give a new session.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RefreshError {
    /// 401: the session is over in every tab; sign in again.
    Rejected,
    /// Network error, 5xx or timeout: the session is kept; try again later.
    Unavailable(String),
}

#[derive(Default)]
struct Refreshes {
    /// How many refreshes this tab has made or heard of.
    generation: Cell<u64>,
    /// A refresh was rejected, here or in another tab: terminal for this page.
    ended: Cell<bool>,
}

thread_local! {
    static REFRESHES: Refreshes = Refreshes::default();
}

/// The tab's session generation: how many refreshes it has made or heard of.
pub fn generation() -> u64 {
    REFRESHES.with(|r| r.generation.get())
}

/// Whether the session ended (a refresh was rejected here or in another tab): terminal for this
/// page (docs/browser.md, "Ending"); calls still in flight or waiting are not sent again.
pub fn ended() -> bool {
    REFRESHES.with(|r| r.ended.get())
}

fn bump() {
    REFRESHES.with(|r| r.generation.set(r.generation.get() + 1));
}

/// Another tab refreshed: the cookies are new here too.
pub(crate) fn heard_refreshed() {
    bump();
    sink::status(SessionStatus::Active);
}

/// The session is over: in-flight calls fail, nothing more is sent, and the tab goes to sign-in.
pub(crate) fn end_here() {
    if REFRESHES.with(|r| r.ended.replace(true)) {
        return;
    }
    transport::abort_all_requests(401);
    sink::with_session(|s| {
        s.status.set(SessionStatus::Ended);
        s.user.set(None);
    });
    go_to_login();
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

/// `POST` to the refresh endpoint, outside the hook, with the refresh timeout. A success moves
/// the generation on; nothing is told to other tabs here.
pub(crate) async fn post() -> Result<(), RefreshError> {
    let cfg = config();
    let controller = web_sys::AbortController::new().ok();
    let attempt = async {
        let controller = controller
            .as_ref()
            .ok_or_else(|| "no AbortController".to_owned())?;
        let response = transport::fetch("POST", &cfg.refresh_path, None, None, controller)
            .map_err(|e| js_message(&e))?
            .await
            .map_err(|e| js_message(&e))?;
        Ok::<_, String>(response.unchecked_into::<web_sys::Response>().status())
    };
    let message = match timeout(attempt, sleep(cfg.refresh_timeout)).await {
        Ok(Ok(200..=299)) => {
            bump();
            return Ok(());
        }
        Ok(Ok(401)) => return Err(RefreshError::Rejected),
        Ok(Ok(status)) => format!("The session could not be refreshed (HTTP {status}); try again."),
        Ok(Err(network)) => format!(
            "The session could not be refreshed ({network}); check the connection and try again."
        ),
        Err(()) => {
            if let Some(c) = &controller {
                c.abort();
            }
            format!(
                "The server did not answer within {} s; you are still signed in, try again.",
                cfg.refresh_timeout.as_secs_f32()
            )
        }
    };
    Err(RefreshError::Unavailable(message))
}
