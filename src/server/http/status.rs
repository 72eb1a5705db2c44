//! The one place error statuses are set for server functions: a server function's `Err` is
//! answered 500 with an [`ApiError`] body by the server-function machinery; this gives it the
//! status of its code (with `WWW-Authenticate` on 401 and `Retry-After` when the error says when).
//! A 413 from the body limit gets the JSON body every error has.

use crate::error::{ApiError, ErrorCode};
use axum::{
    body::{to_bytes, Body},
    http::{header, StatusCode},
    response::{IntoResponse, Response},
};

const MAX_ERROR_BODY: usize = 64 * 1024;

pub(crate) async fn error_status(res: Response) -> Response {
    match res.status() {
        StatusCode::PAYLOAD_TOO_LARGE if !is_json(&res) => {
            let mut res = ApiError::new(ErrorCode::Validation, "The request body is too large.")
                .into_response();
            *res.status_mut() = StatusCode::PAYLOAD_TOO_LARGE;
            res
        }
        StatusCode::INTERNAL_SERVER_ERROR if is_json(&res) => {
            let (parts, body) = res.into_parts();
            let Ok(bytes) = to_bytes(body, MAX_ERROR_BODY).await else {
                return ApiError::unavailable().into_response();
            };
            let mut parts = parts;
            if let Ok(e) = serde_json::from_slice::<ApiError>(&bytes) {
                parts.status = StatusCode::from_u16(e.status()).unwrap_or(parts.status);
                crate::server::http::request::error_headers(
                    &mut parts.headers,
                    parts.status,
                    e.retry_after,
                );
            }
            Response::from_parts(parts, Body::from(bytes))
        }
        _ => res,
    }
}

fn is_json(res: &Response) -> bool {
    res.headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json"))
}
