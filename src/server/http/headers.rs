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

/// The headers pages get, with the policy built once at install.
#[derive(Debug, Clone, Default)]
pub(crate) struct SecurityHeaders {
    /// The Content-Security-Policy around its nonce ([`Csp`]).
    pub csp: Csp,
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

/// The pages' Content-Security-Policy, as the text before and after the request's nonce.
#[derive(Debug, Clone, Default)]
pub(crate) struct Csp {
    before_nonce: String,
    after_nonce: String,
}

/// The policy's directives and their sources: scripts only the app's own (`'self'`, and inline
/// ones only with the request's nonce; `'wasm-unsafe-eval'` to compile the wasm), everything
/// else from the app's origin, no plugins, no framing. `{nonce}` marks the nonce's place.
const CSP_DEFAULTS: &[(&str, &str)] = &[
    ("default-src", "'self'"),
    ("script-src", "'self' 'nonce-{nonce}' 'wasm-unsafe-eval'"),
    ("style-src", "'self'"),
    ("img-src", "'self' data:"),
    ("connect-src", "'self'"),
    ("object-src", "'none'"),
    ("base-uri", "'self'"),
    ("form-action", "'self'"),
    ("frame-ancestors", "'none'"),
];

impl Csp {
    /// The default policy with the app's `extra` sources (checked by the configuration) added to
    /// their directives. A directive the defaults leave to `default-src` gets `'self'` first, so
    /// adding to it never allows less than before.
    pub(crate) fn new(extra: &[(String, Vec<String>)]) -> Self {
        let mut directives: Vec<(&str, String)> = CSP_DEFAULTS
            .iter()
            .map(|(d, s)| (*d, (*s).to_owned()))
            .collect();
        for (directive, sources) in extra {
            if sources.is_empty() {
                continue;
            }
            let at = match directives.iter().position(|(d, _)| d == directive) {
                Some(at) => at,
                None => {
                    // Before `object-src`: the fetch directives stay together.
                    let at = directives
                        .iter()
                        .position(|(d, _)| *d == "object-src")
                        .unwrap_or(directives.len());
                    directives.insert(at, (directive.as_str(), "'self'".to_owned()));
                    at
                }
            };
            for source in sources {
                let known = directives[at].1.split(' ').any(|s| s == source);
                if !known {
                    directives[at].1.push(' ');
                    directives[at].1.push_str(source);
                }
            }
        }
        let policy = directives
            .iter()
            .map(|(d, s)| format!("{d} {s}"))
            .collect::<Vec<_>>()
            .join("; ");
        let (before, after) = policy
            .split_once("{nonce}")
            .expect("script-src holds the nonce");
        Self {
            before_nonce: before.to_owned(),
            after_nonce: after.to_owned(),
        }
    }

    /// The policy for a response whose scripts carry `nonce`.
    pub(crate) fn with_nonce(&self, nonce: &str) -> String {
        [self.before_nonce.as_str(), nonce, &self.after_nonce].concat()
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
        if let Ok(v) = HeaderValue::from_str(&policy.csp.with_nonce(nonce)) {
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

/// Puts the request's nonce in the render's context (`PageRoutes` and `page_context` call it):
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

    fn extra(pairs: &[(&str, &[&str])]) -> Vec<(String, Vec<String>)> {
        pairs
            .iter()
            .map(|(d, s)| (d.to_string(), s.iter().map(|s| s.to_string()).collect()))
            .collect()
    }

    #[test]
    fn the_default_policy_allows_only_the_apps_own_scripts() {
        assert_eq!(
            Csp::new(&[]).with_nonce("N0nce"),
            "default-src 'self'; script-src 'self' 'nonce-N0nce' 'wasm-unsafe-eval'; \
             style-src 'self'; img-src 'self' data:; connect-src 'self'; object-src 'none'; \
             base-uri 'self'; form-action 'self'; frame-ancestors 'none'"
        );
    }

    #[test]
    fn an_app_adds_hosts_to_a_directive_and_the_defaults_stay() {
        let csp = Csp::new(&extra(&[
            ("img-src", &["https://avatars.example.com"]),
            ("font-src", &["https://fonts.example.com"]),
            ("script-src", &["https://cdn.example.com"]),
            ("img-src", &["https://cdn.example.com", "data:"]),
        ]))
        .with_nonce("abc");
        let directive = |name: &str| {
            csp.split("; ")
                .find(|d| d.split(' ').next() == Some(name))
                .unwrap_or_else(|| panic!("{name} in {csp}"))
                .to_owned()
        };
        assert_eq!(
            directive("img-src"),
            "img-src 'self' data: https://avatars.example.com https://cdn.example.com"
        );
        // A directive the defaults leave to default-src starts from 'self'.
        assert_eq!(
            directive("font-src"),
            "font-src 'self' https://fonts.example.com"
        );
        assert_eq!(
            directive("script-src"),
            "script-src 'self' 'nonce-abc' 'wasm-unsafe-eval' https://cdn.example.com"
        );
        for kept in [
            "default-src 'self'",
            "object-src 'none'",
            "base-uri 'self'",
            "frame-ancestors 'none'",
        ] {
            assert_eq!(directive(kept.split(' ').next().unwrap()), kept);
        }
    }

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
