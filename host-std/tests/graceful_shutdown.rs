//! Shutdown of the accept loop: idle keep-alive connections close at once,
//! a request being answered is answered first, and `serve` returns when
//! the last connection has ended, not at the end of the grace period.

use std::time::{Duration, Instant};

use mcpauth::server::{Handler, Limits, Reply, ServerOptions, serve};
use mcpauth_core::http::{Request, Response};
use tokio::net::TcpStream;
use tokio::sync::oneshot;

mod common;

/// A body starting `{"slow"` is answered after [`SLOW`].
struct Echo;

const SLOW: Duration = Duration::from_millis(400);

impl Handler for Echo {
    async fn reply(&self, req: Request) -> Reply {
        if req.body.starts_with(b"{\"slow\"") {
            tokio::time::sleep(SLOW).await;
        }
        Reply::Whole(Response::json(
            200,
            format!("{{\"read\":{}}}", req.body.len()),
        ))
    }
}

const GRACE: Duration = Duration::from_secs(20);

/// The server, the trigger of its shutdown, and its task (which ends when
/// `serve` returns).
async fn start() -> (
    std::net::SocketAddr,
    oneshot::Sender<()>,
    tokio::task::JoinHandle<()>,
) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    let options = ServerOptions {
        limits: Limits {
            shutdown_grace: GRACE,
            header_read_timeout: Duration::from_secs(30),
            ..Limits::default()
        },
        ..ServerOptions::default()
    };
    let (stop, stopped) = oneshot::channel::<()>();
    let task = tokio::spawn(serve(listener, Echo, options, async {
        let _ = stopped.await;
    }));
    (addr, stop, task)
}

/// `serve` returned (without panicking) within ten seconds.
async fn returned(server: tokio::task::JoinHandle<()>) {
    tokio::time::timeout(Duration::from_secs(10), server)
        .await
        .expect("serve returned")
        .expect("no panic");
}

fn post(body: &str) -> String {
    format!(
        "POST /mcp HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )
}

#[tokio::test(flavor = "multi_thread")]
async fn an_idle_keep_alive_connection_is_closed_at_once() {
    let (addr, stop, server) = start().await;
    let mut s = TcpStream::connect(addr).await.expect("connect");
    let (head, body) = common::exchange(&mut s, &post("{}")).await;
    assert!(head.starts_with("HTTP/1.1 200"), "{head}");
    assert_eq!(body, "{\"read\":2}");
    let started = Instant::now();
    stop.send(()).expect("serving");
    let rest = common::read_until_closed(&mut s, Duration::from_secs(10)).await;
    assert_eq!(rest, "", "closed without another answer");
    returned(server).await;
    assert!(
        started.elapsed() < GRACE / 4,
        "serve waited {:?} instead of returning when the connection closed",
        started.elapsed()
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_request_being_answered_is_answered_before_the_connection_closes() {
    let (addr, stop, server) = start().await;
    let mut s = TcpStream::connect(addr).await.expect("connect");
    let request = post("{\"slow\":1}");
    tokio::io::AsyncWriteExt::write_all(&mut s, request.as_bytes())
        .await
        .expect("request");
    tokio::time::sleep(SLOW / 4).await;
    stop.send(()).expect("serving");
    let answer = common::read_until_closed(&mut s, Duration::from_secs(10)).await;
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    assert!(answer.ends_with("{\"read\":10}"), "{answer}");
    returned(server).await;
}
