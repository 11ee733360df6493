//! The core's store traits over PostgreSQL. Each method is one statement or
//! one transaction; the module docs of [`super`] explain the atomic rules.

use mcpauth_core::store::rules::{
    CodeEntry, CodeTakeDecision, family_is_readable, pending_is_live, rotate_family,
    take_code_entry,
};
use mcpauth_core::store::{
    ClientRecord, ClientStore, CodeRecord, CodeStore, CodeTake, GrantOwner, IssuedAccessToken,
    PendingAuthorization, PendingStore, RefreshFamily, RefreshStore, RevocationStore,
    RotateOutcome, Rotation, SecretHash, StoreError,
};
use mcpauth_core::time::UnixTime;
use tokio_postgres::Row;

use crate::backend::HostStore;

use super::{OpError, PgStore, SWEEP_BATCH, SWEEP_PENDING, dec, enc, from_db, to_db};

const FAMILY_COLUMNS: &str = "family_id, client_id, subject, resource, granted_scopes, scopes, \
     current_hash, current_issued_at, current_expires_at, family_expires_at, revoked";

fn hash_of(bytes: &[u8]) -> Result<SecretHash, OpError> {
    bytes
        .try_into()
        .map_err(|_| OpError::Decode("hash is not 32 bytes".into()))
}

fn family_of(row: &Row) -> Result<RefreshFamily, OpError> {
    Ok(RefreshFamily {
        family_id: row.try_get(0)?,
        client_id: row.try_get(1)?,
        subject: row.try_get(2)?,
        resource: row.try_get(3)?,
        granted_scopes: row.try_get(4)?,
        scopes: row.try_get(5)?,
        current_hash: hash_of(row.try_get(6)?)?,
        current_issued_at: from_db(row.try_get(7)?),
        current_expires_at: from_db(row.try_get(8)?),
        family_expires_at: from_db(row.try_get(9)?),
        revoked: row.try_get(10)?,
    })
}

impl ClientStore for PgStore {
    async fn insert_client(&self, client: ClientRecord) -> Result<(), StoreError> {
        self.op("insert client", async {
            let record = enc(&client)?;
            let c = self.conn().await?;
            let stmt = c
                .prepare_cached(
                    "INSERT INTO clients (client_id, record, issued_at, unused)
                     VALUES ($1, $2, $3, true)
                     ON CONFLICT (client_id) DO NOTHING",
                )
                .await?;
            let n = c
                .execute(
                    &stmt,
                    &[&client.client_id, &record, &to_db(client.issued_at)],
                )
                .await?;
            if n == 0 {
                return Err(StoreError::Duplicate.into());
            }
            Ok(())
        })
        .await
    }

    async fn client(&self, client_id: &str) -> Result<Option<ClientRecord>, StoreError> {
        self.op("read client", async {
            let c = self.conn().await?;
            let stmt = c
                .prepare_cached("SELECT record FROM clients WHERE client_id = $1")
                .await?;
            match c.query_opt(&stmt, &[&client_id]).await? {
                Some(row) => Ok(Some(dec(row.try_get::<_, &[u8]>(0)?)?)),
                None => Ok(None),
            }
        })
        .await
    }

    async fn mark_client_used(&self, client_id: &str) -> Result<(), StoreError> {
        self.op("mark client used", async {
            let c = self.conn().await?;
            let stmt = c
                .prepare_cached("UPDATE clients SET unused = false WHERE client_id = $1 AND unused")
                .await?;
            c.execute(&stmt, &[&client_id]).await?;
            Ok(())
        })
        .await
    }

    async fn prune_unused_clients(
        &self,
        registered_before: u64,
        max_unused: usize,
    ) -> Result<usize, StoreError> {
        let before = to_db(registered_before);
        let keep = i64::try_from(max_unused).unwrap_or(i64::MAX);
        self.op("prune unused clients", async {
            let c = self.conn().await?;
            // The unused rows past the newest `keep`, and every one older
            // than the cut-off (the partial index serves both).
            let stmt = c
                .prepare_cached(
                    "DELETE FROM clients WHERE client_id IN (
                         SELECT client_id FROM clients WHERE unused AND issued_at < $1
                         UNION
                         (SELECT client_id FROM clients WHERE unused
                          ORDER BY issued_at DESC, client_id DESC OFFSET $2)
                     )",
                )
                .await?;
            let n = c.execute(&stmt, &[&before, &keep]).await?;
            Ok(usize::try_from(n).unwrap_or(usize::MAX))
        })
        .await
    }
}

impl PendingStore for PgStore {
    async fn insert_pending(
        &self,
        pending: PendingAuthorization,
        now: UnixTime,
    ) -> Result<(), StoreError> {
        let capacity = to_db(self.options().pending_max);
        self.op("insert pending", async {
            let record = enc(&pending)?;
            let c = self.conn().await?;
            // The count and the insert are one statement; instances racing
            // at the bound may pass it by the few requests in flight.
            let insert = c
                .prepare_cached(
                    "INSERT INTO pending (id, record, expires_at)
                     SELECT $1::text, $2::bytea, $3::bigint WHERE (SELECT count(*) FROM pending) < $4::bigint
                     ON CONFLICT (id) DO NOTHING",
                )
                .await?;
            let params: [&(dyn tokio_postgres::types::ToSql + Sync); 4] =
                [&pending.id, &record, &to_db(pending.expires_at), &capacity];
            if c.execute(&insert, &params).await? == 1 {
                return Ok(());
            }
            let exists = c
                .prepare_cached("SELECT 1 FROM pending WHERE id = $1")
                .await?;
            if c.query_opt(&exists, &[&pending.id]).await?.is_some() {
                return Err(StoreError::Duplicate.into());
            }
            // Full: make room from expired requests (one batch), then try
            // once more.
            let freed = c
                .execute(SWEEP_PENDING, &[&to_db(now.secs()), &SWEEP_BATCH])
                .await?;
            if freed > 0 && c.execute(&insert, &params).await? == 1 {
                return Ok(());
            }
            Err(StoreError::Full.into())
        })
        .await
    }

    async fn pending(
        &self,
        id: &str,
        now: UnixTime,
    ) -> Result<Option<PendingAuthorization>, StoreError> {
        self.op("read pending", async {
            let c = self.conn().await?;
            let stmt = c
                .prepare_cached("SELECT record FROM pending WHERE id = $1")
                .await?;
            let Some(row) = c.query_opt(&stmt, &[&id]).await? else {
                return Ok(None);
            };
            let pending: PendingAuthorization = dec(row.try_get::<_, &[u8]>(0)?)?;
            Ok(pending_is_live(&pending, now.secs()).then_some(pending))
        })
        .await
    }

    async fn take_pending(
        &self,
        id: &str,
        now: UnixTime,
    ) -> Result<Option<PendingAuthorization>, StoreError> {
        self.op("take pending", async {
            let c = self.conn().await?;
            // Expired rows are removed on the way, like the memory store does.
            let stmt = c
                .prepare_cached("DELETE FROM pending WHERE id = $1 RETURNING record")
                .await?;
            let Some(row) = c.query_opt(&stmt, &[&id]).await? else {
                return Ok(None);
            };
            let pending: PendingAuthorization = dec(row.try_get::<_, &[u8]>(0)?)?;
            Ok(pending_is_live(&pending, now.secs()).then_some(pending))
        })
        .await
    }
}

impl CodeStore for PgStore {
    async fn insert_code(&self, code: CodeRecord, _now: UnixTime) -> Result<(), StoreError> {
        self.op("insert code", async {
            let record = enc(&code)?;
            let c = self.conn().await?;
            let stmt = c
                .prepare_cached(
                    "INSERT INTO codes (code_hash, record, grant_id, expires_at) VALUES ($1, $2, $3, $4)
                     ON CONFLICT (code_hash) DO NOTHING",
                )
                .await?;
            let n = c
                .execute(
                    &stmt,
                    &[
                        &&code.code_hash[..],
                        &record,
                        &code.grant_id,
                        &to_db(code.expires_at),
                    ],
                )
                .await?;
            if n == 0 {
                return Err(StoreError::Duplicate.into());
            }
            Ok(())
        })
        .await
    }

    async fn take_code(
        &self,
        code_hash: &SecretHash,
        now: UnixTime,
    ) -> Result<CodeTake, StoreError> {
        let now = now.secs();
        self.op("take code", async {
            let mut c = self.conn().await?;
            let tx = c.transaction().await?;
            // The row lock serialises redemptions of one code across the
            // fleet; under READ COMMITTED a waiter reads the row as the
            // winner committed it, so it sees `redeemed` and gets `Replayed`.
            let lock = tx
                .prepare_cached(
                    "SELECT record, redeemed, access_jti, access_expires_at
                     FROM codes WHERE code_hash = $1 FOR UPDATE",
                )
                .await?;
            let Some(row) = tx.query_opt(&lock, &[&&code_hash[..]]).await? else {
                return Ok(CodeTake::Unknown);
            };
            let jti: Option<String> = row.try_get(2)?;
            let access_expires_at: Option<i64> = row.try_get(3)?;
            let mut entry = CodeEntry {
                record: dec(row.try_get::<_, &[u8]>(0)?)?,
                redeemed: row.try_get(1)?,
                access_token: jti.map(|jti| IssuedAccessToken {
                    jti,
                    expires_at: access_expires_at.map(from_db).unwrap_or(0),
                }),
            };
            let (outcome, decision) = take_code_entry(&mut entry, now);
            if decision == CodeTakeDecision::Redeem {
                let redeem = tx
                    .prepare_cached("UPDATE codes SET redeemed = true WHERE code_hash = $1")
                    .await?;
                tx.execute(&redeem, &[&&code_hash[..]]).await?;
                tx.commit().await?;
            }
            // `Forget`: expired, as good as absent; the purge removes it.
            Ok(outcome)
        })
        .await
    }

    async fn record_code_access_token(
        &self,
        code_hash: &SecretHash,
        token: IssuedAccessToken,
    ) -> Result<(), StoreError> {
        self.op("record code token", async {
            let c = self.conn().await?;
            let stmt = c
                .prepare_cached(
                    "UPDATE codes SET access_jti = $2, access_expires_at = $3 WHERE code_hash = $1",
                )
                .await?;
            c.execute(
                &stmt,
                &[&&code_hash[..], &token.jti, &to_db(token.expires_at)],
            )
            .await?;
            Ok(())
        })
        .await
    }
}

impl RefreshStore for PgStore {
    async fn insert_family(&self, family: RefreshFamily, _now: UnixTime) -> Result<(), StoreError> {
        self.op("insert family", async {
            let c = self.conn().await?;
            let stmt = c
                .prepare_cached(&format!(
                    "INSERT INTO refresh_families ({FAMILY_COLUMNS})
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)
                     ON CONFLICT (family_id) DO NOTHING"
                ))
                .await?;
            let n = c
                .execute(
                    &stmt,
                    &[
                        &family.family_id,
                        &family.client_id,
                        &family.subject,
                        &family.resource,
                        &family.granted_scopes,
                        &family.scopes,
                        &&family.current_hash[..],
                        &to_db(family.current_issued_at),
                        &to_db(family.current_expires_at),
                        &to_db(family.family_expires_at),
                        &family.revoked,
                    ],
                )
                .await?;
            if n == 0 {
                return Err(StoreError::Duplicate.into());
            }
            Ok(())
        })
        .await
    }

    async fn family(
        &self,
        family_id: &str,
        now: UnixTime,
    ) -> Result<Option<RefreshFamily>, StoreError> {
        self.op("read family", async {
            let c = self.conn().await?;
            let stmt = c
                .prepare_cached(&format!(
                    "SELECT {FAMILY_COLUMNS} FROM refresh_families WHERE family_id = $1"
                ))
                .await?;
            let Some(row) = c.query_opt(&stmt, &[&family_id]).await? else {
                return Ok(None);
            };
            let family = family_of(&row)?;
            Ok(family_is_readable(&family, now.secs()).then_some(family))
        })
        .await
    }

    async fn rotate_refresh(
        &self,
        family_id: &str,
        presented: &SecretHash,
        rotation: Rotation,
        now: UnixTime,
    ) -> Result<RotateOutcome, StoreError> {
        let now = now.secs();
        self.op("rotate refresh", async {
            let mut c = self.conn().await?;
            let tx = c.transaction().await?;
            // The row lock serialises rotations of one family across the
            // fleet; under READ COMMITTED a waiter reads the row as the
            // winner committed it.
            let lock = tx
                .prepare_cached(&format!(
                    "SELECT {FAMILY_COLUMNS} FROM refresh_families WHERE family_id = $1 FOR UPDATE"
                ))
                .await?;
            let Some(row) = tx.query_opt(&lock, &[&family_id]).await? else {
                return Ok(RotateOutcome::Invalid);
            };
            let mut family = family_of(&row)?;
            let (outcome, changed) = rotate_family(&mut family, presented, rotation, now);
            if changed {
                let update = tx
                    .prepare_cached(
                        "UPDATE refresh_families
                         SET current_hash = $2, scopes = $3, current_issued_at = $4,
                             current_expires_at = $5, revoked = $6
                         WHERE family_id = $1",
                    )
                    .await?;
                tx.execute(
                    &update,
                    &[
                        &family_id,
                        &&family.current_hash[..],
                        &family.scopes,
                        &to_db(family.current_issued_at),
                        &to_db(family.current_expires_at),
                        &family.revoked,
                    ],
                )
                .await?;
                tx.commit().await?;
            }
            Ok(outcome)
        })
        .await
    }

    async fn revoke_family(&self, family_id: &str) -> Result<(), StoreError> {
        self.op("revoke family", async {
            let c = self.conn().await?;
            let stmt = c
                .prepare_cached("UPDATE refresh_families SET revoked = true WHERE family_id = $1")
                .await?;
            c.execute(&stmt, &[&family_id]).await?;
            Ok(())
        })
        .await
    }

    async fn revoke_families_of(
        &self,
        owner: GrantOwner<'_>,
        now: UnixTime,
    ) -> Result<Vec<String>, StoreError> {
        let (sql, who) = match owner {
            GrantOwner::Client(id) => (
                "UPDATE refresh_families SET revoked = true
                 WHERE client_id = $1 AND NOT revoked AND family_expires_at > $2
                 RETURNING family_id",
                id,
            ),
            GrantOwner::Subject(sub) => (
                "UPDATE refresh_families SET revoked = true
                 WHERE subject = $1 AND NOT revoked AND family_expires_at > $2
                 RETURNING family_id",
                sub,
            ),
        };
        self.op("revoke families of owner", async {
            let c = self.conn().await?;
            let rows = c.query(sql, &[&who, &to_db(now.secs())]).await?;
            let mut ids = Vec::with_capacity(rows.len());
            for row in rows {
                ids.push(row.try_get::<_, String>(0)?);
            }
            Ok(ids)
        })
        .await
    }
}

impl RevocationStore for PgStore {
    async fn revoke_jti(
        &self,
        jti: &str,
        expires_at: u64,
        now: UnixTime,
    ) -> Result<(), StoreError> {
        if expires_at <= now.secs() {
            // Already expired: verification refuses it anyway.
            return Ok(());
        }
        let result = self
            .op("revoke jti", async {
                let c = self.conn().await?;
                let stmt = c
                    .prepare_cached(
                        "INSERT INTO revoked_jti (jti, expires_at) VALUES ($1, $2)
                     ON CONFLICT (jti) DO UPDATE
                     SET expires_at = GREATEST(revoked_jti.expires_at, EXCLUDED.expires_at)",
                    )
                    .await?;
                c.execute(&stmt, &[&jti, &to_db(expires_at)]).await?;
                Ok(())
            })
            .await;
        // Even after a failure: the row may have been committed before the
        // error (a timeout), and a bump only costs re-checks.
        self.revocation_generation().bump();
        result
    }

    async fn is_jti_revoked(&self, jti: &str, now: UnixTime) -> Result<bool, StoreError> {
        self.op("check jti", async {
            let c = self.conn().await?;
            let stmt = c
                .prepare_cached("SELECT 1 FROM revoked_jti WHERE jti = $1 AND expires_at > $2")
                .await?;
            Ok(c.query_opt(&stmt, &[&jti, &to_db(now.secs())])
                .await?
                .is_some())
        })
        .await
    }

    async fn revoke_access_family(
        &self,
        family: &str,
        expires_at: u64,
        now: UnixTime,
    ) -> Result<(), StoreError> {
        if expires_at <= now.secs() {
            return Ok(());
        }
        let result = self.op("revoke access family", async {
            let c = self.conn().await?;
            let stmt = c
                .prepare_cached(
                    "INSERT INTO revoked_access_families (family, expires_at) VALUES ($1, $2)
                     ON CONFLICT (family) DO UPDATE
                     SET expires_at = GREATEST(revoked_access_families.expires_at, EXCLUDED.expires_at)",
                )
                .await?;
            c.execute(&stmt, &[&family, &to_db(expires_at)]).await?;
            Ok(())
        })
        .await;
        self.revocation_generation().bump();
        result
    }

    async fn is_access_token_revoked(
        &self,
        jti: &str,
        family: Option<&str>,
        now: UnixTime,
    ) -> Result<bool, StoreError> {
        // One round trip for both sets (a NULL family matches nothing).
        self.op("check access token", async {
            let c = self.conn().await?;
            let stmt = c
                .prepare_cached(
                    "SELECT EXISTS (SELECT 1 FROM revoked_jti WHERE jti = $1 AND expires_at > $3)
                         OR EXISTS (SELECT 1 FROM revoked_access_families
                                    WHERE family = $2 AND expires_at > $3)",
                )
                .await?;
            let row = c
                .query_one(&stmt, &[&jti, &family, &to_db(now.secs())])
                .await?;
            Ok(row.try_get::<_, bool>(0)?)
        })
        .await
    }
}
