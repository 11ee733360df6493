//! OpenID Connect ID tokens from an upstream provider (OpenID Connect Core
//! §3.1.3.7): verified with the provider's key set under an
//! [`IdTokenPolicy`], through the same header and signature checks as our
//! own access tokens.
//!
//! Refused, each with its own [`TokenError`]: everything an access token is
//! refused for up to the signature (size, unknown time, shape, strict JSON,
//! `alg` `none`/`HS*` or outside the allow-list, `crit`, unknown `kid`, bad
//! signature), a `typ` other than absent/`JWT` (so an RFC 9068 access token
//! never passes for an ID token), then: `iss` not exactly the provider's
//! issuer, `aud` without our client id, an `azp` that is not our client id
//! (or missing with several audiences), `exp` passed, `nbf`/`iat` in the
//! future, `iat` older than the policy's maximum age, and a `nonce` that is
//! missing or not the one of the authorization request (compared in
//! constant time).

use alloc::string::String;
use alloc::vec;
use alloc::vec::Vec;

use serde_json::{Map, Value};
use subtle::ConstantTimeEq;

use super::KeySet;
use super::token::{
    Algorithm, Audience, DEFAULT_LEEWAY_SECS, JwtKind, TokenError, take_audience, take_string,
    take_time, verify_signed,
};
use crate::time::UnixTime;

/// Largest ID token accepted (bytes), checked before any parsing. Larger
/// than our access tokens: providers add profile and group claims.
pub const MAX_ID_TOKEN_LEN: usize = 16 * 1024;
/// Default oldest `iat` accepted, seconds before now: an ID token is
/// redeemed right after it is issued.
pub const DEFAULT_ID_TOKEN_MAX_AGE_SECS: u64 = 600;

/// What an ID token must satisfy.
#[derive(Clone, PartialEq, Eq)]
pub struct IdTokenPolicy {
    issuer: String,
    client_id: String,
    nonce: String,
    leeway_secs: u64,
    max_age_secs: u64,
    algorithms: Vec<Algorithm>,
}

impl core::fmt::Debug for IdTokenPolicy {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("IdTokenPolicy")
            .field("issuer", &self.issuer)
            .field("client_id", &self.client_id)
            .finish_non_exhaustive()
    }
}

impl IdTokenPolicy {
    /// Accept ID tokens of `issuer` (exact) for `client_id`, carrying
    /// `nonce`; RS256, 60 s leeway, `iat` at most
    /// [`DEFAULT_ID_TOKEN_MAX_AGE_SECS`] old.
    pub fn new(issuer: &str, client_id: &str, nonce: &str) -> IdTokenPolicy {
        IdTokenPolicy {
            issuer: issuer.into(),
            client_id: client_id.into(),
            nonce: nonce.into(),
            leeway_secs: DEFAULT_LEEWAY_SECS,
            max_age_secs: DEFAULT_ID_TOKEN_MAX_AGE_SECS,
            algorithms: vec![Algorithm::Rs256],
        }
    }

    /// Clock-skew allowance for `exp`, `nbf` and `iat`.
    #[must_use]
    pub fn with_leeway(mut self, secs: u64) -> IdTokenPolicy {
        self.leeway_secs = secs;
        self
    }

    /// Oldest `iat` accepted, seconds before now.
    #[must_use]
    pub fn with_max_age(mut self, secs: u64) -> IdTokenPolicy {
        self.max_age_secs = secs;
        self
    }
}

/// The claims of a verified ID token.
#[derive(Debug, Clone, PartialEq)]
pub struct IdTokenClaims {
    /// The provider (exactly the policy's issuer).
    pub iss: String,
    /// The user at the provider: stable and unique within `iss`.
    pub sub: String,
    /// Audiences (our client id among them).
    pub aud: Audience,
    /// Expiry.
    pub exp: u64,
    /// Issue time.
    pub iat: u64,
    /// Every other claim (`email`, `email_verified`, `name`, `groups`, …).
    pub extra: Map<String, Value>,
}

impl IdTokenClaims {
    /// The user's email address when the provider says it is verified
    /// (`email_verified` is JSON `true`), lowercase.
    pub fn verified_email(&self) -> Option<String> {
        let verified = matches!(self.extra.get("email_verified"), Some(Value::Bool(true)));
        match self.extra.get("email") {
            Some(Value::String(email)) if verified && email.len() <= 254 => {
                Some(email.to_ascii_lowercase())
            }
            _ => None,
        }
    }
}

impl KeySet {
    /// Verify an upstream provider's ID token with this (the provider's)
    /// key set; see the [module docs](self) for every check.
    pub fn verify_id_token(
        &self,
        token: &str,
        policy: &IdTokenPolicy,
        now: Option<UnixTime>,
    ) -> Result<IdTokenClaims, TokenError> {
        verify_id_token(self, token, policy, now)
    }
}

fn verify_id_token(
    keys: &KeySet,
    token: &str,
    policy: &IdTokenPolicy,
    now: Option<UnixTime>,
) -> Result<IdTokenClaims, TokenError> {
    let (mut map, now) = verify_signed(
        keys,
        token,
        MAX_ID_TOKEN_LEN,
        &policy.algorithms,
        JwtKind::Id,
        now,
    )?;
    let iss = take_string(&mut map, "iss")?;
    let sub = take_string(&mut map, "sub")?;
    if sub.len() > 255 {
        // OpenID Connect Core §2: at most 255 ASCII characters.
        return Err(TokenError::InvalidClaim("sub"));
    }
    let aud = take_audience(&mut map)?;
    let exp = take_time(&mut map, "exp")?;
    let iat = take_time(&mut map, "iat")?;
    if iss != policy.issuer {
        return Err(TokenError::WrongIssuer);
    }
    if !aud.contains(&policy.client_id) {
        return Err(TokenError::WrongAudience);
    }
    let several = matches!(&aud, Audience::Many(all) if all.len() > 1);
    match map.get("azp") {
        Some(Value::String(azp)) if *azp == policy.client_id => {}
        None if !several => {}
        None => return Err(TokenError::MissingClaim("azp")),
        Some(_) => return Err(TokenError::InvalidClaim("azp")),
    }
    let leeway = policy.leeway_secs;
    if now >= exp.saturating_add(leeway) {
        return Err(TokenError::Expired);
    }
    if let Some(nbf) = map.get("nbf") {
        let nbf = nbf.as_u64().ok_or(TokenError::InvalidClaim("nbf"))?;
        if nbf > now.saturating_add(leeway) {
            return Err(TokenError::NotYetValid);
        }
    }
    if iat > now.saturating_add(leeway) {
        return Err(TokenError::IssuedInFuture);
    }
    if iat
        .saturating_add(policy.max_age_secs)
        .saturating_add(leeway)
        < now
    {
        return Err(TokenError::IssuedTooLongAgo);
    }
    let nonce_ok = match map.get("nonce") {
        Some(Value::String(n)) => {
            n.len() == policy.nonce.len() && bool::from(n.as_bytes().ct_eq(policy.nonce.as_bytes()))
        }
        _ => false,
    };
    if !nonce_ok {
        return Err(TokenError::WrongNonce);
    }
    Ok(IdTokenClaims {
        iss,
        sub,
        aud,
        exp,
        iat,
        extra: map,
    })
}

#[cfg(test)]
mod tests {
    use alloc::format;
    use alloc::string::ToString;

    use serde_json::json;

    use super::*;
    use crate::jose::testing::{rfc7515_a2_key, seeded_key, sign_jwt};

    const ISS: &str = "https://idp.example";
    const CLIENT: &str = "mcpauth-client";
    const NONCE: &str = "n-0S6_WzA2Mj";
    const NOW: u64 = 1_700_000_000;

    fn keys() -> KeySet {
        KeySet::new(rfc7515_a2_key())
    }

    fn claims() -> Value {
        json!({"iss": ISS, "sub": "248289761001", "aud": CLIENT, "exp": NOW + 300,
               "iat": NOW - 5, "nonce": NONCE, "email": "Ann@Example.com", "email_verified": true})
    }

    fn sign(header: Value, claims: &Value) -> String {
        sign_jwt(&rfc7515_a2_key(), &header.to_string(), &claims.to_string())
    }

    fn header() -> Value {
        json!({"alg": "RS256", "kid": rfc7515_a2_key().kid()})
    }

    fn check(token: &str) -> Result<IdTokenClaims, TokenError> {
        keys().verify_id_token(
            token,
            &IdTokenPolicy::new(ISS, CLIENT, NONCE),
            Some(UnixTime(NOW)),
        )
    }

    fn with(f: impl FnOnce(&mut Value)) -> Result<IdTokenClaims, TokenError> {
        let mut c = claims();
        f(&mut c);
        check(&sign(header(), &c))
    }

    #[test]
    fn a_good_token_gives_its_claims() {
        let c = check(&sign(header(), &claims())).expect("valid");
        assert_eq!(c.sub, "248289761001");
        assert_eq!(c.iss, ISS);
        assert_eq!(c.verified_email().as_deref(), Some("ann@example.com"));
        // Without a kid, the only key of the set is used.
        assert!(check(&sign(json!({"alg": "RS256"}), &claims())).is_ok());
        // typ JWT is fine.
        let mut h = header();
        h["typ"] = "JWT".into();
        assert!(check(&sign(h, &claims())).is_ok());
    }

    #[test]
    fn issuer_audience_and_azp() {
        assert_eq!(
            with(|c| c["iss"] = "https://evil.example".into()),
            Err(TokenError::WrongIssuer)
        );
        assert_eq!(
            with(|c| c["iss"] = format!("{ISS}/").into()),
            Err(TokenError::WrongIssuer)
        );
        assert_eq!(
            with(|c| c["aud"] = "another-client".into()),
            Err(TokenError::WrongAudience)
        );
        assert_eq!(
            with(|c| c["aud"] = json!([CLIENT, "other"])),
            Err(TokenError::MissingClaim("azp"))
        );
        assert!(
            with(|c| {
                c["aud"] = json!([CLIENT, "other"]);
                c["azp"] = CLIENT.into();
            })
            .is_ok()
        );
        assert_eq!(
            with(|c| c["azp"] = "other".into()),
            Err(TokenError::InvalidClaim("azp"))
        );
    }

    #[test]
    fn times() {
        assert_eq!(
            with(|c| c["exp"] = (NOW - 61).into()),
            Err(TokenError::Expired)
        );
        assert!(with(|c| c["exp"] = (NOW - 59).into()).is_ok(), "leeway");
        assert_eq!(
            with(|c| c["iat"] = (NOW + 120).into()),
            Err(TokenError::IssuedInFuture)
        );
        assert_eq!(
            with(|c| c["iat"] = (NOW - 3600).into()),
            Err(TokenError::IssuedTooLongAgo)
        );
        assert_eq!(
            with(|c| c["nbf"] = (NOW + 120).into()),
            Err(TokenError::NotYetValid)
        );
        assert_eq!(
            keys().verify_id_token(
                &sign(header(), &claims()),
                &IdTokenPolicy::new(ISS, CLIENT, NONCE),
                None
            ),
            Err(TokenError::TimeUnknown)
        );
    }

    #[test]
    fn nonce_must_match() {
        assert_eq!(
            with(|c| c["nonce"] = "another".into()),
            Err(TokenError::WrongNonce)
        );
        assert_eq!(
            with(|c| {
                c.as_object_mut().expect("object").remove("nonce");
            }),
            Err(TokenError::WrongNonce)
        );
        assert_eq!(with(|c| c["nonce"] = 7.into()), Err(TokenError::WrongNonce));
    }

    #[test]
    fn header_refusals() {
        let c = claims();
        let mut h = header();
        h["typ"] = "at+jwt".into();
        assert_eq!(
            check(&sign(h, &c)),
            Err(TokenError::WrongType),
            "an access token is not an ID token"
        );
        assert_eq!(
            check(&sign(json!({"alg": "HS256"}), &c)),
            Err(TokenError::ForbiddenAlgorithm)
        );
        assert_eq!(
            check(&sign(json!({"alg": "RS512"}), &c)),
            Err(TokenError::AlgorithmNotAllowed)
        );
        assert_eq!(
            check(&sign(json!({"alg": "RS256", "kid": "nope"}), &c)),
            Err(TokenError::UnknownKeyId)
        );
        // Signed by another key under our key's kid.
        let forged = sign_jwt(&seeded_key(3), &header().to_string(), &c.to_string());
        assert_eq!(check(&forged), Err(TokenError::BadSignature));
        // No kid, several keys: which one is unknown.
        let mut two = keys();
        two.add_verifying_key(seeded_key(3).verifying_key().clone())
            .expect("add");
        assert_eq!(
            two.verify_id_token(
                &sign(json!({"alg": "RS256"}), &c),
                &IdTokenPolicy::new(ISS, CLIENT, NONCE),
                Some(UnixTime(NOW))
            ),
            Err(TokenError::MissingKeyId)
        );
        let big = "a".repeat(MAX_ID_TOKEN_LEN + 1);
        assert_eq!(check(&big), Err(TokenError::TooLarge));
    }

    #[test]
    fn unverified_email_is_no_email() {
        let c = with(|c| c["email_verified"] = false.into()).expect("valid");
        assert_eq!(c.verified_email(), None);
        let c = with(|c| c["email_verified"] = "true".into()).expect("valid");
        assert_eq!(c.verified_email(), None, "only JSON true counts");
    }
}
