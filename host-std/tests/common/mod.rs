//! What the raw-TCP transport tests share: a server with given limits on
//! a free loopback port, and reading its answers with a deadline (a
//! missing timeout then fails the test instead of hanging it).
// Each test binary uses part of it.
#![allow(dead_code)]

use std::time::Duration;

use mcpauth::server::{Handler, Limits, ServerOptions, serve};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// Serve `handler` with `limits` on a free loopback port.
pub async fn start(handler: impl Handler, limits: Limits) -> std::net::SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    let options = ServerOptions {
        limits,
        ..ServerOptions::default()
    };
    tokio::spawn(serve(listener, handler, options, std::future::pending()));
    addr
}

/// Everything the server sends until it closes the connection.
pub async fn read_until_closed(s: &mut TcpStream, within: Duration) -> String {
    let mut answer = Vec::new();
    tokio::time::timeout(within, s.read_to_end(&mut answer))
        .await
        .expect("the server closed the connection in time")
        .unwrap_or_else(|e| panic!("reading the answer failed: {e}"));
    String::from_utf8_lossy(&answer).into_owned()
}

/// Send `request` on a keep-alive connection and read one answer: its head
/// and its body (as long as its `Content-Length` says).
pub async fn exchange(s: &mut TcpStream, request: &str) -> (String, String) {
    s.write_all(request.as_bytes()).await.expect("write");
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        let n = tokio::time::timeout(Duration::from_secs(10), s.read(&mut buf))
            .await
            .expect("answered in time")
            .expect("read");
        assert!(n > 0, "closed before the answer");
        got.extend_from_slice(&buf[..n]);
        let text = String::from_utf8_lossy(&got);
        if let Some((head, body)) = text.split_once("\r\n\r\n") {
            let len: usize = head
                .lines()
                .find_map(|l| {
                    let (k, v) = l.split_once(':')?;
                    k.eq_ignore_ascii_case("content-length")
                        .then(|| v.trim().parse().ok())?
                })
                .expect("content-length");
            if body.len() >= len {
                return (head.to_owned(), body[..len].to_owned());
            }
        }
    }
}

/// The first bytes of the server's answer, the connection left open.
pub async fn read_some(s: &mut TcpStream) -> String {
    let mut buf = vec![0u8; 4096];
    let n = tokio::time::timeout(Duration::from_secs(10), s.read(&mut buf))
        .await
        .expect("answer in time")
        .expect("read");
    String::from_utf8_lossy(&buf[..n]).into_owned()
}
