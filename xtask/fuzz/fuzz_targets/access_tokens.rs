//! Token extraction from request headers, and JWT verification of whatever comes out: never a
//! panic, and a valid token altered anywhere never verifies.
#![no_main]

use http::{header, HeaderMap, HeaderValue};
use libfuzzer_sys::fuzz_target;
use sessionflow::server::__fuzz::{self, Tokens};
use std::sync::LazyLock;

static KEYS: LazyLock<Tokens> = LazyLock::new(Tokens::default);
static VALID: LazyLock<String> = LazyLock::new(|| KEYS.issue());

fuzz_target!(|data: &[u8]| {
    // Headers as a client could send them: Authorization and Cookie, split at the first NUL.
    let (auth, cookie) = match data.iter().position(|b| *b == 0) {
        Some(i) => (&data[..i], &data[i + 1..]),
        None => (data, &b""[..]),
    };
    let mut headers = HeaderMap::new();
    if let Ok(v) = HeaderValue::from_bytes(auth) {
        headers.insert(header::AUTHORIZATION, v);
    }
    if let Ok(v) = HeaderValue::from_bytes(cookie) {
        headers.append(header::COOKIE, v);
    }
    if let Some(token) = KEYS.presented(&headers) {
        let _ = KEYS.verifies(&token);
    }
    let _ = __fuzz::cookie(&headers, "refresh_token");

    // The valid token with the input spliced in at a position the input chooses.
    if let Ok(text) = std::str::from_utf8(data) {
        let valid = VALID.as_str();
        let at = data.first().map_or(0, |b| *b as usize % (valid.len() + 1));
        let mut altered = String::with_capacity(valid.len() + text.len());
        altered.push_str(&valid[..at]);
        altered.push_str(text);
        altered.push_str(&valid[at..]);
        if altered != valid {
            assert!(!KEYS.verifies(&altered), "an altered token verified: {altered}");
        }
    }
});
