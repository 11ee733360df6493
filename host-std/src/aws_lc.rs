//! The aws-lc-rs RS256 backend (feature `aws-lc`, on by default), installed
//! behind the core's [`RsaProvider`] trait. Keys are still generated and
//! parsed by the core (`rsa` 0.10), which also signs in
//! `--no-default-features` builds and on devices.
//!
//! - Signing: the PKCS#8 key is parsed into an aws-lc `RsaKeyPair` once per
//!   `kid` and kept (private keys never leave the process; the cache holds
//!   at most a few keys: the active one and ones rotated to in this run).
//!   aws-lc blinds the private-key operation with its own DRBG (seeded from
//!   the OS); the core's RNG still draws every `jti`.
//! - Verification: `RsaPublicKeyComponents` over the key's `n` and `e`,
//!   with the 2048–8192-bit policy.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};

use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{
    RSA_PKCS1_2048_8192_SHA256, RSA_PKCS1_SHA256, RsaKeyPair, RsaPublicKeyComponents,
};
use mcpauth_core::jose::{RsaProvider, SignError, SigningKey, VerifyingKey};
use mcpauth_core::rand::SecureRandom;

/// The aws-lc-rs provider.
#[derive(Debug, Default)]
pub struct AwsLcRsa {
    pairs: OnceLock<Mutex<HashMap<String, Arc<RsaKeyPair>>>>,
}

/// The instance installed by [`crate::keys`] in `aws-lc` builds.
pub static AWS_LC_RSA: AwsLcRsa = AwsLcRsa {
    pairs: OnceLock::new(),
};

impl AwsLcRsa {
    /// Pay the one-time costs of signing with `key` now, off any request:
    /// its parse into aws-lc's form (once per key) and the seeding of
    /// aws-lc's random generator, whose jitter entropy takes ~40–70 ms of
    /// CPU once per process (BENCHMARKS.md, session 14), on the first draw.
    pub fn warm_up(&self, key: &SigningKey) {
        if self.pair(key).is_err() {
            tracing::warn!("the signing key cannot be parsed by aws-lc");
        }
        let mut seed_probe = [0u8; 1];
        let _ = aws_lc_rs::rand::SecureRandom::fill(&SystemRandom::new(), &mut seed_probe);
    }

    /// Whether the key `kid` is parsed and kept.
    pub(crate) fn holds(&self, kid: &str) -> bool {
        self.pairs
            .get()
            .and_then(|m| m.lock().ok().map(|m| m.contains_key(kid)))
            .unwrap_or(false)
    }

    fn pair(&self, key: &SigningKey) -> Result<Arc<RsaKeyPair>, SignError> {
        let map = self.pairs.get_or_init(|| Mutex::new(HashMap::new()));
        if let Some(p) = map.lock().map_err(|_| SignError::Provider)?.get(key.kid()) {
            return Ok(p.clone());
        }
        let der = key.to_pkcs8_der().map_err(|_| SignError::Provider)?;
        let pair = Arc::new(RsaKeyPair::from_pkcs8(&der).map_err(|_| SignError::Provider)?);
        map.lock()
            .map_err(|_| SignError::Provider)?
            .insert(key.kid().to_owned(), pair.clone());
        Ok(pair)
    }
}

impl RsaProvider for AwsLcRsa {
    fn name(&self) -> &'static str {
        "aws-lc-rs"
    }

    fn sign_rs256(
        &self,
        key: &SigningKey,
        msg: &[u8],
        _rng: &mut dyn SecureRandom,
    ) -> Result<Vec<u8>, SignError> {
        let pair = self.pair(key)?;
        let mut sig = vec![0u8; pair.public_modulus_len()];
        pair.sign(&RSA_PKCS1_SHA256, &SystemRandom::new(), msg, &mut sig)
            .map_err(|_| SignError::Provider)?;
        Ok(sig)
    }

    fn verify_rs256(&self, key: &VerifyingKey, msg: &[u8], sig: &[u8]) -> bool {
        let n = key.n_bytes();
        let e = key.e_bytes();
        RsaPublicKeyComponents { n: &n, e: &e }
            .verify(&RSA_PKCS1_2048_8192_SHA256, msg, sig)
            .is_ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use mcpauth_core::jose::KeySet;

    #[test]
    fn interoperates_with_the_pure_rust_backend() {
        let key = SigningKey::generate(&mut crate::env::OsRandom, 2048).expect("key");
        let pure = KeySet::new(key.clone());
        let fast = KeySet::new(key).with_provider(&AWS_LC_RSA);
        let msg = b"header.payload";
        let s1 = fast
            .provider()
            .sign_rs256(
                fast.signing_key().expect("key"),
                msg,
                &mut crate::env::OsRandom,
            )
            .expect("sign");
        // PKCS#1 v1.5 is deterministic: both backends give the same bytes.
        let s2 = pure
            .provider()
            .sign_rs256(
                pure.signing_key().expect("key"),
                msg,
                &mut crate::env::OsRandom,
            )
            .expect("sign");
        assert_eq!(s1, s2);
        let vk = &pure.verifying_keys()[0];
        assert!(AWS_LC_RSA.verify_rs256(vk, msg, &s1));
        assert!(!AWS_LC_RSA.verify_rs256(vk, b"other", &s1));
    }

    #[test]
    fn a_new_key_set_is_made_ready_to_sign_off_the_request_path() {
        let key = SigningKey::generate(&mut crate::env::OsRandom, 2048).expect("key");
        let kid = key.kid().to_owned();
        assert!(!AWS_LC_RSA.holds(&kid));
        let _set = crate::keys::keyset(key);
        // Functional, not a timing: the warm-up thread parses the key.
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
        while !AWS_LC_RSA.holds(&kid) {
            assert!(std::time::Instant::now() < deadline, "never parsed");
            std::thread::sleep(std::time::Duration::from_millis(5));
        }
    }
}
