//! The host-agnostic HTTP model: what a host hands the core and gets back.
//!
//! Hosts parse the wire (hyper on servers, httparse on devices), enforce the
//! socket-level limits (header size, read timeouts), and build a [`Request`].
//! The core answers with a [`Response`] whose status, headers and body are
//! final: hosts add only transport headers (`Content-Length`, `Date`,
//! `Connection`).

use alloc::borrow::Cow;
use alloc::string::String;
use alloc::vec::Vec;

/// HTTP request methods the core distinguishes. Anything else is `Other`
/// and answered with 405 by whichever endpoint sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    /// `GET`
    Get,
    /// `HEAD`
    Head,
    /// `POST`
    Post,
    /// `DELETE`
    Delete,
    /// `OPTIONS` (CORS preflight)
    Options,
    /// Any other method.
    Other,
}

impl Method {
    /// Parse a method token (case-sensitive, as RFC 9110 says).
    pub fn parse(token: &str) -> Method {
        match token {
            "GET" => Method::Get,
            "HEAD" => Method::Head,
            "POST" => Method::Post,
            "DELETE" => Method::Delete,
            "OPTIONS" => Method::Options,
            _ => Method::Other,
        }
    }
}

/// An HTTP request, already size-checked by the host.
#[derive(Debug, Clone)]
pub struct Request {
    /// The method.
    pub method: Method,
    /// The path, without the query string (`/mcp`).
    pub path: String,
    /// The raw query string without the leading `?`, if any.
    pub query: Option<String>,
    /// Header fields in arrival order; names are compared case-insensitively.
    pub headers: Vec<(String, String)>,
    /// The body, exactly as received.
    pub body: Vec<u8>,
    /// The peer's address as the host sees it (for per-IP throttling), if
    /// known. Behind a reverse proxy the host decides whether to trust
    /// forwarding headers; the core never parses them.
    pub peer: Option<core::net::IpAddr>,
}

impl Request {
    /// A request with no headers, query or body.
    pub fn new(method: Method, path: impl Into<String>) -> Request {
        Request {
            method,
            path: path.into(),
            query: None,
            headers: Vec::new(),
            body: Vec::new(),
            peer: None,
        }
    }

    /// Builder: add a header.
    pub fn with_header(mut self, name: impl Into<String>, value: impl Into<String>) -> Request {
        self.headers.push((name.into(), value.into()));
        self
    }

    /// Builder: set the body.
    pub fn with_body(mut self, body: impl Into<Vec<u8>>) -> Request {
        self.body = body.into();
        self
    }

    /// Builder: set the query string (without `?`).
    pub fn with_query(mut self, query: impl Into<String>) -> Request {
        self.query = Some(query.into());
        self
    }

    /// The first value of header `name` (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// How many times header `name` occurs (duplicates of single-valued
    /// headers such as `Authorization` are refused by the endpoints).
    pub fn header_count(&self, name: &str) -> usize {
        self.headers
            .iter()
            .filter(|(n, _)| n.eq_ignore_ascii_case(name))
            .count()
    }

    /// The token of the request's one `Authorization: Bearer <token>`
    /// header; `None` for no header, several, another scheme or an empty
    /// token (the guard then answers; this only peeks).
    pub fn bearer_token(&self) -> Option<&str> {
        if self.header_count("authorization") != 1 {
            return None;
        }
        let (scheme, token) = self.header("authorization")?.trim().split_once(' ')?;
        let token = token.trim();
        (scheme.eq_ignore_ascii_case("bearer") && !token.is_empty()).then_some(token)
    }
}

/// An HTTP response decided by the core.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Response {
    /// Status code.
    pub status: u16,
    /// Header fields, in order.
    pub headers: Vec<(Cow<'static, str>, String)>,
    /// The body.
    pub body: Vec<u8>,
}

impl Response {
    /// An empty response with `status`.
    pub fn empty(status: u16) -> Response {
        Response {
            status,
            headers: Vec::new(),
            body: Vec::new(),
        }
    }

    /// A JSON response (`Content-Type: application/json`).
    pub fn json(status: u16, body: impl Into<Vec<u8>>) -> Response {
        Response::empty(status)
            .with_header("Content-Type", "application/json")
            .with_body(body)
    }

    /// Builder: add a header.
    pub fn with_header(
        mut self,
        name: impl Into<Cow<'static, str>>,
        value: impl Into<String>,
    ) -> Response {
        self.headers.push((name.into(), value.into()));
        self
    }

    /// Builder: set the body.
    pub fn with_body(mut self, body: impl Into<Vec<u8>>) -> Response {
        self.body = body.into();
        self
    }

    /// The first value of header `name` (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}
