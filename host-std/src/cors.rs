//! CORS for the endpoints browser-based clients (MCP Inspector, web apps)
//! call directly: discovery, JWKS, registration, token, revocation and MCP.
//!
//! None of these endpoints use cookies, so no credentials are ever allowed
//! (`Access-Control-Allow-Credentials` is never sent). The interactive
//! `/authorize` pages are never CORS-enabled: they are top-level navigations.

use mcpauth_core::http::{Method, Request, Response};

/// The CORS policy.
#[derive(Debug, Clone)]
pub struct Cors {
    /// Allowed origins (`scheme://host[:port]`); `*` allows any origin.
    allowed: Vec<String>,
    any: bool,
}

const ALLOW_METHODS: &str = "GET, POST, DELETE, OPTIONS";
const ALLOW_HEADERS: &str =
    "Authorization, Content-Type, Accept, Mcp-Session-Id, Mcp-Protocol-Version, Last-Event-ID";
const EXPOSE_HEADERS: &str = "Mcp-Session-Id, Mcp-Protocol-Version, WWW-Authenticate";

impl Cors {
    /// A policy allowing `origins` (`*` allows any).
    pub fn new(origins: &[String]) -> Cors {
        let any = origins.iter().any(|o| o == "*");
        let allowed = origins
            .iter()
            .filter(|o| *o != "*")
            .map(|o| o.trim_end_matches('/').to_ascii_lowercase())
            .collect();
        Cors { allowed, any }
    }

    /// Whether `path` is CORS-enabled.
    pub fn applies_to(path: &str) -> bool {
        path.starts_with("/.well-known/")
            || matches!(
                path,
                "/jwks.json" | "/register" | "/token" | "/revoke" | "/introspect"
            )
            || path == "/mcp"
            || path.starts_with("/mcp/")
    }

    fn allows(&self, origin: &str) -> bool {
        self.any
            || self
                .allowed
                .iter()
                .any(|o| o.eq_ignore_ascii_case(origin.trim_end_matches('/')))
    }

    /// The `Access-Control-Allow-Origin` value for `origin` on `path`, if any.
    fn allow_origin(&self, path: &str, origin: &str) -> Option<String> {
        if !Cors::applies_to(path) {
            return None;
        }
        // Public metadata is readable from anywhere.
        let public = path.starts_with("/.well-known/") || path == "/jwks.json";
        if public || self.any {
            Some("*".to_owned())
        } else if self.allows(origin) {
            Some(origin.to_owned())
        } else {
            None
        }
    }

    /// Answer a CORS preflight (`OPTIONS` with `Origin` and
    /// `Access-Control-Request-Method`) for a CORS-enabled path.
    pub fn preflight(&self, req: &Request) -> Option<Response> {
        if req.method != Method::Options || !Cors::applies_to(&req.path) {
            return None;
        }
        let origin = req.header("origin")?;
        req.header("access-control-request-method")?;
        let mut resp = Response::empty(204).with_header("Vary", "Origin");
        if let Some(allow) = self.allow_origin(&req.path, origin) {
            resp = resp
                .with_header("Access-Control-Allow-Origin", allow)
                .with_header("Access-Control-Allow-Methods", ALLOW_METHODS)
                .with_header("Access-Control-Allow-Headers", ALLOW_HEADERS)
                .with_header("Access-Control-Max-Age", "600");
        }
        Some(resp)
    }

    /// Add CORS headers to an actual response (unless the core set them).
    pub fn decorate(&self, path: &str, origin: Option<&str>, mut resp: Response) -> Response {
        let Some(origin) = origin else { return resp };
        if resp.header("access-control-allow-origin").is_some() {
            return resp;
        }
        if let Some(allow) = self.allow_origin(path, origin) {
            resp.headers
                .push(("Access-Control-Allow-Origin".into(), allow));
            resp.headers.push((
                "Access-Control-Expose-Headers".into(),
                EXPOSE_HEADERS.into(),
            ));
            resp.headers.push(("Vary".into(), "Origin".into()));
        }
        resp
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn preflight(path: &str, origin: &str) -> Request {
        Request::new(Method::Options, path)
            .with_header("Origin", origin)
            .with_header("Access-Control-Request-Method", "POST")
    }

    #[test]
    fn public_metadata_is_open_to_any_origin() {
        let cors = Cors::new(&[]);
        let r = cors
            .preflight(&preflight(
                "/.well-known/oauth-authorization-server",
                "https://x.example",
            ))
            .expect("preflight");
        assert_eq!(r.header("access-control-allow-origin"), Some("*"));
    }

    #[test]
    fn mcp_only_for_listed_origins() {
        let cors = Cors::new(&["http://localhost:6274".to_owned()]);
        let ok = cors
            .preflight(&preflight("/mcp", "http://localhost:6274"))
            .expect("preflight");
        assert_eq!(
            ok.header("access-control-allow-origin"),
            Some("http://localhost:6274")
        );
        let no = cors
            .preflight(&preflight("/mcp", "https://evil.example"))
            .expect("preflight");
        assert_eq!(no.header("access-control-allow-origin"), None);
    }

    #[test]
    fn authorize_is_never_cors() {
        let cors = Cors::new(&["*".to_owned()]);
        assert!(
            cors.preflight(&preflight("/authorize", "https://x.example"))
                .is_none()
        );
        let r = cors.decorate(
            "/authorize",
            Some("https://x.example"),
            Response::empty(200),
        );
        assert_eq!(r.header("access-control-allow-origin"), None);
    }
}
