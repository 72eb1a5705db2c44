//! Cross-site request forgery guard (docs/threats.md): a cookie-authenticated request that changes
//! state (POST/PUT/PATCH/DELETE) whose `Origin` is not one of the site's public origins, or that
//! the browser marks `Sec-Fetch-Site: cross-site`, is answered 403 `csrf` before anything runs.
//!
//! - The whole origin counts (scheme, host, port), compared with the configured public URL, so
//!   `http://` is refused for an `https://` site and a proxy that rewrites `Host` changes nothing.
//!   Without a configured origin, `Origin` is compared with `Host` and the scheme the cookie
//!   settings imply.
//! - `Authorization: Bearer …` requests are exempt: a foreign page cannot add that header without
//!   a CORS preflight this server never grants, so such a request carries no ambient credential.
//! - Requests without `Origin` (curl, server-to-server) pass: they are not from a foreign page.
//! - `Origin: null` passes only with `Sec-Fetch-Site: same-origin` (a form on a page that sends
//!   no `Referer`, such as the reset page, posts with `Origin: null`).

use crate::error::{ApiError, ErrorCode};
use crate::server::{auth::Auth, config::origin_of};
use axum::{
    extract::{Request, State},
    http::{header, HeaderMap, Method},
    middleware::Next,
    response::{IntoResponse, Response},
};

/// The middleware (`axum::middleware::from_fn_with_state(auth, csrf_guard)`).
pub(crate) async fn csrf_guard(State(auth): State<Auth>, req: Request, next: Next) -> Response {
    let unsafe_method = !matches!(*req.method(), Method::GET | Method::HEAD | Method::OPTIONS);
    if unsafe_method && !is_bearer(req.headers()) && is_cross_site(req.headers(), &auth) {
        return ApiError::from(ErrorCode::Csrf).into_response();
    }
    next.run(req).await
}

fn is_bearer(headers: &HeaderMap) -> bool {
    headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.get(..7))
        .is_some_and(|scheme| scheme.eq_ignore_ascii_case("bearer "))
}

fn is_cross_site(headers: &HeaderMap, auth: &Auth) -> bool {
    let config = auth.config();
    cross_site(headers, config.public_origins(), config.cookie_secure())
}

fn cross_site(headers: &HeaderMap, allowed: &[String], secure: bool) -> bool {
    let get = |name: header::HeaderName| headers.get(name).and_then(|v| v.to_str().ok());
    let fetch_site = get(header::HeaderName::from_static("sec-fetch-site"));
    if fetch_site == Some("cross-site") {
        return true;
    }
    let Some(origin) = get(header::ORIGIN) else {
        return false;
    };
    // A page with `Referrer-Policy: no-referrer` (the reset page: its address holds a link's
    // token) posts with `Origin: null`. `Sec-Fetch-Site` is set by the browser alone, so
    // `same-origin` there still proves the post came from this site.
    if origin == "null" && fetch_site == Some("same-origin") {
        return false;
    }
    let Ok(origin) = origin_of(origin) else {
        return true; // `null`, or not an origin at all
    };
    if !allowed.is_empty() {
        return !allowed.contains(&origin);
    }
    let scheme = if secure { "https" } else { "http" };
    match get(header::HOST) {
        Some(host) => origin_of(&format!("{scheme}://{host}")).ok() != Some(origin),
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

    const SITE: &[&str] = &["https://app.example.com"];

    fn allowed() -> Vec<String> {
        SITE.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn the_public_origin_passes_whatever_host_the_proxy_sends() {
        let headers = h(&[
            ("origin", "https://app.example.com"),
            ("host", "127.0.0.1:3000"),
        ]);
        assert!(!cross_site(&headers, &allowed(), true));
        assert!(!cross_site(
            &h(&[("host", "127.0.0.1:3000")]),
            &allowed(),
            true
        ));
    }

    #[test]
    fn another_scheme_host_or_port_is_cross_site() {
        for origin in [
            "http://app.example.com",
            "https://evil.example",
            "https://app.example.com:8443",
            "null",
        ] {
            let headers = h(&[("origin", origin), ("host", "app.example.com")]);
            assert!(cross_site(&headers, &allowed(), true), "{origin}");
        }
        assert!(cross_site(
            &h(&[("sec-fetch-site", "cross-site")]),
            &allowed(),
            true
        ));
    }

    #[test]
    fn without_a_public_origin_the_host_and_the_cookie_scheme_decide() {
        let same = h(&[
            ("origin", "http://127.0.0.1:3000"),
            ("host", "127.0.0.1:3000"),
        ]);
        assert!(!cross_site(&same, &[], false));
        assert!(
            cross_site(&same, &[], true),
            "http origin for an https site"
        );
    }

    #[test]
    fn a_null_origin_passes_only_when_the_browser_says_same_origin() {
        // A page sent with `Referrer-Policy: no-referrer` (the reset page) posts its form with
        // `Origin: null`; the browser's `Sec-Fetch-Site` still says where it came from.
        let same = h(&[("origin", "null"), ("sec-fetch-site", "same-origin")]);
        assert!(!cross_site(&same, &allowed(), true));
        for site in ["same-site", "none", "cross-site"] {
            let other = h(&[
                ("origin", "null"),
                (
                    "sec-fetch-site",
                    Box::leak(site.to_owned().into_boxed_str()),
                ),
            ]);
            assert!(cross_site(&other, &allowed(), true), "{site}");
        }
        assert!(cross_site(&h(&[("origin", "null")]), &allowed(), true));
    }

    #[test]
    fn bearer_requests_are_recognised_in_any_case() {
        assert!(is_bearer(&h(&[("authorization", "Bearer abc")])));
        assert!(is_bearer(&h(&[("authorization", "bearer abc")])));
        assert!(!is_bearer(&h(&[("authorization", "Basic abc")])));
    }
}
