//! Shared helpers of the MCP HTTP-level tests (included by `mcp_legacy.rs`
//! and `mcp_modern.rs` with `#[path]`; built alone it is an empty test
//! binary). A trivial executor, a deterministic RNG, a registry exercising
//! every feature, and request/response helpers.
#![allow(dead_code)]

use std::future::Future;
use std::pin::pin;
use std::task::{Context as TaskContext, Poll, Waker};

use mcpauth_core::http::{Method, Request, Response};
use mcpauth_core::mcp::{
    CallToolResult, GetPromptResult, LogLevel, MIME_MCP_APP, MIME_SKYBRIDGE, McpConfig, McpError,
    McpOutcome, McpServer, MemorySessionStore, Prompt, PromptArgument, Registry, Resource,
    ResourceContents, ResourceTemplate, Tool,
};
use mcpauth_core::principal::Principal;
use mcpauth_core::rand::{RngError, SecureRandom};
use mcpauth_core::time::UnixTime;
use serde_json::{Value, json};

pub fn block_on<F: Future>(f: F) -> F::Output {
    let mut f = pin!(f);
    let mut cx = TaskContext::from_waker(Waker::noop());
    loop {
        if let Poll::Ready(v) = f.as_mut().poll(&mut cx) {
            return v;
        }
    }
}

/// Deterministic test RNG (no security).
#[derive(Debug)]
pub struct CountingRng(pub u8);
impl SecureRandom for CountingRng {
    fn fill(&mut self, dest: &mut [u8]) -> Result<(), RngError> {
        let mut x = u64::from(self.0).wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
        for b in dest {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            *b = x as u8;
        }
        Ok(())
    }
}

#[derive(Debug)]
pub struct FailRng;
impl SecureRandom for FailRng {
    fn fill(&mut self, _dest: &mut [u8]) -> Result<(), RngError> {
        Err(RngError)
    }
}

pub const T0: UnixTime = UnixTime(1_800_000_000);

pub fn registry() -> Registry {
    let mut r = Registry::new();
    r.tool(
        Tool::new(
            "echo",
            json!({"type": "object", "properties": {"text": {"type": "string"}}, "required": ["text"]}),
        )
        .with_description("Echo")
        .with_annotations(json!({"readOnlyHint": true}))
        .with_meta(
            json!({"openai/outputTemplate": "ui://widget/echo.html", "openai/toolInvocation/invoking": "Echoing"})
                .as_object()
                .cloned()
                .unwrap_or_default(),
        ),
        |ctx, args| {
            Box::pin(async move {
                ctx.progress(1.0, Some(2.0), Some("half"));
                ctx.log(LogLevel::Info, Some("echo"), json!("called"));
                let text = args.get("text").and_then(Value::as_str).unwrap_or_default().to_owned();
                Ok(CallToolResult::text(text))
            })
        },
    )
    .expect("register echo");
    r.tool(
        Tool::new(
            "weather",
            json!({"type": "object", "properties": {"location": {"type": "string"}}}),
        )
        .with_output_schema(json!({
            "type": "object",
            "properties": {"temperature": {"type": "number"}},
            "required": ["temperature"]
        })),
        |_ctx, _args| {
            Box::pin(async move { Ok(CallToolResult::structured(json!({"temperature": 22.5}))) })
        },
    )
    .expect("register weather");
    r.tool(
        Tool::new("bad_output", json!({"type": "object"}))
            .with_output_schema(json!({"type": "object", "required": ["x"]})),
        |_ctx, _args| Box::pin(async move { Ok(CallToolResult::structured(json!({"y": 1}))) }),
    )
    .expect("register bad_output");
    r.tool(
        Tool::new("admin", json!({"type": "object"})).with_required_scopes(&["admin", "mcp"]),
        |ctx, _args| {
            Box::pin(async move {
                let who = ctx
                    .principal
                    .as_ref()
                    .map(|p| p.subject.clone())
                    .unwrap_or_default();
                Ok(CallToolResult::text(who))
            })
        },
    )
    .expect("register admin");
    r.tool(
        Tool::new("fails", json!({"type": "object"})),
        |_ctx, _args| Box::pin(async move { Err(McpError::internal()) }),
    )
    .expect("register fails");
    r.tool(
        Tool::new("wait_cancel", json!({"type": "object"})),
        |ctx, _args| {
            Box::pin(async move {
                std::future::poll_fn(|_| {
                    if ctx.is_cancelled() {
                        Poll::Ready(())
                    } else {
                        Poll::Pending
                    }
                })
                .await;
                Ok(CallToolResult::text("cancelled"))
            })
        },
    )
    .expect("register wait_cancel");
    r.resource(
        Resource::new("ui://widget/echo.html", "echo widget", Some(MIME_SKYBRIDGE)),
        |_ctx, uri: &str| {
            let uri = uri.to_owned();
            Box::pin(async move {
                Ok(vec![ResourceContents::text(
                    uri,
                    Some(MIME_SKYBRIDGE),
                    "<div></div>",
                )])
            })
        },
    )
    .expect("register widget");
    r.resource(
        Resource::new("ui://app/main.html", "mcp app", Some(MIME_MCP_APP)),
        |_ctx, uri: &str| {
            let uri = uri.to_owned();
            Box::pin(async move {
                Ok(vec![ResourceContents::text(
                    uri,
                    Some(MIME_MCP_APP),
                    "<html></html>",
                )])
            })
        },
    )
    .expect("register app");
    r.resource_template(
        ResourceTemplate::new("blob:///{name}", "blobs", Some("application/octet-stream")),
        |_ctx, uri: &str| {
            let uri = uri.to_owned();
            Box::pin(async move {
                if uri.ends_with("missing") {
                    return Ok(vec![]);
                }
                Ok(vec![ResourceContents::blob(
                    uri,
                    Some("application/octet-stream"),
                    &[0, 1, 2, 255],
                )])
            })
        },
    )
    .expect("register template");
    r.prompt(
        Prompt {
            name: "review".into(),
            title: None,
            description: Some("Review code".into()),
            arguments: vec![PromptArgument {
                name: "code".into(),
                description: None,
                required: true,
            }],
        },
        |_ctx, args| {
            Box::pin(async move {
                let code = args
                    .get("code")
                    .and_then(Value::as_str)
                    .unwrap_or_default()
                    .to_owned();
                Ok(GetPromptResult::user_text(format!("Review: {code}")))
            })
        },
    )
    .expect("register prompt");
    r
}

pub fn server_with(config: McpConfig) -> McpServer {
    let sessions = MemorySessionStore::new(config.limits.sessions, config.limits.session_idle_secs);
    McpServer::new(config, registry(), Box::new(sessions))
}

pub fn server() -> McpServer {
    server_with(McpConfig::new("test-server", "1.2.3"))
}

pub fn principal(scopes: &[&str]) -> Principal {
    Principal {
        subject: "alice".into(),
        client_id: "client".into(),
        scopes: scopes.iter().map(|s| (*s).to_owned()).collect(),
        audience: "https://mcp.example".into(),
        token_id: "jti".into(),
        expires_at: 1_900_000_000,
        derived: Default::default(),
    }
}

pub fn post(body: &str) -> Request {
    Request::new(Method::Post, "/mcp")
        .with_header("Accept", "application/json, text/event-stream")
        .with_header("Content-Type", "application/json")
        .with_body(body.as_bytes().to_vec())
}

/// A fresh RNG stream per request (distinct session ids).
#[allow(clippy::disallowed_types, clippy::disallowed_methods)] // host-only test code (core/clippy.toml)
pub fn rng() -> CountingRng {
    static SEED: std::sync::atomic::AtomicU8 = std::sync::atomic::AtomicU8::new(1);
    CountingRng(SEED.fetch_add(2, std::sync::atomic::Ordering::Relaxed))
}

pub fn run(server: &McpServer, req: &Request, principal: Option<&Principal>) -> McpOutcome {
    run_at(server, req, principal, T0)
}

/// [`run`] at `now`.
pub fn run_at(
    server: &McpServer,
    req: &Request,
    principal: Option<&Principal>,
    now: UnixTime,
) -> McpOutcome {
    // The router hands the server a shared caller.
    let shared = principal.cloned().map(mcpauth_core::sync::Arc::new);
    block_on(server.handle(req, shared.as_ref(), now, &mut rng()))
}

pub fn resp_at(server: &McpServer, req: &Request, now: UnixTime) -> Response {
    match block_on(server.handle(req, None, now, &mut rng())) {
        McpOutcome::Response(r) => r,
        other => panic!("expected a response, got {other:?}"),
    }
}

/// A 2026-07-28 request with all required headers and `_meta`.
pub fn modern(id: Value, method: &str, mut params: Value) -> Request {
    if let Some(p) = params.as_object_mut() {
        p.insert(
            "_meta".into(),
            json!({
                "io.modelcontextprotocol/protocolVersion": "2026-07-28",
                "io.modelcontextprotocol/clientInfo": {"name": "t", "version": "1"},
                "io.modelcontextprotocol/clientCapabilities": {}
            }),
        );
    }
    let name = params
        .get("name")
        .or_else(|| params.get("uri"))
        .and_then(Value::as_str)
        .map(str::to_owned);
    let b = json!({"jsonrpc": "2.0", "id": id, "method": method, "params": params});
    let mut r = post(&b.to_string())
        .with_header("MCP-Protocol-Version", "2026-07-28")
        .with_header("Mcp-Method", method);
    if let (Some(n), true) = (
        name,
        matches!(method, "tools/call" | "resources/read" | "prompts/get"),
    ) {
        r = r.with_header("Mcp-Name", n);
    }
    r
}

/// Error code and HTTP status of a JSON-RPC error response.
pub fn err_of(r: &Response) -> (u16, i64) {
    (r.status, body(r)["error"]["code"].as_i64().unwrap_or(0))
}

pub fn resp(server: &McpServer, req: &Request) -> Response {
    match run(server, req, None) {
        McpOutcome::Response(r) => r,
        other => panic!("expected a response, got {other:?}"),
    }
}

pub fn body(r: &Response) -> Value {
    serde_json::from_slice(&r.body)
        .unwrap_or_else(|e| panic!("json body: {e}: {:?}", String::from_utf8_lossy(&r.body)))
}

/// Parse an SSE body into its `data` payloads (JSON) and ids.
pub fn sse(r: &Response) -> Vec<(Option<String>, String)> {
    let text = String::from_utf8(r.body.clone()).expect("utf8");
    let mut out = Vec::new();
    for block in text.split("\n\n").filter(|b| !b.is_empty()) {
        let mut id = None;
        let mut data = Vec::new();
        let mut has_data = false;
        for line in block.lines() {
            if let Some(v) = line.strip_prefix("id: ") {
                id = Some(v.to_owned());
            } else if let Some(v) = line.strip_prefix("data: ") {
                data.push(v);
                has_data = true;
            }
        }
        if has_data {
            out.push((id, data.join("\n")));
        }
    }
    out
}

pub const INIT: &str = r#"{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"t","version":"1"}}}"#;

/// Initialize a session; returns its id.
pub fn init(server: &McpServer, version: &str) -> String {
    let b = INIT.replace("2025-06-18", version);
    let r = resp(server, &post(&b));
    assert_eq!(r.status, 200, "{:?}", String::from_utf8_lossy(&r.body));
    let sid = r.header("Mcp-Session-Id").expect("session id").to_owned();
    let n = resp(
        server,
        &post(r#"{"jsonrpc":"2.0","method":"notifications/initialized"}"#)
            .with_header("Mcp-Session-Id", &sid)
            .with_header("MCP-Protocol-Version", version),
    );
    assert_eq!(n.status, 202);
    sid
}

pub fn legacy(sid: &str, version: &str, body: &str) -> Request {
    post(body)
        .with_header("Mcp-Session-Id", sid)
        .with_header("MCP-Protocol-Version", version)
}
