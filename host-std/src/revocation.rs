//! When a cached token's revocation check can be skipped.
//!
//! The verified-token cache ([`crate::cache`]) saves the RSA verification;
//! the revocation check it used to make on every hit was a store read (a
//! mirror lookup on redb, a query on PostgreSQL). A
//! [`RevocationGeneration`] lets a hit skip it while nothing could have
//! changed the answer:
//! - every revocation made through this process's store (`revoke_jti`,
//!   `revoke_access_family`) bumps the generation *after* the revocation is
//!   visible to the store's reads, so a check that read generation `g`
//!   before asking the store, and got "not revoked", stays valid while the
//!   generation is still `g`: a revocation on this instance is refused by
//!   the very next request;
//! - a store that other instances share (PostgreSQL) can be changed without
//!   a bump here, so there a check is also trusted only for
//!   [`RevocationGeneration::recheck_after`] (PostgreSQL: the
//!   `revocation_recheck_ms` URL parameter, default 0 = check on every
//!   request): a token revoked at another instance is refused here within
//!   that bound.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// How many revocations this process's store has made, and how long a
/// revocation check stays valid when other processes share the store.
#[derive(Debug)]
pub struct RevocationGeneration {
    generation: AtomicU64,
    /// `None`: only this process revokes (redb: the database is
    /// exclusive), a check is valid until the generation moves.
    recheck_after: Option<Duration>,
    epoch: Instant,
}

/// What a revocation check saw: the generation read before the store was
/// asked, and when (milliseconds since the [`RevocationGeneration`] was
/// made).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CheckStamp {
    generation: u64,
    at_ms: u64,
}

/// A stamp no check ever matches (an entry not checked yet).
pub const NEVER_CHECKED: CheckStamp = CheckStamp {
    generation: u64::MAX,
    at_ms: 0,
};

impl RevocationGeneration {
    /// For a store only this process writes: checks stay valid until the
    /// next revocation.
    pub fn exclusive() -> RevocationGeneration {
        RevocationGeneration::new(None)
    }

    /// For a store other instances also write: checks stay valid until the
    /// next revocation here, or for `recheck_after`, whichever comes first
    /// (zero: never reused).
    pub fn shared(recheck_after: Duration) -> RevocationGeneration {
        RevocationGeneration::new(Some(recheck_after))
    }

    fn new(recheck_after: Option<Duration>) -> RevocationGeneration {
        RevocationGeneration {
            generation: AtomicU64::new(0),
            recheck_after,
            epoch: Instant::now(),
        }
    }

    /// How long a check is trusted when the store is shared (`None`: the
    /// store is exclusive).
    pub fn recheck_after(&self) -> Option<Duration> {
        self.recheck_after
    }

    /// Record a revocation. Call it after the revocation is visible to the
    /// store's reads (committed, mirrored).
    pub fn bump(&self) {
        self.generation.fetch_add(1, Ordering::SeqCst);
    }

    /// Take before asking the store; after a "not revoked" answer, keep it
    /// with the cached token.
    pub fn stamp(&self) -> CheckStamp {
        CheckStamp {
            generation: self.generation.load(Ordering::SeqCst),
            at_ms: self.now_ms(),
        }
    }

    /// Whether a check stamped `stamp` still answers for now.
    pub fn is_current(&self, stamp: CheckStamp) -> bool {
        if stamp.generation != self.generation.load(Ordering::SeqCst) {
            return false;
        }
        match self.recheck_after {
            None => true,
            Some(bound) => {
                let bound = u64::try_from(bound.as_millis()).unwrap_or(u64::MAX);
                self.now_ms().saturating_sub(stamp.at_ms) < bound
            }
        }
    }

    fn now_ms(&self) -> u64 {
        u64::try_from(self.epoch.elapsed().as_millis()).unwrap_or(u64::MAX)
    }
}

/// A [`CheckStamp`] kept in a shared cache entry, updated by whichever
/// request checks next. The two halves are separate atomics: a reader may
/// pair one check's generation with another's time, and each half still
/// comes from a real check that found the token live, so the pair never
/// claims more than some check established.
#[derive(Debug)]
pub struct StampCell {
    generation: AtomicU64,
    at_ms: AtomicU64,
}

impl StampCell {
    /// A cell holding `stamp`.
    pub fn new(stamp: CheckStamp) -> StampCell {
        StampCell {
            generation: AtomicU64::new(stamp.generation),
            at_ms: AtomicU64::new(stamp.at_ms),
        }
    }

    /// The stamp.
    pub fn get(&self) -> CheckStamp {
        CheckStamp {
            generation: self.generation.load(Ordering::SeqCst),
            at_ms: self.at_ms.load(Ordering::SeqCst),
        }
    }

    /// Replace the stamp.
    pub fn set(&self, stamp: CheckStamp) {
        self.generation.store(stamp.generation, Ordering::SeqCst);
        self.at_ms.store(stamp.at_ms, Ordering::SeqCst);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exclusive_checks_last_until_the_next_revocation() {
        let g = RevocationGeneration::exclusive();
        let stamp = g.stamp();
        assert!(g.is_current(stamp));
        g.bump();
        assert!(!g.is_current(stamp), "a revocation invalidates every check");
        assert!(g.is_current(g.stamp()));
        assert!(!g.is_current(NEVER_CHECKED));
    }

    #[test]
    fn shared_checks_expire_after_the_bound() {
        let g = RevocationGeneration::shared(Duration::from_millis(30));
        let stamp = g.stamp();
        assert!(g.is_current(stamp));
        std::thread::sleep(Duration::from_millis(40));
        assert!(!g.is_current(stamp), "re-checked after the bound");
        let never = RevocationGeneration::shared(Duration::ZERO);
        assert!(
            !never.is_current(never.stamp()),
            "zero: every request checks"
        );
    }

    #[test]
    fn a_torn_stamp_is_never_fresher_than_a_real_check() {
        let g = RevocationGeneration::exclusive();
        let old = g.stamp();
        let cell = StampCell::new(old);
        g.bump();
        // A check that read the old generation stores it after a newer one.
        cell.set(g.stamp());
        cell.set(old);
        assert!(!g.is_current(cell.get()));
    }
}
