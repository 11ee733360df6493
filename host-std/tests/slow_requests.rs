//! Slowloris bounds of the accept loop: a request head or body that does
//! not arrive in time costs the server a connection for that long only.

use std::time::Duration;

use mcpauth::server::{Handler, Limits, Reply};
use mcpauth_core::http::{Request, Response};
use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;

mod common;

/// Answers with the size of the body it read; a body starting `{"slow"`
/// takes twice [`LIMIT`] to answer.
struct BodyLength;

impl Handler for BodyLength {
    async fn reply(&self, req: Request) -> Reply {
        if req.body.starts_with(b"{\"slow\"") {
            tokio::time::sleep(LIMIT * 2).await;
        }
        let body = format!("{{\"read\":{}}}", req.body.len());
        Reply::Whole(Response::json(200, body))
    }
}

const LIMIT: Duration = Duration::from_millis(400);

/// A server whose head and body must each arrive within [`LIMIT`].
async fn start() -> std::net::SocketAddr {
    let limits = Limits {
        header_read_timeout: LIMIT,
        body_read_timeout: LIMIT,
        ..Limits::default()
    };
    common::start(BodyLength, limits).await
}

async fn read_until_closed(s: &mut TcpStream) -> String {
    common::read_until_closed(s, Duration::from_secs(10)).await
}

const HEAD: &str = "POST /mcp HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n\
                    Content-Length: 20\r\n\r\n";

#[tokio::test(flavor = "multi_thread")]
async fn a_body_that_stalls_is_answered_408() {
    let addr = start().await;
    let mut s = TcpStream::connect(addr).await.expect("connect");
    s.write_all(HEAD.as_bytes()).await.expect("head");
    s.write_all(b"{\"a\":").await.expect("part of the body");
    let answer = read_until_closed(&mut s).await;
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
    assert!(answer.contains("request not received in time"), "{answer}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_body_sent_in_parts_within_the_limit_is_read_whole() {
    let addr = start().await;
    let mut s = TcpStream::connect(addr).await.expect("connect");
    s.write_all(HEAD.as_bytes()).await.expect("head");
    s.write_all(b"{\"a\":").await.expect("first part");
    tokio::time::sleep(LIMIT / 4).await;
    s.write_all(b"\"0123456789ab\"}")
        .await
        .expect("second part");
    let answer = common::read_some(&mut s).await;
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    assert!(answer.ends_with("{\"read\":20}"), "{answer}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_head_that_stalls_closes_the_connection() {
    let addr = start().await;
    let mut s = TcpStream::connect(addr).await.expect("connect");
    s.write_all(b"POST /mcp HTTP/1.1\r\nHost: x\r\n")
        .await
        .expect("part of the head");
    let started = std::time::Instant::now();
    read_until_closed(&mut s).await;
    assert!(started.elapsed() >= LIMIT / 2, "closed too early");
}

#[tokio::test(flavor = "multi_thread")]
async fn an_idle_keep_alive_connection_is_closed_after_the_head_limit() {
    let addr = start().await;
    let mut s = TcpStream::connect(addr).await.expect("connect");
    s.write_all(format!("{HEAD}{{\"a\":\"0123456789ab\"}}").as_bytes())
        .await
        .expect("request");
    let answer = read_until_closed(&mut s).await;
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
}

/// The head limit runs while the server awaits a head, not while it
/// answers one.
#[tokio::test(flavor = "multi_thread")]
async fn an_answer_slower_than_the_head_limit_is_still_sent() {
    let addr = start().await;
    let mut s = TcpStream::connect(addr).await.expect("connect");
    s.write_all(format!("{HEAD}{{\"slow\":\"012345678\"}}").as_bytes())
        .await
        .expect("request");
    let answer = common::read_some(&mut s).await;
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    assert!(answer.ends_with("{\"read\":20}"), "{answer}");
}

/// Each head gets the whole limit from the end of the answer before it: a
/// keep-alive connection whose requests each come in time stays open for
/// longer than one limit.
#[tokio::test(flavor = "multi_thread")]
async fn each_head_gets_the_limit_from_the_previous_answer() {
    let addr = start().await;
    let mut s = TcpStream::connect(addr).await.expect("connect");
    let started = std::time::Instant::now();
    for _ in 0..4 {
        s.write_all(format!("{HEAD}{{\"a\":\"0123456789ab\"}}").as_bytes())
            .await
            .expect("request");
        let answer = common::read_some(&mut s).await;
        assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
        tokio::time::sleep(LIMIT * 3 / 4).await;
    }
    assert!(
        started.elapsed() > LIMIT * 2,
        "the connection outlived one limit"
    );
}
