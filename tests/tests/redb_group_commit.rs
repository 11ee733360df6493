//! The embedded (redb) store under concurrency, through the real HTTP
//! server in-process: the core's store conformance suite, concurrent refresh
//! grants sharing group commits with reuse detection intact, and a failed
//! commit answering every grant of its group with the protocol's 503 while
//! writing nothing.

mod common;

use std::time::{SystemTime, UNIX_EPOCH};

use mcpauth::app::{App, AppOptions};
use mcpauth::backend::Backend;
use mcpauth::backend::HostStore;
use mcpauth::db::Db;
use mcpauth::server::{ServerOptions, serve};
use mcpauth_core::mcp::Registry;
use mcpauth_core::store::{
    ClientAuthMethod, ClientRecord, ClientStore, RefreshFamily, RefreshStore, hash_secret,
};
use mcpauth_core::time::UnixTime;
use serde_json::Value;

use common::TempDir;

const CLIENT_ID: &str = "group-commit-client";
const GRANTS: usize = 16;

fn now_secs() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("clock")
        .as_secs()
}

/// A server on a free loopback port over `db`, with one public client and
/// `GRANTS` refresh families (`fam<i>.first-secret-<i>` are their tokens).
struct Fixture {
    base: String,
    db: Db,
    http: reqwest::Client,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    server: Option<tokio::task::JoinHandle<()>>,
    _dir: TempDir,
}

impl Fixture {
    async fn start() -> Fixture {
        let dir = TempDir::new("group-commit");
        let db = Db::open(&dir.0).expect("open db");
        let backend = Backend::from(db.clone());
        let now = now_secs();
        let keys = mcpauth::keys::load_or_create(&backend, 300, now).expect("keys");
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let base = format!("http://{}", listener.local_addr().expect("addr"));
        let options = AppOptions {
            public_url: base.clone(),
            access_token_ttl: 300,
            refresh_token_ttl: 3600,
            allowed_origins: Vec::new(),
            stateless: false,
            token_cache: 0,
            privy: None,
            client_metadata: None,
            client_rules: Default::default(),
            resources: Vec::new(),
            upstreams: Default::default(),
            oidc: Default::default(),
        };
        let mut registry = Registry::new();
        mcpauth::tools::register_builtin(&mut registry).expect("tools");
        let app = App::new(&options, backend, keys, registry).expect("app");
        let resource = format!("{base}/mcp");
        db.insert_client(ClientRecord {
            client_id: CLIENT_ID.into(),
            secret_hash: None,
            auth_method: ClientAuthMethod::None,
            redirect_uris: vec!["http://127.0.0.1:9/cb".into()],
            grant_types: vec!["authorization_code".into(), "refresh_token".into()],
            response_types: vec!["code".into()],
            scopes: vec!["mcp".into()],
            client_name: None,
            native: false,
            issued_at: now,
        })
        .await
        .expect("client");
        for i in 0..GRANTS {
            db.insert_family(
                RefreshFamily {
                    family_id: format!("fam{i}"),
                    client_id: CLIENT_ID.into(),
                    subject: "alice".into(),
                    resource: resource.clone(),
                    granted_scopes: vec!["mcp".into()],
                    scopes: vec!["mcp".into()],
                    current_hash: hash_secret(&first_token(i)),
                    current_issued_at: now,
                    current_expires_at: now + 3600,
                    family_expires_at: now + 86_400,
                    revoked: false,
                },
                UnixTime(now),
            )
            .await
            .expect("family");
        }
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let server_options = ServerOptions::default();
        let server = tokio::spawn(serve(listener, app, server_options, async {
            let _ = stopped.await;
        }));
        Fixture {
            base,
            db,
            http: common::client(),
            stop: Some(stop),
            server: Some(server),
            _dir: dir,
        }
    }

    fn probe(&self) -> Probe {
        Probe {
            http: self.http.clone(),
            base: self.base.clone(),
        }
    }

    async fn refresh(&self, token: &str) -> (u16, Option<String>, Value) {
        self.probe().refresh(token).await
    }

    /// One refresh grant per token, all sent at once.
    async fn refresh_all(&self, tokens: &[String]) -> Vec<(u16, Option<String>, Value)> {
        let mut tasks = Vec::new();
        for token in tokens {
            let probe = self.probe();
            let token = token.clone();
            tasks.push(tokio::spawn(async move { probe.refresh(&token).await }));
        }
        let mut out = Vec::new();
        for t in tasks {
            out.push(t.await.expect("join"));
        }
        out
    }

    async fn stop(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(server) = self.server.take() {
            server.await.expect("server task");
        }
        self.db.close();
    }
}

/// The HTTP half of the fixture, movable into a task.
struct Probe {
    http: reqwest::Client,
    base: String,
}

impl Probe {
    /// One refresh grant: (status, Retry-After, JSON body).
    async fn refresh(&self, token: &str) -> (u16, Option<String>, Value) {
        let pairs = [
            ("grant_type", "refresh_token"),
            ("client_id", CLIENT_ID),
            ("refresh_token", token),
        ];
        common::post_form(&self.http, &format!("{}/token", self.base), &pairs).await
    }
}

fn first_token(i: usize) -> String {
    format!("fam{i}.first-secret-{i}")
}

fn next_token(answer: &(u16, Option<String>, Value)) -> String {
    assert_eq!(answer.0, 200, "refresh failed: {}", answer.2);
    answer.2["refresh_token"]
        .as_str()
        .expect("refresh_token")
        .to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_refreshes_share_commits_and_keep_reuse_detection() {
    let f = Fixture::start().await;
    let before = f.db.group_commit_stats();
    // 16 grants refreshed at once, five rounds: every answer is a rotation.
    let mut tokens: Vec<String> = (0..GRANTS).map(first_token).collect();
    for _ in 0..5 {
        let answers = f.refresh_all(&tokens).await;
        tokens = answers.iter().map(next_token).collect();
    }
    let after = f.db.group_commit_stats();
    let operations = after.operations - before.operations;
    let commits = after.commits - before.commits;
    assert!(operations >= 5 * GRANTS as u64, "{after:?}");
    assert!(
        commits < operations,
        "concurrent rotations must share commits: {commits} commits for {operations} operations"
    );
    assert_eq!(after.failed_groups, before.failed_groups);

    // The same refresh token presented twice at once (an attacker racing
    // the client): one rotation succeeds, the other is reuse and revokes
    // the family, so the winner's new token is refused too.
    let twice = vec![tokens[0].clone(), tokens[0].clone()];
    let answers = f.refresh_all(&twice).await;
    let ok: Vec<_> = answers.iter().filter(|a| a.0 == 200).collect();
    let refused: Vec<_> = answers.iter().filter(|a| a.0 == 400).collect();
    assert_eq!((ok.len(), refused.len()), (1, 1), "{answers:?}");
    assert_eq!(refused[0].2["error"], "invalid_grant");
    let winner_next = next_token(ok[0]);
    let (status, _, body) = f.refresh(&winner_next).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("invalid_grant"))
    );
    // The other families are untouched by that one's revocation.
    let (status, _, _) = f.refresh(&tokens[1]).await;
    assert_eq!(status, 200);
    f.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failed_commit_answers_every_grant_503_and_writes_nothing() {
    let f = Fixture::start().await;
    let tokens: Vec<String> = (0..GRANTS).map(first_token).collect();
    let before = f.db.group_commit_stats();
    f.db.fail_commits_for_testing(true);
    let answers = f.refresh_all(&tokens).await;
    f.db.fail_commits_for_testing(false);
    for (status, retry_after, body) in &answers {
        assert_eq!(*status, 503, "{body}");
        assert_eq!(body["error"], "temporarily_unavailable");
        assert!(body.get("access_token").is_none() && body.get("refresh_token").is_none());
        assert!(retry_after.is_some(), "a 503 says when to retry");
    }
    let after = f.db.group_commit_stats();
    assert!(after.failed_groups > before.failed_groups, "{after:?}");
    assert_eq!(after.commits, before.commits, "nothing was committed");
    // Nothing was half-written: the tokens the failed grants presented are
    // still the live ones (not rotated, not taken for reuse).
    let answers = f.refresh_all(&tokens).await;
    for a in &answers {
        next_token(a);
    }
    f.stop().await;
}
