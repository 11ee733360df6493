//! Resource-server mode over HTTP, two real processes: one `mcpauth serve`
//! issuer declaring the second process's resources, and one
//! `mcpauth serve --issuer` resource server (no authorization server of its
//! own) with the built-in tools at `/mcp` and the auth proxy at `/files`.
//!
//! A token obtained through the real flow (register, sign-in + consent,
//! token) for the resource server's resource works there and is refused at
//! the issuer's own `/mcp`; the issuer's own token is refused at the
//! resource server; garbage, forged, foreign-issuer, expired and wrongly
//! typed tokens get the RFC 6750 `invalid_token` challenge; after
//! `mcpauth keys rotate` at the issuer (the embedded database belongs to one
//! process, so the issuer is stopped for the rotation and started again on
//! the same port; the resource server is never restarted), tokens signed by
//! the new key work at the resource server, found through its JWKS refresh
//! on the unknown `kid`.

mod common;
mod upstream_support;

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64ct::{Base64UrlUnpadded, Encoding};
use common::metrics::scrape;
use common::oauth::{Flow, PASSWORD, register_public_client};
use common::*;
use mcpauth::backend::Backend;
use mcpauth::backend::HostStore;
use mcpauth_core::jose::{AccessTokenClaims, Audience, KeySet};
use mcpauth_core::rand::InsecureSeededRandom;
use serde_json::{Value, json};
use sha2::Sha256;

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("clock")
        .as_secs()
}

fn add_alice(dir: &std::path::Path) {
    let (code, _, err) = cli(dir, &["user", "add", "alice"], &format!("{PASSWORD}\n"));
    assert_eq!(code, 0, "{err}");
}

/// The issuer's key set as `mcpauth serve` loads it from its data
/// directory (created here first when absent; the issuer must be stopped).
fn issuer_keys(dir: &std::path::Path) -> KeySet {
    let backend = Backend::open(None, dir).expect("open the data directory");
    let keys = mcpauth::keys::load_or_create(&backend, 3600, now()).expect("key");
    backend.close();
    keys
}

fn b64(v: &Value) -> String {
    Base64UrlUnpadded::encode_string(v.to_string().as_bytes())
}

/// The decoded header or claims segment of a JWT.
fn segment(jwt: &str, n: usize) -> Value {
    let part = jwt.split('.').nth(n).expect("a JWT");
    serde_json::from_slice(&Base64UrlUnpadded::decode_vec(part).expect("b64")).expect("json")
}

/// RS256 through the core's issuing code.
fn mint(keys: &KeySet, iss: &str, aud: &str, iat: u64, exp: u64) -> String {
    mint_nbf(keys, iss, aud, iat, exp, None)
}

/// [`mint`] with an `nbf` claim.
fn mint_nbf(keys: &KeySet, iss: &str, aud: &str, iat: u64, exp: u64, nbf: Option<u64>) -> String {
    let mut extra = serde_json::Map::new();
    if let Some(nbf) = nbf {
        extra.insert("nbf".into(), nbf.into());
    }
    let claims = AccessTokenClaims {
        iss: iss.into(),
        sub: "alice".into(),
        aud: Audience::One(aud.into()),
        client_id: "forger".into(),
        scope: "mcp".into(),
        iat,
        exp,
        jti: format!("minted-{iat}-{exp}"),
        extra,
    };
    keys.issue_access_token(&claims, &mut InsecureSeededRandom::new(3))
        .expect("sign")
}

/// A JWS with any header, RS256-signed with `keys`' signing key.
fn sign_with_header(keys: &KeySet, header: &Value, claims: &Value) -> String {
    let input = format!("{}.{}", b64(header), b64(claims));
    let key = keys.signing_key().expect("signing key").rsa();
    let sig = key.pkcs1v15_sign::<Sha256>(input.as_bytes()).expect("sign");
    format!("{input}.{}", Base64UrlUnpadded::encode_string(&sig))
}

/// `tools/call whoami` at `base`/mcp in a new MCP session; a refused
/// `initialize` is the answer.
async fn whoami(http: &reqwest::Client, base: &str, token: &str) -> Reply {
    let flow = Flow {
        http: http.clone(),
        base: base.to_owned(),
        public: base.to_owned(),
        client_id: String::new(),
    };
    let init = flow
        .mcp(
            Some(token),
            None,
            json!({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
                "protocolVersion": "2025-06-18", "capabilities": {},
                "clientInfo": {"name": "e2e", "version": "1"}}}),
        )
        .await;
    if init.status != 200 {
        return init;
    }
    flow.whoami(token).await
}

fn assert_invalid_token(r: &Reply, what: &str) {
    assert_eq!(r.status, 401, "{what}: {}", r.body);
    let challenge = r
        .headers
        .get("www-authenticate")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_else(|| panic!("{what}: no WWW-Authenticate"));
    assert!(
        challenge.starts_with("Bearer ") && challenge.contains("error=\"invalid_token\""),
        "{what}: {challenge}"
    );
    assert!(
        challenge.contains("resource_metadata=\""),
        "{what}: {challenge}"
    );
    assert_eq!(r.body["error"], "invalid_token", "{what}");
}

async fn get(http: &reqwest::Client, url: &str) -> (u16, Value) {
    let r = http.get(url).send().await.expect("GET");
    let status = r.status().as_u16();
    let body = serde_json::from_slice(&r.bytes().await.expect("body")).unwrap_or(Value::Null);
    (status, body)
}

/// `mcpauth serve --issuer ISSUER` on `port` (a loopback issuer allowed),
/// fetching the issuer's keys on an unknown `kid` at most every
/// `min_interval`, with `extra` arguments.
async fn start_resource_server(
    dir: &std::path::Path,
    port: u16,
    issuer: &str,
    min_interval: &str,
    extra: &[&str],
) -> Server {
    let mut args = vec![
        "--issuer",
        issuer,
        "--issuer-allow-private",
        "--issuer-jwks-min-interval",
        min_interval,
    ];
    args.extend_from_slice(extra);
    Server::start_on(dir, port, &args).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_issuer_and_a_resource_server_in_two_processes() {
    let (_upstream, upstream_addr) = upstream_support::start().await;
    let issuer_dir = TempDir::new("rs-issuer");
    let rs_dir = TempDir::new("rs-server");
    add_alice(&issuer_dir.0);
    let first_keys = issuer_keys(&issuer_dir.0);

    let issuer_port = free_port();
    let rs_port = free_port();
    let issuer_url = format!("http://127.0.0.1:{issuer_port}");
    let rs_url = format!("http://127.0.0.1:{rs_port}");
    let rs_mcp = format!("{rs_url}/mcp");
    let rs_files = format!("{rs_url}/files");
    let issuer_args = [
        "--resource".to_owned(),
        format!("{rs_mcp};name=Remote tools;kind=external"),
        "--resource".to_owned(),
        format!("{rs_files};name=Remote files;kind=external"),
    ];
    let issuer_args: Vec<&str> = issuer_args.iter().map(String::as_str).collect();
    let issuer = Server::start_on(&issuer_dir.0, issuer_port, &issuer_args).await;
    let upstream = format!("/files=http://{upstream_addr}/mcp");
    let rs = start_resource_server(
        &rs_dir.0,
        rs_port,
        &issuer_url,
        "1s",
        &["--upstream", &upstream],
    )
    .await;
    let rs_pid = rs.pid();
    let http = client();

    // The resource server's RFC 9728 documents name the issuer.
    for (path, resource) in [("/mcp", &rs_mcp), ("/files", &rs_files)] {
        let (status, doc) = get(
            &http,
            &format!("{rs_url}/.well-known/oauth-protected-resource{path}"),
        )
        .await;
        assert_eq!(status, 200, "{doc}");
        assert_eq!(doc["resource"], **resource);
        assert_eq!(doc["authorization_servers"], json!([issuer_url]));
    }
    // It runs no authorization server.
    for path in [
        "/authorize",
        "/token",
        "/register",
        "/revoke",
        "/introspect",
        "/.well-known/oauth-authorization-server",
        "/.well-known/jwks.json",
    ] {
        let r = http
            .post(format!("{rs_url}{path}"))
            .header("content-type", "application/x-www-form-urlencoded")
            .body("a=b")
            .send()
            .await
            .expect("post");
        assert_eq!(r.status(), 404, "POST {path}");
        let (status, _) = get(&http, &format!("{rs_url}{path}")).await;
        assert_eq!(status, 404, "GET {path}");
    }
    // No token: a bare challenge pointing at its metadata.
    let r = whoami(&http, &rs_url, "").await;
    assert_eq!(r.status, 401);

    // A token for the resource server's /mcp, through the real flow.
    let client_id = register_public_client(&http, &issuer_url).await;
    let flow = Flow::new(&issuer_url, &client_id);
    let remote = flow
        .grant_for(&rs_mcp, "mcp", "Remote tools", "alice", PASSWORD)
        .await;
    let r = whoami(&http, &rs_url, &remote.access).await;
    assert_eq!(r.status, 200, "{}", r.body);
    let who = &r.body["result"]["structuredContent"];
    assert_eq!(who["aud"], rs_mcp, "{}", r.body);
    assert_eq!(who["client_id"], client_id);
    // ... with an MCP session too.
    let rs_flow = Flow::new(&rs_url, &client_id);
    assert_eq!(rs_flow.whoami(&remote.access).await.status, 200);
    // Refused at the issuer's own /mcp, and at the resource server's other
    // resource.
    assert_invalid_token(
        &whoami(&http, &issuer_url, &remote.access).await,
        "remote token at the issuer",
    );
    let r = http
        .post(&rs_files)
        .header("authorization", format!("Bearer {}", remote.access))
        .body("{}")
        .send()
        .await
        .expect("post");
    assert_eq!(r.status(), 401, "a /mcp token at /files");

    // The proxy mount works with its own token; the identity arrives.
    let files = flow
        .grant_for(&rs_files, "mcp", "Remote files", "alice", PASSWORD)
        .await;
    let r = http
        .post(&rs_files)
        .header("authorization", format!("Bearer {}", files.access))
        .header("content-type", "application/json")
        .header("accept", "application/json, text/event-stream")
        .body(r#"{"jsonrpc":"2.0","id":1,"method":"tools/list"}"#)
        .send()
        .await
        .expect("post");
    assert_eq!(r.status(), 200);
    let echo: Value = serde_json::from_slice(&r.bytes().await.expect("body")).expect("json");
    assert_eq!(echo["headers"]["x-mcpauth-client-id"], json!([client_id]));
    assert!(
        echo["headers"].get("authorization").is_none(),
        "the token is not forwarded"
    );

    // The issuer's own token is refused at the resource server.
    let own = flow.grant_as("alice", PASSWORD).await;
    assert_eq!(whoami(&http, &issuer_url, &own.access).await.status, 200);
    assert_invalid_token(
        &whoami(&http, &rs_url, &own.access).await,
        "the issuer's own token",
    );

    // Garbage, forged, foreign, expired, mistyped: RFC 6750 invalid_token.
    let t = now();
    let mut forged = remote.access.clone();
    let last = forged.pop().expect("non-empty");
    forged.push(if last == 'A' { 'B' } else { 'A' });
    let other_issuer = KeySet::new(mcpauth_core::jose::testing::rfc7515_a2_key());
    let typ_jwt = sign_with_header(
        &first_keys,
        &json!({"alg": "RS256", "typ": "JWT", "kid": first_keys.signing_key().expect("key").kid()}),
        &json!({"iss": issuer_url, "sub": "alice", "aud": rs_mcp, "client_id": "x",
                "scope": "mcp", "iat": t, "exp": t + 600, "jti": "typ-1"}),
    );
    for (what, token) in [
        ("garbage", "not-a-token".to_owned()),
        ("a forged signature", forged),
        (
            "another issuer's key and name",
            mint(&other_issuer, "https://other.example", &rs_mcp, t, t + 600),
        ),
        (
            "the issuer's key under another issuer's name",
            mint(&first_keys, "https://other.example", &rs_mcp, t, t + 600),
        ),
        (
            "an expired token",
            mint(&first_keys, &issuer_url, &rs_mcp, t - 7200, t - 3600),
        ),
        (
            "a token not yet valid (nbf)",
            mint_nbf(
                &first_keys,
                &issuer_url,
                &rs_mcp,
                t,
                t + 7200,
                Some(t + 3600),
            ),
        ),
        (
            "a token issued in the future",
            mint(&first_keys, &issuer_url, &rs_mcp, t + 3600, t + 7200),
        ),
        ("typ JWT instead of at+jwt", typ_jwt),
    ] {
        assert_invalid_token(&whoami(&http, &rs_url, &token).await, what);
    }
    // The positive control of the minting helper: the same claims, valid.
    assert_eq!(
        whoami(
            &http,
            &rs_url,
            &mint(&first_keys, &issuer_url, &rs_mcp, t, t + 600)
        )
        .await
        .status,
        200
    );

    // Rotation at the issuer: the embedded database is single-process, so
    // the issuer stops, rotates, and starts again on the same port.
    issuer.stop();
    let (code, out, err) = cli(&issuer_dir.0, &["keys", "rotate"], "");
    assert_eq!(code, 0, "{out}{err}");
    let rotated = issuer_keys(&issuer_dir.0);
    let (old_kid, new_kid) = (
        first_keys.signing_key().expect("key").kid().to_owned(),
        rotated.signing_key().expect("key").kid().to_owned(),
    );
    assert_ne!(old_kid, new_kid);
    let issuer = Server::start_on(&issuer_dir.0, issuer_port, &issuer_args).await;
    // Past the resource server's unknown-kid spacing (1 s here).
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let fresh = flow
        .grant_for(&rs_mcp, "mcp", "Remote tools", "alice", PASSWORD)
        .await;
    assert_eq!(segment(&fresh.access, 0)["kid"], new_kid);
    // The first new-key request waits for the JWKS re-fetch; the next does
    // not (printed for BENCHMARKS-style notes; run with --nocapture).
    let mut took = Vec::new();
    for _ in 0..2 {
        let started = std::time::Instant::now();
        let r = whoami(&http, &rs_url, &fresh.access).await;
        took.push(started.elapsed());
        assert_eq!(r.status, 200, "{}", r.body);
    }
    eprintln!(
        "new-key token at the resource server: first whoami (initialize with the JWKS \
         re-fetch, initialized, tools/call) {:?}, second {:?}",
        took[0], took[1]
    );
    let r = whoami(&http, &rs_url, &fresh.access).await;
    assert_eq!(
        r.status, 200,
        "a new-key token at the resource server: {}",
        r.body
    );
    // The old key stays published until its tokens expire.
    assert_eq!(whoami(&http, &rs_url, &remote.access).await.status, 200);
    assert_eq!(rs.pid(), rs_pid, "the resource server was not restarted");
    rs.stop();
    issuer.stop();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unreachable_or_mismatched_issuer_refuses_tokens_without_hanging() {
    // An issuer that is not there: the server starts, refuses every token
    // with the RFC 6750 challenge, and answers at once.
    let dir = TempDir::new("rs-none");
    let dead = format!("http://127.0.0.1:{}", free_port());
    let rs = Server::start(
        &dir.0,
        &["--issuer", &dead, "--issuer-allow-private", "--stateless"],
    )
    .await;
    let http = client();
    let keys = KeySet::new(mcpauth_core::jose::testing::rfc7515_a2_key());
    let t = now();
    let token = mint(&keys, &dead, &format!("{}/mcp", rs.base), t, t + 600);
    let started = std::time::Instant::now();
    assert_invalid_token(&whoami(&http, &rs.base, &token).await, "no issuer keys");
    assert!(started.elapsed() < Duration::from_secs(10));
    rs.stop();

    // Without the opt-in, a loopback issuer is refused before start.
    let (code, _, err) = cli(&dir.0, &["serve", "--issuer", &dead], "");
    assert_ne!(code, 0);
    assert!(err.contains("--issuer"), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn introspection_makes_a_revocation_at_the_issuer_count_at_once() {
    const SECRET: &str = "the resource server's introspection secret";
    let issuer_dir = TempDir::new("rs-introspect-issuer");
    let rs_dir = TempDir::new("rs-introspect-server");
    add_alice(&issuer_dir.0);
    // The resource server is a pre-registered confidential client the
    // issuer lets introspect other clients' tokens.
    let (code, out, err) = cli(
        &issuer_dir.0,
        &["client", "hash-secret"],
        &format!("{SECRET}\n"),
    );
    assert_eq!(code, 0, "{err}");
    let hash = out
        .lines()
        .find_map(|l| l.strip_prefix("client_secret_hash = "))
        .expect("hash line")
        .trim_matches('"')
        .to_owned();
    let config = issuer_dir.0.parent().expect("parent").join("issuer.toml");
    std::fs::create_dir_all(config.parent().expect("parent")).expect("dir");
    std::fs::write(
        &config,
        format!(
            "introspection_clients = [\"rs-1\"]\n\n[[clients]]\nclient_id = \"rs-1\"\n\
             redirect_uris = [\"https://rs.example/unused\"]\nclient_secret_hash = \"{hash}\"\n"
        ),
    )
    .expect("config");

    let (issuer_port, rs_port, bad_port) = (free_port(), free_port(), free_port());
    let issuer_url = format!("http://127.0.0.1:{issuer_port}");
    let rs_mcp = format!("http://127.0.0.1:{rs_port}/mcp");
    let bad_mcp = format!("http://127.0.0.1:{bad_port}/mcp");
    let issuer = Server::start_on(
        &issuer_dir.0,
        issuer_port,
        &[
            "--config",
            config.to_str().expect("utf8"),
            "--resource",
            &format!("{rs_mcp};kind=external|{bad_mcp};kind=external"),
        ],
    )
    .await;
    let rs_args = |secret: &'static str| {
        vec![
            "--issuer".to_owned(),
            issuer_url.clone(),
            "--issuer-allow-private".to_owned(),
            "--issuer-introspection".to_owned(),
            "--issuer-client-id".to_owned(),
            "rs-1".to_owned(),
            "--issuer-client-secret".to_owned(),
            secret.to_owned(),
            "--issuer-introspection-cache".to_owned(),
            "1s".to_owned(),
        ]
    };
    let good = rs_args(SECRET);
    let good: Vec<&str> = good.iter().map(String::as_str).collect();
    let rs = Server::start_on(&rs_dir.0, rs_port, &good).await;
    let bad = rs_args("not the secret");
    let bad: Vec<&str> = bad.iter().map(String::as_str).collect();
    let bad_dir = TempDir::new("rs-introspect-bad");
    let rs_bad = Server::start_on(&bad_dir.0, bad_port, &bad).await;

    let http = client();
    let client_id = register_public_client(&http, &issuer_url).await;
    let flow = Flow::new(&issuer_url, &client_id);
    let tokens = flow
        .grant_for(&rs_mcp, "mcp", &rs_mcp, "alice", PASSWORD)
        .await;
    let r = whoami(&http, &rs.base, &tokens.access).await;
    assert_eq!(r.status, 200, "{}", r.body);

    // Revoked at the issuer: refused here once the 1 s cache has passed,
    // long before the token expires.
    assert_eq!(flow.revoke(&tokens.access).await, 200);
    tokio::time::sleep(Duration::from_millis(1200)).await;
    let r = whoami(&http, &rs.base, &tokens.access).await;
    assert_invalid_token(&r, "a token revoked at the issuer");
    assert!(
        r.body["error_description"]
            .as_str()
            .is_some_and(|d| d.contains("revoked")),
        "{}",
        r.body
    );

    // A resource server the issuer will not answer cannot tell: 503 with
    // Retry-After, never a pass.
    let other = flow
        .grant_for(&bad_mcp, "mcp", &bad_mcp, "alice", PASSWORD)
        .await;
    let r = whoami(&http, &rs_bad.base, &other.access).await;
    assert_eq!(r.status, 503, "{}", r.body);
    assert!(r.retry_after().is_some());
    rs_bad.stop();
    rs.stop();
    issuer.stop();
}

/// The CLI against `dir`'s server: (exit code, stdout + stderr). A
/// password on standard input for the commands that read one (the others
/// may exit before reading it).
fn admin(dir: &std::path::Path, args: &[&str]) -> (i32, String) {
    let stdin = if args.starts_with(&["user", "add"]) || args.starts_with(&["user", "passwd"]) {
        "a-long-password\n"
    } else {
        ""
    };
    let (code, out, err) = cli(dir, args, stdin);
    (code, format!("{out}{err}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_resource_server_serves_metrics_and_its_admin_socket() {
    let issuer_dir = TempDir::new("rs-admin-issuer");
    let rs_dir = TempDir::new("rs-admin-server");
    add_alice(&issuer_dir.0);
    let issuer_port = free_port();
    let rs_port = free_port();
    let metrics_port = free_port();
    let issuer_url = format!("http://127.0.0.1:{issuer_port}");
    let rs_url = format!("http://127.0.0.1:{rs_port}");
    let rs_mcp = format!("{rs_url}/mcp");
    let metrics = format!("http://127.0.0.1:{metrics_port}");
    let resource = format!("{rs_mcp};name=Remote tools;kind=external");
    let issuer = Server::start_on(&issuer_dir.0, issuer_port, &["--resource", &resource]).await;
    // Unknown kids prompt no fetch for an hour: only `keys reload` brings
    // a rotated key in.
    let rs = start_resource_server(
        &rs_dir.0,
        rs_port,
        &issuer_url,
        "1h",
        &["--metrics-listen", &format!("127.0.0.1:{metrics_port}")],
    )
    .await;
    let http = client();

    // Metrics: not on the public listener; on the metrics listener, parsed
    // by the reference parser, and the request counters move.
    let r = http
        .get(format!("{rs_url}/metrics"))
        .send()
        .await
        .expect("public /metrics");
    assert_eq!(r.status(), 404);
    let (_, before) = scrape(&http, &metrics).await;
    let client_id = register_public_client(&http, &issuer_url).await;
    let flow = Flow::new(&issuer_url, &client_id);
    let first = flow
        .grant_for(&rs_mcp, "mcp", "Remote tools", "alice", PASSWORD)
        .await;
    assert_eq!(whoami(&http, &rs_url, &first.access).await.status, 200);
    assert_eq!(whoami(&http, &rs_url, "garbage").await.status, 401);
    let (text, after) = scrape(&http, &metrics).await;
    let requests = "mcpauth_http_requests_total";
    let moved =
        |labels: &[(&str, &str)]| after.get(requests, labels) - before.get(requests, labels);
    assert!(
        moved(&[("endpoint", "mcp"), ("status", "2xx")]) >= 2.0,
        "{text}"
    );
    assert!(
        moved(&[("endpoint", "mcp"), ("status", "4xx")]) >= 1.0,
        "{text}"
    );
    assert!(after.get("mcpauth_mcp_sessions", &[]) >= 1.0, "{text}");

    // status, over the admin socket.
    let first_kid = segment(&first.access, 0)["kid"]
        .as_str()
        .expect("kid")
        .to_owned();
    let (code, out) = admin(&rs_dir.0, &["status"]);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("mode\tresource server"), "{out}");
    assert!(out.contains(&format!("issuer\t{issuer_url}")), "{out}");
    assert!(out.contains(&format!("resources\t{rs_mcp}")), "{out}");
    assert!(out.contains(&first_kid), "{out}");
    assert!(!out.contains("keys fetched\tnever"), "{out}");

    // The issuer rotates (live); its new-key tokens are refused here until
    // `keys reload`, then accepted, without a restart.
    let (code, out) = admin(&issuer_dir.0, &["keys", "rotate"]);
    assert_eq!(code, 0, "{out}");
    let fresh = flow
        .grant_for(&rs_mcp, "mcp", "Remote tools", "alice", PASSWORD)
        .await;
    let new_kid = segment(&fresh.access, 0)["kid"]
        .as_str()
        .expect("kid")
        .to_owned();
    assert_ne!(new_kid, first_kid);
    assert_invalid_token(
        &whoami(&http, &rs_url, &fresh.access).await,
        "a new-key token before keys reload",
    );
    let (code, out) = admin(&rs_dir.0, &["keys", "reload"]);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("fetched 2 key(s)"), "{out}");
    assert!(out.contains(&new_kid) && out.contains(&first_kid), "{out}");
    let r = whoami(&http, &rs_url, &fresh.access).await;
    assert_eq!(r.status, 200, "{}", r.body);
    let (code, out) = admin(&rs_dir.0, &["status"]);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains(&new_kid), "{out}");

    // The issuer's own commands are refused with a clear message, and
    // nothing is created in the resource server's data directory.
    for args in [
        &["user", "add", "bob"][..],
        &["user", "list"],
        &["user", "remove", "alice"],
        &["client", "list"],
        &["client", "remove", "someone"],
        &["keys", "rotate"],
        &["keys", "list"],
    ] {
        let (code, out) = admin(&rs_dir.0, args);
        assert_ne!(code, 0, "{args:?}: {out}");
        assert!(
            out.contains("not available on a resource server")
                && out.contains(&format!("belong to the issuer {issuer_url}")),
            "{args:?}: {out}"
        );
    }
    let files: Vec<String> = std::fs::read_dir(&rs_dir.0)
        .expect("data dir")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(files, ["admin.sock"], "no store was created");

    // The issuer answers status too, and keys reload from its store.
    let (code, out) = admin(&issuer_dir.0, &["status"]);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("mode\tauthorization server"), "{out}");
    assert!(out.contains(&format!("signing key\t{new_kid}")), "{out}");
    assert!(out.contains("users\t1"), "{out}");
    let (code, out) = admin(&issuer_dir.0, &["keys", "reload"]);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains(&format!("signing key\t{new_kid}")), "{out}");
    rs.stop();
    issuer.stop();

    // With no server running, status and keys reload say so.
    for args in [&["status"][..], &["keys", "reload"]] {
        let (code, out) = admin(&rs_dir.0, args);
        assert_ne!(code, 0, "{args:?}: {out}");
        assert!(out.contains("needs a running server"), "{args:?}: {out}");
    }
}
