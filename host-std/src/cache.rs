//! A bounded cache of verified access tokens, so the MCP hot path does not
//! pay an RSA verification per request.
//!
//! - Key: the compact token itself, compared in constant time
//!   (`constant_time_eq`), so a hit is exactly the token that was verified.
//!   It used to be the token's SHA-256, which cost more per request than the
//!   whole rest of the cache (a 780-byte token is 13 SHA-256 blocks). The
//!   table hash is a randomly seeded foldhash of the token's last
//!   [`HASHED_TAIL`] bytes: the tail of a JWS signature, different in every
//!   token. Only tokens that verified are ever inserted, so a peer cannot
//!   crowd a bucket and the hash need not resist flooding (SipHash, which
//!   does, cost ~270 more instructions per request), and a tail shared by
//!   two tokens costs one compare more, never a wrong hit.
//! - Value: the [`Principal`] the core's guard produced (its `expires_at` is
//!   the token's `exp`) and the stamp of its last revocation check
//!   ([`crate::revocation`]): a hit is used only while `exp` is in the
//!   future, and the caller asks the store again unless that check is still
//!   current (no revocation through this process since, and on a shared
//!   store not older than its bound), so the cache never accepts a token
//!   the guard would refuse for expiry or revocation. It is the core
//!   router's [`BearerCache`](mcpauth_core::oauth::BearerCache) (through the
//!   app's `HostCache`): consulted after the core has read the one
//!   `Authorization: Bearer` header, before any signature check.
//! - Bounded: the map is split in up to 16 shards (one read-write lock each,
//!   chosen by the table hash) of `capacity / shards` entries; a full shard
//!   purges its expired entries, then arbitrary ones. A token longer than
//!   [`MAX_CACHED_TOKEN`] is verified every time instead of being kept, so
//!   the cache holds at most `capacity × (MAX_CACHED_TOKEN + a principal)`
//!   bytes (mcpauth's own tokens are under 1 KiB).
//! - Per thread, a copy: a hit is served from the calling thread's own copy
//!   of the entry ([`LOCAL_SLOTS`] per thread, direct-mapped by the table
//!   hash), made from the shared entry on the thread's first hit. Taking the
//!   shard's read lock and cloning the shared entry's `Arc`s write the same
//!   cache lines from every core, and on two cores moving them cost more
//!   than the rest of the look-up. A copy carries the shared entry's stamp,
//!   so it claims no more than the shared entry did; a revocation through
//!   this process makes every copy's stamp stale (each is checked against
//!   the store again, and a thread that finds its token revoked forgets its
//!   copy and the shared entry); expiry is checked on every hit. Each thread
//!   holds at most `LOCAL_SLOTS × (MAX_CACHED_TOKEN + a principal)` bytes.

use std::cell::RefCell;
use std::hash::BuildHasher;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};

use foldhash::fast::RandomState;
use hashbrown::HashTable;
use mcpauth_core::principal::Principal;

use crate::revocation::{CheckStamp, StampCell};

/// Shards of the map: a lookup takes one shard's read lock, so concurrent
/// hits never wait on each other and inserts block only one shard.
const SHARDS: usize = 16;

/// How much of a token's end the table hash reads.
pub const HASHED_TAIL: usize = 64;

/// The longest token the cache keeps.
pub const MAX_CACHED_TOKEN: usize = 4096;

/// Entries each thread keeps its own copy of.
pub const LOCAL_SLOTS: usize = 16;

/// A thread's copy of a shared entry of cache `cache` ([`TokenCache::id`]):
/// only this thread writes its reference counts and its stamp.
struct LocalCopy {
    cache: u64,
    entry: Arc<CachedToken>,
}

thread_local! {
    static LOCAL: RefCell<[Option<LocalCopy>; LOCAL_SLOTS]> =
        const { RefCell::new([const { None }; LOCAL_SLOTS]) };
}

/// Distinguishes caches in the per-thread copies (a process may hold
/// several, and one may be dropped and another made).
static NEXT_CACHE_ID: AtomicU64 = AtomicU64::new(0);

/// A verified caller as the MCP server's handler contexts hold it.
pub type SharedPrincipal = mcpauth_core::sync::Arc<Principal>;

type Shard = RwLock<HashTable<Arc<CachedToken>>>;

/// A cached verification: who the token is, and when its revocation was
/// last checked.
pub struct CachedToken {
    /// The token, so that a hit is an exact match.
    token: Box<[u8]>,
    /// Its table hash (what the table rehashes with when it grows).
    hash: u64,
    /// The core's `Arc`: MCP handler contexts share it.
    principal: SharedPrincipal,
    checked: StampCell,
}

impl std::fmt::Debug for CachedToken {
    // Never the token.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CachedToken")
            .field("principal", &self.principal)
            .field("checked", &self.checked)
            .finish_non_exhaustive()
    }
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

    fn is(&self, token: &[u8]) -> bool {
        constant_time_eq::constant_time_eq(&self.token, token)
    }

    /// A copy for one thread: equal principal, same last check, its own
    /// reference counts.
    fn local_copy(&self) -> CachedToken {
        CachedToken {
            token: self.token.clone(),
            hash: self.hash,
            principal: SharedPrincipal::new(Principal::clone(&self.principal)),
            checked: StampCell::new(self.checked()),
        }
    }
}

/// The cache.
pub struct TokenCache {
    id: u64,
    capacity: usize,
    shard_capacity: usize,
    hasher: RandomState,
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

impl TokenCache {
    /// A cache holding at most `capacity` tokens (0 disables it).
    pub fn new(capacity: usize) -> TokenCache {
        // Never more shards than entries, so the total stays <= capacity.
        let n = capacity.clamp(1, SHARDS);
        let shard_capacity = capacity / n;
        let shards = (0..n).map(|_| RwLock::new(HashTable::new())).collect();
        TokenCache {
            id: NEXT_CACHE_ID.fetch_add(1, Ordering::Relaxed),
            capacity,
            shard_capacity,
            hasher: RandomState::default(),
            shards,
        }
    }

    fn hash(&self, token: &[u8]) -> u64 {
        let tail = &token[token.len().saturating_sub(HASHED_TAIL)..];
        self.hasher.hash_one(tail)
    }

    fn shard(&self, hash: u64) -> &Shard {
        // The table uses the low bits and the top seven: take the shard from
        // bits in between.
        &self.shards[(hash >> 32) as usize % self.shards.len()]
    }

    /// The cached verification of `token`, if it is cached and unexpired
    /// at `now` (the caller still decides whether its revocation check is
    /// current).
    pub fn get(&self, token: &str, now: u64) -> Option<Arc<CachedToken>> {
        let token = token.as_bytes();
        if self.capacity == 0 || token.len() > MAX_CACHED_TOKEN {
            return None;
        }
        let hash = self.hash(token);
        let slot = Self::local_slot(hash);
        let local = LOCAL.with_borrow(|copies| {
            copies[slot]
                .as_ref()
                .filter(|c| c.cache == self.id && c.entry.is(token))
                .map(|c| c.entry.clone())
        });
        if let Some(hit) = local.filter(|hit| hit.principal.expires_at > now) {
            return Some(hit);
        }
        let shared = self
            .shard(hash)
            .read()
            .ok()?
            .find(hash, |e| e.is(token))?
            .clone();
        if shared.principal.expires_at <= now {
            self.remove_hashed(hash, token);
            return None;
        }
        let copy = Arc::new(shared.local_copy());
        LOCAL.with_borrow_mut(|copies| {
            copies[slot] = Some(LocalCopy {
                cache: self.id,
                entry: copy.clone(),
            });
        });
        Some(copy)
    }

    fn local_slot(hash: u64) -> usize {
        (hash >> 16) as usize % LOCAL_SLOTS
    }

    /// Drop this thread's copy of `token`, if it has one.
    fn forget_local(&self, hash: u64, token: &[u8]) {
        LOCAL.with_borrow_mut(|copies| {
            let slot = &mut copies[Self::local_slot(hash)];
            if slot
                .as_ref()
                .is_some_and(|c| c.cache == self.id && c.entry.is(token))
            {
                *slot = None;
            }
        });
    }

    /// Forget `token` (it was found revoked).
    pub fn remove(&self, token: &str) {
        let token = token.as_bytes();
        self.remove_hashed(self.hash(token), token);
    }

    fn remove_hashed(&self, hash: u64, token: &[u8]) {
        self.forget_local(hash, token);
        if let Ok(mut table) = self.shard(hash).write()
            && let Ok(entry) = table.find_entry(hash, |e| e.is(token))
        {
            entry.remove();
        }
    }

    /// Remember that `token` verified to `principal`, its revocation
    /// checked as of `checked`; the entry (also when the cache is off, the
    /// token is too long to keep or already expired, and so not kept).
    pub fn insert(
        &self,
        token: &str,
        principal: SharedPrincipal,
        checked: CheckStamp,
        now: u64,
    ) -> Arc<CachedToken> {
        let bytes = token.as_bytes();
        let keep = self.capacity > 0 && bytes.len() <= MAX_CACHED_TOKEN;
        let hash = if keep { self.hash(bytes) } else { 0 };
        let entry = Arc::new(CachedToken {
            token: if keep { bytes.into() } else { Box::default() },
            hash,
            principal,
            checked: StampCell::new(checked),
        });
        if !keep || entry.principal.expires_at <= now {
            return entry;
        }
        self.forget_local(hash, bytes);
        let Ok(mut table) = self.shard(hash).write() else {
            return entry;
        };
        if let Ok(mut same) = table.find_entry(hash, |e| e.is(bytes)) {
            *same.get_mut() = entry.clone();
            return entry;
        }
        if table.len() >= self.shard_capacity {
            table.retain(|t| t.principal.expires_at > now);
            while table.len() >= self.shard_capacity {
                let Some(victim) = table.iter().next().cloned() else {
                    break;
                };
                if let Ok(found) = table.find_entry(victim.hash, |e| Arc::ptr_eq(e, &victim)) {
                    found.remove();
                }
            }
        }
        table.insert_unique(hash, entry.clone(), |e| e.hash);
        entry
    }

    /// How many tokens are cached.
    pub fn len(&self) -> usize {
        self.shards
            .iter()
            .map(|s| s.read().map(|t| t.len()).unwrap_or(0))
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
            derived: Default::default(),
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

    /// The table hash reads only the tail: a token that ends like a cached
    /// one (same signature, other claims) must still miss, and so must a
    /// prefix or an extension of it.
    #[test]
    fn only_the_exact_token_hits() {
        let c = TokenCache::new(64);
        let tail = "s".repeat(HASHED_TAIL);
        let cached = format!("header.alice.{tail}");
        c.insert(&cached, principal("alice", 1000), NEVER_CHECKED, 1);
        assert!(c.get(&cached, 2).is_some());
        for other in [
            format!("header.mallory.{tail}"),
            format!("Header.alice.{tail}"),
            format!("x{cached}"),
            cached[1..].to_string(),
            cached[..cached.len() - 1].to_string(),
            format!("{cached}s"),
        ] {
            assert!(c.get(&other, 2).is_none(), "{other} must not hit");
        }
        // Both kept side by side, each to its own principal.
        let mallory = format!("header.mallory.{tail}");
        c.insert(&mallory, principal("mallory", 1000), NEVER_CHECKED, 1);
        assert_eq!(
            c.get(&cached, 2).expect("cached").principal().token_id,
            "alice"
        );
        assert_eq!(
            c.get(&mallory, 2).expect("cached").principal().token_id,
            "mallory"
        );
        c.remove(&mallory);
        assert!(c.get(&mallory, 2).is_none());
        assert!(c.get(&cached, 2).is_some(), "removing one keeps the other");
    }

    #[test]
    fn a_token_too_long_to_keep_is_not_cached() {
        let c = TokenCache::new(8);
        let long = "t".repeat(MAX_CACHED_TOKEN + 1);
        let entry = c.insert(&long, principal("j", 1000), NEVER_CHECKED, 1);
        assert_eq!(entry.principal().token_id, "j");
        assert!(c.is_empty());
        assert!(c.get(&long, 2).is_none());
    }

    #[test]
    fn inserting_the_same_token_again_replaces_it() {
        let c = TokenCache::new(8);
        c.insert("tok", principal("old", 1000), NEVER_CHECKED, 1);
        c.insert("tok", principal("new", 1000), NEVER_CHECKED, 1);
        assert_eq!(c.len(), 1);
        assert_eq!(c.get("tok", 2).expect("cached").principal().token_id, "new");
        // Also once this thread holds a copy of the old entry.
        c.insert("tok", principal("newer", 1000), NEVER_CHECKED, 1);
        assert_eq!(
            c.get("tok", 2).expect("cached").principal().token_id,
            "newer"
        );
    }

    /// A thread's hits share its own copy, not the shared entry: its
    /// reference counts and stamp are written by that thread only.
    #[test]
    fn a_thread_serves_hits_from_its_own_copy() {
        let c = TokenCache::new(8);
        let shared = c.insert("tok", principal("j", 1000), NEVER_CHECKED, 1);
        let first = c.get("tok", 2).expect("cached");
        let second = c.get("tok", 2).expect("cached");
        assert!(Arc::ptr_eq(&first, &second), "one copy per thread");
        assert!(!Arc::ptr_eq(&first, &shared));
        assert!(!SharedPrincipal::ptr_eq(
            first.principal(),
            shared.principal()
        ));
        assert_eq!(**first.principal(), **shared.principal());
        let elsewhere = std::thread::scope(|s| {
            s.spawn(|| c.get("tok", 2).expect("cached"))
                .join()
                .expect("thread")
        });
        assert!(
            !Arc::ptr_eq(&elsewhere, &first),
            "another thread, another copy"
        );
        assert_eq!(**elsewhere.principal(), **shared.principal());
    }

    /// A copy starts from the shared entry's last check and never from a
    /// later one: a check recorded on one thread's copy does not make
    /// another thread skip its own.
    #[test]
    fn a_copy_claims_no_more_than_the_shared_entry() {
        let revocations = RevocationGeneration::exclusive();
        let c = TokenCache::new(8);
        let stamp = revocations.stamp();
        c.insert("tok", principal("j", 1000), stamp, 1);
        let mine = c.get("tok", 2).expect("cached");
        assert_eq!(mine.checked(), stamp);
        revocations.bump();
        mine.mark_checked(revocations.stamp());
        let theirs = std::thread::scope(|s| {
            s.spawn(|| c.get("tok", 2).expect("cached").checked())
                .join()
                .expect("thread")
        });
        assert!(
            !revocations.is_current(theirs),
            "the other thread checks again"
        );
        assert!(revocations.is_current(c.get("tok", 2).expect("cached").checked()));
    }

    #[test]
    fn a_forgotten_or_expired_token_is_not_served_from_a_copy() {
        let c = TokenCache::new(8);
        c.insert("tok", principal("j", 100), NEVER_CHECKED, 1);
        assert!(c.get("tok", 2).is_some());
        c.remove("tok");
        assert!(c.get("tok", 2).is_none(), "removed: the copy goes too");
        c.insert("tok", principal("j", 100), NEVER_CHECKED, 1);
        assert!(c.get("tok", 99).is_some());
        assert!(c.get("tok", 100).is_none(), "expired");
        assert!(c.is_empty());
    }

    #[test]
    fn caches_do_not_share_copies() {
        let a = TokenCache::new(8);
        let b = TokenCache::new(8);
        a.insert("tok", principal("a", 1000), NEVER_CHECKED, 1);
        assert!(a.get("tok", 2).is_some());
        assert!(b.get("tok", 2).is_none());
        b.insert("tok", principal("b", 1000), NEVER_CHECKED, 1);
        assert_eq!(b.get("tok", 2).expect("cached").principal().token_id, "b");
        assert_eq!(a.get("tok", 2).expect("cached").principal().token_id, "a");
    }
}
