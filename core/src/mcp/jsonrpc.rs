//! JSON-RPC 2.0 framing without heap allocation.
//!
//! [`parse`] reads one message envelope (`jsonrpc`, `id`, `method`, and the
//! *location* of `params`, `result`, `error`) straight out of the request body:
//! no `alloc`, no recursion beyond the configured depth, no trust in the peer.
//!
//! Order of checks, each bounded before the next one runs:
//! 1. size ([`FrameLimits::max_body`]), then UTF-8 validity of the whole body;
//! 2. a single validating pass over the JSON text (strings, escapes, numbers,
//!    literals, nesting depth at most [`FrameLimits::max_depth`]) — this is
//!    the guard serde-json-core lacks (it has no recursion limit);
//! 3. the top-level value must be an object (an array is a batch, refused as
//!    protocol versions 2025-06-18 and later require);
//! 4. the envelope members are located; a duplicate envelope member is
//!    refused (two parsers could otherwise disagree on which one counts);
//! 5. scalars are decoded: integers with `serde_json_core` (overflow-checked),
//!    strings by unescaping into bounded `heapless` buffers, so `"tools\/list"`
//!    and `"tools/list"` are the same method.
//!
//! Panic contract: after the size check, no index into the body can go out of
//! bounds (every access goes through `get`), and nothing here panics on input.

use core::fmt;

/// Longest method name accepted (longer ones are unknown methods anyway).
pub const MAX_METHOD_LEN: usize = 64;
/// Longest string request id accepted, in bytes after unescaping (huge ids
/// are refused: the id is echoed and may be stored while a request runs).
pub const MAX_ID_LEN: usize = 64;

/// JSON-RPC error codes used by the MCP server. The wire mapping of every
/// internal failure goes through this type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorCode {
    /// -32700: the body is not valid JSON (or not UTF-8).
    ParseError,
    /// -32600: valid JSON, but not a valid JSON-RPC message for MCP.
    InvalidRequest,
    /// -32601: the method does not exist (for this protocol version).
    MethodNotFound,
    /// -32602: the parameters are invalid.
    InvalidParams,
    /// -32603: the server failed; the message never carries detail.
    InternalError,
    /// -32002: resource not found (protocol versions up to 2025-11-25).
    ResourceNotFoundLegacy,
    /// -32020: HTTP headers do not match the body (2026-07-28).
    HeaderMismatch,
    /// -32021: a required client capability is missing (2026-07-28).
    MissingRequiredClientCapability,
    /// -32022: the requested protocol version is not supported (2026-07-28).
    UnsupportedProtocolVersion,
    /// An application-defined code (outside the JSON-RPC reserved range).
    Application(i32),
}

impl ErrorCode {
    /// The numeric code on the wire.
    pub const fn code(self) -> i32 {
        match self {
            ErrorCode::ParseError => -32700,
            ErrorCode::InvalidRequest => -32600,
            ErrorCode::MethodNotFound => -32601,
            ErrorCode::InvalidParams => -32602,
            ErrorCode::InternalError => -32603,
            ErrorCode::ResourceNotFoundLegacy => -32002,
            ErrorCode::HeaderMismatch => -32020,
            ErrorCode::MissingRequiredClientCapability => -32021,
            ErrorCode::UnsupportedProtocolVersion => -32022,
            ErrorCode::Application(c) => c,
        }
    }

    /// The standard message for the code.
    pub const fn default_message(self) -> &'static str {
        match self {
            ErrorCode::ParseError => "Parse error",
            ErrorCode::InvalidRequest => "Invalid Request",
            ErrorCode::MethodNotFound => "Method not found",
            ErrorCode::InvalidParams => "Invalid params",
            ErrorCode::InternalError => "Internal error",
            ErrorCode::ResourceNotFoundLegacy => "Resource not found",
            ErrorCode::HeaderMismatch => "Header mismatch",
            ErrorCode::MissingRequiredClientCapability => "Missing required client capability",
            ErrorCode::UnsupportedProtocolVersion => "Unsupported protocol version",
            ErrorCode::Application(_) => "Error",
        }
    }
}

/// Bounds applied before and during framing. Each names the attack it bounds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FrameLimits {
    /// Largest body accepted (memory exhaustion by one huge message).
    pub max_body: usize,
    /// Deepest nesting of arrays/objects accepted anywhere in the body (stack
    /// exhaustion: serde-json-core and recursive parsers have no own limit).
    /// Values above 100 are clamped to 100 (serde_json's limit is 128).
    pub max_depth: usize,
}

impl Default for FrameLimits {
    fn default() -> Self {
        FrameLimits {
            max_body: 1024 * 1024,
            max_depth: 32,
        }
    }
}

/// A JSON-RPC request id: a string or an integer (never null in a request).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum RequestId {
    /// An integer id.
    Number(i64),
    /// A string id, unescaped.
    String(heapless::String<MAX_ID_LEN>),
}

impl fmt::Display for RequestId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RequestId::Number(n) => write!(f, "{n}"),
            RequestId::String(s) => f.write_str(s),
        }
    }
}

/// What kind of message the envelope is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MessageKind {
    /// Has `method` and `id`.
    Request,
    /// Has `method`, no `id`.
    Notification,
    /// Has `result` or `error` (a response sent by the client).
    Response,
}

/// A framed JSON-RPC message. String slices point into the body and are the
/// raw JSON text of the member's value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Envelope<'a> {
    /// The kind of message.
    pub kind: MessageKind,
    /// The id (requests; responses when not null).
    pub id: Option<RequestId>,
    /// The method, unescaped (requests and notifications).
    pub method: heapless::String<MAX_METHOD_LEN>,
    /// Whether the method name was longer than [`MAX_METHOD_LEN`] (then
    /// `method` is empty and the method is unknown by definition).
    pub method_too_long: bool,
    /// Raw JSON text of `params`, if present (always an object).
    pub params: Option<&'a str>,
}

/// Why framing failed, with the id if it could be read (so that the error
/// response can carry it).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FrameError {
    /// The JSON-RPC code to answer with.
    pub code: ErrorCode,
    /// A fixed, client-safe explanation.
    pub reason: &'static str,
    /// The request id, when it was read before the failure.
    pub id: Option<RequestId>,
    /// The body exceeded [`FrameLimits::max_body`] (HTTP 413).
    pub too_large: bool,
}

impl FrameError {
    const fn new(code: ErrorCode, reason: &'static str) -> FrameError {
        FrameError {
            code,
            reason,
            id: None,
            too_large: false,
        }
    }
}

/// A scanner failure: small, so the hot recursive path returns cheaply.
type Bad = (ErrorCode, &'static str);

const fn parse_error(reason: &'static str) -> Bad {
    (ErrorCode::ParseError, reason)
}

const fn invalid_bad(reason: &'static str) -> Bad {
    (ErrorCode::InvalidRequest, reason)
}

const fn invalid(reason: &'static str) -> FrameError {
    FrameError::new(ErrorCode::InvalidRequest, reason)
}

impl From<Bad> for FrameError {
    fn from((code, reason): Bad) -> FrameError {
        FrameError::new(code, reason)
    }
}

/// Frame one JSON-RPC message from `body`. Never allocates.
///
/// The body is scanned once: the top-level object's members are located
/// while the text is validated. A duplicate or misplaced envelope member is
/// acted on only after the whole body was found valid, so a parse error
/// anywhere still wins, as it did with a separate validating pass.
pub fn parse<'a>(body: &'a [u8], limits: &FrameLimits) -> Result<Envelope<'a>, FrameError> {
    if body.len() > limits.max_body {
        let mut e = invalid("Request body too large");
        e.too_large = true;
        return Err(e);
    }
    let text = core::str::from_utf8(body)
        .map_err(|_| FrameError::from(parse_error("Body is not valid UTF-8")))?;
    let max_depth = limits.max_depth.clamp(1, 100);
    let bytes = text.as_bytes();
    let start = skip_ws(bytes, 0);
    let (end, seen) = match bytes.get(start) {
        Some(b'{') => scan_envelope(text, start, max_depth)?,
        _ => (skip_value(bytes, start, 0, max_depth)?, Seen::default()),
    };
    if skip_ws(bytes, end) != bytes.len() {
        return Err(parse_error("Trailing characters after the JSON value").into());
    }
    match bytes.get(start) {
        Some(b'{') => {}
        Some(b'[') => return Err(invalid("Batch requests are not supported")),
        _ => return Err(invalid("The message must be a JSON object")),
    }
    frame_object(text, seen)
}

/// Members of the envelope we interpret; each may appear at most once.
#[derive(Default)]
struct Seen {
    jsonrpc: Option<(usize, usize)>,
    id: Option<(usize, usize)>,
    method: Option<(usize, usize)>,
    params: Option<(usize, usize)>,
    result: Option<(usize, usize)>,
    error: Option<(usize, usize)>,
    /// One of the members above appeared twice.
    duplicate: bool,
}

impl Seen {
    /// Record member `key` (its escaped contents) with its value span.
    fn record(&mut self, key: &str, value: (usize, usize)) {
        let is = key_matcher(key);
        let slot = if is("jsonrpc") {
            &mut self.jsonrpc
        } else if is("id") {
            &mut self.id
        } else if is("method") {
            &mut self.method
        } else if is("params") {
            &mut self.params
        } else if is("result") {
            &mut self.result
        } else if is("error") {
            &mut self.error
        } else {
            return;
        };
        self.duplicate |= slot.is_some();
        *slot = Some(value);
    }
}

/// Validate the top-level object at `start` (what [`skip_value`] does for
/// an object at depth 0) and locate its envelope members on the way.
fn scan_envelope(text: &str, start: usize, max: usize) -> Result<(usize, Seen), Bad> {
    let bytes = text.as_bytes();
    let mut seen = Seen::default();
    let mut j = skip_ws(bytes, start + 1);
    if bytes.get(j) == Some(&b'}') {
        return Ok((j + 1, seen));
    }
    loop {
        if bytes.get(j) != Some(&b'"') {
            return Err(parse_error("Expected an object key"));
        }
        let key_end = skip_string(bytes, j)?;
        let key = text.get(j + 1..key_end - 1).unwrap_or("");
        j = skip_ws(bytes, key_end);
        if bytes.get(j) != Some(&b':') {
            return Err(parse_error("Expected ':'"));
        }
        let value_start = skip_ws(bytes, j + 1);
        let value_end = skip_value(bytes, value_start, 1, max)?;
        seen.record(key, (value_start, value_end));
        j = skip_ws(bytes, value_end);
        match bytes.get(j) {
            Some(b',') => j = skip_ws(bytes, j + 1),
            Some(b'}') => return Ok((j + 1, seen)),
            _ => return Err(parse_error("Expected ',' or '}'")),
        }
    }
}

fn frame_object(text: &str, seen: Seen) -> Result<Envelope<'_>, FrameError> {
    let bytes = text.as_bytes();
    let duplicate = seen.duplicate;

    // The id first, so that later errors can carry it.
    let mut id = None;
    let mut id_null = false;
    if let Some((s, e)) = seen.id {
        match decode_id(text, s, e) {
            Ok(Some(v)) => id = Some(v),
            Ok(None) => id_null = true,
            Err(err) => return Err(err.into()),
        }
    }
    let with_id = |mut err: FrameError| {
        err.id.clone_from(&id);
        err
    };
    if duplicate {
        return Err(with_id(invalid("Duplicate member in the message")));
    }
    match seen.jsonrpc {
        Some((s, e)) if decoded_eq(text, s, e, "2.0") => {}
        _ => return Err(with_id(invalid("The jsonrpc member must be \"2.0\""))),
    }

    if seen.result.is_some() || seen.error.is_some() {
        if seen.method.is_some() || seen.params.is_some() {
            return Err(with_id(invalid(
                "A message cannot be both request and response",
            )));
        }
        if seen.result.is_some() && seen.error.is_some() {
            return Err(with_id(invalid("A response has either result or error")));
        }
        if seen.result.is_some() && id.is_none() {
            return Err(with_id(invalid("A result response needs an id")));
        }
        if seen.id.is_none() {
            return Err(invalid("A response needs an id"));
        }
        return Ok(Envelope {
            kind: MessageKind::Response,
            id,
            method: heapless::String::new(),
            method_too_long: false,
            params: None,
        });
    }

    let Some((ms, me)) = seen.method else {
        return Err(with_id(invalid("The method member is missing")));
    };
    if bytes.get(ms) != Some(&b'"') {
        return Err(with_id(invalid("The method must be a string")));
    }
    let mut method = heapless::String::new();
    let method_too_long = match unescape_into(text, ms, me, &mut method) {
        Ok(()) => false,
        Err(Unescape::Overflow) => {
            method.clear();
            true
        }
        Err(Unescape::Invalid) => return Err(with_id(invalid("The method is not a valid string"))),
    };

    let params = match seen.params {
        None => None,
        Some((s, e)) => match bytes.get(s) {
            Some(b'{') => text.get(s..e),
            Some(b'[') => {
                let mut err = with_id(FrameError::new(
                    ErrorCode::InvalidParams,
                    "MCP params must be an object",
                ));
                err.id.clone_from(&id);
                return Err(err);
            }
            _ => return Err(with_id(invalid("params must be an object"))),
        },
    };

    let kind = if seen.id.is_none() {
        MessageKind::Notification
    } else if id_null {
        return Err(invalid("A request id must not be null"));
    } else {
        MessageKind::Request
    };
    Ok(Envelope {
        kind,
        id,
        method,
        method_too_long,
        params,
    })
}

fn decode_id(text: &str, s: usize, e: usize) -> Result<Option<RequestId>, Bad> {
    let bytes = text.as_bytes();
    match bytes.get(s) {
        Some(b'n') => Ok(None),
        Some(b'"') => {
            let mut out = heapless::String::new();
            match unescape_into(text, s, e, &mut out) {
                Ok(()) => Ok(Some(RequestId::String(out))),
                Err(Unescape::Overflow) => Err(invalid_bad("The request id is too long")),
                Err(Unescape::Invalid) => Err(invalid_bad("The request id is not a valid string")),
            }
        }
        Some(b'-' | b'0'..=b'9') => {
            let raw = bytes.get(s..e).unwrap_or_default();
            match serde_json_core::from_slice::<i64>(raw) {
                Ok((n, _)) => Ok(Some(RequestId::Number(n))),
                Err(_) => Err(invalid_bad("The request id must be a string or an integer")),
            }
        }
        _ => Err(invalid_bad("The request id must be a string or an integer")),
    }
}

/// Call `f(key_span, value_span)` for each member of the object at `start`.
/// The text was validated by [`skip_value`], so this cannot fail; key spans
/// exclude the quotes.
fn for_each_member<'a>(text: &'a str, start: usize, mut f: impl FnMut(&'a str, (usize, usize))) {
    let bytes = text.as_bytes();
    let mut i = skip_ws(bytes, start + 1);
    while bytes.get(i) == Some(&b'"') {
        let Ok(key_end) = skip_string(bytes, i) else {
            return;
        };
        let colon = skip_ws(bytes, key_end);
        let vs = skip_ws(bytes, colon + 1);
        // Depth was already bounded by the validating pass.
        let Ok(ve) = skip_value(bytes, vs, 0, 100) else {
            return;
        };
        f(text.get(i + 1..key_end - 1).unwrap_or(""), (vs, ve));
        i = skip_ws(bytes, ve);
        if bytes.get(i) == Some(&b',') {
            i = skip_ws(bytes, i + 1);
        }
    }
}

/// How many members named `key` (compared after unescaping) the JSON object
/// text `object` has. Used to refuse duplicates inside `params` that the
/// server interprets. Nesting beyond 100 levels counts as nothing.
pub fn count_members(object: &str, key: &str) -> usize {
    let start = skip_ws(object.as_bytes(), 0);
    if object.as_bytes().get(start) != Some(&b'{') {
        return 0;
    }
    let mut n = 0;
    for_each_member(object, start, |k, _| {
        if escaped_eq(k, key) {
            n += 1;
        }
    });
    n
}

/// Whether the JSON object text `object` has any of `keys` (compared after
/// unescaping) more than once: one pass over the members, whatever the
/// number of keys (at most 64; further keys are not checked). Used to refuse
/// duplicates inside `params` that the server interprets.
pub fn has_duplicate_member(object: &str, keys: &[&str]) -> bool {
    let start = skip_ws(object.as_bytes(), 0);
    if object.as_bytes().get(start) != Some(&b'{') {
        return false;
    }
    // Bit i: keys[i] seen once.
    let mut seen = 0u64;
    let mut duplicate = false;
    for_each_member(object, start, |k, _| {
        let is = key_matcher(k);
        if let Some(i) = keys.iter().take(64).position(|want| is(want)) {
            let bit = 1u64 << i;
            duplicate |= seen & bit != 0;
            seen |= bit;
        }
    });
    duplicate
}

/// Whether the JSON string token at `s..e` (with quotes) decodes to `want`.
fn decoded_eq(text: &str, s: usize, e: usize, want: &str) -> bool {
    if text.as_bytes().get(s) != Some(&b'"') || e < s + 2 {
        return false;
    }
    match text.get(s + 1..e - 1) {
        Some(raw) => escaped_eq(raw, want),
        None => false,
    }
}

/// A comparison of the escaped key `raw` with plain names that looks for
/// escapes once, not once per name.
fn key_matcher(raw: &str) -> impl Fn(&str) -> bool + '_ {
    let plain = !raw.as_bytes().contains(&b'\\');
    move |want| {
        if plain {
            raw == want
        } else {
            escaped_eq(raw, want)
        }
    }
}

/// Compare escaped JSON string contents with a plain string, without
/// allocating.
pub fn escaped_eq(raw: &str, want: &str) -> bool {
    // Almost every key and method arrives without escapes.
    if !raw.as_bytes().contains(&b'\\') {
        return raw == want;
    }
    let mut rest = want;
    let mut ok = true;
    let complete = for_each_fragment(raw, |frag| {
        if !ok {
            return;
        }
        match frag {
            Fragment::Plain(p) => match rest.strip_prefix(p) {
                Some(r) => rest = r,
                None => ok = false,
            },
            Fragment::Char(c) => {
                let mut chars = rest.chars();
                if chars.next() == Some(c) {
                    rest = chars.as_str();
                } else {
                    ok = false;
                }
            }
        }
    });
    complete && ok && rest.is_empty()
}

enum Fragment<'a> {
    Plain(&'a str),
    Char(char),
}

/// Walk the decoded fragments of escaped string contents. Returns false on
/// an invalid escape (including a lone UTF-16 surrogate).
fn for_each_fragment<'a>(raw: &'a str, mut f: impl FnMut(Fragment<'a>)) -> bool {
    let mut rest = raw;
    while !rest.is_empty() {
        let Some(pos) = rest.find('\\') else {
            f(Fragment::Plain(rest));
            return true;
        };
        let (plain, esc) = rest.split_at(pos);
        if !plain.is_empty() {
            f(Fragment::Plain(plain));
        }
        let b = esc.as_bytes();
        let (c, used) = match b.get(1) {
            Some(b'"') => ('"', 2),
            Some(b'\\') => ('\\', 2),
            Some(b'/') => ('/', 2),
            Some(b'b') => ('\u{8}', 2),
            Some(b'f') => ('\u{c}', 2),
            Some(b'n') => ('\n', 2),
            Some(b'r') => ('\r', 2),
            Some(b't') => ('\t', 2),
            Some(b'u') => {
                let Some(hi) = esc.get(2..6).and_then(|h| u32::from_str_radix(h, 16).ok()) else {
                    return false;
                };
                if (0xD800..0xDC00).contains(&hi) {
                    let lo = match (esc.get(6..8), esc.get(8..12)) {
                        (Some("\\u"), Some(h)) => u32::from_str_radix(h, 16).ok(),
                        _ => None,
                    };
                    match lo {
                        Some(lo) if (0xDC00..0xE000).contains(&lo) => {
                            let cp = 0x10000 + ((hi - 0xD800) << 10) + (lo - 0xDC00);
                            match char::from_u32(cp) {
                                Some(c) => (c, 12),
                                None => return false,
                            }
                        }
                        _ => return false,
                    }
                } else {
                    match char::from_u32(hi) {
                        Some(c) => (c, 6),
                        None => return false,
                    }
                }
            }
            _ => return false,
        };
        f(Fragment::Char(c));
        rest = esc.get(used..).unwrap_or("");
    }
    true
}

enum Unescape {
    Overflow,
    Invalid,
}

/// Unescape the JSON string token at `s..e` (with quotes) into `out`.
fn unescape_into<const N: usize>(
    text: &str,
    s: usize,
    e: usize,
    out: &mut heapless::String<N>,
) -> Result<(), Unescape> {
    if e < s + 2 {
        return Err(Unescape::Invalid);
    }
    let raw = text.get(s + 1..e - 1).ok_or(Unescape::Invalid)?;
    let mut overflow = false;
    let valid = for_each_fragment(raw, |frag| {
        let pushed = match frag {
            Fragment::Plain(p) => out.push_str(p).is_ok(),
            Fragment::Char(c) => out.push(c).is_ok(),
        };
        overflow |= !pushed;
    });
    if !valid {
        Err(Unescape::Invalid)
    } else if overflow {
        Err(Unescape::Overflow)
    } else {
        Ok(())
    }
}

/// Unescape raw JSON string contents (without quotes) into a bounded buffer.
/// Returns `None` on an invalid escape or when `N` bytes do not suffice.
pub fn unescape<const N: usize>(raw: &str) -> Option<heapless::String<N>> {
    let mut out = heapless::String::new();
    let mut overflow = false;
    let valid = for_each_fragment(raw, |frag| {
        let pushed = match frag {
            Fragment::Plain(p) => out.push_str(p).is_ok(),
            Fragment::Char(c) => out.push(c).is_ok(),
        };
        overflow |= !pushed;
    });
    (valid && !overflow).then_some(out)
}

fn skip_ws(bytes: &[u8], mut i: usize) -> usize {
    while let Some(b' ' | b'\t' | b'\n' | b'\r') = bytes.get(i) {
        i += 1;
    }
    i
}

/// Validate one JSON value starting at `i`; return the index after it.
fn skip_value(bytes: &[u8], i: usize, depth: usize, max: usize) -> Result<usize, Bad> {
    match bytes.get(i) {
        Some(b'{') => {
            if depth >= max {
                return Err(invalid_bad("The message is nested too deeply"));
            }
            let mut j = skip_ws(bytes, i + 1);
            if bytes.get(j) == Some(&b'}') {
                return Ok(j + 1);
            }
            loop {
                if bytes.get(j) != Some(&b'"') {
                    return Err(parse_error("Expected an object key"));
                }
                j = skip_ws(bytes, skip_string(bytes, j)?);
                if bytes.get(j) != Some(&b':') {
                    return Err(parse_error("Expected ':'"));
                }
                j = skip_ws(bytes, j + 1);
                j = skip_ws(bytes, skip_value(bytes, j, depth + 1, max)?);
                match bytes.get(j) {
                    Some(b',') => j = skip_ws(bytes, j + 1),
                    Some(b'}') => return Ok(j + 1),
                    _ => return Err(parse_error("Expected ',' or '}'")),
                }
            }
        }
        Some(b'[') => {
            if depth >= max {
                return Err(invalid_bad("The message is nested too deeply"));
            }
            let mut j = skip_ws(bytes, i + 1);
            if bytes.get(j) == Some(&b']') {
                return Ok(j + 1);
            }
            loop {
                j = skip_ws(bytes, skip_value(bytes, j, depth + 1, max)?);
                match bytes.get(j) {
                    Some(b',') => j = skip_ws(bytes, j + 1),
                    Some(b']') => return Ok(j + 1),
                    _ => return Err(parse_error("Expected ',' or ']'")),
                }
            }
        }
        Some(b'"') => skip_string(bytes, i),
        Some(b't') => literal(bytes, i, b"true"),
        Some(b'f') => literal(bytes, i, b"false"),
        Some(b'n') => literal(bytes, i, b"null"),
        Some(b'-' | b'0'..=b'9') => skip_number(bytes, i),
        _ => Err(parse_error("Expected a JSON value")),
    }
}

fn literal(bytes: &[u8], i: usize, lit: &[u8]) -> Result<usize, Bad> {
    if bytes.get(i..i + lit.len()) == Some(lit) {
        Ok(i + lit.len())
    } else {
        Err(parse_error("Invalid literal"))
    }
}

/// The bytes that end a run of plain string characters: the closing
/// quote, an escape, and the control characters JSON forbids in strings.
const STRING_STOP: [bool; 256] = {
    let mut stop = [false; 256];
    let mut b = 0;
    while b < 0x20 {
        stop[b] = true;
        b += 1;
    }
    stop[b'"' as usize] = true;
    stop[b'\\' as usize] = true;
    stop
};

fn skip_string(bytes: &[u8], i: usize) -> Result<usize, Bad> {
    let mut j = i + 1;
    loop {
        // Plain characters in one tight loop (a table look-up each): most
        // strings are only that.
        let rest = bytes.get(j..).unwrap_or_default();
        j += rest
            .iter()
            .position(|&b| STRING_STOP[usize::from(b)])
            .unwrap_or(rest.len());
        match bytes.get(j) {
            None => return Err(parse_error("Unterminated string")),
            Some(b'"') => return Ok(j + 1),
            Some(b'\\') => match bytes.get(j + 1) {
                Some(b'"' | b'\\' | b'/' | b'b' | b'f' | b'n' | b'r' | b't') => j += 2,
                Some(b'u') => {
                    let hex = bytes.get(j + 2..j + 6).unwrap_or_default();
                    if hex.len() != 4 || !hex.iter().all(u8::is_ascii_hexdigit) {
                        return Err(parse_error("Invalid \\u escape"));
                    }
                    j += 6;
                }
                _ => return Err(parse_error("Invalid escape")),
            },
            // The table's only other stops.
            Some(_) => return Err(parse_error("Control character in string")),
        }
    }
}

fn skip_digits(bytes: &[u8], mut j: usize) -> usize {
    while let Some(b'0'..=b'9') = bytes.get(j) {
        j += 1;
    }
    j
}

fn skip_number(bytes: &[u8], i: usize) -> Result<usize, Bad> {
    let mut j = i;
    if bytes.get(j) == Some(&b'-') {
        j += 1;
    }
    match bytes.get(j) {
        Some(b'0') => j += 1,
        Some(b'1'..=b'9') => j = skip_digits(bytes, j + 1),
        _ => return Err(parse_error("Invalid number")),
    }
    if bytes.get(j) == Some(&b'.') {
        let k = skip_digits(bytes, j + 1);
        if k == j + 1 {
            return Err(parse_error("Invalid number"));
        }
        j = k;
    }
    if let Some(b'e' | b'E') = bytes.get(j) {
        j += 1;
        if let Some(b'+' | b'-') = bytes.get(j) {
            j += 1;
        }
        let k = skip_digits(bytes, j);
        if k == j {
            return Err(parse_error("Invalid number"));
        }
        j = k;
    }
    Ok(j)
}
