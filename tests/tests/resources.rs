//! Several protected resources over HTTP against the real program: an
//! operator declares an external device resource with `--resource`; a
//! client gets a token for it through the normal flow, the consent page
//! names it, its `aud` is the device, its lifetime is the device's, and the
//! issuer's own `/mcp` refuses it (and the device would refuse the
//! issuer's).

mod common;

use base64ct::{Base64UrlUnpadded, Encoding};
use common::oauth::{Flow, PASSWORD, register_public_client};
use common::*;
use serde_json::{Value, json};

const DEVICE: &str = "http://10.0.0.2:8080/mcp";

fn add_alice(dir: &std::path::Path) {
    let (code, _, err) = cli(dir, &["user", "add", "alice"], &format!("{PASSWORD}\n"));
    assert_eq!(code, 0, "{err}");
}

/// The claims of a JWT (not verified: the server under test signed it).
fn claims(jwt: &str) -> Value {
    let payload = jwt.split('.').nth(1).expect("a JWT");
    let bytes = Base64UrlUnpadded::decode_vec(payload).expect("base64url");
    serde_json::from_slice(&bytes).expect("JSON claims")
}

async fn get_json(http: &reqwest::Client, url: &str) -> (u16, Value) {
    let r = http.get(url).send().await.expect("GET");
    let status = r.status().as_u16();
    let body = serde_json::from_slice(&r.bytes().await.expect("body")).unwrap_or(Value::Null);
    (status, body)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_external_device_resource_gets_its_own_tokens() {
    let dir = TempDir::new("resources");
    add_alice(&dir.0);
    let device = format!(
        "{DEVICE};name=Greenhouse sensors;scopes=sensors:read,sensors:write;access_token_ttl=2m"
    );
    let server = Server::start(&dir.0, &["--resource", &device]).await;
    let base = server.base.clone();
    let http = client();

    // Discovery: the issuer lists every scope; its own resource only `mcp`.
    let (status, asm) = get_json(
        &http,
        &format!("{base}/.well-known/oauth-authorization-server"),
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(
        asm["scopes_supported"],
        json!(["mcp", "sensors:read", "sensors:write"])
    );
    let (_, prm) = get_json(
        &http,
        &format!("{base}/.well-known/oauth-protected-resource/mcp"),
    )
    .await;
    assert_eq!(prm["resource"], format!("{base}/mcp"));
    assert_eq!(prm["scopes_supported"], json!(["mcp"]));

    let client_id = register_public_client(&http, &base).await;
    let flow = Flow::new(&base, &client_id);

    // The device's scope is not granted for the issuer's /mcp, nor `mcp`
    // for the device.
    let (_, challenge) = pkce();
    // Errors before consent are a page whose link carries the error back
    // (issue 14, finding 4: never an automatic redirect).
    let wrong = flow.authorize_for(&challenge, "s", DEVICE, "mcp").await;
    assert_eq!(wrong.status, 400, "{}", wrong.html);
    assert!(wrong.html.contains("error=invalid_scope"), "{}", wrong.html);
    let unknown = flow
        .authorize_for(&challenge, "s", "http://10.0.0.3:8080/mcp", "sensors:read")
        .await;
    assert_eq!(unknown.status, 400, "{}", unknown.html);
    assert!(
        unknown.html.contains("error=invalid_target"),
        "{}",
        unknown.html
    );

    // The device token, through sign-in and a consent page that names it.
    let tokens = flow
        .grant_for(
            DEVICE,
            "sensors:read",
            "Greenhouse sensors",
            "alice",
            PASSWORD,
        )
        .await;
    let c = claims(&tokens.access);
    assert_eq!(c["aud"], DEVICE);
    assert_eq!(c["iss"], base);
    assert_eq!(c["scope"], "sensors:read");
    assert_eq!(
        c["exp"].as_u64().expect("exp") - c["iat"].as_u64().expect("iat"),
        120,
        "the device resource's own lifetime"
    );

    // Refused at the issuer's own /mcp: another audience.
    let refused = flow
        .mcp(
            Some(&tokens.access),
            None,
            json!({"jsonrpc": "2.0", "id": 1, "method": "tools/list"}),
        )
        .await;
    assert_eq!(refused.status, 401, "{}", refused.body);
    let challenge_header = refused.headers["www-authenticate"]
        .to_str()
        .expect("challenge");
    assert!(
        challenge_header.contains("invalid_token"),
        "{challenge_header}"
    );

    // Refreshing keeps the device audience; the issuer's tokens stay its own.
    let r = flow.refresh(&tokens.refresh).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["expires_in"], 120);
    assert_eq!(
        claims(r.body["access_token"].as_str().expect("access"))["aud"],
        DEVICE
    );
    let own = flow.grant_as("alice", PASSWORD).await;
    assert_eq!(claims(&own.access)["aud"], format!("{base}/mcp"));
    assert_eq!(flow.whoami(&own.access).await.status, 200);

    // The issuer's introspection knows the device token (and its audience).
    let seen = flow.introspect(&tokens.access).await;
    assert_eq!(seen["active"], true, "{seen}");
    assert_eq!(seen["aud"], DEVICE);
    server.stop();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bad_resource_declaration_stops_the_server() {
    let dir = TempDir::new("resources-bad");
    let (code, _, err) = cli(
        &dir.0,
        &[
            "serve",
            "--resource",
            "http://10.0.0.2/mcp;access_token_ttl=2h",
        ],
        "",
    );
    assert_ne!(code, 0);
    assert!(err.contains("--resource"), "{err}");
    assert!(err.contains("access_token_ttl"), "{err}");
    // A resource on this server's own origin that nothing serves.
    let port = free_port().to_string();
    let (code, _, err) = cli(
        &dir.0,
        &[
            "serve",
            "--listen",
            &format!("127.0.0.1:{port}"),
            "--resource",
            &format!("http://127.0.0.1:{port}/tickets;name=Tickets"),
        ],
        "",
    );
    assert_ne!(code, 0);
    assert!(err.contains("--upstream"), "{err}");
}
