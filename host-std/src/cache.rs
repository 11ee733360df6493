//! A bounded cache of verified access tokens, so the MCP hot path does not
//! pay an RSA verification per request.
//!
//! - Key: SHA-256 of the compact token (the token itself is never kept).
//! - Value: the [`Principal`] the core's guard produced, whose `expires_at`
//!   is the token's `exp`.
//! - Value: the [`Principal`] and the stamp of its last revocation check
//!   ([`crate::revocation`]): a hit is used only while `exp` is in the
//!   future, and the caller asks the store again unless that check is still
//!   current (no revocation through this process since, and on a shared
//!   store not older than its bound), so the cache never accepts a token
//!   the guard would refuse for expiry or revocation. It is the core
//!   router's [`BearerCache`](mcpauth_core::oauth::BearerCache) (through the
//!   app's `HostCache`): consulted after the core has read the one
//!   `Authorization: Bearer` header, before any signature check.
//! - Bounded: the map is split in up to 16 shards (one read-write lock each,
//!   chosen by a digest byte) of `capacity / shards` entries; a full shard
//!   purges its expired entries, then arbitrary ones.

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};
use std::sync::{Arc, RwLock};

use mcpauth_core::principal::Principal;
use sha2::{Digest, Sha256};

use crate::revocation::{CheckStamp, StampCell};

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

/// A verified caller as the MCP server's handler contexts hold it.
pub type SharedPrincipal = mcpauth_core::sync::Arc<Principal>;

type Shard = RwLock<HashMap<[u8; 32], Arc<CachedToken>, BuildHasherDefault<DigestHasher>>>;

/// A cached verification: who the token is, and when its revocation was
/// last checked.
#[derive(Debug)]
pub struct CachedToken {
    /// The core's `Arc`: MCP handler contexts share it.
    principal: SharedPrincipal,
    checked: StampCell,
}

impl CachedToken {
    /// The verified principal.
    pub fn principal(&self) -> &SharedPrincipal {
        &self.principal
    }

    /// The stamp of the last revocation check that found the token live.
    pub fn checked(&self) -> CheckStamp {
        self.checked.get()
    }

    /// Record a revocation check (stamped before the store was asked) that
    /// found the token live.
    pub fn mark_checked(&self, stamp: CheckStamp) {
        self.checked.set(stamp);
    }
}

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

    /// The cached verification of `token`, if it is cached and unexpired
    /// at `now` (the caller still decides whether its revocation check is
    /// current).
    pub fn get(&self, token: &str, now: u64) -> Option<Arc<CachedToken>> {
        if self.capacity == 0 {
            return None;
        }
        let k = key(token);
        let shard = self.shard(&k);
        let hit = shard.read().ok()?.get(&k)?.clone();
        if hit.principal.expires_at <= now {
            self.remove_key(&k);
            return None;
        }
        Some(hit)
    }

    /// Forget `token` (it was found revoked).
    pub fn remove(&self, token: &str) {
        self.remove_key(&key(token));
    }

    fn remove_key(&self, k: &[u8; 32]) {
        if let Ok(mut map) = self.shard(k).write() {
            map.remove(k);
        }
    }

    /// Remember that `token` verified to `principal`, its revocation
    /// checked as of `checked`; the entry (also when the cache is off or
    /// the token already expired, and so not kept).
    pub fn insert(
        &self,
        token: &str,
        principal: SharedPrincipal,
        checked: CheckStamp,
        now: u64,
    ) -> Arc<CachedToken> {
        let entry = Arc::new(CachedToken {
            principal,
            checked: StampCell::new(checked),
        });
        if self.capacity == 0 || entry.principal.expires_at <= now {
            return entry;
        }
        let k = key(token);
        let Ok(mut map) = self.shard(&k).write() else {
            return entry;
        };
        if map.len() >= self.shard_capacity {
            map.retain(|_, t| t.principal.expires_at > now);
            while map.len() >= self.shard_capacity {
                let Some(old) = map.keys().next().copied() else {
                    break;
                };
                map.remove(&old);
            }
        }
        map.insert(k, entry.clone());
        entry
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
    use crate::revocation::{NEVER_CHECKED, RevocationGeneration};

    fn principal(jti: &str, exp: u64) -> SharedPrincipal {
        SharedPrincipal::new(Principal {
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
        c.insert("tok", principal("j", 100), NEVER_CHECKED, 50);
        assert!(c.get("tok", 99).is_some());
        assert!(c.get("tok", 100).is_none());
        assert!(c.is_empty());
    }

    #[test]
    fn a_check_is_current_until_a_revocation() {
        let revocations = RevocationGeneration::exclusive();
        let c = TokenCache::new(8);
        c.insert("tok", principal("j", 100), revocations.stamp(), 50);
        let hit = c.get("tok", 60).expect("cached");
        assert!(revocations.is_current(hit.checked()));
        revocations.bump();
        assert!(!revocations.is_current(hit.checked()), "check again");
        hit.mark_checked(revocations.stamp());
        assert!(revocations.is_current(c.get("tok", 60).expect("cached").checked()));
        c.remove("tok");
        assert!(c.get("tok", 60).is_none(), "evicted on revocation");
    }

    #[test]
    fn bounded() {
        let c = TokenCache::new(4);
        for i in 0..20 {
            c.insert(
                &format!("t{i}"),
                principal(&format!("j{i}"), 1000),
                NEVER_CHECKED,
                1,
            );
        }
        assert!(c.len() <= 4);
        let big = TokenCache::new(100);
        for i in 0..1000 {
            big.insert(
                &format!("t{i}"),
                principal(&format!("j{i}"), 1000),
                NEVER_CHECKED,
                1,
            );
        }
        assert!(big.len() <= 100, "each shard holds at most capacity/16");
        assert!(big.len() >= 16, "every shard is used");
    }

    #[test]
    fn many_tokens_all_hit() {
        let c = TokenCache::new(10_000);
        for i in 0..500 {
            c.insert(
                &format!("t{i}"),
                principal(&format!("j{i}"), 1000),
                NEVER_CHECKED,
                1,
            );
        }
        for i in 0..500 {
            let hit = c.get(&format!("t{i}"), 2).expect("cached");
            assert_eq!(hit.principal().token_id, format!("j{i}"));
        }
        assert!(c.get("t500", 2).is_none());
    }
}
