//! The shared HTTP vectors (`tests/vectors/http.json`) over HTTP against
//! the real `mcpauth serve`, once per CORS configuration (`listed`, `*`).
//! The same file runs in process against the core router and over TCP
//! against the embassy TAP devices; a difference between hosts fails here
//! or there.

mod common;

use std::time::{SystemTime, UNIX_EPOCH};

use common::{Server, TempDir};
use mcpauth::backend::HostStore;
use mcpauth_core::jose::SigningKey;
use mcpauth_core::rand::InsecureSeededRandom;
use mcpauth_core::server::vectors::{
    Origins, Report, Target, VectorRequest, VectorResponse, cases_for, mint_tokens,
};

/// The body limit the vectors assume (the embassy device's default).
const MAX_BODY_BYTES: &str = "4096";

async fn send(http: &reqwest::Client, base: &str, req: &VectorRequest) -> VectorResponse {
    let method = reqwest::Method::from_bytes(req.method.as_bytes()).expect("method");
    let mut builder = http.request(method, format!("{base}{}", req.target()));
    for (name, value) in &req.headers {
        builder = builder.header(name.as_str(), value.as_str());
    }
    if !req.body.is_empty() || req.method == "POST" {
        builder = builder.body(req.body.clone());
    }
    let resp = builder.send().await.expect("request");
    let status = resp.status().as_u16();
    let headers = resp
        .headers()
        .iter()
        .map(|(n, v)| {
            let v = String::from_utf8_lossy(v.as_bytes()).into_owned();
            (n.as_str().to_owned(), v)
        })
        .collect();
    let body = resp.bytes().await.map(|b| b.to_vec()).unwrap_or_default();
    VectorResponse {
        status,
        headers,
        body,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shared_http_vectors_over_http() {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("clock")
        .as_secs();
    let mut rng = InsecureSeededRandom::new(0x5ec7);
    let stranger = SigningKey::generate(&mut rng, 2048).expect("keygen");
    let http = common::client();
    let mut failures = Vec::new();
    for origins in [Origins::Listed, Origins::Any] {
        let dir = TempDir::new("vectors");
        // The server's own signing key, created before it starts so the
        // test can sign the tokens the vectors name.
        let keys = {
            let backend = mcpauth::backend::Backend::open(None, &dir.0).expect("open store");
            let keys = mcpauth::keys::load_or_create(&backend, 3600, now).expect("keys");
            backend.close();
            keys
        };
        let allowed = origins.list().join(",");
        let server = Server::start(
            &dir.0,
            &[
                "--allowed-origins",
                &allowed,
                "--max-body-bytes",
                MAX_BODY_BYTES,
            ],
        )
        .await;
        let resource = format!("{}/mcp", server.base);
        let target = Target {
            host: "host-std",
            shape: "all-in-one",
            origins,
            // The OS clock: the clock-unknown cases run in process and on
            // the clock-less TAP device.
            clock_known: true,
            issuer: server.base.clone(),
            tokens: mint_tokens(&keys, &stranger, &server.base, &resource, now, &mut rng),
            resource,
        };
        let mut report = Report::default();
        for case in cases_for(&target, &mut report) {
            let resp = send(&http, &server.base, &case.request(&target)).await;
            report.record(case.check(&target, &resp));
        }
        println!("{}", report.summary(&target));
        failures.extend(report.failures);
        server.stop();
    }
    assert!(
        failures.is_empty(),
        "{} failures (see above)",
        failures.len()
    );
}
