//! The `everything` server of the official MCP conformance suite
//! (`@modelcontextprotocol/conformance`, `server` mode), on host-std's
//! runtime. `scripts/interop.sh` starts it and runs the suite against it.
//!
//! ```sh
//! cargo run -p mcpauth --example everything -- 127.0.0.1:0 [--stateless]
//! # prints: everything: listening on http://127.0.0.1:PORT/mcp
//! ```
//!
//! **No authorization** (the endpoint is called without a principal): the
//! suite's server mode connects without OAuth. This is the only server of the project that
//! runs open, it binds loopback only, and it is a test fixture: never deploy
//! it. DNS rebinding is still refused (the Host and Origin allow-lists name
//! only the loopback addresses of the bound port).
//!
//! It registers what the core can express: the `test_*` tools (text, image,
//! audio, embedded resource, mixed content, logging, progress, error, JSON
//! Schema 2020-12), the `test://` resources and template, the `test_*`
//! prompts and completion, and the 2026-07-28 `input_required` tools and
//! prompt, and on live SSE streams (`McpConfig::live_streams`) the 2025-era
//! `test_sampling` and `test_elicitation*` tools (server-to-client requests
//! answered mid-call) and `test_reconnection` (SSE polling).

use std::net::SocketAddr;
use std::time::Duration;

use mcpauth::env::OsRandom;
use mcpauth::server::{ServerOptions, serve, shutdown_signal};
use mcpauth_core::mcp::{
    BoxFuture, CallToolResult, CompletionHandler, Context, ErrorCode, GetPromptResult,
    InputRequired, LogLevel, McpConfig, McpError, McpServer, MemorySessionStore, NoSessionStore,
    Prompt, PromptArgument, Registry, RegistryError, Resource, ResourceContents, ResourceTemplate,
    SessionStore, Tool,
};
use mcpauth_core::server::{CorsPolicy, Router};
use serde_json::{Map, Value, json};

/// A 1x1 red PNG.
const PNG_1X1: &str = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8DwHwAFBQIAX8jx0gAAAABJRU5ErkJggg==";

/// A tiny valid WAV file (44-byte header, 8 silent 8-bit mono samples).
fn wav_base64() -> String {
    use base64ct::{Base64, Encoding};
    let samples = [128u8; 8];
    let mut wav = Vec::new();
    wav.extend_from_slice(b"RIFF");
    wav.extend_from_slice(&(36 + samples.len() as u32).to_le_bytes());
    wav.extend_from_slice(b"WAVEfmt ");
    wav.extend_from_slice(&16u32.to_le_bytes()); // fmt chunk size
    wav.extend_from_slice(&1u16.to_le_bytes()); // PCM
    wav.extend_from_slice(&1u16.to_le_bytes()); // mono
    wav.extend_from_slice(&8000u32.to_le_bytes()); // sample rate
    wav.extend_from_slice(&8000u32.to_le_bytes()); // byte rate
    wav.extend_from_slice(&1u16.to_le_bytes()); // block align
    wav.extend_from_slice(&8u16.to_le_bytes()); // bits per sample
    wav.extend_from_slice(b"data");
    wav.extend_from_slice(&(samples.len() as u32).to_le_bytes());
    wav.extend_from_slice(&samples);
    Base64::encode_string(&wav)
}

fn no_args() -> Value {
    json!({"type": "object", "properties": {}})
}

fn content(blocks: Vec<Value>) -> CallToolResult {
    CallToolResult {
        content: blocks.into_iter().map(Into::into).collect(),
        ..CallToolResult::default()
    }
}

fn tools(r: &mut Registry) -> Result<(), RegistryError> {
    r.tool(
        Tool::new("test_simple_text", no_args()).with_description("Returns simple text."),
        |_ctx, _args| {
            Box::pin(async {
                Ok(CallToolResult::text(
                    "This is a simple text response for testing.",
                ))
            })
        },
    )?;
    r.tool(
        Tool::new("test_image_content", no_args()).with_description("Returns a PNG image."),
        |_ctx, _args| {
            Box::pin(async {
                Ok(content(vec![
                    json!({"type": "image", "data": PNG_1X1, "mimeType": "image/png"}),
                ]))
            })
        },
    )?;
    r.tool(
        Tool::new("test_audio_content", no_args()).with_description("Returns a WAV sound."),
        |_ctx, _args| {
            Box::pin(async {
                Ok(content(vec![
                    json!({"type": "audio", "data": wav_base64(), "mimeType": "audio/wav"}),
                ]))
            })
        },
    )?;
    r.tool(
        Tool::new("test_embedded_resource", no_args())
            .with_description("Returns an embedded resource."),
        |_ctx, _args| {
            Box::pin(async {
                Ok(content(vec![json!({
                    "type": "resource",
                    "resource": {
                        "uri": "test://embedded-resource",
                        "mimeType": "text/plain",
                        "text": "This is an embedded resource content.",
                    }
                })]))
            })
        },
    )?;
    r.tool(
        Tool::new("test_multiple_content_types", no_args())
            .with_description("Returns text, an image and a resource."),
        |_ctx, _args| {
            Box::pin(async {
                Ok(content(vec![
                    json!({"type": "text", "text": "Multiple content types test:"}),
                    json!({"type": "image", "data": PNG_1X1, "mimeType": "image/png"}),
                    json!({"type": "resource", "resource": {
                        "uri": "test://mixed-content-resource",
                        "mimeType": "application/json",
                        "text": "{\"test\":\"data\",\"value\":123}",
                    }}),
                ]))
            })
        },
    )?;
    r.tool(
        Tool::new("test_tool_with_logging", no_args())
            .with_description("Sends three log messages while it runs."),
        |ctx, _args| {
            Box::pin(async move {
                log(ctx, "Tool execution started");
                tokio::time::sleep(Duration::from_millis(50)).await;
                log(ctx, "Tool processing data");
                tokio::time::sleep(Duration::from_millis(50)).await;
                log(ctx, "Tool execution completed");
                Ok(CallToolResult::text("Logging test completed"))
            })
        },
    )?;
    r.tool(
        Tool::new("test_tool_with_progress", no_args())
            .with_description("Reports progress 0, 50 and 100 of 100."),
        |ctx, _args| {
            Box::pin(async move {
                ctx.progress(0.0, Some(100.0), None);
                tokio::time::sleep(Duration::from_millis(50)).await;
                ctx.progress(50.0, Some(100.0), None);
                tokio::time::sleep(Duration::from_millis(50)).await;
                ctx.progress(100.0, Some(100.0), None);
                Ok(CallToolResult::text("Progress test completed"))
            })
        },
    )?;
    r.tool(
        Tool::new("test_error_handling", no_args()).with_description("Always fails."),
        |_ctx, _args| {
            Box::pin(async {
                Ok(CallToolResult::error(
                    "This tool intentionally returns an error for testing",
                ))
            })
        },
    )?;
    // server-stateless (2026-07-28): logs only when the request asked for a
    // log level.
    r.tool(
        Tool::new("test_logging_tool", no_args())
            .with_description("Logs one message at info level."),
        |ctx, _args| {
            Box::pin(async move {
                log(ctx, "test_logging_tool ran");
                Ok(CallToolResult::text("Logged"))
            })
        },
    )?;
    // server-stateless (2026-07-28): a request whose processing needs a
    // client capability the request did not declare gets -32021.
    r.tool(
        Tool::new("test_missing_capability", no_args())
            .with_description("Needs the client's sampling capability."),
        |ctx, _args| {
            Box::pin(async move {
                let declared = ctx
                    .client_capabilities
                    .as_ref()
                    .and_then(|c| c.get("sampling"))
                    .is_some();
                if declared {
                    Ok(CallToolResult::text("sampling capability declared"))
                } else {
                    Err(McpError::new(
                        ErrorCode::MissingRequiredClientCapability,
                        "Missing required client capability",
                    )
                    .with_data(json!({"requiredCapabilities": {"sampling": {}}})))
                }
            })
        },
    )?;
    // http-custom-header-server-validation (2026-07-28): a tool whose
    // arguments are mirrored into Mcp-Param-* headers.
    r.tool(
        Tool::new(
            "test_custom_headers",
            json!({
                "type": "object",
                "properties": {
                    "region": {"type": "string", "description": "Region", "x-mcp-header": "Region"},
                    "priority": {"type": "integer", "description": "Priority", "x-mcp-header": "Priority"},
                    "query": {"type": "string", "description": "Not mirrored"}
                },
                "required": ["region", "query"]
            }),
        )
        .with_description("Echoes arguments mirrored into Mcp-Param-* headers."),
        |_ctx, args| {
            Box::pin(async move {
                Ok(CallToolResult::text(format!(
                    "region={}",
                    arg(&args, "region")
                )))
            })
        },
    )?;
    r.tool(
        Tool::new("json_schema_2020_12_tool", json_schema_2020_12())
            .with_description("Tool with JSON Schema 2020-12 features"),
        |_ctx, args| {
            Box::pin(async move {
                Ok(CallToolResult::text(format!(
                    "Received: {}",
                    Value::Object(args)
                )))
            })
        },
    )?;
    input_required_tools(r)?;
    client_request_tools(r)
}

// 2025-era server-to-client requests (tools-call-sampling,
// tools-call-elicitation, elicitation-sep1034-defaults,
// elicitation-sep1330-enums): the same InputRequired a 2026-07-28 tool
// returns; on a live stream the core sends it as a JSON-RPC request and
// invokes the tool again with the client's answer.

/// Ask for `method` under `key`, or the client's answer to it when this is
/// the tool's second invocation; an error result when the client cannot be
/// asked.
fn ask_or_answer(
    ctx: &Context,
    key: &str,
    method: &str,
    params: Value,
) -> Result<Result<Value, CallToolResult>, McpError> {
    if let Some(answer) = ctx.input_response(key) {
        return Ok(Ok(answer.clone()));
    }
    if !ctx.can_request_input(method) {
        return Ok(Err(CallToolResult::error(format!(
            "The client cannot answer {method} here"
        ))));
    }
    Ok(Err(CallToolResult::input_required(
        InputRequired::new().request(key, method, params),
    )))
}

fn elicitation_summary(answer: &Value) -> String {
    format!(
        "action={}, content={}",
        answer.get("action").and_then(Value::as_str).unwrap_or(""),
        answer.get("content").cloned().unwrap_or(json!({}))
    )
}

fn client_request_tools(r: &mut Registry) -> Result<(), RegistryError> {
    let prompt_arg = json!({
        "type": "object",
        "properties": {"prompt": {"type": "string"}},
        "required": ["prompt"]
    });
    r.tool(
        Tool::new("test_sampling", prompt_arg)
            .with_description("Asks the client's model (sampling/createMessage)."),
        |ctx, args| {
            Box::pin(async move {
                let prompt = args.get("prompt").and_then(Value::as_str).unwrap_or("");
                match ask_or_answer(ctx, "sample", "sampling/createMessage", sample(prompt, 100))? {
                    Ok(answer) => {
                        let text = answer
                            .get("content")
                            .and_then(|c| c.get("text"))
                            .and_then(Value::as_str)
                            .unwrap_or("");
                        Ok(CallToolResult::text(format!("LLM response: {text}")))
                    }
                    Err(asked) => Ok(asked),
                }
            })
        },
    )?;
    let message_arg = json!({
        "type": "object",
        "properties": {"message": {"type": "string"}},
        "required": ["message"]
    });
    r.tool(
        Tool::new("test_elicitation", message_arg)
            .with_description("Asks the user for a username and email (elicitation/create)."),
        |ctx, args| {
            Box::pin(async move {
                let message = args.get("message").and_then(Value::as_str).unwrap_or("");
                let params = json!({
                    "message": message,
                    "requestedSchema": {
                        "type": "object",
                        "properties": {
                            "username": {"type": "string", "description": "User's response"},
                            "email": {"type": "string", "description": "User's email address"}
                        },
                        "required": ["username", "email"]
                    }
                });
                Ok(
                    match ask_or_answer(ctx, "user", "elicitation/create", params)? {
                        Ok(a) => CallToolResult::text(format!(
                            "User response: {}",
                            elicitation_summary(&a)
                        )),
                        Err(asked) => asked,
                    },
                )
            })
        },
    )?;
    let schemas = [
        (
            "test_elicitation_sep1034_defaults",
            "Elicits with defaults for every primitive type (SEP-1034).",
            json!({
                "message": "Test client default value handling - please accept with defaults",
                "requestedSchema": {"type": "object", "properties": {
                    "name": {"type": "string", "description": "User name", "default": "John Doe"},
                    "age": {"type": "integer", "description": "User age", "default": 30},
                    "score": {"type": "number", "description": "User score", "default": 95.5},
                    "status": {"type": "string", "description": "User status",
                               "enum": ["active", "inactive", "pending"], "default": "active"},
                    "verified": {"type": "boolean", "description": "Verification status", "default": true}
                }, "required": []}
            }),
        ),
        (
            "test_elicitation_sep1330_enums",
            "Elicits with the five enum schema forms (SEP-1330).",
            json!({
                "message": "Pick some options",
                "requestedSchema": {"type": "object", "properties": {
                    "untitledSingle": {"type": "string", "enum": ["option1", "option2", "option3"]},
                    "titledSingle": {"type": "string", "oneOf": [
                        {"const": "value1", "title": "First Option"},
                        {"const": "value2", "title": "Second Option"},
                        {"const": "value3", "title": "Third Option"}]},
                    "legacyEnum": {"type": "string", "enum": ["opt1", "opt2", "opt3"],
                                   "enumNames": ["Option One", "Option Two", "Option Three"]},
                    "untitledMulti": {"type": "array",
                                      "items": {"type": "string", "enum": ["option1", "option2", "option3"]}},
                    "titledMulti": {"type": "array", "items": {"anyOf": [
                        {"const": "value1", "title": "First Choice"},
                        {"const": "value2", "title": "Second Choice"},
                        {"const": "value3", "title": "Third Choice"}]}}
                }, "required": []}
            }),
        ),
    ];
    for (name, description, params) in schemas {
        r.tool(
            Tool::new(name, no_args()).with_description(description),
            move |ctx, _args| {
                let params = params.clone();
                Box::pin(async move {
                    Ok(
                        match ask_or_answer(ctx, "form", "elicitation/create", params)? {
                            Ok(a) => CallToolResult::text(format!(
                                "Elicitation completed: {}",
                                elicitation_summary(&a)
                            )),
                            Err(asked) => asked,
                        },
                    )
                })
            },
        )?;
    }
    // server-sse-polling (SEP-1699): close the POST stream mid-call; the
    // result follows on the GET stream the client resumes with
    // Last-Event-ID.
    r.tool(
        Tool::new("test_reconnection", no_args())
            .with_description("Closes its SSE stream mid-call, then answers."),
        |ctx, _args| {
            Box::pin(async move {
                ctx.close_sse_stream();
                tokio::time::sleep(Duration::from_millis(200)).await;
                Ok(CallToolResult::text(
                    "Reconnection test completed successfully",
                ))
            })
        },
    )?;
    Ok(())
}

// input-required-result-* (2026-07-28, multi round-trip requests): tools
// that answer with an InputRequiredResult until the retry carries the
// answers. requestState is sealed by the core (HMAC, bound to principal,
// tool and expiry).

fn elicit(message: &str, field: &str, kind: &str) -> Value {
    json!({
        "message": message,
        "requestedSchema": {
            "type": "object",
            "properties": {field: {"type": kind}},
            "required": [field]
        }
    })
}

fn sample(text: &str, max_tokens: u32) -> Value {
    json!({
        "messages": [{"role": "user", "content": {"type": "text", "text": text}}],
        "maxTokens": max_tokens
    })
}

/// The accepted elicitation field `field` of input response `key`.
fn elicited(ctx: &Context, key: &str, field: &str) -> Option<String> {
    let r = ctx.input_response(key)?;
    (r.get("action")? == "accept").then_some(())?;
    Some(r.get("content")?.get(field)?.as_str()?.to_owned())
}

fn ask(input: InputRequired) -> Result<CallToolResult, McpError> {
    Ok(CallToolResult::input_required(input))
}

/// A sealed requestState, or -32603 when the server has no key.
fn sealed(ctx: &Context, value: Value) -> Result<String, McpError> {
    ctx.seal_state(&value).ok_or_else(McpError::internal)
}

fn input_required_tools(r: &mut Registry) -> Result<(), RegistryError> {
    r.tool(
        Tool::new("test_input_required_result_elicitation", no_args())
            .with_description("Asks the user's name by elicitation, then greets."),
        |ctx, _args| {
            Box::pin(async move {
                match elicited(ctx, "user_name", "name") {
                    Some(name) => Ok(CallToolResult::text(format!("Hello, {name}!"))),
                    None => ask(InputRequired::new().request(
                        "user_name",
                        "elicitation/create",
                        elicit("What is your name?", "name", "string"),
                    )),
                }
            })
        },
    )?;
    r.tool(
        Tool::new("test_input_required_result_sampling", no_args())
            .with_description("Asks the client's model a question by sampling."),
        |ctx, _args| {
            Box::pin(async move {
                let answer = ctx
                    .input_response("capital_question")
                    .and_then(|r| r.get("content")?.get("text")?.as_str())
                    .map(str::to_owned);
                match answer {
                    Some(text) => Ok(CallToolResult::text(format!("The model said: {text}"))),
                    None => ask(InputRequired::new().request(
                        "capital_question",
                        "sampling/createMessage",
                        sample("What is the capital of France?", 100),
                    )),
                }
            })
        },
    )?;
    r.tool(
        Tool::new("test_input_required_result_list_roots", no_args())
            .with_description("Asks the client for its roots."),
        |ctx, _args| {
            Box::pin(async move {
                let roots = ctx
                    .input_response("client_roots")
                    .and_then(|r| r.get("roots")?.as_array().cloned());
                match roots {
                    Some(roots) => {
                        let uris: Vec<&str> = roots
                            .iter()
                            .filter_map(|r| r.get("uri")?.as_str())
                            .collect();
                        Ok(CallToolResult::text(format!("Roots: {}", uris.join(", "))))
                    }
                    None => {
                        ask(InputRequired::new().request("client_roots", "roots/list", json!({})))
                    }
                }
            })
        },
    )?;
    // request-state and tampered-state: the retry must bring back the
    // sealed state; a tampered one fails the core's check (-32602).
    for name in [
        "test_input_required_result_request_state",
        "test_input_required_result_tampered_state",
    ] {
        r.tool(
            Tool::new(name, no_args()).with_description("Confirms with sealed requestState."),
            |ctx, _args| {
                Box::pin(async move {
                    let state = ctx.open_state()?;
                    let confirmed = ctx
                        .input_response("confirm")
                        .is_some_and(|r| r.get("action").is_some_and(|a| a == "accept"));
                    if state.is_some_and(|s| s["confirm"] == true) && confirmed {
                        return Ok(CallToolResult::text("Confirmed (state-ok)"));
                    }
                    ask(InputRequired::new()
                        .request(
                            "confirm",
                            "elicitation/create",
                            elicit("Please confirm", "ok", "boolean"),
                        )
                        .with_state(sealed(ctx, json!({"confirm": true}))?))
                })
            },
        )?;
    }
    r.tool(
        Tool::new("test_input_required_result_multiple_inputs", no_args())
            .with_description("Asks for elicitation, sampling and roots at once."),
        |ctx, _args| {
            Box::pin(async move {
                let state = ctx.open_state()?;
                let keys = ["user_name", "greeting", "client_roots"];
                if state.is_some() && keys.iter().all(|k| ctx.input_response(k).is_some()) {
                    let name = elicited(ctx, "user_name", "name").unwrap_or_default();
                    return Ok(CallToolResult::text(format!("All inputs received, {name}")));
                }
                ask(InputRequired::new()
                    .request(
                        "user_name",
                        "elicitation/create",
                        elicit("What is your name?", "name", "string"),
                    )
                    .request(
                        "greeting",
                        "sampling/createMessage",
                        sample("Generate a greeting", 50),
                    )
                    .request("client_roots", "roots/list", json!({}))
                    .with_state(sealed(ctx, json!({"round": 1}))?))
            })
        },
    )?;
    r.tool(
        Tool::new("test_input_required_result_multi_round", no_args())
            .with_description("Asks two questions in two rounds."),
        |ctx, _args| {
            Box::pin(async move {
                let round = ctx.open_state()?.and_then(|s| s.get("round")?.as_u64());
                match (
                    round,
                    elicited(ctx, "step1", "name"),
                    elicited(ctx, "step2", "color"),
                ) {
                    (Some(2), _, Some(color)) => Ok(CallToolResult::text(format!(
                        "Done: favorite color {color}"
                    ))),
                    (Some(1), Some(name), _) => ask(InputRequired::new()
                        .request(
                            "step2",
                            "elicitation/create",
                            elicit("Step 2: What is your favorite color?", "color", "string"),
                        )
                        .with_state(sealed(ctx, json!({"round": 2, "name": name}))?)),
                    _ => ask(InputRequired::new()
                        .request(
                            "step1",
                            "elicitation/create",
                            elicit("Step 1: What is your name?", "name", "string"),
                        )
                        .with_state(sealed(ctx, json!({"round": 1}))?)),
                }
            })
        },
    )?;
    // server-stateless no-independent-requests-on-stream: in 2026-07-28 a
    // tool elicits through an InputRequiredResult, never a request of its own.
    r.tool(
        Tool::new("test_streaming_elicitation", no_args())
            .with_description("Elicits the user's name (2026-07-28 input_required)."),
        |ctx, _args| {
            Box::pin(async move {
                if let Some(name) = elicited(ctx, "user_name", "name") {
                    return Ok(CallToolResult::text(format!("Hello, {name}!")));
                }
                if !ctx.can_request_input("elicitation/create") {
                    return Ok(CallToolResult::error(
                        "Elicitation needs a 2026-07-28 client declaring elicitation",
                    ));
                }
                ctx.progress(0.0, None, Some("asking"));
                ask(InputRequired::new().request(
                    "user_name",
                    "elicitation/create",
                    elicit("What is your name?", "name", "string"),
                ))
            })
        },
    )?;
    // capability-check: only the input requests the client declared.
    r.tool(
        Tool::new("test_input_required_result_capabilities", no_args())
            .with_description("Asks only for what the client can answer."),
        |ctx, _args| {
            Box::pin(async move {
                if ctx.input_responses().is_some_and(|m| !m.is_empty()) {
                    return Ok(CallToolResult::text("Inputs received"));
                }
                let mut input = InputRequired::new();
                if ctx.can_request_input("elicitation/create") {
                    input = input.request(
                        "user_name",
                        "elicitation/create",
                        elicit("What is your name?", "name", "string"),
                    );
                }
                if ctx.can_request_input("sampling/createMessage") {
                    input = input.request(
                        "greeting",
                        "sampling/createMessage",
                        sample("Generate a greeting", 50),
                    );
                }
                if input.input_requests.is_empty() {
                    return Err(McpError::new(
                        ErrorCode::MissingRequiredClientCapability,
                        "Missing required client capability",
                    )
                    .with_data(json!({"requiredCapabilities": {"sampling": {}}})));
                }
                ask(input)
            })
        },
    )?;
    Ok(())
}

fn log(ctx: &mut Context, text: &str) {
    ctx.log(
        LogLevel::Info,
        Some("everything"),
        Value::String(text.into()),
    );
}

fn json_schema_2020_12() -> Value {
    json!({
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "type": "object",
        "$defs": {
            "address": {
                "$anchor": "addressDef",
                "type": "object",
                "properties": {"street": {"type": "string"}, "city": {"type": "string"}}
            }
        },
        "properties": {
            "name": {"type": "string"},
            "address": {"$ref": "#/$defs/address"},
            "contactMethod": {"type": "string", "enum": ["phone", "email"]},
            "phone": {"type": "string"},
            "email": {"type": "string"}
        },
        "allOf": [{"anyOf": [{"required": ["phone"]}, {"required": ["email"]}]}],
        "if": {"properties": {"contactMethod": {"const": "phone"}}, "required": ["contactMethod"]},
        "then": {"required": ["phone"]},
        "else": {"required": ["email"]},
        "additionalProperties": false
    })
}

fn resources(r: &mut Registry) -> Result<(), RegistryError> {
    r.resource(
        Resource::new("test://static-text", "static-text", Some("text/plain"))
            .with("description", json!("A static text resource")),
        |_ctx, uri| {
            Box::pin(async move {
                Ok(vec![ResourceContents::text(
                    uri,
                    Some("text/plain"),
                    "This is the content of the static text resource.",
                )])
            })
        },
    )?;
    r.resource(
        Resource::new("test://static-binary", "static-binary", Some("image/png"))
            .with("description", json!("A static binary resource (PNG)")),
        |_ctx, uri| {
            Box::pin(async move {
                use base64ct::{Base64, Encoding};
                let png = Base64::decode_vec(PNG_1X1).map_err(|_| McpError::internal())?;
                Ok(vec![ResourceContents::blob(uri, Some("image/png"), &png)])
            })
        },
    )?;
    r.resource(
        Resource::new(
            "test://watched-resource",
            "watched-resource",
            Some("text/plain"),
        )
        .with("description", json!("A resource clients may watch")),
        |_ctx, uri| {
            Box::pin(async move {
                Ok(vec![ResourceContents::text(
                    uri,
                    Some("text/plain"),
                    "Watched resource content.",
                )])
            })
        },
    )?;
    let template = ResourceTemplate::new(
        "test://template/{id}/data",
        "template-data",
        Some("application/json"),
    );
    let mut template = template;
    template
        .description
        .insert("description".into(), json!("Data for an id"));
    r.resource_template(template, |_ctx, uri| {
        Box::pin(async move {
            let id = uri
                .strip_prefix("test://template/")
                .and_then(|rest| rest.strip_suffix("/data"))
                .unwrap_or_default();
            let body =
                json!({"id": id, "templateTest": true, "data": format!("Data for ID: {id}")});
            Ok(vec![ResourceContents::text(
                uri,
                Some("application/json"),
                body.to_string(),
            )])
        })
    })?;
    Ok(())
}

fn prompt(name: &str, description: &str, args: &[(&str, &str)]) -> Prompt {
    Prompt {
        name: name.into(),
        title: None,
        description: Some(description.into()),
        arguments: args
            .iter()
            .map(|(n, d)| PromptArgument {
                name: (*n).into(),
                description: Some((*d).into()),
                required: true,
            })
            .collect(),
    }
}

fn arg(args: &Map<String, Value>, name: &str) -> String {
    args.get(name)
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_owned()
}

fn prompts(r: &mut Registry) -> Result<(), RegistryError> {
    r.prompt(
        prompt("test_simple_prompt", "A prompt without arguments", &[]),
        |_ctx, _args| {
            Box::pin(async {
                Ok(GetPromptResult::user_text(
                    "This is a simple prompt for testing.",
                ))
            })
        },
    )?;
    r.prompt(
        prompt(
            "test_prompt_with_arguments",
            "A prompt with two arguments",
            &[
                ("arg1", "First test argument"),
                ("arg2", "Second test argument"),
            ],
        ),
        |_ctx, args| {
            Box::pin(async move {
                Ok(GetPromptResult::user_text(format!(
                    "Prompt with arguments: arg1='{}', arg2='{}'",
                    arg(&args, "arg1"),
                    arg(&args, "arg2")
                )))
            })
        },
    )?;
    r.prompt(
        prompt(
            "test_prompt_with_embedded_resource",
            "A prompt embedding a resource",
            &[("resourceUri", "URI of the resource to embed")],
        ),
        |_ctx, args| {
            Box::pin(async move {
                Ok(GetPromptResult {
                    description: None,
                    input_required: None,
                    messages: vec![
                        json!({"role": "user", "content": {"type": "resource", "resource": {
                            "uri": arg(&args, "resourceUri"),
                            "mimeType": "text/plain",
                            "text": "Embedded resource content for testing.",
                        }}}),
                        json!({"role": "user", "content": {
                            "type": "text",
                            "text": "Please process the embedded resource above.",
                        }}),
                    ],
                })
            })
        },
    )?;
    r.prompt(
        prompt("test_prompt_with_image", "A prompt with an image", &[]),
        |_ctx, _args| {
            Box::pin(async {
                Ok(GetPromptResult {
                    description: None,
                    input_required: None,
                    messages: vec![
                        json!({"role": "user", "content": {
                            "type": "image", "data": PNG_1X1, "mimeType": "image/png",
                        }}),
                        json!({"role": "user", "content": {
                            "type": "text", "text": "Please analyze the image above.",
                        }}),
                    ],
                })
            })
        },
    )?;
    // input-required-result-non-tool-request (2026-07-28).
    r.prompt(
        prompt(
            "test_input_required_result_prompt",
            "A prompt that asks the user for context first",
            &[],
        ),
        |ctx, _args| {
            Box::pin(async move {
                match elicited(ctx, "user_context", "context") {
                    Some(c) => Ok(GetPromptResult::user_text(format!("Context: {c}"))),
                    None => Ok(GetPromptResult::input_required(
                        InputRequired::new().request(
                            "user_context",
                            "elicitation/create",
                            elicit("What context should the prompt use?", "context", "string"),
                        ),
                    )),
                }
            })
        },
    )?;
    Ok(())
}

/// Completion: a few fixed suggestions filtered by the typed prefix.
struct Completions;

impl CompletionHandler for Completions {
    fn complete<'a>(
        &'a self,
        _ctx: &'a mut Context,
        _reference: &'a Value,
        _name: &'a str,
        value: &'a str,
    ) -> BoxFuture<'a, Result<Vec<String>, McpError>> {
        Box::pin(async move {
            Ok(["paris", "park", "party", "hello", "world"]
                .iter()
                .filter(|s| s.starts_with(value))
                .map(|s| (*s).to_owned())
                .collect())
        })
    }
}

/// The MCP endpoint, open (no principal): a configuration of the core's
/// router, behind host-std's HTTP runtime with live SSE streams.
fn build(addr: SocketAddr, stateless: bool) -> Result<Router, String> {
    let mut registry = Registry::new();
    tools(&mut registry).map_err(|e| e.to_string())?;
    resources(&mut registry).map_err(|e| e.to_string())?;
    prompts(&mut registry).map_err(|e| e.to_string())?;
    registry.completion(Completions);

    let port = addr.port();
    let mut config = McpConfig::new("mcpauth-everything", env!("CARGO_PKG_VERSION"));
    // DNS-rebinding defence: only loopback names of this port.
    config.allowed_hosts = vec![
        format!("127.0.0.1:{port}"),
        format!("localhost:{port}"),
        format!("[::1]:{port}"),
    ];
    let origins: Vec<String> = config
        .allowed_hosts
        .iter()
        .map(|h| format!("http://{h}"))
        .collect();
    // Stateless: the 2025-era mode without Mcp-Session-Id (what ChatGPT needs).
    config.stateless = stateless;
    // Live SSE: resumable streams and server-to-client requests.
    config.live_streams = true;
    // Without a session a client's logging/setLevel cannot be kept, so the
    // operator picks the level: everything, for the test_*logging tools.
    config.stateless_log_level = stateless.then_some(LogLevel::Debug);
    let sessions: Box<dyn SessionStore> = if stateless {
        Box::new(NoSessionStore)
    } else {
        Box::new(MemorySessionStore::new(
            config.limits.sessions,
            config.limits.session_idle_secs,
        ))
    };
    // Seals the requestState of input-required results (one key per
    // process: a fleet would share it).
    let mut state_key = [0u8; 32];
    mcpauth_core::rand::SecureRandom::fill(&mut OsRandom, &mut state_key)
        .map_err(|_| "no randomness for the request-state key".to_string())?;
    let mcp = McpServer::new(config, registry, sessions).with_request_state_key(state_key);
    Ok(Router::dangerously_open(mcp).with_cors(CorsPolicy::new(&origins)))
}

fn main() -> std::process::ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let stateless = args.iter().any(|a| a == "--stateless");
    let addr = args
        .iter()
        .find(|a| !a.starts_with("--"))
        .cloned()
        .unwrap_or_else(|| "127.0.0.1:0".to_owned());
    let Ok(addr) = addr.parse::<SocketAddr>() else {
        eprintln!("everything: not a socket address: {addr}");
        return std::process::ExitCode::from(2);
    };
    if !addr.ip().is_loopback() {
        eprintln!(
            "everything: refusing to listen on {addr}: this open test server is loopback-only"
        );
        return std::process::ExitCode::from(2);
    }
    let rt = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("everything: tokio: {e}");
            return std::process::ExitCode::FAILURE;
        }
    };
    rt.block_on(async move {
        let listener = match tokio::net::TcpListener::bind(addr).await {
            Ok(l) => l,
            Err(e) => {
                eprintln!("everything: cannot listen on {addr}: {e}");
                return std::process::ExitCode::FAILURE;
            }
        };
        let bound = match listener.local_addr() {
            Ok(a) => a,
            Err(e) => {
                eprintln!("everything: {e}");
                return std::process::ExitCode::FAILURE;
            }
        };
        let app = match build(bound, stateless) {
            Ok(app) => app,
            Err(e) => {
                eprintln!("everything: {e}");
                return std::process::ExitCode::FAILURE;
            }
        };
        let mode = if stateless { " (stateless)" } else { "" };
        println!("everything: listening on http://{bound}/mcp{mode}");
        let options = ServerOptions::default();
        serve(listener, app, options, shutdown_signal()).await;
        std::process::ExitCode::SUCCESS
    })
}
