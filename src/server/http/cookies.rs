//! The auth cookies, every operation on them in one type ([`AuthCookies`]): reading the tokens a
//! request presents, writing a freshly issued pair, clearing both, what a refresh's outcome does
//! to them, and rewriting the inbound `Cookie` header after a refresh. Both `HttpOnly`,
//! `SameSite=Lax`, `Path=/`, `Secure` per configuration, `Max-Age` matching the token; names
//! from the configuration.

use crate::server::{auth::Auth, config::CookieConfig, error::RefreshFailure, sessions::TokenPair};
use axum::http::{header, HeaderMap, HeaderValue};
use tower_cookies::{
    cookie::{time::Duration as CookieDuration, SameSite},
    Cookie, Cookies,
};

/// The engine's two cookies, as configured.
#[derive(Clone, Copy)]
pub(crate) struct AuthCookies<'a>(&'a CookieConfig);

impl<'a> AuthCookies<'a> {
    /// The cookies `auth` is configured with.
    pub(crate) fn of(auth: &'a Auth) -> Self {
        Self(&auth.config().cookies)
    }

    /// The access cookie's name.
    pub(crate) fn access_name(self) -> &'a str {
        &self.0.access
    }

    /// The refresh cookie's name.
    pub(crate) fn refresh_name(self) -> &'a str {
        &self.0.refresh
    }

    /// The access token the request presents: `Authorization: Bearer …` first, then the access
    /// cookie.
    pub(crate) fn access_in(self, headers: &HeaderMap) -> Option<String> {
        bearer_or_cookie(headers, self.access_name())
    }

    /// The refresh token the request's cookie carries; an empty cookie is none. The one place
    /// that decides whether a request "has a refresh cookie".
    pub(crate) fn refresh_in(self, headers: &HeaderMap) -> Option<String> {
        cookie(headers, self.refresh_name()).filter(|t| !t.is_empty())
    }

    /// Sets both cookies for a freshly issued pair. A pair without a refresh token (a password
    /// change keeps the session's) leaves the refresh cookie as it is.
    pub(crate) fn set(self, jar: &Cookies, issued: &TokenPair) {
        jar.add(self.build(
            self.access_name(),
            issued.access_token.clone(),
            issued.access_max_age,
        ));
        if issued.refresh_token.is_empty() {
            return;
        }
        jar.add(self.build(
            self.refresh_name(),
            issued.refresh_token.clone(),
            issued.refresh_max_age,
        ));
    }

    /// Clears both cookies. Only a definitive answer (401 `invalid_refresh_token`, sign-out)
    /// calls this.
    pub(crate) fn clear(self, jar: &Cookies) {
        jar.add(self.build(self.access_name(), String::new(), 0));
        jar.add(self.build(self.refresh_name(), String::new(), 0));
    }

    /// What a refresh's outcome does to the cookies: a new pair is written (when `write_pair`),
    /// a definitive `Invalid` clears both, a transient failure leaves them alone. Every refresh
    /// path (pages, the JSON endpoint) goes through here.
    pub(crate) fn after_refresh(
        self,
        jar: &Cookies,
        outcome: &Result<TokenPair, RefreshFailure>,
        write_pair: bool,
    ) {
        match outcome {
            Ok(issued) if write_pair => self.set(jar, issued),
            Ok(_) | Err(RefreshFailure::Unavailable) => {}
            Err(RefreshFailure::Invalid) => self.clear(jar),
        }
    }

    /// Replaces (or, with `None`, removes) both auth cookies in the inbound `Cookie` header, so
    /// that anything downstream reading cookies sees the refreshed session, never the spent one.
    pub(crate) fn rewrite_inbound(self, headers: &mut HeaderMap, issued: Option<&TokenPair>) {
        rewrite_cookie_header(headers, self.access_name(), self.refresh_name(), issued)
    }

    fn build(self, name: &str, value: String, max_age_secs: i64) -> Cookie<'static> {
        Cookie::build((name.to_owned(), value))
            .http_only(true)
            .same_site(SameSite::Lax)
            .path("/")
            .secure(self.0.secure)
            .max_age(CookieDuration::seconds(max_age_secs))
            .build()
    }
}

/// The request's access token: `Authorization: Bearer …` first, then the access cookie.
pub(crate) fn bearer_or_cookie(headers: &HeaderMap, cookie_name: &str) -> Option<String> {
    if let Some(v) = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
    {
        let (scheme, token) = v.split_once(' ').unwrap_or((v, ""));
        if scheme.eq_ignore_ascii_case("bearer") {
            return Some(token.trim().to_owned());
        }
    }
    cookie(headers, cookie_name).filter(|v| !v.is_empty())
}

/// A cookie's value from the request's `Cookie` headers.
pub(crate) fn cookie(headers: &HeaderMap, name: &str) -> Option<String> {
    request_cookies(headers)
        .find(|c| c.name() == name)
        .map(|c| c.value_trimmed().to_owned())
}

/// Every cookie of the request's `Cookie` headers, parsed by the `cookie` crate (malformed
/// pairs are skipped).
pub(crate) fn request_cookies(
    headers: &HeaderMap,
) -> impl Iterator<Item = tower_cookies::Cookie<'_>> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(tower_cookies::Cookie::split_parse)
        .filter_map(Result::ok)
}

fn rewrite_cookie_header(
    headers: &mut HeaderMap,
    access: &str,
    refresh: &str,
    issued: Option<&TokenPair>,
) {
    let mut pairs: Vec<String> = request_cookies(headers)
        .filter(|c| c.name() != access && c.name() != refresh)
        .map(|c| c.stripped().to_string())
        .collect();
    if let Some(i) = issued {
        pairs.push(format!("{access}={}", i.access_token));
        pairs.push(format!("{refresh}={}", i.refresh_token));
    }
    headers.remove(header::COOKIE);
    if let Ok(v) = HeaderValue::from_str(&pairs.join("; ")) {
        if !pairs.is_empty() {
            headers.insert(header::COOKIE, v);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.append(
                header::HeaderName::from_bytes(k.as_bytes()).unwrap(),
                v.parse().unwrap(),
            );
        }
        h
    }

    #[test]
    fn bearer_header_wins_over_the_cookie() {
        let h = headers(&[
            ("authorization", "Bearer abc"),
            ("cookie", "access_token=def"),
        ]);
        assert_eq!(bearer_or_cookie(&h, "access_token").as_deref(), Some("abc"));
        let h = headers(&[("cookie", "x=1; access_token=def; y=2")]);
        assert_eq!(bearer_or_cookie(&h, "access_token").as_deref(), Some("def"));
    }

    #[test]
    fn an_empty_access_cookie_counts_as_missing() {
        assert_eq!(
            bearer_or_cookie(&headers(&[("cookie", "access_token=")]), "access_token"),
            None
        );
    }

    proptest::proptest! {
        #[test]
        fn token_extraction_takes_any_header_bytes(
            auth in proptest::collection::vec(proptest::num::u8::ANY, 0..200),
            cookies in proptest::collection::vec(proptest::num::u8::ANY, 0..200),
        ) {
            let mut h = HeaderMap::new();
            if let Ok(v) = HeaderValue::from_bytes(&auth) {
                h.insert(header::AUTHORIZATION, v);
            }
            if let Ok(v) = HeaderValue::from_bytes(&cookies) {
                h.insert(header::COOKIE, v);
            }
            let _ = bearer_or_cookie(&h, "access_token");
            if let Some(v) = cookie(&h, "refresh_token") {
                proptest::prop_assert!(!v.contains(';'));
            }
        }
    }

    #[test]
    fn rewritten_cookie_header_keeps_other_cookies_and_drops_spent_tokens() {
        let mut h = HeaderMap::new();
        h.insert(
            header::COOKIE,
            "theme=dark; access_token=old; refresh_token=R0"
                .parse()
                .unwrap(),
        );
        rewrite_cookie_header(&mut h, "access_token", "refresh_token", None);
        assert_eq!(h.get(header::COOKIE).unwrap(), "theme=dark");
    }
}
