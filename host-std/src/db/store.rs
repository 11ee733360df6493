//! The core's store traits over redb.

use std::future::Future;

use mcpauth_core::store::rules::{
    CodeEntry, CodeTakeDecision, family_is_readable, family_is_retained, family_is_revocable_by,
    pending_is_live, rotate_family, take_code_entry,
};
use mcpauth_core::store::{
    ClientRecord, ClientStore, CodeRecord, CodeStore, CodeTake, GrantOwner, IssuedAccessToken,
    PendingAuthorization, PendingStore, RefreshFamily, RefreshStore, RevocationStore,
    RotateOutcome, Rotation, SecretHash, StoreError,
};
use mcpauth_core::time::UnixTime;
use redb::{
    ReadableDatabase, ReadableTable, ReadableTableMetadata, TableDefinition, WriteTransaction,
};
use serde::{Deserialize, Serialize};

use crate::backend::HostStore;

use super::{
    CLIENTS, CODES, Db, FAMILIES, PENDING, REVOKED, REVOKED_FAMILIES, RevokedSet, SWEEP_BATCH,
    UNUSED_CLIENTS, unavailable,
};

/// Remove `client_id` from the unused-client index (it was authorized, or
/// removed). A no-op for unknown clients.
pub(super) fn forget_unused(txn: &WriteTransaction, client_id: &str) -> Result<(), StoreError> {
    let clients = txn.open_table(CLIENTS).map_err(unavailable)?;
    let Some(v) = clients.get(client_id).map_err(unavailable)? else {
        return Ok(());
    };
    let record: ClientRecord = dec(v.value())?;
    drop(v);
    let mut unused = txn.open_table(UNUSED_CLIENTS).map_err(unavailable)?;
    unused
        .remove((record.issued_at, client_id))
        .map_err(unavailable)?;
    Ok(())
}

pub(crate) fn enc<T: Serialize>(v: &T) -> Result<Vec<u8>, StoreError> {
    serde_json::to_vec(v).map_err(unavailable)
}

pub(crate) fn dec<T: for<'de> Deserialize<'de>>(bytes: &[u8]) -> Result<T, StoreError> {
    serde_json::from_slice(bytes).map_err(unavailable)
}

impl Db {
    /// Read one JSON value from a string-keyed table.
    pub(crate) fn get_json<T: for<'de> Deserialize<'de>>(
        &self,
        table: redb::TableDefinition<'_, &str, &[u8]>,
        key: &str,
    ) -> Result<Option<T>, StoreError> {
        let txn = self.redb().begin_read().map_err(unavailable)?;
        let t = txn.open_table(table).map_err(unavailable)?;
        match t.get(key).map_err(unavailable)? {
            Some(v) => dec(v.value()).map(Some),
            None => Ok(None),
        }
    }

    /// Every value of a string-keyed table.
    pub(crate) fn all_json<T: for<'de> Deserialize<'de>>(
        &self,
        table: redb::TableDefinition<'_, &str, &[u8]>,
    ) -> Result<Vec<T>, StoreError> {
        let txn = self.redb().begin_read().map_err(unavailable)?;
        let t = txn.open_table(table).map_err(unavailable)?;
        let mut out = Vec::new();
        for row in t.iter().map_err(unavailable)? {
            let (_, v) = row.map_err(unavailable)?;
            out.push(dec(v.value())?);
        }
        Ok(out)
    }

    /// How many rows `table` has.
    pub(crate) fn count(
        &self,
        table: redb::TableDefinition<'_, &str, &[u8]>,
    ) -> Result<u64, StoreError> {
        let txn = self.redb().begin_read().map_err(unavailable)?;
        let t = txn.open_table(table).map_err(unavailable)?;
        t.len().map_err(unavailable)
    }
}

/// One batch of the sweep: up to `limit` expired rows of each table.
/// Returns how many rows went and whether any table had more.
pub(super) fn sweep_batch(
    txn: &WriteTransaction,
    now: u64,
    limit: usize,
) -> Result<(usize, bool), StoreError> {
    let batches = [
        remove_dead(txn, PENDING, limit, |v| {
            dec::<PendingAuthorization>(v).map_or(true, |p| !pending_is_live(&p, now))
        })?,
        remove_dead(txn, CODES, limit, |v| {
            dec::<CodeEntry>(v).map_or(true, |e| !e.is_retained(now))
        })?,
        remove_dead(txn, FAMILIES, limit, |v| {
            dec::<RefreshFamily>(v).map_or(true, |f| !family_is_retained(&f, now))
        })?,
        remove_dead(txn, REVOKED, limit, |until| until <= now)?,
        remove_dead(txn, REVOKED_FAMILIES, limit, |until| until <= now)?,
    ];
    let removed = batches.iter().map(|(n, _)| n).sum();
    Ok((removed, batches.iter().any(|(_, more)| *more)))
}

/// Remove up to `limit` rows of `definition` whose value is `dead`.
/// Returns how many went and whether the limit cut the scan short.
fn remove_dead<K: redb::Key + 'static, V: redb::Value + 'static>(
    txn: &WriteTransaction,
    definition: TableDefinition<'_, K, V>,
    limit: usize,
    dead: impl for<'a> Fn(V::SelfType<'a>) -> bool,
) -> Result<(usize, bool), StoreError> {
    let mut t = txn.open_table(definition).map_err(unavailable)?;
    let mut keys: Vec<Vec<u8>> = Vec::new();
    for row in t.iter().map_err(unavailable)? {
        let (k, v) = row.map_err(unavailable)?;
        if dead(v.value()) {
            keys.push(K::as_bytes(&k.value()).as_ref().to_vec());
            if keys.len() >= limit {
                break;
            }
        }
    }
    for k in &keys {
        t.remove(K::from_bytes(k)).map_err(unavailable)?;
    }
    Ok((keys.len(), keys.len() >= limit))
}

impl ClientStore for Db {
    fn insert_client(
        &self,
        client: ClientRecord,
    ) -> impl Future<Output = Result<(), StoreError>> + Send {
        let db = self.clone();
        async move {
            let bytes = enc(&client)?;
            db.write(move |txn| {
                let mut t = txn.open_table(CLIENTS).map_err(unavailable)?;
                if t.get(client.client_id.as_str())
                    .map_err(unavailable)?
                    .is_some()
                {
                    return Err(StoreError::Duplicate);
                }
                t.insert(client.client_id.as_str(), bytes.as_slice())
                    .map_err(unavailable)?;
                let mut unused = txn.open_table(UNUSED_CLIENTS).map_err(unavailable)?;
                unused
                    .insert((client.issued_at, client.client_id.as_str()), ())
                    .map_err(unavailable)?;
                Ok(())
            })
            .await
        }
    }

    fn client(
        &self,
        client_id: &str,
    ) -> impl Future<Output = Result<Option<ClientRecord>, StoreError>> + Send {
        std::future::ready(self.get_json(CLIENTS, client_id))
    }

    fn mark_client_used(
        &self,
        client_id: &str,
    ) -> impl Future<Output = Result<(), StoreError>> + Send {
        let db = self.clone();
        let id = client_id.to_owned();
        async move { db.write(move |txn| forget_unused(txn, &id)).await }
    }

    fn prune_unused_clients(
        &self,
        registered_before: u64,
        max_unused: usize,
    ) -> impl Future<Output = Result<usize, StoreError>> + Send {
        let db = self.clone();
        async move {
            db.write(move |txn| {
                let mut unused = txn.open_table(UNUSED_CLIENTS).map_err(unavailable)?;
                let total =
                    usize::try_from(unused.len().map_err(unavailable)?).unwrap_or(usize::MAX);
                let mut doomed = Vec::new();
                for row in unused.iter().map_err(unavailable)? {
                    let (k, _) = row.map_err(unavailable)?;
                    let (issued_at, id) = k.value();
                    if issued_at >= registered_before && total - doomed.len() <= max_unused {
                        break;
                    }
                    doomed.push((issued_at, id.to_owned()));
                }
                let mut clients = txn.open_table(CLIENTS).map_err(unavailable)?;
                for (issued_at, id) in &doomed {
                    unused
                        .remove((*issued_at, id.as_str()))
                        .map_err(unavailable)?;
                    clients.remove(id.as_str()).map_err(unavailable)?;
                }
                Ok(doomed.len())
            })
            .await
        }
    }
}

impl PendingStore for Db {
    fn insert_pending(
        &self,
        pending: PendingAuthorization,
        now: UnixTime,
    ) -> impl Future<Output = Result<(), StoreError>> + Send {
        let db = self.clone();
        let capacity = self.pending_capacity();
        let now = now.secs();
        async move {
            let bytes = enc(&pending)?;
            db.write(move |txn| {
                let held = txn
                    .open_table(PENDING)
                    .map_err(unavailable)?
                    .len()
                    .map_err(unavailable)?;
                if held >= capacity {
                    // Make room from expired requests, a batch at a time.
                    remove_dead(txn, PENDING, SWEEP_BATCH, |v| {
                        dec::<PendingAuthorization>(v).map_or(true, |p| !pending_is_live(&p, now))
                    })?;
                }
                let mut t = txn.open_table(PENDING).map_err(unavailable)?;
                if t.get(pending.id.as_str()).map_err(unavailable)?.is_some() {
                    return Err(StoreError::Duplicate);
                }
                if t.len().map_err(unavailable)? >= capacity {
                    return Err(StoreError::Full);
                }
                t.insert(pending.id.as_str(), bytes.as_slice())
                    .map_err(unavailable)?;
                Ok(())
            })
            .await
        }
    }

    fn pending(
        &self,
        id: &str,
        now: UnixTime,
    ) -> impl Future<Output = Result<Option<PendingAuthorization>, StoreError>> + Send {
        let r = self
            .get_json::<PendingAuthorization>(PENDING, id)
            .map(|p| p.filter(|p| pending_is_live(p, now.secs())));
        std::future::ready(r)
    }

    fn take_pending(
        &self,
        id: &str,
        now: UnixTime,
    ) -> impl Future<Output = Result<Option<PendingAuthorization>, StoreError>> + Send {
        let db = self.clone();
        let id = id.to_owned();
        async move {
            db.write(move |txn| {
                let mut t = txn.open_table(PENDING).map_err(unavailable)?;
                let Some(v) = t.remove(id.as_str()).map_err(unavailable)? else {
                    return Ok(None);
                };
                let p: PendingAuthorization = dec(v.value())?;
                Ok(pending_is_live(&p, now.secs()).then_some(p))
            })
            .await
        }
    }
}

impl CodeStore for Db {
    fn insert_code(
        &self,
        code: CodeRecord,
        _now: UnixTime,
    ) -> impl Future<Output = Result<(), StoreError>> + Send {
        let db = self.clone();
        async move {
            let key = code.code_hash;
            let bytes = enc(&CodeEntry::new(code))?;
            db.write(move |txn| {
                let mut t = txn.open_table(CODES).map_err(unavailable)?;
                if t.get(&key[..]).map_err(unavailable)?.is_some() {
                    return Err(StoreError::Duplicate);
                }
                t.insert(&key[..], bytes.as_slice()).map_err(unavailable)?;
                Ok(())
            })
            .await
        }
    }

    fn take_code(
        &self,
        code_hash: &SecretHash,
        now: UnixTime,
    ) -> impl Future<Output = Result<CodeTake, StoreError>> + Send {
        let db = self.clone();
        let key = *code_hash;
        let now = now.secs();
        async move {
            db.write(move |txn| {
                let mut t = txn.open_table(CODES).map_err(unavailable)?;
                let mut entry: CodeEntry = match t.get(&key[..]).map_err(unavailable)? {
                    Some(v) => dec(v.value())?,
                    None => return Ok(CodeTake::Unknown),
                };
                let (outcome, decision) = take_code_entry(&mut entry, now);
                match decision {
                    CodeTakeDecision::Redeem => {
                        t.insert(&key[..], enc(&entry)?.as_slice())
                            .map_err(unavailable)?;
                    }
                    CodeTakeDecision::Forget => {
                        t.remove(&key[..]).map_err(unavailable)?;
                    }
                    CodeTakeDecision::Replay => {}
                }
                Ok(outcome)
            })
            .await
        }
    }

    fn record_code_access_token(
        &self,
        code_hash: &SecretHash,
        token: IssuedAccessToken,
    ) -> impl Future<Output = Result<(), StoreError>> + Send {
        let db = self.clone();
        let key = *code_hash;
        async move {
            db.write(move |txn| {
                let mut t = txn.open_table(CODES).map_err(unavailable)?;
                let mut entry: CodeEntry = match t.get(&key[..]).map_err(unavailable)? {
                    Some(v) => dec(v.value())?,
                    None => return Ok(()),
                };
                entry.access_token = Some(token);
                t.insert(&key[..], enc(&entry)?.as_slice())
                    .map_err(unavailable)?;
                Ok(())
            })
            .await
        }
    }
}

impl RefreshStore for Db {
    fn insert_family(
        &self,
        family: RefreshFamily,
        _now: UnixTime,
    ) -> impl Future<Output = Result<(), StoreError>> + Send {
        let db = self.clone();
        async move {
            let bytes = enc(&family)?;
            db.write(move |txn| {
                let mut t = txn.open_table(FAMILIES).map_err(unavailable)?;
                if t.get(family.family_id.as_str())
                    .map_err(unavailable)?
                    .is_some()
                {
                    return Err(StoreError::Duplicate);
                }
                t.insert(family.family_id.as_str(), bytes.as_slice())
                    .map_err(unavailable)?;
                Ok(())
            })
            .await
        }
    }

    fn family(
        &self,
        family_id: &str,
        now: UnixTime,
    ) -> impl Future<Output = Result<Option<RefreshFamily>, StoreError>> + Send {
        let r = self
            .get_json::<RefreshFamily>(FAMILIES, family_id)
            .map(|f| f.filter(|f| family_is_readable(f, now.secs())));
        std::future::ready(r)
    }

    fn rotate_refresh(
        &self,
        family_id: &str,
        presented: &SecretHash,
        rotation: Rotation,
        now: UnixTime,
    ) -> impl Future<Output = Result<RotateOutcome, StoreError>> + Send {
        let db = self.clone();
        let id = family_id.to_owned();
        let presented = *presented;
        let now = now.secs();
        async move {
            db.write(move |txn| {
                let mut t = txn.open_table(FAMILIES).map_err(unavailable)?;
                let mut family: RefreshFamily = match t.get(id.as_str()).map_err(unavailable)? {
                    Some(v) => dec(v.value())?,
                    None => return Ok(RotateOutcome::Invalid),
                };
                let (outcome, changed) = rotate_family(&mut family, &presented, rotation, now);
                if changed {
                    t.insert(id.as_str(), enc(&family)?.as_slice())
                        .map_err(unavailable)?;
                }
                Ok(outcome)
            })
            .await
        }
    }

    fn revoke_family(
        &self,
        family_id: &str,
    ) -> impl Future<Output = Result<(), StoreError>> + Send {
        let db = self.clone();
        let id = family_id.to_owned();
        async move {
            db.write(move |txn| {
                let mut t = txn.open_table(FAMILIES).map_err(unavailable)?;
                let mut family: RefreshFamily = match t.get(id.as_str()).map_err(unavailable)? {
                    Some(v) => dec(v.value())?,
                    None => return Ok(()),
                };
                family.revoked = true;
                t.insert(id.as_str(), enc(&family)?.as_slice())
                    .map_err(unavailable)?;
                Ok(())
            })
            .await
        }
    }

    fn revoke_families_of(
        &self,
        owner: GrantOwner<'_>,
        now: UnixTime,
    ) -> impl Future<Output = Result<Vec<String>, StoreError>> + Send {
        let db = self.clone();
        let owner = OwnedGrantOwner::from(owner);
        let now = now.secs();
        async move {
            db.write(move |txn| {
                let mut t = txn.open_table(FAMILIES).map_err(unavailable)?;
                let mut live: Vec<RefreshFamily> = Vec::new();
                for row in t.iter().map_err(unavailable)? {
                    let (_, v) = row.map_err(unavailable)?;
                    let f: RefreshFamily = dec(v.value())?;
                    if family_is_revocable_by(&f, owner.as_ref(), now) {
                        live.push(f);
                    }
                }
                let mut revoked = Vec::with_capacity(live.len());
                for mut f in live {
                    f.revoked = true;
                    t.insert(f.family_id.as_str(), enc(&f)?.as_slice())
                        .map_err(unavailable)?;
                    revoked.push(f.family_id);
                }
                Ok(revoked)
            })
            .await
        }
    }
}

impl RevocationStore for Db {
    fn revoke_jti(
        &self,
        jti: &str,
        expires_at: u64,
        now: UnixTime,
    ) -> impl Future<Output = Result<(), StoreError>> + Send {
        self.remember_revoked(Revocations::Jtis, jti, expires_at, now)
    }

    fn is_jti_revoked(
        &self,
        jti: &str,
        now: UnixTime,
    ) -> impl Future<Output = Result<bool, StoreError>> + Send {
        std::future::ready(self.is_revoked_now(jti, now.secs()))
    }

    fn revoke_access_family(
        &self,
        family: &str,
        expires_at: u64,
        now: UnixTime,
    ) -> impl Future<Output = Result<(), StoreError>> + Send {
        self.remember_revoked(Revocations::AccessFamilies, family, expires_at, now)
    }

    fn is_access_token_revoked(
        &self,
        jti: &str,
        family: Option<&str>,
        now: UnixTime,
    ) -> impl Future<Output = Result<bool, StoreError>> + Send {
        std::future::ready(self.is_access_token_revoked_now(jti, family, now.secs()))
    }
}

impl Db {
    /// Whether `jti` is revoked, from the in-memory mirror.
    pub fn is_revoked_now(&self, jti: &str, now: u64) -> Result<bool, StoreError> {
        self.revoked().contains(jti, now)
    }

    /// Whether an access token (`jti`, of access family `family`) is
    /// revoked, from the in-memory mirrors (no lock while both are empty).
    pub fn is_access_token_revoked_now(
        &self,
        jti: &str,
        family: Option<&str>,
        now: u64,
    ) -> Result<bool, StoreError> {
        if self.revoked().contains(jti, now)? {
            return Ok(true);
        }
        match family {
            Some(f) => self.revoked_families().contains(f, now),
            None => Ok(false),
        }
    }

    /// Write `key` into the revocation table `which` until `expires_at` (a
    /// later expiry wins), durable before it shows in the table's in-memory
    /// mirror.
    fn remember_revoked(
        &self,
        which: Revocations,
        key: &str,
        expires_at: u64,
        now: UnixTime,
    ) -> impl Future<Output = Result<(), StoreError>> + Send + use<> {
        let db = self.clone();
        let key = key.to_owned();
        let now = now.secs();
        async move {
            if expires_at <= now {
                return Ok(());
            }
            let written = key.clone();
            db.write(move |txn| {
                let mut t = txn.open_table(which.table()).map_err(unavailable)?;
                let old = t
                    .get(written.as_str())
                    .map_err(unavailable)?
                    .map(|v| v.value());
                let exp = old.unwrap_or(0).max(expires_at);
                t.insert(written.as_str(), exp).map_err(unavailable)?;
                Ok(())
            })
            .await?;
            which.mirror(&db).insert(key, expires_at)?;
            db.revocation_generation().bump();
            Ok(())
        }
    }
}

/// The two revocation tables, each with its in-memory mirror.
#[derive(Debug, Clone, Copy)]
enum Revocations {
    /// Revoked access-token `jti`s.
    Jtis,
    /// Revoked access-token families.
    AccessFamilies,
}

impl Revocations {
    fn table(self) -> TableDefinition<'static, &'static str, u64> {
        match self {
            Revocations::Jtis => REVOKED,
            Revocations::AccessFamilies => REVOKED_FAMILIES,
        }
    }

    fn mirror(self, db: &Db) -> &RevokedSet {
        match self {
            Revocations::Jtis => db.revoked(),
            Revocations::AccessFamilies => db.revoked_families(),
        }
    }
}

/// A [`GrantOwner`] that can move into the writer thread.
enum OwnedGrantOwner {
    Client(String),
    Subject(String),
}

impl From<GrantOwner<'_>> for OwnedGrantOwner {
    fn from(owner: GrantOwner<'_>) -> Self {
        match owner {
            GrantOwner::Client(id) => OwnedGrantOwner::Client(id.to_owned()),
            GrantOwner::Subject(sub) => OwnedGrantOwner::Subject(sub.to_owned()),
        }
    }
}

impl OwnedGrantOwner {
    fn as_ref(&self) -> GrantOwner<'_> {
        match self {
            OwnedGrantOwner::Client(id) => GrantOwner::Client(id),
            OwnedGrantOwner::Subject(sub) => GrantOwner::Subject(sub),
        }
    }
}
