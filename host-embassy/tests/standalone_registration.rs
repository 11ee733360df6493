//! Open registration on a standalone device (issue 13): unauthenticated
//! `POST /register` must neither fill the device's 16-entry client table
//! nor evict a client someone authorized, and each peer has a budget; the
//! same rules as `mcpauth serve` (issue 14 finding 5), at a device's size.
//!
//! Driven through the device's own HTTP path: raw request bytes parsed by
//! `mcpauth_embassy::http::parse_head` (with the peer address the socket
//! loop passes) and answered by `StandaloneService`.
#![allow(clippy::unwrap_used)]

use std::net::IpAddr;

use mcpauth_core::http::Response;
use mcpauth_core::jose::SigningKey;
use mcpauth_core::mcp::{McpConfig, McpServer, NoSessionStore, Registry};
use mcpauth_core::rand::InsecureSeededRandom;
use mcpauth_core::store::MemoryStoreLimits;
use mcpauth_core::time::UnixTime;
use mcpauth_embassy::http::parse_head;
use mcpauth_embassy::{BoardRng, DeviceEnv, DeviceLogin, Service, StandaloneService};

const ISSUER: &str = "http://10.42.2.2";
const REDIRECT: &str = "http://127.0.0.1:9/cb";
/// A multiple of 600 s: the registration windows start here.
const T0: u64 = 1_800_000_000;

/// The device: its service and its one RNG (seeded once, as a board's).
struct Device {
    service: StandaloneService,
    rng: BoardRng<InsecureSeededRandom>,
}

fn device() -> Device {
    let mut rng = InsecureSeededRandom::new(31);
    let key = SigningKey::generate(&mut rng, 2048).unwrap();
    let login = DeviceLogin::new("admin", "pw", &mut rng).unwrap();
    let auth =
        mcpauth_embassy::authorization_server(ISSUER, login, MemoryStoreLimits::DEVICE, "device");
    let mut config = McpConfig::new("device", "0");
    config.stateless = true;
    let mcp = McpServer::new(config, Registry::new(), Box::new(NoSessionStore));
    Device {
        service: StandaloneService::new(auth, mcp, key).unwrap(),
        rng: BoardRng::new(InsecureSeededRandom::new(32)),
    }
}

fn send(
    device: &Device,
    peer: IpAddr,
    now: u64,
    method: &str,
    target: &str,
    headers: &[(&str, &str)],
    body: &str,
) -> Response {
    let mut raw = format!("{method} {target} HTTP/1.1\r\nHost: 10.42.2.2\r\n");
    for (n, v) in headers {
        raw.push_str(&format!("{n}: {v}\r\n"));
    }
    raw.push_str(&format!("Content-Length: {}\r\n\r\n{body}", body.len()));
    let raw = raw.into_bytes();
    let head = parse_head(&raw, 4096, 4096, Some(peer)).unwrap().unwrap();
    let mut req = head.request;
    req.body = raw[head.len..].to_vec();
    let mut handle = device.rng.handle();
    let env = DeviceEnv {
        now: Some(UnixTime(now)),
        rng: &mut handle,
    };
    embassy_futures::block_on(device.service.handle(req, env))
}

fn register(device: &Device, peer: IpAddr, now: u64) -> Response {
    let doc = format!(r#"{{"redirect_uris":["{REDIRECT}"],"token_endpoint_auth_method":"none"}}"#);
    send(
        device,
        peer,
        now,
        "POST",
        "/register",
        &[("Content-Type", "application/json")],
        &doc,
    )
}

fn client_id(resp: &Response) -> String {
    let doc: serde_json::Value = serde_json::from_slice(&resp.body).unwrap();
    doc["client_id"].as_str().unwrap().to_string()
}

fn error(resp: &Response) -> String {
    let doc: serde_json::Value = serde_json::from_slice(&resp.body).unwrap_or_default();
    doc["error"].as_str().unwrap_or_default().to_string()
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

/// The sign-in page for `client`: its status (200 for a known client).
fn sign_in_page(device: &Device, peer: IpAddr, now: u64, client: &str) -> Response {
    let challenge = mcpauth_core::oauth::pkce::s256_challenge(
        "registration-test-verifier-0123456789-abcdefghijklmnop",
    );
    let target = format!(
        "/authorize?response_type=code&client_id={}&redirect_uri={}&code_challenge={challenge}\
         &code_challenge_method=S256&state=s&scope=mcp",
        pct(client),
        pct(REDIRECT)
    );
    send(device, peer, now, "GET", &target, &[], "")
}

/// The device's user signs in and allows `client`: a code is issued, so
/// the client is used from now on.
fn authorize(device: &Device, peer: IpAddr, now: u64, client: &str) {
    let page = sign_in_page(device, peer, now, client);
    assert_eq!(page.status, 200, "{page:?}");
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
    let r = send(
        device,
        peer,
        now,
        "POST",
        "/authorize",
        &[
            ("Content-Type", "application/x-www-form-urlencoded"),
            ("Cookie", &cookie),
        ],
        &form,
    );
    assert_eq!(r.status, 303, "{r:?}");
    assert!(r.header("Location").unwrap().contains("code="));
}

fn v4(a: u8, b: u8) -> IpAddr {
    IpAddr::from([192, 0, a, b])
}

/// Before: the 16th registration filled the table, and every later one got
/// 503 until reboot. Now a flood from ever new addresses, window after
/// window, is answered (201 within the budget, 429 past it), never runs
/// into a full table, keeps at most half the table for never-used clients,
/// and the client the user authorized survives it.
#[test]
fn a_registration_flood_neither_fills_the_table_nor_evicts_a_used_client() {
    let dev = device();
    let store = dev.service.authorization_server().store();
    let capacity = MemoryStoreLimits::DEVICE.clients;
    let alice = v4(1, 1);
    let r = register(&dev, alice, T0);
    assert_eq!(r.status, 201, "{r:?}");
    let alice_client = client_id(&r);
    authorize(&dev, alice, T0, &alice_client);

    let mut created = 0;
    let mut refused = 0;
    for window in 0..4u64 {
        let now = T0 + window * 600 + 10;
        for host in 0..40u8 {
            let r = register(&dev, v4(2 + window as u8, host), now);
            match r.status {
                201 => created += 1,
                429 => {
                    assert_eq!(error(&r), "temporarily_unavailable", "{r:?}");
                    refused += 1;
                }
                _ => panic!("registration {created} of the flood: {r:?}"),
            }
            let clients = store.counts()[0];
            assert!(
                clients <= 1 + capacity / 2,
                "{clients} clients held: never-used ones must stay within half the table"
            );
        }
    }
    assert!(
        created >= 3 * capacity,
        "only {created} registrations served"
    );
    assert!(refused > 0, "no global budget");
    // The authorized client is still there: its sign-in page is served and
    // the user can authorize it again.
    let later = T0 + 4 * 600 + 10;
    authorize(&dev, alice, later, &alice_client);
    // And registration still works for someone new.
    assert_eq!(register(&dev, v4(9, 9), later).status, 201);
}

/// Each peer (an IPv4 address or an IPv6 /64) may register 3 clients per
/// 10-minute window; 429 beyond, for that peer only.
#[test]
fn each_peer_has_a_registration_budget() {
    let dev = device();
    let a = v4(1, 1);
    for i in 0..3 {
        let r = register(&dev, a, T0 + i);
        assert_eq!(r.status, 201, "registration {i}: {r:?}");
    }
    let r = register(&dev, a, T0 + 3);
    assert_eq!(r.status, 429, "{r:?}");
    assert_eq!(error(&r), "temporarily_unavailable");
    assert!(r.header("Retry-After").is_some(), "{r:?}");
    assert_eq!(register(&dev, v4(1, 2), T0 + 4).status, 201);

    // One IPv6 host rotating through its /64 is one peer.
    let mut served = 0;
    for i in 1..=10u16 {
        let rotating = IpAddr::from([0x2001, 0xdb8, 0, 1, 0, 0, 0x77, i]);
        if register(&dev, rotating, T0 + 5).status == 201 {
            served += 1;
        }
    }
    assert_eq!(served, 3, "registrations from one /64");

    // The next window has a fresh budget.
    assert_eq!(register(&dev, a, T0 + 600).status, 201);
}
