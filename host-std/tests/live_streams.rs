//! Live MCP streams through HTTP (host-std's runtime, a real socket): a
//! 2025-era tool asks the client for sampling on its POST stream and
//! finishes with the answer; a stream closed mid-call is resumed by `GET`
//! with `Last-Event-ID`; forged or foreign resumptions are refused; the
//! stream and pending-input bounds hold; an unanswered input request
//! expires on the host's timer without another request.

use std::net::SocketAddr;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper_util::rt::TokioIo;
use mcpauth::server::{ServerOptions, serve};
use mcpauth_core::mcp::{
    CallToolResult, InputRequired, McpConfig, McpLimits, McpServer, MemorySessionStore,
    NoSessionStore, Registry, Resource, ResourceContents, SessionStore, Tool,
};
use mcpauth_core::server::Router;
use mcpauth_core::sync::Arc;
use serde_json::{Value, json};

fn registry() -> Registry {
    let mut r = Registry::new();
    let no_args = json!({"type": "object", "properties": {}});
    r.tool(Tool::new("ask", no_args.clone()), |ctx, args| {
        Box::pin(async move {
            if let Some(answer) = ctx.input_response("q") {
                let text = answer["content"]["text"].as_str().unwrap_or("");
                // The second invocation gets the call's arguments again.
                let to = args.get("to").and_then(Value::as_str).unwrap_or("nobody");
                return Ok(CallToolResult::text(format!("model said {text} to {to}")));
            }
            if !ctx.can_request_input("sampling/createMessage") {
                return Ok(CallToolResult::error("cannot ask"));
            }
            Ok(CallToolResult::input_required(
                InputRequired::new().request(
                    "q",
                    "sampling/createMessage",
                    json!({"messages": [], "maxTokens": 5}),
                ),
            ))
        })
    })
    .expect("tool");
    r.tool(Tool::new("touch", no_args.clone()), |ctx, _args| {
        Box::pin(async move {
            ctx.resource_updated("test://r");
            Ok(CallToolResult::text("touched"))
        })
    })
    .expect("tool");
    r.resource(
        Resource::new("test://r", "r", Some("text/plain")),
        |_ctx, uri| {
            Box::pin(async move { Ok(vec![ResourceContents::text(uri, Some("text/plain"), "r")]) })
        },
    )
    .expect("resource");
    r.tool(
        Tool::new("until_cancelled", no_args.clone()),
        |ctx, _args| {
            Box::pin(async move {
                for _ in 0..100 {
                    if ctx.is_cancelled() {
                        return Ok(CallToolResult::text("saw the cancellation"));
                    }
                    tokio::time::sleep(Duration::from_millis(20)).await;
                }
                Ok(CallToolResult::text("never cancelled"))
            })
        },
    )
    .expect("tool");
    r.tool(Tool::new("quick", no_args.clone()), |_ctx, _args| {
        Box::pin(async move { Ok(CallToolResult::text("done")) })
    })
    .expect("tool");
    r.tool(Tool::new("poll", no_args), |ctx, _args| {
        Box::pin(async move {
            ctx.close_sse_stream();
            tokio::time::sleep(Duration::from_millis(100)).await;
            Ok(CallToolResult::text("after the close"))
        })
    })
    .expect("tool");
    r
}

async fn start(stateless: bool, limits: McpLimits) -> SocketAddr {
    let mut config = McpConfig::new("live-test", "1");
    config.stateless = stateless;
    config.live_streams = true;
    config.limits = limits;
    let sessions: Box<dyn SessionStore> = if stateless {
        Box::new(NoSessionStore)
    } else {
        Box::new(MemorySessionStore::new(16, 600))
    };
    let mcp = Arc::new(McpServer::new(config, registry(), sessions));
    // As the `mcpauth` app does: input waits and retention expire on time.
    mcpauth::mcp_timer::spawn(&mcp);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    let options = ServerOptions::default();
    tokio::spawn(serve(
        listener,
        Router::dangerously_open(mcp),
        options,
        std::future::pending(),
    ));
    addr
}

/// One request on a fresh connection.
async fn send(
    addr: SocketAddr,
    method: &str,
    headers: &[(&str, &str)],
    body: &str,
) -> hyper::Response<Incoming> {
    let stream = tokio::net::TcpStream::connect(addr).await.expect("connect");
    let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .expect("handshake");
    tokio::spawn(conn);
    let mut req = hyper::Request::builder()
        .method(method)
        .uri("/mcp")
        .header("Host", addr.to_string())
        .header("Accept", "application/json, text/event-stream");
    if method == "POST" {
        req = req.header("Content-Type", "application/json");
    }
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    let req = req
        .body(Full::new(Bytes::from(body.to_owned())))
        .expect("request");
    sender.send_request(req).await.expect("response")
}

/// Read `body` until `done` holds for the text so far (or the body ends),
/// within five seconds.
async fn read_until(body: &mut Incoming, text: &mut String, done: impl Fn(&str) -> bool) -> bool {
    let read = async {
        while !done(text) {
            match body.frame().await {
                Some(Ok(frame)) => {
                    if let Ok(data) = frame.into_data() {
                        text.push_str(&String::from_utf8_lossy(&data));
                    }
                }
                _ => return false,
            }
        }
        true
    };
    tokio::time::timeout(Duration::from_secs(5), read)
        .await
        .unwrap_or(false)
}

/// The JSON messages of an SSE text, with their event ids.
fn events(text: &str) -> Vec<(String, Option<Value>)> {
    text.split("\n\n")
        .filter_map(|block| {
            let id = block.lines().find_map(|l| l.strip_prefix("id: "))?;
            let data = block.lines().find_map(|l| l.strip_prefix("data: "));
            Some((
                id.to_owned(),
                data.and_then(|d| serde_json::from_str(d).ok()),
            ))
        })
        .collect()
}

async fn initialize(addr: SocketAddr, capabilities: Value) -> Option<String> {
    let body = json!({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
        "protocolVersion": "2025-11-25", "capabilities": capabilities,
        "clientInfo": {"name": "t", "version": "1"}}});
    let resp = send(addr, "POST", &[], &body.to_string()).await;
    assert_eq!(resp.status(), 200);
    resp.headers()
        .get("mcp-session-id")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned)
}

fn call(id: u32, tool: &str) -> String {
    json!({"jsonrpc": "2.0", "id": id, "method": "tools/call",
           "params": {"name": tool, "arguments": {}}})
    .to_string()
}

/// Call `ask`, answer the sampling request it sends on the stream, and
/// read the final result on the same stream.
async fn sampling_round_trip(addr: SocketAddr, sid: Option<&str>) {
    let mut headers = vec![("MCP-Protocol-Version", "2025-11-25")];
    if let Some(sid) = sid {
        headers.push(("Mcp-Session-Id", sid));
    }
    let ask = json!({"jsonrpc": "2.0", "id": 7, "method": "tools/call",
                     "params": {"name": "ask", "arguments": {"to": "alice"}}});
    let resp = send(addr, "POST", &headers, &ask.to_string()).await;
    assert_eq!(resp.status(), 200);
    assert_eq!(
        resp.headers()["content-type"].to_str().ok(),
        Some("text/event-stream")
    );
    let mut body = resp.into_body();
    let mut text = String::new();
    assert!(
        read_until(&mut body, &mut text, |t| t
            .contains("sampling/createMessage"))
        .await,
        "no sampling request on the stream: {text}"
    );
    assert!(text.starts_with("retry: "), "retry hint first: {text}");
    let request = events(&text)
        .into_iter()
        .find_map(|(_, m)| m.filter(|m| m["method"] == "sampling/createMessage"))
        .expect("sampling request");
    let rpc_id = request["id"].as_str().expect("string id").to_owned();
    assert!(rpc_id.len() > 30, "unguessable id: {rpc_id}");

    let answer = json!({"jsonrpc": "2.0", "id": rpc_id, "result": {
        "role": "assistant", "content": {"type": "text", "text": "hi"}, "model": "m"}});
    let accepted = send(addr, "POST", &headers, &answer.to_string()).await;
    assert_eq!(accepted.status(), 202);

    assert!(
        read_until(&mut body, &mut text, |t| t.contains("model said")).await,
        "no result on the stream: {text}"
    );
    let result = events(&text)
        .into_iter()
        .find_map(|(_, m)| m.filter(|m| m["id"] == 7))
        .expect("result");
    assert_eq!(
        result["result"]["content"][0]["text"],
        "model said hi to alice"
    );
    // The stream ends after the response.
    assert!(body.frame().await.is_none());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sampling_request_during_a_tool_call_with_a_session() {
    let addr = start(false, McpLimits::default()).await;
    let sid = initialize(addr, json!({"sampling": {}}))
        .await
        .expect("session");
    sampling_round_trip(addr, Some(&sid)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sampling_request_during_a_tool_call_stateless() {
    let addr = start(true, McpLimits::default()).await;
    assert_eq!(initialize(addr, json!({"sampling": {}})).await, None);
    sampling_round_trip(addr, None).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn undeclared_capability_is_not_asked() {
    let addr = start(false, McpLimits::default()).await;
    let sid = initialize(addr, json!({})).await.expect("session");
    let headers = [("Mcp-Session-Id", sid.as_str())];
    let resp = send(addr, "POST", &headers, &call(3, "ask")).await;
    let mut body = resp.into_body();
    let mut text = String::new();
    read_until(&mut body, &mut text, |_| false).await;
    assert!(!text.contains("sampling/createMessage"), "{text}");
    assert!(text.contains("cannot ask"), "{text}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stream_closed_mid_call_is_resumed_with_last_event_id() {
    let addr = start(false, McpLimits::default()).await;
    let sid = initialize(addr, json!({})).await.expect("session");
    let headers = [("Mcp-Session-Id", sid.as_str())];
    let resp = send(addr, "POST", &headers, &call(9, "poll")).await;
    let mut body = resp.into_body();
    let mut text = String::new();
    // The server ends the POST stream after the priming event.
    assert!(!read_until(&mut body, &mut text, |_| false).await);
    assert!(!text.contains("after the close"), "{text}");
    let seen = events(&text);
    assert_eq!(seen.len(), 1, "only the priming event: {text}");
    let last = seen[0].0.clone();

    // A forged id, another session's id, and no session at all: refused.
    let forged = format!("{}x.0", &last[..last.len() - 2]);
    for (sid, last, status) in [
        (sid.as_str(), forged.as_str(), 400),
        (sid.as_str(), "nonsense", 400),
        ("no-such-session", last.as_str(), 404),
    ] {
        let h = [("Mcp-Session-Id", sid), ("Last-Event-ID", last)];
        let r = send(addr, "GET", &h, "").await;
        assert_eq!(r.status(), status, "{last}");
        let b = r.into_body().collect().await.expect("body").to_bytes();
        let v: Value = serde_json::from_slice(&b).expect("JSON-RPC error");
        assert!(v["error"]["code"].is_i64(), "{v}");
    }
    let other = initialize(addr, json!({})).await.expect("session");
    let h = [
        ("Mcp-Session-Id", other.as_str()),
        ("Last-Event-ID", last.as_str()),
    ];
    assert_eq!(send(addr, "GET", &h, "").await.status(), 400);

    let h = [
        ("Mcp-Session-Id", sid.as_str()),
        ("Last-Event-ID", last.as_str()),
    ];
    let resumed = send(addr, "GET", &h, "").await;
    assert_eq!(resumed.status(), 200);
    let mut body = resumed.into_body();
    let mut text = String::new();
    assert!(
        read_until(&mut body, &mut text, |t| t.contains("after the close")).await,
        "{text}"
    );
    let (id, message) = events(&text).pop().expect("event");
    assert_eq!(message.expect("json")["id"], 9);
    assert!(id.ends_with(".1"), "sequence continues: {id}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn standalone_stream_bounds_and_conflicts() {
    let limits = McpLimits {
        max_streams_per_session: 1,
        ..McpLimits::default()
    };
    let addr = start(false, limits).await;
    let sid = initialize(addr, json!({})).await.expect("session");
    let headers = [("Mcp-Session-Id", sid.as_str())];
    // The standalone GET stream opens and stays open.
    let get = send(addr, "GET", &headers, "").await;
    assert_eq!(get.status(), 200);
    // A second reader of it: 409.
    assert_eq!(send(addr, "GET", &headers, "").await.status(), 409);
    // The session's one stream is taken: a streamed call is refused (503).
    let post = send(addr, "POST", &headers, &call(4, "poll")).await;
    assert_eq!(post.status(), 503);
    // GET without a session: 400; DELETE ends the session and its stream.
    assert_eq!(send(addr, "GET", &[], "").await.status(), 400);
    let mut body = get.into_body();
    assert_eq!(send(addr, "DELETE", &headers, "").await.status(), 200);
    let mut text = String::new();
    assert!(!read_until(&mut body, &mut text, |_| false).await);
    assert!(text.starts_with("retry: "), "{text}");
}

/// A live call that ends at its first poll without a notification never
/// opens its stream (most tools: no stream key in the table, no events to
/// log and take back): it is answered with plain JSON even while the
/// session may hold no other stream.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_call_that_ends_at_once_opens_no_stream() {
    let limits = McpLimits {
        max_streams_per_session: 1,
        ..McpLimits::default()
    };
    let addr = start(false, limits).await;
    let sid = initialize(addr, json!({})).await.expect("session");
    let headers = [
        ("Mcp-Session-Id", sid.as_str()),
        ("MCP-Protocol-Version", "2025-11-25"),
    ];
    // The standalone GET stream takes the session's one stream.
    let get = send(addr, "GET", &headers, "").await;
    assert_eq!(get.status(), 200);
    for id in 5..8 {
        let quick = send(addr, "POST", &headers, &call(id, "quick")).await;
        assert_eq!(quick.status(), 200);
        assert_eq!(
            quick.headers()["content-type"].to_str().ok(),
            Some("application/json")
        );
        let bytes = quick.into_body().collect().await.expect("body").to_bytes();
        let message: Value = serde_json::from_slice(&bytes).expect("JSON");
        assert_eq!(message["id"], id);
        assert_eq!(message["result"]["content"][0]["text"], "done");
    }
    // A call that waits does need a stream, and there is none left.
    let post = send(addr, "POST", &headers, &call(9, "poll")).await;
    assert_eq!(post.status(), 503);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pending_inputs_are_bounded() {
    let limits = McpLimits {
        max_pending_inputs: 1,
        ..McpLimits::default()
    };
    let addr = start(true, limits).await;
    let first = send(addr, "POST", &[], &call(1, "ask")).await;
    let mut first_body = first.into_body();
    let mut text = String::new();
    assert!(read_until(&mut first_body, &mut text, |t| t.contains("sampling/")).await);
    // The table holds one waiting request: the second call fails at once,
    // so it is answered whole, as plain JSON.
    let second = send(addr, "POST", &[], &call(2, "ask")).await;
    assert_eq!(
        second.headers()["content-type"].to_str().ok(),
        Some("application/json")
    );
    let bytes = second.into_body().collect().await.expect("body").to_bytes();
    let message: Value = serde_json::from_slice(&bytes).expect("JSON");
    assert_eq!(message["id"], 2);
    assert_eq!(
        message["error"]["message"],
        "Too many pending input requests"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn get_is_405_without_live_streams_support_in_stateless_mode() {
    let addr = start(true, McpLimits::default()).await;
    let r = send(addr, "GET", &[], "").await;
    assert_eq!(r.status(), 405);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn resource_updates_reach_other_sessions_on_their_standalone_stream() {
    let addr = start(false, McpLimits::default()).await;
    let listener = initialize(addr, json!({})).await.expect("session");
    let h = [("Mcp-Session-Id", listener.as_str())];
    let subscribe = json!({"jsonrpc": "2.0", "id": 2, "method": "resources/subscribe",
                           "params": {"uri": "test://r"}});
    let r = send(addr, "POST", &h, &subscribe.to_string()).await;
    assert_eq!(r.status(), 200);
    let get = send(addr, "GET", &h, "").await;
    assert_eq!(get.status(), 200);
    let mut body = get.into_body();
    let mut text = String::new();
    assert!(read_until(&mut body, &mut text, |t| t.starts_with("retry: ")).await);

    let changer = initialize(addr, json!({})).await.expect("session");
    let h = [("Mcp-Session-Id", changer.as_str())];
    let r = send(addr, "POST", &h, &call(5, "touch")).await;
    let mut changer_body = r.into_body();
    let mut changer_text = String::new();
    assert!(
        read_until(&mut changer_body, &mut changer_text, |t| t
            .contains("touched"))
        .await
    );
    // The changer did not subscribe: nothing on its own stream.
    assert!(
        !changer_text.contains("resources/updated"),
        "{changer_text}"
    );

    assert!(
        read_until(&mut body, &mut text, |t| t
            .contains("notifications/resources/updated"))
        .await,
        "{text}"
    );
    let note = events(&text)
        .into_iter()
        .find_map(|(_, m)| m)
        .expect("notification");
    assert_eq!(note["params"]["uri"], "test://r");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cancellation_reaches_a_live_call() {
    let addr = start(false, McpLimits::default()).await;
    let sid = initialize(addr, json!({})).await.expect("session");
    let h = [("Mcp-Session-Id", sid.as_str())];
    let resp = send(addr, "POST", &h, &call(11, "until_cancelled")).await;
    let mut body = resp.into_body();
    let mut text = String::new();
    assert!(read_until(&mut body, &mut text, |t| t.contains("id: ")).await);
    let cancel = json!({"jsonrpc": "2.0", "method": "notifications/cancelled",
                        "params": {"requestId": 11}});
    assert_eq!(
        send(addr, "POST", &h, &cancel.to_string()).await.status(),
        202
    );
    assert!(
        read_until(&mut body, &mut text, |t| t.contains("\"id\":11")).await,
        "{text}"
    );
    assert!(text.contains("saw the cancellation"), "{text}");
}

/// A silent stream gets an SSE comment after each quiet period, so proxies
/// that close idle connections keep it open; the comment changes nothing a
/// client reads as an event.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn idle_streams_get_keep_alive_comments() {
    let limits = McpLimits {
        sse_keep_alive_secs: 1,
        ..McpLimits::default()
    };
    let addr = start(false, limits).await;
    let sid = initialize(addr, json!({})).await.expect("session");
    let headers = [("Mcp-Session-Id", sid.as_str())];
    let get = send(addr, "GET", &headers, "").await;
    assert_eq!(get.status(), 200);
    let mut body = get.into_body();
    let mut text = String::new();
    assert!(
        read_until(&mut body, &mut text, |t| t
            .matches(": keep-alive\n\n")
            .count()
            >= 2)
        .await,
        "two keep-alive comments within 5 s: {text:?}"
    );
    assert!(text.starts_with("retry: "), "{text}");
    assert!(events(&text).iter().all(|(_, m)| m.is_none()), "{text}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unanswered_input_request_expires_without_another_call() {
    let limits = McpLimits {
        input_wait_secs: 1,
        ..McpLimits::default()
    };
    let addr = start(true, limits).await;
    let headers = [("MCP-Protocol-Version", "2025-11-25")];
    let resp = send(addr, "POST", &headers, &call(7, "ask")).await;
    assert_eq!(resp.status(), 200);
    let mut body = resp.into_body();
    let mut text = String::new();
    // The client never answers: only the server's timer can end the wait
    // (the call's own limit is 15 minutes).
    let answer = "The client did not answer an input request";
    let expired = read_until(&mut body, &mut text, |t| t.contains(answer)).await;
    assert!(text.contains("sampling/createMessage"), "{text}");
    assert!(expired, "the input request never expired: {text}");
}
