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
    pub headers: Headers,
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
            headers: Headers::new(),
            body: Vec::new(),
            peer: None,
        }
    }

    /// Builder: add a header.
    pub fn with_header(mut self, name: impl AsRef<str>, value: impl AsRef<str>) -> Request {
        self.headers.push(name.as_ref(), value.as_ref());
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
    #[inline]
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name)
    }

    /// How many times header `name` occurs (duplicates of single-valued
    /// headers such as `Authorization` are refused by the endpoints).
    #[inline]
    pub fn header_count(&self, name: &str) -> usize {
        self.headers.count(name)
    }

    /// Header `name` if it occurs at most once (see [`Headers::unique`]).
    #[inline]
    pub fn unique_header(&self, name: &str) -> Result<Option<&str>, Repeated> {
        self.headers.unique(name)
    }

    /// The value of header `name` if it occurs exactly once: `None` when it
    /// is absent or repeated.
    #[inline]
    pub fn single_header(&self, name: &str) -> Option<&str> {
        self.headers.unique(name).ok().flatten()
    }

    /// The token of the request's one `Authorization: Bearer <token>`
    /// header; `None` for no header, several, another scheme or an empty
    /// token (the guard then answers; this only peeks).
    pub fn bearer_token(&self) -> Option<&str> {
        // ASCII whitespace only (RFC 9110 OWS; a token is ASCII), found by a
        // byte loop: this runs on every request, over a ~1 KiB value.
        let value = self.single_header("authorization")?.trim_ascii();
        let space = value.bytes().position(|b| b == b' ')?;
        let (scheme, token) = (value.get(..space)?, value.get(space + 1..)?.trim_ascii());
        (scheme.eq_ignore_ascii_case("bearer") && !token.is_empty()).then_some(token)
    }
}

/// A single-valued header field occurred more than once.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Repeated;

/// The header names the core reads on every MCP request, in lower case.
/// [`Headers`] notes where each one is as fields arrive, so that looking
/// one up costs one name comparison, not a case-insensitive scan of every
/// field (an authenticated `tools/call` reads seven of them). Callers on
/// the hot path spell them in lower case, which compares fastest.
const INDEXED: [&str; 8] = [
    "accept",
    "authorization",
    "content-type",
    "host",
    "last-event-id",
    "mcp-protocol-version",
    "mcp-session-id",
    "origin",
];

/// The slot of `name` (case-insensitive) in [`INDEXED`]: the length and
/// first letter pick the one candidate, then one comparison (this runs for
/// every field pushed and every look-up). Inlined, so that a look-up by a
/// literal name folds to its slot at compile time.
#[inline(always)]
fn indexed_slot(name: &str) -> Option<usize> {
    let first = name.as_bytes().first()?.to_ascii_lowercase();
    let slot = match (name.len(), first) {
        (6, b'a') => 0,
        (13, b'a') => 1,
        (12, _) => 2,
        (4, _) => 3,
        (13, b'l') => 4,
        (20, _) => 5,
        (14, _) => 6,
        (6, b'o') => 7,
        _ => return None,
    };
    let candidate = INDEXED.get(slot)?;
    // Exact first: hyper hands names over in lower case, and the core asks
    // for them so.
    (same_short(name.as_bytes(), candidate.as_bytes())
        || candidate.as_bytes().eq_ignore_ascii_case(name.as_bytes()))
    .then_some(slot)
}

/// `a == b` for names of up to 24 bytes by overlapping word loads, without
/// the call to `memcmp` a slice comparison makes (fields are pushed by the
/// dozen per request).
#[inline(always)]
fn same_short(a: &[u8], b: &[u8]) -> bool {
    fn word<const N: usize>(s: &[u8], at: usize) -> Option<[u8; N]> {
        s.get(at..at + N)?.try_into().ok()
    }
    let n = a.len();
    if n != b.len() {
        return false;
    }
    match n {
        0..4 => a == b,
        4..8 => word::<4>(a, 0) == word::<4>(b, 0) && word::<4>(a, n - 4) == word::<4>(b, n - 4),
        8..=24 => {
            word::<8>(a, 0) == word::<8>(b, 0)
                && word::<8>(a, n / 2 - 4) == word::<8>(b, n / 2 - 4)
                && word::<8>(a, n - 8) == word::<8>(b, n - 8)
        }
        _ => a == b,
    }
}

/// A request's header fields in arrival order, names compared
/// case-insensitively. The fields share one text buffer, so a host converts
/// a request's headers with two allocations rather than two per field.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Headers {
    /// Every name and value, back to back.
    text: String,
    /// Where each field's name starts, where it ends (the value starts
    /// there) and where the value ends, in `text`.
    fields: Vec<[u32; 3]>,
    /// Per [`INDEXED`] name: 1 + the index in `fields` of its first
    /// occurrence, 0 while absent.
    first: [u32; INDEXED.len()],
    /// Bit `i`: [`INDEXED`] name `i` occurred more than once.
    repeated: u8,
}

impl Headers {
    /// No fields.
    pub fn new() -> Headers {
        Headers::default()
    }

    /// Room for `fields` fields of `bytes` bytes of names and values in all.
    pub fn with_capacity(fields: usize, bytes: usize) -> Headers {
        Headers {
            text: String::with_capacity(bytes),
            fields: Vec::with_capacity(fields),
            ..Headers::default()
        }
    }

    /// Append a field. A field that would take the buffer past 4 GiB is
    /// dropped (hosts bound request heads far below that).
    pub fn push(&mut self, name: &str, value: &str) {
        if self.record(self.text.len(), name, value.len()) {
            self.text.push_str(name);
            self.text.push_str(value);
        }
    }

    /// Record a field whose name starts at `start` in the text (its value
    /// right after it): its offsets and, for an [`INDEXED`] name, its
    /// slot. `false`: dropped, and nothing recorded.
    fn record(&mut self, start: usize, name: &str, value_len: usize) -> bool {
        let (Ok(name_start), Ok(name_end), Ok(value_end)) = (
            u32::try_from(start),
            u32::try_from(start + name.len()),
            u32::try_from(start + name.len() + value_len),
        ) else {
            return false;
        };
        if let Some(slot) = indexed_slot(name) {
            let Ok(position) = u32::try_from(self.fields.len() + 1) else {
                return false;
            };
            match self.first.get_mut(slot) {
                Some(first @ 0) => *first = position,
                Some(_) => self.repeated |= 1 << slot,
                None => {}
            }
        }
        self.fields.push([name_start, name_end, value_end]);
        true
    }

    /// Where the indexed `name` is: `None` for a name that is not indexed,
    /// else its first field (if any) and whether it is repeated.
    #[inline]
    fn indexed(&self, name: &str) -> Option<(Option<[u32; 3]>, bool)> {
        let slot = indexed_slot(name)?;
        let first = self.first.get(slot).copied().unwrap_or(0) as usize;
        let field = first
            .checked_sub(1)
            .and_then(|i| self.fields.get(i))
            .copied();
        Some((field, self.repeated & (1 << slot) != 0))
    }

    fn field(&self, [name_start, name_end, value_end]: [u32; 3]) -> (&str, &str) {
        let (s, n, v) = (name_start as usize, name_end as usize, value_end as usize);
        (
            self.text.get(s..n).unwrap_or_default(),
            self.text.get(n..v).unwrap_or_default(),
        )
    }

    /// The fields in arrival order.
    pub fn iter(&self) -> impl DoubleEndedIterator<Item = (&str, &str)> + '_ {
        self.fields.iter().map(|&f| self.field(f))
    }

    /// Whether field `f` is named `name` (case-insensitive); lengths first,
    /// as most names differ in length.
    fn named(&self, [start, end, _]: [u32; 3], name: &str) -> bool {
        end.wrapping_sub(start) as usize == name.len()
            && self
                .text
                .as_bytes()
                .get(start as usize..end as usize)
                .is_some_and(|n| n.eq_ignore_ascii_case(name.as_bytes()))
    }

    /// The first value of field `name` (case-insensitive).
    #[inline]
    pub fn get(&self, name: &str) -> Option<&str> {
        match self.indexed(name) {
            Some((first, _)) => Some(self.field(first?).1),
            None => self.get_scanned(name),
        }
    }

    fn get_scanned(&self, name: &str) -> Option<&str> {
        let f = *self.fields.iter().find(|f| self.named(**f, name))?;
        Some(self.field(f).1)
    }

    /// How many fields are named `name` (case-insensitive).
    pub fn count(&self, name: &str) -> usize {
        match self.indexed(name) {
            Some((None, _)) => 0,
            Some((Some(_), false)) => 1,
            _ => self.fields.iter().filter(|f| self.named(**f, name)).count(),
        }
    }

    /// Field `name` (case-insensitive) when it may occur at most once:
    /// `Ok(None)` when absent, [`Repeated`] when it occurs more than once.
    /// One pass over the fields, where `count` then `get` take two.
    #[inline]
    pub fn unique(&self, name: &str) -> Result<Option<&str>, Repeated> {
        match self.indexed(name) {
            Some((_, true)) => Err(Repeated),
            Some((first, false)) => Ok(first.map(|f| self.field(f).1)),
            None => self.unique_scanned(name),
        }
    }

    fn unique_scanned(&self, name: &str) -> Result<Option<&str>, Repeated> {
        let mut named = self.fields.iter().filter(|f| self.named(**f, name));
        let Some(&first) = named.next() else {
            return Ok(None);
        };
        if named.next().is_some() {
            return Err(Repeated);
        }
        Ok(Some(self.field(first).1))
    }

    /// How many fields there are.
    pub fn len(&self) -> usize {
        self.fields.len()
    }

    /// Whether there is no field.
    pub fn is_empty(&self) -> bool {
        self.fields.is_empty()
    }
}

impl<N: AsRef<str>, V: AsRef<str>> FromIterator<(N, V)> for Headers {
    fn from_iter<I: IntoIterator<Item = (N, V)>>(fields: I) -> Headers {
        let mut headers = Headers::new();
        for (n, v) in fields {
            headers.push(n.as_ref(), v.as_ref());
        }
        headers
    }
}

/// A request's header fields as a host reads them off the wire, values as
/// bytes (HTTP allows obs-text in them). [`RawHeaders::finish`] checks the
/// whole buffer for UTF-8 in one pass, where checking each value as it is
/// pushed costs a call and an unaligned start per field, and a bearer
/// token is ~900 bytes.
#[derive(Debug, Default)]
pub struct RawHeaders {
    /// Every name and value, back to back.
    bytes: Vec<u8>,
    /// The offsets and the index; its text stays empty until `finish`.
    headers: Headers,
}

impl RawHeaders {
    /// Room for `fields` fields of `bytes` bytes of names and values in all.
    pub fn with_capacity(fields: usize, bytes: usize) -> RawHeaders {
        RawHeaders {
            bytes: Vec::with_capacity(bytes),
            headers: Headers::with_capacity(fields, 0),
        }
    }

    /// Append a field (dropped as by [`Headers::push`]).
    pub fn push(&mut self, name: &str, value: &[u8]) {
        if self.headers.record(self.bytes.len(), name, value.len()) {
            self.bytes.extend_from_slice(name.as_bytes());
            self.bytes.extend_from_slice(value);
        }
    }

    /// The fields as [`Headers`]: every value that is not UTF-8 has U+FFFD
    /// in place of each invalid sequence.
    pub fn finish(self) -> Headers {
        let RawHeaders { bytes, mut headers } = self;
        match String::from_utf8(bytes) {
            Ok(text) => {
                headers.text = text;
                headers
            }
            Err(e) => {
                let bytes = e.into_bytes();
                let part = |from: u32, to: u32| {
                    String::from_utf8_lossy(
                        bytes.get(from as usize..to as usize).unwrap_or_default(),
                    )
                };
                let mut lossy = Headers::with_capacity(headers.fields.len(), bytes.len());
                for &[name_start, name_end, value_end] in &headers.fields {
                    lossy.push(&part(name_start, name_end), &part(name_end, value_end));
                }
                lossy
            }
        }
    }
}

/// An HTTP response decided by the core.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Response {
    /// Status code.
    pub status: u16,
    /// Header fields, in order.
    pub headers: Vec<(Cow<'static, str>, Cow<'static, str>)>,
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
        // The list made at its size: a push onto an empty one goes through
        // the vector's growth path (a call) and reserves room for four.
        Response {
            status,
            headers: alloc::vec![(
                Cow::Borrowed("Content-Type"),
                Cow::Borrowed("application/json"),
            )],
            body: body.into(),
        }
    }

    /// Builder: add a header.
    pub fn with_header(
        mut self,
        name: impl Into<Cow<'static, str>>,
        value: impl Into<Cow<'static, str>>,
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
            .map(|(_, v)| v.as_ref())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The word-load comparison agrees with a slice comparison at every
    /// length it serves, wherever the one differing byte is.
    #[test]
    fn short_names_compare_like_slices() {
        for n in 0..=30usize {
            let a: Vec<u8> = (0..n).map(|i| b'a' + (i % 26) as u8).collect();
            assert!(same_short(&a, &a.clone()), "length {n}");
            for p in 0..n {
                let mut b = a.clone();
                b[p] ^= 0x20;
                assert!(!same_short(&a, &b), "length {n}, byte {p}");
            }
            assert!(!same_short(&a, &a[..n.saturating_sub(1)]) || n == 0);
        }
    }

    #[test]
    fn headers_keep_order_and_compare_names_case_insensitively() {
        let mut h = Headers::with_capacity(1, 4);
        h.push("Accept", "application/json");
        h.push("mcp-session-id", "s-1");
        h.push("accept", "text/event-stream");
        h.push("X-Empty", "");
        assert_eq!(h.len(), 4);
        assert_eq!(h.get("ACCEPT"), Some("application/json"));
        assert_eq!(h.get("Mcp-Session-Id"), Some("s-1"));
        assert_eq!(h.get("x-empty"), Some(""));
        assert_eq!(h.get("missing"), None);
        assert_eq!(h.count("accept"), 2);
        let all: Vec<_> = h.iter().collect();
        assert_eq!(
            all,
            [
                ("Accept", "application/json"),
                ("mcp-session-id", "s-1"),
                ("accept", "text/event-stream"),
                ("X-Empty", ""),
            ]
        );
        // A name that ends where a value starts is not confused with it.
        let h: Headers = [("ab", "c"), ("a", "bc")].into_iter().collect();
        assert_eq!(h.get("a"), Some("bc"));
        assert_eq!(h.get("ab"), Some("c"));
        let req = Request::new(Method::Post, "/mcp").with_header("Authorization", "Bearer t");
        assert_eq!(req.bearer_token(), Some("t"));
        for (value, token) in [
            (" bearer \t t.u-v ", Some("t.u-v")),
            ("BEARER   t", Some("t")),
            ("Bearer", None),
            ("Bearer  ", None),
            ("Basic dTpw", None),
            ("Bearerx t", None),
            ("\tBearer\tt", None),
        ] {
            let req = Request::new(Method::Post, "/mcp").with_header("Authorization", value);
            assert_eq!(req.bearer_token(), token, "{value:?}");
        }
        assert!(Headers::new().is_empty());
    }

    /// The indexed names answer exactly as a scan of the fields does,
    /// whatever their case, position and number.
    #[test]
    fn indexed_names_answer_as_a_scan_does() {
        // lower-case, UPPER-CASE and Title-Case.
        let spellings = |n: &str| {
            let title: String = n
                .split('-')
                .map(|part| {
                    let (head, tail) = part.split_at(1);
                    alloc::format!("{}{tail}", head.to_ascii_uppercase())
                })
                .collect::<Vec<_>>()
                .join("-");
            [String::from(n), n.to_ascii_uppercase(), title]
        };
        for (slot, name) in INDEXED.iter().enumerate() {
            for spelled in spellings(name) {
                assert_eq!(indexed_slot(&spelled), Some(slot), "{spelled}");
            }
            for copies in 0..3usize {
                for before in 0..2usize {
                    let mut h = Headers::new();
                    for i in 0..before {
                        h.push("x-filler", &alloc::format!("f{i}"));
                    }
                    for c in 0..copies {
                        let spelled = &spellings(name)[c % 3];
                        h.push(spelled, &alloc::format!("v{c}"));
                        h.push("x-between", "b");
                    }
                    for asked in spellings(name) {
                        let all: Vec<&str> = h
                            .iter()
                            .filter(|(n, _)| n.eq_ignore_ascii_case(&asked))
                            .map(|(_, v)| v)
                            .collect();
                        assert_eq!(h.get(&asked), all.first().copied(), "{asked} x{copies}");
                        assert_eq!(h.count(&asked), all.len(), "{asked} x{copies}");
                        let unique = match all.as_slice() {
                            [] => Ok(None),
                            [one] => Ok(Some(*one)),
                            _ => Err(Repeated),
                        };
                        assert_eq!(h.unique(&asked), unique, "{asked} x{copies}");
                    }
                }
            }
        }
        // Names that only look alike are not indexed ones.
        let h: Headers = [("accepts", "a"), ("host-x", "b")].into_iter().collect();
        assert_eq!(h.get("accept"), None);
        assert_eq!(h.get("host"), None);
        assert_eq!(h.get("accepts"), Some("a"));
    }

    #[test]
    fn a_single_valued_header_is_refused_when_repeated_in_any_case() {
        let h: Headers = [("Accept", "a"), ("mcp-session-id", "s-1"), ("ACCEPT", "b")]
            .into_iter()
            .collect();
        assert_eq!(h.unique("Mcp-Session-Id"), Ok(Some("s-1")));
        assert_eq!(h.unique("missing"), Ok(None));
        assert_eq!(h.unique("accept"), Err(Repeated));
        let twice = Request::new(Method::Post, "/mcp")
            .with_header("Authorization", "Bearer t")
            .with_header("authorization", "Bearer u");
        assert_eq!(twice.single_header("Authorization"), None);
        assert_eq!(twice.bearer_token(), None);
        let once = Request::new(Method::Post, "/mcp").with_header("Mcp-Session-Id", "s");
        assert_eq!(once.single_header("mcp-session-id"), Some("s"));
        assert_eq!(once.unique_header("Authorization"), Ok(None));
    }

    /// Raw fields checked in one pass give the headers that pushing each
    /// value, made UTF-8 with replacement characters, gives: valid UTF-8
    /// (a tab and non-ASCII included) as sent, anything else with U+FFFD,
    /// and the indexed names found either way.
    #[test]
    fn raw_fields_become_the_headers_pushed_values_give() {
        let valid: [(&str, &[u8]); 4] = [
            ("host", b"example.com"),
            ("authorization", b"Bearer abc.def"),
            ("x-note", "caf\u{e9}\ta".as_bytes()),
            ("Authorization", b"Bearer second"),
        ];
        let invalid: [(&str, &[u8]); 3] = [
            ("host", b"example.com"),
            ("x-latin-1", b"caf\xe9"),
            ("mcp-session-id", b"\xff s"),
        ];
        for fields in [&valid[..], &invalid[..], &[][..]] {
            let mut raw = RawHeaders::with_capacity(fields.len(), 64);
            let mut pushed = Headers::new();
            for &(name, value) in fields {
                raw.push(name, value);
                pushed.push(name, &String::from_utf8_lossy(value));
            }
            let raw = raw.finish();
            assert_eq!(raw, pushed);
            for name in ["host", "authorization", "mcp-session-id", "x-note"] {
                assert_eq!(raw.get(name), pushed.get(name), "{name}");
                assert_eq!(raw.unique(name), pushed.unique(name), "{name}");
            }
        }
        let mut raw = RawHeaders::default();
        raw.push("mcp-session-id", b"\xff s");
        assert_eq!(raw.finish().get("mcp-session-id"), Some("\u{fffd} s"));
    }
}
