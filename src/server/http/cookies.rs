//! The one place auth cookies are written: both `HttpOnly`, `SameSite=Lax`, `Path=/`, `Secure`
//! per configuration, `Max-Age` matching the token; names from the configuration.

use crate::server::{auth::Auth, error::RefreshFailure, sessions::TokenPair};
use axum::http::HeaderMap;
use tower_cookies::{
    cookie::{time::Duration as CookieDuration, SameSite},
    Cookie, Cookies,
};

fn build(name: &str, value: String, max_age_secs: i64, secure: bool) -> Cookie<'static> {
    Cookie::build((name.to_owned(), value))
        .http_only(true)
        .same_site(SameSite::Lax)
        .path("/")
        .secure(secure)
        .max_age(CookieDuration::seconds(max_age_secs))
        .build()
}

impl Auth {
    /// The access cookie's name.
    pub(crate) fn access_cookie(&self) -> &str {
        &self.config().cookies.access
    }

    /// The refresh cookie's name.
    pub(crate) fn refresh_cookie(&self) -> &str {
        &self.config().cookies.refresh
    }

    /// The refresh token the request's cookie carries; an empty cookie is none. The one place
    /// that decides whether a request "has a refresh cookie".
    pub(crate) fn refresh_cookie_in(&self, headers: &HeaderMap) -> Option<String> {
        crate::server::http::request::cookie(headers, self.refresh_cookie())
            .filter(|t| !t.is_empty())
    }

    /// What a refresh's outcome does to the cookies: a new pair is written (when `write_pair`),
    /// a definitive `Invalid` clears both, a transient failure leaves them alone. Every refresh
    /// path (pages, the JSON endpoint) goes through here.
    pub(crate) fn apply_refresh(
        &self,
        jar: &Cookies,
        outcome: &Result<TokenPair, RefreshFailure>,
        write_pair: bool,
    ) {
        match outcome {
            Ok(issued) if write_pair => self.set_cookies(jar, issued),
            Ok(_) | Err(RefreshFailure::Unavailable) => {}
            Err(RefreshFailure::Invalid) => self.clear_cookies(jar),
        }
    }

    /// Sets both cookies for a freshly issued pair.
    pub(crate) fn set_cookies(&self, jar: &Cookies, issued: &TokenPair) {
        let secure = self.config().cookies.secure;
        jar.add(build(
            self.access_cookie(),
            issued.access_token.clone(),
            issued.access_max_age,
            secure,
        ));
        // A pair without a refresh token (a password change keeps the session's) leaves the
        // refresh cookie as it is.
        if issued.refresh_token.is_empty() {
            return;
        }
        jar.add(build(
            self.refresh_cookie(),
            issued.refresh_token.clone(),
            issued.refresh_max_age,
            secure,
        ));
    }

    /// Clears both cookies. Only a definitive answer (401 `invalid_refresh_token`, sign-out)
    /// calls this.
    pub(crate) fn clear_cookies(&self, jar: &Cookies) {
        let secure = self.config().cookies.secure;
        jar.add(build(self.access_cookie(), String::new(), 0, secure));
        jar.add(build(self.refresh_cookie(), String::new(), 0, secure));
    }
}
