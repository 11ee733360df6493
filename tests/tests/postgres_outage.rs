//! Stopping PostgreSQL under two running instances: every request that needs
//! the store gets a clean 503 with `Retry-After` (no hang, no crash, no 500),
//! an instance started during the outage exits with a clear message, and
//! service resumes by itself when the database is back, with nothing
//! half-written (the refresh token refused during the outage still works).
//!
//! Controls the local cluster with `pg_ctlcluster --skip-systemctl-redirect
//! <version> main stop|start`, so it lives in a test binary of its own with
//! one test: it must not overlap other PostgreSQL tests. The cluster is
//! always started again (a guard does it on drop, also when an assertion
//! fails). Skipped (with a printed reason) when there is no database or no
//! `pg_ctlcluster`, unless `MCPAUTH_REQUIRE_POSTGRES=1`.

mod common;
mod postgres_support;

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::*;
use postgres_support::{TestDb, say};
use serde_json::{Value, json};

const REDIRECT: &str = "http://127.0.0.1:9/callback";
const PASSWORD: &str = "correct horse battery";

/// The local cluster, stopped on request and always started again on drop.
struct Cluster {
    version: String,
    stopped: bool,
}

impl Cluster {
    fn find() -> Result<Cluster, String> {
        let version = std::fs::read_dir("/etc/postgresql")
            .map_err(|e| format!("/etc/postgresql: {e}"))?
            .filter_map(Result::ok)
            .filter_map(|e| e.file_name().into_string().ok())
            .max()
            .ok_or("no cluster under /etc/postgresql")?;
        let ok = Command::new("pg_ctlcluster")
            .arg("--help")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok();
        if !ok {
            return Err("pg_ctlcluster not found".into());
        }
        Ok(Cluster {
            version,
            stopped: false,
        })
    }

    fn ctl(&self, action: &str) -> bool {
        Command::new("pg_ctlcluster")
            .args(["--skip-systemctl-redirect", &self.version, "main", action])
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .status()
            .is_ok_and(|s| s.success())
    }

    fn stop(&mut self) {
        self.stopped = true;
        assert!(self.ctl("stop"), "pg_ctlcluster stop failed");
    }

    fn start(&mut self) {
        if self.ctl("start") {
            self.stopped = false;
        }
        // Wait until it accepts connections.
        let deadline = Instant::now() + Duration::from_secs(30);
        while Instant::now() < deadline {
            if std::net::TcpStream::connect("127.0.0.1:5432").is_ok() {
                return;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        if self.stopped {
            say("postgres_outage: starting PostgreSQL again (guard)");
            self.start();
        }
    }
}

async fn whoami(http: &reqwest::Client, base: &str, token: &str) -> (u16, Option<String>) {
    let r = http
        .post(format!("{base}/mcp"))
        .header("content-type", "application/json")
        .header("accept", "application/json, text/event-stream")
        .header("mcp-protocol-version", "2025-06-18")
        .header("authorization", format!("Bearer {token}"))
        .body(
            json!({"jsonrpc": "2.0", "id": 1, "method": "tools/call",
                   "params": {"name": "whoami", "arguments": {}}})
            .to_string(),
        )
        .send()
        .await
        .expect("mcp");
    let retry = r
        .headers()
        .get("retry-after")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    (r.status().as_u16(), retry)
}

async fn register(http: &reqwest::Client, base: &str) -> (u16, Option<String>, Value) {
    let r = http
        .post(format!("{base}/register"))
        .header("content-type", "application/json")
        .body(
            json!({"redirect_uris": [REDIRECT], "token_endpoint_auth_method": "none",
                   "grant_types": ["authorization_code", "refresh_token"]})
            .to_string(),
        )
        .send()
        .await
        .expect("register");
    let status = r.status().as_u16();
    let retry = r
        .headers()
        .get("retry-after")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let body = serde_json::from_slice(&r.bytes().await.expect("body")).unwrap_or(Value::Null);
    (status, retry, body)
}

/// Sign in and consent; returns the code.
async fn code(http: &reqwest::Client, base: &str, client_id: &str, challenge: &str) -> String {
    let q = form(&[
        ("response_type", "code"),
        ("client_id", client_id),
        ("redirect_uri", REDIRECT),
        ("code_challenge", challenge),
        ("code_challenge_method", "S256"),
        ("scope", "mcp"),
        ("resource", &format!("{base}/mcp")),
    ]);
    let r = http
        .get(format!("{base}/authorize?{q}"))
        .send()
        .await
        .expect("authorize");
    assert_eq!(r.status().as_u16(), 200);
    let cookie = cookies(&r);
    let page = r.text().await.expect("page");
    let r = http
        .post(format!("{base}/authorize"))
        .header("content-type", "application/x-www-form-urlencoded")
        .header("cookie", cookie)
        .body(form(&[
            ("request_id", &hidden(&page, "request_id")),
            ("csrf", &hidden(&page, "csrf")),
            ("username", "alice"),
            ("password", PASSWORD),
            ("decision", "allow"),
        ]))
        .send()
        .await
        .expect("decide");
    assert_eq!(r.status().as_u16(), 303);
    let location = r.headers()["location"].to_str().expect("loc").to_owned();
    param(&query_of(&location), "code").expect("code")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn database_outage_gives_503_and_recovers() {
    let mut cluster = match Cluster::find() {
        Ok(c) => c,
        Err(e) => {
            let msg = format!("cannot control the local PostgreSQL ({e})");
            assert!(
                !postgres_support::required(),
                "MCPAUTH_REQUIRE_POSTGRES is set: {msg}"
            );
            say(&format!(
                "SKIPPED database_outage_gives_503_and_recovers: {msg}"
            ));
            return;
        }
    };
    let Some(db) = TestDb::create("outage").await else {
        return;
    };
    let dirs = [TempDir::new("pg-out-a"), TempDir::new("pg-out-b")];
    let (status, _, err) = cli(
        &dirs[0].0,
        &["--store", &db.url, "user", "add", "alice"],
        &format!("{PASSWORD}\n"),
    );
    assert_eq!(status, 0, "{err}");
    let port_a = std::net::TcpListener::bind("127.0.0.1:0")
        .expect("bind")
        .local_addr()
        .expect("a")
        .port();
    let public = format!("http://127.0.0.1:{port_a}");
    let args = [
        "--store",
        db.url.as_str(),
        "--public-url",
        public.as_str(),
        "--stateless",
    ];
    let a = Server::start_on(&dirs[0].0, port_a, &args).await;
    let b = Server::start(&dirs[1].0, &args).await;
    let http = client();

    let (status, _, reg) = register(&http, &a.base).await;
    assert_eq!(status, 201, "{reg}");
    let client_id = reg["client_id"].as_str().expect("client_id").to_owned();
    let (verifier, challenge) = pkce();
    let c = code(&http, &a.base, &client_id, &challenge).await;
    let (status, _, body) = post_form(
        &http,
        &format!("{}/token", b.base),
        &[
            ("grant_type", "authorization_code"),
            ("code", &c),
            ("redirect_uri", REDIRECT),
            ("client_id", &client_id),
            ("code_verifier", &verifier),
        ],
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let access = body["access_token"].as_str().expect("at").to_owned();
    let refresh = body["refresh_token"].as_str().expect("rt").to_owned();
    assert_eq!(whoami(&http, &b.base, &access).await.0, 200);

    // Database down.
    cluster.stop();
    let started = Instant::now();
    for base in [&a.base, &b.base] {
        let (status, retry, body) = post_form(
            &http,
            &format!("{base}/token"),
            &[
                ("grant_type", "refresh_token"),
                ("refresh_token", &refresh),
                ("client_id", &client_id),
            ],
        )
        .await;
        assert_eq!(status, 503, "{body}");
        assert_eq!(body["error"], "temporarily_unavailable");
        assert!(retry.is_some(), "Retry-After on the token endpoint");
        let (status, retry, body) = register(&http, base).await;
        assert_eq!(status, 503, "{body}");
        assert!(retry.is_some(), "Retry-After on registration");
        // The MCP guard cannot check revocations: it refuses, with 503.
        let (status, retry) = whoami(&http, base, &access).await;
        assert_eq!(status, 503);
        assert!(retry.is_some(), "Retry-After on /mcp");
        // The browser part too: a clean 503, not a misleading "unknown
        // client" page.
        let q = form(&[
            ("response_type", "code"),
            ("client_id", &client_id),
            ("redirect_uri", REDIRECT),
            ("code_challenge", "x".repeat(43).as_str()),
            ("code_challenge_method", "S256"),
            ("scope", "mcp"),
        ]);
        let r = http
            .get(format!("{base}/authorize?{q}"))
            .send()
            .await
            .expect("authorize");
        assert_eq!(r.status().as_u16(), 503, "GET /authorize during the outage");
        let health = http
            .get(format!("{base}/healthz"))
            .send()
            .await
            .expect("healthz");
        assert_eq!(health.status().as_u16(), 200, "the process stays up");
    }
    assert!(
        started.elapsed() < Duration::from_secs(20),
        "errors are prompt, not timeouts: {:?}",
        started.elapsed()
    );

    // An instance started while the database is down says why and exits.
    let out = Command::new(program())
        .args(["serve", "--listen", "127.0.0.1:0", "--store", &db.url])
        .arg("--data-dir")
        .arg(&dirs[1].0)
        .stdin(Stdio::null())
        .output()
        .expect("run");
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("PostgreSQL at ") && err.contains("is not usable"),
        "{err}"
    );
    assert!(
        !err.contains("postgres@"),
        "no credentials in messages: {err}"
    );

    // Back up: both instances recover by themselves.
    cluster.start();
    let deadline = Instant::now() + Duration::from_secs(30);
    let new_refresh = loop {
        let (status, _, body) = post_form(
            &http,
            &format!("{}/token", a.base),
            &[
                ("grant_type", "refresh_token"),
                ("refresh_token", &refresh),
                ("client_id", &client_id),
            ],
        )
        .await;
        if status == 200 {
            break body["refresh_token"].as_str().expect("rt").to_owned();
        }
        assert_eq!(status, 503, "only 503 while recovering: {body}");
        assert!(Instant::now() < deadline, "did not recover");
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    // The refresh refused during the outage had not rotated anything: the
    // first refresh after it succeeded with the original token (above).
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let (status, _) = whoami(&http, &b.base, &access).await;
        if status == 200 {
            break;
        }
        assert_eq!(status, 503);
        assert!(Instant::now() < deadline, "B did not recover");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let (status, _, body) = post_form(
        &http,
        &format!("{}/token", b.base),
        &[
            ("grant_type", "refresh_token"),
            ("refresh_token", &new_refresh),
            ("client_id", &client_id),
        ],
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(register(&http, &b.base).await.0, 201);
    a.stop();
    b.stop();
    say("postgres_outage: 503 during the outage, recovery after it: all checks passed");
}
