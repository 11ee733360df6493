//! Crash durability of refresh-token rotation: `mcpauth serve` is killed
//! with SIGKILL while clients rotate their refresh tokens as fast as they
//! can, then restarted on the same data (redb, and PostgreSQL).
//!
//! What a client saw answered must hold after the restart: a client whose
//! last rotation was answered (nothing in flight at the kill) can use the
//! refresh token of that answer exactly once more, the same token again is
//! refused as reuse, older tokens are refused, and the access token of that
//! answer still works. A client with a request in flight when the server
//! died did not learn the outcome: its last answered token must either work
//! (the rotation was not applied) or be refused as reuse (it was), never
//! anything in between such as a server error.

mod common;
#[path = "postgres_support/mod.rs"]
mod postgres_support;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use common::*;
use postgres_support::TestDb;
use tokio::sync::Mutex;

/// Clients rotating at once.
const CLIENTS: usize = 8;
/// Rotations before the kill may happen.
const WARM_UP: Duration = Duration::from_millis(1500);

/// One client's view: every refresh token it was given, in order, and
/// whether a request was on the wire.
#[derive(Debug, Default)]
struct Seen {
    answered: Vec<(String, String)>,
    last_failed: bool,
}

struct Client {
    flow: Flow,
    seen: Mutex<Seen>,
    in_flight: AtomicBool,
}

async fn run(tag: &str, store_args: &[&str], data: &std::path::Path) {
    let (status, _, err) = cli(
        data,
        &[store_args, &["user", "add", "alice"]].concat(),
        &format!("{PASSWORD}\n"),
    );
    assert_eq!(status, 0, "{err}");
    let port = free_port();
    let server = Server::start_on(data, port, store_args).await;
    let base = server.base.clone();
    let http = client();

    let mut clients = Vec::new();
    for _ in 0..CLIENTS {
        let flow = Flow::new(&base, &register_public_client(&http, &base).await);
        let tokens = flow.grant_as("alice", PASSWORD).await;
        let seen = Seen {
            answered: vec![(tokens.refresh, tokens.access)],
            last_failed: false,
        };
        clients.push(Arc::new(Client {
            flow,
            seen: Mutex::new(seen),
            in_flight: AtomicBool::new(false),
        }));
    }

    // Rotate in a loop; a short pause between rotations leaves some clients
    // idle at any moment.
    let stop = Arc::new(AtomicBool::new(false));
    let mut tasks = Vec::new();
    for (i, c) in clients.iter().enumerate() {
        let c = c.clone();
        let stop = stop.clone();
        tasks.push(tokio::spawn(async move {
            while !stop.load(Ordering::SeqCst) {
                let current = c
                    .seen
                    .lock()
                    .await
                    .answered
                    .last()
                    .expect("a token")
                    .0
                    .clone();
                c.in_flight.store(true, Ordering::SeqCst);
                let sent = c
                    .flow
                    .http
                    .post(format!("{}/token", c.flow.base))
                    .header("content-type", "application/x-www-form-urlencoded")
                    .body(form(&[
                        ("grant_type", "refresh_token"),
                        ("refresh_token", &current),
                        ("client_id", &c.flow.client_id),
                    ]))
                    .send()
                    .await;
                let answer = match sent {
                    Ok(r) => {
                        let status = r.status().as_u16();
                        r.text().await.ok().map(|body| (status, body))
                    }
                    Err(_) => None,
                };
                let mut seen = c.seen.lock().await;
                match answer {
                    Some((200, body)) => {
                        let t = Tokens::from_body(&json_of(&body));
                        seen.answered.push((t.refresh, t.access));
                    }
                    Some((status, body)) => {
                        panic!("client {i}: rotation answered {status}: {body}")
                    }
                    None => {
                        // The server died under this request: stop here.
                        seen.last_failed = true;
                        c.in_flight.store(false, Ordering::SeqCst);
                        return;
                    }
                }
                c.in_flight.store(false, Ordering::SeqCst);
                drop(seen);
                tokio::time::sleep(Duration::from_millis(3 + 2 * i as u64)).await;
            }
        }));
    }

    // Kill while some clients wait for an answer and others are idle.
    tokio::time::sleep(WARM_UP).await;
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let busy = clients
            .iter()
            .filter(|c| c.in_flight.load(Ordering::SeqCst))
            .count();
        if (1..CLIENTS).contains(&busy) || Instant::now() > deadline {
            break;
        }
        tokio::task::yield_now().await;
    }
    // Idle clients stop at their next turn; those on the wire see the
    // connection die.
    stop.store(true, Ordering::SeqCst);
    server.kill();
    for t in tasks {
        t.await.expect("client task");
    }

    let server = Server::start_on(data, port, store_args).await;
    let mut strict = 0;
    let mut rotations = 0;
    for (i, c) in clients.iter().enumerate() {
        let seen = c.seen.lock().await;
        rotations += seen.answered.len() - 1;
        let (last_refresh, last_access) = seen.answered.last().expect("a token");
        let again = c.flow.refresh(last_refresh).await;
        if seen.last_failed && again.status != 200 {
            // The unanswered rotation was applied: presenting the token it
            // replaced is reuse.
            assert_eq!(again.status, 400, "{tag} client {i}: {}", again.body);
            assert_eq!(again.body["error"], "invalid_grant", "{tag} client {i}");
            continue;
        }
        assert_eq!(
            again.status, 200,
            "{tag} client {i}: the last answered rotation must survive the crash: {}",
            again.body
        );
        if !seen.last_failed {
            strict += 1;
            // Its access token too (the signing key survived).
            let who = c.flow.whoami(last_access).await;
            assert_eq!(who.status, 200, "{tag} client {i}: {}", who.body);
        }
        let next = Tokens::from_body(&again.body);
        // Exactly once: the same token again is reuse, which revokes the
        // family, so the token just issued dies with it.
        let reuse = c.flow.refresh(last_refresh).await;
        assert_eq!(reuse.status, 400, "{tag} client {i}: {}", reuse.body);
        assert_eq!(reuse.body["error"], "invalid_grant");
        let after = c.flow.refresh(&next.refresh).await;
        assert_eq!(
            after.status, 400,
            "{tag} client {i}: family revoked on reuse"
        );
        // Every older token is refused as well.
        for (older, _) in seen.answered.iter().rev().skip(1).take(3) {
            let r = c.flow.refresh(older).await;
            assert_eq!(
                r.status, 400,
                "{tag} client {i}: an older token still works"
            );
        }
    }
    server.stop();
    assert!(strict > 0, "{tag}: no client was idle at the kill");
    assert!(
        rotations >= CLIENTS,
        "{tag}: only {rotations} rotations before the kill"
    );
    say(&format!(
        "{tag}: {rotations} rotations answered before SIGKILL; {strict} of {CLIENTS} clients idle at the kill"
    ));
}

fn say(msg: &str) {
    postgres_support::say(msg);
}

#[tokio::test(flavor = "multi_thread")]
async fn sigkill_under_refresh_load_keeps_every_answered_rotation_redb() {
    let dir = TempDir::new("sigkill-redb");
    run("redb", &[], &dir.0).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn sigkill_under_refresh_load_keeps_every_answered_rotation_postgres() {
    let Some(db) = TestDb::create("sigkill").await else {
        return;
    };
    let dir = TempDir::new("sigkill-pg");
    run("postgres", &["--store", &db.url], &dir.0).await;
}
