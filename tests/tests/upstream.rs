//! The auth proxy over HTTP: `mcpauth serve --upstream` in front of a test
//! upstream (tests/upstream_support), with a token from the real OAuth flow.

mod common;
mod upstream_support;

use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use common::*;
use serde_json::{Value, json};

/// A token for `<base>/mcp` from the whole OAuth flow.
async fn token(base: &str) -> String {
    let http = client();
    let client_id = register_public_client(&http, base).await;
    Flow::new(base, &client_id)
        .grant_as("alice", PASSWORD)
        .await
        .access
}

/// POST the tools/list message to `url` with `bearer` and `extra` headers.
async fn post(
    http: &reqwest::Client,
    url: &str,
    bearer: &str,
    extra: &[(&str, &str)],
) -> reqwest::Response {
    let mut req = http.post(url).header("authorization", bearer);
    for (name, value) in extra {
        req = req.header(*name, *value);
    }
    req.body(MESSAGE).send().await.expect("post")
}

/// The JSON-RPC message the tests send.
const MESSAGE: &str = r#"{"jsonrpc":"2.0","id":1,"method":"tools/list"}"#;

async fn json_body(r: reqwest::Response) -> Value {
    serde_json::from_slice(&r.bytes().await.expect("body")).expect("json")
}

fn add_alice(dir: &std::path::Path) {
    let (code, _, err) = cli(dir, &["user", "add", "alice"], &format!("{PASSWORD}\n"));
    assert_eq!(code, 0, "{err}");
}

/// Open file descriptors of process `pid` (sockets included).
fn open_fds(pid: u32) -> usize {
    std::fs::read_dir(format!("/proc/{pid}/fd"))
        .expect("proc fd")
        .count()
}

async fn eventually(what: &str, secs: u64, mut check: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(secs);
    while !check() {
        assert!(Instant::now() < deadline, "timed out waiting for: {what}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Read `resp` until its body contains `needle` (bounded in time).
async fn read_until(resp: &mut reqwest::Response, needle: &str) -> String {
    let mut seen = String::new();
    let read = async {
        while !seen.contains(needle) {
            match resp.chunk().await.expect("chunk") {
                Some(c) => seen.push_str(&String::from_utf8_lossy(&c)),
                None => break,
            }
        }
    };
    tokio::time::timeout(Duration::from_secs(10), read)
        .await
        .unwrap_or_else(|_| panic!("{needle:?} did not arrive; got {seen:?}"));
    assert!(
        seen.contains(needle),
        "stream ended without {needle:?}: {seen:?}"
    );
    seen
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn proxy_forwards_identity_streams_and_bounds_the_upstream() {
    let (upstream, addr) = upstream_support::start().await;
    let dir = TempDir::new("upstream");
    add_alice(&dir.0);
    let target = format!("http://{addr}/mcp");
    let other = format!("/other=http://{addr}/other");
    let server = Server::start(
        &dir.0,
        &[
            "--upstream",
            &target,
            "--upstream",
            &other,
            "--upstream-response-timeout",
            "2s",
        ],
    )
    .await;
    let base = server.base.clone();
    let http = client();
    let mcp = format!("{base}/mcp");

    // No token: the guard answers, the upstream never hears of it.
    let r = http.post(&mcp).body("{}").send().await.expect("post");
    assert_eq!(r.status(), 401);
    let challenge = r.headers()["www-authenticate"].to_str().expect("ascii");
    assert!(
        challenge.contains(&format!("{base}/.well-known/oauth-protected-resource/mcp")),
        "{challenge}"
    );
    // Each mount is its own resource, with its own metadata.
    let meta: Value = http
        .get(format!("{base}/.well-known/oauth-protected-resource/other"))
        .send()
        .await
        .expect("metadata")
        .bytes()
        .await
        .map(|b| serde_json::from_slice(&b).expect("json"))
        .expect("body");
    assert_eq!(meta["resource"], format!("{base}/other"));
    assert_eq!(upstream.requests.load(Ordering::SeqCst), 0);

    let token = token(&base).await;
    let bearer = format!("Bearer {token}");

    // JSON: what the upstream got.
    let message = json!({"jsonrpc":"2.0","id":1,"method":"tools/list"});
    let r = http
        .post(format!("{mcp}?probe=1"))
        .header("authorization", &bearer)
        .header("content-type", "application/json")
        .header("accept", "application/json, text/event-stream")
        .header("mcp-session-id", "client-session-7")
        .header("last-event-id", "41")
        .header("x-mcpauth-subject", "forged-admin")
        .header("connection", "keep-alive, x-secret-hop")
        .header("x-secret-hop", "1")
        .body(message.to_string())
        .send()
        .await
        .expect("post");
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["mcp-session-id"], "upstream-session-1");
    assert_eq!(r.headers()["via"], "1.1 mcpauth");
    let echo: Value = json_body(r).await;
    let h = &echo["headers"];
    assert_eq!(echo["method"], "POST");
    assert_eq!(echo["uri"], "/mcp?probe=1");
    assert_eq!(echo["body"], message.to_string());
    assert!(h.get("authorization").is_none(), "token leaked: {h}");
    assert!(h.get("x-secret-hop").is_none(), "hop-by-hop forwarded: {h}");
    assert_eq!(h["mcp-session-id"], json!(["client-session-7"]));
    assert_eq!(h["last-event-id"], json!(["41"]));
    assert_eq!(h["host"], json!([addr.to_string()]));
    let subject = h["x-mcpauth-subject"][0].as_str().expect("subject");
    assert_eq!(h["x-mcpauth-subject"].as_array().map(Vec::len), Some(1));
    assert_ne!(subject, "forged-admin");
    assert!(!subject.is_empty());
    assert_eq!(h["x-mcpauth-scopes"], json!(["mcp"]));
    assert!(
        h["x-mcpauth-client-id"][0]
            .as_str()
            .is_some_and(|c| !c.is_empty())
    );

    // A browser's Origin is checked here (a page of the public URL is
    // allowed, another site is not) and never forwarded.
    let before = upstream.requests.load(Ordering::SeqCst);
    let r = post(&http, &mcp, &bearer, &[("origin", "http://evil.example")]).await;
    assert_eq!(r.status(), 403);
    let body = json_body(r).await;
    assert_eq!(body["error"]["message"], "Forbidden: origin not allowed");
    assert_eq!(upstream.requests.load(Ordering::SeqCst), before);
    let r = post(&http, &mcp, &bearer, &[("origin", &base)]).await;
    assert_eq!(r.status(), 200);
    let echo = json_body(r).await;
    assert!(echo["headers"].get("origin").is_none(), "{echo}");

    // The token for /mcp is refused at /other (a resource of its own).
    let r = http
        .post(format!("{base}/other"))
        .header("authorization", &bearer)
        .body("{}")
        .send()
        .await
        .expect("post");
    assert_eq!(r.status(), 401);
    let before = upstream.requests.load(Ordering::SeqCst);

    // SSE: the first event arrives while the upstream is still writing.
    let mut r = post(
        &http,
        &mcp,
        &bearer,
        &[("x-test-mode", "sse"), ("last-event-id", "17")],
    )
    .await;
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["content-type"], "text/event-stream");
    let first = read_until(&mut r, "\n\n").await;
    assert!(first.contains(r#""first":true"#), "{first}");
    assert!(first.contains(r#""last_event_id":"17""#), "{first}");
    upstream.release.notify_one();
    read_until(&mut r, r#""last":true"#).await;
    assert!(r.chunk().await.expect("end").is_none());
    assert_eq!(upstream.requests.load(Ordering::SeqCst), before + 1);

    // A GET stream too.
    let mut r = http
        .get(&mcp)
        .header("authorization", &bearer)
        .header("accept", "text/event-stream")
        .header("x-test-mode", "forever")
        .send()
        .await
        .expect("get");
    assert_eq!(r.status(), 200);
    read_until(&mut r, "tick\":2").await;
    drop(r);
    eventually("the GET stream's upstream body dropped", 10, || {
        upstream.live_streams.load(Ordering::SeqCst) == 0
    })
    .await;

    // Clients that disconnect mid-stream: the upstream sees each one go,
    // and mcpauth holds no socket (connection, task) more than before.
    let pid = server.pid();
    let baseline = open_fds(pid);
    {
        let streams_client = client();
        let mut streams = Vec::new();
        for _ in 0..8 {
            let mut r = streams_client
                .get(&mcp)
                .header("authorization", &bearer)
                .header("x-test-mode", "forever")
                .send()
                .await
                .expect("get");
            read_until(&mut r, "tick\":1").await;
            streams.push(r);
        }
        assert_eq!(upstream.live_streams.load(Ordering::SeqCst), 8);
        assert!(open_fds(pid) >= baseline + 8);
    }
    eventually("every upstream stream dropped", 10, || {
        upstream.live_streams.load(Ordering::SeqCst) == 0
    })
    .await;
    eventually("mcpauth's sockets back to the baseline", 10, || {
        open_fds(pid) <= baseline
    })
    .await;

    // A slow upstream: 504 at the bound (2 s), not a hang.
    let started = Instant::now();
    let r = post(&http, &mcp, &bearer, &[("x-test-mode", "slow")]).await;
    let took = started.elapsed();
    assert_eq!(r.status(), 504);
    assert!(
        took >= Duration::from_secs(2) && took < Duration::from_secs(6),
        "{took:?}"
    );
    let body: Value = json_body(r).await;
    assert_eq!(body["id"], 1);
    assert!(
        body["error"]["message"]
            .as_str()
            .expect("message")
            .contains("did not answer")
    );

    // 10 MiB declared: refused before a byte, with a JSON-RPC error.
    let r = post(&http, &mcp, &bearer, &[("x-test-mode", "big")]).await;
    assert_eq!(r.status(), 502);
    let body: Value = json_body(r).await;
    assert!(
        body["error"]["message"]
            .as_str()
            .expect("message")
            .contains("larger than 8388608"),
        "{body}"
    );

    // 10 MiB undeclared: the stream is cut at 8 MiB, the client sees an
    // incomplete body (never 10 MiB, never a hang).
    let r = post(&http, &mcp, &bearer, &[("x-test-mode", "big-chunked")]).await;
    assert_eq!(r.status(), 200);
    let read = tokio::time::timeout(Duration::from_secs(20), r.bytes()).await;
    assert!(
        matches!(read, Ok(Err(_))),
        "a cut body is an error for the client"
    );

    // Still serving afterwards.
    let r = post(&http, &mcp, &bearer, &[]).await;
    assert_eq!(r.status(), 200);
    server.stop();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn upstream_garbage_and_down_answer_502() {
    // An "upstream" that answers every connection with bytes that are not
    // HTTP, until the test closes it (then nothing listens there).
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    let garbage = tokio::spawn(async move {
        use tokio::io::AsyncWriteExt;
        loop {
            let Ok((mut s, _)) = listener.accept().await else {
                return;
            };
            tokio::spawn(async move {
                let _ = s
                    .write_all(b"SSH-2.0-nonsense\r\n\x00\x01\x02\r\n\r\n")
                    .await;
                let _ = s.shutdown().await;
            });
        }
    });
    let dir = TempDir::new("upstream-down");
    add_alice(&dir.0);
    let target = format!("http://{addr}/mcp");
    let server = Server::start(&dir.0, &["--upstream", &target]).await;
    let token = token(&server.base).await;
    let http = client();
    let call = || {
        http.post(format!("{}/mcp", server.base))
            .header("authorization", format!("Bearer {token}"))
            .header("content-type", "application/json")
            .body(r#"{"jsonrpc":"2.0","id":"a","method":"ping"}"#)
            .send()
    };
    let r = call().await.expect("post");
    assert_eq!(r.status(), 502);
    let body: Value = json_body(r).await;
    assert_eq!(body["jsonrpc"], "2.0");
    assert_eq!(body["id"], "a");
    assert!(
        body["error"]["message"]
            .as_str()
            .expect("message")
            .contains("invalid response"),
        "{body}"
    );

    garbage.abort();
    let _ = garbage.await;
    let started = Instant::now();
    let r = call().await.expect("post");
    assert_eq!(r.status(), 502);
    assert!(started.elapsed() < Duration::from_secs(6));
    let body: Value = json_body(r).await;
    assert!(
        body["error"]["message"]
            .as_str()
            .expect("message")
            .contains("cannot be reached"),
        "{body}"
    );
    server.stop();
}

/// An upstream that, like gunicorn (2 s `keepalive`; uvicorn and Node: 5
/// s), closes a connection left idle for 2 s. Its close and the proxy's
/// next request on that pooled connection can cross: this upstream plays
/// the crossing out every time, reading a request that comes after 2 s of
/// idleness and closing without an answer. The proxy must have dropped the
/// idle connection first (its pool keeps them 1.5 s), so the client never
/// sees that close as a 502.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pooled_upstream_connection_is_dropped_before_a_2s_idle_close() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    const UPSTREAM_IDLE: Duration = Duration::from_secs(2);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    let connections = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let accepted = connections.clone();
    let upstream = tokio::spawn(async move {
        loop {
            let Ok((mut s, _)) = listener.accept().await else {
                return;
            };
            accepted.fetch_add(1, Ordering::SeqCst);
            tokio::spawn(async move {
                let mut answered = Instant::now();
                let mut buf = Vec::new();
                loop {
                    // One request: its head, then Content-Length bytes.
                    let (head_len, body_len) = loop {
                        if let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                            let head = String::from_utf8_lossy(&buf[..end]).to_ascii_lowercase();
                            let len = head
                                .lines()
                                .find_map(|l| l.strip_prefix("content-length:"))
                                .and_then(|v| v.trim().parse::<usize>().ok())
                                .unwrap_or(0);
                            break (end + 4, len);
                        }
                        let mut chunk = [0u8; 4096];
                        match s.read(&mut chunk).await {
                            Ok(0) | Err(_) => return,
                            Ok(n) => buf.extend_from_slice(&chunk[..n]),
                        }
                    };
                    while buf.len() < head_len + body_len {
                        let mut chunk = [0u8; 4096];
                        match s.read(&mut chunk).await {
                            Ok(0) | Err(_) => return,
                            Ok(n) => buf.extend_from_slice(&chunk[..n]),
                        }
                    }
                    buf.drain(..head_len + body_len);
                    if answered.elapsed() >= UPSTREAM_IDLE {
                        // The idle close crossed this request.
                        return;
                    }
                    let body = r#"{"jsonrpc":"2.0","id":1,"result":{"tools":[]}}"#;
                    let answer = format!(
                        "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n{body}",
                        body.len()
                    );
                    if s.write_all(answer.as_bytes()).await.is_err() {
                        return;
                    }
                    answered = Instant::now();
                }
            });
        }
    });
    let dir = TempDir::new("upstream-idle");
    add_alice(&dir.0);
    let target = format!("http://{addr}/mcp");
    let server = Server::start(&dir.0, &["--upstream", &target]).await;
    let bearer = format!("Bearer {}", token(&server.base).await);
    let http = client();
    let mcp = format!("{}/mcp", server.base);
    let r = post(&http, &mcp, &bearer, &[]).await;
    assert_eq!(r.status(), 200);
    assert_eq!(connections.load(Ordering::SeqCst), 1);
    tokio::time::sleep(UPSTREAM_IDLE + Duration::from_millis(300)).await;
    let r = post(&http, &mcp, &bearer, &[]).await;
    assert_eq!(
        r.status(),
        200,
        "the proxy reused a connection idle for 2 s"
    );
    assert_eq!(connections.load(Ordering::SeqCst), 2, "a fresh connection");
    upstream.abort();
    server.stop();
}
