//! The resource-server side: authenticate a bearer token on a protected
//! request (MCP), and the RFC 6750 / RFC 9728 challenges.

use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;

use alloc::string::ToString;
use serde_json::json;

use super::ServerConfig;
use super::bearer::BearerError;
use crate::http::Response;
use crate::jose::{KeySet, ValidationPolicy};
use crate::principal::Principal;
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

    /// Verify `token` with `keys` under this guard's policy: the caller it
    /// names, for this resource (scopes and revocation are the caller's
    /// next steps, see [`super::authenticate`]).
    pub fn verify(
        &self,
        keys: &KeySet,
        token: &str,
        now: UnixTime,
    ) -> Result<Principal, BearerError> {
        let claims = keys
            .verify_access_token(token, &self.policy, Some(now))
            .map_err(BearerError::Invalid)?;
        Ok(claims.to_principal(&self.resource))
    }

    /// The response refusing a request for `error`: the one wire mapping
    /// of bearer refusals (RFC 6750 §3.1 challenges, RFC 9728 metadata
    /// pointer).
    pub fn refusal(&self, error: &BearerError) -> Response {
        let invalid = |d| self.unauthorized(Some(("invalid_token", d)));
        match error {
            BearerError::Missing => self.unauthorized(None),
            BearerError::TokenInQuery => self.unauthorized(Some((
                "invalid_request",
                "send the access token in the Authorization header",
            ))),
            BearerError::RepeatedHeader => {
                self.unauthorized(Some(("invalid_request", "repeated Authorization header")))
            }
            BearerError::EmptyToken => invalid("the access token is missing"),
            BearerError::Invalid(_) => invalid("the access token is invalid or expired"),
            BearerError::Revoked => invalid("the access token was revoked"),
            BearerError::InsufficientScope => self.insufficient_scope(&[]),
            BearerError::ClockUnknown => crate::server::clock_unknown(),
            BearerError::StoreUnavailable => {
                crate::server::unavailable("the revocation list cannot be read, try again later")
            }
        }
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
