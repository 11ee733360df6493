//! HTTP-level tests of the MCP server: both eras, every transport rule
//! (status, headers, body).

use std::future::Future;
use std::pin::pin;
use std::task::{Context as TaskContext, Poll, Waker};

use mcpauth_core::http::{Method, Request, Response};
use mcpauth_core::mcp::{
    CallToolResult, GetPromptResult, LogLevel, MIME_MCP_APP, MIME_SKYBRIDGE, McpConfig, McpError,
    McpOutcome, McpServer, MemorySessionStore, NoSessionStore, Prompt, PromptArgument, Registry,
    Resource, ResourceContents, ResourceTemplate, ScopeChallenge, Tool,
};
use mcpauth_core::principal::Principal;
use mcpauth_core::rand::{RngError, SecureRandom};
use mcpauth_core::time::UnixTime;
use serde_json::{Value, json};

fn block_on<F: Future>(f: F) -> F::Output {
    let mut f = pin!(f);
    let mut cx = TaskContext::from_waker(Waker::noop());
    loop {
        if let Poll::Ready(v) = f.as_mut().poll(&mut cx) {
            return v;
        }
    }
}

/// Deterministic test RNG (no security).
struct CountingRng(u8);
impl SecureRandom for CountingRng {
    fn fill(&mut self, dest: &mut [u8]) -> Result<(), RngError> {
        for b in dest {
            self.0 = self.0.wrapping_mul(31).wrapping_add(7);
            *b = self.0;
        }
        Ok(())
    }
}

struct FailRng;
impl SecureRandom for FailRng {
    fn fill(&mut self, _dest: &mut [u8]) -> Result<(), RngError> {
        Err(RngError)
    }
}

const T0: UnixTime = UnixTime(1_800_000_000);

fn registry() -> Registry {
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

fn server_with(config: McpConfig) -> McpServer {
    let sessions = MemorySessionStore::new(config.limits.sessions, config.limits.session_idle_secs);
    McpServer::new(config, registry(), Box::new(sessions))
}

fn server() -> McpServer {
    server_with(McpConfig::new("test-server", "1.2.3"))
}

fn principal(scopes: &[&str]) -> Principal {
    Principal {
        subject: "alice".into(),
        client_id: "client".into(),
        scopes: scopes.iter().map(|s| (*s).to_owned()).collect(),
        audience: "https://mcp.example".into(),
        token_id: "jti".into(),
        expires_at: 1_900_000_000,
    }
}

fn post(body: &str) -> Request {
    Request::new(Method::Post, "/mcp")
        .with_header("Accept", "application/json, text/event-stream")
        .with_header("Content-Type", "application/json")
        .with_body(body.as_bytes().to_vec())
}

fn run(server: &McpServer, req: &Request, principal: Option<&Principal>) -> McpOutcome {
    block_on(server.handle(req, principal, T0, &mut CountingRng(1)))
}

fn resp(server: &McpServer, req: &Request) -> Response {
    match run(server, req, None) {
        McpOutcome::Response(r) => r,
        other => panic!("expected a response, got {other:?}"),
    }
}

fn body(r: &Response) -> Value {
    serde_json::from_slice(&r.body)
        .unwrap_or_else(|e| panic!("json body: {e}: {:?}", String::from_utf8_lossy(&r.body)))
}

/// Parse an SSE body into its `data` payloads (JSON) and ids.
fn sse(r: &Response) -> Vec<(Option<String>, String)> {
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

const INIT: &str = r#"{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"t","version":"1"}}}"#;

/// Initialize a session; returns its id.
fn init(server: &McpServer, version: &str) -> String {
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

fn legacy(sid: &str, version: &str, body: &str) -> Request {
    post(body)
        .with_header("Mcp-Session-Id", sid)
        .with_header("MCP-Protocol-Version", version)
}

#[test]
fn initialize_negotiates_and_mints_a_session() {
    let s = server();
    let r = resp(&s, &post(INIT));
    assert_eq!(r.status, 200);
    assert_eq!(r.header("Content-Type"), Some("application/json"));
    let sid = r.header("Mcp-Session-Id").expect("session id");
    assert!(sid.len() >= 32 && sid.bytes().all(|b| (0x21..=0x7e).contains(&b)));
    let b = body(&r);
    assert_eq!(b["id"], 1);
    assert_eq!(b["result"]["protocolVersion"], "2025-06-18");
    assert_eq!(b["result"]["serverInfo"]["name"], "test-server");
    assert!(b["result"]["capabilities"]["tools"].is_object());
    assert!(b["result"]["capabilities"]["resources"].is_object());
    assert!(b["result"]["capabilities"]["prompts"].is_object());
    // An unknown version gets our latest legacy one.
    let r = resp(&s, &post(&INIT.replace("2025-06-18", "2099-01-01")));
    assert_eq!(body(&r)["result"]["protocolVersion"], "2025-11-25");
}

#[test]
fn smoke_both_eras() {
    let s = server();
    let sid = init(&s, "2025-06-18");
    let r = resp(
        &s,
        &legacy(
            &sid,
            "2025-06-18",
            r#"{"jsonrpc":"2.0","id":2,"method":"tools/list"}"#,
        ),
    );
    assert_eq!(r.status, 200);
    assert_eq!(body(&r)["result"]["tools"][0]["name"], "echo");

    let modern = post(r#"{"jsonrpc":"2.0","id":"d","method":"server/discover","params":{"_meta":{"io.modelcontextprotocol/protocolVersion":"2026-07-28","io.modelcontextprotocol/clientCapabilities":{}}}}"#)
        .with_header("MCP-Protocol-Version", "2026-07-28")
        .with_header("Mcp-Method", "server/discover");
    let r = resp(&s, &modern);
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
    let b = body(&r);
    assert_eq!(b["result"]["resultType"], "complete");
    assert_eq!(b["result"]["supportedVersions"][0], "2026-07-28");
    assert_eq!(
        b["result"]["_meta"]["io.modelcontextprotocol/serverInfo"]["name"],
        "test-server"
    );
}

#[test]
fn handle_future_is_send() {
    fn assert_send<T: Send>(_: &T) {}
    let s = server();
    let req = post(INIT);
    let mut rng = CountingRng(3);
    let fut = s.handle(&req, None, T0, &mut rng);
    assert_send(&fut);
    let _ = FailRng;
    let _ = (NoSessionStore, ScopeChallenge::Http403);
}
