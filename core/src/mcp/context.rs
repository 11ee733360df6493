//! The per-request [`Context`] handlers receive, and the errors and log
//! levels they use.

use alloc::borrow::Cow;
use alloc::string::{String, ToString};
use alloc::vec::Vec;

use serde_json::{Map, Value, json};

use super::ProtocolVersion;
use super::jsonrpc::{ErrorCode, RequestId};
use crate::principal::Principal;
use crate::sync::{Arc, AtomicBool, Ordering};

/// An error a handler returns; becomes a JSON-RPC error response.
#[derive(Debug, Clone, PartialEq)]
pub struct McpError {
    /// The code.
    pub code: ErrorCode,
    /// The message sent to the client.
    pub message: Cow<'static, str>,
    /// Optional `data`.
    pub data: Option<Value>,
}

impl McpError {
    /// An error with a code and client-visible message.
    pub fn new(code: ErrorCode, message: impl Into<Cow<'static, str>>) -> McpError {
        McpError {
            code,
            message: message.into(),
            data: None,
        }
    }

    /// -32602 with a client-visible message.
    pub fn invalid_params(message: impl Into<Cow<'static, str>>) -> McpError {
        McpError::new(ErrorCode::InvalidParams, message)
    }

    /// -32603 with the fixed message "Internal error" (nothing leaks).
    pub fn internal() -> McpError {
        McpError::new(ErrorCode::InternalError, "Internal error")
    }

    /// Builder: attach `data`.
    pub fn with_data(mut self, data: Value) -> McpError {
        self.data = Some(data);
        self
    }
}

/// Log levels (RFC 5424 severities), lowest first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum LogLevel {
    /// debug
    Debug,
    /// info
    Info,
    /// notice
    Notice,
    /// warning
    Warning,
    /// error
    Error,
    /// critical
    Critical,
    /// alert
    Alert,
    /// emergency
    Emergency,
}

impl LogLevel {
    /// Parse the wire form.
    pub fn parse(s: &str) -> Option<LogLevel> {
        Some(match s {
            "debug" => LogLevel::Debug,
            "info" => LogLevel::Info,
            "notice" => LogLevel::Notice,
            "warning" => LogLevel::Warning,
            "error" => LogLevel::Error,
            "critical" => LogLevel::Critical,
            "alert" => LogLevel::Alert,
            "emergency" => LogLevel::Emergency,
            _ => return None,
        })
    }

    /// The wire form.
    pub const fn as_str(self) -> &'static str {
        match self {
            LogLevel::Debug => "debug",
            LogLevel::Info => "info",
            LogLevel::Notice => "notice",
            LogLevel::Warning => "warning",
            LogLevel::Error => "error",
            LogLevel::Critical => "critical",
            LogLevel::Alert => "alert",
            LogLevel::Emergency => "emergency",
        }
    }
}

/// Everything a handler knows about the request it serves, and its channel
/// for progress and log notifications.
#[derive(Debug)]
pub struct Context {
    /// The authenticated caller (`None` when the deployment runs without
    /// authorization), shared with the host's token cache rather than
    /// copied for each request.
    pub principal: Option<Arc<Principal>>,
    /// The protocol version of this request.
    pub protocol_version: ProtocolVersion,
    /// The JSON-RPC id of this request.
    pub request_id: RequestId,
    /// The request's `params._meta`, as received.
    pub meta: Map<String, Value>,
    /// The client's capabilities: 2026-07-28 per request
    /// (`io.modelcontextprotocol/clientCapabilities`); 2025-era sessions
    /// their `initialize` declaration of `sampling`, `elicitation` and
    /// `roots` (the only ones the server acts on). `None` in a stateless
    /// 2025-era deployment.
    pub client_capabilities: Option<Value>,
    /// 2026-07-28 retry of an input-required request: `params.inputResponses`
    /// (an object of objects, checked before the handler runs).
    pub(crate) input_responses: Option<Map<String, Value>>,
    /// 2026-07-28 retry: `params.requestState` as echoed by the client.
    pub(crate) request_state: Option<String>,
    /// Sealing of `requestState` (2026-07-28 input-capable requests of a
    /// server with a state key).
    pub(crate) seal: Option<super::state::StateSeal>,
    pub(crate) progress_token: Option<Value>,
    pub(crate) log_level: Option<LogLevel>,
    /// Made for a call that may wait ([`Context::cancellation`]): one that
    /// cannot is never reached by `notifications/cancelled`.
    pub(crate) cancelled: Option<Arc<AtomicBool>>,
    pub(crate) notifications: Vec<Value>,
    pub(crate) max_notifications: usize,
    /// URIs passed to [`Context::resource_updated`] (bounded like
    /// notifications); the server keeps those the session subscribed to.
    pub(crate) updated: Vec<String>,
    /// 2025-era live call: notifications go to its stream at once, and the
    /// tool may ask the client for input.
    pub(crate) live: Option<super::live::LiveSink>,
}

impl Context {
    pub(crate) fn new(
        principal: Option<&Arc<Principal>>,
        protocol_version: ProtocolVersion,
        request_id: RequestId,
        meta: Map<String, Value>,
        max_notifications: usize,
    ) -> Context {
        let progress_token = meta
            .get("progressToken")
            .filter(|v| v.is_string() || v.is_i64() || v.is_u64())
            .cloned();
        Context {
            principal: principal.cloned(),
            protocol_version,
            request_id,
            meta,
            client_capabilities: None,
            input_responses: None,
            request_state: None,
            seal: None,
            progress_token,
            log_level: None,
            cancelled: None,
            notifications: Vec::new(),
            max_notifications,
            updated: Vec::new(),
            live: None,
        }
    }

    /// Whether the client cancelled this request (2025 era,
    /// `notifications/cancelled`). In the 2026 era closing the response
    /// stream cancels: the host drops the future.
    pub fn is_cancelled(&self) -> bool {
        self.cancelled
            .as_ref()
            .is_some_and(|c| c.load(Ordering::Relaxed))
    }

    /// A handle that turns true when the request is cancelled.
    pub fn cancellation(&mut self) -> Arc<AtomicBool> {
        self.cancelled
            .get_or_insert_with(|| Arc::new(AtomicBool::new(false)))
            .clone()
    }

    /// The client's answer to input request `key` of an earlier
    /// [`InputRequired`](super::InputRequired), on the retried request
    /// (2026-07-28 `params.inputResponses`). Keys not asked for are the
    /// client's noise: ignore them.
    pub fn input_response(&self, key: &str) -> Option<&Value> {
        self.input_responses.as_ref().and_then(|m| m.get(key))
    }

    /// All of `params.inputResponses` of a retried request, if any.
    pub fn input_responses(&self) -> Option<&Map<String, Value>> {
        self.input_responses.as_ref()
    }

    /// The `requestState` the client echoed on a retried request
    /// (2026-07-28): attacker-controlled, verify before trusting it.
    pub fn request_state(&self) -> Option<&str> {
        self.request_state.as_deref()
    }

    /// Seal `value` into a `requestState` string for an
    /// [`InputRequired`](super::InputRequired): MACed with the server's key
    /// ([`McpServer::with_request_state_key`](super::McpServer::with_request_state_key))
    /// and bound to this principal, this request (method and tool/prompt
    /// name or resource URI) and an expiry
    /// ([`McpLimits::request_state_ttl_secs`](super::McpLimits::request_state_ttl_secs)).
    /// Readable by the client: integrity, not secrecy. `None` without a key
    /// or outside a 2026-07-28 `tools/call`, `prompts/get`, `resources/read`.
    pub fn seal_state(&self, value: &Value) -> Option<String> {
        self.seal.as_ref().map(|s| s.seal(value))
    }

    /// Open the `requestState` of this retry sealed by [`Context::seal_state`]:
    /// `Ok(None)` when the request carries none, the value when it checks
    /// out, and -32602 "Invalid requestState" when it was altered, expired,
    /// or sealed for another principal or request (or no key is set).
    pub fn open_state(&self) -> Result<Option<Value>, McpError> {
        let Some(state) = self.request_state.as_deref() else {
            return Ok(None);
        };
        self.seal
            .as_ref()
            .and_then(|s| s.open(state))
            .map(Some)
            .ok_or_else(|| McpError::invalid_params("Invalid requestState"))
    }

    /// Whether an input request calling `method` (`elicitation/create`,
    /// `sampling/createMessage`, `roots/list`) may be sent: a 2026-07-28
    /// request whose client declared the matching capability, or a 2025-era
    /// live `tools/call` ([`McpConfig::live_streams`](super::McpConfig::live_streams))
    /// whose session's client declared it at `initialize` (a stateless
    /// deployment does not know the client's capabilities: it may ask, and
    /// a client without the capability answers with an error).
    pub fn can_request_input(&self, method: &str) -> bool {
        let known = super::features::INPUT_METHODS
            .iter()
            .any(|(m, _)| *m == method);
        if self.protocol_version.is_modern() {
            self.missing_capability(method).is_none()
        } else {
            known
                && self.live.is_some()
                && (self.client_capabilities.is_none() || self.missing_capability(method).is_none())
        }
    }

    /// SSE polling (2025-11-25 live streams): end this call's current HTTP
    /// response now; the call goes on, and the client fetches the rest of
    /// its events with a `GET` carrying `Last-Event-ID`. Elsewhere a no-op.
    pub fn close_sse_stream(&mut self) {
        if self.protocol_version >= ProtocolVersion::V2025_11_25
            && let Some(live) = &mut self.live
        {
            live.close_connection();
        }
    }

    /// The client capability `method` needs and this request did not
    /// declare (`Some("")` for a method that is no input request).
    pub(crate) fn missing_capability(&self, method: &str) -> Option<&'static str> {
        let Some((_, cap)) = super::features::INPUT_METHODS
            .iter()
            .find(|(m, _)| *m == method)
        else {
            return Some("");
        };
        let declared = self
            .client_capabilities
            .as_ref()
            .and_then(|c| c.get(*cap))
            .is_some_and(Value::is_object);
        (!declared).then_some(*cap)
    }

    /// Whether the client asked for progress (`_meta.progressToken`).
    pub fn wants_progress(&self) -> bool {
        self.progress_token.is_some()
    }

    /// Emit `notifications/progress` (only if the client sent a progress
    /// token; otherwise a no-op). `progress` should increase with each call.
    pub fn progress(&mut self, progress: f64, total: Option<f64>, message: Option<&str>) {
        let Some(token) = self.progress_token.clone() else {
            return;
        };
        let mut params = Map::new();
        params.insert("progressToken".into(), token);
        params.insert("progress".into(), json!(progress));
        if let Some(t) = total {
            params.insert("total".into(), json!(t));
        }
        if let Some(m) = message {
            params.insert("message".into(), Value::String(m.to_string()));
        }
        self.push("notifications/progress", params);
    }

    /// Emit `notifications/message` at `level`, if the client asked for logs
    /// at this level or lower: 2025 era with `logging/setLevel` on the
    /// session, 2026 era with `_meta["io.modelcontextprotocol/logLevel"]` on
    /// the request. Otherwise a no-op.
    pub fn log(&mut self, level: LogLevel, logger: Option<&str>, data: Value) {
        match self.log_level {
            Some(min) if level >= min => {}
            _ => return,
        }
        let mut params = Map::new();
        params.insert("level".into(), Value::String(level.as_str().into()));
        if let Some(l) = logger {
            params.insert("logger".into(), Value::String(l.into()));
        }
        params.insert("data".into(), data);
        self.push("notifications/message", params);
    }

    /// Report that resource `uri` changed. When this request belongs to a
    /// 2025-era session that subscribed to `uri` (`resources/subscribe`), a
    /// `notifications/resources/updated` is sent with this response, after
    /// the handler's other notifications. With live streams
    /// ([`McpConfig::live_streams`](super::McpConfig::live_streams)) every
    /// other subscribed session is told on its standalone `GET` stream, if
    /// it has one open; otherwise no other session is told.
    pub fn resource_updated(&mut self, uri: &str) {
        if self.updated.len() < self.max_notifications && !self.updated.iter().any(|u| u == uri) {
            self.updated.push(uri.to_string());
        }
    }

    fn push(&mut self, method: &str, params: Map<String, Value>) {
        if let Some(live) = &mut self.live {
            let note = json!({"jsonrpc": "2.0", "method": method, "params": params});
            live.push(note.to_string());
        } else if self.notifications.len() < self.max_notifications {
            self.notifications
                .push(json!({"jsonrpc": "2.0", "method": method, "params": params}));
        }
    }
}
