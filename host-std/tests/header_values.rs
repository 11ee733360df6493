//! What a request's header values look like to the core: httparse lets a
//! tab, visible ASCII and obs-text (bytes 0x80–0xFF) into a value; the
//! core gets each value as a string, valid UTF-8 unchanged and any other
//! byte sequence as U+FFFD.

use mcpauth::server::{Handler, Limits, Reply};
use mcpauth_core::http::{Request, Response};
use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;

mod common;

/// Answers with the value of `X-Value`, Rust-escaped.
struct EchoValue;

impl Handler for EchoValue {
    async fn reply(&self, req: Request) -> Reply {
        let value = format!("{:?}", req.header("x-value"));
        Reply::Whole(Response::json(200, value))
    }
}

/// The value the core saw for `X-Value: <raw>`.
async fn seen(s: &mut TcpStream, raw: &[u8]) -> String {
    let mut request = b"GET /h HTTP/1.1\r\nHost: x\r\nX-Value: ".to_vec();
    request.extend_from_slice(raw);
    request.extend_from_slice(b"\r\nContent-Length: 0\r\n\r\n");
    s.write_all(&request).await.expect("write");
    let answer = common::read_some(s).await;
    let (_, body) = answer.split_once("\r\n\r\n").expect("an answer");
    body.to_owned()
}

#[tokio::test]
async fn values_reach_the_core_as_sent_or_with_replacement_characters() {
    let addr = common::start(EchoValue, Limits::default()).await;
    let mut s = TcpStream::connect(addr).await.expect("connect");
    let cases: [(&[u8], &str); 5] = [
        (
            b"Bearer abc.def-ghi_jkl",
            r#"Some("Bearer abc.def-ghi_jkl")"#,
        ),
        // A tab inside a value is kept (leading and trailing ones are not
        // part of the value).
        (b"a\tb", r#"Some("a\tb")"#),
        (
            "caf\u{e9} \u{2603}".as_bytes(),
            "Some(\"caf\u{e9} \u{2603}\")",
        ),
        (b"latin-1 caf\xe9!", "Some(\"latin-1 caf\u{fffd}!\")"),
        (b"\xff\xfe", "Some(\"\u{fffd}\u{fffd}\")"),
    ];
    for (raw, want) in cases {
        assert_eq!(seen(&mut s, raw).await, want, "{raw:?}");
    }
}
