//! Sending one server-function call: rebuilt from its parts for each attempt (a `fetch` request
//! cannot be re-sent), each attempt with its own `AbortController`, registered so that
//! [`abort_all_requests`] can reach it.

use super::{refresh, response::AuthResponse};
use crate::{
    error::{ApiError, ErrorCode},
    retry::{with_recovery, FailureInfo, Outcome, Recovery},
};
use send_wrapper::SendWrapper;
use server_fn::{
    error::{FromServerFnError, ServerFnErrorErr},
    request::browser::BrowserRequest,
};
use std::{
    cell::{Cell, RefCell},
    collections::HashMap,
    future::Future,
    rc::Rc,
};
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;

struct InFlight {
    controller: web_sys::AbortController,
    abort_code: Rc<Cell<Option<u16>>>,
    retry: bool,
}

thread_local! {
    static NEXT_ID: Cell<u64> = const { Cell::new(0) };
    static IN_FLIGHT: RefCell<HashMap<u64, InFlight>> = RefCell::new(HashMap::new());
}

/// Aborts every in-flight first attempt with `code`; the hook sees `aborted` and `abort_code`.
/// Re-sent attempts are left alone (they already used their one retry).
pub fn abort_all_requests(code: u16) {
    let targets: Vec<_> = IN_FLIGHT.with(|m| {
        m.borrow()
            .values()
            .filter(|e| !e.retry && e.abort_code.get().is_none())
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
        let entry = IN_FLIGHT.with(|m| m.borrow_mut().remove(&self.id));
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
    code: Option<ErrorCode>,
    generation: u64,
}

enum AttemptError {
    Aborted { code: Option<u16>, generation: u64 },
    Network(String),
}

fn js_message(e: &JsValue) -> String {
    e.dyn_ref::<js_sys::Error>()
        .map(|e| String::from(e.message()))
        .or_else(|| e.as_string())
        .unwrap_or_else(|| "network error".into())
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

fn idempotency_key() -> String {
    web_sys::window()
        .and_then(|w| w.crypto().ok())
        .map(|c| c.random_uuid())
        .unwrap_or_else(|| {
            format!(
                "{:x}{:x}",
                js_sys::Date::now() as u64,
                (js_sys::Math::random() * 1e16) as u64
            )
        })
}

async fn attempt(t: &Template, retry: bool) -> Result<Sent, AttemptError> {
    let generation = refresh::generation();
    let network = |e: JsValue| AttemptError::Network(js_message(&e));
    let controller = web_sys::AbortController::new().map_err(network)?;
    let init = web_sys::RequestInit::new();
    init.set_method(&t.method);
    init.set_headers(
        &web_sys::Headers::new_with_headers(&t.headers)
            .map_err(network)?
            .into(),
    );
    if let Some(body) = &t.body {
        init.set_body(body);
    }
    init.set_credentials(web_sys::RequestCredentials::SameOrigin);
    init.set_signal(Some(&controller.signal()));
    let request = web_sys::Request::new_with_str_and_init(&t.url, &init).map_err(network)?;
    let window = web_sys::window().ok_or_else(|| AttemptError::Network("no window".into()))?;

    let id = NEXT_ID.with(|n| {
        n.set(n.get() + 1);
        n.get()
    });
    let abort_code = Rc::new(Cell::new(None));
    IN_FLIGHT.with(|m| {
        m.borrow_mut().insert(
            id,
            InFlight {
                controller,
                abort_code: abort_code.clone(),
                retry,
            },
        )
    });
    let mut registration = Registration { id, settled: false };
    let result = JsFuture::from(window.fetch_with_request(&request)).await;
    registration.settled = true;
    drop(registration);

    let response: web_sys::Response = match result {
        Ok(v) => v.unchecked_into(),
        Err(e) => {
            let is_abort = e
                .dyn_ref::<web_sys::DomException>()
                .is_some_and(|d| d.name() == "AbortError");
            return Err(if is_abort || abort_code.get().is_some() {
                AttemptError::Aborted {
                    code: abort_code.get(),
                    generation,
                }
            } else {
                AttemptError::Network(js_message(&e))
            });
        }
    };
    let code = if response.status() == 401 {
        error_code(&response).await
    } else {
        None
    };
    Ok(Sent {
        response,
        code,
        generation,
    })
}

/// The contract error code of a 401 body, read from a clone so the body stays readable.
async fn error_code(response: &web_sys::Response) -> Option<ErrorCode> {
    let text = JsFuture::from(response.clone().ok()?.text().ok()?)
        .await
        .ok()?
        .as_string()?;
    serde_json::from_str::<ApiError>(&text)
        .ok()
        .map(|e| e.error)
}

fn classify(t: &Template, r: &Result<Sent, AttemptError>) -> Option<FailureInfo> {
    let base = |generation| FailureInfo {
        status: None,
        code: None,
        aborted: false,
        abort_code: None,
        method: t.method.clone(),
        url: t.url.clone(),
        generation,
    };
    match r {
        Ok(s) if s.response.status() == 401 => Some(FailureInfo {
            status: Some(401),
            code: s.code,
            ..base(s.generation)
        }),
        Err(AttemptError::Aborted {
            code: Some(code),
            generation,
        }) => Some(FailureInfo {
            aborted: true,
            abort_code: Some(*code),
            ..base(*generation)
        }),
        _ => None,
    }
}

/// Sends a server-function request through the layer: waits for a refresh in flight, sends,
/// and on a failure asks the global hook, re-sending at most once.
pub fn send<E: FromServerFnError>(
    req: BrowserRequest,
) -> impl Future<Output = Result<AuthResponse, E>> + Send {
    let request_error = |m: String| E::from_server_fn_error(ServerFnErrorErr::Request(m));
    SendWrapper::new(async move {
        let t = template(req).await.map_err(request_error)?;
        refresh::wait_for_refresh().await;
        let outcome = with_recovery(
            |retry| attempt(&t, retry),
            |r| classify(&t, r),
            |info| async move {
                match super::hook() {
                    Some(hook) => hook(info).await,
                    None => Recovery::Fail,
                }
            },
        )
        .await;
        match outcome {
            Outcome::Done(Ok(sent)) => Ok(AuthResponse(SendWrapper::new(sent.response))),
            Outcome::Done(Err(AttemptError::Aborted { code, .. })) => {
                Err(request_error(match code {
                    Some(c) => format!("the request was aborted (code {c})"),
                    None => "the request was aborted".into(),
                }))
            }
            Outcome::Done(Err(AttemptError::Network(m))) => Err(request_error(m)),
            Outcome::Unavailable(m) => Err(request_error(m)),
        }
    })
}
