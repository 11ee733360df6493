//! The RSA primitive behind a small trait, so that a host can plug in a faster
//! backend (aws-lc-rs signs several times faster) while devices keep the
//! pure-Rust default.

#[cfg(feature = "issuer")]
use alloc::vec::Vec;
use core::fmt;

#[cfg(feature = "issuer")]
use rand_core::{TryCryptoRng, TryRng};
#[cfg(feature = "issuer")]
use sha2::Sha256;

#[cfg(feature = "issuer")]
use super::key::SigningKey;
use super::key::VerifyingKey;
#[cfg(feature = "issuer")]
use crate::rand::SecureRandom;

/// Signing failed. Never carries key or token material.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum SignError {
    /// The injected RNG failed (it feeds `jti` and RSA blinding).
    Rng,
    /// The RSA backend refused to sign.
    Provider,
    /// The key set only verifies: it holds no private key.
    NoSigningKey,
    /// A claim is missing or unusable; the payload names it.
    InvalidClaim(&'static str),
    /// An extra claim would shadow a registered claim; the payload names it.
    ReservedClaim(&'static str),
    /// The token would exceed [`crate::limits::MAX_TOKEN_LEN`], so no
    /// resource server would accept it.
    TooLarge,
}

impl fmt::Display for SignError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Rng => f.write_str("the random number generator failed while signing"),
            Self::Provider => f.write_str("the RSA backend failed to sign"),
            Self::NoSigningKey => f.write_str("the key set holds no signing key"),
            Self::InvalidClaim(name) => write!(f, "claim `{name}` is missing or invalid"),
            Self::ReservedClaim(name) => {
                write!(f, "extra claim `{name}` would shadow a registered claim")
            }
            Self::TooLarge => f.write_str("the token would exceed the size limit"),
        }
    }
}

#[cfg(feature = "std")]
impl std::error::Error for SignError {}

/// An RS256 (RSASSA-PKCS1-v1_5 with SHA-256, RFC 7518 §3.3) backend.
///
/// Implementations receive the key types of this module, which always carry
/// the parsed `rsa` crate key and the big-endian modulus/exponent (enough for
/// `ring`/aws-lc-rs `RsaPublicKeyComponents`), and can re-export PKCS#8 for a
/// backend that wants its own private-key representation.
///
/// `verify_rs256` must be a complete check: signature length, padding,
/// `DigestInfo` and hash. The caller has already checked the length matches
/// the modulus, and that the algorithm is RS256.
///
/// # Example
///
/// A backend is a `static` installed with [`super::KeySet::with_provider`].
/// This one only delegates; a real one would call aws-lc-rs.
///
/// ```
/// use mcpauth_core::jose::{
///     KeySet, PURE_RUST_RSA, RsaProvider, SignError, SigningKey, VerifyingKey,
/// };
/// use mcpauth_core::rand::SecureRandom;
///
/// #[derive(Debug)]
/// struct Delegating;
///
/// impl RsaProvider for Delegating {
///     fn name(&self) -> &'static str {
///         "delegating"
///     }
///     fn sign_rs256(
///         &self,
///         key: &SigningKey,
///         msg: &[u8],
///         rng: &mut dyn SecureRandom,
///     ) -> Result<Vec<u8>, SignError> {
///         PURE_RUST_RSA.sign_rs256(key, msg, rng)
///     }
///     fn verify_rs256(&self, key: &VerifyingKey, msg: &[u8], sig: &[u8]) -> bool {
///         PURE_RUST_RSA.verify_rs256(key, msg, sig)
///     }
/// }
///
/// static DELEGATING: Delegating = Delegating;
///
/// fn with_backend(keys: KeySet) -> KeySet {
///     keys.with_provider(&DELEGATING)
/// }
/// # let _ = with_backend;
/// ```
pub trait RsaProvider: Send + Sync + fmt::Debug {
    /// A short name for logs and benchmarks.
    fn name(&self) -> &'static str;

    /// Sign `msg` (the JWS signing input) with RS256. Private-key operations
    /// must be blinded with randomness from `rng`; an RNG failure is
    /// [`SignError::Rng`], never an unblinded signature. (Feature `issuer`.)
    #[cfg(feature = "issuer")]
    fn sign_rs256(
        &self,
        key: &SigningKey,
        msg: &[u8],
        rng: &mut dyn SecureRandom,
    ) -> Result<Vec<u8>, SignError>;

    /// Whether `sig` is a valid RS256 signature of `msg` under `key`.
    fn verify_rs256(&self, key: &VerifyingKey, msg: &[u8], sig: &[u8]) -> bool;
}

/// The default backend, pure Rust. Signs with the `rsa` crate (>= 0.10,
/// constant-time `crypto-bigint` arithmetic, blinded private operations,
/// and every CRT signature checked with the public key before release,
/// against fault attacks; feature `issuer`). Verifies with the public-key
/// operation alone ([`VerifyingKey::verify_rs256`]: fixed-size
/// `crypto-bigint`, no heap, no atomics), checked against `rsa` 0.10 by a
/// test. Works on every target, including `no_std` devices without
/// compare-and-swap.
#[derive(Debug, Clone, Copy, Default)]
pub struct PureRustRsa;

/// The default provider instance, used by [`super::KeySet::new`].
pub static PURE_RUST_RSA: PureRustRsa = PureRustRsa;

impl RsaProvider for PureRustRsa {
    fn name(&self) -> &'static str {
        "rsa (pure Rust)"
    }

    #[cfg(feature = "issuer")]
    fn sign_rs256(
        &self,
        key: &SigningKey,
        msg: &[u8],
        rng: &mut dyn SecureRandom,
    ) -> Result<Vec<u8>, SignError> {
        let mut adapter = RngAdapter::new(rng);
        let result = key
            .rsa()
            .pkcs1v15_sign_with_rng::<Sha256, _>(&mut adapter, msg);
        match result {
            Ok(sig) => Ok(sig),
            Err(_) if adapter.failed => Err(SignError::Rng),
            Err(_) => Err(SignError::Provider),
        }
    }

    fn verify_rs256(&self, key: &VerifyingKey, msg: &[u8], sig: &[u8]) -> bool {
        key.verify_rs256(msg, sig)
    }
}

/// The injected [`SecureRandom`] seen through `rand_core` 0.10's
/// `TryCryptoRng`, which is what `rsa` asks for. Failures propagate as errors
/// (and are remembered, so callers can tell an RNG failure from others).
#[cfg(feature = "issuer")]
pub(crate) struct RngAdapter<'a> {
    rng: &'a mut dyn SecureRandom,
    pub(crate) failed: bool,
}

#[cfg(feature = "issuer")]
impl<'a> RngAdapter<'a> {
    pub(crate) fn new(rng: &'a mut dyn SecureRandom) -> Self {
        Self { rng, failed: false }
    }
}

#[cfg(feature = "issuer")]
impl fmt::Debug for RngAdapter<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RngAdapter")
            .field("failed", &self.failed)
            .finish_non_exhaustive()
    }
}

/// `rand_core` wants an error implementing `core::error::Error`.
#[cfg(feature = "issuer")]
#[derive(Debug, Clone, Copy)]
pub(crate) struct AdapterError;

#[cfg(feature = "issuer")]
impl fmt::Display for AdapterError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("the random number generator failed")
    }
}

#[cfg(feature = "issuer")]
impl core::error::Error for AdapterError {}

#[cfg(feature = "issuer")]
impl TryRng for RngAdapter<'_> {
    type Error = AdapterError;

    fn try_next_u32(&mut self) -> Result<u32, AdapterError> {
        let mut b = [0u8; 4];
        self.try_fill_bytes(&mut b)?;
        Ok(u32::from_le_bytes(b))
    }

    fn try_next_u64(&mut self) -> Result<u64, AdapterError> {
        let mut b = [0u8; 8];
        self.try_fill_bytes(&mut b)?;
        Ok(u64::from_le_bytes(b))
    }

    fn try_fill_bytes(&mut self, dst: &mut [u8]) -> Result<(), AdapterError> {
        self.rng.fill(dst).map_err(|_| {
            self.failed = true;
            AdapterError
        })
    }
}

/// The host promises [`SecureRandom`] is cryptographically secure.
#[cfg(feature = "issuer")]
impl TryCryptoRng for RngAdapter<'_> {}
