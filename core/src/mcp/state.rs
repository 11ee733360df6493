//! Sealed `requestState` of 2026-07-28 input-required results: the state
//! travels through the client, so the server MACs it (HMAC-SHA256 under a
//! key the host draws once from its CSPRNG) together with what the spec asks
//! a server to bind against replay: the principal, an expiry, and the
//! originating request (method and tool/prompt name or resource URI).
//!
//! Wire form: `base64url(payload) "." base64url(mac)`, where payload is the
//! JSON `{"v": value, "exp": secs, "own": owner-hex-or-null, "req": binding}`.
//! Integrity only: the client can read the value, so put nothing secret in
//! it.

use alloc::format;
use alloc::string::{String, ToString};
use alloc::vec::Vec;
use core::fmt;

use base64ct::{Base64UrlUnpadded, Encoding};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;
use zeroize::Zeroize;

use crate::time::UnixTime;

/// The MAC key of sealed request state. Its `Debug` shows nothing.
#[derive(Clone)]
pub(crate) struct StateKey(pub(crate) [u8; 32]);

impl fmt::Debug for StateKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("StateKey(..)")
    }
}

impl Drop for StateKey {
    fn drop(&mut self) {
        self.0.zeroize();
    }
}

/// What one request may seal and open: key, clock, lifetime and bindings.
#[derive(Debug, Clone)]
pub(crate) struct StateSeal {
    pub(crate) key: StateKey,
    pub(crate) now: UnixTime,
    pub(crate) ttl_secs: u64,
    /// Hex of the session-owner fingerprint of the principal, if any.
    pub(crate) owner: Option<String>,
    /// `method` + NUL + name/URI of the request.
    pub(crate) binding: String,
}

fn hmac(key: &[u8; 32], msg: &[u8]) -> [u8; 32] {
    let mut block = [0u8; 64];
    block[..32].copy_from_slice(key);
    let mut ipad = [0u8; 64];
    let mut opad = [0u8; 64];
    for i in 0..64 {
        ipad[i] = block[i] ^ 0x36;
        opad[i] = block[i] ^ 0x5c;
    }
    let inner = Sha256::new()
        .chain_update(ipad)
        .chain_update(msg)
        .finalize();
    let outer = Sha256::new()
        .chain_update(opad)
        .chain_update(inner)
        .finalize();
    block.zeroize();
    ipad.zeroize();
    opad.zeroize();
    let mut out = [0u8; 32];
    out.copy_from_slice(&outer);
    out
}

impl StateSeal {
    pub(crate) fn seal(&self, value: &Value) -> String {
        let payload = json!({
            "v": value,
            "exp": self.now.secs().saturating_add(self.ttl_secs),
            "own": self.owner,
            "req": self.binding,
        })
        .to_string();
        let body = Base64UrlUnpadded::encode_string(payload.as_bytes());
        let mac = hmac(&self.key.0, body.as_bytes());
        format!("{body}.{}", Base64UrlUnpadded::encode_string(&mac))
    }

    /// The sealed value, or `None` when the MAC, the expiry, the principal
    /// or the request binding does not check out.
    pub(crate) fn open(&self, sealed: &str) -> Option<Value> {
        let (body, mac) = sealed.split_once('.')?;
        let mac: Vec<u8> = Base64UrlUnpadded::decode_vec(mac).ok()?;
        let expected = hmac(&self.key.0, body.as_bytes());
        if !bool::from(expected.as_slice().ct_eq(mac.as_slice())) {
            return None;
        }
        let payload = Base64UrlUnpadded::decode_vec(body).ok()?;
        let mut payload: Value = serde_json::from_slice(&payload).ok()?;
        let fresh = payload
            .get("exp")
            .and_then(Value::as_u64)
            .is_some_and(|exp| self.now.secs() < exp);
        let owner_ok = payload.get("own") == Some(&json!(self.owner));
        let request_ok = payload.get("req").and_then(Value::as_str) == Some(self.binding.as_str());
        (fresh && owner_ok && request_ok).then(|| payload.get_mut("v").map(Value::take))?
    }
}

/// Lower-case hex of a fingerprint.
pub(crate) fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn from_hex(s: &str) -> Vec<u8> {
        (0..s.len())
            .step_by(2)
            .filter_map(|i| u8::from_str_radix(s.get(i..i + 2)?, 16).ok())
            .collect()
    }

    #[test]
    fn hmac_known_answers() {
        // Computed with Python's hmac module (an independent implementation).
        assert_eq!(
            hmac(&[0x0b; 32], b"Hi There").to_vec(),
            from_hex("198a607eb44bfbc69903a0f1cf2bbdc5ba0aa3f3d9ae3c1c7a3b1696a0b68cf7")
        );
        let mut key = [0u8; 32];
        for (i, b) in key.iter_mut().enumerate() {
            *b = i as u8;
        }
        assert_eq!(
            hmac(&key, b"").to_vec(),
            from_hex("d38b42096d80f45f826b44a9d5607de72496a415d3f4a1a8c88e3bb9da8dc1cb")
        );
    }

    #[test]
    fn seal_and_open() {
        let seal = StateSeal {
            key: StateKey([1; 32]),
            now: UnixTime(100),
            ttl_secs: 10,
            owner: Some(hex(&[0xab, 0x01])),
            binding: "tools/call\u{0}t".into(),
        };
        assert_eq!(seal.owner.as_deref(), Some("ab01"));
        let sealed = seal.seal(&json!({"n": 1}));
        assert_eq!(seal.open(&sealed), Some(json!({"n": 1})));
        assert!(!format!("{:?}", seal).contains("[1, 1"), "key not in Debug");
        // Any flipped character, a missing MAC, garbage: refused.
        for i in 0..sealed.len() {
            let mut bytes = sealed.clone().into_bytes();
            bytes[i] = if bytes[i] == b'A' { b'B' } else { b'A' };
            let s = String::from_utf8(bytes).expect("ascii");
            assert_eq!(seal.open(&s), None, "flip at {i}");
        }
        assert_eq!(
            seal.open(sealed.split('.').next().unwrap_or_default()),
            None
        );
        assert_eq!(seal.open(""), None);
        assert_eq!(seal.open("..."), None);
        // Expiry is exclusive.
        let later = StateSeal {
            now: UnixTime(110),
            ..seal.clone()
        };
        assert_eq!(later.open(&sealed), None);
    }
}
