//! Who is calling: the authenticated identity behind a request.

use alloc::string::String;
use alloc::vec::Vec;

/// The authenticated caller of a protected resource, derived from a verified
/// access token. MCP tool handlers receive it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principal {
    /// The resource owner (`sub`).
    pub subject: String,
    /// The OAuth client acting for the owner (`client_id`).
    pub client_id: String,
    /// Granted scopes, in token order.
    pub scopes: Vec<String>,
    /// The resource the token was issued for (the matched `aud`).
    pub audience: String,
    /// The token's unique id (`jti`).
    pub token_id: String,
    /// Expiry of the token, Unix seconds.
    pub expires_at: u64,
    /// Values the core derives from the fields above, kept after their
    /// first use: build with `Derived::default()`. The fields must not
    /// change after the principal is first used (a principal shared in an
    /// `Arc` cannot change); a clone starts empty, so
    /// `Principal { subject, ..other.clone() }` derives its own.
    pub derived: Derived,
}

impl Principal {
    /// Whether `scope` was granted.
    pub fn has_scope(&self, scope: &str) -> bool {
        self.scopes.iter().any(|s| s == scope)
    }
}

/// What the core computes from a [`Principal`] once (the session owner
/// fingerprint, a SHA-256 every 2025-era request with a session compared)
/// and then keeps.
#[derive(Default)]
pub struct Derived {
    pub(crate) session_owner: spin::Once<[u8; 32]>,
}

impl Clone for Derived {
    /// Empty: derived again from the clone's own fields.
    fn clone(&self) -> Derived {
        Derived::default()
    }
}

impl PartialEq for Derived {
    /// Always: derived values follow from the fields, which are compared.
    fn eq(&self, _: &Derived) -> bool {
        true
    }
}

impl Eq for Derived {}

impl core::fmt::Debug for Derived {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str("Derived")
    }
}
