//! The MCP timer driven by host-std, through HTTP: a tool's input request
//! that the client never answers expires on its own deadline, with no other
//! request to notice it, and the call's stream ends with the error.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper_util::rt::TokioIo;
use mcpauth::env::{OsRandom, now};
use mcpauth::server::{Handler, Reply, ServerOptions, serve};
use mcpauth_core::http::{Request, Response};
use mcpauth_core::mcp::{
    CallToolResult, InputRequired, McpConfig, McpLimits, McpOutcome, McpServer, NoSessionStore,
    Registry, Tool,
};
use serde_json::json;

struct TestApp {
    mcp: Arc<McpServer>,
}

impl Handler for TestApp {
    async fn handle(&self, req: Request) -> Response {
        self.reply(req).await.into_whole().await
    }

    async fn reply(&self, req: Request) -> Reply {
        let Some(t) = now() else {
            return Reply::Whole(Response::empty(503));
        };
        match self.mcp.handle(&req, None, t, &mut OsRandom).await {
            McpOutcome::Response(r) => Reply::Whole(r),
            McpOutcome::Stream(live) => Reply::live(&self.mcp, live),
            McpOutcome::InsufficientScope { .. } => Reply::Whole(Response::empty(403)),
        }
    }
}

fn asking_registry() -> Registry {
    let mut r = Registry::new();
    r.tool(
        Tool::new("ask", json!({"type": "object", "properties": {}})),
        |_ctx, _args| {
            Box::pin(async move {
                Ok(CallToolResult::input_required(
                    InputRequired::new().request(
                        "q",
                        "sampling/createMessage",
                        json!({"messages": [], "maxTokens": 5}),
                    ),
                ))
            })
        },
    )
    .expect("tool");
    r
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unanswered_input_request_expires_without_another_call() {
    let mut config = McpConfig::new("timer-test", "1");
    config.stateless = true;
    config.live_streams = true;
    config.limits = McpLimits {
        input_wait_secs: 1,
        ..McpLimits::default()
    };
    let mcp = Arc::new(McpServer::new(
        config,
        asking_registry(),
        Box::new(NoSessionStore),
    ));
    let _timer = mcpauth::mcp_timer::spawn(&mcp);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(serve(
        listener,
        TestApp { mcp },
        ServerOptions::default(),
        std::future::pending(),
    ));

    let stream = tokio::net::TcpStream::connect(addr).await.expect("connect");
    let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .expect("handshake");
    tokio::spawn(conn);
    let body = json!({"jsonrpc": "2.0", "id": 7, "method": "tools/call",
                      "params": {"name": "ask", "arguments": {}}});
    let req = hyper::Request::post("/mcp")
        .header("Host", addr.to_string())
        .header("Accept", "application/json, text/event-stream")
        .header("Content-Type", "application/json")
        .header("MCP-Protocol-Version", "2025-11-25")
        .body(Full::new(Bytes::from(body.to_string())))
        .expect("request");
    let resp = sender.send_request(req).await.expect("response");
    assert_eq!(resp.status(), 200);
    let mut body = resp.into_body();
    let mut text = String::new();
    // The client never answers; only the server's timer can end the wait
    // (the call's own limit is 15 minutes).
    let read = async {
        while let Some(Ok(frame)) = body.frame().await {
            if let Ok(data) = frame.into_data() {
                text.push_str(&String::from_utf8_lossy(&data));
            }
        }
    };
    let ended = tokio::time::timeout(Duration::from_secs(15), read).await;
    assert!(text.contains("sampling/createMessage"), "{text}");
    assert!(ended.is_ok(), "the input request never expired: {text}");
    assert!(
        text.contains("The client did not answer an input request"),
        "{text}"
    );
}
