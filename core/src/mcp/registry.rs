//! The [`Registry`]: what the application registers (tools, resources,
//! resource templates, prompts, completion), each with an async handler.

use alloc::boxed::Box;
use alloc::string::String;
use alloc::vec::Vec;
use core::fmt;
use core::future::Future;
use core::pin::Pin;

use serde_json::{Map, Value, json};

use super::context::{Context, McpError};
use super::features::{
    CallToolResult, GetPromptResult, Prompt, Resource, ResourceContents, ResourceTemplate, Tool,
};
use super::schema::CompiledSchema;

/// A boxed, `Send` future: what every handler returns.
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// MIME type of an OpenAI Apps SDK widget (ChatGPT).
pub const MIME_SKYBRIDGE: &str = "text/html+skybridge";
/// MIME type of an MCP Apps (`io.modelcontextprotocol/ui`) widget.
pub const MIME_MCP_APP: &str = "text/html;profile=mcp-app";

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

    /// Run the tool without a future, if it cannot wait (an
    /// [`immediate_tool`](Registry::immediate_tool)'s handler): `Err` hands
    /// `arguments` back for [`ToolHandler::call`]. Provided: every handler
    /// may wait.
    fn call_now(
        &self,
        ctx: &mut Context,
        arguments: Map<String, Value>,
    ) -> Result<Result<CallToolResult, McpError>, Map<String, Value>> {
        let _ = ctx;
        Err(arguments)
    }
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

/// The handler of an [`Registry::immediate_tool`]: its answer, ready at
/// the first poll.
struct Immediate<F>(F);

impl<F> ToolHandler for Immediate<F>
where
    F: Fn(&mut Context, Map<String, Value>) -> Result<CallToolResult, McpError> + Send + Sync,
{
    fn call<'a>(
        &'a self,
        ctx: &'a mut Context,
        arguments: Map<String, Value>,
    ) -> BoxFuture<'a, Result<CallToolResult, McpError>> {
        Box::pin(core::future::ready((self.0)(ctx, arguments)))
    }

    fn call_now(
        &self,
        ctx: &mut Context,
        arguments: Map<String, Value>,
    ) -> Result<Result<CallToolResult, McpError>, Map<String, Value>> {
        Ok((self.0)(ctx, arguments))
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
    /// The input schema, compiled once here rather than walked by keyword
    /// name on every call.
    pub(crate) input_validator: CompiledSchema,
    /// The output schema, compiled likewise.
    pub(crate) output_validator: Option<CompiledSchema>,
    /// Registered with [`Registry::immediate_tool`]: it answers at once, so
    /// its calls never need a live stream.
    pub(crate) immediate: bool,
}

impl ToolEntry {
    /// Whether `caller` holds every scope the tool requires.
    pub(crate) fn permits(&self, caller: Option<&crate::principal::Principal>) -> bool {
        let required = &self.tool.required_scopes;
        required.is_empty() || caller.is_some_and(|p| required.iter().all(|s| p.has_scope(s)))
    }

    /// Whether a 2025-era call of the tool by `caller` may go live: it may
    /// wait (not immediate) and the caller holds its scopes (errors and
    /// challenges stay plain responses).
    pub(crate) fn streams_for(&self, caller: Option<&crate::principal::Principal>) -> bool {
        !self.immediate && self.permits(caller)
    }
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

    /// Register a tool whose handler answers at once: a plain function of
    /// the context and the arguments, with no `await`.
    ///
    /// With 2025-era live streams ([`McpConfig::live_streams`](super::McpConfig::live_streams)),
    /// its calls skip the stream machinery (a stream key, the stream's
    /// entry, a spawned-task future per call) that only a call which waits
    /// needs: they are answered as without live streams, the notifications
    /// the handler logged ahead of the result in the same response. So the
    /// handler cannot ask the client for input within a 2025-era call: an
    /// `input_required` result ends it with -32603, as without live streams
    /// (2026-07-28 calls return it to the client either way).
    pub fn immediate_tool<F>(
        &mut self,
        tool: Tool,
        handler: F,
    ) -> Result<&mut Registry, RegistryError>
    where
        F: Fn(&mut Context, Map<String, Value>) -> Result<CallToolResult, McpError>
            + Send
            + Sync
            + 'static,
    {
        self.push_tool(tool, Box::new(Immediate(handler)), true)
    }

    /// Register a tool with a [`ToolHandler`] implementation.
    pub fn tool_handler(
        &mut self,
        tool: Tool,
        handler: impl ToolHandler + 'static,
    ) -> Result<&mut Registry, RegistryError> {
        self.push_tool(tool, Box::new(handler), false)
    }

    fn push_tool(
        &mut self,
        tool: Tool,
        handler: Box<dyn ToolHandler>,
        immediate: bool,
    ) -> Result<&mut Registry, RegistryError> {
        if self.find_tool(&tool.name).is_some() {
            return Err(RegistryError::Duplicate(tool.name));
        }
        if !tool.input_schema.is_object() {
            return Err(RegistryError::InvalidSchema(tool.name));
        }
        let Ok(param_headers) = super::params::param_headers(&tool.input_schema) else {
            return Err(RegistryError::InvalidSchema(tool.name));
        };
        let input_validator = CompiledSchema::compile(&tool.input_schema);
        let output_validator = tool.output_schema.as_ref().map(CompiledSchema::compile);
        self.tools.push(ToolEntry {
            tool,
            handler,
            param_headers,
            input_validator,
            output_validator,
            immediate,
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
    /// Whether any resource or template is registered.
    /// The tool named `name`.
    pub(crate) fn find_tool(&self, name: &str) -> Option<&ToolEntry> {
        self.tools.iter().find(|t| t.tool.name == name)
    }

    pub(crate) fn has_resources(&self) -> bool {
        !self.resources.is_empty() || !self.templates.is_empty()
    }

    /// Whether `uri` is a registered resource or matches a template.
    pub(crate) fn resource_known(&self, uri: &str) -> bool {
        self.resources.iter().any(|r| r.resource.uri == uri)
            || self.templates.iter().any(|t| t.template.matches(uri))
    }

    /// `legacy`: the 2025 era (`logging`); `subscribe`: 2025-era sessions
    /// hold `resources/subscribe` subscriptions.
    pub(crate) fn capabilities(&self, legacy: bool, subscribe: bool) -> Value {
        let mut caps = Map::new();
        if !self.tools.is_empty() {
            caps.insert("tools".into(), json!({"listChanged": false}));
        }
        if self.has_resources() {
            caps.insert(
                "resources".into(),
                json!({"listChanged": false, "subscribe": subscribe}),
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
