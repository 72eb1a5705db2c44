//! The layer's paths, names and timeouts ([`LayerConfig`]): what the server put in the page,
//! what the page overrides, what [`configure`](super::configure)(super::configure) set. Owns nothing but that.

use std::{cell::RefCell, time::Duration};
use wasm_bindgen::JsValue;

/// Paths, names and timeouts of the layer. Nothing to set in the usual case: the server tells
/// every page its refresh path and sign-in page (`<meta name="sessionflow">`, which
/// [`Default`] reads), and the rest has defaults.
///
/// Set with [`configure`](super::configure) before hydrating (fields not set: `..Default::default()`, which holds
/// what the server said), or, without recompiling, from the page: a global
/// `window.sessionflowConfig = { refreshTimeoutMs, requestTimeoutMs, refreshPath, loginPath,
/// channel }` overrides what it names (read at [`install_default_hook`](super::install_default_hook) / [`configure`](super::configure)).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LayerConfig {
    /// The refresh endpoint (`POST`).
    pub refresh_path: String,
    /// The sign-in page a rejected refresh sends the user to (`?next=…&reason=session_ended`).
    pub login_path: String,
    /// The BroadcastChannel the tabs of one browser talk on.
    pub channel: String,
    /// How long a refresh may take before it counts as unavailable (session kept).
    pub refresh_timeout: Duration,
    /// How long one attempt of a call may take before it is aborted as timed out.
    pub request_timeout: Duration,
    /// How long a tab that needs a refresh listens for other tabs' claims before deciding who
    /// refreshes.
    pub claim_window: Duration,
}

impl Default for LayerConfig {
    /// The engine's defaults, with what the server put in the page's `<meta name="sessionflow">`.
    fn default() -> Self {
        let defaults = Self {
            refresh_path: "/api/auth/refresh".into(),
            login_path: "/login".into(),
            channel: "sessionflow-auth".into(),
            refresh_timeout: Duration::from_secs(10),
            request_timeout: Duration::from_secs(30),
            claim_window: Duration::from_millis(120),
        };
        match server_settings() {
            Some(settings) => defaults.with(&settings),
            None => defaults,
        }
    }
}

/// What the server said in `<meta name="sessionflow" content="{…}">` (docs/browser.md,
/// "Configuration").
fn server_settings() -> Option<JsValue> {
    let meta = web_sys::window()?
        .document()?
        .query_selector(r#"meta[name="sessionflow"]"#)
        .ok()??;
    let json = js_sys::JSON::parse(&meta.get_attribute("content")?).ok()?;
    json.is_object().then_some(json)
}

impl LayerConfig {
    /// This configuration with whatever `window.sessionflowConfig` overrides.
    fn with_page_overrides(self) -> Self {
        match web_sys::window()
            .and_then(|w| js_sys::Reflect::get(&w, &"sessionflowConfig".into()).ok())
            .filter(JsValue::is_object)
        {
            Some(overrides) => self.with(&overrides),
            None => self,
        }
    }

    /// This configuration with what `obj` names (`refreshPath`, `loginPath`, `channel`,
    /// `refreshTimeoutMs`, `requestTimeoutMs`).
    fn with(mut self, obj: &JsValue) -> Self {
        let get = |k: &str| js_sys::Reflect::get(obj, &k.into()).ok();
        let ms = |k: &str| get(k).and_then(|v| v.as_f64()).filter(|v| *v > 0.0);
        let text = |k: &str| get(k).and_then(|v| v.as_string()).filter(|v| !v.is_empty());
        if let Some(v) = ms("refreshTimeoutMs") {
            self.refresh_timeout = Duration::from_millis(v as u64);
        }
        if let Some(v) = ms("requestTimeoutMs") {
            self.request_timeout = Duration::from_millis(v as u64);
        }
        if let Some(v) = text("refreshPath") {
            self.refresh_path = v;
        }
        if let Some(v) = text("loginPath") {
            self.login_path = v;
        }
        if let Some(v) = text("channel") {
            self.channel = v;
        }
        self
    }
}

thread_local! {
    /// `None` until first read or set.
    static CONFIG: RefCell<Option<LayerConfig>> = const { RefCell::new(None) };
}

/// Sets the configuration (page overrides applied).
pub(crate) fn set(config: LayerConfig) {
    CONFIG.with(|c| *c.borrow_mut() = Some(config.with_page_overrides()));
}

/// The layer's configuration.
pub fn config() -> LayerConfig {
    CONFIG.with(|c| {
        c.borrow_mut()
            .get_or_insert_with(|| LayerConfig::default().with_page_overrides())
            .clone()
    })
}
