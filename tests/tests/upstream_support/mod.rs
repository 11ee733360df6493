//! A test upstream: a plain hyper server standing in for an MCP server
//! without authentication. What it does is chosen per request by the
//! `x-test-mode` header (which the proxy forwards like any end-to-end
//! header), so one upstream and one mcpauth serve every case.

use std::convert::Infallible;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::{Body, Frame, Incoming};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use serde_json::json;
use tokio::net::TcpListener;
use tokio::sync::{Notify, mpsc};

/// What the test can observe and steer.
#[derive(Debug, Default)]
pub struct Upstream {
    /// Streaming bodies alive right now (a dropped body: the proxy closed
    /// the connection, so the upstream saw the client go away).
    pub live_streams: AtomicUsize,
    /// Requests received.
    pub requests: AtomicUsize,
    /// Lets the `sse` mode write its last event.
    pub release: Notify,
}

/// A body fed through a channel; counts itself in `live` while alive.
struct ChannelBody {
    rx: mpsc::Receiver<Bytes>,
    live: Option<Arc<Upstream>>,
}

impl Drop for ChannelBody {
    fn drop(&mut self) {
        if let Some(u) = &self.live {
            u.live_streams.fetch_sub(1, Ordering::SeqCst);
        }
    }
}

impl Body for ChannelBody {
    type Data = Bytes;
    type Error = Infallible;
    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Infallible>>> {
        self.rx.poll_recv(cx).map(|b| b.map(|b| Ok(Frame::data(b))))
    }
}

type Reply = Response<http_body_util::Either<Full<Bytes>, ChannelBody>>;

fn whole(status: u16, content_type: &str, body: impl Into<Bytes>) -> Reply {
    Response::builder()
        .status(status)
        .header("content-type", content_type)
        .header("mcp-session-id", "upstream-session-1")
        .body(http_body_util::Either::Left(Full::new(body.into())))
        .expect("response")
}

fn channel(state: &Arc<Upstream>, counted: bool) -> (mpsc::Sender<Bytes>, ChannelBody) {
    let (tx, rx) = mpsc::channel(4);
    let live = counted.then(|| {
        state.live_streams.fetch_add(1, Ordering::SeqCst);
        state.clone()
    });
    (tx, ChannelBody { rx, live })
}

fn streamed(content_type: &str, body: ChannelBody) -> Reply {
    Response::builder()
        .header("content-type", content_type)
        .header("mcp-session-id", "upstream-session-1")
        .header("cache-control", "no-cache")
        .body(http_body_util::Either::Right(body))
        .expect("response")
}

async fn answer(state: Arc<Upstream>, req: Request<Incoming>) -> Reply {
    state.requests.fetch_add(1, Ordering::SeqCst);
    let mode = req
        .headers()
        .get("x-test-mode")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("echo")
        .to_owned();
    let (parts, body) = req.into_parts();
    let body = body
        .collect()
        .await
        .map(|b| b.to_bytes())
        .unwrap_or_default();
    match mode.as_str() {
        // The request as the upstream got it.
        "echo" => {
            let mut headers = serde_json::Map::new();
            for (name, value) in &parts.headers {
                let v = String::from_utf8_lossy(value.as_bytes()).into_owned();
                match headers.get_mut(name.as_str()) {
                    Some(serde_json::Value::Array(list)) => list.push(v.into()),
                    _ => {
                        headers.insert(name.as_str().to_owned(), json!([v]));
                    }
                }
            }
            let echo = json!({
                "method": parts.method.as_str(),
                "uri": parts.uri.to_string(),
                "headers": headers,
                "body": String::from_utf8_lossy(&body),
            });
            whole(200, "application/json", echo.to_string())
        }
        // One event at once, the last only when the test releases it.
        "sse" => {
            let (tx, body) = channel(&state, true);
            let last_event_id = parts
                .headers
                .get("last-event-id")
                .and_then(|v| v.to_str().ok())
                .unwrap_or("")
                .to_owned();
            let state = state.clone();
            tokio::spawn(async move {
                let first = format!(
                    "id: 1\nevent: message\ndata: {}\n\n",
                    json!({"first": true, "last_event_id": last_event_id})
                );
                if tx.send(first.into()).await.is_err() {
                    return;
                }
                state.release.notified().await;
                let _ = tx
                    .send(Bytes::from_static(b"id: 2\ndata: {\"last\":true}\n\n"))
                    .await;
            });
            streamed("text/event-stream", body)
        }
        // An event every 50 ms until the reader goes away.
        "forever" => {
            let (tx, body) = channel(&state, true);
            tokio::spawn(async move {
                for n in 0u64.. {
                    let event = format!("id: {n}\ndata: {{\"tick\":{n}}}\n\n");
                    if tx.send(event.into()).await.is_err() {
                        return;
                    }
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
            });
            streamed("text/event-stream", body)
        }
        // Never answers in time.
        "slow" => {
            tokio::time::sleep(Duration::from_secs(30)).await;
            whole(200, "application/json", "{}")
        }
        // 10 MiB, declared.
        "big" => whole(200, "application/json", vec![b' '; 10 << 20]),
        // 10 MiB in 1 MiB chunks, not declared.
        "big-chunked" => {
            let (tx, body) = channel(&state, false);
            tokio::spawn(async move {
                for _ in 0..10 {
                    if tx.send(Bytes::from(vec![b' '; 1 << 20])).await.is_err() {
                        return;
                    }
                }
            });
            streamed("application/json", body)
        }
        other => whole(400, "text/plain", format!("unknown mode {other}")),
    }
}

/// Start the upstream on a loopback port; returns its state and address.
pub async fn start() -> (Arc<Upstream>, std::net::SocketAddr) {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    let state = Arc::new(Upstream::default());
    let shared = state.clone();
    tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                return;
            };
            let state = shared.clone();
            tokio::spawn(async move {
                let svc = service_fn(move |req| {
                    let state = state.clone();
                    async move { Ok::<_, Infallible>(answer(state, req).await) }
                });
                let _ = http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), svc)
                    .await;
            });
        }
    });
    (state, addr)
}
