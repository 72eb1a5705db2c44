//! Parsed inputs and browser-visible records, shared by the server and the hydrated forms.

use crate::error::ApiError;
use serde::{Deserialize, Serialize};

/// A signed-in user as pages and API clients see it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct User {
    /// A stable id (a UUID).
    pub id: String,
    /// The sign-in email, lower-cased.
    pub email: String,
    /// Whether the person confirmed the address (a verification link, or a password reset,
    /// which proves they read its mail).
    #[serde(default)]
    pub email_verified: bool,
}

/// A signed-in device (one session of the user), as the devices page and
/// `GET /api/auth/sessions` show it. Times are RFC 3339.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct Device {
    /// The session id (what revoking it takes).
    pub id: String,
    /// When it was signed in.
    pub created_at: String,
    /// When it last refreshed.
    pub last_used_at: String,
    /// The browser or client it was signed in from.
    pub user_agent: Option<String>,
    /// Whether this is the session of the request that asked.
    pub current: bool,
}

/// A syntactically valid, lower-cased email address.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Email(String);

impl Email {
    /// Trims, lower-cases and checks the shape `local@domain.tld` (at most 254 characters).
    pub fn parse(raw: &str) -> Result<Self, ApiError> {
        let email = raw.trim().to_lowercase();
        let invalid = || ApiError::validation("email", "Enter a valid email address.");
        if email.is_empty() || email.len() > 254 || email.chars().any(char::is_whitespace) {
            return Err(invalid());
        }
        let (local, domain) = email.split_once('@').ok_or_else(invalid)?;
        let domain_ok = domain.contains('.')
            && !domain.starts_with('.')
            && !domain.ends_with('.')
            && !domain.contains('@');
        if local.is_empty() || !domain_ok {
            return Err(invalid());
        }
        Ok(Self(email))
    }

    /// The normalised address.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A password of 8 to 1024 characters. Its `Debug` never shows it.
#[derive(Clone)]
pub struct Password(String);

impl Password {
    /// The fewest characters accepted.
    pub const MIN_CHARS: usize = 8;
    /// The most characters accepted (argon2 hashes whatever it gets).
    pub const MAX_CHARS: usize = 1024;

    /// Checks the length in characters.
    pub fn parse(raw: &str) -> Result<Self, ApiError> {
        let n = raw.chars().count();
        if n < Self::MIN_CHARS {
            return Err(ApiError::validation(
                "password",
                format!("Use at least {} characters.", Self::MIN_CHARS),
            ));
        }
        if n > Self::MAX_CHARS {
            return Err(ApiError::validation(
                "password",
                format!("Use at most {} characters.", Self::MAX_CHARS),
            ));
        }
        Ok(Self(raw.to_owned()))
    }

    /// The password itself (for hashing).
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for Password {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Password(***)")
    }
}

/// Where to go after signing in: a local path only (`/x`, never `//x` or `http…`), else `/`.
pub fn safe_next(next: Option<&str>) -> String {
    match next {
        Some(p)
            if p.starts_with('/')
                && !p.starts_with("//")
                && !p.starts_with("/\\")
                && !p.chars().any(|c| c.is_control() || c == '\\') =>
        {
            p.to_owned()
        }
        _ => "/".to_owned(),
    }
}

/// What [`next_param`] escapes: everything but unreserved characters and `/ ? =`.
const NEXT_ESCAPED: &percent_encoding::AsciiSet = &percent_encoding::NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'~')
    .remove(b'/')
    .remove(b'?')
    .remove(b'=');

/// A local path as the value of a `next` query parameter: `/` `?` `=` and unreserved characters
/// stay readable (`/login?next=/dashboard`); whatever would end or split the value is escaped.
pub fn next_param(path: &str) -> String {
    percent_encoding::utf8_percent_encode(path, NEXT_ESCAPED).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn email_is_trimmed_and_lowercased() {
        assert_eq!(
            Email::parse("  Ada@Example.COM ").unwrap().as_str(),
            "ada@example.com"
        );
    }

    #[test]
    fn malformed_emails_are_rejected_with_the_field_named() {
        for bad in [
            "",
            "ada",
            "ada@",
            "@example.com",
            "ada@example",
            "a b@example.com",
            "a@.com",
        ] {
            let err = Email::parse(bad).unwrap_err();
            assert_eq!(err.field.as_deref(), Some("email"), "{bad:?}");
        }
    }

    #[test]
    fn password_length_is_bounded_in_characters() {
        assert!(Password::parse("short").is_err());
        assert!(Password::parse("eight ch").is_ok());
        assert!(Password::parse(&"é".repeat(1024)).is_ok());
        assert!(Password::parse(&"x".repeat(1025)).is_err());
    }

    #[test]
    fn password_debug_hides_the_secret() {
        let p = Password::parse("hunter2hunter2").unwrap();
        assert!(!format!("{p:?}").contains("hunter2"));
    }

    #[test]
    fn next_params_stay_readable_and_keep_their_query_whole() {
        assert_eq!(next_param("/dashboard"), "/dashboard");
        assert_eq!(next_param("/sessions?tab=1&x=2"), "/sessions?tab=1%26x=2");
        assert_eq!(next_param("/a b#c"), "/a%20b%23c");
    }

    #[test]
    fn next_accepts_local_paths_only() {
        assert_eq!(safe_next(Some("/dashboard?x=1")), "/dashboard?x=1");
        for bad in [
            "//evil.com",
            "http://evil.com",
            "/\\evil.com",
            "dashboard",
            "",
        ] {
            assert_eq!(safe_next(Some(bad)), "/", "{bad:?}");
        }
        assert_eq!(safe_next(None), "/");
    }

    proptest::proptest! {
        #[test]
        fn parsed_emails_are_trimmed_lowercase_and_parse_to_themselves(raw in "\\PC{0,80}") {
            if let Ok(e) = Email::parse(&raw) {
                proptest::prop_assert_eq!(e.as_str(), e.as_str().trim().to_lowercase());
                proptest::prop_assert_eq!(Email::parse(e.as_str()).unwrap(), e);
            }
        }

        #[test]
        fn next_is_always_a_local_path(raw in "\\PC{0,40}") {
            let next = safe_next(Some(&raw));
            proptest::prop_assert!(next.starts_with('/') && !next.starts_with("//"));
            proptest::prop_assert!(!next.contains('\\') && !next.chars().any(char::is_control));
        }

        #[test]
        fn next_params_keep_their_value_whole_and_decode_back(path in "/\\PC{0,40}") {
            let param = next_param(&path);
            proptest::prop_assert!(!param.contains(['&', '#', ' ', '+']));
            let back = percent_encoding::percent_decode_str(&param).decode_utf8().unwrap();
            proptest::prop_assert_eq!(back, path);
        }
    }
}
