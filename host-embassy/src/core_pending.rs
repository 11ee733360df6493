//! **Protocol decisions waiting to move into `mcpauth-core`.**
//!
//! Everything in this file decides what goes on the wire (statuses,
//! challenges, metadata), which is the core's job, not an adapter's. It is
//! here only because the fleet (remote-issuer) shape needs pieces the core
//! did not export when this adapter was written:
//!
//! 1. RFC 9728 protected-resource metadata for a resource whose
//!    authorization server is *elsewhere* (the core's builder takes the
//!    issuer's own `ServerConfig`), and its well-known URL derived from the
//!    resource's own origin (RFC 9728 §3.1).
//! 2. A distinct **503** when a bearer token arrives while the wall clock is
//!    unknown (the core's `authenticate_bearer` answers `invalid_token`,
//!    which tells the client to re-authorize, uselessly).
//! 3. An empty revocation list for an offline device (`NoRevocations`),
//!    which `authenticate_bearer` requires.
//!
//! The bearer guard itself (challenges, 401/403) is the core's
//! `oauth::ResourceGuard::remote` + `oauth::authenticate_bearer`. When the
//! core exports a resource-metadata builder for a remote issuer and takes
//! the two decisions above, this file goes away.

use alloc::format;
use alloc::string::{String, ToString};

use mcpauth_core::http::Response;
use mcpauth_core::store::{RevocationStore, StoreError};
use mcpauth_core::time::UnixTime;
use serde_json::json;

/// Path prefix of RFC 9728 metadata.
pub const PR_METADATA: &str = "/.well-known/oauth-protected-resource";

/// `(origin, path)` of an absolute URL (`https://h:1/mcp` → `https://h:1`,
/// `/mcp`).
pub fn split_origin(url: &str) -> Option<(&str, &str)> {
    let after = url.find("://")? + 3;
    let end = url[after..]
        .find(['/', '?', '#'])
        .map_or(url.len(), |i| after + i);
    Some((&url[..end], &url[end..]))
}

/// RFC 9728 §3.1: the metadata URL of `resource` inserts the well-known
/// path between its origin and its path.
pub fn metadata_url(resource: &str) -> String {
    match split_origin(resource) {
        Some((origin, path)) => format!("{origin}{PR_METADATA}{}", path.trim_end_matches('/')),
        None => String::from(PR_METADATA),
    }
}

/// Whether `path` is a metadata path of `resource`: the path-suffixed form,
/// or the bare form (which clients of the 2025-03-26 era try).
pub fn is_metadata_path(resource: &str, path: &str) -> bool {
    let suffix = split_origin(resource).map_or("", |(_, p)| p.trim_end_matches('/'));
    path == PR_METADATA || (path.strip_prefix(PR_METADATA) == Some(suffix))
}

/// The RFC 9728 document: the resource, its (remote) authorization server,
/// the scopes, bearer tokens in the header only.
pub fn resource_metadata(resource: &str, issuer: &str, scopes: &[String]) -> Response {
    let doc = json!({
        "resource": resource,
        "authorization_servers": [issuer],
        "scopes_supported": scopes,
        "bearer_methods_supported": ["header"],
    });
    Response::json(200, doc.to_string())
        .with_header("Cache-Control", "public, max-age=3600")
        .with_header("Access-Control-Allow-Origin", "*")
}

/// The answer to a bearer token while the wall clock is unknown: 503 with a
/// reason, not the core guard's `invalid_token` (a 401 would send the client
/// into a pointless re-authorization loop while the device has no clock).
pub fn clock_unknown() -> Response {
    Response::json(
        503,
        json!({
            "error": "temporarily_unavailable",
            "error_description": "the device clock is not set; access tokens cannot be validated yet"
        })
        .to_string(),
    )
    .with_header("Retry-After", "10")
    .with_header("Cache-Control", "no-store")
}

/// The revocation list of an offline fleet device: empty. It cannot hear
/// about revocations at the issuer; short access-token lifetimes bound the
/// exposure (the issuer's default is one hour).
#[derive(Debug, Clone, Copy, Default)]
pub struct NoRevocations;

impl RevocationStore for NoRevocations {
    async fn revoke_jti(&self, _: &str, _: u64, _: UnixTime) -> Result<(), StoreError> {
        Err(StoreError::Unavailable)
    }

    async fn is_jti_revoked(&self, _: &str, _: UnixTime) -> Result<bool, StoreError> {
        Ok(false)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn metadata_urls_follow_rfc_9728() {
        assert_eq!(
            metadata_url("http://10.0.0.2:8080/mcp"),
            "http://10.0.0.2:8080/.well-known/oauth-protected-resource/mcp"
        );
        assert_eq!(
            metadata_url("https://dev.example"),
            "https://dev.example/.well-known/oauth-protected-resource"
        );
        assert!(is_metadata_path(
            "http://d/mcp",
            "/.well-known/oauth-protected-resource/mcp"
        ));
        assert!(is_metadata_path(
            "http://d/mcp",
            "/.well-known/oauth-protected-resource"
        ));
        assert!(!is_metadata_path(
            "http://d/mcp",
            "/.well-known/oauth-protected-resource/other"
        ));
    }
}
