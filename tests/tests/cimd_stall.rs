//! Issue 14, finding 1: client ID metadata document fetches must not stall
//! the authorization server. A host that accepts TCP and never answers TLS
//! is named by 64 parallel `GET /authorize` requests, each with a different
//! URL on that host (so no per-URL cache helps); discovery and a refresh
//! grant must still answer promptly, and the server must not have opened a
//! connection per URL.

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use common::*;

/// Parallel slow-document requests.
const ATTACKERS: usize = 64;
/// A generous bound, not a benchmark: the point is "not stuck behind 5 s
/// fetches".
const PROMPT: Duration = Duration::from_secs(1);

/// Accepts TCP connections on loopback and never sends a byte (the TLS
/// handshake never completes). Counts connections.
async fn tarpit() -> (u16, Arc<AtomicUsize>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind tarpit");
    let port = listener.local_addr().expect("addr").port();
    let accepted = Arc::new(AtomicUsize::new(0));
    let counter = accepted.clone();
    tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((tcp, _)) = listener.accept().await {
            counter.fetch_add(1, Ordering::SeqCst);
            held.push(tcp);
        }
    });
    (port, accepted)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slow_metadata_documents_do_not_stall_discovery_or_tokens() {
    let (port, accepted) = tarpit().await;
    let dir = TempDir::new("cimd-stall");
    let (code, _, err) = cli(&dir.0, &["user", "add", "alice"], &format!("{PASSWORD}\n"));
    assert_eq!(code, 0, "{err}");
    let server = Server::start(&dir.0, &["--dangerous-cimd-allow-loopback"]).await;
    let base = server.base.clone();
    let http = client();
    let flow = Flow::new(&base, &register_public_client(&http, &base).await);
    let tokens = flow.grant_as("alice", PASSWORD).await;

    let (_, challenge) = pkce();
    let mut attack = Vec::new();
    for i in 0..ATTACKERS {
        let slow = Flow::new(&base, &format!("https://127.0.0.1:{port}/client.json?{i}"));
        let url = slow.authorize_url(&challenge, "st");
        let http = http.clone();
        attack.push(tokio::spawn(async move {
            let started = Instant::now();
            let r = http.get(url).send().await.expect("authorize");
            (r.status().as_u16(), started.elapsed())
        }));
    }
    // Let the attack reach the server and start its fetches.
    tokio::time::sleep(Duration::from_millis(500)).await;

    let started = Instant::now();
    let r = http
        .get(format!("{base}/.well-known/oauth-authorization-server"))
        .send()
        .await
        .expect("discovery");
    let took = started.elapsed();
    assert_eq!(r.status(), 200);
    assert!(took < PROMPT, "discovery took {took:?} during the attack");

    let started = Instant::now();
    let r = flow.refresh(&tokens.refresh).await;
    let took = started.elapsed();
    assert_eq!(r.status, 200, "{}", r.body);
    assert!(
        took < PROMPT,
        "a refresh grant took {took:?} during the attack"
    );

    // Every attacking request is answered (an error page), none hangs past
    // one fetch timeout and a margin.
    for a in attack {
        let (status, took) = a.await.expect("attacker");
        assert!(
            matches!(status, 400 | 429 | 503),
            "a slow document got {status}"
        );
        assert!(took < Duration::from_secs(15), "{took:?}");
    }
    // One host, one failure remembered: not a connection per URL.
    let connections = accepted.load(Ordering::SeqCst);
    assert!(
        connections <= 4,
        "{connections} connections to one unresponsive host"
    );
    server.stop();
}
