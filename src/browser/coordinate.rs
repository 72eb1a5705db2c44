//! One refresh at a time per tab, and one between the tabs of a browser (docs/browser.md, "One
//! refresh"). Tabs that need a refresh at the same moment hold a short election over the channel
//! ([`Election`]): one refreshes and announces how it went, the others wait for that. No
//! `navigator.locks`; the server's reuse grace covers the races that slip through. Owns the
//! refresh in flight in this tab.

use super::{
    channel::{self, Message, Outcome},
    config::config,
    platform::sleep,
    refresh::{self, RefreshError},
    sink,
};
use crate::{
    retry::{timeout, Election, SingleFlight},
    session::SessionStatus,
};

thread_local! {
    /// The refresh in flight in this tab.
    static IN_FLIGHT: SingleFlight<Result<(), RefreshError>> = SingleFlight::default();
}

/// Waits for the refresh in flight in this tab, if any (new requests do not leave with a dead
/// token), bounded by the refresh timeout.
pub(crate) async fn wait_for_refresh() {
    if let Some(running) = IN_FLIGHT.with(SingleFlight::in_flight) {
        let _ = timeout(running, sleep(config().refresh_timeout)).await;
    }
}

/// Refreshes the session unless one happened since `seen_generation`; joins a refresh in flight
/// in this tab, or waits for one running in another.
pub async fn refresh_session(seen_generation: u64) -> Result<(), RefreshError> {
    channel::listen();
    if refresh::ended() {
        return Err(RefreshError::Rejected);
    }
    if refresh::generation() > seen_generation {
        return Ok(());
    }
    let result = IN_FLIGHT
        .with(|f| f.run(move || coordinated(seen_generation)))
        .await;
    match &result {
        Ok(()) => sink::status(SessionStatus::Active),
        Err(RefreshError::Unavailable(_)) => sink::status(SessionStatus::Unreachable),
        Err(RefreshError::Rejected) => refresh::end_here(),
    }
    result
}

/// Decides which tab refreshes, then refreshes or waits for the one that does.
async fn coordinated(seen_generation: u64) -> Result<(), RefreshError> {
    sink::status(SessionStatus::Refreshing);
    if !channel::available() {
        return refresh_here().await;
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
    if refresh::generation() > seen_generation {
        return Ok(()); // another tab refreshed meanwhile
    }
    if refresh::ended() {
        return Err(RefreshError::Rejected);
    }
    // A tab whose window closed before this one's claim went out is already refreshing: its
    // `Refreshing` arrived during the window. Join it rather than refresh a second time.
    if election.won() && !channel::remote_refresh_running() {
        refresh_here().await
    } else {
        wait_for_other_tab().await
    }
}

/// Waits for another tab's refresh; if it never says how it went, refreshes here.
async fn wait_for_other_tab() -> Result<(), RefreshError> {
    let waited = timeout(channel::outcome(), sleep(config().refresh_timeout)).await;
    match waited {
        Ok(Ok(Outcome::Refreshed)) => Ok(()),
        Ok(Ok(Outcome::Ended)) => Err(RefreshError::Rejected),
        Ok(Ok(Outcome::Failed(message))) => Err(RefreshError::Unavailable(message)),
        // The other tab went away mid-refresh.
        Ok(Err(_)) | Err(()) => refresh_here().await,
    }
}

/// Refreshes in this tab, telling the others that it started and how it ended.
async fn refresh_here() -> Result<(), RefreshError> {
    channel::post(&Message::Refreshing);
    let result = refresh::post().await;
    channel::post(&match &result {
        Ok(()) => Message::Refreshed,
        Err(RefreshError::Rejected) => Message::Ended,
        Err(RefreshError::Unavailable(message)) => Message::Failed {
            message: message.clone(),
        },
    });
    result
}
