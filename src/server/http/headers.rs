//! Response headers every page needs (docs/threats.md): no framing, a Content-Security-Policy whose
//! scripts are the app's own (by a per-request nonce that Leptos puts on its hydration scripts),
//! and `Cache-Control: no-store` on whatever this layer wraps.

use axum::{
    extract::{Request, State},
    http::{header, HeaderValue},
    middleware::Next,
    response::Response,
};
use base64::{engine::general_purpose::URL_SAFE_NO_PAD, Engine};
use rand::RngCore;
use std::sync::Arc;

/// The request's CSP nonce, in the request extensions.
#[derive(Debug, Clone)]
pub(crate) struct CspNonce(pub String);

/// What the policy allows beyond the app's own origin.
#[derive(Debug, Clone, Default)]
pub(crate) struct SecurityHeaders {
    /// Extra `connect-src` sources, e.g. `ws:` for `cargo leptos watch`'s live reload.
    pub connect_src: Vec<String>,
    /// Requests under this prefix (the JSON API, server functions) answer no pages: no nonce.
    pub api_prefix: String,
}

impl SecurityHeaders {
    fn csp(&self, nonce: &str) -> String {
        let connect = std::iter::once("'self'".to_owned())
            .chain(self.connect_src.iter().cloned())
            .collect::<Vec<_>>()
            .join(" ");
        format!(
            "default-src 'self'; script-src 'self' 'nonce-{nonce}' 'wasm-unsafe-eval'; \
             style-src 'self'; img-src 'self' data:; connect-src {connect}; object-src 'none'; \
             base-uri 'self'; form-action 'self'; frame-ancestors 'none'"
        )
    }
}

/// Middleware: a fresh nonce per request; `X-Frame-Options: DENY`, `nosniff` and a same-origin
/// referrer policy on every response, and the Content-Security-Policy on every HTML one.
pub(crate) async fn security_headers(
    State(policy): State<Arc<SecurityHeaders>>,
    mut req: Request,
    next: Next,
) -> Response {
    let page = !crate::server::config::is_api_path(&policy.api_prefix, req.uri().path());
    let nonce = page.then(|| {
        let mut bytes = [0u8; 16];
        rand::thread_rng().fill_bytes(&mut bytes);
        URL_SAFE_NO_PAD.encode(bytes)
    });
    if let Some(n) = &nonce {
        req.extensions_mut().insert(CspNonce(n.clone()));
    }
    let mut res = next.run(req).await;
    let headers = res.headers_mut();
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    headers
        .entry(header::X_CONTENT_TYPE_OPTIONS)
        .or_insert(HeaderValue::from_static("nosniff"));
    headers
        .entry(header::REFERRER_POLICY)
        .or_insert(HeaderValue::from_static("same-origin"));
    let html = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("text/html"));
    if let (true, Some(nonce)) = (html, &nonce) {
        if let Ok(v) = HeaderValue::from_str(&policy.csp(nonce)) {
            headers.insert(header::CONTENT_SECURITY_POLICY, v);
        }
    }
    res
}

/// Middleware: `Cache-Control: no-store` unless the handler chose otherwise. For pages and API
/// answers (they may show a signed-in user or set an auth cookie), never for static files.
pub(crate) async fn no_store(req: Request, next: Next) -> Response {
    let mut res = next.run(req).await;
    res.headers_mut()
        .entry(header::CACHE_CONTROL)
        .or_insert(HeaderValue::from_static("no-store"));
    res
}

/// Puts the request's nonce in the render's context (`SessionRoutes` and `page_context` call it):
/// Leptos then puts it on its hydration scripts, so the Content-Security-Policy's `'nonce-…'`
/// admits exactly them.
pub(crate) fn provide_nonce() {
    use leptos::prelude::{provide_context, use_context};
    let nonce = use_context::<axum::http::request::Parts>()
        .and_then(|p| p.extensions.get::<CspNonce>().cloned());
    if let Some(CspNonce(n)) = nonce {
        provide_context(leptos::nonce::Nonce::from_value(n));
    }
}
