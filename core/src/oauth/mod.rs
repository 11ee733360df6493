//! The OAuth 2.1 authorization server: discovery (RFC 8414, RFC 9728),
//! dynamic client registration (RFC 7591), the authorization-code flow with
//! PKCE S256 (RFC 7636) and resource indicators (RFC 8707), refresh-token
//! rotation with reuse detection (RFC 9700 §4.14), introspection (RFC 7662),
//! revocation (RFC 7009), the sign-in/consent pages, and the resource-server
//! guard ([`authenticate`], refusals typed as [`BearerError`]).
//!
//! ## Entry point
//! A host builds one [`AuthorizationServer`] from a [`ServerConfig`], a
//! [`Store`], a [`UserAuthenticator`] and optionally a
//! [`RegistrationPolicy`], and for every request calls
//! [`AuthorizationServer::handle`] with an [`Env`] (clock, RNG, key set).
//! `None` means "not an OAuth path": the router passes the request on (to
//! MCP). Every decision — status, headers, body, HTML — is made here.
//!
//! | path | method | |
//! | --- | --- | --- |
//! | `/.well-known/oauth-authorization-server[/<resource path>]` | GET | RFC 8414 metadata |
//! | `/.well-known/openid-configuration` | GET | same, only what is supported |
//! | `/.well-known/oauth-protected-resource[/<resource path>]` | GET | RFC 9728 metadata |
//! | `/jwks.json`, `/.well-known/jwks.json` | GET | public keys |
//! | `/register` | POST | RFC 7591 |
//! | `/authorize` | GET, POST | validation, sign-in + consent page, decision |
//! | `/token` | POST | `authorization_code`, `refresh_token` |
//! | `/introspect` | POST | RFC 7662 |
//! | `/revoke` | POST | RFC 7009 |
//!
//! A `client_id` may also be an https URL naming a client ID metadata
//! document, when the host installs a fetcher (see [`cimd`]).
//!
//! ## Tokens
//! Access tokens are RS256 JWTs (RFC 9068) with `aud` = the one resource of
//! the grant and a `jti` we draw that names the grant's access family, so a
//! replayed code, a revocation or a revoked family can refuse them (see
//! [`access_family_of`]). Refresh tokens are `<family id>.<secret>`: the family id
//! finds the grant, the hash of the whole token is compared (constant time)
//! with the family's one live token; anything else presented for a live
//! family is reuse and revokes the family. Codes and refresh tokens are
//! stored only as SHA-256 hashes.
//!
//! ## Deliberate choices
//! - Confidential clients may authenticate with either `client_secret_basic`
//!   or `client_secret_post`, whichever they registered: both prove the same
//!   secret, and connectors are not consistent about which they use.
//! - A registration without `grant_types` gets `authorization_code` and
//!   `refresh_token` (RFC 7591 says only the former) so connectors that omit
//!   it still get refresh tokens.
//! - `redirect_uri` at `/token` is checked when present and may be omitted
//!   (OAuth 2.1: PKCE binds the code to the client instance).
//! - The sign-in and consent form is one page: credentials plus
//!   Allow/Deny; Deny needs no credentials.
//! - With [`ServerConfig::privy`] set, the same form also accepts a Privy
//!   access token (`privy_token`) instead of credentials; the grant's
//!   subject is then the Privy DID. See [`privy`].
//! - With [`ServerConfig::oidc`] set, the form offers one button per
//!   upstream OpenID provider; the grant's subject is then derived from the
//!   provider's `(iss, sub)`. See [`oidc`].

#[cfg(feature = "issuer")]
use alloc::boxed::Box;
use alloc::string::String;
use core::future::Future;
use core::net::IpAddr;

#[cfg(feature = "issuer")]
use crate::http::{Method, Request, Response};
use crate::jose::KeySet;
use crate::rand::SecureRandom;
#[cfg(feature = "issuer")]
use crate::store::Store;
use crate::time::UnixTime;

mod access_family;
#[cfg(feature = "issuer")]
mod authorize;
mod bearer;
pub mod cimd;
#[cfg(feature = "issuer")]
mod client_auth;
mod config;
#[cfg(feature = "issuer")]
mod discovery;
mod error;
pub mod events;
mod guard;
#[cfg(feature = "issuer")]
mod introspect;
pub mod oidc;
#[cfg(feature = "issuer")]
mod pages;
pub mod pkce;
pub mod privy;
mod register;
mod registration_limit;
pub mod remote_issuer;
mod resource;
mod static_clients;
mod throttle;
#[cfg(feature = "issuer")]
mod token;
pub(crate) mod wire;

#[cfg(test)]
mod tests;

pub use access_family::{
    access_family_in_jti, access_family_of, access_family_revocation_ttl, is_access_token_revoked,
    revoke_access_tokens_of_family, revoke_family_and_access_tokens, revoke_grants_of,
};
pub use bearer::{
    BearerCache, BearerError, KeySource, NoCache, authenticate, authenticate_bearer, bearer_token,
    check_revocation,
};
pub use cimd::{
    ClientMetadataFetcher, MAX_CLIENT_ID_URL, MAX_METADATA_DOCUMENT, MetadataFetchError,
    MetadataFuture, is_client_id_url,
};
pub use config::{ServerConfig, canonical_resource};
pub use error::OAuthError;
pub use events::{
    GrantKind, OAuthEvent, OAuthObserver, SignInMethod, Throttle, TokenKind, UpstreamFailure,
};
pub use guard::ResourceGuard;
pub use oidc::{
    ClientSecret, OidcError, OidcProvider, TokenAuthMethod, UpstreamError, UpstreamHttp,
    UpstreamRequest, UpstreamResponse, upstream_subject,
};
pub use privy::{
    PrivyConfig, PrivyJwksError, PrivyKey, verify_privy_identity_token, verify_privy_token,
};
pub use registration_limit::RegistrationLimiter;
pub use resource::{MAX_RESOURCE_NAME_CHARS, ProtectedResource, ResourceKind};
pub use static_clients::{MAX_STATIC_CLIENT_ID_LEN, StaticClient};
pub use throttle::{ThrottleConfig, peer_bucket};

#[cfg(feature = "issuer")]
use throttle::LoginThrottle;

/// Checks a user's credentials. The host implements it (host-std: argon2
/// over its user table); the core never sees a password hash.
pub trait UserAuthenticator {
    /// The subject (stable user id) if `username` and `password` are right,
    /// `None` otherwise. Must take about the same time either way.
    fn authenticate(
        &self,
        username: &str,
        password: &str,
    ) -> impl Future<Output = Option<String>> + Send;

    /// The Privy app's verification key, when
    /// [`ServerConfig::privy`] is set (from configuration, or fetched once
    /// and cached by the host). `None`: Privy sign-in answers "temporarily
    /// unavailable". The default has no key.
    fn privy_verification_key(&self) -> impl Future<Output = Option<PrivyKey>> + Send {
        core::future::ready(None)
    }

    /// Whether `secret` matches `secret_hash`, the hash the operator
    /// configured for a static client ([`StaticClient::secret_hash`],
    /// host-std: an argon2 PHC string). Compare in constant time; take
    /// about the same time either way. The default matches nothing.
    fn verify_client_secret(
        &self,
        secret_hash: &str,
        secret: &str,
    ) -> impl Future<Output = bool> + Send {
        let _ = (secret_hash, secret);
        core::future::ready(false)
    }
}

/// Decides whether a peer may register a client now (registration is open,
/// so it is the first thing a flood hits). Any
/// `Fn(Option<IpAddr>, Option<UnixTime>) -> bool` is one;
/// [`RegistrationLimiter`] is the per-peer and global budget both hosts use.
pub trait RegistrationPolicy {
    /// `true` to allow this registration.
    fn allow_registration(&self, peer: Option<IpAddr>, now: Option<UnixTime>) -> bool;
}

impl<F> RegistrationPolicy for F
where
    F: Fn(Option<IpAddr>, Option<UnixTime>) -> bool,
{
    fn allow_registration(&self, peer: Option<IpAddr>, now: Option<UnixTime>) -> bool {
        self(peer, now)
    }
}

/// Allows every registration (the host limits elsewhere, or trusts its
/// network).
#[derive(Debug, Clone, Copy, Default)]
pub struct AllowAllRegistrations;

impl RegistrationPolicy for AllowAllRegistrations {
    fn allow_registration(&self, _: Option<IpAddr>, _: Option<UnixTime>) -> bool {
        true
    }
}

/// The per-request environment a host supplies.
pub struct Env<'a> {
    /// Wall-clock time; `None` when unknown (every time-dependent operation
    /// then fails closed with 503).
    pub now: Option<UnixTime>,
    /// A cryptographically secure RNG.
    pub rng: &'a mut (dyn SecureRandom + Send),
    /// The signing and verifying keys.
    pub keys: &'a KeySet,
}

impl core::fmt::Debug for Env<'_> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Env")
            .field("now", &self.now)
            .finish_non_exhaustive()
    }
}

impl Env<'_> {
    /// The time, or [`OAuthError::Unavailable`] when unknown.
    pub(crate) fn time(&self) -> Result<UnixTime, OAuthError> {
        self.now.ok_or(OAuthError::Unavailable)
    }
}

/// The authorization server: configuration, store, user authenticator,
/// registration policy and the login throttle.
#[cfg(feature = "issuer")]
pub struct AuthorizationServer<S, U, L = AllowAllRegistrations> {
    config: ServerConfig,
    store: S,
    users: U,
    registration: L,
    throttle: LoginThrottle,
    /// Resolves URL `client_id`s (client ID metadata documents); `None`
    /// turns the feature off.
    client_metadata: Option<Box<dyn ClientMetadataFetcher>>,
    /// Told about every security event (`None`: nobody listens).
    observer: Option<Box<dyn OAuthObserver>>,
    /// The host's client for upstream OpenID providers and their caches;
    /// `None` until [`AuthorizationServer::with_upstream_http`].
    oidc: Option<oidc::OidcRuntime>,
}

#[cfg(feature = "issuer")]
impl<S, U, L> core::fmt::Debug for AuthorizationServer<S, U, L> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("AuthorizationServer")
            .field("issuer", &self.config.issuer)
            .finish_non_exhaustive()
    }
}

#[cfg(feature = "issuer")]
impl<S, U> AuthorizationServer<S, U, AllowAllRegistrations> {
    /// A server allowing every registration; see
    /// [`Self::with_registration_policy`].
    pub fn new(config: ServerConfig, store: S, users: U) -> Self {
        let throttle = LoginThrottle::new(config.throttle);
        AuthorizationServer {
            config,
            store,
            users,
            registration: AllowAllRegistrations,
            throttle,
            client_metadata: None,
            observer: None,
            oidc: None,
        }
    }
}

#[cfg(feature = "issuer")]
impl<S, U, L> AuthorizationServer<S, U, L> {
    /// Replace the registration rate-limit hook.
    pub fn with_registration_policy<L2>(self, policy: L2) -> AuthorizationServer<S, U, L2> {
        AuthorizationServer {
            config: self.config,
            store: self.store,
            users: self.users,
            registration: policy,
            throttle: self.throttle,
            client_metadata: self.client_metadata,
            oidc: self.oidc,
            observer: self.observer,
        }
    }

    /// Report every security event (sign-ins, consent, tokens issued and
    /// revoked, reuse detected, registrations, rate-limit refusals) to
    /// `observer`, e.g. the host's audit log and metrics.
    pub fn with_observer(mut self, observer: impl OAuthObserver + 'static) -> Self {
        self.observer = Some(Box::new(observer));
        self
    }

    /// Tell the observer, if any.
    pub(crate) fn emit(&self, event: OAuthEvent<'_>, peer: Option<IpAddr>) {
        if let Some(o) = &self.observer {
            o.event(&event, peer);
        }
    }

    /// Accept client ID metadata documents: a `client_id` that is an https
    /// URL is resolved by fetching it through `fetcher` (see [`cimd`]), and
    /// discovery advertises `client_id_metadata_document_supported`.
    pub fn with_client_metadata_fetcher(
        mut self,
        fetcher: impl ClientMetadataFetcher + 'static,
    ) -> Self {
        self.client_metadata = Some(Box::new(fetcher));
        self
    }

    /// Carry requests to the upstream OpenID providers of
    /// [`ServerConfig::oidc`] through `http` (see [`oidc`]). Without it the
    /// providers' buttons answer "not offered here".
    pub fn with_upstream_http(mut self, http: impl UpstreamHttp + 'static) -> Self {
        let providers = self.config.oidc.len();
        self.oidc = Some(oidc::OidcRuntime::new(Box::new(http), providers));
        self
    }

    /// The configuration.
    pub fn config(&self) -> &ServerConfig {
        &self.config
    }

    /// The store (the MCP guard needs its [`crate::store::RevocationStore`]).
    pub fn store(&self) -> &S {
        &self.store
    }

    /// A guard for the configured resource `resource` requiring `scopes`.
    pub fn resource_guard(&self, resource: &str, scopes: &[&str]) -> Option<ResourceGuard> {
        let resource = self.config.find_resource(resource)?;
        Some(ResourceGuard::new(
            &self.config,
            &resource.identifier,
            scopes,
        ))
    }
}

#[cfg(feature = "issuer")]
impl<S, U, L> AuthorizationServer<S, U, L>
where
    S: Store + Sync,
    U: UserAuthenticator + Sync,
    L: RegistrationPolicy + Sync,
{
    /// Answer `req` if it is an OAuth or discovery path; `None` otherwise.
    pub async fn handle(&self, req: &Request, env: &mut Env<'_>) -> Option<Response> {
        let path = req.path.as_str();
        if let Some(resp) = discovery::handle(self, req, env) {
            return Some(resp);
        }
        let resp = match path {
            "/register" => match req.method {
                Method::Post if !self.config.dynamic_registration => {
                    static_clients::registration_closed()
                }
                Method::Post => self.register(req, env).await,
                _ => wire::method_not_allowed("POST"),
            },
            "/authorize" => match req.method {
                // Not HEAD: a GET creates a pending request.
                Method::Get => self.authorize_get(req, env).await,
                Method::Post => self.authorize_post(req, env).await,
                _ => wire::method_not_allowed("GET, POST"),
            },
            "/token" => match req.method {
                Method::Post => self.token(req, env).await,
                _ => wire::method_not_allowed("POST"),
            },
            "/introspect" => match req.method {
                Method::Post => self.introspect(req, env).await,
                _ => wire::method_not_allowed("POST"),
            },
            "/revoke" => match req.method {
                Method::Post => self.revoke(req, env).await,
                _ => wire::method_not_allowed("POST"),
            },
            p if p.starts_with(oidc::CALLBACK_PREFIX) => match req.method {
                Method::Get => self.oidc_callback(req, env).await,
                _ => wire::method_not_allowed("GET"),
            },
            _ => return None,
        };
        Some(resp)
    }
}
