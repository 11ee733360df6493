//! The fleet shape: the device is an MCP resource server whose tokens come
//! from a central mcpauth issuer. It validates RS256 access tokens offline
//! against the issuer's JWKS, provisioned at build time or first boot, with
//! its own canonical resource URL as the required audience.
//!
//! Routes: RFC 9728 metadata (`/.well-known/oauth-protected-resource` and
//! its path-suffixed form), `GET /healthz`, and the MCP endpoint behind the
//! bearer guard. Anything else is 404.

use alloc::string::String;
use alloc::vec::Vec;

use embassy_sync::blocking_mutex::raw::CriticalSectionRawMutex;
use embassy_sync::mutex::Mutex;
use mcpauth_core::http::{Method, Request, Response};
use mcpauth_core::jose::{JwksError, KeySet};
use mcpauth_core::mcp::{McpOutcome, McpServer};
use mcpauth_core::oauth::{ResourceGuard, authenticate_bearer, canonical_resource};

use crate::core_pending::{
    NoRevocations, clock_unknown, is_metadata_path, metadata_url, resource_metadata,
};
use crate::service::{DeviceEnv, Service};

/// What a fleet device is provisioned with.
#[derive(Debug, Clone, Copy)]
pub struct Provisioning<'a> {
    /// The central issuer's identifier (`iss` of its tokens), exactly.
    pub issuer: &'a str,
    /// This device's canonical resource URL (`aud` of tokens for it), e.g.
    /// `https://sensor-17.example/mcp`.
    pub resource: &'a str,
    /// The issuer's JWKS document (`{"keys":[…]}`), public keys only.
    pub jwks_json: &'a str,
    /// Scopes every MCP request needs (and advertised in the metadata).
    pub scopes: &'a [&'a str],
}

/// Why provisioning was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ProvisioningError {
    /// The JWKS did not parse, had no usable key, or too many keys.
    Jwks(JwksError),
    /// The resource URL is not an absolute http(s) URL without fragment.
    ResourceUrl,
    /// The issuer is not an absolute http(s) URL.
    IssuerUrl,
}

impl core::fmt::Display for ProvisioningError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            ProvisioningError::Jwks(e) => write!(f, "the issuer JWKS is unusable: {e:?}"),
            ProvisioningError::ResourceUrl => f.write_str("the resource URL is not canonical"),
            ProvisioningError::IssuerUrl => f.write_str("the issuer is not an http(s) URL"),
        }
    }
}

fn is_http_url(url: &str) -> bool {
    (url.starts_with("https://") || url.starts_with("http://"))
        && !url.contains('#')
        && !url.bytes().any(|b| b.is_ascii_control() || b == b' ')
}

/// The fleet resource server: bearer guard + RFC 9728 metadata + MCP.
pub struct ResourceServer {
    issuer: String,
    resource: String,
    scopes: Vec<String>,
    guard: ResourceGuard,
    metadata_url: String,
    keys: Mutex<CriticalSectionRawMutex, KeySet>,
    mcp: McpServer,
}

impl core::fmt::Debug for ResourceServer {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("ResourceServer")
            .field("issuer", &self.issuer)
            .field("resource", &self.resource)
            .finish_non_exhaustive()
    }
}

impl ResourceServer {
    /// A resource server for `provisioning`, serving `mcp` (whose
    /// `endpoint_path` must be the path of the resource URL).
    pub fn new(provisioning: Provisioning<'_>, mcp: McpServer) -> Result<Self, ProvisioningError> {
        if !is_http_url(provisioning.issuer) {
            return Err(ProvisioningError::IssuerUrl);
        }
        // The audience tokens must carry is the canonical form (RFC 8707).
        let resource = canonical_resource(provisioning.resource)
            .filter(|r| r == provisioning.resource)
            .ok_or(ProvisioningError::ResourceUrl)?;
        let keys =
            KeySet::from_jwks_json(provisioning.jwks_json).map_err(ProvisioningError::Jwks)?;
        let scopes: Vec<String> = provisioning
            .scopes
            .iter()
            .map(|s| String::from(*s))
            .collect();
        let metadata_url = metadata_url(&resource);
        let guard = ResourceGuard::remote(
            provisioning.issuer,
            &resource,
            metadata_url.clone(),
            provisioning.scopes,
        );
        Ok(ResourceServer {
            issuer: String::from(provisioning.issuer),
            resource,
            guard,
            metadata_url,
            scopes,
            keys: Mutex::new(keys),
            mcp,
        })
    }

    /// Replace the issuer's keys (the application fetched a new JWKS after
    /// a rotation). On error the old keys stay in force.
    pub async fn update_jwks(&self, jwks_json: &str) -> Result<(), ProvisioningError> {
        let keys = KeySet::from_jwks_json(jwks_json).map_err(ProvisioningError::Jwks)?;
        *self.keys.lock().await = keys;
        Ok(())
    }

    /// The canonical resource URL.
    pub fn resource(&self) -> &str {
        &self.resource
    }

    /// The RFC 9728 metadata URL the challenges point at.
    pub fn metadata_url(&self) -> &str {
        &self.metadata_url
    }

    fn insufficient_scope(&self, required: &[String]) -> Response {
        let needed: Vec<&str> = required.iter().map(String::as_str).collect();
        self.guard.insufficient_scope(&needed)
    }

    async fn mcp(&self, req: &Request, env: DeviceEnv<'_>) -> Response {
        // CORS preflights carry no credentials; the MCP server answers them.
        if req.method == Method::Options {
            let now = env.now.unwrap_or(mcpauth_core::time::UnixTime(0));
            return match self.mcp.handle(req, None, now, env.rng).await {
                McpOutcome::Response(r) => r,
                McpOutcome::InsufficientScope { required } => self.insufficient_scope(&required),
            };
        }
        // A request without credentials still gets the 401 challenge (so
        // discovery works before the clock is set); a token is refused
        // with 503 until the time is known.
        let Some(now) = env.now else {
            if req.header_count("authorization") > 0 {
                return clock_unknown();
            }
            return self.guard.unauthorized(None);
        };
        let principal = {
            let keys = self.keys.lock().await;
            match authenticate_bearer(req, &keys, &self.guard, Some(now), &NoRevocations).await {
                Ok(p) => p,
                Err(resp) => return resp,
            }
        };
        match self.mcp.handle(req, Some(&principal), now, env.rng).await {
            McpOutcome::Response(r) => r,
            McpOutcome::InsufficientScope { required } => self.insufficient_scope(&required),
        }
    }
}

impl Service for ResourceServer {
    async fn handle<'a>(&'a self, req: &'a Request, env: DeviceEnv<'a>) -> Response {
        let path = req.path.as_str();
        if is_metadata_path(&self.resource, path) {
            return match req.method {
                Method::Get | Method::Head => {
                    resource_metadata(&self.resource, &self.issuer, &self.scopes)
                }
                _ => Response::empty(405).with_header("Allow", "GET, HEAD"),
            };
        }
        if path == "/healthz" {
            return Response::empty(200)
                .with_header("Content-Type", "text/plain")
                .with_body(&b"ok"[..]);
        }
        if path == self.mcp.config().endpoint_path {
            return self.mcp(req, env).await;
        }
        Response::empty(404)
    }
}
