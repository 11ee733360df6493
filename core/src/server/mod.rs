//! The one router both hosts call: OAuth endpoints, the protected MCP
//! endpoint, health, and 404 for everything else.
//!
//! Two shapes share it:
//! - **All-in-one** ([`handle_all_in_one`]): this process is the issuer
//!   ([`AuthorizationServer`]) and the resource server.
//! - **Resource only** ([`ResourceServer::handle`] + [`not_found`]): a fleet
//!   member (a device, another mcpauth) verifies tokens of an issuer
//!   elsewhere with its JWKS and serves the RFC 9728 metadata that points
//!   clients there.
//!
//! Hosts add nothing but transport headers: if both hosts would need an
//! `if`, it is here.

use alloc::format;
use alloc::string::{String, ToString};
use alloc::vec::Vec;

use serde_json::json;

use crate::http::{Method, Request, Response};
use crate::jose::KeySet;
use crate::mcp::{McpOutcome, McpServer};
use crate::oauth::{
    AuthorizationServer, Env, RegistrationPolicy, ResourceGuard, UserAuthenticator,
    authenticate_bearer,
};
use crate::rand::SecureRandom;
use crate::store::{RevocationStore, Store, StoreError};
use crate::time::UnixTime;

/// The path prefix of RFC 9728 protected-resource metadata.
const PR_METADATA: &str = "/.well-known/oauth-protected-resource";

/// How the MCP endpoint is protected.
#[derive(Debug, Clone)]
pub enum Protection {
    /// Bearer access tokens checked by this guard (the normal case).
    Bearer(ResourceGuard),
    /// No authorization at all. Only for test servers such as the
    /// conformance suite's `everything` server; never the default.
    DangerouslyOpen,
}

/// The MCP endpoint with its protection, and (for a fleet member) the
/// metadata document naming the remote issuer.
pub struct ResourceServer<R> {
    mcp: McpServer,
    protection: Protection,
    revocations: R,
    remote_metadata: Option<RemoteMetadata>,
}

impl<R> core::fmt::Debug for ResourceServer<R> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("ResourceServer")
            .field("protection", &self.protection)
            .finish_non_exhaustive()
    }
}

#[derive(Debug, Clone)]
struct RemoteMetadata {
    /// The path this document is served at (path-suffixed RFC 9728 form).
    path: String,
    body: String,
}

impl<R: RevocationStore + Sync> ResourceServer<R> {
    /// The MCP endpoint of an all-in-one server: the issuer's discovery
    /// already serves the resource metadata.
    pub fn new(mcp: McpServer, protection: Protection, revocations: R) -> Self {
        ResourceServer {
            mcp,
            protection,
            revocations,
            remote_metadata: None,
        }
    }

    /// The MCP endpoint of a fleet member whose tokens come from `issuer`:
    /// it also serves the RFC 9728 document (at the bare and the
    /// path-suffixed well-known path) naming that issuer.
    pub fn with_remote_issuer(
        mcp: McpServer,
        guard: ResourceGuard,
        issuer: &str,
        revocations: R,
    ) -> Self {
        let resource = guard.resource();
        let path = format!(
            "{PR_METADATA}{}",
            resource_path(resource).trim_end_matches('/')
        );
        let body = json!({
            "resource": resource,
            "authorization_servers": [issuer],
            "scopes_supported": guard.scopes(),
            "bearer_methods_supported": ["header"],
        })
        .to_string();
        ResourceServer {
            mcp,
            protection: Protection::Bearer(guard),
            revocations,
            remote_metadata: Some(RemoteMetadata { path, body }),
        }
    }

    /// The MCP server.
    pub fn mcp(&self) -> &McpServer {
        &self.mcp
    }

    /// Answer `req` if it is the MCP endpoint (or, for a fleet member, its
    /// metadata); `None` otherwise. Access tokens are checked against this
    /// resource server's own revocation list.
    pub async fn handle(
        &self,
        req: &Request,
        now: Option<UnixTime>,
        rng: &mut (dyn SecureRandom + Send),
        keys: &KeySet,
    ) -> Option<Response> {
        self.handle_with_revocations(req, now, rng, keys, &self.revocations)
            .await
    }

    /// [`Self::handle`], checking access tokens against `revocations`
    /// instead: an all-in-one server passes the issuer's store, so a token
    /// revoked at `/revoke` (or by a replayed code) is refused at once.
    pub async fn handle_with_revocations<V: RevocationStore + Sync>(
        &self,
        req: &Request,
        now: Option<UnixTime>,
        rng: &mut (dyn SecureRandom + Send),
        keys: &KeySet,
        revocations: &V,
    ) -> Option<Response> {
        if let Some(meta) = &self.remote_metadata
            && (req.path == PR_METADATA || req.path == meta.path)
        {
            return Some(match req.method {
                Method::Get | Method::Head => Response::json(200, meta.body.clone())
                    .with_header("Cache-Control", "public, max-age=3600")
                    .with_header("Access-Control-Allow-Origin", "*"),
                Method::Options => preflight(),
                _ => method_not_allowed("GET"),
            });
        }
        if req.path != self.mcp.config().endpoint_path {
            return None;
        }
        let Some(now) = now else {
            // Sessions and tokens both need the time; a 401 would send the
            // client into a useless re-authorization loop.
            return Some(clock_unknown());
        };
        // A CORS preflight carries no credentials by design.
        if req.method == Method::Options {
            return Some(self.answer(req, None, now, rng).await);
        }
        let principal = match &self.protection {
            Protection::DangerouslyOpen => None,
            Protection::Bearer(guard) => {
                match authenticate_bearer(req, keys, guard, Some(now), revocations).await {
                    Ok(principal) => Some(principal),
                    Err(challenge) => return Some(challenge),
                }
            }
        };
        Some(self.answer(req, principal.as_ref(), now, rng).await)
    }

    async fn answer(
        &self,
        req: &Request,
        principal: Option<&crate::principal::Principal>,
        now: UnixTime,
        rng: &mut (dyn SecureRandom + Send),
    ) -> Response {
        match self.mcp.handle(req, principal, now, rng).await {
            McpOutcome::Response(resp) => resp,
            // This router answers with whole responses.
            McpOutcome::Stream(live) => self.mcp.finish_buffered(live).await,
            McpOutcome::InsufficientScope { required } => match &self.protection {
                Protection::Bearer(guard) => {
                    let needed: Vec<&str> = required.iter().map(String::as_str).collect();
                    guard.insufficient_scope(&needed)
                }
                // Without authorization there are no scopes to step up to.
                Protection::DangerouslyOpen => {
                    Response::json(403, json!({"error": "insufficient_scope"}).to_string())
                }
            },
        }
    }
}

/// Route one request of an all-in-one server: health, OAuth and discovery,
/// MCP (access tokens checked against the issuer's own revocations), else
/// 404.
pub async fn handle_all_in_one<S, U, L, R>(
    auth: &AuthorizationServer<S, U, L>,
    resource: &ResourceServer<R>,
    req: &Request,
    env: &mut Env<'_>,
) -> Response
where
    S: Store + Sync,
    U: UserAuthenticator + Sync,
    L: RegistrationPolicy + Sync,
    R: RevocationStore + Sync,
{
    if let Some(resp) = health(req) {
        return resp;
    }
    if let Some(resp) = auth.handle(req, env).await {
        return resp;
    }
    let keys = env.keys;
    // The issuer's store is the revocation list that /revoke and code-replay
    // detection write to; the resource server's own is not consulted here.
    let revocations = auth.store();
    if let Some(resp) = resource
        .handle_with_revocations(req, env.now, &mut *env.rng, keys, revocations)
        .await
    {
        return resp;
    }
    not_found()
}

/// `GET /healthz` → 200; `None` for any other path.
pub fn health(req: &Request) -> Option<Response> {
    if req.path != "/healthz" {
        return None;
    }
    Some(match req.method {
        Method::Get | Method::Head => {
            Response::json(200, r#"{"status":"ok"}"#).with_header("Cache-Control", "no-store")
        }
        _ => method_not_allowed("GET"),
    })
}

/// The answer for a path no endpoint claims.
pub fn not_found() -> Response {
    Response::json(404, r#"{"error":"not_found"}"#)
}

/// The answer while the wall clock is unknown (a device before SNTP):
/// 503, retry later; never a token error.
pub fn clock_unknown() -> Response {
    Response::json(
        503,
        json!({
            "error": "temporarily_unavailable",
            "error_description": "the server does not know the time yet",
        })
        .to_string(),
    )
    .with_header("Retry-After", "5")
    .with_header("Cache-Control", "no-store")
}

fn method_not_allowed(allow: &'static str) -> Response {
    Response::json(405, r#"{"error":"method_not_allowed"}"#).with_header("Allow", allow)
}

fn preflight() -> Response {
    Response::empty(204)
        .with_header("Access-Control-Allow-Origin", "*")
        .with_header("Access-Control-Allow-Methods", "GET, OPTIONS")
        .with_header("Access-Control-Max-Age", "86400")
}

/// `(origin, path)` of an absolute URL (`https://h:1/mcp?q` →
/// `https://h:1`, `/mcp`); `None` without a scheme.
fn split_origin(url: &str) -> Option<(&str, &str)> {
    let after = url.find("://")? + 3;
    let end = url[after..]
        .find(['/', '?', '#'])
        .map_or(url.len(), |i| after + i);
    let path_end = url[end..].find(['?', '#']).map_or(url.len(), |i| end + i);
    Some((&url[..end], &url[end..path_end]))
}

/// The path of an absolute URL (`https://h:1/mcp?x` → `/mcp`; `""` when
/// it has none): where a resource's MCP endpoint is served.
pub fn resource_path(url: &str) -> &str {
    split_origin(url).map_or("", |(_, path)| path)
}

/// RFC 9728 §3.1: the metadata URL of `resource` on the resource's own
/// origin, the well-known path inserted before the resource's path
/// (`http://10.0.0.2:8080/mcp` →
/// `http://10.0.0.2:8080/.well-known/oauth-protected-resource/mcp`). For a
/// fleet member, whose origin is not the issuer's.
pub fn protected_resource_metadata_url(resource: &str) -> String {
    match split_origin(resource) {
        Some((origin, path)) => format!("{origin}{PR_METADATA}{}", path.trim_end_matches('/')),
        None => String::from(PR_METADATA),
    }
}

/// A revocation list that is always empty: for a device validating tokens
/// offline, which cannot learn of revocations (keep access tokens short).
#[derive(Debug, Clone, Copy, Default)]
pub struct NoRevocations;

impl RevocationStore for NoRevocations {
    async fn revoke_jti(
        &self,
        _jti: &str,
        _expires_at: u64,
        _now: UnixTime,
    ) -> Result<(), StoreError> {
        // Nothing can be remembered: say so rather than pretend.
        Err(StoreError::Unavailable)
    }

    async fn is_jti_revoked(&self, _jti: &str, _now: UnixTime) -> Result<bool, StoreError> {
        Ok(false)
    }

    async fn revoke_access_family(
        &self,
        _family: &str,
        _expires_at: u64,
        _now: UnixTime,
    ) -> Result<(), StoreError> {
        Err(StoreError::Unavailable)
    }

    async fn is_access_token_revoked(
        &self,
        _jti: &str,
        _family: Option<&str>,
        _now: UnixTime,
    ) -> Result<bool, StoreError> {
        Ok(false)
    }
}

#[cfg(test)]
mod tests;
