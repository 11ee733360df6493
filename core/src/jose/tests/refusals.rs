//! Every refusal of `verify_access_token`, one test per kind (or family).

use super::*;

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
        TokenError::IssuedTooLongAgo,
        TokenError::WrongNonce,
    ];
    let mut seen = std::collections::BTreeSet::new();
    for e in all {
        let msg = e.to_string();
        assert!(!msg.is_empty() && msg.len() < 80, "{msg}");
        assert!(seen.insert(msg), "messages are distinct");
    }
}
