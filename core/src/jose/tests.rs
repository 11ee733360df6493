//! Tests of the JOSE module: published vectors, round trips, every refusal.
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

// ---------------------------------------------------------------- refusals

#[test]
fn refuses_unknown_time() {
    let keys = keys_a();
    let token = issue(&keys, &claims());
    assert_eq!(
        keys.verify_access_token(&token, &policy(), None),
        Err(TokenError::TimeUnknown)
    );
}

#[test]
fn refuses_alg_none() {
    let keys = keys_a();
    for alg in ["none", "None", "NONE"] {
        let header = format!(
            r#"{{"alg":"{alg}","typ":"at+jwt","kid":"{}"}}"#,
            key_a().kid()
        );
        let token = format!(
            "{}.{}.",
            b64(header.as_bytes()),
            b64(claims_json().as_bytes())
        );
        assert_eq!(verify(&keys, &token), Err(TokenError::ForbiddenAlgorithm));
        // Even with the real RS256 signature attached.
        let valid = signed_raw(&header_a(), &claims_json());
        let sig = segments(&valid)[2];
        assert_eq!(
            verify(&keys, &format!("{}{sig}", token)),
            Err(TokenError::ForbiddenAlgorithm)
        );
    }
}

#[test]
fn refuses_hs256_key_confusion() {
    // The classic attack: HMAC with the RSA *public* key as the secret.
    let keys = keys_a();
    let public = key_a().verifying_key();
    let secrets: [Vec<u8>; 3] = [
        keys.to_jwks_json().into_bytes(),
        public.n_bytes(),
        public.n_base64url().as_bytes().to_vec(),
    ];
    for alg in ["HS256", "HS384", "HS512", "hs256"] {
        for secret in &secrets {
            let header = format!(
                r#"{{"alg":"{alg}","typ":"at+jwt","kid":"{}"}}"#,
                public.kid()
            );
            let input = format!(
                "{}.{}",
                b64(header.as_bytes()),
                b64(claims_json().as_bytes())
            );
            let mac = hmac_sha256(secret, input.as_bytes());
            let token = format!("{input}.{}", b64(&mac));
            assert_eq!(verify(&keys, &token), Err(TokenError::ForbiddenAlgorithm));
        }
    }
}

#[test]
fn refuses_algorithms_outside_the_allow_list() {
    let keys = keys_a();
    for alg in ["RS384", "PS256", "ES256", "EdDSA", "rs256"] {
        let header = format!(
            r#"{{"alg":"{alg}","typ":"at+jwt","kid":"{}"}}"#,
            key_a().kid()
        );
        let token = signed_raw(&header, &claims_json());
        assert_eq!(verify(&keys, &token), Err(TokenError::AlgorithmNotAllowed));
    }
    let token = issue(&keys, &claims());
    let nothing = policy().with_algorithms(&[]);
    assert_eq!(
        keys.verify_access_token(&token, &nothing, now()),
        Err(TokenError::AlgorithmNotAllowed)
    );
    for header in [r#"{"typ":"at+jwt"}"#, r#"{"alg":256,"typ":"at+jwt"}"#] {
        let token = signed_raw(header, &claims_json());
        assert_eq!(verify(&keys, &token), Err(TokenError::InvalidHeader("alg")));
    }
}

#[test]
fn refuses_flipped_signature_byte() {
    let keys = keys_a();
    let token = issue(&keys, &claims());
    let parts = segments(&token);
    let sig = unb64(parts[2]);
    for i in [0, 1, 128, sig.len() - 1] {
        let mut bad = sig.clone();
        bad[i] ^= 0x01;
        let forged = format!("{}.{}.{}", parts[0], parts[1], b64(&bad));
        assert_eq!(verify(&keys, &forged), Err(TokenError::BadSignature));
    }
    // Truncated or lengthened signatures.
    for bad in [&sig[..255], &[sig.as_slice(), &[0]].concat()[..]] {
        let forged = format!("{}.{}.{}", parts[0], parts[1], b64(bad));
        assert_eq!(verify(&keys, &forged), Err(TokenError::BadSignature));
    }
    // Empty signature.
    let forged = format!("{}.{}.", parts[0], parts[1]);
    assert_eq!(verify(&keys, &forged), Err(TokenError::BadSignature));
    // A changed claim under the old signature.
    let mut c: Value = serde_json::from_slice(&unb64(parts[1])).expect("json");
    c["sub"] = json!("mallory");
    let forged = format!(
        "{}.{}.{}",
        parts[0],
        b64(c.to_string().as_bytes()),
        parts[2]
    );
    assert_eq!(verify(&keys, &forged), Err(TokenError::BadSignature));
}

#[test]
fn refuses_wrong_audience_and_issuer() {
    let keys = keys_a();
    let mut c = claims();
    c.aud = Audience::Many(vec!["https://other.example/mcp".into()]);
    assert_eq!(
        verify(&keys, &issue(&keys, &c)),
        Err(TokenError::WrongAudience)
    );
    // Exact match: no prefix, suffix or case games.
    for aud in [
        "https://as.example/mcp/",
        "https://as.example/MCP",
        "https://as.example",
    ] {
        c.aud = Audience::One(aud.into());
        assert_eq!(
            verify(&keys, &issue(&keys, &c)),
            Err(TokenError::WrongAudience)
        );
    }
    let mut c = claims();
    for iss in [
        "https://evil.example",
        "https://as.example/",
        "https://AS.example",
    ] {
        c.iss = iss.into();
        assert_eq!(
            verify(&keys, &issue(&keys, &c)),
            Err(TokenError::WrongIssuer)
        );
    }
}

#[test]
fn refuses_expired_and_not_yet_valid() {
    let keys = keys_a();
    let mut c = claims();
    c.iat = NOW - 1000;
    c.exp = NOW - 61;
    assert_eq!(verify(&keys, &issue(&keys, &c)), Err(TokenError::Expired));

    let mut c = claims();
    c.extra.insert("nbf".into(), json!(NOW + 61));
    assert_eq!(
        verify(&keys, &issue(&keys, &c)),
        Err(TokenError::NotYetValid)
    );
    c.extra.insert("nbf".into(), json!(NOW + 60));
    assert!(verify(&keys, &issue(&keys, &c)).is_ok());
    c.extra.insert("nbf".into(), json!("soon"));
    assert_eq!(
        verify(&keys, &issue(&keys, &c)),
        Err(TokenError::InvalidClaim("nbf"))
    );

    let mut c = claims();
    c.iat = NOW + 61;
    c.exp = NOW + 600;
    assert_eq!(
        verify(&keys, &issue(&keys, &c)),
        Err(TokenError::IssuedInFuture)
    );
}

#[test]
fn refuses_unknown_or_missing_kid() {
    let keys = keys_a();
    let other = KeySet::new(key_c().clone());
    let token = issue(&other, &claims());
    assert_eq!(verify(&keys, &token), Err(TokenError::UnknownKeyId));

    let token = signed_raw(r#"{"alg":"RS256","typ":"at+jwt"}"#, &claims_json());
    assert_eq!(verify(&keys, &token), Err(TokenError::MissingKeyId));
    let token = signed_raw(r#"{"alg":"RS256","typ":"at+jwt","kid":7}"#, &claims_json());
    assert_eq!(verify(&keys, &token), Err(TokenError::InvalidHeader("kid")));
    // A kid naming another key than the signer's: the signature fails.
    let mut both = keys_a();
    both.add_verifying_key(key_c().verifying_key().clone())
        .expect("add");
    let header = format!(
        r#"{{"alg":"RS256","typ":"at+jwt","kid":"{}"}}"#,
        key_c().kid()
    );
    let token = signed_raw(&header, &claims_json());
    assert_eq!(verify(&both, &token), Err(TokenError::BadSignature));
}

#[test]
fn refuses_wrong_type_and_crit() {
    let keys = keys_a();
    let kid = key_a().kid();
    for typ in [
        r#""JWT""#,
        r#""jwt""#,
        r#""at+jwt ""#,
        r#""application/jwt""#,
        "1",
        "null",
    ] {
        let header = format!(r#"{{"alg":"RS256","typ":{typ},"kid":"{kid}"}}"#);
        let token = signed_raw(&header, &claims_json());
        assert_eq!(verify(&keys, &token), Err(TokenError::WrongType), "{typ}");
    }
    let token = signed_raw(
        &format!(r#"{{"alg":"RS256","kid":"{kid}"}}"#),
        &claims_json(),
    );
    assert_eq!(verify(&keys, &token), Err(TokenError::WrongType));

    let header = format!(r#"{{"alg":"RS256","typ":"at+jwt","kid":"{kid}","crit":["exp"]}}"#);
    let token = signed_raw(&header, &claims_json());
    assert_eq!(verify(&keys, &token), Err(TokenError::CriticalHeader));
}

#[test]
fn refuses_oversized_tokens_before_parsing() {
    let keys = keys_a();
    let huge = "a".repeat(limits::MAX_TOKEN_LEN + 1);
    assert_eq!(verify(&keys, &huge), Err(TokenError::TooLarge));
    // Even when time is unknown: size is checked first.
    assert_eq!(
        keys.verify_access_token(&huge, &policy(), None),
        Err(TokenError::TooLarge)
    );
    let token = issue(&keys, &claims());
    let small = policy().with_max_token_len(token.len() - 1);
    assert_eq!(
        keys.verify_access_token(&token, &small, now()),
        Err(TokenError::TooLarge)
    );
    // The limit cannot be raised past MAX_TOKEN_LEN.
    let raised = policy().with_max_token_len(usize::MAX);
    assert_eq!(
        keys.verify_access_token(&huge, &raised, now()),
        Err(TokenError::TooLarge)
    );
    // Issuing refuses what no resource server would accept.
    let mut c = claims();
    c.extra
        .insert("blob".into(), json!("x".repeat(limits::MAX_TOKEN_LEN)));
    assert_eq!(
        keys.issue_access_token(&c, &mut rng()),
        Err(SignError::TooLarge)
    );
}

#[test]
fn refuses_bad_base64() {
    let keys = keys_a();
    let token = issue(&keys, &claims());
    let p = segments(&token);
    let cases = [
        // Padding (RFC 7515 §2: base64url without '=').
        (format!("{}=.{}.{}", p[0], p[1], p[2]), Part::Header),
        (format!("{}.{}.{}==", p[0], p[1], p[2]), Part::Signature),
        // Standard-alphabet characters.
        (
            format!("{}.{}.{}", p[0], p[1], p[2].replace('-', "+")),
            Part::Signature,
        ),
        (format!("{}/.{}.{}", p[0], p[1], p[2]), Part::Header),
        // Whitespace and other junk.
        (format!("{} .{}.{}", p[0], p[1], p[2]), Part::Header),
        (format!("{}.{}.*{}", p[0], p[1], p[2]), Part::Signature),
        // Impossible length (4n+1).
        (format!("{}.{}.{}AAA", p[0], p[1], p[2]), Part::Signature),
    ];
    for (bad, part) in cases {
        if bad == token {
            continue; // the signature happened to have no '-'
        }
        assert_eq!(verify(&keys, &bad), Err(TokenError::Base64(part)), "{bad}");
    }
    // Non-canonical: a 256-byte signature is 342 characters whose last one
    // carries 4 unused bits, which must be zero.
    let last = p[2].as_bytes()[p[2].len() - 1];
    let alphabet = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let idx = alphabet.iter().position(|c| *c == last).expect("b64 char");
    assert_eq!(idx & 0x0f, 0, "canonical encoder");
    let twisted = alphabet[idx | 0x01] as char;
    let bad = format!("{}.{}.{}{twisted}", p[0], p[1], &p[2][..p[2].len() - 1]);
    assert_eq!(
        verify(&keys, &bad),
        Err(TokenError::Base64(Part::Signature))
    );
    // Non-canonical claims under a valid signature (signed as-is).
    let c = b64(claims_json().as_bytes());
    assert!(
        !c.len().is_multiple_of(4),
        "claims chosen to leave unused bits"
    );
    {
        let last = c.as_bytes()[c.len() - 1];
        let idx = alphabet.iter().position(|x| *x == last).expect("b64 char");
        let unused = if c.len() % 4 == 2 { 0x0f } else { 0x03 };
        let twisted = alphabet[(idx & !unused) | 0x01] as char;
        let bad_c = format!("{}{twisted}", &c[..c.len() - 1]);
        let h = b64(header_a().as_bytes());
        let input = format!("{h}.{bad_c}");
        let sig = PURE_RUST_RSA
            .sign_rs256(key_a(), input.as_bytes(), &mut rng())
            .expect("sign");
        let token = format!("{input}.{}", b64(&sig));
        assert_eq!(verify(&keys, &token), Err(TokenError::Base64(Part::Claims)));
    }
}

#[test]
fn refuses_extra_segments_and_trailing_garbage() {
    let keys = keys_a();
    let token = issue(&keys, &claims());
    let p = segments(&token);
    for bad in [
        format!("{token}."),
        format!("{token}.{}", p[2]),
        format!("{}.{}", p[0], p[1]),
        format!("{}..{}.{}", p[0], p[1], p[2]),
        format!(".{}.{}", p[1], p[2]),
        format!("{}..{}", p[0], p[2]),
        p[0].to_string(),
        String::new(),
        "..".to_string(),
    ] {
        assert_eq!(verify(&keys, &bad), Err(TokenError::Malformed), "{bad}");
    }
    for junk in [" ", "\n", "\0", "!", "garbage", "\u{00e9}"] {
        let bad = format!("{token}{junk}");
        assert_eq!(
            verify(&keys, &bad),
            Err(TokenError::Base64(Part::Signature)),
            "{junk:?}"
        );
    }
    // Trailing data after the JSON inside a segment (validly signed).
    let token = signed_raw(&format!("{} x", header_a()), &claims_json());
    assert_eq!(verify(&keys, &token), Err(TokenError::Json(Part::Header)));
    let token = signed_raw(&header_a(), &format!("{}{{}}", claims_json()));
    assert_eq!(verify(&keys, &token), Err(TokenError::Json(Part::Claims)));
    // Not objects at all.
    let token = signed_raw("[1]", &claims_json());
    assert_eq!(verify(&keys, &token), Err(TokenError::Json(Part::Header)));
    let token = signed_raw(&header_a(), "\"claims\"");
    assert_eq!(verify(&keys, &token), Err(TokenError::Json(Part::Claims)));
}

#[test]
fn refuses_duplicate_json_members() {
    let keys = keys_a();
    let kid = key_a().kid();
    for header in [
        format!(r#"{{"alg":"RS256","typ":"at+jwt","kid":"{kid}","alg":"RS256"}}"#),
        format!(r#"{{"alg":"RS256","typ":"at+jwt","kid":"{kid}","kid":"{kid}"}}"#),
        format!(r#"{{"alg":"RS256","typ":"at+jwt","kid":"{kid}","t\u0079p":"JWT"}}"#),
    ] {
        let token = signed_raw(&header, &claims_json());
        assert_eq!(
            verify(&keys, &token),
            Err(TokenError::DuplicateKey(Part::Header))
        );
    }
    let base = claims_json();
    let body = base.trim_end_matches('}');
    for dup in [
        r#","iss":"https://evil.example""#,
        r#","sub":"alice""#,
        r#","aud":"https://as.example/mcp""#,
        r#","x":{"a":1,"a":2}"#,
    ] {
        let token = signed_raw(&header_a(), &format!("{body}{dup}}}"));
        assert_eq!(
            verify(&keys, &token),
            Err(TokenError::DuplicateKey(Part::Claims)),
            "{dup}"
        );
    }
}

#[test]
fn refuses_missing_or_mistyped_claims() {
    let keys = keys_a();
    let full: Value = serde_json::from_str(&claims_json()).expect("json");
    for name in ["iss", "sub", "aud", "client_id", "iat", "exp", "jti"] {
        let mut c = full.clone();
        c.as_object_mut().expect("object").remove(name);
        let token = signed_raw(&header_a(), &c.to_string());
        assert_eq!(verify(&keys, &token), Err(TokenError::MissingClaim(name)));
    }
    for (name, value) in [
        ("iss", json!(1)),
        ("sub", json!("")),
        ("aud", json!([])),
        ("aud", json!([RES, 1])),
        ("aud", json!({"a": RES})),
        ("client_id", json!(null)),
        ("scope", json!(["a"])),
        ("iat", json!(-1)),
        ("exp", json!(1.5)),
        ("exp", json!("1800000300")),
        ("jti", json!(false)),
    ] {
        let mut c = full.clone();
        c[name] = value;
        let token = signed_raw(&header_a(), &c.to_string());
        assert_eq!(verify(&keys, &token), Err(TokenError::InvalidClaim(name)));
    }
}

#[test]
fn error_messages_carry_no_token_contents() {
    let all = [
        TokenError::TooLarge,
        TokenError::TimeUnknown,
        TokenError::Malformed,
        TokenError::Base64(Part::Header),
        TokenError::Json(Part::Claims),
        TokenError::DuplicateKey(Part::Claims),
        TokenError::InvalidHeader("alg"),
        TokenError::ForbiddenAlgorithm,
        TokenError::AlgorithmNotAllowed,
        TokenError::WrongType,
        TokenError::CriticalHeader,
        TokenError::MissingKeyId,
        TokenError::UnknownKeyId,
        TokenError::BadSignature,
        TokenError::MissingClaim("sub"),
        TokenError::InvalidClaim("aud"),
        TokenError::WrongIssuer,
        TokenError::WrongAudience,
        TokenError::Expired,
        TokenError::NotYetValid,
        TokenError::IssuedInFuture,
    ];
    let mut seen = std::collections::BTreeSet::new();
    for e in all {
        let msg = e.to_string();
        assert!(!msg.is_empty() && msg.len() < 80, "{msg}");
        assert!(seen.insert(msg), "messages are distinct");
    }
}

// ---------------------------------------------------------------- issuing

#[test]
fn issuing_refuses_bad_claims_and_fails_closed_on_rng() {
    let keys = keys_a();
    let mut c = claims();
    c.extra.insert("iss".into(), json!("https://evil.example"));
    assert_eq!(
        keys.issue_access_token(&c, &mut rng()),
        Err(SignError::ReservedClaim("iss"))
    );
    let mut c = claims();
    c.sub.clear();
    assert_eq!(
        keys.issue_access_token(&c, &mut rng()),
        Err(SignError::InvalidClaim("sub"))
    );
    let mut c = claims();
    c.aud = Audience::Many(vec![]);
    assert_eq!(
        keys.issue_access_token(&c, &mut rng()),
        Err(SignError::InvalidClaim("aud"))
    );
    let mut c = claims();
    c.exp = c.iat;
    assert_eq!(
        keys.issue_access_token(&c, &mut rng()),
        Err(SignError::InvalidClaim("exp"))
    );
    // RNG failure: for the jti, and for RSA blinding.
    assert_eq!(
        keys.issue_access_token(&claims(), &mut FailingRandom),
        Err(SignError::Rng)
    );
    let mut c = claims();
    c.jti = "given".into();
    assert_eq!(
        keys.issue_access_token(&c, &mut FailingRandom),
        Err(SignError::Rng)
    );
    // Verify-only sets cannot sign.
    let verify_only = KeySet::from_jwks_json(&keys.to_jwks_json()).expect("jwks");
    assert_eq!(
        verify_only.issue_access_token(&claims(), &mut rng()),
        Err(SignError::NoSigningKey)
    );
}

#[test]
fn jti_is_fresh_per_token() {
    let keys = keys_a();
    let mut r = rng();
    let a = keys.issue_access_token(&claims(), &mut r).expect("a");
    let b = keys.issue_access_token(&claims(), &mut r).expect("b");
    let ja = verify(&keys, &a).expect("a").jti;
    let jb = verify(&keys, &b).expect("b").jti;
    assert_ne!(ja, jb);
}

// ---------------------------------------------------------------- keys

#[test]
fn pkcs8_round_trips_keep_the_kid() {
    let key = key_a();
    let der = key.to_pkcs8_der().expect("der");
    let back = SigningKey::from_pkcs8_der(&der).expect("load der");
    assert_eq!(back.kid(), key.kid());
    let pem = key.to_pkcs8_pem().expect("pem");
    assert!(pem.starts_with("-----BEGIN PRIVATE KEY-----\n"));
    let back = SigningKey::from_pkcs8_pem(&pem).expect("load pem");
    assert_eq!(back.kid(), key.kid());
    // The reloaded key signs tokens the original set verifies.
    let token = issue(&KeySet::new(back), &claims());
    assert!(verify(&keys_a(), &token).is_ok());
}

#[test]
fn key_loading_refusals() {
    assert_eq!(
        SigningKey::from_pkcs8_der(b"not a key").map(|_| ()),
        Err(KeyError::Pkcs8)
    );
    assert_eq!(
        SigningKey::from_pkcs8_der(&[]).map(|_| ()),
        Err(KeyError::Pkcs8)
    );
    assert_eq!(
        SigningKey::from_pkcs8_pem("hello").map(|_| ()),
        Err(KeyError::Pem)
    );
    let der = key_a().to_pkcs8_der().expect("der");
    let mut truncated = der.to_vec();
    truncated.truncate(der.len() - 10);
    assert_eq!(
        SigningKey::from_pkcs8_der(&truncated).map(|_| ()),
        Err(KeyError::Pkcs8)
    );
    assert_eq!(
        SigningKey::generate(&mut rng(), 1024).map(|_| ()),
        Err(KeyError::TooSmall)
    );
    assert_eq!(
        SigningKey::generate(&mut rng(), 8192).map(|_| ()),
        Err(KeyError::TooLarge)
    );
    assert_eq!(
        SigningKey::generate(&mut FailingRandom, 2048).map(|_| ()),
        Err(KeyError::Rng)
    );
    // Debug never shows key material.
    let dbg = format!("{:?}", key_a());
    assert!(dbg.contains(key_a().kid()) && dbg.len() < 120, "{dbg}");
}

#[test]
fn generated_keys_are_deterministic_per_seed_and_distinct() {
    assert_eq!(key_b().bits(), 2048);
    assert_ne!(key_b().kid(), key_c().kid());
    assert_eq!(key_b().kid(), key_b().verifying_key().thumbprint());
}

// ---------------------------------------------------------------- key sets

#[test]
fn rotation_keeps_retired_keys_verifying_until_removed() {
    let mut keys = keys_a();
    let old = issue(&keys, &claims());
    keys.rotate(key_b().clone());
    assert_eq!(keys.active_kid(), Some(key_b().kid()));
    let new = issue(&keys, &claims());
    let header: Value = serde_json::from_slice(&unb64(segments(&new)[0])).expect("json");
    assert_eq!(header["kid"], json!(key_b().kid()));

    assert!(verify(&keys, &old).is_ok(), "retired key still verifies");
    assert!(verify(&keys, &new).is_ok());
    let jwks: Value = serde_json::from_str(&keys.to_jwks_json()).expect("json");
    assert_eq!(jwks["keys"].as_array().map(Vec::len), Some(2));
    assert_eq!(jwks["keys"][0]["kid"], json!(key_b().kid()), "active first");

    assert_eq!(keys.remove(key_b().kid()), Err(KeyError::ActiveKey));
    assert_eq!(keys.remove("no-such-kid"), Ok(false));
    assert_eq!(keys.remove(key_a().kid()), Ok(true));
    assert_eq!(verify(&keys, &old), Err(TokenError::UnknownKeyId));
    assert!(verify(&keys, &new).is_ok());
    assert_eq!(keys.verifying_keys().len(), 1);

    // Rotating back to a present key does not duplicate it.
    keys.rotate(key_a().clone());
    keys.rotate(key_b().clone());
    assert_eq!(keys.verifying_keys().len(), 2);
    assert_eq!(keys.active_kid(), Some(key_b().kid()));
}

#[test]
fn key_set_is_clone_send_sync() {
    fn assert_traits<T: Clone + Send + Sync + 'static>() {}
    assert_traits::<KeySet>();
    assert_traits::<SigningKey>();
    assert_traits::<VerifyingKey>();
}

#[test]
fn adding_verifying_keys() {
    let mut keys = keys_a();
    keys.add_verifying_key(key_a().verifying_key().clone())
        .expect("same key is a no-op");
    assert_eq!(keys.verifying_keys().len(), 1);
    let impostor = key_c()
        .verifying_key()
        .clone()
        .with_kid(key_a().kid().into());
    assert_eq!(
        keys.add_verifying_key(impostor),
        Err(KeyError::DuplicateKid)
    );
}

// ---------------------------------------------------------------- JWKS

#[test]
fn jwks_serialization_is_exact() {
    let jwks = keys_a().to_jwks_json();
    assert_eq!(
        jwks,
        format!(
            r#"{{"keys":[{{"kty":"RSA","n":"{A2_N}","e":"AQAB","kid":"{}","use":"sig","alg":"RS256"}}]}}"#,
            key_a().kid()
        )
    );
}

#[test]
fn jwks_round_trip_verifies_for_a_resource_server() {
    let mut issuer = keys_a();
    issuer.rotate(key_b().clone());
    let t_b = issue(&issuer, &claims());
    let rs = KeySet::from_jwks_json(&issuer.to_jwks_json()).expect("jwks");
    assert_eq!(rs.active_kid(), None);
    assert_eq!(rs.verifying_keys().len(), 2);
    assert_eq!(verify(&rs, &t_b), verify(&issuer, &t_b));
    assert!(verify(&rs, &t_b).is_ok());
    assert_eq!(rs.to_jwks_json(), issuer.to_jwks_json());
}

fn jwk(n: &str, extra: &str) -> String {
    format!(r#"{{"kty":"RSA","n":"{n}","e":"AQAB"{extra}}}"#)
}

#[test]
fn jwks_parsing_skips_foreign_keys_and_refuses_bad_ones() {
    let ec = r#"{"kty":"EC","crv":"P-256","x":"f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU","y":"x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0","kid":"ec"}"#;
    let enc = jwk(A2_N, r#","use":"enc","kid":"enc""#);
    let rs512 = jwk(A2_N, r#","alg":"RS512","kid":"rs512""#);
    let sign_only = jwk(A2_N, r#","key_ops":["sign"],"kid":"ops""#);
    let good = jwk(A2_N, r#","use":"sig","alg":"RS256","kid":"2011-04-29""#);
    let doc = format!(r#"{{"keys":[{ec},{enc},{rs512},{sign_only},{good}]}}"#);
    let keys = parse_jwks(&doc).expect("parse");
    assert_eq!(keys.len(), 1);
    assert_eq!(keys[0].kid(), "2011-04-29", "foreign kid kept");
    assert_eq!(keys[0].thumbprint(), key_a().kid());

    // Missing kid: the thumbprint.
    let keys = parse_jwks(&format!(r#"{{"keys":[{}]}}"#, jwk(A2_N, ""))).expect("parse");
    assert_eq!(keys[0].kid(), key_a().kid());

    let small_n = "0TQGH4DQ5AEY7CyqdeEV2xddIqLFJxJMZSN8b8TybBhOyQfdzQMst7zaJF1N9K2d-9lnSfCUjXW17ekMct2XTM--IEAlrtkEZ0O_xGeOV0rSYTCQ-mEHoVG_8Ru-Whnc5Fku3YceVap3V_kclLdrDP61ceoqpUlFP70ShHNl_r0";
    let padded_n = b64(&[&[0u8][..], &unb64(A2_N)].concat());
    let cases: Vec<(String, JwksError)> = vec![
        ("[]".into(), JwksError::Json),
        ("{".into(), JwksError::Json),
        (r#"{"keys":1}"#.into(), JwksError::NotAKeySet),
        (r#"{"nokeys":[]}"#.into(), JwksError::NotAKeySet),
        (r#"{"keys":[],"keys":[]}"#.into(), JwksError::DuplicateKey),
        (r#"{"keys":[]}"#.into(), JwksError::NoUsableKeys),
        (format!(r#"{{"keys":[{ec}]}}"#), JwksError::NoUsableKeys),
        (
            r#"{"keys":[1]}"#.into(),
            JwksError::NotAnObject { index: 0 },
        ),
        (
            format!(r#"{{"keys":[{ec},{{"n":"x"}}]}}"#),
            JwksError::InvalidMember {
                index: 1,
                member: "kty",
            },
        ),
        (
            format!(r#"{{"keys":[{{"kty":"RSA","n":"{A2_N}"}}]}}"#),
            JwksError::InvalidMember {
                index: 0,
                member: "e",
            },
        ),
        (
            format!(r#"{{"keys":[{}]}}"#, jwk("not base64!", "")),
            JwksError::InvalidMember {
                index: 0,
                member: "n",
            },
        ),
        (
            format!(r#"{{"keys":[{}]}}"#, jwk(&padded_n, "")),
            JwksError::InvalidMember {
                index: 0,
                member: "n",
            },
        ),
        (
            format!(r#"{{"keys":[{}]}}"#, jwk(small_n, "")),
            JwksError::BadKey {
                index: 0,
                reason: KeyError::TooSmall,
            },
        ),
        (
            format!(r#"{{"keys":[{}]}}"#, jwk(&"A".repeat(700), "")),
            JwksError::BadKey {
                index: 0,
                reason: KeyError::TooLarge,
            },
        ),
        (
            format!(r#"{{"keys":[{}]}}"#, jwk(A2_N, r#","kid":"""#)),
            JwksError::InvalidMember {
                index: 0,
                member: "kid",
            },
        ),
        (
            format!(r#"{{"keys":[{}]}}"#, jwk(A2_N, r#","use":1"#)),
            JwksError::InvalidMember {
                index: 0,
                member: "use",
            },
        ),
        (
            format!(r#"{{"keys":[{good},{good}]}}"#),
            JwksError::DuplicateKid { index: 1 },
        ),
        (
            format!(r#"{{"keys":[{}]}}"#, jwk(A2_N, r#","kid":"a","kid":"b""#)),
            JwksError::DuplicateKey,
        ),
        (
            format!(r#"{{"keys":[{}]}}"#, vec![ec; MAX_JWKS_KEYS + 1].join(",")),
            JwksError::TooManyKeys,
        ),
        (" ".repeat(MAX_JWKS_LEN + 1), JwksError::TooLarge),
    ];
    for (doc, expected) in cases {
        assert_eq!(
            KeySet::from_jwks_json(&doc).map(|_| ()),
            Err(expected),
            "{}",
            &doc[..doc.len().min(80)]
        );
    }
    // An even modulus is not an RSA key.
    let mut even = unb64(A2_N);
    if let Some(last) = even.last_mut() {
        *last &= 0xfe;
    }
    assert_eq!(
        parse_jwks(&format!(r#"{{"keys":[{}]}}"#, jwk(&b64(&even), ""))).map(|_| ()),
        Err(JwksError::BadKey {
            index: 0,
            reason: KeyError::InvalidKey
        })
    );
}

#[test]
fn error_displays_are_hand_written() {
    assert_eq!(
        JwksError::InvalidMember {
            index: 2,
            member: "n"
        }
        .to_string(),
        "JWKS key 2: member `n` is missing or invalid"
    );
    assert_eq!(
        KeyError::ActiveKey.to_string(),
        "the active signing key cannot be removed"
    );
    assert_eq!(
        SignError::Rng.to_string(),
        "the random number generator failed while signing"
    );
}

#[test]
fn key_sets_stay_within_the_jwks_bound() {
    let mut keys = keys_a();
    for i in 1..MAX_JWKS_KEYS {
        let alias = key_c()
            .verifying_key()
            .clone()
            .with_kid(format!("retired-{i}"));
        keys.add_verifying_key(alias).expect("room left");
    }
    assert_eq!(keys.verifying_keys().len(), MAX_JWKS_KEYS);
    let one_more = key_c().verifying_key().clone().with_kid("one-more".into());
    assert_eq!(keys.add_verifying_key(one_more), Err(KeyError::TooManyKeys));
    // Its JWKS is readable by a resource server.
    assert!(KeySet::from_jwks_json(&keys.to_jwks_json()).is_ok());
    // Rotating drops the oldest retired key, never the new or previous one.
    keys.rotate(key_b().clone());
    assert_eq!(keys.verifying_keys().len(), MAX_JWKS_KEYS);
    assert_eq!(keys.active_kid(), Some(key_b().kid()));
    assert!(keys.find(key_a().kid()).is_some());
    assert!(
        keys.find(&format!("retired-{}", MAX_JWKS_KEYS - 1))
            .is_none()
    );
    assert!(KeySet::from_jwks_json(&keys.to_jwks_json()).is_ok());
}
