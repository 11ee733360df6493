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
}

impl Principal {
    /// Whether `scope` was granted.
    pub fn has_scope(&self, scope: &str) -> bool {
        self.scopes.iter().any(|s| s == scope)
    }
}
