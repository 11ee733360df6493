//! A keep-alive connection parses every request head into one header map:
//! the host hands the request's map, emptied, to the response, and hyper
//! hands the response's back for the next head. Nothing of one request may
//! reach its response or the next request.

use std::time::Duration;

use mcpauth::server::{Handler, Reply, ServerOptions, serve};
use mcpauth_core::http::{Request, Response};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// Answers with the request's header fields, one `name=value` per line, and
/// one field of its own.
struct EchoHeaders;

impl Handler for EchoHeaders {
    async fn reply(&self, req: Request) -> Reply {
        let fields: Vec<String> = req
            .headers
            .iter()
            .map(|(n, v)| format!("{n}={v}"))
            .collect();
        Reply::Whole(Response::json(200, fields.join("\n")).with_header("X-Answer", "yes"))
    }
}

/// One request on `s`; the answer's head and body.
async fn exchange(s: &mut TcpStream, extra: &str) -> (String, String) {
    let req = format!("GET /h HTTP/1.1\r\nHost: x\r\n{extra}\r\n");
    s.write_all(req.as_bytes()).await.expect("write");
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        let n = tokio::time::timeout(Duration::from_secs(10), s.read(&mut buf))
            .await
            .expect("answered in time")
            .expect("read");
        assert!(n > 0, "closed before the answer");
        got.extend_from_slice(&buf[..n]);
        let text = String::from_utf8_lossy(&got).into_owned();
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
                return (head.to_ascii_lowercase(), body.to_owned());
            }
        }
    }
}

#[tokio::test]
async fn no_field_crosses_from_one_request_to_its_answer_or_the_next() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(serve(
        listener,
        EchoHeaders,
        ServerOptions::default(),
        std::future::pending(),
    ));
    let mut s = TcpStream::connect(addr).await.expect("connect");
    // The first head is the largest, so the shared map is sized by it.
    let many: String = (0..20).map(|i| format!("X-Secret-{i}: s{i}\r\n")).collect();
    let (head, body) = exchange(&mut s, &many).await;
    assert!(
        !head.contains("x-secret"),
        "a request field in its answer: {head}"
    );
    assert!(head.contains("x-answer: yes"), "{head}");
    assert_eq!(body.lines().count(), 21, "{body}");
    for round in 0..3 {
        let (head, body) = exchange(&mut s, &format!("X-Round: {round}\r\n")).await;
        assert!(
            !head.contains("x-secret") && !head.contains("x-round"),
            "{head}"
        );
        assert_eq!(head.matches("x-answer").count(), 1, "{head}");
        assert_eq!(body, format!("host=x\nx-round={round}"), "round {round}");
    }
}
