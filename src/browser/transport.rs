//! The bottom of the layer: one attempt of a call. A request is rebuilt from its parts for each
//! attempt (a `fetch` request cannot be re-sent), each attempt with its own `AbortController`
//! and timeout, registered so that [`abort_all_requests`] can reach it; what went wrong is
//! described for the hook ([`classify`]). Owns the calls in flight.

use super::{
    config::config,
    platform::{js_message, random_bytes, sleep},
};
use crate::{
    error::ApiError,
    retry::{timeout, FailureInfo},
};
use server_fn::request::browser::BrowserRequest;
use std::{
    cell::{Cell, RefCell},
    collections::HashMap,
    rc::Rc,
};
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;

/// The calls in flight, by id, so that they can all be aborted.
#[derive(Default)]
struct Calls {
    in_flight: RefCell<HashMap<u64, InFlight>>,
    next: Cell<u64>,
}

thread_local! {
    static CALLS: Calls = Calls::default();
}

struct InFlight {
    controller: web_sys::AbortController,
    abort_code: Rc<Cell<Option<u16>>>,
    /// Whether this call already used its retry for 401: aborting it for a refresh again would
    /// only turn into a failure.
    auth_retried: bool,
}

/// Aborts every in-flight call with `code`; the hook sees `aborted` and `abort_code`. Calls that
/// already used their retry for 401 are left alone when the code is 401.
pub fn abort_all_requests(code: u16) {
    let targets: Vec<_> = CALLS.with(|l| {
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
        let entry = CALLS.with(|l| l.in_flight.borrow_mut().remove(&self.id));
        if let (false, Some(entry)) = (self.settled, entry) {
            entry.controller.abort();
        }
    }
}

/// The parts a request is rebuilt from.
pub(crate) struct Template {
    method: String,
    url: String,
    headers: web_sys::Headers,
    body: Option<js_sys::Uint8Array>,
}

/// An answer, with what the hook is told when it is an error (status 400 or more).
pub(crate) struct Sent {
    pub response: web_sys::Response,
    pub info: Option<FailureInfo>,
}

/// An attempt that got no answer; `generation` is the one it was sent under.
pub(crate) enum AttemptError {
    Aborted { code: Option<u16>, generation: u64 },
    TimedOut { generation: u64 },
    Network { message: String, generation: u64 },
}

pub(crate) async fn template(req: BrowserRequest) -> Result<Template, String> {
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
    uuid_v4(random_bytes())
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

/// Sends `t` once under the session `generation`; `auth_retried`: this call already used its
/// retry for 401.
pub(crate) async fn attempt(
    t: &Template,
    auth_retried: bool,
    generation: u64,
) -> Result<Sent, AttemptError> {
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
    let id = CALLS.with(|l| {
        let id = l.next.get() + 1;
        l.next.set(id);
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

/// What the hook is told about attempt number `attempt`: `None` when it succeeded.
pub(crate) fn classify(
    t: &Template,
    r: &Result<Sent, AttemptError>,
    attempt: u32,
) -> Option<FailureInfo> {
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
pub(crate) fn synthetic(e: &ApiError) -> Option<web_sys::Response> {
    let init = web_sys::ResponseInit::new();
    init.set_status(e.status());
    let headers = web_sys::Headers::new().ok()?;
    headers.set("content-type", "application/json").ok()?;
    init.set_headers(&headers.into());
    let body = serde_json::to_string(e).ok()?;
    web_sys::Response::new_with_opt_str_and_init(Some(&body), &init).ok()
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
