//! JWKS serialization and parsing.

use super::*;

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
        (
            format!(r#"{{"keys":[{good},{}]}}"#, jwk(A2_N, r#","d":"AQAB""#)),
            JwksError::PrivateKeyMaterial { index: 1 },
        ),
        (
            r#"{"keys":[{"kty":"oct","k":"c2VjcmV0"}]}"#.into(),
            JwksError::PrivateKeyMaterial { index: 0 },
        ),
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
fn rfc7517_a1_public_key_set() {
    // RFC 7517 Appendix A.1, verbatim: an EC encryption key (skipped) and
    // the RSA key of RFC 7638 §3.1.
    let doc = r#"{"keys":
       [
         {"kty":"EC",
          "crv":"P-256",
          "x":"MKBCTNIcKUSDii11ySs3526iDZ8AiTo7Tu6KPAqv7D4",
          "y":"4Etl6SRW2YiLUrN5vfvVHuhp7x8PxltmWWlbbM4IFyM",
          "use":"enc",
          "kid":"1"},

         {"kty":"RSA",
          "n": "0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw",
          "e":"AQAB",
          "alg":"RS256",
          "kid":"2011-04-29"}
       ]
     }"#;
    let keys = parse_jwks(doc).expect("RFC 7517 A.1");
    assert_eq!(keys.len(), 1);
    assert_eq!(keys[0].kid(), "2011-04-29");
    assert_eq!(keys[0].bits(), 2048);
    assert_eq!(
        keys[0].thumbprint(),
        "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs"
    );
    let set = KeySet::from_jwks_json(doc).expect("key set");
    assert!(set.find("2011-04-29").is_some());
    assert_eq!(set.active_kid(), None);
}
