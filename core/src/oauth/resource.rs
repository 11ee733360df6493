//! The protected resources an authorization server issues tokens for.
//!
//! A resource is configuration: its identifier (the canonical URL that is
//! the `aud` of its tokens, RFC 8707), the name the consent page shows, the
//! scopes a client may ask for with it, an optional shorter access-token
//! lifetime, and where it is served ([`ResourceKind`]). Discovery (RFC 9728
//! metadata), `resource` validation, consent text and the audience of every
//! token follow the list in [`super::ServerConfig::resources`].

use alloc::string::{String, ToString};
use alloc::vec;
use alloc::vec::Vec;

use super::config::canonical_resource;
use super::wire::is_scope_token;

/// Longest display name, in characters (it is shown on the consent page).
pub const MAX_RESOURCE_NAME_CHARS: usize = 100;

/// Where a protected resource is served.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ResourceKind {
    /// The host's own MCP endpoint (`<issuer>/mcp`).
    Builtin,
    /// Served on the issuer's origin by forwarding to an upstream MCP server
    /// (the host implements the forwarding).
    Proxy {
        /// The upstream MCP endpoint, an absolute http(s) URL.
        upstream: String,
    },
    /// Served elsewhere: a device fleet or another resource server, which
    /// validates the tokens offline against the issuer's JWKS.
    External,
}

impl ResourceKind {
    /// `builtin`, `proxy` or `external`.
    pub fn name(&self) -> &'static str {
        match self {
            ResourceKind::Builtin => "builtin",
            ResourceKind::Proxy { .. } => "proxy",
            ResourceKind::External => "external",
        }
    }
}

/// One protected resource.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProtectedResource {
    /// Canonical URL (RFC 8707): the `aud` of its tokens.
    pub identifier: String,
    /// What the consent page calls it ("Greenhouse sensors").
    pub display_name: String,
    /// Scopes a client may ask for with this resource; an authorization
    /// request without `scope` gets all of them that the client may use.
    pub scopes: Vec<String>,
    /// Access-token lifetime in seconds for this resource, when it must be
    /// shorter than the server's (a device that cannot learn of revocations
    /// refuses a revoked token at the latest when it expires). `None`: the
    /// server's [`super::ServerConfig::access_token_ttl`].
    pub access_token_ttl: Option<u64>,
    /// Where it is served.
    pub kind: ResourceKind,
}

impl ProtectedResource {
    /// A resource at `url` (canonicalized) named after its URL, with the
    /// scope `mcp`; `None` if `url` is not an absolute http(s) URL.
    pub fn new(url: &str, kind: ResourceKind) -> Option<ProtectedResource> {
        let identifier = canonical_resource(url)?;
        Some(ProtectedResource {
            display_name: identifier.clone(),
            identifier,
            scopes: vec!["mcp".to_string()],
            access_token_ttl: None,
            kind,
        })
    }

    /// Set the consent-page name.
    pub fn with_display_name(mut self, name: &str) -> ProtectedResource {
        self.display_name = name.into();
        self
    }

    /// Set the scopes.
    pub fn with_scopes(mut self, scopes: &[&str]) -> ProtectedResource {
        self.scopes = scopes.iter().map(|s| String::from(*s)).collect();
        self
    }

    /// Set a shorter access-token lifetime.
    pub fn with_access_token_ttl(mut self, secs: u64) -> ProtectedResource {
        self.access_token_ttl = Some(secs);
        self
    }

    /// Check what [`super::ServerConfig::validate`] needs of one resource;
    /// `max_ttl` is the server's access-token lifetime (signing keys are
    /// kept that long after a rotation, so no token may outlive it).
    pub(crate) fn validate(&self, max_ttl: u64) -> Result<(), &'static str> {
        if canonical_resource(&self.identifier).as_deref() != Some(self.identifier.as_str()) {
            return Err("resources must be canonical http(s) URLs");
        }
        let name_chars = self.display_name.chars().count();
        if name_chars == 0
            || name_chars > MAX_RESOURCE_NAME_CHARS
            || self.display_name.chars().any(char::is_control)
        {
            return Err("a resource's display name must have 1 to 100 characters, none a control");
        }
        if self.scopes.is_empty() || !self.scopes.iter().all(|s| is_scope_token(s)) {
            return Err("a resource needs at least one scope, each a valid scope token");
        }
        if self
            .access_token_ttl
            .is_some_and(|ttl| ttl == 0 || ttl > max_ttl)
        {
            return Err(
                "a resource's access-token lifetime must be positive and at most the server's",
            );
        }
        if let ResourceKind::Proxy { upstream } = &self.kind
            && canonical_resource(upstream).is_none()
        {
            return Err("a proxy resource's upstream must be an http(s) URL");
        }
        Ok(())
    }
}
