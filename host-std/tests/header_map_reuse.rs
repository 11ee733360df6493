//! A keep-alive connection parses every request head into one header map:
//! the host hands the request's map, emptied, to the response, and hyper
//! hands the response's back for the next head. Nothing of one request may
//! reach its response or the next request.

use mcpauth::server::{Handler, Limits, Reply};
use mcpauth_core::http::{Request, Response};
use tokio::net::TcpStream;

mod common;

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

/// One request on `s` with `extra` header lines; the answer's head (lower
/// case) and body.
async fn exchange(s: &mut TcpStream, extra: &str) -> (String, String) {
    let req = format!("GET /h HTTP/1.1\r\nHost: x\r\n{extra}\r\n");
    let (head, body) = common::exchange(s, &req).await;
    (head.to_ascii_lowercase(), body)
}

#[tokio::test]
async fn no_field_crosses_from_one_request_to_its_answer_or_the_next() {
    let addr = common::start(EchoHeaders, Limits::default()).await;
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
