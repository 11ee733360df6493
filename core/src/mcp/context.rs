//! The per-request [`Context`] handlers receive, and the errors and log
//! levels they use.

use alloc::borrow::Cow;
use alloc::string::{String, ToString};
use alloc::sync::Arc;
use alloc::vec::Vec;
use core::sync::atomic::{AtomicBool, Ordering};

use serde_json::{Map, Value, json};

use super::ProtocolVersion;
use super::jsonrpc::{ErrorCode, RequestId};
use crate::principal::Principal;

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
    /// authorization).
    pub principal: Option<Principal>,
    /// The protocol version of this request.
    pub protocol_version: ProtocolVersion,
    /// The JSON-RPC id of this request.
    pub request_id: RequestId,
    /// The request's `params._meta`, as received.
    pub meta: Map<String, Value>,
    /// The 2026-era per-request `io.modelcontextprotocol/clientCapabilities`.
    /// `None` in the 2025 era (capabilities from `initialize` are not kept).
    pub client_capabilities: Option<Value>,
    pub(crate) progress_token: Option<Value>,
    pub(crate) log_level: Option<LogLevel>,
    pub(crate) cancelled: Arc<AtomicBool>,
    pub(crate) notifications: Vec<Value>,
    pub(crate) max_notifications: usize,
    /// URIs passed to [`Context::resource_updated`] (bounded like
    /// notifications); the server keeps those the session subscribed to.
    pub(crate) updated: Vec<String>,
}

impl Context {
    pub(crate) fn new(
        principal: Option<&Principal>,
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
            progress_token,
            log_level: None,
            cancelled: Arc::new(AtomicBool::new(false)),
            notifications: Vec::new(),
            max_notifications,
            updated: Vec::new(),
        }
    }

    /// Whether the client cancelled this request (2025 era,
    /// `notifications/cancelled`). In the 2026 era closing the response
    /// stream cancels: the host drops the future.
    pub fn is_cancelled(&self) -> bool {
        self.cancelled.load(Ordering::Relaxed)
    }

    /// A handle that turns true when the request is cancelled.
    pub fn cancellation(&self) -> Arc<AtomicBool> {
        self.cancelled.clone()
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
    /// the handler's other notifications. Responses are buffered and no
    /// standalone stream is offered, so no other session is told; otherwise
    /// a no-op.
    pub fn resource_updated(&mut self, uri: &str) {
        if self.updated.len() < self.max_notifications && !self.updated.iter().any(|u| u == uri) {
            self.updated.push(uri.to_string());
        }
    }

    fn push(&mut self, method: &str, params: Map<String, Value>) {
        if self.notifications.len() < self.max_notifications {
            self.notifications
                .push(json!({"jsonrpc": "2.0", "method": method, "params": params}));
        }
    }
}
