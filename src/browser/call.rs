//! A server-function call from start to end: waits for a refresh in flight, sends through
//! [`transport`](super::transport), and asks the hook about every failure, retrying at most once
//! per cause (`retry::with_recovery`). What [`AuthClient`](crate::AuthClient) and
//! [`DirectClient`](crate::DirectClient) send with.

use super::{
    config::config,
    coordinate::wait_for_refresh,
    hook::hook,
    platform::sleep,
    refresh::{ended, generation, session_ended_error},
    response::AuthResponse,
    sink,
    transport::{attempt, classify, synthetic, template, AttemptError},
};
use crate::{
    retry::{with_recovery, Cause, FailureInfo, Outcome, Recovery},
    session::SessionStatus,
};
use send_wrapper::SendWrapper;
use server_fn::{
    error::{FromServerFnError, ServerFnErrorErr},
    request::browser::BrowserRequest,
};
use std::future::Future;

/// Sends a server-function request through the layer: waits for a refresh in flight, sends, and
/// asks the global hook about every failure.
pub fn send<E: FromServerFnError>(
    req: BrowserRequest,
) -> impl Future<Output = Result<AuthResponse, E>> + Send {
    send_through(req, true)
}

/// Like [`send`] without the hook: timeouts and the idempotency key, nothing retried (the
/// per-call opt-out (docs/browser.md, "Hook"), used by `DirectClient`).
pub fn send_direct<E: FromServerFnError>(
    req: BrowserRequest,
) -> impl Future<Output = Result<AuthResponse, E>> + Send {
    send_through(req, false)
}

fn send_through<E: FromServerFnError>(
    req: BrowserRequest,
    use_hook: bool,
) -> impl Future<Output = Result<AuthResponse, E>> + Send {
    let request_error = |m: String| E::from_server_fn_error(ServerFnErrorErr::Request(m));
    SendWrapper::new(async move {
        let t = template(req).await.map_err(request_error)?;
        if use_hook {
            wait_for_refresh().await;
            if ended() {
                // The session is over: fail without sending.
                let ended = session_ended_error();
                return synthetic(&ended)
                    .map(|r| AuthResponse(SendWrapper::new(r)))
                    .ok_or_else(|| request_error(ended.message));
            }
        }
        let outcome = with_recovery(
            |_, retried| attempt(&t, retried.contains(&Cause::Unauthorized), generation()),
            |r, n| classify(&t, r, n),
            |info| async move {
                note_reachability(&info);
                match hook().filter(|_| use_hook) {
                    Some(hook) => hook(info).await,
                    None => Recovery::Fail,
                }
            },
            sleep,
        )
        .await;
        match outcome {
            Outcome::Done(Ok(sent)) => {
                if sent.info.is_none() {
                    sink::recovered_from(SessionStatus::Unreachable);
                }
                Ok(AuthResponse(SendWrapper::new(sent.response)))
            }
            Outcome::Done(Err(AttemptError::Aborted { code, .. })) => {
                Err(request_error(match code {
                    Some(c) => format!("the request was aborted (code {c})"),
                    None => "the request was aborted".into(),
                }))
            }
            Outcome::Done(Err(AttemptError::TimedOut { .. })) => Err(request_error(format!(
                "the server did not answer within {} s",
                config().request_timeout.as_secs_f32()
            ))),
            Outcome::Done(Err(AttemptError::Network { message, .. })) => {
                Err(request_error(message))
            }
            Outcome::Failed(e) => synthetic(&e)
                .map(|r| AuthResponse(SendWrapper::new(r)))
                .ok_or_else(|| request_error(e.message)),
        }
    })
}

/// A network error or a timeout means the server is unreachable from here, until an answer.
fn note_reachability(info: &FailureInfo) {
    if info.network_error.is_some() || info.timed_out {
        sink::status(SessionStatus::Unreachable);
    }
}
