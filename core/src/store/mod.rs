//! Persistence for the authorization server: traits, records and the bounded
//! in-memory implementation.
//!
//! ## Shape
//! Five small traits, one per kind of record, and a [`Store`] super-trait with
//! a blanket implementation, so an implementor writes five `impl` blocks and
//! the server asks for `S: Store`:
//!
//! | trait | holds | atomic rule |
//! | --- | --- | --- |
//! | [`ClientStore`] | registered clients | insert fails on a duplicate id; clients never used can be pruned |
//! | [`PendingStore`] | authorization requests awaiting the user | [`PendingStore::take_pending`] removes and returns |
//! | [`CodeStore`] | authorization codes | [`CodeStore::take_code`] redeems once, leaves a tombstone |
//! | [`RefreshStore`] | refresh-token families | [`RefreshStore::rotate_refresh`] is a compare-and-swap |
//! | [`RevocationStore`] | revoked access-token `jti`s and access-token families | — |
//!
//! Every method is `async` (returns `impl Future + Send`; implementors may
//! write `async fn`): a PostgreSQL implementation runs each atomic rule as one
//! statement or transaction (`DELETE … RETURNING`, `UPDATE … WHERE
//! current_hash = $presented`), so two instances sharing one database can
//! never both redeem a code or both rotate the same refresh token. Method
//! names are distinct across the traits so that calls on a type implementing
//! all of them are never ambiguous.
//!
//! ## Secrets
//! Client secrets, authorization codes and refresh tokens are stored only as
//! SHA-256 hashes ([`SecretHash`], made by [`hash_secret`]); lookups go by
//! hash and the one comparison of a presented secret against a stored hash
//! ([`secret_matches`]) is constant-time. The secrets are high-entropy random
//! strings (≥ 128 bits), so an unsalted fast hash is the right tool: nothing
//! to brute-force, and the database never holds a usable credential.
//!
//! ## Time
//! `now` is an argument wherever expiry matters. Expired records are treated
//! as absent and may be evicted by the store at any time.

use alloc::string::String;
use alloc::vec::Vec;
use core::fmt;
use core::future::Future;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use crate::time::UnixTime;

mod memory;
pub mod rules;

#[cfg(any(test, feature = "testing"))]
pub mod conformance;

pub use memory::{MemoryStore, MemoryStoreLimits};

/// SHA-256 of a secret (client secret, authorization code, refresh token).
pub type SecretHash = [u8; 32];

/// Hash a secret for storage or lookup.
pub fn hash_secret(secret: &str) -> SecretHash {
    let digest = Sha256::digest(secret.as_bytes());
    let mut out = [0u8; 32];
    out.copy_from_slice(&digest);
    out
}

/// Constant-time equality of two secret hashes.
pub fn secret_matches(a: &SecretHash, b: &SecretHash) -> bool {
    a.ct_eq(b).into()
}

/// Why a store operation failed. Carries no record content.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum StoreError {
    /// A bounded store has no room left, even after evicting expired entries.
    Full,
    /// A record with the same key already exists.
    Duplicate,
    /// The backing database could not be reached or failed.
    Unavailable,
}

impl fmt::Display for StoreError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            StoreError::Full => "the store is full",
            StoreError::Duplicate => "a record with this key already exists",
            StoreError::Unavailable => "the store is unavailable",
        })
    }
}

#[cfg(feature = "std")]
impl std::error::Error for StoreError {}

/// How a client authenticates at the token, introspection and revocation
/// endpoints (RFC 7591 `token_endpoint_auth_method`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ClientAuthMethod {
    /// Public client: no secret, PKCE only.
    None,
    /// `Authorization: Basic` with the client id and secret.
    ClientSecretBasic,
    /// `client_id` and `client_secret` in the form body.
    ClientSecretPost,
}

impl ClientAuthMethod {
    /// The RFC 7591 name.
    pub fn as_str(self) -> &'static str {
        match self {
            ClientAuthMethod::None => "none",
            ClientAuthMethod::ClientSecretBasic => "client_secret_basic",
            ClientAuthMethod::ClientSecretPost => "client_secret_post",
        }
    }
}

/// A registered client.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClientRecord {
    /// The client identifier (random, issued by us).
    pub client_id: String,
    /// Hash of the client secret; `None` for public clients.
    pub secret_hash: Option<SecretHash>,
    /// The registered authentication method.
    pub auth_method: ClientAuthMethod,
    /// Registered redirect URIs, compared exactly (loopback port aside).
    pub redirect_uris: Vec<String>,
    /// Registered grant types.
    pub grant_types: Vec<String>,
    /// Registered response types.
    pub response_types: Vec<String>,
    /// Scopes the client may ask for.
    pub scopes: Vec<String>,
    /// Human-readable name shown on the consent page, if given.
    pub client_name: Option<String>,
    /// `true` for `application_type` `native`.
    pub native: bool,
    /// When the client was registered (Unix seconds).
    pub issued_at: u64,
}

/// An authorization request waiting for the user to sign in and decide.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PendingAuthorization {
    /// Random handle of the request (carried in the login form).
    pub id: String,
    /// Hash of the anti-CSRF value bound to the browser (cookie + form).
    pub csrf_hash: SecretHash,
    /// The requesting client.
    pub client_id: String,
    /// The validated redirect URI, exactly as the client sent it.
    pub redirect_uri: String,
    /// The client's `state`, echoed on the redirect.
    pub state: Option<String>,
    /// Requested (already validated) scopes.
    pub scopes: Vec<String>,
    /// Canonical resource the token will be for.
    pub resource: String,
    /// PKCE S256 challenge.
    pub code_challenge: String,
    /// Absolute expiry (Unix seconds).
    pub expires_at: u64,
    /// Set while the user signs in at an upstream OpenID provider: the
    /// request then waits under an id derived from the upstream `state`
    /// (see [`crate::oauth::oidc`]), and `csrf_hash` binds the browser that
    /// went there. Absent in records written before upstream sign-in
    /// existed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub upstream: Option<UpstreamLogin>,
}

/// An upstream sign-in in progress: what the callback needs to finish it.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UpstreamLogin {
    /// The configured provider's id.
    pub provider: String,
    /// The `nonce` sent to the provider (the ID token must carry it; it
    /// travelled through the browser, so it is no secret).
    pub nonce: String,
    /// The PKCE verifier of the upstream request (sent to the provider's
    /// token endpoint with the code).
    pub code_verifier: String,
}

impl fmt::Debug for UpstreamLogin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("UpstreamLogin")
            .field("provider", &self.provider)
            .finish_non_exhaustive()
    }
}

/// A redeemable authorization code, bound to everything the token request
/// must match.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CodeRecord {
    /// Hash of the code (the lookup key).
    pub code_hash: SecretHash,
    /// The grant this code starts; becomes the refresh family id.
    pub grant_id: String,
    /// The client the code was issued to.
    pub client_id: String,
    /// The redirect URI of the authorization request.
    pub redirect_uri: String,
    /// PKCE S256 challenge.
    pub code_challenge: String,
    /// Canonical resource.
    pub resource: String,
    /// Granted scopes.
    pub scopes: Vec<String>,
    /// The resource owner.
    pub subject: String,
    /// Absolute expiry (Unix seconds).
    pub expires_at: u64,
}

/// The access token issued from a redeemed code, remembered so that a replay
/// of the code can revoke it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IssuedAccessToken {
    /// The access token's `jti`.
    pub jti: String,
    /// Its expiry (Unix seconds).
    pub expires_at: u64,
}

/// Result of [`CodeStore::take_code`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CodeTake {
    /// First redemption: the code is now spent.
    Redeemed(CodeRecord),
    /// The code was already redeemed: the grant it started and the access
    /// token issued from it (if recorded yet) must be revoked.
    Replayed {
        /// The refresh family started by the first redemption.
        grant_id: String,
        /// The client the code was issued to: only that client's replay
        /// may revoke the grant (anyone else holding the code is not the
        /// code's client, and must not be able to end the victim's grant).
        client_id: String,
        /// The access token issued by the first redemption.
        access_token: Option<IssuedAccessToken>,
    },
    /// Unknown or expired.
    Unknown,
}

/// A refresh-token family: one grant, one live refresh token at a time.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RefreshFamily {
    /// Family id (the grant id); the first segment of every refresh token of
    /// the family.
    pub family_id: String,
    /// Client the grant belongs to.
    pub client_id: String,
    /// Resource owner.
    pub subject: String,
    /// Canonical resource of the grant.
    pub resource: String,
    /// Scopes of the original grant (refreshes may narrow, never widen).
    pub granted_scopes: Vec<String>,
    /// Scopes of the current refresh token.
    pub scopes: Vec<String>,
    /// Hash of the one live refresh token.
    pub current_hash: SecretHash,
    /// When the current refresh token was issued.
    pub current_issued_at: u64,
    /// Expiry of the current refresh token (Unix seconds).
    pub current_expires_at: u64,
    /// Absolute end of the family, whatever the rotations.
    pub family_expires_at: u64,
    /// Set when reuse was detected or the family was revoked.
    pub revoked: bool,
}

/// The new state written by a successful rotation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rotation {
    /// Hash of the new refresh token.
    pub new_hash: SecretHash,
    /// Scopes of the new refresh token (a subset of the grant).
    pub scopes: Vec<String>,
    /// Issue time of the new token.
    pub issued_at: u64,
    /// Expiry of the new token.
    pub expires_at: u64,
}

/// Result of [`RefreshStore::rotate_refresh`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RotateOutcome {
    /// The presented token was the live one; the family now holds the new one.
    /// Carries the family as it was *before* rotation.
    Rotated(alloc::boxed::Box<RefreshFamily>),
    /// The presented token was not the live one (rotated out, or forged):
    /// the whole family is now revoked.
    Reused,
    /// Unknown family, revoked, or expired.
    Invalid,
}

/// Registered clients.
pub trait ClientStore {
    /// Insert a new client; [`StoreError::Duplicate`] if the id exists.
    fn insert_client(
        &self,
        client: ClientRecord,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;
    /// Look a client up by id.
    fn client(
        &self,
        client_id: &str,
    ) -> impl Future<Output = Result<Option<ClientRecord>, StoreError>> + Send;
    /// Note that a user authorized `client_id`: from now on
    /// [`ClientStore::prune_unused_clients`] never removes it. Idempotent;
    /// an unknown id is not an error.
    fn mark_client_used(
        &self,
        client_id: &str,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;
    /// Remove clients no user ever authorized (registration is open, so
    /// abandoned and flooded registrations must not stay forever): every
    /// one registered before `registered_before`, then the oldest while
    /// more than `max_unused` remain. Returns how many were removed.
    /// Clients stored before the store supported this count as used.
    fn prune_unused_clients(
        &self,
        registered_before: u64,
        max_unused: usize,
    ) -> impl Future<Output = Result<usize, StoreError>> + Send;
}

/// Authorization requests awaiting login and consent.
pub trait PendingStore {
    /// Store a pending request; [`StoreError::Full`] when out of room.
    fn insert_pending(
        &self,
        pending: PendingAuthorization,
        now: UnixTime,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;
    /// Read an unexpired pending request without consuming it.
    fn pending(
        &self,
        id: &str,
        now: UnixTime,
    ) -> impl Future<Output = Result<Option<PendingAuthorization>, StoreError>> + Send;
    /// Atomically remove and return an unexpired pending request: of two
    /// concurrent calls at most one gets `Some`.
    fn take_pending(
        &self,
        id: &str,
        now: UnixTime,
    ) -> impl Future<Output = Result<Option<PendingAuthorization>, StoreError>> + Send;
}

/// Authorization codes.
pub trait CodeStore {
    /// Store a fresh code.
    fn insert_code(
        &self,
        code: CodeRecord,
        now: UnixTime,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;
    /// Atomically redeem a code. The first call for an unexpired code gets
    /// [`CodeTake::Redeemed`] and leaves a tombstone (kept at least until the
    /// code would have expired); every later call gets
    /// [`CodeTake::Replayed`].
    fn take_code(
        &self,
        code_hash: &SecretHash,
        now: UnixTime,
    ) -> impl Future<Output = Result<CodeTake, StoreError>> + Send;
    /// Remember on the tombstone which access token the redemption issued.
    fn record_code_access_token(
        &self,
        code_hash: &SecretHash,
        token: IssuedAccessToken,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;
}

/// Whose grants to revoke when an operator removes a client or a user.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GrantOwner<'a> {
    /// Every grant issued to this client.
    Client(&'a str),
    /// Every grant of this resource owner (`sub`).
    Subject(&'a str),
}

impl GrantOwner<'_> {
    /// Whether `family` belongs to this owner.
    pub fn owns(&self, family: &RefreshFamily) -> bool {
        match *self {
            GrantOwner::Client(id) => family.client_id == id,
            GrantOwner::Subject(sub) => family.subject == sub,
        }
    }
}

/// Refresh-token families.
pub trait RefreshStore {
    /// Store a new family.
    fn insert_family(
        &self,
        family: RefreshFamily,
        now: UnixTime,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;
    /// Read a family (revoked or not; `None` if unknown or past its absolute
    /// expiry).
    fn family(
        &self,
        family_id: &str,
        now: UnixTime,
    ) -> impl Future<Output = Result<Option<RefreshFamily>, StoreError>> + Send;
    /// Compare-and-swap: if the family is live and `presented` is its current
    /// hash (and the current token unexpired), install `rotation`. If the
    /// family is live but `presented` is not current, revoke the family
    /// (reuse detection) and return [`RotateOutcome::Reused`].
    fn rotate_refresh(
        &self,
        family_id: &str,
        presented: &SecretHash,
        rotation: Rotation,
        now: UnixTime,
    ) -> impl Future<Output = Result<RotateOutcome, StoreError>> + Send;
    /// Revoke a family (idempotent; unknown ids are fine).
    fn revoke_family(&self, family_id: &str)
    -> impl Future<Output = Result<(), StoreError>> + Send;
    /// Revoke every live family of `owner` (an operator removed the client
    /// or the user) and return the ids of the families this call revoked
    /// (already revoked or expired ones are left out).
    fn revoke_families_of(
        &self,
        owner: GrantOwner<'_>,
        now: UnixTime,
    ) -> impl Future<Output = Result<Vec<String>, StoreError>> + Send;
}

/// Revoked access-token ids, remembered until the token would have expired.
pub trait RevocationStore {
    /// Refuse `jti` until `expires_at`.
    fn revoke_jti(
        &self,
        jti: &str,
        expires_at: u64,
        now: UnixTime,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;
    /// Whether `jti` is revoked.
    fn is_jti_revoked(
        &self,
        jti: &str,
        now: UnixTime,
    ) -> impl Future<Output = Result<bool, StoreError>> + Send;
    /// Refuse every access token of the access-token family `family` (the
    /// opaque id access tokens carry for their refresh family, see
    /// [`crate::oauth::access_family_of`]) until `expires_at`: the latest
    /// moment an access token of the family could still be valid.
    /// Idempotent; a second call never shortens the entry.
    fn revoke_access_family(
        &self,
        family: &str,
        expires_at: u64,
        now: UnixTime,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;
    /// Whether an access token with `jti`, of access-token family `family`
    /// (if it names one), is revoked: either its `jti` or its family is.
    /// One call so that a database answers both in one round trip.
    fn is_access_token_revoked(
        &self,
        jti: &str,
        family: Option<&str>,
        now: UnixTime,
    ) -> impl Future<Output = Result<bool, StoreError>> + Send;
}

/// Everything the authorization server needs. Blanket-implemented for any
/// type implementing the five traits.
pub trait Store: ClientStore + PendingStore + CodeStore + RefreshStore + RevocationStore {}

impl<T> Store for T where T: ClientStore + PendingStore + CodeStore + RefreshStore + RevocationStore {}
