//! Revoking a grant revokes its access tokens at once, over real HTTP on
//! one instance (embedded database): refresh-token reuse and RFC 7009
//! revocation of a refresh token make every access token the grant minted
//! refused at `/mcp` (cached or not) and inactive at `/introspect`, while
//! another grant of the same client and user keeps working. The refusal
//! survives a restart. (The same across two instances sharing PostgreSQL:
//! `postgres_fleet.rs`.)

mod common;

use common::*;
use serde_json::json;

fn add_alice(dir: &std::path::Path) {
    let (code, _, err) = cli(dir, &["user", "add", "alice"], &format!("{PASSWORD}\n"));
    assert_eq!(code, 0, "{err}");
}

async fn grant(at: &Flow) -> (String, String) {
    let t = at.grant_as("alice", PASSWORD).await;
    (t.access, t.refresh)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn revoked_grants_take_their_access_tokens_with_them() {
    let dir = TempDir::new("grant-revocation");
    add_alice(&dir.0);
    let server = Server::start(&dir.0, &["--stateless"]).await;
    let http = client();
    let client_id = register_public_client(&http, &server.base).await;
    let at = Flow::behind(&server.base, &server.base, &client_id);
    let inactive = json!({"active": false});

    // Reuse of a rotated-out refresh token.
    let (first_access, first_refresh) = grant(&at).await;
    let (kept_access, kept_refresh) = grant(&at).await;
    let Reply { status, body, .. } = at.refresh(&first_refresh).await;
    assert_eq!(status, 200, "{body}");
    let Tokens {
        access: rotated_access,
        ..
    } = Tokens::from_body(&body);
    for token in [&first_access, &rotated_access, &kept_access] {
        // Twice: the second answer comes from the verified-token cache.
        assert_eq!(at.whoami_stateless(token).await.status, 200);
        assert_eq!(at.whoami_stateless(token).await.status, 200);
        assert_eq!(at.introspect(token).await["active"], true);
    }
    let Reply { status, body, .. } = at.refresh(&first_refresh).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("invalid_grant")),
        "reuse is refused"
    );
    for token in [&first_access, &rotated_access] {
        let Reply { status, body, .. } = at.whoami_stateless(token).await;
        assert_eq!(status, 401, "access token of a reused family: {body}");
        assert_eq!(at.introspect(token).await, inactive);
    }
    assert_eq!(
        at.whoami_stateless(&kept_access).await.status,
        200,
        "another grant lives"
    );

    // RFC 7009 revocation of a refresh token.
    assert_eq!(at.revoke(&kept_refresh).await, 200);
    let Reply { status, .. } = at.whoami_stateless(&kept_access).await;
    assert_eq!(status, 401, "access token of a revoked refresh token");
    assert_eq!(at.introspect(&kept_access).await, inactive);
    let (_, fresh_refresh) = grant(&at).await;
    let Reply { status, body, .. } = at.refresh(&fresh_refresh).await;
    assert_eq!(status, 200, "new grants work: {body}");
    let Tokens {
        access: live_access,
        ..
    } = Tokens::from_body(&body);

    // The revoked families are durable (same port, so same issuer).
    let port = server.port;
    server.stop();
    let server = Server::start_on(&dir.0, port, &["--stateless"]).await;
    assert_eq!(
        at.whoami_stateless(&live_access).await.status,
        200,
        "live grant kept"
    );
    for token in [&first_access, &rotated_access, &kept_access] {
        assert_eq!(
            at.whoami_stateless(token).await.status,
            401,
            "still refused after restart"
        );
    }
    server.stop();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn removing_a_user_or_a_client_revokes_their_grants() {
    let dir = TempDir::new("owner-removal");
    add_alice(&dir.0);
    let (code, _, err) = cli(&dir.0, &["user", "add", "bob"], "bob's long password\n");
    assert_eq!(code, 0, "{err}");
    let server = Server::start(&dir.0, &["--stateless"]).await;
    let port = server.port;
    let http = client();
    let client_id = register_public_client(&http, &server.base).await;
    let other_client = register_public_client(&http, &server.base).await;
    let at = Flow::behind(&server.base, &server.base, &client_id);
    let other = Flow::behind(&server.base, &server.base, &other_client);
    let (alice_access, alice_refresh) = grant(&at).await;
    let (other_access, other_refresh) = grant(&other).await;
    assert_eq!(at.whoami_stateless(&alice_access).await.status, 200);

    // The database belongs to one process: the operator stops the server.
    server.stop();
    let (code, out, err) = cli(&dir.0, &["user", "remove", "alice"], "");
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("revoked 2 grant(s)"), "{out}");
    let server = Server::start_on(&dir.0, port, &["--stateless"]).await;
    assert_eq!(
        at.whoami_stateless(&alice_access).await.status,
        401,
        "removed user's token"
    );
    assert_eq!(at.introspect(&alice_access).await, json!({"active": false}));
    assert_eq!(at.refresh(&alice_refresh).await.status, 400, "…and grant");
    assert_eq!(
        other.whoami_stateless(&other_access).await.status,
        401,
        "every client"
    );
    assert_eq!(other.refresh(&other_refresh).await.status, 400);

    // Client removal: bob's grant with that client only.
    let bob = |at: &Flow| {
        let at = at.clone();
        async move {
            let t = at.grant_as("bob", "bob's long password").await;
            (t.access, t.refresh)
        }
    };
    let (bob_access, _) = bob(&at).await;
    let (bob_other_access, _) = bob(&other).await;
    server.stop();
    let (code, out, err) = cli(&dir.0, &["client", "remove", &client_id], "");
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("revoked 1 grant(s)"), "{out}");
    let server = Server::start_on(&dir.0, port, &["--stateless"]).await;
    assert_eq!(
        at.whoami_stateless(&bob_access).await.status,
        401,
        "removed client's token"
    );
    assert_eq!(
        other.whoami_stateless(&bob_other_access).await.status,
        200,
        "other client's"
    );
    server.stop();
}
