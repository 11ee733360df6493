//! Sign-in with an upstream OpenID provider, end to end over HTTP: a small
//! provider runs in the test (discovery, JWKS, an authorization endpoint
//! that signs the user in at once, a token endpoint that checks the client
//! secret, the redirect URI, single use and PKCE S256, and signs ID tokens
//! with RS256), `mcpauth serve` is configured for it from a TOML `[[oidc]]`
//! table, and the client walks /authorize → provider → callback → code →
//! token → whoami, whose `sub` is the mapped local subject. Then each
//! refusal: wrong state, replayed callback, another browser, a nonce of
//! another sign-in, another issuer or audience, an expired token, an
//! upstream `error=`: a clear page, no redirect, no code.

mod common;

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::sync::{Arc, Mutex};

use base64ct::{Base64, Base64UrlUnpadded, Encoding};
use common::*;
use mcpauth_core::jose::KeySet;
use mcpauth_core::jose::testing::{rfc7515_a2_key, sign_jwt};
use mcpauth_core::oauth::upstream_subject;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

const CLIENT_ID: &str = "mcpauth-e2e";
const SECRET: &str = "e2e upstream secret";
const USER: &str = "upstream-user-42";

#[derive(Default)]
struct Provider {
    /// code → (challenge, nonce, redirect_uri)
    codes: HashMap<String, (String, String, String)>,
    /// Claims of the next ID token over the defaults (`null` removes).
    overrides: Value,
    /// Answer the next authorization with this error.
    error: Option<String>,
    /// Spoil the next ID token's signature.
    tamper: bool,
    issued: usize,
    /// Every state, nonce, code and ID token the provider saw or made.
    seen: Vec<String>,
}

fn unix_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock")
        .as_secs()
}

struct FakeIdp {
    issuer: String,
    state: Arc<Mutex<Provider>>,
}

impl FakeIdp {
    fn start() -> FakeIdp {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        let issuer = format!("http://{}", listener.local_addr().expect("addr"));
        let state = Arc::new(Mutex::new(Provider::default()));
        let (iss, st) = (issuer.clone(), state.clone());
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(stream) = stream else { continue };
                let (iss, st) = (iss.clone(), st.clone());
                std::thread::spawn(move || serve_one(stream, &iss, &st));
            }
        });
        FakeIdp { issuer, state }
    }

    fn with<R>(&self, f: impl FnOnce(&mut Provider) -> R) -> R {
        f(&mut self.state.lock().expect("lock"))
    }
}

fn serve_one(mut stream: std::net::TcpStream, iss: &str, st: &Mutex<Provider>) {
    let mut reader = BufReader::new(stream.try_clone().expect("clone"));
    let mut line = String::new();
    if reader.read_line(&mut line).is_err() {
        return;
    }
    let mut headers = HashMap::new();
    loop {
        let mut h = String::new();
        if reader.read_line(&mut h).unwrap_or(0) == 0 || h.trim().is_empty() {
            break;
        }
        if let Some((k, v)) = h.split_once(':') {
            headers.insert(k.trim().to_ascii_lowercase(), v.trim().to_owned());
        }
    }
    let len: usize = headers
        .get("content-length")
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    let mut body = vec![0u8; len];
    if reader.read_exact(&mut body).is_err() {
        return;
    }
    let target = line.split(' ').nth(1).unwrap_or("/").to_owned();
    let (path, query) = target.split_once('?').unwrap_or((&target, ""));
    let q = query_of(&format!("?{query}"));
    let (status, extra, body) = match (line.split(' ').next(), path) {
        (Some("GET"), "/.well-known/openid-configuration") => (
            "200 OK",
            String::new(),
            json!({
                "issuer": iss,
                "authorization_endpoint": format!("{iss}/auth"),
                "token_endpoint": format!("{iss}/token"),
                "jwks_uri": format!("{iss}/jwks"),
                "response_types_supported": ["code"],
                "subject_types_supported": ["public"],
                "id_token_signing_alg_values_supported": ["RS256"],
                "code_challenge_methods_supported": ["S256"],
            })
            .to_string(),
        ),
        (Some("GET"), "/jwks") => (
            "200 OK",
            String::new(),
            KeySet::new(rfc7515_a2_key()).to_jwks_json(),
        ),
        (Some("GET"), "/auth") => {
            let redirect = param(&q, "redirect_uri").unwrap_or_default();
            let state = param(&q, "state").unwrap_or_default();
            let mut p = st.lock().expect("lock");
            p.seen.push(state.clone());
            p.seen.extend(param(&q, "nonce"));
            let location = match p.error.take() {
                Some(e) => format!("{redirect}?{}", form(&[("error", &e), ("state", &state)])),
                None => {
                    p.issued += 1;
                    let code = format!("upstream-code-{}", p.issued);
                    p.seen.push(code.clone());
                    p.codes.insert(
                        code.clone(),
                        (
                            param(&q, "code_challenge").unwrap_or_default(),
                            param(&q, "nonce").unwrap_or_default(),
                            redirect.clone(),
                        ),
                    );
                    format!("{redirect}?{}", form(&[("code", &code), ("state", &state)]))
                }
            };
            (
                "302 Found",
                format!("Location: {location}\r\n"),
                String::new(),
            )
        }
        (Some("POST"), "/token") => token(iss, st, &headers, &body),
        _ => ("404 Not Found", String::new(), "{}".to_owned()),
    };
    let _ = write!(
        stream,
        "HTTP/1.1 {status}\r\ncontent-type: application/json\r\n{extra}\
         content-length: {}\r\nconnection: close\r\n\r\n{body}",
        body.len()
    );
}

fn token(
    iss: &str,
    st: &Mutex<Provider>,
    headers: &HashMap<String, String>,
    body: &[u8],
) -> (&'static str, String, String) {
    let q = query_of(&format!("?{}", String::from_utf8_lossy(body)));
    let bad = |e: &str| {
        (
            "400 Bad Request",
            String::new(),
            json!({"error": e}).to_string(),
        )
    };
    let basic = format!(
        "Basic {}",
        Base64::encode_string(
            format!(
                "{CLIENT_ID}:{}",
                form_urlencoded::byte_serialize(SECRET.as_bytes()).collect::<String>()
            )
            .as_bytes()
        )
    );
    if headers.get("authorization") != Some(&basic) {
        return (
            "401 Unauthorized",
            String::new(),
            r#"{"error":"invalid_client"}"#.into(),
        );
    }
    let mut p = st.lock().expect("lock");
    let code = param(&q, "code").unwrap_or_default();
    let Some((challenge, nonce, redirect)) = p.codes.remove(&code) else {
        return bad("invalid_grant");
    };
    let verifier = param(&q, "code_verifier").unwrap_or_default();
    if Base64UrlUnpadded::encode_string(&Sha256::digest(verifier.as_bytes())) != challenge
        || param(&q, "redirect_uri").as_deref() != Some(redirect.as_str())
        || param(&q, "grant_type").as_deref() != Some("authorization_code")
    {
        return bad("invalid_grant");
    }
    let now = unix_now();
    let mut claims = json!({
        "iss": iss, "sub": USER, "aud": CLIENT_ID, "iat": now, "exp": now + 300,
        "nonce": nonce, "email": "ann@example.com", "email_verified": true,
    });
    if let Value::Object(o) = std::mem::take(&mut p.overrides) {
        for (k, v) in o {
            if v.is_null() {
                claims.as_object_mut().expect("object").remove(&k);
            } else {
                claims[k] = v;
            }
        }
    }
    let key = rfc7515_a2_key();
    let mut id_token = sign_jwt(
        &key,
        &json!({"alg": "RS256", "typ": "JWT", "kid": key.kid()}).to_string(),
        &claims.to_string(),
    );
    if std::mem::take(&mut p.tamper) {
        // Another signature of the right length: the last bytes changed.
        let (signed, sig) = id_token.rsplit_once('.').expect("jws");
        let mut sig = Base64UrlUnpadded::decode_vec(sig).expect("b64");
        for b in sig.iter_mut().rev().take(8) {
            *b ^= 0x5a;
        }
        id_token = format!("{signed}.{}", Base64UrlUnpadded::encode_string(&sig));
    }
    p.seen.push(id_token.clone());
    (
        "200 OK",
        String::new(),
        json!({"access_token": "upstream-access", "token_type": "Bearer",
               "expires_in": 300, "id_token": id_token})
        .to_string(),
    )
}

/// A server configured for the provider from a config file.
async fn server_for(idp: &FakeIdp, dir: &TempDir) -> Server {
    server_with(idp, dir, "", &[]).await
}

/// [`server_for`] with more lines for the `[[oidc]]` table and more
/// arguments.
async fn server_with(idp: &FakeIdp, dir: &TempDir, table: &str, args: &[&str]) -> Server {
    let root = dir.0.parent().expect("root").join(format!(
        "oidc-conf-{}",
        dir.0.file_name().and_then(|n| n.to_str()).unwrap_or("x")
    ));
    std::fs::create_dir_all(&root).expect("root");
    let secret = root.join("secret");
    std::fs::write(&secret, format!("{SECRET}\n")).expect("secret");
    let config = root.join("mcpauth.toml");
    std::fs::write(
        &config,
        format!(
            "[[oidc]]\nid = \"fake\"\nname = \"Fake IdP\"\nissuer = \"{}\"\n\
             client_id = \"{CLIENT_ID}\"\nclient_secret_file = \"{}\"\n\
             allow_private_network = true\n{table}",
            idp.issuer,
            secret.display()
        ),
    )
    .expect("toml");
    let mut all = vec!["--config", config.to_str().expect("path")];
    all.extend_from_slice(args);
    Server::start(&dir.0, &all).await
}

/// Where a response sends the browser.
fn location(r: &reqwest::Response) -> String {
    r.headers()["location"]
        .to_str()
        .expect("location")
        .to_owned()
}

/// The binding cookie our server set when leaving for the provider.
fn binding(r: &reqwest::Response) -> String {
    r.headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|v| v.starts_with("mcpauth_oidc_"))
        .and_then(|v| v.split(';').next())
        .expect("binding cookie")
        .to_owned()
}

/// Sign-in page → "Continue with Fake IdP" → the provider: returns our
/// callback URL (from the provider's redirect) and the binding cookie.
async fn to_provider_and_back(flow: &Flow, challenge: &str) -> (String, String) {
    let page = flow.authorize(challenge, "st-oidc").await;
    assert_eq!(page.status, 200, "{}", page.html);
    assert!(
        page.html.contains("Continue with Fake IdP"),
        "{}",
        page.html
    );
    let r = flow
        .submit(&page.html, &page.cookie, &[("upstream", "fake")])
        .await;
    assert_eq!(r.status().as_u16(), 303);
    let cookie = binding(&r);
    let at_provider = location(&r);
    let r = flow.http.get(&at_provider).send().await.expect("provider");
    assert_eq!(r.status().as_u16(), 302);
    (location(&r), cookie)
}

async fn get(flow: &Flow, url: &str, cookie: &str) -> reqwest::Response {
    flow.http
        .get(url)
        .header("cookie", cookie)
        .send()
        .await
        .expect("callback")
}

async fn assert_page(r: reqwest::Response, status: u16, text: &str) {
    assert_eq!(r.status().as_u16(), status);
    assert!(r.headers().get("location").is_none(), "no redirect");
    let html = r.text().await.expect("page");
    assert!(html.contains("Cannot continue"), "{html}");
    assert!(html.contains(text), "{html}");
}

#[tokio::test(flavor = "multi_thread")]
async fn sign_in_with_an_upstream_provider_end_to_end() {
    let idp = FakeIdp::start();
    let dir = TempDir::new("oidc");
    let server = server_for(&idp, &dir).await;
    let base = server.base.clone();
    let http = client();
    let flow = Flow::new(&base, &register_public_client(&http, &base).await);

    let (verifier, challenge) = pkce();
    let (callback, cookie) = to_provider_and_back(&flow, &challenge).await;
    assert!(
        callback.starts_with(&format!("{base}/oidc/callback/fake?")),
        "{callback}"
    );
    let r = get(&flow, &callback, &cookie).await;
    let code = flow.code_from(&r, "st-oidc");
    let r = flow.exchange(&code, &verifier).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert!(!r.body.to_string().contains("upstream-access"));
    let access = Tokens::from_body(&r.body).access;
    let Reply { status, body, .. } = flow.whoami(&access).await;
    assert_eq!(status, 200, "{body}");
    let sub = body["result"]["structuredContent"]["sub"].clone();
    assert_eq!(sub, upstream_subject(&idp.issuer, USER), "{body}");
    // The same user again: the same subject.
    let (verifier, challenge) = pkce();
    let (callback, cookie) = to_provider_and_back(&flow, &challenge).await;
    let code = flow.code_from(&get(&flow, &callback, &cookie).await, "st-oidc");
    let access = Tokens::from_body(&flow.exchange(&code, &verifier).await.body).access;
    assert_eq!(
        flow.whoami(&access).await.body["result"]["structuredContent"]["sub"],
        sub
    );
    server.stop();
}

#[tokio::test(flavor = "multi_thread")]
async fn upstream_refusals_show_a_page_and_create_nothing() {
    let idp = FakeIdp::start();
    let dir = TempDir::new("oidc-refusals");
    let log = dir.0.parent().expect("parent").join(format!(
        "oidc-audit-{}.log",
        dir.0.file_name().and_then(|n| n.to_str()).unwrap_or("x")
    ));
    let server = server_with(
        &idp,
        &dir,
        "allowed_email_domains = [\"example.com\"]\n",
        &["--audit-log", log.to_str().expect("utf-8 path")],
    )
    .await;
    let base = server.base.clone();
    let http = client();
    let client_id = register_public_client(&http, &base).await;
    let flow = Flow::new(&base, &client_id);
    // The reason code of each refusal, in order; binding cookies seen.
    let mut reasons: Vec<&str> = Vec::new();
    let mut cookies: Vec<String> = Vec::new();

    // Wrong state.
    let (_, challenge) = pkce();
    let (callback, cookie) = to_provider_and_back(&flow, &challenge).await;
    cookies.push(cookie.clone());
    let q = query_of(&callback);
    let forged = format!(
        "{base}/oidc/callback/fake?{}",
        form(&[
            ("code", &param(&q, "code").expect("code")),
            ("state", "not-the-state")
        ])
    );
    assert_page(
        get(&flow, &forged, &cookie).await,
        400,
        "expired or was already used",
    )
    .await;
    reasons.push("state_unknown");
    // No state at all.
    let stateless = format!(
        "{base}/oidc/callback/fake?{}",
        form(&[("code", &param(&q, "code").expect("code"))])
    );
    assert_page(get(&flow, &stateless, &cookie).await, 400, "incomplete").await;
    reasons.push("state_missing");
    // Another browser (no binding cookie): refused, and the sign-in is
    // still there for the right browser.
    assert_page(
        get(&flow, &callback, "").await,
        403,
        "not started in this browser",
    )
    .await;
    reasons.push("browser_mismatch");
    assert_eq!(get(&flow, &callback, &cookie).await.status().as_u16(), 303);
    // Replayed callback.
    assert_page(
        get(&flow, &callback, &cookie).await,
        400,
        "expired or was already used",
    )
    .await;
    reasons.push("state_unknown");

    // ID tokens the provider should not have sent.
    let other_nonce = {
        let (_, challenge) = pkce();
        let page = flow.authorize(&challenge, "st-oidc").await;
        let r = flow
            .submit(&page.html, &page.cookie, &[("upstream", "fake")])
            .await;
        cookies.push(binding(&r));
        param(&query_of(&location(&r)), "nonce").expect("nonce")
    };
    let now = unix_now();
    for (what, overrides, reason) in [
        (
            "nonce of another sign-in",
            json!({ "nonce": other_nonce }),
            "id_token_nonce",
        ),
        (
            "another issuer",
            json!({"iss": "http://127.0.0.1:1"}),
            "id_token_issuer",
        ),
        (
            "another audience",
            json!({"aud": "another-client"}),
            "id_token_audience",
        ),
        (
            "expired",
            json!({"iat": now - 4000, "exp": now - 3600}),
            "id_token_expired",
        ),
        ("bad signature", Value::Null, "id_token_signature"),
    ] {
        idp.with(|p| {
            p.tamper = overrides.is_null();
            p.overrides = overrides;
        });
        let (_, challenge) = pkce();
        let (callback, cookie) = to_provider_and_back(&flow, &challenge).await;
        cookies.push(cookie.clone());
        let r = get(&flow, &callback, &cookie).await;
        assert_eq!(r.status().as_u16(), 401, "{what}");
        assert_page(r, 401, "could not be verified").await;
        reasons.push(reason);
        // Nothing half-made: the sign-in is used up, no code exists.
        assert_page(get(&flow, &callback, &cookie).await, 400, "expired").await;
        reasons.push("state_unknown");
    }

    // A verified account outside the allowed email domains.
    idp.with(|p| p.overrides = json!({"email": "ann@elsewhere.example"}));
    let (_, challenge) = pkce();
    let (callback, cookie) = to_provider_and_back(&flow, &challenge).await;
    cookies.push(cookie.clone());
    assert_page(get(&flow, &callback, &cookie).await, 403, "not allowed").await;
    reasons.push("not_allowed");

    // The provider refuses.
    idp.with(|p| p.error = Some("access_denied".into()));
    let (_, challenge) = pkce();
    let (callback, cookie) = to_provider_and_back(&flow, &challenge).await;
    cookies.push(cookie.clone());
    assert!(callback.contains("error=access_denied"));
    assert_page(
        get(&flow, &callback, &cookie).await,
        403,
        "Fake IdP did not sign you in (access_denied)",
    )
    .await;
    reasons.push("upstream_error");
    // Every code the provider issued was redeemed exactly once.
    assert_eq!(idp.with(|p| p.codes.len()), 0);
    server.stop();

    let (text, lines) = audit_log(&log);
    let failed: Vec<&Value> = lines
        .iter()
        .filter(|l| l["event"] == "sign_in_failed")
        .collect();
    let logged: Vec<&str> = failed
        .iter()
        .map(|l| l["reason"].as_str().unwrap_or("<none>"))
        .collect();
    assert_eq!(logged, reasons, "{text}");
    for line in &failed {
        assert_eq!(line["method"], "oidc", "{line}");
        assert_eq!(line["provider"], "fake", "{line}");
        assert_eq!(line["peer"], "127.0.0.1", "{line}");
        // The client is named once the sign-in is found by its state.
        let known = !matches!(
            line["reason"].as_str(),
            Some("state_unknown" | "state_missing")
        );
        assert_eq!(
            line.get("client_id").and_then(Value::as_str),
            known.then_some(client_id.as_str()),
            "{line}"
        );
    }
    assert_eq!(
        lines.iter().filter(|l| l["event"] == "sign_in").count(),
        1,
        "{text}"
    );
    let mut secrets = idp.with(|p| p.seen.clone());
    assert!(secrets.len() > 20, "{secrets:?}");
    secrets.extend(
        cookies
            .iter()
            .map(|c| c.split_once('=').expect("name=value").1.to_owned()),
    );
    secrets.push(SECRET.to_owned());
    secrets.push("upstream-access".to_owned());
    for secret in &secrets {
        assert!(
            !text.contains(secret.as_str()),
            "{secret} is in the audit log"
        );
    }
}
