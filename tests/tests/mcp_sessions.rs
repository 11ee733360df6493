//! MCP sessions of several users through the real program: one user cannot
//! take every session slot (a per-subject cap evicts that user's idlest
//! session), and a `DELETE /mcp` naming someone else's session touches
//! nothing of it (issue 14, findings 6 and 8).

mod common;

use common::*;
use serde_json::json;

fn add_user(dir: &std::path::Path, name: &str) {
    let (code, _, err) = cli(dir, &["user", "add", name], &format!("{PASSWORD}\n"));
    assert_eq!(code, 0, "{err}");
}

async fn ping(flow: &Flow, token: &str, session: &str) -> u16 {
    flow.mcp(
        Some(token),
        Some(session),
        json!({"jsonrpc": "2.0", "id": 2, "method": "ping"}),
    )
    .await
    .status
}

/// `GET /mcp` on `session`: the session's standalone SSE stream.
async fn open_standalone(flow: &Flow, token: &str, session: &str) -> reqwest::Response {
    flow.http
        .get(format!("{}/mcp", flow.base))
        .header("accept", "text/event-stream")
        .header("authorization", format!("Bearer {token}"))
        .header("mcp-session-id", session)
        .header("mcp-protocol-version", "2025-06-18")
        .send()
        .await
        .expect("GET /mcp")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn delete_of_another_subjects_session_leaves_its_streams() {
    let dir = TempDir::new("mcp-delete");
    add_user(&dir.0, "alice");
    add_user(&dir.0, "mallory");
    let server = Server::start(&dir.0, &[]).await;
    let http = client();
    let client_id = register_public_client(&http, &server.base).await;
    let flow = Flow::new(&server.base, &client_id);
    let alice = flow.grant_as("alice", PASSWORD).await;
    let mallory = flow.grant_as("mallory", PASSWORD).await;

    let session = flow.session(&alice.access).await;
    let stream = open_standalone(&flow, &alice.access, &session).await;
    assert_eq!(stream.status().as_u16(), 200);

    let delete = flow
        .http
        .delete(format!("{}/mcp", flow.base))
        .header("authorization", format!("Bearer {}", mallory.access))
        .header("mcp-session-id", &session)
        .header("mcp-protocol-version", "2025-06-18")
        .send()
        .await
        .expect("DELETE /mcp");
    assert_eq!(delete.status().as_u16(), 404);

    // Alice's stream is still open: a second reader is refused with 409
    // (had it been torn down, a fresh stream would open with 200).
    let second = open_standalone(&flow, &alice.access, &session).await;
    assert_eq!(
        second.status().as_u16(),
        409,
        "the foreign DELETE ended alice's stream"
    );
    assert_eq!(ping(&flow, &alice.access, &session).await, 200);
    drop(stream);
    server.stop();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_subject_cannot_hold_every_session() {
    let cap = mcpauth_core::mcp::McpLimits::default().sessions_per_subject;
    let dir = TempDir::new("mcp-session-cap");
    add_user(&dir.0, "alice");
    add_user(&dir.0, "bob");
    let server = Server::start(&dir.0, &[]).await;
    let http = client();
    let client_id = register_public_client(&http, &server.base).await;
    let flow = Flow::new(&server.base, &client_id);
    let alice = flow.grant_as("alice", PASSWORD).await;
    let bob = flow.grant_as("bob", PASSWORD).await;
    let bobs = flow.session(&bob.access).await;

    let mut sessions = Vec::new();
    for _ in 0..cap {
        sessions.push(flow.session(&alice.access).await);
    }
    // Use every session but the first, so the first is the idlest.
    for s in &sessions[1..] {
        assert_eq!(ping(&flow, &alice.access, s).await, 200);
    }
    // One more than the cap: alice's idlest session makes room.
    let newest = flow.session(&alice.access).await;
    assert_eq!(ping(&flow, &alice.access, &newest).await, 200);
    assert_eq!(
        ping(&flow, &alice.access, &sessions[0]).await,
        404,
        "alice holds more than {cap} sessions"
    );
    for s in &sessions[1..] {
        assert_eq!(ping(&flow, &alice.access, s).await, 200);
    }
    // Another subject's session is never the one to go.
    assert_eq!(ping(&flow, &bob.access, &bobs).await, 200);
    server.stop();
}
