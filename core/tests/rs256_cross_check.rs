//! The verify-only RS256 of `jose::rs256` (what a device without the
//! `issuer` feature runs: fixed-size `crypto-bigint`, no `rsa` crate) must
//! agree with `rsa` 0.10's `pkcs1v15_verify::<Sha256>` on every input:
//! valid signatures from random keys of 2048, 2050, 3000, 3072 and 4096
//! bits, public exponents other than 65537, tampered and wrongly sized
//! signatures, values not below the modulus, and signatures whose encoded
//! message is malformed in each field (made with the raw private-key
//! operation, so that `s^e mod n` really is the malformed message).
//!
//! Deterministic (a SHA-256 counter generator from a fixed seed), so a
//! failure names a reproducible case.

use core::convert::Infallible;

use mcpauth_core::jose::{KeyError, PURE_RUST_RSA, RsaProvider, SigningKey, VerifyingKey};
use rand_core::{TryCryptoRng, TryRng};
use rsa::BoxedUint;
use rsa::traits::PublicKeyParts;
use sha2::{Digest, Sha256};

/// SHA-256 in counter mode: deterministic bytes for key generation and
/// test inputs. Tests only.
struct TestRng {
    seed: [u8; 32],
    counter: u64,
}

impl TestRng {
    fn new(seed: u64) -> Self {
        Self {
            seed: Sha256::digest(seed.to_be_bytes()).into(),
            counter: 0,
        }
    }

    fn bytes(&mut self, len: usize) -> Vec<u8> {
        let mut out = vec![0u8; len];
        let Ok(()) = self.try_fill_bytes(&mut out);
        out
    }

    fn below(&mut self, bound: usize) -> usize {
        let Ok(x) = self.try_next_u64();
        (x % bound as u64) as usize
    }
}

impl TryRng for TestRng {
    type Error = Infallible;

    fn try_next_u32(&mut self) -> Result<u32, Infallible> {
        let mut b = [0u8; 4];
        self.try_fill_bytes(&mut b)?;
        Ok(u32::from_le_bytes(b))
    }

    fn try_next_u64(&mut self) -> Result<u64, Infallible> {
        let mut b = [0u8; 8];
        self.try_fill_bytes(&mut b)?;
        Ok(u64::from_le_bytes(b))
    }

    fn try_fill_bytes(&mut self, dst: &mut [u8]) -> Result<(), Infallible> {
        for chunk in dst.chunks_mut(32) {
            let mut h = Sha256::new();
            h.update(self.seed);
            h.update(self.counter.to_be_bytes());
            self.counter += 1;
            let block = h.finalize();
            chunk.copy_from_slice(&block[..chunk.len()]);
        }
        Ok(())
    }
}

impl TryCryptoRng for TestRng {}

const DIGEST_INFO: [u8; 19] = [
    0x30, 0x31, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x01, 0x05,
    0x00, 0x04, 0x20,
];

struct Pair {
    private: rsa::PrivateKey,
    public: rsa::PublicKey,
    ours: VerifyingKey,
    k: usize,
}

fn pair(rng: &mut TestRng, bits: usize, e: u64) -> Pair {
    let private = rsa::PrivateKey::new_with_exp(rng, bits, BoxedUint::from(e))
        .unwrap_or_else(|err| panic!("generating {bits}-bit key with e={e}: {err}"));
    let public = private.to_public_key();
    let ours = VerifyingKey::from_components(&public.n_bytes(), &public.e_bytes())
        .unwrap_or_else(|err| panic!("our key from {bits}-bit e={e}: {err}"));
    let k = public.size();
    assert_eq!(ours.signature_len(), k);
    assert_eq!(ours.bits(), bits);
    Pair {
        private,
        public,
        ours,
        k,
    }
}

/// Both verifiers on one input; they must agree, and the answer is returned.
fn agree(p: &Pair, msg: &[u8], sig: &[u8], case: &str) -> bool {
    let theirs = p.public.pkcs1v15_verify::<Sha256>(msg, sig).is_ok();
    let ours = p.ours.verify_rs256(msg, sig);
    let provider = PURE_RUST_RSA.verify_rs256(&p.ours, msg, sig);
    assert_eq!(
        ours,
        theirs,
        "{case}: ours {ours}, rsa {theirs} ({} bits, e = {:?})",
        p.k * 8,
        p.public.e_bytes()
    );
    assert_eq!(provider, ours, "{case}: the provider calls the same check");
    theirs
}

/// `em` (k bytes) through the raw private-key operation: a signature whose
/// public-key opening is exactly `em`. `None` if `em` is not below `n`.
fn raw_sign(p: &Pair, em: &[u8]) -> Option<Vec<u8>> {
    let n = p.public.n();
    let c = BoxedUint::from_be_slice(em, n.as_ref().bits_precision()).ok()?;
    let s = rsa::hazmat::rsa_decrypt_and_check::<TestRng>(&p.private, None, &c).ok()?;
    let bytes = s.to_be_bytes();
    Some(bytes[bytes.len() - p.k..].to_vec())
}

fn encoded(k: usize, hash: &[u8]) -> Vec<u8> {
    let t = DIGEST_INFO.len() + hash.len();
    let mut em = vec![0xffu8; k];
    em[0] = 0;
    em[1] = 1;
    em[k - t - 1] = 0;
    em[k - t..k - hash.len()].copy_from_slice(&DIGEST_INFO);
    em[k - hash.len()..].copy_from_slice(hash);
    em
}

fn exercise(p: &Pair, rng: &mut TestRng, messages: usize) {
    let mut checked = 0usize;
    for i in 0..messages {
        let len = rng.below(300);
        let msg = rng.bytes(len);
        let sig = p
            .private
            .pkcs1v15_sign_with_rng::<Sha256, _>(rng, &msg)
            .expect("rsa signs");
        assert!(
            agree(p, &msg, &sig, "valid"),
            "a valid signature, message {i}"
        );

        let mut other = msg.clone();
        other.push(0);
        assert!(!agree(p, &other, &sig, "other message"));
        let mut flipped = sig.clone();
        let bit = rng.below(sig.len() * 8);
        flipped[bit / 8] ^= 1 << (bit % 8);
        assert!(!agree(p, &msg, &flipped, "one bit flipped"));
        assert!(!agree(p, &msg, &sig[1..], "one byte short"));
        assert!(!agree(p, &msg, &sig[..sig.len() - 1], "last byte cut"));
        let mut long = vec![0u8];
        long.extend_from_slice(&sig);
        assert!(!agree(p, &msg, &long, "leading zero added"));
        let mut longer = sig.clone();
        longer.push(0);
        assert!(!agree(p, &msg, &longer, "trailing byte added"));
        let random = rng.bytes(p.k);
        assert!(!agree(p, &msg, &random, "random bytes"));
        checked += 9;
    }

    let msg = b"header.payload";
    let n = p.public.n_bytes();
    let mut n_plus = n.to_vec();
    if let Some(last) = n_plus.last_mut() {
        *last = last.wrapping_add(1);
    }
    let n_minus_1 = {
        let mut v = n.to_vec();
        if let Some(last) = v.last_mut() {
            *last -= 1; // n is odd
        }
        v
    };
    let mut one = vec![0u8; p.k];
    one[p.k - 1] = 1;
    for (case, sig) in [
        ("s = n", n.to_vec()),
        ("s = n with its last byte + 1", n_plus),
        ("s = n - 1", n_minus_1),
        ("s = 0", vec![0u8; p.k]),
        ("s = 1", one),
        ("s = all ones", vec![0xffu8; p.k]),
        ("empty", Vec::new()),
    ] {
        assert!(!agree(p, msg, &sig, case));
        checked += 1;
    }

    // Encoded messages, well formed and broken in each field, opened by
    // the raw private-key operation.
    let hash = Sha256::digest(msg);
    let good = encoded(p.k, &hash);
    let sig = raw_sign(p, &good).expect("a well-formed EM is below n");
    assert!(
        agree(p, msg, &sig, "hand-encoded EM"),
        "the hand encoding is right"
    );
    let t = DIGEST_INFO.len() + hash.len();
    let mut variants: Vec<(&str, Vec<u8>)> = Vec::new();
    let mut v = good.clone();
    v[1] = 2;
    variants.push(("block type 2", v));
    let mut v = good.clone();
    v[1] = 0;
    variants.push(("block type 0", v));
    let mut v = good.clone();
    v[2 + rng.below(p.k - t - 3)] = 0xfe;
    variants.push(("a padding byte not 0xff", v));
    let mut v = good.clone();
    v[p.k - t - 1] = 0x01;
    variants.push(("no zero separator", v));
    let mut v = good.clone();
    v[p.k - t + 1 + rng.below(DIGEST_INFO.len() - 1)] ^= 0x01;
    variants.push(("DigestInfo changed", v));
    let mut v = good.clone();
    v[p.k - 1] ^= 0x80;
    variants.push(("hash changed", v));
    // DigestInfo without the NULL parameters (tolerated by some verifiers).
    let no_null = [
        0x30, 0x2f, 0x30, 0x0b, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x01,
        0x04, 0x20,
    ];
    let mut v = vec![0xffu8; p.k];
    v[0] = 0;
    v[1] = 1;
    let t2 = no_null.len() + hash.len();
    v[p.k - t2 - 1] = 0;
    v[p.k - t2..p.k - hash.len()].copy_from_slice(&no_null);
    v[p.k - hash.len()..].copy_from_slice(&hash);
    variants.push(("DigestInfo without NULL", v));
    // Bleichenbacher's shape: short padding, then the hash, then garbage.
    let mut v = vec![0u8; p.k];
    v[1] = 1;
    v[2..10].fill(0xff);
    v[11..11 + DIGEST_INFO.len()].copy_from_slice(&DIGEST_INFO);
    v[11 + DIGEST_INFO.len()..11 + t].copy_from_slice(&hash);
    let garbage = rng.bytes(p.k - 11 - t);
    v[11 + t..].copy_from_slice(&garbage);
    variants.push(("hash then garbage", v));
    // One leading zero too many (shifted right by one byte).
    let mut v = vec![0u8; p.k];
    v[1..].copy_from_slice(&good[..p.k - 1]);
    variants.push(("shifted", v));
    for (case, em) in variants {
        if let Some(sig) = raw_sign(p, &em) {
            assert!(!agree(p, msg, &sig, case), "{case} must be refused");
            checked += 1;
        }
    }
    assert!(checked >= messages * 9 + 7 + 8, "cases checked: {checked}");
}

#[test]
fn verify_only_rs256_agrees_with_rsa_0_10() {
    let mut rng = TestRng::new(0x006d_6370_6175_7468);
    // (bits, e, keys, messages per key)
    let plan: &[(usize, u64, usize, usize)] = &[
        (2048, 65_537, 6, 12),
        (2048, 3, 2, 8),
        (2048, 17, 1, 8),
        (2048, (1 << 33) - 1, 1, 8),
        (2050, 65_537, 1, 8),
        (3000, 65_537, 1, 6),
        (3072, 65_537, 2, 6),
        (3072, 3, 1, 6),
        (4096, 65_537, 2, 4),
    ];
    let mut keys = 0;
    for &(bits, e, count, messages) in plan {
        for _ in 0..count {
            let p = pair(&mut rng, bits, e);
            exercise(&p, &mut rng, messages);
            keys += 1;
        }
    }
    assert_eq!(keys, 17);
}

#[test]
fn a_signature_by_another_key_of_the_same_size_is_refused_by_both() {
    let mut rng = TestRng::new(2);
    let a = pair(&mut rng, 2048, 65_537);
    let b = pair(&mut rng, 2048, 65_537);
    let msg = b"m";
    let sig = b
        .private
        .pkcs1v15_sign_with_rng::<Sha256, _>(&mut rng, msg)
        .expect("sign");
    assert!(agree(&b, msg, &sig, "own key"));
    assert!(!agree(&a, msg, &sig, "other key"));
}

#[test]
fn our_signing_path_verifies_with_both() {
    // SigningKey (issuer) wraps rsa 0.10; the verify-only key opens it.
    let mut rng = TestRng::new(3);
    let private = rsa::PrivateKey::new(&mut rng, 2048).expect("key");
    let key = SigningKey::from_rsa(private.clone()).expect("ours");
    let public = private.to_public_key();
    let msg = b"header.payload";
    let mut ours_rng = mcpauth_core::rand::InsecureSeededRandom::new(1);
    let sig = PURE_RUST_RSA
        .sign_rs256(&key, msg, &mut ours_rng)
        .expect("sign");
    assert!(public.pkcs1v15_verify::<Sha256>(msg, &sig).is_ok());
    assert!(key.verifying_key().verify_rs256(msg, &sig));
}

#[test]
fn key_acceptance_agrees_with_rsa_0_10() {
    // Every (n, e) our verifying key accepts, rsa's PublicKey accepts, and
    // the reverse, within 2048..=4096 bits.
    let mut rng = TestRng::new(4);
    let mut cases = 0;
    for bits in [2047usize, 2048, 2049, 3072, 4096, 4097] {
        for e in [
            0u64,
            1,
            2,
            3,
            4,
            65_537,
            65_536,
            (1 << 33) - 1,
            1 << 33,
            (1 << 33) + 1,
            u64::MAX,
        ] {
            for odd in [true, false] {
                let mut n = rng.bytes(bits.div_ceil(8));
                let top_bits = bits - (n.len() - 1) * 8;
                n[0] &= 0xffu8 >> (8 - top_bits);
                n[0] |= 1 << (top_bits - 1);
                let last = n.len() - 1;
                if odd {
                    n[last] |= 1;
                } else {
                    n[last] &= 0xfe;
                }
                let e_bytes = e.to_be_bytes();
                let ours = VerifyingKey::from_components(&n, &e_bytes);
                let theirs = rsa::PublicKey::new_with_size_limits(
                    BoxedUint::from_be_slice_vartime(&n),
                    BoxedUint::from(e),
                    2048..=4096,
                );
                assert_eq!(
                    ours.is_ok(),
                    theirs.is_ok(),
                    "{bits} bits, e = {e}, odd n = {odd}: ours {ours:?}, rsa {:?}",
                    theirs.as_ref().err()
                );
                if bits < 2048 {
                    assert_eq!(ours.err(), Some(KeyError::TooSmall));
                } else if bits > 4096 {
                    assert_eq!(ours.err(), Some(KeyError::TooLarge));
                }
                cases += 1;
            }
        }
    }
    assert_eq!(cases, 6 * 11 * 2);
}
