//! The store the server runs on: the embedded redb database (default) or
//! PostgreSQL (`--store postgres://…`, for several instances behind one
//! public URL). [`Backend`] implements the core's store traits by
//! dispatching to either, plus the few host records (users, signing keys)
//! and operator commands both need.

use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

use mcpauth_core::jose::KeySet;
use mcpauth_core::store::{
    ClientRecord, ClientStore, CodeRecord, CodeStore, CodeTake, GrantOwner, IssuedAccessToken,
    PendingAuthorization, PendingStore, RefreshFamily, RefreshStore, RevocationStore,
    RotateOutcome, Rotation, SecretHash, StoreError,
};
use mcpauth_core::time::UnixTime;
use redb::ReadableTable;

use crate::db::{Db, KEYS, USERS, unavailable};
pub use crate::pg::KvTable;
use crate::pg::{PgOptions, PgStore, is_postgres_url};
use crate::revocation::RevocationGeneration;

/// Either store. Cheap to clone.
#[derive(Debug, Clone)]
pub enum Backend {
    /// The embedded database in the data directory (one process).
    Redb(Db),
    /// A shared PostgreSQL schema (any number of instances).
    Postgres(PgStore),
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

    /// Whether other instances may share this store (keys can change under
    /// us, revocations can come from elsewhere).
    pub fn is_shared(&self) -> bool {
        matches!(self, Backend::Postgres(_))
    }

    /// Bumped on every revocation through this instance: when a cached
    /// token's revocation check can be reused ([`crate::revocation`]).
    pub fn revocation_generation(&self) -> &RevocationGeneration {
        match self {
            Backend::Redb(db) => db.revocation_generation(),
            Backend::Postgres(pg) => pg.revocation_generation(),
        }
    }

    /// A one-line description for the banner (no credentials).
    pub fn describe(&self) -> String {
        match self {
            Backend::Redb(db) => format!("{db:?}"),
            Backend::Postgres(pg) => format!(
                "PostgreSQL {} (schema {})",
                pg.options().target(),
                pg.options().schema
            ),
        }
    }

    /// One record of a host table (users, keys). Blocking.
    pub fn kv_get<T: for<'de> serde::Deserialize<'de>>(
        &self,
        table: KvTable,
        key: &str,
    ) -> Result<Option<T>, StoreError> {
        match self {
            Backend::Redb(db) => db.get_json(redb_table(table), key),
            Backend::Postgres(pg) => pg.block_on(pg.kv_get(table, key)),
        }
    }

    /// Every record of a host table. Blocking.
    pub fn kv_all<T: for<'de> serde::Deserialize<'de>>(
        &self,
        table: KvTable,
    ) -> Result<Vec<T>, StoreError> {
        match self {
            Backend::Redb(db) => db.all_json(redb_table(table)),
            Backend::Postgres(pg) => pg.block_on(pg.kv_all(table)),
        }
    }

    /// Number of records of a host table. Blocking.
    pub fn kv_count(&self, table: KvTable) -> Result<u64, StoreError> {
        match self {
            Backend::Redb(db) => db.count(redb_table(table)),
            Backend::Postgres(pg) => pg.block_on(pg.kv_count(table)),
        }
    }

    /// Insert unless `key` exists; whether it was inserted. Blocking.
    pub fn kv_insert_new(
        &self,
        table: KvTable,
        key: &str,
        record: Vec<u8>,
    ) -> Result<bool, StoreError> {
        match self {
            Backend::Redb(db) => {
                let key = key.to_owned();
                db.write_blocking(move |txn| {
                    let mut t = txn.open_table(redb_table(table)).map_err(unavailable)?;
                    if t.get(key.as_str()).map_err(unavailable)?.is_some() {
                        return Ok(false);
                    }
                    t.insert(key.as_str(), record.as_slice())
                        .map_err(unavailable)?;
                    Ok(true)
                })
            }
            Backend::Postgres(pg) => pg.block_on(pg.kv_insert_new(table, key, &record)),
        }
    }

    /// Insert or replace records, all or none. Blocking.
    pub fn kv_put(&self, table: KvTable, rows: Vec<(String, Vec<u8>)>) -> Result<(), StoreError> {
        match self {
            Backend::Redb(db) => db.write_blocking(move |txn| {
                let mut t = txn.open_table(redb_table(table)).map_err(unavailable)?;
                for (key, record) in &rows {
                    t.insert(key.as_str(), record.as_slice())
                        .map_err(unavailable)?;
                }
                Ok(())
            }),
            Backend::Postgres(pg) => pg.block_on(pg.kv_put(table, &rows)),
        }
    }

    /// Delete a record; whether it existed. Blocking.
    pub fn kv_remove(&self, table: KvTable, key: &str) -> Result<bool, StoreError> {
        match self {
            Backend::Redb(db) => {
                let key = key.to_owned();
                db.write_blocking(move |txn| {
                    let mut t = txn.open_table(redb_table(table)).map_err(unavailable)?;
                    Ok(t.remove(key.as_str()).map_err(unavailable)?.is_some())
                })
            }
            Backend::Postgres(pg) => pg.block_on(pg.kv_remove(table, key)),
        }
    }

    /// Every registered client. Blocking.
    pub fn clients(&self) -> Result<Vec<ClientRecord>, StoreError> {
        match self {
            Backend::Redb(db) => db.clients(),
            Backend::Postgres(pg) => pg.block_on(pg.clients()),
        }
    }

    /// Remove a client; whether it existed. Blocking.
    pub fn remove_client_blocking(&self, client_id: &str) -> Result<bool, StoreError> {
        match self {
            Backend::Redb(db) => db.remove_client_blocking(client_id),
            Backend::Postgres(pg) => pg.block_on(pg.remove_client(client_id)),
        }
    }

    /// Revoke every grant of `owner` and all their access tokens (an
    /// operator removed the client or the user); how many grants. Blocking.
    pub fn revoke_grants_of_blocking(
        &self,
        owner: GrantOwner<'_>,
        access_token_ttl: u64,
    ) -> Result<usize, StoreError> {
        let now = crate::env::now().ok_or(StoreError::Unavailable)?;
        let revoke = mcpauth_core::oauth::revoke_grants_of(self, owner, access_token_ttl, now);
        match self {
            Backend::Postgres(pg) => pg.block_on(revoke),
            // The redb writer thread does the work; any executor can wait.
            Backend::Redb(_) => tokio::runtime::Builder::new_current_thread()
                .build()
                .map_err(|_| StoreError::Unavailable)?
                .block_on(revoke),
        }
    }

    /// Run `f` while holding the key lock: fleet-wide for PostgreSQL (so two
    /// instances never both create or rotate the active key), a no-op for
    /// redb (one process). Blocking.
    pub fn with_key_lock<T>(&self, f: impl FnOnce() -> T) -> Result<T, StoreError> {
        match self {
            Backend::Redb(_) => Ok(f()),
            Backend::Postgres(pg) => pg.with_key_lock(f),
        }
    }

    /// Delete expired records.
    pub async fn sweep(&self, now: u64) -> Result<usize, StoreError> {
        match self {
            Backend::Redb(db) => db.sweep(now).await,
            Backend::Postgres(pg) => pg.sweep(now).await,
        }
    }

    /// Close the store (redb: finish queued writes; PostgreSQL: close the
    /// pool).
    pub fn close(&self) {
        match self {
            Backend::Redb(db) => db.close(),
            Backend::Postgres(pg) => pg.close(),
        }
    }
}

fn redb_table(t: KvTable) -> redb::TableDefinition<'static, &'static str, &'static [u8]> {
    match t {
        KvTable::Users => USERS,
        KvTable::Keys => KEYS,
    }
}

impl ClientStore for Backend {
    async fn insert_client(&self, client: ClientRecord) -> Result<(), StoreError> {
        match self {
            Backend::Redb(d) => d.insert_client(client).await,
            Backend::Postgres(p) => p.insert_client(client).await,
        }
    }

    async fn client(&self, client_id: &str) -> Result<Option<ClientRecord>, StoreError> {
        match self {
            Backend::Redb(d) => d.client(client_id).await,
            Backend::Postgres(p) => p.client(client_id).await,
        }
    }

    async fn mark_client_used(&self, client_id: &str) -> Result<(), StoreError> {
        match self {
            Backend::Redb(d) => d.mark_client_used(client_id).await,
            Backend::Postgres(p) => p.mark_client_used(client_id).await,
        }
    }

    async fn prune_unused_clients(
        &self,
        registered_before: u64,
        max_unused: usize,
    ) -> Result<usize, StoreError> {
        match self {
            Backend::Redb(d) => d.prune_unused_clients(registered_before, max_unused).await,
            Backend::Postgres(p) => p.prune_unused_clients(registered_before, max_unused).await,
        }
    }
}

impl PendingStore for Backend {
    async fn insert_pending(
        &self,
        pending: PendingAuthorization,
        now: UnixTime,
    ) -> Result<(), StoreError> {
        match self {
            Backend::Redb(d) => d.insert_pending(pending, now).await,
            Backend::Postgres(p) => p.insert_pending(pending, now).await,
        }
    }

    async fn pending(
        &self,
        id: &str,
        now: UnixTime,
    ) -> Result<Option<PendingAuthorization>, StoreError> {
        match self {
            Backend::Redb(d) => d.pending(id, now).await,
            Backend::Postgres(p) => p.pending(id, now).await,
        }
    }

    async fn take_pending(
        &self,
        id: &str,
        now: UnixTime,
    ) -> Result<Option<PendingAuthorization>, StoreError> {
        match self {
            Backend::Redb(d) => d.take_pending(id, now).await,
            Backend::Postgres(p) => p.take_pending(id, now).await,
        }
    }
}

impl CodeStore for Backend {
    async fn insert_code(&self, code: CodeRecord, now: UnixTime) -> Result<(), StoreError> {
        match self {
            Backend::Redb(d) => d.insert_code(code, now).await,
            Backend::Postgres(p) => p.insert_code(code, now).await,
        }
    }

    async fn take_code(
        &self,
        code_hash: &SecretHash,
        now: UnixTime,
    ) -> Result<CodeTake, StoreError> {
        match self {
            Backend::Redb(d) => d.take_code(code_hash, now).await,
            Backend::Postgres(p) => p.take_code(code_hash, now).await,
        }
    }

    async fn record_code_access_token(
        &self,
        code_hash: &SecretHash,
        token: IssuedAccessToken,
    ) -> Result<(), StoreError> {
        match self {
            Backend::Redb(d) => d.record_code_access_token(code_hash, token).await,
            Backend::Postgres(p) => p.record_code_access_token(code_hash, token).await,
        }
    }
}

impl RefreshStore for Backend {
    async fn insert_family(&self, family: RefreshFamily, now: UnixTime) -> Result<(), StoreError> {
        match self {
            Backend::Redb(d) => d.insert_family(family, now).await,
            Backend::Postgres(p) => p.insert_family(family, now).await,
        }
    }

    async fn family(
        &self,
        family_id: &str,
        now: UnixTime,
    ) -> Result<Option<RefreshFamily>, StoreError> {
        match self {
            Backend::Redb(d) => d.family(family_id, now).await,
            Backend::Postgres(p) => p.family(family_id, now).await,
        }
    }

    async fn rotate_refresh(
        &self,
        family_id: &str,
        presented: &SecretHash,
        rotation: Rotation,
        now: UnixTime,
    ) -> Result<RotateOutcome, StoreError> {
        match self {
            Backend::Redb(d) => d.rotate_refresh(family_id, presented, rotation, now).await,
            Backend::Postgres(p) => p.rotate_refresh(family_id, presented, rotation, now).await,
        }
    }

    async fn revoke_family(&self, family_id: &str) -> Result<(), StoreError> {
        match self {
            Backend::Redb(d) => d.revoke_family(family_id).await,
            Backend::Postgres(p) => p.revoke_family(family_id).await,
        }
    }

    async fn revoke_families_of(
        &self,
        owner: GrantOwner<'_>,
        now: UnixTime,
    ) -> Result<Vec<String>, StoreError> {
        match self {
            Backend::Redb(d) => d.revoke_families_of(owner, now).await,
            Backend::Postgres(p) => p.revoke_families_of(owner, now).await,
        }
    }
}

impl RevocationStore for Backend {
    async fn revoke_jti(
        &self,
        jti: &str,
        expires_at: u64,
        now: UnixTime,
    ) -> Result<(), StoreError> {
        match self {
            Backend::Redb(d) => d.revoke_jti(jti, expires_at, now).await,
            Backend::Postgres(p) => p.revoke_jti(jti, expires_at, now).await,
        }
    }

    async fn is_jti_revoked(&self, jti: &str, now: UnixTime) -> Result<bool, StoreError> {
        match self {
            Backend::Redb(d) => d.is_jti_revoked(jti, now).await,
            Backend::Postgres(p) => p.is_jti_revoked(jti, now).await,
        }
    }

    async fn revoke_access_family(
        &self,
        family: &str,
        expires_at: u64,
        now: UnixTime,
    ) -> Result<(), StoreError> {
        match self {
            Backend::Redb(d) => d.revoke_access_family(family, expires_at, now).await,
            Backend::Postgres(p) => p.revoke_access_family(family, expires_at, now).await,
        }
    }

    async fn is_access_token_revoked(
        &self,
        jti: &str,
        family: Option<&str>,
        now: UnixTime,
    ) -> Result<bool, StoreError> {
        match self {
            Backend::Redb(d) => d.is_access_token_revoked(jti, family, now).await,
            Backend::Postgres(p) => p.is_access_token_revoked(jti, family, now).await,
        }
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

/// The `kid` in a compact JWS header, if readable.
pub fn token_kid(token: &str) -> Option<String> {
    mcpauth_core::jose::token_kid(token)
}
