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

mod host;
mod options;
mod pool;
mod schema;
mod store;

pub use host::KvTable;
pub use options::{MAX_REVOCATION_RECHECK_MS, PgOptions, is_postgres_url};
pub(crate) use pool::{OpError, dec, enc, from_db, to_db};
pub use pool::{PgError, PgStore};

/// Rows deleted per purge statement.
pub const SWEEP_BATCH: i64 = 500;

/// One batch of expired pending requests (`$1` now, `$2` batch size).
pub(crate) const SWEEP_PENDING: &str = "DELETE FROM pending WHERE id IN (SELECT id FROM pending WHERE expires_at <= $1 LIMIT $2 FOR UPDATE SKIP LOCKED)";

/// Advisory-lock namespace of mcpauth (first half of the two-int key).
const LOCK_NAMESPACE: i32 = 0x6d63_7061; // "mcpa"
