//! Shared helpers of the end-to-end tests: start and stop the real program,
//! a small HTTP client, PKCE, HTML form scraping.
#![allow(dead_code)]

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

pub mod metrics;
pub mod oauth;
#[allow(unused_imports)] // not every test binary walks the OAuth flow
pub use oauth::*;

use base64ct::{Base64UrlUnpadded, Encoding};
use sha2::{Digest, Sha256};

/// The program under test.
pub fn program() -> PathBuf {
    match std::env::var_os("MCPAUTH_BIN") {
        Some(p) => PathBuf::from(p),
        None => PathBuf::from(env!("CARGO_BIN_EXE_mcpauth-under-test")),
    }
}

/// A fresh temporary directory (removed on drop).
#[derive(Debug)]
pub struct TempDir(pub PathBuf);

impl TempDir {
    pub fn new(tag: &str) -> TempDir {
        static N: AtomicU32 = AtomicU32::new(0);
        let dir = std::env::temp_dir().join(format!(
            "mcpauth-e2e-{tag}-{}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed)
        ));
        let _ = std::fs::remove_dir_all(&dir);
        TempDir(dir.join("data"))
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        if let Some(parent) = self.0.parent() {
            let _ = std::fs::remove_dir_all(parent);
        }
    }
}

/// Run a CLI command to completion with `stdin`, returning (status, stdout, stderr).
pub fn cli(data_dir: &Path, args: &[&str], stdin: &str) -> (i32, String, String) {
    use std::io::Write;
    let mut child = Command::new(program())
        .args(args)
        .arg("--data-dir")
        .arg(data_dir)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn mcpauth");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(stdin.as_bytes())
        .expect("write stdin");
    let out = child.wait_with_output().expect("wait");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// A running server.
#[derive(Debug)]
pub struct Server {
    child: Option<Child>,
    pub base: String,
    pub port: u16,
}

/// A loopback port free now, never handed out before in this process: the
/// kernel may give a just-released port to the next `bind(0)`, and two
/// tests running at once must not both start a server on it (the second
/// would fail to bind while its health check reached the first).
pub fn free_port() -> u16 {
    static GIVEN: std::sync::Mutex<std::collections::BTreeSet<u16>> =
        std::sync::Mutex::new(std::collections::BTreeSet::new());
    loop {
        let port = TcpListener::bind("127.0.0.1:0")
            .expect("bind")
            .local_addr()
            .expect("addr")
            .port();
        if GIVEN
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .insert(port)
        {
            return port;
        }
    }
}

impl Server {
    /// Start `mcpauth serve` on a free loopback port and wait for /healthz.
    pub async fn start(data_dir: &Path, extra: &[&str]) -> Server {
        Server::start_on(data_dir, free_port(), extra).await
    }

    pub async fn start_on(data_dir: &Path, port: u16, extra: &[&str]) -> Server {
        let child = Command::new(program())
            .arg("serve")
            .arg("--listen")
            .arg(format!("127.0.0.1:{port}"))
            .arg("--data-dir")
            .arg(data_dir)
            .args(["--log", "warn"])
            .args(extra)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("spawn mcpauth serve");
        let mut server = Server {
            child: Some(child),
            base: format!("http://127.0.0.1:{port}"),
            port,
        };
        let http = client();
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if let Some(status) = server
                .child
                .as_mut()
                .and_then(|c| c.try_wait().ok().flatten())
            {
                panic!("mcpauth serve on port {port} exited at start: {status}");
            }
            if let Ok(r) = http.get(format!("{}/healthz", server.base)).send().await
                && r.status() == 200
            {
                break;
            }
            assert!(Instant::now() < deadline, "server did not come up");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        server
    }

    /// The process id.
    pub fn pid(&self) -> u32 {
        self.child.as_ref().expect("running").id()
    }

    /// SIGTERM, then wait: a graceful stop exits 0.
    pub fn stop(mut self) {
        let mut child = self.child.take().expect("running");
        let status = Command::new("kill")
            .args(["-TERM", &child.id().to_string()])
            .status()
            .expect("kill");
        assert!(status.success());
        let exit = child.wait().expect("wait");
        assert!(exit.success(), "graceful shutdown must exit 0, got {exit}");
    }
}

impl Server {
    /// SIGKILL, then reap: the process gets no chance to flush or finish
    /// anything (a crash).
    pub fn kill(mut self) {
        let mut child = self.child.take().expect("running");
        child.kill().expect("SIGKILL");
        let _ = child.wait();
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

/// How long a test client keeps an idle connection for reuse: well under
/// the server's request-head deadline (10 s from the last answer), as a
/// well-behaved client does. A client that keeps connections longer races
/// the server's close: after a stall of the shared machine, a test sent a
/// request on a connection the server was closing and read no answer.
pub const POOL_IDLE: Duration = Duration::from_secs(4);

/// A client builder that never follows redirects, drops idle connections
/// after [`POOL_IDLE`] and gives up on a request after 30 s.
pub fn client_builder() -> reqwest::ClientBuilder {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(Duration::from_secs(30))
        .pool_idle_timeout(POOL_IDLE)
}

/// An HTTP client that never follows redirects.
pub fn client() -> reqwest::Client {
    client_builder().build().expect("client")
}

/// PKCE verifier and S256 challenge.
pub fn pkce() -> (String, String) {
    let mut seed = [0u8; 32];
    for (i, b) in seed.iter_mut().enumerate() {
        *b = (i as u8)
            .wrapping_mul(37)
            .wrapping_add(std::process::id() as u8)
            .wrapping_add(
                std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .map(|d| d.subsec_nanos() as u8)
                    .unwrap_or(7),
            );
    }
    let verifier = Base64UrlUnpadded::encode_string(&seed);
    let challenge = Base64UrlUnpadded::encode_string(&Sha256::digest(verifier.as_bytes()));
    (verifier, challenge)
}

/// `application/x-www-form-urlencoded` body.
pub fn form(pairs: &[(&str, &str)]) -> String {
    let mut s = form_urlencoded::Serializer::new(String::new());
    for (k, v) in pairs {
        s.append_pair(k, v);
    }
    s.finish()
}

/// The query parameters of a URL.
pub fn query_of(url: &str) -> Vec<(String, String)> {
    let q = url.split_once('?').map(|(_, q)| q).unwrap_or("");
    form_urlencoded::parse(q.as_bytes()).into_owned().collect()
}

pub fn param(pairs: &[(String, String)], name: &str) -> Option<String> {
    pairs
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.clone())
}

/// The `value` of the hidden input `name` in an HTML page.
pub fn hidden(html: &str, name: &str) -> String {
    let needle = format!("name=\"{name}\" value=\"");
    let start = html
        .find(&needle)
        .unwrap_or_else(|| panic!("no {name} in page"))
        + needle.len();
    let end = html[start..].find('"').expect("closing quote") + start;
    html[start..end].to_owned()
}

/// The link of an authorization error page back to the client (the
/// server never redirects there by itself), `&amp;` decoded.
pub fn return_link(html: &str) -> String {
    html.split("href=\"")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .expect("a link back to the client")
        .replace("&amp;", "&")
}

/// `name=value` of every Set-Cookie header (attributes dropped).
pub fn cookies(resp: &reqwest::Response) -> String {
    resp.headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .filter_map(|v| v.split(';').next())
        .collect::<Vec<_>>()
        .join("; ")
}

/// POST a form to `url`: (status, `Retry-After`, JSON body or null).
pub async fn post_form(
    http: &reqwest::Client,
    url: &str,
    pairs: &[(&str, &str)],
) -> (u16, Option<String>, serde_json::Value) {
    let r = http
        .post(url)
        .header("content-type", "application/x-www-form-urlencoded")
        .body(form(pairs))
        .send()
        .await
        .expect("request");
    let status = r.status().as_u16();
    let retry = r
        .headers()
        .get("retry-after")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let body =
        serde_json::from_slice(&r.bytes().await.expect("body")).unwrap_or(serde_json::Value::Null);
    (status, retry, body)
}

/// The audit log `serve --audit-log PATH` wrote: its text, and each line
/// parsed (every line must be one JSON object).
pub fn audit_log(path: &Path) -> (String, Vec<serde_json::Value>) {
    let text = std::fs::read_to_string(path).expect("audit log written");
    let lines = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}")))
        .collect();
    (text, lines)
}
