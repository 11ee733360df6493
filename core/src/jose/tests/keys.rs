//! Issuing, keys (PKCS#8, generation) and key sets (rotation, bounds).

use super::*;

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
fn pem_of_either_form_loads() {
    use rsa::pkcs1::EncodeRsaPrivateKey;
    let pkcs1 = key_a()
        .rsa()
        .to_pkcs1_pem(rsa::pkcs8::LineEnding::LF)
        .expect("pkcs1");
    assert!(pkcs1.starts_with("-----BEGIN RSA PRIVATE KEY-----"));
    let key = SigningKey::from_pem(&pkcs1).expect("pkcs1 pem");
    assert_eq!(key.kid(), key_a().kid());
    let pkcs8 = key_a().to_pkcs8_pem().expect("pkcs8");
    assert_eq!(
        SigningKey::from_pem(&pkcs8).map(|k| k.kid().to_string()),
        Ok(key_a().kid().to_string())
    );
    let broken = pkcs1.replace('M', "N");
    assert_eq!(
        SigningKey::from_pem(&broken).map(|_| ()),
        Err(KeyError::Pem)
    );
    assert_eq!(SigningKey::from_pem("junk").map(|_| ()), Err(KeyError::Pem));
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

/// A backend that refuses everything, to show the key set goes through it.
#[derive(Debug)]
struct Refusing;

impl RsaProvider for Refusing {
    fn name(&self) -> &'static str {
        "refusing"
    }
    fn sign_rs256(
        &self,
        _key: &SigningKey,
        _msg: &[u8],
        _rng: &mut dyn crate::rand::SecureRandom,
    ) -> Result<Vec<u8>, SignError> {
        Err(SignError::Provider)
    }
    fn verify_rs256(&self, _key: &VerifyingKey, _msg: &[u8], _sig: &[u8]) -> bool {
        false
    }
}

static REFUSING: Refusing = Refusing;

#[test]
fn key_sets_use_the_installed_provider() {
    let keys = keys_a();
    assert_eq!(keys.provider().name(), PURE_RUST_RSA.name());
    let token = issue(&keys, &claims());
    let refusing = keys.clone().with_provider(&REFUSING);
    assert_eq!(refusing.provider().name(), "refusing");
    assert_eq!(
        refusing.issue_access_token(&claims(), &mut rng()),
        Err(SignError::Provider)
    );
    assert_eq!(verify(&refusing, &token), Err(TokenError::BadSignature));
    assert!(verify(&keys, &token).is_ok());
}

/// A backend that returns signatures of the wrong length.
#[derive(Debug)]
struct Truncating;

impl RsaProvider for Truncating {
    fn name(&self) -> &'static str {
        "truncating"
    }
    fn sign_rs256(
        &self,
        key: &SigningKey,
        msg: &[u8],
        rng: &mut dyn crate::rand::SecureRandom,
    ) -> Result<Vec<u8>, SignError> {
        let mut sig = PURE_RUST_RSA.sign_rs256(key, msg, rng)?;
        sig.pop();
        Ok(sig)
    }
    fn verify_rs256(&self, key: &VerifyingKey, msg: &[u8], sig: &[u8]) -> bool {
        PURE_RUST_RSA.verify_rs256(key, msg, sig)
    }
}

static TRUNCATING: Truncating = Truncating;

#[test]
fn a_backend_signature_of_the_wrong_length_is_never_published() {
    let keys = keys_a().with_provider(&TRUNCATING);
    assert_eq!(
        keys.issue_access_token(&claims(), &mut rng()),
        Err(SignError::Provider)
    );
}
