//! The store the server runs on: the embedded redb database (default) or
//! PostgreSQL (`--store postgres://…`, for several instances behind one
//! public URL).
//!
//! [`HostStore`] is the one store abstraction of the host: the core's store
//! traits plus what the host itself needs of a store (users and signing
//! keys, operator commands, purge, shutdown). [`Db`] and [`PgStore`]
//! implement it, each in its own module (`db::host`, `pg::host`).
//! [`Backend`] is the store the command line chose; `dispatch!` below is the
//! only place that looks inside it, so a store call costs one `match` and
//! no allocation (no boxed future, no trait object).

use std::future::Future;
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

use mcpauth_core::jose::KeySet;
use mcpauth_core::store::{
    ClientRecord, ClientStore, CodeRecord, CodeStore, CodeTake, GrantOwner, IssuedAccessToken,
    PendingAuthorization, PendingStore, RefreshFamily, RefreshStore, RevocationStore,
    RotateOutcome, Rotation, SecretHash, StoreError,
};
use mcpauth_core::time::UnixTime;
use serde::de::DeserializeOwned;

use crate::db::Db;
pub use crate::pg::KvTable;
use crate::pg::{PgOptions, PgStore, is_postgres_url};
use crate::revocation::RevocationGeneration;

/// What the host needs of a store: the core's store traits (the OAuth
/// flows), the host's key-value tables ([`KvTable`]: users, signing keys),
/// operator commands, the purge and shutdown. The `kv_*`, client and key-lock
/// methods block (the CLI and start-up call them; inside the server they run
/// on blocking threads).
pub trait HostStore:
    ClientStore + PendingStore + CodeStore + RefreshStore + RevocationStore + Send + Sync
{
    /// Whether other instances may share this store (keys can change under
    /// us, revocations can come from elsewhere).
    fn is_shared(&self) -> bool;

    /// Bumped on every revocation through this instance: when a cached
    /// token's revocation check can be reused ([`crate::revocation`]).
    fn revocation_generation(&self) -> &RevocationGeneration;

    /// A one-line description for the banner (no credentials).
    fn describe(&self) -> String;

    /// One record of a host table.
    fn kv_get<T: DeserializeOwned>(
        &self,
        table: KvTable,
        key: &str,
    ) -> Result<Option<T>, StoreError>;

    /// Every record of a host table, ordered by key.
    fn kv_all<T: DeserializeOwned>(&self, table: KvTable) -> Result<Vec<T>, StoreError>;

    /// Number of records of a host table.
    fn kv_count(&self, table: KvTable) -> Result<u64, StoreError>;

    /// Insert unless `key` exists; whether it was inserted.
    fn kv_insert_new(&self, table: KvTable, key: &str, record: Vec<u8>)
    -> Result<bool, StoreError>;

    /// Insert or replace records, all or none.
    fn kv_put(&self, table: KvTable, rows: Vec<(String, Vec<u8>)>) -> Result<(), StoreError>;

    /// Delete a record; whether it existed.
    fn kv_remove(&self, table: KvTable, key: &str) -> Result<bool, StoreError>;

    /// Every registered client, ordered by id.
    fn clients(&self) -> Result<Vec<ClientRecord>, StoreError>;

    /// Remove a client; whether it existed.
    fn remove_client_blocking(&self, client_id: &str) -> Result<bool, StoreError>;

    /// Run one of this store's operations to completion from synchronous
    /// code.
    fn block_on<T>(&self, f: impl Future<Output = Result<T, StoreError>>) -> Result<T, StoreError>;

    /// Revoke every grant of `owner` and all their access tokens (an
    /// operator removed the client or the user); how many grants.
    fn revoke_grants_of_blocking(
        &self,
        owner: GrantOwner<'_>,
        access_token_ttl: u64,
    ) -> Result<usize, StoreError>
    where
        Self: Sized,
    {
        let now = crate::env::now().ok_or(StoreError::Unavailable)?;
        self.block_on(mcpauth_core::oauth::revoke_grants_of(
            self,
            owner,
            access_token_ttl,
            now,
        ))
    }

    /// Run `f` while holding the key lock: fleet-wide for PostgreSQL (so two
    /// instances never both create or rotate the active key), a no-op for
    /// redb (one process).
    fn with_key_lock<T>(&self, f: impl FnOnce() -> T) -> Result<T, StoreError>;

    /// Delete expired records; how many went.
    fn sweep(&self, now: u64) -> impl Future<Output = Result<usize, StoreError>> + Send;

    /// Close the store (redb: finish queued writes; PostgreSQL: close the
    /// pool). Later writes fail with `Unavailable`.
    fn close(&self);
}

/// Either store. Cheap to clone.
#[derive(Debug, Clone)]
pub enum Backend {
    /// The embedded database in the data directory (one process).
    Redb(Db),
    /// A shared PostgreSQL schema (any number of instances).
    Postgres(PgStore),
}

/// The one dispatcher of [`Backend`]: evaluates `$call` with `$s` bound to
/// the store inside (each arm is monomorphic).
macro_rules! dispatch {
    ($backend:expr, $s:ident => $call:expr) => {
        match $backend {
            Backend::Redb($s) => $call,
            Backend::Postgres($s) => $call,
        }
    };
}

impl From<Db> for Backend {
    fn from(db: Db) -> Self {
        Backend::Redb(db)
    }
}

impl From<PgStore> for Backend {
    fn from(pg: PgStore) -> Self {
        Backend::Postgres(pg)
    }
}

type BoxError = Box<dyn std::error::Error + Send + Sync>;

impl Backend {
    /// Open the store named by `store` (a `postgres://` URL), or the redb
    /// database in `data_dir` when `store` is `None`. Blocking; call it
    /// outside the server's runtime.
    pub fn open(store: Option<&str>, data_dir: &std::path::Path) -> Result<Backend, BoxError> {
        match store {
            None => Ok(Backend::Redb(Db::open(data_dir)?)),
            Some(url) if is_postgres_url(url) => {
                let options = PgOptions::parse(url).map_err(|e| format!("--store: {e}"))?;
                let pg = PgStore::connect_blocking(options)?;
                Ok(Backend::Postgres(pg))
            }
            Some(_) => Err("--store: expected a postgres:// or postgresql:// URL \
                 (leave it unset for the embedded database in --data-dir)"
                .into()),
        }
    }
}

impl HostStore for Backend {
    fn is_shared(&self) -> bool {
        dispatch!(self, s => s.is_shared())
    }
    fn revocation_generation(&self) -> &RevocationGeneration {
        dispatch!(self, s => s.revocation_generation())
    }
    fn describe(&self) -> String {
        dispatch!(self, s => s.describe())
    }
    fn kv_get<T: DeserializeOwned>(
        &self,
        table: KvTable,
        key: &str,
    ) -> Result<Option<T>, StoreError> {
        dispatch!(self, s => s.kv_get(table, key))
    }
    fn kv_all<T: DeserializeOwned>(&self, table: KvTable) -> Result<Vec<T>, StoreError> {
        dispatch!(self, s => s.kv_all(table))
    }
    fn kv_count(&self, table: KvTable) -> Result<u64, StoreError> {
        dispatch!(self, s => s.kv_count(table))
    }
    fn kv_insert_new(
        &self,
        table: KvTable,
        key: &str,
        record: Vec<u8>,
    ) -> Result<bool, StoreError> {
        dispatch!(self, s => s.kv_insert_new(table, key, record))
    }
    fn kv_put(&self, table: KvTable, rows: Vec<(String, Vec<u8>)>) -> Result<(), StoreError> {
        dispatch!(self, s => s.kv_put(table, rows))
    }
    fn kv_remove(&self, table: KvTable, key: &str) -> Result<bool, StoreError> {
        dispatch!(self, s => s.kv_remove(table, key))
    }
    fn clients(&self) -> Result<Vec<ClientRecord>, StoreError> {
        dispatch!(self, s => s.clients())
    }
    fn remove_client_blocking(&self, client_id: &str) -> Result<bool, StoreError> {
        dispatch!(self, s => s.remove_client_blocking(client_id))
    }
    fn block_on<T>(&self, f: impl Future<Output = Result<T, StoreError>>) -> Result<T, StoreError> {
        dispatch!(self, s => s.block_on(f))
    }
    fn with_key_lock<T>(&self, f: impl FnOnce() -> T) -> Result<T, StoreError> {
        dispatch!(self, s => s.with_key_lock(f))
    }
    async fn sweep(&self, now: u64) -> Result<usize, StoreError> {
        dispatch!(self, s => s.sweep(now).await)
    }
    fn close(&self) {
        dispatch!(self, s => s.close())
    }
}

impl ClientStore for Backend {
    async fn insert_client(&self, client: ClientRecord) -> Result<(), StoreError> {
        dispatch!(self, s => s.insert_client(client).await)
    }
    async fn client(&self, client_id: &str) -> Result<Option<ClientRecord>, StoreError> {
        dispatch!(self, s => s.client(client_id).await)
    }
    async fn mark_client_used(&self, client_id: &str) -> Result<(), StoreError> {
        dispatch!(self, s => s.mark_client_used(client_id).await)
    }
    async fn prune_unused_clients(
        &self,
        registered_before: u64,
        max_unused: usize,
    ) -> Result<usize, StoreError> {
        dispatch!(self, s => s.prune_unused_clients(registered_before, max_unused).await)
    }
}

impl PendingStore for Backend {
    async fn insert_pending(
        &self,
        pending: PendingAuthorization,
        now: UnixTime,
    ) -> Result<(), StoreError> {
        dispatch!(self, s => s.insert_pending(pending, now).await)
    }
    async fn pending(
        &self,
        id: &str,
        now: UnixTime,
    ) -> Result<Option<PendingAuthorization>, StoreError> {
        dispatch!(self, s => s.pending(id, now).await)
    }
    async fn take_pending(
        &self,
        id: &str,
        now: UnixTime,
    ) -> Result<Option<PendingAuthorization>, StoreError> {
        dispatch!(self, s => s.take_pending(id, now).await)
    }
}

impl CodeStore for Backend {
    async fn insert_code(&self, code: CodeRecord, now: UnixTime) -> Result<(), StoreError> {
        dispatch!(self, s => s.insert_code(code, now).await)
    }
    async fn take_code(
        &self,
        code_hash: &SecretHash,
        now: UnixTime,
    ) -> Result<CodeTake, StoreError> {
        dispatch!(self, s => s.take_code(code_hash, now).await)
    }
    async fn record_code_access_token(
        &self,
        code_hash: &SecretHash,
        token: IssuedAccessToken,
    ) -> Result<(), StoreError> {
        dispatch!(self, s => s.record_code_access_token(code_hash, token).await)
    }
}

impl RefreshStore for Backend {
    async fn insert_family(&self, family: RefreshFamily, now: UnixTime) -> Result<(), StoreError> {
        dispatch!(self, s => s.insert_family(family, now).await)
    }
    async fn family(
        &self,
        family_id: &str,
        now: UnixTime,
    ) -> Result<Option<RefreshFamily>, StoreError> {
        dispatch!(self, s => s.family(family_id, now).await)
    }
    async fn rotate_refresh(
        &self,
        family_id: &str,
        presented: &SecretHash,
        rotation: Rotation,
        now: UnixTime,
    ) -> Result<RotateOutcome, StoreError> {
        dispatch!(self, s => s.rotate_refresh(family_id, presented, rotation, now).await)
    }
    async fn revoke_family(&self, family_id: &str) -> Result<(), StoreError> {
        dispatch!(self, s => s.revoke_family(family_id).await)
    }
    async fn revoke_families_of(
        &self,
        owner: GrantOwner<'_>,
        now: UnixTime,
    ) -> Result<Vec<String>, StoreError> {
        dispatch!(self, s => s.revoke_families_of(owner, now).await)
    }
}

impl RevocationStore for Backend {
    async fn revoke_jti(
        &self,
        jti: &str,
        expires_at: u64,
        now: UnixTime,
    ) -> Result<(), StoreError> {
        dispatch!(self, s => s.revoke_jti(jti, expires_at, now).await)
    }
    async fn is_jti_revoked(&self, jti: &str, now: UnixTime) -> Result<bool, StoreError> {
        dispatch!(self, s => s.is_jti_revoked(jti, now).await)
    }
    async fn revoke_access_family(
        &self,
        family: &str,
        expires_at: u64,
        now: UnixTime,
    ) -> Result<(), StoreError> {
        dispatch!(self, s => s.revoke_access_family(family, expires_at, now).await)
    }
    async fn is_access_token_revoked(
        &self,
        jti: &str,
        family: Option<&str>,
        now: UnixTime,
    ) -> Result<bool, StoreError> {
        dispatch!(self, s => s.is_access_token_revoked(jti, family, now).await)
    }
}

/// The key set the server signs and verifies with, replaceable while it runs
/// (instances on a shared store reload it to pick up `keys rotate`).
#[derive(Debug)]
pub struct SharedKeys {
    current: RwLock<Arc<KeySet>>,
    last_reload: Mutex<Option<Instant>>,
}

/// Shortest interval between two reloads triggered by tokens with an unknown
/// `kid` (a flood of forged `kid`s costs at most one reload per interval).
pub const KEY_RELOAD_MIN_INTERVAL: Duration = Duration::from_secs(5);

/// Interval of the periodic key reload on a shared store.
pub const KEY_RELOAD_INTERVAL: Duration = Duration::from_secs(30);

impl SharedKeys {
    /// Start with `keys`.
    pub fn new(keys: KeySet) -> SharedKeys {
        SharedKeys {
            current: RwLock::new(Arc::new(keys)),
            last_reload: Mutex::new(None),
        }
    }

    /// The current key set.
    pub fn get(&self) -> Arc<KeySet> {
        match self.current.read() {
            Ok(k) => k.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        }
    }

    /// Replace the key set.
    pub fn set(&self, keys: KeySet) {
        let keys = Arc::new(keys);
        match self.current.write() {
            Ok(mut k) => *k = keys,
            Err(poisoned) => *poisoned.into_inner() = keys,
        }
    }

    /// Whether a reload may run now (at most one per
    /// [`KEY_RELOAD_MIN_INTERVAL`]); records it if so.
    pub fn reload_allowed(&self) -> bool {
        let Ok(mut last) = self.last_reload.lock() else {
            return false;
        };
        let now = Instant::now();
        if last.is_some_and(|t| now.duration_since(t) < KEY_RELOAD_MIN_INTERVAL) {
            return false;
        }
        *last = Some(now);
        true
    }
}

/// Load the key set from `store` (creating the first key if none is active,
/// under the key lock) and install it in `keys`. Blocking.
pub fn reload_keys(store: &Backend, keys: &SharedKeys, access_ttl: u64) -> Result<(), String> {
    let now = crate::env::now().map(|t| t.secs()).unwrap_or(0);
    let set = store
        .with_key_lock(|| crate::keys::load_or_create(store, access_ttl, now))
        .map_err(|e| e.to_string())?
        .map_err(|e| e.to_string())?;
    let changed = keys.get().active_kid() != set.active_kid()
        || keys.get().verifying_keys().len() != set.verifying_keys().len();
    if changed {
        tracing::info!(active = ?set.active_kid(), "signing keys reloaded from the store");
    }
    keys.set(set);
    Ok(())
}
