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
//! 2. The bearer guard for such a resource: RFC 6750 challenges with
//!    `resource_metadata` (RFC 9728 §5.1), without a revocation store (a
//!    fleet device validates offline), and a distinct **503** when the wall
//!    clock is unknown instead of a misleading `invalid_token`.
//! 3. The 403 `insufficient_scope` step-up challenge for
//!    `McpOutcome::InsufficientScope`.
//!
//! When the core's `oauth::ResourceGuard::remote` / `authenticate_bearer`
//! and a public resource-metadata builder cover these, this file goes away.

use alloc::format;
use alloc::string::{String, ToString};
use alloc::vec::Vec;

use mcpauth_core::http::{Request, Response};
use mcpauth_core::jose::{KeySet, ValidationPolicy};
use mcpauth_core::principal::Principal;
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

/// A bearer guard for a resource whose tokens come from a remote issuer.
#[derive(Debug, Clone)]
pub struct RemoteGuard {
    metadata_url: String,
    scopes: Vec<String>,
    policy: ValidationPolicy,
    resource: String,
}

impl RemoteGuard {
    /// Tokens from `issuer` for `resource`, each needing every scope of
    /// `scopes`.
    pub fn new(issuer: &str, resource: &str, scopes: &[String]) -> RemoteGuard {
        RemoteGuard {
            metadata_url: metadata_url(resource),
            scopes: scopes.to_vec(),
            policy: ValidationPolicy::new(issuer, resource),
            resource: String::from(resource),
        }
    }

    /// The metadata URL the challenges point at.
    pub fn metadata_url(&self) -> &str {
        &self.metadata_url
    }

    /// 401 (or 400 for `invalid_request`) with the RFC 6750 challenge.
    pub fn unauthorized(&self, error: Option<(&'static str, &'static str)>) -> Response {
        let mut value = format!(
            "Bearer resource_metadata=\"{}\", scope=\"{}\"",
            self.metadata_url,
            self.scopes.join(" ")
        );
        let Some((code, desc)) = error else {
            return Response::empty(401)
                .with_header("WWW-Authenticate", value)
                .with_header("Cache-Control", "no-store");
        };
        value.push_str(&format!(", error=\"{code}\", error_description=\"{desc}\""));
        let status = if code == "invalid_request" { 400 } else { 401 };
        Response::json(
            status,
            json!({"error": code, "error_description": desc}).to_string(),
        )
        .with_header("WWW-Authenticate", value)
        .with_header("Cache-Control", "no-store")
    }

    /// 403 `insufficient_scope` naming every scope needed.
    pub fn insufficient_scope(&self, needed: &[String]) -> Response {
        let mut all: Vec<&str> = self.scopes.iter().map(String::as_str).collect();
        for s in needed {
            if !all.contains(&s.as_str()) {
                all.push(s);
            }
        }
        let scope = all.join(" ");
        let value = format!(
            "Bearer error=\"insufficient_scope\", scope=\"{scope}\", resource_metadata=\"{}\", \
             error_description=\"the access token lacks a required scope\"",
            self.metadata_url
        );
        Response::json(
            403,
            json!({"error": "insufficient_scope", "scope": scope}).to_string(),
        )
        .with_header("WWW-Authenticate", value)
        .with_header("Cache-Control", "no-store")
    }

    /// Authenticate the bearer token of `req` (header only). `Err` is the
    /// complete response to send.
    pub fn authenticate(
        &self,
        req: &Request,
        keys: &KeySet,
        now: Option<UnixTime>,
    ) -> Result<Principal, Response> {
        let token = match req.header_count("authorization") {
            0 => return Err(self.unauthorized(None)),
            1 => req.header("authorization").unwrap_or_default().trim(),
            _ => {
                return Err(
                    self.unauthorized(Some(("invalid_request", "repeated Authorization header")))
                );
            }
        };
        let Some((scheme, token)) = token.split_once(' ') else {
            return Err(self.unauthorized(None));
        };
        if !scheme.eq_ignore_ascii_case("bearer") {
            return Err(self.unauthorized(None));
        }
        let token = token.trim();
        if token.is_empty() {
            return Err(self.unauthorized(Some(("invalid_token", "the access token is missing"))));
        }
        // Fail closed, and say why: a 401 would send the client into a
        // pointless re-authorization loop while the device has no clock.
        let Some(now) = now else {
            return Err(Response::json(
                503,
                json!({
                    "error": "temporarily_unavailable",
                    "error_description": "the device clock is not set; access tokens cannot be validated yet"
                })
                .to_string(),
            )
            .with_header("Retry-After", "10")
            .with_header("Cache-Control", "no-store"));
        };
        let claims = keys
            .verify_access_token(token, &self.policy, Some(now))
            .map_err(|_| {
                self.unauthorized(Some((
                    "invalid_token",
                    "the access token is invalid or expired",
                )))
            })?;
        let principal = claims.to_principal(&self.resource);
        if !self.scopes.iter().all(|s| principal.has_scope(s)) {
            return Err(self.insufficient_scope(&[]));
        }
        Ok(principal)
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
