//! The embedded database: one redb file in the data directory holding
//! clients, pending authorizations, codes, refresh families, revoked `jti`s,
//! users and signing keys.
//!
//! ## Durability
//! Every write that a response depends on is committed with redb's default
//! `Durability::Immediate` (fsync) before the store call returns, so the
//! response is never ahead of the disk. To make that cheap under load, all
//! writes go through one writer thread that applies every operation queued
//! while the previous commit was in flight as one transaction (group commit):
//! each operation still sees the effects of the ones before it, so the
//! atomic rules (`take`, compare-and-swap) hold exactly as in a serial
//! execution, and N concurrent refresh grants cost one fsync, not N.
//!
//! A group is all or nothing: if one operation reports a storage failure or
//! the commit itself fails, the transaction is aborted (nothing of the group
//! reaches the file) and every operation of the group answers
//! `StoreError::Unavailable` (the core's 503). No caller is answered before
//! the commit that holds its write is durable. Bounds: at most
//! [`MAX_GROUP`] operations per commit and [`MAX_QUEUED`] waiting for the
//! writer; past that a write fails at once with `Unavailable`.
//!
//! Reads run on the caller's thread against a read transaction (redb is
//! MVCC: readers never block the writer).
//!
//! Revoked `jti`s are mirrored in memory (loaded at start, bounded by
//! their expiry) so the per-request revocation check of the MCP guard and the
//! verified-token cache never touch the disk.

mod host;
mod store;

use std::collections::HashMap;
use std::fs;
use std::path::{Path, PathBuf};
#[cfg(feature = "testing")]
use std::sync::atomic::AtomicBool;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, RwLock};

use mcpauth_core::store::StoreError;
use redb::{ReadableDatabase, TableDefinition, WriteTransaction};

use crate::revocation::RevocationGeneration;

pub(crate) const CLIENTS: TableDefinition<'_, &str, &[u8]> = TableDefinition::new("clients");
/// Clients no user has authorized yet, oldest first: `(issued_at,
/// client_id)`. Clients stored before this table existed are not in it, so
/// they count as used and are never pruned.
pub(crate) const UNUSED_CLIENTS: TableDefinition<'_, (u64, &str), ()> =
    TableDefinition::new("unused_clients");
pub(crate) const PENDING: TableDefinition<'_, &str, &[u8]> = TableDefinition::new("pending");
pub(crate) const CODES: TableDefinition<'_, &[u8], &[u8]> = TableDefinition::new("codes");
pub(crate) const FAMILIES: TableDefinition<'_, &str, &[u8]> = TableDefinition::new("families");
pub(crate) const REVOKED: TableDefinition<'_, &str, u64> = TableDefinition::new("revoked_jti");
/// Revoked access-token families (see `mcpauth_core::oauth::access_family_of`)
/// → until when.
pub(crate) const REVOKED_FAMILIES: TableDefinition<'_, &str, u64> =
    TableDefinition::new("revoked_access_families");
pub(crate) const USERS: TableDefinition<'_, &str, &[u8]> = TableDefinition::new("users");
pub(crate) const KEYS: TableDefinition<'_, &str, &[u8]> = TableDefinition::new("signing_keys");

/// Why the database could not be opened or used.
#[derive(Debug)]
pub enum DbError {
    /// Another process (a running `mcpauth serve`) holds the database.
    InUse(PathBuf),
    /// File-system trouble with the data directory.
    Io(PathBuf, std::io::Error),
    /// redb reported an error.
    Db(String),
}

impl std::fmt::Display for DbError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            DbError::InUse(p) => write!(
                f,
                "the database {} is in use by another mcpauth process (stop `mcpauth serve` first)",
                p.display()
            ),
            DbError::Io(p, e) => write!(f, "{}: {e}", p.display()),
            DbError::Db(e) => write!(f, "database error: {e}"),
        }
    }
}

impl std::error::Error for DbError {}

fn db_err(e: impl std::fmt::Display) -> DbError {
    DbError::Db(e.to_string())
}

pub(crate) fn unavailable(e: impl std::fmt::Display) -> StoreError {
    tracing::error!(error = %e, "database operation failed");
    StoreError::Unavailable
}

type Reply = Box<dyn FnOnce(bool) + Send>;
type Job = Box<dyn FnOnce(&WriteTransaction) -> (Reply, bool) + Send>;

/// The database handle. Cheap to clone.
#[derive(Clone)]
pub struct Db {
    inner: Arc<Inner>,
    /// Most pending authorizations held ([`Db::with_pending_capacity`]).
    pending_capacity: u64,
}

/// Pending authorization requests the database holds by default: each
/// unauthenticated `GET /authorize` stores one for the sign-in's few
/// minutes, so without a bound a flood of them grows the file without
/// limit. When full (after dropping expired ones) a new request is refused
/// with `StoreError::Full` (the client sees 429, try again later).
pub const PENDING_CAPACITY: u64 = mcpauth_core::store::MemoryStoreLimits::SERVER.pending as u64;

/// Rows [`Db::sweep`] deletes per table in one write transaction: the
/// sweep is several short group commits, so the writes of requests
/// interleave with it instead of waiting for one long transaction.
pub const SWEEP_BATCH: usize = 256;

impl std::fmt::Debug for Db {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Db")
            .field("path", &self.inner.path)
            .finish()
    }
}

struct Inner {
    path: PathBuf,
    db: Arc<redb::Database>,
    writer: Mutex<Option<std::sync::mpsc::SyncSender<Job>>>,
    /// What the writer thread has done so far.
    stats: Arc<WriterStats>,
    thread: Mutex<Option<std::thread::JoinHandle<()>>>,
    /// In-memory mirror of the revoked-jti table: jti → expiry.
    pub(crate) revoked: RevokedSet,
    /// In-memory mirror of the revoked access-family table: family → expiry.
    pub(crate) revoked_families: RevokedSet,
    /// Bumped after every revocation reaches the mirrors (the database is
    /// exclusive to this process, so nothing else revokes).
    revocations: RevocationGeneration,
}

/// The in-memory mirror of revoked `jti`s. Read on every MCP request, so a
/// read takes no lock at all while nothing is revoked (the usual state), and
/// only a shared read lock otherwise. A revocation is inserted (and counted)
/// before `revoke_jti` returns, so it is visible to every later check.
#[derive(Debug, Default)]
pub(crate) struct RevokedSet {
    map: RwLock<HashMap<String, u64>>,
    /// Entries in `map`, updated under its write lock.
    len: AtomicUsize,
}

impl RevokedSet {
    fn new(map: HashMap<String, u64>) -> RevokedSet {
        let len = AtomicUsize::new(map.len());
        RevokedSet {
            map: RwLock::new(map),
            len,
        }
    }

    /// Record `jti` as revoked until `expires_at` (the later expiry wins).
    pub(crate) fn insert(&self, jti: String, expires_at: u64) -> Result<(), StoreError> {
        let mut r = self.map.write().map_err(unavailable)?;
        let e = r.entry(jti).or_insert(0);
        *e = (*e).max(expires_at);
        self.len.store(r.len(), Ordering::SeqCst);
        Ok(())
    }

    /// Forget entries that expired at `now`.
    fn retain_unexpired(&self, now: u64) {
        if let Ok(mut r) = self.map.write() {
            r.retain(|_, exp| *exp > now);
            self.len.store(r.len(), Ordering::SeqCst);
        }
    }

    /// Whether `jti` is revoked at `now`.
    pub(crate) fn contains(&self, jti: &str, now: u64) -> Result<bool, StoreError> {
        if self.len.load(Ordering::SeqCst) == 0 {
            return Ok(false);
        }
        let r = self.map.read().map_err(unavailable)?;
        Ok(r.get(jti).is_some_and(|exp| *exp > now))
    }
}

/// Counters of the writer thread (group commit), for tests and operators.
#[derive(Debug, Default)]
pub struct WriterStats {
    commits: AtomicU64,
    operations: AtomicU64,
    failed_groups: AtomicU64,
    /// Test hook (feature `testing`): abort every group instead of
    /// committing it while set.
    #[cfg(feature = "testing")]
    fail_commits: AtomicBool,
}

/// A snapshot of [`WriterStats`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GroupCommitStats {
    /// Durable commits (each one fsync).
    pub commits: u64,
    /// Operations in those commits.
    pub operations: u64,
    /// Groups aborted (a failed operation or commit): every operation in
    /// them answered `Unavailable`, none of their writes persisted.
    pub failed_groups: u64,
}

/// Create `dir` (0700) if needed and tighten its mode.
pub fn ensure_private_dir(dir: &Path) -> Result<(), DbError> {
    use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
    if !dir.exists() {
        fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(dir)
            .map_err(|e| DbError::Io(dir.to_owned(), e))?;
    }
    fs::set_permissions(dir, fs::Permissions::from_mode(0o700))
        .map_err(|e| DbError::Io(dir.to_owned(), e))
}

impl Db {
    /// Open (or create) `mcpauth.redb` in `data_dir`. The directory is made
    /// 0700 and the file 0600.
    pub fn open(data_dir: &Path) -> Result<Db, DbError> {
        use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
        ensure_private_dir(data_dir)?;
        let path = data_dir.join("mcpauth.redb");
        fs::OpenOptions::new()
            .create(true)
            .append(true)
            .mode(0o600)
            .open(&path)
            .map_err(|e| DbError::Io(path.clone(), e))?;
        fs::set_permissions(&path, fs::Permissions::from_mode(0o600))
            .map_err(|e| DbError::Io(path.clone(), e))?;
        let db = redb::Database::builder()
            .set_cache_size(4 * 1024 * 1024)
            .create(&path)
            .map_err(|e| match e {
                redb::DatabaseError::DatabaseAlreadyOpen => DbError::InUse(path.clone()),
                other => db_err(other),
            })?;
        // Create every table once so readers never see "table does not exist".
        let txn = db.begin_write().map_err(db_err)?;
        {
            txn.open_table(CLIENTS).map_err(db_err)?;
            txn.open_table(PENDING).map_err(db_err)?;
            txn.open_table(CODES).map_err(db_err)?;
            txn.open_table(FAMILIES).map_err(db_err)?;
            txn.open_table(REVOKED).map_err(db_err)?;
            txn.open_table(REVOKED_FAMILIES).map_err(db_err)?;
            txn.open_table(USERS).map_err(db_err)?;
            txn.open_table(KEYS).map_err(db_err)?;
        }
        txn.commit().map_err(db_err)?;
        let db = Arc::new(db);
        let revoked = load_revoked(&db, REVOKED)?;
        let revoked_families = load_revoked(&db, REVOKED_FAMILIES)?;
        let (tx, rx) = std::sync::mpsc::sync_channel::<Job>(MAX_QUEUED);
        let writer_db = db.clone();
        let stats = Arc::new(WriterStats::default());
        let writer_stats = stats.clone();
        let thread = std::thread::Builder::new()
            .name("mcpauth-db-writer".into())
            .spawn(move || writer_loop(&writer_db, &rx, &writer_stats))
            .map_err(|e| DbError::Io(path.clone(), e))?;
        Ok(Db {
            pending_capacity: PENDING_CAPACITY,
            inner: Arc::new(Inner {
                path,
                db,
                writer: Mutex::new(Some(tx)),
                stats,
                thread: Mutex::new(Some(thread)),
                revoked: RevokedSet::new(revoked),
                revoked_families: RevokedSet::new(revoked_families),
                revocations: RevocationGeneration::exclusive(),
            }),
        })
    }

    /// Hold at most `capacity` pending authorizations instead of
    /// [`PENDING_CAPACITY`].
    pub fn with_pending_capacity(mut self, capacity: u64) -> Db {
        self.pending_capacity = capacity;
        self
    }

    pub(crate) fn pending_capacity(&self) -> u64 {
        self.pending_capacity
    }

    /// The underlying database, for reads.
    pub(crate) fn redb(&self) -> &redb::Database {
        &self.inner.db
    }

    pub(crate) fn revoked(&self) -> &RevokedSet {
        &self.inner.revoked
    }

    pub(crate) fn revoked_families(&self) -> &RevokedSet {
        &self.inner.revoked_families
    }

    /// Run `f` inside the next group-committed write transaction and return
    /// its result once the transaction is durable. `f` must do its reads
    /// before its writes and report storage failures as `Err`: a failing
    /// operation aborts the whole group (every member gets `Unavailable`).
    pub async fn write<T, F>(&self, f: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&WriteTransaction) -> Result<T, StoreError> + Send + 'static,
    {
        let (tx, rx) = tokio::sync::oneshot::channel();
        let job: Job = Box::new(move |txn| {
            let result = f(txn);
            let failed = matches!(result, Err(StoreError::Unavailable));
            let reply: Reply = Box::new(move |committed| {
                let _ = tx.send(if committed {
                    result
                } else {
                    Err(StoreError::Unavailable)
                });
            });
            (reply, failed)
        });
        self.send(job)?;
        rx.await.map_err(|_| StoreError::Unavailable)?
    }

    /// Blocking variant of [`Db::write`] for the CLI (no runtime needed).
    pub fn write_blocking<T, F>(&self, f: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&WriteTransaction) -> Result<T, StoreError> + Send + 'static,
    {
        let (tx, rx) = std::sync::mpsc::channel();
        let job: Job = Box::new(move |txn| {
            let result = f(txn);
            let failed = matches!(result, Err(StoreError::Unavailable));
            let reply: Reply = Box::new(move |committed| {
                let _ = tx.send(if committed {
                    result
                } else {
                    Err(StoreError::Unavailable)
                });
            });
            (reply, failed)
        });
        self.send(job)?;
        rx.recv().map_err(|_| StoreError::Unavailable)?
    }

    fn send(&self, job: Job) -> Result<(), StoreError> {
        let guard = self.inner.writer.lock().map_err(unavailable)?;
        let Some(tx) = guard.as_ref() else {
            return Err(StoreError::Unavailable);
        };
        // Never wait for room: a full queue means the disk cannot keep up,
        // and the caller answers 503 instead of piling up more work.
        tx.try_send(job).map_err(|e| match e {
            std::sync::mpsc::TrySendError::Full(_) => {
                unavailable(format_args!("write queue full ({MAX_QUEUED} operations)"))
            }
            std::sync::mpsc::TrySendError::Disconnected(_) => StoreError::Unavailable,
        })
    }

    /// What the writer has committed so far.
    pub fn group_commit_stats(&self) -> GroupCommitStats {
        let s = &self.inner.stats;
        GroupCommitStats {
            commits: s.commits.load(Ordering::Relaxed),
            operations: s.operations.load(Ordering::Relaxed),
            failed_groups: s.failed_groups.load(Ordering::Relaxed),
        }
    }

    /// Test hook (feature `testing`, never in a release build): while
    /// `fail` is set, the writer aborts every group instead of committing
    /// it, exactly as when the commit fails (every operation of the group
    /// answers `Unavailable`, nothing is written).
    #[cfg(feature = "testing")]
    pub fn fail_commits_for_testing(&self, fail: bool) {
        self.inner.stats.fail_commits.store(fail, Ordering::SeqCst);
    }
}

/// Most operations applied in one group commit.
pub const MAX_GROUP: usize = 512;
/// Most operations waiting for the writer (a few groups' worth).
pub const MAX_QUEUED: usize = 2 * MAX_GROUP;

fn writer_loop(db: &redb::Database, rx: &std::sync::mpsc::Receiver<Job>, stats: &WriterStats) {
    while let Ok(first) = rx.recv() {
        let mut jobs = vec![first];
        while jobs.len() < MAX_GROUP {
            match rx.try_recv() {
                Ok(j) => jobs.push(j),
                Err(_) => break,
            }
        }
        let txn = match db.begin_write() {
            Ok(t) => t,
            Err(e) => {
                tracing::error!(error = %e, "cannot begin a write transaction");
                stats.failed_groups.fetch_add(1, Ordering::Relaxed);
                // Dropping the jobs drops their reply channels: callers see
                // Unavailable.
                continue;
            }
        };
        let operations = jobs.len() as u64;
        let mut replies = Vec::with_capacity(jobs.len());
        let mut failed = false;
        for job in jobs {
            let (reply, f) = job(&txn);
            failed |= f;
            replies.push(reply);
        }
        #[cfg(feature = "testing")]
        if stats.fail_commits.load(Ordering::SeqCst) {
            failed = true;
        }
        let committed = if failed {
            let _ = txn.abort();
            false
        } else {
            let started = std::time::Instant::now();
            match txn.commit() {
                Ok(()) => {
                    crate::metrics::METRICS
                        .store_commit(crate::metrics::StoreKind::Redb, started.elapsed());
                    true
                }
                Err(e) => {
                    tracing::error!(error = %e, "commit failed");
                    false
                }
            }
        };
        if committed {
            stats.commits.fetch_add(1, Ordering::Relaxed);
            stats.operations.fetch_add(operations, Ordering::Relaxed);
        } else {
            stats.failed_groups.fetch_add(1, Ordering::Relaxed);
        }
        // Only now, with the group durable (or wholly discarded), does any
        // caller get its answer.
        for reply in replies {
            reply(committed);
        }
    }
}

fn load_revoked(
    db: &redb::Database,
    definition: TableDefinition<'_, &str, u64>,
) -> Result<HashMap<String, u64>, DbError> {
    use redb::ReadableTable;
    let now = crate::env::now().map(|t| t.secs()).unwrap_or(0);
    let txn = db.begin_read().map_err(db_err)?;
    let table = txn.open_table(definition).map_err(db_err)?;
    let mut out = HashMap::new();
    for row in table.iter().map_err(db_err)? {
        let (k, v) = row.map_err(db_err)?;
        if v.value() > now {
            out.insert(k.value().to_owned(), v.value());
        }
    }
    Ok(out)
}
