//! Property tests: encode/decode round trips, and no panic or acceptance on
//! mutated input.

extern crate std;

use alloc::string::{String, ToString};
use alloc::vec::Vec;

use base64ct::{Base64UrlUnpadded, Encoding};
use proptest::prelude::*;
use serde_json::{Map, Value};

use super::super::strict::{StrictError, parse_object};
use super::super::token;
use super::{ISS, NOW, RES, claims, key_a, key_b, rng};
use crate::jose::*;
use crate::time::UnixTime;

fn json_leaf() -> impl Strategy<Value = Value> {
    prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        any::<u64>().prop_map(Value::from),
        ".{0,12}".prop_map(Value::String),
    ]
}

fn json_value() -> impl Strategy<Value = Value> {
    json_leaf().prop_recursive(3, 24, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            prop::collection::btree_map(".{0,6}", inner, 0..4)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

/// Extra claims that are neither registered nor time-checked.
fn extra_claims() -> impl Strategy<Value = Map<String, Value>> {
    prop::collection::btree_map("[a-z_]{1,8}|.{1,6}", json_value(), 0..4).prop_map(|m| {
        m.into_iter()
            .filter(|(k, _)| !REGISTERED_CLAIMS.contains(&k.as_str()) && k != "nbf")
            .collect()
    })
}

fn audience() -> impl Strategy<Value = Audience> {
    prop_oneof![
        Just(Audience::One(RES.into())),
        (
            prop::collection::vec(".{1,10}", 0..3),
            any::<prop::sample::Index>()
        )
            .prop_map(|(mut others, at)| {
                let at = at.index(others.len() + 1);
                others.insert(at, RES.into());
                Audience::Many(others)
            }),
    ]
}

prop_compose! {
    fn access_claims()(
        iss in ".{1,24}",
        sub in ".{1,24}",
        aud in audience(),
        client_id in ".{1,24}",
        scope in "([a-z:]{1,8}( [a-z:]{1,8}){0,3})?",
        iat in 0u64..NOW,
        lifetime in 1u64..100_000,
        jti in "|[A-Za-z0-9_-]{1,22}",
        extra in extra_claims(),
    ) -> AccessTokenClaims {
        AccessTokenClaims { iss, sub, aud, client_id, scope, iat, exp: iat + lifetime, jti, extra }
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    #[test]
    fn access_tokens_round_trip(c in access_claims()) {
        let keys = KeySet::new(key_a().clone());
        let token = keys.issue_access_token(&c, &mut rng()).expect("issue");
        let policy = ValidationPolicy::new(c.iss.clone(), RES);
        let got = keys
            .verify_access_token(&token, &policy, Some(UnixTime(c.iat)))
            .expect("verify");
        let mut expected = c.clone();
        if expected.jti.is_empty() {
            expected.jti = got.jti.clone();
        }
        prop_assert_eq!(got, expected);
    }

    #[test]
    fn any_single_character_change_is_refused(
        at in any::<prop::sample::Index>(),
        ch in prop::char::range(' ', '~'),
    ) {
        let keys = KeySet::new(key_a().clone());
        let token = keys.issue_access_token(&claims(), &mut rng()).expect("issue");
        let policy = ValidationPolicy::new(ISS, RES);
        let mut bytes = token.clone().into_bytes();
        let i = at.index(bytes.len());
        prop_assume!(bytes[i] != ch as u8);
        bytes[i] = ch as u8;
        let mutated = String::from_utf8(bytes).expect("ascii");
        prop_assert!(keys.verify_access_token(&mutated, &policy, Some(UnixTime(NOW))).is_err());
    }

    #[test]
    fn arbitrary_input_never_panics_or_verifies(s in ".{0,400}|[A-Za-z0-9_.-]{0,600}") {
        let keys = KeySet::new(key_a().clone());
        let policy = ValidationPolicy::new(ISS, RES);
        prop_assert!(keys.verify_access_token(&s, &policy, Some(UnixTime(NOW))).is_err());
        let _ = KeySet::from_jwks_json(&s);
    }

    #[test]
    fn strict_json_round_trips_and_catches_duplicates(
        m in prop::collection::btree_map("[a-z]{1,4}", json_value(), 1..5),
    ) {
        let map: Map<String, Value> = m.into_iter().collect();
        let text = Value::Object(map.clone()).to_string();
        prop_assert_eq!(parse_object(text.as_bytes()), Ok(map.clone()));
        // Repeat the first member at the end.
        let (k, v) = map.iter().next().expect("non-empty");
        let dup = alloc::format!(
            "{},{}:{}}}",
            &text[..text.len() - 1],
            Value::String(k.clone()),
            v
        );
        prop_assert_eq!(parse_object(dup.as_bytes()), Err(StrictError::DuplicateKey));
    }

    #[test]
    fn base64url_round_trips_canonically(bytes in prop::collection::vec(any::<u8>(), 0..300)) {
        let s = Base64UrlUnpadded::encode_string(&bytes);
        prop_assert!(!s.contains('=') && !s.contains('+') && !s.contains('/'));
        prop_assert_eq!(token::b64_decode(&s, Part::Claims), Ok(bytes));
    }
}

#[test]
fn jwks_round_trip_is_a_fixed_point() {
    let mut keys = KeySet::new(key_a().clone());
    keys.rotate(key_b().clone());
    let json = keys.to_jwks_json();
    let parsed = parse_jwks(&json).expect("parse");
    let kids: Vec<&str> = parsed.iter().map(VerifyingKey::kid).collect();
    assert_eq!(kids, [key_b().kid(), key_a().kid()]);
    let again = KeySet::from_jwks_json(&json).expect("parse");
    assert_eq!(again.to_jwks_json(), json);
}
