//! JSON Web Key Sets (RFC 7517 §5): publishing our public keys and reading
//! an issuer's.

use alloc::string::String;
use alloc::vec::Vec;
use core::fmt;

use base64ct::{Base64UrlUnpadded, Encoding};
use serde::Serialize;
use serde_json::Value;

use super::key::{KeyError, MAX_KID_LEN, MAX_RSA_BITS, VerifyingKey};
use super::strict::{self, StrictError};

/// Most entries accepted in a JWKS `keys` array (usable or not). An issuer
/// publishes a handful; this bounds the work a bad document can cause.
pub const MAX_JWKS_KEYS: usize = 16;
/// Largest JWKS document accepted, in bytes, before parsing.
pub const MAX_JWKS_LEN: usize = 64 * 1024;

/// JWK members that only private keys have (RFC 7518 §6.2.2, §6.3.2, §6.4).
const PRIVATE_MEMBERS: [&str; 8] = ["d", "p", "q", "dp", "dq", "qi", "oth", "k"];

/// A JWKS document was refused. Carries only the index of the offending key
/// and the name of the offending member, never key material.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum JwksError {
    /// Longer than [`MAX_JWKS_LEN`].
    TooLarge,
    /// Not a JSON object.
    Json,
    /// A JSON object repeats a member name.
    DuplicateKey,
    /// No `keys` array.
    NotAKeySet,
    /// More than [`MAX_JWKS_KEYS`] entries.
    TooManyKeys,
    /// Entry `index` is not a JSON object.
    NotAnObject {
        /// Position in `keys`.
        index: usize,
    },
    /// Entry `index` lacks a required member or has it with the wrong type
    /// or encoding.
    InvalidMember {
        /// Position in `keys`.
        index: usize,
        /// The member name.
        member: &'static str,
    },
    /// Entry `index` is an RSA key we refuse (size, exponent, consistency).
    BadKey {
        /// Position in `keys`.
        index: usize,
        /// Why.
        reason: KeyError,
    },
    /// Two usable entries share a `kid`.
    DuplicateKid {
        /// Position in `keys` of the second one.
        index: usize,
    },
    /// No entry is an RSA signature key usable with RS256.
    NoUsableKeys,
    /// Entry `index` carries private key material (`d`, `p`, `k`, …): the
    /// issuer is leaking its key, and nothing from it should be trusted.
    PrivateKeyMaterial {
        /// Position in `keys`.
        index: usize,
    },
}

impl fmt::Display for JwksError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::TooLarge => f.write_str("JWKS document exceeds the size limit"),
            Self::Json => f.write_str("JWKS document is not a JSON object"),
            Self::DuplicateKey => f.write_str("JWKS document repeats a member name"),
            Self::NotAKeySet => f.write_str("JWKS document has no `keys` array"),
            Self::TooManyKeys => f.write_str("JWKS document has too many keys"),
            Self::NotAnObject { index } => write!(f, "JWKS key {index} is not an object"),
            Self::InvalidMember { index, member } => {
                write!(
                    f,
                    "JWKS key {index}: member `{member}` is missing or invalid"
                )
            }
            Self::BadKey { index, reason } => write!(f, "JWKS key {index}: {reason}"),
            Self::DuplicateKid { index } => write!(f, "JWKS key {index}: duplicate kid"),
            Self::NoUsableKeys => f.write_str("JWKS document has no RS256 signature key"),
            Self::PrivateKeyMaterial { index } => {
                write!(f, "JWKS key {index} contains private key material")
            }
        }
    }
}

#[cfg(feature = "std")]
impl std::error::Error for JwksError {}

#[derive(Serialize)]
struct JwkOut<'a> {
    kty: &'static str,
    n: &'a str,
    e: &'a str,
    kid: &'a str,
    #[serde(rename = "use")]
    use_: &'static str,
    alg: &'static str,
}

#[derive(Serialize)]
struct JwksOut<'a> {
    keys: Vec<JwkOut<'a>>,
}

/// `{"keys":[{"kty":"RSA","n":…,"e":…,"kid":…,"use":"sig","alg":"RS256"},…]}`
pub(crate) fn to_json<'a>(keys: impl Iterator<Item = &'a VerifyingKey>) -> String {
    let doc = JwksOut {
        keys: keys
            .map(|k| JwkOut {
                kty: "RSA",
                n: k.n_base64url(),
                e: k.e_base64url(),
                kid: k.kid(),
                use_: "sig",
                alg: "RS256",
            })
            .collect(),
    };
    // Serializing plain strings cannot fail.
    serde_json::to_string(&doc).unwrap_or_else(|_| String::from(r#"{"keys":[]}"#))
}

fn str_member<'a>(
    jwk: &'a serde_json::Map<String, Value>,
    index: usize,
    member: &'static str,
) -> Result<Option<&'a str>, JwksError> {
    match jwk.get(member) {
        None => Ok(None),
        Some(Value::String(s)) => Ok(Some(s)),
        Some(_) => Err(JwksError::InvalidMember { index, member }),
    }
}

/// Parse a JWKS into verifying keys.
///
/// Any entry with private key material is refused outright.
/// Entries that are not RSA keys, are meant for encryption (`use` other than
/// `sig`), name another algorithm than RS256, or whose `key_ops` exclude
/// `verify`, are skipped. An RSA signature key that is malformed, weak or
/// oversized is an error, not silently skipped: a resource server should
/// notice that its issuer publishes something it cannot use. A missing `kid`
/// is replaced by the RFC 7638 thumbprint.
pub fn parse_jwks(json: &str) -> Result<Vec<VerifyingKey>, JwksError> {
    if json.len() > MAX_JWKS_LEN {
        return Err(JwksError::TooLarge);
    }
    let mut doc = strict::parse_object(json.as_bytes()).map_err(|e| match e {
        StrictError::Syntax => JwksError::Json,
        StrictError::DuplicateKey => JwksError::DuplicateKey,
    })?;
    let Some(Value::Array(entries)) = doc.remove("keys") else {
        return Err(JwksError::NotAKeySet);
    };
    if entries.len() > MAX_JWKS_KEYS {
        return Err(JwksError::TooManyKeys);
    }
    let mut keys: Vec<VerifyingKey> = Vec::new();
    for (index, entry) in entries.iter().enumerate() {
        let Value::Object(jwk) = entry else {
            return Err(JwksError::NotAnObject { index });
        };
        if PRIVATE_MEMBERS.iter().any(|m| jwk.contains_key(*m)) {
            return Err(JwksError::PrivateKeyMaterial { index });
        }
        let kty = str_member(jwk, index, "kty")?.ok_or(JwksError::InvalidMember {
            index,
            member: "kty",
        })?;
        if kty != "RSA" {
            continue;
        }
        if str_member(jwk, index, "use")?.is_some_and(|u| u != "sig") {
            continue;
        }
        if str_member(jwk, index, "alg")?.is_some_and(|a| a != "RS256") {
            continue;
        }
        match jwk.get("key_ops") {
            None => {}
            Some(Value::Array(ops)) if !ops.iter().any(|op| op.as_str() == Some("verify")) => {
                continue;
            }
            Some(Value::Array(_)) => {}
            Some(_) => {
                return Err(JwksError::InvalidMember {
                    index,
                    member: "key_ops",
                });
            }
        }
        let n = decode_uint(jwk, index, "n", MAX_RSA_BITS / 8)?;
        let e = decode_uint(jwk, index, "e", 8)?;
        let key = VerifyingKey::from_components(&n, &e)
            .map_err(|reason| JwksError::BadKey { index, reason })?;
        let key = match str_member(jwk, index, "kid")? {
            Some(kid) if kid.is_empty() || kid.len() > MAX_KID_LEN => {
                return Err(JwksError::InvalidMember {
                    index,
                    member: "kid",
                });
            }
            Some(kid) => key.with_kid(String::from(kid)),
            None => key,
        };
        if keys.iter().any(|k| k.kid() == key.kid()) {
            return Err(JwksError::DuplicateKid { index });
        }
        keys.push(key);
    }
    if keys.is_empty() {
        return Err(JwksError::NoUsableKeys);
    }
    Ok(keys)
}

/// RFC 7518 §6.3.1: `n` and `e` are base64url big-endian unsigned integers
/// in their shortest form (no leading zero octet).
fn decode_uint(
    jwk: &serde_json::Map<String, Value>,
    index: usize,
    member: &'static str,
    max_len: usize,
) -> Result<Vec<u8>, JwksError> {
    let invalid = JwksError::InvalidMember { index, member };
    let s = str_member(jwk, index, member)?.ok_or(invalid)?;
    if s.len() > max_len.div_ceil(3) * 4 {
        return Err(JwksError::BadKey {
            index,
            reason: KeyError::TooLarge,
        });
    }
    let bytes = Base64UrlUnpadded::decode_vec(s).map_err(|_| invalid)?;
    match bytes.first() {
        None | Some(0) => Err(invalid),
        Some(_) => Ok(bytes),
    }
}
