//! Sending one server-function call: rebuilt from its parts for each attempt (a `fetch` request
//! cannot be re-sent), each attempt with its own `AbortController` and timeout, registered so
//! that [`abort_all_requests`] can reach it. Every failure goes to the hook, which decides.

use super::{config, js_message, refresh, response::AuthResponse, sleep, state, with_session};
use crate::{
    error::ApiError,
    retry::{timeout, with_recovery, Cause, FailureInfo, Outcome, Recovery},
    session::SessionStatus,
};
use leptos::prelude::{GetUntracked, Set};
use send_wrapper::SendWrapper;
use server_fn::{
    error::{FromServerFnError, ServerFnErrorErr},
    request::browser::BrowserRequest,
};
use std::{cell::Cell, future::Future, rc::Rc};
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;

pub(crate) struct InFlight {
    controller: web_sys::AbortController,
    abort_code: Rc<Cell<Option<u16>>>,
    /// Whether this call already used its retry for 401: aborting it for a refresh again would
    /// only turn into a failure.
    auth_retried: bool,
}

/// Aborts every in-flight call with `code`; the hook sees `aborted` and `abort_code`. Calls that
/// already used their retry for 401 are left alone when the code is 401.
pub fn abort_all_requests(code: u16) {
    let targets: Vec<_> = state::with(|l| {
        l.in_flight
            .borrow()
            .values()
            .filter(|e| !(code == 401 && e.auth_retried) && e.abort_code.get().is_none())
            .map(|e| (e.controller.clone(), e.abort_code.clone()))
            .collect()
    });
    for (controller, abort_code) in targets {
        abort_code.set(Some(code));
        controller.abort();
    }
}

/// Unregisters an attempt when it settles; aborts it if the caller dropped the call midway.
struct Registration {
    id: u64,
    settled: bool,
}

impl Drop for Registration {
    fn drop(&mut self) {
        let entry = state::with(|l| l.in_flight.borrow_mut().remove(&self.id));
        if let (false, Some(entry)) = (self.settled, entry) {
            entry.controller.abort();
        }
    }
}

/// The parts a request is rebuilt from.
struct Template {
    method: String,
    url: String,
    headers: web_sys::Headers,
    body: Option<js_sys::Uint8Array>,
}

struct Sent {
    response: web_sys::Response,
    info: Option<FailureInfo>,
}

enum AttemptError {
    Aborted { code: Option<u16>, generation: u64 },
    TimedOut { generation: u64 },
    Network { message: String, generation: u64 },
}

async fn template(req: BrowserRequest) -> Result<Template, String> {
    let base: web_sys::Request = req.into();
    let method = base.method();
    let headers =
        web_sys::Headers::new_with_headers(&base.headers()).map_err(|e| js_message(&e))?;
    let body = if method == "GET" || method == "HEAD" {
        None
    } else {
        if !headers.has("Idempotency-Key").unwrap_or(false) {
            let _ = headers.set("Idempotency-Key", &idempotency_key());
        }
        let promise = base.array_buffer().map_err(|e| js_message(&e))?;
        let buf = JsFuture::from(promise).await.map_err(|e| js_message(&e))?;
        Some(js_sys::Uint8Array::new(&buf))
    };
    Ok(Template {
        method,
        url: base.url(),
        headers,
        body,
    })
}

/// A random UUID (v4).
pub(crate) fn idempotency_key() -> String {
    uuid_v4(state::random_bytes())
}

fn uuid_v4(mut b: [u8; 16]) -> String {
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    let h: String = b.iter().map(|x| format!("{x:02x}")).collect();
    format!(
        "{}-{}-{}-{}-{}",
        &h[0..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..32]
    )
}

/// The one `fetch` of the layer (calls and the refresh): same-origin credentials, aborted by
/// `controller`. Resolves with the response, or rejects as `fetch` does.
pub(crate) fn fetch(
    method: &str,
    url: &str,
    headers: Option<&web_sys::Headers>,
    body: Option<&js_sys::Uint8Array>,
    controller: &web_sys::AbortController,
) -> Result<JsFuture, JsValue> {
    let init = web_sys::RequestInit::new();
    init.set_method(method);
    if let Some(headers) = headers {
        init.set_headers(&web_sys::Headers::new_with_headers(headers)?.into());
    }
    if let Some(body) = body {
        init.set_body(body);
    }
    init.set_credentials(web_sys::RequestCredentials::SameOrigin);
    init.set_signal(Some(&controller.signal()));
    let request = web_sys::Request::new_with_str_and_init(url, &init)?;
    let window = web_sys::window().ok_or_else(|| JsValue::from_str("no window"))?;
    Ok(JsFuture::from(window.fetch_with_request(&request)))
}

async fn attempt(t: &Template, auth_retried: bool) -> Result<Sent, AttemptError> {
    let generation = refresh::generation();
    let network = |e: JsValue| AttemptError::Network {
        message: js_message(&e),
        generation,
    };
    let controller = web_sys::AbortController::new().map_err(network)?;
    let sending = fetch(
        &t.method,
        &t.url,
        Some(&t.headers),
        t.body.as_ref(),
        &controller,
    )
    .map_err(network)?;

    let abort_code = Rc::new(Cell::new(None));
    let id = state::with(|l| {
        let id = l.next_call.get() + 1;
        l.next_call.set(id);
        l.in_flight.borrow_mut().insert(
            id,
            InFlight {
                controller: controller.clone(),
                abort_code: abort_code.clone(),
                auth_retried,
            },
        );
        id
    });
    let mut registration = Registration { id, settled: false };
    let fetched = timeout(sending, sleep(config().request_timeout)).await;
    registration.settled = true;
    drop(registration);

    let response: web_sys::Response = match fetched {
        Ok(Ok(v)) => v.unchecked_into(),
        Err(()) => {
            controller.abort();
            return Err(AttemptError::TimedOut { generation });
        }
        Ok(Err(e)) => {
            let is_abort = e
                .dyn_ref::<web_sys::DomException>()
                .is_some_and(|d| d.name() == "AbortError");
            return Err(if is_abort || abort_code.get().is_some() {
                AttemptError::Aborted {
                    code: abort_code.get(),
                    generation,
                }
            } else {
                AttemptError::Network {
                    message: js_message(&e),
                    generation,
                }
            });
        }
    };
    let info = if response.status() >= 400 {
        Some(failure(t, &response, generation).await)
    } else {
        None
    };
    Ok(Sent { response, info })
}

/// What the hook is told about an error response: status, contract code (from a clone, so the
/// body stays readable for the caller) and headers.
async fn failure(t: &Template, response: &web_sys::Response, generation: u64) -> FailureInfo {
    let mut headers = Vec::new();
    if let Ok(Some(entries)) = js_sys::try_iter(&response.headers()) {
        for entry in entries.flatten() {
            let pair: js_sys::Array = entry.unchecked_into();
            if let (Some(k), Some(v)) = (pair.get(0).as_string(), pair.get(1).as_string()) {
                headers.push((k.to_ascii_lowercase(), v));
            }
        }
    }
    let code = async {
        let text = JsFuture::from(response.clone().ok()?.text().ok()?)
            .await
            .ok()?
            .as_string()?;
        serde_json::from_str::<ApiError>(&text)
            .ok()
            .map(|e| e.error)
    }
    .await;
    FailureInfo {
        status: Some(response.status()),
        code,
        headers,
        generation,
        ..base(t)
    }
}

fn base(t: &Template) -> FailureInfo {
    FailureInfo {
        method: t.method.clone(),
        url: t.url.clone(),
        ..FailureInfo::default()
    }
}

fn classify(t: &Template, r: &Result<Sent, AttemptError>, attempt: u32) -> Option<FailureInfo> {
    let mut info = match r {
        Ok(sent) => sent.info.clone()?,
        Err(AttemptError::Aborted { code, generation }) => FailureInfo {
            aborted: true,
            abort_code: *code,
            generation: *generation,
            ..base(t)
        },
        Err(AttemptError::TimedOut { generation }) => FailureInfo {
            aborted: true,
            timed_out: true,
            generation: *generation,
            ..base(t)
        },
        Err(AttemptError::Network {
            message,
            generation,
        }) => FailureInfo {
            network_error: Some(message.clone()),
            generation: *generation,
            ..base(t)
        },
    };
    info.attempt = attempt;
    Some(info)
}

/// An error answer made in the browser (the hook's own error, or the session having ended), so
/// the server-function machinery decodes it like any error the server sends.
fn synthetic(e: &ApiError) -> Option<web_sys::Response> {
    let init = web_sys::ResponseInit::new();
    init.set_status(e.status());
    let headers = web_sys::Headers::new().ok()?;
    headers.set("content-type", "application/json").ok()?;
    init.set_headers(&headers.into());
    let body = serde_json::to_string(e).ok()?;
    web_sys::Response::new_with_opt_str_and_init(Some(&body), &init).ok()
}

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
            refresh::wait_for_refresh().await;
            if refresh::ended() {
                // The session is over: fail without sending.
                let ended = super::session_ended_error();
                return synthetic(&ended)
                    .map(|r| AuthResponse(SendWrapper::new(r)))
                    .ok_or_else(|| request_error(ended.message));
            }
        }
        let outcome = with_recovery(
            |_, retried| attempt(&t, retried.contains(&Cause::Unauthorized)),
            |r, n| classify(&t, r, n),
            |info| async move {
                note_reachability(&info);
                match super::hook().filter(|_| use_hook) {
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
                    with_session(|s| {
                        if s.status.get_untracked() == SessionStatus::Unreachable {
                            s.status.set(SessionStatus::Active);
                        }
                    });
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
        with_session(|s| s.status.set(SessionStatus::Unreachable));
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn keys_are_version_4_uuids() {
        let k = super::uuid_v4([0xff; 16]);
        assert_eq!(k.len(), 36);
        assert_eq!(&k[14..15], "4");
        assert!(matches!(&k[19..20], "8" | "9" | "a" | "b"));
    }
}
