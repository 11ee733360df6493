//! PKCE (RFC 7636), S256 only.

use base64ct::{Base64UrlUnpadded, Encoding};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

/// RFC 7636 §4.1 `code-verifier`: 43..=128 characters of
/// `ALPHA / DIGIT / "-" / "." / "_" / "~"`. The same charset and bounds hold
/// for an S256 challenge (which is always exactly 43 characters).
pub fn is_valid_verifier(v: &str) -> bool {
    (43..=128).contains(&v.len())
        && v.bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~'))
}

/// Whether `challenge` is a syntactically valid S256 challenge (base64url of
/// 32 bytes, no padding).
pub fn is_valid_s256_challenge(challenge: &str) -> bool {
    challenge.len() == 43
        && Base64UrlUnpadded::decode_vec(challenge).is_ok_and(|raw| raw.len() == 32)
}

/// `BASE64URL(SHA256(verifier))`.
pub fn s256_challenge(verifier: &str) -> alloc::string::String {
    Base64UrlUnpadded::encode_string(&Sha256::digest(verifier.as_bytes()))
}

/// Constant-time check of `verifier` against an S256 `challenge`.
pub fn verify_s256(verifier: &str, challenge: &str) -> bool {
    let computed = s256_challenge(verifier);
    computed.as_bytes().ct_eq(challenge.as_bytes()).into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc7636_appendix_b_vector() {
        let verifier = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
        let challenge = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";
        assert!(is_valid_verifier(verifier));
        assert!(is_valid_s256_challenge(challenge));
        assert!(verify_s256(verifier, challenge));
        assert!(!verify_s256(
            "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXK",
            challenge
        ));
    }

    #[test]
    fn verifier_rules() {
        assert!(!is_valid_verifier(&"a".repeat(42)));
        assert!(is_valid_verifier(&"a".repeat(128)));
        assert!(!is_valid_verifier(&"a".repeat(129)));
        assert!(!is_valid_verifier(&alloc::format!("{}+", "a".repeat(43))));
        assert!(!is_valid_s256_challenge(&"a".repeat(44)));
    }
}
