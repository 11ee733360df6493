//! The composed server: the core's OAuth authorization server and MCP server
//! behind one [`Handler`], with the host's environment (clock, OS RNG, redb
//! store, key set) and the verified-token cache.
//!
//! Routing: a path mounted on an upstream (`--upstream`) → that mount's
//! bearer guard → the auth proxy ([`crate::upstream`]); `/mcp` → bearer
//! guard (cache, else the core's `authenticate_bearer`) → `McpServer`;
//! everything else → the authorization server; what it declines → 404.

use std::sync::{Arc, OnceLock};

use mcpauth_core::http::{Method, Request, Response};
use mcpauth_core::jose::KeySet;
use mcpauth_core::mcp::{
    McpConfig, McpOutcome, McpServer, MemorySessionStore, NoSessionStore, Registry, RegistryError,
    SessionStore,
};
use mcpauth_core::oauth::{
    AuthorizationServer, Env, ProtectedResource, ResourceGuard, ResourceKind, ServerConfig,
    UserAuthenticator, authenticate_bearer, is_access_token_revoked,
};
use mcpauth_core::principal::Principal;

use crate::backend::{Backend, SharedKeys, reload_keys, token_kid};
use crate::cache::{TokenCache, plain_bearer};
use crate::env::{OsRandom, now};
use crate::oauth_slots::OAuthSlots;
use crate::oauth_workers::OAuthWorkers;
use crate::privy::{PrivyKeySource, SignIn};
use crate::registration::RegistrationLimiter;
use crate::server::{Handler, Reply};
use crate::upstream::Upstreams;
use crate::users::Users;

/// The scope every MCP request needs.
pub const MCP_SCOPE: &str = "mcp";
/// The MCP endpoint path.
pub const MCP_PATH: &str = "/mcp";
/// OAuth requests in flight at once (the rest wait in line). Refresh grants
/// waiting for the same fsync share one group commit, so this is also the
/// largest group concurrent grants can form; the CPU-bound part (RSA
/// signing) runs on one OAuth worker thread per core whatever this is.
const OAUTH_CONCURRENCY: usize = 16;

impl UserAuthenticator for Users {
    fn authenticate(
        &self,
        username: &str,
        password: &str,
    ) -> impl std::future::Future<Output = Option<String>> + Send {
        self.check(username, password)
    }
}

/// What the app is built from.
#[derive(Debug, Clone)]
pub struct AppOptions {
    /// Public base URL (issuer).
    pub public_url: String,
    /// Access-token lifetime (seconds).
    pub access_token_ttl: u64,
    /// Refresh-token lifetime (seconds).
    pub refresh_token_ttl: u64,
    /// Browser origins allowed on `/mcp`.
    pub allowed_origins: Vec<String>,
    /// Stateless MCP.
    pub stateless: bool,
    /// Verified-token cache capacity (0 disables).
    pub token_cache: usize,
    /// Privy login (`None`: local users only).
    pub privy: Option<crate::privy::PrivySettings>,
    /// Client ID metadata documents (`None`: off).
    pub client_metadata: Option<crate::cimd::CimdSettings>,
    /// Introspection rights, unused-client expiry, native redirect schemes.
    pub client_rules: crate::config::ClientRules,
    /// The protected resources, the built-in `<public_url>/mcp` first
    /// (see [`crate::resources::resolve`]); empty: only the built-in one.
    /// Upstream mounts become proxy resources.
    pub resources: Vec<ProtectedResource>,
    /// Upstream MCP servers behind the auth proxy (no mounts: none).
    pub upstreams: crate::upstream::UpstreamSettings,
}

/// The composed OAuth + MCP handler.
pub struct App {
    oauth: Arc<AuthorizationServer<Backend, SignIn, RegistrationLimiter>>,
    /// Bounds the OAuth requests in flight (a metadata-document fetch gives
    /// its slot back while it waits: see `oauth_slots`).
    oauth_slots: OAuthSlots,
    /// Threads that run the OAuth futures, started on first use (inside
    /// the server's runtime).
    oauth_workers: OnceLock<Option<OAuthWorkers>>,
    mcp: Arc<McpServer>,
    keys: Arc<SharedKeys>,
    access_ttl: u64,
    guard: ResourceGuard,
    cache: TokenCache,
    db: Backend,
    /// The auth proxy and each mount's guard (same order as its mounts).
    proxy: Option<(Upstreams, Vec<ResourceGuard>)>,
}

impl std::fmt::Debug for App {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("App")
            .field("issuer", &self.oauth.config().issuer)
            .finish_non_exhaustive()
    }
}

/// Why the app could not be assembled.
#[derive(Debug)]
pub struct AppError(pub String);

impl std::fmt::Display for AppError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for AppError {}

impl From<RegistryError> for AppError {
    fn from(e: RegistryError) -> Self {
        AppError(format!("tool registry: {e:?}"))
    }
}

/// What a proxied resource's guard requires: `mcp` when the resource has
/// that scope (the default), otherwise only its audience (the upstream gets
/// the granted scopes in the identity headers and decides).
fn required_scopes(resource: &ProtectedResource) -> Vec<&'static str> {
    if resource.scopes.iter().any(|s| s == MCP_SCOPE) {
        vec![MCP_SCOPE]
    } else {
        Vec::new()
    }
}

impl App {
    /// Assemble the app. `registry` holds the tools (see
    /// [`crate::tools::register_builtin`]).
    pub fn new(
        options: &AppOptions,
        db: impl Into<Backend>,
        keys: KeySet,
        registry: Registry,
    ) -> Result<App, AppError> {
        let db = db.into();
        let mut config = ServerConfig::new(&options.public_url);
        config.access_token_ttl = options.access_token_ttl;
        config.refresh_token_ttl = options.refresh_token_ttl;
        config.refresh_family_ttl = config.refresh_family_ttl.max(options.refresh_token_ttl);
        config.privy = options.privy.as_ref().map(|p| p.core_config());
        options.client_rules.apply(&mut config);
        if !options.resources.is_empty() {
            config.resources = options.resources.clone();
        }
        // Each mount is a protected resource of its own, `<public URL><path>`
        // (`/mcp` is the default one): a token for one is refused by the
        // others. A declared resource with the same URL names it and sets
        // its scopes and lifetime.
        let mut proxy_resources = Vec::with_capacity(options.upstreams.mounts.len());
        for mount in &options.upstreams.mounts {
            let url = format!("{}{}", options.public_url, mount.path);
            let kind = ResourceKind::Proxy {
                upstream: mount.target.to_string(),
            };
            let declared = mcpauth_core::oauth::canonical_resource(&url)
                .and_then(|id| config.resources.iter().position(|r| r.identifier == id));
            let index = match declared {
                Some(i) => i,
                None => {
                    let resource = ProtectedResource::new(&url, kind.clone())
                        .ok_or_else(|| AppError(format!("{url} is not a valid resource URL")))?;
                    config.resources.push(resource);
                    config.resources.len() - 1
                }
            };
            config.resources[index].kind = kind;
            proxy_resources.push(config.resources[index].clone());
        }
        if let Some(stray) = config.resources.iter().find(|r| {
            r.kind == ResourceKind::External && config.local_path_of(&r.identifier).is_some()
        }) {
            return Err(AppError(format!(
                "{} is on this server's origin but nothing serves it: mount an upstream \
                 there with --upstream PATH=URL",
                stray.identifier
            )));
        }
        config
            .validate()
            .map_err(|e| AppError(format!("configuration: {e}")))?;
        let resource = config
            .default_resource()
            .ok_or_else(|| {
                AppError(format!(
                    "{}/mcp is not a valid resource URL",
                    options.public_url
                ))
            })?
            .identifier
            .clone();
        let proxy = (!proxy_resources.is_empty()).then(|| {
            let guards = proxy_resources
                .iter()
                .map(|r| ResourceGuard::new(&config, &r.identifier, &required_scopes(r)))
                .collect();
            let mut settings = options.upstreams.clone();
            // The same browsers as on the built-in /mcp, and pages of the
            // public URL's own origin.
            settings.allowed_origins = options.allowed_origins.clone();
            settings
                .allowed_origins
                .push(origin_of(&options.public_url));
            (Upstreams::new(settings), guards)
        });
        let guard = ResourceGuard::new(&config, &resource, &[MCP_SCOPE]);
        let metadata_url = config.resource_metadata_url(&resource);

        let mut mcp_config = McpConfig::new("mcpauth", env!("CARGO_PKG_VERSION"));
        mcp_config.endpoint_path = MCP_PATH.to_owned();
        mcp_config.allowed_origins = options.allowed_origins.clone();
        mcp_config.stateless = options.stateless;
        mcp_config.resource_metadata_url = Some(metadata_url);
        // This host holds responses open: live SSE streams, resumption and
        // server-to-client requests during tool calls.
        mcp_config.live_streams = true;
        let sessions: Box<dyn SessionStore> = if options.stateless {
            Box::new(NoSessionStore)
        } else {
            Box::new(MemorySessionStore::new(
                mcp_config.limits.sessions,
                mcp_config.limits.session_idle_secs,
            ))
        };
        let mcp = Arc::new(McpServer::new(mcp_config, registry, sessions));
        if tokio::runtime::Handle::try_current().is_ok() {
            // Input waits, stream retention and idle sessions expire on time.
            crate::mcp_timer::spawn(&mcp);
        }
        let privy = options
            .privy
            .clone()
            .map(|p| Arc::new(PrivyKeySource::new(p)));
        if let Some(source) = privy.clone()
            && let Ok(rt) = tokio::runtime::Handle::try_current()
        {
            // Warm the key cache (and log a misconfiguration) at start-up.
            rt.spawn(async move { source.key().await });
        }
        let users = SignIn::new(Users::new(db.clone()), privy);
        let mut oauth = AuthorizationServer::new(config, db.clone(), users)
            .with_registration_policy(RegistrationLimiter::default());
        if let Some(settings) = &options.client_metadata {
            let fetcher = crate::cimd::MetadataFetcher::new(settings).map_err(AppError)?;
            oauth = oauth.with_client_metadata_fetcher(fetcher);
        }
        Ok(App {
            oauth: Arc::new(oauth),
            oauth_slots: OAuthSlots::new(OAUTH_CONCURRENCY),
            oauth_workers: OnceLock::new(),
            mcp,
            keys: Arc::new(SharedKeys::new(keys)),
            access_ttl: options.access_token_ttl,
            guard,
            cache: TokenCache::new(options.token_cache),
            db,
            proxy,
        })
    }

    /// The key set in use (the server reloads it on a shared store).
    pub fn keys(&self) -> Arc<SharedKeys> {
        self.keys.clone()
    }

    /// The store.
    pub fn store(&self) -> &Backend {
        &self.db
    }

    /// Reload the key set from the store (blocking work on the blocking
    /// pool).
    pub async fn reload_keys(&self) -> Result<(), String> {
        let db = self.db.clone();
        let keys = self.keys.clone();
        let ttl = self.access_ttl;
        tokio::task::spawn_blocking(move || reload_keys(&db, &keys, ttl))
            .await
            .map_err(|e| e.to_string())?
    }

    /// The OAuth configuration (issuer, resource).
    pub fn oauth_config(&self) -> &ServerConfig {
        self.oauth.config()
    }

    /// The caller of `req` as `guard` admits it. One cache serves every
    /// resource: a hit counts only for the resource and scopes it was
    /// verified for.
    async fn principal(
        &self,
        req: &Request,
        guard: &ResourceGuard,
    ) -> Result<Arc<Principal>, Response> {
        let now = now();
        let secs = now.map(|t| t.secs()).unwrap_or(0);
        let token = plain_bearer(req);
        let revocations = self.db.revocation_generation();
        if let Some(token) = token
            && let Some(hit) = self.cache.get(token, secs)
            && hit.principal().audience == guard.resource()
            && guard.scopes().iter().all(|s| hit.principal().has_scope(s))
        {
            // A check is reused only while no revocation went through this
            // instance since (and, on a shared store, within its bound).
            if revocations.is_current(hit.checked()) {
                return Ok(hit.principal().clone());
            }
            let stamp = revocations.stamp();
            let revoked = match now {
                Some(t) => is_access_token_revoked(&self.db, &hit.principal().token_id, t).await,
                None => Err(mcpauth_core::store::StoreError::Unavailable),
            };
            match revoked {
                Ok(false) => {
                    hit.mark_checked(stamp);
                    return Ok(hit.principal().clone());
                }
                // Revoked: drop it from the cache; the core refuses it below.
                Ok(true) => self.cache.remove(token),
                // Store down or no clock: the core answers below.
                Err(_) => {}
            }
        }
        // Taken before the core's guard asks the store about revocation.
        let stamp = revocations.stamp();
        let keys = self.keys.get();
        let p = match authenticate_bearer(req, &keys, guard, now, &self.db).await {
            Ok(p) => p,
            Err(resp) => {
                // Signed by a key this instance has not loaded yet (rotated
                // through another instance): reload, at most once per
                // interval, and try again.
                let unknown_kid = token
                    .and_then(token_kid)
                    .filter(|kid| keys.find(kid).is_none());
                match unknown_kid {
                    Some(kid)
                        if self.db.is_shared()
                            && self.keys.reload_allowed()
                            && self.reload_keys().await.is_ok()
                            && self.keys.get().find(&kid).is_some() =>
                    {
                        let keys = self.keys.get();
                        authenticate_bearer(req, &keys, guard, now, &self.db).await?
                    }
                    _ => return Err(resp),
                }
            }
        };
        let p = Arc::new(p);
        if let Some(token) = token {
            self.cache.insert(token, p.clone(), stamp, secs);
        }
        Ok(p)
    }

    async fn mcp(&self, req: Request) -> Reply {
        let now_t = now();
        // Preflights carry no credentials; the MCP server answers them.
        if req.method == Method::Options {
            let t = now_t.unwrap_or(mcpauth_core::time::UnixTime(0));
            return Reply::Whole(match self.mcp.handle(&req, None, t, &mut OsRandom).await {
                McpOutcome::Response(r) => r,
                McpOutcome::Stream(_) | McpOutcome::InsufficientScope { .. } => {
                    Response::empty(403)
                }
            });
        }
        let principal = match self.principal(&req, &self.guard).await {
            Ok(p) => p,
            Err(resp) => return Reply::Whole(resp),
        };
        let Some(t) = now_t else {
            return Reply::Whole(mcpauth_core::server::clock_unknown());
        };
        match self
            .mcp
            .handle(&req, Some(&principal), t, &mut OsRandom)
            .await
        {
            McpOutcome::Response(r) => Reply::Whole(r),
            McpOutcome::Stream(live) => Reply::live(&self.mcp, live),
            McpOutcome::InsufficientScope { required } => {
                let needed: Vec<&str> = required.iter().map(String::as_str).collect();
                Reply::Whole(self.guard.insufficient_scope(&needed))
            }
        }
    }
}

impl App {
    /// A request to the proxied mount `index`: authenticated here, answered
    /// by the upstream.
    async fn proxied(
        &self,
        upstreams: &Upstreams,
        guard: &ResourceGuard,
        index: usize,
        req: Request,
    ) -> Reply {
        match self.principal(&req, guard).await {
            Ok(principal) => upstreams.forward(index, req, &principal).await,
            Err(resp) => Reply::Whole(resp),
        }
    }

    /// The mount serving `path`, if the proxy has one there.
    fn mount_of(&self, path: &str) -> Option<(&Upstreams, &ResourceGuard, usize)> {
        let (upstreams, guards) = self.proxy.as_ref()?;
        let index = upstreams.mount_of(path)?;
        Some((upstreams, guards.get(index)?, index))
    }
}

/// `scheme://host[:port]` of an absolute URL.
fn origin_of(url: &str) -> String {
    let after = url.find("://").map_or(0, |i| i + 3);
    let end = url[after..].find('/').map_or(url.len(), |i| after + i);
    url[..end].to_owned()
}

impl Handler for App {
    async fn reply(&self, req: Request) -> Reply {
        if let Some((upstreams, guard, index)) = self.mount_of(&req.path) {
            return self.proxied(upstreams, guard, index, req).await;
        }
        if req.path == MCP_PATH {
            return self.mcp(req).await;
        }
        Reply::Whole(self.oauth(req).await)
    }

    async fn handle(&self, req: Request) -> Response {
        if let Some((upstreams, guard, index)) = self.mount_of(&req.path) {
            return self
                .proxied(upstreams, guard, index, req)
                .await
                .into_whole()
                .await;
        }
        if req.path == MCP_PATH {
            return self.mcp(req).await.into_whole().await;
        }
        self.oauth(req).await
    }
}

impl App {
    /// A request for the authorization server.
    async fn oauth(&self, req: Request) -> Response {
        // The core's OAuth future is not `Send`: it runs on the OAuth
        // worker threads (see `oauth_workers`), which also keeps RSA signing
        // off the async workers that serve /mcp.
        let Some(slot) = self.oauth_slots.acquire().await else {
            return Response::json(503, &br#"{"error":"temporarily_unavailable"}"#[..])
                .with_header("Retry-After", "5");
        };
        let workers = self.oauth_workers.get_or_init(|| {
            OAuthWorkers::per_core(&tokio::runtime::Handle::current())
                .map_err(|e| tracing::error!(error = %e, "cannot start the OAuth workers"))
                .ok()
        });
        let Some(workers) = workers else {
            return Response::json(500, &br#"{"error":"server_error"}"#[..]);
        };
        let oauth = self.oauth.clone();
        let keys = self.keys.get();
        let answer = workers
            .run(move || async move {
                let mut rng = OsRandom;
                let mut env = Env {
                    now: now(),
                    rng: &mut rng,
                    keys: &keys,
                };
                slot.scope(oauth.handle(&req, &mut env)).await
            })
            .await;
        match answer {
            // A store outage (the core's 503) tells clients when to retry.
            Ok(Some(resp)) if resp.status == 503 && resp.header("retry-after").is_none() => {
                resp.with_header("Retry-After", "5")
            }
            Ok(Some(resp)) => resp,
            Ok(None) => Response::json(404, &br#"{"error":"not_found"}"#[..]),
            Err(_) => Response::json(500, &br#"{"error":"server_error"}"#[..]),
        }
    }
}
