//! Heap cost of host-embassy, measured with a counting global allocator:
//! what the fleet resource server keeps after boot, and the peak extra heap
//! of one request (HTTP framing + bearer verification with a 2048-bit RS256
//! key + MCP + response serialization), which must stay ≤ 48 KiB.
//!
//! `cargo test -p mcpauth-embassy-tap --test heap -- --nocapture` prints the
//! table recorded in BENCHMARKS.md. One test function, so no other test
//! thread allocates while it measures.
#![allow(unsafe_code, clippy::unwrap_used)]

extern crate alloc;

#[path = "../src/app.rs"]
#[allow(dead_code)]
mod app;

use std::alloc::{GlobalAlloc, Layout, System};
use std::future::Future;
use std::pin::pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::task::{Context, Poll, Waker};
use std::time::{SystemTime, UNIX_EPOCH};

use mcpauth_core::jose::{AccessTokenClaims, Audience, KeySet, SigningKey};
use mcpauth_core::rand::InsecureSeededRandom;
use mcpauth_core::time::UnixTime;
use mcpauth_embassy::http::{parse_head, write_head};
use mcpauth_embassy::{BoardRng, DeviceEnv, FleetService, Provisioning, Service};
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
/// connection loop does it. Returns (status, peak extra heap, live after).
fn measure(service: &FleetService, raw: &[u8], now: UnixTime) -> (u16, usize, isize) {
    static SEED: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(100);
    let rng = BoardRng::new(InsecureSeededRandom::new(
        SEED.fetch_add(1, Ordering::SeqCst),
    ));
    let before = LIVE.load(Ordering::SeqCst);
    PEAK.store(before, Ordering::SeqCst);
    let status = {
        let head = parse_head(raw, 4096, 4096, None).unwrap().unwrap();
        let mut req = head.request;
        req.body = raw[head.len..].to_vec();
        let mut handle = rng.handle();
        let env = DeviceEnv {
            now: Some(now),
            rng: &mut handle,
        };
        let resp = block_on(service.handle(&req, env));
        drop(req);
        let mut out = Vec::with_capacity(256);
        write_head(&resp, true, &mut out);
        resp.status
    };
    let peak = PEAK.load(Ordering::SeqCst) - before;
    let after = LIVE.load(Ordering::SeqCst) as isize - before as isize;
    (status, peak, after)
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

    let boot = LIVE.load(Ordering::SeqCst);
    let service = app::resource_server(Provisioning {
        issuer: ISSUER,
        resource: RESOURCE,
        jwks_json: &jwks,
        scopes: &["mcp"],
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
            &req,
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
            "tools/list (RS256 verify, 3 tools)",
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
        "host-embassy heap: resident after boot (1 JWKS key, 3 tools, session table): {resident} B"
    );
    println!("| request | status | peak extra heap (B) |");
    println!("| --- | --- | --- |");
    let mut worst = 0;
    for (name, raw, expected) in &cases {
        // Twice: the first call may grow lazily built tables.
        let _ = measure(&service, raw, now);
        let (status, peak, _) = measure(&service, raw, now);
        assert_eq!(status, *expected, "{name}");
        println!("| {name} | {status} | {peak} |");
        worst = worst.max(peak);
    }
    println!("host-embassy heap: worst per-request peak {worst} B (target ≤ 49152 B)");
    assert!(
        worst <= 48 * 1024,
        "per-request heap peak {worst} B exceeds 48 KiB"
    );
}
