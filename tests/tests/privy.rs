//! Privy login end to end, offline: a local fake of the Privy API serves the
//! app's verification key (and checks the HTTP Basic app id:app secret), the
//! real program runs with Privy configured against it, and a locally minted
//! ES256 token walks /authorize → code → token → /mcp whoami, whose `sub` is
//! the Privy DID. A bad token gets the generic error page and no code.

mod common;

use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use base64ct::{Base64, Encoding};
use common::*;
use mcpauth_core::oauth::privy::PrivyTestIssuer;
use serde_json::json;

const APP_ID: &str = "cm-e2e-privy-app";
const APP_SECRET: &str = "e2e-privy-secret";
const DID: &str = "did:privy:cme2eUser0001";

/// The fake Privy API: `GET /api/v1/apps/{APP_ID}` with the right Basic
/// credentials answers `{"id", "verification_key"}`; anything else 401/404.
/// Returns its base URL and the number of key requests served.
fn fake_privy_api(pem: String) -> (String, Arc<AtomicUsize>) {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind fake Privy API");
    let base = format!("http://{}", listener.local_addr().expect("addr"));
    let hits = Arc::new(AtomicUsize::new(0));
    let counter = hits.clone();
    let expected_auth = format!(
        "Basic {}",
        Base64::encode_string(format!("{APP_ID}:{APP_SECRET}").as_bytes())
    );
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            let mut reader = BufReader::new(stream.try_clone().expect("clone"));
            let mut request_line = String::new();
            if reader.read_line(&mut request_line).is_err() {
                continue;
            }
            let mut auth = None;
            loop {
                let mut line = String::new();
                if reader.read_line(&mut line).unwrap_or(0) == 0 || line.trim().is_empty() {
                    break;
                }
                if let Some((k, v)) = line.split_once(':')
                    && k.eq_ignore_ascii_case("authorization")
                {
                    auth = Some(v.trim().to_owned());
                }
            }
            let path_ok = request_line.starts_with(&format!("GET /api/v1/apps/{APP_ID} "));
            let (status, body) = if !path_ok {
                ("404 Not Found", String::from("{}"))
            } else if auth.as_deref() != Some(expected_auth.as_str()) {
                (
                    "401 Unauthorized",
                    String::from(r#"{"error":"unauthorized"}"#),
                )
            } else {
                counter.fetch_add(1, Ordering::SeqCst);
                (
                    "200 OK",
                    json!({"id": APP_ID, "name": "e2e", "verification_key": pem}).to_string(),
                )
            };
            let _ = write!(
                stream,
                "HTTP/1.1 {status}\r\ncontent-type: application/json\r\n\
                 content-length: {}\r\nconnection: close\r\n\r\n{body}",
                body.len()
            );
        }
    });
    (base, hits)
}

fn unix_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock")
        .as_secs()
}

#[tokio::test(flavor = "multi_thread")]
async fn privy_login_end_to_end() {
    let issuer = PrivyTestIssuer::from_seed(0x9e1);
    let (api_url, hits) = fake_privy_api(issuer.public_pem());
    let dir = TempDir::new("privy");
    // The secret goes in the config file (never a flag in production).
    let root = dir.0.parent().expect("temp root").to_owned();
    std::fs::create_dir_all(&root).expect("temp root");
    let config = root.join("mcpauth.toml");
    std::fs::write(&config, format!("privy_app_secret = \"{APP_SECRET}\"\n")).expect("toml");
    let data = dir.0.clone();
    let server = Server::start(
        &data,
        &[
            "--config",
            config.to_str().expect("path"),
            "--privy-app-id",
            APP_ID,
            "--privy-api-url",
            &api_url,
            "--privy-sdk-url",
            "http://127.0.0.1:9/privy-glue.js",
        ],
    )
    .await;
    let base = server.base.clone();
    let http = client();
    let flow = Flow::new(&base, &register_public_client(&http, &base).await);

    // The page offers Privy: the SDK script, allowed by the CSP.
    let (verifier, challenge) = pkce();
    let SignInPage {
        headers,
        html: page,
        cookie,
        ..
    } = flow.authorize(&challenge, "st-privy").await;
    let csp = headers["content-security-policy"].to_str().expect("csp");
    assert!(
        csp.contains("script-src http://127.0.0.1:9/privy-glue.js"),
        "{csp}"
    );
    assert!(page.contains("name=\"privy_token\""));
    assert!(page.contains("src=\"http://127.0.0.1:9/privy-glue.js\""));
    assert!(page.contains(&format!("data-privy-app-id=\"{APP_ID}\"")));

    // A token minted for this app is accepted; the code carries its DID.
    let token = issuer.mint(APP_ID, DID, unix_now(), 3600);
    let r = flow
        .submit(
            &page,
            &cookie,
            &[("privy_token", &token), ("decision", "allow")],
        )
        .await;
    assert!(
        !r.headers()["location"]
            .to_str()
            .expect("location")
            .contains(&token)
    );
    let code = flow.code_from(&r, "st-privy");
    let r = flow.exchange(&code, &verifier).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert!(
        !r.body.to_string().contains(&token),
        "the Privy token is never handed on"
    );
    let access = Tokens::from_body(&r.body).access;

    let Reply { status, body, .. } = flow.whoami(&access).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["result"]["structuredContent"]["sub"], DID, "{body}");
    assert!(!body.to_string().contains(&token));

    // Refusals: wrong audience, another key, expired — the generic page.
    let stranger = PrivyTestIssuer::from_seed(0xbad);
    for bad in [
        issuer.mint("another-app", DID, unix_now(), 3600),
        stranger.mint(APP_ID, DID, unix_now(), 3600),
        issuer.mint(APP_ID, DID, unix_now() - 7200, 600),
    ] {
        let (_, challenge) = pkce();
        let page = flow.authorize(&challenge, "st-privy").await;
        let r = flow
            .submit(
                &page.html,
                &page.cookie,
                &[("privy_token", &bad), ("decision", "allow")],
            )
            .await;
        assert_eq!(r.status().as_u16(), 401);
        assert!(r.headers().get("location").is_none());
        let text = r.text().await.expect("page");
        assert!(text.contains("Cannot continue"), "generic error page");
        assert!(text.contains("Privy sign-in could not be verified"));
        assert!(!text.contains(&bad));
    }

    // The key was fetched once (at start-up or the first login) and cached.
    assert_eq!(hits.load(Ordering::SeqCst), 1);
    server.stop();
}

#[test]
fn misconfigured_privy_is_a_clear_startup_error() {
    let dir = TempDir::new("privy-bad");
    // An app id without a key or secret.
    let (code, _, err) = cli(
        &dir.0,
        &[
            "serve",
            "--privy-app-id",
            APP_ID,
            "--privy-sdk-url",
            "https://x/g.js",
        ],
        "",
    );
    assert_ne!(code, 0);
    assert!(err.contains("--privy-app-secret"), "{err}");
    // An unreadable key file.
    let (code, _, err) = cli(
        &dir.0,
        &[
            "serve",
            "--privy-app-id",
            APP_ID,
            "--privy-sdk-url",
            "https://x/g.js",
            "--privy-verification-key",
            "/nonexistent/privy.pem",
        ],
        "",
    );
    assert_ne!(code, 0);
    assert!(err.contains("--privy-verification-key"), "{err}");
}
