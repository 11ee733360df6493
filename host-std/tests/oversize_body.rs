//! An oversize request body is answered 413, and an ordinary client that
//! writes its whole body before reading (Node's fetch, most HTTP libraries)
//! gets to read that 413 instead of a connection reset: the server reads
//! and discards a bounded amount after deciding, and only then closes.

use std::time::Duration;

use mcpauth::server::{Handler, Limits, Reply};
use mcpauth_core::http::{Request, Response};
use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;

mod common;

struct Ok200;

impl Handler for Ok200 {
    async fn reply(&self, _req: Request) -> Reply {
        Reply::Whole(Response::json(200, &b"{}"[..]))
    }
}

/// A server with a 64 KiB body limit on a free loopback port.
async fn start() -> std::net::SocketAddr {
    let limits = Limits {
        max_body_bytes: 64 * 1024,
        ..Limits::default()
    };
    common::start(Ok200, limits).await
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
    common::read_until_closed(&mut s, Duration::from_secs(30)).await
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
    let answer = common::read_until_closed(&mut s, Duration::from_secs(30)).await;
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
    let answer = common::read_some(&mut s).await;
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
