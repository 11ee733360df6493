//! What the application describes: tools, resources, resource templates,
//! prompts, and the results their handlers return. Each knows its wire form.

use alloc::string::String;
use alloc::vec::Vec;

use serde_json::{Map, Value, json};

/// A 2026-07-28 `InputRequiredResult` (multi round-trip requests): the
/// server needs the client to run `inputRequests` (elicitation, sampling,
/// roots) and retry the original request with their results as
/// `inputResponses`, echoing `requestState`. A handler returns it through
/// [`CallToolResult::input_required`] or [`GetPromptResult::input_required`]
/// and reads the retry's answers with [`Context::input_response`] and
/// [`Context::request_state`](super::Context::request_state).
///
/// The server refuses to send a request the client did not declare the
/// capability for (-32021 with `data.requiredCapabilities`, HTTP 400), and
/// answers one in the 2025 era (which has no such result) with -32603: check
/// [`Context::can_request_input`](super::Context::can_request_input) first.
///
/// `requestState` travels through the client: treat what comes back as
/// attacker-controlled, and protect its integrity when it decides anything.
///
/// [`Context::input_response`]: super::Context::input_response
#[derive(Debug, Clone, PartialEq, Default)]
pub struct InputRequired {
    /// Requests by server-assigned key: `{"method": …, "params": …}`.
    pub input_requests: Map<String, Value>,
    /// Opaque state the client echoes on its retry.
    pub request_state: Option<String>,
}

/// Methods an input request may name, with the client capability each needs.
pub(crate) const INPUT_METHODS: [(&str, &str); 3] = [
    ("elicitation/create", "elicitation"),
    ("sampling/createMessage", "sampling"),
    ("roots/list", "roots"),
];

impl InputRequired {
    /// No requests yet.
    pub fn new() -> InputRequired {
        InputRequired::default()
    }

    /// Builder: add request `key` calling `method` (`elicitation/create`,
    /// `sampling/createMessage` or `roots/list`) with `params`.
    pub fn request(mut self, key: impl Into<String>, method: &str, params: Value) -> Self {
        self.input_requests
            .insert(key.into(), json!({"method": method, "params": params}));
        self
    }

    /// Builder: set `requestState`.
    pub fn with_state(mut self, state: impl Into<String>) -> Self {
        self.request_state = Some(state.into());
        self
    }

    pub(crate) fn to_json(&self) -> Map<String, Value> {
        let mut m = Map::new();
        m.insert("resultType".into(), Value::String("input_required".into()));
        if !self.input_requests.is_empty() {
            m.insert(
                "inputRequests".into(),
                Value::Object(self.input_requests.clone()),
            );
        }
        if let Some(s) = &self.request_state {
            m.insert("requestState".into(), Value::String(s.clone()));
        }
        m
    }
}

/// One content block of a tool result.
///
/// Plain text, the block nearly every tool returns, is kept as its string
/// and written straight to the response: no JSON map, no key strings.
/// Every other block (images, audio, resource links, embedded resources,
/// text with annotations or `_meta`) is its JSON.
#[derive(Debug, Clone, PartialEq)]
pub enum ContentBlock {
    /// `{"type": "text", "text": …}`.
    Text(String),
    /// Any block, as JSON.
    Json(Value),
}

impl ContentBlock {
    /// The block's wire form.
    pub fn to_json(&self) -> Value {
        match self {
            ContentBlock::Text(text) => json!({"type": "text", "text": text}),
            ContentBlock::Json(value) => value.clone(),
        }
    }
}

impl From<Value> for ContentBlock {
    fn from(value: Value) -> ContentBlock {
        ContentBlock::Json(value)
    }
}

impl serde::Serialize for ContentBlock {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        match self {
            // Members in a `Value` map's (sorted) order: the same bytes as
            // the JSON form.
            ContentBlock::Text(text) => {
                let mut m = s.serialize_map(Some(2))?;
                m.serialize_entry("text", text)?;
                m.serialize_entry("type", "text")?;
                m.end()
            }
            ContentBlock::Json(value) => value.serialize(s),
        }
    }
}

/// The result of a tool call.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct CallToolResult {
    /// Content blocks (text, images, resources…).
    pub content: Vec<ContentBlock>,
    /// Structured result (validated against the tool's `outputSchema`).
    pub structured_content: Option<Value>,
    /// Whether this reports a tool execution error.
    pub is_error: bool,
    /// `_meta`, passed through untouched.
    pub meta: Option<Map<String, Value>>,
    /// Instead of a result: ask the client for input first (2026-07-28).
    pub input_required: Option<InputRequired>,
}

impl CallToolResult {
    /// Ask the client for input before the tool can finish (2026-07-28).
    pub fn input_required(input: InputRequired) -> CallToolResult {
        CallToolResult {
            input_required: Some(input),
            ..CallToolResult::default()
        }
    }

    /// One text block.
    pub fn text(text: impl Into<String>) -> CallToolResult {
        CallToolResult {
            content: alloc::vec![ContentBlock::Text(text.into())],
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
            // `to_string` of the serializer, not `Display`: the same text
            // without the `fmt::Write` detour.
            content: alloc::vec![ContentBlock::Text(
                serde_json::to_string(&value).unwrap_or_default()
            )],
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
        m.insert(
            "content".into(),
            Value::Array(self.content.iter().map(ContentBlock::to_json).collect()),
        );
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
        /// MIME type (e.g. [`MIME_SKYBRIDGE`](super::MIME_SKYBRIDGE), [`MIME_MCP_APP`](super::MIME_MCP_APP)).
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
    /// Instead of a result: ask the client for input first (2026-07-28).
    pub input_required: Option<InputRequired>,
}

impl GetPromptResult {
    /// Ask the client for input before the prompt can be rendered
    /// (2026-07-28).
    pub fn input_required(input: InputRequired) -> GetPromptResult {
        GetPromptResult {
            input_required: Some(input),
            ..GetPromptResult::default()
        }
    }

    /// One user message with text.
    pub fn user_text(text: impl Into<String>) -> GetPromptResult {
        GetPromptResult {
            description: None,
            input_required: None,
            messages: alloc::vec![
                json!({"role": "user", "content": {"type": "text", "text": text.into()}})
            ],
        }
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
