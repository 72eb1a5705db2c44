//! Access tokens (HS256 JWTs) and refresh-token material.
//!
//! Refresh tokens are 32 random bytes (base64url). A token's successor is not random: it is
//! `HMAC-SHA256(successor_key, parent)`, so a parent presented again inside the reuse grace window
//! gets the very same successor without the server ever storing a token in clear (docs/protocol.md, "Rotation").

use crate::error::ErrorCode;
use crate::server::config::TokenConfig;
use crate::types::User;
use base64::{engine::general_purpose::URL_SAFE_NO_PAD, Engine};
use hmac::{Hmac, Mac};
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use rand::RngCore;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// Longer than any token this server issues; anything bigger is rejected before decoding.
const MAX_TOKEN_BYTES: usize = 4096;

/// The claims of an access token (docs/protocol.md, "Access tokens").
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Claims {
    pub sub: String,
    pub sid: String,
    pub jti: String,
    pub iat: i64,
    pub exp: i64,
    pub iss: String,
    pub aud: String,
}

/// One key that verifies: its id, its JWT key and the refresh-successor key derived from it.
struct Key {
    kid: String,
    decoding: DecodingKey,
    successor: Vec<u8>,
}

impl Key {
    fn new(secret: &[u8]) -> Self {
        Self {
            kid: key_id(secret),
            decoding: DecodingKey::from_secret(secret),
            successor: derive(secret, b"sessionflow refresh successor v1"),
        }
    }
}

/// Signing and verification keys: one secret signs (`JWT_SECRET`), it and the accepted ones
/// verify, each chosen by the token's `kid` header (docs/protocol.md, "Keys").
pub struct Keys {
    encoding: EncodingKey,
    /// The signing key first, then the accepted ones.
    keys: Vec<Key>,
    validation: Validation,
    issuer: String,
    audience: String,
}

/// `HMAC-SHA256(secret, label)`.
fn derive(secret: &[u8], label: &[u8]) -> Vec<u8> {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret).expect("HMAC takes any key length");
    mac.update(label);
    mac.finalize().into_bytes().to_vec()
}

/// A key's public name: 8 bytes of a keyed hash, hex. Says which key, reveals nothing of it.
pub fn key_id(secret: &[u8]) -> String {
    hex::encode(&derive(secret, b"sessionflow key id v1")[..8])
}

impl Keys {
    /// Keys from the signing secret and the secrets that still verify (`accepted`).
    pub fn new<'a>(
        secret: &[u8],
        accepted: impl IntoIterator<Item = &'a [u8]>,
        cfg: &TokenConfig,
    ) -> Self {
        let mut validation = Validation::new(Algorithm::HS256);
        validation.algorithms = vec![Algorithm::HS256];
        validation.set_issuer(&[cfg.issuer.as_str()]);
        validation.set_audience(&[cfg.audience.as_str()]);
        validation.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);
        validation.leeway = cfg.leeway.as_secs();
        validation.validate_exp = true;
        let mut keys = vec![Key::new(secret)];
        for other in accepted {
            let key = Key::new(other);
            if keys.iter().all(|k| k.kid != key.kid) {
                keys.push(key);
            }
        }
        Self {
            encoding: EncodingKey::from_secret(secret),
            keys,
            validation,
            issuer: cfg.issuer.clone(),
            audience: cfg.audience.clone(),
        }
    }

    /// The signing key's id (the `kid` of every token issued here).
    pub fn kid(&self) -> &str {
        &self.keys[0].kid
    }

    /// Signs an access token for `user_id` in session `sid`, valid for `ttl_secs`.
    pub fn issue(&self, user_id: &str, sid: &str, ttl_secs: i64) -> (String, Claims) {
        let now = crate::server::db::now_ms() / 1000;
        let claims = Claims {
            sub: user_id.to_owned(),
            sid: sid.to_owned(),
            jti: uuid::Uuid::new_v4().to_string(),
            iat: now,
            exp: now + ttl_secs,
            iss: self.issuer.clone(),
            aud: self.audience.clone(),
        };
        let header = Header {
            kid: Some(self.kid().to_owned()),
            ..Header::new(Algorithm::HS256)
        };
        let token = jsonwebtoken::encode(&header, &claims, &self.encoding)
            .expect("HS256 signing cannot fail");
        (token, claims)
    }

    /// Verifies signature (with the key its `kid` names), algorithm, `iss`, `aud` and `exp`
    /// (with leeway). `token_expired` only for a genuine token past its expiry; anything else,
    /// a token of a key no longer accepted included, is `invalid_token`.
    pub fn verify(&self, token: &str) -> Result<Claims, ErrorCode> {
        if token.len() > MAX_TOKEN_BYTES {
            return Err(ErrorCode::InvalidToken);
        }
        let header = jsonwebtoken::decode_header(token).map_err(|_| ErrorCode::InvalidToken)?;
        let key = match header.kid.as_deref() {
            Some(kid) => self.keys.iter().find(|k| k.kid == kid),
            // TokenPair before tokens carried a `kid`: only the signing key is tried.
            None => self.keys.first(),
        }
        .ok_or(ErrorCode::InvalidToken)?;
        jsonwebtoken::decode::<Claims>(token, &key.decoding, &self.validation)
            .map(|d| d.claims)
            .map_err(|e| match e.kind() {
                jsonwebtoken::errors::ErrorKind::ExpiredSignature => ErrorCode::TokenExpired,
                _ => ErrorCode::InvalidToken,
            })
    }

    /// The deterministic successor of a refresh token, under the signing key.
    pub fn successor(&self, parent: &str) -> String {
        successor_with(&self.keys[0].successor, parent)
    }

    /// The successor under each key that verifies, the signing key's first: a token rotated
    /// before a key change is found under the key that was signing then.
    pub fn successors<'a>(&'a self, parent: &'a str) -> impl Iterator<Item = String> + 'a {
        self.keys
            .iter()
            .map(move |k| successor_with(&k.successor, parent))
    }
}

fn successor_with(key: &[u8], parent: &str) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(key).expect("any key length");
    mac.update(parent.as_bytes());
    URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes())
}

/// A fresh random refresh token (the first of a session).
pub fn random_refresh_token() -> String {
    let mut bytes = [0u8; 32];
    rand::thread_rng().fill_bytes(&mut bytes);
    URL_SAFE_NO_PAD.encode(bytes)
}

/// What is stored for a refresh token: SHA-256, hex.
pub fn token_hash(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

/// A freshly issued token pair. Lives only in memory and in the cookies it is written to.
#[derive(Clone)]
pub struct TokenPair {
    /// Whose session it is.
    pub user: User,
    /// The session (refresh family) id.
    pub session_id: String,
    /// The signed access token (a JWT).
    pub access_token: String,
    /// Its lifetime in seconds (the cookie's `Max-Age`, the response's `expires_in`).
    pub access_max_age: i64,
    /// The refresh token, in clear (only the browser's cookie holds it after this).
    pub refresh_token: String,
    /// Its lifetime in seconds.
    pub refresh_max_age: i64,
}

impl std::fmt::Debug for TokenPair {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenPair")
            .field("user", &self.user)
            .field("session_id", &self.session_id)
            .finish_non_exhaustive()
    }
}

/// Who is calling: a user in one session (refresh family).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principal {
    /// The signed-in user.
    pub user: User,
    /// The session the request's access token belongs to.
    pub session_id: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keys() -> Keys {
        Keys::new(&[7u8; 32], [], &TokenConfig::default())
    }

    #[test]
    fn issued_tokens_verify_with_their_claims() {
        let k = keys();
        let (t, c) = k.issue("u1", "s1", 60);
        let v = k.verify(&t).unwrap();
        assert_eq!((v.sub, v.sid, v.jti), ("u1".into(), "s1".into(), c.jti));
    }

    #[test]
    fn expired_tokens_are_token_expired_beyond_the_leeway_only() {
        let k = keys();
        assert_eq!(
            k.verify(&k.issue("u", "s", -60).0).unwrap_err(),
            ErrorCode::TokenExpired
        );
        assert!(
            k.verify(&k.issue("u", "s", -2).0).is_ok(),
            "inside the 5 s leeway"
        );
    }

    #[test]
    fn foreign_tampered_and_garbage_tokens_are_invalid() {
        let k = keys();
        let other = Keys::new(&[8u8; 32], [], &TokenConfig::default());
        let (t, _) = other.issue("u", "s", 60);
        assert_eq!(k.verify(&t).unwrap_err(), ErrorCode::InvalidToken);
        let (mut t, _) = k.issue("u", "s", 60);
        t.insert(t.len() / 2, 'x');
        assert_eq!(k.verify(&t).unwrap_err(), ErrorCode::InvalidToken);
        assert_eq!(k.verify("garbage").unwrap_err(), ErrorCode::InvalidToken);
        assert_eq!(
            k.verify(&"a".repeat(10_000)).unwrap_err(),
            ErrorCode::InvalidToken
        );
    }

    #[test]
    fn alg_none_is_refused() {
        let k = keys();
        let (t, _) = k.issue("u", "s", 60);
        let payload = t.split('.').nth(1).unwrap();
        let header = URL_SAFE_NO_PAD.encode(r#"{"alg":"none","typ":"JWT"}"#);
        assert_eq!(
            k.verify(&format!("{header}.{payload}.")).unwrap_err(),
            ErrorCode::InvalidToken
        );
    }

    #[test]
    fn successors_are_deterministic_and_keyed() {
        let k = keys();
        let other = Keys::new(&[8u8; 32], [], &TokenConfig::default());
        let parent = random_refresh_token();
        assert_eq!(k.successor(&parent), k.successor(&parent));
        assert_ne!(k.successor(&parent), other.successor(&parent));
        assert_ne!(k.successor(&parent), parent);
    }

    #[test]
    fn tokens_name_their_key_and_verify_wherever_that_key_is_accepted() {
        let (old, new) = ([1u8; 32], [2u8; 32]);
        let cfg = TokenConfig::default();
        let before = Keys::new(&old, [], &cfg);
        let announced = Keys::new(&old, [&new[..]], &cfg);
        let switched = Keys::new(&new, [&old[..]], &cfg);
        let after = Keys::new(&new, [], &cfg);
        let (t_old, _) = before.issue("u", "s", 60);
        let (t_new, _) = switched.issue("u", "s", 60);
        let kid = jsonwebtoken::decode_header(&t_new).unwrap().kid.unwrap();
        assert_eq!(kid, key_id(&new));
        assert!(
            !kid.contains(&hex::encode(new)),
            "a fingerprint, not the key"
        );
        for keys in [&announced, &switched] {
            assert!(keys.verify(&t_old).is_ok() && keys.verify(&t_new).is_ok());
        }
        assert!(before.verify(&t_new).is_err() && after.verify(&t_old).is_err());
        assert_eq!(after.verify(&t_old).unwrap_err(), ErrorCode::InvalidToken);
    }

    #[test]
    fn an_expired_token_of_an_accepted_key_is_token_expired() {
        let (old, new) = ([1u8; 32], [2u8; 32]);
        let cfg = TokenConfig::default();
        let (t, _) = Keys::new(&old, [], &cfg).issue("u", "s", -60);
        assert_eq!(
            Keys::new(&new, [&old[..]], &cfg).verify(&t).unwrap_err(),
            ErrorCode::TokenExpired
        );
    }

    #[test]
    fn successors_under_an_accepted_key_are_still_found() {
        let (old, new) = ([1u8; 32], [2u8; 32]);
        let cfg = TokenConfig::default();
        let parent = random_refresh_token();
        let under_old = Keys::new(&old, [], &cfg).successor(&parent);
        let switched = Keys::new(&new, [&old[..]], &cfg);
        let all: Vec<String> = switched.successors(&parent).collect();
        assert_eq!(all, [switched.successor(&parent), under_old]);
    }

    proptest::proptest! {
        #[test]
        fn a_token_altered_anywhere_never_verifies(at in 0usize..400, extra in "[A-Za-z0-9_.=-]{1,4}") {
            let k = keys();
            let (token, _) = k.issue("u", "s", 60);
            let at = at % (token.len() + 1);
            let altered = format!("{}{extra}{}", &token[..at], &token[at..]);
            proptest::prop_assert!(k.verify(&altered).is_err(), "{}", altered);
        }

        #[test]
        fn arbitrary_text_never_verifies_and_never_panics(raw in "\\PC{0,300}") {
            proptest::prop_assert!(keys().verify(&raw).is_err());
        }
    }
}
