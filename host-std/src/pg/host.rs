//! The SQL of the host's own records and operator commands: the users and
//! signing-key tables, client listing and removal, and the purge of expired
//! rows.

use mcpauth_core::store::rules::TOMBSTONE_GRACE_SECS;
use mcpauth_core::store::{ClientRecord, StoreError};

use super::pool::{dec, from_db, to_db};
use super::{PgStore, SWEEP_BATCH, SWEEP_PENDING};

/// Which key-value table [`PgStore::kv_get`] and friends address.
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

impl PgStore {
    /// One JSON record of a key-value table.
    pub async fn kv_get<T: for<'de> serde::Deserialize<'de>>(
        &self,
        table: KvTable,
        key: &str,
    ) -> Result<Option<T>, StoreError> {
        let (t, k) = table.sql();
        self.op("kv get", async {
            let c = self.conn().await?;
            let stmt = c
                .prepare_cached(&format!("SELECT record FROM {t} WHERE {k} = $1"))
                .await?;
            match c.query_opt(&stmt, &[&key]).await? {
                Some(row) => Ok(Some(dec(row.get::<_, &[u8]>(0))?)),
                None => Ok(None),
            }
        })
        .await
    }

    /// Every JSON record of a key-value table, ordered by key.
    pub async fn kv_all<T: for<'de> serde::Deserialize<'de>>(
        &self,
        table: KvTable,
    ) -> Result<Vec<T>, StoreError> {
        let (t, k) = table.sql();
        self.op("kv list", async {
            let c = self.conn().await?;
            let rows = c
                .query(&format!("SELECT record FROM {t} ORDER BY {k}"), &[])
                .await?;
            rows.iter().map(|r| dec(r.get::<_, &[u8]>(0))).collect()
        })
        .await
    }

    /// How many rows a key-value table has.
    pub async fn kv_count(&self, table: KvTable) -> Result<u64, StoreError> {
        let (t, _) = table.sql();
        self.op("kv count", async {
            let c = self.conn().await?;
            let row = c
                .query_one(&format!("SELECT count(*) FROM {t}"), &[])
                .await?;
            Ok(from_db(row.get::<_, i64>(0)))
        })
        .await
    }

    /// Insert unless the key exists; returns whether it was inserted.
    pub async fn kv_insert_new(
        &self,
        table: KvTable,
        key: &str,
        record: &[u8],
    ) -> Result<bool, StoreError> {
        let (t, k) = table.sql();
        self.op("kv insert", async {
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
        })
        .await
    }

    /// Insert or replace several rows in one transaction.
    pub async fn kv_put(
        &self,
        table: KvTable,
        rows: &[(String, Vec<u8>)],
    ) -> Result<(), StoreError> {
        let (t, k) = table.sql();
        self.op("kv put", async {
            let mut c = self.conn().await?;
            let tx = c.transaction().await?;
            let stmt = tx
                .prepare(&format!(
                    "INSERT INTO {t} ({k}, record) VALUES ($1, $2)
                     ON CONFLICT ({k}) DO UPDATE SET record = EXCLUDED.record"
                ))
                .await?;
            for (key, record) in rows {
                tx.execute(&stmt, &[key, record]).await?;
            }
            tx.commit().await?;
            Ok(())
        })
        .await
    }

    /// Delete a row; returns whether it existed.
    pub async fn kv_remove(&self, table: KvTable, key: &str) -> Result<bool, StoreError> {
        let (t, k) = table.sql();
        self.op("kv remove", async {
            let c = self.conn().await?;
            let n = c
                .execute(&format!("DELETE FROM {t} WHERE {k} = $1"), &[&key])
                .await?;
            Ok(n == 1)
        })
        .await
    }

    /// Every registered client, ordered by id.
    pub async fn clients(&self) -> Result<Vec<ClientRecord>, StoreError> {
        self.op("list clients", async {
            let c = self.conn().await?;
            let rows = c
                .query("SELECT record FROM clients ORDER BY client_id", &[])
                .await?;
            rows.iter().map(|r| dec(r.get::<_, &[u8]>(0))).collect()
        })
        .await
    }

    /// Remove a client; returns whether it existed.
    pub async fn remove_client(&self, client_id: &str) -> Result<bool, StoreError> {
        self.op("remove client", async {
            let c = self.conn().await?;
            let n = c
                .execute("DELETE FROM clients WHERE client_id = $1", &[&client_id])
                .await?;
            Ok(n == 1)
        })
        .await
    }

    /// Delete expired pending requests, codes (after their tombstone
    /// grace), dead refresh families and expired revocations, in batches
    /// that skip rows a request holds. Returns how many rows went.
    pub async fn sweep(&self, now: u64) -> Result<usize, StoreError> {
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
