//! The standalone shape: the device is its own issuer. It runs the core's
//! whole authorization server (discovery, dynamic registration, the sign-in
//! and consent page, PKCE code flow, refresh rotation, introspection,
//! revocation) over a bounded [`MemoryStore`], signs access tokens with a
//! provisioned key, and protects its MCP endpoint with them. It is a
//! configuration of the core's router (issuer + MCP mount), which routes,
//! applies CORS and checks tokens against the issuer's own revocation list.
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
use mcpauth_core::oauth::{
    AuthorizationServer, RegistrationLimiter, ServerConfig, UserAuthenticator,
};
use mcpauth_core::rand::{RngError, SecureRandom};
use mcpauth_core::server::{CorsPolicy, Protection, Router};
use mcpauth_core::store::{MemoryStore, MemoryStoreLimits};
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
pub type DeviceAuthorizationServer =
    AuthorizationServer<MemoryStore, DeviceLogin, RegistrationLimiter>;

/// Seconds a client no user ever authorized is kept on a device (the
/// server keeps them a day; a device's table is small).
pub const DEVICE_UNUSED_CLIENT_TTL_SECS: u64 = 3600;

/// An authorization server for `issuer` (the device's public base URL,
/// e.g. `https://thermostat.local`): resource `<issuer>/mcp`, scope `mcp`,
/// the core's defaults for lifetimes and throttling, and a store bounded by
/// `limits` (use [`MemoryStoreLimits::DEVICE`]).
///
/// Registration is open, with the server's rules at a device's size: at
/// most half of `limits.clients` (at least 1) are clients no user ever
/// authorized, and a registration past that evicts the oldest of them
/// (`ServerConfig::max_unused_clients`); they are also forgotten after
/// [`DEVICE_UNUSED_CLIENT_TTL_SECS`]; and each peer (IPv4 address, IPv6
/// /64) may register 3 clients per 10 minutes, all peers together 16
/// ([`RegistrationLimiter::device`]; 429 beyond). So a flood of
/// unauthenticated `POST /register` can neither fill the table nor evict a
/// client anyone has authorized. Only authorized clients (each needed a
/// sign-in with the device password) can fill it; registration then
/// answers 503 `temporarily_unavailable`.
pub fn authorization_server(
    issuer: &str,
    login: DeviceLogin,
    limits: MemoryStoreLimits,
    service_name: &str,
) -> DeviceAuthorizationServer {
    let mut config = ServerConfig::new(issuer);
    config.service_name = String::from(service_name);
    config.max_unused_clients = (limits.clients / 2).max(1);
    config.unused_client_ttl = DEVICE_UNUSED_CLIENT_TTL_SECS;
    AuthorizationServer::new(config, MemoryStore::new(limits), login)
        .with_registration_policy(RegistrationLimiter::device())
}

/// Why a standalone service could not be built.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum StandaloneError {
    /// The issuer's configuration names no resource.
    NoResource,
}

/// Issuer + MCP resource server on one device.
pub struct StandaloneService {
    router: Router<DeviceAuthorizationServer, KeySet>,
}

impl core::fmt::Debug for StandaloneService {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("StandaloneService")
            .field("issuer", &self.router.issuer().config().issuer)
            .finish_non_exhaustive()
    }
}

impl StandaloneService {
    /// Serve `auth`'s endpoints and `mcp` (at the path of the issuer's
    /// default resource), signing with `key`; every MCP request needs the
    /// `mcp` scope.
    pub fn new(
        auth: DeviceAuthorizationServer,
        mcp: McpServer,
        key: SigningKey,
    ) -> Result<StandaloneService, StandaloneError> {
        let resource = auth
            .config()
            .default_resource()
            .ok_or(StandaloneError::NoResource)?;
        let guard = auth
            .resource_guard(&resource.identifier, &["mcp"])
            .ok_or(StandaloneError::NoResource)?;
        let router = Router::new(auth, KeySet::new(key)).mount(mcp, Protection::Bearer(guard));
        Ok(StandaloneService { router })
    }

    /// Allow these browser origins (`*`: any) on the MCP endpoint and the
    /// OAuth API; by default none (discovery is readable from any origin).
    #[must_use]
    pub fn with_cors(mut self, cors: CorsPolicy) -> Self {
        self.router = self.router.with_cors(cors);
        self
    }

    /// The key set (its JWKS is served at `/jwks.json`).
    pub fn keys(&self) -> &KeySet {
        self.router.keys()
    }

    /// The authorization server.
    pub fn authorization_server(&self) -> &DeviceAuthorizationServer {
        self.router.issuer()
    }
}

impl Service for StandaloneService {
    async fn handle<'a>(&'a self, req: Request, env: DeviceEnv<'a>) -> Response {
        self.router.handle_buffered(req, env.now, env.rng).await
    }
}
