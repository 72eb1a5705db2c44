//! `Idempotency-Key` (draft-ietf-httpapi-idempotency-key-header; docs/threats.md) for every
//! state-changing call it wraps: the first request with a key runs and its answer is stored
//! (scoped to the user, kept at least 24 hours); the same key again answers exactly that, without
//! running anything; the same key with another request body is refused with 422.
//!
//! The first request runs to completion even if its client hangs up: the browser layer aborts
//! in-flight calls while it refreshes, and an aborted POST that already reached the server must
//! still be applied once and its answer kept for the re-send (which waits for it if it arrives
//! while the first still runs).

use crate::error::{ApiError, ErrorCode};
use crate::server::auth::Auth;
use axum::{
    body::{to_bytes, Body},
    extract::{Request, State},
    http::{header, HeaderName, HeaderValue, Method, StatusCode},
    middleware::Next,
    response::{IntoResponse, Response},
    Json,
};
use sha2::{Digest, Sha256};
use std::time::Duration;

pub const HEADER: &str = "idempotency-key";
/// Longest key accepted (visible ASCII only).
pub const MAX_KEY: usize = 255;
/// Longest request or response body kept.
const MAX_BODY: usize = 512 * 1024;
/// A record still running after this long belongs to a request that died with its process.
const ABANDONED_MS: i64 = 60_000;
/// How long a re-send waits for the first request with its key to finish.
const WAIT: Duration = Duration::from_secs(10);
/// Response headers a replay repeats (besides the status and the body).
const KEPT_HEADERS: &[&str] = &["content-type", "location", "serverfnredirect"];

/// Parses a key: 1 to 255 visible ASCII characters.
pub fn parse_key(raw: &[u8]) -> Result<String, ApiError> {
    let ok =
        !raw.is_empty() && raw.len() <= MAX_KEY && raw.iter().all(|b| (0x21..=0x7e).contains(b));
    if !ok {
        return Err(ApiError::validation(
            "idempotency-key",
            format!("Idempotency-Key must be 1 to {MAX_KEY} visible ASCII characters."),
        ));
    }
    Ok(String::from_utf8_lossy(raw).into_owned())
}

/// The middleware (`from_fn_with_state(auth, idempotency)`); inside the session layer where
/// there is one, so it sees the caller the rest of the request sees.
pub(crate) async fn idempotency(State(auth): State<Auth>, req: Request, next: Next) -> Response {
    if !matches!(
        *req.method(),
        Method::POST | Method::PUT | Method::PATCH | Method::DELETE
    ) {
        return next.run(req).await;
    }
    let Some(raw) = req.headers().get(HEADER) else {
        return next.run(req).await;
    };
    let key = match parse_key(raw.as_bytes()) {
        Ok(k) => k,
        Err(e) => return e.into_response(),
    };
    let (mut parts, body) = req.into_parts();
    let session = auth.session_of(&mut parts.extensions, &parts.headers).await;
    let req = Request::from_parts(parts, body);
    // Keys are scoped to a user; without one the handler answers 401 ("not executed") anyway.
    let Some(user_id) = session.principal().map(|p| p.user.id.clone()) else {
        return next.run(req).await;
    };
    let (parts, body) = req.into_parts();
    let Ok(bytes) = to_bytes(body, MAX_BODY).await else {
        let mut res =
            ApiError::new(ErrorCode::Validation, "The request body is too large.").into_response();
        *res.status_mut() = StatusCode::PAYLOAD_TOO_LARGE;
        return res;
    };
    let store = Store {
        auth,
        user_id,
        key,
        fingerprint: fingerprint(&parts.method, &parts.uri, &bytes),
    };
    match store.claim().await {
        Ok(Claim::Mine) => {}
        Ok(Claim::Replay(res)) => return res,
        Err(res) => return res,
    }
    let req = Request::from_parts(parts, Body::from(bytes));
    let run = tokio::spawn(async move {
        let res = next.run(req).await;
        store.finish(res).await
    });
    run.await.unwrap_or_else(|e| {
        tracing::error!(error = %e, "an idempotent request failed");
        ApiError::unavailable().into_response()
    })
}

fn fingerprint(method: &Method, uri: &axum::http::Uri, body: &[u8]) -> String {
    let mut h = Sha256::new();
    h.update(method.as_str());
    h.update([0]);
    h.update(uri.path_and_query().map_or("", |p| p.as_str()));
    h.update([0]);
    h.update(body);
    hex::encode(h.finalize())
}

enum Claim {
    Mine,
    Replay(Response),
}

struct Store {
    auth: Auth,
    user_id: String,
    key: String,
    fingerprint: String,
}

fn unavailable(e: sqlx::Error) -> Response {
    crate::server::error::db_error(e).into_response()
}

impl Store {
    /// Takes the key for this request, or answers what the key already stands for.
    async fn claim(&self) -> Result<Claim, Response> {
        let deadline = tokio::time::Instant::now() + WAIT;
        loop {
            let now = crate::server::db::now_ms();
            let store = self.auth.idempotency_keys();
            let claimed = store
                .claim_key(&self.user_id, &self.key, &self.fingerprint, now)
                .await
                .map_err(unavailable)?;
            if claimed {
                return Ok(Claim::Mine);
            }
            let record = store
                .read_key(&self.user_id, &self.key)
                .await
                .map_err(unavailable)?;
            let Some(record) = record else { continue }; // deleted meanwhile: claim again
            if record.fingerprint != self.fingerprint {
                return Err(mismatch());
            }
            if let Some(status) = record.status {
                return Ok(Claim::Replay(replay(status, record.headers, record.body)));
            }
            let created = record.created_at;
            if now - created > ABANDONED_MS {
                self.release().await;
                continue;
            }
            if tokio::time::Instant::now() >= deadline {
                return Err(ApiError::new(
                    ErrorCode::Conflict,
                    "A request with this Idempotency-Key is still being processed.",
                )
                .into_response());
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
    }

    /// Stores a final answer (success or a client error that ran the request) and hands it on;
    /// anything that did not run (401, 403, 429, 5xx…) releases the key so a re-send runs.
    async fn finish(self, res: Response) -> Response {
        let status = res.status();
        if !is_final(status) {
            self.release().await;
            return res;
        }
        let (parts, body) = res.into_parts();
        let Ok(bytes) = to_bytes(body, MAX_BODY).await else {
            self.release().await;
            return ApiError::unavailable().into_response();
        };
        let kept: Vec<(String, String)> = KEPT_HEADERS
            .iter()
            .filter_map(|name| {
                let v = parts.headers.get(*name)?.to_str().ok()?;
                Some(((*name).to_owned(), v.to_owned()))
            })
            .collect();
        let stored = match std::str::from_utf8(&bytes) {
            Ok(text) => {
                let headers = serde_json::to_string(&kept).unwrap_or_default();
                self.auth
                    .idempotency_keys()
                    .finish_key(
                        &self.user_id,
                        &self.key,
                        i32::from(status.as_u16()),
                        &headers,
                        text,
                    )
                    .await
            }
            Err(_) => {
                self.release().await;
                Ok(())
            }
        };
        if let Err(e) = stored {
            tracing::error!(error = %e, "could not store an idempotent answer");
            self.release().await;
        }
        Response::from_parts(parts, Body::from(bytes))
    }

    async fn release(&self) {
        let done = self
            .auth
            .idempotency_keys()
            .release_key(&self.user_id, &self.key)
            .await;
        if let Err(e) = done {
            tracing::error!(error = %e, "could not release an idempotency key");
        }
    }
}

/// Answers that mean the request ran (or was refused for good); 401, 403, 408, 409, 425, 429
/// and 5xx mean it did not, and a re-send must run it.
fn is_final(status: StatusCode) -> bool {
    let n = status.as_u16();
    (200..500).contains(&n) && ![401, 403, 408, 409, 425, 429].contains(&n)
}

fn mismatch() -> Response {
    (
        StatusCode::UNPROCESSABLE_ENTITY,
        Json(ApiError::validation(
            "idempotency-key",
            "This Idempotency-Key was already used for a different request.",
        )),
    )
        .into_response()
}

fn replay(status: i32, headers: Option<String>, body: Option<String>) -> Response {
    let status = u16::try_from(status)
        .ok()
        .and_then(|s| StatusCode::from_u16(s).ok())
        .unwrap_or(StatusCode::OK);
    let mut res = Response::new(Body::from(body.unwrap_or_default()));
    *res.status_mut() = status;
    let kept: Vec<(String, String)> = headers
        .and_then(|h| serde_json::from_str(&h).ok())
        .unwrap_or_default();
    for (name, value) in kept {
        if let (Ok(n), Ok(v)) = (
            HeaderName::from_bytes(name.as_bytes()),
            HeaderValue::from_str(&value),
        ) {
            res.headers_mut().insert(n, v);
        }
    }
    res.headers_mut().insert(
        HeaderName::from_static("idempotent-replayed"),
        HeaderValue::from_static("true"),
    );
    res.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    res
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_one_to_255_visible_ascii_characters() {
        assert!(parse_key(b"0b9f6c1e-5f1a-4e0e-9d0b-6d0f1a2b3c4d").is_ok());
        assert!(parse_key(&[b'k'; 255]).is_ok());
        for bad in [
            &b""[..],
            &[b'k'; 256],
            b"has space",
            b"tab\t",
            "é".as_bytes(),
        ] {
            assert_eq!(parse_key(bad).unwrap_err().error, ErrorCode::Validation);
        }
    }

    #[test]
    fn only_answers_of_requests_that_ran_are_kept() {
        for ran in [200, 201, 204, 303, 400, 404, 422] {
            assert!(is_final(StatusCode::from_u16(ran).unwrap()), "{ran}");
        }
        for not_run in [401, 403, 409, 429, 500, 503] {
            assert!(
                !is_final(StatusCode::from_u16(not_run).unwrap()),
                "{not_run}"
            );
        }
    }
}
