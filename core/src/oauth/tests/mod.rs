//! Scenario tests of the authorization server: a harness with a virtual
//! clock, a seeded RNG, the bounded memory store, and a scripted client.

extern crate std;

use alloc::format;
use alloc::string::{String, ToString};
use alloc::vec::Vec;
use core::future::Future;
use core::pin::pin;
use core::task::{Context, Poll, Waker};
use std::sync::OnceLock;

use serde_json::Value;

use super::pkce::s256_challenge;
use super::*;
use crate::http::{Method, Request, Response};
use crate::jose::{KeySet, SigningKey};
use crate::rand::InsecureSeededRandom;
use crate::store::{MemoryStore, MemoryStoreLimits};

mod authorize;
mod cimd;
mod discovery;
mod introspect;
mod register;
mod resources;
mod token;

pub(super) const ISSUER: &str = "https://auth.example";
pub(super) const RESOURCE: &str = "https://auth.example/mcp";
pub(super) const REDIRECT: &str = "https://client.example/cb";
pub(super) const VERIFIER: &str = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
pub(super) const T0: u64 = 1_800_000_000;

/// A second resource, served elsewhere, with the scope `mcp`.
pub(super) fn other_resource() -> ProtectedResource {
    ProtectedResource::new("https://other.example/mcp", ResourceKind::External).expect("URL")
}

/// Everything here resolves immediately; poll until ready.
pub(super) fn block_on<F: Future>(f: F) -> F::Output {
    let mut f = pin!(f);
    let mut cx = Context::from_waker(Waker::noop());
    for _ in 0..1000 {
        if let Poll::Ready(v) = f.as_mut().poll(&mut cx) {
            return v;
        }
    }
    panic!("future never completed");
}

/// The RSA key, generated once per test binary.
fn signing_key() -> &'static SigningKey {
    static KEY: OnceLock<SigningKey> = OnceLock::new();
    KEY.get_or_init(|| {
        SigningKey::generate(&mut InsecureSeededRandom::new(0x0A17), 2048).expect("keygen")
    })
}

/// alice / correct horse → `user-alice`.
#[derive(Debug)]
pub(super) struct TestUsers;

impl UserAuthenticator for TestUsers {
    fn authenticate(
        &self,
        username: &str,
        password: &str,
    ) -> impl Future<Output = Option<String>> + Send {
        let ok = username == "alice" && password == "correct horse";
        core::future::ready(ok.then(|| "user-alice".to_string()))
    }

    /// The key of `PrivyTestIssuer::from_seed(7)` (see `oauth::privy`).
    fn privy_verification_key(
        &self,
    ) -> impl Future<Output = Option<crate::oauth::PrivyKey>> + Send {
        let pem = crate::oauth::privy::PrivyTestIssuer::from_seed(7).public_pem();
        core::future::ready(crate::oauth::PrivyKey::from_pem(&pem).ok())
    }
}

pub(super) type Server = AuthorizationServer<
    MemoryStore,
    TestUsers,
    fn(Option<core::net::IpAddr>, Option<crate::time::UnixTime>) -> bool,
>;

fn allow_all(_: Option<core::net::IpAddr>, _: Option<crate::time::UnixTime>) -> bool {
    true
}

/// The authorization server plus its environment and a clock.
pub(super) struct Harness {
    pub server: Server,
    pub keys: KeySet,
    pub rng: InsecureSeededRandom,
    pub now: Option<u64>,
}

/// A sign-in form as the browser holds it.
#[derive(Debug, Clone)]
pub(super) struct Flow {
    pub request_id: String,
    pub csrf: String,
    pub cookie: String,
}

/// A client as registered.
#[derive(Debug, Clone)]
pub(super) struct Client {
    pub id: String,
    pub secret: Option<String>,
}

impl Harness {
    pub fn new() -> Harness {
        Harness::with(|_| {}, MemoryStoreLimits::SERVER)
    }

    pub fn with(tweak: impl FnOnce(&mut ServerConfig), limits: MemoryStoreLimits) -> Harness {
        let mut config = ServerConfig::new(ISSUER);
        config.resources[0].scopes = ["mcp", "read", "write"].map(String::from).to_vec();
        tweak(&mut config);
        let server = AuthorizationServer::new(config, MemoryStore::new(limits), TestUsers)
            .with_registration_policy(allow_all as fn(_, _) -> bool);
        Harness {
            server,
            keys: KeySet::new(signing_key().clone()),
            rng: InsecureSeededRandom::new(42),
            now: Some(T0),
        }
    }

    pub fn advance(&mut self, secs: u64) {
        self.now = self.now.map(|t| t + secs);
    }

    pub fn try_send(&mut self, req: Request) -> Option<Response> {
        let mut env = Env {
            now: self.now.map(crate::time::UnixTime),
            rng: &mut self.rng,
            keys: &self.keys,
        };
        block_on(self.server.handle(&req, &mut env))
    }

    pub fn send(&mut self, req: Request) -> Response {
        self.try_send(req).expect("an OAuth path")
    }

    pub fn post_form(&mut self, path: &str, body: &str) -> Response {
        self.send(form_request(path, body))
    }

    pub fn register(&mut self, doc: Value) -> Response {
        self.send(
            Request::new(Method::Post, "/register")
                .with_header("Content-Type", "application/json")
                .with_body(doc.to_string()),
        )
    }

    pub fn register_client(&mut self, auth: &str) -> Client {
        let resp = self.register(serde_json::json!({
            "redirect_uris": [REDIRECT],
            "token_endpoint_auth_method": auth,
            "client_name": "Test <Client>",
            "scope": "mcp read write",
        }));
        assert_eq!(resp.status, 201, "{}", body_str(&resp));
        let v = json(&resp);
        Client {
            id: v["client_id"].as_str().expect("client_id").into(),
            secret: v["client_secret"].as_str().map(String::from),
        }
    }

    pub fn authorize(&mut self, query: &str) -> Response {
        self.send(Request::new(Method::Get, "/authorize").with_query(query))
    }

    /// The standard authorization request of `client`, plus `extra`.
    pub fn start(&mut self, client: &Client, extra: &str) -> Flow {
        let resp = self.authorize(&standard_query(client, extra));
        assert_eq!(resp.status, 200, "{}", body_str(&resp));
        flow_from(&resp)
    }

    pub fn decide(&mut self, flow: &Flow, fields: &str) -> Response {
        let body = format!("request_id={}&csrf={}&{fields}", flow.request_id, flow.csrf);
        self.send(form_request("/authorize", &body).with_header("Cookie", flow.cookie.clone()))
    }

    pub fn approve(&mut self, flow: &Flow) -> Response {
        self.decide(flow, "username=alice&password=correct+horse&decision=allow")
    }

    /// Run the browser part and return the code.
    pub fn code(&mut self, client: &Client, extra: &str) -> String {
        let flow = self.start(client, extra);
        let resp = self.approve(&flow);
        assert_eq!(resp.status, 303, "{}", body_str(&resp));
        location_param(&resp, "code").expect("code")
    }

    pub fn exchange(&mut self, client: &Client, code: &str, extra: &str) -> Response {
        let mut body = format!(
            "grant_type=authorization_code&code={code}&code_verifier={VERIFIER}\
             &redirect_uri={}{extra}",
            enc(REDIRECT)
        );
        body.push_str(&client_form(client));
        self.post_form("/token", &body)
    }

    pub fn refresh(&mut self, client: &Client, token: &str, extra: &str) -> Response {
        let body = format!(
            "grant_type=refresh_token&refresh_token={}{extra}{}",
            enc(token),
            client_form(client)
        );
        self.post_form("/token", &body)
    }

    /// The whole flow: access and refresh token.
    pub fn tokens(&mut self, client: &Client) -> (String, String) {
        let code = self.code(client, "");
        let resp = self.exchange(client, &code, "");
        assert_eq!(resp.status, 200, "{}", body_str(&resp));
        let v = json(&resp);
        (
            v["access_token"].as_str().expect("access").into(),
            v["refresh_token"].as_str().expect("refresh").into(),
        )
    }
}

pub(super) fn client_form(client: &Client) -> String {
    let mut s = format!("&client_id={}", client.id);
    if let Some(secret) = &client.secret {
        s.push_str(&format!("&client_secret={}", enc(secret)));
    }
    s
}

pub(super) fn standard_query(client: &Client, extra: &str) -> String {
    let scope = if extra.contains("&scope=") {
        ""
    } else {
        "&scope=mcp"
    };
    format!(
        "response_type=code&client_id={}&redirect_uri={}&code_challenge={}\
         &code_challenge_method=S256&state=xyz{scope}{extra}",
        client.id,
        enc(REDIRECT),
        s256_challenge(VERIFIER)
    )
}

pub(super) fn form_request(path: &str, body: &str) -> Request {
    Request::new(Method::Post, path)
        .with_header("Content-Type", "application/x-www-form-urlencoded")
        .with_body(body.as_bytes().to_vec())
}

pub(super) fn enc(s: &str) -> String {
    form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

pub(super) fn body_str(resp: &Response) -> &str {
    core::str::from_utf8(&resp.body).unwrap_or("<binary>")
}

pub(super) fn json(resp: &Response) -> Value {
    serde_json::from_slice(&resp.body).expect("JSON body")
}

/// Extract `name="<field>" value="…"` from the page.
pub(super) fn field(page: &str, name: &str) -> Option<String> {
    let marker = format!("name=\"{name}\" value=\"");
    let start = page.find(&marker)? + marker.len();
    let end = page[start..].find('"')? + start;
    Some(page[start..end].to_string())
}

pub(super) fn flow_from(resp: &Response) -> Flow {
    let page = body_str(resp);
    let set = resp.header("Set-Cookie").expect("csrf cookie");
    Flow {
        request_id: field(page, "request_id").expect("request_id"),
        csrf: field(page, "csrf").expect("csrf"),
        cookie: set.split(';').next().unwrap_or_default().to_string(),
    }
}

/// Query parameters of the `Location` of a redirect.
pub(super) fn location_params(resp: &Response) -> Vec<(String, String)> {
    let loc = resp.header("Location").expect("Location");
    let query = loc.split_once('?').map(|(_, q)| q).unwrap_or("");
    form_urlencoded::parse(query.as_bytes())
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect()
}

pub(super) fn location_param(resp: &Response, name: &str) -> Option<String> {
    location_params(resp)
        .into_iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v)
}

/// Assert an RFC 6749 §5.2 style JSON error.
pub(super) fn assert_error(resp: &Response, status: u16, code: &str) {
    assert_eq!(resp.status, status, "{}", body_str(resp));
    assert_eq!(json(resp)["error"], code, "{}", body_str(resp));
    assert_eq!(resp.header("Cache-Control"), Some("no-store"));
}

/// Issue 14 finding 4, RFC 9700 §4.11.2 (authorization server as open
/// redirector): a client registered by anyone gets no automatic redirect
/// on a bad request. The error is a page; its link back to the
/// application (with `error`, `state`, `iss`) is the user's decision.
pub(super) fn assert_error_page_with_return_link(resp: &Response, status: u16, code: &str) {
    assert_eq!(resp.status, status, "{}", body_str(resp));
    assert!(
        resp.header("Location").is_none(),
        "never an automatic redirect"
    );
    assert_eq!(resp.header("X-Frame-Options"), Some("DENY"));
    let page = body_str(resp);
    let href = field_attr(page, "href").expect("a link back to the application");
    let href = href.replace("&amp;", "&");
    assert!(href.starts_with(REDIRECT), "{href}");
    let query = href.split_once('?').map(|(_, q)| q).unwrap_or("");
    let params: Vec<(String, String)> = form_urlencoded::parse(query.as_bytes())
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect();
    let get = |name: &str| {
        params
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    };
    assert_eq!(get("error"), Some(code));
    assert_eq!(get("state"), Some("xyz"));
    assert_eq!(get("iss"), Some(ISSUER));
    assert!(get("code").is_none());
    assert!(
        page.contains("client.example"),
        "the page names where the link goes"
    );
}

/// The value of the first `name="…"` attribute in `page`.
fn field_attr(page: &str, name: &str) -> Option<String> {
    let marker = format!("{name}=\"");
    let start = page.find(&marker)? + marker.len();
    let end = page[start..].find('"')? + start;
    Some(page[start..end].to_string())
}

/// Assert a redirect carrying `error`, `state` and `iss`.
pub(super) fn assert_redirect_error(resp: &Response, code: &str) {
    assert_eq!(resp.status, 303, "{}", body_str(resp));
    assert!(
        resp.header("Location")
            .is_some_and(|l| l.starts_with(REDIRECT)),
        "redirects to the client"
    );
    assert_eq!(location_param(resp, "error").as_deref(), Some(code));
    assert_eq!(location_param(resp, "state").as_deref(), Some("xyz"));
    assert_eq!(location_param(resp, "iss").as_deref(), Some(ISSUER));
}

#[test]
fn non_oauth_paths_are_passed_on() {
    let mut h = Harness::new();
    assert!(h.try_send(Request::new(Method::Post, "/mcp")).is_none());
    assert!(h.try_send(Request::new(Method::Get, "/healthz")).is_none());
    assert!(
        h.try_send(Request::new(
            Method::Get,
            "/.well-known/oauth-protected-resource/other"
        ))
        .is_none()
    );
}

/// Hosts run `handle` and the guard on a multi-threaded executor: their
/// futures must be `Send`.
#[test]
fn futures_are_send() {
    fn assert_send<T: Send>(_: &T) {}
    let mut h = Harness::new();
    let req = Request::new(Method::Get, "/authorize");
    let mut env = Env {
        now: Some(crate::time::UnixTime(T0)),
        rng: &mut h.rng,
        keys: &h.keys,
    };
    let fut = h.server.handle(&req, &mut env);
    assert_send(&fut);
    drop(fut);
    let guard = h.server.resource_guard(RESOURCE, &["mcp"]).expect("guard");
    let fut = authenticate_bearer(&req, &h.keys, &guard, None, h.server.store());
    assert_send(&fut);
}

/// Garbage in every position never panics and never produces a 2xx from a
/// state-changing endpoint without credentials.
#[test]
fn random_requests_never_panic() {
    use crate::rand::SecureRandom;
    let mut h = Harness::new();
    let client = h.register_client("client_secret_basic");
    let mut noise = InsecureSeededRandom::new(7);
    let pieces = [
        "client_id=",
        "&",
        "=",
        "%",
        "%zz",
        "%C3%28",
        "code=",
        "grant_type=authorization_code",
        "grant_type=refresh_token",
        "refresh_token=",
        ".",
        "..",
        "redirect_uri=",
        "https://",
        "resource=",
        "scope=",
        "+",
        "code_verifier=",
        "token=",
        "a.b.c",
        "request_id=",
        "csrf=",
        "decision=allow",
        "decision=deny",
        "\u{0}",
        "é",
        "[",
        "]",
        "\"",
        "{",
        "}",
        ":",
        "[::1]",
        client.id.as_str(),
        "response_type=code",
        "code_challenge_method=S256",
    ];
    let paths = [
        "/authorize",
        "/token",
        "/register",
        "/introspect",
        "/revoke",
        "/.well-known/oauth-protected-resource",
        "/.well-known/oauth-authorization-server/mcp",
    ];
    for _ in 0..3000 {
        let mut b = [0u8; 16];
        noise.fill(&mut b).expect("rng");
        let mut s = String::new();
        for x in &b[2..] {
            s.push_str(pieces[usize::from(*x) % pieces.len()]);
        }
        let path = paths[usize::from(b[0]) % paths.len()];
        let method = if b[1] % 3 == 0 {
            Method::Get
        } else {
            Method::Post
        };
        let mut req = Request::new(method, path)
            .with_query(s.clone())
            .with_body(s.clone());
        if b[1] % 5 == 0 {
            req = req.with_header("Authorization", format!("Basic {s}"));
        }
        if b[1] % 7 == 0 {
            req = req.with_header("Cookie", s.clone());
        }
        let resp = h.send(req);
        if matches!(path, "/token" | "/introspect" | "/revoke") {
            assert!(resp.status >= 400, "{path} {s} -> {}", resp.status);
        }
    }
}
