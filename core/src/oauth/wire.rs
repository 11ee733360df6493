//! Small wire helpers shared by the endpoints: form and query parsing with
//! duplicate detection, HTTP Basic client credentials, cache headers,
//! redirects, cookies and HTML escaping.

use alloc::borrow::Cow;
use alloc::string::String;
use alloc::vec::Vec;

use base64ct::{Base64, Encoding};

use crate::http::{Request, Response};

/// Parsed `application/x-www-form-urlencoded` parameters.
#[derive(Debug, Default)]
pub(crate) struct Params {
    pairs: Vec<(String, String)>,
}

/// Most parameters we accept in one form or query (parameter flooding).
const MAX_PARAMS: usize = 64;

impl Params {
    /// Parse a form body or query string. `None` if there are too many
    /// parameters.
    pub fn parse(bytes: &[u8]) -> Option<Params> {
        let mut pairs = Vec::new();
        for (k, v) in form_urlencoded::parse(bytes) {
            if pairs.len() >= MAX_PARAMS {
                return None;
            }
            pairs.push((k.into_owned(), v.into_owned()));
        }
        Some(Params { pairs })
    }

    /// The value of `name`: `Ok(None)` if absent or empty (RFC 6749 §3.1:
    /// empty parameters are treated as omitted), `Err(())` if repeated.
    pub fn one(&self, name: &str) -> Result<Option<&str>, ()> {
        let mut found = None;
        for (k, v) in &self.pairs {
            if k == name && !v.is_empty() {
                if found.is_some() {
                    return Err(());
                }
                found = Some(v.as_str());
            }
        }
        Ok(found)
    }

    /// How many non-empty values `name` has.
    pub fn count(&self, name: &str) -> usize {
        self.pairs
            .iter()
            .filter(|(k, v)| k == name && !v.is_empty())
            .count()
    }
}

/// Add `Cache-Control: no-store` and `Pragma: no-cache`.
pub(crate) fn no_store(resp: Response) -> Response {
    resp.with_header("Cache-Control", "no-store")
        .with_header("Pragma", "no-cache")
}

/// 405 with `Allow`, in the shape of every refusal
/// ([`crate::server::Refusal`]).
pub(crate) fn method_not_allowed(allow: &'static str) -> Response {
    crate::server::method_not_allowed(allow)
}

/// Client credentials from an `Authorization: Basic` header.
#[derive(Debug)]
pub(crate) enum BasicAuth {
    /// No Authorization header.
    Absent,
    /// Present and well-formed.
    Present { id: String, secret: String },
    /// Present but malformed, not Basic, or repeated.
    Malformed,
}

/// Decode client credentials from `Authorization: Basic` (RFC 6749
/// §2.3.1: id and secret are form-urlencoded before base64).
pub(crate) fn basic_auth(req: &Request) -> BasicAuth {
    match req.header_count("authorization") {
        0 => return BasicAuth::Absent,
        1 => {}
        _ => return BasicAuth::Malformed,
    }
    let Some(value) = req.header("authorization") else {
        return BasicAuth::Absent;
    };
    let value = value.trim();
    let Some((scheme, b64)) = value.split_once(' ') else {
        return BasicAuth::Malformed;
    };
    if !scheme.eq_ignore_ascii_case("basic") || b64.len() > 4096 {
        return BasicAuth::Malformed;
    }
    let Ok(raw) = Base64::decode_vec(b64.trim()) else {
        return BasicAuth::Malformed;
    };
    let Ok(text) = core::str::from_utf8(&raw) else {
        return BasicAuth::Malformed;
    };
    let Some((id, secret)) = text.split_once(':') else {
        return BasicAuth::Malformed;
    };
    match (percent_decode(id), percent_decode(secret)) {
        (Some(id), Some(secret)) if !id.is_empty() => BasicAuth::Present { id, secret },
        _ => BasicAuth::Malformed,
    }
}

/// Form-urlencoding decode of one component.
fn percent_decode(s: &str) -> Option<String> {
    let mut out = Vec::with_capacity(s.len());
    let b = s.as_bytes();
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'%' => {
                let hex = s.get(i + 1..i + 3)?;
                out.push(u8::from_str_radix(hex, 16).ok()?);
                i += 3;
            }
            b'+' => {
                out.push(b' ');
                i += 1;
            }
            c => {
                out.push(c);
                i += 1;
            }
        }
    }
    String::from_utf8(out).ok()
}

/// `base` with `params` appended to its query (`?` or `&`).
pub(crate) fn with_query(base: &str, params: &[(&str, &str)]) -> String {
    let mut ser = form_urlencoded::Serializer::new(String::new());
    for (k, v) in params {
        ser.append_pair(k, v);
    }
    let query = ser.finish();
    let sep = if base.contains('?') { '&' } else { '?' };
    let mut out = String::with_capacity(base.len() + 1 + query.len());
    out.push_str(base);
    out.push(sep);
    out.push_str(&query);
    out
}

/// A `303 See Other` to `location` (`no-store`).
pub(crate) fn redirect(location: String) -> Response {
    no_store(Response::empty(303).with_header("Location", location))
        .with_header("Referrer-Policy", "no-referrer")
}

/// The value of cookie `name` from the `Cookie` header(s).
pub(crate) fn cookie<'a>(req: &'a Request, name: &str) -> Option<&'a str> {
    req.headers
        .iter()
        .filter(|(n, _)| n.eq_ignore_ascii_case("cookie"))
        .flat_map(|(_, v)| v.split(';'))
        .filter_map(|kv| kv.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v)
}

/// Escape text for HTML element content and quoted attribute values.
pub(crate) fn html_escape(s: &str) -> Cow<'_, str> {
    if !s.contains(['&', '<', '>', '"', '\'']) {
        return Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len() + 16);
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    Cow::Owned(out)
}

/// Split a space-delimited scope string; `None` if any token has characters
/// outside RFC 6749 §3.3 `scope-token` or there are too many.
pub(crate) fn parse_scope(s: &str) -> Option<Vec<String>> {
    let mut out: Vec<String> = Vec::new();
    for tok in s.split(' ').filter(|t| !t.is_empty()) {
        if !is_scope_token(tok) || out.len() >= 32 {
            return None;
        }
        if !out.iter().any(|t| t == tok) {
            out.push(String::from(tok));
        }
    }
    Some(out)
}

/// One RFC 6749 §3.3 `scope-token` (printable ASCII except space, `"` and
/// `\`) of at most 128 bytes.
pub(crate) fn is_scope_token(tok: &str) -> bool {
    !tok.is_empty()
        && tok.len() <= 128
        && tok
            .bytes()
            .all(|b| b == 0x21 || (0x23..=0x5B).contains(&b) || (0x5D..=0x7E).contains(&b))
}

/// Join scopes with single spaces.
pub(crate) fn join_scopes(scopes: &[String]) -> String {
    scopes.join(" ")
}
