//! [`HostStore`] on redb: the host's tables (users, signing keys), operator
//! commands, the purge and shutdown.

use std::future::Future;

use mcpauth_core::store::{ClientRecord, StoreError};
use redb::{ReadableTable, TableDefinition};
use serde::de::DeserializeOwned;

use super::store::forget_unused;
use super::{CLIENTS, Db, KEYS, SWEEP_BATCH, USERS, store, unavailable};
use crate::backend::{HostStore, KvTable};
use crate::revocation::RevocationGeneration;

fn table(t: KvTable) -> TableDefinition<'static, &'static str, &'static [u8]> {
    match t {
        KvTable::Users => USERS,
        KvTable::Keys => KEYS,
    }
}

impl HostStore for Db {
    /// One process: nothing else writes this database.
    fn is_shared(&self) -> bool {
        false
    }

    fn revocation_generation(&self) -> &RevocationGeneration {
        &self.inner.revocations
    }

    fn describe(&self) -> String {
        format!("{self:?}")
    }

    fn kv_get<T: DeserializeOwned>(&self, t: KvTable, key: &str) -> Result<Option<T>, StoreError> {
        self.get_json(table(t), key)
    }

    fn kv_all<T: DeserializeOwned>(&self, t: KvTable) -> Result<Vec<T>, StoreError> {
        self.all_json(table(t))
    }

    fn kv_count(&self, t: KvTable) -> Result<u64, StoreError> {
        self.count(table(t))
    }

    fn kv_insert_new(&self, t: KvTable, key: &str, record: Vec<u8>) -> Result<bool, StoreError> {
        let key = key.to_owned();
        self.write_blocking(move |txn| {
            let mut rows = txn.open_table(table(t)).map_err(unavailable)?;
            if rows.get(key.as_str()).map_err(unavailable)?.is_some() {
                return Ok(false);
            }
            rows.insert(key.as_str(), record.as_slice())
                .map_err(unavailable)?;
            Ok(true)
        })
    }

    fn kv_put(&self, t: KvTable, records: Vec<(String, Vec<u8>)>) -> Result<(), StoreError> {
        self.write_blocking(move |txn| {
            let mut rows = txn.open_table(table(t)).map_err(unavailable)?;
            for (key, record) in &records {
                rows.insert(key.as_str(), record.as_slice())
                    .map_err(unavailable)?;
            }
            Ok(())
        })
    }

    fn kv_remove(&self, t: KvTable, key: &str) -> Result<bool, StoreError> {
        let key = key.to_owned();
        self.write_blocking(move |txn| {
            let mut rows = txn.open_table(table(t)).map_err(unavailable)?;
            Ok(rows.remove(key.as_str()).map_err(unavailable)?.is_some())
        })
    }

    fn clients(&self) -> Result<Vec<ClientRecord>, StoreError> {
        self.all_json(CLIENTS)
    }

    fn remove_client_blocking(&self, client_id: &str) -> Result<bool, StoreError> {
        let id = client_id.to_owned();
        self.write_blocking(move |txn| {
            forget_unused(txn, &id)?;
            let mut t = txn.open_table(CLIENTS).map_err(unavailable)?;
            Ok(t.remove(id.as_str()).map_err(unavailable)?.is_some())
        })
    }

    /// The writer thread does the work; any executor can wait for it.
    fn block_on<T>(&self, f: impl Future<Output = Result<T, StoreError>>) -> Result<T, StoreError> {
        tokio::runtime::Builder::new_current_thread()
            .build()
            .map_err(|_| StoreError::Unavailable)?
            .block_on(f)
    }

    /// One process: every key change goes through the single writer.
    fn with_key_lock<T>(&self, f: impl FnOnce() -> T) -> Result<T, StoreError> {
        Ok(f())
    }

    /// Delete expired pending requests, codes, revocations and families,
    /// at most [`SWEEP_BATCH`] rows per table and transaction, until none is
    /// left.
    async fn sweep(&self, now: u64) -> Result<usize, StoreError> {
        let mut removed = 0;
        loop {
            let (n, more) = self
                .write(move |txn| store::sweep_batch(txn, now, SWEEP_BATCH))
                .await?;
            removed += n;
            if !more {
                break;
            }
        }
        self.inner.revoked.retain_unexpired(now);
        self.inner.revoked_families.retain_unexpired(now);
        Ok(removed)
    }

    /// Stop the writer after the queued writes are committed. Idempotent.
    fn close(&self) {
        if let Ok(mut w) = self.inner.writer.lock() {
            w.take();
        }
        let handle = self.inner.thread.lock().ok().and_then(|mut t| t.take());
        if let Some(h) = handle {
            let _ = h.join();
        }
    }
}
