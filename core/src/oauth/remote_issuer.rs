//! A resource server whose tokens come from an authorization server
//! elsewhere (`mcpauth serve --issuer`, any RFC 9068 issuer): which issuer
//! identifiers are acceptable, where the issuer's metadata lives (RFC 8414
//! §3.1, with the OpenID Connect location as a fallback), and what of that
//! metadata is believed (§3.3: the `issuer` it names must be exactly the
//! configured one; its `jwks_uri` must be an absolute URL of an allowed
//! scheme).
//!
//! Pure decisions: the host fetches (with its SSRF fence), this module
//! says what to fetch and whether the answer is usable. The key schedule
//! is [`crate::jose::JwksRefreshSchedule`]; the bearer check is the
//! router's, with a [`super::ResourceGuard`] whose policy names the issuer.

use alloc::format;
use alloc::string::String;
use alloc::vec;
use alloc::vec::Vec;
use core::fmt;

use serde_json::Value;

use super::config::split_url;
use crate::jose::MAX_JWKS_LEN;

/// Largest authorization-server metadata document accepted, in bytes.
pub const MAX_ISSUER_METADATA_LEN: usize = 64 * 1024;
/// Longest issuer identifier or metadata URL accepted.
pub const MAX_ISSUER_URL_LEN: usize = 2048;
/// Largest JWKS document a resource server fetches (the core's JWKS bound).
pub const MAX_REMOTE_JWKS_LEN: usize = MAX_JWKS_LEN;

const AS_METADATA: &str = "/.well-known/oauth-authorization-server";
const OPENID: &str = "/.well-known/openid-configuration";

/// Why an issuer identifier or its metadata was refused. Carries no
/// document contents.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum RemoteIssuerError {
    /// The issuer identifier is not an absolute http(s) URL without
    /// query, fragment or userinfo (RFC 8414 §2).
    IssuerUrl,
    /// The issuer uses plain http but the host does not allow it (only
    /// loopback or private issuers, by explicit opt-in).
    InsecureIssuer,
    /// The metadata document exceeds [`MAX_ISSUER_METADATA_LEN`].
    TooLarge,
    /// The metadata document is not one strict JSON object.
    Json,
    /// The metadata names another issuer than the configured one (RFC 8414
    /// §3.3: such metadata must not be used).
    IssuerMismatch,
    /// No `jwks_uri`, or not a string.
    NoJwksUri,
    /// A URL in the metadata is not an absolute URL of an allowed scheme
    /// (https; http only for an http issuer). The member name.
    BadUrl(&'static str),
}

impl fmt::Display for RemoteIssuerError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::IssuerUrl => f.write_str(
                "the issuer must be an absolute http(s) URL without query, fragment or userinfo",
            ),
            Self::InsecureIssuer => f.write_str(
                "a plain-http issuer is only allowed for loopback or private addresses, by opt-in",
            ),
            Self::TooLarge => f.write_str("the issuer metadata exceeds the size limit"),
            Self::Json => f.write_str("the issuer metadata is not a JSON object"),
            Self::IssuerMismatch => {
                f.write_str("the issuer metadata names another issuer (RFC 8414 §3.3)")
            }
            Self::NoJwksUri => f.write_str("the issuer metadata has no jwks_uri"),
            Self::BadUrl(member) => write!(f, "the issuer metadata's {member} is not usable"),
        }
    }
}

#[cfg(feature = "std")]
impl std::error::Error for RemoteIssuerError {}

/// Check an issuer identifier as the operator wrote it. It is kept exactly
/// (tokens' `iss` must equal it byte for byte, trailing slash included);
/// plain http only when `allow_http` (the host allows it for loopback and
/// private issuers only).
pub fn check_issuer(issuer: &str, allow_http: bool) -> Result<(), RemoteIssuerError> {
    let parts = split_url(issuer).ok_or(RemoteIssuerError::IssuerUrl)?;
    let scheme_ok = match parts.scheme {
        "https" => true,
        "http" => {
            if !allow_http {
                return Err(RemoteIssuerError::InsecureIssuer);
            }
            true
        }
        _ => false,
    };
    if !scheme_ok
        || issuer.len() > MAX_ISSUER_URL_LEN
        || parts.host.is_empty()
        || parts.has_fragment
        || parts.rest.contains('?')
    {
        return Err(RemoteIssuerError::IssuerUrl);
    }
    Ok(())
}

/// `(origin, path)` of a checked issuer (`https://a.example/t/1` →
/// `https://a.example`, `/t/1`).
fn origin_and_path(issuer: &str) -> (&str, &str) {
    let after = issuer.find("://").map_or(0, |i| i + 3);
    let end = issuer[after..]
        .find('/')
        .map_or(issuer.len(), |i| after + i);
    (&issuer[..end], &issuer[end..])
}

/// Where the issuer's metadata is, in the order to try: the RFC 8414 §3.1
/// location (well-known segment inserted before the issuer's path), then
/// the OpenID Connect Discovery location (appended to the issuer).
pub fn metadata_urls(issuer: &str) -> Vec<String> {
    let (origin, path) = origin_and_path(issuer);
    let path = path.trim_end_matches('/');
    let rfc8414 = format!("{origin}{AS_METADATA}{path}");
    let openid = format!("{}{OPENID}", issuer.trim_end_matches('/'));
    if rfc8414 == openid {
        vec![rfc8414]
    } else {
        vec![rfc8414, openid]
    }
}

/// What a resource server takes from its issuer's metadata.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IssuerMetadata {
    /// Where the issuer's signing keys are published.
    pub jwks_uri: String,
    /// RFC 7662 introspection endpoint, if the issuer has one.
    pub introspection_endpoint: Option<String>,
}

/// An absolute URL the host may fetch for an issuer with `scheme`: https,
/// or http when the issuer itself is plain http (a loopback or private
/// issuer the host opted into).
fn usable_url(url: &str, issuer_scheme: &str) -> bool {
    let Some(parts) = split_url(url) else {
        return false;
    };
    let scheme_ok = parts.scheme == "https" || (parts.scheme == "http" && issuer_scheme == "http");
    scheme_ok && url.len() <= MAX_ISSUER_URL_LEN && !parts.host.is_empty() && !parts.has_fragment
}

/// Read the metadata document `body` fetched for `issuer` (checked with
/// [`check_issuer`]).
pub fn parse_metadata(issuer: &str, body: &[u8]) -> Result<IssuerMetadata, RemoteIssuerError> {
    if body.len() > MAX_ISSUER_METADATA_LEN {
        return Err(RemoteIssuerError::TooLarge);
    }
    let doc = crate::jose::strict_object(body, crate::jose::Part::Claims)
        .map_err(|_| RemoteIssuerError::Json)?;
    if doc.get("issuer").and_then(Value::as_str) != Some(issuer) {
        return Err(RemoteIssuerError::IssuerMismatch);
    }
    let scheme = split_url(issuer).map_or("", |p| p.scheme);
    let jwks_uri = doc
        .get("jwks_uri")
        .and_then(Value::as_str)
        .ok_or(RemoteIssuerError::NoJwksUri)?;
    if !usable_url(jwks_uri, scheme) {
        return Err(RemoteIssuerError::BadUrl("jwks_uri"));
    }
    let introspection_endpoint = match doc.get("introspection_endpoint") {
        None | Some(Value::Null) => None,
        Some(Value::String(url)) if usable_url(url, scheme) => Some(url.clone()),
        Some(_) => return Err(RemoteIssuerError::BadUrl("introspection_endpoint")),
    };
    Ok(IssuerMetadata {
        jwks_uri: jwks_uri.into(),
        introspection_endpoint,
    })
}

/// The form body of an RFC 7662 introspection request for `token`.
pub fn introspection_request(token: &str) -> String {
    let mut body = String::from("token_type_hint=access_token&token=");
    for b in token.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            body.push(char::from(b));
        } else {
            body.push_str(&format!("%{b:02X}"));
        }
    }
    body
}

/// The `Authorization` header value with which a resource server
/// authenticates as the client `client_id` at the introspection endpoint
/// (`client_secret_basic`: both form-urlencoded first, RFC 6749 §2.3.1).
pub fn client_basic_auth(client_id: &str, secret: &str) -> String {
    use base64ct::{Base64, Encoding};
    let encode = |s: &str| {
        let mut out = String::new();
        for b in s.bytes() {
            if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
                out.push(char::from(b));
            } else {
                out.push_str(&format!("%{b:02X}"));
            }
        }
        out
    };
    let pair = format!("{}:{}", encode(client_id), encode(secret));
    format!("Basic {}", Base64::encode_string(pair.as_bytes()))
}

/// Whether an RFC 7662 introspection answer says the token is active for
/// `resource` of `issuer`: `active` must be `true`, and `iss` and `aud`,
/// when the answer has them, must name them. An answer that is not a JSON
/// object with a boolean `active` is an error (the caller cannot tell).
pub fn introspection_active(
    body: &[u8],
    issuer: &str,
    resource: &str,
) -> Result<bool, RemoteIssuerError> {
    if body.len() > MAX_ISSUER_METADATA_LEN {
        return Err(RemoteIssuerError::TooLarge);
    }
    let doc = crate::jose::strict_object(body, crate::jose::Part::Claims)
        .map_err(|_| RemoteIssuerError::Json)?;
    let Some(active) = doc.get("active").and_then(Value::as_bool) else {
        return Err(RemoteIssuerError::Json);
    };
    if !active {
        return Ok(false);
    }
    if let Some(iss) = doc.get("iss")
        && iss.as_str() != Some(issuer)
    {
        return Ok(false);
    }
    let audience_ok = match doc.get("aud") {
        None | Some(Value::Null) => true,
        Some(Value::String(a)) => a == resource,
        Some(Value::Array(list)) => list.iter().any(|a| a.as_str() == Some(resource)),
        Some(_) => false,
    };
    Ok(audience_ok)
}

#[cfg(test)]
mod tests {
    use alloc::vec;

    use super::*;

    #[test]
    fn issuers() {
        assert_eq!(check_issuer("https://auth.example.com", false), Ok(()));
        assert_eq!(
            check_issuer("https://auth.example.com/tenant/", false),
            Ok(())
        );
        assert_eq!(
            check_issuer("http://127.0.0.1:8080", false),
            Err(RemoteIssuerError::InsecureIssuer)
        );
        assert_eq!(check_issuer("http://127.0.0.1:8080", true), Ok(()));
        for bad in [
            "auth.example.com",
            "ftp://auth.example.com",
            "https://",
            "https://a.example/?x=1",
            "https://a.example/#f",
            "https://u@a.example",
            "https://a.example/ x",
        ] {
            assert_eq!(
                check_issuer(bad, true),
                Err(RemoteIssuerError::IssuerUrl),
                "{bad}"
            );
        }
    }

    #[test]
    fn introspection_answers() {
        let (iss, res) = ("https://a.example", "https://r.example/mcp");
        let yes = br#"{"active":true,"iss":"https://a.example","aud":"https://r.example/mcp"}"#;
        assert_eq!(introspection_active(yes, iss, res), Ok(true));
        let list = br#"{"active":true,"aud":["x","https://r.example/mcp"]}"#;
        assert_eq!(introspection_active(list, iss, res), Ok(true));
        for no in [
            &br#"{"active":false}"#[..],
            br#"{"active":true,"iss":"https://b.example"}"#,
            br#"{"active":true,"aud":"https://other.example/mcp"}"#,
            br#"{"active":true,"aud":7}"#,
        ] {
            assert_eq!(introspection_active(no, iss, res), Ok(false));
        }
        for bad in [&b"{}"[..], br#"{"active":"true"}"#, b"[]"] {
            assert_eq!(
                introspection_active(bad, iss, res),
                Err(RemoteIssuerError::Json)
            );
        }
        assert_eq!(client_basic_auth("rs 1", "p:w"), "Basic cnMlMjAxOnAlM0F3");
        assert_eq!(
            introspection_request("a.b_c-d~e+f"),
            "token_type_hint=access_token&token=a.b_c-d~e%2Bf"
        );
    }

    #[test]
    fn metadata_locations() {
        assert_eq!(
            metadata_urls("https://a.example"),
            [
                "https://a.example/.well-known/oauth-authorization-server",
                "https://a.example/.well-known/openid-configuration"
            ]
        );
        assert_eq!(
            metadata_urls("https://a.example/tenant/1/"),
            [
                "https://a.example/.well-known/oauth-authorization-server/tenant/1",
                "https://a.example/tenant/1/.well-known/openid-configuration"
            ]
        );
    }

    #[test]
    fn metadata_must_name_the_issuer_and_a_usable_jwks_uri() {
        let iss = "https://a.example";
        let ok = br#"{"issuer":"https://a.example","jwks_uri":"https://keys.example/jwks",
            "introspection_endpoint":"https://a.example/introspect"}"#;
        assert_eq!(
            parse_metadata(iss, ok),
            Ok(IssuerMetadata {
                jwks_uri: "https://keys.example/jwks".into(),
                introspection_endpoint: Some("https://a.example/introspect".into()),
            })
        );
        let cases: [(&[u8], RemoteIssuerError); 7] = [
            (
                br#"{"issuer":"https://evil.example","jwks_uri":"https://a.example/j"}"#,
                RemoteIssuerError::IssuerMismatch,
            ),
            (
                br#"{"issuer":"https://a.example/","jwks_uri":"https://a.example/j"}"#,
                RemoteIssuerError::IssuerMismatch,
            ),
            (br#"{"issuer":"https://a.example"}"#, RemoteIssuerError::NoJwksUri),
            (
                br#"{"issuer":"https://a.example","jwks_uri":"http://a.example/j"}"#,
                RemoteIssuerError::BadUrl("jwks_uri"),
            ),
            (
                br#"{"issuer":"https://a.example","jwks_uri":"/j"}"#,
                RemoteIssuerError::BadUrl("jwks_uri"),
            ),
            (
                br#"{"issuer":"https://a.example","issuer":"https://a.example","jwks_uri":"https://a.example/j"}"#,
                RemoteIssuerError::Json,
            ),
            (b"[1]", RemoteIssuerError::Json),
        ];
        for (body, want) in cases {
            assert_eq!(parse_metadata(iss, body), Err(want));
        }
        // An http issuer (loopback, opted in) may publish http URLs.
        let local = br#"{"issuer":"http://127.0.0.1:8080","jwks_uri":"http://127.0.0.1:8080/.well-known/jwks.json"}"#;
        assert!(parse_metadata("http://127.0.0.1:8080", local).is_ok());
        let big = vec![b' '; MAX_ISSUER_METADATA_LEN + 1];
        assert_eq!(parse_metadata(iss, &big), Err(RemoteIssuerError::TooLarge));
    }
}
