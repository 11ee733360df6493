//! A key set: the active signing key plus the public keys that still verify.

use alloc::string::String;
use alloc::vec::Vec;

use super::jwks::{self, JwksError, MAX_JWKS_KEYS};
#[cfg(feature = "issuer")]
use super::key::SigningKey;
use super::key::{KeyError, VerifyingKey};
#[cfg(feature = "issuer")]
use super::provider::SignError;
use super::provider::{PURE_RUST_RSA, RsaProvider};
use super::token::{self, AccessTokenClaims, TokenError, ValidationPolicy};
#[cfg(feature = "issuer")]
use crate::rand::SecureRandom;
use crate::time::UnixTime;

/// The keys of an issuer (or, verify-only, of a resource server).
///
/// - **Issuer**: [`KeySet::new`] with one signing key. [`KeySet::rotate`]
///   makes a new key active; the previous one is *retired*: its private half
///   is dropped, its public half keeps verifying (and stays in the JWKS) until
///   [`KeySet::remove`]d, so tokens already issued stay valid until they
///   expire. Remove a retired key once the longest token lifetime has passed.
/// - **Resource server**: [`KeySet::from_jwks_json`] with the issuer's JWKS;
///   it verifies but cannot sign. Without the `issuer` feature (a device
///   that only verifies) every key set is of this kind.
///
/// `Clone + Send + Sync`; cloning copies the private key (zeroized on drop).
#[derive(Debug, Clone)]
pub struct KeySet {
    #[cfg(feature = "issuer")]
    signer: Option<SigningKey>,
    /// Every key that verifies; the active key's public half first.
    keys: Vec<VerifyingKey>,
    provider: &'static dyn RsaProvider,
}

impl KeySet {
    /// A key set signing with `key`, using the pure-Rust RSA provider.
    #[cfg(feature = "issuer")]
    pub fn new(key: SigningKey) -> Self {
        Self {
            keys: alloc::vec![key.verifying_key().clone()],
            signer: Some(key),
            provider: &PURE_RUST_RSA,
        }
    }

    /// A key set with no key at all: verifies nothing, signs nothing.
    pub fn empty() -> Self {
        Self {
            #[cfg(feature = "issuer")]
            signer: None,
            keys: Vec::new(),
            provider: &PURE_RUST_RSA,
        }
    }

    /// A verify-only key set from verifying keys (e.g. persisted retired
    /// keys, or keys from [`jwks::parse_jwks`]). Refuses two different keys
    /// with one `kid`.
    pub fn from_verifying_keys(keys: Vec<VerifyingKey>) -> Result<Self, KeyError> {
        let mut set = Self {
            #[cfg(feature = "issuer")]
            signer: None,
            keys: Vec::with_capacity(keys.len()),
            provider: &PURE_RUST_RSA,
        };
        for key in keys {
            set.add_verifying_key(key)?;
        }
        Ok(set)
    }

    /// A verify-only key set from an issuer's JWKS document (see
    /// [`jwks::parse_jwks`] for what is accepted).
    pub fn from_jwks_json(json: &str) -> Result<Self, JwksError> {
        let keys = jwks::parse_jwks(json)?;
        // parse_jwks already refuses duplicate kids.
        Self::from_verifying_keys(keys).map_err(|_| JwksError::DuplicateKid { index: 0 })
    }

    /// Use another RSA backend (e.g. aws-lc-rs on a server).
    #[must_use]
    pub fn with_provider(mut self, provider: &'static dyn RsaProvider) -> Self {
        self.provider = provider;
        self
    }

    /// The RSA backend in use.
    pub fn provider(&self) -> &'static dyn RsaProvider {
        self.provider
    }

    /// Make `key` the active signing key. The previous active key is retired:
    /// it keeps verifying until removed. Rotating to a key that is already
    /// present (e.g. a retired one) makes it active again.
    ///
    /// A key set holds at most [`MAX_JWKS_KEYS`] keys, so that its JWKS stays
    /// readable by every resource server; past that, the oldest retired key
    /// is dropped.
    #[cfg(feature = "issuer")]
    pub fn rotate(&mut self, key: SigningKey) {
        let kid = key.kid();
        if let Some(pos) = self.keys.iter().position(|k| k.kid() == kid) {
            self.keys.remove(pos);
        }
        self.keys.insert(0, key.verifying_key().clone());
        self.keys.truncate(MAX_JWKS_KEYS);
        self.signer = Some(key);
    }

    /// Add a public key that verifies but never signs (e.g. a retired key
    /// restored after a restart), after the keys already present. Adding a
    /// key that is already present is a no-op; a *different* key with the
    /// same `kid` is refused, and so is a key beyond [`MAX_JWKS_KEYS`].
    pub fn add_verifying_key(&mut self, key: VerifyingKey) -> Result<(), KeyError> {
        match self.find(key.kid()) {
            Some(existing) if *existing == key => Ok(()),
            Some(_) => Err(KeyError::DuplicateKid),
            None if self.keys.len() >= MAX_JWKS_KEYS => Err(KeyError::TooManyKeys),
            None => {
                self.keys.push(key);
                Ok(())
            }
        }
    }

    /// Stop accepting tokens signed with `kid`. Returns whether a key was
    /// removed. The active signing key cannot be removed
    /// ([`KeyError::ActiveKey`]): rotate first.
    pub fn remove(&mut self, kid: &str) -> Result<bool, KeyError> {
        if self.active_kid() == Some(kid) {
            return Err(KeyError::ActiveKey);
        }
        match self.keys.iter().position(|k| k.kid() == kid) {
            Some(pos) => {
                self.keys.remove(pos);
                Ok(true)
            }
            None => Ok(false),
        }
    }

    /// The `kid` new tokens are signed with, if this set can sign.
    pub fn active_kid(&self) -> Option<&str> {
        #[cfg(feature = "issuer")]
        return self.signer.as_ref().map(SigningKey::kid);
        #[cfg(not(feature = "issuer"))]
        return None;
    }

    /// The active signing key, if any (to persist it).
    #[cfg(feature = "issuer")]
    pub fn signing_key(&self) -> Option<&SigningKey> {
        self.signer.as_ref()
    }

    /// Every key that verifies, active first.
    pub fn verifying_keys(&self) -> &[VerifyingKey] {
        &self.keys
    }

    /// The verifying key with this `kid`.
    pub fn find(&self, kid: &str) -> Option<&VerifyingKey> {
        self.keys.iter().find(|k| k.kid() == kid)
    }

    /// The JWKS document of every verifying key:
    /// `{"keys":[{"kty":"RSA","n":…,"e":…,"kid":…,"use":"sig","alg":"RS256"}]}`.
    pub fn to_jwks_json(&self) -> String {
        jwks::to_json(self.keys.iter())
    }

    /// Issue an RFC 9068 access token (header `alg` RS256, `typ` `at+jwt`,
    /// `kid`) with the active key. An empty `claims.jti` is replaced by 128
    /// random bits from `rng`, which also blinds the RSA operation.
    #[cfg(feature = "issuer")]
    pub fn issue_access_token(
        &self,
        claims: &AccessTokenClaims,
        rng: &mut dyn SecureRandom,
    ) -> Result<String, SignError> {
        token::issue(self, claims, rng)
    }

    /// Verify a compact access token and return its claims. `now = None`
    /// (time unknown) refuses every token. See [`TokenError`] for the checks.
    pub fn verify_access_token(
        &self,
        token: &str,
        policy: &ValidationPolicy,
        now: Option<UnixTime>,
    ) -> Result<AccessTokenClaims, TokenError> {
        token::verify(self, token, policy, now)
    }
}
