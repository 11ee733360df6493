//! Heap cost of host-embassy, measured with a counting global allocator:
//! what the fleet resource server keeps after boot, and the peak extra heap
//! of one request (HTTP framing + bearer verification with a 2048-bit RS256
//! key + MCP + response serialization), which must stay ≤ 48 KiB.
//!
//! `cargo test -p mcpauth-embassy-tap --test heap -- --nocapture` prints the
//! table recorded in BENCHMARKS.md. One test function, so no other test
//! thread allocates while it measures.
// The counting allocator is host-side test code: its atomics are std's
// (host-embassy/clippy.toml keeps them out of the library).
#![allow(
    unsafe_code,
    clippy::unwrap_used,
    clippy::disallowed_types,
    clippy::disallowed_methods
)]

extern crate alloc;

#[path = "../src/app.rs"]
#[allow(dead_code)]
mod app;

// The `wait` tool's timer needs the executor's timer-queue hooks at link
// time, even though this test never runs that tool.
use embassy_executor as _;
use std::alloc::{GlobalAlloc, Layout, System};
use std::future::Future;
use std::pin::pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::task::{Context, Poll, Waker};
use std::time::{SystemTime, UNIX_EPOCH};

use mcpauth_core::jose::{AccessTokenClaims, Audience, JwksRefreshSchedule, KeySet, SigningKey};
use mcpauth_core::rand::InsecureSeededRandom;
use mcpauth_core::store::MemoryStoreLimits;
use mcpauth_core::time::UnixTime;
use mcpauth_embassy::http::{parse_head, write_head};
use mcpauth_embassy::{
    BoardRng, DeviceEnv, DeviceLogin, FetchError, JwksFetcher, Provisioning, Service,
};
use serde_json::json;

/// Counts live bytes and their high-water mark. Reviewed reason for
/// `unsafe`: a global allocator can only be written with it; it forwards to
/// `System` unchanged.
struct Counting;

static LIVE: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // SAFETY: forwarded unchanged.
        let p = unsafe { System.alloc(layout) };
        if !p.is_null() {
            let now = LIVE.fetch_add(layout.size(), Ordering::SeqCst) + layout.size();
            PEAK.fetch_max(now, Ordering::SeqCst);
        }
        p
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: forwarded unchanged.
        unsafe { System.dealloc(ptr, layout) };
        LIVE.fetch_sub(layout.size(), Ordering::SeqCst);
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        // SAFETY: forwarded unchanged.
        let p = unsafe { System.realloc(ptr, layout, new_size) };
        if !p.is_null() {
            if new_size >= layout.size() {
                let now = LIVE.fetch_add(new_size - layout.size(), Ordering::SeqCst)
                    + (new_size - layout.size());
                PEAK.fetch_max(now, Ordering::SeqCst);
            } else {
                LIVE.fetch_sub(layout.size() - new_size, Ordering::SeqCst);
            }
        }
        p
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

fn block_on<F: Future>(fut: F) -> F::Output {
    let mut fut = pin!(fut);
    let mut cx = Context::from_waker(Waker::noop());
    loop {
        if let Poll::Ready(v) = fut.as_mut().poll(&mut cx) {
            return v;
        }
    }
}

const ISSUER: &str = "https://issuer.test";
const RESOURCE: &str = "http://10.42.0.2/mcp";

/// One request from raw bytes to serialized response bytes, as the
/// connection loop does it. Returns the response and the peak extra heap.
fn measure(
    service: &impl Service,
    raw: &[u8],
    now: UnixTime,
) -> (mcpauth_core::http::Response, usize) {
    static SEED: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(100);
    let rng = BoardRng::new(InsecureSeededRandom::new(
        SEED.fetch_add(1, Ordering::SeqCst),
    ));
    let before = LIVE.load(Ordering::SeqCst);
    PEAK.store(before, Ordering::SeqCst);
    let resp = {
        let head = parse_head(raw, 4096, 4096, None).unwrap().unwrap();
        let mut req = head.request;
        req.body = raw[head.len..].to_vec();
        let mut handle = rng.handle();
        let env = DeviceEnv {
            now: Some(now),
            rng: &mut handle,
        };
        let resp = block_on(service.handle(req, env));
        let mut out = Vec::with_capacity(256);
        write_head(&resp, true, &mut out);
        resp
    };
    let peak = PEAK.load(Ordering::SeqCst) - before;
    (resp, peak)
}

fn post(token: Option<&str>, session: Option<&str>, body: &serde_json::Value) -> Vec<u8> {
    let body = body.to_string();
    let mut raw = String::from("POST /mcp HTTP/1.1\r\nHost: 10.42.0.2\r\n");
    if let Some(t) = token {
        raw.push_str(&format!("Authorization: Bearer {t}\r\n"));
    }
    if let Some(s) = session {
        raw.push_str(&format!(
            "Mcp-Session-Id: {s}\r\nMCP-Protocol-Version: 2025-11-25\r\n"
        ));
    }
    raw.push_str(&format!(
        "Content-Type: application/json\r\nAccept: application/json, text/event-stream\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    ));
    raw.into_bytes()
}

#[test]
fn heap_per_request() {
    let mut rng = InsecureSeededRandom::new(11);
    let issuer = KeySet::new(SigningKey::generate(&mut rng, 2048).unwrap());
    let now = UnixTime(
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_secs(),
    );
    let claims = AccessTokenClaims {
        iss: ISSUER.into(),
        sub: "alice".into(),
        aud: Audience::One(RESOURCE.into()),
        client_id: "client-1".into(),
        scope: "mcp".into(),
        iat: now.secs(),
        exp: now.secs() + 600,
        jti: String::new(),
        extra: Default::default(),
    };
    let token = issuer.issue_access_token(&claims, &mut rng).unwrap();
    let jwks = issuer.to_jwks_json();

    // What one provisioned 2048-bit JWKS key costs, resident.
    let before = LIVE.load(Ordering::SeqCst);
    let one_key = KeySet::from_jwks_json(&jwks).unwrap();
    let per_key = LIVE.load(Ordering::SeqCst) - before;
    drop(one_key);
    println!("host-embassy heap: one 2048-bit JWKS key in a KeySet: {per_key} B");

    let boot = LIVE.load(Ordering::SeqCst);
    let service = app::resource_server(Provisioning {
        issuer: ISSUER,
        resource: RESOURCE,
        jwks_json: &jwks,
        scopes: &["mcp"],
        clock_leeway_secs: mcpauth_core::jose::DEFAULT_LEEWAY_SECS,
    })
    .unwrap();
    let resident = LIVE.load(Ordering::SeqCst) - boot;

    let init = json!({"jsonrpc": "2.0", "id": 1, "method": "initialize",
        "params": {"protocolVersion": "2025-11-25", "capabilities": {}, "clientInfo": {"name": "c", "version": "1"}}});
    // A session for the calls below.
    let session = {
        let raw = post(Some(&token), None, &init);
        let head = parse_head(&raw, 4096, 4096, None).unwrap().unwrap();
        let mut req = head.request;
        req.body = raw[head.len..].to_vec();
        let brng = BoardRng::new(InsecureSeededRandom::new(5));
        let mut h = brng.handle();
        let resp = block_on(service.handle(
            req,
            DeviceEnv {
                now: Some(now),
                rng: &mut h,
            },
        ));
        resp.header("Mcp-Session-Id").unwrap().to_string()
    };

    let cases: Vec<(&str, Vec<u8>, u16)> = vec![
        (
            "GET protected-resource metadata",
            b"GET /.well-known/oauth-protected-resource/mcp HTTP/1.1\r\nHost: d\r\n\r\n".to_vec(),
            200,
        ),
        (
            "POST /mcp without token (401)",
            post(None, None, &init),
            401,
        ),
        (
            "POST /mcp tampered token (401)",
            post(Some(&format!("{token}x")), None, &init),
            401,
        ),
        (
            "initialize (RS256 verify + new session)",
            post(Some(&token), None, &init),
            200,
        ),
        (
            "tools/list (RS256 verify, 4 tools)",
            post(
                Some(&token),
                Some(&session),
                &json!({"jsonrpc": "2.0", "id": 2, "method": "tools/list"}),
            ),
            200,
        ),
        (
            "tools/call echo (RS256 verify + schema check)",
            post(
                Some(&token),
                Some(&session),
                &json!({"jsonrpc": "2.0", "id": 3, "method": "tools/call", "params": {"name": "echo", "arguments": {"text": "hello device"}}}),
            ),
            200,
        ),
    ];
    println!(
        "host-embassy heap: resident after boot (1 JWKS key, 4 tools, session table): {resident} B"
    );
    println!("| request | status | peak extra heap (B) |");
    println!("| --- | --- | --- |");
    let mut worst = 0;
    for (name, raw, expected) in &cases {
        // Twice: the first call may grow lazily built tables.
        let _ = measure(&service, raw, now);
        let (resp, peak) = measure(&service, raw, now);
        let status = resp.status;
        assert_eq!(status, *expected, "{name}");
        println!("| {name} | {status} | {peak} |");
        worst = worst.max(peak);
    }
    drop(service);
    let refresh = key_rotation(&jwks, &claims, now);
    println!(
        "| initialize with a token of a new key (JWKS fetch into {} B + parse + swap + verify) | 200 | {refresh} |",
        mcpauth_embassy::jwks::MAX_DEVICE_JWKS_LEN
    );
    let worst = worst.max(refresh);
    println!("host-embassy heap: worst per-request peak {worst} B (target ≤ 49152 B)");
    assert!(
        worst <= 48 * 1024,
        "per-request heap peak {worst} B exceeds 48 KiB"
    );
    standalone(now);
}

/// The issuer's JWKS as its HTTP endpoint would serve it.
struct Served(String);

impl JwksFetcher for Served {
    async fn fetch(&mut self, buf: &mut [u8]) -> Result<usize, FetchError> {
        let doc = self.0.as_bytes();
        let into = buf.get_mut(..doc.len()).ok_or(FetchError::TooLarge)?;
        into.copy_from_slice(doc);
        Ok(doc.len())
    }
}

/// The issuer rotated its key after the device was provisioned with
/// `provisioned_jwks`: the first request with a token of the new key makes
/// the device fetch the JWKS. Returns that request's peak extra heap.
fn key_rotation(provisioned_jwks: &str, claims: &AccessTokenClaims, now: UnixTime) -> usize {
    let mut rng = InsecureSeededRandom::new(12);
    let mut rotated = KeySet::from_jwks_json(provisioned_jwks).unwrap();
    rotated.rotate(SigningKey::generate(&mut rng, 2048).unwrap());
    let published = rotated.to_jwks_json();
    let mut schedule = JwksRefreshSchedule::new();
    schedule.unknown_kid_spacing_secs = 0;
    let service = app::resource_server(Provisioning {
        issuer: ISSUER,
        resource: RESOURCE,
        jwks_json: provisioned_jwks,
        scopes: &["mcp"],
        clock_leeway_secs: mcpauth_core::jose::DEFAULT_LEEWAY_SECS,
    })
    .unwrap()
    .with_fetcher(Served(published), schedule);
    let new_token = rotated.issue_access_token(claims, &mut rng).unwrap();
    let init = json!({"jsonrpc": "2.0", "id": 1, "method": "initialize",
        "params": {"protocolVersion": "2025-11-25", "capabilities": {}, "clientInfo": {"name": "c", "version": "1"}}});
    // Warm the lazily built tables with a request that needs no fetch.
    let (resp, _) = measure(&service, &post(Some("x.y.z"), None, &init), now);
    assert_eq!(resp.status, 401);
    let (resp, peak) = measure(&service, &post(Some(&new_token), None, &init), now);
    assert_eq!(resp.status, 200, "a token of the rotated-in key: {resp:?}");
    peak
}

fn raw(method: &str, path: &str, headers: &[(&str, &str)], body: &str) -> Vec<u8> {
    let mut r = format!("{method} {path} HTTP/1.1\r\nHost: 10.42.2.2\r\n");
    for (n, v) in headers {
        r.push_str(&format!("{n}: {v}\r\n"));
    }
    if !body.is_empty() {
        r.push_str(&format!("Content-Length: {}\r\n", body.len()));
    }
    r.push_str("\r\n");
    r.push_str(body);
    r.into_bytes()
}

fn pct(s: &str) -> String {
    s.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

fn hidden(page: &str, name: &str) -> String {
    let marker = format!("name=\"{name}\" value=\"");
    let start = page.find(&marker).unwrap() + marker.len();
    page[start..][..page[start..].find('"').unwrap()].to_string()
}

fn json_field(resp: &mcpauth_core::http::Response, field: &str) -> String {
    serde_json::from_slice::<serde_json::Value>(&resp.body).unwrap()[field]
        .as_str()
        .unwrap()
        .to_string()
}

/// One registration + authorization-code grant against the standalone
/// device; `row` gets each step's response and peak heap. Returns the
/// access token.
fn grant(
    service: &impl Service,
    now: UnixTime,
    row: &mut dyn FnMut(&str, &mcpauth_core::http::Response, usize),
) -> String {
    let reg = r#"{"redirect_uris":["http://127.0.0.1:9/cb"],"token_endpoint_auth_method":"none"}"#;
    let json_type = [("Content-Type", "application/json")];
    let (r, peak) = measure(service, &raw("POST", "/register", &json_type, reg), now);
    assert_eq!(r.status, 201, "{r:?}");
    row("POST /register", &r, peak);
    let client_id = json_field(&r, "client_id");
    let verifier = "heap-test-verifier-0123456789-abcdefghijklmnopqrstuvwxyz";
    let challenge = mcpauth_core::oauth::pkce::s256_challenge(verifier);
    let path = format!(
        "/authorize?response_type=code&client_id={}&redirect_uri={}&code_challenge={challenge}\
         &code_challenge_method=S256&state=s&scope=mcp",
        pct(&client_id),
        pct("http://127.0.0.1:9/cb")
    );
    let (page, peak) = measure(service, &raw("GET", &path, &[], ""), now);
    assert_eq!(page.status, 200, "{page:?}");
    row("GET /authorize (sign-in page)", &page, peak);
    let cookie = page
        .header("Set-Cookie")
        .unwrap()
        .split(';')
        .next()
        .unwrap()
        .to_string();
    let html = String::from_utf8(page.body.clone()).unwrap();
    let form = format!(
        "request_id={}&csrf={}&username=admin&password=pw&decision=allow",
        pct(&hidden(&html, "request_id")),
        pct(&hidden(&html, "csrf"))
    );
    let headers = [
        ("Content-Type", "application/x-www-form-urlencoded"),
        ("Cookie", cookie.as_str()),
    ];
    let (r, peak) = measure(service, &raw("POST", "/authorize", &headers, &form), now);
    assert_eq!(r.status, 303, "{r:?}");
    row("POST /authorize (password check, code)", &r, peak);
    let location = r.header("Location").unwrap().to_string();
    let code = location
        .split(['?', '&'])
        .find_map(|kv| kv.strip_prefix("code="))
        .unwrap()
        .to_string();
    let token_form = format!(
        "grant_type=authorization_code&code={}&redirect_uri={}&code_verifier={verifier}&client_id={}",
        pct(&code),
        pct("http://127.0.0.1:9/cb"),
        pct(&client_id)
    );
    let form_type = [("Content-Type", "application/x-www-form-urlencoded")];
    let (r, peak) = measure(
        service,
        &raw("POST", "/token", &form_type, &token_form),
        now,
    );
    assert_eq!(r.status, 200, "{r:?}");
    row("POST /token (RS256 sign, blinded)", &r, peak);
    json_field(&r, "access_token")
}

/// The standalone issuer: each step of the authorization-code flow, then
/// the store filled to its client capacity.
fn standalone(now: UnixTime) {
    let mut rng = InsecureSeededRandom::new(21);
    let boot = LIVE.load(Ordering::SeqCst);
    // Stands for `SigningKey::from_pkcs8_der` at boot; only the key stays.
    let key = SigningKey::generate(&mut rng, 2048).unwrap();
    let login = DeviceLogin::new("admin", "pw", &mut rng).unwrap();
    let auth = app::authorization_server("http://10.42.2.2", login);
    let service = app::standalone_service(auth, key).unwrap();
    let resident = LIVE.load(Ordering::SeqCst) - boot;
    println!();
    println!(
        "host-embassy heap (standalone): resident after boot (signing key, empty DEVICE store, 4 tools): {resident} B"
    );
    println!("| request | status | peak extra heap (B) |");
    println!("| --- | --- | --- |");
    let mut worst = 0;
    let mut row = |name: &str, resp: &mcpauth_core::http::Response, peak: usize| {
        println!("| {name} | {} | {peak} |", resp.status);
        worst = worst.max(peak);
    };
    let access = grant(&service, now, &mut row);
    let init = json!({"jsonrpc": "2.0", "id": 1, "method": "initialize",
        "params": {"protocolVersion": "2025-11-25", "capabilities": {}, "clientInfo": {"name": "c", "version": "1"}}});
    let (r, peak) = measure(&service, &post(Some(&access), None, &init), now);
    assert_eq!(r.status, 200, "{r:?}");
    row(
        "initialize with the issued token (verify + revocation lookup)",
        &r,
        peak,
    );
    drop((r, access));
    println!(
        "host-embassy heap (standalone): resident after 1 client, 1 grant, 1 MCP session: {} B",
        LIVE.load(Ordering::SeqCst) - boot
    );
    // Fill the DEVICE tables to their client capacity (16 clients, each
    // with one code tombstone and one refresh family).
    let clients = MemoryStoreLimits::DEVICE.clients;
    let mut worst_fill = 0;
    for _ in 1..clients {
        let _ = grant(&service, now, &mut |_, _, peak| {
            worst_fill = worst_fill.max(peak)
        });
    }
    println!(
        "host-embassy heap (standalone): resident with {clients} clients and {clients} grants: {} B",
        LIVE.load(Ordering::SeqCst) - boot
    );
    println!("host-embassy heap (standalone): worst per-request peak {worst} B (target ≤ 49152 B)");
    assert!(
        worst.max(worst_fill) <= 48 * 1024,
        "per-request heap peak exceeds 48 KiB"
    );
}
