//! The composed server: the core's OAuth authorization server and MCP server
//! behind one [`Handler`], with the host's environment (clock, OS RNG, redb
//! store, key set) and the verified-token cache.
//!
//! Routing: `/mcp` → bearer guard (cache, else the core's
//! `authenticate_bearer`) → `McpServer`; everything else → the
//! authorization server; what it declines → 404.

use std::sync::{Arc, OnceLock};

use mcpauth_core::http::{Method, Request, Response};
use mcpauth_core::jose::KeySet;
use mcpauth_core::mcp::{
    McpConfig, McpOutcome, McpServer, MemorySessionStore, NoSessionStore, Registry, RegistryError,
    SessionStore,
};
use mcpauth_core::oauth::{
    AuthorizationServer, Env, ResourceGuard, ServerConfig, UserAuthenticator, authenticate_bearer,
    is_access_token_revoked,
};
use mcpauth_core::principal::Principal;

use crate::backend::{Backend, SharedKeys, reload_keys, token_kid};
use crate::cache::{TokenCache, plain_bearer};
use crate::env::{OsRandom, now};
use crate::oauth_workers::OAuthWorkers;
use crate::privy::{PrivyKeySource, SignIn};
use crate::registration::RegistrationLimiter;
use crate::server::{Handler, Reply};
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
}

/// The composed OAuth + MCP handler.
pub struct App {
    oauth: Arc<AuthorizationServer<Backend, SignIn, RegistrationLimiter>>,
    /// Bounds the OAuth requests in flight.
    oauth_slots: Arc<tokio::sync::Semaphore>,
    /// Threads that run the OAuth futures, started on first use (inside
    /// the server's runtime).
    oauth_workers: OnceLock<Option<OAuthWorkers>>,
    mcp: Arc<McpServer>,
    keys: Arc<SharedKeys>,
    access_ttl: u64,
    guard: ResourceGuard,
    cache: TokenCache,
    db: Backend,
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
        let resource = config
            .default_resource()
            .ok_or_else(|| {
                AppError(format!(
                    "{}/mcp is not a valid resource URL",
                    options.public_url
                ))
            })?
            .to_owned();
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
            oauth_slots: Arc::new(tokio::sync::Semaphore::new(OAUTH_CONCURRENCY)),
            oauth_workers: OnceLock::new(),
            mcp,
            keys: Arc::new(SharedKeys::new(keys)),
            access_ttl: options.access_token_ttl,
            guard,
            cache: TokenCache::new(options.token_cache),
            db,
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

    async fn principal(&self, req: &Request) -> Result<Arc<Principal>, Response> {
        let now = now();
        let secs = now.map(|t| t.secs()).unwrap_or(0);
        let token = plain_bearer(req);
        if let Some(token) = token
            && let Some(p) = self.cache.get(token, secs, |_| false)
        {
            // The revocation check is never cached: on a shared store another
            // instance may have revoked the token a moment ago.
            let revoked = match now {
                Some(t) => is_access_token_revoked(&self.db, &p.token_id, t).await,
                None => Err(mcpauth_core::store::StoreError::Unavailable),
            };
            match revoked {
                Ok(false) => return Ok(p),
                // Revoked: drop it from the cache; the core refuses it below.
                Ok(true) => drop(self.cache.get(token, secs, |_| true)),
                // Store down or no clock: the core answers below.
                Err(_) => {}
            }
        }
        let keys = self.keys.get();
        let p = match authenticate_bearer(req, &keys, &self.guard, now, &self.db).await {
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
                        authenticate_bearer(req, &keys, &self.guard, now, &self.db).await?
                    }
                    _ => return Err(resp),
                }
            }
        };
        let p = Arc::new(p);
        if let Some(token) = token {
            self.cache.insert(token, p.clone(), secs);
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
        let principal = match self.principal(&req).await {
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

impl Handler for App {
    async fn reply(&self, req: Request) -> Reply {
        if req.path == MCP_PATH {
            return self.mcp(req).await;
        }
        Reply::Whole(self.handle(req).await)
    }

    async fn handle(&self, req: Request) -> Response {
        if req.path == MCP_PATH {
            return self.mcp(req).await.into_whole().await;
        }
        // The core's OAuth future is not `Send`: it runs on the OAuth
        // worker threads (see `oauth_workers`), which also keeps RSA signing
        // off the async workers that serve /mcp.
        let Ok(_slot) = self.oauth_slots.clone().acquire_owned().await else {
            return Response::json(503, &br#"{"error":"temporarily_unavailable"}"#[..]);
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
                oauth.handle(&req, &mut env).await
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
