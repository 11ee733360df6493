//! Signing keys: generated on first run, stored (PKCS#8) in the database
//! inside the 0600 data directory, so tokens verify across restarts with the
//! same `kid`. Rotation keeps publishing retired keys until every token they
//! signed has expired.

use base64ct::{Base64, Encoding};
use mcpauth_core::jose::{KeySet, SigningKey};
use mcpauth_core::store::StoreError;
use serde::{Deserialize, Serialize};

use crate::backend::{Backend, HostStore, KvTable};
use crate::env::OsRandom;

/// RSA modulus size of generated keys.
pub const KEY_BITS: usize = 2048;

/// A stored signing key.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct KeyRecord {
    /// RFC 7638 thumbprint `kid`.
    pub kid: String,
    /// PKCS#8 DER, base64.
    pub pkcs8: String,
    /// Unix seconds.
    pub created_at: u64,
    /// When it stopped signing; `None` for the active key.
    pub retired_at: Option<u64>,
    /// Longest access-token lifetime it may have signed with (seconds).
    pub max_token_ttl: u64,
}

impl KeyRecord {
    /// Until when a retired key must stay published.
    pub fn publish_until(&self) -> Option<u64> {
        self.retired_at
            .map(|r| r.saturating_add(self.max_token_ttl).saturating_add(60))
    }
}

/// Why key handling failed.
#[derive(Debug)]
pub struct KeyFailure(pub String);

impl std::fmt::Display for KeyFailure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for KeyFailure {}

impl From<StoreError> for KeyFailure {
    fn from(e: StoreError) -> Self {
        KeyFailure(e.to_string())
    }
}

/// A key set signing with `key` on the build's RS256 backend: aws-lc-rs with
/// the `aws-lc` feature (the default), the core's pure-Rust provider
/// (`rsa` 0.10) in `--no-default-features` builds.
pub fn keyset(key: SigningKey) -> KeySet {
    #[cfg(feature = "aws-lc")]
    {
        // The first signature's one-time costs, on a thread of their own
        // rather than in the first token request (a thread that cannot
        // start leaves them to that request). A periodic reload finds the
        // key parsed: nothing to do.
        if !crate::aws_lc::AWS_LC_RSA.holds(key.kid()) {
            let warm = key.clone();
            let _ = std::thread::Builder::new()
                .name("aws-lc-warm-up".into())
                .spawn(move || crate::aws_lc::AWS_LC_RSA.warm_up(&warm));
        }
    }
    let set = KeySet::new(key);
    #[cfg(feature = "aws-lc")]
    let set = set.with_provider(&crate::aws_lc::AWS_LC_RSA);
    set
}

/// Every stored key, newest first.
pub fn list(db: &Backend) -> Result<Vec<KeyRecord>, KeyFailure> {
    let mut keys: Vec<KeyRecord> = db.kv_all(KvTable::Keys)?;
    keys.sort_by_key(|k| std::cmp::Reverse(k.created_at));
    Ok(keys)
}

fn generate(access_ttl: u64, now: u64) -> Result<(SigningKey, KeyRecord), KeyFailure> {
    let key = SigningKey::generate(&mut OsRandom, KEY_BITS)
        .map_err(|e| KeyFailure(format!("key generation failed: {e}")))?;
    let der = key
        .to_pkcs8_der()
        .map_err(|e| KeyFailure(format!("key encoding failed: {e}")))?;
    let record = KeyRecord {
        kid: key.kid().to_owned(),
        pkcs8: Base64::encode_string(&der),
        created_at: now,
        retired_at: None,
        max_token_ttl: access_ttl,
    };
    Ok((key, record))
}

fn put(db: &Backend, records: Vec<KeyRecord>) -> Result<(), KeyFailure> {
    let mut rows = Vec::new();
    for r in records {
        let bytes = serde_json::to_vec(&r).map_err(|e| KeyFailure(e.to_string()))?;
        rows.push((r.kid, bytes));
    }
    db.kv_put(KvTable::Keys, rows)?;
    Ok(())
}

fn decode(record: &KeyRecord) -> Result<SigningKey, KeyFailure> {
    let der = Base64::decode_vec(&record.pkcs8)
        .map_err(|_| KeyFailure(format!("stored key {} is corrupt", record.kid)))?;
    SigningKey::from_pkcs8_der(&der)
        .map_err(|e| KeyFailure(format!("stored key {} is unusable: {e}", record.kid)))
}

/// Load the key set: the active key signs; retired keys verify until their
/// tokens have expired. Generates and stores a key on first run.
/// `access_ttl` is the configured access-token lifetime.
pub fn load_or_create(db: &Backend, access_ttl: u64, now: u64) -> Result<KeySet, KeyFailure> {
    let records = list(db)?;
    let active = records.iter().find(|r| r.retired_at.is_none());
    let mut set = match active {
        Some(r) => {
            let mut r2 = r.clone();
            let key = decode(r)?;
            if r2.max_token_ttl < access_ttl {
                // The lifetime was raised: remember the longest one used.
                r2.max_token_ttl = access_ttl;
                put(db, vec![r2])?;
            }
            keyset(key)
        }
        None => {
            let (key, record) = generate(access_ttl, now)?;
            tracing::info!(kid = %record.kid, "generated a new signing key");
            put(db, vec![record])?;
            keyset(key)
        }
    };
    for r in records.iter().filter(|r| r.retired_at.is_some()) {
        if r.publish_until().is_some_and(|until| until > now) {
            let key = decode(r)?;
            set.add_verifying_key(key.verifying_key().clone())
                .map_err(|e| KeyFailure(format!("key {}: {e}", r.kid)))?;
        }
    }
    Ok(set)
}

/// Make a new key active; the previous one is retired (still published until
/// its tokens expire). Returns the new record.
pub fn rotate(db: &Backend, access_ttl: u64, now: u64) -> Result<KeyRecord, KeyFailure> {
    let mut records = list(db)?;
    let (_, new) = generate(access_ttl, now)?;
    for r in records.iter_mut().filter(|r| r.retired_at.is_none()) {
        r.retired_at = Some(now);
        r.max_token_ttl = r.max_token_ttl.max(access_ttl);
    }
    records.retain(|r| r.retired_at == Some(now));
    records.push(new.clone());
    put(db, records)?;
    Ok(new)
}
