//! End to end over real HTTP against the real program: registration, sign-in
//! and consent through the HTML forms, PKCE code exchange, MCP with the
//! token, refresh, revocation, the refusal paths, and a restart (plus a key
//! rotation) on the same data directory that loses nothing.

mod common;

use common::*;
use serde_json::{Value, json};

const PASSWORD: &str = "correct horse battery";

fn add_alice(dir: &std::path::Path) -> String {
    let (code, out, err) = cli(dir, &["user", "add", "alice"], &format!("{PASSWORD}\n"));
    assert_eq!(code, 0, "{err}");
    out.split("subject ")
        .nth(1)
        .expect("subject printed")
        .trim_end_matches([')', '\n'])
        .to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn full_flow_refusals_and_restart() {
    let dir = TempDir::new("flow");
    let subject = add_alice(&dir.0);

    // Operator CLI refusals: duplicate user, weak password, non-zero exit.
    let (code, _, err) = cli(&dir.0, &["user", "add", "alice"], "another-password\n");
    assert_ne!(code, 0);
    assert!(err.contains("already exists"), "{err}");
    let (code, _, err) = cli(&dir.0, &["user", "add", "bob"], "short\n");
    assert_ne!(code, 0);
    assert!(err.contains("at least 8"), "{err}");

    let server = Server::start(&dir.0, &[]).await;
    let base = server.base.clone();
    {
        use std::os::unix::fs::PermissionsExt;
        let mode =
            |p: &std::path::Path| std::fs::metadata(p).expect("stat").permissions().mode() & 0o777;
        assert_eq!(mode(&dir.0), 0o700, "data directory is private");
        assert_eq!(
            mode(&dir.0.join("mcpauth.redb")),
            0o600,
            "database file is private"
        );
    }
    let http = client();

    // Discovery.
    let prm: Value = http
        .get(format!("{base}/.well-known/oauth-protected-resource/mcp"))
        .send()
        .await
        .expect("prm")
        .json_value()
        .await;
    assert_eq!(prm["resource"], format!("{base}/mcp"));
    let asm: Value = http
        .get(format!("{base}/.well-known/oauth-authorization-server"))
        .send()
        .await
        .expect("asm")
        .json_value()
        .await;
    assert_eq!(asm["issuer"], base.as_str());
    assert_eq!(asm["token_endpoint"], format!("{base}/token"));
    let jwks_before: Value = http
        .get(format!("{base}/.well-known/jwks.json"))
        .send()
        .await
        .expect("jwks")
        .json_value()
        .await;
    let kid_before = jwks_before["keys"][0]["kid"]
        .as_str()
        .expect("kid")
        .to_owned();

    // CORS preflight on the token endpoint for MCP Inspector.
    let r = http
        .request(reqwest::Method::OPTIONS, format!("{base}/token"))
        .header("origin", "http://localhost:6274")
        .header("access-control-request-method", "POST")
        .send()
        .await
        .expect("preflight");
    assert_eq!(r.status().as_u16(), 204);
    assert_eq!(
        r.headers()["access-control-allow-origin"],
        "http://localhost:6274"
    );

    // /mcp without a token: 401 pointing at the resource metadata.
    let flow0 = Flow::new(&base, "none");
    let Reply {
        status, headers, ..
    } = flow0
        .mcp(
            None,
            None,
            json!({"jsonrpc": "2.0", "id": 1, "method": "tools/list"}),
        )
        .await;
    assert_eq!(status, 401);
    let challenge = headers["www-authenticate"].to_str().expect("challenge");
    assert!(
        challenge.contains(&format!(
            "resource_metadata=\"{base}/.well-known/oauth-protected-resource/mcp\""
        )),
        "{challenge}"
    );

    // Registration, and its refusals.
    let Reply { status, body, .. } = register(
        &http,
        &base,
        json!({"redirect_uris": ["javascript:alert(1)"]}),
    )
    .await;
    assert_eq!(status, 400, "{body}");
    assert_eq!(body["error"], "invalid_redirect_uri");
    let Reply { status, body, .. } =
        register(&http, &base, json!({"redirect_uris": "not-a-list"})).await;
    assert_eq!(status, 400, "{body}");
    let Reply { status, body, .. } = register(
        &http,
        &base,
        json!({"redirect_uris": [REDIRECT], "client_name": "E2E client",
               "token_endpoint_auth_method": "none",
               "grant_types": ["authorization_code", "refresh_token"]}),
    )
    .await;
    assert_eq!(status, 201, "{body}");
    let client_id = body["client_id"].as_str().expect("client_id").to_owned();
    let flow = Flow::new(&base, &client_id);

    // Authorization refusals that must not redirect.
    let bad = Flow::new(&base, "no-such-client");
    let (_, challenge) = pkce();
    let SignInPage { status, .. } = bad.authorize(&challenge, "s").await;
    assert_eq!(status, 400);
    let r = http
        .get(format!(
            "{base}/authorize?{}",
            form(&[
                ("response_type", "code"),
                ("client_id", &client_id),
                ("redirect_uri", "https://evil.example/cb"),
                ("code_challenge", &challenge),
                ("code_challenge_method", "S256")
            ])
        ))
        .send()
        .await
        .expect("authorize");
    assert_eq!(
        r.status().as_u16(),
        400,
        "unregistered redirect_uri must not redirect"
    );
    // Missing PKCE: an error page whose link returns the error to the
    // client (never an automatic redirect: RFC 9700 §4.11.2).
    let r = http
        .get(format!(
            "{base}/authorize?{}",
            form(&[
                ("response_type", "code"),
                ("client_id", &client_id),
                ("redirect_uri", REDIRECT),
                ("state", "s2")
            ])
        ))
        .send()
        .await
        .expect("authorize");
    assert_eq!(r.status().as_u16(), 400);
    assert!(r.headers().get("location").is_none());
    let q = query_of(&return_link(&r.text().await.expect("page")));
    assert_eq!(param(&q, "error").as_deref(), Some("invalid_request"));
    assert_eq!(param(&q, "state").as_deref(), Some("s2"));

    // Consent page names the client; wrong password; missing cookie; deny.
    let SignInPage {
        status,
        html: page,
        cookie,
        ..
    } = flow.authorize(&challenge, "s3").await;
    assert_eq!(status, 200);
    assert!(page.contains("E2E client"));
    assert!(cookie.contains('='), "anti-CSRF cookie set");
    let r = flow
        .decide(&page, &cookie, "alice", "wrong password!", "allow")
        .await;
    assert_eq!(r.status().as_u16(), 200);
    let csp = r
        .headers()
        .get("content-security-policy")
        .map(|v| v.to_str().unwrap_or("").to_owned());
    assert!(csp.unwrap_or_default().contains("frame-ancestors 'none'"));
    assert!(
        r.text()
            .await
            .expect("page")
            .contains("Wrong username or password")
    );
    let r = flow
        .decide(&page, &cookie, "mallory", "wrong password!", "allow")
        .await;
    assert!(
        r.text()
            .await
            .expect("page")
            .contains("Wrong username or password")
    );
    let r = flow.decide(&page, "", "alice", PASSWORD, "allow").await;
    assert_eq!(r.status().as_u16(), 403, "CSRF cookie required");
    let r = flow.decide(&page, &cookie, "", "", "deny").await;
    assert_eq!(r.status().as_u16(), 303);
    let q = query_of(r.headers()["location"].to_str().expect("loc"));
    assert_eq!(param(&q, "error").as_deref(), Some("access_denied"));
    let r = flow
        .decide(&page, &cookie, "alice", PASSWORD, "allow")
        .await;
    assert_eq!(
        r.status().as_u16(),
        400,
        "a decided request cannot be reused"
    );

    // Code exchange: wrong verifier, then replay of a redeemed code.
    let (verifier, challenge) = pkce();
    let code = flow.sign_in(&challenge, "alice", PASSWORD).await;
    let Reply { status, body, .. } = flow.exchange(&code, "x".repeat(50).as_str()).await;
    assert_eq!(status, 400);
    assert_eq!(body["error"], "invalid_grant");
    let Reply { status, .. } = flow.exchange(&code, &verifier).await;
    assert_eq!(
        status, 400,
        "a code is single-use, even after a failed attempt"
    );
    // Replay of a redeemed code revokes the access token it produced.
    let (verifier, challenge) = pkce();
    let code = flow.sign_in(&challenge, "alice", PASSWORD).await;
    let Reply { status, body, .. } = flow.exchange(&code, &verifier).await;
    assert_eq!(status, 200, "{body}");
    let replayed_access = body["access_token"].as_str().expect("at").to_owned();
    let Reply { status, .. } = flow.whoami(&replayed_access).await;
    assert_eq!(status, 200);
    let Reply { status, body, .. } = flow.exchange(&code, &verifier).await;
    assert_eq!(status, 400);
    assert_eq!(body["error"], "invalid_grant");
    let Reply { status, .. } = flow
        .mcp(
            Some(&replayed_access),
            None,
            json!({"jsonrpc": "2.0", "id": 1, "method": "tools/list"}),
        )
        .await;
    assert_eq!(status, 401, "code replay revoked the first access token");

    // Grant A: the one that must survive the restart.
    let a = flow.grant_as("alice", PASSWORD).await;
    let Reply { status, body, .. } = flow.whoami(&a.access).await;
    assert_eq!(status, 200, "{body}");
    let who = &body["result"]["structuredContent"];
    assert_eq!(who["sub"], subject.as_str());
    assert_eq!(who["client_id"], client_id.as_str());
    assert_eq!(who["scopes"], json!(["mcp"]));

    // tools/list and the widget resource.
    let session = flow.session(&a.access).await;
    let Reply { status, body, .. } = flow
        .mcp(
            Some(&a.access),
            Some(&session),
            json!({"jsonrpc": "2.0", "id": 2, "method": "tools/list"}),
        )
        .await;
    assert_eq!(status, 200);
    let names: Vec<&str> = body["result"]["tools"]
        .as_array()
        .expect("tools")
        .iter()
        .filter_map(|t| t["name"].as_str())
        .collect();
    for n in ["whoami", "echo", "show_card"] {
        assert!(names.contains(&n), "{names:?}");
    }
    let card = body["result"]["tools"]
        .as_array()
        .expect("tools")
        .iter()
        .find(|t| t["name"] == "show_card")
        .expect("card");
    assert_eq!(
        card["_meta"]["openai/outputTemplate"],
        "ui://widget/card.html"
    );
    let Reply { body, .. } = flow
        .mcp(Some(&a.access), Some(&session), json!({"jsonrpc": "2.0", "id": 4, "method": "resources/read", "params": {"uri": "ui://widget/card.html"}}))
        .await;
    assert_eq!(
        body["result"]["contents"][0]["mimeType"],
        "text/html+skybridge"
    );
    let Reply { body, .. } = flow
        .mcp(Some(&a.access), Some(&session), json!({"jsonrpc": "2.0", "id": 5, "method": "tools/call", "params": {"name": "echo", "arguments": {"text": "hi there"}}}))
        .await;
    assert_eq!(body["result"]["content"][0]["text"], "hi there");
    // A browser client (MCP Inspector's origin) reads every answer: the
    // CORS headers are on a tool call that ends at once, as on any other.
    for (id, body) in [
        (51, json!({"method": "tools/list"})),
        (
            52,
            json!({"method": "tools/call", "params": {"name": "echo", "arguments": {"text": "x"}}}),
        ),
    ] {
        let mut message = body;
        message["jsonrpc"] = json!("2.0");
        message["id"] = json!(id);
        let r = http
            .post(format!("{base}/mcp"))
            .header("origin", "http://localhost:6274")
            .header("content-type", "application/json")
            .header("accept", "application/json, text/event-stream")
            .header("authorization", format!("Bearer {}", a.access))
            .header("mcp-session-id", &session)
            .header("mcp-protocol-version", "2025-06-18")
            .body(message.to_string())
            .send()
            .await
            .expect("cross-origin call");
        assert_eq!(r.status().as_u16(), 200, "{message}");
        assert_eq!(
            r.headers()
                .get("access-control-allow-origin")
                .and_then(|v| v.to_str().ok()),
            Some("http://localhost:6274"),
            "{message}"
        );
        assert!(
            r.headers().contains_key("access-control-expose-headers"),
            "{message}"
        );
    }
    let Reply { body, .. } = flow
        .mcp(Some(&a.access), Some(&session), json!({"jsonrpc": "2.0", "id": 6, "method": "tools/call", "params": {"name": "show_card", "arguments": {"title": "T", "items": ["x"]}}}))
        .await;
    assert_eq!(body["result"]["structuredContent"]["title"], "T");

    // Bearer refusals.
    let Reply {
        status, headers, ..
    } = flow
        .mcp(
            Some("not.a.token"),
            None,
            json!({"jsonrpc": "2.0", "id": 1, "method": "tools/list"}),
        )
        .await;
    assert_eq!(status, 401);
    assert!(
        headers["www-authenticate"]
            .to_str()
            .expect("h")
            .contains("invalid_token")
    );
    let mut tampered = a.access.clone();
    tampered.pop();
    tampered.push(if a.access.ends_with('A') { 'B' } else { 'A' });
    let Reply { status, .. } = flow
        .mcp(
            Some(&tampered),
            None,
            json!({"jsonrpc": "2.0", "id": 1, "method": "tools/list"}),
        )
        .await;
    assert_eq!(status, 401);
    let r = http
        .post(format!("{base}/mcp?access_token={}", a.access))
        .header("content-type", "application/json")
        .body("{}")
        .send()
        .await
        .expect("mcp");
    assert!(
        matches!(r.status().as_u16(), 400 | 401),
        "token in the query is refused"
    );

    // Refresh grant A (rotation); the rotated-out token is now dead and its
    // reuse revokes the family, so do reuse detection on a second grant B.
    let Reply { status, body, .. } = flow.refresh(&a.refresh).await;
    assert_eq!(status, 200, "{body}");
    let a2 = Tokens {
        access: body["access_token"].as_str().expect("at").to_owned(),
        refresh: body["refresh_token"].as_str().expect("rt").to_owned(),
    };
    assert_ne!(a2.refresh, a.refresh);
    let Reply { status, body, .. } = flow.whoami(&a2.access).await;
    assert_eq!(status, 200, "{body}");

    let b = flow.grant_as("alice", PASSWORD).await;
    let Reply { status, body, .. } = flow.refresh(&b.refresh).await;
    assert_eq!(status, 200, "{body}");
    let b2_refresh = body["refresh_token"].as_str().expect("rt").to_owned();
    let Reply { status, body, .. } = flow.refresh(&b.refresh).await;
    assert_eq!(status, 400);
    assert_eq!(body["error"], "invalid_grant");
    let Reply { status, .. } = flow.refresh(&b2_refresh).await;
    assert_eq!(status, 400, "reuse revoked the whole family");
    let Reply { status, body, .. } = flow.refresh("garbage").await;
    assert_eq!(status, 400);
    assert_eq!(body["error"], "invalid_grant");
    let Reply { status, body, .. } = flow
        .token(&[("grant_type", "password"), ("client_id", &client_id)])
        .await;
    assert_eq!(status, 400);
    assert_eq!(body["error"], "unsupported_grant_type");

    // Introspection, then revocation of grant B's access token: refused on
    // /mcp even though it was verified (and cached) just before.
    let c = flow.grant_as("alice", PASSWORD).await;
    let Reply { status, .. } = flow.whoami(&c.access).await;
    assert_eq!(status, 200);
    let r = http
        .post(format!("{base}/introspect"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(form(&[("token", &c.access), ("client_id", &client_id)]))
        .send()
        .await
        .expect("introspect");
    let intro: Value = r.json_value().await;
    assert_eq!(intro["active"], true, "{intro}");
    let r = http
        .post(format!("{base}/revoke"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(form(&[("token", &c.access), ("client_id", &client_id)]))
        .send()
        .await
        .expect("revoke");
    assert_eq!(r.status().as_u16(), 200);
    let Reply {
        status, headers, ..
    } = flow
        .mcp(
            Some(&c.access),
            None,
            json!({"jsonrpc": "2.0", "id": 1, "method": "tools/list"}),
        )
        .await;
    assert_eq!(
        status, 401,
        "revoked token refused (cache honours revocation)"
    );
    assert!(
        headers["www-authenticate"]
            .to_str()
            .expect("h")
            .contains("invalid_token")
    );

    // Limits: oversized body.
    let r = http
        .post(format!("{base}/mcp"))
        .header("content-type", "application/json")
        .body(vec![b' '; 2 * 1024 * 1024])
        .send()
        .await;
    if let Ok(r) = r {
        assert_eq!(r.status().as_u16(), 413);
    }

    // Limits: oversized request head (header flooding).
    let r = http
        .get(format!("{base}/healthz"))
        .header("x-filler", "a".repeat(20 * 1024))
        .send()
        .await;
    if let Ok(r) = r {
        assert_eq!(r.status().as_u16(), 431);
    }
    // Registration under the flood limit still works after all of the above.
    let Reply { status, .. } = register(&http, &base, json!({"redirect_uris": [REDIRECT]})).await;
    assert_eq!(status, 201);

    // Restart on the same data directory, with a key rotation in between.
    let port = server.port;
    server.stop();
    let (code, out, err) = cli(&dir.0, &["client", "list"], "");
    assert_eq!(code, 0, "{err}");
    assert!(out.contains(&client_id));
    let (code, _, err) = cli(&dir.0, &["keys", "rotate"], "");
    assert_eq!(code, 0, "{err}");
    let (code, out, _) = cli(&dir.0, &["keys", "list"], "");
    assert_eq!(code, 0);
    assert!(
        out.contains(&kid_before) && out.contains("retired"),
        "{out}"
    );

    let server = Server::start_on(&dir.0, port, &[]).await;
    let jwks: Value = http
        .get(format!("{base}/.well-known/jwks.json"))
        .send()
        .await
        .expect("jwks")
        .json_value()
        .await;
    let kids: Vec<&str> = jwks["keys"]
        .as_array()
        .expect("keys")
        .iter()
        .filter_map(|k| k["kid"].as_str())
        .collect();
    assert_eq!(kids.len(), 2, "old key still published: {kids:?}");
    assert!(kids.contains(&kid_before.as_str()));

    // The access token issued before the restart still works.
    let Reply { status, body, .. } = flow.whoami(&a2.access).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["result"]["structuredContent"]["sub"], subject.as_str());
    // The revoked one stays revoked.
    let Reply { status, .. } = flow
        .mcp(
            Some(&c.access),
            None,
            json!({"jsonrpc": "2.0", "id": 1, "method": "tools/list"}),
        )
        .await;
    assert_eq!(status, 401);
    // The refresh token still refreshes, now signed with the new key.
    let Reply { status, body, .. } = flow.refresh(&a2.refresh).await;
    assert_eq!(status, 200, "{body}");
    let a3 = body["access_token"].as_str().expect("at").to_owned();
    let Reply { status, .. } = flow.whoami(&a3).await;
    assert_eq!(status, 200);
    // The client is still registered: a new authorization works end to end.
    let d = flow.grant_as("alice", PASSWORD).await;
    let Reply { status, .. } = flow.whoami(&d.access).await;
    assert_eq!(status, 200);
    server.stop();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn config_errors_exit_non_zero() {
    let dir = TempDir::new("cfg");
    let (code, _, err) = cli(&dir.0, &["serve", "--listen", "0.0.0.0:0"], "");
    assert_ne!(code, 0);
    assert!(err.contains("--public-url"), "{err}");
    let (code, _, err) = cli(&dir.0, &["serve", "--public-url", "http://example.com"], "");
    assert_ne!(code, 0);
    assert!(err.contains("https"), "{err}");
    let (code, _, err) = cli(&dir.0, &["serve", "--access-token-ttl", "soon"], "");
    assert_ne!(code, 0);
    assert!(err.contains("--access-token-ttl"), "{err}");
    let (code, _, err) = cli(&dir.0, &["client", "remove", "nope"], "");
    assert_ne!(code, 0);
    assert!(err.contains("no client"), "{err}");
}

trait JsonValue {
    async fn json_value(self) -> Value;
}

impl JsonValue for reqwest::Response {
    async fn json_value(self) -> Value {
        serde_json::from_slice(&self.bytes().await.expect("body")).expect("json")
    }
}

/// Slowloris: a client that never finishes its request head is cut off
/// after the header read timeout (10 s) instead of holding a connection.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slow_request_heads_are_cut_off() {
    use std::io::{Read, Write};
    let dir = TempDir::new("slow");
    let server = Server::start(&dir.0, &[]).await;
    let port = server.port;
    let started = std::time::Instant::now();
    let outcome = tokio::task::spawn_blocking(move || {
        let mut s = std::net::TcpStream::connect(("127.0.0.1", port)).expect("connect");
        s.set_read_timeout(Some(std::time::Duration::from_secs(30)))
            .expect("timeout");
        s.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Slow: ")
            .expect("write");
        let mut buf = Vec::new();
        // Closed by the server (possibly after a 408): read ends.
        s.read_to_end(&mut buf).map(|_| buf)
    })
    .await
    .expect("join");
    let elapsed = started.elapsed();
    let buf = outcome.expect("the server closes the connection, not our read timeout");
    assert!(
        elapsed >= std::time::Duration::from_secs(5)
            && elapsed < std::time::Duration::from_secs(25),
        "cut off after {elapsed:?}"
    );
    let text = String::from_utf8_lossy(&buf);
    assert!(
        text.is_empty() || text.starts_with("HTTP/1.1 408"),
        "{text}"
    );
    server.stop();
}

/// SIGTERM while a sign-in (argon2id, tens of milliseconds) is in flight:
/// the request still completes with its redirect, the code it issued was
/// committed, and the process exits 0.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_lets_in_flight_requests_finish() {
    let dir = TempDir::new("graceful");
    add_alice(&dir.0);
    let server = Server::start(&dir.0, &[]).await;
    let base = server.base.clone();
    let http = client();
    let Reply { status, body, .. } = register(
        &http,
        &base,
        json!({"redirect_uris": [REDIRECT], "token_endpoint_auth_method": "none"}),
    )
    .await;
    assert_eq!(status, 201);
    let flow = Flow::new(&base, body["client_id"].as_str().expect("client_id"));
    let (verifier, challenge) = pkce();
    let SignInPage {
        html: page, cookie, ..
    } = flow.authorize(&challenge, "g").await;
    // Raw TCP, so the whole request is on the server's socket before SIGTERM.
    let body = form(&[
        ("request_id", &hidden(&page, "request_id")),
        ("csrf", &hidden(&page, "csrf")),
        ("username", "alice"),
        ("password", PASSWORD),
        ("decision", "allow"),
    ]);
    let request = format!(
        "POST /authorize HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/x-www-form-urlencoded\r\nCookie: {cookie}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    let port = server.port;
    let sign_in = tokio::task::spawn_blocking(move || {
        use std::io::{Read, Write};
        let mut s = std::net::TcpStream::connect(("127.0.0.1", port)).expect("connect");
        s.write_all(request.as_bytes()).expect("send");
        std::thread::sleep(std::time::Duration::from_millis(3));
        let stopper = std::thread::spawn(move || server.stop());
        let mut response = String::new();
        s.read_to_string(&mut response).expect("response");
        (response, stopper)
    });
    let (response, stopper) = sign_in.await.expect("join");
    assert!(
        response.starts_with("HTTP/1.1 303"),
        "the in-flight sign-in completed: {response}"
    );
    let location = response
        .lines()
        .find_map(|l| l.strip_prefix("location: "))
        .expect("location");
    let code = param(&query_of(location), "code").expect("code");
    stopper.join().expect("graceful exit 0");
    // The code was durable before the redirect: it redeems after a restart.
    let server = Server::start(&dir.0, &[]).await;
    let flow = Flow::new(&server.base, &flow.client_id);
    let Reply { status, body, .. } = flow.exchange(&code, &verifier).await;
    assert_eq!(status, 200, "{body}");
    server.stop();
}
