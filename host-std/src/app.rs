//! The app: a configuration of the core's router
//! ([`mcpauth_core::server::Router`]) with the host's pieces: the
//! authorization server run on the OAuth worker threads ([`HostIssuer`]),
//! the keys reloaded from a shared store ([`HostKeys`]), the verified-token
//! cache ([`TokenCache`]), the OS clock and RNG, and the auth proxy's
//! upstreams (`--upstream`), mounted as host-served paths of the router.
//! Routing, CORS, `/healthz`, the bearer check and every status code are
//! the router's.

use std::sync::{Arc, OnceLock};

use mcpauth_core::http::{Request, Response};
use mcpauth_core::jose::KeySet;
use mcpauth_core::mcp::{
    McpConfig, McpServer, MemorySessionStore, NoSessionStore, Registry, RegistryError, SessionStore,
};
use mcpauth_core::oauth::{
    AuthorizationServer, Env, KeySource, ProtectedResource, RegistrationLimiter, ResourceGuard,
    ResourceKind, ServerConfig, UserAuthenticator,
};
use mcpauth_core::server::{CorsPolicy, Issuer, Protection, Refusal, Routed, Router};

use crate::backend::{Backend, HostStore, SharedKeys, reload_keys};
use crate::cache::{CachedToken, TokenCache};
use crate::env::{OsRandom, now};
use crate::oauth_slots::OAuthSlots;
use crate::oauth_workers::OAuthWorkers;
use crate::privy::{PrivyKeySource, SignIn};
use crate::revocation::CheckStamp;
use crate::server::{Handler, Reply};
use crate::upstream::Upstreams;
use crate::users::Users;
use mcpauth_core::oauth::BearerCache;
use mcpauth_core::principal::Principal;
use mcpauth_core::time::UnixTime;

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
    /// Browser origins allowed on `/mcp` and the OAuth API (`*`: any).
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
    /// Upstream OpenID providers on the sign-in page, and whether
    /// password sign-in is offered.
    pub oidc: crate::oidc::OidcSettings,
}

/// The authorization server as host-std runs it: on the OAuth worker
/// threads (the core's OAuth future is not `Send`, and RSA signing stays
/// off the async workers that serve /mcp), at most
/// `OAUTH_CONCURRENCY` requests at once.
pub struct HostIssuer {
    oauth: Arc<AuthorizationServer<Backend, SignIn, RegistrationLimiter>>,
    /// Bounds the OAuth requests in flight (a metadata-document fetch gives
    /// its slot back while it waits: see `oauth_slots`).
    oauth_slots: OAuthSlots,
    /// Threads that run the OAuth futures, started on first use (inside
    /// the server's runtime).
    oauth_workers: OnceLock<Option<OAuthWorkers>>,
    /// The runtime the app was built in: the OAuth workers' I/O and timers
    /// run on it, not on the connection worker that happens to serve the
    /// first OAuth request (`crate::conn_workers`).
    runtime: Option<tokio::runtime::Handle>,
    keys: Arc<SharedKeys>,
    db: Backend,
}

impl std::fmt::Debug for HostIssuer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HostIssuer")
            .field("issuer", &self.oauth.config().issuer)
            .finish_non_exhaustive()
    }
}

impl Issuer for HostIssuer {
    type Revocations = Backend;

    fn revocations(&self) -> &Backend {
        &self.db
    }

    /// Runs on a worker with the host's own RNG and current keys (the
    /// router's `env` cannot cross threads); only its clock reading is used.
    fn handle(&self, req: Request, env: Env<'_>) -> impl Future<Output = Option<Response>> {
        let now = env.now;
        async move {
            let Some(slot) = self.oauth_slots.acquire().await else {
                return Some(mcpauth_core::server::unavailable(
                    "too many OAuth requests in flight, try again later",
                ));
            };
            let workers = self.oauth_workers.get_or_init(|| {
                let runtime = self
                    .runtime
                    .clone()
                    .unwrap_or_else(tokio::runtime::Handle::current);
                OAuthWorkers::per_core(&runtime)
                    .map_err(|e| tracing::error!(error = %e, "cannot start the OAuth workers"))
                    .ok()
            });
            let Some(workers) = workers else {
                return Some(Refusal::Internal.response());
            };
            let oauth = self.oauth.clone();
            let keys = self.keys.get();
            let answer = workers
                .run(move || async move {
                    let mut rng = OsRandom;
                    let mut env = Env {
                        now,
                        rng: &mut rng,
                        keys: &keys,
                    };
                    slot.scope(oauth.handle(&req, &mut env)).await
                })
                .await;
            answer.unwrap_or_else(|_| Some(Refusal::Internal.response()))
        }
    }
}

/// The verifying keys: the current set, reloaded from a shared store when
/// a token names a `kid` this instance has not loaded (rotated through
/// another instance), at most once per interval.
#[derive(Debug)]
pub struct HostKeys {
    keys: Arc<SharedKeys>,
    db: Backend,
    access_ttl: u64,
}

impl HostKeys {
    /// Reload the key set from the store (blocking work on the blocking
    /// pool).
    pub async fn reload(&self) -> Result<(), String> {
        let db = self.db.clone();
        let keys = self.keys.clone();
        let ttl = self.access_ttl;
        tokio::task::spawn_blocking(move || reload_keys(&db, &keys, ttl))
            .await
            .map_err(|e| e.to_string())?
    }
}

impl KeySource for HostKeys {
    type Keys<'a> = Arc<KeySet>;

    fn keys(&self) -> impl Future<Output = Arc<KeySet>> {
        std::future::ready(self.keys.get())
    }

    async fn refresh(&self) -> bool {
        self.db.is_shared() && self.keys.reload_allowed() && self.reload().await.is_ok()
    }
}

/// The verified-token cache as the router's [`BearerCache`]: a hit skips
/// the revocation list while its last check is current (the store's
/// revocation generation, see [`crate::revocation`]).
#[derive(Debug)]
pub struct HostCache {
    cache: TokenCache,
    db: Backend,
}

/// A cached caller.
#[derive(Debug, Clone)]
pub struct CachedCaller(Arc<CachedToken>);

impl AsRef<Principal> for CachedCaller {
    fn as_ref(&self) -> &Principal {
        self.0.principal()
    }
}

impl From<CachedCaller> for crate::cache::SharedPrincipal {
    fn from(caller: CachedCaller) -> Self {
        caller.0.principal().clone()
    }
}

impl BearerCache for HostCache {
    type Principal = CachedCaller;
    type Stamp = CheckStamp;

    fn get(&self, token: &str, now: UnixTime) -> Option<CachedCaller> {
        self.cache.get(token, now.secs()).map(CachedCaller)
    }

    fn stamp(&self) -> CheckStamp {
        self.db.revocation_generation().stamp()
    }

    fn revocation_current(&self, hit: &CachedCaller) -> bool {
        self.db.revocation_generation().is_current(hit.0.checked())
    }

    fn mark_checked(&self, hit: &CachedCaller, stamp: CheckStamp) {
        hit.0.mark_checked(stamp);
    }

    fn insert(
        &self,
        token: &str,
        principal: Principal,
        checked: CheckStamp,
        now: UnixTime,
    ) -> CachedCaller {
        CachedCaller(self.cache.insert(
            token,
            crate::cache::SharedPrincipal::new(principal),
            checked,
            now.secs(),
        ))
    }

    fn forget(&self, token: &str) {
        self.cache.remove(token);
    }
}

/// The app's router.
pub type AppRouter = Router<HostIssuer, HostKeys, HostCache>;

/// The composed OAuth + MCP server.
pub struct App {
    router: AppRouter,
    /// The auth proxy (mounted on the router as host-served paths).
    upstreams: Option<Upstreams>,
    /// The sign-in page's Privy script, served at
    /// [`crate::privy::GLUE_PATH`] (with Privy on and the script built in).
    privy_glue: Option<&'static [u8]>,
}

impl std::fmt::Debug for App {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("App")
            .field("router", &self.router)
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
pub(crate) fn required_scopes(resource: &ProtectedResource) -> Vec<&'static str> {
    if resource.scopes.iter().any(|s| s == MCP_SCOPE) {
        vec![MCP_SCOPE]
    } else {
        Vec::new()
    }
}

/// The browser origins of the one CORS policy: `--allowed-origins`, plus
/// the public URL's own origin (its pages, e.g. a proxied app, call the
/// mounts same-origin, and browsers still send `Origin` on a POST).
fn cors_origins(options: &AppOptions) -> Vec<String> {
    let mut origins = options.allowed_origins.clone();
    let url = &options.public_url;
    let after = url.find("://").map_or(0, |i| i + 3);
    let end = url[after..].find('/').map_or(url.len(), |i| after + i);
    origins.push(url[..end].to_owned());
    origins
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
        config.oidc = options.oidc.providers.clone();
        config.password_login = options.oidc.password_login;
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
            proxy_resources.push((mount.path.clone(), config.resources[index].clone()));
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
        let proxy_guards: Vec<(String, ResourceGuard)> = proxy_resources
            .iter()
            .map(|(path, r)| {
                let guard = ResourceGuard::new(&config, &r.identifier, &required_scopes(r));
                (path.clone(), guard)
            })
            .collect();
        let upstreams =
            (!proxy_guards.is_empty()).then(|| Upstreams::new(options.upstreams.clone()));
        let guard = ResourceGuard::new(&config, &resource, &[MCP_SCOPE]);
        let metadata_url = config.resource_metadata_url(&resource);

        let mcp = builtin_mcp(options.stateless, metadata_url, registry);
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
            .with_registration_policy(RegistrationLimiter::default())
            .with_observer(crate::observe::HostObserver);
        if let Some(settings) = &options.client_metadata {
            let fetcher = crate::cimd::MetadataFetcher::new(settings).map_err(AppError)?;
            oauth = oauth.with_client_metadata_fetcher(fetcher);
        }
        if !options.oidc.providers.is_empty() {
            let http = crate::oidc::OidcHttp::new(&options.oidc).map_err(AppError)?;
            oauth = oauth.with_upstream_http(http);
        }
        let oauth = Arc::new(oauth);
        if !options.oidc.providers.is_empty()
            && let Ok(rt) = tokio::runtime::Handle::try_current()
        {
            // Read each provider's discovery document and keys now, so a
            // misconfiguration shows in the log at start-up.
            let (oauth, ids) = (
                oauth.clone(),
                options
                    .oidc
                    .providers
                    .iter()
                    .map(|p| p.id.clone())
                    .collect::<Vec<_>>(),
            );
            rt.spawn(async move {
                for id in ids {
                    let Some(at) = now() else { return };
                    match oauth.check_oidc_provider(&id, at).await {
                        Ok(()) => tracing::info!(provider = %id, "OpenID provider ready"),
                        Err(e) => tracing::warn!(provider = %id, error = %e,
                            "OpenID provider not usable yet (sign-in with it fails until it is)"),
                    }
                }
            });
        }
        let keys = Arc::new(SharedKeys::new(keys));
        let issuer = HostIssuer {
            oauth,
            oauth_slots: OAuthSlots::new(OAUTH_CONCURRENCY),
            oauth_workers: OnceLock::new(),
            runtime: tokio::runtime::Handle::try_current().ok(),
            keys: keys.clone(),
            db: db.clone(),
        };
        let db_for_cache = db.clone();
        let host_keys = HostKeys {
            keys,
            db,
            access_ttl: options.access_token_ttl,
        };
        let mut router = Router::new(issuer, host_keys)
            .with_cache(HostCache {
                cache: TokenCache::new(options.token_cache),
                db: db_for_cache,
            })
            .with_cors(CorsPolicy::new(&cors_origins(options)));
        // Proxied mounts first: a mount may take over the `/mcp` path.
        for (path, guard) in proxy_guards {
            router = router.mount_host(&path, Protection::Bearer(guard));
        }
        let router = router.mount(mcp, Protection::Bearer(guard));
        let privy_glue = options
            .privy
            .as_ref()
            .and_then(|_| crate::privy::embedded_glue());
        Ok(App {
            router,
            upstreams,
            privy_glue,
        })
    }

    /// The router.
    pub fn router(&self) -> &AppRouter {
        &self.router
    }

    /// The key set in use (the server reloads it on a shared store).
    pub fn keys(&self) -> Arc<SharedKeys> {
        self.router.keys().keys.clone()
    }

    /// The store.
    pub fn store(&self) -> &Backend {
        &self.router.issuer().db
    }

    /// Reload the key set from the store (blocking work on the blocking
    /// pool).
    pub async fn reload_keys(&self) -> Result<(), String> {
        self.router.keys().reload().await
    }

    /// The OAuth configuration (issuer, resource).
    pub fn oauth_config(&self) -> &ServerConfig {
        self.router.issuer().oauth.config()
    }
}

impl Handler for App {
    async fn reply(&self, req: Request) -> Reply {
        if let Some(script) = self.privy_glue
            && req.path == crate::privy::GLUE_PATH
        {
            return Reply::Whole(crate::privy::glue_response(
                &req,
                script,
                crate::privy::embedded_glue_gzip(),
            ));
        }
        let routed = self.router.handle(req, now(), &mut OsRandom).await;
        reply_routed(self.upstreams.as_ref(), routed).await
    }
}

/// The built-in MCP server at [`MCP_PATH`] (its tools in `registry`),
/// its challenges pointing at `metadata_url`; its timer runs when a tokio
/// runtime is at hand.
pub(crate) fn builtin_mcp(
    stateless: bool,
    metadata_url: String,
    registry: Registry,
) -> mcpauth_core::sync::Arc<McpServer> {
    let mut mcp_config = McpConfig::new("mcpauth", env!("CARGO_PKG_VERSION"));
    mcp_config.endpoint_path = MCP_PATH.to_owned();
    mcp_config.stateless = stateless;
    mcp_config.resource_metadata_url = Some(metadata_url);
    // This host holds responses open: live SSE streams, resumption and
    // server-to-client requests during tool calls.
    mcp_config.live_streams = true;
    let sessions: Box<dyn SessionStore> = if stateless {
        Box::new(NoSessionStore)
    } else {
        // Every session limit, the per-subject cap included, from one place.
        Box::new(MemorySessionStore::for_limits(&mcp_config.limits))
    };
    // core's `Arc` (portable-atomic): the router shares the server with
    // live streams and the timer task.
    let mcp = mcpauth_core::sync::Arc::new(McpServer::new(mcp_config, registry, sessions));
    crate::metrics::METRICS.watch_sessions(&mcp);
    if tokio::runtime::Handle::try_current().is_ok() {
        // Input waits, stream retention and idle sessions expire on time.
        crate::mcp_timer::spawn(&mcp);
    }
    mcp
}

/// The router's answer as the host writes it: a host-served mount is
/// forwarded to its upstream (the caller's identity in the operator's
/// headers) with the router's CORS verdict.
pub(crate) async fn reply_routed<P: AsRef<Principal>>(
    upstreams: Option<&Upstreams>,
    routed: Routed<'_, P>,
) -> Reply {
    match routed {
        Routed::Host {
            req,
            principal,
            cors,
            path,
        } => {
            let mount = upstreams.and_then(|u| Some((u, u.mount_of(path)?)));
            let (Some((upstreams, index)), Some(principal)) = (mount, principal) else {
                return Reply::Whole(mcpauth_core::server::not_found());
            };
            let mut reply = upstreams.forward(index, *req, principal.as_ref()).await;
            match &mut reply {
                Reply::Whole(head) | Reply::Live { head, .. } | Reply::Proxied { head, .. } => {
                    CorsPolicy::decorate(cors, head)
                }
            }
            reply
        }
        routed => Reply::routed(routed),
    }
}
