//! A bounded cache of verified access tokens, so the MCP hot path does not
//! pay an RSA verification per request.
//!
//! - Key: SHA-256 of the compact token (the token itself is never kept).
//! - Value: the [`Principal`] the core's guard produced, whose `expires_at`
//!   is the token's `exp`.
//! - A hit is used only while `exp` is in the future *and* the token's `jti`
//!   is not revoked (the revocation mirror is consulted on every hit), so the
//!   cache never accepts a token the guard would refuse for expiry or
//!   revocation. Anything unusual (no or several `Authorization` headers, a
//!   non-Bearer scheme) bypasses the cache and goes to the core.
//! - Bounded: at capacity, expired entries are purged, then arbitrary ones.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use mcpauth_core::http::Request;
use mcpauth_core::principal::Principal;
use sha2::{Digest, Sha256};

/// The cache.
#[derive(Debug)]
pub struct TokenCache {
    capacity: usize,
    map: Mutex<HashMap<[u8; 32], Arc<Principal>>>,
}

/// The bearer token of a request when it has the one plain form the cache
/// understands: exactly one `Authorization: Bearer <token>` header.
pub fn plain_bearer(req: &Request) -> Option<&str> {
    if req.header_count("authorization") != 1 {
        return None;
    }
    let value = req.header("authorization")?.trim();
    let (scheme, token) = value.split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("bearer") {
        return None;
    }
    let token = token.trim();
    (!token.is_empty()).then_some(token)
}

fn key(token: &str) -> [u8; 32] {
    let mut out = [0u8; 32];
    out.copy_from_slice(&Sha256::digest(token.as_bytes()));
    out
}

impl TokenCache {
    /// A cache holding at most `capacity` tokens (0 disables it).
    pub fn new(capacity: usize) -> TokenCache {
        TokenCache {
            capacity,
            map: Mutex::new(HashMap::with_capacity(capacity.min(1024))),
        }
    }

    /// The cached principal of `token`, if it is cached, unexpired at `now`
    /// and not revoked according to `is_revoked(jti)`.
    pub fn get(
        &self,
        token: &str,
        now: u64,
        is_revoked: impl FnOnce(&str) -> bool,
    ) -> Option<Arc<Principal>> {
        if self.capacity == 0 {
            return None;
        }
        let k = key(token);
        let hit = {
            let mut map = self.map.lock().ok()?;
            let p = map.get(&k)?.clone();
            if p.expires_at <= now {
                map.remove(&k);
                return None;
            }
            p
        };
        if is_revoked(&hit.token_id) {
            if let Ok(mut map) = self.map.lock() {
                map.remove(&k);
            }
            return None;
        }
        Some(hit)
    }

    /// Remember that `token` verified to `principal`.
    pub fn insert(&self, token: &str, principal: Arc<Principal>, now: u64) {
        if self.capacity == 0 || principal.expires_at <= now {
            return;
        }
        let Ok(mut map) = self.map.lock() else { return };
        if map.len() >= self.capacity {
            map.retain(|_, p| p.expires_at > now);
            while map.len() >= self.capacity {
                let Some(k) = map.keys().next().copied() else {
                    break;
                };
                map.remove(&k);
            }
        }
        map.insert(key(token), principal);
    }

    /// How many tokens are cached.
    pub fn len(&self) -> usize {
        self.map.lock().map(|m| m.len()).unwrap_or(0)
    }

    /// Whether the cache is empty.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn principal(jti: &str, exp: u64) -> Arc<Principal> {
        Arc::new(Principal {
            subject: "u".into(),
            client_id: "c".into(),
            scopes: vec!["mcp".into()],
            audience: "http://x/mcp".into(),
            token_id: jti.into(),
            expires_at: exp,
        })
    }

    #[test]
    fn hit_until_expiry() {
        let c = TokenCache::new(8);
        c.insert("tok", principal("j", 100), 50);
        assert!(c.get("tok", 99, |_| false).is_some());
        assert!(c.get("tok", 100, |_| false).is_none());
        assert!(c.is_empty());
    }

    #[test]
    fn revocation_wins() {
        let c = TokenCache::new(8);
        c.insert("tok", principal("j", 100), 50);
        assert!(c.get("tok", 60, |jti| jti == "j").is_none());
        assert!(
            c.get("tok", 60, |_| false).is_none(),
            "evicted on revocation"
        );
    }

    #[test]
    fn bounded() {
        let c = TokenCache::new(4);
        for i in 0..20 {
            c.insert(&format!("t{i}"), principal(&format!("j{i}"), 1000), 1);
        }
        assert!(c.len() <= 4);
    }

    #[test]
    fn plain_bearer_only() {
        let r = Request::new(mcpauth_core::http::Method::Post, "/mcp")
            .with_header("Authorization", "Bearer abc");
        assert_eq!(plain_bearer(&r), Some("abc"));
        let r2 = r.clone().with_header("authorization", "Bearer def");
        assert_eq!(plain_bearer(&r2), None);
        let r3 = Request::new(mcpauth_core::http::Method::Post, "/mcp")
            .with_header("Authorization", "Basic abc");
        assert_eq!(plain_bearer(&r3), None);
    }
}
