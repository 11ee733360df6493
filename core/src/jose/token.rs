//! RFC 9068 access tokens: claims, issuing, and verification under a
//! [`ValidationPolicy`].

use alloc::borrow::ToOwned;
use alloc::string::String;
use alloc::vec;
use alloc::vec::Vec;
use core::fmt;

use base64ct::{Base64UrlUnpadded, Encoding};
use serde::ser::{Serialize, SerializeMap, Serializer};
use serde_json::{Map, Value};

#[cfg(feature = "issuer")]
use super::provider::SignError;
use super::strict::{self, StrictError};
use super::{JWT_TYPE, KeySet};
use crate::limits::MAX_TOKEN_LEN;
use crate::principal::Principal;
#[cfg(feature = "issuer")]
use crate::rand::{SecureRandom, random_token};
use crate::time::UnixTime;

/// Claim names that [`AccessTokenClaims`] carries in its own fields; they may
/// not appear in [`AccessTokenClaims::extra`].
pub const REGISTERED_CLAIMS: [&str; 8] = [
    "iss",
    "sub",
    "aud",
    "client_id",
    "scope",
    "iat",
    "exp",
    "jti",
];

/// Bytes of randomness in a generated `jti` (128 bits, RFC 9068 §2.2 asks
/// for a unique identifier).
const JTI_BYTES: usize = 16;

/// The `aud` claim: one resource or several (RFC 7519 §4.1.3).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Audience {
    /// Serialized as a JSON string.
    One(String),
    /// Serialized as a JSON array of strings.
    Many(Vec<String>),
}

impl Audience {
    /// Whether `resource` is (exactly) one of the audiences.
    pub fn contains(&self, resource: &str) -> bool {
        match self {
            Self::One(a) => a == resource,
            Self::Many(all) => all.iter().any(|a| a == resource),
        }
    }

    /// All audiences, in order.
    pub fn iter(&self) -> impl Iterator<Item = &str> {
        let (one, many): (Option<&String>, &[String]) = match self {
            Self::One(a) => (Some(a), &[]),
            Self::Many(all) => (None, all.as_slice()),
        };
        one.into_iter().chain(many.iter()).map(String::as_str)
    }

    fn is_valid(&self) -> bool {
        match self {
            Self::One(a) => !a.is_empty(),
            Self::Many(all) => !all.is_empty() && all.iter().all(|a| !a.is_empty()),
        }
    }
}

impl From<&str> for Audience {
    fn from(value: &str) -> Self {
        Self::One(value.to_owned())
    }
}

impl From<String> for Audience {
    fn from(value: String) -> Self {
        Self::One(value)
    }
}

impl Serialize for Audience {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Self::One(a) => s.serialize_str(a),
            Self::Many(all) => all.serialize(s),
        }
    }
}

/// The claims of an RFC 9068 JWT access token.
///
/// Times are Unix seconds. An empty `scope` is omitted from the token; an
/// empty `jti` is filled with 128 random bits when issuing. Anything else
/// (`nbf`, `auth_time`, `acr`, custom claims…) goes in `extra`; registered
/// names there are refused ([`REGISTERED_CLAIMS`]).
#[derive(Debug, Clone, PartialEq)]
pub struct AccessTokenClaims {
    /// Issuer: the authorization server's issuer identifier.
    pub iss: String,
    /// Subject: the resource owner.
    pub sub: String,
    /// Audience: the resource(s) the token is for (RFC 8707).
    pub aud: Audience,
    /// The OAuth client the token was issued to.
    pub client_id: String,
    /// Space-separated scopes (may be empty).
    pub scope: String,
    /// Issued at.
    pub iat: u64,
    /// Expires at (exclusive).
    pub exp: u64,
    /// Unique token id.
    pub jti: String,
    /// Every other claim.
    pub extra: Map<String, Value>,
}

impl AccessTokenClaims {
    /// The granted scopes, in token order.
    pub fn scopes(&self) -> impl Iterator<Item = &str> {
        self.scope.split(' ').filter(|s| !s.is_empty())
    }

    /// The caller identity for a resource, `audience` being the resource the
    /// token was verified for (the policy's expected audience).
    pub fn to_principal(&self, audience: &str) -> Principal {
        Principal {
            subject: self.sub.clone(),
            client_id: self.client_id.clone(),
            scopes: self.scopes().map(str::to_owned).collect(),
            audience: audience.to_owned(),
            token_id: self.jti.clone(),
            expires_at: self.exp,
            derived: Default::default(),
        }
    }
}

/// Serializes claims in a fixed order: registered claims, then `extra`.
struct ClaimsOut<'a> {
    claims: &'a AccessTokenClaims,
    jti: &'a str,
}

impl Serialize for ClaimsOut<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let c = self.claims;
        let mut map = s.serialize_map(None)?;
        map.serialize_entry("iss", &c.iss)?;
        map.serialize_entry("sub", &c.sub)?;
        map.serialize_entry("aud", &c.aud)?;
        map.serialize_entry("client_id", &c.client_id)?;
        if !c.scope.is_empty() {
            map.serialize_entry("scope", &c.scope)?;
        }
        map.serialize_entry("iat", &c.iat)?;
        map.serialize_entry("exp", &c.exp)?;
        map.serialize_entry("jti", self.jti)?;
        for (k, v) in &c.extra {
            map.serialize_entry(k, v)?;
        }
        map.end()
    }
}

#[derive(serde::Serialize)]
struct HeaderOut<'a> {
    alg: &'static str,
    typ: &'static str,
    kid: &'a str,
}

/// A JWS algorithm a [`ValidationPolicy`] may allow. Only asymmetric
/// algorithms exist here: `none` and the `HS*` family are not representable,
/// so no policy can allow them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Algorithm {
    /// RSASSA-PKCS1-v1_5 with SHA-256 (RFC 7518 §3.3).
    Rs256,
}

impl Algorithm {
    /// The `alg` header value.
    pub const fn name(self) -> &'static str {
        match self {
            Self::Rs256 => "RS256",
        }
    }

    fn from_name(name: &str) -> Option<Self> {
        match name {
            "RS256" => Some(Self::Rs256),
            _ => None,
        }
    }
}

/// Which part of a compact JWS a parse error is in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Part {
    /// The JOSE header (first segment).
    Header,
    /// The claims (second segment).
    Claims,
    /// The signature (third segment).
    Signature,
}

impl Part {
    const fn name(self) -> &'static str {
        match self {
            Self::Header => "header",
            Self::Claims => "claims",
            Self::Signature => "signature",
        }
    }
}

/// Why an access token was refused. Each refusal has its own kind; none
/// carries token contents (only `&'static str` names of claims or parts).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum TokenError {
    /// Longer than the policy's size limit (checked before any parsing).
    TooLarge,
    /// The caller does not know the time: every token is refused.
    TimeUnknown,
    /// Not three non-empty `.`-separated segments (`header.claims.sig`).
    Malformed,
    /// A segment is not canonical unpadded base64url.
    Base64(Part),
    /// A segment is not a JSON object (or has trailing data).
    Json(Part),
    /// A JSON object repeats a member name.
    DuplicateKey(Part),
    /// A header member is missing or has the wrong type; names the member.
    InvalidHeader(&'static str),
    /// `alg` is `none` or an HMAC algorithm: never accepted.
    ForbiddenAlgorithm,
    /// `alg` is not in the policy's allow-list.
    AlgorithmNotAllowed,
    /// `typ` is missing or not `at+jwt` / `application/at+jwt`.
    WrongType,
    /// The header has a `crit` member; no extension is understood.
    CriticalHeader,
    /// The header has no `kid`.
    MissingKeyId,
    /// No key in the key set has this `kid`.
    UnknownKeyId,
    /// The signature does not verify.
    BadSignature,
    /// A required claim is absent; names the claim.
    MissingClaim(&'static str),
    /// A claim has the wrong type or an unusable value; names the claim.
    InvalidClaim(&'static str),
    /// `iss` is not the expected issuer.
    WrongIssuer,
    /// `aud` does not contain the expected resource.
    WrongAudience,
    /// `exp` has passed (beyond the leeway).
    Expired,
    /// `nbf` is in the future (beyond the leeway).
    NotYetValid,
    /// `iat` is in the future (beyond the leeway).
    IssuedInFuture,
    /// `iat` is further in the past than the policy accepts (an ID token is
    /// read right after it is issued).
    IssuedTooLongAgo,
    /// An ID token's `nonce` is missing or not the one sent with the
    /// authorization request (a replayed or injected token).
    WrongNonce,
}

impl fmt::Display for TokenError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::TooLarge => f.write_str("token exceeds the size limit"),
            Self::TimeUnknown => f.write_str("the current time is unknown"),
            Self::Malformed => f.write_str("token is not a compact JWS with three segments"),
            Self::Base64(p) => write!(f, "token {} is not canonical base64url", p.name()),
            Self::Json(p) => write!(f, "token {} is not a JSON object", p.name()),
            Self::DuplicateKey(p) => write!(f, "token {} repeats a member name", p.name()),
            Self::InvalidHeader(m) => write!(f, "header member `{m}` is missing or invalid"),
            Self::ForbiddenAlgorithm => f.write_str("algorithm `none` and HMAC are never accepted"),
            Self::AlgorithmNotAllowed => f.write_str("algorithm not allowed by policy"),
            Self::WrongType => f.write_str("token type is not at+jwt"),
            Self::CriticalHeader => f.write_str("unsupported critical header extension"),
            Self::MissingKeyId => f.write_str("token header has no kid"),
            Self::UnknownKeyId => f.write_str("no key with the token's kid"),
            Self::BadSignature => f.write_str("signature does not verify"),
            Self::MissingClaim(c) => write!(f, "claim `{c}` is missing"),
            Self::InvalidClaim(c) => write!(f, "claim `{c}` is invalid"),
            Self::WrongIssuer => f.write_str("token issuer is not the expected issuer"),
            Self::WrongAudience => f.write_str("token audience does not include this resource"),
            Self::Expired => f.write_str("token has expired"),
            Self::NotYetValid => f.write_str("token is not valid yet"),
            Self::IssuedInFuture => f.write_str("token is issued in the future"),
            Self::IssuedTooLongAgo => f.write_str("token was issued too long ago"),
            Self::WrongNonce => f.write_str("token nonce is not the expected one"),
        }
    }
}

#[cfg(feature = "std")]
impl std::error::Error for TokenError {}

/// Default clock-skew allowance for `exp`, `nbf` and `iat`, in seconds.
pub const DEFAULT_LEEWAY_SECS: u64 = 60;

/// What a resource server accepts. Build with [`ValidationPolicy::new`] and
/// adjust with the `with_*` methods.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ValidationPolicy {
    issuer: String,
    audience: String,
    /// Further accepted audiences (an authorization server introspecting
    /// tokens for all its resources).
    other_audiences: Vec<String>,
    leeway_secs: u64,
    algorithms: Vec<Algorithm>,
    max_token_len: usize,
}

impl ValidationPolicy {
    /// Accept tokens from exactly `issuer` whose `aud` contains `audience`
    /// (this resource's canonical URL), RS256 only, 60 s leeway, at most
    /// [`MAX_TOKEN_LEN`] bytes.
    pub fn new(issuer: impl Into<String>, audience: impl Into<String>) -> Self {
        Self {
            issuer: issuer.into(),
            audience: audience.into(),
            other_audiences: Vec::new(),
            leeway_secs: DEFAULT_LEEWAY_SECS,
            algorithms: vec![Algorithm::Rs256],
            max_token_len: MAX_TOKEN_LEN,
        }
    }

    /// Clock-skew allowance for `exp`, `nbf` and `iat`. Bounds how long an
    /// expired token stays usable; keep it small.
    #[must_use]
    pub fn with_leeway(mut self, secs: u64) -> Self {
        self.leeway_secs = secs;
        self
    }

    /// The algorithm allow-list (empty refuses everything).
    #[must_use]
    pub fn with_algorithms(mut self, algorithms: &[Algorithm]) -> Self {
        self.algorithms = algorithms.to_vec();
        self
    }

    /// Size limit, checked before any parsing (bounds the work an
    /// unauthenticated peer can cause). Cannot be raised past
    /// [`MAX_TOKEN_LEN`].
    #[must_use]
    pub fn with_max_token_len(mut self, len: usize) -> Self {
        self.max_token_len = len.min(MAX_TOKEN_LEN);
        self
    }

    /// The expected issuer.
    pub fn issuer(&self) -> &str {
        &self.issuer
    }

    /// Also accept tokens for these resources (e.g. an authorization server
    /// introspecting tokens of all its resources with one verification).
    /// Each is still an exact match.
    #[must_use]
    pub fn with_other_audiences<I, S>(mut self, audiences: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.other_audiences = audiences.into_iter().map(Into::into).collect();
        self
    }

    /// The expected audience (this resource).
    pub fn audience(&self) -> &str {
        &self.audience
    }

    /// Whether `resource` is an accepted audience (exact match).
    pub fn accepts_audience(&self, resource: &str) -> bool {
        self.audience == resource || self.other_audiences.iter().any(|a| a == resource)
    }

    /// The first audience of `claims` this policy accepts, in policy order
    /// (the resource to hand to [`AccessTokenClaims::to_principal`]).
    pub fn matched_audience<'a>(&'a self, claims: &AccessTokenClaims) -> Option<&'a str> {
        core::iter::once(&self.audience)
            .chain(&self.other_audiences)
            .find(|a| claims.aud.contains(a))
            .map(String::as_str)
    }

    /// The clock-skew allowance in seconds.
    pub fn leeway_secs(&self) -> u64 {
        self.leeway_secs
    }
}

pub(crate) fn b64_decode(segment: &str, part: Part) -> Result<Vec<u8>, TokenError> {
    Base64UrlUnpadded::decode_vec(segment).map_err(|_| TokenError::Base64(part))
}

pub(crate) fn json_object(bytes: &[u8], part: Part) -> Result<Map<String, Value>, TokenError> {
    strict::parse_object(bytes).map_err(|e| match e {
        StrictError::Syntax => TokenError::Json(part),
        StrictError::DuplicateKey => TokenError::DuplicateKey(part),
    })
}

/// Sign `header.claims` (already JSON) and return the compact JWS.
#[cfg(feature = "issuer")]
pub(crate) fn sign_compact(
    keys: &KeySet,
    header_json: &[u8],
    claims_json: &[u8],
    rng: &mut dyn SecureRandom,
) -> Result<String, SignError> {
    let key = keys.signing_key().ok_or(SignError::NoSigningKey)?;
    let mut out = Base64UrlUnpadded::encode_string(header_json);
    out.push('.');
    out.push_str(&Base64UrlUnpadded::encode_string(claims_json));
    // Refuse before spending a private-key operation.
    let sig_len = (key.verifying_key().signature_len() * 4).div_ceil(3);
    if out.len() + 1 + sig_len > MAX_TOKEN_LEN {
        return Err(SignError::TooLarge);
    }
    let sig = keys.provider().sign_rs256(key, out.as_bytes(), rng)?;
    if sig.len() != key.verifying_key().signature_len() {
        // A backend bug; never publish a token no one can verify.
        return Err(SignError::Provider);
    }
    out.push('.');
    out.push_str(&Base64UrlUnpadded::encode_string(&sig));
    Ok(out)
}

#[cfg(feature = "issuer")]
pub(crate) fn issue(
    keys: &KeySet,
    claims: &AccessTokenClaims,
    rng: &mut dyn SecureRandom,
) -> Result<String, SignError> {
    let key = keys.signing_key().ok_or(SignError::NoSigningKey)?;
    for (name, value) in [
        ("iss", &claims.iss),
        ("sub", &claims.sub),
        ("client_id", &claims.client_id),
    ] {
        if value.is_empty() {
            return Err(SignError::InvalidClaim(name));
        }
    }
    if !claims.aud.is_valid() {
        return Err(SignError::InvalidClaim("aud"));
    }
    if claims.exp <= claims.iat {
        return Err(SignError::InvalidClaim("exp"));
    }
    if let Some(name) = REGISTERED_CLAIMS
        .iter()
        .find(|n| claims.extra.contains_key(**n))
    {
        return Err(SignError::ReservedClaim(name));
    }
    let generated;
    let jti = if claims.jti.is_empty() {
        generated = random_token::<JTI_BYTES>(rng).map_err(|_| SignError::Rng)?;
        generated.as_str()
    } else {
        claims.jti.as_str()
    };
    let header = HeaderOut {
        alg: Algorithm::Rs256.name(),
        typ: JWT_TYPE,
        kid: key.kid(),
    };
    // Serializing strings, integers and `Value`s into a Vec cannot fail.
    let header = serde_json::to_vec(&header).map_err(|_| SignError::Provider)?;
    let body = serde_json::to_vec(&ClaimsOut { claims, jti }).map_err(|_| SignError::Provider)?;
    sign_compact(keys, &header, &body, rng)
}

/// RFC 9068 §4: `typ` is `at+jwt`, possibly with the `application/` prefix
/// (media types are case-insensitive, RFC 7515 §4.1.9).
fn is_access_token_type(typ: &str) -> bool {
    let t = match typ.get(..12) {
        Some(prefix) if prefix.eq_ignore_ascii_case("application/") => &typ[12..],
        _ => typ,
    };
    t.eq_ignore_ascii_case(JWT_TYPE)
}

fn is_forbidden_alg(alg: &str) -> bool {
    alg.eq_ignore_ascii_case("none") || alg.get(..2).is_some_and(|p| p.eq_ignore_ascii_case("HS"))
}

/// Which kind of JWT a signature check is for: decides the `typ` header
/// rule and whether a missing `kid` may pick the only key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum JwtKind {
    /// RFC 9068 access token: `typ` `at+jwt` required, `kid` required.
    Access,
    /// OpenID Connect ID token: `typ` absent or `JWT` (never `at+jwt`, so an
    /// access token cannot pass for one), `kid` may be absent when the key
    /// set holds exactly one key (OpenID Connect Core §10.1).
    Id,
}

/// The checks every JWT shares, in order: size, time known, three segments,
/// strict header, `alg` (never `none`/`HS*`, then the allow-list), `typ`
/// for `kind`, no `crit`, the key by `kid` among `keys` only, the signature;
/// only then the claims are decoded (strict JSON). Returns the claims and
/// the time in seconds.
pub(crate) fn verify_signed(
    keys: &KeySet,
    token: &str,
    max_len: usize,
    algorithms: &[Algorithm],
    kind: JwtKind,
    now: Option<UnixTime>,
) -> Result<(Map<String, Value>, u64), TokenError> {
    if token.len() > max_len {
        return Err(TokenError::TooLarge);
    }
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

    // Header: everything needed to pick the key, checked before any crypto.
    let header = json_object(&b64_decode(h64, Part::Header)?, Part::Header)?;
    let alg = match header.get("alg") {
        Some(Value::String(alg)) => alg.as_str(),
        _ => return Err(TokenError::InvalidHeader("alg")),
    };
    if is_forbidden_alg(alg) {
        return Err(TokenError::ForbiddenAlgorithm);
    }
    let alg = Algorithm::from_name(alg).ok_or(TokenError::AlgorithmNotAllowed)?;
    if !algorithms.contains(&alg) {
        return Err(TokenError::AlgorithmNotAllowed);
    }
    let typ_ok = match (kind, header.get("typ")) {
        (JwtKind::Access, Some(Value::String(typ))) => is_access_token_type(typ),
        (JwtKind::Access, _) => false,
        (JwtKind::Id, None) => true,
        (JwtKind::Id, Some(Value::String(typ))) => is_plain_jwt_type(typ),
        (JwtKind::Id, Some(_)) => false,
    };
    if !typ_ok {
        return Err(TokenError::WrongType);
    }
    if header.contains_key("crit") {
        return Err(TokenError::CriticalHeader);
    }
    let key = match header.get("kid") {
        Some(Value::String(kid)) => keys.find(kid).ok_or(TokenError::UnknownKeyId)?,
        Some(_) => return Err(TokenError::InvalidHeader("kid")),
        None => match (kind, keys.verifying_keys()) {
            (JwtKind::Id, [only]) => only,
            _ => return Err(TokenError::MissingKeyId),
        },
    };

    // Signature over the ASCII `header.claims`, before looking at the claims.
    if s64.is_empty() {
        return Err(TokenError::BadSignature);
    }
    let sig = b64_decode(s64, Part::Signature)?;
    if sig.len() != key.signature_len() {
        return Err(TokenError::BadSignature);
    }
    let signing_input = &token.as_bytes()[..h64.len() + 1 + c64.len()];
    match alg {
        Algorithm::Rs256 => {
            if !keys.provider().verify_rs256(key, signing_input, &sig) {
                return Err(TokenError::BadSignature);
            }
        }
    }
    let claims = json_object(&b64_decode(c64, Part::Claims)?, Part::Claims)?;
    Ok((claims, now))
}

/// `JWT` or `application/jwt`, case-insensitively (RFC 7519 §5.1).
fn is_plain_jwt_type(typ: &str) -> bool {
    let t = match typ.get(..12) {
        Some(prefix) if prefix.eq_ignore_ascii_case("application/") => &typ[12..],
        _ => typ,
    };
    t.eq_ignore_ascii_case("JWT")
}

pub(crate) fn verify(
    keys: &KeySet,
    token: &str,
    policy: &ValidationPolicy,
    now: Option<UnixTime>,
) -> Result<AccessTokenClaims, TokenError> {
    let (claims, now) = verify_signed(
        keys,
        token,
        policy.max_token_len,
        &policy.algorithms,
        JwtKind::Access,
        now,
    )?;
    let claims = extract_claims(claims)?;

    if claims.iss != policy.issuer {
        return Err(TokenError::WrongIssuer);
    }
    if policy.matched_audience(&claims).is_none() {
        return Err(TokenError::WrongAudience);
    }
    let leeway = policy.leeway_secs;
    if now >= claims.exp.saturating_add(leeway) {
        return Err(TokenError::Expired);
    }
    if let Some(nbf) = claims.extra.get("nbf") {
        let nbf = nbf.as_u64().ok_or(TokenError::InvalidClaim("nbf"))?;
        if nbf > now.saturating_add(leeway) {
            return Err(TokenError::NotYetValid);
        }
    }
    if claims.iat > now.saturating_add(leeway) {
        return Err(TokenError::IssuedInFuture);
    }
    Ok(claims)
}

pub(crate) fn take_string(
    map: &mut Map<String, Value>,
    name: &'static str,
) -> Result<String, TokenError> {
    match map.remove(name) {
        Some(Value::String(s)) if !s.is_empty() => Ok(s),
        Some(_) => Err(TokenError::InvalidClaim(name)),
        None => Err(TokenError::MissingClaim(name)),
    }
}

pub(crate) fn take_time(
    map: &mut Map<String, Value>,
    name: &'static str,
) -> Result<u64, TokenError> {
    match map.remove(name) {
        Some(v) => v.as_u64().ok_or(TokenError::InvalidClaim(name)),
        None => Err(TokenError::MissingClaim(name)),
    }
}

pub(crate) fn take_audience(map: &mut Map<String, Value>) -> Result<Audience, TokenError> {
    let aud = match map.remove("aud") {
        Some(Value::String(a)) => Audience::One(a),
        Some(Value::Array(items)) => {
            let mut all = Vec::with_capacity(items.len());
            for item in items {
                match item {
                    Value::String(a) => all.push(a),
                    _ => return Err(TokenError::InvalidClaim("aud")),
                }
            }
            Audience::Many(all)
        }
        Some(_) => return Err(TokenError::InvalidClaim("aud")),
        None => return Err(TokenError::MissingClaim("aud")),
    };
    if aud.is_valid() {
        Ok(aud)
    } else {
        Err(TokenError::InvalidClaim("aud"))
    }
}

/// RFC 9068 §2.2: `iss`, `exp`, `aud`, `sub`, `client_id`, `iat` and `jti`
/// are required; `scope` is optional.
fn extract_claims(mut map: Map<String, Value>) -> Result<AccessTokenClaims, TokenError> {
    let iss = take_string(&mut map, "iss")?;
    let sub = take_string(&mut map, "sub")?;
    let aud = take_audience(&mut map)?;
    let client_id = take_string(&mut map, "client_id")?;
    let scope = match map.remove("scope") {
        Some(Value::String(s)) => s,
        Some(_) => return Err(TokenError::InvalidClaim("scope")),
        None => String::new(),
    };
    let iat = take_time(&mut map, "iat")?;
    let exp = take_time(&mut map, "exp")?;
    let jti = take_string(&mut map, "jti")?;
    Ok(AccessTokenClaims {
        iss,
        sub,
        aud,
        client_id,
        scope,
        iat,
        exp,
        jti,
        extra: map,
    })
}
