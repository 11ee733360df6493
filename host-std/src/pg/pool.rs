//! The connection side of the PostgreSQL store: the pool, one-off sessions
//! (the key lock), migrations, timeouts, outage logging and the error
//! mapping every operation goes through. The SQL of each store lives in
//! `store` (the core's traits) and `host` (users, keys, operator commands).

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, OnceLock};

use deadpool_postgres::{Manager, ManagerConfig, Pool, RecyclingMethod, Runtime};
use mcpauth_core::store::StoreError;
use tokio_postgres::NoTls;

use super::options::PgOptions;
use super::{LOCK_NAMESPACE, schema};
use crate::revocation::RevocationGeneration;

/// Why the PostgreSQL store could not be opened.
#[derive(Debug)]
pub struct PgError(pub String);

impl std::fmt::Display for PgError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for PgError {}

/// A runtime for blocking calls made outside any tokio runtime (the CLI,
/// start-up). Shut down in the background on drop so that dropping it from
/// async code cannot panic.
pub(super) struct FallbackRuntime(pub(super) Option<tokio::runtime::Runtime>);

impl Drop for FallbackRuntime {
    fn drop(&mut self) {
        if let Some(rt) = self.0.take() {
            rt.shutdown_background();
        }
    }
}

pub(super) struct Inner {
    pub(super) pool: Pool,
    pub(super) options: PgOptions,
    /// Set while the database is failing (one log line per outage).
    pub(super) down: AtomicBool,
    pub(super) fallback: OnceLock<FallbackRuntime>,
    /// Bumped after every revocation this instance commits.
    pub(super) revocations: RevocationGeneration,
}

/// The PostgreSQL store. Cheap to clone.
#[derive(Clone)]
pub struct PgStore {
    pub(super) inner: Arc<Inner>,
}

impl std::fmt::Debug for PgStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PgStore")
            .field("target", &self.inner.options.target())
            .field("schema", &self.inner.options.schema)
            .finish()
    }
}

/// Errors inside an operation, before they become [`StoreError`].
#[derive(Debug)]
pub(crate) enum OpError {
    Pool(deadpool_postgres::PoolError),
    Pg(tokio_postgres::Error),
    Decode(String),
    Timeout,
    /// A rule of the store, passed through unchanged.
    Store(StoreError),
}

impl std::fmt::Display for OpError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            OpError::Pool(e) => write!(f, "no database connection: {}", with_causes(e)),
            OpError::Pg(e) => match e.as_db_error() {
                Some(db) => write!(f, "{}: {}", db.code().code(), db.message()),
                None => f.write_str(&with_causes(e)),
            },
            OpError::Decode(e) => write!(f, "stored record unreadable: {e}"),
            OpError::Timeout => f.write_str("operation timed out"),
            OpError::Store(e) => write!(f, "{e}"),
        }
    }
}

/// The message of `e` with its chain of causes (e.g. "connection refused"),
/// which the PostgreSQL client's own messages leave out.
fn with_causes(e: &dyn std::error::Error) -> String {
    let mut out = e.to_string();
    let mut source = e.source();
    for _ in 0..6 {
        let Some(s) = source else { break };
        let text = s.to_string();
        if !out.contains(&text) {
            out.push_str(": ");
            out.push_str(&text);
        }
        source = s.source();
    }
    out
}

impl From<deadpool_postgres::PoolError> for OpError {
    fn from(e: deadpool_postgres::PoolError) -> Self {
        OpError::Pool(e)
    }
}

impl From<tokio_postgres::Error> for OpError {
    fn from(e: tokio_postgres::Error) -> Self {
        OpError::Pg(e)
    }
}

impl From<StoreError> for OpError {
    fn from(e: StoreError) -> Self {
        OpError::Store(e)
    }
}

pub(crate) fn to_db(v: u64) -> i64 {
    i64::try_from(v).unwrap_or(i64::MAX)
}

pub(crate) fn from_db(v: i64) -> u64 {
    u64::try_from(v).unwrap_or(0)
}

pub(crate) fn enc<T: serde::Serialize>(v: &T) -> Result<Vec<u8>, OpError> {
    serde_json::to_vec(v).map_err(|e| OpError::Decode(e.to_string()))
}

pub(crate) fn dec<T: for<'de> serde::Deserialize<'de>>(b: &[u8]) -> Result<T, OpError> {
    serde_json::from_slice(b).map_err(|e| OpError::Decode(e.to_string()))
}

/// A small stable hash (FNV-1a) of the schema name: the second half of the
/// advisory-lock keys, so two schemas in one database do not contend.
pub(super) fn schema_key(schema: &str, purpose: u8) -> i32 {
    let mut h: u32 = 0x811c_9dc5;
    for b in schema.bytes().chain([0, purpose]) {
        h ^= u32::from(b);
        h = h.wrapping_mul(0x0100_0193);
    }
    h as i32
}

impl PgStore {
    /// Connect, create the schema and apply the embedded migrations. Safe
    /// when several instances start at once: the migrations run under a
    /// transaction-scoped advisory lock, so the second instance waits and
    /// then finds them applied.
    pub async fn connect(options: PgOptions) -> Result<PgStore, PgError> {
        let manager_config = || ManagerConfig {
            recycling_method: RecyclingMethod::Fast,
        };
        let manager = match &options.tls {
            Some(tls) => {
                Manager::from_config(options.config.clone(), tls.clone(), manager_config())
            }
            None => Manager::from_config(options.config.clone(), NoTls, manager_config()),
        };
        let pool = Pool::builder(manager)
            .max_size(options.pool_max)
            .runtime(Runtime::Tokio1)
            .wait_timeout(Some(options.op_timeout))
            .create_timeout(Some(options.op_timeout))
            .recycle_timeout(Some(options.op_timeout))
            .build()
            .map_err(|e| PgError(format!("PostgreSQL pool: {e}")))?;
        let store = PgStore {
            inner: Arc::new(Inner {
                revocations: RevocationGeneration::shared(options.revocation_recheck),
                pool,
                options,
                down: AtomicBool::new(false),
                fallback: OnceLock::new(),
            }),
        };
        store.migrate().await.map_err(|e| {
            PgError(format!(
                "PostgreSQL at {} (schema {}) is not usable: {e}",
                store.inner.options.target(),
                store.inner.options.schema
            ))
        })?;
        Ok(store)
    }

    /// [`PgStore::connect`] from outside any runtime (CLI, start-up).
    pub fn connect_blocking(options: PgOptions) -> Result<PgStore, PgError> {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .thread_name("mcpauth-pg")
            .enable_all()
            .build()
            .map_err(|e| PgError(format!("runtime: {e}")))?;
        let store = rt.block_on(PgStore::connect(options))?;
        // Connections made during start-up live on this runtime: keep it.
        let _ = store.inner.fallback.set(FallbackRuntime(Some(rt)));
        Ok(store)
    }

    /// The options it was opened with.
    pub fn options(&self) -> &PgOptions {
        &self.inner.options
    }

    async fn migrate(&self) -> Result<(), OpError> {
        let schema = &self.inner.options.schema;
        let mut client = self.inner.pool.get().await?;
        let tx = client.transaction().await?;
        tx.execute(
            "SELECT pg_advisory_xact_lock($1, $2)",
            &[&LOCK_NAMESPACE, &schema_key(schema, 1)],
        )
        .await?;
        // `schema` is validated ([a-z_][a-z0-9_]*): safe to splice.
        tx.batch_execute(&format!(
            "CREATE SCHEMA IF NOT EXISTS {schema};
             SET LOCAL search_path TO {schema};
             CREATE TABLE IF NOT EXISTS mcpauth_migrations (
                 version integer PRIMARY KEY,
                 applied_at bigint NOT NULL
             );"
        ))
        .await?;
        let row = tx
            .query_one(
                "SELECT coalesce(max(version), 0) FROM mcpauth_migrations",
                &[],
            )
            .await?;
        let current: i32 = row.get(0);
        let now = to_db(crate::env::now().map(|t| t.secs()).unwrap_or(0));
        for (version, sql) in schema::MIGRATIONS {
            if *version <= current {
                continue;
            }
            tx.batch_execute(sql).await?;
            tx.execute(
                "INSERT INTO mcpauth_migrations (version, applied_at) VALUES ($1, $2)",
                &[version, &now],
            )
            .await?;
            tracing::info!(version, schema = %schema, "applied PostgreSQL migration");
        }
        tx.commit().await?;
        Ok(())
    }

    /// Run one store operation with the client-side time limit, mapping every
    /// failure to [`StoreError`] and logging outages once.
    pub(crate) async fn op<T>(
        &self,
        what: &'static str,
        f: impl Future<Output = Result<T, OpError>>,
    ) -> Result<T, StoreError> {
        let started = std::time::Instant::now();
        let result = match tokio::time::timeout(self.inner.options.op_timeout, f).await {
            Ok(r) => r,
            Err(_) => Err(OpError::Timeout),
        };
        match result {
            Ok(v) => {
                if is_write(what) {
                    crate::metrics::METRICS
                        .store_commit(crate::metrics::StoreKind::Postgres, started.elapsed());
                }
                if self.inner.down.load(Ordering::Relaxed)
                    && self.inner.down.swap(false, Ordering::Relaxed)
                {
                    tracing::info!(target_db = %self.inner.options.target(), "PostgreSQL store reachable again");
                }
                Ok(v)
            }
            Err(OpError::Store(e)) => Err(e),
            Err(e) => {
                if matches!(e, OpError::Decode(_)) {
                    tracing::error!(operation = what, error = %e, "PostgreSQL store: corrupt record");
                } else if !self.inner.down.swap(true, Ordering::Relaxed) {
                    tracing::error!(
                        operation = what,
                        target_db = %self.inner.options.target(),
                        error = %e,
                        "PostgreSQL store unavailable: answering 503 until it is reachable again"
                    );
                } else {
                    tracing::debug!(operation = what, error = %e, "PostgreSQL store still unavailable");
                }
                Err(StoreError::Unavailable)
            }
        }
    }

    pub(crate) async fn conn(&self) -> Result<deadpool_postgres::Object, OpError> {
        Ok(self.inner.pool.get().await?)
    }
}

/// One connection outside the pool (its own session), driven by a spawned
/// task.
pub(super) async fn connect_one(options: &PgOptions) -> Result<tokio_postgres::Client, OpError> {
    let client = match &options.tls {
        Some(tls) => {
            let (client, conn) = options.config.connect(tls.clone()).await?;
            tokio::spawn(async move {
                let _ = conn.await;
            });
            client
        }
        None => {
            let (client, conn) = options.config.connect(NoTls).await?;
            tokio::spawn(async move {
                let _ = conn.await;
            });
            client
        }
    };
    Ok(client)
}

/// Whether the store operation named `what` (see [`PgStore::op`]) writes:
/// its duration is a commit latency (`mcpauth_store_commit_duration_seconds`).
fn is_write(what: &str) -> bool {
    !(what.starts_with("read ")
        || what.starts_with("check ")
        || matches!(
            what,
            "kv get" | "kv list" | "kv count" | "list clients" | "key lock"
        ))
}
