//! One refresh at a time per tab, and one between the tabs of a browser (docs/browser.md, "One refresh").
//!
//! A successful refresh bumps the tab's session *generation* and is announced; other tabs bump
//! theirs on hearing it. A request remembers the generation it was sent under, so a 401 from
//! before any refresh (here or elsewhere) just retries. Tabs that need a refresh at the same
//! moment hold a short election over the channel ([`Election`]): one refreshes, the others wait
//! for its announced outcome. No `navigator.locks`; the server's reuse grace covers the races
//! that slip through. Every refresh has a timeout: a hung one is "unavailable", never forever.

use super::{channel, config, js_message, sleep, state, with_session};
use crate::{
    retry::{timeout, Election},
    session::SessionStatus,
};
use leptos::prelude::Set;
use wasm_bindgen::JsCast;

/// Why a refresh did not give a new session.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RefreshError {
    /// 401: the session is over in every tab; sign in again.
    Rejected,
    /// Network error, 5xx or timeout: the session is kept; try again later.
    Unavailable(String),
}

/// The tab's session generation: how many refreshes it has made or heard of.
pub fn generation() -> u64 {
    state::with(|l| l.generation.get())
}

/// Whether the session ended (a refresh was rejected here or in another tab): terminal for this
/// page (docs/browser.md, "Ending"); calls still in flight or waiting are not sent again.
pub fn ended() -> bool {
    state::with(|l| l.ended.get())
}

fn bump() {
    state::with(|l| l.generation.set(l.generation.get() + 1));
}

pub(crate) fn heard_refreshed() {
    bump();
    with_session(|s| s.status.set(SessionStatus::Active));
}

/// The session is over: in-flight calls fail, nothing more is sent, and the tab goes to sign-in.
pub(crate) fn end_here() {
    if state::with(|l| l.ended.replace(true)) {
        return;
    }
    super::abort_all_requests(401);
    with_session(|s| {
        s.status.set(SessionStatus::Ended);
        s.user.set(None);
    });
    super::go_to_login();
}

/// Waits for the refresh in flight in this tab, if any (new requests do not leave with a dead
/// token), bounded by the refresh timeout.
pub(crate) async fn wait_for_refresh() {
    if let Some(running) = state::with(|l| l.refresh.in_flight()) {
        let _ = timeout(running, sleep(config().refresh_timeout)).await;
    }
}

/// Refreshes the session unless one happened since `seen_generation`; joins a refresh in flight
/// in this tab, or waits for one running in another.
pub async fn refresh_session(seen_generation: u64) -> Result<(), RefreshError> {
    super::channel::listen();
    if ended() {
        return Err(RefreshError::Rejected);
    }
    if generation() > seen_generation {
        return Ok(());
    }
    let result = state::with(|l| l.refresh.run(move || coordinated(seen_generation))).await;
    match &result {
        Ok(()) => with_session(|s| s.status.set(SessionStatus::Active)),
        Err(RefreshError::Unavailable(_)) => {
            with_session(|s| s.status.set(SessionStatus::Unreachable))
        }
        Err(RefreshError::Rejected) => end_here(),
    }
    result
}

/// Decides which tab refreshes, then refreshes or waits for the one that does.
async fn coordinated(seen_generation: u64) -> Result<(), RefreshError> {
    with_session(|s| s.status.set(SessionStatus::Refreshing));
    if !channel::available() {
        return post_refresh().await;
    }
    if channel::remote_refresh_running() {
        return wait_for_other_tab().await;
    }
    let mut election = Election::default();
    election.claim(channel::start_claim());
    sleep(config().claim_window).await;
    for claim in channel::end_claim() {
        election.hear(claim);
    }
    if generation() > seen_generation {
        return Ok(()); // another tab refreshed meanwhile
    }
    if ended() {
        return Err(RefreshError::Rejected);
    }
    // A tab whose window closed before this one's claim went out is already refreshing: its
    // `Refreshing` arrived during the window. Join it rather than refresh a second time.
    if election.won() && !channel::remote_refresh_running() {
        post_refresh().await
    } else {
        wait_for_other_tab().await
    }
}

/// Waits for another tab's refresh; if it never says how it went, refreshes here.
async fn wait_for_other_tab() -> Result<(), RefreshError> {
    let waited = timeout(channel::outcome(), sleep(config().refresh_timeout)).await;
    match waited {
        Ok(Ok(channel::Outcome::Refreshed)) => Ok(()),
        Ok(Ok(channel::Outcome::Ended)) => Err(RefreshError::Rejected),
        Ok(Ok(channel::Outcome::Failed(message))) => Err(RefreshError::Unavailable(message)),
        // The other tab went away mid-refresh.
        Ok(Err(_)) | Err(()) => post_refresh().await,
    }
}

/// `POST` to the refresh endpoint, outside the hook, with the refresh timeout; the outcome is
/// announced to the other tabs.
async fn post_refresh() -> Result<(), RefreshError> {
    channel::post(&channel::Message::Refreshing);
    let cfg = config();
    let controller = web_sys::AbortController::new().ok();
    let attempt = async {
        let controller = controller
            .as_ref()
            .ok_or_else(|| "no AbortController".to_owned())?;
        let response = super::transport::fetch("POST", &cfg.refresh_path, None, None, controller)
            .map_err(|e| js_message(&e))?
            .await
            .map_err(|e| js_message(&e))?;
        Ok::<_, String>(response.unchecked_into::<web_sys::Response>().status())
    };
    let result = match timeout(attempt, sleep(cfg.refresh_timeout)).await {
        Ok(Ok(200..=299)) => {
            bump();
            channel::post(&channel::Message::Refreshed);
            return Ok(());
        }
        Ok(Ok(401)) => {
            channel::post(&channel::Message::Ended);
            return Err(RefreshError::Rejected);
        }
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
    channel::post(&channel::Message::Failed {
        message: result.clone(),
    });
    Err(RefreshError::Unavailable(result))
}
