//! The MCP server: JSON-RPC framing, the Streamable HTTP transport of both
//! protocol eras, and dispatch to application-registered tools, resources and
//! prompts. Pure logic: the host hands in an [`http::Request`], the
//! authenticated [`Principal`](crate::principal::Principal) (if any), the time and a CSPRNG, and gets back
//! an [`McpOutcome`].
//!
//! ## Eras
//! - **2025 era** (protocol versions 2025-03-26, 2025-06-18, 2025-11-25):
//!   `initialize` handshake, `Mcp-Session-Id` sessions (unless
//!   [`McpConfig::stateless`]), `MCP-Protocol-Version` header (absent: the
//!   session's negotiated version, or 2025-03-26 without a session; a
//!   supported version other than the session's, or an unknown one: 400).
//! - **2026-07-28 era**: stateless; every request carries
//!   `_meta["io.modelcontextprotocol/protocolVersion"]` and client
//!   capabilities, mirrored in the `MCP-Protocol-Version`, `Mcp-Method` and
//!   `Mcp-Name` headers; results carry `resultType` and `serverInfo`.
//!
//! A request is served in the 2026 era when its `_meta` names a protocol
//! version or its `MCP-Protocol-Version` header names a modern one; anything
//! else is served in the 2025 era. An `initialize` request is 2025 era unless
//! its `_meta` names a protocol version (legacy clients never send that
//! member): then it is a 2026-07-28 request for a method that era does not
//! have (404, -32601).
//!
//! In the 2026 era a handler's error gets the HTTP status the 2026-07-28
//! transport prescribes for its code: 400 for -32020, -32021 and -32022,
//! 404 for -32601, 200 otherwise (the JSON-RPC error body alone reports it).
//!
//! ## Using it
//! ```
//! use mcpauth_core::mcp::{McpConfig, McpServer, Registry, Tool, CallToolResult, MemorySessionStore};
//! use serde_json::json;
//!
//! let mut registry = Registry::new();
//! registry
//!     .tool(
//!         Tool::new("echo", json!({"type": "object", "properties": {"text": {"type": "string"}}, "required": ["text"]}))
//!             .with_description("Echo the text back")
//!             .with_required_scopes(&["mcp:tools"]),
//!         |_ctx, args| Box::pin(async move {
//!             let text = args.get("text").and_then(|v| v.as_str()).unwrap_or_default();
//!             Ok(CallToolResult::text(text))
//!         }),
//!     )
//!     .expect("unique tool name");
//! let config = McpConfig::new("example", "1.0.0");
//! let sessions = MemorySessionStore::new(config.limits.sessions, config.limits.session_idle_secs);
//! let server = McpServer::new(config, registry, Box::new(sessions));
//! # let _ = server;
//! ```
//!
//! ## Sessions and locking
//! 2025-era sessions live behind the [`SessionStore`] trait (async, object
//! safe), so a host can share them between instances later. The core's
//! [`MemorySessionStore`] is a bounded table (capacity + idle expiry against
//! the `now` the host passes) behind one spin lock ([`crate::sync`]): `no_std`,
//! `Send + Sync`, and every critical section is a short table operation that
//! never spans an `.await` (the store's futures are already complete), so
//! spinning costs nanoseconds. It is the same choice as the OAuth memory store.
//!
//! A session is bound to the principal that opened it (subject and client
//! id, see [`session_owner`]): a request or `DELETE` presenting the id under
//! another identity is answered 404 like an unknown session, so a leaked
//! session id is useless without the owner's token.
//!
//! ## Responses
//! Requests are answered with `application/json`, or with a buffered
//! `text/event-stream` body when the handler emitted progress or log
//! notifications before its result (see [`sse`]). Protocol errors are always
//! 4xx with a JSON-RPC error body whose message is fixed text, never internal
//! detail.
//!
//! ## Live streams (2025 era, [`McpConfig::live_streams`])
//! For a host that can hold a response open (host-std; devices keep
//! buffered responses):
//! - a `tools/call` the caller may make is answered with
//!   [`McpOutcome::Stream`]: the host writes the head, spawns
//!   [`McpServer::run_live`] and writes what the [`StreamReader`] yields
//!   (retry hint, priming event from 2025-11-25 on, the tool's
//!   notifications as they happen, its response). A client that goes away
//!   does not cancel the call. A tool registered with
//!   [`Registry::immediate_tool`] (no `await`) cannot wait, so its call is
//!   answered whole instead, without the stream machinery;
//! - a tool asks the client for input exactly as in 2026-07-28: it returns
//!   an [`InputRequired`]; the core sends each request on the stream as a
//!   JSON-RPC request with an unguessable id, answers the client's POSTed
//!   responses with 202, and invokes the tool again with the answers
//!   ([`Context::input_response`]) and the `requestState`. Answers are routed
//!   by those ids and the caller's identity through one instance-wide
//!   table, so stateless deployments work too ([`McpServer::run_live`]);
//! - a tool may end its stream's HTTP response mid-call
//!   ([`Context::close_sse_stream`], SSE polling); the client resumes with
//!   `GET` + `Last-Event-ID` and gets the events it missed, then the live
//!   ones. An unknown, malformed or foreign `Last-Event-ID` is 400;
//! - a session may hold one standalone `GET` stream (409 for a second
//!   reader) that carries server messages: `notifications/resources/updated`
//!   for its subscriptions, and what the host sends with
//!   [`McpServer::notify_session`].
//!
//! Event ids are `<stream key>.<sequence>` ([`streams`]); every table is
//! bounded by [`McpLimits`] (`max_streams`, `max_streams_per_session`,
//! `max_stream_events`, `stream_retention_secs`, `max_pending_inputs`,
//! `input_wait_secs`, `live_call_secs`).

//! ## Not (yet) offered
//! - Without [`McpConfig::live_streams`]: `GET` answers 405 (both eras
//!   allow it), responses are buffered, and 2025-era tools cannot ask the
//!   client for input.
//! - 2025-era input requests from `prompts/get` and `resources/read` (only a
//!   live `tools/call` may ask). In 2026-07-28 a tool or prompt handler asks
//!   with an `input_required` result ([`InputRequired`]); a resource handler
//!   cannot (its result is a list of contents).
//! - List change notifications (`listChanged: false`: registrations are
//!   fixed at start-up; `subscriptions/listen` is acknowledged with an empty
//!   filter and closed).
//! - Resource subscriptions without sessions: stateless deployments hold
//!   none and do not offer the capability (`resources/subscribe` is -32601).
//!   Without live streams a `notifications/resources/updated`
//!   ([`Context::resource_updated`]) reaches only the session whose own
//!   request made the change, with that response.
//! - Batches, even for 2025-03-26 clients (refused with -32600, as 2025-06-18
//!   and later require).
//! - `notifications/cancelled` reaches a running handler only for 2025-era
//!   sessions; in stateless deployments and in 2026-07-28 the host cancels
//!   by dropping the future when the client goes away.

use alloc::string::String;
use alloc::vec::Vec;

use crate::http;

mod context;
pub mod error_response;
mod features;
pub mod jsonrpc;
mod legacy;
mod live;
mod methods;
mod modern;
mod params;
mod registry;
mod request_params;
pub mod schema;
mod server;
mod session;
pub mod sse;
mod state;
pub mod streams;
mod timer;
pub use timer::TIMER_HORIZON_SECS;

pub use context::{Context, LogLevel, McpError};
pub use error_response::{ErrorId, ErrorResponse};
pub use features::{
    CallToolResult, ContentBlock, GetPromptResult, InputRequired, Prompt, PromptArgument, Resource,
    ResourceContents, ResourceTemplate, Tool,
};
pub use jsonrpc::{ErrorCode, FrameLimits, RequestId};
pub use live::{LiveCall, LiveStream};
pub use registry::{
    BoxFuture, CompletionHandler, MIME_MCP_APP, MIME_SKYBRIDGE, PromptHandler, Registry,
    RegistryError, ResourceHandler, ToolHandler,
};
pub use server::{McpServer, origin_forbidden};
pub use session::{
    ClientInputs, MemorySessionStore, NoSessionStore, SessionError, SessionInfo, SessionStore,
    session_owner, session_subject,
};
pub use streams::{StreamError, StreamReader};

/// A protocol version this server implements.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum ProtocolVersion {
    /// 2025-03-26 (assumed when a 2025-era request has no version header).
    V2025_03_26,
    /// 2025-06-18.
    V2025_06_18,
    /// 2025-11-25, the latest handshake-based version.
    V2025_11_25,
    /// 2026-07-28, stateless with per-request metadata.
    V2026_07_28,
}

impl ProtocolVersion {
    /// All versions, oldest first.
    pub const ALL: [ProtocolVersion; 4] = [
        ProtocolVersion::V2025_03_26,
        ProtocolVersion::V2025_06_18,
        ProtocolVersion::V2025_11_25,
        ProtocolVersion::V2026_07_28,
    ];
    /// The newest handshake-based (2025-era) version: what `initialize`
    /// offers when the client asks for one we do not know.
    pub const LATEST_LEGACY: ProtocolVersion = ProtocolVersion::V2025_11_25;

    /// Parse a version string (exact match).
    pub fn parse(s: &str) -> Option<ProtocolVersion> {
        ProtocolVersion::ALL.into_iter().find(|v| v.as_str() == s)
    }

    /// The wire form.
    pub const fn as_str(self) -> &'static str {
        match self {
            ProtocolVersion::V2025_03_26 => "2025-03-26",
            ProtocolVersion::V2025_06_18 => "2025-06-18",
            ProtocolVersion::V2025_11_25 => "2025-11-25",
            ProtocolVersion::V2026_07_28 => "2026-07-28",
        }
    }

    /// Whether this version is stateless with per-request `_meta`.
    pub const fn is_modern(self) -> bool {
        matches!(self, ProtocolVersion::V2026_07_28)
    }
}

/// How a tool call without the tool's required scopes is answered.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ScopeChallenge {
    /// [`McpOutcome::InsufficientScope`]: the composing router answers 403
    /// with a `WWW-Authenticate: Bearer error="insufficient_scope"` challenge.
    #[default]
    Http403,
    /// A tool error result carrying `_meta["mcp/www_authenticate"]` (the form
    /// ChatGPT understands), HTTP 200.
    ToolErrorMeta,
}

/// Bounds of the MCP server. Each names what it protects.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct McpLimits {
    /// Body size and nesting depth (memory and stack exhaustion).
    pub frame: FrameLimits,
    /// Items per page of `tools/list`, `resources/list`, … (response size).
    pub page_size: usize,
    /// Concurrent 2025-era sessions (memory held per client).
    pub sessions: usize,
    /// Sessions one subject (`sub`, over all its clients) may hold at once:
    /// without it one user could open sessions until every one of
    /// `sessions` is theirs. One more ends that subject's least recently
    /// used session.
    pub sessions_per_subject: usize,
    /// Idle seconds after which a session ends.
    pub session_idle_secs: u64,
    /// Notifications a handler may buffer before its result (response size);
    /// further ones are dropped.
    pub max_notifications: usize,
    /// Nesting depth of a tool's JSON Schema walked by the validator (at
    /// most [`schema::COMPILED_DEPTH`]` - 1`; a larger value acts as that).
    pub max_schema_depth: usize,
    /// `resources/subscribe` URIs one 2025-era session may hold (memory held
    /// per client); one more is refused.
    pub max_subscriptions: usize,
    /// Longest URI `resources/subscribe` accepts (memory held per
    /// subscription; a `{+var}` template matches URIs of any length).
    pub max_subscription_uri: usize,
    /// Seconds a sealed `requestState` stays valid
    /// ([`Context::seal_state`]): the replay window of an input-required
    /// retry.
    pub request_state_ttl_secs: u64,
    /// Live SSE streams the instance holds at once, open or finished but
    /// still resumable ([`McpConfig::live_streams`]; memory).
    pub max_streams: usize,
    /// Live streams one session may hold (POST streams and its standalone
    /// `GET` stream); one more is refused with 503 unless a finished one
    /// can go.
    pub max_streams_per_session: usize,
    /// Events logged per live stream for `Last-Event-ID` replay; further
    /// notifications are dropped (the response always fits).
    pub max_stream_events: usize,
    /// Seconds a finished live stream stays resumable.
    pub stream_retention_secs: u64,
    /// Server-to-client requests (sampling, elicitation, roots) awaiting
    /// the client's answer across the instance; one more fails the call.
    pub max_pending_inputs: usize,
    /// Seconds a server-to-client request waits for its answer before it
    /// counts as refused (checked when another request is sent).
    pub input_wait_secs: u64,
    /// Longest a streamed call may run, waits for the client included: the
    /// host drops the call then, and its stream ends with an error.
    pub live_call_secs: u64,
    /// Seconds a live stream may stay silent before the host writes an SSE
    /// comment ([`sse::KEEP_ALIVE`]): proxies and tunnels close idle
    /// connections (nginx after 60 s, Cloudflare after 100 s by default).
    /// 0 writes none.
    pub sse_keep_alive_secs: u64,
}

impl Default for McpLimits {
    fn default() -> Self {
        McpLimits {
            frame: FrameLimits::default(),
            page_size: 50,
            sessions: 1024,
            sessions_per_subject: 32,
            session_idle_secs: 3600,
            max_notifications: 256,
            max_schema_depth: 32,
            max_subscriptions: 32,
            max_subscription_uri: 2048,
            request_state_ttl_secs: 600,
            max_streams: 4096,
            max_streams_per_session: 16,
            max_stream_events: 256,
            stream_retention_secs: 300,
            max_pending_inputs: 1024,
            input_wait_secs: 300,
            live_call_secs: 900,
            sse_keep_alive_secs: 15,
        }
    }
}

/// Configuration of an [`McpServer`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct McpConfig {
    /// `serverInfo.name`.
    pub server_name: String,
    /// `serverInfo.version`.
    pub server_version: String,
    /// `serverInfo.title`, if any.
    pub server_title: Option<String>,
    /// `instructions` for the model, if any.
    pub instructions: Option<String>,
    /// The MCP endpoint path (default `/mcp`).
    pub endpoint_path: String,
    /// Allowed `Host` header values (`host[:port]`, case-insensitive). Empty
    /// means no Host check (the host is behind a proxy that routes by name).
    pub allowed_hosts: Vec<String>,
    /// 2025 era without sessions: no `Mcp-Session-Id` is minted or required
    /// (ChatGPT has been seen not to echo it).
    pub stateless: bool,
    /// 2025 era without sessions ([`McpConfig::stateless`]): the minimum
    /// level of the log notifications sent with a response. A stateless
    /// server cannot keep a client's `logging/setLevel` for its next request
    /// (it is acknowledged and changes nothing), so the operator chooses
    /// instead. `None` (the default) sends no logs. Sessions keep the level
    /// their client set; 2026-07-28 requests carry their own.
    pub stateless_log_level: Option<LogLevel>,
    /// Bounds.
    pub limits: McpLimits,
    /// How a missing tool scope is reported.
    pub scope_challenge: ScopeChallenge,
    /// The protected-resource metadata URL put into
    /// `_meta["mcp/www_authenticate"]` challenges
    /// ([`ScopeChallenge::ToolErrorMeta`]).
    pub resource_metadata_url: Option<String>,
    /// `retry` hint (milliseconds) of 2025-era SSE response bodies.
    pub sse_retry_ms: u32,
    /// `ttlMs` of cacheable 2026-era results.
    pub cache_ttl_ms: u64,
    /// 2025 era: answer `tools/call` with a live SSE stream
    /// ([`McpOutcome::Stream`]), offer the standalone `GET` stream and
    /// `Last-Event-ID` resumption, and let tools ask the client for input
    /// (sampling, elicitation, roots) during the call. Only for hosts that
    /// can hold a response open while the call runs (host-std); off, every
    /// response is buffered and `GET` answers 405.
    pub live_streams: bool,
}

impl McpConfig {
    /// A configuration with defaults: endpoint `/mcp`, sessions on, no
    /// Host check. (Browser origins are the router's CORS policy.)
    pub fn new(server_name: impl Into<String>, server_version: impl Into<String>) -> McpConfig {
        McpConfig {
            server_name: server_name.into(),
            server_version: server_version.into(),
            server_title: None,
            instructions: None,
            endpoint_path: String::from("/mcp"),
            allowed_hosts: Vec::new(),
            stateless: false,
            stateless_log_level: None,
            limits: McpLimits::default(),
            scope_challenge: ScopeChallenge::default(),
            resource_metadata_url: None,
            sse_retry_ms: 3000,
            cache_ttl_ms: 0,
            live_streams: false,
        }
    }
}

/// What [`McpServer::handle`] decided.
#[derive(Debug, PartialEq, Eq)]
pub enum McpOutcome {
    /// A finished response: write it.
    Response(http::Response),
    /// A live SSE stream ([`McpConfig::live_streams`]): write the head, run
    /// the call (if any), and write the events the reader yields until it
    /// ends. [`McpServer::finish_buffered`] turns it into one response.
    Stream(alloc::boxed::Box<LiveStream>),
    /// The caller lacks scopes a tool requires: answer 403 with a
    /// `WWW-Authenticate: Bearer error="insufficient_scope", scope="…"`
    /// step-up challenge naming `required` (the router owns the challenge
    /// because it knows the resource metadata URL).
    InsufficientScope {
        /// Every scope the tool requires (not only the missing ones), so the
        /// client can ask for the full set.
        required: Vec<String>,
    },
}

impl McpOutcome {
    /// The response, if this is one.
    pub fn response(&self) -> Option<&http::Response> {
        match self {
            McpOutcome::Response(r) => Some(r),
            McpOutcome::Stream(s) => Some(&s.response),
            McpOutcome::InsufficientScope { .. } => None,
        }
    }
}
