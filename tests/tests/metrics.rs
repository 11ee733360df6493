//! `/metrics` over HTTP: served only on `--metrics-listen`, parsed by the
//! reference OpenMetrics parser (Python `prometheus_client`, installed by
//! scripts/prometheus-parse.sh), and every family moves with the requests
//! that should move it.

mod common;

use common::metrics::scrape;
use common::*;
use serde_json::json;

/// A server with a user `alice` and a metrics listener: (data directory,
/// server, metrics base URL).
async fn start_with_metrics(tag: &str) -> (TempDir, Server, String) {
    let dir = TempDir::new(tag);
    let (status, _, err) = cli(&dir.0, &["user", "add", "alice"], PASSWORD);
    assert_eq!(status, 0, "{err}");
    let metrics_port = free_port();
    let metrics = format!("http://127.0.0.1:{metrics_port}");
    let server = Server::start(
        &dir.0,
        &["--metrics-listen", &format!("127.0.0.1:{metrics_port}")],
    )
    .await;
    (dir, server, metrics)
}

/// A new sign-in page, then `alice` with a wrong password on it.
async fn wrong_password(flow: &Flow, challenge: &str) -> reqwest::Response {
    let page = flow.authorize(challenge, "st").await;
    assert_eq!(page.status, 200);
    flow.decide(
        &page.html,
        &page.cookie,
        "alice",
        "not the password",
        "allow",
    )
    .await
}

#[tokio::test]
async fn metrics_parse_and_move_with_requests() {
    let (_dir, server, metrics) = start_with_metrics("metrics").await;
    let http = client();

    // Not on the public listener.
    let r = http
        .get(format!("{}/metrics", server.base))
        .send()
        .await
        .expect("public /metrics");
    assert_eq!(r.status(), 404, "metrics are never on the public listener");
    // Only GET /metrics on the metrics listener.
    let r = http
        .get(format!("{metrics}/other"))
        .send()
        .await
        .expect("other");
    assert_eq!(r.status(), 404);

    let (_, before) = scrape(&http, &metrics).await;
    assert_eq!(
        before
            .types
            .get("mcpauth_http_requests")
            .map(String::as_str),
        Some("counter")
    );

    // A full flow: registration, a failed and a good sign-in, the code
    // grant, MCP calls in a session, a refresh, a reuse, a revocation.
    let client_id = register_public_client(&http, &server.base).await;
    let flow = Flow::new(&server.base, &client_id);
    let (verifier, challenge) = pkce();
    let wrong = wrong_password(&flow, &challenge).await;
    assert_eq!(wrong.status(), 200, "the form again");
    let page = flow.authorize(&challenge, "st-1").await;
    let r = flow
        .decide(&page.html, &page.cookie, "alice", PASSWORD, "allow")
        .await;
    let code = flow.code_from(&r, "st-1");
    let first = flow.exchange(&code, &verifier).await;
    assert_eq!(first.status, 200, "{}", first.body);
    let tokens = Tokens::from_body(&first.body);
    let who = flow.whoami(&tokens.access).await;
    assert_eq!(who.status, 200, "{}", who.body);
    let rotated = flow.refresh(&tokens.refresh).await;
    assert_eq!(rotated.status, 200, "{}", rotated.body);
    let reuse = flow.refresh(&tokens.refresh).await;
    assert_eq!(reuse.status, 400, "reuse is refused: {}", reuse.body);
    let unauthenticated = flow
        .mcp(
            None,
            None,
            json!({"jsonrpc": "2.0", "id": 1, "method": "ping"}),
        )
        .await;
    assert_eq!(unauthenticated.status, 401);
    let fresh = flow.grant_as("alice", PASSWORD).await;
    assert_eq!(flow.revoke(&fresh.refresh).await, 200);
    for _ in 0..3 {
        let r = http
            .get(format!("{}/healthz", server.base))
            .send()
            .await
            .expect("healthz");
        assert_eq!(r.status(), 200);
    }

    let (text, after) = scrape(&http, &metrics).await;
    let moved =
        |name: &str, labels: &[(&str, &str)]| after.get(name, labels) - before.get(name, labels);
    let requests = "mcpauth_http_requests_total";
    assert!(moved(requests, &[("endpoint", "healthz"), ("status", "2xx")]) >= 3.0);
    assert!(moved(requests, &[("endpoint", "register"), ("status", "2xx")]) >= 1.0);
    assert!(moved(requests, &[("endpoint", "token"), ("status", "2xx")]) >= 3.0);
    assert!(moved(requests, &[("endpoint", "token"), ("status", "4xx")]) >= 1.0);
    assert!(moved(requests, &[("endpoint", "authorize"), ("status", "3xx")]) >= 2.0);
    assert!(moved(requests, &[("endpoint", "mcp"), ("status", "2xx")]) >= 3.0);
    assert!(moved(requests, &[("endpoint", "mcp"), ("status", "4xx")]) >= 1.0);
    // The latency histogram counts the same requests.
    let latency = "mcpauth_http_request_duration_seconds";
    assert_eq!(
        after.types.get(latency).map(String::as_str),
        Some("histogram")
    );
    assert_eq!(
        after.get(
            &format!("{latency}_count"),
            &[("endpoint", "token"), ("status", "2xx")]
        ),
        after.get(requests, &[("endpoint", "token"), ("status", "2xx")])
    );
    assert!(
        after.get(
            &format!("{latency}_bucket"),
            &[("endpoint", "token"), ("status", "2xx"), ("le", "+Inf")]
        ) >= 3.0
    );
    assert!(
        after.get(
            &format!("{latency}_sum"),
            &[("endpoint", "token"), ("status", "2xx")]
        ) > 0.0
    );
    let issued = "mcpauth_tokens_issued_total";
    assert_eq!(moved(issued, &[("grant", "authorization_code")]), 2.0);
    assert_eq!(moved(issued, &[("grant", "refresh_token")]), 1.0);
    assert_eq!(moved("mcpauth_refresh_reuse_detected_total", &[]), 1.0);
    assert_eq!(moved("mcpauth_tokens_revoked_total", &[]), 1.0);
    assert_eq!(
        moved("mcpauth_sign_ins_total", &[("result", "success")]),
        2.0
    );
    assert_eq!(
        moved("mcpauth_sign_ins_total", &[("result", "failure")]),
        1.0
    );
    assert_eq!(
        moved("mcpauth_consents_total", &[("result", "granted")]),
        2.0
    );
    assert_eq!(moved("mcpauth_clients_registered_total", &[]), 1.0);
    assert!(
        after.get(
            "mcpauth_store_commit_duration_seconds_count",
            &[("store", "redb")]
        ) > before.get(
            "mcpauth_store_commit_duration_seconds_count",
            &[("store", "redb")]
        ),
        "{text}"
    );
    assert!(
        after.get("mcpauth_mcp_sessions", &[]) >= 1.0,
        "a session was opened: {text}"
    );
    assert!(after.types.contains_key("mcpauth_mcp_open_streams"));
    assert!(after.types.contains_key("mcpauth_throttled"));
    assert!(
        after
            .types
            .contains_key("mcpauth_metadata_document_fetches")
    );
    // Scraping is not counted as a request of the server.
    assert!(!text.contains("endpoint=\"metrics\""));
    server.stop();
}

#[tokio::test]
async fn throttle_hits_are_counted() {
    let (_dir, server, metrics) = start_with_metrics("metrics-throttle").await;
    let http = client();
    let client_id = register_public_client(&http, &server.base).await;
    let flow = Flow::new(&server.base, &client_id);
    let (_, challenge) = pkce();
    // 5 failed sign-ins per (user, peer) per 15 minutes; the 6th attempt
    // is refused without a check.
    let mut refused = false;
    for _ in 0..7 {
        refused |= wrong_password(&flow, &challenge).await.status() == 429;
    }
    assert!(refused, "the sign-in throttle refused an attempt");
    let (text, after) = scrape(&http, &metrics).await;
    assert!(
        after.get("mcpauth_throttled_total", &[("limit", "sign_in")]) >= 1.0,
        "{text}"
    );
    assert!(after.get("mcpauth_sign_ins_total", &[("result", "failure")]) >= 5.0);
    server.stop();
}
