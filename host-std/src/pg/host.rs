//! [`HostStore`] on PostgreSQL: the SQL of the host's own records and
//! operator commands (the users and signing-key tables, client listing and
//! removal, the fleet-wide key lock) and the purge of expired rows.

use std::future::Future;

use mcpauth_core::store::rules::TOMBSTONE_GRACE_SECS;
use mcpauth_core::store::{ClientRecord, StoreError};
use serde::de::DeserializeOwned;

use super::pool::{FallbackRuntime, OpError, connect_one, dec, from_db, schema_key, to_db};
use super::{LOCK_NAMESPACE, PgStore, SWEEP_BATCH, SWEEP_PENDING};
use crate::backend::HostStore;
use crate::revocation::RevocationGeneration;

/// Which host table [`HostStore::kv_get`] and friends address.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KvTable {
    /// `users` (key: username).
    Users,
    /// `signing_keys` (key: kid).
    Keys,
}

impl KvTable {
    fn sql(self) -> (&'static str, &'static str) {
        match self {
            KvTable::Users => ("users", "username"),
            KvTable::Keys => ("signing_keys", "kid"),
        }
    }
}

impl HostStore for PgStore {
    /// Several instances may share the schema.
    fn is_shared(&self) -> bool {
        true
    }

    fn revocation_generation(&self) -> &RevocationGeneration {
        &self.inner.revocations
    }

    fn describe(&self) -> String {
        format!(
            "PostgreSQL {} (schema {})",
            self.options().target(),
            self.options().schema
        )
    }

    /// One JSON record of a key-value table.
    fn kv_get<T: DeserializeOwned>(
        &self,
        table: KvTable,
        key: &str,
    ) -> Result<Option<T>, StoreError> {
        let (t, k) = table.sql();
        self.block_on(self.op("kv get", async {
            let c = self.conn().await?;
            let stmt = c
                .prepare_cached(&format!("SELECT record FROM {t} WHERE {k} = $1"))
                .await?;
            match c.query_opt(&stmt, &[&key]).await? {
                Some(row) => Ok(Some(dec(row.get::<_, &[u8]>(0))?)),
                None => Ok(None),
            }
        }))
    }

    /// Every JSON record of a key-value table, ordered by key.
    fn kv_all<T: DeserializeOwned>(&self, table: KvTable) -> Result<Vec<T>, StoreError> {
        let (t, k) = table.sql();
        self.block_on(self.op("kv list", async {
            let c = self.conn().await?;
            let rows = c
                .query(&format!("SELECT record FROM {t} ORDER BY {k}"), &[])
                .await?;
            rows.iter().map(|r| dec(r.get::<_, &[u8]>(0))).collect()
        }))
    }

    /// How many rows a key-value table has.
    fn kv_count(&self, table: KvTable) -> Result<u64, StoreError> {
        let (t, _) = table.sql();
        self.block_on(self.op("kv count", async {
            let c = self.conn().await?;
            let row = c
                .query_one(&format!("SELECT count(*) FROM {t}"), &[])
                .await?;
            Ok(from_db(row.get::<_, i64>(0)))
        }))
    }

    /// Insert unless the key exists; returns whether it was inserted.
    fn kv_insert_new(
        &self,
        table: KvTable,
        key: &str,
        record: Vec<u8>,
    ) -> Result<bool, StoreError> {
        let (t, k) = table.sql();
        self.block_on(self.op("kv insert", async {
            let c = self.conn().await?;
            let n = c
                .execute(
                    &format!(
                        "INSERT INTO {t} ({k}, record) VALUES ($1, $2) ON CONFLICT ({k}) DO NOTHING"
                    ),
                    &[&key, &record],
                )
                .await?;
            Ok(n == 1)
        }))
    }

    /// Insert or replace several rows in one transaction.
    fn kv_put(&self, table: KvTable, rows: Vec<(String, Vec<u8>)>) -> Result<(), StoreError> {
        let (t, k) = table.sql();
        self.block_on(self.op("kv put", async {
            let mut c = self.conn().await?;
            let tx = c.transaction().await?;
            let stmt = tx
                .prepare(&format!(
                    "INSERT INTO {t} ({k}, record) VALUES ($1, $2)
                     ON CONFLICT ({k}) DO UPDATE SET record = EXCLUDED.record"
                ))
                .await?;
            for (key, record) in &rows {
                tx.execute(&stmt, &[key, record]).await?;
            }
            tx.commit().await?;
            Ok(())
        }))
    }

    /// Delete a row; returns whether it existed.
    fn kv_remove(&self, table: KvTable, key: &str) -> Result<bool, StoreError> {
        let (t, k) = table.sql();
        self.block_on(self.op("kv remove", async {
            let c = self.conn().await?;
            let n = c
                .execute(&format!("DELETE FROM {t} WHERE {k} = $1"), &[&key])
                .await?;
            Ok(n == 1)
        }))
    }

    /// Every registered client, ordered by id.
    fn clients(&self) -> Result<Vec<ClientRecord>, StoreError> {
        self.block_on(self.op("list clients", async {
            let c = self.conn().await?;
            let rows = c
                .query("SELECT record FROM clients ORDER BY client_id", &[])
                .await?;
            rows.iter().map(|r| dec(r.get::<_, &[u8]>(0))).collect()
        }))
    }

    /// Remove a client; returns whether it existed.
    fn remove_client_blocking(&self, client_id: &str) -> Result<bool, StoreError> {
        self.block_on(self.op("remove client", async {
            let c = self.conn().await?;
            let n = c
                .execute("DELETE FROM clients WHERE client_id = $1", &[&client_id])
                .await?;
            Ok(n == 1)
        }))
    }

    /// Delete expired pending requests, codes (after their tombstone
    /// grace), dead refresh families and expired revocations, in batches
    /// that skip rows a request holds. Returns how many rows went.
    async fn sweep(&self, now: u64) -> Result<usize, StoreError> {
        // The SQL mirrors the core's retention rules (`pending_is_live`,
        // `code_is_retained`, `family_is_retained`, revocations kept until
        // they expire), as batch deletes.
        let now = to_db(now);
        let codes = format!(
            "DELETE FROM codes WHERE code_hash IN (SELECT code_hash FROM codes WHERE expires_at <= $1 AND (NOT redeemed OR expires_at <= $1 - {TOMBSTONE_GRACE_SECS}) LIMIT $2 FOR UPDATE SKIP LOCKED)"
        );
        let statements: [(&str, i64); 5] = [
            (SWEEP_PENDING, now),
            (&codes, now),
            (
                "DELETE FROM refresh_families WHERE family_id IN (SELECT family_id FROM refresh_families WHERE family_expires_at <= $1 OR current_expires_at <= $1 LIMIT $2 FOR UPDATE SKIP LOCKED)",
                now,
            ),
            (
                "DELETE FROM revoked_jti WHERE jti IN (SELECT jti FROM revoked_jti WHERE expires_at <= $1 LIMIT $2 FOR UPDATE SKIP LOCKED)",
                now,
            ),
            (
                "DELETE FROM revoked_access_families WHERE family IN (SELECT family FROM revoked_access_families WHERE expires_at <= $1 LIMIT $2 FOR UPDATE SKIP LOCKED)",
                now,
            ),
        ];
        let mut removed = 0usize;
        for (sql, cutoff) in statements {
            loop {
                let n = self
                    .op("sweep", async {
                        let c = self.conn().await?;
                        Ok(c.execute(sql, &[&cutoff, &SWEEP_BATCH]).await?)
                    })
                    .await?;
                removed += n as usize;
                if n < SWEEP_BATCH as u64 {
                    break;
                }
                tokio::task::yield_now().await;
            }
        }
        Ok(removed)
    }

    /// Run a store operation to completion from synchronous code: on a
    /// thread of a multi-thread tokio runtime (workers or blocking pool)
    /// through that runtime, elsewhere on a private one kept for this store.
    fn block_on<T>(&self, f: impl Future<Output = Result<T, StoreError>>) -> Result<T, StoreError> {
        match tokio::runtime::Handle::try_current() {
            Ok(handle) => tokio::task::block_in_place(|| handle.block_on(f)),
            Err(_) => {
                let rt = self.inner.fallback.get_or_init(|| {
                    FallbackRuntime(
                        tokio::runtime::Builder::new_multi_thread()
                            .worker_threads(1)
                            .thread_name("mcpauth-pg")
                            .enable_all()
                            .build()
                            .ok(),
                    )
                });
                match &rt.0 {
                    Some(rt) => rt.block_on(f),
                    None => {
                        tracing::error!("cannot start a runtime for the PostgreSQL store");
                        Err(StoreError::Unavailable)
                    }
                }
            }
        }
    }

    /// Hold a fleet-wide lock (a PostgreSQL session advisory lock on a
    /// dedicated connection) while `f` runs: used around signing-key creation
    /// and rotation so that two instances never both create an active key.
    /// Blocking; call it from synchronous code.
    fn with_key_lock<T>(&self, f: impl FnOnce() -> T) -> Result<T, StoreError> {
        let key = schema_key(&self.inner.options.schema, 2);
        let options = self.inner.options.clone();
        let client = self.block_on(self.op("key lock", async move {
            let client = tokio::time::timeout(options.op_timeout, connect_one(&options))
                .await
                .map_err(|_| OpError::Timeout)??;
            client
                .execute("SELECT pg_advisory_lock($1, $2)", &[&LOCK_NAMESPACE, &key])
                .await?;
            Ok(client)
        }))?;
        let out = f();
        // Closing the session releases the lock even if the unlock fails.
        let _ = self.block_on(async move {
            let _ = client
                .execute(
                    "SELECT pg_advisory_unlock($1, $2)",
                    &[&LOCK_NAMESPACE, &key],
                )
                .await;
            drop(client);
            Ok(())
        });
        Ok(out)
    }

    /// Close the pool (later operations fail with `Unavailable`).
    fn close(&self) {
        self.inner.pool.close();
    }
}

impl PgStore {
    /// Drop the whole schema (tests clean up with it). Irreversible.
    pub async fn drop_schema(&self) -> Result<(), StoreError> {
        let schema = self.options().schema.clone();
        self.op("drop schema", async {
            let c = self.conn().await?;
            c.batch_execute(&format!("DROP SCHEMA IF EXISTS {schema} CASCADE"))
                .await?;
            Ok(())
        })
        .await
    }
}
