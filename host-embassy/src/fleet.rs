//! The fleet shape: the device is an MCP resource server whose tokens come
//! from a central mcpauth issuer. It validates RS256 access tokens offline
//! against the issuer's JWKS, provisioned at build time or first boot, with
//! its own canonical resource URL as the required audience.
//!
//! It is a configuration of the core's router
//! ([`Router::mount_for_remote_issuer`]), which makes every protocol
//! decision: RFC 9728 metadata naming the issuer, CORS, the bearer guard
//! and its 401/403 challenges, 503 while the clock is unknown, `/healthz`,
//! 404. This type only holds the provisioned pieces and lets the
//! application replace the JWKS.

use alloc::string::String;
use core::future::Future;

use embassy_sync::blocking_mutex::raw::CriticalSectionRawMutex;
use embassy_sync::rwlock::{RwLock, RwLockReadGuard};
use mcpauth_core::http::{Request, Response};
use mcpauth_core::jose::{JwksError, KeySet};
use mcpauth_core::mcp::McpServer;
use mcpauth_core::oauth::{KeySource, ResourceGuard, canonical_resource};
use mcpauth_core::server::{CorsPolicy, NoIssuer, Router};

use crate::service::{DeviceEnv, Service};
use mcpauth_core::server::protected_resource_metadata_url as metadata_url;

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
    /// The resource URL is not a canonical absolute http(s) URL (RFC 8707:
    /// lowercase scheme and host, no fragment, no trailing slash).
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

/// The issuer's keys, replaceable at run time. Read-locked only while a
/// signature is checked; `update_jwks` takes it exclusively.
pub struct FleetKeys(RwLock<CriticalSectionRawMutex, KeySet>);

impl core::fmt::Debug for FleetKeys {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str("FleetKeys")
    }
}

impl KeySource for FleetKeys {
    type Keys<'a> = RwLockReadGuard<'a, CriticalSectionRawMutex, KeySet>;

    fn keys(&self) -> impl Future<Output = Self::Keys<'_>> {
        self.0.read()
    }
}

/// The fleet resource server: the core's router for a remote issuer plus
/// the provisioned key set.
pub struct FleetService {
    issuer: String,
    resource: String,
    metadata_url: String,
    router: Router<NoIssuer, FleetKeys>,
}

impl core::fmt::Debug for FleetService {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("FleetService")
            .field("issuer", &self.issuer)
            .field("resource", &self.resource)
            .finish_non_exhaustive()
    }
}

impl FleetService {
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
        let metadata_url = metadata_url(&resource);
        let guard = ResourceGuard::remote(
            provisioning.issuer,
            &resource,
            metadata_url.clone(),
            provisioning.scopes,
        );
        let router = Router::new(NoIssuer, FleetKeys(RwLock::new(keys))).mount_for_remote_issuer(
            mcp,
            guard,
            provisioning.issuer,
        );
        Ok(FleetService {
            issuer: String::from(provisioning.issuer),
            resource,
            metadata_url,
            router,
        })
    }

    /// Allow these browser origins (`*`: any) on the MCP endpoint; by
    /// default none (the RFC 9728 document is readable from any origin).
    #[must_use]
    pub fn with_cors(mut self, cors: CorsPolicy) -> Self {
        self.router = self.router.with_cors(cors);
        self
    }

    /// Replace the issuer's keys (the application fetched a new JWKS after
    /// a rotation). On error the old keys stay in force.
    pub async fn update_jwks(&self, jwks_json: &str) -> Result<(), ProvisioningError> {
        let keys = KeySet::from_jwks_json(jwks_json).map_err(ProvisioningError::Jwks)?;
        *self.router.keys().0.write().await = keys;
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
}

impl Service for FleetService {
    async fn handle<'a>(&'a self, req: Request, env: DeviceEnv<'a>) -> Response {
        self.router.handle_buffered(req, env.now, env.rng).await
    }
}
