//! One refresh at a time per tab, and one between the tabs of a browser (docs/browser.md, "One refresh").
//!
//! A successful refresh bumps the tab's session *generation* and is announced; other tabs bump
//! theirs on hearing it. A request remembers the generation it was sent under, so a 401 from
//! before any refresh (here or elsewhere) just retries. Tabs that need a refresh at the same
//! moment hold a short election over the channel ([`Election`]): one refreshes, the others wait
//! for its announced outcome. No `navigator.locks`; the server's reuse grace covers the races
//! that slip through. Every refresh has a timeout: a hung one is "unavailable", never forever.

use super::{channel, config, js_message, sleep, with_session};
use crate::{
    retry::{timeout, Election, SingleFlight},
    session::SessionStatus,
};
use leptos::prelude::Set;
use std::cell::Cell;
use wasm_bindgen::JsCast;
use wasm_bindgen_futures::JsFuture;

/// Why a refresh did not give a new session.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RefreshError {
    /// 401: the session is over in every tab; sign in again.
    Rejected,
    /// Network error, 5xx or timeout: the session is kept; try again later.
    Unavailable(String),
}

thread_local! {
    static GENERATION: Cell<u64> = const { Cell::new(0) };
    /// Set when a refresh was rejected (401), here or in another tab: terminal for this page
    /// (docs/browser.md, "Ending"). Calls still in flight or waiting must not be sent or refresh again.
    static ENDED: Cell<bool> = const { Cell::new(false) };
    static FLIGHT: SingleFlight<Result<(), RefreshError>> = SingleFlight::default();
}

/// The tab's session generation: how many refreshes it has made or heard of.
pub fn generation() -> u64 {
    GENERATION.with(Cell::get)
}

/// Whether the session ended (a refresh was rejected here or in another tab).
pub fn ended() -> bool {
    ENDED.with(Cell::get)
}

fn bump() {
    GENERATION.with(|g| g.set(g.get() + 1));
}

pub(crate) fn heard_refreshed() {
    bump();
    with_session(|s| s.status.set(SessionStatus::Active));
}

/// The session is over: in-flight calls fail, nothing more is sent, and the tab goes to sign-in.
pub(crate) fn end_here() {
    if ENDED.with(|e| e.replace(true)) {
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
    if let Some(running) = FLIGHT.with(SingleFlight::in_flight) {
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
    let result = FLIGHT
        .with(|f| f.run(move || coordinated(seen_generation)))
        .await;
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
    if election.won() {
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
        let window = web_sys::window().ok_or_else(|| "no window".to_owned())?;
        let init = web_sys::RequestInit::new();
        init.set_method("POST");
        init.set_credentials(web_sys::RequestCredentials::SameOrigin);
        if let Some(c) = &controller {
            init.set_signal(Some(&c.signal()));
        }
        let request = web_sys::Request::new_with_str_and_init(&cfg.refresh_path, &init)
            .map_err(|e| js_message(&e))?;
        let response = JsFuture::from(window.fetch_with_request(&request))
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
