//! The one wire shape of an HTTP-level refusal, on every path and every
//! host: what the router answers itself (404, 405, 503) and what a host's
//! transport answers before a [`Request`](crate::http::Request) exists
//! (413, 400, 408, 431, 501, 505).
//!
//! The shape is the OAuth error response (RFC 6749 §5.2), which the
//! authorization server's own errors already have, so one client-side
//! parser reads every refusal: `Content-Type: application/json`,
//! `Cache-Control: no-store`, body `{"error": CODE, "error_description":
//! TEXT}`; 405 adds `Allow`, 503 adds `Retry-After`. An MCP endpoint
//! answers the same refusals the same way: a JSON-RPC error answers a
//! message the MCP server has read ([`crate::mcp::ErrorResponse`]); these
//! are answered before, or without, any message.

use alloc::string::ToString;

use serde_json::json;

use super::RETRY_AFTER_SECS;
use crate::http::Response;

/// Why a request is refused before (or instead of) reaching an endpoint.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// 404: no endpoint at this path.
    NotFound,
    /// 405: the path does not take this method; `allow` lists those it
    /// takes (the `Allow` header).
    MethodNotAllowed {
        /// The methods the path allows, comma-separated.
        allow: &'static str,
    },
    /// 413: the body is larger than the host accepts.
    BodyTooLarge,
    /// 431: the request head is larger than the host accepts.
    HeadTooLarge,
    /// 400: the request could not be framed (malformed head or body).
    Malformed,
    /// 408: the request did not arrive in time.
    Timeout,
    /// 501: a chunked upload to a host that only reads `Content-Length`.
    TransferEncoding,
    /// 505: not HTTP/1.x.
    Version,
    /// 500: the server failed; the description never carries detail.
    Internal,
    /// 503: try again later (`Retry-After`); `description` says why.
    Unavailable {
        /// Why, client-safe.
        description: &'static str,
    },
}

impl Refusal {
    /// The status code.
    pub const fn status(self) -> u16 {
        match self {
            Refusal::NotFound => 404,
            Refusal::MethodNotAllowed { .. } => 405,
            Refusal::BodyTooLarge => 413,
            Refusal::HeadTooLarge => 431,
            Refusal::Malformed => 400,
            Refusal::Timeout => 408,
            Refusal::TransferEncoding => 501,
            Refusal::Version => 505,
            Refusal::Internal => 500,
            Refusal::Unavailable { .. } => 503,
        }
    }

    /// The `error` member.
    pub const fn code(self) -> &'static str {
        match self {
            Refusal::NotFound => "not_found",
            Refusal::MethodNotAllowed { .. } => "method_not_allowed",
            Refusal::Internal => "server_error",
            Refusal::Unavailable { .. } => "temporarily_unavailable",
            Refusal::BodyTooLarge
            | Refusal::HeadTooLarge
            | Refusal::Malformed
            | Refusal::Timeout
            | Refusal::TransferEncoding
            | Refusal::Version => "invalid_request",
        }
    }

    /// The `error_description` member.
    pub const fn description(self) -> &'static str {
        match self {
            Refusal::NotFound => "no endpoint at this path",
            Refusal::MethodNotAllowed { .. } => "this path does not take this method",
            Refusal::BodyTooLarge => "request body too large",
            Refusal::HeadTooLarge => "request head too large",
            Refusal::Malformed => "malformed request",
            Refusal::Timeout => "request not received in time",
            Refusal::TransferEncoding => "send the body with Content-Length",
            Refusal::Version => "only HTTP/1.1 and HTTP/1.0 are served",
            Refusal::Internal => "internal error",
            Refusal::Unavailable { description } => description,
        }
    }

    /// The response.
    pub fn response(self) -> Response {
        let body = json!({"error": self.code(), "error_description": self.description()});
        let resp = Response::json(self.status(), body.to_string())
            .with_header("Cache-Control", "no-store");
        match self {
            Refusal::MethodNotAllowed { allow } => resp.with_header("Allow", allow),
            Refusal::Unavailable { .. } => resp.with_header("Retry-After", RETRY_AFTER_SECS),
            _ => resp,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::Value;

    #[test]
    fn every_refusal_has_the_one_shape() {
        for r in [
            Refusal::NotFound,
            Refusal::MethodNotAllowed { allow: "GET, HEAD" },
            Refusal::BodyTooLarge,
            Refusal::HeadTooLarge,
            Refusal::Malformed,
            Refusal::Timeout,
            Refusal::TransferEncoding,
            Refusal::Version,
            Refusal::Internal,
            Refusal::Unavailable {
                description: "later",
            },
        ] {
            let resp = r.response();
            assert_eq!(resp.status, r.status());
            assert_eq!(resp.header("content-type"), Some("application/json"));
            assert_eq!(resp.header("cache-control"), Some("no-store"));
            let v: Value = serde_json::from_slice(&resp.body).unwrap_or(Value::Null);
            assert_eq!(v["error"], r.code(), "{r:?}");
            assert_eq!(v["error_description"], r.description(), "{r:?}");
            assert_eq!(v.as_object().map(|o| o.len()), Some(2), "{r:?}");
            assert_eq!(resp.header("allow").is_some(), resp.status == 405);
            assert_eq!(resp.header("retry-after").is_some(), resp.status == 503);
        }
    }
}
