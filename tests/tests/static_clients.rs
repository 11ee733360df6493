//! Pre-registered clients and closed registration over HTTP against the
//! real program: `[[clients]]` in the configuration file (a public client
//! and a confidential one whose argon2 secret hash comes from
//! `mcpauth client hash-secret`), `registration = "closed"`: discovery does
//! not advertise `/register`, `POST /register` gets a clear RFC 7591 error
//! body, and the configured clients sign in, consent and redeem codes.

mod common;

use common::oauth::{Flow, PASSWORD, REDIRECT};
use common::*;
use serde_json::Value;

const SECRET: &str = "a configured client secret of some length";

fn add_alice(dir: &std::path::Path) {
    let (code, _, err) = cli(dir, &["user", "add", "alice"], &format!("{PASSWORD}\n"));
    assert_eq!(code, 0, "{err}");
}

/// The PHC line `mcpauth client hash-secret` prints for `secret`.
fn hash_secret(dir: &std::path::Path, secret: &str) -> String {
    let (code, out, err) = cli(dir, &["client", "hash-secret"], &format!("{secret}\n"));
    assert_eq!(code, 0, "{err}");
    let line = out
        .lines()
        .find_map(|l| l.strip_prefix("client_secret_hash = "))
        .expect("a client_secret_hash line");
    let hash = line.trim_matches('"').to_owned();
    assert!(hash.starts_with("$argon2id$"), "{hash}");
    hash
}

fn write_config(dir: &std::path::Path, body: &str) -> std::path::PathBuf {
    let path = dir.parent().expect("parent").join("mcpauth.toml");
    std::fs::create_dir_all(dir.parent().expect("parent")).expect("dir");
    std::fs::write(&path, body).expect("write config");
    path
}

/// Sign in as alice and allow for `client_id`; returns (code, verifier).
async fn code_for(flow: &Flow, client_name: &str) -> (String, String) {
    let (verifier, challenge) = pkce();
    let page = flow.authorize(&challenge, "st-1").await;
    assert_eq!(page.status, 200, "{}", page.html);
    assert!(page.html.contains(client_name), "{}", page.html);
    let r = flow
        .decide(&page.html, &page.cookie, "alice", PASSWORD, "allow")
        .await;
    (flow.code_from(&r, "st-1"), verifier)
}

async fn token_with_basic(
    flow: &Flow,
    code: &str,
    verifier: &str,
    secret: Option<&str>,
) -> (u16, Value) {
    let mut req = flow
        .http
        .post(format!("{}/token", flow.base))
        .header("content-type", "application/x-www-form-urlencoded");
    let mut pairs = vec![
        ("grant_type", "authorization_code"),
        ("code", code),
        ("redirect_uri", REDIRECT),
        ("code_verifier", verifier),
    ];
    match secret {
        Some(s) => req = req.basic_auth(&flow.client_id, Some(s)),
        None => pairs.push(("client_id", flow.client_id.as_str())),
    }
    let r = req.body(form(&pairs)).send().await.expect("token");
    let status = r.status().as_u16();
    let body = serde_json::from_slice(&r.bytes().await.expect("body")).unwrap_or(Value::Null);
    (status, body)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn configured_clients_work_while_registration_is_closed() {
    let dir = TempDir::new("static-clients");
    add_alice(&dir.0);
    let hash = hash_secret(&dir.0, SECRET);
    let config = write_config(
        &dir.0,
        &format!(
            r#"registration = "closed"

[[clients]]
client_id = "desk-app"
client_name = "Desk App"
redirect_uris = ["{REDIRECT}"]

[[clients]]
client_id = "backend-1"
client_name = "Backend Service"
redirect_uris = ["{REDIRECT}"]
token_endpoint_auth_method = "client_secret_basic"
client_secret_hash = "{hash}"
"#
        ),
    );
    let server = Server::start(&dir.0, &["--config", config.to_str().expect("utf8")]).await;
    let base = server.base.clone();
    let http = client();

    // Discovery does not advertise registration; /register says it is closed.
    let meta: Value = serde_json::from_slice(
        &http
            .get(format!("{base}/.well-known/oauth-authorization-server"))
            .send()
            .await
            .expect("metadata")
            .bytes()
            .await
            .expect("body"),
    )
    .expect("json");
    assert!(meta.get("registration_endpoint").is_none(), "{meta}");
    assert!(meta.get("token_endpoint").is_some());
    let r = register(
        &http,
        &base,
        serde_json::json!({"redirect_uris": [REDIRECT], "token_endpoint_auth_method": "none"}),
    )
    .await;
    assert_eq!(r.status, 403, "{}", r.body);
    assert_eq!(r.body["error"], "access_denied");
    assert!(
        r.body["error_description"]
            .as_str()
            .is_some_and(|d| d.contains("registration is closed")),
        "{}",
        r.body
    );

    // The public configured client: sign-in, consent naming it, token, MCP.
    let public = Flow::new(&base, "desk-app");
    let (code, verifier) = code_for(&public, "Desk App").await;
    let r = public.exchange(&code, &verifier).await;
    assert_eq!(r.status, 200, "{}", r.body);
    let access = r.body["access_token"].as_str().expect("access").to_owned();
    let who = public.whoami(&access).await;
    assert_eq!(who.status, 200, "{}", who.body);
    // Its refresh token rotates like any client's.
    let refresh = r.body["refresh_token"].as_str().expect("refresh");
    assert_eq!(public.refresh(refresh).await.status, 200);

    // The confidential one must prove its secret (argon2 against the hash).
    let backend = Flow::new(&base, "backend-1");
    let (code, verifier) = code_for(&backend, "Backend Service").await;
    let (status, body) = token_with_basic(&backend, &code, &verifier, Some("wrong secret")).await;
    assert_eq!(status, 401, "{body}");
    assert_eq!(body["error"], "invalid_client");
    let (status, body) = token_with_basic(&backend, &code, &verifier, None).await;
    assert_eq!(status, 401, "no secret: {body}");
    let (status, body) = token_with_basic(&backend, &code, &verifier, Some(SECRET)).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        backend
            .whoami(body["access_token"].as_str().expect("access"))
            .await
            .status,
        200
    );
    // An unknown client is still unknown.
    let stranger = Flow::new(&base, "not-configured");
    let (_, challenge) = pkce();
    assert_eq!(stranger.authorize(&challenge, "s").await.status, 400);
    server.stop();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_client_configuration_stops_the_server() {
    let dir = TempDir::new("static-clients-bad");
    for (what, body, needle) in [
        (
            "not a PHC string",
            format!(
                "[[clients]]\nclient_id = \"a\"\nredirect_uris = [\"{REDIRECT}\"]\nclient_secret_hash = \"plain\"\n"
            ),
            "hash-secret",
        ),
        (
            "an http redirect off loopback",
            "[[clients]]\nclient_id = \"a\"\nredirect_uris = [\"http://app.example/cb\"]\n"
                .to_owned(),
            "loopback",
        ),
        (
            "a method without a secret",
            format!(
                "[[clients]]\nclient_id = \"a\"\nredirect_uris = [\"{REDIRECT}\"]\ntoken_endpoint_auth_method = \"client_secret_post\"\n"
            ),
            "secret",
        ),
        (
            "a bad registration mode",
            "registration = \"ajar\"\n".to_owned(),
            "registration",
        ),
    ] {
        let config = write_config(&dir.0, &body);
        let (code, _, err) = cli(
            &dir.0,
            &["serve", "--config", config.to_str().expect("utf8")],
            "",
        );
        assert_ne!(code, 0, "{what}");
        assert!(err.contains(needle), "{what}: {err}");
    }
    // And the flag: an unknown mode is refused by the parser.
    let (code, _, err) = cli(&dir.0, &["serve", "--registration", "ajar"], "");
    assert_ne!(code, 0);
    assert!(err.contains("--registration"), "{err}");
}
