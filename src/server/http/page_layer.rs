//! The SSR session layer: runs in front of the Leptos handler, before a byte of the page streams.
//!
//! For a page request (GET/HEAD outside the API prefix) whose access token is expired or missing
//! while a refresh cookie is present, it rotates once (joining any rotation of the same token in
//! flight), sets both cookies on the response, rewrites the inbound `Cookie` header, and stores the
//! refreshed caller in the request extensions, where every server function and resource of the
//! request finds it. Because the cookies are set here, they reach the browser whatever SSR mode
//! the route streams with (docs/protocol.md, "Flow"). Server-function calls are resolved but never refreshed:
//! they answer 401 and leave recovery to the browser layer.

use crate::server::{
    auth::Auth, error::RefreshFailure, http::cookies::AuthCookies, http::pages::PagePolicy,
    http::request::Caller, http::use_cases, metrics::RefreshPath, sessions::Principal,
};
use crate::types::safe_next;
use axum::{
    body::Body,
    extract::{Request, State},
    http::{header, HeaderValue, Method, StatusCode},
    middleware::Next,
    response::{IntoResponse, Redirect, Response},
};
use http_body_util::BodyExt;
use std::sync::Arc;
use tower_cookies::Cookies;

/// State of the session layer: the engine and the page policy.
#[derive(Clone)]
pub(crate) struct SessionLayerState {
    pub auth: Auth,
    pub policy: Arc<PagePolicy>,
    /// Whether page requests with an expired access token refresh. `false` for the not-found
    /// page: it shows who is signed in, but a stray URL (or `/favicon.ico`) never rotates tokens.
    pub refresh: bool,
}

fn matches(prefixes: &[String], path: &str) -> bool {
    prefixes.iter().any(|p| {
        path == p
            || path
                .strip_prefix(p.as_str())
                .is_some_and(|rest| rest.starts_with('/'))
    })
}

/// The middleware (with `from_fn_with_state`, inside a `CookieManagerLayer`).
pub(crate) async fn session_layer(
    State(state): State<SessionLayerState>,
    cookies: Cookies,
    mut req: Request,
    next: Next,
) -> Response {
    let SessionLayerState {
        auth,
        policy,
        refresh,
    } = state;
    let path = req.uri().path().to_owned();
    let is_page = is_page(&auth, &req);
    let mut session = auth.resolve(req.headers()).await;
    let mut ended = false;

    if refresh && is_page && matches!(session, Caller::Anonymous { .. }) {
        let auth_cookies = AuthCookies::of(&auth);
        if let Some(token) = auth_cookies.refresh_in(req.headers()) {
            let refreshed =
                use_cases::refresh(&auth, &cookies, Some(&token), RefreshPath::Ssr, true).await;
            session = match refreshed {
                Ok(issued) => {
                    auth_cookies.rewrite_inbound(req.headers_mut(), Some(&issued));
                    tracing::debug!(session_id = %issued.session_id, "refreshed during SSR");
                    Caller::SignedIn(Principal {
                        user: issued.user,
                        session_id: issued.session_id,
                    })
                }
                Err(RefreshFailure::Invalid) => {
                    auth_cookies.rewrite_inbound(req.headers_mut(), None);
                    ended = true;
                    Caller::Anonymous { reason: None }
                }
                Err(RefreshFailure::Unavailable) => Caller::Unavailable,
            };
        }
    }

    if is_page {
        let signed_in = session.principal().is_some();
        if matches(&policy.protected, &path) && !signed_in {
            let target = req
                .uri()
                .path_and_query()
                .map_or(path.as_str(), |pq| pq.as_str());
            if matches!(session, Caller::Unavailable) {
                return unavailable_page(target);
            }
            let next = crate::types::next_param(target);
            let reason = if ended { "&reason=session_ended" } else { "" };
            let login = auth.config().login_path();
            return Redirect::to(&format!("{login}?next={next}{reason}")).into_response();
        }
        if matches(&policy.guest_only, &path) && signed_in {
            let next = req
                .uri()
                .query()
                .and_then(|q| form_urlencoded::parse(q.as_bytes()).find(|(k, _)| k == "next"))
                .map(|(_, v)| safe_next(Some(&v)))
                .filter(|n| n != "/")
                .unwrap_or_else(|| policy.home.clone());
            return Redirect::to(&next).into_response();
        }
    }

    req.extensions_mut().insert(Arc::new(session));
    req.extensions_mut().insert(auth);
    next.run(req).await
}

/// A GET or HEAD outside the API prefix: what the session layer may refresh for, and what
/// [`page_turns`] counts when it reaches a render.
fn is_page(auth: &Auth, req: &Request) -> bool {
    matches!(*req.method(), Method::GET | Method::HEAD)
        && !auth.config().is_api_path(req.uri().path())
}

/// Middleware for the routes that render pages (`PageRoutes` and `Layers::not_found_page` put it
/// on theirs; an app's own rendering route can take it with `route_layer(from_fn(page_turns))`):
/// a page render waits for one of the engine's turns and keeps it until its body is dropped, so
/// a burst of page loads holds a bounded number of renders in memory (docs/limits.md, "Pages in
/// flight"). Other routes on the app's router (a health check, say) never wait behind renders.
///
/// It reads the engine from the request's extensions, where the session layer put it, so it
/// belongs inside `Auth::install`'s layers; a request that did not pass them goes through
/// without a turn.
pub async fn page_turns(req: Request, next: Next) -> Response {
    let Some(auth) = req.extensions().get::<Auth>().cloned() else {
        return next.run(req).await;
    };
    if !is_page(&auth, &req) {
        return next.run(req).await;
    }
    let turn = auth.page_turn().await;
    next.run(req)
        .await
        .map(|body| hold_until_dropped(body, turn))
}

/// The body, holding `turn` until it is dropped: hyper drops a body once its last frame is
/// written, and at once when the client goes away.
fn hold_until_dropped(body: Body, turn: tokio::sync::OwnedSemaphorePermit) -> Body {
    Body::new(body.map_frame(move |frame| {
        let _held = &turn;
        frame
    }))
}

/// A protected page while the database does not answer: 503 with a way to try again, and the
/// session (cookies) untouched.
fn unavailable_page(target: &str) -> Response {
    let href: String = target
        .chars()
        .filter(|c| !matches!(c, '"' | '<' | '>' | '\'' | '&'))
        .collect();
    let body = format!(
        "<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\">\
         <title>Temporarily unavailable</title></head>\
         <body><main><div role=\"alert\" data-testid=\"error\" \
         data-code=\"unavailable\"><span>The service is temporarily unavailable; you are still signed in.</span> \
         <a href=\"{href}\" data-testid=\"retry\">Try again</a></div></main></body></html>"
    );
    let mut res = (
        StatusCode::SERVICE_UNAVAILABLE,
        [(header::CONTENT_TYPE, "text/html; charset=utf-8")],
        body,
    )
        .into_response();
    res.headers_mut()
        .insert(header::RETRY_AFTER, HeaderValue::from_static("5"));
    res
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefixes_match_whole_segments() {
        let pages = ["/dashboard".to_owned()];
        assert!(matches(&pages, "/dashboard"));
        assert!(matches(&pages, "/dashboard/42"));
        assert!(!matches(&pages, "/dashboardfoo"));
    }
}
