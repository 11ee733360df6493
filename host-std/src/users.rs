//! Local users: argon2id password hashes in the database, and the
//! [`UserAuthenticator`] the core's sign-in page calls.

use std::future::Future;

use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};
use mcpauth_core::rand::SecureRandom;
use mcpauth_core::store::StoreError;
use serde::{Deserialize, Serialize};

use crate::backend::{Backend, HostStore, KvTable};
use crate::env::OsRandom;

/// A stored user.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct UserRecord {
    /// Login name.
    pub username: String,
    /// Stable subject (`sub`) of the user's tokens; survives password changes.
    pub subject: String,
    /// argon2id PHC string.
    pub password_hash: String,
    /// Unix seconds.
    pub created_at: u64,
}

/// Why a user operation failed.
#[derive(Debug)]
pub enum UserError {
    /// The name is taken.
    Exists,
    /// No such user.
    NotFound,
    /// The name is empty, too long or has odd characters.
    BadName,
    /// The password is shorter than 8 characters.
    WeakPassword,
    /// Storage or hashing failed.
    Internal(String),
}

impl std::fmt::Display for UserError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            UserError::Exists => f.write_str("a user with this name already exists"),
            UserError::NotFound => f.write_str("no such user"),
            UserError::BadName => f.write_str(
                "user names are 1 to 64 characters: letters, digits, '.', '_', '-', '@'",
            ),
            UserError::WeakPassword => f.write_str("the password must have at least 8 characters"),
            UserError::Internal(e) => write!(f, "internal error: {e}"),
        }
    }
}

impl std::error::Error for UserError {}

impl From<StoreError> for UserError {
    fn from(e: StoreError) -> Self {
        UserError::Internal(e.to_string())
    }
}

/// argon2id with 7 MiB, 5 passes, 1 lane (one of OWASP's recommended
/// settings; chosen over 19 MiB/2 passes to keep the server's memory small).
fn hasher() -> Argon2<'static> {
    let params = Params::new(7 * 1024, 5, 1, None).unwrap_or_default();
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
}

#[cfg(test)]
thread_local! {
    /// Argon2 hashes computed on this thread (tests count them).
    static HASHED: std::cell::Cell<usize> = const { std::cell::Cell::new(0) };
}

/// Hash a password (PHC string).
pub fn hash_password(password: &str) -> Result<String, UserError> {
    #[cfg(test)]
    HASHED.with(|n| n.set(n.get() + 1));
    let mut salt = [0u8; 16];
    OsRandom
        .fill(&mut salt)
        .map_err(|e| UserError::Internal(e.to_string()))?;
    let salt = SaltString::encode_b64(&salt).map_err(|e| UserError::Internal(e.to_string()))?;
    hasher()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| UserError::Internal(e.to_string()))
}

/// What an unknown user's password is checked against, so that the answer
/// takes as long as for a known user: a PHC string with [`hasher`]'s
/// parameters (the cost of a check is set by them alone), whose salt and
/// output are fixed zeros that no password hashes to. Written, not
/// computed: hashing a dummy password cost 7 MiB and two Argon2 runs at
/// every start (a third of the start-up time) and one per admin command.
fn dummy_hash() -> &'static str {
    static DUMMY: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    DUMMY.get_or_init(|| {
        let argon2 = hasher();
        let params = argon2.params();
        format!(
            "$argon2id$v=19$m={},t={},p={}${}${}",
            params.m_cost(),
            params.t_cost(),
            params.p_cost(),
            "A".repeat(22), // 16 zero bytes, unpadded base64
            "A".repeat(43), // 32 zero bytes
        )
    })
}

/// Check a password against a PHC string.
pub fn verify_password(password: &str, phc: &str) -> bool {
    PasswordHash::new(phc)
        .map(|h| hasher().verify_password(password.as_bytes(), &h).is_ok())
        .unwrap_or(false)
}

pub(crate) fn valid_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 64
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-' | '@'))
}

/// User administration and authentication over the database.
#[derive(Debug, Clone)]
pub struct Users {
    db: Backend,
}

impl Users {
    /// Users stored in `db`.
    pub fn new(db: impl Into<Backend>) -> Users {
        Users { db: db.into() }
    }

    /// Add a user.
    pub fn add(&self, username: &str, password: &str) -> Result<UserRecord, UserError> {
        if !valid_name(username) {
            return Err(UserError::BadName);
        }
        if password.chars().count() < 8 {
            return Err(UserError::WeakPassword);
        }
        let subject = mcpauth_core::rand::random_token::<16>(&mut OsRandom)
            .map_err(|e| UserError::Internal(e.to_string()))?;
        let record = UserRecord {
            username: username.to_owned(),
            subject: format!("user_{subject}"),
            password_hash: hash_password(password)?,
            created_at: crate::env::now().map(|t| t.secs()).unwrap_or(0),
        };
        let bytes = serde_json::to_vec(&record).map_err(|e| UserError::Internal(e.to_string()))?;
        let inserted = self.db.kv_insert_new(KvTable::Users, username, bytes)?;
        if inserted {
            Ok(record)
        } else {
            Err(UserError::Exists)
        }
    }

    /// Replace a user's password (the subject stays).
    pub fn set_password(&self, username: &str, password: &str) -> Result<(), UserError> {
        if password.chars().count() < 8 {
            return Err(UserError::WeakPassword);
        }
        let mut record = self.get(username)?.ok_or(UserError::NotFound)?;
        record.password_hash = hash_password(password)?;
        let bytes = serde_json::to_vec(&record).map_err(|e| UserError::Internal(e.to_string()))?;
        self.db
            .kv_put(KvTable::Users, vec![(username.to_owned(), bytes)])?;
        Ok(())
    }

    /// Remove a user; returns its subject, whose grants the caller revokes
    /// (see [`crate::backend::Backend::revoke_grants_of_blocking`]).
    pub fn remove(&self, username: &str) -> Result<String, UserError> {
        let record = self.get(username)?.ok_or(UserError::NotFound)?;
        if self.db.kv_remove(KvTable::Users, username)? {
            Ok(record.subject)
        } else {
            Err(UserError::NotFound)
        }
    }

    /// One user.
    pub fn get(&self, username: &str) -> Result<Option<UserRecord>, UserError> {
        Ok(self.db.kv_get(KvTable::Users, username)?)
    }

    /// Every user.
    pub fn list(&self) -> Result<Vec<UserRecord>, UserError> {
        Ok(self.db.kv_all(KvTable::Users)?)
    }

    /// How many users exist.
    pub fn count(&self) -> Result<u64, UserError> {
        Ok(self.db.kv_count(KvTable::Users)?)
    }
}

/// Password checks that may run at once: one per core. Argon2 is CPU-bound
/// and holds 7 MiB while it runs, so more checks than cores add memory, not
/// throughput: the app's 16 OAuth slots could otherwise hold 16 checks
/// (~112 MiB) during a burst of sign-ins. The others wait their turn.
fn check_permits() -> &'static tokio::sync::Semaphore {
    static PERMITS: std::sync::OnceLock<tokio::sync::Semaphore> = std::sync::OnceLock::new();
    PERMITS.get_or_init(|| {
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        tokio::sync::Semaphore::new(cores)
    })
}

#[cfg(test)]
static CHECKS_RUNNING: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
#[cfg(test)]
static CHECKS_PEAK: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);

impl Users {
    /// The subject of `username` if `password` is right. Runs argon2 on the
    /// blocking pool, at most one check per core at a time
    /// ([`check_permits`]); takes the same time for unknown users.
    pub fn check(
        &self,
        username: &str,
        password: &str,
    ) -> impl Future<Output = Option<String>> + Send + use<> {
        let users = self.clone();
        let username = username.to_owned();
        let password = zeroize::Zeroizing::new(password.to_owned());
        async move {
            // The semaphore is never closed: an error cannot happen, and
            // would fail the sign-in rather than skip the bound.
            let permit = check_permits().acquire().await.ok()?;
            tokio::task::spawn_blocking(move || {
                let _permit = permit;
                #[cfg(test)]
                {
                    use std::sync::atomic::Ordering::SeqCst;
                    let now = CHECKS_RUNNING.fetch_add(1, SeqCst) + 1;
                    CHECKS_PEAK.fetch_max(now, SeqCst);
                }
                let record = users.get(&username).ok().flatten();
                let subject = match record {
                    Some(r) if verify_password(&password, &r.password_hash) => Some(r.subject),
                    Some(_) => None,
                    None => {
                        // Same work as a real check: no user enumeration by timing.
                        let _ = verify_password(&password, dummy_hash());
                        None
                    }
                };
                #[cfg(test)]
                CHECKS_RUNNING.fetch_sub(1, std::sync::atomic::Ordering::SeqCst);
                subject
            })
            .await
            .ok()
            .flatten()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hash_roundtrip() {
        let h = hash_password("correct horse").expect("hash");
        assert!(h.starts_with("$argon2id$"));
        assert!(verify_password("correct horse", &h));
        assert!(!verify_password("wrong horse", &h));
    }

    #[test]
    fn the_dummy_hash_costs_what_a_real_check_does() {
        let real = hash_password("correct horse").expect("hash");
        let real = PasswordHash::new(&real).expect("real PHC");
        let dummy = PasswordHash::new(dummy_hash()).expect("dummy PHC");
        assert_eq!(dummy.algorithm, real.algorithm);
        assert_eq!(dummy.version, real.version);
        assert_eq!(dummy.params, real.params);
        assert_eq!(
            dummy.hash.map(|h| h.len()),
            real.hash.map(|h| h.len()),
            "same output length"
        );
        assert!(!verify_password("correct horse", dummy_hash()));
        assert!(!verify_password("", dummy_hash()));
    }

    #[test]
    fn opening_users_hashes_nothing() {
        let dir = std::env::temp_dir().join(format!("mcpauth-users-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let db = crate::db::Db::open(&dir).expect("open db");
        let before = HASHED.with(|n| n.get());
        let users = Users::new(db);
        assert_eq!(HASHED.with(|n| n.get()), before, "Users::new ran Argon2");
        drop(users);
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn password_checks_run_at_most_one_per_core() {
        let dir = std::env::temp_dir().join(format!("mcpauth-checks-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let users = Users::new(crate::db::Db::open(&dir).expect("open db"));
        users.add("alice", "correct horse").expect("add");
        let permits = check_permits().available_permits();
        let checks: Vec<_> = (0..permits * 4)
            .map(|i| match i % 3 {
                0 => tokio::spawn(users.check("alice", "correct horse")),
                1 => tokio::spawn(users.check("alice", "wrong horse")),
                _ => tokio::spawn(users.check("nobody", "correct horse")),
            })
            .collect();
        for (i, check) in checks.into_iter().enumerate() {
            let subject = check.await.expect("join");
            assert_eq!(subject.is_some(), i % 3 == 0, "check {i}");
        }
        let peak = CHECKS_PEAK.load(std::sync::atomic::Ordering::SeqCst);
        assert!(
            peak >= 1 && peak <= permits,
            "{peak} checks ran at once, {permits} cores"
        );
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn names() {
        assert!(valid_name("alice@example.com"));
        assert!(!valid_name(""));
        assert!(!valid_name("a b"));
    }
}
