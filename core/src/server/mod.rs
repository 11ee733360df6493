//! The one router every host calls: routing, `/healthz`, the CORS policy,
//! the bearer check of protected resources, the clock-unknown rule and
//! `Retry-After`. Hosts translate bytes to a [`Request`] and a [`Routed`]
//! back to bytes, nothing else: if two hosts would need an `if`, it is here.
//!
//! A [`Router`] is configuration, not code:
//! - an [`Issuer`]: this process's authorization server
//!   ([`AuthorizationServer`](crate::oauth::AuthorizationServer) implements
//!   it; a host may wrap it to run it elsewhere), or [`NoIssuer`] for a
//!   resource server whose tokens come from an issuer elsewhere;
//! - a [`KeySource`] (the verifying keys; a [`KeySet`] is one) and a
//!   [`BearerCache`] ([`NoCache`] by default) for the bearer check;
//! - the [`CorsPolicy`];
//! - one or more mounted resources ([`Router::mount`]): an
//!   [`McpServer`] or a host-served path ([`Router::mount_host`]), each
//!   with its [`Protection`].
//!
//! ## The order of checks, written once
//! 1. CORS: an MCP path refuses a foreign `Origin` (403); a preflight is
//!    answered here, before anything needs a credential or the clock.
//! 2. `/healthz` (GET and HEAD).
//! 3. A mounted resource: its RFC 9728 document (remote issuer), else the
//!    clock (unknown: 503 + `Retry-After`, never a token error), then the
//!    bearer token ([`authenticate`]: cache,
//!    signature, revocation, scopes; then [`Issuer::token_active`]), then
//!    the resource.
//! 4. Everything else goes to the issuer; a 503 from it gets `Retry-After`;
//!    what it declines is 404.
//!
//! CORS headers are added to every answer of a CORS-enabled path.

use alloc::boxed::Box;
use alloc::format;
use alloc::string::{String, ToString};
use alloc::vec::Vec;
use core::future::{Future, ready};

use serde_json::json;

use crate::http::{Method, Request, Response};
use crate::jose::KeySet;
use crate::mcp::{LiveStream, McpOutcome, McpServer};
#[cfg(feature = "issuer")]
use crate::oauth::{AuthorizationServer, RegistrationPolicy, UserAuthenticator};
use crate::oauth::{
    BearerCache, BearerError, Env, KeySource, NoCache, ResourceGuard, authenticate, bearer_token,
};
use crate::principal::Principal;
use crate::rand::SecureRandom;
#[cfg(feature = "issuer")]
use crate::store::Store;
use crate::store::{RevocationStore, StoreError};
use crate::sync::Arc;
use crate::time::UnixTime;

pub mod cors;
pub mod refusal;
#[cfg(any(test, feature = "testing"))]
pub mod vectors;

pub use cors::CorsPolicy;
use cors::{PathKind, Verdict};
pub use refusal::Refusal;

/// The path prefix of RFC 9728 protected-resource metadata.
const PR_METADATA: &str = "/.well-known/oauth-protected-resource";
/// `Retry-After` of every 503 (seconds).
pub const RETRY_AFTER_SECS: &str = "5";

/// How a mounted resource is protected.
#[derive(Debug, Clone)]
pub enum Protection {
    /// Bearer access tokens checked by this guard (the normal case).
    Bearer(ResourceGuard),
    /// No authorization at all. Only for test servers such as the
    /// conformance suite's `everything` server; never the default.
    DangerouslyOpen,
}

/// The authorization server as the router sees it: the endpoints it
/// answers, and the revocation list its access tokens are checked against.
pub trait Issuer {
    /// Where revoked access tokens and grants are recorded.
    type Revocations: RevocationStore;

    /// The revocation list the bearer check of every mounted resource
    /// reads (an all-in-one server: the one `/revoke` and code-replay
    /// detection write to).
    fn revocations(&self) -> &Self::Revocations;

    /// Answer `req` if it is an OAuth or discovery path; `None` otherwise
    /// (the router answers 404). A host may run it elsewhere (host-std: on
    /// its OAuth worker threads, with its own RNG and keys).
    fn handle(&self, req: Request, env: Env<'_>) -> impl Future<Output = Option<Response>>;

    /// Whether `token`, verified (signature, claims, scopes, revocation
    /// list) as `principal`, is still active at its issuer: a resource
    /// server may ask the issuer (RFC 7662 introspection) on every request,
    /// with a short cache. `Ok(false)` refuses it as revoked; `Err` as
    /// "cannot tell now" (503). The default, for a server whose revocation
    /// list was just read, says active.
    fn token_active(
        &self,
        token: &str,
        principal: &Principal,
        now: UnixTime,
    ) -> impl Future<Output = Result<bool, StoreError>> {
        let _ = (token, principal, now);
        ready(Ok(true))
    }
}

#[cfg(feature = "issuer")]
impl<S, U, L> Issuer for AuthorizationServer<S, U, L>
where
    S: Store + Sync,
    U: UserAuthenticator + Sync,
    L: RegistrationPolicy + Sync,
{
    type Revocations = S;

    fn revocations(&self) -> &S {
        self.store()
    }

    async fn handle(&self, req: Request, mut env: Env<'_>) -> Option<Response> {
        AuthorizationServer::handle(self, &req, &mut env).await
    }
}

/// No authorization server here: a resource server (a fleet device,
/// another mcpauth) trusting an issuer elsewhere.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoIssuer;

impl Issuer for NoIssuer {
    type Revocations = NoRevocations;

    fn revocations(&self) -> &NoRevocations {
        &NoRevocations
    }

    fn handle(&self, _req: Request, _env: Env<'_>) -> impl Future<Output = Option<Response>> {
        ready(None)
    }
}

/// What serves a mounted path.
#[derive(Debug)]
enum Target {
    Mcp(Arc<McpServer>),
    /// The host answers (e.g. a proxied upstream): the router hands the
    /// authenticated request back.
    Host,
}

/// One protected resource at one path.
#[derive(Debug)]
struct Mount {
    path: String,
    protection: Protection,
    target: Target,
    /// For a resource whose issuer is elsewhere: its RFC 9728 document and
    /// the path-suffixed well-known path it is served at.
    metadata: Option<(String, String)>,
}

/// What the router answered.
#[derive(Debug)]
pub enum Routed<'r, P> {
    /// A complete response.
    Response(Response),
    /// A live MCP SSE stream: write `stream.response` now, run its call (if
    /// any) with [`McpServer::run_live`] on `server`, and write the events
    /// its reader yields. [`Routed::buffered`] reads it to the end instead.
    Live {
        /// The stream (its response already carries the CORS headers).
        stream: Box<LiveStream>,
        /// The MCP server that produced it.
        server: &'r Arc<McpServer>,
    },
    /// An authenticated request to a path the host serves itself
    /// ([`Router::mount_host`]); add `cors` to its answer with
    /// [`CorsPolicy::decorate`].
    Host {
        /// The request (boxed: it is the largest member by far, and every
        /// answer, most of them small, is moved through a few async layers
        /// as a `Routed`).
        req: Box<Request>,
        /// The caller (`None` on an open mount).
        principal: Option<P>,
        /// The CORS verdict for the answer.
        cors: Verdict,
        /// The mounted path.
        path: &'r str,
    },
}

impl<P> Routed<'_, P> {
    /// The whole response, for hosts that cannot hold a response open: a
    /// live stream runs its call to the end; a host-served path this host
    /// does not serve is 404.
    pub async fn buffered(self) -> Response {
        match self {
            Routed::Response(resp) => resp,
            Routed::Live { stream, server } => server.finish_buffered(stream).await,
            Routed::Host { .. } => not_found(),
        }
    }
}

/// The router: see the module docs.
pub struct Router<I = NoIssuer, K = KeySet, C = NoCache> {
    issuer: I,
    keys: K,
    cache: C,
    cors: CorsPolicy,
    mounts: Vec<Mount>,
}

impl<I, K, C> core::fmt::Debug for Router<I, K, C> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Router")
            .field("cors", &self.cors)
            .field("mounts", &self.mounts)
            .finish_non_exhaustive()
    }
}

impl Router<NoIssuer, KeySet, NoCache> {
    /// A router serving `mcp` with no authorization at all (test servers
    /// only, see [`Protection::DangerouslyOpen`]).
    pub fn dangerously_open(mcp: impl Into<Arc<McpServer>>) -> Self {
        // An open mount never verifies a token: no keys are needed.
        Router::new(NoIssuer, KeySet::empty()).mount(mcp, Protection::DangerouslyOpen)
    }
}

impl<I, K> Router<I, K, NoCache> {
    /// A router with `issuer` (or [`NoIssuer`]) verifying tokens with
    /// `keys`, no cache, no browser origin allowed, nothing mounted yet.
    pub fn new(issuer: I, keys: K) -> Self {
        Router {
            issuer,
            keys,
            cache: NoCache,
            cors: CorsPolicy::default(),
            mounts: Vec::new(),
        }
    }
}

impl<I, K, C> Router<I, K, C> {
    /// Put `cache` in front of signature checks.
    pub fn with_cache<C2: BearerCache>(self, cache: C2) -> Router<I, K, C2> {
        Router {
            issuer: self.issuer,
            keys: self.keys,
            cache,
            cors: self.cors,
            mounts: self.mounts,
        }
    }

    /// Replace the key source, built from the current one.
    pub fn map_keys<K2>(self, f: impl FnOnce(K) -> K2) -> Router<I, K2, C> {
        Router {
            issuer: self.issuer,
            keys: f(self.keys),
            cache: self.cache,
            cors: self.cors,
            mounts: self.mounts,
        }
    }

    /// Use `cors` (default: no browser origin allowed on the API and MCP
    /// paths).
    #[must_use]
    pub fn with_cors(mut self, cors: CorsPolicy) -> Self {
        self.cors = cors;
        self
    }

    /// Serve `mcp` at its `endpoint_path`, protected by `protection`. Its
    /// discovery document is the issuer's.
    #[must_use]
    pub fn mount(mut self, mcp: impl Into<Arc<McpServer>>, protection: Protection) -> Self {
        let mcp = mcp.into();
        self.mounts.push(Mount {
            path: mcp.config().endpoint_path.clone(),
            protection,
            target: Target::Mcp(mcp),
            metadata: None,
        });
        self
    }

    /// Serve `mcp` for tokens of `issuer` elsewhere, and the RFC 9728
    /// document naming that issuer (at the bare and the path-suffixed
    /// well-known path).
    #[must_use]
    pub fn mount_for_remote_issuer(
        mut self,
        mcp: impl Into<Arc<McpServer>>,
        guard: ResourceGuard,
        issuer: &str,
    ) -> Self {
        let mcp = mcp.into();
        let metadata = remote_metadata_document(&guard, issuer);
        self.mounts.push(Mount {
            path: mcp.config().endpoint_path.clone(),
            protection: Protection::Bearer(guard),
            target: Target::Mcp(mcp),
            metadata: Some(metadata),
        });
        self
    }

    /// Authenticate requests to `path` for tokens of `issuer` elsewhere and
    /// hand them to the host ([`Routed::Host`], e.g. an auth proxy in
    /// resource-server mode); serve the RFC 9728 document naming that
    /// issuer, as [`Router::mount_for_remote_issuer`] does.
    #[must_use]
    pub fn mount_host_for_remote_issuer(
        mut self,
        path: &str,
        guard: ResourceGuard,
        issuer: &str,
    ) -> Self {
        let metadata = remote_metadata_document(&guard, issuer);
        self.mounts.push(Mount {
            path: path.into(),
            protection: Protection::Bearer(guard),
            target: Target::Host,
            metadata: Some(metadata),
        });
        self
    }

    /// Authenticate requests to `path` with `protection` and hand them to
    /// the host ([`Routed::Host`]), e.g. to forward them upstream.
    #[must_use]
    pub fn mount_host(mut self, path: &str, protection: Protection) -> Self {
        self.mounts.push(Mount {
            path: path.into(),
            protection,
            target: Target::Host,
            metadata: None,
        });
        self
    }

    /// The issuer.
    pub fn issuer(&self) -> &I {
        &self.issuer
    }

    /// The key source.
    pub fn keys(&self) -> &K {
        &self.keys
    }

    /// The bearer cache.
    pub fn cache(&self) -> &C {
        &self.cache
    }

    /// The CORS policy.
    pub fn cors(&self) -> &CorsPolicy {
        &self.cors
    }

    /// The MCP server mounted at `path`.
    pub fn mcp(&self, path: &str) -> Option<&Arc<McpServer>> {
        self.mounts.iter().find_map(|m| match &m.target {
            Target::Mcp(mcp) if m.path == path => Some(mcp),
            _ => None,
        })
    }

    fn path_kind(&self, path: &str) -> PathKind {
        if path.contains("/.well-known/") || path == "/jwks.json" {
            PathKind::Public
        } else if matches!(path, "/register" | "/token" | "/revoke" | "/introspect") {
            PathKind::Api
        } else if self.mounts.iter().any(|m| m.path == path) {
            PathKind::Mcp
        } else {
            PathKind::None
        }
    }
}

impl<I, K, C> Router<I, K, C>
where
    I: Issuer,
    K: KeySource,
    C: BearerCache,
{
    /// Answer one request. `now` is the wall clock (`None` while unknown),
    /// `rng` the host's CSPRNG.
    pub async fn handle(
        &self,
        req: Request,
        now: Option<UnixTime>,
        rng: &mut (dyn SecureRandom + Send),
    ) -> Routed<'_, C::Principal> {
        let kind = self.path_kind(&req.path);
        let verdict = self.cors.verdict(kind, &req);
        if kind == PathKind::Mcp && verdict == Verdict::Deny {
            return Routed::Response(crate::mcp::origin_forbidden());
        }
        if let Some(preflight) = self.cors.preflight(&verdict, &req) {
            return Routed::Response(preflight);
        }
        if req.path == "/healthz" {
            return Routed::Response(health(&req));
        }
        if let Some(resp) = self.remote_metadata(&req) {
            return Routed::Response(decorated(verdict, resp));
        }
        if let Some(mount) = self.mounts.iter().find(|m| m.path == req.path) {
            return self.protected(mount, req, now, rng, verdict).await;
        }
        let keys = self.keys.keys().await;
        let env = Env {
            now,
            rng,
            keys: &keys,
        };
        let resp = match self.issuer.handle(req, env).await {
            // A store outage or a full bounded store: say when to retry.
            Some(resp) if resp.status == 503 && resp.header("retry-after").is_none() => {
                resp.with_header("Retry-After", RETRY_AFTER_SECS)
            }
            Some(resp) => resp,
            None => not_found(),
        };
        Routed::Response(decorated(verdict, resp))
    }

    /// [`Router::handle`], read to the end ([`Routed::buffered`]).
    pub async fn handle_buffered(
        &self,
        req: Request,
        now: Option<UnixTime>,
        rng: &mut (dyn SecureRandom + Send),
    ) -> Response {
        self.handle(req, now, rng).await.buffered().await
    }

    fn remote_metadata(&self, req: &Request) -> Option<Response> {
        let path = req.path.as_str();
        if !path.starts_with(PR_METADATA) {
            return None;
        }
        let mut remote = self.mounts.iter().filter_map(|m| m.metadata.as_ref());
        let (_, body) = if path == PR_METADATA {
            remote.next()?
        } else {
            remote.find(|(p, _)| p == path)?
        };
        Some(match req.method {
            Method::Get | Method::Head => Response::json(200, body.clone())
                .with_header("Cache-Control", "public, max-age=3600"),
            _ => method_not_allowed("GET, HEAD"),
        })
    }

    async fn protected<'r>(
        &'r self,
        mount: &'r Mount,
        req: Request,
        now: Option<UnixTime>,
        rng: &mut (dyn SecureRandom + Send),
        verdict: Verdict,
    ) -> Routed<'r, C::Principal> {
        let Some(now) = now else {
            // Sessions and tokens both need the time; a 401 would send the
            // client into a useless re-authorization loop.
            return Routed::Response(decorated(verdict, clock_unknown()));
        };
        let principal = match &mount.protection {
            Protection::DangerouslyOpen => None,
            Protection::Bearer(guard) => {
                let revocations = self.issuer.revocations();
                let authenticated = async {
                    let token = bearer_token(&req)?;
                    let principal =
                        authenticate(token, guard, now, &self.keys, &self.cache, revocations)
                            .await?;
                    Ok::<_, BearerError>((token, principal))
                }
                .await;
                let (token, principal) = match authenticated {
                    Ok(authenticated) => authenticated,
                    Err(e) => {
                        return Routed::Response(decorated(verdict, guard.refusal(&e)));
                    }
                };
                let refused = match self
                    .issuer
                    .token_active(token, principal.as_ref(), now)
                    .await
                {
                    Ok(true) => None,
                    Ok(false) => Some(BearerError::Revoked),
                    Err(_) => Some(BearerError::StoreUnavailable),
                };
                if let Some(e) = refused {
                    return Routed::Response(decorated(verdict, guard.refusal(&e)));
                }
                Some(principal)
            }
        };
        let server = match &mount.target {
            Target::Mcp(server) => server,
            Target::Host => {
                return Routed::Host {
                    req: Box::new(req),
                    principal,
                    cors: verdict,
                    path: &mount.path,
                };
            }
        };
        // The MCP handler's context shares the cached caller: no copy of
        // its strings per request.
        let caller: Option<crate::sync::Arc<Principal>> = principal.map(Into::into);
        match server.handle(&req, caller.as_ref(), now, rng).await {
            McpOutcome::Response(resp) => Routed::Response(decorated(verdict, resp)),
            McpOutcome::Stream(mut stream) => {
                CorsPolicy::decorate(verdict, &mut stream.response);
                Routed::Live { stream, server }
            }
            McpOutcome::InsufficientScope { required } => {
                let resp = match &mount.protection {
                    Protection::Bearer(guard) => {
                        let needed: Vec<&str> = required.iter().map(String::as_str).collect();
                        guard.insufficient_scope(&needed)
                    }
                    // Without authorization there are no scopes to step up to.
                    Protection::DangerouslyOpen => {
                        Response::json(403, r#"{"error":"insufficient_scope"}"#)
                    }
                };
                Routed::Response(decorated(verdict, resp))
            }
        }
    }
}

/// The RFC 9728 document of `guard`'s resource naming `issuer`, and the
/// path-suffixed well-known path it is served at.
fn remote_metadata_document(guard: &ResourceGuard, issuer: &str) -> (String, String) {
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
    (path, body)
}

fn decorated(verdict: Verdict, mut resp: Response) -> Response {
    CorsPolicy::decorate(verdict, &mut resp);
    resp
}

/// `/healthz`: 200 to `GET` and `HEAD`, 405 otherwise.
fn health(req: &Request) -> Response {
    match req.method {
        Method::Get | Method::Head => {
            Response::json(200, r#"{"status":"ok"}"#).with_header("Cache-Control", "no-store")
        }
        _ => method_not_allowed("GET, HEAD"),
    }
}

/// The answer for a path no endpoint claims ([`Refusal::NotFound`]).
pub fn not_found() -> Response {
    Refusal::NotFound.response()
}

/// 405 with the methods the path allows ([`Refusal::MethodNotAllowed`]).
pub fn method_not_allowed(allow: &'static str) -> Response {
    Refusal::MethodNotAllowed { allow }.response()
}

/// 503 `temporarily_unavailable` with `description` and `Retry-After`
/// ([`Refusal::Unavailable`]).
pub fn unavailable(description: &'static str) -> Response {
    Refusal::Unavailable { description }.response()
}

/// The answer while the wall clock is unknown (a device before SNTP):
/// 503, retry later; never a token error.
pub fn clock_unknown() -> Response {
    unavailable("the server does not know the time yet")
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
