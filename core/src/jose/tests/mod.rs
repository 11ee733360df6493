//! Tests of the JOSE module: published vectors and round trips here; every
//! refusal, keys and key sets, JWKS and properties in the submodules.
//!
//! Keys: the RFC 7515 Appendix A.2 key (published, built from its
//! components, so RS256 signatures are known answers) plus two keys generated
//! once from fixed seeds. No private key files.

extern crate std;

use alloc::format;
use alloc::string::{String, ToString};
use alloc::vec;
use alloc::vec::Vec;
use std::sync::OnceLock;

use base64ct::{Base64UrlUnpadded, Encoding};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use super::token::sign_compact;
use super::*;
use crate::limits;
use crate::rand::{FailingRandom, InsecureSeededRandom};
use crate::time::UnixTime;

pub(crate) const ISS: &str = "https://as.example";
pub(crate) const RES: &str = "https://as.example/mcp";
pub(crate) const NOW: u64 = 1_800_000_000;

// RFC 7515 Appendix A.2 (RS256) JWS.
const A2_N: &str = testing::RFC7515_A2_N;
const A2_SIGNING_INPUT: &str = "eyJhbGciOiJSUzI1NiJ9.eyJpc3MiOiJqb2UiLA0KICJleHAiOjEzMDA4MTkzODAsDQogImh0dHA6Ly9leGFtcGxlLmNvbS9pc19yb290Ijp0cnVlfQ";
const A2_SIG: &str = "cC4hiUPoj9Eetdgtv3hF80EGrhuB__dzERat0XF9g2VtQgr9PJbu3XOiZj5RZmh7AAuHIm4Bh-0Qc_lF5YKt_O8W2Fp5jujGbds9uJdbF9CUAr7t1dnZcAcQjbKBYNX4BAynRFdiuB--f_nZLgrnbyTyWzO75vRK5h6xBArLIARNPvkSjtQBMHlb1L07Qe7K0GarZRmB_eSN9383LcOLn6_dO--xi12jzDwusC-eOkHWEsqtFZESc6BfI7noOPqvhJ1phCnvWh6IeYI2w9QOYEUipUTI8np6LbgGY9Fs98rqVt5AXLIhWkWywlVmtVrBp0igcN_IoypGlUPQGe77Rw";

fn b64(bytes: &[u8]) -> String {
    Base64UrlUnpadded::encode_string(bytes)
}

fn unb64(s: &str) -> Vec<u8> {
    Base64UrlUnpadded::decode_vec(s).expect("test vector is base64url")
}

/// The RFC 7515 A.2 key.
pub(crate) fn key_a() -> &'static SigningKey {
    static KEY: OnceLock<SigningKey> = OnceLock::new();
    KEY.get_or_init(testing::rfc7515_a2_key)
}

/// A key generated from a fixed seed (rotation target).
pub(crate) fn key_b() -> &'static SigningKey {
    static KEY: OnceLock<SigningKey> = OnceLock::new();
    KEY.get_or_init(|| testing::seeded_key(0xB))
}

/// Another generated key, never in the test key sets (unknown kid).
fn key_c() -> &'static SigningKey {
    static KEY: OnceLock<SigningKey> = OnceLock::new();
    KEY.get_or_init(|| testing::seeded_key(0xC))
}

pub(crate) fn rng() -> InsecureSeededRandom {
    InsecureSeededRandom::new(42)
}

pub(crate) fn claims() -> AccessTokenClaims {
    AccessTokenClaims {
        iss: ISS.to_string(),
        sub: "alice".to_string(),
        aud: Audience::One(RES.to_string()),
        client_id: "client-1".to_string(),
        scope: "mcp:tools mcp:resources".to_string(),
        iat: NOW,
        exp: NOW + 300,
        jti: String::new(),
        extra: serde_json::Map::new(),
    }
}

fn policy() -> ValidationPolicy {
    ValidationPolicy::new(ISS, RES)
}

fn now() -> Option<UnixTime> {
    Some(UnixTime(NOW))
}

fn keys_a() -> KeySet {
    KeySet::new(key_a().clone())
}

fn issue(keys: &KeySet, claims: &AccessTokenClaims) -> String {
    keys.issue_access_token(claims, &mut rng()).expect("issue")
}

fn verify(keys: &KeySet, token: &str) -> Result<AccessTokenClaims, TokenError> {
    keys.verify_access_token(token, &policy(), now())
}

/// A token with arbitrary (possibly hostile) header and claims JSON, validly
/// signed by key A.
fn signed_raw(header: &str, claims: &str) -> String {
    sign_compact(&keys_a(), header.as_bytes(), claims.as_bytes(), &mut rng()).expect("sign")
}

fn header_a() -> String {
    format!(
        r#"{{"alg":"RS256","typ":"at+jwt","kid":"{}"}}"#,
        key_a().kid()
    )
}

fn claims_json() -> String {
    json!({
        "iss": ISS, "sub": "alice", "aud": RES, "client_id": "client-1",
        "iat": NOW, "exp": NOW + 300, "jti": "j-1",
    })
    .to_string()
}

fn segments(token: &str) -> Vec<&str> {
    token.split('.').collect()
}

fn hmac_sha256(key: &[u8], msg: &[u8]) -> Vec<u8> {
    let mut block = [0u8; 64];
    if key.len() > 64 {
        block[..32].copy_from_slice(&Sha256::digest(key));
    } else {
        block[..key.len()].copy_from_slice(key);
    }
    let ipad: Vec<u8> = block.iter().map(|b| b ^ 0x36).collect();
    let opad: Vec<u8> = block.iter().map(|b| b ^ 0x5c).collect();
    let inner = Sha256::new()
        .chain_update(&ipad)
        .chain_update(msg)
        .finalize();
    Sha256::new()
        .chain_update(&opad)
        .chain_update(inner)
        .finalize()
        .to_vec()
}

mod jwks;
mod keys;
mod proptests;
mod refusals;

// ---------------------------------------------------------------- vectors

#[test]
fn rfc7638_thumbprint_example() {
    // RFC 7638 §3.1.
    let n = "0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw";
    let key = VerifyingKey::from_components(&unb64(n), &unb64("AQAB")).expect("key");
    assert_eq!(key.kid(), "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs");
    assert_eq!(key.thumbprint(), key.kid());
    assert_eq!(key.n_base64url(), n);
    assert_eq!(key.e_base64url(), "AQAB");
    // Leading zero bytes do not change the key or its thumbprint.
    let mut padded = vec![0, 0];
    padded.extend(unb64(n));
    let same = VerifyingKey::from_components(&padded, &[0, 1, 0, 1]).expect("key");
    assert_eq!(same.kid(), key.kid());
}

#[test]
fn rfc7515_a1_encodings_and_hmac() {
    // RFC 7515 A.1: the exact octets of header and payload (with CRLFs).
    let header = "{\"typ\":\"JWT\",\r\n \"alg\":\"HS256\"}";
    let payload =
        "{\"iss\":\"joe\",\r\n \"exp\":1300819380,\r\n \"http://example.com/is_root\":true}";
    assert_eq!(
        b64(header.as_bytes()),
        "eyJ0eXAiOiJKV1QiLA0KICJhbGciOiJIUzI1NiJ9"
    );
    assert_eq!(
        b64(payload.as_bytes()),
        "eyJpc3MiOiJqb2UiLA0KICJleHAiOjEzMDA4MTkzODAsDQogImh0dHA6Ly9leGFtcGxlLmNvbS9pc19yb290Ijp0cnVlfQ"
    );
    // The A.1 HMAC, which checks the test's own HMAC used for key confusion.
    let k = unb64(
        "AyM1SysPpbyDfgZld3umj1qzKObwVMkoqQ-EstJQLr_T-1qS0gZH75aKtMN3Yj0iPS4hcgUuTwjAzZr1Z9CAow",
    );
    let input = format!("{}.{}", b64(header.as_bytes()), b64(payload.as_bytes()));
    assert_eq!(
        b64(&hmac_sha256(&k, input.as_bytes())),
        "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"
    );
    // And that JWS is refused outright: HS256.
    let jws = format!("{input}.dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk");
    assert_eq!(verify(&keys_a(), &jws), Err(TokenError::ForbiddenAlgorithm));
}

#[test]
fn rfc7515_a2_rs256_known_answer() {
    let key = key_a();
    assert_eq!(key.verifying_key().n_base64url(), A2_N);
    assert_eq!(key.bits(), 2048);
    // PKCS#1 v1.5 is deterministic; blinding must not change the result.
    let sig = PURE_RUST_RSA
        .sign_rs256(key, A2_SIGNING_INPUT.as_bytes(), &mut rng())
        .expect("sign");
    assert_eq!(b64(&sig), A2_SIG);
    assert!(PURE_RUST_RSA.verify_rs256(
        key.verifying_key(),
        A2_SIGNING_INPUT.as_bytes(),
        &unb64(A2_SIG)
    ));
    // The A.2 JWS has no typ/kid: refused as an access token.
    let jws = format!("{A2_SIGNING_INPUT}.{A2_SIG}");
    assert_eq!(verify(&keys_a(), &jws), Err(TokenError::WrongType));
}

// ---------------------------------------------------------------- round trips

#[test]
fn issue_and_verify_round_trip() {
    let keys = keys_a();
    let mut c = claims();
    c.extra.insert("auth_time".into(), json!(NOW - 10));
    c.extra
        .insert("acr".into(), json!("urn:mace:incommon:iap:silver"));
    let token = issue(&keys, &c);
    let got = verify(&keys, &token).expect("verifies");
    assert_eq!(got.jti.len(), 22, "128-bit random jti, base64url");
    c.jti = got.jti.clone();
    assert_eq!(got, c);

    let parts = segments(&token);
    let header: Value = serde_json::from_slice(&unb64(parts[0])).expect("json");
    assert_eq!(
        header,
        json!({"alg": "RS256", "typ": "at+jwt", "kid": key_a().kid()})
    );
    let body: Value = serde_json::from_slice(&unb64(parts[1])).expect("json");
    assert_eq!(body["aud"], json!(RES));
    assert_eq!(body["scope"], json!("mcp:tools mcp:resources"));
}

#[test]
fn audience_array_and_given_jti_and_empty_scope() {
    let keys = keys_a();
    let mut c = claims();
    c.aud = Audience::Many(vec!["https://other.example".into(), RES.into()]);
    c.jti = "fixed-id".into();
    c.scope = String::new();
    let token = issue(&keys, &c);
    let body: Value = serde_json::from_slice(&unb64(segments(&token)[1])).expect("json");
    assert_eq!(body["aud"], json!(["https://other.example", RES]));
    assert!(body.get("scope").is_none());
    assert_eq!(verify(&keys, &token), Ok(c));
}

#[test]
fn principal_from_claims() {
    let mut c = claims();
    c.jti = "j".into();
    let p = c.to_principal(RES);
    assert_eq!(p.subject, "alice");
    assert_eq!(p.client_id, "client-1");
    assert_eq!(p.scopes, vec!["mcp:tools", "mcp:resources"]);
    assert!(p.has_scope("mcp:tools"));
    assert_eq!(p.audience, RES);
    assert_eq!(p.token_id, "j");
    assert_eq!(p.expires_at, NOW + 300);
}

#[test]
fn accepted_type_spellings() {
    let keys = keys_a();
    for typ in [
        "at+jwt",
        "AT+JWT",
        "application/at+jwt",
        "Application/AT+jwt",
    ] {
        let header = format!(
            r#"{{"alg":"RS256","typ":"{typ}","kid":"{}"}}"#,
            key_a().kid()
        );
        let token = signed_raw(&header, &claims_json());
        assert!(verify(&keys, &token).is_ok(), "{typ}");
    }
}

#[test]
fn time_boundaries_and_leeway() {
    let keys = keys_a();
    let token = issue(&keys, &claims());
    let at = |t: u64| keys.verify_access_token(&token, &policy(), Some(UnixTime(t)));
    let exp = NOW + 300;
    // exp is exclusive; leeway 60 s by default.
    assert!(at(exp + 59).is_ok());
    assert_eq!(at(exp + 60), Err(TokenError::Expired));
    let strict = policy().with_leeway(0);
    assert_eq!(
        keys.verify_access_token(&token, &strict, Some(UnixTime(exp))),
        Err(TokenError::Expired)
    );
    assert!(
        keys.verify_access_token(&token, &strict, Some(UnixTime(exp - 1)))
            .is_ok()
    );
    // iat in the future beyond the leeway.
    assert!(at(NOW - 60).is_ok());
    assert_eq!(at(NOW - 61), Err(TokenError::IssuedInFuture));
}

#[test]
fn policies_with_several_audiences() {
    let keys = keys_a();
    let mut c = claims();
    c.aud = Audience::One("https://as.example/files".into());
    let token = issue(&keys, &c);
    assert_eq!(verify(&keys, &token), Err(TokenError::WrongAudience));
    let wide = policy().with_other_audiences(["https://as.example/db", "https://as.example/files"]);
    let got = keys
        .verify_access_token(&token, &wide, now())
        .expect("accepted");
    assert_eq!(
        wide.matched_audience(&got),
        Some("https://as.example/files")
    );
    assert!(wide.accepts_audience(RES) && !wide.accepts_audience("https://as.example/"));
    assert_eq!(wide.matched_audience(&claims()), Some(RES));
}
