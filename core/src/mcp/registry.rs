//! What the application registers: tools, resources, resource templates,
//! prompts and completions, each with an async handler, plus the per-request
//! [`Context`] handlers receive.

use alloc::borrow::Cow;
use alloc::boxed::Box;
use alloc::string::{String, ToString};
use alloc::sync::Arc;
use alloc::vec::Vec;
use core::fmt;
use core::future::Future;
use core::pin::Pin;
use core::sync::atomic::{AtomicBool, Ordering};

use serde_json::{Map, Value, json};

use super::ProtocolVersion;
use super::jsonrpc::{ErrorCode, RequestId};
use crate::principal::Principal;

/// A boxed, `Send` future: what every handler returns.
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// MIME type of an OpenAI Apps SDK widget (ChatGPT).
pub const MIME_SKYBRIDGE: &str = "text/html+skybridge";
/// MIME type of an MCP Apps (`io.modelcontextprotocol/ui`) widget.
pub const MIME_MCP_APP: &str = "text/html;profile=mcp-app";

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

    fn push(&mut self, method: &str, params: Map<String, Value>) {
        if self.notifications.len() < self.max_notifications {
            self.notifications
                .push(json!({"jsonrpc": "2.0", "method": method, "params": params}));
        }
    }
}

/// The result of a tool call.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct CallToolResult {
    /// Content blocks (`{"type": "text", "text": …}`, images, resources…).
    pub content: Vec<Value>,
    /// Structured result (validated against the tool's `outputSchema`).
    pub structured_content: Option<Value>,
    /// Whether this reports a tool execution error.
    pub is_error: bool,
    /// `_meta`, passed through untouched.
    pub meta: Option<Map<String, Value>>,
}

impl CallToolResult {
    /// One text block.
    pub fn text(text: impl Into<String>) -> CallToolResult {
        CallToolResult {
            content: alloc::vec![json!({"type": "text", "text": text.into()})],
            ..CallToolResult::default()
        }
    }

    /// A tool execution error with one text block (`isError: true`).
    pub fn error(text: impl Into<String>) -> CallToolResult {
        CallToolResult {
            is_error: true,
            ..CallToolResult::text(text)
        }
    }

    /// A structured result; a text block with its JSON is added for clients
    /// that do not read `structuredContent`.
    pub fn structured(value: Value) -> CallToolResult {
        CallToolResult {
            content: alloc::vec![json!({"type": "text", "text": value.to_string()})],
            structured_content: Some(value),
            ..CallToolResult::default()
        }
    }

    /// Builder: set `_meta`.
    pub fn with_meta(mut self, meta: Map<String, Value>) -> CallToolResult {
        self.meta = Some(meta);
        self
    }

    pub(crate) fn to_json(&self) -> Map<String, Value> {
        let mut m = Map::new();
        m.insert("content".into(), Value::Array(self.content.clone()));
        if let Some(s) = &self.structured_content {
            m.insert("structuredContent".into(), s.clone());
        }
        m.insert("isError".into(), Value::Bool(self.is_error));
        if let Some(meta) = &self.meta {
            m.insert("_meta".into(), Value::Object(meta.clone()));
        }
        m
    }
}

/// A tool's handler.
pub trait ToolHandler: Send + Sync {
    /// Run the tool. `arguments` were validated against the input schema.
    /// Tool execution failures are `Ok(CallToolResult::error(…))`; `Err` is a
    /// protocol error.
    fn call<'a>(
        &'a self,
        ctx: &'a mut Context,
        arguments: Map<String, Value>,
    ) -> BoxFuture<'a, Result<CallToolResult, McpError>>;
}

impl<F> ToolHandler for F
where
    F: for<'a> Fn(
            &'a mut Context,
            Map<String, Value>,
        ) -> BoxFuture<'a, Result<CallToolResult, McpError>>
        + Send
        + Sync,
{
    fn call<'a>(
        &'a self,
        ctx: &'a mut Context,
        arguments: Map<String, Value>,
    ) -> BoxFuture<'a, Result<CallToolResult, McpError>> {
        self(ctx, arguments)
    }
}

/// The description of a tool, as listed by `tools/list`.
#[derive(Debug, Clone, PartialEq)]
pub struct Tool {
    /// Unique name.
    pub name: String,
    /// Display title.
    pub title: Option<String>,
    /// Description for the model.
    pub description: Option<String>,
    /// JSON Schema of the arguments (an object schema).
    pub input_schema: Value,
    /// JSON Schema of `structuredContent`, if the tool returns one.
    pub output_schema: Option<Value>,
    /// Annotations (`readOnlyHint`, `destructiveHint`, …).
    pub annotations: Option<Value>,
    /// Icons.
    pub icons: Option<Value>,
    /// `_meta`, passed through untouched (e.g. `openai/outputTemplate`,
    /// `openai/toolInvocation/invoking`, `securitySchemes`).
    pub meta: Option<Map<String, Value>>,
    /// Extra top-level members passed through untouched (e.g. ChatGPT's
    /// `securitySchemes`).
    pub extra: Map<String, Value>,
    /// OAuth scopes a caller needs; without them the call is refused with
    /// an `insufficient_scope` challenge.
    pub required_scopes: Vec<String>,
}

impl Tool {
    /// A tool with a name and input schema.
    pub fn new(name: impl Into<String>, input_schema: Value) -> Tool {
        Tool {
            name: name.into(),
            title: None,
            description: None,
            input_schema,
            output_schema: None,
            annotations: None,
            icons: None,
            meta: None,
            extra: Map::new(),
            required_scopes: Vec::new(),
        }
    }

    /// Builder: description.
    pub fn with_description(mut self, d: impl Into<String>) -> Tool {
        self.description = Some(d.into());
        self
    }

    /// Builder: title.
    pub fn with_title(mut self, t: impl Into<String>) -> Tool {
        self.title = Some(t.into());
        self
    }

    /// Builder: output schema.
    pub fn with_output_schema(mut self, s: Value) -> Tool {
        self.output_schema = Some(s);
        self
    }

    /// Builder: annotations.
    pub fn with_annotations(mut self, a: Value) -> Tool {
        self.annotations = Some(a);
        self
    }

    /// Builder: `_meta`.
    pub fn with_meta(mut self, meta: Map<String, Value>) -> Tool {
        self.meta = Some(meta);
        self
    }

    /// Builder: required scopes.
    pub fn with_required_scopes(mut self, scopes: &[&str]) -> Tool {
        self.required_scopes = scopes.iter().map(|s| String::from(*s)).collect();
        self
    }

    /// Builder: advertise the required scopes as ChatGPT `securitySchemes`
    /// (`[{"type": "oauth2", "scopes": […]}]`, or `noauth` when none), both
    /// top-level and in `_meta`.
    pub fn with_security_schemes(mut self) -> Tool {
        let schemes = if self.required_scopes.is_empty() {
            json!([{"type": "noauth"}])
        } else {
            json!([{"type": "oauth2", "scopes": self.required_scopes}])
        };
        self.extra.insert("securitySchemes".into(), schemes.clone());
        self.meta
            .get_or_insert_with(Map::new)
            .insert("securitySchemes".into(), schemes);
        self
    }

    pub(crate) fn to_json(&self) -> Value {
        let mut m = self.extra.clone();
        m.insert("name".into(), Value::String(self.name.clone()));
        if let Some(t) = &self.title {
            m.insert("title".into(), Value::String(t.clone()));
        }
        if let Some(d) = &self.description {
            m.insert("description".into(), Value::String(d.clone()));
        }
        m.insert("inputSchema".into(), self.input_schema.clone());
        if let Some(s) = &self.output_schema {
            m.insert("outputSchema".into(), s.clone());
        }
        if let Some(a) = &self.annotations {
            m.insert("annotations".into(), a.clone());
        }
        if let Some(i) = &self.icons {
            m.insert("icons".into(), i.clone());
        }
        if let Some(meta) = &self.meta {
            m.insert("_meta".into(), Value::Object(meta.clone()));
        }
        Value::Object(m)
    }
}

/// One item of `resources/read` contents.
#[derive(Debug, Clone, PartialEq)]
pub enum ResourceContents {
    /// Text contents.
    Text {
        /// The URI.
        uri: String,
        /// MIME type (e.g. [`MIME_SKYBRIDGE`], [`MIME_MCP_APP`]).
        mime_type: Option<String>,
        /// The text.
        text: String,
        /// `_meta`, passed through.
        meta: Option<Map<String, Value>>,
    },
    /// Binary contents, base64-encoded by the application.
    Blob {
        /// The URI.
        uri: String,
        /// MIME type.
        mime_type: Option<String>,
        /// Standard base64 of the bytes.
        blob: String,
        /// `_meta`, passed through.
        meta: Option<Map<String, Value>>,
    },
}

impl ResourceContents {
    /// Text contents.
    pub fn text(uri: impl Into<String>, mime: Option<&str>, text: impl Into<String>) -> Self {
        ResourceContents::Text {
            uri: uri.into(),
            mime_type: mime.map(String::from),
            text: text.into(),
            meta: None,
        }
    }

    /// Binary contents from raw bytes (base64-encoded here).
    pub fn blob(uri: impl Into<String>, mime: Option<&str>, bytes: &[u8]) -> Self {
        use base64ct::{Base64, Encoding};
        ResourceContents::Blob {
            uri: uri.into(),
            mime_type: mime.map(String::from),
            blob: Base64::encode_string(bytes),
            meta: None,
        }
    }

    pub(crate) fn to_json(&self) -> Value {
        let (uri, mime, meta, key, body) = match self {
            ResourceContents::Text {
                uri,
                mime_type,
                text,
                meta,
            } => (uri, mime_type, meta, "text", text),
            ResourceContents::Blob {
                uri,
                mime_type,
                blob,
                meta,
            } => (uri, mime_type, meta, "blob", blob),
        };
        let mut m = Map::new();
        m.insert("uri".into(), Value::String(uri.clone()));
        if let Some(t) = mime {
            m.insert("mimeType".into(), Value::String(t.clone()));
        }
        m.insert(key.into(), Value::String(body.clone()));
        if let Some(meta) = meta {
            m.insert("_meta".into(), Value::Object(meta.clone()));
        }
        Value::Object(m)
    }
}

/// A handler reading resources (one URI, or every URI matching a template).
pub trait ResourceHandler: Send + Sync {
    /// Read `uri`. An unknown URI is `Err(McpError::invalid_params(..))`
    /// or an empty vector (then "Resource not found" is answered).
    fn read<'a>(
        &'a self,
        ctx: &'a mut Context,
        uri: &'a str,
    ) -> BoxFuture<'a, Result<Vec<ResourceContents>, McpError>>;
}

impl<F> ResourceHandler for F
where
    F: for<'a> Fn(
            &'a mut Context,
            &'a str,
        ) -> BoxFuture<'a, Result<Vec<ResourceContents>, McpError>>
        + Send
        + Sync,
{
    fn read<'a>(
        &'a self,
        ctx: &'a mut Context,
        uri: &'a str,
    ) -> BoxFuture<'a, Result<Vec<ResourceContents>, McpError>> {
        self(ctx, uri)
    }
}

/// A listed resource. The whole description object is passed through, so
/// any field (`title`, `size`, `annotations`, `_meta`, `icons`) can be set.
#[derive(Debug, Clone, PartialEq)]
pub struct Resource {
    /// The URI (`ui://widget/x.html`, `file:///…`).
    pub uri: String,
    /// The JSON description (`name`, `mimeType`, …) without `uri`.
    pub description: Map<String, Value>,
}

impl Resource {
    /// A resource with a URI, name and MIME type.
    pub fn new(uri: impl Into<String>, name: impl Into<String>, mime: Option<&str>) -> Resource {
        let mut description = Map::new();
        description.insert("name".into(), Value::String(name.into()));
        if let Some(m) = mime {
            description.insert("mimeType".into(), Value::String(m.into()));
        }
        Resource {
            uri: uri.into(),
            description,
        }
    }

    /// Builder: set any member of the description (`title`, `_meta`, …).
    pub fn with(mut self, key: &str, value: Value) -> Resource {
        self.description.insert(key.into(), value);
        self
    }

    pub(crate) fn to_json(&self) -> Value {
        let mut m = self.description.clone();
        m.insert("uri".into(), Value::String(self.uri.clone()));
        Value::Object(m)
    }
}

/// A resource template (RFC 6570 level 1–2: `{var}` matches one path
/// segment, `{+var}` anything).
#[derive(Debug, Clone, PartialEq)]
pub struct ResourceTemplate {
    /// The URI template.
    pub uri_template: String,
    /// The JSON description (`name`, `mimeType`, …) without `uriTemplate`.
    pub description: Map<String, Value>,
}

impl ResourceTemplate {
    /// A template with a name and MIME type.
    pub fn new(template: impl Into<String>, name: impl Into<String>, mime: Option<&str>) -> Self {
        let r = Resource::new("", name, mime);
        ResourceTemplate {
            uri_template: template.into(),
            description: r.description,
        }
    }

    pub(crate) fn to_json(&self) -> Value {
        let mut m = self.description.clone();
        m.insert(
            "uriTemplate".into(),
            Value::String(self.uri_template.clone()),
        );
        Value::Object(m)
    }

    /// Whether `uri` is an expansion of the template.
    pub fn matches(&self, uri: &str) -> bool {
        template_matches(&self.uri_template, uri)
    }
}

fn template_matches(template: &str, uri: &str) -> bool {
    let Some(open) = template.find('{') else {
        return template == uri;
    };
    let Some(close) = template[open..].find('}').map(|c| open + c) else {
        return template == uri;
    };
    let (prefix, var, rest) = (
        &template[..open],
        &template[open + 1..close],
        &template[close + 1..],
    );
    let Some(tail) = uri.strip_prefix(prefix) else {
        return false;
    };
    let any = var.starts_with('+') || var.starts_with('#');
    // Try every split point; templates are short and registered by the app.
    for (i, _) in tail
        .char_indices()
        .chain(core::iter::once((tail.len(), ' ')))
    {
        let value = &tail[..i];
        if value.is_empty() || (!any && value.contains(['/', '?', '#'])) {
            if !value.is_empty() {
                break;
            }
            continue;
        }
        if template_matches(rest, &tail[i..]) {
            return true;
        }
    }
    false
}

/// One argument of a prompt.
#[derive(Debug, Clone, PartialEq)]
pub struct PromptArgument {
    /// Name.
    pub name: String,
    /// Description.
    pub description: Option<String>,
    /// Whether `prompts/get` must supply it.
    pub required: bool,
}

/// A listed prompt.
#[derive(Debug, Clone, PartialEq)]
pub struct Prompt {
    /// Unique name.
    pub name: String,
    /// Title.
    pub title: Option<String>,
    /// Description.
    pub description: Option<String>,
    /// Arguments.
    pub arguments: Vec<PromptArgument>,
}

impl Prompt {
    pub(crate) fn to_json(&self) -> Value {
        let mut m = Map::new();
        m.insert("name".into(), Value::String(self.name.clone()));
        if let Some(t) = &self.title {
            m.insert("title".into(), Value::String(t.clone()));
        }
        if let Some(d) = &self.description {
            m.insert("description".into(), Value::String(d.clone()));
        }
        let args: Vec<Value> = self
            .arguments
            .iter()
            .map(|a| {
                let mut o = json!({"name": a.name, "required": a.required});
                if let (Some(d), Some(obj)) = (&a.description, o.as_object_mut()) {
                    obj.insert("description".into(), Value::String(d.clone()));
                }
                o
            })
            .collect();
        m.insert("arguments".into(), Value::Array(args));
        Value::Object(m)
    }
}

/// The result of `prompts/get`.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct GetPromptResult {
    /// Description.
    pub description: Option<String>,
    /// Messages (`{"role": "user", "content": {"type": "text", "text": …}}`).
    pub messages: Vec<Value>,
}

impl GetPromptResult {
    /// One user message with text.
    pub fn user_text(text: impl Into<String>) -> GetPromptResult {
        GetPromptResult {
            description: None,
            messages: alloc::vec![
                json!({"role": "user", "content": {"type": "text", "text": text.into()}})
            ],
        }
    }
}

/// A prompt's handler; required arguments were checked before the call.
pub trait PromptHandler: Send + Sync {
    /// Render the prompt.
    fn get<'a>(
        &'a self,
        ctx: &'a mut Context,
        arguments: Map<String, Value>,
    ) -> BoxFuture<'a, Result<GetPromptResult, McpError>>;
}

impl<F> PromptHandler for F
where
    F: for<'a> Fn(
            &'a mut Context,
            Map<String, Value>,
        ) -> BoxFuture<'a, Result<GetPromptResult, McpError>>
        + Send
        + Sync,
{
    fn get<'a>(
        &'a self,
        ctx: &'a mut Context,
        arguments: Map<String, Value>,
    ) -> BoxFuture<'a, Result<GetPromptResult, McpError>> {
        self(ctx, arguments)
    }
}

/// Argument completion (`completion/complete`).
pub trait CompletionHandler: Send + Sync {
    /// Suggest values for argument `name` of `reference` (a `ref/prompt` or
    /// `ref/resource` object) given the partial `value`.
    fn complete<'a>(
        &'a self,
        ctx: &'a mut Context,
        reference: &'a Value,
        name: &'a str,
        value: &'a str,
    ) -> BoxFuture<'a, Result<Vec<String>, McpError>>;
}

/// Registration failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RegistryError {
    /// A tool, prompt or resource with this name/URI is already registered.
    Duplicate(String),
    /// The tool's input schema is not an object schema, or carries an
    /// invalid `x-mcp-header` annotation.
    InvalidSchema(String),
}

impl fmt::Display for RegistryError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RegistryError::Duplicate(n) => write!(f, "duplicate registration: {n}"),
            RegistryError::InvalidSchema(n) => write!(f, "invalid input schema of tool {n}"),
        }
    }
}

pub(crate) struct ToolEntry {
    pub(crate) tool: Tool,
    pub(crate) handler: Box<dyn ToolHandler>,
    /// `x-mcp-header` annotations of the input schema.
    pub(crate) param_headers: Vec<super::params::ParamHeader>,
}
pub(crate) struct ResourceEntry {
    pub(crate) resource: Resource,
    pub(crate) handler: Box<dyn ResourceHandler>,
}
pub(crate) struct TemplateEntry {
    pub(crate) template: ResourceTemplate,
    pub(crate) handler: Box<dyn ResourceHandler>,
}
pub(crate) struct PromptEntry {
    pub(crate) prompt: Prompt,
    pub(crate) handler: Box<dyn PromptHandler>,
}

/// Everything the application serves. Lists keep registration order
/// (deterministic pagination and client-side caching).
#[derive(Default)]
pub struct Registry {
    pub(crate) tools: Vec<ToolEntry>,
    pub(crate) resources: Vec<ResourceEntry>,
    pub(crate) templates: Vec<TemplateEntry>,
    pub(crate) prompts: Vec<PromptEntry>,
    pub(crate) completion: Option<Box<dyn CompletionHandler>>,
}

impl fmt::Debug for Registry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Registry")
            .field(
                "tools",
                &self.tools.iter().map(|t| &t.tool.name).collect::<Vec<_>>(),
            )
            .field("resources", &self.resources.len())
            .field("templates", &self.templates.len())
            .field("prompts", &self.prompts.len())
            .field("completion", &self.completion.is_some())
            .finish()
    }
}

impl Registry {
    /// An empty registry.
    pub fn new() -> Registry {
        Registry::default()
    }

    /// Register a tool with a closure handler:
    /// `|ctx, args| Box::pin(async move { Ok(CallToolResult::text("…")) })`.
    pub fn tool<F>(&mut self, tool: Tool, handler: F) -> Result<&mut Registry, RegistryError>
    where
        F: for<'a> Fn(
                &'a mut Context,
                Map<String, Value>,
            ) -> BoxFuture<'a, Result<CallToolResult, McpError>>
            + Send
            + Sync
            + 'static,
    {
        self.tool_handler(tool, handler)
    }

    /// Register a tool with a [`ToolHandler`] implementation.
    pub fn tool_handler(
        &mut self,
        tool: Tool,
        handler: impl ToolHandler + 'static,
    ) -> Result<&mut Registry, RegistryError> {
        if self.tools.iter().any(|t| t.tool.name == tool.name) {
            return Err(RegistryError::Duplicate(tool.name));
        }
        if !tool.input_schema.is_object() {
            return Err(RegistryError::InvalidSchema(tool.name));
        }
        let Ok(param_headers) = super::params::param_headers(&tool.input_schema) else {
            return Err(RegistryError::InvalidSchema(tool.name));
        };
        self.tools.push(ToolEntry {
            tool,
            handler: Box::new(handler),
            param_headers,
        });
        Ok(self)
    }

    /// Register a resource with a fixed URI and a closure handler
    /// `|ctx, uri| Box::pin(async move { … })`.
    pub fn resource<F>(
        &mut self,
        resource: Resource,
        handler: F,
    ) -> Result<&mut Registry, RegistryError>
    where
        F: for<'a> Fn(
                &'a mut Context,
                &'a str,
            ) -> BoxFuture<'a, Result<Vec<ResourceContents>, McpError>>
            + Send
            + Sync
            + 'static,
    {
        self.resource_handler(resource, handler)
    }

    /// Register a resource with a [`ResourceHandler`] implementation.
    pub fn resource_handler(
        &mut self,
        resource: Resource,
        handler: impl ResourceHandler + 'static,
    ) -> Result<&mut Registry, RegistryError> {
        if self
            .resources
            .iter()
            .any(|r| r.resource.uri == resource.uri)
        {
            return Err(RegistryError::Duplicate(resource.uri));
        }
        self.resources.push(ResourceEntry {
            resource,
            handler: Box::new(handler),
        });
        Ok(self)
    }

    /// Register a resource template with a closure handler reading every
    /// matching URI.
    pub fn resource_template<F>(
        &mut self,
        template: ResourceTemplate,
        handler: F,
    ) -> Result<&mut Registry, RegistryError>
    where
        F: for<'a> Fn(
                &'a mut Context,
                &'a str,
            ) -> BoxFuture<'a, Result<Vec<ResourceContents>, McpError>>
            + Send
            + Sync
            + 'static,
    {
        self.resource_template_handler(template, handler)
    }

    /// Register a resource template with a [`ResourceHandler`].
    pub fn resource_template_handler(
        &mut self,
        template: ResourceTemplate,
        handler: impl ResourceHandler + 'static,
    ) -> Result<&mut Registry, RegistryError> {
        if self
            .templates
            .iter()
            .any(|t| t.template.uri_template == template.uri_template)
        {
            return Err(RegistryError::Duplicate(template.uri_template));
        }
        self.templates.push(TemplateEntry {
            template,
            handler: Box::new(handler),
        });
        Ok(self)
    }

    /// Register a prompt with a closure handler.
    pub fn prompt<F>(&mut self, prompt: Prompt, handler: F) -> Result<&mut Registry, RegistryError>
    where
        F: for<'a> Fn(
                &'a mut Context,
                Map<String, Value>,
            ) -> BoxFuture<'a, Result<GetPromptResult, McpError>>
            + Send
            + Sync
            + 'static,
    {
        self.prompt_handler(prompt, handler)
    }

    /// Register a prompt with a [`PromptHandler`] implementation.
    pub fn prompt_handler(
        &mut self,
        prompt: Prompt,
        handler: impl PromptHandler + 'static,
    ) -> Result<&mut Registry, RegistryError> {
        if self.prompts.iter().any(|p| p.prompt.name == prompt.name) {
            return Err(RegistryError::Duplicate(prompt.name));
        }
        self.prompts.push(PromptEntry {
            prompt,
            handler: Box::new(handler),
        });
        Ok(self)
    }

    /// Set the completion handler (advertises the `completions` capability).
    pub fn completion(&mut self, handler: impl CompletionHandler + 'static) -> &mut Registry {
        self.completion = Some(Box::new(handler));
        self
    }

    /// The server capabilities this registry implies.
    pub(crate) fn capabilities(&self, legacy: bool) -> Value {
        let mut caps = Map::new();
        if !self.tools.is_empty() {
            caps.insert("tools".into(), json!({"listChanged": false}));
        }
        if !self.resources.is_empty() || !self.templates.is_empty() {
            caps.insert(
                "resources".into(),
                json!({"listChanged": false, "subscribe": false}),
            );
        }
        if !self.prompts.is_empty() {
            caps.insert("prompts".into(), json!({"listChanged": false}));
        }
        if self.completion.is_some() {
            caps.insert("completions".into(), json!({}));
        }
        if legacy {
            caps.insert("logging".into(), json!({}));
        }
        Value::Object(caps)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn templates() {
        assert!(template_matches("file:///{path}", "file:///a.txt"));
        assert!(!template_matches("file:///{path}", "file:///a/b.txt"));
        assert!(template_matches("file:///{+path}", "file:///a/b.txt"));
        assert!(template_matches("ui://w/{id}.html", "ui://w/x1.html"));
        assert!(!template_matches("ui://w/{id}.html", "ui://w/.html"));
        assert!(template_matches("plain", "plain"));
        assert!(!template_matches("plain", "plainx"));
    }
}
