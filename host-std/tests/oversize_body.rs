//! An oversize request body is answered 413, and an ordinary client that
//! writes its whole body before reading (Node's fetch, most HTTP libraries)
//! gets to read that 413 instead of a connection reset: the server reads
//! and discards a bounded amount after deciding, and only then closes.

use std::time::Duration;

use mcpauth::server::{Handler, Limits, ServerOptions, serve};
use mcpauth_core::http::{Request, Response};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

struct Ok200;

impl Handler for Ok200 {
    async fn handle(&self, _req: Request) -> Response {
        Response::json(200, &b"{}"[..])
    }
}

/// A server with a 64 KiB body limit on a free loopback port.
async fn start() -> std::net::SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    let options = ServerOptions {
        limits: Limits {
            max_body_bytes: 64 * 1024,
            ..Limits::default()
        },
        ..ServerOptions::default()
    };
    tokio::spawn(serve(listener, Ok200, options, std::future::pending()));
    addr
}

/// Write `head` and then `body_len` bytes (in 64 KiB writes, as a client
/// library does), and only then read the whole answer. A write error
/// (reset, broken pipe) fails the test: that is what Node's fetch reports.
async fn send_then_read(addr: std::net::SocketAddr, head: &str, body_len: usize) -> String {
    let mut s = TcpStream::connect(addr).await.expect("connect");
    s.write_all(head.as_bytes()).await.expect("head");
    let chunk = vec![b'x'; 64 * 1024];
    let mut left = body_len;
    while left > 0 {
        let n = left.min(chunk.len());
        s.write_all(&chunk[..n]).await.unwrap_or_else(|e| {
            panic!("the body write failed after {} bytes: {e}", body_len - left)
        });
        left -= n;
    }
    let mut answer = Vec::new();
    tokio::time::timeout(Duration::from_secs(30), s.read_to_end(&mut answer))
        .await
        .expect("answer in time")
        .unwrap_or_else(|e| panic!("reading the answer failed: {e}"));
    String::from_utf8_lossy(&answer).into_owned()
}

const TEN_MIB: usize = 10 * 1024 * 1024;

#[tokio::test(flavor = "multi_thread")]
async fn declared_oversize_body_is_read_out_and_answered_413() {
    let addr = start().await;
    let head = format!(
        "POST /mcp HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n\
         Content-Length: {TEN_MIB}\r\n\r\n"
    );
    let answer = send_then_read(addr, &head, TEN_MIB).await;
    assert!(answer.starts_with("HTTP/1.1 413"), "{answer}");
    assert!(answer.contains("request body too large"), "{answer}");
    assert!(answer.to_ascii_lowercase().contains("connection: close"));
}

#[tokio::test(flavor = "multi_thread")]
async fn chunked_oversize_body_is_read_out_and_answered_413() {
    let addr = start().await;
    let mut s = TcpStream::connect(addr).await.expect("connect");
    s.write_all(b"POST /mcp HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n")
        .await
        .expect("head");
    let chunk = vec![b'x'; 64 * 1024];
    for sent in 0..TEN_MIB / chunk.len() {
        let frame = [format!("{:x}\r\n", chunk.len()).as_bytes(), &chunk, b"\r\n"].concat();
        s.write_all(&frame)
            .await
            .unwrap_or_else(|e| panic!("chunk {sent} failed: {e}"));
    }
    s.write_all(b"0\r\n\r\n").await.expect("last chunk");
    let mut answer = Vec::new();
    tokio::time::timeout(Duration::from_secs(30), s.read_to_end(&mut answer))
        .await
        .expect("answer in time")
        .expect("read");
    let answer = String::from_utf8_lossy(&answer);
    assert!(answer.starts_with("HTTP/1.1 413"), "{answer}");
}

#[tokio::test(flavor = "multi_thread")]
async fn expect_continue_gets_413_without_asking_for_the_body() {
    let addr = start().await;
    let mut s = TcpStream::connect(addr).await.expect("connect");
    s.write_all(
        format!(
            "POST /mcp HTTP/1.1\r\nHost: x\r\nContent-Length: {TEN_MIB}\r\n\
             Expect: 100-continue\r\n\r\n"
        )
        .as_bytes(),
    )
    .await
    .expect("head");
    let mut buf = vec![0u8; 4096];
    let n = tokio::time::timeout(Duration::from_secs(10), s.read(&mut buf))
        .await
        .expect("answer in time")
        .expect("read");
    let answer = String::from_utf8_lossy(&buf[..n]);
    assert!(answer.starts_with("HTTP/1.1 413"), "{answer}");
}
#[tokio::test(flavor = "multi_thread")]
async fn a_body_beyond_the_drain_bound_is_cut_off() {
    // The drain is bounded: a client that keeps sending is disconnected
    // after `max_drain_bytes`, not read forever.
    let addr = start().await;
    let mut s = TcpStream::connect(addr).await.expect("connect");
    s.write_all(b"POST /mcp HTTP/1.1\r\nHost: x\r\nContent-Length: 1000000000000\r\n\r\n")
        .await
        .expect("head");
    let chunk = vec![b'x'; 256 * 1024];
    let mut sent = 0usize;
    let cut = loop {
        match tokio::time::timeout(Duration::from_secs(10), s.write_all(&chunk)).await {
            Ok(Ok(())) => sent += chunk.len(),
            Ok(Err(_)) => break true,
            Err(_) => break false,
        }
        if sent > 1024 * 1024 * 1024 {
            break false;
        }
    };
    assert!(cut, "still accepting after {sent} bytes");
    assert!(
        sent <= Limits::default().max_drain_bytes + 16 * 1024 * 1024,
        "{sent}"
    );
}
