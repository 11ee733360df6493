//! The one CORS policy, for every host and every shape.
//!
//! Browser-based clients (MCP Inspector, web apps) call three kinds of
//! paths directly:
//! - **public metadata** (`/.well-known/…`, JWKS): readable from any
//!   origin, always;
//! - **OAuth API** (`/register`, `/token`, `/revoke`, `/introspect`): for
//!   the allowed origins; another origin gets no CORS headers (its browser
//!   cannot read the answer);
//! - **MCP endpoints**: for the allowed origins; a request carrying any
//!   other `Origin` is refused with 403 (DNS-rebinding defence, required by
//!   the Streamable HTTP transport).
//!
//! The interactive `/authorize` pages are never CORS-enabled (top-level
//! navigations with a cookie), nor is `/healthz`. No endpoint uses
//! cookies, so credentials are never allowed. An allowed-origins list
//! containing `*` allows every origin, on every kind of path.

use alloc::borrow::Cow;
use alloc::string::{String, ToString};
use alloc::vec::Vec;

use crate::http::{Method, Request, Response};

/// The request headers every MCP era sends, plus the OAuth ones. Browsers
/// need each listed (`Authorization` is never covered by a wildcard).
pub const ALLOW_HEADERS: &str = "Authorization, Content-Type, Accept, Mcp-Session-Id, \
                                 Mcp-Protocol-Version, Last-Event-ID, Mcp-Method, Mcp-Name";
/// The methods of every CORS-enabled endpoint.
pub const ALLOW_METHODS: &str = "GET, HEAD, POST, DELETE";
/// Response headers a browser client may read.
pub const EXPOSE_HEADERS: &str = "Mcp-Session-Id, Mcp-Protocol-Version, WWW-Authenticate";
/// How long a browser may cache a preflight answer, seconds.
pub const MAX_AGE_SECS: &str = "600";
/// The prefix of 2026-07-28 tool parameter headers (`Mcp-Param-{Name}`):
/// tool-specific, so a preflight's requested ones are echoed.
const PARAM_HEADER_PREFIX: &str = "mcp-param-";
/// Longest `Access-Control-Request-Headers` value read (a preflight is
/// unauthenticated: bounds the work and the echoed header).
pub const MAX_REQUEST_HEADERS_LEN: usize = 2048;

/// Which CORS rules a path follows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PathKind {
    /// Discovery documents and JWKS: any origin.
    Public,
    /// OAuth endpoints a browser client calls: allowed origins only.
    Api,
    /// An MCP endpoint: allowed origins only, others refused.
    Mcp,
    /// No CORS (pages, health, unknown paths).
    None,
}

/// What CORS decided for one request, before it is handled.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// Not a cross-origin request (no `Origin`), or not a CORS path.
    NotCors,
    /// Add these headers to the answer.
    Allow(Cow<'static, str>),
    /// An origin not allowed: no CORS headers (MCP paths refuse it).
    Deny,
}

/// The allowed browser origins.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CorsPolicy {
    any: bool,
    origins: Vec<String>,
}

impl CorsPolicy {
    /// A policy allowing `origins` (`scheme://host[:port]`, compared
    /// case-insensitively, trailing `/` ignored); `*` allows any origin.
    pub fn new<S: AsRef<str>>(origins: &[S]) -> CorsPolicy {
        let any = origins.iter().any(|o| o.as_ref() == "*");
        let origins = origins
            .iter()
            .map(AsRef::as_ref)
            .filter(|o| *o != "*")
            .map(|o| o.trim_end_matches('/').to_ascii_lowercase())
            .collect();
        CorsPolicy { any, origins }
    }

    /// Whether `origin` is allowed.
    pub fn allows(&self, origin: &str) -> bool {
        let origin = origin.trim().trim_end_matches('/');
        self.any || self.origins.iter().any(|o| o.eq_ignore_ascii_case(origin))
    }

    /// The verdict for `req` on a path of `kind`. Several `Origin` headers
    /// are an origin nobody allowed.
    pub fn verdict(&self, kind: PathKind, req: &Request) -> Verdict {
        if kind == PathKind::None {
            return Verdict::NotCors;
        }
        let Some(origin) = req.header("origin") else {
            return Verdict::NotCors;
        };
        if req.header_count("origin") > 1 {
            return Verdict::Deny;
        }
        if kind == PathKind::Public || self.any {
            Verdict::Allow(Cow::Borrowed("*"))
        } else if self.allows(origin) {
            Verdict::Allow(Cow::Owned(origin.trim().to_string()))
        } else {
            Verdict::Deny
        }
    }

    /// The answer to a CORS preflight (`OPTIONS` with `Origin` and
    /// `Access-Control-Request-Method`), or `None` if `req` is not one.
    /// A denied origin gets no allow headers (an MCP path refuses it
    /// before this is asked).
    pub fn preflight(&self, verdict: &Verdict, req: &Request) -> Option<Response> {
        if req.method != Method::Options
            || *verdict == Verdict::NotCors
            || req.header("access-control-request-method").is_none()
        {
            return None;
        }
        let resp = Response::empty(204).with_header("Vary", "Origin");
        let Verdict::Allow(origin) = verdict else {
            return Some(resp);
        };
        Some(
            resp.with_header("Access-Control-Allow-Origin", origin.clone().into_owned())
                .with_header("Access-Control-Allow-Methods", ALLOW_METHODS)
                .with_header("Access-Control-Allow-Headers", allow_headers(req))
                .with_header("Access-Control-Max-Age", MAX_AGE_SECS),
        )
    }

    /// Add the headers of `verdict` to an actual (non-preflight) answer.
    pub fn decorate(verdict: Verdict, resp: &mut Response) {
        let Verdict::Allow(origin) = verdict else {
            return;
        };
        let echoed = origin != "*";
        resp.headers.push((
            "Access-Control-Allow-Origin".into(),
            origin.into_owned().into(),
        ));
        resp.headers.push((
            "Access-Control-Expose-Headers".into(),
            EXPOSE_HEADERS.into(),
        ));
        if echoed {
            resp.headers.push(("Vary".into(), "Origin".into()));
        }
    }
}

/// [`ALLOW_HEADERS`] plus the `Mcp-Param-*` names the preflight asks for
/// (valid header tokens only).
fn allow_headers(req: &Request) -> String {
    let mut out = String::from(ALLOW_HEADERS);
    let Some(requested) = req
        .header("access-control-request-headers")
        .filter(|h| h.len() <= MAX_REQUEST_HEADERS_LEN)
    else {
        return out;
    };
    for name in requested.split(',').map(str::trim) {
        let is_param = name
            .get(..PARAM_HEADER_PREFIX.len())
            .is_some_and(|p| p.eq_ignore_ascii_case(PARAM_HEADER_PREFIX))
            && name.len() > PARAM_HEADER_PREFIX.len();
        let is_token = name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b));
        if is_param && is_token {
            out.push_str(", ");
            out.push_str(name);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn preflight(path: &str, origin: &str) -> Request {
        Request::new(Method::Options, path)
            .with_header("Origin", origin)
            .with_header("Access-Control-Request-Method", "POST")
    }

    fn answer(policy: &CorsPolicy, kind: PathKind, req: &Request) -> Option<Response> {
        let verdict = policy.verdict(kind, req);
        policy.preflight(&verdict, req)
    }

    #[test]
    fn public_metadata_is_open_to_any_origin() {
        let policy = CorsPolicy::new::<&str>(&[]);
        let req = preflight(
            "/.well-known/oauth-authorization-server",
            "https://x.example",
        );
        let r = answer(&policy, PathKind::Public, &req).expect("preflight");
        assert_eq!(r.header("access-control-allow-origin"), Some("*"));
    }

    #[test]
    fn api_and_mcp_only_for_listed_origins() {
        let policy = CorsPolicy::new(&["http://localhost:6274/"]);
        for kind in [PathKind::Api, PathKind::Mcp] {
            let ok = answer(&policy, kind, &preflight("/mcp", "http://LOCALHOST:6274"))
                .expect("preflight");
            assert_eq!(
                ok.header("access-control-allow-origin"),
                Some("http://LOCALHOST:6274")
            );
            assert_eq!(
                policy.verdict(kind, &preflight("/mcp", "https://evil.example")),
                Verdict::Deny
            );
        }
    }

    #[test]
    fn a_star_allows_every_origin_everywhere() {
        let policy = CorsPolicy::new(&["*"]);
        for kind in [PathKind::Public, PathKind::Api, PathKind::Mcp] {
            let v = policy.verdict(kind, &preflight("/mcp", "https://anywhere.example"));
            assert_eq!(v, Verdict::Allow(Cow::Borrowed("*")));
        }
    }

    #[test]
    fn pages_are_never_cors() {
        let policy = CorsPolicy::new(&["*"]);
        let req = preflight("/authorize", "https://x.example");
        assert_eq!(policy.verdict(PathKind::None, &req), Verdict::NotCors);
        assert!(answer(&policy, PathKind::None, &req).is_none());
    }

    #[test]
    fn every_era_header_is_allowed_and_param_headers_are_echoed() {
        let policy = CorsPolicy::new(&["*"]);
        let req = preflight("/mcp", "https://x.example").with_header(
            "Access-Control-Request-Headers",
            "mcp-method, mcp-name, mcp-param-region, x-evil\r\n, mcp-param-",
        );
        let r = answer(&policy, PathKind::Mcp, &req).expect("preflight");
        let allowed = r.header("access-control-allow-headers").expect("allowed");
        for h in [
            "Authorization",
            "Content-Type",
            "Accept",
            "Mcp-Session-Id",
            "Mcp-Protocol-Version",
            "Last-Event-ID",
            "Mcp-Method",
            "Mcp-Name",
            "mcp-param-region",
        ] {
            assert!(allowed.contains(h), "{h} missing from {allowed}");
        }
        assert!(!allowed.contains("evil"), "{allowed}");
        assert!(!allowed.ends_with("mcp-param-"), "{allowed}");
    }

    #[test]
    fn several_origins_are_denied() {
        let policy = CorsPolicy::new(&["*"]);
        let req = preflight("/mcp", "https://a.example").with_header("Origin", "https://b.example");
        assert_eq!(policy.verdict(PathKind::Mcp, &req), Verdict::Deny);
    }
}
