//! The resource-server side: authenticate a bearer token on a protected
//! request (MCP), and the RFC 6750 / RFC 9728 challenges.

use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;

use alloc::string::ToString;
use serde_json::json;

use super::ServerConfig;
use super::access_family::is_access_token_revoked;
use super::wire::Params;
use crate::http::{Request, Response};
use crate::jose::{KeySet, ValidationPolicy};
use crate::principal::Principal;
use crate::store::RevocationStore;
use crate::time::UnixTime;

/// What a protected resource checks: the expected issuer and audience (the
/// policy), the scopes every request needs, and where its metadata lives.
#[derive(Debug, Clone)]
pub struct ResourceGuard {
    resource: String,
    metadata_url: String,
    scopes: Vec<String>,
    policy: ValidationPolicy,
}

impl ResourceGuard {
    /// A guard for `resource` served by the authorization server of
    /// `config` (all-in-one deployment).
    pub fn new(config: &ServerConfig, resource: &str, scopes: &[&str]) -> ResourceGuard {
        ResourceGuard::remote(
            &config.issuer,
            resource,
            config.resource_metadata_url(resource),
            scopes,
        )
    }

    /// A guard for a resource whose tokens come from `issuer` elsewhere
    /// (fleet deployment: keys from the issuer's JWKS).
    pub fn remote(
        issuer: &str,
        resource: &str,
        metadata_url: String,
        scopes: &[&str],
    ) -> ResourceGuard {
        ResourceGuard {
            resource: resource.into(),
            metadata_url,
            scopes: scopes.iter().map(|s| String::from(*s)).collect(),
            policy: ValidationPolicy::new(issuer, resource),
        }
    }

    /// Replace the validation policy (leeway, algorithms).
    pub fn with_policy(mut self, policy: ValidationPolicy) -> ResourceGuard {
        self.policy = policy;
        self
    }

    /// The canonical resource URL.
    pub fn resource(&self) -> &str {
        &self.resource
    }

    /// The scopes every request needs.
    pub fn scopes(&self) -> &[String] {
        &self.scopes
    }

    /// 401 with `WWW-Authenticate: Bearer resource_metadata=…, scope=…` and,
    /// when a token was refused, `error` and `error_description`.
    pub fn unauthorized(&self, error: Option<(&'static str, &'static str)>) -> Response {
        let mut value = format!(
            "Bearer resource_metadata=\"{}\", scope=\"{}\"",
            self.metadata_url,
            self.scopes.join(" ")
        );
        let mut status = 401;
        let mut body = Vec::new();
        if let Some((code, desc)) = error {
            value.push_str(&format!(", error=\"{code}\", error_description=\"{desc}\""));
            if code == "invalid_request" {
                status = 400;
            }
            body = json!({"error": code, "error_description": desc})
                .to_string()
                .into_bytes();
        }
        let resp = if body.is_empty() {
            Response::empty(status)
        } else {
            Response::json(status, body)
        };
        resp.with_header("WWW-Authenticate", value)
            .with_header("Cache-Control", "no-store")
    }

    /// 403 `insufficient_scope` naming every scope the operation needs
    /// (`needed`, which should include the guard's own scopes).
    pub fn insufficient_scope(&self, needed: &[&str]) -> Response {
        let mut all: Vec<&str> = self.scopes.iter().map(String::as_str).collect();
        for s in needed {
            if !all.contains(s) {
                all.push(s);
            }
        }
        let scope = all.join(" ");
        let value = format!(
            "Bearer error=\"insufficient_scope\", scope=\"{scope}\", resource_metadata=\"{}\", \
error_description=\"the access token lacks a required scope\"",
            self.metadata_url
        );
        Response::json(
            403,
            json!({"error": "insufficient_scope", "scope": scope}).to_string(),
        )
        .with_header("WWW-Authenticate", value)
        .with_header("Cache-Control", "no-store")
    }
}

/// Authenticate the bearer token of `req` for `guard`'s resource: only from
/// the `Authorization` header (never the query or body), verified with
/// `keys` under the guard's policy, refused if its `jti` or its refresh
/// family is revoked, and
/// required to carry every scope of the guard. The `Err` is the complete
/// response to send (401, 400, 403 or 503).
pub async fn authenticate_bearer<R: RevocationStore>(
    req: &Request,
    keys: &KeySet,
    guard: &ResourceGuard,
    now: Option<UnixTime>,
    revocations: &R,
) -> Result<Principal, Response> {
    let invalid = |d| guard.unauthorized(Some(("invalid_token", d)));
    let token = match req.header_count("authorization") {
        0 => {
            let in_query = req
                .query
                .as_deref()
                .and_then(|q| Params::parse(q.as_bytes()))
                .is_some_and(|p| p.count("access_token") > 0);
            if in_query {
                return Err(guard.unauthorized(Some((
                    "invalid_request",
                    "send the access token in the Authorization header",
                ))));
            }
            return Err(guard.unauthorized(None));
        }
        1 => req.header("authorization").unwrap_or_default().trim(),
        _ => {
            return Err(
                guard.unauthorized(Some(("invalid_request", "repeated Authorization header")))
            );
        }
    };
    let Some((scheme, token)) = token.split_once(' ') else {
        return Err(guard.unauthorized(None));
    };
    if !scheme.eq_ignore_ascii_case("bearer") {
        return Err(guard.unauthorized(None));
    }
    let token = token.trim();
    if token.is_empty() {
        return Err(invalid("the access token is missing"));
    }
    let claims = keys
        .verify_access_token(token, &guard.policy, now)
        .map_err(|_| invalid("the access token is invalid or expired"))?;
    // `verify_access_token` already refused an unknown time.
    let now = now.ok_or_else(|| invalid("the access token is invalid or expired"))?;
    match is_access_token_revoked(revocations, &claims.jti, now).await {
        Ok(false) => {}
        Ok(true) => return Err(invalid("the access token was revoked")),
        Err(_) => {
            return Err(Response::json(
                503,
                json!({"error": "temporarily_unavailable"}).to_string(),
            )
            .with_header("Retry-After", "5"));
        }
    }
    let principal = claims.to_principal(&guard.resource);
    if !guard.scopes.iter().all(|s| principal.has_scope(s)) {
        return Err(guard.insufficient_scope(&[]));
    }
    Ok(principal)
}
