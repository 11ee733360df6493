//! The router end to end without sockets: an all-in-one server (issuer +
//! MCP) and a fleet member trusting a remote issuer's keys.

extern crate std;

use alloc::boxed::Box;
use alloc::string::{String, ToString};
use alloc::vec;
use core::future::Future;
use core::pin::pin;
use core::task::{Context, Poll, Waker};

use serde_json::{Value, json};

use super::*;
use crate::jose::testing::rfc7515_a2_key;
use crate::jose::{AccessTokenClaims, Audience, SigningKey};
use crate::mcp::{CallToolResult, McpConfig, NoSessionStore, Registry, Tool};
use crate::oauth::ServerConfig;
use crate::rand::InsecureSeededRandom;
use crate::store::{MemoryStore, MemoryStoreLimits, RevocationStore};

const ISSUER: &str = "https://auth.example";
const RESOURCE: &str = "https://auth.example/mcp";
const T0: u64 = 1_800_000_000;

fn block_on<F: Future>(f: F) -> F::Output {
    let mut f = pin!(f);
    let mut cx = Context::from_waker(Waker::noop());
    for _ in 0..1000 {
        if let Poll::Ready(v) = f.as_mut().poll(&mut cx) {
            return v;
        }
    }
    panic!("future never completed");
}

struct NoUsers;

impl UserAuthenticator for NoUsers {
    fn authenticate(
        &self,
        _username: &str,
        _password: &str,
    ) -> impl Future<Output = Option<String>> + Send {
        core::future::ready(None)
    }
}

fn registry() -> Registry {
    let mut r = Registry::new();
    r.tool(
        Tool::new("whoami", json!({"type": "object"})),
        |ctx, _args| {
            Box::pin(async move {
                let who = ctx.principal.as_ref().map(|p| p.subject.clone());
                Ok(CallToolResult::text(
                    who.unwrap_or_else(|| "anonymous".into()),
                ))
            })
        },
    )
    .expect("whoami");
    r.tool(
        Tool::new("admin", json!({"type": "object"})).with_required_scopes(&["admin"]),
        |_ctx, _args| Box::pin(async move { Ok(CallToolResult::text("ok")) }),
    )
    .expect("admin");
    r
}

fn mcp(resource_path: &str) -> McpServer {
    let mut config = McpConfig::new("mcpauth-test", "0.0.0");
    config.endpoint_path = resource_path.into();
    config.stateless = true;
    McpServer::new(config, registry(), Box::new(NoSessionStore))
}

type Auth = AuthorizationServer<MemoryStore, NoUsers>;

struct AllInOne {
    router: Router<Auth, KeySet>,
    rng: InsecureSeededRandom,
    now: Option<UnixTime>,
}

fn all_in_one_router(origins: &[&str]) -> Router<Auth, KeySet> {
    let mut config = ServerConfig::new(ISSUER);
    config.resources[0].scopes = vec!["mcp".into(), "admin".into()];
    let guard = ResourceGuard::new(&config, RESOURCE, &["mcp"]);
    let auth =
        AuthorizationServer::new(config, MemoryStore::new(MemoryStoreLimits::SERVER), NoUsers);
    Router::new(auth, KeySet::new(rfc7515_a2_key()))
        .with_cors(CorsPolicy::new(origins))
        .mount(mcp("/mcp"), Protection::Bearer(guard))
}

impl AllInOne {
    fn new() -> AllInOne {
        AllInOne::with_origins(&[])
    }

    fn with_origins(origins: &[&str]) -> AllInOne {
        AllInOne {
            router: all_in_one_router(origins),
            rng: InsecureSeededRandom::new(7),
            now: Some(UnixTime(T0)),
        }
    }

    fn send(&mut self, req: Request) -> Response {
        block_on(self.router.handle_buffered(req, self.now, &mut self.rng))
    }

    fn token(&mut self, scope: &str) -> String {
        let claims = claims(scope, RESOURCE);
        self.router
            .keys()
            .issue_access_token(&claims, &mut self.rng)
            .expect("sign")
    }
}

fn claims(scope: &str, audience: &str) -> AccessTokenClaims {
    AccessTokenClaims {
        iss: ISSUER.into(),
        sub: "user-alice".into(),
        aud: Audience::One(audience.into()),
        client_id: "client-1".into(),
        scope: scope.into(),
        iat: T0,
        exp: T0 + 300,
        jti: String::new(),
        extra: Default::default(),
    }
}

fn mcp_post(body: Value, token: Option<&str>) -> Request {
    let method = body["method"].as_str().unwrap_or_default().to_string();
    let mut req = Request::new(Method::Post, "/mcp")
        .with_header("Content-Type", "application/json")
        .with_header("Accept", "application/json, text/event-stream")
        .with_header("MCP-Protocol-Version", "2026-07-28")
        .with_header("Mcp-Method", method)
        .with_body(body.to_string());
    if let Some(name) = body["params"]["name"].as_str() {
        req = req.with_header("Mcp-Name", name);
    }
    if let Some(token) = token {
        req = req.with_header("Authorization", alloc::format!("Bearer {token}"));
    }
    req
}

fn call(tool: &str) -> Value {
    json!({
        "jsonrpc": "2.0", "id": 1, "method": "tools/call",
        "params": {
            "name": tool, "arguments": {},
            "_meta": {
                "io.modelcontextprotocol/protocolVersion": "2026-07-28",
                "io.modelcontextprotocol/clientCapabilities": {}
            }
        }
    })
}

fn body_json(resp: &Response) -> Value {
    serde_json::from_slice(&resp.body).expect("json body")
}

#[test]
fn health_and_unknown_paths() {
    let mut s = AllInOne::new();
    let ok = s.send(Request::new(Method::Get, "/healthz"));
    assert_eq!(ok.status, 200);
    assert_eq!(body_json(&ok)["status"], "ok");
    assert_eq!(s.send(Request::new(Method::Post, "/healthz")).status, 405);
    let missing = s.send(Request::new(Method::Get, "/nope"));
    assert_eq!(missing.status, 404);
    assert_eq!(body_json(&missing)["error"], "not_found");
}

#[test]
fn oauth_paths_reach_the_authorization_server() {
    let mut s = AllInOne::new();
    let meta = s.send(Request::new(
        Method::Get,
        "/.well-known/oauth-authorization-server",
    ));
    assert_eq!(meta.status, 200);
    assert_eq!(body_json(&meta)["issuer"], ISSUER);
    let pr = s.send(Request::new(
        Method::Get,
        "/.well-known/oauth-protected-resource/mcp",
    ));
    assert_eq!(body_json(&pr)["resource"], RESOURCE);
}

#[test]
fn mcp_without_a_token_is_challenged() {
    let mut s = AllInOne::new();
    let resp = s.send(mcp_post(call("whoami"), None));
    assert_eq!(resp.status, 401);
    let challenge = resp.header("WWW-Authenticate").expect("challenge");
    assert!(challenge.starts_with("Bearer "));
    assert!(challenge.contains(
        "resource_metadata=\"https://auth.example/.well-known/oauth-protected-resource/mcp\""
    ));
}

#[test]
fn mcp_with_a_valid_token_reaches_the_tool_as_the_principal() {
    let mut s = AllInOne::new();
    let token = s.token("mcp");
    let resp = s.send(mcp_post(call("whoami"), Some(&token)));
    assert_eq!(resp.status, 200, "{}", String::from_utf8_lossy(&resp.body));
    let body = body_json(&resp);
    assert_eq!(body["result"]["content"][0]["text"], "user-alice");
}

#[test]
fn a_repeated_authorization_header_never_reaches_the_tool() {
    let mut s = AllInOne::new();
    let token = s.token("mcp");
    let twice = mcp_post(call("whoami"), Some(&token))
        .with_header("authorization", alloc::format!("Bearer {token}"));
    let resp = s.send(twice);
    assert_eq!(resp.status, 400, "{}", String::from_utf8_lossy(&resp.body));
    assert!(
        resp.header("WWW-Authenticate")
            .unwrap_or("")
            .contains("invalid_request")
    );
}

#[test]
fn a_token_revoked_at_the_issuer_is_refused_at_once() {
    let mut s = AllInOne::new();
    let token = s.token("mcp");
    assert_eq!(s.send(mcp_post(call("whoami"), Some(&token))).status, 200);
    let policy = crate::jose::ValidationPolicy::new(ISSUER, RESOURCE);
    let claims = s
        .router
        .keys()
        .verify_access_token(&token, &policy, s.now)
        .expect("valid");
    let now = s.now.expect("time");
    let store = s.router.issuer().store();
    block_on(store.revoke_jti(&claims.jti, claims.exp, now)).expect("revoke");
    let resp = s.send(mcp_post(call("whoami"), Some(&token)));
    assert_eq!(resp.status, 401);
    assert!(
        resp.header("WWW-Authenticate")
            .unwrap_or("")
            .contains("invalid_token")
    );
}

#[test]
fn a_token_for_another_resource_is_refused() {
    let mut s = AllInOne::new();
    let claims = claims("mcp", "https://other.example/mcp");
    let token = s
        .router
        .keys()
        .issue_access_token(&claims, &mut s.rng)
        .expect("sign");
    let resp = s.send(mcp_post(call("whoami"), Some(&token)));
    assert_eq!(resp.status, 401);
    assert!(
        resp.header("WWW-Authenticate")
            .unwrap_or("")
            .contains("invalid_token")
    );
}

#[test]
fn a_tool_needing_more_scope_gets_a_step_up_challenge() {
    let mut s = AllInOne::new();
    let token = s.token("mcp");
    let resp = s.send(mcp_post(call("admin"), Some(&token)));
    assert_eq!(resp.status, 403);
    let challenge = resp.header("WWW-Authenticate").expect("challenge");
    assert!(challenge.contains("error=\"insufficient_scope\""));
    assert!(challenge.contains("scope=\"mcp admin\""), "{challenge}");
    let token = s.token("mcp admin");
    assert_eq!(s.send(mcp_post(call("admin"), Some(&token))).status, 200);
}

#[test]
fn unknown_time_fails_closed_with_503() {
    let mut s = AllInOne::new();
    let token = s.token("mcp");
    s.now = None;
    let resp = s.send(mcp_post(call("whoami"), Some(&token)));
    assert_eq!(resp.status, 503);
    assert!(resp.header("Retry-After").is_some());
}

type Fleet = Router<NoIssuer, KeySet>;

fn fleet(keys: KeySet) -> Fleet {
    let device = "http://device.local/mcp";
    let guard = ResourceGuard::remote(
        ISSUER,
        device,
        "http://device.local/.well-known/oauth-protected-resource/mcp".into(),
        &["mcp"],
    );
    Router::new(NoIssuer, keys).mount_for_remote_issuer(mcp("/mcp"), guard, ISSUER)
}

fn send_fleet(rs: &Fleet, req: Request) -> Response {
    let mut rng = InsecureSeededRandom::new(3);
    block_on(rs.handle_buffered(req, Some(UnixTime(T0)), &mut rng))
}

#[test]
fn a_fleet_member_points_clients_at_the_remote_issuer() {
    let keys = KeySet::from_verifying_keys(vec![rfc7515_a2_key().verifying_key().clone()])
        .expect("verify-only keys");
    let rs = fleet(keys);
    for path in [
        "/.well-known/oauth-protected-resource",
        "/.well-known/oauth-protected-resource/mcp",
    ] {
        let resp = send_fleet(&rs, Request::new(Method::Get, path));
        assert_eq!(resp.status, 200);
        let doc = body_json(&resp);
        assert_eq!(doc["resource"], "http://device.local/mcp");
        assert_eq!(doc["authorization_servers"][0], ISSUER);
        assert_eq!(doc["bearer_methods_supported"][0], "header");
    }
    assert_eq!(
        send_fleet(&rs, Request::new(Method::Get, "/other")).status,
        404
    );
}

#[test]
fn a_fleet_member_verifies_the_issuers_tokens_offline() {
    let issuer_keys = KeySet::new(rfc7515_a2_key());
    let device_keys = KeySet::from_jwks_json(&issuer_keys.to_jwks_json()).expect("jwks");
    let rs = fleet(device_keys);
    let mut rng = InsecureSeededRandom::new(9);
    let good = issuer_keys
        .issue_access_token(&claims("mcp", "http://device.local/mcp"), &mut rng)
        .expect("sign");
    let resp = send_fleet(&rs, mcp_post(call("whoami"), Some(&good)));
    assert_eq!(resp.status, 200);
    // Same claims, signed by a key the device does not trust.
    let stranger = KeySet::new(
        SigningKey::generate(&mut InsecureSeededRandom::new(11), 2048).expect("keygen"),
    );
    let forged = stranger
        .issue_access_token(&claims("mcp", "http://device.local/mcp"), &mut rng)
        .expect("sign");
    let resp = send_fleet(&rs, mcp_post(call("whoami"), Some(&forged)));
    assert_eq!(resp.status, 401);
}

#[test]
fn an_open_server_needs_no_token_but_still_cannot_step_up() {
    let rs = Router::dangerously_open(mcp("/mcp"));
    let resp = send_fleet(&rs, mcp_post(call("whoami"), None));
    assert_eq!(resp.status, 200);
    assert_eq!(
        body_json(&resp)["result"]["content"][0]["text"],
        "anonymous"
    );
    assert_eq!(send_fleet(&rs, mcp_post(call("admin"), None)).status, 403);
}

#[test]
fn metadata_urls_follow_rfc_9728_section_3_1() {
    assert_eq!(
        protected_resource_metadata_url("http://10.0.0.2:8080/mcp"),
        "http://10.0.0.2:8080/.well-known/oauth-protected-resource/mcp"
    );
    assert_eq!(
        protected_resource_metadata_url("https://dev.example/mcp/"),
        "https://dev.example/.well-known/oauth-protected-resource/mcp"
    );
    assert_eq!(
        protected_resource_metadata_url("https://dev.example"),
        "https://dev.example/.well-known/oauth-protected-resource"
    );
    assert_eq!(resource_path("https://dev.example/a/b?x=1"), "/a/b");
}

/// Hosts await the router on multi-threaded executors: its future must be
/// `Send`, whatever the store and RNG types are (as long as they are).
#[test]
fn the_router_future_is_send() {
    fn assert_send<T: Send>(_: &T) {}
    let mut s = AllInOne::new();
    let req = Request::new(Method::Get, "/healthz");
    let fut = s.router.handle(req, s.now, &mut s.rng);
    assert_send(&fut);
    assert_eq!(block_on(block_on(fut).buffered()).status, 200);
}

/// The shared vectors (`tests/vectors/http.json`), in process: both shapes,
/// both CORS configurations. The host tests run the same file over HTTP
/// (`tests/tests/vectors.rs`) and TCP (`host-embassy/tap/tests/tap.rs`).
#[test]
fn shared_http_vectors() {
    use super::vectors::{Origins, Report, Target, VectorResponse, cases_for, mint_tokens};
    let issuer_key = rfc7515_a2_key();
    let stranger = SigningKey::generate(&mut InsecureSeededRandom::new(11), 2048).expect("keygen");
    let mut failures = Vec::new();
    for (origins, clock_known) in [
        (Origins::Listed, true),
        (Origins::Any, true),
        (Origins::Listed, false),
    ] {
        for shape in ["all-in-one", "fleet"] {
            let (resource, router_all, router_fleet) = match shape {
                "all-in-one" => (RESOURCE, Some(all_in_one_router(origins.list())), None),
                _ => {
                    let keys =
                        KeySet::from_jwks_json(&KeySet::new(issuer_key.clone()).to_jwks_json())
                            .expect("jwks");
                    let router = fleet(keys).with_cors(CorsPolicy::new(origins.list()));
                    ("http://device.local/mcp", None, Some(router))
                }
            };
            let mut rng = InsecureSeededRandom::new(5);
            let target = Target {
                host: "core",
                shape,
                origins,
                clock_known,
                issuer: ISSUER.into(),
                resource: resource.into(),
                tokens: mint_tokens(
                    &KeySet::new(issuer_key.clone()),
                    &stranger,
                    ISSUER,
                    resource,
                    T0,
                    &mut rng,
                ),
            };
            let mut report = Report::default();
            for case in cases_for(&target, &mut report) {
                let req = case.request(&target).to_core();
                let head = req.method == Method::Head;
                let now = clock_known.then_some(UnixTime(T0));
                let mut resp = match (&router_all, &router_fleet) {
                    (Some(r), _) => block_on(r.handle_buffered(req, now, &mut rng)),
                    (_, Some(r)) => block_on(r.handle_buffered(req, now, &mut rng)),
                    _ => unreachable!(),
                };
                // The transport sends no body with a HEAD answer.
                if head {
                    resp.body.clear();
                }
                let seen = VectorResponse {
                    status: resp.status,
                    headers: resp
                        .headers
                        .iter()
                        .map(|(n, v)| (n.to_string(), v.to_string()))
                        .collect(),
                    body: resp.body,
                };
                report.record(case.check(&target, &seen));
            }
            std::println!("{}", report.summary(&target));
            failures.extend(report.failures);
        }
    }
    assert!(
        failures.is_empty(),
        "{} failures (see above)",
        failures.len()
    );
}

/// Every answer leaves the router as a `Routed` and is moved through a few
/// async layers: up to 128 bytes the compiler moves it inline, above it
/// calls `memcpy` (the host-served request is boxed for this).
#[test]
fn a_routed_answer_is_moved_without_a_memcpy_call() {
    let size = core::mem::size_of::<Routed<'_, crate::sync::Arc<crate::principal::Principal>>>();
    assert!(size <= 128, "Routed is {size} bytes");
}
