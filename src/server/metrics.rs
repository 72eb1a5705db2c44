//! What the engine counts, through the `metrics` facade (docs/operations.md lists every name).
//! Without a recorder installed these calls cost next to nothing; the binary installs a
//! Prometheus recorder when `METRICS_ADDR` is set. Every name and label is here, so a dashboard
//! has one file to read.

use ::metrics::{counter, gauge, histogram};
use std::time::Duration;

/// How a refresh ended, as the refresh store saw it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum RefreshOutcome {
    /// This request rotated the token.
    Rotated,
    /// It joined a rotation in flight, or one finished moments ago (the coalescing window).
    Joined,
    /// A spent token inside the grace window got the newest token of its session.
    Grace,
    /// A spent token after the grace window got its never-used successor, once.
    LostAnswer,
    /// A replay revoked its whole session.
    ReuseRevoked,
    /// Unknown, expired or revoked.
    Invalid,
    /// The database did not answer.
    Unavailable,
}

impl RefreshOutcome {
    fn label(self) -> &'static str {
        match self {
            Self::Rotated => "rotated",
            Self::Joined => "joined",
            Self::Grace => "grace",
            Self::LostAnswer => "lost_answer",
            Self::ReuseRevoked => "reuse_revoked",
            Self::Invalid => "invalid",
            Self::Unavailable => "unavailable",
        }
    }
}

/// Where a refresh was asked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RefreshPath {
    /// A page request, during SSR.
    Ssr,
    /// `POST {api}/auth/refresh` with the refresh cookie (the browser layer).
    Browser,
    /// `POST {api}/auth/refresh` with the token in the body (clients without a cookie jar).
    Api,
}

impl RefreshPath {
    fn label(self) -> &'static str {
        match self {
            Self::Ssr => "ssr",
            Self::Browser => "browser",
            Self::Api => "api",
        }
    }
}

/// Kinds of request, for the duration histogram.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RequestKind {
    /// A rendered page (or the 404 page).
    Page,
    /// A Leptos server function.
    ServerFn,
    /// The JSON API.
    Api,
    /// A file of the site (`/pkg/*`, the icon).
    Static,
}

impl RequestKind {
    fn label(self) -> &'static str {
        match self {
            Self::Page => "page",
            Self::ServerFn => "server_fn",
            Self::Api => "api",
            Self::Static => "static",
        }
    }
}

pub(crate) fn refresh_outcome(outcome: RefreshOutcome) {
    counter!("sessionflow_refresh_outcomes_total", "outcome" => outcome.label()).increment(1);
}

pub(crate) fn refresh_path(path: RefreshPath, ok: bool) {
    let result = if ok { "ok" } else { "failed" };
    counter!("sessionflow_refreshes_total", "path" => path.label(), "result" => result)
        .increment(1);
}

pub(crate) fn rotation_duration(took: Duration) {
    histogram!("sessionflow_rotation_duration_seconds").record(took.as_secs_f64());
}

pub(crate) fn rotations_in_flight(n: usize) {
    gauge!("sessionflow_rotations_in_flight").set(n as f64);
}

pub(crate) fn sign_in(outcome: &'static str) {
    counter!("sessionflow_sign_ins_total", "outcome" => outcome).increment(1);
}

pub(crate) fn registration(outcome: &'static str) {
    counter!("sessionflow_registrations_total", "outcome" => outcome).increment(1);
}

/// A 429 answered, by bucket (`address`, `account`).
pub(crate) fn rate_limited(bucket: &'static str) {
    counter!("sessionflow_rate_limited_total", "bucket" => bucket).increment(1);
}

/// A 503 answered, by cause (`database`, `hashing_queue`).
pub(crate) fn unavailable(cause: &'static str) {
    counter!("sessionflow_unavailable_total", "cause" => cause).increment(1);
}

/// A message through the outbox: `queued`, `sent`, `retried` (an attempt failed, another will
/// come), `failed` (given up), `no_account` (a forgot-password request for an unknown address:
/// nothing to send).
pub(crate) fn mail(event: &'static str) {
    counter!("sessionflow_mail_total", "event" => event).increment(1);
}

/// Messages in the outbox not yet done.
pub(crate) fn outbox_depth(n: i64) {
    gauge!("sessionflow_outbox_depth").set(n as f64);
}

/// An account event: `reset`, `password_changed`, `email_verified`, `reset_requested`,
/// `invalid_link`.
pub(crate) fn account_event(event: &'static str) {
    counter!("sessionflow_account_events_total", "event" => event).increment(1);
}

pub(crate) fn hashing_queue_depth(n: usize) {
    gauge!("sessionflow_hashing_queue_depth").set(n as f64);
}

pub(crate) fn live_sessions_remembered(n: usize) {
    gauge!("sessionflow_live_sessions_remembered").set(n as f64);
}

/// A revocation announced to other instances (`sent`) or heard from one (`received`).
pub(crate) fn revocation_announcement(direction: &'static str) {
    counter!("sessionflow_revocation_announcements_total", "direction" => direction).increment(1);
}

pub(crate) fn request_duration(kind: RequestKind, took: Duration) {
    histogram!("sessionflow_request_duration_seconds", "kind" => kind.label())
        .record(took.as_secs_f64());
}

/// What the request-duration layer needs to tell kinds apart.
#[derive(Clone)]
pub(crate) struct Kinds {
    api_prefix: std::sync::Arc<str>,
    server_fns: std::sync::Arc<std::collections::HashSet<&'static str>>,
}

impl Kinds {
    /// The server functions registered so far (all of them, once the app's routes are built).
    pub fn new(api_prefix: &str) -> Self {
        Self {
            api_prefix: api_prefix.into(),
            server_fns: std::sync::Arc::new(
                server_fn::axum::server_fn_paths()
                    .map(|(path, _)| path)
                    .collect(),
            ),
        }
    }

    /// What the path alone says: a server function or the API; `None` for everything else
    /// (a page or a static file, told apart by the response).
    fn by_path(&self, path: &str) -> Option<RequestKind> {
        if self.server_fns.contains(path) {
            Some(RequestKind::ServerFn)
        } else if super::config::is_api_path(&self.api_prefix, path) || path == "/healthz" {
            Some(RequestKind::Api)
        } else {
            None
        }
    }
}

fn page_or_static(res: &axum::response::Response) -> RequestKind {
    let html = res
        .headers()
        .get(axum::http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|t| t.starts_with("text/html"));
    if html {
        RequestKind::Page
    } else {
        RequestKind::Static
    }
}

/// The outermost engine layer: times every request until its response head is ready.
pub(crate) async fn timed(
    axum::extract::State(kinds): axum::extract::State<Kinds>,
    req: axum::extract::Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    let started = std::time::Instant::now();
    // Classified before the request moves on, so its path need not be copied.
    let kind = kinds.by_path(req.uri().path());
    let res = next.run(req).await;
    request_duration(
        kind.unwrap_or_else(|| page_or_static(&res)),
        started.elapsed(),
    );
    res
}
