//! RS256 verification (RSASSA-PKCS1-v1_5 with SHA-256, RFC 8017 §8.2.2)
//! with the public key only, on `crypto-bigint`'s fixed-size integers.
//!
//! Why not the `rsa` crate here: `rsa` 0.10 needs `crypto-bigint`'s `alloc`
//! feature, whose `BoxedMontyParams` live in an `alloc::sync::Arc`, which
//! does not exist on chips without compare-and-swap (thumbv6m: RP2040,
//! riscv32imc: ESP32-C3). A device that only verifies tokens needs none of
//! the private-key machinery, so the public-key operation runs here on
//! `Uint<LIMBS>` / `FixedMontyForm` (no heap, no atomics): `s^e mod n`
//! (`pow_vartime`: the exponent is public) and a comparison of the result
//! with the one encoded message EMSA-PKCS1-v1_5 allows (RFC 8017 §9.2).
//! The issuer still signs with `rsa` 0.10 (feature `issuer`); a test
//! (`jose::tests::rs256_cross_check`) checks that both agree.
//!
//! The modulus is held in the smallest of `U2048`, `U3072` and `U4096`
//! that fits it (2048 to 4096 bits are accepted, [`MIN_RSA_BITS`] and
//! [`MAX_RSA_BITS`]); the Montgomery parameters are computed once per key.

use alloc::boxed::Box;
use alloc::vec::Vec;

use crypto_bigint::modular::{FixedMontyForm, FixedMontyParams};
use crypto_bigint::{Odd, U64, U2048, U3072, U4096, Uint};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use super::key::{KeyError, MAX_RSA_BITS, MIN_RSA_BITS};

/// The DER `DigestInfo` prefix of SHA-256 (RFC 8017 §9.2, note 1).
const SHA256_DIGEST_INFO: [u8; 19] = [
    0x30, 0x31, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x01, 0x05,
    0x00, 0x04, 0x20,
];
/// Longest modulus in bytes.
const MAX_LEN: usize = MAX_RSA_BITS / 8;
/// The smallest public exponent `rsa` 0.10 accepts (`PublicKey::MIN_PUB_EXPONENT`).
const MIN_PUB_EXPONENT: u64 = 2;
/// The largest public exponent `rsa` 0.10 accepts (`PublicKey::MAX_PUB_EXPONENT`).
const MAX_PUB_EXPONENT: u64 = (1 << 33) - 1;

/// Montgomery parameters of the modulus, in the smallest size that fits.
#[derive(Clone, PartialEq, Eq)]
enum Modulus {
    Bits2048(Box<FixedMontyParams<{ U2048::LIMBS }>>),
    Bits3072(Box<FixedMontyParams<{ U3072::LIMBS }>>),
    Bits4096(Box<FixedMontyParams<{ U4096::LIMBS }>>),
}

/// An RSA public key that verifies RS256 signatures.
#[derive(Clone, PartialEq, Eq)]
pub(crate) struct RsaPublicKey {
    modulus: Modulus,
    e: u64,
    /// Modulus size in bits.
    bits: usize,
}

impl RsaPublicKey {
    /// A key from the big-endian modulus and exponent without leading zero
    /// bytes. Refuses what `rsa` 0.10's `PublicKey::new` refuses, plus
    /// moduli outside 2048 to 4096 bits.
    pub(crate) fn new(n: &[u8], e: &[u8]) -> Result<Self, KeyError> {
        if n.len() > MAX_LEN || e.len() > 8 {
            return Err(KeyError::TooLarge);
        }
        let bits = match n.first() {
            Some(top) => (n.len() - 1) * 8 + (8 - top.leading_zeros() as usize),
            None => 0,
        };
        if bits < MIN_RSA_BITS {
            return Err(KeyError::TooSmall);
        }
        if bits > MAX_RSA_BITS {
            return Err(KeyError::TooLarge);
        }
        let mut e_be = [0u8; 8];
        e_be[8 - e.len()..].copy_from_slice(e);
        let e = u64::from_be_bytes(e_be);
        // `rsa` 0.10 `check_public`: odd modulus, odd exponent within
        // bounds, exponent below the modulus (always true here).
        let n_odd = n.last().is_some_and(|b| b & 1 == 1);
        if !n_odd || e % 2 == 0 || !(MIN_PUB_EXPONENT..=MAX_PUB_EXPONENT).contains(&e) {
            return Err(KeyError::InvalidKey);
        }
        let modulus = if bits <= 2048 {
            Modulus::Bits2048(Box::new(params(n)?))
        } else if bits <= 3072 {
            Modulus::Bits3072(Box::new(params(n)?))
        } else {
            Modulus::Bits4096(Box::new(params(n)?))
        };
        Ok(Self { modulus, e, bits })
    }

    /// Modulus size in bits.
    pub(crate) fn bits(&self) -> usize {
        self.bits
    }

    /// Signature length in bytes (the modulus length).
    pub(crate) fn len(&self) -> usize {
        self.bits.div_ceil(8)
    }

    /// The big-endian modulus, without leading zero bytes.
    pub(crate) fn n_bytes(&self) -> Vec<u8> {
        let full = match &self.modulus {
            Modulus::Bits2048(p) => be_bytes(p.modulus().as_ref()),
            Modulus::Bits3072(p) => be_bytes(p.modulus().as_ref()),
            Modulus::Bits4096(p) => be_bytes(p.modulus().as_ref()),
        };
        trim_leading_zeros(&full).to_vec()
    }

    /// The big-endian public exponent, without leading zero bytes.
    pub(crate) fn e_bytes(&self) -> Vec<u8> {
        trim_leading_zeros(&self.e.to_be_bytes()).to_vec()
    }

    /// RFC 8017 §8.2.2: whether `sig` is the RSASSA-PKCS1-v1_5 SHA-256
    /// signature of `msg`. `false` for a signature of the wrong length, one
    /// not below the modulus, or any other encoded message.
    pub(crate) fn verify_sha256(&self, msg: &[u8], sig: &[u8]) -> bool {
        let k = self.len();
        if sig.len() != k {
            return false;
        }
        let mut em = [0u8; MAX_LEN];
        let Some(em) = em.get_mut(..k) else {
            return false;
        };
        let opened = match &self.modulus {
            Modulus::Bits2048(p) => public_op(p, self.e, sig, em),
            Modulus::Bits3072(p) => public_op(p, self.e, sig, em),
            Modulus::Bits4096(p) => public_op(p, self.e, sig, em),
        };
        opened && emsa_pkcs1_v1_5_matches(em, &Sha256::digest(msg))
    }
}

impl core::fmt::Debug for RsaPublicKey {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("RsaPublicKey")
            .field("bits", &self.bits)
            .field("e", &self.e)
            .finish()
    }
}

/// Montgomery parameters of the odd modulus `n` (big-endian, fits `LIMBS`).
fn params<const LIMBS: usize>(n: &[u8]) -> Result<FixedMontyParams<LIMBS>, KeyError> {
    let n = uint_from_be::<LIMBS>(n).ok_or(KeyError::TooLarge)?;
    let n = Option::<Odd<Uint<LIMBS>>>::from(Odd::new(n)).ok_or(KeyError::InvalidKey)?;
    Ok(FixedMontyParams::new_vartime(n))
}

/// `bytes` (big-endian, at most `Uint::<LIMBS>::BYTES` long) as an integer.
fn uint_from_be<const LIMBS: usize>(bytes: &[u8]) -> Option<Uint<LIMBS>> {
    let size = Uint::<LIMBS>::BYTES;
    let mut buf = [0u8; MAX_LEN];
    let padded = buf.get_mut(..size)?;
    let start = size.checked_sub(bytes.len())?;
    padded.get_mut(start..)?.copy_from_slice(bytes);
    Some(Uint::from_be_slice(padded))
}

fn be_bytes<const LIMBS: usize>(x: &Uint<LIMBS>) -> Vec<u8> {
    x.to_be_bytes().as_ref().to_vec()
}

/// RSAVP1 (RFC 8017 §5.2.2) and I2OSP: writes `sig^e mod n` as `em.len()`
/// big-endian bytes. `false` if `sig` is not below the modulus.
fn public_op<const LIMBS: usize>(
    params: &FixedMontyParams<LIMBS>,
    e: u64,
    sig: &[u8],
    em: &mut [u8],
) -> bool {
    let Some(s) = uint_from_be::<LIMBS>(sig) else {
        return false;
    };
    if &s >= params.modulus().as_ref() {
        return false;
    }
    let m = FixedMontyForm::new(&s, params)
        .pow_vartime(&U64::from_u64(e))
        .retrieve();
    let encoded = m.to_be_bytes();
    let bytes: &[u8] = encoded.as_ref();
    // m < n < 2^(8·k): the bytes before the last k are zero.
    match bytes
        .len()
        .checked_sub(em.len())
        .and_then(|start| bytes.get(start..))
    {
        Some(tail) => {
            em.copy_from_slice(tail);
            true
        }
        None => false,
    }
}

/// EMSA-PKCS1-v1_5 (RFC 8017 §9.2): `em` is
/// `0x00 0x01 0xff… 0x00 DigestInfo(SHA-256) H`, with at least 8 `0xff`.
fn emsa_pkcs1_v1_5_matches(em: &[u8], hash: &[u8]) -> bool {
    let t_len = SHA256_DIGEST_INFO.len() + hash.len();
    let Some(ps_len) = em.len().checked_sub(t_len + 3) else {
        return false;
    };
    if ps_len < 8 {
        return false;
    }
    let (head, rest) = em.split_at(2);
    let (ps, rest) = rest.split_at(ps_len);
    let (zero, rest) = rest.split_at(1);
    let (prefix, h) = rest.split_at(SHA256_DIGEST_INFO.len());
    let mut ok = head.ct_eq(&[0x00, 0x01]);
    ok &= zero.ct_eq(&[0x00]);
    ok &= prefix.ct_eq(&SHA256_DIGEST_INFO);
    ok &= h.ct_eq(hash);
    for b in ps {
        ok &= b.ct_eq(&0xff);
    }
    ok.into()
}

fn trim_leading_zeros(bytes: &[u8]) -> &[u8] {
    let first = bytes.iter().position(|b| *b != 0).unwrap_or(bytes.len());
    &bytes[first..]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_encoded_message_must_be_exact() {
        let hash = Sha256::digest(b"m");
        let mut em = alloc::vec![0xffu8; 256];
        em[0] = 0;
        em[1] = 1;
        let t = 256 - 51;
        em[t - 1] = 0;
        em[t..t + 19].copy_from_slice(&SHA256_DIGEST_INFO);
        em[t + 19..].copy_from_slice(&hash);
        assert!(emsa_pkcs1_v1_5_matches(&em, &hash));
        for i in 0..em.len() {
            let mut bad = em.clone();
            bad[i] ^= 0x01;
            assert!(!emsa_pkcs1_v1_5_matches(&bad, &hash), "byte {i}");
        }
        assert!(!emsa_pkcs1_v1_5_matches(&em[..60], &hash[..]));
        assert!(!emsa_pkcs1_v1_5_matches(&[], &hash));
    }

    #[test]
    fn keys_outside_the_bounds_are_refused() {
        let mut n = alloc::vec![0xffu8; 256];
        assert!(RsaPublicKey::new(&n, &[1, 0, 1]).is_ok());
        assert_eq!(RsaPublicKey::new(&n, &[2]), Err(KeyError::InvalidKey));
        assert_eq!(RsaPublicKey::new(&n, &[1]), Err(KeyError::InvalidKey));
        assert_eq!(RsaPublicKey::new(&n, &[1, 0]), Err(KeyError::InvalidKey));
        assert_eq!(
            RsaPublicKey::new(&n, &[2, 0, 0, 0, 1]),
            Err(KeyError::InvalidKey)
        );
        assert!(RsaPublicKey::new(&n, &[1, 0xff, 0xff, 0xff, 0xff]).is_ok());
        assert_eq!(RsaPublicKey::new(&n, &[1; 9]), Err(KeyError::TooLarge));
        n[255] = 0xfe;
        assert_eq!(RsaPublicKey::new(&n, &[3]), Err(KeyError::InvalidKey));
        assert_eq!(RsaPublicKey::new(&n[1..], &[3]), Err(KeyError::TooSmall));
        assert_eq!(
            RsaPublicKey::new(&[0xff; 513], &[3]),
            Err(KeyError::TooLarge)
        );
    }
}
