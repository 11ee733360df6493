//! Server features shared by both eras: tools, resources, prompts,
//! completion. Each method turns params into a result map or an
//! [`McpError`]; the eras add their envelopes.

use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;

use serde::ser::Serialize;
use serde_json::{Map, Value, json};

use super::context::{Context, McpError};
use super::features::{CallToolResult, ContentBlock, InputRequired};
use super::jsonrpc::{ErrorCode, RequestId};
use super::schema;
use super::server::McpServer;
use super::{ProtocolVersion, ScopeChallenge};

/// What a feature method produced.
#[derive(Debug)]
pub(crate) enum Dispatch {
    /// A result object.
    Result(Map<String, Value>),
    /// A `tools/call` result, kept as it is so that the 2025 era can write
    /// it straight into the response body ([`tool_response_body`]) instead
    /// of building a map first.
    Tool(CallToolResult),
    /// A tool needs scopes the caller lacks (HTTP 403 challenge).
    InsufficientScope(Vec<String>),
    /// No such method.
    NotFound,
    /// A 2025-era live tool call needs client input: the server sends the
    /// requests and invokes the tool again with the answers.
    Input(InputRequired),
}

/// Longest name or URI echoed back in an error message.
const ECHO_MAX: usize = 128;

/// The JSON-RPC response carrying a `tools/call` result, encoded in one pass
/// from the result (no intermediate `Value` maps), byte for byte what
/// encoding `{"jsonrpc", "id", "result": result.to_json()}` as a
/// `serde_json::Value` gives: members in the same (sorted) order.
pub(crate) fn tool_response_body(id: &RequestId, result: &CallToolResult) -> Vec<u8> {
    // The fixed keys are written as they are encoded: only values go
    // through the encoder (its per-key escaping scan and map bookkeeping
    // were most of the encoding's instructions), and the hot values
    // (strings, a numeric id) not even that.
    fn value<T: Serialize + ?Sized>(out: &mut Vec<u8>, v: &T) -> Option<()> {
        // `to_writer` needs std; these values (`_meta`, non-text blocks,
        // structured content) are the rarer ones.
        out.extend_from_slice(&serde_json::to_vec(v).ok()?);
        Some(())
    }
    fn encode(out: &mut Vec<u8>, id: &RequestId, r: &CallToolResult) -> Option<()> {
        out.extend_from_slice(br#"{"id":"#);
        match id {
            RequestId::Number(n) => {
                out.extend_from_slice(itoa::Buffer::new().format(*n).as_bytes())
            }
            RequestId::String(t) => push_json_str(out, t),
        }
        out.extend_from_slice(br#","jsonrpc":"2.0","result":{"#);
        if let Some(meta) = &r.meta {
            out.extend_from_slice(br#""_meta":"#);
            value(out, meta)?;
            out.push(b',');
        }
        out.extend_from_slice(br#""content":["#);
        for (i, block) in r.content.iter().enumerate() {
            if i > 0 {
                out.push(b',');
            }
            match block {
                ContentBlock::Text(text) => {
                    out.extend_from_slice(br#"{"text":"#);
                    push_json_str(out, text);
                    out.extend_from_slice(br#","type":"text"}"#);
                }
                ContentBlock::Json(json) => value(out, json)?,
            }
        }
        out.extend_from_slice(match r.is_error {
            true => br#"],"isError":true"#,
            false => br#"],"isError":false"#,
        });
        if let Some(structured) = &r.structured_content {
            out.extend_from_slice(br#","structuredContent":"#);
            value(out, structured)?;
        }
        out.extend_from_slice(b"}}");
        Some(())
    }
    let mut out = Vec::with_capacity(128);
    // Encoding into a Vec only fails for non-string map keys, which a
    // `serde_json::Map` cannot hold.
    match encode(&mut out, id, result) {
        Some(()) => out,
        None => Vec::new(),
    }
}

/// `s` as a JSON string, escaped as serde_json escapes it: quote and
/// backslash, the short escapes for backspace, form feed, newline,
/// carriage return and tab, a `u00xx` escape for the other control
/// characters, everything else as it is.
fn push_json_str(out: &mut Vec<u8>, s: &str) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    out.push(b'"');
    let bytes = s.as_bytes();
    let mut plain = 0;
    for (i, &b) in bytes.iter().enumerate() {
        let short: &[u8] = match b {
            b'"' => b"\\\"",
            b'\\' => b"\\\\",
            b'\n' => b"\\n",
            b'\r' => b"\\r",
            b'\t' => b"\\t",
            0x08 => b"\\b",
            0x0c => b"\\f",
            0..0x20 => &[
                b'\\',
                b'u',
                b'0',
                b'0',
                HEX[usize::from(b >> 4)],
                HEX[usize::from(b & 0xf)],
            ],
            _ => continue,
        };
        out.extend_from_slice(bytes.get(plain..i).unwrap_or_default());
        out.extend_from_slice(short);
        plain = i + 1;
    }
    out.extend_from_slice(bytes.get(plain..).unwrap_or_default());
    out.push(b'"');
}

fn echo(s: &str) -> String {
    s.chars().take(ECHO_MAX).collect()
}

fn str_param<'p>(params: &'p Map<String, Value>, key: &str) -> Result<&'p str, McpError> {
    params.get(key).and_then(Value::as_str).ok_or_else(|| {
        McpError::invalid_params(format!("Missing or invalid string parameter: {key}"))
    })
}

/// Parse a pagination cursor (`"o<offset>"`); absent means 0.
fn cursor(params: &Map<String, Value>) -> Result<usize, McpError> {
    match params.get("cursor") {
        None | Some(Value::Null) => Ok(0),
        Some(Value::String(c)) => c
            .strip_prefix('o')
            .and_then(|n| n.parse::<usize>().ok())
            .ok_or_else(|| McpError::invalid_params("Invalid cursor")),
        Some(_) => Err(McpError::invalid_params("Invalid cursor")),
    }
}

fn page<T>(
    items: &[T],
    params: &Map<String, Value>,
    page_size: usize,
    key: &str,
    f: impl Fn(&T) -> Value,
) -> Result<Map<String, Value>, McpError> {
    let start = cursor(params)?;
    if start > items.len() {
        return Err(McpError::invalid_params("Invalid cursor"));
    }
    let size = page_size.max(1);
    let end = start.saturating_add(size).min(items.len());
    let list: Vec<Value> = items
        .get(start..end)
        .unwrap_or_default()
        .iter()
        .map(f)
        .collect();
    let mut m = Map::new();
    m.insert(key.into(), Value::Array(list));
    if end < items.len() {
        m.insert("nextCursor".into(), Value::String(format!("o{end}")));
    }
    Ok(m)
}

/// The wire form of a handler's [`InputRequired`], checked: only in the
/// 2026 era (-32603 otherwise: the 2025 era has no such result), at least
/// one request or a state, only the three input methods (-32603), and only
/// those whose client capability the request declared (-32021 naming the
/// missing ones: the spec forbids sending the others).
fn input_required(input: &InputRequired, ctx: &Context) -> Result<Map<String, Value>, McpError> {
    let live_legacy = !ctx.protocol_version.is_modern() && ctx.live.is_some();
    if !(ctx.protocol_version.is_modern() || live_legacy)
        || (input.input_requests.is_empty() && input.request_state.is_none())
        || (live_legacy && input.input_requests.is_empty())
    {
        return Err(McpError::internal());
    }
    let mut missing = Map::new();
    for request in input.input_requests.values() {
        let method = request.get("method").and_then(Value::as_str).unwrap_or("");
        match ctx.missing_capability(method) {
            None => {}
            // A stateless 2025-era deployment does not know the client's
            // capabilities: a known method may be asked.
            Some(c) if !c.is_empty() && live_legacy && ctx.client_capabilities.is_none() => {}
            Some("") => return Err(McpError::internal()),
            Some(cap) => {
                missing.insert(cap.into(), json!({}));
            }
        }
    }
    if !missing.is_empty() {
        return Err(McpError::new(
            ErrorCode::MissingRequiredClientCapability,
            "Missing required client capability",
        )
        .with_data(json!({"requiredCapabilities": missing})));
    }
    Ok(input.to_json())
}

impl McpServer {
    /// Dispatch a feature method (both eras). With `params_reused` the
    /// caller may dispatch the same `params` again (a 2025-era live call
    /// that can ask the client for input, then calls the tool again), and
    /// a tool's arguments are copied for the handler; otherwise they are
    /// moved out of `params`.
    pub(crate) async fn dispatch(
        &self,
        method: &str,
        params: &mut Map<String, Value>,
        params_reused: bool,
        ctx: &mut Context,
    ) -> Result<Dispatch, McpError> {
        let size = self.config.limits.page_size;
        let reg = &self.registry;
        let r = match method {
            "tools/list" => page(&reg.tools, params, size, "tools", |t| t.tool.to_json())?,
            "tools/call" => {
                // One copy of the arguments at most: validated, then handed
                // to the handler.
                let supplied = if params_reused {
                    params.get("arguments").cloned()
                } else {
                    params.remove("arguments")
                };
                let name = str_param(params, "name")?;
                return self.call_tool(name, supplied, ctx).await;
            }
            "resources/list" => page(&reg.resources, params, size, "resources", |r| {
                r.resource.to_json()
            })?,
            "resources/templates/list" => {
                page(&reg.templates, params, size, "resourceTemplates", |t| {
                    t.template.to_json()
                })?
            }
            "resources/read" => self.read_resource(params, ctx).await?,
            "prompts/list" => page(&reg.prompts, params, size, "prompts", |p| {
                p.prompt.to_json()
            })?,
            "prompts/get" => self.get_prompt(params, ctx).await?,
            "completion/complete" => self.complete(params, ctx).await?,
            _ => return Ok(Dispatch::NotFound),
        };
        Ok(Dispatch::Result(r))
    }

    /// `tools/call` of tool `name` with the `arguments` member as sent.
    pub(crate) async fn call_tool(
        &self,
        name: &str,
        supplied: Option<Value>,
        ctx: &mut Context,
    ) -> Result<Dispatch, McpError> {
        let Some(entry) = self.registry.find_tool(name) else {
            return Err(McpError::invalid_params(format!(
                "Unknown tool: {}",
                echo(name)
            )));
        };
        let tool = &entry.tool;
        if !entry.permits(ctx.principal.as_deref()) {
            return Ok(self.scope_challenge(&tool.required_scopes));
        }
        let arguments = match supplied {
            None | Some(Value::Null) => Value::Object(Map::new()),
            Some(a @ Value::Object(_)) => a,
            Some(_) => return Err(McpError::invalid_params("Tool arguments must be an object")),
        };
        let depth = self.config.limits.max_schema_depth;
        let checked = schema::validate_compiled(&entry.input_validator, &arguments, depth);
        if let Err(e) = checked {
            let msg = format!("Invalid arguments for tool {}: {e}", echo(name));
            // Up to 2025-06-18 invalid arguments are a protocol error; from
            // 2025-11-25 on they are a tool execution error the model can
            // correct.
            return if ctx.protocol_version >= ProtocolVersion::V2025_11_25 {
                Ok(Dispatch::Tool(CallToolResult::error(msg)))
            } else {
                Err(McpError::invalid_params(msg))
            };
        }
        let Value::Object(arguments) = arguments else {
            return Err(McpError::internal());
        };
        // An immediate tool's answer needs no boxed future.
        let mut result = match entry.handler.call_now(ctx, arguments) {
            Ok(answer) => answer?,
            Err(arguments) => entry.handler.call(ctx, arguments).await?,
        };
        if let Some(input) = result.input_required.take() {
            let wire = input_required(&input, ctx)?;
            return Ok(if ctx.protocol_version.is_modern() {
                Dispatch::Result(wire)
            } else {
                Dispatch::Input(input)
            });
        }
        if let (Some(_), Some(compiled), false) = (
            &tool.output_schema,
            &entry.output_validator,
            result.is_error,
        ) {
            let Some(structured) = &result.structured_content else {
                return Err(McpError::internal());
            };
            if schema::validate_compiled(compiled, structured, depth).is_err() {
                return Err(McpError::internal());
            }
        }
        if let (Some(s), true) = (&result.structured_content, result.content.is_empty()) {
            result.content.push(super::features::ContentBlock::Text(
                serde_json::to_string(s).unwrap_or_default(),
            ));
        }
        Ok(Dispatch::Tool(result))
    }

    fn scope_challenge(&self, required: &[String]) -> Dispatch {
        match self.config.scope_challenge {
            ScopeChallenge::Http403 => Dispatch::InsufficientScope(required.to_vec()),
            ScopeChallenge::ToolErrorMeta => {
                let scope = required.join(" ");
                let mut challenge = String::from("Bearer ");
                if let Some(url) = &self.config.resource_metadata_url {
                    challenge.push_str(&format!("resource_metadata=\"{url}\", "));
                }
                challenge.push_str(&format!(
                    "error=\"insufficient_scope\", scope=\"{scope}\", \
                     error_description=\"Additional authorization is required\""
                ));
                let mut meta = Map::new();
                meta.insert(
                    "mcp/www_authenticate".into(),
                    Value::Array(alloc::vec![Value::String(challenge)]),
                );
                let r =
                    CallToolResult::error("Additional authorization is required").with_meta(meta);
                Dispatch::Tool(r)
            }
        }
    }

    async fn read_resource(
        &self,
        params: &Map<String, Value>,
        ctx: &mut Context,
    ) -> Result<Map<String, Value>, McpError> {
        let uri = str_param(params, "uri")?;
        let handler = match self
            .registry
            .resources
            .iter()
            .find(|r| r.resource.uri == uri)
        {
            Some(r) => Some(&r.handler),
            None => self
                .registry
                .templates
                .iter()
                .find(|t| t.template.matches(uri))
                .map(|t| &t.handler),
        };
        let modern = ctx.protocol_version.is_modern();
        let not_found = || {
            let code = if modern {
                ErrorCode::InvalidParams
            } else {
                ErrorCode::ResourceNotFoundLegacy
            };
            McpError::new(code, "Resource not found").with_data(json!({"uri": echo(uri)}))
        };
        let Some(handler) = handler else {
            return Err(not_found());
        };
        let contents = handler.read(ctx, uri).await?;
        if contents.is_empty() {
            return Err(not_found());
        }
        let mut m = Map::new();
        m.insert(
            "contents".into(),
            Value::Array(contents.iter().map(|c| c.to_json()).collect()),
        );
        Ok(m)
    }

    async fn get_prompt(
        &self,
        params: &Map<String, Value>,
        ctx: &mut Context,
    ) -> Result<Map<String, Value>, McpError> {
        let name = str_param(params, "name")?;
        let Some(entry) = self.registry.prompts.iter().find(|p| p.prompt.name == name) else {
            return Err(McpError::invalid_params(format!(
                "Unknown prompt: {}",
                echo(name)
            )));
        };
        let args = match params.get("arguments") {
            None | Some(Value::Null) => Map::new(),
            Some(Value::Object(a)) if a.values().all(Value::is_string) => a.clone(),
            Some(_) => {
                return Err(McpError::invalid_params(
                    "Prompt arguments must be an object of strings",
                ));
            }
        };
        for a in entry.prompt.arguments.iter().filter(|a| a.required) {
            if !args.contains_key(&a.name) {
                return Err(McpError::invalid_params(format!(
                    "Missing required argument: {}",
                    echo(&a.name)
                )));
            }
        }
        let r = entry.handler.get(ctx, args).await?;
        if let Some(input) = &r.input_required {
            return input_required(input, ctx);
        }
        let mut m = Map::new();
        if let Some(d) = r.description {
            m.insert("description".into(), Value::String(d));
        }
        m.insert("messages".into(), Value::Array(r.messages));
        Ok(m)
    }

    async fn complete(
        &self,
        params: &Map<String, Value>,
        ctx: &mut Context,
    ) -> Result<Map<String, Value>, McpError> {
        let reference = params
            .get("ref")
            .filter(|r| r.is_object())
            .ok_or_else(|| McpError::invalid_params("Missing ref"))?;
        let argument = params
            .get("argument")
            .and_then(Value::as_object)
            .ok_or_else(|| McpError::invalid_params("Missing argument"))?;
        let name = str_param(argument, "name")?;
        let value = str_param(argument, "value")?;
        let mut values = match &self.registry.completion {
            Some(h) => h.complete(ctx, reference, name, value).await?,
            None => Vec::new(),
        };
        let total = values.len();
        values.truncate(100);
        let mut m = Map::new();
        m.insert(
            "completion".into(),
            json!({"values": values, "total": total, "hasMore": total > 100}),
        );
        Ok(m)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::string::ToString;

    /// The one-pass encoding is byte for byte the `Value` encoding it
    /// replaces, for every shape a tool result takes.
    #[test]
    fn tool_response_body_matches_the_value_encoding() {
        let mut meta = Map::new();
        meta.insert("openai/x".into(), json!({"b": 1, "a": [true, null]}));
        // Every ASCII character, control characters and DEL included.
        let ascii: String = (0u8..0x80).map(char::from).collect();
        let results = [
            CallToolResult::text(ascii.as_str()),
            CallToolResult::text("hello \"quoted\" \u{1F600} \n"),
            CallToolResult::error("bad"),
            CallToolResult::structured(json!({"sub": "u", "scopes": ["a", "b"], "exp": 1})),
            CallToolResult::text("t").with_meta(meta),
            CallToolResult::default(),
            CallToolResult {
                content: alloc::vec![
                    super::super::features::ContentBlock::Text("a".into()),
                    json!({"type": "image", "data": "AAAA", "mimeType": "image/png"}).into(),
                ],
                ..CallToolResult::default()
            },
        ];
        // The text block's wire form, spelled out: the one-pass encoder
        // and `to_json` must not drift together.
        assert_eq!(
            tool_response_body(&RequestId::Number(1), &CallToolResult::text("x")),
            br#"{"id":1,"jsonrpc":"2.0","result":{"content":[{"text":"x","type":"text"}],"isError":false}}"#
        );
        let ids = [
            RequestId::Number(-7),
            RequestId::Number(0),
            RequestId::Number(i64::MIN),
            RequestId::Number(i64::MAX),
            RequestId::String(heapless::String::try_from("a\"b\\c/\u{7}").unwrap_or_default()),
        ];
        for r in &results {
            for id in &ids {
                let expected = json!({
                    "jsonrpc": "2.0",
                    "id": super::super::server::id_json(id),
                    "result": r.to_json(),
                })
                .to_string();
                let got = tool_response_body(id, r);
                assert_eq!(core::str::from_utf8(&got).ok(), Some(expected.as_str()));
            }
        }
    }
}
