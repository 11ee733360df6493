//! Which headers cross the proxy, in each direction.
//!
//! RFC 9110 §7.6.1: a proxy removes the `Connection` header, every header
//! it names, and the hop-by-hop headers a peer may send without naming
//! them (`Proxy-Connection`, `Keep-Alive`, `TE`, `Transfer-Encoding`,
//! `Upgrade`, `Trailer`). hyper writes its own framing on each side.
//!
//! Besides those, towards the upstream the proxy drops the caller's
//! credentials (`Authorization`, `Proxy-Authorization`: the upstream must
//! never see a token it could replay elsewhere), `Host` (the client sets the
//! upstream's own), `Content-Length` (hyper sets it from the body it sends),
//! and any header carrying one of the identity header names, so a caller
//! cannot claim another identity; the proxy then writes the identity it
//! verified.

use hyper::header::{HeaderMap, HeaderName, HeaderValue};
use mcpauth_core::http::Headers;
use mcpauth_core::principal::Principal;

/// Hop-by-hop headers a peer may send without listing them in
/// `Connection` (RFC 9110 §7.6.1, RFC 9112 §7.1, and the historical
/// `Proxy-Connection` and `Keep-Alive`).
const HOP_BY_HOP: [&str; 7] = [
    "connection",
    "proxy-connection",
    "keep-alive",
    "te",
    "transfer-encoding",
    "upgrade",
    "trailer",
];

/// Headers never forwarded to the upstream besides the hop-by-hop ones.
/// `Origin` is checked by the proxy (the browser's origin is the proxy's,
/// which the upstream cannot know), then left behind: the upstream gets a
/// server-to-server request.
const NOT_FORWARDED: [&str; 5] = [
    "authorization",
    "proxy-authorization",
    "host",
    "content-length",
    "origin",
];

/// Headers never returned to the client besides the hop-by-hop ones: the
/// upstream's challenge for proxy credentials is about a hop we own.
const NOT_RETURNED: [&str; 1] = ["proxy-authenticate"];

/// The `Via` token this proxy adds in both directions (RFC 9110 §7.6.3).
pub const VIA: &str = "1.1 mcpauth";

/// The header names that carry the caller's verified identity to the
/// upstream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdentityHeaders {
    /// The subject (`sub`): who the user is.
    pub subject: HeaderName,
    /// The OAuth client acting for the user (`client_id`).
    pub client_id: HeaderName,
    /// The granted scopes, space-separated as in OAuth.
    pub scopes: HeaderName,
}

impl Default for IdentityHeaders {
    fn default() -> Self {
        IdentityHeaders {
            subject: HeaderName::from_static("x-mcpauth-subject"),
            client_id: HeaderName::from_static("x-mcpauth-client-id"),
            scopes: HeaderName::from_static("x-mcpauth-scopes"),
        }
    }
}

impl IdentityHeaders {
    fn is_identity(&self, name: &str) -> bool {
        name.eq_ignore_ascii_case(self.subject.as_str())
            || name.eq_ignore_ascii_case(self.client_id.as_str())
            || name.eq_ignore_ascii_case(self.scopes.as_str())
    }

    /// Write `principal` into `headers`; `None` if a value cannot be a
    /// header value (never for identities this server issues).
    fn write(&self, principal: &Principal, headers: &mut HeaderMap) -> Option<()> {
        headers.insert(
            self.subject.clone(),
            HeaderValue::from_str(&principal.subject).ok()?,
        );
        headers.insert(
            self.client_id.clone(),
            HeaderValue::from_str(&principal.client_id).ok()?,
        );
        headers.insert(
            self.scopes.clone(),
            HeaderValue::from_str(&principal.scopes.join(" ")).ok()?,
        );
        Some(())
    }
}

/// The header names the `Connection` header values list (lowercased).
fn connection_listed<'a>(values: impl Iterator<Item = &'a str>) -> Vec<String> {
    values
        .flat_map(|v| v.split(','))
        .map(|t| t.trim().to_ascii_lowercase())
        .filter(|t| !t.is_empty())
        .collect()
}

/// Whether the proxy manages header `name` itself (hop-by-hop, credentials,
/// framing, `Via`): no identity may be configured under such a name.
pub fn is_reserved(name: &str) -> bool {
    HOP_BY_HOP
        .iter()
        .chain(NOT_FORWARDED.iter())
        .chain(NOT_RETURNED.iter())
        .chain(["via", "mcp-session-id", "last-event-id", "content-type"].iter())
        .any(|h| name.eq_ignore_ascii_case(h))
}

fn is_hop_by_hop(name: &str, listed: &[String]) -> bool {
    HOP_BY_HOP.iter().any(|h| name.eq_ignore_ascii_case(h))
        || listed.iter().any(|l| name.eq_ignore_ascii_case(l))
}

/// The headers sent to the upstream for a request from the caller with
/// `headers` (names lowercase, as the host records them), verified as
/// `principal`. `None` if the identity cannot be written.
pub fn to_upstream(
    headers: &Headers,
    principal: &Principal,
    identity: &IdentityHeaders,
) -> Option<HeaderMap> {
    let listed = connection_listed(
        headers
            .iter()
            .filter(|(n, _)| n.eq_ignore_ascii_case("connection"))
            .map(|(_, v)| v),
    );
    let mut out = HeaderMap::with_capacity(headers.len() + 4);
    for (name, value) in headers.iter() {
        if is_hop_by_hop(name, &listed)
            || NOT_FORWARDED.iter().any(|h| name.eq_ignore_ascii_case(h))
            || identity.is_identity(name)
        {
            continue;
        }
        // The host kept header values as text; a value that was not
        // visible ASCII was replaced lossily and is dropped here rather
        // than forwarded altered.
        if let (Ok(n), Ok(v)) = (
            HeaderName::from_bytes(name.as_bytes()),
            HeaderValue::from_str(value),
        ) {
            out.append(n, v);
        }
    }
    out.append(hyper::header::VIA, HeaderValue::from_static(VIA));
    identity.write(principal, &mut out)?;
    Some(out)
}

/// The upstream's response headers as returned to the client.
pub fn to_client(headers: &HeaderMap) -> Vec<(String, String)> {
    let listed = connection_listed(
        headers
            .get_all(hyper::header::CONNECTION)
            .iter()
            .filter_map(|v| v.to_str().ok()),
    );
    let mut out = Vec::with_capacity(headers.len() + 1);
    for (name, value) in headers {
        let name = name.as_str();
        if is_hop_by_hop(name, &listed) || NOT_RETURNED.contains(&name) {
            continue;
        }
        // Only values the host can carry as text are returned.
        if let Ok(v) = value.to_str() {
            out.push((name.to_owned(), v.to_owned()));
        }
    }
    out.push(("via".to_owned(), VIA.to_owned()));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn principal() -> Principal {
        Principal {
            subject: "user-1".into(),
            client_id: "client-1".into(),
            scopes: vec!["mcp".into(), "files".into()],
            audience: "http://127.0.0.1/mcp".into(),
            token_id: "jti".into(),
            expires_at: 0,
            derived: Default::default(),
        }
    }

    fn pairs(list: &[(&str, &str)]) -> Headers {
        list.iter().copied().collect()
    }

    #[test]
    fn credentials_hop_by_hop_and_forged_identity_stay_behind() {
        let incoming = pairs(&[
            ("authorization", "Bearer secret-token"),
            ("proxy-authorization", "Basic abc"),
            ("host", "mcpauth.example"),
            ("content-length", "12"),
            ("connection", "keep-alive, X-Private"),
            ("x-private", "1"),
            ("keep-alive", "timeout=5"),
            ("te", "trailers"),
            ("upgrade", "websocket"),
            ("x-mcpauth-subject", "admin"),
            ("X-MCPAuth-Scopes", "everything"),
            ("mcp-session-id", "s-1"),
            ("last-event-id", "e-9"),
            ("accept", "application/json, text/event-stream"),
            ("origin", "http://localhost:6274"),
        ]);
        let out =
            to_upstream(&incoming, &principal(), &IdentityHeaders::default()).expect("identity");
        for gone in [
            "authorization",
            "proxy-authorization",
            "host",
            "content-length",
            "connection",
            "x-private",
            "keep-alive",
            "te",
            "upgrade",
            "origin",
        ] {
            assert!(out.get(gone).is_none(), "{gone} must not be forwarded");
        }
        assert_eq!(out["mcp-session-id"], "s-1");
        assert_eq!(out["last-event-id"], "e-9");
        assert_eq!(out["accept"], "application/json, text/event-stream");
        assert_eq!(out["via"], VIA);
        assert_eq!(out.get_all("x-mcpauth-subject").iter().count(), 1);
        assert_eq!(out["x-mcpauth-subject"], "user-1");
        assert_eq!(out["x-mcpauth-client-id"], "client-1");
        assert_eq!(out["x-mcpauth-scopes"], "mcp files");
    }

    #[test]
    fn operator_named_identity_headers() {
        let identity = IdentityHeaders {
            subject: HeaderName::from_static("x-user"),
            client_id: HeaderName::from_static("x-client"),
            scopes: HeaderName::from_static("x-scopes"),
        };
        let incoming = pairs(&[("x-user", "forged"), ("x-mcpauth-subject", "kept")]);
        let out = to_upstream(&incoming, &principal(), &identity).expect("identity");
        assert_eq!(out["x-user"], "user-1");
        assert_eq!(out["x-client"], "client-1");
        // Not an identity header under this configuration: an ordinary header.
        assert_eq!(out["x-mcpauth-subject"], "kept");
    }

    #[test]
    fn response_hop_by_hop_removed() {
        let mut h = HeaderMap::new();
        h.insert(
            "content-type",
            HeaderValue::from_static("text/event-stream"),
        );
        h.insert("mcp-session-id", HeaderValue::from_static("s-1"));
        h.insert("connection", HeaderValue::from_static("close, x-hop"));
        h.insert("x-hop", HeaderValue::from_static("1"));
        h.insert("transfer-encoding", HeaderValue::from_static("chunked"));
        h.insert("proxy-authenticate", HeaderValue::from_static("Basic"));
        let out = to_client(&h);
        let names: Vec<&str> = out.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(names, ["content-type", "mcp-session-id", "via"]);
    }
}
