//! A bounded cache of verified access tokens, so the MCP hot path does not
//! pay an RSA verification per request.
//!
//! - Key: SHA-256 of the compact token (the token itself is never kept).
//! - Value: the [`Principal`] the core's guard produced, whose `expires_at`
//!   is the token's `exp`.
//! - A hit is used only while `exp` is in the future *and* neither the
//!   token's `jti` nor its grant is revoked (the store is consulted on every
//!   hit), so the cache never accepts a token the guard would refuse for
//!   expiry or revocation. Anything unusual (no or several `Authorization` headers, a
//!   non-Bearer scheme) bypasses the cache and goes to the core.
//! - Bounded: the map is split in up to 16 shards (one read-write lock each,
//!   chosen by a digest byte) of `capacity / shards` entries; a full shard
//!   purges its expired entries, then arbitrary ones.

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};
use std::sync::{Arc, RwLock};

use mcpauth_core::http::Request;
use mcpauth_core::principal::Principal;
use sha2::{Digest, Sha256};

/// Shards of the map: a lookup takes one shard's read lock, so concurrent
/// hits never wait on each other and inserts block only one shard.
const SHARDS: usize = 16;

/// The map key is already a SHA-256 digest (uniform): its first eight bytes
/// are the table hash, no need to hash it again with SipHash.
#[derive(Default)]
struct DigestHasher(u64);

impl Hasher for DigestHasher {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        // `[u8; 32]` hashes as one `write` of its 32 bytes.
        let mut first = [0u8; 8];
        let n = bytes.len().min(8);
        first[..n].copy_from_slice(&bytes[..n]);
        self.0 ^= u64::from_le_bytes(first);
    }
}

type Shard = RwLock<HashMap<[u8; 32], Arc<Principal>, BuildHasherDefault<DigestHasher>>>;

/// The cache.
pub struct TokenCache {
    capacity: usize,
    shard_capacity: usize,
    shards: Box<[Shard]>,
}

impl std::fmt::Debug for TokenCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenCache")
            .field("capacity", &self.capacity)
            .field("len", &self.len())
            .finish()
    }
}

/// The bearer token of a request when it has the one plain form the cache
/// understands: exactly one `Authorization: Bearer <token>` header.
pub fn plain_bearer(req: &Request) -> Option<&str> {
    req.bearer_token()
}

fn key(token: &str) -> [u8; 32] {
    let mut out = [0u8; 32];
    out.copy_from_slice(&Sha256::digest(token.as_bytes()));
    out
}

impl TokenCache {
    /// A cache holding at most `capacity` tokens (0 disables it).
    pub fn new(capacity: usize) -> TokenCache {
        // Never more shards than entries, so the total stays <= capacity.
        let n = capacity.clamp(1, SHARDS);
        let shard_capacity = capacity / n;
        let shards = (0..n).map(|_| RwLock::new(HashMap::default())).collect();
        TokenCache {
            capacity,
            shard_capacity,
            shards,
        }
    }

    fn shard(&self, k: &[u8; 32]) -> &Shard {
        // Byte 31 is independent of the bytes the table hash uses.
        &self.shards[usize::from(k[31]) % self.shards.len()]
    }

    /// The cached principal of `token`, if it is cached, unexpired at `now`
    /// and not revoked according to `is_revoked(jti)`.
    pub fn get(
        &self,
        token: &str,
        now: u64,
        is_revoked: impl FnOnce(&str) -> bool,
    ) -> Option<Arc<Principal>> {
        if self.capacity == 0 {
            return None;
        }
        let k = key(token);
        let shard = self.shard(&k);
        let hit = shard.read().ok()?.get(&k)?.clone();
        if hit.expires_at <= now || is_revoked(&hit.token_id) {
            if let Ok(mut map) = shard.write() {
                map.remove(&k);
            }
            return None;
        }
        Some(hit)
    }

    /// Remember that `token` verified to `principal`.
    pub fn insert(&self, token: &str, principal: Arc<Principal>, now: u64) {
        if self.capacity == 0 || principal.expires_at <= now {
            return;
        }
        let k = key(token);
        let Ok(mut map) = self.shard(&k).write() else {
            return;
        };
        if map.len() >= self.shard_capacity {
            map.retain(|_, p| p.expires_at > now);
            while map.len() >= self.shard_capacity {
                let Some(old) = map.keys().next().copied() else {
                    break;
                };
                map.remove(&old);
            }
        }
        map.insert(k, principal);
    }

    /// How many tokens are cached.
    pub fn len(&self) -> usize {
        self.shards
            .iter()
            .map(|s| s.read().map(|m| m.len()).unwrap_or(0))
            .sum()
    }

    /// Whether the cache is empty.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn principal(jti: &str, exp: u64) -> Arc<Principal> {
        Arc::new(Principal {
            subject: "u".into(),
            client_id: "c".into(),
            scopes: vec!["mcp".into()],
            audience: "http://x/mcp".into(),
            token_id: jti.into(),
            expires_at: exp,
        })
    }

    #[test]
    fn hit_until_expiry() {
        let c = TokenCache::new(8);
        c.insert("tok", principal("j", 100), 50);
        assert!(c.get("tok", 99, |_| false).is_some());
        assert!(c.get("tok", 100, |_| false).is_none());
        assert!(c.is_empty());
    }

    #[test]
    fn revocation_wins() {
        let c = TokenCache::new(8);
        c.insert("tok", principal("j", 100), 50);
        assert!(c.get("tok", 60, |jti| jti == "j").is_none());
        assert!(
            c.get("tok", 60, |_| false).is_none(),
            "evicted on revocation"
        );
    }

    #[test]
    fn bounded() {
        let c = TokenCache::new(4);
        for i in 0..20 {
            c.insert(&format!("t{i}"), principal(&format!("j{i}"), 1000), 1);
        }
        assert!(c.len() <= 4);
        let big = TokenCache::new(100);
        for i in 0..1000 {
            big.insert(&format!("t{i}"), principal(&format!("j{i}"), 1000), 1);
        }
        assert!(big.len() <= 100, "each shard holds at most capacity/16");
        assert!(big.len() >= 16, "every shard is used");
    }

    #[test]
    fn many_tokens_all_hit() {
        let c = TokenCache::new(10_000);
        for i in 0..500 {
            c.insert(&format!("t{i}"), principal(&format!("j{i}"), 1000), 1);
        }
        for i in 0..500 {
            let p = c.get(&format!("t{i}"), 2, |_| false).expect("cached");
            assert_eq!(p.token_id, format!("j{i}"));
        }
        assert!(c.get("t500", 2, |_| false).is_none());
    }

    #[test]
    fn plain_bearer_only() {
        let r = Request::new(mcpauth_core::http::Method::Post, "/mcp")
            .with_header("Authorization", "Bearer abc");
        assert_eq!(plain_bearer(&r), Some("abc"));
        let r2 = r.clone().with_header("authorization", "Bearer def");
        assert_eq!(plain_bearer(&r2), None);
        let r3 = Request::new(mcpauth_core::http::Method::Post, "/mcp")
            .with_header("Authorization", "Basic abc");
        assert_eq!(plain_bearer(&r3), None);
    }
}
