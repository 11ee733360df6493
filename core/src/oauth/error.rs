//! The one internal error type of the authorization server and its one
//! mapping to wire errors (RFC 6749 §4.1.2.1 / §5.2, RFC 7591 §3.2.2,
//! RFC 8707, RFC 7009).
//!
//! Descriptions are fixed `&'static str`s written here: no peer input, token,
//! code, secret, password or internal detail can reach a client or a log
//! through an error.

use alloc::string::ToString;
use core::fmt;

use serde_json::json;

use super::wire::no_store;
use crate::http::Response;
use crate::rand::RngError;
use crate::store::StoreError;

/// Why an OAuth request failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum OAuthError {
    /// `invalid_request`: malformed, missing or repeated parameter.
    InvalidRequest(&'static str),
    /// `invalid_client`: client authentication failed. `basic` says whether
    /// the client tried HTTP Basic (the 401 then carries
    /// `WWW-Authenticate: Basic`).
    InvalidClient {
        /// Basic authentication was attempted.
        basic: bool,
    },
    /// `invalid_grant`: bad, expired, spent or foreign code or refresh token.
    InvalidGrant(&'static str),
    /// `unauthorized_client`: the client may not use this grant/response type.
    UnauthorizedClient,
    /// `unsupported_grant_type`.
    UnsupportedGrantType,
    /// `unsupported_response_type`.
    UnsupportedResponseType,
    /// `invalid_scope`.
    InvalidScope,
    /// `invalid_target` (RFC 8707): unknown or disallowed resource.
    InvalidTarget,
    /// `access_denied`: the user said no.
    AccessDenied,
    /// `invalid_redirect_uri` (RFC 7591).
    InvalidRedirectUri(&'static str),
    /// `invalid_client_metadata` (RFC 7591).
    InvalidClientMetadata(&'static str),
    /// Too many requests from this peer (registration hook).
    RateLimited,
    /// A bounded store is full, the database is down, or the clock is
    /// unknown: try again later (`temporarily_unavailable`, 503).
    Unavailable,
    /// The RNG failed or an internal invariant broke (`server_error`, 500).
    Internal,
}

impl OAuthError {
    /// The RFC error code.
    pub fn code(self) -> &'static str {
        match self {
            OAuthError::InvalidRequest(_) => "invalid_request",
            OAuthError::InvalidClient { .. } => "invalid_client",
            OAuthError::InvalidGrant(_) => "invalid_grant",
            OAuthError::UnauthorizedClient => "unauthorized_client",
            OAuthError::UnsupportedGrantType => "unsupported_grant_type",
            OAuthError::UnsupportedResponseType => "unsupported_response_type",
            OAuthError::InvalidScope => "invalid_scope",
            OAuthError::InvalidTarget => "invalid_target",
            OAuthError::AccessDenied => "access_denied",
            OAuthError::InvalidRedirectUri(_) => "invalid_redirect_uri",
            OAuthError::InvalidClientMetadata(_) => "invalid_client_metadata",
            OAuthError::RateLimited | OAuthError::Unavailable => "temporarily_unavailable",
            OAuthError::Internal => "server_error",
        }
    }

    /// A fixed, human-readable description (never peer data).
    pub fn description(self) -> &'static str {
        match self {
            OAuthError::InvalidRequest(d)
            | OAuthError::InvalidGrant(d)
            | OAuthError::InvalidRedirectUri(d)
            | OAuthError::InvalidClientMetadata(d) => d,
            OAuthError::InvalidClient { .. } => "client authentication failed",
            OAuthError::UnauthorizedClient => "the client is not allowed to use this grant",
            OAuthError::UnsupportedGrantType => "unsupported grant_type",
            OAuthError::UnsupportedResponseType => "only response_type=code is supported",
            OAuthError::InvalidScope => "the requested scope is invalid or not allowed",
            OAuthError::InvalidTarget => "the requested resource is not served here",
            OAuthError::AccessDenied => "the user denied the request",
            OAuthError::RateLimited => "too many requests, try again later",
            OAuthError::Unavailable => "the service is temporarily unavailable",
            OAuthError::Internal => "internal error",
        }
    }

    /// HTTP status for JSON endpoints.
    pub fn status(self) -> u16 {
        match self {
            OAuthError::InvalidClient { .. } => 401,
            OAuthError::RateLimited => 429,
            OAuthError::Unavailable => 503,
            OAuthError::Internal => 500,
            _ => 400,
        }
    }

    /// The JSON error response (`{"error","error_description"}`), with
    /// `Cache-Control: no-store` and, for Basic, `WWW-Authenticate`.
    pub fn to_response(self) -> Response {
        let body = json!({"error": self.code(), "error_description": self.description()});
        let mut resp = no_store(Response::json(self.status(), body.to_string()));
        if let OAuthError::InvalidClient { basic: true } = self {
            resp = resp.with_header("WWW-Authenticate", "Basic realm=\"mcpauth\"");
        }
        if let OAuthError::RateLimited = self {
            resp = resp.with_header("Retry-After", "60");
        }
        resp
    }
}

impl fmt::Display for OAuthError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.code(), self.description())
    }
}

#[cfg(feature = "std")]
impl std::error::Error for OAuthError {}

impl From<StoreError> for OAuthError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::Full | StoreError::Unavailable => OAuthError::Unavailable,
            // A random 128-bit key collided: astronomically unlikely, and
            // not the client's fault.
            _ => OAuthError::Internal,
        }
    }
}

impl From<RngError> for OAuthError {
    fn from(_: RngError) -> Self {
        OAuthError::Internal
    }
}
