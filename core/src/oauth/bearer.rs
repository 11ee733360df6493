//! Bearer authentication of a protected request: the typed refusal
//! ([`BearerError`]), the host's hooks ([`KeySource`] for the verifying
//! keys, [`BearerCache`] for already-verified tokens) and the one check
//! order ([`authenticate`]).
//!
//! The order, written once: the `Authorization` header (never the query or
//! body) → the cache, else the signature and claims under the guard's
//! policy (an unknown `kid` lets the host refresh its keys once) → the
//! revocation list ([`is_access_token_revoked`], on every request, cached
//! or not) → the guard's scopes. The wire form of each refusal is
//! [`ResourceGuard::refusal`](super::ResourceGuard::refusal).

use core::future::{Future, ready};
use core::ops::Deref;

use super::ResourceGuard;
use super::access_family::is_access_token_revoked;
use super::wire::Params;
use crate::http::Request;
use crate::jose::{KeySet, TokenError};
use crate::principal::Principal;
use crate::store::RevocationStore;
use crate::time::UnixTime;

/// Why a bearer token was refused. Carries no token contents.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum BearerError {
    /// No `Authorization` header, or another scheme than `Bearer`: the
    /// client has not tried a token yet (a bare challenge).
    Missing,
    /// The token was sent in the query string (RFC 6750 §2.3 is not
    /// supported: URLs end up in logs).
    TokenInQuery,
    /// More than one `Authorization` header.
    RepeatedHeader,
    /// `Bearer` with no token after it.
    EmptyToken,
    /// The token does not verify under the guard's policy (signature,
    /// issuer, audience, expiry, type...). [`TokenError::UnknownKeyId`]
    /// means it names a key the host may not have loaded yet.
    Invalid(TokenError),
    /// The token, or the grant it came from, was revoked.
    Revoked,
    /// The token lacks a scope every request to the resource needs.
    InsufficientScope,
    /// The wall clock is unknown (a device before SNTP): nothing can be
    /// checked, retry later.
    ClockUnknown,
    /// The revocation list could not be read: retry later.
    StoreUnavailable,
}

/// Where the verifying keys come from. A plain [`KeySet`] is one; a host
/// whose keys change at run time (rotation on a shared store, a device
/// following its issuer's JWKS) implements it over its own cell.
pub trait KeySource {
    /// A borrow of the current key set.
    type Keys<'a>: Deref<Target = KeySet>
    where
        Self: 'a;

    /// The current keys. Only called when a signature must be checked
    /// (never for a cached token).
    fn keys(&self) -> impl Future<Output = Self::Keys<'_>>;

    /// A token named a `kid` the current keys lack: fetch the keys again if
    /// the host can (at most as often as it sees fit) and say whether they
    /// changed; the token is then verified once more. The default cannot.
    fn refresh(&self) -> impl Future<Output = bool> {
        ready(false)
    }
}

impl KeySource for KeySet {
    type Keys<'a> = &'a KeySet;

    fn keys(&self) -> impl Future<Output = &KeySet> {
        ready(self)
    }
}

/// A host's cache of verified tokens, consulted before any signature check.
/// The router checks that a cached caller belongs to the resource asked
/// for, and reads the revocation list on every hit unless the cache says
/// its last check of that token still holds
/// ([`BearerCache::revocation_current`]: nothing was revoked through this
/// host since, e.g. a revocation generation counter).
pub trait BearerCache {
    /// How the cache hands out a caller (e.g. an `Arc`); it becomes the
    /// MCP handler's shared [`Principal`] without copying it where the
    /// cache already holds one in an [`Arc`](crate::sync::Arc).
    type Principal: AsRef<Principal> + Into<crate::sync::Arc<Principal>>;
    /// A point in the host's revocation history, taken just before the
    /// revocation list is read.
    type Stamp: Copy;

    /// The caller `token` verified to, if remembered and unexpired at `now`.
    fn get(&self, token: &str, now: UnixTime) -> Option<Self::Principal>;

    /// Now, in the host's revocation history.
    fn stamp(&self) -> Self::Stamp;

    /// Whether the last revocation check of `hit` still answers for now
    /// (then the list is not read again).
    fn revocation_current(&self, hit: &Self::Principal) -> bool;

    /// A check begun at `stamp` found `hit` live.
    fn mark_checked(&self, hit: &Self::Principal, stamp: Self::Stamp);

    /// Remember that `token` verified to `principal`, its revocation
    /// checked as of `checked` (the cache may decline).
    fn insert(
        &self,
        token: &str,
        principal: Principal,
        checked: Self::Stamp,
        now: UnixTime,
    ) -> Self::Principal;

    /// Forget `token` (it was revoked).
    fn forget(&self, token: &str);
}

/// No cache: every token is verified and checked.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoCache;

impl BearerCache for NoCache {
    type Principal = Principal;
    type Stamp = ();

    fn get(&self, _token: &str, _now: UnixTime) -> Option<Principal> {
        None
    }

    fn stamp(&self) {}

    fn revocation_current(&self, _hit: &Principal) -> bool {
        false
    }

    fn mark_checked(&self, _hit: &Principal, _stamp: ()) {}

    fn insert(
        &self,
        _token: &str,
        principal: Principal,
        _checked: (),
        _now: UnixTime,
    ) -> Principal {
        principal
    }

    fn forget(&self, _token: &str) {}
}

impl AsRef<Principal> for Principal {
    fn as_ref(&self) -> &Principal {
        self
    }
}

/// The bearer token of `req`: exactly one `Authorization: Bearer <token>`
/// header.
pub fn bearer_token(req: &Request) -> Result<&str, BearerError> {
    if let Some(token) = req.bearer_token() {
        return Ok(token);
    }
    // Refused: say why.
    match req.unique_header("authorization") {
        Ok(None) => {
            let in_query = req
                .query
                .as_deref()
                .and_then(|q| Params::parse(q.as_bytes()))
                .is_some_and(|p| p.count("access_token") > 0);
            Err(if in_query {
                BearerError::TokenInQuery
            } else {
                BearerError::Missing
            })
        }
        Ok(Some(value)) => {
            let value = value.trim();
            let is_bearer = value
                .split_once(' ')
                .is_some_and(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"));
            Err(if is_bearer {
                BearerError::EmptyToken
            } else {
                BearerError::Missing
            })
        }
        Err(_) => Err(BearerError::RepeatedHeader),
    }
}

/// Whether the caller's token (or its grant) is revoked: the one place the
/// guard reads the revocation list, on every request.
pub async fn check_revocation<R: RevocationStore>(
    revocations: &R,
    principal: &Principal,
    now: UnixTime,
) -> Result<(), BearerError> {
    match is_access_token_revoked(revocations, &principal.token_id, now).await {
        Ok(false) => Ok(()),
        Ok(true) => Err(BearerError::Revoked),
        Err(_) => Err(BearerError::StoreUnavailable),
    }
}

/// Authenticate `token` (taken from its request with [`bearer_token`]) for
/// `guard`'s resource, in the order of the module docs: `cache` first, else
/// `keys`; `revocations` on every request. The caller keeps the token for
/// any check that follows (the router's [`crate::server::Issuer::token_active`])
/// rather than parsing the header twice.
pub async fn authenticate<K, C, R>(
    token: &str,
    guard: &ResourceGuard,
    now: UnixTime,
    keys: &K,
    cache: &C,
    revocations: &R,
) -> Result<C::Principal, BearerError>
where
    K: KeySource,
    C: BearerCache,
    R: RevocationStore,
{
    // A token cached for another resource of this router (or another
    // guard's scopes) is not a hit.
    if let Some(hit) = cache.get(token, now).filter(|p| {
        let p = p.as_ref();
        p.audience == guard.resource() && guard.scopes().iter().all(|s| p.has_scope(s))
    }) {
        if cache.revocation_current(&hit) {
            return Ok(hit);
        }
        let stamp = cache.stamp();
        if let Err(e) = check_revocation(revocations, hit.as_ref(), now).await {
            if e == BearerError::Revoked {
                cache.forget(token);
            }
            return Err(e);
        }
        cache.mark_checked(&hit, stamp);
        return Ok(hit);
    }
    // Taken before the revocation list is read below.
    let stamp = cache.stamp();
    let verified = {
        let keys = keys.keys().await;
        guard.verify(&keys, token, now)
    };
    let principal = match verified {
        Err(BearerError::Invalid(TokenError::UnknownKeyId)) if keys.refresh().await => {
            let keys = keys.keys().await;
            guard.verify(&keys, token, now)?
        }
        other => other?,
    };
    check_revocation(revocations, &principal, now).await?;
    if !guard.scopes().iter().all(|s| principal.has_scope(s)) {
        return Err(BearerError::InsufficientScope);
    }
    Ok(cache.insert(token, principal, stamp, now))
}

/// [`authenticate`] without a cache, with a fixed key set, and with the
/// clock possibly unknown ([`BearerError::ClockUnknown`]).
pub async fn authenticate_bearer<R: RevocationStore>(
    req: &Request,
    keys: &KeySet,
    guard: &ResourceGuard,
    now: Option<UnixTime>,
    revocations: &R,
) -> Result<Principal, BearerError> {
    let now = now.ok_or(BearerError::ClockUnknown)?;
    authenticate(bearer_token(req)?, guard, now, keys, &NoCache, revocations).await
}
