//! The MCP hot path without the network: one 2025-06-18 `tools/call` on an
//! open session, from the request (headers and body as the host hands them
//! over) to the response bytes, for the two tools `bench/run.sh` drives
//! (`echo` and `whoami`, registered as `mcpauth serve` registers them), and
//! the JSON-RPC framing alone. Figures and the command are in BENCHMARKS.md.
#![allow(missing_docs)]

mod support;

use std::future::Future;
use std::hint::black_box;
use std::pin::pin;
use std::task::{Context as TaskContext, Poll, Waker};

use criterion::{Criterion, criterion_group};
use mcpauth_core::http::{Method, Request};
use mcpauth_core::mcp::jsonrpc::{self, FrameLimits};
use mcpauth_core::mcp::{
    CallToolResult, McpConfig, McpOutcome, McpServer, MemorySessionStore, Registry, Tool,
};
use mcpauth_core::principal::Principal;
use mcpauth_core::sync::Arc;
use mcpauth_core::time::UnixTime;
use serde_json::{Value, json};
use support::BenchRandom;

/// Every future here completes on its first poll (no I/O).
fn block_on<F: Future>(f: F) -> F::Output {
    let mut f = pin!(f);
    let mut cx = TaskContext::from_waker(Waker::noop());
    loop {
        if let Poll::Ready(v) = f.as_mut().poll(&mut cx) {
            return v;
        }
    }
}

const NOW: UnixTime = UnixTime(1_800_000_000);

fn object_schema(properties: Value, required: &[&str]) -> Value {
    json!({
        "type": "object",
        "properties": properties,
        "required": required,
        "additionalProperties": false,
    })
}

/// `whoami` and `echo` as `host-std/src/tools.rs` registers them.
fn registry() -> Registry {
    let mut r = Registry::new();
    r.tool(
        Tool::new("whoami", object_schema(json!({}), &[]))
            .with_annotations(json!({"readOnlyHint": true, "openWorldHint": false})),
        |ctx, _args| {
            Box::pin(async move {
                let Some(p) = ctx.principal.as_ref() else {
                    return Ok(CallToolResult::error("no authenticated caller"));
                };
                Ok(CallToolResult::structured(json!({
                    "sub": p.subject,
                    "client_id": p.client_id,
                    "scopes": p.scopes,
                    "aud": p.audience,
                    "exp": p.expires_at,
                })))
            })
        },
    )
    .expect("unique");
    r.tool(
        Tool::new(
            "echo",
            object_schema(
                json!({"text": {"type": "string", "description": "Text to echo", "maxLength": 10000}}),
                &["text"],
            ),
        ),
        |_ctx, args| {
            Box::pin(async move {
                let text = args.get("text").and_then(Value::as_str).unwrap_or_default();
                Ok(CallToolResult::text(text))
            })
        },
    )
    .expect("unique");
    r
}

/// The caller as the router hands it over: shared, not copied.
fn principal() -> Arc<Principal> {
    principal_of("user-7f3a9c")
}

fn principal_of(subject: &str) -> Arc<Principal> {
    Arc::new(Principal {
        subject: subject.into(),
        client_id: "client-5d41402abc4b2a76".into(),
        scopes: vec!["mcp:tools".into(), "mcp:resources".into()],
        audience: "http://127.0.0.1:18481/mcp".into(),
        token_id: "jti-0123456789".into(),
        expires_at: 1_800_003_600,
        derived: Default::default(),
    })
}

/// The headers `bench/tools_call.lua` sends (the host passes all of them).
fn request(session: &str, body: &str) -> Request {
    Request::new(Method::Post, "/mcp")
        .with_header("host", "127.0.0.1:18481")
        .with_header("content-type", "application/json")
        .with_header("accept", "application/json, text/event-stream")
        .with_header("mcp-protocol-version", "2025-06-18")
        .with_header("authorization", "Bearer x")
        .with_header("mcp-session-id", session)
        .with_header("content-length", body.len().to_string())
        .with_body(body.as_bytes().to_vec())
}

fn open_session(server: &McpServer, who: &Arc<Principal>, rng: &mut BenchRandom) -> String {
    let init = Request::new(Method::Post, "/mcp")
        .with_header("content-type", "application/json")
        .with_header("accept", "application/json, text/event-stream")
        .with_body(
            br#"{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"bench","version":"1"}}}"#.to_vec(),
        );
    let McpOutcome::Response(resp) = block_on(server.handle(&init, Some(who), NOW, rng)) else {
        panic!("initialize refused");
    };
    resp.header("Mcp-Session-Id")
        .expect("a session id")
        .to_owned()
}

fn bench_mcp(c: &mut Criterion) {
    let config = McpConfig::new("bench", "1.0.0");
    let sessions = MemorySessionStore::new(config.limits.sessions, config.limits.session_idle_secs);
    let server = McpServer::new(config, registry(), Box::new(sessions));
    let who = principal();
    let mut rng = BenchRandom(7);
    let session = open_session(&server, &who, &mut rng);

    // The same server with every other session slot taken (the default
    // table holds 1024; one subject may hold 32 of them): the per-request
    // session lookup must not grow with the number of sessions.
    let full_config = McpConfig::new("bench", "1.0.0");
    let limits = full_config.limits;
    let full = McpServer::new(
        full_config,
        registry(),
        Box::new(MemorySessionStore::for_limits(&limits)),
    );
    let slots = limits.sessions;
    for i in 0..slots - 1 {
        open_session(&full, &principal_of(&format!("user-{}", i / 32)), &mut rng);
    }
    let last = open_session(&full, &who, &mut rng);

    let mut group = c.benchmark_group("mcp");
    let echo = r#"{"jsonrpc":"2.0","id":7,"method":"tools/call","params":{"name":"echo","arguments":{"text":"hello"}}}"#;
    let req = request(&last, echo);
    match block_on(full.handle(&req, Some(&who), NOW, &mut rng)) {
        McpOutcome::Response(r) if r.status == 200 => {}
        other => panic!("full table: unexpected outcome {other:?}"),
    }
    group.bench_function("tools_call_echo_1024_sessions", |b| {
        b.iter(
            || match block_on(full.handle(black_box(&req), Some(&who), NOW, &mut rng)) {
                McpOutcome::Response(r) => black_box(r.body),
                _ => panic!("not a response"),
            },
        );
    });
    for (name, body) in [
        (
            "tools_call_echo",
            r#"{"jsonrpc":"2.0","id":7,"method":"tools/call","params":{"name":"echo","arguments":{"text":"hello"}}}"#,
        ),
        (
            "tools_call_whoami",
            r#"{"jsonrpc":"2.0","id":7,"method":"tools/call","params":{"name":"whoami","arguments":{}}}"#,
        ),
    ] {
        let req = request(&session, body);
        let check = block_on(server.handle(&req, Some(&who), NOW, &mut rng));
        match &check {
            McpOutcome::Response(r) if r.status == 200 => {}
            other => panic!("{name}: unexpected outcome {other:?}"),
        }
        group.bench_function(name, |b| {
            b.iter(|| {
                let out = block_on(server.handle(black_box(&req), Some(&who), NOW, &mut rng));
                match out {
                    McpOutcome::Response(r) => black_box(r.body),
                    McpOutcome::InsufficientScope { .. } => panic!("scope"),
                    McpOutcome::Stream(_) => panic!("stream"),
                }
            });
        });
    }
    let body = br#"{"jsonrpc":"2.0","id":7,"method":"tools/call","params":{"name":"echo","arguments":{"text":"hello"}}}"#;
    let limits = FrameLimits::default();
    group.bench_function("jsonrpc_parse", |b| {
        b.iter(|| black_box(jsonrpc::parse(black_box(body), &limits)).is_ok());
    });
    group.finish();
}

criterion_group!(benches, bench_mcp);

fn main() {
    benches();
    Criterion::default().configure_from_args().final_summary();
}
