//! Scale-out over real HTTP: two real `mcpauth` processes on different ports
//! share one PostgreSQL schema and one public URL (as behind a load
//! balancer). A client registered at A works at B, a code issued by A is
//! redeemed at B, 50 concurrent redemptions across both give exactly one
//! token, a concurrent double refresh gives one token and revokes the family
//! (the documented behaviour), a revocation at A is refused at B, a key
//! rotated through the CLI is honoured by an instance that has not reloaded
//! yet, and restarting both loses nothing.
//!
//! MCP sessions live in each instance's memory, so the fleet runs with
//! `--stateless` (or needs sticky routing); everything OAuth is shared.
//!
//! Skipped (with a printed reason) when no database is reachable, unless
//! `MCPAUTH_REQUIRE_POSTGRES=1`; see `postgres_support`.

mod common;
mod postgres_support;

use common::*;
use postgres_support::TestDb;
use serde_json::json;

struct Fleet {
    url: String,
    public: String,
    dirs: [TempDir; 2],
    ports: [u16; 2],
}

impl Fleet {
    async fn start(&self, i: usize) -> Server {
        Server::start_on(
            &self.dirs[i].0,
            self.ports[i],
            &[
                "--store",
                &self.url,
                "--public-url",
                &self.public,
                "--stateless",
            ],
        )
        .await
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_instances_share_one_database() {
    let Some(db) = TestDb::create("fleet").await else {
        return;
    };
    let ports = [free_port(), free_port()];
    let public = format!("http://127.0.0.1:{}", ports[0]);
    let fleet = Fleet {
        url: db.url.clone(),
        public: public.clone(),
        dirs: [TempDir::new("pg-a"), TempDir::new("pg-b")],
        ports,
    };
    // The user is created once, in the shared store.
    let (code, _, err) = cli(
        &fleet.dirs[0].0,
        &["--store", &db.url, "user", "add", "alice"],
        &format!("{PASSWORD}\n"),
    );
    assert_eq!(code, 0, "{err}");

    // The store is also chosen by MCPAUTH_STORE and by DATABASE_URL (when
    // that is a postgres URL); anything else keeps the embedded database.
    let users_with = |var: &str, value: &str| {
        let out = std::process::Command::new(program())
            .args(["user", "list", "--data-dir"])
            .arg(&fleet.dirs[1].0)
            .env_remove("MCPAUTH_STORE")
            .env_remove("DATABASE_URL")
            .env(var, value)
            .output()
            .expect("run");
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    assert!(users_with("MCPAUTH_STORE", &db.url).starts_with("alice\t"));
    assert!(users_with("DATABASE_URL", &db.url).starts_with("alice\t"));
    assert_eq!(users_with("DATABASE_URL", "mysql://elsewhere/db"), "");
    let toml = fleet.dirs[1].0.with_extension("toml");
    std::fs::write(&toml, format!("store = {:?}\n", db.url)).expect("write config");
    let toml = toml.to_str().expect("utf-8 path").to_owned();
    assert!(users_with("MCPAUTH_CONFIG", &toml).starts_with("alice\t"));

    // Both start at once (concurrent migrations and first-key creation).
    let (a, b) = tokio::join!(fleet.start(0), fleet.start(1));

    // One JWKS for the fleet.
    let a0 = Flow::behind(&a.base, &public, "");
    let b0 = Flow::behind(&b.base, &public, "");
    let jwks = a0.jwks().await;
    assert_eq!(
        jwks,
        b0.jwks().await,
        "both instances publish the same keys"
    );
    assert_eq!(jwks["keys"].as_array().map(Vec::len), Some(1));

    // A client registered at A works at B.
    let client_id = register_public_client(&a0.http, &a.base).await;
    let at_a = Flow::behind(&a.base, &public, &client_id);
    let at_b = Flow::behind(&b.base, &public, &client_id);

    // Sign-in at B for a client registered at A; code from B redeemed at A.
    let (verifier, challenge) = pkce();
    let code = at_b.sign_in(&challenge, "alice", PASSWORD).await;
    let Reply { status, body, .. } = at_a.exchange(&code, &verifier).await;
    assert_eq!(status, 200, "{body}");

    // A code issued by A is redeemed at B; the token works at both.
    let (verifier, challenge) = pkce();
    let code = at_a.sign_in(&challenge, "alice", PASSWORD).await;
    let Reply { status, body, .. } = at_b.exchange(&code, &verifier).await;
    assert_eq!(status, 200, "{body}");
    let Tokens { access, refresh } = Tokens::from_body(&body);
    for at in [&at_a, &at_b] {
        let Reply { status, body, .. } = at.whoami_stateless(&access).await;
        assert_eq!(status, 200, "{body}");
        assert_eq!(body["result"]["structuredContent"]["client_id"], client_id);
    }
    // Replaying it at A fails and revokes what it issued, fleet-wide.
    let Reply { status, body, .. } = at_a.exchange(&code, &verifier).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("invalid_grant"))
    );
    let Reply { status, .. } = at_b.whoami_stateless(&access).await;
    assert_eq!(status, 401, "code replay at A revoked the token at B");
    let Reply { status, .. } = at_b.refresh(&refresh).await;
    assert_eq!(status, 400, "…and the grant");

    // 50 concurrent redemptions of one code across both: exactly one token.
    let (verifier, challenge) = pkce();
    let code = at_a.sign_in(&challenge, "alice", PASSWORD).await;
    let mut tasks = Vec::new();
    for i in 0..50 {
        let at = if i % 2 == 0 {
            at_a.clone()
        } else {
            at_b.clone()
        };
        let (code, verifier) = (code.clone(), verifier.clone());
        tasks.push(tokio::spawn(
            async move { at.exchange(&code, &verifier).await },
        ));
    }
    let mut ok = 0;
    for t in tasks {
        let Reply { status, body, .. } = t.await.expect("join");
        match status {
            200 => ok += 1,
            400 => assert_eq!(body["error"], "invalid_grant", "{body}"),
            other => panic!("unexpected {other}: {body}"),
        }
    }
    assert_eq!(ok, 1, "one code, one token, whatever the instance");

    // Concurrent refreshes of one token (documented: one success, and the
    // family is revoked because the second presentation is reuse).
    let (verifier, challenge) = pkce();
    let code = at_a.sign_in(&challenge, "alice", PASSWORD).await;
    let Reply { status, body, .. } = at_a.exchange(&code, &verifier).await;
    assert_eq!(status, 200, "{body}");
    let Tokens {
        access: family_access,
        refresh,
    } = Tokens::from_body(&body);
    // Both instances have verified (and B has cached) the family's token.
    for at in [&at_a, &at_b, &at_b] {
        assert_eq!(at.whoami_stateless(&family_access).await.status, 200);
    }
    let mut tasks = Vec::new();
    for i in 0..10 {
        let at = if i % 2 == 0 {
            at_a.clone()
        } else {
            at_b.clone()
        };
        let refresh = refresh.clone();
        tasks.push(tokio::spawn(async move { at.refresh(&refresh).await }));
    }
    let mut winners = Vec::new();
    let mut winner_access = Vec::new();
    for t in tasks {
        let Reply { status, body, .. } = t.await.expect("join");
        match status {
            200 => {
                winners.push(Tokens::from_body(&body).refresh);
                winner_access.push(Tokens::from_body(&body).access);
            }
            400 => assert_eq!(body["error"], "invalid_grant", "{body}"),
            other => panic!("unexpected {other}: {body}"),
        }
    }
    assert_eq!(winners.len(), 1, "exactly one refresh succeeds");
    let Reply { status, body, .. } = at_b.refresh(&winners[0]).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("invalid_grant")),
        "the family was revoked by the concurrent reuse"
    );
    // Every access token of the revoked family is refused fleet-wide, the
    // one B had cached included, and introspects inactive at both.
    for token in [&family_access, &winner_access[0]] {
        for at in [&at_a, &at_b] {
            let Reply { status, body, .. } = at.whoami_stateless(token).await;
            assert_eq!(status, 401, "access token of a revoked family: {body}");
            assert_eq!(at.introspect(token).await, json!({"active": false}));
        }
    }

    // Revocation at A is refused at B at once (B has the token cached).
    let (verifier, challenge) = pkce();
    let code = at_b.sign_in(&challenge, "alice", PASSWORD).await;
    let Reply { status, body, .. } = at_b.exchange(&code, &verifier).await;
    assert_eq!(status, 200, "{body}");
    let Tokens { access, .. } = Tokens::from_body(&body);
    assert_eq!(at_b.whoami_stateless(&access).await.status, 200);
    assert_eq!(at_b.whoami_stateless(&access).await.status, 200);
    assert_eq!(at_a.revoke(&access).await, 200);
    let Reply { status, .. } = at_b.whoami_stateless(&access).await;
    assert_eq!(status, 401, "revoked at A, refused by B's cache");

    // Grant kept across the restart.
    let (verifier, challenge) = pkce();
    let code = at_a.sign_in(&challenge, "alice", PASSWORD).await;
    let Reply { status, body, .. } = at_a.exchange(&code, &verifier).await;
    assert_eq!(status, 200, "{body}");
    let Tokens {
        access: kept_access,
        refresh: kept_refresh,
    } = Tokens::from_body(&body);

    // Key rotation through the CLI while both run; restart A only, so A
    // signs with the new key and B has not reloaded yet: B reloads on the
    // unknown kid and accepts.
    let (code, out, err) = cli(
        &fleet.dirs[0].0,
        &["--store", &db.url, "keys", "rotate"],
        "",
    );
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("new signing key"), "{out}");
    a.stop();
    let a = fleet.start(0).await;
    let (verifier, challenge) = pkce();
    let code = at_a.sign_in(&challenge, "alice", PASSWORD).await;
    let Reply { status, body, .. } = at_a.exchange(&code, &verifier).await;
    assert_eq!(status, 200, "{body}");
    let Tokens {
        access: new_access, ..
    } = Tokens::from_body(&body);
    let Reply { status, body, .. } = at_b.whoami_stateless(&new_access).await;
    assert_eq!(status, 200, "B picks up the rotated key: {body}");
    assert_eq!(at_a.jwks().await, at_b.jwks().await);
    assert_eq!(at_a.jwks().await["keys"].as_array().map(Vec::len), Some(2));

    // Restart both: nothing is lost.
    a.stop();
    b.stop();
    let (a, b) = tokio::join!(fleet.start(0), fleet.start(1));
    let Reply { status, body, .. } = at_b.whoami_stateless(&kept_access).await;
    assert_eq!(status, 200, "old access token after restart: {body}");
    let Reply { status, body, .. } = at_a.whoami_stateless(&new_access).await;
    assert_eq!(status, 200, "{body}");
    let Reply { status, body, .. } = at_b.refresh(&kept_refresh).await;
    assert_eq!(status, 200, "refresh token after restart: {body}");
    let Reply { status, body, .. } = at_a
        .whoami_stateless(&Tokens::from_body(&body).access)
        .await;
    assert_eq!(status, 200, "{body}");
    let (verifier, challenge) = pkce();
    let code = at_b.sign_in(&challenge, "alice", PASSWORD).await;
    let Reply { status, body, .. } = at_a.exchange(&code, &verifier).await;
    assert_eq!(status, 200, "client and user kept: {body}");
    let Tokens {
        access: last_access,
        refresh: last_refresh,
    } = Tokens::from_body(&body);
    assert_eq!(at_b.whoami_stateless(&last_access).await.status, 200);

    // Removing the client while both run revokes its grants fleet-wide.
    let (code, out, err) = cli(
        &fleet.dirs[0].0,
        &["--store", &db.url, "client", "remove", &client_id],
        "",
    );
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("grant(s)"), "{out}");
    for at in [&at_a, &at_b] {
        let Reply { status, .. } = at.whoami_stateless(&last_access).await;
        assert_eq!(status, 401, "token of a removed client");
    }
    assert_eq!(
        at_a.refresh(&last_refresh).await.status,
        401,
        "unknown client"
    );
    a.stop();
    b.stop();
    postgres_support::say("postgres_fleet: two instances on one schema: all checks passed");
}
