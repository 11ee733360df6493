//! Resource-server mode (`mcpauth serve --issuer URL`): no local
//! authorization server, no database. The core's router with
//! [`RemoteIssuer`] (so `/authorize`, `/token`, `/register`, … answer 404;
//! optionally RFC 7662 introspection of every token at the issuer),
//! the issuer's keys kept current by [`RemoteKeys`], and each protected
//! path mounted for the remote issuer: the built-in MCP tools at `/mcp`
//! and/or the auth proxy's upstreams (`--upstream`), each a resource of its
//! own (`<public URL><path>`), each with its RFC 9728 document naming the
//! issuer. Tokens must be RFC 9068 JWTs of that issuer (`iss` exactly,
//! `typ` `at+jwt`, RS256, `aud` = the resource, `exp`/`nbf`) carrying the
//! scope `mcp`.

use mcpauth_core::http::Request;
use mcpauth_core::mcp::Registry;
use mcpauth_core::oauth::{ResourceGuard, canonical_resource};
use mcpauth_core::server::{CorsPolicy, Router, protected_resource_metadata_url};

use crate::app::{AppError, MCP_PATH, MCP_SCOPE, builtin_mcp, reply_routed};
use crate::env::{OsRandom, now};
use crate::remote_issuer::{Introspector, RemoteIssuer, RemoteKeys};
use crate::server::{Handler, Reply};
use crate::upstream::{UpstreamSettings, Upstreams};

/// What a resource server is built from.
#[derive(Debug, Clone)]
pub struct ResourceServerOptions {
    /// This server's public base URL (its resources are `<URL><path>`).
    pub public_url: String,
    /// Browser origins allowed on the MCP paths (`*`: any).
    pub allowed_origins: Vec<String>,
    /// Stateless MCP.
    pub stateless: bool,
    /// Upstream MCP servers behind the auth proxy (none: the built-in
    /// tools at `/mcp` only).
    pub upstreams: UpstreamSettings,
}

/// The resource server's router.
pub type ResourceServerRouter = Router<RemoteIssuer, RemoteKeys>;

/// A resource server for tokens of a remote issuer.
pub struct ResourceServer {
    router: ResourceServerRouter,
    upstreams: Option<Upstreams>,
    resources: Vec<String>,
}

impl std::fmt::Debug for ResourceServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ResourceServer")
            .field("router", &self.router)
            .field("resources", &self.resources)
            .finish_non_exhaustive()
    }
}

impl ResourceServer {
    /// Assemble it (`introspection`: ask the issuer about every token);
    /// `registry` holds the built-in tools (served at `/mcp`
    /// unless an upstream is mounted there).
    pub fn new(
        options: &ResourceServerOptions,
        keys: RemoteKeys,
        introspection: Option<crate::remote_issuer::IntrospectionSettings>,
        registry: Registry,
    ) -> Result<ResourceServer, AppError> {
        let issuer = keys.issuer().to_owned();
        let introspector = introspection.map(|settings| Introspector::new(keys.clone(), settings));
        let resource_of = |path: &str| {
            let url = format!("{}{path}", options.public_url);
            canonical_resource(&url).ok_or_else(|| AppError(format!("{url} is not a valid URL")))
        };
        let guard_for = |resource: &str| {
            ResourceGuard::remote(
                &issuer,
                resource,
                protected_resource_metadata_url(resource),
                &[MCP_SCOPE],
            )
        };
        let mut origins = options.allowed_origins.clone();
        origins.push(origin_of(&options.public_url));
        let mut router =
            Router::new(RemoteIssuer::new(introspector), keys).with_cors(CorsPolicy::new(&origins));
        let mut resources = Vec::new();
        for mount in &options.upstreams.mounts {
            let resource = resource_of(&mount.path)?;
            router =
                router.mount_host_for_remote_issuer(&mount.path, guard_for(&resource), &issuer);
            resources.push(resource);
        }
        if !options.upstreams.mounts.iter().any(|m| m.path == MCP_PATH) {
            let resource = resource_of(MCP_PATH)?;
            let mcp = builtin_mcp(
                options.stateless,
                protected_resource_metadata_url(&resource),
                registry,
            );
            router = router.mount_for_remote_issuer(mcp, guard_for(&resource), &issuer);
            resources.push(resource);
        }
        let upstreams = (!options.upstreams.mounts.is_empty())
            .then(|| Upstreams::new(options.upstreams.clone()));
        Ok(ResourceServer {
            router,
            upstreams,
            resources,
        })
    }

    /// The router.
    pub fn router(&self) -> &ResourceServerRouter {
        &self.router
    }

    /// The protected resources (their identifiers: the `aud` tokens need).
    pub fn resources(&self) -> &[String] {
        &self.resources
    }

    /// The issuer's keys.
    pub fn keys(&self) -> &RemoteKeys {
        self.router.keys()
    }
}

/// `scheme://host[:port]` of an absolute URL.
fn origin_of(url: &str) -> String {
    let after = url.find("://").map_or(0, |i| i + 3);
    let end = url[after..].find('/').map_or(url.len(), |i| after + i);
    url[..end].to_owned()
}

impl Handler for ResourceServer {
    async fn reply(&self, req: Request) -> Reply {
        let routed = self.router.handle(req, now(), &mut OsRandom).await;
        reply_routed(self.upstreams.as_ref(), routed).await
    }
}
