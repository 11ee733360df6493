//! The standalone shape: the device is its own issuer. It runs the core's
//! whole authorization server (discovery, dynamic registration, the sign-in
//! and consent page, PKCE code flow, refresh rotation, introspection,
//! revocation) over a bounded [`MemoryStore`], signs access tokens with a
//! provisioned key, and protects its MCP endpoint with them. Routing is the
//! core's [`handle_all_in_one`].
//!
//! Construction is two steps because the MCP guard must see the issuer's
//! revocations: put the [`DeviceAuthorizationServer`] in a `StaticCell`,
//! then build the [`StandaloneService`] borrowing it.
//!
//! ## The device password
//! One account (`username` + password), checked by [`DeviceLogin`]: the
//! password is kept as SHA-256(salt ‖ password) with a random 16-byte salt,
//! compared in constant time (the username too, through its hash). A
//! memory-hard hash (argon2, as host-std uses) does not fit a
//! microcontroller's RAM; guessing over the network is bounded by the
//! core's login throttle, and an attacker who can dump the flash holds the
//! signing key anyway. Provision the digest ([`DeviceLogin::from_digest`])
//! rather than the password where possible.

use alloc::string::String;
use core::future::{Future, ready};

use mcpauth_core::http::{Request, Response};
use mcpauth_core::jose::{KeySet, SigningKey};
use mcpauth_core::mcp::McpServer;
use mcpauth_core::oauth::{AuthorizationServer, Env, ServerConfig, UserAuthenticator};
use mcpauth_core::rand::{RngError, SecureRandom};
use mcpauth_core::server::{Protection, ResourceServer, handle_all_in_one};
use mcpauth_core::store::{MemoryStore, MemoryStoreLimits, RevocationStore, StoreError};
use mcpauth_core::time::UnixTime;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use crate::service::{DeviceEnv, Service};

/// The one account of a standalone device.
pub struct DeviceLogin {
    username: String,
    username_hash: [u8; 32],
    salt: [u8; 16],
    digest: [u8; 32],
}

impl core::fmt::Debug for DeviceLogin {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("DeviceLogin")
            .field("username", &self.username)
            .finish_non_exhaustive()
    }
}

impl DeviceLogin {
    /// An account from a clear-text password (hashed here with a fresh salt
    /// from `rng`; the password is not kept).
    pub fn new(
        username: &str,
        password: &str,
        rng: &mut dyn SecureRandom,
    ) -> Result<DeviceLogin, RngError> {
        let mut salt = [0u8; 16];
        rng.fill(&mut salt)?;
        let digest = Self::digest(&salt, password);
        Ok(Self::from_digest(username, salt, digest))
    }

    /// An account from a provisioned salt and [`DeviceLogin::digest`].
    pub fn from_digest(username: &str, salt: [u8; 16], digest: [u8; 32]) -> DeviceLogin {
        DeviceLogin {
            username: String::from(username),
            username_hash: Sha256::digest(username.as_bytes()).into(),
            salt,
            digest,
        }
    }

    /// SHA-256(salt ‖ password): what to provision.
    pub fn digest(salt: &[u8; 16], password: &str) -> [u8; 32] {
        Sha256::new()
            .chain_update(salt)
            .chain_update(password.as_bytes())
            .finalize()
            .into()
    }
}

impl UserAuthenticator for DeviceLogin {
    fn authenticate(
        &self,
        username: &str,
        password: &str,
    ) -> impl Future<Output = Option<String>> + Send {
        let user: [u8; 32] = Sha256::digest(username.as_bytes()).into();
        let user_ok = user.ct_eq(&self.username_hash);
        let pass_ok = Self::digest(&self.salt, password).ct_eq(&self.digest);
        let ok: bool = (user_ok & pass_ok).into();
        ready(ok.then(|| self.username.clone()))
    }
}

/// The authorization server of a standalone device.
pub type DeviceAuthorizationServer = AuthorizationServer<MemoryStore, DeviceLogin>;

/// An authorization server for `issuer` (the device's public base URL,
/// e.g. `https://thermostat.local`): resource `<issuer>/mcp`, scope `mcp`,
/// the core's defaults for lifetimes and throttling, and a store bounded by
/// `limits` (use [`MemoryStoreLimits::DEVICE`]).
pub fn authorization_server(
    issuer: &str,
    login: DeviceLogin,
    limits: MemoryStoreLimits,
    service_name: &str,
) -> DeviceAuthorizationServer {
    let mut config = ServerConfig::new(issuer);
    config.service_name = String::from(service_name);
    AuthorizationServer::new(config, MemoryStore::new(limits), login)
}

/// The MCP guard's view of the issuer's revocation list.
pub struct IssuerRevocations<'d>(&'d MemoryStore);

impl core::fmt::Debug for IssuerRevocations<'_> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str("IssuerRevocations")
    }
}

impl RevocationStore for IssuerRevocations<'_> {
    fn revoke_jti(
        &self,
        jti: &str,
        expires_at: u64,
        now: UnixTime,
    ) -> impl Future<Output = Result<(), StoreError>> + Send {
        self.0.revoke_jti(jti, expires_at, now)
    }

    fn is_jti_revoked(
        &self,
        jti: &str,
        now: UnixTime,
    ) -> impl Future<Output = Result<bool, StoreError>> + Send {
        self.0.is_jti_revoked(jti, now)
    }

    fn revoke_access_family(
        &self,
        family: &str,
        expires_at: u64,
        now: UnixTime,
    ) -> impl Future<Output = Result<(), StoreError>> + Send {
        self.0.revoke_access_family(family, expires_at, now)
    }

    fn is_access_token_revoked(
        &self,
        jti: &str,
        family: Option<&str>,
        now: UnixTime,
    ) -> impl Future<Output = Result<bool, StoreError>> + Send {
        self.0.is_access_token_revoked(jti, family, now)
    }
}

/// Why a standalone service could not be built.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum StandaloneError {
    /// The issuer's configuration names no resource.
    NoResource,
}

/// Issuer + MCP resource server on one device.
pub struct StandaloneService<'d> {
    auth: &'d DeviceAuthorizationServer,
    resource: ResourceServer<IssuerRevocations<'d>>,
    keys: KeySet,
}

impl core::fmt::Debug for StandaloneService<'_> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("StandaloneService")
            .field("issuer", &self.auth.config().issuer)
            .finish_non_exhaustive()
    }
}

impl<'d> StandaloneService<'d> {
    /// Serve `auth`'s endpoints and `mcp` (at the path of the issuer's
    /// default resource), signing with `key`; every MCP request needs the
    /// `mcp` scope.
    pub fn new(
        auth: &'d DeviceAuthorizationServer,
        mcp: McpServer,
        key: SigningKey,
    ) -> Result<StandaloneService<'d>, StandaloneError> {
        let resource = auth
            .config()
            .default_resource()
            .ok_or(StandaloneError::NoResource)?;
        let guard = auth
            .resource_guard(&resource.identifier, &["mcp"])
            .ok_or(StandaloneError::NoResource)?;
        Ok(StandaloneService {
            auth,
            resource: ResourceServer::new(
                mcp,
                Protection::Bearer(guard),
                IssuerRevocations(auth.store()),
            ),
            keys: KeySet::new(key),
        })
    }

    /// The key set (its JWKS is served at `/jwks.json`).
    pub fn keys(&self) -> &KeySet {
        &self.keys
    }
}

impl Service for StandaloneService<'_> {
    async fn handle<'a>(&'a self, req: &'a Request, env: DeviceEnv<'a>) -> Response {
        let mut env = Env {
            now: env.now,
            rng: env.rng,
            keys: &self.keys,
        };
        handle_all_in_one(self.auth, &self.resource, req, &mut env).await
    }
}
