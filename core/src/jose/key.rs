//! RSA signing and verifying keys, their RFC 7638 thumbprint `kid`, and
//! PKCS#8 import/export.

use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;
use core::fmt;

use base64ct::{Base64UrlUnpadded, Encoding};
#[cfg(feature = "issuer")]
use rsa::pkcs8::{DecodePrivateKey, EncodePrivateKey, LineEnding};
#[cfg(feature = "issuer")]
use rsa::traits::PublicKeyParts;
#[cfg(feature = "issuer")]
use rsa::{PrivateKey, PublicKey};
use sha2::{Digest, Sha256};
#[cfg(feature = "issuer")]
use zeroize::Zeroizing;

#[cfg(feature = "issuer")]
use super::provider::RngAdapter;
use super::rs256::RsaPublicKey;
#[cfg(feature = "issuer")]
use crate::rand::SecureRandom;

/// Smallest accepted RSA modulus, in bits (RFC 7518 §3.3, NIST SP 800-131A).
pub const MIN_RSA_BITS: usize = 2048;
/// Largest accepted RSA modulus, in bits. Bounds the cost of one verification
/// (and of key generation on a device); nobody signs JWTs with more.
pub const MAX_RSA_BITS: usize = 4096;
/// Longest `kid` accepted from a JWKS (our own kids are 43 characters).
pub const MAX_KID_LEN: usize = 256;

/// A key could not be loaded, generated, exported or used. Never carries key
/// material.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum KeyError {
    /// Not a well-formed PKCS#8 `PrivateKeyInfo` holding an RSA key (DER).
    Pkcs8,
    /// Not a well-formed `-----BEGIN PRIVATE KEY-----` PEM document.
    Pem,
    /// The RSA key's components are inconsistent or invalid.
    InvalidKey,
    /// The modulus is smaller than [`MIN_RSA_BITS`].
    TooSmall,
    /// The modulus is larger than [`MAX_RSA_BITS`].
    TooLarge,
    /// The injected RNG failed during key generation.
    Rng,
    /// Key generation failed for another reason.
    Generation,
    /// The key could not be encoded.
    Encoding,
    /// The active signing key cannot be removed from a key set; rotate first.
    ActiveKey,
    /// Another key with the same `kid` is already in the key set.
    DuplicateKid,
    /// The key set already holds [`super::MAX_JWKS_KEYS`] keys.
    TooManyKeys,
}

impl fmt::Display for KeyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Pkcs8 => "not a PKCS#8 RSA private key",
            Self::Pem => "not a PEM-encoded PKCS#8 private key",
            Self::InvalidKey => "invalid RSA key",
            Self::TooSmall => "RSA modulus smaller than 2048 bits",
            Self::TooLarge => "RSA modulus larger than 4096 bits",
            Self::Rng => "the random number generator failed during key generation",
            Self::Generation => "RSA key generation failed",
            Self::Encoding => "the key could not be encoded",
            Self::ActiveKey => "the active signing key cannot be removed",
            Self::DuplicateKid => "a different key with the same kid is already present",
            Self::TooManyKeys => "the key set is full",
        })
    }
}

#[cfg(feature = "std")]
impl std::error::Error for KeyError {}

/// An RSA public key that verifies RS256 signatures, with its `kid`.
///
/// Keys made here have `kid` = the RFC 7638 JWK SHA-256 thumbprint
/// (base64url), so the same key has the same `kid` on every restart and on
/// every instance. Keys read from a foreign JWKS keep the `kid` it gives.
///
/// Verification needs no `rsa` crate (`jose::rs256`, fixed-size
/// `crypto-bigint` arithmetic), so it builds without the `issuer` feature,
/// for chips without compare-and-swap.
#[derive(Clone, PartialEq, Eq)]
pub struct VerifyingKey {
    key: RsaPublicKey,
    kid: String,
    /// base64url(big-endian modulus without leading zeros), the JWK `n`.
    n_b64: String,
    /// base64url(big-endian exponent without leading zeros), the JWK `e`.
    e_b64: String,
}

impl VerifyingKey {
    /// Wrap an `rsa` crate public key (2048 to 4096 bits).
    #[cfg(feature = "issuer")]
    pub fn from_rsa(key: PublicKey) -> Result<Self, KeyError> {
        Self::from_components(&key.n_bytes(), &key.e_bytes())
    }

    /// A key from its big-endian modulus and public exponent (leading zero
    /// bytes allowed). `kid` is the RFC 7638 thumbprint.
    pub fn from_components(n: &[u8], e: &[u8]) -> Result<Self, KeyError> {
        let (n, e) = (trim_leading_zeros(n), trim_leading_zeros(e));
        let key = RsaPublicKey::new(n, e)?;
        let n_b64 = Base64UrlUnpadded::encode_string(n);
        let e_b64 = Base64UrlUnpadded::encode_string(e);
        let kid = thumbprint_of(&n_b64, &e_b64);
        Ok(Self {
            key,
            kid,
            n_b64,
            e_b64,
        })
    }

    /// Replace the `kid` (keys read from a foreign JWKS).
    pub(crate) fn with_kid(mut self, kid: String) -> Self {
        self.kid = kid;
        self
    }

    /// The key id used in token headers and the JWKS.
    pub fn kid(&self) -> &str {
        &self.kid
    }

    /// The RFC 7638 SHA-256 thumbprint (base64url) of this key. Equals
    /// [`Self::kid`] unless the key came from a JWKS with another `kid`.
    pub fn thumbprint(&self) -> String {
        thumbprint_of(&self.n_b64, &self.e_b64)
    }

    /// Modulus size in bits.
    pub fn bits(&self) -> usize {
        self.key.bits()
    }

    /// Signature length in bytes (the modulus length).
    pub fn signature_len(&self) -> usize {
        self.key.len()
    }

    /// The JWK `n` member: base64url of the big-endian modulus.
    pub fn n_base64url(&self) -> &str {
        &self.n_b64
    }

    /// The JWK `e` member: base64url of the big-endian public exponent.
    pub fn e_base64url(&self) -> &str {
        &self.e_b64
    }

    /// The big-endian modulus, without leading zero bytes.
    pub fn n_bytes(&self) -> Vec<u8> {
        self.key.n_bytes()
    }

    /// The big-endian public exponent, without leading zero bytes.
    pub fn e_bytes(&self) -> Vec<u8> {
        self.key.e_bytes()
    }

    /// Whether `sig` is a valid RS256 signature of `msg` (RFC 8017
    /// §8.2.2 with SHA-256), by the public-key operation of `jose::rs256`.
    pub fn verify_rs256(&self, msg: &[u8], sig: &[u8]) -> bool {
        self.key.verify_sha256(msg, sig)
    }
}

impl fmt::Debug for VerifyingKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("VerifyingKey")
            .field("kid", &self.kid)
            .field("bits", &self.bits())
            .finish()
    }
}

fn trim_leading_zeros(bytes: &[u8]) -> &[u8] {
    let first = bytes.iter().position(|b| *b != 0).unwrap_or(bytes.len());
    &bytes[first..]
}

/// RFC 7638 §3: SHA-256 over `{"e":…,"kty":"RSA","n":…}` (members in
/// lexicographic order, no whitespace), base64url without padding.
fn thumbprint_of(n_b64: &str, e_b64: &str) -> String {
    let canonical = format!(r#"{{"e":"{e_b64}","kty":"RSA","n":"{n_b64}"}}"#);
    Base64UrlUnpadded::encode_string(&Sha256::digest(canonical.as_bytes()))
}

/// An RSA private key that signs RS256 access tokens.
///
/// `Debug` shows only the `kid` and size; the private key is zeroized when
/// dropped (by the `rsa` crate). Export with [`Self::to_pkcs8_der`] /
/// [`Self::to_pkcs8_pem`] to persist it; the buffers are zeroized on drop.
#[cfg(feature = "issuer")]
#[derive(Clone)]
pub struct SigningKey {
    key: PrivateKey,
    public: VerifyingKey,
}

#[cfg(feature = "issuer")]
impl SigningKey {
    /// Wrap an `rsa` crate private key (2048 to 4096 bits), e.g. one built
    /// from components.
    pub fn from_rsa(key: PrivateKey) -> Result<Self, KeyError> {
        let public = VerifyingKey::from_rsa(key.to_public_key())?;
        Ok(Self { key, public })
    }

    /// Generate a fresh key of `bits` bits (2048 to 4096) with the injected
    /// RNG. Slow: seconds in an optimised build, much longer on a device.
    pub fn generate(rng: &mut dyn SecureRandom, bits: usize) -> Result<Self, KeyError> {
        if bits < MIN_RSA_BITS {
            return Err(KeyError::TooSmall);
        }
        if bits > MAX_RSA_BITS {
            return Err(KeyError::TooLarge);
        }
        let mut adapter = RngAdapter::new(rng);
        let key = match PrivateKey::new(&mut adapter, bits) {
            Ok(key) => key,
            Err(_) if adapter.failed => return Err(KeyError::Rng),
            Err(_) => return Err(KeyError::Generation),
        };
        Self::from_rsa(key)
    }

    /// Load a PKCS#8 `PrivateKeyInfo` (DER). The key is validated.
    pub fn from_pkcs8_der(der: &[u8]) -> Result<Self, KeyError> {
        let key = PrivateKey::from_pkcs8_der(der).map_err(|_| KeyError::Pkcs8)?;
        key.validate().map_err(|_| KeyError::InvalidKey)?;
        Self::from_rsa(key)
    }

    /// Load a PEM `-----BEGIN PRIVATE KEY-----` document (PKCS#8).
    pub fn from_pkcs8_pem(pem: &str) -> Result<Self, KeyError> {
        let key = PrivateKey::from_pkcs8_pem(pem).map_err(|e| match e {
            rsa::pkcs8::Error::Asn1(err)
                if matches!(err.kind(), rsa::pkcs8::der::ErrorKind::Pem(_)) =>
            {
                KeyError::Pem
            }
            _ => KeyError::Pkcs8,
        })?;
        key.validate().map_err(|_| KeyError::InvalidKey)?;
        Self::from_rsa(key)
    }

    /// Load a PEM private key of either common form: PKCS#8
    /// (`-----BEGIN PRIVATE KEY-----`) or PKCS#1
    /// (`-----BEGIN RSA PRIVATE KEY-----`, older `openssl genrsa`).
    pub fn from_pem(pem: &str) -> Result<Self, KeyError> {
        use rsa::pkcs1::DecodeRsaPrivateKey;
        if !pem
            .trim_start()
            .starts_with("-----BEGIN RSA PRIVATE KEY-----")
        {
            return Self::from_pkcs8_pem(pem);
        }
        let key = PrivateKey::from_pkcs1_pem(pem).map_err(|_| KeyError::Pem)?;
        key.validate().map_err(|_| KeyError::InvalidKey)?;
        Self::from_rsa(key)
    }

    /// Export as PKCS#8 DER (zeroized when dropped).
    pub fn to_pkcs8_der(&self) -> Result<Zeroizing<Vec<u8>>, KeyError> {
        let doc = self.key.to_pkcs8_der().map_err(|_| KeyError::Encoding)?;
        Ok(Zeroizing::new(doc.as_bytes().to_vec()))
    }

    /// Export as PKCS#8 PEM with `\n` line endings (zeroized when dropped).
    pub fn to_pkcs8_pem(&self) -> Result<Zeroizing<String>, KeyError> {
        self.key
            .to_pkcs8_pem(LineEnding::LF)
            .map_err(|_| KeyError::Encoding)
    }

    /// The key id: the RFC 7638 thumbprint of the public key.
    pub fn kid(&self) -> &str {
        self.public.kid()
    }

    /// Modulus size in bits.
    pub fn bits(&self) -> usize {
        self.public.bits()
    }

    /// The public half.
    pub fn verifying_key(&self) -> &VerifyingKey {
        &self.public
    }

    /// The underlying `rsa` crate key (for providers).
    pub fn rsa(&self) -> &PrivateKey {
        &self.key
    }
}

#[cfg(feature = "issuer")]
impl fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SigningKey")
            .field("kid", &self.kid())
            .field("bits", &self.bits())
            .finish_non_exhaustive()
    }
}
