//! Discovery documents: RFC 8414 authorization-server metadata (also at the
//! path-suffixed and OpenID locations clients probe), RFC 9728
//! protected-resource metadata, and the JWKS.

use alloc::string::{String, ToString};

use serde_json::{Value, json};

use super::wire::method_not_allowed;
use super::{AuthorizationServer, Env, ProtectedResource, ServerConfig};
use crate::http::{Method, Request, Response};

const AS_METADATA: &str = "/.well-known/oauth-authorization-server";
const OPENID: &str = "/.well-known/openid-configuration";
const PR_METADATA: &str = "/.well-known/oauth-protected-resource";

/// What a discovery path asks for.
enum Doc<'a> {
    Server,
    Resource(&'a ProtectedResource),
    Jwks,
}

/// The configured resource whose local path is `suffix` (`/mcp`).
fn resource_by_path<'c>(config: &'c ServerConfig, suffix: &str) -> Option<&'c ProtectedResource> {
    config.resources.iter().find(|r| {
        config
            .local_path_of(&r.identifier)
            .is_some_and(|p| !p.is_empty() && p == suffix)
    })
}

fn classify<'c>(config: &'c ServerConfig, path: &str) -> Option<Doc<'c>> {
    if path == AS_METADATA || path == OPENID {
        return Some(Doc::Server);
    }
    if path == "/jwks.json" || path == "/.well-known/jwks.json" {
        return Some(Doc::Jwks);
    }
    if path == PR_METADATA {
        return config.default_resource().map(Doc::Resource);
    }
    if let Some(suffix) = path.strip_prefix(PR_METADATA) {
        return resource_by_path(config, suffix).map(Doc::Resource);
    }
    // `/.well-known/oauth-authorization-server/mcp` (RFC 8414 §3.1, probed by
    // ChatGPT), `/.well-known/openid-configuration/mcp` and
    // `/mcp/.well-known/openid-configuration` (OpenID Discovery style).
    for prefix in [AS_METADATA, OPENID] {
        if let Some(suffix) = path.strip_prefix(prefix) {
            return resource_by_path(config, suffix).map(|_| Doc::Server);
        }
    }
    if let Some(prefix) = path.strip_suffix(OPENID) {
        return resource_by_path(config, prefix).map(|_| Doc::Server);
    }
    None
}

/// RFC 8414 metadata: only what is really supported.
/// `client_metadata_documents`: URL `client_id`s are resolved.
pub fn server_metadata(config: &ServerConfig, client_metadata_documents: bool) -> Value {
    let auth_methods = ["none", "client_secret_basic", "client_secret_post"];
    let mut doc = json!({
        "issuer": config.issuer,
        "authorization_endpoint": config.url("/authorize"),
        "token_endpoint": config.url("/token"),
        "registration_endpoint": config.url("/register"),
        "jwks_uri": config.url("/.well-known/jwks.json"),
        "introspection_endpoint": config.url("/introspect"),
        "revocation_endpoint": config.url("/revoke"),
        "scopes_supported": config.scopes_supported(),
        "response_types_supported": ["code"],
        "response_modes_supported": ["query"],
        "grant_types_supported": ["authorization_code", "refresh_token"],
        "code_challenge_methods_supported": ["S256"],
        "token_endpoint_auth_methods_supported": auth_methods,
        "introspection_endpoint_auth_methods_supported": auth_methods,
        "revocation_endpoint_auth_methods_supported": auth_methods,
        "authorization_response_iss_parameter_supported": true,
    });
    if let Some(obj) = doc.as_object_mut() {
        if client_metadata_documents {
            obj.insert("client_id_metadata_document_supported".into(), true.into());
        }
        if !config.dynamic_registration {
            obj.remove("registration_endpoint");
        }
    }
    doc
}

/// RFC 9728 metadata of `resource`.
pub fn resource_metadata(config: &ServerConfig, resource: &ProtectedResource) -> Value {
    json!({
        "resource": resource.identifier,
        "resource_name": resource.display_name,
        "authorization_servers": [config.issuer],
        "scopes_supported": resource.scopes,
        "bearer_methods_supported": ["header"],
    })
}

/// Public documents (CORS for any origin is the router's, `server::cors`).
fn public_json(body: String) -> Response {
    Response::json(200, body).with_header("Cache-Control", "public, max-age=300")
}

/// Serve a discovery document, or `None` if `req` is not a discovery path.
pub(crate) fn handle<S, U, L>(
    server: &AuthorizationServer<S, U, L>,
    req: &Request,
    env: &Env<'_>,
) -> Option<Response> {
    let config = &server.config;
    let doc = classify(config, &req.path)?;
    match req.method {
        Method::Get | Method::Head => {}
        _ => return Some(method_not_allowed("GET, HEAD")),
    }
    let body = match doc {
        Doc::Server => server_metadata(config, server.client_metadata.is_some()).to_string(),
        Doc::Resource(r) => resource_metadata(config, r).to_string(),
        Doc::Jwks => env.keys.to_jwks_json(),
    };
    Some(public_json(body))
}
