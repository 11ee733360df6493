//! The TAP test: host-embassy's code on embassy-net (`platform-std` +
//! `embassy-net-tuntap`) inside a private network namespace, driven over
//! that link by an HTTP client.
//!
//! `tap_end_to_end` (root namespace) mints tokens with a real mcpauth-core
//! issuer key set, writes its JWKS, creates the namespace with four TAP
//! devices, starts three device processes inside it (one with a provisioned
//! clock, one without, one standalone issuer), then re-runs this test
//! binary inside the namespace as the client (`tap_client`, ignored unless
//! asked for), and finally removes the namespace. All traffic stays inside
//! that namespace.
//!
//! The client also runs the fleet as it is deployed (`fleet_with_issuer`):
//! a real `mcpauth serve` (the host-std binary, built by
//! `scripts/tap-test.sh`) as the issuer with the fourth device declared as
//! a resource, and that device fetching the issuer's JWKS over the TAP link.
//!
//! Needs root, `ip` (iproute2) and `/dev/net/tun`, so it is `#[ignore]`d
//! (a plain `cargo test` lists it as ignored, with that reason);
//! `scripts/tap-test.sh` runs it with `--include-ignored`, and says why when
//! it skips it.
#![allow(clippy::unwrap_used)]

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use mcpauth_core::jose::{AccessTokenClaims, Audience, KeySet, SigningKey};
use mcpauth_core::rand::InsecureSeededRandom;
use mcpauth_core::server::vectors::{
    LISTED_ORIGIN, Origins, Report, Target, VectorResponse, cases_for, mint_tokens,
};
use serde_json::{Value, json};

const ISSUER: &str = "https://issuer.test";
/// Device A: provisioned clock.
const DEV_A: &str = "10.42.0.2";
/// Device B: clock never set.
const DEV_B: &str = "10.42.1.2";
/// Device C: standalone, its own issuer.
const DEV_C: &str = "10.42.2.2";
/// Device D: resource of a real `mcpauth serve` issuer.
const DEV_D: &str = "10.42.3.2";
/// The namespace's own address on device D's link, where `mcpauth serve`
/// listens (with the namespace's loopback).
const ISSUER_LINK: &str = "10.42.3.1";
/// The issuer's public URL. Plain http is allowed only on loopback, so the
/// issuer is `http://127.0.0.1` for the client in the namespace; device D
/// fetches the same server's JWKS at [`ISSUER_LINK`].
const FLEET_ISSUER: &str = "http://127.0.0.1";
/// Device D's access-token lifetime at the issuer, seconds.
const DEVICE_TOKEN_TTL: u64 = 20;
/// Device D's clock leeway, seconds.
const DEVICE_LEEWAY: u64 = 2;
/// The user the issuer signs in.
const ALICE_PASSWORD: &str = "correct horse battery";
/// Device F: fleet, any browser origin (`--allowed-origins '*'`).
const DEV_F: &str = "10.42.5.2";
/// Device E: standalone, any browser origin.
const DEV_E: &str = "10.42.4.2";
/// The shared vectors' devices: (address, shape, any origin?, clock known?).
const VECTOR_DEVICES: [(&str, &str, bool, bool); 5] = [
    (DEV_A, "fleet", false, true),
    (DEV_C, "all-in-one", false, true),
    (DEV_F, "fleet", true, true),
    (DEV_E, "all-in-one", true, true),
    (DEV_B, "fleet", false, false),
];
const DEVICE_PASSWORD: &str = "correct horse battery staple";
const REDIRECT: &str = "http://127.0.0.1:9/callback";
const SOCKETS: usize = 4;

fn resource(ip: &str) -> String {
    format!("http://{ip}/mcp")
}

// ---------------------------------------------------------------- setup side

fn skip_reason() -> Option<String> {
    let uid = std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("Uid:"))
                .and_then(|l| l.split_whitespace().nth(1).map(String::from))
        })
        .unwrap_or_default();
    if uid != "0" {
        return Some("needs root (network namespaces and TAP devices)".into());
    }
    if !Path::new("/dev/net/tun").exists() {
        return Some("/dev/net/tun is missing".into());
    }
    if Command::new("ip").arg("-V").output().is_err() {
        return Some("ip(8) from iproute2 is not installed".into());
    }
    None
}

fn ip(args: &[&str]) {
    let out = Command::new("ip").args(args).output().unwrap();
    assert!(
        out.status.success(),
        "ip {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Kills the devices and removes the namespace, even when a check fails.
struct Namespace {
    name: String,
    devices: Vec<Child>,
    dir: PathBuf,
}

impl Drop for Namespace {
    fn drop(&mut self) {
        for child in &mut self.devices {
            let _ = child.kill();
            let _ = child.wait();
        }
        let _ = Command::new("ip")
            .args(["netns", "del", &self.name])
            .status();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn mint(
    keys: &KeySet,
    rng: &mut InsecureSeededRandom,
    f: impl FnOnce(&mut AccessTokenClaims),
) -> String {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let mut claims = AccessTokenClaims {
        iss: ISSUER.into(),
        sub: "alice".into(),
        aud: Audience::One(resource(DEV_A)),
        client_id: "client-1".into(),
        scope: "mcp".into(),
        iat: now,
        exp: now + 600,
        jti: String::new(),
        extra: Default::default(),
    };
    f(&mut claims);
    keys.issue_access_token(&claims, rng).unwrap()
}

fn tamper(token: &str) -> String {
    // Flip one character of the claims segment: the signature no longer
    // matches.
    let mut parts: Vec<String> = token.split('.').map(String::from).collect();
    let claims = parts[1].clone().into_bytes();
    let mut claims = claims;
    let i = claims.len() / 2;
    claims[i] = if claims[i] == b'A' { b'B' } else { b'A' };
    parts[1] = String::from_utf8(claims).unwrap();
    parts.join(".")
}

#[test]
#[ignore = "needs root, iproute2 and /dev/net/tun: scripts/tap-test.sh runs it"]
fn tap_end_to_end() {
    if let Some(why) = skip_reason() {
        println!("tap_end_to_end: SKIPPED: {why}");
        return;
    }
    let started = Instant::now();
    let mut rng = InsecureSeededRandom::new(0x7a9);
    let issuer_keys = KeySet::new(SigningKey::generate(&mut rng, 2048).unwrap());
    let stranger_keys = KeySet::new(SigningKey::generate(&mut rng, 2048).unwrap());

    let name = format!("mcpauth-tap-{}", std::process::id());
    let dir = std::env::temp_dir().join(&name);
    std::fs::create_dir_all(&dir).unwrap();
    let jwks_path = dir.join("jwks.json");
    std::fs::write(&jwks_path, issuer_keys.to_jwks_json()).unwrap();

    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let tokens = json!({
        "valid": mint(&issuer_keys, &mut rng, |_| {}),
        "admin": mint(&issuer_keys, &mut rng, |c| c.scope = "mcp mcp:admin".into()),
        "expired": mint(&issuer_keys, &mut rng, |c| { c.iat = now - 7200; c.exp = now - 3600; }),
        "wrong_audience": mint(&issuer_keys, &mut rng, |c| c.aud = Audience::One("http://10.42.0.99/mcp".into())),
        "wrong_issuer": mint(&issuer_keys, &mut rng, |c| c.iss = "https://evil.test".into()),
        "no_scope": mint(&issuer_keys, &mut rng, |c| c.scope = "other".into()),
        "tampered": tamper(&mint(&issuer_keys, &mut rng, |_| {})),
        "unknown_key": mint(&stranger_keys, &mut rng, |_| {}),
        "valid_b": mint(&issuer_keys, &mut rng, |c| c.aud = Audience::One(resource(DEV_B))),
    });
    let device_key = SigningKey::generate(&mut rng, 2048).unwrap();
    let device_keys = KeySet::new(device_key.clone());
    let mut tokens = tokens;
    for (ip, shape, _, _) in VECTOR_DEVICES {
        let (keys, issuer) = match shape {
            "fleet" => (&issuer_keys, ISSUER.to_string()),
            _ => (&device_keys, format!("http://{ip}")),
        };
        let minted = mint_tokens(
            keys,
            stranger_keys.signing_key().unwrap(),
            &issuer,
            &resource(ip),
            now,
            &mut rng,
        );
        tokens[format!("vectors {ip}")] = json!(minted);
    }
    std::fs::write(dir.join("tokens.json"), tokens.to_string()).unwrap();
    let key_path = dir.join("device-key.der");
    std::fs::write(&key_path, &*device_key.to_pkcs8_der().unwrap()).unwrap();

    ip(&["netns", "add", &name]);
    let mut ns = Namespace {
        name: name.clone(),
        devices: Vec::new(),
        dir: dir.clone(),
    };
    ip(&["-n", &name, "link", "set", "lo", "up"]);
    for (tap, host_side) in [
        ("tap0", "10.42.0.1/24"),
        ("tap1", "10.42.1.1/24"),
        ("tap2", "10.42.2.1/24"),
        ("tap3", "10.42.3.1/24"),
        ("tap4", "10.42.4.1/24"),
        ("tap5", "10.42.5.1/24"),
    ] {
        ip(&["-n", &name, "tuntap", "add", "name", tap, "mode", "tap"]);
        ip(&["-n", &name, "addr", "add", host_side, "dev", tap]);
        ip(&["-n", &name, "link", "set", tap, "up"]);
    }

    let device = env!("CARGO_BIN_EXE_mcpauth-embassy-tap");
    for (tap, dev_ip, clock, origins) in [
        ("tap0", DEV_A, "provisioned", LISTED_ORIGIN),
        ("tap1", DEV_B, "unset", LISTED_ORIGIN),
        ("tap5", DEV_F, "provisioned", "*"),
    ] {
        let child = Command::new("ip")
            .args(["netns", "exec", &name, device])
            .args([
                "--tap",
                tap,
                "--ip",
                &format!("{dev_ip}/24"),
                "--port",
                "80",
            ])
            .args(["--issuer", ISSUER, "--resource", &resource(dev_ip)])
            .arg("--jwks")
            .arg(&jwks_path)
            .args(["--clock", clock, "--allowed-origins", origins])
            .args(["--idle-timeout-ms", "3000", "--request-timeout-ms", "1500"])
            .stdout(Stdio::inherit())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap();
        ns.devices.push(child);
    }
    for (tap, dev_ip, origins) in [("tap2", DEV_C, LISTED_ORIGIN), ("tap4", DEV_E, "*")] {
        let child = Command::new("ip")
            .args(["netns", "exec", &name, device])
            .args([
                "--mode",
                "standalone",
                "--tap",
                tap,
                "--ip",
                &format!("{dev_ip}/24"),
            ])
            .args(["--issuer", &format!("http://{dev_ip}")])
            .arg("--key")
            .arg(&key_path)
            .args(["--user", "admin", "--password", DEVICE_PASSWORD])
            .args(["--allowed-origins", origins])
            .spawn()
            .unwrap();
        ns.devices.push(child);
    }

    // The issuer's data directory, with one user.
    let mcpauth = mcpauth_binary();
    let issuer_data = dir.join("issuer-data");
    let mut add = Command::new(&mcpauth)
        .args(["user", "add", "alice", "--data-dir"])
        .arg(&issuer_data)
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    add.stdin
        .take()
        .unwrap()
        .write_all(format!("{ALICE_PASSWORD}\n").as_bytes())
        .unwrap();
    assert!(add.wait().unwrap().success(), "mcpauth user add");

    // The client: this same test binary, inside the namespace.
    let me = std::env::current_exe().unwrap();
    let status = Command::new("ip")
        .args(["netns", "exec", &name])
        .arg(&me)
        .args([
            "tap_client",
            "--exact",
            "--ignored",
            "--nocapture",
            "--test-threads=1",
        ])
        .env("MCPAUTH_TAP_CLIENT_DIR", &dir)
        .env("MCPAUTH_TAP_ISSUER_BIN", &mcpauth)
        .status()
        .unwrap();
    for child in &mut ns.devices {
        assert!(
            child.try_wait().unwrap().is_none(),
            "a device process exited during the test"
        );
    }
    drop(ns);
    let leftover = Command::new("ip").args(["netns", "list"]).output().unwrap();
    assert!(
        !String::from_utf8_lossy(&leftover.stdout).contains(&name),
        "namespace not removed"
    );
    assert!(status.success(), "client checks failed (see above)");
    println!(
        "tap_end_to_end: passed in {:.1}s",
        started.elapsed().as_secs_f64()
    );
}

/// The `mcpauth` binary: `MCPAUTH_BIN`, or the one built beside this test
/// (`scripts/tap-test.sh` builds it first).
fn mcpauth_binary() -> PathBuf {
    if let Some(path) = std::env::var_os("MCPAUTH_BIN") {
        return PathBuf::from(path);
    }
    let me = std::env::current_exe().unwrap();
    // target/debug/deps/tap-… → target/debug/mcpauth
    let path = me.parent().unwrap().parent().unwrap().join("mcpauth");
    assert!(
        path.exists(),
        "{} is missing: build it first (`cargo build -p mcpauth`, as scripts/tap-test.sh does)",
        path.display()
    );
    path
}

// --------------------------------------------------------------- client side

#[derive(Debug)]
struct Resp {
    status: u16,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Resp {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
    fn json(&self) -> Value {
        let text = String::from_utf8_lossy(&self.body);
        // A buffered SSE body carries the JSON in its last `data:` line.
        if let Some(data) = text.lines().rev().find_map(|l| l.strip_prefix("data:")) {
            return serde_json::from_str(data.trim()).unwrap();
        }
        serde_json::from_slice(&self.body).unwrap_or(Value::Null)
    }
}

fn connect(ip: &str) -> TcpStream {
    let addr: SocketAddr = format!("{ip}:80").parse().unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        match TcpStream::connect_timeout(&addr, Duration::from_secs(2)) {
            Ok(s) => {
                s.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
                s.set_nodelay(true).unwrap();
                return s;
            }
            Err(e) if Instant::now() < deadline => {
                let _ = e;
                std::thread::sleep(Duration::from_millis(100));
            }
            Err(e) => panic!("cannot connect to {addr}: {e}"),
        }
    }
}

/// Reads one response and nothing past it: the head a byte at a time, then
/// exactly `Content-Length` body bytes, so a pipelined second response stays
/// in the socket for the next call.
fn read_response(stream: &mut TcpStream) -> Resp {
    read_response_to(stream, false)
}

/// [`read_response`]; the answer to a `HEAD` request has no body whatever
/// its `Content-Length` says.
fn read_response_to(stream: &mut TcpStream, head_request: bool) -> Resp {
    let mut buf = Vec::new();
    let mut byte = [0u8; 1];
    let head_end = loop {
        if buf.ends_with(b"\r\n\r\n") {
            break buf.len();
        }
        let n = stream.read(&mut byte).unwrap();
        assert!(n > 0, "connection closed before a response head");
        buf.push(byte[0]);
    };
    let head = String::from_utf8(buf[..head_end].to_vec()).unwrap();
    let mut lines = head.split("\r\n");
    let status: u16 = lines
        .next()
        .unwrap()
        .split(' ')
        .nth(1)
        .unwrap()
        .parse()
        .unwrap();
    let headers: Vec<(String, String)> = lines
        .filter(|l| !l.is_empty())
        .map(|l| {
            let (n, v) = l.split_once(':').unwrap();
            (n.trim().to_string(), v.trim().to_string())
        })
        .collect();
    let len: usize = headers
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case("content-length"))
        .map(|(_, v)| v.parse().unwrap())
        .unwrap_or(0);
    let len = if head_request { 0 } else { len };
    let mut body = vec![0u8; len];
    stream
        .read_exact(&mut body)
        .expect("connection closed inside a body");
    Resp {
        status,
        headers,
        body,
    }
}

fn send(
    stream: &mut TcpStream,
    ip: &str,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &str,
) -> Resp {
    let mut req = format!("{method} {path} HTTP/1.1\r\nHost: {ip}\r\n");
    for (n, v) in headers {
        req.push_str(&format!("{n}: {v}\r\n"));
    }
    if !body.is_empty() || method == "POST" {
        req.push_str(&format!("Content-Length: {}\r\n", body.len()));
    }
    req.push_str("\r\n");
    req.push_str(body);
    // A server may answer (413) and close before reading a large body.
    let _ = stream.write_all(req.as_bytes());
    read_response_to(stream, method == "HEAD")
}

fn once(ip: &str, method: &str, path: &str, headers: &[(&str, &str)], body: &str) -> Resp {
    let mut s = connect(ip);
    send(&mut s, ip, method, path, headers, body)
}

/// A stateless 2025-era MCP call is not possible with sessions on, so
/// every client does the handshake first and keeps its session id.
struct McpClient {
    ip: String,
    stream: TcpStream,
    auth: String,
    session: Option<String>,
}

impl McpClient {
    fn new(ip: &str, token: &str) -> McpClient {
        let mut c = McpClient {
            ip: ip.into(),
            stream: connect(ip),
            auth: format!("Bearer {token}"),
            session: None,
        };
        let init = c.rpc(
            1,
            "initialize",
            json!({"protocolVersion": "2025-11-25", "capabilities": {}, "clientInfo": {"name": "tap-test", "version": "1"}}),
        );
        assert_eq!(init.status, 200, "initialize: {init:?}");
        c.session = init.header("Mcp-Session-Id").map(String::from);
        let note =
            c.post(&json!({"jsonrpc": "2.0", "method": "notifications/initialized"}).to_string());
        assert_eq!(note.status, 202, "initialized: {note:?}");
        c
    }

    fn post(&mut self, body: &str) -> Resp {
        let mut headers = vec![
            ("Authorization", self.auth.as_str()),
            ("Content-Type", "application/json"),
            ("Accept", "application/json, text/event-stream"),
        ];
        if self.session.is_some() {
            headers.push(("MCP-Protocol-Version", "2025-11-25"));
        }
        let session = self.session.clone();
        if let Some(s) = session.as_deref() {
            headers.push(("Mcp-Session-Id", s));
        }
        let ip = self.ip.clone();
        send(&mut self.stream, &ip, "POST", "/mcp", &headers, body)
    }

    fn rpc(&mut self, id: u64, method: &str, params: Value) -> Resp {
        self.post(
            &json!({"jsonrpc": "2.0", "id": id, "method": method, "params": params}).to_string(),
        )
    }
}

impl Drop for McpClient {
    /// End the session: the device keeps only a few (bounded memory).
    fn drop(&mut self) {
        if let Some(id) = self.session.clone() {
            let auth = self.auth.clone();
            let ip = self.ip.clone();
            let r = send(
                &mut self.stream,
                &ip,
                "DELETE",
                "/mcp",
                &[
                    ("Authorization", &auth),
                    ("Mcp-Session-Id", &id),
                    ("MCP-Protocol-Version", "2025-11-25"),
                ],
                "",
            );
            if !std::thread::panicking() {
                assert_eq!(r.status, 200, "DELETE session: {r:?}");
            }
        }
    }
}

fn mcp_post(ip: &str, token: &str, body: &str) -> Resp {
    once(
        ip,
        "POST",
        "/mcp",
        &[
            ("Authorization", &format!("Bearer {token}")),
            ("Content-Type", "application/json"),
            ("Accept", "application/json, text/event-stream"),
        ],
        body,
    )
}

fn tools_list_body() -> String {
    json!({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {"protocolVersion": "2025-11-25", "capabilities": {}, "clientInfo": {"name": "t", "version": "1"}}}).to_string()
}

#[test]
#[ignore = "the client half of tap_end_to_end; runs inside its namespace"]
fn tap_client() {
    let Some(dir) = std::env::var_os("MCPAUTH_TAP_CLIENT_DIR") else {
        println!("tap_client: only run by tap_end_to_end");
        return;
    };
    let tokens: Value =
        serde_json::from_slice(&std::fs::read(Path::new(&dir).join("tokens.json")).unwrap())
            .unwrap();
    let token = |k: &str| tokens[k].as_str().unwrap().to_string();
    let res_a = resource(DEV_A);
    let metadata_url = format!("http://{DEV_A}/.well-known/oauth-protected-resource/mcp");
    let mut checks = 0;
    let mut check = |name: &str| {
        checks += 1;
        println!("tap_client: ok {name}");
    };

    // Discovery documents (RFC 9728), both forms.
    for path in [
        "/.well-known/oauth-protected-resource/mcp",
        "/.well-known/oauth-protected-resource",
    ] {
        let r = once(DEV_A, "GET", path, &[], "");
        assert_eq!(r.status, 200, "{path}: {r:?}");
        let doc = r.json();
        assert_eq!(doc["resource"], res_a);
        assert_eq!(doc["authorization_servers"], json!([ISSUER]));
        assert_eq!(doc["bearer_methods_supported"], json!(["header"]));
        assert!(
            doc["scopes_supported"]
                .as_array()
                .unwrap()
                .contains(&json!("mcp"))
        );
    }
    check("protected-resource metadata (both paths)");
    assert_eq!(once(DEV_A, "GET", "/healthz", &[], "").status, 200);
    assert_eq!(once(DEV_A, "GET", "/nope", &[], "").status, 404);
    check("healthz and 404");

    // 401 challenge without a token.
    let r = once(
        DEV_A,
        "POST",
        "/mcp",
        &[
            ("Content-Type", "application/json"),
            ("Accept", "application/json, text/event-stream"),
        ],
        &tools_list_body(),
    );
    assert_eq!(r.status, 401, "{r:?}");
    let challenge = r.header("WWW-Authenticate").unwrap();
    assert!(challenge.starts_with("Bearer "), "{challenge}");
    assert!(
        challenge.contains(&format!("resource_metadata=\"{metadata_url}\"")),
        "{challenge}"
    );
    assert!(!challenge.contains("error="), "{challenge}");
    check("401 challenge points at the metadata");

    // Tokens the device must refuse.
    for bad in [
        "expired",
        "wrong_audience",
        "wrong_issuer",
        "tampered",
        "unknown_key",
    ] {
        let r = mcp_post(DEV_A, &token(bad), &tools_list_body());
        assert_eq!(r.status, 401, "{bad}: {r:?}");
        let challenge = r.header("WWW-Authenticate").unwrap();
        assert!(
            challenge.contains("error=\"invalid_token\""),
            "{bad}: {challenge}"
        );
        assert!(
            challenge.contains("resource_metadata="),
            "{bad}: {challenge}"
        );
        assert_eq!(r.json()["error"], "invalid_token");
    }
    check("expired / wrong-audience / wrong-issuer / tampered / unknown-key tokens refused");
    let r = mcp_post(DEV_A, &token("no_scope"), &tools_list_body());
    assert_eq!(r.status, 403, "{r:?}");
    assert!(
        r.header("WWW-Authenticate")
            .unwrap()
            .contains("insufficient_scope")
    );
    check("token without the resource scope: 403 insufficient_scope");
    let r = once(
        DEV_A,
        "POST",
        "/mcp",
        &[
            ("Authorization", "Basic YTpi"),
            ("Accept", "application/json, text/event-stream"),
        ],
        &tools_list_body(),
    );
    assert_eq!(r.status, 401);
    check("non-bearer scheme: 401");

    // The device without a clock fails closed, and says why.
    let r = mcp_post(DEV_B, &token("valid_b"), &tools_list_body());
    assert_eq!(r.status, 503, "{r:?}");
    assert_eq!(r.header("Retry-After"), Some("5"));
    assert!(
        r.json()["error_description"]
            .as_str()
            .unwrap()
            .contains("time"),
        "{r:?}"
    );
    assert_eq!(
        once(
            DEV_B,
            "GET",
            "/.well-known/oauth-protected-resource/mcp",
            &[],
            ""
        )
        .status,
        200
    );
    check("unknown wall clock: 503 with a clear error, metadata still served");

    // The real thing: handshake, tools/list, tools/call on one keep-alive
    // connection.
    let mut c = McpClient::new(DEV_A, &token("valid"));
    let r = c.rpc(2, "tools/list", json!({}));
    assert_eq!(r.status, 200, "{r:?}");
    let names: Vec<String> = r.json()["result"]["tools"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["name"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(names.len(), 4, "{names:?}");
    for n in ["echo", "device_status", "wait", "actuate"] {
        assert!(names.iter().any(|x| x == n), "{names:?}");
    }
    check("tools/list");
    let r = c.rpc(
        3,
        "tools/call",
        json!({"name": "echo", "arguments": {"text": "hello device"}}),
    );
    assert_eq!(r.status, 200, "{r:?}");
    assert_eq!(r.json()["result"]["content"][0]["text"], "hello device");
    let r = c.rpc(
        4,
        "tools/call",
        json!({"name": "device_status", "arguments": {}}),
    );
    assert!(
        r.json()["result"]["content"][0]["text"]
            .as_str()
            .unwrap()
            .contains("caller=alice"),
        "{r:?}"
    );
    check("tools/call echo + device_status (principal reaches the tool), keep-alive");

    // Step-up: a tool needing mcp:admin.
    let r = c.rpc(
        5,
        "tools/call",
        json!({"name": "actuate", "arguments": {"on": true}}),
    );
    assert_eq!(r.status, 403, "{r:?}");
    let challenge = r.header("WWW-Authenticate").unwrap();
    assert!(
        challenge.contains("error=\"insufficient_scope\""),
        "{challenge}"
    );
    assert!(challenge.contains("mcp:admin"), "{challenge}");
    let mut admin = McpClient::new(DEV_A, &token("admin"));
    let r = admin.rpc(
        2,
        "tools/call",
        json!({"name": "actuate", "arguments": {"on": true}}),
    );
    assert_eq!(r.status, 200, "{r:?}");
    assert_eq!(r.json()["result"]["content"][0]["text"], "relay on");
    check("403 insufficient_scope step-up, then allowed with mcp:admin");
    drop(c);
    drop(admin);

    // Limits: too large a head, too large a body, chunked upload.
    let mut s = connect(DEV_A);
    let big = "a".repeat(5000);
    let r = send(&mut s, DEV_A, "GET", "/healthz", &[("X-Big", &big)], "");
    assert_eq!(r.status, 431);
    let mut s = connect(DEV_A);
    s.write_all(b"POST /mcp HTTP/1.1\r\nHost: x\r\nContent-Length: 100000\r\n\r\n")
        .unwrap();
    assert_eq!(read_response(&mut s).status, 413);
    let mut s = connect(DEV_A);
    s.write_all(b"POST /mcp HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n")
        .unwrap();
    assert_eq!(read_response(&mut s).status, 501);
    check("431 / 413 / 501 framing limits");

    // A slow tool call on one socket does not hold up the others.
    let slow = std::thread::spawn({
        let t = token("valid");
        move || {
            let mut c = McpClient::new(DEV_A, &t);
            let started = Instant::now();
            let r = c.rpc(
                9,
                "tools/call",
                json!({"name": "wait", "arguments": {"ms": 1500}}),
            );
            assert_eq!(r.status, 200, "{r:?}");
            started.elapsed().as_secs_f64()
        }
    });
    std::thread::sleep(Duration::from_millis(300));
    let started = Instant::now();
    let mut quick = McpClient::new(DEV_A, &token("valid"));
    let r = quick.rpc(
        9,
        "tools/call",
        json!({"name": "echo", "arguments": {"text": "meanwhile"}}),
    );
    assert_eq!(r.status, 200, "{r:?}");
    drop(quick);
    let quick_secs = started.elapsed().as_secs_f64();
    let slow_secs = slow.join().unwrap();
    assert!(slow_secs >= 1.4, "the slow call took {slow_secs:.2}s");
    assert!(
        quick_secs < 0.9,
        "a quick call waited {quick_secs:.2}s behind a slow one"
    );
    check(&format!(
        "a 1.5 s tool call on one socket; a full session on another meanwhile took {quick_secs:.2}s"
    ));

    // Pipelining: two requests in one write, two responses in order.
    let mut s = connect(DEV_A);
    s.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\nGET /nope HTTP/1.1\r\nHost: x\r\n\r\n")
        .unwrap();
    assert_eq!(read_response(&mut s).status, 200);
    assert_eq!(read_response(&mut s).status, 404);
    check("pipelined requests answered in order");

    // Timeouts (embassy-time on the device): a request that stalls after
    // its first bytes gets 408 after the request timeout (1.5 s here); a
    // connection that never sends anything is closed after the idle
    // timeout (3 s here). Both run at once.
    let started = Instant::now();
    let mut slow = connect(DEV_A);
    let mut silent = connect(DEV_A);
    slow.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")
        .unwrap();
    let r = read_response(&mut slow);
    assert_eq!(r.status, 408, "{r:?}");
    assert_eq!(r.header("Connection"), Some("close"));
    let slow_secs = started.elapsed().as_secs_f64();
    assert!((1.2..6.0).contains(&slow_secs), "408 after {slow_secs:.2}s");
    let mut byte = [0u8; 1];
    let n = silent.read(&mut byte).unwrap_or(0);
    assert_eq!(n, 0, "the idle connection was not closed");
    let idle_secs = started.elapsed().as_secs_f64();
    assert!(
        (2.5..8.0).contains(&idle_secs),
        "closed after {idle_secs:.2}s"
    );
    check(&format!(
        "request timeout: 408 after {slow_secs:.1}s; idle timeout: closed after {idle_secs:.1}s"
    ));

    // Concurrency: one idle connection holds a socket while SOCKETS - 1
    // clients work in parallel, each on its own keep-alive connection.
    let idle = connect(DEV_A);
    let started = Instant::now();
    let workers: Vec<_> = (0..SOCKETS - 1)
        .map(|i| {
            let t = token("valid");
            std::thread::spawn(move || {
                let mut c = McpClient::new(DEV_A, &t);
                for j in 0..5 {
                    let text = format!("worker {i} call {j}");
                    let r = c.rpc(
                        10 + j,
                        "tools/call",
                        json!({"name": "echo", "arguments": {"text": text}}),
                    );
                    assert_eq!(r.status, 200, "{r:?}");
                    assert_eq!(r.json()["result"]["content"][0]["text"], text);
                }
            })
        })
        .collect();
    for w in workers {
        w.join().unwrap();
    }
    check(&format!(
        "{} concurrent clients x 7 requests while one idle connection holds a socket ({:.2}s)",
        SOCKETS - 1,
        started.elapsed().as_secs_f64()
    ));
    drop(idle);

    // More clients than sockets: each retries a refused connect, all are
    // served eventually.
    let started = Instant::now();
    let burst: Vec<_> = (0..SOCKETS * 2)
        .map(|i| {
            std::thread::spawn(move || {
                let deadline = Instant::now() + Duration::from_secs(30);
                loop {
                    let addr: SocketAddr = format!("{DEV_A}:80").parse().unwrap();
                    match TcpStream::connect_timeout(&addr, Duration::from_secs(2)) {
                        Ok(mut s) => {
                            s.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
                            let r = send(
                                &mut s,
                                DEV_A,
                                "GET",
                                "/healthz",
                                &[("Connection", "close")],
                                "",
                            );
                            assert_eq!(r.status, 200, "client {i}");
                            return;
                        }
                        Err(_) if Instant::now() < deadline => {
                            std::thread::sleep(Duration::from_millis(20));
                        }
                        Err(e) => panic!("client {i} never served: {e}"),
                    }
                }
            })
        })
        .collect();
    for b in burst {
        b.join().unwrap();
    }
    check(&format!(
        "{} simultaneous clients on {SOCKETS} sockets all served ({:.2}s)",
        SOCKETS * 2,
        started.elapsed().as_secs_f64()
    ));
    checks += standalone_flow();
    checks += shared_vectors(&tokens);
    checks += registration_budget(DEV_E);
    checks += fleet_with_issuer(Path::new(&dir));
    println!("tap_client: {checks} checks passed");
}

/// The shared HTTP vectors (`tests/vectors/http.json`) over TCP against
/// both device shapes, each with a listed origin and with `*`: the same
/// answers as the core router in process and `mcpauth serve` over HTTP.
fn shared_vectors(tokens: &Value) -> usize {
    let mut failures = Vec::new();
    let mut passed = 0;
    for (ip, shape, any, clock_known) in VECTOR_DEVICES {
        let minted = &tokens[format!("vectors {ip}")];
        let target = Target {
            host: "embassy",
            shape,
            origins: if any { Origins::Any } else { Origins::Listed },
            clock_known,
            issuer: match shape {
                "fleet" => ISSUER.to_string(),
                _ => format!("http://{ip}"),
            },
            resource: resource(ip),
            tokens: minted
                .as_object()
                .unwrap()
                .iter()
                .map(|(k, v)| (k.clone(), v.as_str().unwrap().to_string()))
                .collect(),
        };
        let mut report = Report::default();
        for case in cases_for(&target, &mut report) {
            let req = case.request(&target);
            let headers: Vec<(&str, &str)> = req
                .headers
                .iter()
                .map(|(n, v)| (n.as_str(), v.as_str()))
                .collect();
            let body = String::from_utf8(req.body.clone()).unwrap();
            let r = once(ip, &req.method, &req.target(), &headers, &body);
            let seen = VectorResponse {
                status: r.status,
                headers: r.headers,
                body: r.body,
            };
            report.record(case.check(&target, &seen));
        }
        println!("tap_client: vectors {}", report.summary(&target));
        passed += report.passed;
        failures.extend(report.failures);
    }
    assert!(failures.is_empty(), "{} vector failures", failures.len());
    passed
}

fn urlencode(s: &str) -> String {
    let mut out = String::new();
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

fn form(pairs: &[(&str, &str)]) -> String {
    pairs
        .iter()
        .map(|(k, v)| format!("{}={}", urlencode(k), urlencode(v)))
        .collect::<Vec<_>>()
        .join("&")
}

fn hidden(page: &str, name: &str) -> String {
    let marker = format!("name=\"{name}\" value=\"");
    let start = page.find(&marker).unwrap() + marker.len();
    page[start..][..page[start..].find('"').unwrap()].to_string()
}

fn query_param(url: &str, name: &str) -> Option<String> {
    let q = url.split_once('?')?.1;
    q.split('&').find_map(|kv| {
        let (k, v) = kv.split_once('=')?;
        (k == name).then(|| v.to_string())
    })
}

/// The standalone device as its own issuer: discovery, registration, the
/// sign-in page with the device password, PKCE code exchange, MCP with the
/// issued token, code replay, refresh, revocation reaching the MCP guard.
fn standalone_flow() -> usize {
    let ip = DEV_C;
    let issuer = format!("http://{ip}");
    let resource = format!("{issuer}/mcp");
    let mut checks = 0;
    let mut check = |name: &str| {
        checks += 1;
        println!("tap_client: ok standalone: {name}");
    };

    let r = once(
        ip,
        "GET",
        "/.well-known/oauth-authorization-server",
        &[],
        "",
    );
    assert_eq!(r.status, 200, "{r:?}");
    let meta = r.json();
    assert_eq!(meta["issuer"], issuer);
    assert_eq!(meta["token_endpoint"], format!("{issuer}/token"));
    assert!(
        meta["code_challenge_methods_supported"]
            .as_array()
            .unwrap()
            .contains(&json!("S256"))
    );
    let r = once(
        ip,
        "GET",
        "/.well-known/oauth-protected-resource/mcp",
        &[],
        "",
    );
    assert_eq!(r.status, 200, "{r:?}");
    assert_eq!(r.json()["authorization_servers"], json!([issuer]));
    let r = once(ip, "GET", "/jwks.json", &[], "");
    assert_eq!(r.status, 200);
    assert_eq!(r.json()["keys"].as_array().unwrap().len(), 1);
    let r = once(
        ip,
        "POST",
        "/mcp",
        &[("Accept", "application/json, text/event-stream")],
        "{}",
    );
    assert_eq!(r.status, 401, "{r:?}");
    assert!(r.header("WWW-Authenticate").unwrap().contains(&format!(
        "resource_metadata=\"{issuer}/.well-known/oauth-protected-resource/mcp\""
    )));
    check("discovery (RFC 8414, RFC 9728), JWKS, 401 challenge");

    let reg = json!({
        "redirect_uris": [REDIRECT],
        "token_endpoint_auth_method": "none",
        "grant_types": ["authorization_code", "refresh_token"],
        "client_name": "tap test"
    })
    .to_string();
    let r = once(
        ip,
        "POST",
        "/register",
        &[("Content-Type", "application/json")],
        &reg,
    );
    assert_eq!(r.status, 201, "{r:?}");
    let client_id = r.json()["client_id"].as_str().unwrap().to_string();
    check("dynamic client registration");

    let verifier = "tap-test-verifier-0123456789-abcdefghijklmnopqrstuvwxyz";
    let challenge = mcpauth_core::oauth::pkce::s256_challenge(verifier);
    let authorize_path = format!(
        "/authorize?{}",
        form(&[
            ("response_type", "code"),
            ("client_id", &client_id),
            ("redirect_uri", REDIRECT),
            ("code_challenge", &challenge),
            ("code_challenge_method", "S256"),
            ("state", "xyz"),
            ("scope", "mcp"),
            ("resource", &resource),
        ])
    );
    let sign_in = |password: &str| -> Resp {
        let page = once(ip, "GET", &authorize_path, &[], "");
        assert_eq!(page.status, 200, "{page:?}");
        let cookie = page
            .header("Set-Cookie")
            .unwrap()
            .split(';')
            .next()
            .unwrap()
            .to_string();
        let html = String::from_utf8(page.body.clone()).unwrap();
        let body = form(&[
            ("request_id", &hidden(&html, "request_id")),
            ("csrf", &hidden(&html, "csrf")),
            ("username", "admin"),
            ("password", password),
            ("decision", "allow"),
        ]);
        once(
            ip,
            "POST",
            "/authorize",
            &[
                ("Content-Type", "application/x-www-form-urlencoded"),
                ("Cookie", &cookie),
            ],
            &body,
        )
    };
    let wrong = sign_in("not the password");
    assert_ne!(wrong.status, 303, "{wrong:?}");
    assert!(wrong.header("Location").is_none());
    let ok = sign_in(DEVICE_PASSWORD);
    assert_eq!(ok.status, 303, "{ok:?}");
    let location = ok.header("Location").unwrap().to_string();
    assert!(location.starts_with(REDIRECT), "{location}");
    assert_eq!(query_param(&location, "state").as_deref(), Some("xyz"));
    let code = query_param(&location, "code").unwrap();
    check("sign-in page: wrong device password refused, right one redirects with a code");

    let token_form = |extra: &[(&str, &str)]| {
        let mut pairs = vec![("client_id", client_id.as_str())];
        pairs.extend_from_slice(extra);
        once(
            ip,
            "POST",
            "/token",
            &[("Content-Type", "application/x-www-form-urlencoded")],
            &form(&pairs),
        )
    };
    let exchange = |code: &str| {
        token_form(&[
            ("grant_type", "authorization_code"),
            ("code", code),
            ("redirect_uri", REDIRECT),
            ("code_verifier", verifier),
        ])
    };
    let r = exchange(&code);
    assert_eq!(r.status, 200, "{r:?}");
    let tokens = r.json();
    let first_access = tokens["access_token"].as_str().unwrap().to_string();
    assert_eq!(tokens["token_type"], "Bearer");
    check("PKCE code exchange");

    let mut c = McpClient::new(ip, &first_access);
    let r = c.rpc(
        2,
        "tools/call",
        json!({"name": "device_status", "arguments": {}}),
    );
    assert_eq!(r.status, 200, "{r:?}");
    assert!(
        r.json()["result"]["content"][0]["text"]
            .as_str()
            .unwrap()
            .contains("caller=admin")
    );
    drop(c);
    check("MCP tools/call with the device-issued token (caller = device account)");

    let replay = exchange(&code);
    assert_eq!(replay.status, 400, "{replay:?}");
    assert_eq!(replay.json()["error"], "invalid_grant");
    let r = mcp_post(ip, &first_access, &tools_list_body());
    assert_eq!(
        r.status, 401,
        "token of a replayed code still accepted: {r:?}"
    );
    check("code replay refused, and the MCP guard then refuses the token it produced");

    // A second grant for refresh and revocation.
    let ok = sign_in(DEVICE_PASSWORD);
    assert_eq!(ok.status, 303, "{ok:?}");
    let code = query_param(ok.header("Location").unwrap(), "code").unwrap();
    let r = exchange(&code);
    assert_eq!(r.status, 200, "{r:?}");
    let access = r.json()["access_token"].as_str().unwrap().to_string();
    let refresh = r.json()["refresh_token"].as_str().unwrap().to_string();
    let r = token_form(&[("grant_type", "refresh_token"), ("refresh_token", &refresh)]);
    assert_eq!(r.status, 200, "{r:?}");
    let access2 = r.json()["access_token"].as_str().unwrap().to_string();
    let r = token_form(&[("grant_type", "refresh_token"), ("refresh_token", &refresh)]);
    assert_eq!(r.status, 400, "reused refresh token: {r:?}");
    check("refresh rotation; reuse of the old refresh token refused");

    let r = once(
        ip,
        "POST",
        "/revoke",
        &[("Content-Type", "application/x-www-form-urlencoded")],
        &form(&[("token", &access), ("client_id", &client_id)]),
    );
    assert_eq!(r.status, 200, "{r:?}");
    let r = mcp_post(ip, &access, &tools_list_body());
    assert_eq!(r.status, 401, "revoked token still accepted: {r:?}");
    let _ = access2;
    check("revoked access token refused by the MCP guard");
    checks
}

/// Open registration on a standalone device is budgeted per peer: this
/// client's address may register at most 3 clients per 10-minute window
/// (`RegistrationLimiter::device`), then gets 429. Run after the shared
/// vectors, which may have spent some of that budget on `ip`.
fn registration_budget(ip: &str) -> usize {
    let reg =
        json!({"redirect_uris": [REDIRECT], "token_endpoint_auth_method": "none"}).to_string();
    let window = || {
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_secs()
            / 600
    };
    loop {
        let started_in = window();
        let mut created = 0;
        let refusal = loop {
            let r = once(
                ip,
                "POST",
                "/register",
                &[("Content-Type", "application/json")],
                &reg,
            );
            match r.status {
                201 => created += 1,
                429 => break r,
                _ => panic!("registration: {r:?}"),
            }
            assert!(created <= 6, "no per-peer budget on {ip}");
        };
        if window() != started_in {
            continue; // a window ended meanwhile: count again
        }
        assert!(created <= 3, "{created} registrations from one peer");
        assert_eq!(refusal.json()["error"], "temporarily_unavailable");
        assert!(refusal.header("Retry-After").is_some(), "{refusal:?}");
        println!("tap_client: ok registration budget: {created} more served, then 429");
        return 1;
    }
}

/// A running `mcpauth serve` in the namespace; killed on drop.
struct Issuer {
    child: Child,
}

impl Issuer {
    fn start(bin: &Path, data: &Path) -> Issuer {
        let device = format!(
            "http://{DEV_D}/mcp;name=TAP device;scopes=mcp,mcp:admin;access_token_ttl={DEVICE_TOKEN_TTL}s"
        );
        let issuer = Issuer {
            child: Command::new(bin)
                .args([
                    "serve",
                    "--listen",
                    "0.0.0.0:80",
                    "--public-url",
                    FLEET_ISSUER,
                ])
                .arg("--data-dir")
                .arg(data)
                .args(["--log", "warn", "--resource", &device])
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .spawn()
                .unwrap(),
        };
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let up = TcpStream::connect("127.0.0.1:80").is_ok_and(|mut s| {
                s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
                send(&mut s, "127.0.0.1", "GET", "/healthz", &[], "").status == 200
            });
            if up {
                return issuer;
            }
            assert!(Instant::now() < deadline, "mcpauth serve did not come up");
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

impl Drop for Issuer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Claims of a JWT, unverified (to read `kid`, `aud` and `exp`).
fn jwt_part(token: &str, index: usize) -> Value {
    use base64ct::{Base64UrlUnpadded, Encoding};
    let part = token.split('.').nth(index).unwrap();
    serde_json::from_slice(&Base64UrlUnpadded::decode_vec(part).unwrap()).unwrap()
}

/// A 2026-07-28 request (no session; version and method in headers and
/// `_meta`).
fn modern_call(ip: &str, token: &str, tool: &str, arguments: Value) -> Resp {
    let body = json!({"jsonrpc": "2.0", "id": 7, "method": "tools/call", "params": {
        "name": tool, "arguments": arguments,
        "_meta": {
            "io.modelcontextprotocol/protocolVersion": "2026-07-28",
            "io.modelcontextprotocol/clientCapabilities": {}
        }
    }})
    .to_string();
    once(
        ip,
        "POST",
        "/mcp",
        &[
            ("Authorization", &format!("Bearer {token}")),
            ("Content-Type", "application/json"),
            ("Accept", "application/json, text/event-stream"),
            ("MCP-Protocol-Version", "2026-07-28"),
            ("Mcp-Method", "tools/call"),
            ("Mcp-Name", tool),
        ],
        &body,
    )
}

/// `device_status` in the 2025-11-25 era (session) and `echo` in the
/// 2026-07-28 era; returns the device's uptime.
fn call_device_both_eras(token: &str) -> u64 {
    let mut c = McpClient::new(DEV_D, token);
    let r = c.rpc(
        2,
        "tools/call",
        json!({"name": "device_status", "arguments": {}}),
    );
    assert_eq!(r.status, 200, "2025-11-25 tools/call: {r:?}");
    let text = r.json()["result"]["content"][0]["text"]
        .as_str()
        .unwrap()
        .to_string();
    drop(c);
    let r = modern_call(DEV_D, token, "echo", json!({"text": "2026 era"}));
    assert_eq!(r.status, 200, "2026-07-28 tools/call: {r:?}");
    assert_eq!(
        r.json()["result"]["content"][0]["text"],
        "2026 era",
        "{r:?}"
    );
    text.split_whitespace()
        .find_map(|w| w.strip_prefix("uptime_secs="))
        .unwrap()
        .parse()
        .unwrap()
}

/// The fleet as deployed: a real `mcpauth serve` issues the device's
/// tokens through sign-in and consent; the device follows a key rotation
/// without a restart; revocation reaches it within the documented bound.
fn fleet_with_issuer(dir: &Path) -> usize {
    let bin = PathBuf::from(std::env::var_os("MCPAUTH_TAP_ISSUER_BIN").unwrap());
    let data = dir.join("issuer-data");
    let device_resource = resource(DEV_D);
    let mut checks = 0;
    let mut check = |name: &str| {
        checks += 1;
        println!("tap_client: ok fleet: {name}");
    };

    let issuer = Issuer::start(&bin, &data);
    let jwks = once("127.0.0.1", "GET", "/.well-known/jwks.json", &[], "");
    assert_eq!(jwks.status, 200);
    let jwks_path = dir.join("issuer-jwks.json");
    std::fs::write(&jwks_path, &jwks.body).unwrap();
    let mut device = Command::new(env!("CARGO_BIN_EXE_mcpauth-embassy-tap"))
        .args([
            "--tap",
            "tap3",
            "--ip",
            &format!("{DEV_D}/24"),
            "--port",
            "80",
        ])
        .args(["--issuer", FLEET_ISSUER, "--resource", &device_resource])
        .arg("--jwks")
        .arg(&jwks_path)
        .args([
            "--jwks-url",
            &format!("http://{ISSUER_LINK}/.well-known/jwks.json"),
            "--leeway-secs",
            &DEVICE_LEEWAY.to_string(),
            "--unknown-kid-spacing-secs",
            "1",
        ])
        .spawn()
        .unwrap();
    let device_alive = |device: &mut Child| device.try_wait().unwrap().is_none();

    // A client gets a device token through sign-in and consent.
    let reg = json!({
        "redirect_uris": [REDIRECT],
        "token_endpoint_auth_method": "none",
        "grant_types": ["authorization_code", "refresh_token"],
        "client_name": "tap fleet"
    })
    .to_string();
    let r = once(
        "127.0.0.1",
        "POST",
        "/register",
        &[("Content-Type", "application/json")],
        &reg,
    );
    assert_eq!(r.status, 201, "{r:?}");
    let client_id = r.json()["client_id"].as_str().unwrap().to_string();
    let verifier = "tap-fleet-verifier-0123456789-abcdefghijklmnopqrstuvwxyz";
    let grant = |target: &str, name: &str| -> Value {
        let path = format!(
            "/authorize?{}",
            form(&[
                ("response_type", "code"),
                ("client_id", &client_id),
                ("redirect_uri", REDIRECT),
                (
                    "code_challenge",
                    &mcpauth_core::oauth::pkce::s256_challenge(verifier)
                ),
                ("code_challenge_method", "S256"),
                ("state", "st"),
                ("scope", "mcp"),
                ("resource", target),
            ])
        );
        let page = once("127.0.0.1", "GET", &path, &[], "");
        assert_eq!(page.status, 200, "{page:?}");
        let html = String::from_utf8(page.body.clone()).unwrap();
        assert!(
            html.contains(&format!("<strong>{name}</strong>")) && html.contains(target),
            "the consent page names {name}: {html}"
        );
        let cookie = page
            .header("Set-Cookie")
            .unwrap()
            .split(';')
            .next()
            .unwrap();
        let body = form(&[
            ("request_id", &hidden(&html, "request_id")),
            ("csrf", &hidden(&html, "csrf")),
            ("username", "alice"),
            ("password", ALICE_PASSWORD),
            ("decision", "allow"),
        ]);
        let r = once(
            "127.0.0.1",
            "POST",
            "/authorize",
            &[
                ("Content-Type", "application/x-www-form-urlencoded"),
                ("Cookie", cookie),
            ],
            &body,
        );
        assert_eq!(r.status, 303, "{r:?}");
        let code = query_param(r.header("Location").unwrap(), "code").unwrap();
        let r = once(
            "127.0.0.1",
            "POST",
            "/token",
            &[("Content-Type", "application/x-www-form-urlencoded")],
            &form(&[
                ("grant_type", "authorization_code"),
                ("code", &code),
                ("redirect_uri", REDIRECT),
                ("code_verifier", verifier),
                ("client_id", &client_id),
            ]),
        );
        assert_eq!(r.status, 200, "{r:?}");
        r.json()
    };
    let tokens = grant(&device_resource, "TAP device");
    let access = tokens["access_token"].as_str().unwrap().to_string();
    let refresh = tokens["refresh_token"].as_str().unwrap().to_string();
    assert_eq!(tokens["expires_in"], DEVICE_TOKEN_TTL);
    assert_eq!(jwt_part(&access, 1)["aud"], device_resource.as_str());
    assert_eq!(jwt_part(&access, 1)["iss"], FLEET_ISSUER);
    check("device token from mcpauth serve through sign-in and a consent page naming the device");

    let uptime_before = call_device_both_eras(&access);
    check("device tools/call with it in the 2025-11-25 and 2026-07-28 eras");

    // Tokens for the issuer's own /mcp are the issuer's only, and the other
    // way round.
    let own = grant(&format!("{FLEET_ISSUER}/mcp"), "MCP server");
    let own_access = own["access_token"].as_str().unwrap();
    let r = mcp_post(DEV_D, own_access, &tools_list_body());
    assert_eq!(
        r.status, 401,
        "the issuer's /mcp token at the device: {r:?}"
    );
    assert!(
        r.header("WWW-Authenticate")
            .unwrap()
            .contains("invalid_token")
    );
    let r = mcp_post("127.0.0.1", &access, &tools_list_body());
    assert_eq!(
        r.status, 401,
        "the device token at the issuer's /mcp: {r:?}"
    );
    check("a token for the issuer's /mcp is refused by the device, and a device token by /mcp");

    // The operator rotates the signing key while the issuer keeps running:
    // `mcpauth keys rotate` hands the command to the server's admin socket
    // (`<data dir>/admin.sock`), which installs the new key at once. The
    // device keeps running too.
    let old_kid = jwt_part(&access, 0)["kid"].as_str().unwrap().to_string();
    let out = Command::new(&bin)
        .args(["keys", "rotate", "--data-dir"])
        .arg(&data)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "keys rotate: {stdout} {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        stdout.contains("in use now"),
        "the running server took the rotation (live, through its admin socket): {stdout}"
    );
    let mut issuer = issuer;
    assert!(
        issuer.child.try_wait().unwrap().is_none(),
        "the issuer kept running"
    );
    let r = once(
        "127.0.0.1",
        "POST",
        "/token",
        &[("Content-Type", "application/x-www-form-urlencoded")],
        &form(&[
            ("grant_type", "refresh_token"),
            ("refresh_token", &refresh),
            ("client_id", &client_id),
        ]),
    );
    assert_eq!(r.status, 200, "{r:?}");
    let rotated = r.json()["access_token"].as_str().unwrap().to_string();
    let new_kid = jwt_part(&rotated, 0)["kid"].as_str().unwrap().to_string();
    assert_ne!(new_kid, old_kid, "the new token is signed by the new key");
    // Fetches prompted by unknown kids are at least 1 s apart here (the
    // device counts its boot as a fetch): wait that out so the first call
    // may fetch.
    std::thread::sleep(Duration::from_millis(1200));
    let uptime_after = call_device_both_eras(&rotated);
    assert!(device_alive(&mut device), "the device process restarted");
    assert!(
        uptime_after >= uptime_before,
        "device uptime went back: {uptime_before} → {uptime_after}"
    );
    let r = modern_call(DEV_D, &access, "echo", json!({"text": "old key"}));
    assert_eq!(
        r.status, 200,
        "a token of the old key while it is published: {r:?}"
    );
    check(&format!(
        "after `mcpauth keys rotate` on the running issuer (admin socket, no restart) a new-key token works on the running device (uptime {uptime_before} s → {uptime_after} s), the old key too"
    ));

    // Revocation: the issuer refuses the revoked token at once; the device
    // cannot know and refuses it once it expires (+ its leeway): the
    // documented bound is the device resource's access-token lifetime.
    let r = once(
        "127.0.0.1",
        "POST",
        "/revoke",
        &[("Content-Type", "application/x-www-form-urlencoded")],
        &form(&[("token", &rotated), ("client_id", &client_id)]),
    );
    assert_eq!(r.status, 200, "{r:?}");
    let r = once(
        "127.0.0.1",
        "POST",
        "/introspect",
        &[("Content-Type", "application/x-www-form-urlencoded")],
        &form(&[("token", &rotated), ("client_id", &client_id)]),
    );
    assert_eq!(r.json()["active"], false, "{r:?}");
    let exp = jwt_part(&rotated, 1)["exp"].as_u64().unwrap();
    let now = || {
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_secs()
    };
    let revoked_at = now();
    let bound = exp + DEVICE_LEEWAY + 1;
    assert!(
        bound - revoked_at <= DEVICE_TOKEN_TTL + DEVICE_LEEWAY + 1,
        "the bound is the lifetime plus the leeway"
    );
    std::thread::sleep(Duration::from_secs(bound.saturating_sub(now())));
    let r = modern_call(DEV_D, &rotated, "echo", json!({"text": "late"}));
    assert_eq!(r.status, 401, "a revoked token past its bound: {r:?}");
    assert!(
        r.header("WWW-Authenticate")
            .unwrap()
            .contains("invalid_token")
    );
    check(&format!(
        "a revoked device token is refused by the device {} s after revocation (bound: {DEVICE_TOKEN_TTL} s lifetime + {DEVICE_LEEWAY} s leeway)",
        now() - revoked_at
    ));

    assert!(device_alive(&mut device), "the device process exited");
    let _ = device.kill();
    let _ = device.wait();
    drop(issuer);
    checks
}
