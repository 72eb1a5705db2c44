//! Everything parsed from users and operators: emails, passwords, `next`, durations and rate
//! limits, public URLs, idempotency keys, forwarded addresses. Never a panic, and each parse
//! keeps its promise.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sessionflow::{
    server::{__fuzz, config},
    types::{next_param, safe_next},
    Email, Password,
};

fuzz_target!(|data: &[u8]| {
    let _ = __fuzz::parse_key(data);
    let Ok(s) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(e) = Email::parse(s) {
        assert_eq!(e.as_str(), e.as_str().trim());
        assert_eq!(Email::parse(e.as_str()).unwrap(), e, "parsing is idempotent");
    }
    let _ = Password::parse(s);
    let next = safe_next(Some(s));
    assert!(next.starts_with('/') && !next.starts_with("//") && !next.contains('\\'));
    let param = next_param(s);
    assert!(!param.contains(['&', '#', ' ', '"', '<', '>']), "{param}");
    let _ = config::RateLimit::parse(s);
    if let Ok(origin) = config::origin_of(s) {
        assert_eq!(config::origin_of(&origin).as_deref(), Ok(origin.as_str()));
    }
    let _ = config::AuthConfig::builder(s).public_origins([s]).build();
    let mut headers = http::HeaderMap::new();
    if let Ok(v) = http::HeaderValue::from_str(s) {
        headers.insert("x-forwarded-for", v);
    }
    let cfg = __fuzz::ClientIpConfig {
        trusted_proxies: vec!["127.0.0.0/8".parse().unwrap()],
        header: http::HeaderName::from_static("x-forwarded-for"),
    };
    let _ = __fuzz::client_ip(&cfg, Some([127, 0, 0, 1].into()), &headers);
});
