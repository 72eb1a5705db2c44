//! The one place auth cookies are written: `access_token` and `refresh_token`, both `HttpOnly`,
//! `SameSite=Lax`, `Path=/`, `Secure` per configuration, `Max-Age` matching the token.

use super::Issued;
use tower_cookies::{
    cookie::{time::Duration as CookieDuration, SameSite},
    Cookie, Cookies,
};

pub const ACCESS_COOKIE: &str = "access_token";
pub const REFRESH_COOKIE: &str = "refresh_token";

fn build(name: &'static str, value: String, max_age_secs: i64, secure: bool) -> Cookie<'static> {
    Cookie::build((name, value))
        .http_only(true)
        .same_site(SameSite::Lax)
        .path("/")
        .secure(secure)
        .max_age(CookieDuration::seconds(max_age_secs))
        .build()
}

/// Sets both cookies for a freshly issued pair.
pub fn set_pair(cookies: &Cookies, issued: &Issued, secure: bool) {
    cookies.add(build(
        ACCESS_COOKIE,
        issued.access_token.clone(),
        issued.access_max_age,
        secure,
    ));
    cookies.add(build(
        REFRESH_COOKIE,
        issued.refresh_token.clone(),
        issued.refresh_max_age,
        secure,
    ));
}

/// Clears both cookies. Only a definitive answer (401 `invalid_refresh_token`, logout) calls this.
pub fn clear_pair(cookies: &Cookies, secure: bool) {
    cookies.add(build(ACCESS_COOKIE, String::new(), 0, secure));
    cookies.add(build(REFRESH_COOKIE, String::new(), 0, secure));
}
