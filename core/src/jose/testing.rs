//! Keys for tests of this crate and of dependent crates (feature `testing`).
//!
//! **No security whatsoever**: the first key is published in RFC 7515
//! Appendix A.2, the others come from a seeded, predictable generator. Never
//! let one near a server.

use rsa::BoxedUint;

use super::key::SigningKey;
use crate::rand::InsecureSeededRandom;

/// RFC 7515 A.2 modulus `n` (base64url).
pub const RFC7515_A2_N: &str = "ofgWCuLjybRlzo0tZWJjNiuSfb4p4fAkd_wWJcyQoTbji9k0l8W26mPddxHmfHQp-Vaw-4qPCJrcS2mJPMEzP1Pt0Bm4d4QlL-yRT-SFd2lZS-pCgNMsD1W_YpRPEwOWvG6b32690r2jZ47soMZo9wGzjb_7OMg0LOL-bSf63kpaSHSXndS5z5rexMdbBYUsLA9e-KXBdQOS-UTo7WTBEMa2R2CapHg665xsmtdVMTBQY4uDZlxvb3qCo5ZwKh9kG4LT6_I5IhlJH7aGhyxXFvUK-DWNmoudF8NAco9_h9iaGNj8q2ethFkMLs91kzk2PAcDTW9gb54h4FRWyuXpoQ";
const A2_D: &str = "Eq5xpGnNCivDflJsRQBXHx1hdR1k6Ulwe2JZD50LpXyWPEAeP88vLNO97IjlA7_GQ5sLKMgvfTeXZx9SE-7YwVol2NXOoAJe46sui395IW_GO-pWJ1O0BkTGoVEn2bKVRUCgu-GjBVaYLU6f3l9kJfFNS3E0QbVdxzubSu3Mkqzjkn439X0M_V51gfpRLI9JYanrC4D4qAdGcopV_0ZHHzQlBjudU2QvXt4ehNYTCBr6XCLQUShb1juUO1ZdiYoFaFQT5Tw8bGUl_x_jTj3ccPDVZFD9pIuhLhBOneufuBiB4cS98l2SR_RQyGWSeWjnczT0QU91p1DhOVRuOopznQ";
const A2_P: &str = "4BzEEOtIpmVdVEZNCqS7baC4crd0pqnRH_5IB3jw3bcxGn6QLvnEtfdUdiYrqBdss1l58BQ3KhooKeQTa9AB0Hw_Py5PJdTJNPY8cQn7ouZ2KKDcmnPGBY5t7yLc1QlQ5xHdwW1VhvKn-nXqhJTBgIPgtldC-KDV5z-y2XDwGUc";
const A2_Q: &str = "uQPEfgmVtjL0Uyyx88GZFF1fOunH3-7cepKmtH4pxhtCoHqpWmT8YAmZxaewHgHAjLYsp1ZSe7zFYHj7C6ul7TjeLQeZD_YwD66t62wDmpe_HlB-TnBA-njbglfIsRLtXlnDzQkv5dTltRJ11BKBBypeeF6689rjcJIDEz9RWdc";

fn uint(b64: &str) -> Option<BoxedUint> {
    use base64ct::{Base64UrlUnpadded, Encoding};
    let bytes = Base64UrlUnpadded::decode_vec(b64).ok()?;
    Some(BoxedUint::from_be_slice_vartime(&bytes))
}

/// The RSA key of RFC 7515 Appendix A.2 (2048 bits, published): instant to
/// build, and its RS256 signatures are known answers.
pub fn rfc7515_a2_key() -> SigningKey {
    let key = (|| {
        let key = rsa::PrivateKey::from_components(
            uint(RFC7515_A2_N)?,
            BoxedUint::from(65_537u32),
            uint(A2_D)?,
            alloc::vec![uint(A2_P)?, uint(A2_Q)?],
        )
        .ok()?;
        SigningKey::from_rsa(key).ok()
    })();
    match key {
        Some(key) => key,
        None => unreachable!("the RFC 7515 A.2 key is a valid 2048-bit RSA key"),
    }
}

/// A 2048-bit key generated from `seed` with the insecure seeded generator:
/// the same seed gives the same key (and `kid`) on every run. Takes from a
/// few milliseconds to a second, depending on the seed.
pub fn seeded_key(seed: u64) -> SigningKey {
    match SigningKey::generate(&mut InsecureSeededRandom::new(seed), 2048) {
        Ok(key) => key,
        Err(e) => unreachable!("seeded key generation cannot fail: {e}"),
    }
}

/// Sign any header and claims (JSON text) with `key` as a compact RS256
/// JWS, whatever they say: for tests that play an upstream identity
/// provider, or forge tokens.
pub fn sign_jwt(key: &SigningKey, header_json: &str, claims_json: &str) -> alloc::string::String {
    let keys = super::KeySet::new(key.clone());
    let mut rng = InsecureSeededRandom::new(7);
    match super::token::sign_compact(
        &keys,
        header_json.as_bytes(),
        claims_json.as_bytes(),
        &mut rng,
    ) {
        Ok(token) => token,
        Err(e) => unreachable!("test signing cannot fail: {e}"),
    }
}
