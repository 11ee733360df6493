//! The bounded in-memory store: fixed capacities, typed errors when full,
//! expired entries evicted, never a panic.
//!
//! ## Lock
//! One spin lock around all tables (`spin`'s, on `portable-atomic`: see
//! [`crate::sync`], so it builds for chips without compare-and-swap). It is
//! `no_std`, `Send + Sync`, and every critical section is a short,
//! non-blocking map operation that never awaits, so contention costs
//! nanoseconds.
//! Each future returned by this store is already complete (`core::future::ready`):
//! the lock is never held across a suspension point.
//!
//! ## Bounds
//! Each table has a capacity ([`MemoryStoreLimits`]). An insert into a full
//! table first evicts expired entries; if none can go, it fails with
//! [`StoreError::Full`] rather than evicting live state (a live code or refresh
//! family silently vanishing would look like a bug to the user; an error is
//! honest). Clients no user ever authorized are removed only when the
//! server prunes them ([`ClientStore::prune_unused_clients`]).

use alloc::collections::{BTreeMap, BTreeSet};
use alloc::string::String;
use alloc::vec::Vec;
use core::fmt;
use core::future::{Future, ready};

use super::rules::{
    CodeEntry, CodeTakeDecision, family_is_readable, family_is_retained, family_is_revocable_by,
    pending_is_live, rotate_family, take_code_entry,
};
use super::{
    ClientRecord, ClientStore, CodeRecord, CodeStore, CodeTake, GrantOwner, IssuedAccessToken,
    PendingAuthorization, PendingStore, RefreshFamily, RefreshStore, RevocationStore,
    RotateOutcome, Rotation, SecretHash, StoreError,
};
use crate::sync::Mutex;
use crate::time::UnixTime;

/// Capacities of a [`MemoryStore`]. Each bounds memory a peer can make us
/// hold.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MemoryStoreLimits {
    /// Registered clients (registration flooding; registration is also
    /// rate-limited by the host hook).
    pub clients: usize,
    /// Pending authorization requests (unauthenticated `GET /authorize`
    /// flooding; each lives only minutes).
    pub pending: usize,
    /// Authorization codes and their replay tombstones.
    pub codes: usize,
    /// Refresh-token families (one per grant).
    pub families: usize,
    /// Revoked access-token ids (until the tokens expire).
    pub revoked_jtis: usize,
    /// Revoked access-token families (until the last access token a family
    /// could have minted expires).
    pub revoked_families: usize,
}

impl MemoryStoreLimits {
    /// Small tables for a device.
    pub const DEVICE: MemoryStoreLimits = MemoryStoreLimits {
        clients: 16,
        pending: 16,
        codes: 16,
        families: 32,
        revoked_jtis: 64,
        revoked_families: 32,
    };
    /// Generous tables for a single server instance.
    pub const SERVER: MemoryStoreLimits = MemoryStoreLimits {
        clients: 10_000,
        pending: 10_000,
        codes: 10_000,
        families: 100_000,
        revoked_jtis: 100_000,
        revoked_families: 100_000,
    };
}

impl Default for MemoryStoreLimits {
    fn default() -> Self {
        MemoryStoreLimits::SERVER
    }
}

#[derive(Default)]
struct Tables {
    clients: BTreeMap<String, ClientRecord>,
    /// Clients never authorized, oldest first: `(issued_at, client_id)`.
    unused_clients: BTreeSet<(u64, String)>,
    pending: BTreeMap<String, PendingAuthorization>,
    codes: BTreeMap<SecretHash, CodeEntry>,
    families: BTreeMap<String, RefreshFamily>,
    revoked: BTreeMap<String, u64>,
    revoked_families: BTreeMap<String, u64>,
}

/// Bounded in-memory implementation of every store trait.
pub struct MemoryStore {
    limits: MemoryStoreLimits,
    tables: Mutex<Tables>,
}

impl fmt::Debug for MemoryStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Never print records: they hold hashes and user data.
        f.debug_struct("MemoryStore")
            .field("limits", &self.limits)
            .finish_non_exhaustive()
    }
}

impl Default for MemoryStore {
    fn default() -> Self {
        MemoryStore::new(MemoryStoreLimits::default())
    }
}

impl MemoryStore {
    /// An empty store with `limits`.
    pub fn new(limits: MemoryStoreLimits) -> MemoryStore {
        MemoryStore {
            limits,
            tables: Mutex::new(Tables::default()),
        }
    }

    /// The capacities.
    pub fn limits(&self) -> MemoryStoreLimits {
        self.limits
    }

    /// Number of live entries per table, in the order of
    /// [`MemoryStoreLimits`] (for tests and metrics).
    pub fn counts(&self) -> [usize; 6] {
        let t = self.tables.lock();
        [
            t.clients.len(),
            t.pending.len(),
            t.codes.len(),
            t.families.len(),
            t.revoked.len(),
            t.revoked_families.len(),
        ]
    }

    /// Drop every expired entry now (pending requests, codes and their
    /// tombstones, dead families, expired revocations). Optional: inserts
    /// evict on demand; a host may call this from a timer to keep memory
    /// low. Returns how many entries were removed.
    pub fn sweep(&self, now: UnixTime) -> usize {
        let now = now.secs();
        let mut t = self.tables.lock();
        let before = t.pending.len()
            + t.codes.len()
            + t.families.len()
            + t.revoked.len()
            + t.revoked_families.len();
        t.pending.retain(|_, p| pending_is_live(p, now));
        t.codes.retain(|_, e| e.is_retained(now));
        t.families.retain(|_, f| family_is_retained(f, now));
        t.revoked.retain(|_, exp| *exp > now);
        t.revoked_families.retain(|_, exp| *exp > now);
        let after = t.pending.len()
            + t.codes.len()
            + t.families.len()
            + t.revoked.len()
            + t.revoked_families.len();
        before - after
    }

    fn insert_client_now(&self, client: ClientRecord) -> Result<(), StoreError> {
        let mut t = self.tables.lock();
        if t.clients.contains_key(&client.client_id) {
            return Err(StoreError::Duplicate);
        }
        if t.clients.len() >= self.limits.clients {
            return Err(StoreError::Full);
        }
        t.unused_clients
            .insert((client.issued_at, client.client_id.clone()));
        t.clients.insert(client.client_id.clone(), client);
        Ok(())
    }

    fn mark_client_used_now(&self, client_id: &str) {
        let mut t = self.tables.lock();
        if let Some(issued_at) = t.clients.get(client_id).map(|c| c.issued_at) {
            t.unused_clients
                .remove(&(issued_at, String::from(client_id)));
        }
    }

    fn prune_unused_clients_now(&self, registered_before: u64, max_unused: usize) -> usize {
        let mut t = self.tables.lock();
        let mut removed = 0;
        while let Some((issued_at, id)) = t.unused_clients.first().cloned() {
            if issued_at >= registered_before && t.unused_clients.len() <= max_unused {
                break;
            }
            t.unused_clients.pop_first();
            t.clients.remove(&id);
            removed += 1;
        }
        removed
    }

    fn insert_pending_now(&self, p: PendingAuthorization, now: u64) -> Result<(), StoreError> {
        let mut t = self.tables.lock();
        if t.pending.contains_key(&p.id) {
            return Err(StoreError::Duplicate);
        }
        if t.pending.len() >= self.limits.pending {
            t.pending.retain(|_, p| pending_is_live(p, now));
            if t.pending.len() >= self.limits.pending {
                return Err(StoreError::Full);
            }
        }
        t.pending.insert(p.id.clone(), p);
        Ok(())
    }

    fn pending_now(&self, id: &str, now: u64, take: bool) -> Option<PendingAuthorization> {
        let mut t = self.tables.lock();
        let live = t.pending.get(id).is_some_and(|p| pending_is_live(p, now));
        if !live {
            // Expired: drop it on the way.
            t.pending.remove(id);
            return None;
        }
        if take {
            t.pending.remove(id)
        } else {
            t.pending.get(id).cloned()
        }
    }

    fn insert_code_now(&self, code: CodeRecord, now: u64) -> Result<(), StoreError> {
        let mut t = self.tables.lock();
        if t.codes.contains_key(&code.code_hash) {
            return Err(StoreError::Duplicate);
        }
        if t.codes.len() >= self.limits.codes {
            t.codes.retain(|_, e| e.is_retained(now));
            if t.codes.len() >= self.limits.codes {
                return Err(StoreError::Full);
            }
        }
        t.codes.insert(code.code_hash, CodeEntry::new(code));
        Ok(())
    }

    fn take_code_now(&self, hash: &SecretHash, now: u64) -> CodeTake {
        let mut t = self.tables.lock();
        let Some(entry) = t.codes.get_mut(hash) else {
            return CodeTake::Unknown;
        };
        let (outcome, decision) = take_code_entry(entry, now);
        if decision == CodeTakeDecision::Forget {
            t.codes.remove(hash);
        }
        outcome
    }

    fn record_code_token_now(&self, hash: &SecretHash, token: IssuedAccessToken) {
        let mut t = self.tables.lock();
        if let Some(entry) = t.codes.get_mut(hash) {
            entry.access_token = Some(token);
        }
    }

    fn insert_family_now(&self, family: RefreshFamily, now: u64) -> Result<(), StoreError> {
        let mut t = self.tables.lock();
        if t.families.contains_key(&family.family_id) {
            return Err(StoreError::Duplicate);
        }
        if t.families.len() >= self.limits.families {
            t.families.retain(|_, f| family_is_retained(f, now));
            if t.families.len() >= self.limits.families {
                return Err(StoreError::Full);
            }
        }
        t.families.insert(family.family_id.clone(), family);
        Ok(())
    }

    fn family_now(&self, id: &str, now: u64) -> Option<RefreshFamily> {
        let t = self.tables.lock();
        t.families
            .get(id)
            .filter(|f| family_is_readable(f, now))
            .cloned()
    }

    fn rotate_now(
        &self,
        id: &str,
        presented: &SecretHash,
        rotation: Rotation,
        now: u64,
    ) -> RotateOutcome {
        let mut t = self.tables.lock();
        match t.families.get_mut(id) {
            Some(family) => rotate_family(family, presented, rotation, now).0,
            None => RotateOutcome::Invalid,
        }
    }

    fn revoke_families_of_now(&self, owner: GrantOwner<'_>, now: u64) -> Vec<String> {
        let mut t = self.tables.lock();
        let mut revoked = Vec::new();
        for f in t.families.values_mut() {
            if family_is_revocable_by(f, owner, now) {
                f.revoked = true;
                revoked.push(f.family_id.clone());
            }
        }
        revoked
    }

    fn revoke_family_now(&self, id: &str) {
        let mut t = self.tables.lock();
        if let Some(f) = t.families.get_mut(id) {
            f.revoked = true;
        }
    }

    fn revoke_jti_now(&self, jti: &str, expires_at: u64, now: u64) -> Result<(), StoreError> {
        let mut t = self.tables.lock();
        remember_until(
            &mut t.revoked,
            self.limits.revoked_jtis,
            jti,
            expires_at,
            now,
        )
    }

    fn revoke_access_family_now(
        &self,
        family: &str,
        expires_at: u64,
        now: u64,
    ) -> Result<(), StoreError> {
        let mut t = self.tables.lock();
        let limit = self.limits.revoked_families;
        remember_until(&mut t.revoked_families, limit, family, expires_at, now)
    }

    fn is_revoked_now(&self, jti: &str, now: u64) -> bool {
        let t = self.tables.lock();
        t.revoked.get(jti).is_some_and(|exp| *exp > now)
    }

    fn is_access_token_revoked_now(&self, jti: &str, family: Option<&str>, now: u64) -> bool {
        let t = self.tables.lock();
        let live = |exp: &u64| *exp > now;
        t.revoked.get(jti).is_some_and(live)
            || family.is_some_and(|f| t.revoked_families.get(f).is_some_and(live))
    }
}

/// Remember `key` in a bounded revocation set until `expires_at` (extended,
/// never shortened, when already there). A full set first drops expired
/// entries; if still full, [`StoreError::Full`]: a revocation that cannot be
/// kept must not look like it was.
fn remember_until(
    set: &mut BTreeMap<String, u64>,
    limit: usize,
    key: &str,
    expires_at: u64,
    now: u64,
) -> Result<(), StoreError> {
    if expires_at <= now {
        // Already expired: verification refuses the tokens anyway.
        return Ok(());
    }
    if let Some(exp) = set.get_mut(key) {
        *exp = (*exp).max(expires_at);
        return Ok(());
    }
    if set.len() >= limit {
        set.retain(|_, exp| *exp > now);
        if set.len() >= limit {
            return Err(StoreError::Full);
        }
    }
    set.insert(String::from(key), expires_at);
    Ok(())
}

impl ClientStore for MemoryStore {
    fn insert_client(
        &self,
        client: ClientRecord,
    ) -> impl Future<Output = Result<(), StoreError>> + Send {
        ready(self.insert_client_now(client))
    }

    fn client(
        &self,
        client_id: &str,
    ) -> impl Future<Output = Result<Option<ClientRecord>, StoreError>> + Send {
        ready(Ok(self.tables.lock().clients.get(client_id).cloned()))
    }

    fn mark_client_used(
        &self,
        client_id: &str,
    ) -> impl Future<Output = Result<(), StoreError>> + Send {
        self.mark_client_used_now(client_id);
        ready(Ok(()))
    }

    fn prune_unused_clients(
        &self,
        registered_before: u64,
        max_unused: usize,
    ) -> impl Future<Output = Result<usize, StoreError>> + Send {
        ready(Ok(
            self.prune_unused_clients_now(registered_before, max_unused)
        ))
    }
}

impl PendingStore for MemoryStore {
    fn insert_pending(
        &self,
        pending: PendingAuthorization,
        now: UnixTime,
    ) -> impl Future<Output = Result<(), StoreError>> + Send {
        ready(self.insert_pending_now(pending, now.secs()))
    }

    fn pending(
        &self,
        id: &str,
        now: UnixTime,
    ) -> impl Future<Output = Result<Option<PendingAuthorization>, StoreError>> + Send {
        ready(Ok(self.pending_now(id, now.secs(), false)))
    }

    fn take_pending(
        &self,
        id: &str,
        now: UnixTime,
    ) -> impl Future<Output = Result<Option<PendingAuthorization>, StoreError>> + Send {
        ready(Ok(self.pending_now(id, now.secs(), true)))
    }
}

impl CodeStore for MemoryStore {
    fn insert_code(
        &self,
        code: CodeRecord,
        now: UnixTime,
    ) -> impl Future<Output = Result<(), StoreError>> + Send {
        ready(self.insert_code_now(code, now.secs()))
    }

    fn take_code(
        &self,
        code_hash: &SecretHash,
        now: UnixTime,
    ) -> impl Future<Output = Result<CodeTake, StoreError>> + Send {
        ready(Ok(self.take_code_now(code_hash, now.secs())))
    }

    fn record_code_access_token(
        &self,
        code_hash: &SecretHash,
        token: IssuedAccessToken,
    ) -> impl Future<Output = Result<(), StoreError>> + Send {
        self.record_code_token_now(code_hash, token);
        ready(Ok(()))
    }
}

impl RefreshStore for MemoryStore {
    fn insert_family(
        &self,
        family: RefreshFamily,
        now: UnixTime,
    ) -> impl Future<Output = Result<(), StoreError>> + Send {
        ready(self.insert_family_now(family, now.secs()))
    }

    fn family(
        &self,
        family_id: &str,
        now: UnixTime,
    ) -> impl Future<Output = Result<Option<RefreshFamily>, StoreError>> + Send {
        ready(Ok(self.family_now(family_id, now.secs())))
    }

    fn rotate_refresh(
        &self,
        family_id: &str,
        presented: &SecretHash,
        rotation: Rotation,
        now: UnixTime,
    ) -> impl Future<Output = Result<RotateOutcome, StoreError>> + Send {
        ready(Ok(self.rotate_now(
            family_id,
            presented,
            rotation,
            now.secs(),
        )))
    }

    fn revoke_family(
        &self,
        family_id: &str,
    ) -> impl Future<Output = Result<(), StoreError>> + Send {
        self.revoke_family_now(family_id);
        ready(Ok(()))
    }

    fn revoke_families_of(
        &self,
        owner: GrantOwner<'_>,
        now: UnixTime,
    ) -> impl Future<Output = Result<Vec<String>, StoreError>> + Send {
        ready(Ok(self.revoke_families_of_now(owner, now.secs())))
    }
}

impl RevocationStore for MemoryStore {
    fn revoke_jti(
        &self,
        jti: &str,
        expires_at: u64,
        now: UnixTime,
    ) -> impl Future<Output = Result<(), StoreError>> + Send {
        ready(self.revoke_jti_now(jti, expires_at, now.secs()))
    }

    fn is_jti_revoked(
        &self,
        jti: &str,
        now: UnixTime,
    ) -> impl Future<Output = Result<bool, StoreError>> + Send {
        ready(Ok(self.is_revoked_now(jti, now.secs())))
    }

    fn revoke_access_family(
        &self,
        family: &str,
        expires_at: u64,
        now: UnixTime,
    ) -> impl Future<Output = Result<(), StoreError>> + Send {
        ready(self.revoke_access_family_now(family, expires_at, now.secs()))
    }

    fn is_access_token_revoked(
        &self,
        jti: &str,
        family: Option<&str>,
        now: UnixTime,
    ) -> impl Future<Output = Result<bool, StoreError>> + Send {
        ready(Ok(self.is_access_token_revoked_now(
            jti,
            family,
            now.secs(),
        )))
    }
}

#[cfg(test)]
mod tests;
