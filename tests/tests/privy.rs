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
/// The Subresource Integrity the operator gives for the glue script.
const GLUE_INTEGRITY: &str =
    "sha384-oqVuAfXRKap7fdgcCY5uykM6+R9GqQ8K/uxy9rx7HNQlGYl1kPzQho1wx4JwY8wC";

/// The fake Privy API: `GET /api/v1/apps/{APP_ID}` with the right Basic
/// credentials answers `{"id", "verification_key"}`; `GET
/// /v1/apps/{APP_ID}/jwks.json` (no credentials, as Privy publishes it)
/// answers `jwks`; anything else 401/404. Returns its base URL and the
/// number of key requests served (either kind).
fn fake_privy_api(pem: String, jwks: String) -> (String, Arc<AtomicUsize>) {
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
            let (status, body) =
                if request_line.starts_with(&format!("GET /v1/apps/{APP_ID}/jwks.json ")) {
                    counter.fetch_add(1, Ordering::SeqCst);
                    ("200 OK", jwks.clone())
                } else if !path_ok {
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
    let (api_url, hits) = fake_privy_api(issuer.public_pem(), issuer.public_jwks());
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
            "--privy-sdk-integrity",
            GLUE_INTEGRITY,
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
    assert!(page.contains(&format!(
        "src=\"http://127.0.0.1:9/privy-glue.js\" integrity=\"{GLUE_INTEGRITY}\" crossorigin=\"anonymous\""
    )));
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

    // An identity token (same key and audience, no session id) is not a
    // sign-in.
    let identity = issuer.sign(
        r#"{"alg":"ES256","typ":"JWT"}"#,
        &json!({"iss": "privy.io", "aud": APP_ID, "sub": DID, "iat": unix_now(),
                "exp": unix_now() + 3600, "linked_accounts": "[]"})
        .to_string(),
    );
    let (_, challenge) = pkce();
    let page = flow.authorize(&challenge, "st-privy").await;
    let r = flow
        .submit(
            &page.html,
            &page.cookie,
            &[("privy_token", &identity), ("decision", "allow")],
        )
        .await;
    assert_eq!(r.status().as_u16(), 401);
    assert!(r.headers().get("location").is_none());

    // The key was fetched once (at start-up or the first login) and cached.
    assert_eq!(hits.load(Ordering::SeqCst), 1);
    server.stop();
}

#[tokio::test(flavor = "multi_thread")]
async fn only_allowed_privy_users_sign_in() {
    let issuer = PrivyTestIssuer::from_seed(0x9e2);
    let dir = TempDir::new("privy-allow");
    let root = dir.0.parent().expect("temp root").to_owned();
    std::fs::create_dir_all(&root).expect("temp root");
    let pem = root.join("privy.pem");
    std::fs::write(&pem, issuer.public_pem()).expect("pem");
    let port = free_port();
    // The glue script served by this origin needs no integrity.
    let glue = format!("http://127.0.0.1:{port}/privy-glue.js");
    let server = Server::start_on(
        &dir.0,
        port,
        &[
            "--privy-app-id",
            APP_ID,
            "--privy-verification-key",
            pem.to_str().expect("path"),
            "--privy-sdk-url",
            &glue,
            "--privy-allowed-users",
            "did:privy:boss",
            "--privy-allowed-email-domains",
            "example.com",
        ],
    )
    .await;
    let base = server.base.clone();
    let http = client();
    let flow = Flow::new(&base, &register_public_client(&http, &base).await);
    let identity = |sub: &str, email: &str| {
        let accounts = json!([{"type": "email", "address": email}]).to_string();
        issuer.sign(
            r#"{"alg":"ES256","typ":"JWT"}"#,
            &json!({"iss": "privy.io", "aud": APP_ID, "sub": sub, "iat": unix_now(),
                    "exp": unix_now() + 3600, "linked_accounts": accounts})
            .to_string(),
        )
    };
    let attempt = |sub: &'static str, id_token: Option<String>| {
        let flow = flow.clone();
        let token = issuer.mint(APP_ID, sub, unix_now(), 3600);
        async move {
            let (_, challenge) = pkce();
            let page = flow.authorize(&challenge, "st-allow").await;
            let mut fields = vec![("privy_token", token.as_str()), ("decision", "allow")];
            if let Some(id) = &id_token {
                fields.push(("privy_id_token", id.as_str()));
            }
            let r = flow.submit(&page.html, &page.cookie, &fields).await;
            let status = r.status().as_u16();
            (status, r.text().await.expect("body"))
        }
    };
    let (status, _) = attempt("did:privy:boss", None).await;
    assert_eq!(status, 303, "listed user");
    let (status, page) = attempt(DID, None).await;
    assert_eq!(status, 403, "{page}");
    assert!(page.contains("not allowed to sign in"), "{page}");
    let (status, _) = attempt(DID, Some(identity(DID, "ann@example.com"))).await;
    assert_eq!(status, 303, "verified email in an allowed domain");
    let (status, _) = attempt(DID, Some(identity(DID, "ann@example.org"))).await;
    assert_eq!(status, 403, "another domain");
    let (status, _) = attempt(DID, Some(identity("did:privy:other", "x@example.com"))).await;
    assert_eq!(status, 403, "someone else's identity token");
    server.stop();
}

/// Only the app id (no key file, no secret): the key comes from the app's
/// public key set, fetched once; tokens of that key sign in, others do not.
#[tokio::test(flavor = "multi_thread")]
async fn privy_with_only_the_app_id_reads_the_public_key_set() {
    let issuer = PrivyTestIssuer::from_seed(0x9e4);
    let (api_url, hits) = fake_privy_api(issuer.public_pem(), issuer.public_jwks());
    let dir = TempDir::new("privy-jwks");
    let port = free_port();
    let jwks_url = format!("{api_url}/v1/apps/{APP_ID}/jwks.json");
    // The script from this origin, so the test does not depend on the
    // built-in one (see privy_with_only_the_app_id_serves_its_own_script).
    let glue = format!("http://127.0.0.1:{port}/privy-glue.js");
    let server = Server::start_on(
        &dir.0,
        port,
        &[
            "--privy-app-id",
            APP_ID,
            "--privy-jwks-url",
            &jwks_url,
            "--privy-sdk-url",
            &glue,
        ],
    )
    .await;
    let base = server.base.clone();
    let http = client();
    let flow = Flow::new(&base, &register_public_client(&http, &base).await);
    let stranger = PrivyTestIssuer::from_seed(0xbad);
    for (token, ok) in [
        (issuer.mint(APP_ID, DID, unix_now(), 3600), true),
        (stranger.mint(APP_ID, DID, unix_now(), 3600), false),
        (issuer.mint(APP_ID, DID, unix_now(), 3600), true),
    ] {
        let (verifier, challenge) = pkce();
        let page = flow.authorize(&challenge, "st-jwks").await;
        let r = flow
            .submit(
                &page.html,
                &page.cookie,
                &[("privy_token", &token), ("decision", "allow")],
            )
            .await;
        if !ok {
            assert_eq!(r.status().as_u16(), 401, "another key's token");
            continue;
        }
        let code = flow.code_from(&r, "st-jwks");
        let r = flow.exchange(&code, &verifier).await;
        assert_eq!(r.status, 200, "{}", r.body);
        let access = Tokens::from_body(&r.body).access;
        let Reply { status, body, .. } = flow.whoami(&access).await;
        assert_eq!(status, 200, "{body}");
        assert_eq!(body["result"]["structuredContent"]["sub"], DID, "{body}");
    }
    assert_eq!(hits.load(Ordering::SeqCst), 1, "fetched once, then cached");
    server.stop();
}

#[test]
fn misconfigured_privy_is_a_clear_startup_error() {
    let dir = TempDir::new("privy-bad");
    // A key set URL that is not http(s).
    let (code, _, err) = cli(
        &dir.0,
        &[
            "serve",
            "--privy-app-id",
            APP_ID,
            "--privy-sdk-url",
            "https://x/g.js",
            "--privy-jwks-url",
            "ftp://x/jwks.json",
        ],
        "",
    );
    assert_ne!(code, 0);
    assert!(err.contains("--privy-jwks-url"), "{err}");
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
    // A script from a CDN without its integrity.
    let pem = dir.0.parent().expect("root").join("k.pem");
    std::fs::create_dir_all(pem.parent().expect("root")).expect("root");
    std::fs::write(&pem, PrivyTestIssuer::from_seed(1).public_pem()).expect("pem");
    let (code, _, err) = cli(
        &dir.0,
        &[
            "serve",
            "--privy-app-id",
            APP_ID,
            "--privy-sdk-url",
            "https://cdn.example/g.js",
            "--privy-verification-key",
            pem.to_str().expect("path"),
        ],
        "",
    );
    assert_ne!(code, 0);
    assert!(err.contains("--privy-sdk-integrity"), "{err}");
}

/// `--privy-app-id` (and the key) alone: the sign-in page loads the Privy
/// script built into mcpauth (`scripts/build-privy.sh`) from the server's own
/// origin, and the server serves it. A binary built without that script
/// refuses to start instead, naming the build script. CI builds the script
/// first and sets MCPAUTH_REQUIRE_PRIVY_BUNDLE=1, so there this test always
/// checks the served script.
#[tokio::test(flavor = "multi_thread")]
async fn privy_with_only_the_app_id_serves_its_own_script() {
    let issuer = PrivyTestIssuer::from_seed(0x9e3);
    let dir = TempDir::new("privy-glue");
    let root = dir.0.parent().expect("temp root").to_owned();
    std::fs::create_dir_all(&root).expect("temp root");
    let pem = root.join("privy-glue.pem");
    std::fs::write(&pem, issuer.public_pem()).expect("pem");
    let args = [
        "--privy-app-id",
        APP_ID,
        "--privy-verification-key",
        pem.to_str().expect("path"),
    ];
    let Some(embedded) = mcpauth::privy::embedded_glue() else {
        assert_ne!(
            std::env::var("MCPAUTH_REQUIRE_PRIVY_BUNDLE").as_deref(),
            Ok("1"),
            "MCPAUTH_REQUIRE_PRIVY_BUNDLE=1 but mcpauth was built without the Privy script"
        );
        eprintln!(
            "privy_with_only_the_app_id_serves_its_own_script: no Privy script built in \
             (run scripts/build-privy.sh, then cargo test again); checking the start-up \
             refusal only"
        );
        let (code, _, err) = cli(&dir.0, &[&["serve"][..], &args[..]].concat(), "");
        assert_ne!(code, 0);
        assert!(err.contains("scripts/build-privy.sh"), "{err}");
        return;
    };
    let server = Server::start(&dir.0, &args).await;
    let base = server.base.clone();
    let http = client();
    let flow = Flow::new(&base, &register_public_client(&http, &base).await);

    // The page offers Privy with the script from this origin, versioned,
    // and its CSP allows that script and the Privy API only.
    let (_, challenge) = pkce();
    let page = flow.authorize(&challenge, "st-glue").await;
    assert!(page.html.contains("id=\"privy-login\""));
    let prefix = format!("<script src=\"{base}/privy/glue.js?v=");
    let at = page.html.find(&prefix).expect("the built-in script") + prefix.len();
    let version = &page.html[at..at + 16];
    assert!(version.bytes().all(|b| b.is_ascii_hexdigit()), "{version}");
    assert!(
        page.html
            .contains(&format!("data-privy-app-id=\"{APP_ID}\""))
    );
    assert!(
        page.html
            .contains("data-privy-api-url=\"https://auth.privy.io\"")
    );
    assert!(
        !page.html[at..].starts_with(&format!("{version}\" integrity")),
        "same origin: no integrity attribute to keep in step"
    );
    let csp = page.headers["content-security-policy"]
        .to_str()
        .expect("csp");
    assert!(
        csp.contains(&format!("script-src {base}/privy/glue.js;")),
        "{csp}"
    );
    assert!(csp.contains("connect-src https://auth.privy.io;"), "{csp}");

    // The script: JavaScript, the bundle this binary embeds, cached for good
    // under its versioned URL, revalidated by its ETag.
    let url = format!("{base}/privy/glue.js?v={version}");
    let r = http.get(&url).send().await.expect("glue");
    assert_eq!(r.status(), 200);
    let header = |r: &reqwest::Response, name: &str| {
        r.headers()
            .get(name)
            .map(|v| v.to_str().expect("ascii").to_owned())
            .unwrap_or_default()
    };
    assert_eq!(header(&r, "content-type"), "text/javascript; charset=utf-8");
    assert_eq!(
        header(&r, "cache-control"),
        "public, max-age=31536000, immutable"
    );
    assert_eq!(header(&r, "x-content-type-options"), "nosniff");
    let etag = header(&r, "etag");
    assert_eq!(etag, format!("\"{version}\""));
    let body = r.bytes().await.expect("body");
    assert!(
        body.len() > 100_000,
        "Privy's SDK is in it: {} bytes",
        body.len()
    );
    assert_eq!(&body[..], embedded);
    let text = std::str::from_utf8(&body).expect("utf-8");
    for needle in [
        "privy-login",
        "privy_token",
        "privy_id_token",
        "/api/v1/passwordless/init",
    ] {
        assert!(text.contains(needle), "the bundle has {needle}");
    }
    // To a browser that accepts gzip: the gzip form (~1/4 of the size),
    // its own ETag, the same script once unzipped.
    let r = http
        .get(&url)
        .header("accept-encoding", "gzip, deflate, br")
        .send()
        .await
        .expect("glue gzip");
    assert_eq!(r.status(), 200);
    assert_eq!(header(&r, "content-encoding"), "gzip");
    assert_eq!(header(&r, "vary"), "accept-encoding");
    assert_eq!(header(&r, "etag"), format!("\"{version}-gzip\""));
    let zipped = r.bytes().await.expect("body");
    assert!(zipped.starts_with(&[0x1f, 0x8b]), "gzip magic");
    assert!(
        zipped.len() * 3 < body.len(),
        "{} of {}",
        zipped.len(),
        body.len()
    );
    let mut gunzip = std::process::Command::new("gzip")
        .arg("-dc")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("gzip -dc");
    gunzip
        .stdin
        .take()
        .expect("stdin")
        .write_all(&zipped)
        .expect("write");
    let unzipped = gunzip.wait_with_output().expect("gunzip");
    assert!(unzipped.status.success());
    assert_eq!(&unzipped.stdout[..], embedded, "the same script");
    let r = http
        .get(format!("{base}/privy/glue.js"))
        .header("if-none-match", &etag)
        .send()
        .await
        .expect("revalidate");
    assert_eq!(r.status(), 304);
    let r = http
        .post(format!("{base}/privy/glue.js"))
        .send()
        .await
        .expect("post");
    assert_eq!(r.status(), 405);

    // A token still signs in (the script only fills the form).
    let (verifier, challenge) = pkce();
    let page = flow.authorize(&challenge, "st-glue").await;
    let token = issuer.mint(APP_ID, DID, unix_now(), 3600);
    let r = flow
        .submit(
            &page.html,
            &page.cookie,
            &[("privy_token", &token), ("decision", "allow")],
        )
        .await;
    let code = flow.code_from(&r, "st-glue");
    let r = flow.exchange(&code, &verifier).await;
    assert_eq!(r.status, 200, "{}", r.body);
    server.stop();

    // Without Privy the path is not served.
    let plain = Server::start(&TempDir::new("privy-glue-off").0, &[]).await;
    let r = http
        .get(format!("{}/privy/glue.js", plain.base))
        .send()
        .await
        .expect("glue");
    assert_eq!(r.status(), 404);
    plain.stop();
}
