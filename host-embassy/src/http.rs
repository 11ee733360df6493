//! HTTP/1.1 framing without sockets: bytes in a fixed buffer → the core's
//! [`Request`], the core's [`Response`] → bytes. Pure functions, so host
//! tests cover them without a network.
//!
//! Only what a device needs: `Content-Length` bodies (a request with
//! `Transfer-Encoding` is answered 501, as RFC 9112 §6.1 allows a server that
//! does not implement it), persistent connections, `Expect: 100-continue`.
//!
//! Panic contract: every index is checked against the lengths httparse
//! returned; nothing here panics on peer input.

use alloc::string::String;
use alloc::vec::Vec;

use mcpauth_core::http::{Headers, Method, Request, Response};
use mcpauth_core::server::Refusal;

/// Most header fields one request may carry (httparse needs a fixed array;
/// more is answered 431).
pub const MAX_HEADERS: usize = 32;

/// A parsed request head: what the connection loop needs before the body.
#[derive(Debug)]
pub struct Head {
    /// Bytes of the head, including the blank line.
    pub len: usize,
    /// The request without its body.
    pub request: Request,
    /// Declared body length.
    pub content_length: usize,
    /// Whether the client wants the connection kept open afterwards.
    pub keep_alive: bool,
    /// `Expect: 100-continue` was sent.
    pub expect_continue: bool,
}

/// Why a request could not be framed. Each maps to one status; the
/// connection is closed after answering.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FramingError {
    /// Malformed request line or header (400).
    Malformed,
    /// Head larger than the configured limit or too many fields (431).
    HeadTooLarge,
    /// Body larger than the configured limit (413).
    BodyTooLarge,
    /// `Transfer-Encoding` (chunked uploads) is not implemented (501).
    TransferEncoding,
    /// Not HTTP/1.1 or HTTP/1.0 (505).
    Version,
    /// The request did not arrive within the read timeout (408).
    Timeout,
}

impl FramingError {
    /// The status answered for this error.
    pub const fn status(self) -> u16 {
        self.refusal().status()
    }
}

/// Try to parse a request head from the start of `buf`.
///
/// `Ok(None)`: incomplete, read more (unless `buf` already holds
/// `max_head` bytes, which is [`FramingError::HeadTooLarge`]).
pub fn parse_head(
    buf: &[u8],
    max_head: usize,
    max_body: usize,
    peer: Option<core::net::IpAddr>,
) -> Result<Option<Head>, FramingError> {
    let mut fields = [httparse::EMPTY_HEADER; MAX_HEADERS];
    let mut parsed = httparse::Request::new(&mut fields);
    let len = match parsed.parse(buf) {
        Ok(httparse::Status::Complete(len)) => len,
        Ok(httparse::Status::Partial) => {
            return if buf.len() >= max_head {
                Err(FramingError::HeadTooLarge)
            } else {
                Ok(None)
            };
        }
        Err(httparse::Error::TooManyHeaders) => return Err(FramingError::HeadTooLarge),
        Err(httparse::Error::Version) => return Err(FramingError::Version),
        Err(_) => return Err(FramingError::Malformed),
    };
    if len > max_head {
        return Err(FramingError::HeadTooLarge);
    }
    let (Some(method), Some(target), Some(version)) = (parsed.method, parsed.path, parsed.version)
    else {
        return Err(FramingError::Malformed);
    };
    if !target.starts_with('/') {
        // Absolute-form and authority-form targets are for proxies.
        return Err(FramingError::Malformed);
    }
    let (path, query) = match target.split_once('?') {
        Some((p, q)) => (p, Some(String::from(q))),
        None => (target, None),
    };

    let bytes = parsed
        .headers
        .iter()
        .map(|f| f.name.len() + f.value.len())
        .sum();
    let mut headers = Headers::with_capacity(parsed.headers.len(), bytes);
    let mut content_length: Option<usize> = None;
    // HTTP/1.1 defaults to persistent, HTTP/1.0 to close.
    let mut keep_alive = version == 1;
    let mut expect_continue = false;
    for field in parsed.headers.iter() {
        let value = core::str::from_utf8(field.value).map_err(|_| FramingError::Malformed)?;
        let name = field.name;
        if name.eq_ignore_ascii_case("content-length") {
            let n = parse_content_length(value)?;
            // Repeated Content-Length must agree (RFC 9112 §6.3).
            if content_length.is_some_and(|old| old != n) {
                return Err(FramingError::Malformed);
            }
            content_length = Some(n);
        } else if name.eq_ignore_ascii_case("transfer-encoding") {
            return Err(FramingError::TransferEncoding);
        } else if name.eq_ignore_ascii_case("connection") {
            for token in value.split(',').map(str::trim) {
                if token.eq_ignore_ascii_case("close") {
                    keep_alive = false;
                } else if token.eq_ignore_ascii_case("keep-alive") {
                    keep_alive = true;
                }
            }
        } else if name.eq_ignore_ascii_case("expect")
            && value.trim().eq_ignore_ascii_case("100-continue")
        {
            expect_continue = true;
        }
        headers.push(name, value);
    }
    let content_length = content_length.unwrap_or(0);
    if content_length > max_body {
        return Err(FramingError::BodyTooLarge);
    }
    Ok(Some(Head {
        len,
        request: Request {
            method: Method::parse(method),
            path: String::from(path),
            query,
            headers,
            body: Vec::new(),
            peer,
        },
        content_length,
        keep_alive,
        expect_continue,
    }))
}

fn parse_content_length(value: &str) -> Result<usize, FramingError> {
    let value = value.trim();
    if value.is_empty() || value.len() > 9 || !value.bytes().all(|b| b.is_ascii_digit()) {
        return Err(FramingError::Malformed);
    }
    value.parse().map_err(|_| FramingError::Malformed)
}

/// The reason phrase of `status` (informational only; clients ignore it).
pub const fn reason(status: u16) -> &'static str {
    match status {
        100 => "Continue",
        200 => "OK",
        201 => "Created",
        202 => "Accepted",
        204 => "No Content",
        302 => "Found",
        303 => "See Other",
        304 => "Not Modified",
        400 => "Bad Request",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        406 => "Not Acceptable",
        408 => "Request Timeout",
        413 => "Content Too Large",
        415 => "Unsupported Media Type",
        429 => "Too Many Requests",
        431 => "Request Header Fields Too Large",
        500 => "Internal Server Error",
        501 => "Not Implemented",
        503 => "Service Unavailable",
        505 => "HTTP Version Not Supported",
        _ => "",
    }
}

/// Transport headers the host owns; a core response never sets them, and if
/// it did they would be dropped so the framing stays ours.
fn is_transport_header(name: &str) -> bool {
    ["content-length", "transfer-encoding", "connection"]
        .iter()
        .any(|h| name.eq_ignore_ascii_case(h))
}

/// Serialize the status line and headers of `resp` (plus `Content-Length`
/// and `Connection`) into `out`. The body is written separately (and not at
/// all for `HEAD`).
pub fn write_head(resp: &Response, keep_alive: bool, out: &mut Vec<u8>) {
    use core::fmt::Write as _;
    let mut line = String::new();
    let _ = write!(line, "HTTP/1.1 {} {}\r\n", resp.status, reason(resp.status));
    out.extend_from_slice(line.as_bytes());
    for (name, value) in &resp.headers {
        if is_transport_header(name) || has_line_break(name) || has_line_break(value) {
            continue;
        }
        out.extend_from_slice(name.as_bytes());
        out.extend_from_slice(b": ");
        out.extend_from_slice(value.as_bytes());
        out.extend_from_slice(b"\r\n");
    }
    line.clear();
    let _ = write!(line, "Content-Length: {}\r\n", resp.body.len());
    out.extend_from_slice(line.as_bytes());
    out.extend_from_slice(if keep_alive {
        b"Connection: keep-alive\r\n\r\n"
    } else {
        b"Connection: close\r\n\r\n"
    });
}

fn has_line_break(s: &str) -> bool {
    s.bytes().any(|b| b == b'\r' || b == b'\n')
}

impl FramingError {
    /// The core's refusal for this error: its status and body are those of
    /// every host ([`Refusal`]).
    pub const fn refusal(self) -> Refusal {
        match self {
            FramingError::Malformed => Refusal::Malformed,
            FramingError::HeadTooLarge => Refusal::HeadTooLarge,
            FramingError::BodyTooLarge => Refusal::BodyTooLarge,
            FramingError::TransferEncoding => Refusal::TransferEncoding,
            FramingError::Version => Refusal::Version,
            FramingError::Timeout => Refusal::Timeout,
        }
    }
}

/// The response to a framing error (the connection closes afterwards).
pub fn framing_error_response(err: FramingError) -> Response {
    err.refusal().response()
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    const MAX_HEAD: usize = 4096;
    const MAX_BODY: usize = 8192;

    fn parse(buf: &[u8]) -> Result<Option<Head>, FramingError> {
        parse_head(buf, MAX_HEAD, MAX_BODY, None)
    }

    #[test]
    fn parses_a_complete_head() {
        let raw = b"POST /mcp?x=1 HTTP/1.1\r\nHost: dev\r\nContent-Length: 5\r\nAuthorization: Bearer t\r\n\r\nhello";
        let head = parse(raw).unwrap().unwrap();
        assert_eq!(head.len, raw.len() - 5);
        assert_eq!(head.request.method, Method::Post);
        assert_eq!(head.request.path, "/mcp");
        assert_eq!(head.request.query.as_deref(), Some("x=1"));
        assert_eq!(head.request.header("authorization"), Some("Bearer t"));
        assert_eq!(head.content_length, 5);
        assert!(head.keep_alive);
    }

    #[test]
    fn partial_head_asks_for_more_until_the_limit() {
        assert!(parse(b"GET / HTTP/1.1\r\nHost: x\r\n").unwrap().is_none());
        let mut long = b"GET / HTTP/1.1\r\nX: ".to_vec();
        long.resize(MAX_HEAD, b'a');
        assert_eq!(parse(&long).unwrap_err(), FramingError::HeadTooLarge);
    }

    #[test]
    fn refusals() {
        assert_eq!(
            parse(b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n").unwrap_err(),
            FramingError::TransferEncoding
        );
        assert_eq!(
            parse(b"POST / HTTP/1.1\r\nContent-Length: 99999\r\n\r\n").unwrap_err(),
            FramingError::BodyTooLarge
        );
        assert_eq!(
            parse(b"POST / HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n")
                .unwrap_err(),
            FramingError::Malformed
        );
        assert_eq!(
            parse(b"POST / HTTP/1.1\r\nContent-Length: -1\r\n\r\n").unwrap_err(),
            FramingError::Malformed
        );
        assert_eq!(
            parse(b"GET http://x/ HTTP/1.1\r\n\r\n").unwrap_err(),
            FramingError::Malformed
        );
        assert_eq!(
            parse(b"\x01\x02 / HTTP/1.1\r\n\r\n").unwrap_err(),
            FramingError::Malformed
        );
        let mut many = b"GET / HTTP/1.1\r\n".to_vec();
        for _ in 0..=MAX_HEADERS {
            many.extend_from_slice(b"A: b\r\n");
        }
        many.extend_from_slice(b"\r\n");
        assert_eq!(parse(&many).unwrap_err(), FramingError::HeadTooLarge);
    }

    #[test]
    fn framing_errors_answer_the_core_refusals() {
        for (err, status) in [
            (FramingError::Malformed, 400),
            (FramingError::HeadTooLarge, 431),
            (FramingError::BodyTooLarge, 413),
            (FramingError::TransferEncoding, 501),
            (FramingError::Version, 505),
            (FramingError::Timeout, 408),
        ] {
            let resp = framing_error_response(err);
            assert_eq!(resp.status, status);
            assert_eq!(err.status(), status);
            assert_eq!(resp.header("content-type"), Some("application/json"));
            let body: serde_json::Value = serde_json::from_slice(&resp.body).unwrap();
            assert_eq!(body["error"], err.refusal().code());
        }
    }

    #[test]
    fn connection_semantics() {
        let h = parse(b"GET / HTTP/1.0\r\n\r\n").unwrap().unwrap();
        assert!(!h.keep_alive);
        let h = parse(b"GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n")
            .unwrap()
            .unwrap();
        assert!(h.keep_alive);
        let h = parse(b"GET / HTTP/1.1\r\nConnection: close\r\nExpect: 100-continue\r\n\r\n")
            .unwrap()
            .unwrap();
        assert!(!h.keep_alive);
        assert!(h.expect_continue);
    }

    #[test]
    fn writes_a_head_and_drops_transport_and_injected_headers() {
        let resp = Response::json(401, "{}")
            .with_header("WWW-Authenticate", "Bearer resource_metadata=\"u\"")
            .with_header("Content-Length", "999")
            .with_header("X-Bad", "a\r\nInjected: 1");
        let mut out = Vec::new();
        write_head(&resp, false, &mut out);
        let text = core::str::from_utf8(&out).unwrap();
        assert_eq!(
            text,
            "HTTP/1.1 401 Unauthorized\r\nContent-Type: application/json\r\n\
             WWW-Authenticate: Bearer resource_metadata=\"u\"\r\n\
             Content-Length: 2\r\nConnection: close\r\n\r\n"
        );
    }
}
