//! The auth proxy: `mcpauth serve --upstream URL` puts OAuth in front of an
//! MCP server that has none.
//!
//! A request to a mounted path passes the same bearer guard as the built-in
//! `/mcp` (for that mount's resource), then goes to the upstream through
//! hyper's pooled client:
//! - the request body is the MCP message the host already read under its
//!   size limit; the response streams back frame by frame, never buffered,
//!   so SSE answers and `GET` streams reach the client as the upstream
//!   writes them;
//! - a browser's `Origin` was checked by the core router's CORS policy, as
//!   on the built-in `/mcp` (`--allowed-origins`, plus the public URL's own
//!   origin), and is not forwarded: the upstream cannot know the proxy's
//!   origin, and only authenticated requests reach it;
//! - `Authorization` never reaches the upstream; the verified identity does,
//!   in headers the operator names ([`IdentityHeaders`]); hop-by-hop headers
//!   are handled as RFC 9110 §7.6.1 says (see [`headers`]);
//! - `Mcp-Session-Id`, `Last-Event-ID` and every other end-to-end header
//!   pass through unchanged;
//! - when the client goes away, its response body is dropped, which closes
//!   the upstream connection: the upstream sees the disconnect;
//! - an upstream that cannot be reached, answers garbage or answers too much
//!   gets a 502, one that does not answer in time a 504, each with a
//!   JSON-RPC error body; every wait is bounded ([`UpstreamLimits`]).

pub mod body;
pub mod config;
pub mod headers;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::Full;
use hyper::Uri;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::{TokioExecutor, TokioTimer};
use mcpauth_core::http::{Method, Request, Response};
use mcpauth_core::mcp::jsonrpc::{self, FrameLimits};
use mcpauth_core::mcp::{ErrorCode, ErrorId, ErrorResponse};
use mcpauth_core::principal::Principal;

pub use body::UpstreamBody;
pub use headers::IdentityHeaders;

use crate::server::Reply;

/// The bounds of the conversation with an upstream. Each names what it
/// stops.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UpstreamLimits {
    /// Time to open a TCP connection to the upstream: a black-holed or
    /// firewalled upstream address would otherwise hold each request for the
    /// kernel's connect timeout (minutes). Failing it answers 502.
    pub connect_timeout: Duration,
    /// Time from sending a request to the upstream's response head: an
    /// upstream that accepts and never answers would otherwise hold the
    /// client (and a connection slot) forever. Failing it answers 504.
    /// Streaming (SSE) answers send their head at once, so a long tool call
    /// that streams is not cut by this.
    pub response_timeout: Duration,
    /// Largest response body that is not an event stream: a runaway upstream
    /// would otherwise feed a client without end. Declared larger
    /// (`Content-Length`): 502 before any byte is sent; undeclared: the body
    /// is cut at the bound and the client sees an incomplete response. Event
    /// streams are long-lived by design and not bounded in total; they flow
    /// with backpressure, so they hold no more than a frame in memory.
    pub max_response_bytes: u64,
    /// Idle pooled connections kept per upstream (sockets held for reuse).
    pub max_idle_connections: usize,
    /// How long an idle pooled connection is kept. Shorter than any
    /// upstream's own keep-alive timeout, or the upstream's close and the
    /// next request on that connection can cross, and the client gets a
    /// 502 for a request the upstream never answered (POST is not
    /// retried). Servers close idle connections after 2 s (gunicorn, also
    /// for its uvicorn workers) or 5 s (uvicorn, Node, hypercorn).
    pub idle_timeout: Duration,
}

impl Default for UpstreamLimits {
    fn default() -> Self {
        UpstreamLimits {
            connect_timeout: Duration::from_secs(5),
            response_timeout: Duration::from_secs(60),
            max_response_bytes: DEFAULT_MAX_RESPONSE_BYTES,
            max_idle_connections: 64,
            idle_timeout: Duration::from_millis(1500),
        }
    }
}

/// Default [`UpstreamLimits::max_response_bytes`]: 8 MiB, room for a tool
/// result with a few base64 images.
pub const DEFAULT_MAX_RESPONSE_BYTES: u64 = 8 * 1024 * 1024;

/// One upstream MCP server and the path it is mounted at.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mount {
    /// The path clients call (`/mcp`); the resource is `<public URL><path>`.
    pub path: String,
    /// The upstream's MCP endpoint (`http://127.0.0.1:9000/mcp`).
    pub target: Uri,
}

/// Paths the authorization server and the host answer themselves.
const RESERVED_PATHS: [&str; 8] = [
    "/authorize",
    "/token",
    "/register",
    "/introspect",
    "/revoke",
    "/jwks.json",
    "/healthz",
    "/",
];

impl Mount {
    /// Parse `URL` (mounted at `/mcp`) or `/PATH=URL`.
    pub fn parse(spec: &str) -> Result<Mount, String> {
        let spec = spec.trim();
        let (path, url) = match spec.split_once('=') {
            Some((path, url)) if path.starts_with('/') => (path.trim(), url.trim()),
            _ => ("/mcp", spec),
        };
        let path = path.trim_end_matches('/');
        if path.is_empty()
            || !path.starts_with('/')
            || path.contains(['?', '#', ' ', '%'])
            || RESERVED_PATHS.contains(&path)
            || path.starts_with("/.well-known")
        {
            return Err(format!(
                "{path:?} cannot be a mount path (a path such as /mcp or /files/mcp, \
                 not one the authorization server answers)"
            ));
        }
        let target: Uri = url
            .parse()
            .map_err(|e| format!("{url:?} is not a URL: {e}"))?;
        if target.scheme_str() != Some("http") || target.host().is_none() {
            return Err(format!(
                "{url:?}: the upstream must be an http:// URL with a host (run the MCP \
                 server on loopback or a private network; mcpauth terminates TLS)"
            ));
        }
        if target.query().is_some() {
            return Err(format!("{url:?}: the upstream URL must not have a query"));
        }
        Ok(Mount {
            path: path.to_owned(),
            target,
        })
    }

    /// The upstream URI of a request with `query`.
    fn uri(&self, query: Option<&str>) -> Result<Uri, hyper::http::Error> {
        let Some(query) = query else {
            return Ok(self.target.clone());
        };
        let mut parts = self.target.clone().into_parts();
        let path = self.target.path();
        parts.path_and_query = Some(format!("{path}?{query}").parse()?);
        Ok(Uri::from_parts(parts)?)
    }
}

/// What `serve` was told about upstreams.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct UpstreamSettings {
    /// The mounted upstreams (none: no proxy).
    pub mounts: Vec<Mount>,
    /// Timeouts and sizes.
    pub limits: UpstreamLimits,
    /// Where the caller's identity goes.
    pub identity: IdentityHeaders,
}

/// The forwarder every mount shares: one connection pool.
#[derive(Debug)]
pub struct Upstreams {
    client: Client<HttpConnector, Full<Bytes>>,
    settings: UpstreamSettings,
    live_bodies: Arc<AtomicUsize>,
}

/// JSON-RPC "server error" code for a gateway failure (the
/// implementation-defined range of JSON-RPC 2.0).
const GATEWAY_ERROR_CODE: ErrorCode = ErrorCode::Application(-32000);

impl Upstreams {
    /// A forwarder for `settings` (connections open on first use).
    pub fn new(settings: UpstreamSettings) -> Upstreams {
        let mut connector = HttpConnector::new();
        connector.set_connect_timeout(Some(settings.limits.connect_timeout));
        connector.set_nodelay(true);
        let client = Client::builder(TokioExecutor::new())
            .pool_timer(TokioTimer::new())
            .pool_idle_timeout(settings.limits.idle_timeout)
            .pool_max_idle_per_host(settings.limits.max_idle_connections)
            .build(connector);
        Upstreams {
            client,
            settings,
            live_bodies: Arc::new(AtomicUsize::new(0)),
        }
    }

    /// The mounts, in configuration order.
    pub fn mounts(&self) -> &[Mount] {
        &self.settings.mounts
    }

    /// The index of the mount serving `path`.
    pub fn mount_of(&self, path: &str) -> Option<usize> {
        self.settings.mounts.iter().position(|m| m.path == path)
    }

    /// Proxied response bodies currently streaming.
    pub fn live_bodies(&self) -> usize {
        self.live_bodies.load(Ordering::Relaxed)
    }

    /// Forward `req` (already authenticated as `principal`) to mount `index`.
    pub async fn forward(&self, index: usize, req: Request, principal: &Principal) -> Reply {
        let Some(mount) = self.settings.mounts.get(index) else {
            return Reply::Whole(mcpauth_core::server::not_found());
        };
        let body = Bytes::from(req.body);
        let method = match req.method {
            Method::Get => hyper::Method::GET,
            Method::Post => hyper::Method::POST,
            Method::Delete => hyper::Method::DELETE,
            Method::Head => hyper::Method::HEAD,
            Method::Options | Method::Other => {
                return Reply::Whole(mcpauth_core::server::method_not_allowed(
                    "GET, POST, DELETE",
                ));
            }
        };
        let Some(headers) = headers::to_upstream(&req.headers, principal, &self.settings.identity)
        else {
            tracing::error!("the caller's identity cannot be written as header values");
            return Reply::Whole(gateway_error(500, &body, "identity not forwardable"));
        };
        let Ok(uri) = mount.uri(req.query.as_deref()) else {
            return Reply::Whole(gateway_error(400, &body, "malformed query string"));
        };
        let mut outgoing = hyper::Request::new(Full::new(body.clone()));
        *outgoing.method_mut() = method;
        *outgoing.uri_mut() = uri;
        *outgoing.headers_mut() = headers;

        let limits = &self.settings.limits;
        let answer = tokio::time::timeout(limits.response_timeout, self.client.request(outgoing));
        let response = match answer.await {
            Err(_) => {
                tracing::warn!(mount = %mount.path, "upstream response timed out");
                return Reply::Whole(gateway_error(
                    504,
                    &body,
                    &format!(
                        "the upstream MCP server did not answer within {} s",
                        limits.response_timeout.as_secs()
                    ),
                ));
            }
            Ok(Err(e)) if e.is_connect() => {
                tracing::warn!(mount = %mount.path, error = %e, "cannot reach the upstream");
                return Reply::Whole(gateway_error(
                    502,
                    &body,
                    "the upstream MCP server cannot be reached",
                ));
            }
            Ok(Err(e)) => {
                tracing::warn!(mount = %mount.path, error = %e, "upstream answer unusable");
                return Reply::Whole(gateway_error(
                    502,
                    &body,
                    "the upstream MCP server sent an invalid response",
                ));
            }
            Ok(Ok(response)) => response,
        };
        let (parts, incoming) = response.into_parts();
        let event_stream = parts
            .headers
            .get(hyper::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| {
                v.trim_start()
                    .to_ascii_lowercase()
                    .starts_with("text/event-stream")
            });
        let limit = (!event_stream).then_some(limits.max_response_bytes);
        let declared = parts
            .headers
            .get(hyper::header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<u64>().ok());
        if let (Some(limit), Some(declared)) = (limit, declared)
            && declared > limit
        {
            tracing::warn!(mount = %mount.path, declared, limit, "upstream response too large");
            return Reply::Whole(gateway_error(
                502,
                &body,
                &format!("the upstream MCP server's response is larger than {limit} bytes"),
            ));
        }
        let head = Response {
            status: parts.status.as_u16(),
            headers: headers::to_client(&parts.headers)
                .into_iter()
                .map(|(n, v)| (n.into(), v.into()))
                .collect(),
            body: Vec::new(),
        };
        Reply::Proxied {
            head,
            body: UpstreamBody::new(incoming, limit, &self.live_bodies),
        }
    }
}

/// A JSON-RPC error answering the request whose body is `request`, with its
/// `id` when it has one (read by the core's framing: bounded, no tree).
fn gateway_error(status: u16, request: &[u8], message: &str) -> Response {
    let id = jsonrpc::parse(request, &FrameLimits::default())
        .ok()
        .and_then(|env| env.id);
    ErrorResponse::new(ErrorId::of(id.as_ref(), false), GATEWAY_ERROR_CODE)
        .with_message(message)
        .response(status)
        .with_header("Cache-Control", "no-store")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mounts_parse() {
        let m = Mount::parse("http://127.0.0.1:9000/mcp").expect("valid");
        assert_eq!(m.path, "/mcp");
        assert_eq!(m.target, "http://127.0.0.1:9000/mcp");
        let m = Mount::parse("/files/=http://10.0.0.2:8000/").expect("valid");
        assert_eq!(m.path, "/files");
        assert_eq!(
            m.uri(Some("a=1")).expect("uri").to_string(),
            "http://10.0.0.2:8000/?a=1"
        );
        for bad in [
            "https://example.com/mcp",
            "/token=http://127.0.0.1:9000/mcp",
            "/.well-known/x=http://127.0.0.1:9000/mcp",
            "/=http://127.0.0.1:9000/mcp",
            "ftp://127.0.0.1/",
            "127.0.0.1:9000",
            "http://127.0.0.1:9000/mcp?x=1",
        ] {
            assert!(Mount::parse(bad).is_err(), "{bad} must be refused");
        }
    }

    #[test]
    fn gateway_errors_answer_the_request_id() {
        let r = gateway_error(502, br#"{"jsonrpc":"2.0","id":7,"method":"x"}"#, "down");
        let v: serde_json::Value = serde_json::from_slice(&r.body).expect("json");
        assert_eq!(v["id"], 7);
        assert_eq!(v["error"]["code"], GATEWAY_ERROR_CODE.code());
        assert_eq!(v["error"]["message"], "down");
        let r = gateway_error(504, b"", "slow");
        let v: serde_json::Value = serde_json::from_slice(&r.body).expect("json");
        assert!(v["id"].is_null());
    }
}
