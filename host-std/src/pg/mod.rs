//! The PostgreSQL store: the core's store traits, users and signing keys in
//! one PostgreSQL schema, so that several `mcpauth` instances behind one
//! public URL share clients, codes, refresh families, revocations, users and
//! keys (deployment shape 3, "scale-out").
//!
//! Selected with `--store postgres://user@host/db?schema=mcpauth`
//! (`MCPAUTH_STORE`, or `DATABASE_URL` when it is a `postgres://` URL).
//! Besides the usual libpq URL parameters, the URL takes these (stripped
//! before connecting):
//!
//! | parameter | default | bounds |
//! | --- | --- | --- |
//! | `schema` | `mcpauth` | schema holding every table (`[a-z_][a-z0-9_]*`, created if missing) |
//! | `pool_max` | 16 | connections per instance (database connection exhaustion) |
//! | `statement_timeout_ms` | 5000 | server-side limit per statement (a stuck lock or a slow disk cannot hold a request forever) |
//! | `op_timeout_ms` | 10000 | client-side limit per store operation, including waiting for a pooled connection (a silent network partition) |
//! | `pending_max` | 10000 | pending authorization requests held (unauthenticated `GET /authorize` flooding); when full, after dropping expired ones, a new one is refused |
//! | `sslrootcert` | system roots | PEM file of the CA (or self-signed server certificate) trusted with `sslmode=require` |
//! | `revocation_recheck_ms` | 0 | how long a cached token's revocation check is trusted, at most [`MAX_REVOCATION_RECHECK_MS`]: the bound on how late a revocation made at *another* instance is honoured here (0: ask the database on every request) |
//!
//! TLS: `sslmode=require` connects with rustls (ring) and verifies the
//! server's certificate and name against `sslrootcert` or the system's root
//! certificates (libpq's `verify-full`, stricter than its `require`);
//! `sslmode=prefer` (libpq's default) and `disable` connect without TLS.
//!
//! ## Atomic rules across instances
//! The decisions are the core's (`mcpauth_core::store::rules`), the same
//! functions the memory and redb stores call; this store only makes each
//! one atomic across the fleet.
//! - A code is redeemed in one transaction: `SELECT … FOR UPDATE` of the
//!   code's row, `take_code_entry`, `UPDATE codes SET redeemed = true`,
//!   `COMMIT`. The row lock serialises concurrent redemptions of one code and
//!   a waiter reads the winner's committed row, so exactly one caller in the
//!   whole fleet gets `Redeemed`; the others see the tombstone and get
//!   `Replayed`.
//! - A refresh rotation is one transaction: `SELECT … FOR UPDATE` of the
//!   family, `rotate_family`, one `UPDATE`, `COMMIT`. **A concurrent double refresh of one token yields one success
//!   and revokes the family**: the second transaction waits for the row lock,
//!   then reads the committed row (READ COMMITTED re-reads a locked row), sees
//!   that the presented token is no longer the current one and treats it as
//!   reuse, exactly as a serial execution does. We keep that over "exactly
//!   one success, the other refused without revocation" because a store
//!   cannot tell a client's accidental double submit from an attacker
//!   replaying a stolen token, and RFC 9700 §4.14.2 asks for the family to
//!   be revoked on reuse; a well-behaved client serialises its refreshes.
//! - A revocation is a committed row in `revoked_jti` (or
//!   `revoked_access_families`). By default the MCP guard looks it up on
//!   every request (an indexed primary-key read), so a token revoked at one
//!   instance is refused by every instance from the moment the revocation
//!   response is sent. With `revocation_recheck_ms=N` a cached token's
//!   check is reused for up to N ms: a revocation made through this
//!   instance is still refused by the next request (it bumps the
//!   instance's [`RevocationGeneration`]), one made at another instance
//!   or by the CLI (`client remove`, `user remove`) within N ms (plus the
//!   time of one query).
//!
//! ## Failure
//! Every database error (unreachable, restarted, timed out) is
//! [`StoreError::Unavailable`], which the core answers with 503 (the host
//! adds `Retry-After`). The first failure logs one error line, recovery one
//! info line. Writes are single statements or transactions, so a failure
//! never leaves half a write; pooled connections broken by a restart are
//! discarded and replaced, so service resumes by itself.
//!
//! A grant that spans several store calls (a code exchange: take the code,
//! insert the refresh family, record the access token) is not one
//! transaction: if the database fails between two calls, the client gets
//! 503 and the earlier step stays done (the code is spent), which fails
//! closed: the client starts a new authorization.
//!
//! ## Keys
//! Signing keys are rows of `signing_keys`, so every instance publishes the
//! same JWKS and verifies the others' tokens. Creating the first key and
//! `mcpauth keys rotate` run under a session advisory lock
//! ([`PgStore::with_key_lock`]), so two instances starting at once never
//! both create an active key. Running instances reload the key set every
//! 30 s, and at once (at most every 5 s) when a token names a `kid` they do
//! not know, so a rotation is honoured fleet-wide without restarts.
//!
//! ## Not shared
//! MCP sessions (`Mcp-Session-Id`) and the login throttle live in each
//! instance's memory: run the fleet with `--stateless` or route a session
//! to one instance.
//!
//! ## Purge
//! [`PgStore::sweep`] deletes expired rows in batches of
//! [`SWEEP_BATCH`] with `FOR UPDATE SKIP LOCKED`, each batch its own short
//! transaction: it never waits for a row a request holds, and a request
//! never waits long for the sweeper.

mod schema;
mod store;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use deadpool_postgres::{Manager, ManagerConfig, Pool, RecyclingMethod, Runtime};
use mcpauth_core::store::rules::TOMBSTONE_GRACE_SECS;
use mcpauth_core::store::{ClientRecord, StoreError};
use tokio_postgres::NoTls;

use crate::revocation::RevocationGeneration;

/// Rows deleted per purge statement.
pub const SWEEP_BATCH: i64 = 500;

/// One batch of expired pending requests (`$1` now, `$2` batch size).
pub(crate) const SWEEP_PENDING: &str = "DELETE FROM pending WHERE id IN (SELECT id FROM pending WHERE expires_at <= $1 LIMIT $2 FOR UPDATE SKIP LOCKED)";

/// Advisory-lock namespace of mcpauth (first half of the two-int key).
const LOCK_NAMESPACE: i32 = 0x6d63_7061; // "mcpa"

/// Settings parsed from a `postgres://` store URL.
#[derive(Clone)]
pub struct PgOptions {
    config: tokio_postgres::Config,
    /// TLS to the server (`sslmode=require`), verified against
    /// `sslrootcert` or the system's roots.
    tls: Option<tokio_postgres_rustls::MakeRustlsConnect>,
    /// Schema holding the tables.
    pub schema: String,
    /// Pool size.
    pub pool_max: usize,
    /// Server-side statement timeout.
    pub statement_timeout: Duration,
    /// Client-side limit per store operation.
    pub op_timeout: Duration,
    /// Most pending authorization requests held (`pending_max`).
    pub pending_max: u64,
    /// How long a cached token's revocation check is trusted (zero: never).
    pub revocation_recheck: Duration,
}

/// Largest `revocation_recheck_ms`: a revoked token must not stay usable at
/// other instances of the fleet for longer than this.
pub const MAX_REVOCATION_RECHECK_MS: u64 = 60_000;

impl std::fmt::Debug for PgOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never print the password.
        f.debug_struct("PgOptions")
            .field("target", &self.target())
            .field("schema", &self.schema)
            .field("pool_max", &self.pool_max)
            .finish_non_exhaustive()
    }
}

/// Whether `url` selects the PostgreSQL store.
pub fn is_postgres_url(url: &str) -> bool {
    url.starts_with("postgres://") || url.starts_with("postgresql://")
}

fn valid_schema(s: &str) -> bool {
    let mut chars = s.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_lowercase() || c == '_')
        && chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
        && s.len() <= 63
}

impl PgOptions {
    /// Parse a `postgres://` URL with mcpauth's extra parameters.
    pub fn parse(url: &str) -> Result<PgOptions, String> {
        let (base, query) = match url.split_once('?') {
            Some((b, q)) => (b, q),
            None => (url, ""),
        };
        let mut schema = "mcpauth".to_owned();
        let mut pool_max = 16usize;
        let mut statement_ms = 5000u64;
        let mut op_ms = 10_000u64;
        let mut pending_max = crate::db::PENDING_CAPACITY;
        let mut recheck_ms = 0u64;
        let mut rest = Vec::new();
        let mut root_cert: Option<String> = None;
        for pair in query.split('&').filter(|p| !p.is_empty()) {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            let num = |what: &str| -> Result<u64, String> {
                v.parse::<u64>()
                    .ok()
                    .filter(|n| *n > 0)
                    .ok_or_else(|| format!("{what} must be a positive number"))
            };
            match k {
                "schema" => {
                    if !valid_schema(v) {
                        return Err(format!(
                            "schema {v:?} must be 1 to 63 of a-z, 0-9, '_' (not starting with a digit)"
                        ));
                    }
                    schema = v.to_owned();
                }
                "pool_max" => pool_max = num("pool_max")? as usize,
                "statement_timeout_ms" => statement_ms = num("statement_timeout_ms")?,
                "op_timeout_ms" => op_ms = num("op_timeout_ms")?,
                "pending_max" => pending_max = num("pending_max")?,
                "revocation_recheck_ms" => {
                    recheck_ms = v
                        .parse::<u64>()
                        .ok()
                        .filter(|n| *n <= MAX_REVOCATION_RECHECK_MS)
                        .ok_or_else(|| {
                            format!(
                                "revocation_recheck_ms must be a number from 0 to {MAX_REVOCATION_RECHECK_MS}"
                            )
                        })?;
                }
                "sslrootcert" => root_cert = Some(v.to_owned()),
                _ => rest.push(pair),
            }
        }
        let url = if rest.is_empty() {
            base.to_owned()
        } else {
            format!("{base}?{}", rest.join("&"))
        };
        let mut config: tokio_postgres::Config = url
            .parse()
            .map_err(|e| format!("not a valid PostgreSQL URL: {e}"))?;
        if config.get_connect_timeout().is_none() {
            config.connect_timeout(Duration::from_secs(5));
        }
        if config.get_application_name().is_none() {
            config.application_name("mcpauth");
        }
        config.keepalives(true);
        config.keepalives_idle(Duration::from_secs(30));
        // Every session works in the schema, with a bounded statement time
        // and no transaction left open holding locks.
        let mut opts = format!(
            "-c search_path={schema} -c statement_timeout={statement_ms} -c idle_in_transaction_session_timeout={}",
            statement_ms.saturating_mul(2)
        );
        if let Some(existing) = config.get_options() {
            opts = format!("{existing} {opts}");
        }
        config.options(&opts);
        let tls = if matches!(
            config.get_ssl_mode(),
            tokio_postgres::config::SslMode::Require
        ) {
            Some(tls_connector(root_cert.as_deref())?)
        } else if root_cert.is_some() {
            return Err("sslrootcert needs sslmode=require".into());
        } else {
            None
        };
        Ok(PgOptions {
            config,
            tls,
            schema,
            pool_max: pool_max.clamp(2, 1000),
            statement_timeout: Duration::from_millis(statement_ms),
            op_timeout: Duration::from_millis(op_ms),
            pending_max,
            revocation_recheck: Duration::from_millis(recheck_ms),
        })
    }

    /// `host:port/db` for messages (no credentials).
    pub fn target(&self) -> String {
        let host = self
            .config
            .get_hosts()
            .first()
            .map(|h| match h {
                tokio_postgres::config::Host::Tcp(s) => s.clone(),
                #[cfg(unix)]
                tokio_postgres::config::Host::Unix(p) => p.display().to_string(),
            })
            .unwrap_or_else(|| "localhost".into());
        let port = self.config.get_ports().first().copied().unwrap_or(5432);
        let db = self.config.get_dbname().unwrap_or("(default)");
        format!("{host}:{port}/{db}")
    }
}

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
struct FallbackRuntime(Option<tokio::runtime::Runtime>);

impl Drop for FallbackRuntime {
    fn drop(&mut self) {
        if let Some(rt) = self.0.take() {
            rt.shutdown_background();
        }
    }
}

struct Inner {
    pool: Pool,
    options: PgOptions,
    /// Set while the database is failing (one log line per outage).
    down: AtomicBool,
    fallback: OnceLock<FallbackRuntime>,
    /// Bumped after every revocation this instance commits.
    revocations: RevocationGeneration,
}

/// The PostgreSQL store. Cheap to clone.
#[derive(Clone)]
pub struct PgStore {
    inner: Arc<Inner>,
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
fn schema_key(schema: &str, purpose: u8) -> i32 {
    let mut h: u32 = 0x811c_9dc5;
    for b in schema.bytes().chain([0, purpose]) {
        h ^= u32::from(b);
        h = h.wrapping_mul(0x0100_0193);
    }
    h as i32
}

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

    /// The revocation generation of this instance.
    pub fn revocation_generation(&self) -> &RevocationGeneration {
        &self.inner.revocations
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

    /// Run a store operation to completion from synchronous code: on a
    /// thread of a multi-thread tokio runtime (workers or blocking pool)
    /// through that runtime, elsewhere on a private one kept for this store.
    pub fn block_on<T>(
        &self,
        f: impl Future<Output = Result<T, StoreError>>,
    ) -> Result<T, StoreError> {
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
    pub fn with_key_lock<T>(&self, f: impl FnOnce() -> T) -> Result<T, StoreError> {
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
        let schema = self.inner.options.schema.clone();
        self.op("drop schema", async {
            let c = self.conn().await?;
            c.batch_execute(&format!("DROP SCHEMA IF EXISTS {schema} CASCADE"))
                .await?;
            Ok(())
        })
        .await
    }

    /// Close the pool (later operations fail with `Unavailable`).
    pub fn close(&self) {
        self.inner.pool.close();
    }
}

/// One connection outside the pool (its own session), driven by a spawned
/// task.
async fn connect_one(options: &PgOptions) -> Result<tokio_postgres::Client, OpError> {
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

/// A rustls connector (ring provider) trusting the PEM certificates in
/// `root_cert`, or the system's root certificates.
fn tls_connector(
    root_cert: Option<&str>,
) -> Result<tokio_postgres_rustls::MakeRustlsConnect, String> {
    use rustls_pki_types::CertificateDer;
    use rustls_pki_types::pem::PemObject;
    use tokio_rustls::rustls;
    let mut roots = rustls::RootCertStore::empty();
    match root_cert {
        Some(path) => {
            let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(path)
                .map_err(|e| format!("sslrootcert {path}: {e}"))?
                .collect::<Result<_, _>>()
                .map_err(|e| format!("sslrootcert {path}: {e}"))?;
            for c in certs {
                roots
                    .add(c)
                    .map_err(|e| format!("sslrootcert {path}: {e}"))?;
            }
        }
        None => {
            let found = rustls_native_certs::load_native_certs();
            roots.add_parsable_certificates(found.certs);
        }
    }
    if roots.is_empty() {
        return Err("sslmode=require: no trusted root certificates (set sslrootcert=PATH)".into());
    }
    let provider = std::sync::Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| format!("TLS: {e}"))?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(tokio_postgres_rustls::MakeRustlsConnect::new(config))
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
