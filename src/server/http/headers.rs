//! Response headers every page needs (docs/threats.md): no framing, a Content-Security-Policy whose
//! scripts are the app's own (by a per-request nonce that Leptos puts on its hydration scripts),
//! and `Cache-Control: no-store` on whatever this layer wraps. Pages also get the browser layer's
//! settings from the server (docs/browser.md, "Configuration"): one `<meta name="sessionflow">`
//! right after `<head>`, so the browser never repeats the server's paths.

use axum::{
    body::{Body, Bytes},
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
    /// The `<meta>` tag with the browser layer's settings ([`page_meta`]).
    pub page_meta: Bytes,
    /// Pages whose address holds a link's token (reset, verification): `Referrer-Policy:
    /// no-referrer`, so the token never leaves in a `Referer`.
    pub no_referrer: Vec<String>,
}

/// `<meta name="sessionflow" content="{…}">`: the paths the browser layer must agree on with the
/// server (its refresh endpoint, the sign-in page), as JSON in an attribute. Not a script, so
/// the Content-Security-Policy has nothing to allow.
pub(crate) fn page_meta(refresh_path: &str, login_path: &str) -> Bytes {
    let json = serde_json::json!({ "refreshPath": refresh_path, "loginPath": login_path });
    let escaped = json
        .to_string()
        .replace('&', "&amp;")
        .replace('"', "&quot;")
        .replace('<', "&lt;")
        .replace('>', "&gt;");
    Bytes::from(format!(r#"<meta name="sessionflow" content="{escaped}">"#))
}

/// `data` with `meta` right after its `<head …>` tag; `None` when it has none.
fn after_head(data: &[u8], meta: &[u8]) -> Option<Bytes> {
    let open = data
        .windows(5)
        .position(|w| w.eq_ignore_ascii_case(b"<head"))?;
    let next = *data.get(open + 5)?;
    if next != b'>' && !next.is_ascii_whitespace() {
        return None; // `<header>`, not `<head>`
    }
    let close = open + data[open..].iter().position(|&b| b == b'>')?;
    let mut out = Vec::with_capacity(data.len() + meta.len());
    out.extend_from_slice(&data[..=close]);
    out.extend_from_slice(meta);
    out.extend_from_slice(&data[close + 1..]);
    Some(out.into())
}

/// The page with the settings tag in its head. Only the first chunk is looked at: the shell
/// opens `<head>` before anything else is rendered.
fn with_page_meta(res: Response, meta: Bytes) -> Response {
    use futures::StreamExt;
    let (mut parts, body) = res.into_parts();
    parts.headers.remove(header::CONTENT_LENGTH);
    let mut meta = Some(meta);
    let stream = body.into_data_stream().map(move |chunk| {
        let Some(m) = meta.take() else {
            return chunk;
        };
        chunk.map(|data| after_head(&data, &m).unwrap_or(data))
    });
    Response::from_parts(parts, Body::from_stream(stream))
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
    let holds_token = policy.no_referrer.iter().any(|p| p == req.uri().path());
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
    if holds_token {
        headers.insert(
            header::REFERRER_POLICY,
            HeaderValue::from_static("no-referrer"),
        );
    } else {
        headers
            .entry(header::REFERRER_POLICY)
            .or_insert(HeaderValue::from_static("same-origin"));
    }
    let html = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("text/html"));
    if let (true, Some(nonce)) = (html, &nonce) {
        if let Ok(v) = HeaderValue::from_str(&policy.csp(nonce)) {
            headers.insert(header::CONTENT_SECURITY_POLICY, v);
        }
        return with_page_meta(res, policy.page_meta.clone());
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_settings_tag_goes_right_after_the_head_tag_and_nowhere_else() {
        let meta = page_meta("/auth-api/auth/refresh", "/sign-in");
        let page = after_head(b"<!DOCTYPE html><html><head><title>t</title></head>", &meta)
            .expect("a head");
        assert_eq!(
            std::str::from_utf8(&page).unwrap(),
            "<!DOCTYPE html><html><head><meta name=\"sessionflow\" content=\"{&quot;loginPath\
             &quot;:&quot;/sign-in&quot;,&quot;refreshPath&quot;:&quot;/auth-api/auth/refresh\
             &quot;}\"><title>t</title></head>"
        );
        let with_attrs = after_head(b"<html><HEAD lang=en>x", b"M").unwrap();
        assert_eq!(&with_attrs[..], b"<html><HEAD lang=en>Mx");
        assert!(after_head(b"<body><header>no head</header>", b"M").is_none());
    }

    #[test]
    fn a_path_cannot_break_out_of_the_attribute() {
        let meta = page_meta("/a\"><script>x</script>", "/b&c");
        let text = std::str::from_utf8(&meta).unwrap();
        assert!(!text.contains("<script>"), "{text}");
        assert_eq!(text.matches('"').count(), 4, "{text}");
    }
}
