//! `revocation_recheck_ms` over real HTTP: two `mcpauth` processes share one
//! PostgreSQL schema and reuse a cached token's revocation check for up to
//! the bound. A token revoked through an instance is refused by that
//! instance's very next request; one revoked at the other instance is
//! refused here once the bound has passed (the documented fleet bound), and
//! an operator's `client remove` likewise. (`postgres_fleet` covers the
//! default, 0: refused everywhere at once.)
//!
//! Skipped (with a printed reason) when no database is reachable, unless
//! `MCPAUTH_REQUIRE_POSTGRES=1`; see `postgres_support`.

mod common;
mod postgres_support;

use std::time::{Duration, Instant};

use common::*;
use postgres_support::TestDb;

/// The bound under test.
const RECHECK_MS: u64 = 600;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_revocation_reaches_the_fleet_within_the_recheck_bound() {
    let Some(db) = TestDb::create("recheck").await else {
        return;
    };
    let url = format!("{}&revocation_recheck_ms={RECHECK_MS}", db.url);
    let ports = [free_port(), free_port()];
    let public = format!("http://127.0.0.1:{}", ports[0]);
    let dirs = [TempDir::new("recheck-a"), TempDir::new("recheck-b")];
    let (code, _, err) = cli(
        &dirs[0].0,
        &["--store", &url, "user", "add", "alice"],
        &format!("{PASSWORD}\n"),
    );
    assert_eq!(code, 0, "{err}");
    let args = ["--store", &url, "--public-url", &public, "--stateless"];
    let (a, b) = tokio::join!(
        Server::start_on(&dirs[0].0, ports[0], &args),
        Server::start_on(&dirs[1].0, ports[1], &args)
    );
    let client_id = register_public_client(&client(), &a.base).await;
    let at_a = Flow::behind(&a.base, &public, &client_id);
    let at_b = Flow::behind(&b.base, &public, &client_id);

    // Revoked through B while B has it cached (and its check is fresh):
    // B refuses the very next request.
    let Tokens { access, .. } = at_b.grant_as("alice", PASSWORD).await;
    assert_eq!(at_b.whoami_stateless(&access).await.status, 200);
    assert_eq!(at_b.whoami_stateless(&access).await.status, 200);
    assert_eq!(at_b.revoke(&access).await, 200);
    assert_eq!(
        at_b.whoami_stateless(&access).await.status,
        401,
        "revoked here: refused at once"
    );

    // Revoked at A while B has it cached: B refuses it once the bound has
    // passed since B's last check, never later.
    let Tokens { access, .. } = at_b.grant_as("alice", PASSWORD).await;
    assert_eq!(at_b.whoami_stateless(&access).await.status, 200);
    assert_eq!(at_b.whoami_stateless(&access).await.status, 200);
    let last_check = Instant::now();
    assert_eq!(at_a.revoke(&access).await, 200);
    assert_eq!(
        at_a.whoami_stateless(&access).await.status,
        401,
        "refused at once where it was revoked"
    );
    let bound = Duration::from_millis(RECHECK_MS);
    tokio::time::sleep(bound.saturating_sub(last_check.elapsed())).await;
    assert_eq!(
        at_b.whoami_stateless(&access).await.status,
        401,
        "revoked at A: refused by B within {RECHECK_MS} ms"
    );

    // An operator removing the client (another process) is honoured by
    // both within the bound.
    let Tokens { access, .. } = at_a.grant_as("alice", PASSWORD).await;
    for at in [&at_a, &at_b] {
        assert_eq!(at.whoami_stateless(&access).await.status, 200);
    }
    let (code, out, err) = cli(
        &dirs[0].0,
        &["--store", &url, "client", "remove", &client_id],
        "",
    );
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("grant(s)"), "{out}");
    tokio::time::sleep(bound).await;
    for at in [&at_a, &at_b] {
        assert_eq!(
            at.whoami_stateless(&access).await.status,
            401,
            "removed client's token, {RECHECK_MS} ms later"
        );
    }
    a.stop();
    b.stop();
}

#[test]
fn the_bound_is_bounded() {
    let base = "postgres://u@127.0.0.1/db?schema=s";
    for bad in ["-1", "x", "60001"] {
        let err = mcpauth::pg::PgOptions::parse(&format!("{base}&revocation_recheck_ms={bad}"))
            .expect_err(bad);
        assert!(err.contains("revocation_recheck_ms"), "{err}");
    }
    for good in [0, 250, 60_000] {
        let options =
            mcpauth::pg::PgOptions::parse(&format!("{base}&revocation_recheck_ms={good}"))
                .expect("valid");
        assert_eq!(options.revocation_recheck, Duration::from_millis(good));
    }
    let default = mcpauth::pg::PgOptions::parse(base).expect("valid");
    assert_eq!(
        default.revocation_recheck,
        Duration::ZERO,
        "at once by default"
    );
}
