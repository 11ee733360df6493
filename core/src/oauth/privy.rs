//! Privy login: an alternative to local users on the sign-in page.
//!
//! When [`ServerConfig::privy`](super::ServerConfig::privy) is set, the
//! sign-in page loads the Privy SDK glue script (its URL is configured) and
//! offers "Continue with Privy". The script obtains a Privy access token in
//! the browser and posts it in the consent form as `privy_token` with
//! `decision=allow`. The core verifies it with [`verify_privy_token`]:
//!
//! - at most [`MAX_PRIVY_TOKEN_LEN`] bytes, checked before any parsing;
//! - compact JWS, canonical base64url, strict JSON (no repeated members) —
//!   the same helpers as the core's own access tokens;
//! - `alg` exactly `ES256` (`none`/`HS*` are forbidden, everything else is
//!   not allowed), no `crit`; the key is the app's one verification key,
//!   never anything the header names (`jku`, `jwk`, `x5u`, `kid`);
//! - `iss` = `privy.io`, `aud` = the app id, `exp`/`nbf`/`iat` with the
//!   same [`DEFAULT_LEEWAY_SECS`] leeway as our own tokens;
//! - `sub` is the Privy user id, a DID (`did:privy:…`), and becomes the
//!   subject of the grant.
//!
//! The verification key is the app's P-256 key as SPKI PEM (what Privy's
//! dashboard shows). The host supplies it through
//! [`UserAuthenticator::privy_verification_key`](super::UserAuthenticator::privy_verification_key)
//! (from its configuration, or fetched once from the Privy API and cached).
//! The Privy token never leaves this check: it is not stored, logged, or
//! handed to tools or clients, which only ever see our own tokens.

use alloc::string::String;
use alloc::vec::Vec;

use p256::ecdsa::signature::Verifier;
use p256::ecdsa::{Signature, VerifyingKey};
use p256::pkcs8::DecodePublicKey;
use serde_json::Value;

use crate::jose::{DEFAULT_LEEWAY_SECS, Part, TokenError};
use crate::jose::{b64_decode, strict_object};
use crate::time::UnixTime;

/// The `iss` of every Privy access token.
pub const PRIVY_ISSUER: &str = "privy.io";
/// Largest Privy token accepted (bytes); Privy's are well under 1 KiB.
pub const MAX_PRIVY_TOKEN_LEN: usize = 4096;
/// Largest verification key accepted (bytes of PEM).
pub const MAX_PRIVY_KEY_LEN: usize = 4096;
/// Largest Privy identity token accepted (bytes): it carries the user's
/// linked accounts, so it is longer than an access token, but it is parsed
/// only after its signature checks out.
pub const MAX_PRIVY_IDENTITY_TOKEN_LEN: usize = 16 * 1024;
/// Longest `sub` accepted.
const MAX_SUBJECT_LEN: usize = 256;
/// Longest email address read from an identity token (RFC 5321's limit).
const MAX_EMAIL_LEN: usize = 254;

/// Privy settings of the authorization server.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PrivyConfig {
    /// The Privy app id (the tokens' `aud`).
    pub app_id: String,
    /// URL of the script the sign-in page loads (the Privy SDK glue that
    /// fills `privy_token` and submits the form).
    pub sdk_url: String,
    /// Origin of the Privy API the browser SDK talks to (CSP `connect-src`
    /// and `frame-src`), e.g. `https://auth.privy.io`.
    pub api_url: String,
    /// Subresource Integrity of the SDK script (`sha384-…`): the page's
    /// `<script integrity>`, so a changed script on a CDN does not run on
    /// the sign-in page.
    pub sdk_integrity: Option<String>,
    /// Privy user ids (`did:privy:…`) that may sign in. With this and
    /// [`PrivyConfig::allowed_email_domains`] both empty, every user of the
    /// Privy app may.
    pub allowed_users: Vec<String>,
    /// Email domains whose users may sign in (exact domain, lowercase),
    /// proven by a verified email in the Privy identity token the page
    /// posts as `privy_id_token`.
    pub allowed_email_domains: Vec<String>,
}

impl PrivyConfig {
    /// Settings for `app_id` with the SDK loaded from `sdk_url` and the API
    /// at `https://auth.privy.io`.
    pub fn new(app_id: &str, sdk_url: &str) -> PrivyConfig {
        PrivyConfig {
            app_id: app_id.into(),
            sdk_url: sdk_url.into(),
            api_url: "https://auth.privy.io".into(),
            sdk_integrity: None,
            allowed_users: Vec::new(),
            allowed_email_domains: Vec::new(),
        }
    }

    /// Whether the Privy user `subject`, with the verified `emails` of its
    /// identity token (lowercase), may sign in.
    pub fn admits(&self, subject: &str, emails: &[String]) -> bool {
        if self.allowed_users.is_empty() && self.allowed_email_domains.is_empty() {
            return true;
        }
        self.allowed_users.iter().any(|u| u == subject)
            || emails.iter().any(|email| {
                email.rsplit_once('@').is_some_and(|(local, domain)| {
                    !local.is_empty() && self.allowed_email_domains.iter().any(|d| d == domain)
                })
            })
    }

    /// Refuse settings the page could not use safely: an empty or odd app
    /// id, or URLs that are not absolute http(s) without quotes or spaces
    /// (they go into a `Content-Security-Policy` header).
    pub fn validate(&self) -> Result<(), &'static str> {
        let id_ok = !self.app_id.is_empty()
            && self.app_id.len() <= 128
            && self
                .app_id
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'));
        if !id_ok {
            return Err("the Privy app id must be 1-128 letters, digits, '-', '_' or '.'");
        }
        let url_ok = |u: &str| {
            (u.starts_with("https://") || u.starts_with("http://"))
                && u.len() <= 2048
                && u.bytes()
                    .all(|b| b.is_ascii_graphic() && !matches!(b, b'\'' | b'"' | b';' | b','))
        };
        if !url_ok(&self.sdk_url) {
            return Err("the Privy SDK URL must be an absolute http(s) URL");
        }
        if !url_ok(&self.api_url) {
            return Err("the Privy API URL must be an absolute http(s) URL");
        }
        if let Some(integrity) = &self.sdk_integrity {
            let hash = ["sha256-", "sha384-", "sha512-"]
                .iter()
                .find_map(|alg| integrity.strip_prefix(alg));
            let base64 = |h: &str| {
                !h.is_empty()
                    && h.bytes()
                        .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'+' | b'/' | b'='))
            };
            if !hash.is_some_and(base64) {
                return Err(
                    "the Privy SDK integrity must be sha256-, sha384- or sha512- \
                            followed by a base64 digest",
                );
            }
        }
        if !self.allowed_users.iter().all(|u| is_privy_did(u)) {
            return Err("allowed Privy users must be Privy user ids (did:privy:...)");
        }
        let domain_ok = |d: &str| {
            !d.is_empty()
                && d.len() <= 253
                && !d.starts_with(['.', '-'])
                && d.bytes().all(|b| {
                    b.is_ascii_lowercase() || b.is_ascii_digit() || matches!(b, b'-' | b'.')
                })
        };
        if !self.allowed_email_domains.iter().all(|d| domain_ok(d)) {
            return Err("allowed email domains must be lowercase domain names (example.com)");
        }
        Ok(())
    }

    /// `scheme://host[:port]` of the API URL.
    pub(crate) fn api_origin(&self) -> &str {
        let u = self.api_url.as_str();
        let start = u.find("://").map_or(0, |i| i + 3);
        let end = u[start..]
            .find(['/', '?', '#'])
            .map_or(u.len(), |i| start + i);
        &u[..end]
    }
}

/// A Privy app's verification key (P-256 public key).
#[derive(Clone, PartialEq, Eq)]
pub struct PrivyKey(VerifyingKey);

impl core::fmt::Debug for PrivyKey {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str("PrivyKey(P-256)")
    }
}

/// The verification key is not a P-256 SPKI PEM.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PrivyKeyError;

impl core::fmt::Display for PrivyKeyError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str("not a P-256 public key in SPKI PEM (-----BEGIN PUBLIC KEY-----)")
    }
}

#[cfg(feature = "std")]
impl std::error::Error for PrivyKeyError {}

impl PrivyKey {
    /// Parse the SPKI PEM shown in Privy's dashboard (surrounding whitespace
    /// and `\r\n` line ends are accepted).
    pub fn from_pem(pem: &str) -> Result<PrivyKey, PrivyKeyError> {
        if pem.len() > MAX_PRIVY_KEY_LEN {
            return Err(PrivyKeyError);
        }
        let normalized: String = pem.trim().chars().filter(|&c| c != '\r').collect();
        VerifyingKey::from_public_key_pem(&normalized)
            .map(PrivyKey)
            .map_err(|_| PrivyKeyError)
    }

    /// The key of a Privy app's JSON Web Key Set, as Privy publishes it
    /// without credentials at `https://api.privy.io/v1/apps/{app id}/jwks.json`:
    /// `{"keys": [{"kty": "EC", "crv": "P-256", "x", "y", …}]}`. Exactly one
    /// usable key is accepted (EC P-256, `alg` absent or `ES256`, `use`
    /// absent or `sig`): tokens are checked against one key, never one a
    /// token's header picks. At most [`MAX_PRIVY_JWKS_LEN`] bytes, strict
    /// JSON.
    pub fn from_jwks(jwks: &[u8]) -> Result<PrivyKey, PrivyJwksError> {
        if jwks.len() > MAX_PRIVY_JWKS_LEN {
            return Err(PrivyJwksError::TooLarge);
        }
        let doc = strict_object(jwks, Part::Claims).map_err(|_| PrivyJwksError::NotJson)?;
        let Some(Value::Array(keys)) = doc.get("keys") else {
            return Err(PrivyJwksError::NoKeys);
        };
        let coordinate = |jwk: &serde_json::Map<String, Value>, name: &str| {
            jwk.get(name)
                .and_then(Value::as_str)
                .and_then(|v| b64_decode(v, Part::Claims).ok())
                .filter(|b| b.len() == 32)
        };
        let mut usable = keys.iter().filter_map(|jwk| {
            let jwk = jwk.as_object()?;
            let is = |name: &str, want: &str| jwk.get(name).and_then(Value::as_str) == Some(want);
            let absent_or = |name: &str, want: &str| !jwk.contains_key(name) || is(name, want);
            let usable = is("kty", "EC")
                && is("crv", "P-256")
                && absent_or("alg", "ES256")
                && absent_or("use", "sig");
            if !usable {
                return None;
            }
            let mut point = Vec::with_capacity(65);
            point.push(0x04);
            point.extend_from_slice(&coordinate(jwk, "x")?);
            point.extend_from_slice(&coordinate(jwk, "y")?);
            VerifyingKey::from_sec1_bytes(&point).ok().map(PrivyKey)
        });
        match (usable.next(), usable.next()) {
            (Some(key), None) => Ok(key),
            (None, _) => Err(PrivyJwksError::NoKeys),
            (Some(_), Some(_)) => Err(PrivyJwksError::SeveralKeys),
        }
    }
}

/// Largest JSON Web Key Set accepted for a Privy app (bytes).
pub const MAX_PRIVY_JWKS_LEN: usize = 16 * 1024;

/// Why a Privy app's JSON Web Key Set gave no key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PrivyJwksError {
    /// Larger than [`MAX_PRIVY_JWKS_LEN`].
    TooLarge,
    /// Not a strict JSON object.
    NotJson,
    /// No EC P-256 signing key in `keys`.
    NoKeys,
    /// More than one usable key: which one signs is not known.
    SeveralKeys,
}

impl core::fmt::Display for PrivyJwksError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(match self {
            PrivyJwksError::TooLarge => "the key set is too large",
            PrivyJwksError::NotJson => "the key set is not a JSON object",
            PrivyJwksError::NoKeys => "the key set has no P-256 signing key",
            PrivyJwksError::SeveralKeys => {
                "the key set has several P-256 keys (give the key file instead)"
            }
        })
    }
}

#[cfg(feature = "std")]
impl std::error::Error for PrivyJwksError {}

/// Verify a Privy access token for `app_id` with `key` at `now`; the Privy
/// user id (`sub`) on success. See the module doc for every check.
pub fn verify_privy_token(
    token: &str,
    app_id: &str,
    key: &PrivyKey,
    now: Option<UnixTime>,
) -> Result<String, TokenError> {
    if token.len() > MAX_PRIVY_TOKEN_LEN {
        return Err(TokenError::TooLarge);
    }
    let claims = verify_privy_jws(token, app_id, key, now)?;
    // Access tokens name the Privy session; identity tokens (same key,
    // issuer and audience, readable by any script on the app's pages) do
    // not, and must not sign anyone in.
    match claims.get("sid") {
        Some(Value::String(sid)) if !sid.is_empty() => {}
        Some(_) => return Err(TokenError::InvalidClaim("sid")),
        None => return Err(TokenError::MissingClaim("sid")),
    }
    subject(&claims)
}

/// Verify a Privy identity token of the user `subject` and return the
/// verified email addresses among its linked accounts (lowercase): `email`
/// accounts (proven by a one-time code) and `google_oauth` accounts. Used
/// only to check [`PrivyConfig::allowed_email_domains`], never to sign in.
pub fn verify_privy_identity_token(
    token: &str,
    app_id: &str,
    key: &PrivyKey,
    now: Option<UnixTime>,
    subject_of_access_token: &str,
) -> Result<Vec<String>, TokenError> {
    if token.len() > MAX_PRIVY_IDENTITY_TOKEN_LEN {
        return Err(TokenError::TooLarge);
    }
    let claims = verify_privy_jws(token, app_id, key, now)?;
    if subject(&claims)? != subject_of_access_token {
        return Err(TokenError::InvalidClaim("sub"));
    }
    let invalid = TokenError::InvalidClaim("linked_accounts");
    let Some(Value::String(accounts)) = claims.get("linked_accounts") else {
        return Err(invalid);
    };
    let Ok(Value::Array(accounts)) = serde_json::from_str::<Value>(accounts) else {
        return Err(invalid);
    };
    let emails = accounts
        .iter()
        .filter_map(|account| {
            let field = match account.get("type")?.as_str()? {
                "email" => "address",
                "google_oauth" => "email",
                _ => return None,
            };
            let email = account.get(field)?.as_str()?;
            (email.len() <= MAX_EMAIL_LEN).then(|| email.to_ascii_lowercase())
        })
        .collect();
    Ok(emails)
}

/// Whether the Privy user `subject` may sign in under `config`'s allow
/// list, reading the verified emails of `identity_token` (the form's
/// `privy_id_token`) when email domains are listed. An identity token that
/// fails any check proves no email.
pub(crate) fn privy_user_admitted(
    config: &PrivyConfig,
    key: &PrivyKey,
    subject: &str,
    identity_token: Option<&str>,
    now: UnixTime,
) -> bool {
    let emails = match identity_token {
        Some(token) if !config.allowed_email_domains.is_empty() => {
            verify_privy_identity_token(token, &config.app_id, key, Some(now), subject)
                .unwrap_or_default()
        }
        _ => Vec::new(),
    };
    config.admits(subject, &emails)
}

/// The signature, header and registered claims shared by Privy's access
/// and identity tokens; the claims on success.
fn verify_privy_jws(
    token: &str,
    app_id: &str,
    key: &PrivyKey,
    now: Option<UnixTime>,
) -> Result<serde_json::Map<String, Value>, TokenError> {
    let now = now.ok_or(TokenError::TimeUnknown)?.secs();
    let mut segments = token.split('.');
    let (Some(h64), Some(c64), Some(s64), None) = (
        segments.next(),
        segments.next(),
        segments.next(),
        segments.next(),
    ) else {
        return Err(TokenError::Malformed);
    };
    if h64.is_empty() || c64.is_empty() {
        return Err(TokenError::Malformed);
    }
    let header = strict_object(&b64_decode(h64, Part::Header)?, Part::Header)?;
    match header.get("alg") {
        Some(Value::String(alg)) if alg == "ES256" => {}
        Some(Value::String(alg))
            if alg.eq_ignore_ascii_case("none")
                || alg.get(..2).is_some_and(|p| p.eq_ignore_ascii_case("HS")) =>
        {
            return Err(TokenError::ForbiddenAlgorithm);
        }
        Some(Value::String(_)) => return Err(TokenError::AlgorithmNotAllowed),
        _ => return Err(TokenError::InvalidHeader("alg")),
    }
    if header.contains_key("crit") {
        return Err(TokenError::CriticalHeader);
    }
    if s64.is_empty() {
        return Err(TokenError::BadSignature);
    }
    let sig = b64_decode(s64, Part::Signature)?;
    let sig = Signature::from_slice(&sig).map_err(|_| TokenError::BadSignature)?;
    let signing_input = &token.as_bytes()[..h64.len() + 1 + c64.len()];
    key.0
        .verify(signing_input, &sig)
        .map_err(|_| TokenError::BadSignature)?;

    let claims = strict_object(&b64_decode(c64, Part::Claims)?, Part::Claims)?;
    let string = |name: &'static str| match claims.get(name) {
        Some(Value::String(s)) if !s.is_empty() => Ok(s.as_str()),
        Some(_) => Err(TokenError::InvalidClaim(name)),
        None => Err(TokenError::MissingClaim(name)),
    };
    let time = |name: &'static str| match claims.get(name) {
        Some(v) => v.as_u64().map(Some).ok_or(TokenError::InvalidClaim(name)),
        None => Ok(None),
    };
    if string("iss")? != PRIVY_ISSUER {
        return Err(TokenError::WrongIssuer);
    }
    let aud_ok = match claims.get("aud") {
        Some(Value::String(a)) => a == app_id,
        Some(Value::Array(items)) => items.iter().any(|a| a.as_str() == Some(app_id)),
        Some(_) => return Err(TokenError::InvalidClaim("aud")),
        None => return Err(TokenError::MissingClaim("aud")),
    };
    if !aud_ok {
        return Err(TokenError::WrongAudience);
    }
    let leeway = DEFAULT_LEEWAY_SECS;
    let exp = time("exp")?.ok_or(TokenError::MissingClaim("exp"))?;
    if now >= exp.saturating_add(leeway) {
        return Err(TokenError::Expired);
    }
    if time("nbf")?.is_some_and(|nbf| nbf > now.saturating_add(leeway)) {
        return Err(TokenError::NotYetValid);
    }
    let iat = time("iat")?.ok_or(TokenError::MissingClaim("iat"))?;
    if iat > now.saturating_add(leeway) {
        return Err(TokenError::IssuedInFuture);
    }
    Ok(claims)
}

/// The `sub` claim: a Privy DID.
fn subject(claims: &serde_json::Map<String, Value>) -> Result<String, TokenError> {
    match claims.get("sub") {
        Some(Value::String(sub)) if is_privy_did(sub) => Ok(sub.clone()),
        Some(_) => Err(TokenError::InvalidClaim("sub")),
        None => Err(TokenError::MissingClaim("sub")),
    }
}

fn is_privy_did(s: &str) -> bool {
    s.starts_with("did:privy:")
        && s.len() > "did:privy:".len()
        && s.len() <= MAX_SUBJECT_LEN
        && s.bytes().all(|b| b.is_ascii_graphic())
}

/// Mints Privy-like ES256 tokens with a local key, for tests of this crate
/// and of hosts (feature `testing`). **No security**: the key comes from a
/// seed.
#[cfg(any(test, feature = "testing"))]
#[derive(Debug, Clone)]
pub struct PrivyTestIssuer {
    key: p256::ecdsa::SigningKey,
}

#[cfg(any(test, feature = "testing"))]
impl PrivyTestIssuer {
    /// A P-256 key drawn from a seeded, deterministic RNG.
    pub fn from_seed(seed: u64) -> PrivyTestIssuer {
        use crate::rand::{InsecureSeededRandom, SecureRandom};
        let mut rng = InsecureSeededRandom::new(seed);
        loop {
            let mut bytes = [0u8; 32];
            if rng.fill(&mut bytes).is_err() {
                continue;
            }
            if let Ok(key) = p256::ecdsa::SigningKey::from_slice(&bytes) {
                return PrivyTestIssuer { key };
            }
        }
    }

    /// The public key as SPKI PEM, as Privy's dashboard shows it.
    pub fn public_pem(&self) -> String {
        use p256::pkcs8::EncodePublicKey;
        self.key
            .verifying_key()
            .to_public_key_pem(p256::pkcs8::LineEnding::LF)
            .unwrap_or_default()
    }

    /// The public key as a JSON Web Key Set, as Privy publishes it.
    pub fn public_jwks(&self) -> String {
        use alloc::string::ToString;
        use base64ct::{Base64UrlUnpadded, Encoding};
        // Uncompressed SEC1: 0x04, x (32 bytes), y (32 bytes).
        let point = self.key.verifying_key().to_sec1_point(false);
        let bytes = point.as_bytes();
        serde_json::json!({"keys": [{
            "kty": "EC", "crv": "P-256", "alg": "ES256", "use": "sig", "kid": "test",
            "x": Base64UrlUnpadded::encode_string(&bytes[1..33]),
            "y": Base64UrlUnpadded::encode_string(&bytes[33..]),
        }]})
        .to_string()
    }

    /// Sign `claims` (JSON) under the header `header` (JSON).
    pub fn sign(&self, header: &str, claims: &str) -> String {
        use base64ct::{Base64UrlUnpadded, Encoding};
        use p256::ecdsa::signature::Signer;
        let mut input = Base64UrlUnpadded::encode_string(header.as_bytes());
        input.push('.');
        input.push_str(&Base64UrlUnpadded::encode_string(claims.as_bytes()));
        let sig: Signature = self.key.sign(input.as_bytes());
        input.push('.');
        input.push_str(&Base64UrlUnpadded::encode_string(&sig.to_bytes()));
        input
    }

    /// A token as Privy issues it: `iss` privy.io, `aud` `app_id`, `sub`,
    /// issued at `iat`, valid for `ttl` seconds.
    pub fn mint(&self, app_id: &str, sub: &str, iat: u64, ttl: u64) -> String {
        let claims = serde_json::json!({
            "sid": "test-session",
            "iss": PRIVY_ISSUER,
            "iat": iat,
            "aud": app_id,
            "sub": sub,
            "exp": iat + ttl,
        });
        self.sign(
            r#"{"alg":"ES256","typ":"JWT","kid":"test"}"#,
            &serde_json::to_string(&claims).unwrap_or_default(),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::format;
    use alloc::string::ToString;

    const APP: &str = "cm-test-app";
    const SUB: &str = "did:privy:cm0abc123";
    const NOW: u64 = 1_800_000_000;

    fn issuer() -> PrivyTestIssuer {
        PrivyTestIssuer::from_seed(7)
    }

    fn key() -> PrivyKey {
        PrivyKey::from_pem(&issuer().public_pem()).expect("test key")
    }

    fn check(token: &str) -> Result<String, TokenError> {
        verify_privy_token(token, APP, &key(), Some(UnixTime(NOW)))
    }

    fn claims(iss: &str, aud: &str, iat: u64, exp: u64) -> String {
        format!(
            r#"{{"sid":"s","iss":"{iss}","aud":"{aud}","sub":"{SUB}","iat":{iat},"exp":{exp}}}"#
        )
    }

    const ES256: &str = r#"{"alg":"ES256","typ":"JWT"}"#;

    #[test]
    fn valid_token_gives_the_did() {
        let t = issuer().mint(APP, SUB, NOW - 10, 3600);
        assert_eq!(check(&t).as_deref(), Ok(SUB));
        // Within the leeway on both sides.
        let t = issuer().sign(ES256, &claims("privy.io", APP, NOW + 30, NOW - 30));
        assert_eq!(check(&t).as_deref(), Ok(SUB));
    }

    #[test]
    fn key_pem_with_crlf_and_whitespace() {
        let pem = issuer().public_pem().replace('\n', "\r\n");
        assert!(PrivyKey::from_pem(&format!("  {pem}\n ")).is_ok());
        assert_eq!(PrivyKey::from_pem("not a key"), Err(PrivyKeyError));
    }

    #[test]
    fn key_from_the_apps_key_set() {
        let jwks = issuer().public_jwks();
        let key = PrivyKey::from_jwks(jwks.as_bytes()).expect("one P-256 key");
        assert_eq!(key, self::key(), "the same key as the PEM");
        let t = issuer().mint(APP, SUB, NOW, 60);
        assert!(verify_privy_token(&t, APP, &key, Some(UnixTime(NOW))).is_ok());
        let doc: Value = serde_json::from_str(&jwks).expect("json");
        let one = doc["keys"][0].clone();
        let set = |keys: Value| serde_json::json!({ "keys": keys }).to_string();
        let with = |name: &str, value: Value| {
            let mut k = one.clone();
            k[name] = value;
            set(serde_json::json!([k]))
        };
        let refuse = |doc: &str| PrivyKey::from_jwks(doc.as_bytes()).expect_err(doc);
        // Not a usable key: other curve, type, algorithm or use; a point off
        // the curve; a short coordinate.
        assert_eq!(refuse(&with("crv", "P-384".into())), PrivyJwksError::NoKeys);
        assert_eq!(refuse(&with("kty", "RSA".into())), PrivyJwksError::NoKeys);
        assert_eq!(refuse(&with("alg", "HS256".into())), PrivyJwksError::NoKeys);
        assert_eq!(refuse(&with("use", "enc".into())), PrivyJwksError::NoKeys);
        let y = one["y"].as_str().expect("y");
        let flipped = format!("{}{}", if y.starts_with('A') { "B" } else { "A" }, &y[1..]);
        assert_eq!(refuse(&with("y", flipped.into())), PrivyJwksError::NoKeys);
        assert_eq!(refuse(&with("x", "AAAA".into())), PrivyJwksError::NoKeys);
        // alg and use may be absent.
        let mut bare = one.clone();
        let obj = bare.as_object_mut().expect("object");
        obj.remove("alg");
        obj.remove("use");
        assert!(PrivyKey::from_jwks(set(serde_json::json!([bare])).as_bytes()).is_ok());
        // Exactly one usable key; an unusable one beside it is ignored.
        let other = PrivyTestIssuer::from_seed(8).public_jwks();
        let other: Value = serde_json::from_str(&other).expect("json");
        let two = set(serde_json::json!([one, other["keys"][0]]));
        assert_eq!(refuse(&two), PrivyJwksError::SeveralKeys);
        let rsa = serde_json::json!({"kty": "RSA", "n": "AQAB", "e": "AQAB"});
        assert!(PrivyKey::from_jwks(set(serde_json::json!([rsa, one])).as_bytes()).is_ok());
        // Not a key set at all; repeated members; too large.
        assert_eq!(refuse("[]"), PrivyJwksError::NotJson);
        assert_eq!(refuse(r#"{"keys":[],"keys":[]}"#), PrivyJwksError::NotJson);
        assert_eq!(refuse(r#"{"keys":{}}"#), PrivyJwksError::NoKeys);
        assert_eq!(refuse(&set(serde_json::json!([]))), PrivyJwksError::NoKeys);
        let big = format!(
            r#"{{"keys":[],"pad":"{}"}}"#,
            "x".repeat(MAX_PRIVY_JWKS_LEN)
        );
        assert_eq!(refuse(&big), PrivyJwksError::TooLarge);
    }

    #[test]
    fn wrong_issuer_and_audience() {
        let t = issuer().sign(ES256, &claims("evil.io", APP, NOW, NOW + 60));
        assert_eq!(check(&t), Err(TokenError::WrongIssuer));
        let t = issuer().mint("other-app", SUB, NOW, 60);
        assert_eq!(check(&t), Err(TokenError::WrongAudience));
    }

    #[test]
    fn expired_and_future() {
        let t = issuer().sign(ES256, &claims("privy.io", APP, NOW - 7200, NOW - 61));
        assert_eq!(check(&t), Err(TokenError::Expired));
        let t = issuer().sign(ES256, &claims("privy.io", APP, NOW + 61, NOW + 3600));
        assert_eq!(check(&t), Err(TokenError::IssuedInFuture));
        let c = format!(
            r#"{{"iss":"privy.io","aud":"{APP}","sub":"{SUB}","iat":{NOW},"nbf":{},"exp":{}}}"#,
            NOW + 120,
            NOW + 3600
        );
        assert_eq!(
            check(&issuer().sign(ES256, &c)),
            Err(TokenError::NotYetValid)
        );
        let t = issuer().mint(APP, SUB, NOW, 60);
        assert_eq!(
            verify_privy_token(&t, APP, &key(), None),
            Err(TokenError::TimeUnknown)
        );
    }

    #[test]
    fn bad_signature_and_other_key() {
        let t = issuer().mint(APP, SUB, NOW, 60);
        // Another claims segment under the same signature.
        let (head, rest) = t.split_once('.').expect("jws");
        let (_, sig) = rest.split_once('.').expect("jws");
        let other = issuer().mint(APP, "did:privy:someone-else", NOW, 60);
        let other_claims = other.split('.').nth(1).expect("jws");
        let forged = format!("{head}.{other_claims}.{sig}");
        assert_eq!(check(&forged), Err(TokenError::BadSignature));
        // Signed by another key.
        let t = PrivyTestIssuer::from_seed(8).mint(APP, SUB, NOW, 60);
        assert_eq!(check(&t), Err(TokenError::BadSignature));
        // Truncated signature.
        let short = &t[..t.len() - 4];
        assert!(check(short).is_err());
    }

    #[test]
    fn algorithm_confusion_is_refused() {
        let c = claims("privy.io", APP, NOW, NOW + 60);
        let s = issuer();
        for (alg, want) in [
            ("HS256", TokenError::ForbiddenAlgorithm),
            ("none", TokenError::ForbiddenAlgorithm),
            ("RS256", TokenError::AlgorithmNotAllowed),
            ("ES384", TokenError::AlgorithmNotAllowed),
            ("es256", TokenError::AlgorithmNotAllowed),
        ] {
            let t = s.sign(&format!(r#"{{"alg":"{alg}"}}"#), &c);
            assert_eq!(check(&t), Err(want), "{alg}");
        }
        // `none` with an empty signature.
        let t = s.sign(r#"{"alg":"none"}"#, &c);
        let unsigned = format!("{}.", t.rsplit_once('.').expect("jws").0);
        assert_eq!(check(&unsigned), Err(TokenError::ForbiddenAlgorithm));
        let t = s.sign(r#"{"alg":"ES256","crit":["x"]}"#, &c);
        assert_eq!(check(&t), Err(TokenError::CriticalHeader));
    }

    #[test]
    fn oversized_and_malformed() {
        let big = "a".repeat(MAX_PRIVY_TOKEN_LEN + 1);
        assert_eq!(check(&big), Err(TokenError::TooLarge));
        assert_eq!(check("a.b"), Err(TokenError::Malformed));
        assert_eq!(check("a.b.c.d"), Err(TokenError::Malformed));
        // Duplicate claim names are refused (strict JSON).
        let c = format!(
            r#"{{"iss":"privy.io","aud":"{APP}","sub":"{SUB}","sub":"did:privy:x","iat":{NOW},"exp":{}}}"#,
            NOW + 60
        );
        assert_eq!(
            check(&issuer().sign(ES256, &c)),
            Err(TokenError::DuplicateKey(Part::Claims))
        );
        // A subject that is not a Privy DID.
        let t = issuer().mint(APP, "alice", NOW, 60);
        assert_eq!(check(&t), Err(TokenError::InvalidClaim("sub")));
    }

    /// A Privy identity token: same key, issuer and audience as an access
    /// token, but no session id (and the user's linked accounts).
    fn identity_token(sub: &str, linked_accounts: &str) -> String {
        let claims = serde_json::json!({
            "iss": "privy.io",
            "aud": APP,
            "sub": sub,
            "iat": NOW - 10,
            "exp": NOW + 3600,
            "linked_accounts": linked_accounts,
        });
        issuer().sign(ES256, &claims.to_string())
    }

    #[test]
    fn identity_tokens_do_not_sign_anyone_in() {
        let t = identity_token(SUB, "[]");
        assert_eq!(check(&t), Err(TokenError::MissingClaim("sid")));
        let c = format!(
            r#"{{"sid":"","iss":"privy.io","aud":"{APP}","sub":"{SUB}","iat":{NOW},"exp":{}}}"#,
            NOW + 60
        );
        assert_eq!(
            check(&issuer().sign(ES256, &c)),
            Err(TokenError::InvalidClaim("sid"))
        );
    }

    #[test]
    fn identity_token_gives_the_verified_emails_of_its_subject() {
        let accounts = r#"[{"type":"email","address":"Ann@Example.COM"},
            {"type":"google_oauth","email":"ann@gmail.com","subject":"1"},
            {"type":"wallet","address":"0xabc"},
            {"type":"discord_oauth","email":"ann@unverified.example"}]"#;
        let t = identity_token(SUB, accounts);
        let emails = verify_privy_identity_token(&t, APP, &key(), Some(UnixTime(NOW)), SUB);
        assert_eq!(
            emails,
            Ok(alloc::vec![
                String::from("ann@example.com"),
                String::from("ann@gmail.com")
            ])
        );
        // Another user's identity token proves nothing about this one.
        let other = identity_token("did:privy:other", accounts);
        assert_eq!(
            verify_privy_identity_token(&other, APP, &key(), Some(UnixTime(NOW)), SUB),
            Err(TokenError::InvalidClaim("sub"))
        );
        // Linked accounts that are not a JSON array in a string.
        let t = identity_token(SUB, "not json");
        assert_eq!(
            verify_privy_identity_token(&t, APP, &key(), Some(UnixTime(NOW)), SUB),
            Err(TokenError::InvalidClaim("linked_accounts"))
        );
    }

    #[test]
    fn allow_list_of_users_and_email_domains() {
        let mut c = PrivyConfig::new(APP, "https://cdn.example/privy.js");
        let ann = [String::from("ann@example.com")];
        assert!(c.admits(SUB, &[]), "no list: everyone");
        c.allowed_users = alloc::vec![String::from("did:privy:boss")];
        assert!(!c.admits(SUB, &ann));
        assert!(c.admits("did:privy:boss", &[]));
        c.allowed_email_domains = alloc::vec![String::from("example.com")];
        assert!(c.admits(SUB, &ann));
        assert!(!c.admits(SUB, &[String::from("ann@evil-example.com")]));
        assert!(!c.admits(SUB, &[String::from("ann@sub.example.com")]));
        assert!(!c.admits(SUB, &[String::from("example.com@evil.com")]));
        assert_eq!(c.validate(), Ok(()));
        c.allowed_users = alloc::vec![String::from("alice")];
        assert!(c.validate().is_err(), "user ids are Privy DIDs");
        c.allowed_users.clear();
        c.allowed_email_domains = alloc::vec![String::from("@example.com")];
        assert!(c.validate().is_err(), "a domain, not an address");
    }

    #[test]
    fn sdk_integrity_is_a_hash_expression() {
        let mut c = PrivyConfig::new(APP, "https://cdn.example/privy.js");
        c.sdk_integrity = Some(String::from(
            "sha384-oqVuAfXRKap7fdgcCY5uykM6+R9GqQ8K/uxy9rx7HNQlGYl1kPzQho1wx4JwY8wC",
        ));
        assert_eq!(c.validate(), Ok(()));
        for bad in ["md5-abc", "sha384-", "sha384-a\"b", "sha384-abc onload=x"] {
            c.sdk_integrity = Some(String::from(bad));
            assert!(c.validate().is_err(), "{bad}");
        }
    }

    #[test]
    fn config_validation() {
        let mut c = PrivyConfig::new(APP, "https://cdn.example/privy.js");
        assert_eq!(c.validate(), Ok(()));
        assert_eq!(c.api_origin(), "https://auth.privy.io");
        c.api_url = "http://127.0.0.1:9/x".into();
        assert_eq!(c.api_origin(), "http://127.0.0.1:9");
        c.sdk_url = "https://x/'unsafe-inline'".into();
        assert!(c.validate().is_err());
        assert!(PrivyConfig::new("", "https://x/a.js").validate().is_err());
        assert!(
            PrivyConfig::new("a b", "https://x/a.js")
                .validate()
                .is_err()
        );
    }

    /// The whole flow through the authorization server (core harness).
    mod flow {
        use super::*;
        use crate::oauth::tests::*;
        use base64ct::{Base64UrlUnpadded, Encoding};

        fn harness() -> Harness {
            Harness::with(
                |c| c.privy = Some(PrivyConfig::new(APP, "https://cdn.example/privy-glue.js")),
                crate::store::MemoryStoreLimits::SERVER,
            )
        }

        #[test]
        fn page_offers_privy_and_token_becomes_the_subject() {
            let mut h = harness();
            let client = h.register_client("none");
            let resp = h.authorize(&standard_query(&client, ""));
            assert_eq!(resp.status, 200);
            let csp = resp.header("Content-Security-Policy").expect("CSP");
            assert!(csp.contains("script-src https://cdn.example/privy-glue.js;"));
            assert!(csp.contains("connect-src https://auth.privy.io;"));
            assert!(csp.contains("frame-ancestors 'none'"));
            let page = body_str(&resp);
            assert!(page.contains("name=\"privy_token\""));
            assert!(page.contains("<script src=\"https://cdn.example/privy-glue.js\""));
            assert!(
                page.contains("name=\"username\""),
                "local users still offered"
            );
            let flow = flow_from(&resp);
            let token = issuer().mint(APP, SUB, T0, 3600);
            let resp = h.decide(&flow, &format!("privy_token={token}&decision=allow"));
            assert_eq!(resp.status, 303, "{}", body_str(&resp));
            assert!(!body_str(&resp).contains(&token));
            let code = location_param(&resp, "code").expect("code");
            let resp = h.exchange(&client, &code, "");
            assert_eq!(resp.status, 200, "{}", body_str(&resp));
            let body = body_str(&resp);
            assert!(!body.contains(&token), "the Privy token is never handed on");
            let at = json(&resp)["access_token"]
                .as_str()
                .map(String::from)
                .expect("at");
            let claims =
                Base64UrlUnpadded::decode_vec(at.split('.').nth(1).expect("jws")).expect("b64");
            let claims: serde_json::Value = serde_json::from_slice(&claims).expect("json");
            assert_eq!(claims["sub"], SUB);
        }

        #[test]
        fn bad_token_gets_the_generic_error_page_and_no_code() {
            let mut h = harness();
            let client = h.register_client("none");
            for bad in [
                issuer().mint("other-app", SUB, T0, 3600),
                PrivyTestIssuer::from_seed(99).mint(APP, SUB, T0, 3600),
                issuer().mint(APP, SUB, T0 - 7200, 60),
                String::from("garbage"),
            ] {
                let flow = h.start(&client, "");
                let resp = h.decide(&flow, &format!("privy_token={bad}&decision=allow"));
                assert_eq!(resp.status, 401);
                assert!(body_str(&resp).contains("Privy sign-in could not be verified"));
                assert!(resp.header("Location").is_none());
                assert!(!body_str(&resp).contains(&bad));
            }
            // Local users still work on the same server.
            let flow = h.start(&client, "");
            assert_eq!(h.approve(&flow).status, 303);
        }

        #[test]
        fn an_identity_token_is_refused() {
            let mut h = harness();
            let client = h.register_client("none");
            let flow = h.start(&client, "");
            let t = identity_token(SUB, "[]");
            let resp = h.decide(&flow, &format!("privy_token={t}&decision=allow"));
            assert_eq!(resp.status, 401, "{}", body_str(&resp));
            assert!(resp.header("Location").is_none());
        }

        #[test]
        fn only_allowed_users_and_email_domains_sign_in() {
            let mut h = Harness::with(
                |c| {
                    let mut p = PrivyConfig::new(APP, "https://cdn.example/privy-glue.js");
                    p.allowed_users = alloc::vec![String::from("did:privy:boss")];
                    p.allowed_email_domains = alloc::vec![String::from("example.com")];
                    c.privy = Some(p);
                },
                crate::store::MemoryStoreLimits::SERVER,
            );
            let client = h.register_client("none");
            // Not listed, no identity token: refused.
            let flow = h.start(&client, "");
            let token = issuer().mint(APP, SUB, T0, 3600);
            let resp = h.decide(&flow, &format!("privy_token={token}&decision=allow"));
            assert_eq!(resp.status, 403, "{}", body_str(&resp));
            assert!(body_str(&resp).contains("not allowed"));
            assert!(resp.header("Location").is_none());
            // Listed by id.
            let flow = h.start(&client, "");
            let token = issuer().mint(APP, "did:privy:boss", T0, 3600);
            let resp = h.decide(&flow, &format!("privy_token={token}&decision=allow"));
            assert_eq!(resp.status, 303, "{}", body_str(&resp));
            // By a verified email of an allowed domain, in the identity
            // token of the same user.
            let claims = serde_json::json!({
                "iss": "privy.io", "aud": APP, "sub": SUB, "iat": T0, "exp": T0 + 3600,
                "linked_accounts": r#"[{"type":"email","address":"ann@example.com"}]"#,
            });
            let id_token = issuer().sign(ES256, &claims.to_string());
            let flow = h.start(&client, "");
            let token = issuer().mint(APP, SUB, T0, 3600);
            let resp = h.decide(
                &flow,
                &format!("privy_token={token}&privy_id_token={id_token}&decision=allow"),
            );
            assert_eq!(resp.status, 303, "{}", body_str(&resp));
        }

        #[test]
        fn the_sdk_script_carries_its_integrity() {
            let mut h = Harness::with(
                |c| {
                    let mut p = PrivyConfig::new(APP, "https://cdn.example/privy-glue.js");
                    p.sdk_integrity = Some(String::from("sha384-AAAA"));
                    c.privy = Some(p);
                },
                crate::store::MemoryStoreLimits::SERVER,
            );
            let client = h.register_client("none");
            let resp = h.authorize(&standard_query(&client, ""));
            let page = body_str(&resp);
            assert!(
                page.contains(
                    "<script src=\"https://cdn.example/privy-glue.js\" integrity=\"sha384-AAAA\" crossorigin=\"anonymous\""
                ),
                "{page}"
            );
        }

        #[test]
        fn without_privy_the_field_is_ignored() {
            let mut h = Harness::new();
            let client = h.register_client("none");
            let resp = h.authorize(&standard_query(&client, ""));
            assert!(!body_str(&resp).contains("privy"));
            let flow = flow_from(&resp);
            let token = issuer().mint(APP, SUB, T0, 3600);
            let resp = h.decide(&flow, &format!("privy_token={token}&decision=allow"));
            assert_eq!(resp.status, 400, "asks for username and password");
            assert!(resp.header("Location").is_none());
        }
    }
}
