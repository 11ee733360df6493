//! Access tokens remember the refresh family (grant) that minted them, so
//! revoking the family — refresh-token reuse, RFC 7009 revocation of a
//! refresh token, a replayed code, an operator removing the client or the
//! user — refuses the family's access tokens at once instead of letting them
//! live out their lifetime.
//!
//! ## Shape
//! An access token's `jti` is `<access family>.<random>`. The access family
//! is an opaque digest of the refresh family id, not the id itself: the
//! family id is the first segment of every refresh token of the grant, and
//! access tokens are shown to resource servers, which have no business
//! linking them to refresh tokens. A `jti` without a `.` (tokens minted
//! before this scheme) names no family and is checked by `jti` alone.
//!
//! Revoking a family writes the access family into the store's bounded
//! revoked-families set ([`RevocationStore::revoke_access_family`]) for
//! [`access_family_revocation_ttl`]: the longest an access token of the
//! family can still verify. Every place that refuses revoked `jti`s asks
//! [`is_access_token_revoked`], which checks `jti` and family in one store
//! call.

use alloc::format;
use alloc::string::String;

use base64ct::{Base64UrlUnpadded, Encoding};
use sha2::{Digest, Sha256};

use crate::jose::DEFAULT_LEEWAY_SECS;
use crate::rand::{RngError, SecureRandom, random_token};
use crate::store::{GrantOwner, RefreshStore, RevocationStore, StoreError};
use crate::time::UnixTime;

/// Domain separation, so the digest is useless as any other hash of the id.
const DOMAIN: &[u8] = b"mcpauth access-token family\0";

/// The opaque access family of refresh family `family_id`: 128 bits of
/// SHA-256, base64url (22 characters, never a `.`).
pub fn access_family_of(family_id: &str) -> String {
    let digest = Sha256::new()
        .chain_update(DOMAIN)
        .chain_update(family_id.as_bytes())
        .finalize();
    Base64UrlUnpadded::encode_string(&digest[..16])
}

/// The access family a `jti` names, if it names one.
pub fn access_family_in_jti(jti: &str) -> Option<&str> {
    jti.split_once('.')
        .map(|(family, _)| family)
        .filter(|f| !f.is_empty())
}

/// A fresh `jti` for an access token of refresh family `family_id`.
pub(crate) fn new_jti(family_id: &str, rng: &mut dyn SecureRandom) -> Result<String, RngError> {
    let random = random_token::<16>(rng)?;
    Ok(format!("{}.{random}", access_family_of(family_id)))
}

/// How long a family's revocation must be remembered: an access token
/// minted just before it lives `access_token_ttl`, and verification accepts
/// it for the JOSE leeway past `exp`.
pub fn access_family_revocation_ttl(access_token_ttl: u64) -> u64 {
    access_token_ttl.saturating_add(DEFAULT_LEEWAY_SECS)
}

/// Revoke refresh family `family_id` and every access token it minted.
/// The access family is written even if the refresh family is unknown (a
/// replayed code racing the first redemption's write), so no access token
/// of the grant survives.
pub async fn revoke_family_and_access_tokens<S: RefreshStore + RevocationStore>(
    store: &S,
    family_id: &str,
    access_token_ttl: u64,
    now: UnixTime,
) -> Result<(), StoreError> {
    store.revoke_family(family_id).await?;
    revoke_access_tokens_of_family(store, family_id, access_token_ttl, now).await
}

/// Revoke every grant of `owner` (an operator removed the client or the
/// user): the refresh families and all their access tokens. Returns how many
/// grants were revoked.
pub async fn revoke_grants_of<S: RefreshStore + RevocationStore>(
    store: &S,
    owner: GrantOwner<'_>,
    access_token_ttl: u64,
    now: UnixTime,
) -> Result<usize, StoreError> {
    let families = store.revoke_families_of(owner, now).await?;
    for family_id in &families {
        revoke_access_tokens_of_family(store, family_id, access_token_ttl, now).await?;
    }
    Ok(families.len())
}

/// Refuse every access token refresh family `family_id` minted (for a
/// family the store already revoked, e.g. by reuse detection).
pub async fn revoke_access_tokens_of_family<R: RevocationStore>(
    store: &R,
    family_id: &str,
    access_token_ttl: u64,
    now: UnixTime,
) -> Result<(), StoreError> {
    let until = now
        .secs()
        .saturating_add(access_family_revocation_ttl(access_token_ttl));
    store
        .revoke_access_family(&access_family_of(family_id), until, now)
        .await
}

/// Whether the access token with `jti` is revoked, by `jti` or by family.
pub async fn is_access_token_revoked<R: RevocationStore>(
    store: &R,
    jti: &str,
    now: UnixTime,
) -> Result<bool, StoreError> {
    store
        .is_access_token_revoked(jti, access_family_in_jti(jti), now)
        .await
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rand::InsecureSeededRandom;

    #[test]
    fn jti_names_its_family_opaquely() {
        let mut rng = InsecureSeededRandom::new(7);
        let a = new_jti("grant-1", &mut rng).unwrap_or_default();
        let b = new_jti("grant-1", &mut rng).unwrap_or_default();
        assert_ne!(a, b, "every token its own jti");
        assert_eq!(access_family_in_jti(&a), access_family_in_jti(&b));
        assert_eq!(
            access_family_in_jti(&a),
            Some(access_family_of("grant-1").as_str())
        );
        assert_ne!(access_family_of("grant-1"), access_family_of("grant-2"));
        assert!(!access_family_of("grant-1").contains("grant"));
        assert_eq!(access_family_of("grant-1").len(), 22);
    }

    #[test]
    fn old_jtis_name_no_family() {
        assert_eq!(access_family_in_jti("AbCdEf0123456789abcdef"), None);
        assert_eq!(access_family_in_jti(".x"), None);
    }
}
