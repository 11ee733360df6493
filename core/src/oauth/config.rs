//! Configuration of the authorization server and URL canonicalization.

use alloc::format;
use alloc::string::{String, ToString};
use alloc::vec::Vec;

use super::oidc::OidcProvider;
use super::privy::PrivyConfig;
use super::resource::{ProtectedResource, ResourceKind};
use super::throttle::ThrottleConfig;

/// Everything the authorization server is configured with. Build one with
/// [`ServerConfig::new`] and adjust the public fields.
#[derive(Debug, Clone)]
pub struct ServerConfig {
    /// Issuer identifier and public base URL (`https://auth.example.com`),
    /// without a trailing slash. Never derived from the `Host` header.
    pub issuer: String,
    /// The protected resources tokens may be issued for (RFC 8707); the
    /// first is the default when a request names none. The scopes clients
    /// may register and ask for are those of the resources.
    pub resources: Vec<ProtectedResource>,
    /// Access-token lifetime in seconds (the longest: a resource may set a
    /// shorter one).
    pub access_token_ttl: u64,
    /// Lifetime of each refresh token in seconds (renewed on rotation).
    pub refresh_token_ttl: u64,
    /// Absolute lifetime of a refresh-token family (a grant) in seconds.
    pub refresh_family_ttl: u64,
    /// Authorization-code lifetime in seconds.
    pub code_ttl: u64,
    /// How long a pending authorization request waits for the user.
    pub pending_ttl: u64,
    /// Largest form body accepted by `/token`, `/introspect`, `/revoke` and
    /// `POST /authorize` (memory a peer makes us parse).
    pub max_form_body: usize,
    /// Largest registration document accepted by `/register`.
    pub max_registration_body: usize,
    /// Throttling of sign-in failures (password guessing) and of
    /// authorization requests (pending-table flooding).
    pub throttle: ThrottleConfig,
    /// Name shown on the sign-in page.
    pub service_name: String,
    /// Privy login on the sign-in page (`None`: local users only).
    pub privy: Option<PrivyConfig>,
    /// Upstream OpenID Connect providers offered on the sign-in page
    /// ([`super::oidc`]), in button order.
    pub oidc: Vec<OidcProvider>,
    /// Whether the sign-in page offers local users' username and password
    /// (off: only Privy or the upstream providers sign anyone in).
    pub password_login: bool,
    /// Clients the operator trusts as resource servers: they may introspect
    /// access tokens issued to other clients. Every other client (however
    /// it authenticates: registration is open) sees only its own tokens, and
    /// refresh tokens are only ever shown to their own client.
    pub introspection_clients: Vec<String>,
    /// Seconds a registered client that no user ever authorized is kept
    /// (registration is open: abandoned and flooded registrations must not
    /// stay forever). Removed at a later registration.
    pub unused_client_ttl: u64,
    /// Most clients kept that no user ever authorized; a registration past
    /// it evicts the oldest of them (a registration flood cannot grow the
    /// client table, nor evict a client anyone uses).
    pub max_unused_clients: usize,
    /// Private-use redirect schemes accepted for native clients besides
    /// reverse-DNS ones (`com.example.app`). Default: `cursor` (the Cursor
    /// editor's MCP client predates the rule). Never add a scheme an
    /// operating system handles itself (`search-ms`, `ms-msdt`, …): a
    /// redirect to it is an attack on the user's machine.
    pub native_redirect_schemes: Vec<String>,
    /// Clients the operator configured (see [`super::StaticClient`]); they
    /// work whether or not dynamic registration is open.
    pub static_clients: Vec<super::StaticClient>,
    /// Whether `POST /register` (RFC 7591) is open. Closed: discovery does
    /// not advertise it and it answers 403 `access_denied`.
    pub dynamic_registration: bool,
}

impl ServerConfig {
    /// A configuration with defaults that suit ChatGPT and Claude
    /// connectors: the built-in resource `<issuer>/mcp` with scope `mcp`
    /// (none if the issuer is not a URL), 1 h access tokens,
    /// 30-day refresh tokens in a 90-day family, 60 s codes, 10 min pending
    /// requests.
    pub fn new(issuer: &str) -> ServerConfig {
        let issuer = String::from(issuer.trim_end_matches('/'));
        let resources = ProtectedResource::new(&format!("{issuer}/mcp"), ResourceKind::Builtin)
            .map(|r| r.with_display_name("MCP server"))
            .into_iter()
            .collect();
        ServerConfig {
            issuer,
            resources,
            access_token_ttl: 3600,
            refresh_token_ttl: 30 * 24 * 3600,
            refresh_family_ttl: 90 * 24 * 3600,
            code_ttl: 60,
            pending_ttl: 600,
            max_form_body: 16 * 1024,
            max_registration_body: 16 * 1024,
            throttle: ThrottleConfig::default(),
            service_name: "mcpauth".to_string(),
            privy: None,
            oidc: Vec::new(),
            password_login: true,
            introspection_clients: Vec::new(),
            unused_client_ttl: 24 * 3600,
            max_unused_clients: 10_000,
            native_redirect_schemes: alloc::vec!["cursor".to_string()],
            static_clients: Vec::new(),
            dynamic_registration: true,
        }
    }

    /// Check the configuration for mistakes a host should refuse at start-up:
    /// the issuer must be an http(s) URL without query, fragment or trailing
    /// slash, https unless on loopback; there must be resources, each valid
    /// (canonical identifier, a name, scopes, a lifetime no longer than the
    /// server's) and named once, at most one of them built in; lifetimes
    /// must be positive.
    pub fn validate(&self) -> Result<(), &'static str> {
        let Some(parts) = split_url(&self.issuer) else {
            return Err("the issuer is not an absolute URL");
        };
        match parts.scheme {
            "https" => {}
            "http" if is_loopback_host(parts.host) => {}
            "http" => return Err("the issuer must use https (http only on loopback)"),
            _ => return Err("the issuer must be an https URL"),
        }
        if parts.host.is_empty()
            || parts.has_fragment
            || parts.rest.contains('?')
            || self.issuer.ends_with('/')
        {
            return Err("the issuer must have a host and no query, fragment or trailing slash");
        }
        if self.resources.is_empty() {
            return Err("at least one resource is required");
        }
        for (i, r) in self.resources.iter().enumerate() {
            r.validate(self.access_token_ttl)?;
            if self.resources[..i]
                .iter()
                .any(|earlier| earlier.identifier == r.identifier)
            {
                return Err("each resource may be configured once");
            }
        }
        let builtin = self
            .resources
            .iter()
            .filter(|r| r.kind == ResourceKind::Builtin);
        if builtin.count() > 1 {
            return Err("at most one resource may be the built-in MCP endpoint");
        }
        if self.access_token_ttl == 0
            || self.refresh_token_ttl == 0
            || self.refresh_family_ttl == 0
            || self.code_ttl == 0
            || self.pending_ttl == 0
        {
            return Err("lifetimes must be positive");
        }
        if let Some(privy) = &self.privy {
            privy.validate()?;
        }
        for (i, p) in self.oidc.iter().enumerate() {
            p.validate()?;
            if self.oidc[..i].iter().any(|q| q.id == p.id) {
                return Err("each OpenID provider id may be configured once");
            }
        }
        if !self.password_login && self.privy.is_none() && self.oidc.is_empty() {
            return Err("with password sign-in off, configure Privy or an OpenID provider");
        }
        self.validate_static_clients()?;
        Ok(())
    }

    /// `issuer` + `path`.
    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.issuer, path)
    }

    /// Whether the issuer is served over https (cookies get `Secure`).
    pub fn is_https(&self) -> bool {
        self.issuer.starts_with("https://")
    }

    /// The configured resource equal to `requested` after canonicalization.
    pub fn find_resource(&self, requested: &str) -> Option<&ProtectedResource> {
        let canon = canonical_resource(requested)?;
        self.resource(&canon)
    }

    /// The resource whose identifier is exactly `identifier`.
    pub fn resource(&self, identifier: &str) -> Option<&ProtectedResource> {
        self.resources.iter().find(|r| r.identifier == identifier)
    }

    /// The default resource.
    pub fn default_resource(&self) -> Option<&ProtectedResource> {
        self.resources.first()
    }

    /// Every scope of every resource, once each, in configuration order:
    /// what clients may register and the RFC 8414 `scopes_supported`.
    pub fn scopes_supported(&self) -> Vec<String> {
        let mut all: Vec<String> = Vec::new();
        for scope in self.resources.iter().flat_map(|r| &r.scopes) {
            if !all.contains(scope) {
                all.push(scope.clone());
            }
        }
        all
    }

    /// Lifetime of access tokens for the resource `identifier`.
    pub fn access_token_ttl_for(&self, identifier: &str) -> u64 {
        self.resource(identifier)
            .and_then(|r| r.access_token_ttl)
            .unwrap_or(self.access_token_ttl)
    }

    /// Path of `resource` if it is served on the issuer's origin
    /// (`https://host/mcp` → `/mcp`), for path-suffixed metadata URLs.
    pub fn local_path_of<'a>(&self, resource: &'a str) -> Option<&'a str> {
        let origin = origin_of(&self.issuer)?;
        let rest = resource.get(origin.len()..)?;
        let head = resource.get(..origin.len())?;
        if head.eq_ignore_ascii_case(origin) && (rest.is_empty() || rest.starts_with('/')) {
            Some(rest)
        } else {
            None
        }
    }

    /// RFC 9728 metadata URL of `resource`.
    pub fn resource_metadata_url(&self, resource: &str) -> String {
        let path = self.local_path_of(resource).unwrap_or("");
        self.url(&format!("/.well-known/oauth-protected-resource{path}"))
    }
}

/// `scheme://authority` of an absolute URL.
fn origin_of(url: &str) -> Option<&str> {
    let after = url.find("://")? + 3;
    let end = url[after..]
        .find(['/', '?', '#'])
        .map_or(url.len(), |i| after + i);
    Some(&url[..end])
}

/// Canonical form of a resource indicator (RFC 8707): absolute http(s)
/// URL without fragment or userinfo, scheme and host lowercased, one
/// trailing slash removed. `None` if it is not such a URL.
pub fn canonical_resource(url: &str) -> Option<String> {
    if url.len() > 2048
        || url.contains('#')
        || url.chars().any(|c| c.is_ascii_control() || c == ' ')
    {
        return None;
    }
    let sep = url.find("://")?;
    let scheme = url[..sep].to_ascii_lowercase();
    if scheme != "https" && scheme != "http" {
        return None;
    }
    let rest = &url[sep + 3..];
    let auth_end = rest.find(['/', '?']).unwrap_or(rest.len());
    let authority = &rest[..auth_end];
    if authority.is_empty() || authority.contains('@') {
        return None;
    }
    let mut tail = &rest[auth_end..];
    if let Some(stripped) = tail.strip_suffix('/') {
        tail = stripped;
    }
    Some(format!(
        "{scheme}://{}{tail}",
        authority.to_ascii_lowercase()
    ))
}

/// Parts of an absolute URL needed for redirect-URI rules.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct UrlParts<'a> {
    pub scheme: &'a str,
    pub host: &'a str,
    pub port: Option<&'a str>,
    /// Path and query, as written.
    pub rest: &'a str,
    pub has_fragment: bool,
}

/// Split `scheme:[//authority]rest`. Only what redirect-URI checks need.
pub(crate) fn split_url(url: &str) -> Option<UrlParts<'_>> {
    let colon = url.find(':')?;
    let scheme = &url[..colon];
    let valid_scheme = scheme.starts_with(|c: char| c.is_ascii_alphabetic())
        && scheme
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'));
    if !valid_scheme || url.chars().any(|c| c.is_ascii_control() || c == ' ') {
        return None;
    }
    let has_fragment = url.contains('#');
    let after = &url[colon + 1..];
    let Some(hier) = after.strip_prefix("//") else {
        return Some(UrlParts {
            scheme,
            host: "",
            port: None,
            rest: after,
            has_fragment,
        });
    };
    let auth_end = hier.find(['/', '?', '#']).unwrap_or(hier.len());
    let authority = &hier[..auth_end];
    if authority.contains('@') {
        return None;
    }
    let (host, port) = if let Some(v6) = authority.strip_prefix('[') {
        let close = v6.find(']')?;
        let host = &authority[..close + 2];
        let port = v6[close + 1..].strip_prefix(':');
        (host, port)
    } else {
        match authority.rsplit_once(':') {
            Some((h, p)) => (h, Some(p)),
            None => (authority, None),
        }
    };
    if let Some(p) = port
        && (p.is_empty() || p.len() > 5 || !p.bytes().all(|b| b.is_ascii_digit()))
    {
        return None;
    }
    Some(UrlParts {
        scheme,
        host,
        port,
        rest: &hier[auth_end..],
        has_fragment,
    })
}

/// Loopback hosts for RFC 8252 §7.3 redirects.
pub(crate) fn is_loopback_host(host: &str) -> bool {
    matches!(host, "127.0.0.1" | "[::1]") || host.eq_ignore_ascii_case("localhost")
}

/// Whether `requested` matches the registered redirect URI `registered`:
/// exactly, or (RFC 8252 §7.3) both http loopback URIs differing only in
/// the port.
pub(crate) fn redirect_matches(registered: &str, requested: &str) -> bool {
    if registered == requested {
        return true;
    }
    match (split_url(registered), split_url(requested)) {
        (Some(a), Some(b)) => {
            a.scheme == "http"
                && b.scheme == "http"
                && is_loopback_host(a.host)
                && a.host == b.host
                && a.rest == b.rest
                && !a.has_fragment
                && !b.has_fragment
        }
        _ => false,
    }
}
