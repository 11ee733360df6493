//! Live administration (issue 15): `mcpauth user …`, `client …` and
//! `keys …` while `serve` runs and answers MCP requests, without a
//! restart, on the embedded database and on PostgreSQL. The CLI goes
//! through the server's admin socket (`<data dir>/admin.sock`, 0600).

mod common;
mod postgres_support;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use base64ct::{Base64UrlUnpadded, Encoding};
use common::*;
use postgres_support::TestDb;
use serde_json::{Value, json};

/// The `kid` in a JWT's header.
fn kid_of(token: &str) -> String {
    let header = token.split('.').next().expect("header");
    let bytes = Base64UrlUnpadded::decode_vec(header).expect("base64url");
    let v: Value = serde_json::from_slice(&bytes).expect("json");
    v["kid"].as_str().expect("kid").to_owned()
}

/// `mcpauth ARGS EXTRA` with the data directory.
fn run(dir: &std::path::Path, args: &[&str], extra: &[&str], stdin: &str) -> String {
    let all: Vec<&str> = args.iter().chain(extra).copied().collect();
    let (status, out, err) = cli(dir, &all, stdin);
    assert_eq!(status, 0, "mcpauth {all:?}: {err}");
    out
}

async fn tools_call(flow: &Flow, token: &str, session: &str) -> u16 {
    flow.mcp(
        Some(token),
        Some(session),
        json!({"jsonrpc": "2.0", "id": 7, "method": "tools/call",
               "params": {"name": "whoami", "arguments": {}}}),
    )
    .await
    .status
}

async fn live_admin(dir: &std::path::Path, extra: &[&str]) {
    run(dir, &["user", "add", "alice"], extra, PASSWORD);
    let server = Server::start(dir, extra).await;
    let socket = dir.join("admin.sock");
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&socket)
            .expect("the admin socket exists")
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600, "admin socket mode {mode:o}");
    }
    let http = client();
    let client_id = register_public_client(&http, &server.base).await;
    let flow = Flow::new(&server.base, &client_id);
    let alice = flow.grant_as("alice", PASSWORD).await;
    let old_kid = kid_of(&alice.access);

    // Load: MCP tool calls with alice's token for the whole test; every
    // one must succeed.
    let stop = Arc::new(AtomicBool::new(false));
    let (ok, failed) = (Arc::new(AtomicU64::new(0)), Arc::new(AtomicU64::new(0)));
    let session = flow.session(&alice.access).await;
    let mut load = Vec::new();
    for _ in 0..2 {
        let (flow, token, session) = (flow.clone(), alice.access.clone(), session.clone());
        let (stop, ok, failed) = (stop.clone(), ok.clone(), failed.clone());
        load.push(tokio::spawn(async move {
            let deadline = std::time::Instant::now() + std::time::Duration::from_secs(120);
            while !stop.load(Ordering::Relaxed) && std::time::Instant::now() < deadline {
                if tools_call(&flow, &token, &session).await == 200 {
                    ok.fetch_add(1, Ordering::Relaxed);
                } else {
                    failed.fetch_add(1, Ordering::Relaxed);
                }
            }
        }));
    }

    // Add a user, who signs in at once.
    let out = run(dir, &["user", "add", "bob"], extra, "bob's password 1\n");
    assert!(out.starts_with("added user bob"), "{out}");
    let bob = flow.grant_as("bob", "bob's password 1").await;
    let who = flow.whoami(&bob.access).await;
    assert_eq!(who.status, 200, "{}", who.body);
    let out = run(dir, &["user", "list"], extra, "");
    assert!(out.contains("alice") && out.contains("bob"), "{out}");

    // Rotate the keys: new tokens carry the new kid, old ones still verify.
    let out = run(dir, &["keys", "rotate"], extra, "");
    assert!(out.contains("in use now"), "{out}");
    let new_kid = out
        .strip_prefix("new signing key ")
        .and_then(|r| r.split(' ').next())
        .expect("kid")
        .to_owned();
    assert_ne!(new_kid, old_kid);
    let fresh = flow.grant_as("alice", PASSWORD).await;
    assert_eq!(
        kid_of(&fresh.access),
        new_kid,
        "new tokens are signed by the new key"
    );
    assert_eq!(kid_of(&bob.access), old_kid);
    assert_eq!(flow.whoami(&fresh.access).await.status, 200);
    assert_eq!(
        flow.whoami(&bob.access).await.status,
        200,
        "a token of the retired key still verifies"
    );
    let refreshed = flow.refresh(&bob.refresh).await;
    assert_eq!(refreshed.status, 200, "{}", refreshed.body);
    assert_eq!(
        kid_of(refreshed.body["access_token"].as_str().expect("access")),
        new_kid
    );
    let kids: Vec<String> = flow.jwks().await["keys"]
        .as_array()
        .expect("keys")
        .iter()
        .map(|k| k["kid"].as_str().expect("kid").to_owned())
        .collect();
    assert!(
        kids.contains(&old_kid) && kids.contains(&new_kid),
        "{kids:?}"
    );
    let out = run(dir, &["keys", "list"], extra, "");
    assert!(out.contains(&format!("{new_kid}\tcreated")) && out.contains("retired"));

    // Change a password: the old one stops working, the new one works.
    run(dir, &["user", "passwd", "bob"], extra, "bob's password 2\n");
    let (_, challenge) = pkce();
    let page = flow.authorize(&challenge, "st").await;
    let r = flow
        .decide(&page.html, &page.cookie, "bob", "bob's password 1", "allow")
        .await;
    assert_eq!(r.status(), 200, "the old password is refused");
    let bob2 = flow.grant_as("bob", "bob's password 2").await;

    // Remove the user: sign-in fails, and the user's tokens are refused.
    let out = run(dir, &["user", "remove", "bob"], extra, "");
    assert!(out.starts_with("removed user bob"), "{out}");
    let page = flow.authorize(&challenge, "st").await;
    let r = flow
        .decide(&page.html, &page.cookie, "bob", "bob's password 2", "allow")
        .await;
    assert_eq!(r.status(), 200, "a removed user cannot sign in");
    assert!(
        r.text()
            .await
            .expect("page")
            .contains("Wrong username or password")
    );
    let refused = flow
        .mcp(
            Some(&bob2.access),
            None,
            json!({"jsonrpc": "2.0", "id": 1, "method": "ping"}),
        )
        .await;
    assert_eq!(refused.status, 401, "a removed user's token is refused");
    assert_eq!(flow.refresh(&bob2.refresh).await.status, 400);

    // Clients: list, remove (its sign-in page is gone).
    let other = register_public_client(&http, &server.base).await;
    let out = run(dir, &["client", "list"], extra, "");
    assert!(out.contains(&other) && out.contains(&client_id), "{out}");
    let out = run(dir, &["client", "remove", &other], extra, "");
    assert!(out.starts_with("removed client"), "{out}");
    let page = Flow::new(&server.base, &other)
        .authorize(&challenge, "st")
        .await;
    assert_eq!(page.status, 400, "a removed client cannot start a sign-in");
    let (status, _, err) = cli(dir, &["client", "remove", &other], "");
    assert_ne!(status, 0, "an unknown client is an error: {err}");

    stop.store(true, Ordering::Relaxed);
    for l in load {
        l.await.expect("load task");
    }
    let (ok, failed) = (ok.load(Ordering::Relaxed), failed.load(Ordering::Relaxed));
    assert_eq!(
        failed,
        0,
        "{failed} of {} calls under load failed",
        ok + failed
    );
    assert!(ok >= 20, "the load ran ({ok} calls)");
    server.stop();
    assert!(!socket.exists(), "the socket is removed at shutdown");
    // With the server stopped the CLI opens the store itself.
    let out = run(dir, &["user", "list"], extra, "");
    assert!(out.contains("alice") && !out.contains("bob"), "{out}");
}

#[tokio::test]
async fn live_admin_on_redb() {
    let dir = TempDir::new("live-admin");
    live_admin(&dir.0, &[]).await;
}

#[tokio::test]
async fn live_admin_on_postgres() {
    let Some(db) = TestDb::create("live_admin").await else {
        return;
    };
    let dir = TempDir::new("live-admin-pg");
    live_admin(&dir.0, &["--store", &db.url]).await;
}
