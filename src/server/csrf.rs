//! Cross-site request forgery guard: a state-changing request (POST/PUT/PATCH/DELETE) whose
//! `Origin` is another site, or that the browser marks `Sec-Fetch-Site: cross-site`, is answered
//! 403 `csrf` before anything runs. Requests without an `Origin` (curl, server-to-server, old
//! browsers on same-origin GET forms) pass: they carry no ambient browser credentials from a
//! foreign page.

use crate::error::{ApiError, ErrorCode};
use axum::{
    extract::Request,
    http::{header, HeaderMap, Method},
    middleware::Next,
    response::{IntoResponse, Response},
};

pub async fn csrf_guard(req: Request, next: Next) -> Response {
    let unsafe_method = !matches!(*req.method(), Method::GET | Method::HEAD | Method::OPTIONS);
    if unsafe_method && is_cross_site(req.headers()) {
        return ApiError::new(ErrorCode::Csrf, "Cross-site request refused.").into_response();
    }
    next.run(req).await
}

fn is_cross_site(headers: &HeaderMap) -> bool {
    let get = |name: header::HeaderName| headers.get(name).and_then(|v| v.to_str().ok());
    if get(header::HeaderName::from_static("sec-fetch-site")) == Some("cross-site") {
        return true;
    }
    let Some(origin) = get(header::ORIGIN) else {
        return false;
    };
    let origin_host = origin
        .split_once("://")
        .map(|(_, rest)| rest.trim_end_matches('/'))
        .unwrap_or("");
    match get(header::HOST) {
        Some(host) => !origin_host.eq_ignore_ascii_case(host),
        None => true,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn h(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        pairs
            .iter()
            .map(|(k, v)| (header::HeaderName::from_static(k), v.parse().unwrap()))
            .collect()
    }

    #[test]
    fn same_origin_and_originless_requests_pass() {
        assert!(!is_cross_site(&h(&[
            ("origin", "http://127.0.0.1:3000"),
            ("host", "127.0.0.1:3000")
        ])));
        assert!(!is_cross_site(&h(&[("host", "127.0.0.1:3000")])));
    }

    #[test]
    fn foreign_and_null_origins_are_cross_site() {
        assert!(is_cross_site(&h(&[
            ("origin", "https://evil.example"),
            ("host", "127.0.0.1:3000")
        ])));
        assert!(is_cross_site(&h(&[
            ("origin", "null"),
            ("host", "127.0.0.1:3000")
        ])));
        assert!(is_cross_site(&h(&[
            ("sec-fetch-site", "cross-site"),
            ("host", "a")
        ])));
    }
}
