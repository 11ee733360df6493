//! The attack suite: the real `mcpauth serve` over HTTP, attacked the way
//! an attacker would. One test per rule the server implements (RFC 8725
//! JWT best practices, RFC 9700 OAuth security best practice, RFC 7636,
//! RFC 9207) and per finding of issue 14, each named after what it checks.
//!
//! Forged tokens are signed with the server's real key where the attack
//! needs it (the test creates the key in the data directory before the
//! server starts, as `mcpauth serve` would), so each refusal is the rule at
//! work, not a bad signature; every forging helper is checked against a
//! positive control (a token the server accepts).
//!
//! Peers: the server trusts `X-Forwarded-For` from loopback (its default),
//! so a test names any client address it likes in that header.

mod common;

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64ct::{Base64UrlUnpadded, Encoding};
use common::*;
use hmac::{Hmac, KeyInit, Mac};
use mcpauth::backend::Backend;
use mcpauth::backend::HostStore;
use mcpauth_core::jose::{AccessTokenClaims, Audience, KeySet, SigningKey};
use mcpauth_core::rand::InsecureSeededRandom;
use serde_json::{Value, json};
use sha2::{Sha256, Sha512};

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("clock")
        .as_secs()
}

/// A server with user alice, a registered public client, and its signing
/// key in the test's hands.
struct Target {
    _dir: TempDir,
    server: Server,
    flow: Flow,
    keys: KeySet,
}

async fn target(extra: &[&str]) -> Target {
    let dir = TempDir::new("attacks");
    let (code, _, err) = cli(&dir.0, &["user", "add", "alice"], &format!("{PASSWORD}\n"));
    assert_eq!(code, 0, "{err}");
    // The key `mcpauth serve` will load (it generates one only if none is
    // stored).
    let keys = {
        let backend = Backend::open(None, &dir.0).expect("open the data directory");
        let keys = mcpauth::keys::load_or_create(&backend, 3600, now()).expect("key");
        backend.close();
        keys
    };
    let mut args = vec!["--stateless"];
    args.extend_from_slice(extra);
    let server = Server::start(&dir.0, &args).await;
    let client_id = register_public_client(&client(), &server.base).await;
    let flow = Flow::new(&server.base, &client_id);
    Target {
        _dir: dir,
        server,
        flow,
        keys,
    }
}

impl Target {
    fn signing_key(&self) -> &SigningKey {
        self.keys.signing_key().expect("signing key")
    }

    /// Claims the server would issue for alice now.
    fn claims(&self) -> Value {
        let t = now();
        json!({
            "iss": self.flow.public, "sub": "alice", "aud": self.flow.resource(),
            "client_id": self.flow.client_id, "scope": "mcp",
            "iat": t, "exp": t + 600, "jti": format!("forged-{t}"),
        })
    }

    /// RS256 through the core's own issuer code (header `alg`, `typ`, `kid`).
    fn issue(&self, claims: &Value) -> String {
        let text = |k: &str| claims[k].as_str().expect(k).to_owned();
        let secs = |k: &str| claims[k].as_u64().expect(k);
        let aud = match &claims["aud"] {
            Value::String(s) => Audience::One(s.clone()),
            Value::Array(list) => Audience::Many(
                list.iter()
                    .map(|a| a.as_str().expect("aud").to_owned())
                    .collect(),
            ),
            other => panic!("aud {other}"),
        };
        let mut extra = serde_json::Map::new();
        if let Some(nbf) = claims.get("nbf") {
            extra.insert("nbf".into(), nbf.clone());
        }
        let claims = AccessTokenClaims {
            iss: text("iss"),
            sub: text("sub"),
            aud,
            client_id: text("client_id"),
            scope: text("scope"),
            iat: secs("iat"),
            exp: secs("exp"),
            jti: text("jti"),
            extra,
        };
        self.keys
            .issue_access_token(&claims, &mut InsecureSeededRandom::new(9))
            .expect("sign")
    }

    /// A compact JWS with any header, signed with the server's RSA key:
    /// PKCS#1 v1.5 with SHA-256 (RS256) or SHA-512 (RS512).
    fn sign_rsa(&self, header: &Value, claims: &Value, hash: Hash) -> String {
        let input = signing_input(header, claims);
        let key = self.signing_key().rsa();
        let sig = match hash {
            Hash::Sha256 => key.pkcs1v15_sign::<Sha256>(input.as_bytes()),
            Hash::Sha512 => key.pkcs1v15_sign::<Sha512>(input.as_bytes()),
        }
        .expect("rsa sign");
        format!("{input}.{}", Base64UrlUnpadded::encode_string(&sig))
    }

    /// What `tools/call` answers for `token` (200: accepted).
    async fn mcp_status(&self, token: &str) -> u16 {
        self.flow.whoami_stateless(token).await.status
    }

    fn kid(&self) -> String {
        self.signing_key().kid().to_owned()
    }
}

#[derive(Clone, Copy)]
enum Hash {
    Sha256,
    Sha512,
}

fn b64(v: &Value) -> String {
    Base64UrlUnpadded::encode_string(v.to_string().as_bytes())
}

fn signing_input(header: &Value, claims: &Value) -> String {
    format!("{}.{}", b64(header), b64(claims))
}

/// An HTTP client whose requests say they come from `ip` (trusted
/// `X-Forwarded-For` from loopback).
fn from(ip: &str) -> reqwest::Client {
    let mut headers = reqwest::header::HeaderMap::new();
    headers.insert("x-forwarded-for", ip.parse().expect("header"));
    client_builder()
        .default_headers(headers)
        .build()
        .expect("client")
}

fn flow_from(flow: &Flow, ip: &str) -> Flow {
    Flow {
        http: from(ip),
        ..flow.clone()
    }
}

/// One failed sign-in as `user` from `ip`; returns the status.
async fn fail_sign_in(flow: &Flow, ip: &str, user: &str) -> u16 {
    let peer = flow_from(flow, ip);
    let (_, challenge) = pkce();
    let page = peer.authorize(&challenge, "st").await;
    assert_eq!(page.status, 200, "{}", page.html);
    peer.decide(&page.html, &page.cookie, user, "wrong password", "allow")
        .await
        .status()
        .as_u16()
}

// ---------------------------------------------------------------------------
// RFC 8725 (JWT best current practices) at the MCP endpoint.

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rfc8725_forging_harness_positive_control() {
    let t = target(&[]).await;
    let claims = t.claims();
    assert_eq!(t.mcp_status(&t.issue(&claims)).await, 200);
    let header = json!({"alg": "RS256", "typ": "at+jwt", "kid": t.kid()});
    assert_eq!(
        t.mcp_status(&t.sign_rsa(&header, &claims, Hash::Sha256))
            .await,
        200
    );
}

/// RFC 8725 §3.1: `alg: none` is never accepted.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rfc8725_3_1_alg_none_is_refused() {
    let t = target(&[]).await;
    let claims = t.claims();
    for alg in ["none", "None", "NONE"] {
        let header = json!({"alg": alg, "typ": "at+jwt", "kid": t.kid()});
        let token = format!("{}.", signing_input(&header, &claims));
        assert_eq!(t.mcp_status(&token).await, 401, "{alg}");
        // And with the real RS256 signature appended.
        let real = t.issue(&claims);
        let sig = real.rsplit('.').next().expect("sig");
        let token = format!("{}.{sig}", signing_input(&header, &claims));
        assert_eq!(t.mcp_status(&token).await, 401, "{alg} + signature");
    }
}

/// RFC 8725 §3.1/§2.1: the RSA public key used as an HMAC secret (the
/// classic algorithm confusion) is refused.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rfc8725_3_1_hs256_signed_with_the_public_key_is_refused() {
    let t = target(&[]).await;
    let claims = t.claims();
    let jwks = t.flow.jwks().await;
    let key = t.signing_key().verifying_key();
    let secrets: Vec<Vec<u8>> = vec![
        jwks.to_string().into_bytes(),
        jwks["keys"][0].to_string().into_bytes(),
        key.n_bytes(),
        key.n_base64url().as_bytes().to_vec(),
    ];
    for secret in secrets {
        let header = json!({"alg": "HS256", "typ": "at+jwt", "kid": t.kid()});
        let input = signing_input(&header, &claims);
        let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(&secret).expect("hmac key");
        mac.update(input.as_bytes());
        let sig = mac.finalize().into_bytes();
        let token = format!("{input}.{}", Base64UrlUnpadded::encode_string(&sig));
        assert_eq!(t.mcp_status(&token).await, 401);
    }
}

/// RFC 8725 §3.1: only the algorithm the server uses (RS256) is accepted,
/// even for a token really signed by its key with another RSA algorithm.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rfc8725_3_1_rs512_signed_by_the_real_key_is_refused() {
    let t = target(&[]).await;
    let claims = t.claims();
    let header = json!({"alg": "RS512", "typ": "at+jwt", "kid": t.kid()});
    assert_eq!(
        t.mcp_status(&t.sign_rsa(&header, &claims, Hash::Sha512))
            .await,
        401
    );
    // An RS256 signature under a header claiming RS512.
    assert_eq!(
        t.mcp_status(&t.sign_rsa(&header, &claims, Hash::Sha256))
            .await,
        401
    );
}

/// RFC 8725 §3.10: `kid` only selects among the server's own keys: an
/// unknown one, or one that looks like a path or a query, is refused.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rfc8725_3_10_kid_tricks_are_refused() {
    let t = target(&[]).await;
    let claims = t.claims();
    for kid in [
        "unknown-kid".to_owned(),
        "../../../../../../dev/null".to_owned(),
        format!("../{}", t.kid()),
        format!("{}' OR '1'='1", t.kid()),
        String::new(),
    ] {
        let header = json!({"alg": "RS256", "typ": "at+jwt", "kid": kid});
        assert_eq!(
            t.mcp_status(&t.sign_rsa(&header, &claims, Hash::Sha256))
                .await,
            401,
            "{kid}"
        );
    }
    let header = json!({"alg": "RS256", "typ": "at+jwt", "kid": 7});
    assert_eq!(
        t.mcp_status(&t.sign_rsa(&header, &claims, Hash::Sha256))
            .await,
        401
    );
}

/// RFC 8725 §3.10 (and RFC 7515 §4.1.2–4.1.5): keys named by the token
/// itself (`jwk`, `jku`, `x5u`, `x5c`) are never used: a token signed with
/// the attacker's key and carrying it is refused.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rfc8725_3_10_jwk_jku_x5u_x5c_headers_are_ignored() {
    let t = target(&[]).await;
    let claims = t.claims();
    let attacker =
        SigningKey::generate(&mut InsecureSeededRandom::new(0xBAD), 2048).expect("keygen");
    let vk = attacker.verifying_key();
    let jwk = json!({"kty": "RSA", "n": vk.n_base64url(), "e": vk.e_base64url(), "kid": vk.kid()});
    let headers = [
        json!({"alg": "RS256", "typ": "at+jwt", "kid": vk.kid(), "jwk": jwk}),
        json!({"alg": "RS256", "typ": "at+jwt", "kid": t.kid(), "jwk": jwk}),
        json!({"alg": "RS256", "typ": "at+jwt", "kid": vk.kid(),
               "jku": "https://attacker.example/jwks.json"}),
        json!({"alg": "RS256", "typ": "at+jwt", "kid": vk.kid(),
               "x5u": "https://attacker.example/cert.pem"}),
        json!({"alg": "RS256", "typ": "at+jwt", "kid": vk.kid(), "x5c": ["MIIB"]}),
    ];
    for header in headers {
        let input = signing_input(&header, &claims);
        let sig = attacker
            .rsa()
            .pkcs1v15_sign::<Sha256>(input.as_bytes())
            .expect("sign");
        let token = format!("{input}.{}", Base64UrlUnpadded::encode_string(&sig));
        assert_eq!(t.mcp_status(&token).await, 401, "{header}");
    }
}

/// RFC 8725 §3.8/§3.9, RFC 9068 §4, RFC 8707: a token of another issuer or
/// for another audience is refused, even signed by the server's key.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rfc8725_3_9_aud_and_iss_swaps_are_refused() {
    let t = target(&[]).await;
    let mut other_aud = t.claims();
    other_aud["aud"] = json!("https://other.example/mcp");
    assert_eq!(t.mcp_status(&t.issue(&other_aud)).await, 401);
    let mut aud_list = t.claims();
    aud_list["aud"] = json!(["https://other.example/mcp"]);
    assert_eq!(t.mcp_status(&t.issue(&aud_list)).await, 401);
    let mut other_iss = t.claims();
    other_iss["iss"] = json!("https://evil.example");
    assert_eq!(t.mcp_status(&t.issue(&other_iss)).await, 401);
    let header = json!({"alg": "RS256", "typ": "at+jwt", "kid": t.kid()});
    for aud in [
        json!([]),
        json!(null),
        json!(["https://other.example/mcp", 7]),
    ] {
        let mut claims = t.claims();
        claims["aud"] = aud;
        assert_eq!(
            t.mcp_status(&t.sign_rsa(&header, &claims, Hash::Sha256))
                .await,
            401
        );
    }
    // An access token of the right issuer and audience but another `typ`
    // (RFC 8725 §3.11, RFC 9068 §4: `at+jwt` only).
    let header = json!({"alg": "RS256", "typ": "JWT", "kid": t.kid()});
    assert_eq!(
        t.mcp_status(&t.sign_rsa(&header, &t.claims(), Hash::Sha256))
            .await,
        401
    );
}

/// RFC 7519 §4.1.4/§4.1.5: expired and not-yet-valid tokens are refused.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rfc7519_expired_and_not_yet_valid_tokens_are_refused() {
    let t = target(&[]).await;
    let mut expired = t.claims();
    expired["iat"] = json!(now() - 7200);
    expired["exp"] = json!(now() - 3600);
    assert_eq!(t.mcp_status(&t.issue(&expired)).await, 401);
    let mut early = t.claims();
    early["nbf"] = json!(now() + 3600);
    assert_eq!(t.mcp_status(&t.issue(&early)).await, 401);
    let mut future_iat = t.claims();
    future_iat["iat"] = json!(now() + 3600);
    future_iat["exp"] = json!(now() + 7200);
    assert_eq!(t.mcp_status(&t.issue(&future_iat)).await, 401);
}

// ---------------------------------------------------------------------------
// RFC 9700 / RFC 7636 / RFC 9207 at the authorization and token endpoints.

/// RFC 7636 §4.4.1, RFC 9700 §2.1.1: PKCE is required and S256 only; the
/// verifier must match the code's challenge.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rfc7636_pkce_downgrade_is_refused() {
    let t = target(&[]).await;
    let f = &t.flow;
    let (verifier, challenge) = pkce();
    let base = form(&[
        ("response_type", "code"),
        ("client_id", &f.client_id),
        ("redirect_uri", REDIRECT),
        ("state", "st"),
        ("resource", &f.resource()),
    ]);
    for extra in [
        format!("&code_challenge={verifier}&code_challenge_method=plain"),
        format!("&code_challenge={challenge}"),
        String::new(),
    ] {
        let r = f
            .http
            .get(format!("{}/authorize?{base}{extra}", f.base))
            .send()
            .await
            .expect("authorize");
        assert_eq!(r.status().as_u16(), 400, "{extra}");
        assert!(r.headers().get("location").is_none());
    }
    // Missing verifier, another code's verifier, a wrong one.
    let code = f.sign_in(&challenge, "alice", PASSWORD).await;
    let (other_verifier, other_challenge) = {
        let (v, _) = pkce();
        let v = format!("{v}x");
        let c = Base64UrlUnpadded::encode_string(&<Sha256 as sha2::Digest>::digest(v.as_bytes()));
        (v, c)
    };
    let other_code = f.sign_in(&other_challenge, "alice", PASSWORD).await;
    let r = f
        .token(&[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("redirect_uri", REDIRECT),
            ("client_id", &f.client_id),
        ])
        .await;
    assert_eq!(
        (r.status, r.body["error"].as_str()),
        (400, Some("invalid_request"))
    );
    let r = f.exchange(&code, &other_verifier).await;
    assert_eq!(
        (r.status, r.body["error"].as_str()),
        (400, Some("invalid_grant"))
    );
    // The failed attempts spent the code: not even the right verifier
    // redeems it now; the other code still works with its own verifier.
    let r = f.exchange(&other_code, &other_verifier).await;
    assert_eq!(r.status, 200, "{}", r.body);
    let r = f.exchange(&code, &verifier).await;
    assert_eq!(r.status, 400);
}

/// RFC 9700 §4.7 / RFC 6749 §10.12: the consent form is bound to the
/// browser that opened it (form token + cookie); without it, or with
/// another browser's, no code is issued.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rfc9700_4_7_consent_needs_this_browsers_form_token() {
    let t = target(&[]).await;
    let f = &t.flow;
    let (_, challenge) = pkce();
    let victim = f.authorize(&challenge, "st").await;
    let attacker = f.authorize(&challenge, "st").await;
    let request_id = hidden(&victim.html, "request_id");
    let post = |cookie: String, fields: Vec<(&'static str, String)>| async move {
        let pairs: Vec<(&str, &str)> = fields.iter().map(|(k, v)| (*k, v.as_str())).collect();
        f.post_authorize(&cookie, &pairs).await
    };
    let creds = |csrf: Option<String>| {
        let mut v = vec![
            ("request_id", request_id.clone()),
            ("username", "alice".to_owned()),
            ("password", PASSWORD.to_owned()),
            ("decision", "allow".to_owned()),
        ];
        if let Some(c) = csrf {
            v.push(("csrf", c));
        }
        v
    };
    // No form token.
    let r = post(victim.cookie.clone(), creds(None)).await;
    assert!(r.status().is_client_error(), "{}", r.status());
    assert!(r.headers().get("location").is_none());
    // The attacker's own form token and cookie against the victim's request.
    let r = post(
        attacker.cookie.clone(),
        creds(Some(hidden(&attacker.html, "csrf"))),
    )
    .await;
    assert_eq!(r.status().as_u16(), 403);
    // The victim's form token without the victim's cookie (cross-site POST).
    let r = post(String::new(), creds(Some(hidden(&victim.html, "csrf")))).await;
    assert_eq!(r.status().as_u16(), 403);
    // The real browser still can.
    let r = f
        .decide(&victim.html, &victim.cookie, "alice", PASSWORD, "allow")
        .await;
    assert_eq!(r.status().as_u16(), 303);
}

/// RFC 9207 (mix-up defence): every authorization response names the
/// issuer: the code, a denial, and the link of an error page.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rfc9207_iss_in_every_authorization_response() {
    let t = target(&[]).await;
    let f = &t.flow;
    let (_, challenge) = pkce();
    let page = f.authorize(&challenge, "st-1").await;
    let r = f
        .decide(&page.html, &page.cookie, "alice", PASSWORD, "allow")
        .await;
    let _ = f.code_from(&r, "st-1"); // checks `iss`
    let page = f.authorize(&challenge, "st-2").await;
    let r = f.decide(&page.html, &page.cookie, "", "", "deny").await;
    assert_eq!(r.status().as_u16(), 303);
    let location = r.headers()["location"]
        .to_str()
        .expect("location")
        .to_owned();
    let q = query_of(&location);
    assert_eq!(param(&q, "error").as_deref(), Some("access_denied"));
    assert_eq!(param(&q, "iss").as_deref(), Some(f.public.as_str()));
    let bad = f
        .authorize_url(&challenge, "st-3")
        .replace("scope=mcp", "scope=admin");
    let r = f.http.get(bad).send().await.expect("authorize");
    let link = return_link(&r.text().await.expect("page"));
    assert_eq!(
        param(&query_of(&link), "iss").as_deref(),
        Some(f.public.as_str())
    );
}

/// RFC 9700 §4.1.1 / §2.1: redirect URIs are compared exactly (loopback
/// port aside): a variant gets an error page, never a redirect, and the
/// token endpoint refuses a code with another redirect URI.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rfc9700_4_1_redirect_uri_exact_match() {
    let t = target(&[]).await;
    let f = &t.flow;
    let (verifier, challenge) = pkce();
    let good = f.authorize_url(&challenge, "st");
    let enc = |s: &str| form(&[("r", s)])[2..].to_owned();
    for variant in [
        "http://127.0.0.1:9/callback/",
        "http://127.0.0.1:9/callback?x=1",
        "http://127.0.0.1:9/Callback",
        "http://127.0.0.1:9/callback/../callback",
        "http://127.0.0.1.evil.example:9/callback",
        "http://localhost:9/callback",
        "https://127.0.0.1:9/callback",
        "http://127.0.0.1:9/callback#x",
        "http://127.0.0.1:9\\@evil.example/callback",
    ] {
        let url = good.replace(&enc(REDIRECT), &enc(variant));
        assert_ne!(url, good);
        let r = f.http.get(url).send().await.expect("authorize");
        assert_eq!(r.status().as_u16(), 400, "{variant}");
        assert!(r.headers().get("location").is_none(), "{variant}");
    }
    let code = f.sign_in(&challenge, "alice", PASSWORD).await;
    let r = f
        .token(&[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("redirect_uri", "http://127.0.0.1:9/other"),
            ("client_id", &f.client_id),
            ("code_verifier", &verifier),
        ])
        .await;
    assert_eq!(
        (r.status, r.body["error"].as_str()),
        (400, Some("invalid_grant"))
    );
}

/// RFC 9700 §4.14.2: refresh tokens rotate; presenting a rotated-out one
/// revokes the whole family, the thief's copy and the victim's alike.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rfc9700_4_14_refresh_token_reuse_revokes_the_family() {
    let t = target(&[]).await;
    let f = &t.flow;
    let first = f.grant_as("alice", PASSWORD).await;
    let r = f.refresh(&first.refresh).await;
    assert_eq!(r.status, 200, "{}", r.body);
    let second = Tokens::from_body(&r.body);
    assert_eq!(t.mcp_status(&second.access).await, 200);
    let r = f.refresh(&first.refresh).await;
    assert_eq!(
        (r.status, r.body["error"].as_str()),
        (400, Some("invalid_grant"))
    );
    let r = f.refresh(&second.refresh).await;
    assert_eq!(r.status, 400, "the live token died with its family");
    assert_eq!(
        t.mcp_status(&second.access).await,
        401,
        "and its access tokens"
    );
}

// ---------------------------------------------------------------------------
// Issue 14 findings.

/// Finding 2: an IPv6 host owns its /64; rotating addresses in it is one
/// peer for the sign-in throttle.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn finding_2_ipv6_addresses_of_one_64_are_one_peer() {
    let t = target(&[]).await;
    for i in 0..20 {
        let ip = format!("2001:db8:0:7::{:x}", i + 1);
        let status = fail_sign_in(&t.flow, &ip, &format!("user{i}")).await;
        assert_eq!(status, 200, "failure {i}");
    }
    assert_eq!(
        fail_sign_in(&t.flow, "2001:db8:0:7::ffff", "nobody").await,
        429
    );
    assert_eq!(
        fail_sign_in(&t.flow, "2001:db8:0:8::1", "nobody").await,
        200
    );
}

/// Finding 2: thousands of cheap `GET /authorize` from rotating addresses
/// do not evict (and so reset) a username's brake.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn finding_2_authorize_flood_does_not_reset_the_username_brake() {
    let t = target(&[]).await;
    // 50 failures on alice from 10 addresses: the brake is on.
    for n in 0..10 {
        for _ in 0..5 {
            assert_eq!(
                fail_sign_in(&t.flow, &format!("198.51.100.{n}"), "alice").await,
                200
            );
        }
    }
    // 4,200 authorization requests, each from a new address.
    let (_, challenge) = pkce();
    let url = t.flow.authorize_url(&challenge, "st");
    let mut tasks = tokio::task::JoinSet::new();
    for worker in 0..8u32 {
        let url = url.clone();
        tasks.spawn(async move {
            for i in 0..525u32 {
                let n = worker * 525 + i;
                let ip = format!("10.{}.{}.{}", n >> 16, (n >> 8) & 255, n & 255);
                let r = from(&ip).get(&url).send().await.expect("authorize");
                assert_eq!(r.status().as_u16(), 200);
            }
        });
    }
    while let Some(done) = tasks.join_next().await {
        done.expect("flood");
    }
    // The brake is still on: one attempt per 10 s at most (the first may
    // pass if the flood took longer than the spacing), then a wait.
    let first = fail_sign_in(&t.flow, "203.0.113.1", "alice").await;
    assert!(first == 200 || first == 429, "{first}");
    assert_eq!(fail_sign_in(&t.flow, "203.0.113.2", "alice").await, 429);
}

/// Finding 3: an attacker failing alice's password as fast as the brake
/// allows does not lock alice out where she signed in before.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn finding_3_a_known_user_signs_in_while_the_brake_is_on() {
    let t = target(&[]).await;
    let home = flow_from(&t.flow, "2001:db8:aaaa:1::10");
    let _ = home.grant_as("alice", PASSWORD).await;
    for n in 0..10 {
        for _ in 0..5 {
            assert_eq!(
                fail_sign_in(&t.flow, &format!("198.51.100.{n}"), "alice").await,
                200
            );
        }
    }
    // The attacker's latest failure is just now: strangers wait...
    assert_eq!(fail_sign_in(&t.flow, "198.51.100.200", "alice").await, 429);
    // ...alice at home (another address of her /64, too) does not.
    let home = flow_from(&t.flow, "2001:db8:aaaa:1::11");
    let _ = home.grant_as("alice", PASSWORD).await;
}

/// Finding 4 (RFC 9700 §4.11.2): errors of a client anyone could have
/// registered are a page, never an automatic redirect; redirect URIs with
/// operating-system schemes cannot be registered.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn finding_4_no_open_redirect_on_errors_or_to_os_schemes() {
    let t = target(&[]).await;
    let f = &t.flow;
    let (_, challenge) = pkce();
    let url = f
        .authorize_url(&challenge, "st")
        .replace("response_type=code", "response_type=token");
    let r = f.http.get(url).send().await.expect("authorize");
    assert_eq!(r.status().as_u16(), 400);
    assert!(r.headers().get("location").is_none());
    assert!(r.text().await.expect("page").contains("Return to"));
    for uri in [
        "search-ms:query=x",
        "ms-msdt:/id PCWDiagnostic",
        "myapp:/cb",
    ] {
        let r = register(
            &f.http,
            &f.base,
            json!({"redirect_uris": [uri], "application_type": "native"}),
        )
        .await;
        assert_eq!(r.status, 400, "{uri}");
        assert_eq!(r.body["error"], "invalid_redirect_uri");
    }
    let r = register(
        &f.http,
        &f.base,
        json!({"redirect_uris": ["com.example.app:/cb"], "application_type": "native"}),
    )
    .await;
    assert_eq!(r.status, 201, "{}", r.body);
}

/// Finding 5: one IPv6 host cannot spend the registration budget of
/// everyone else.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn finding_5_one_ipv6_peer_cannot_spend_the_registration_budget() {
    let t = target(&[]).await;
    let doc = json!({"redirect_uris": [REDIRECT], "token_endpoint_auth_method": "none"});
    let mut refused = 0;
    for i in 0..200 {
        let r = register(
            &from(&format!("2001:db8:bad::{:x}", i + 1)),
            &t.flow.base,
            doc.clone(),
        )
        .await;
        if r.status == 429 {
            refused += 1;
        }
    }
    assert!(refused >= 140, "only {refused} of 200 refused");
    let r = register(&from("2001:db8:600d::1"), &t.flow.base, doc).await;
    assert_eq!(r.status, 201, "another peer registers");
}

/// Finding 5: a client nobody ever authorized expires
/// (`--unused-client-ttl`); one a user authorized stays.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn finding_5_unused_clients_expire() {
    let t = target(&["--unused-client-ttl", "1s"]).await;
    let used = &t.flow;
    let _ = used.grant_as("alice", PASSWORD).await;
    let idle = register_public_client(&client(), &t.server.base).await;
    tokio::time::sleep(Duration::from_millis(2100)).await;
    let _ = register_public_client(&client(), &t.server.base).await;
    let (_, challenge) = pkce();
    let page = Flow::new(&t.server.base, &idle)
        .authorize(&challenge, "st")
        .await;
    assert_eq!(page.status, 400, "the idle client is gone");
    assert!(page.html.contains("not registered"));
    let _ = used.grant_as("alice", PASSWORD).await;
}

/// Finding 7 (RFC 7662 §2.1): a self-registered confidential client sees
/// `{"active":false}` for others' tokens; an operator-named resource server
/// sees access tokens, never refresh tokens.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn finding_7_introspection_of_foreign_tokens_needs_an_operator_named_resource_server() {
    let t = target(&[]).await;
    let r = register(
        &client(),
        &t.server.base,
        json!({"redirect_uris": ["https://rs.example/cb"],
               "token_endpoint_auth_method": "client_secret_post"}),
    )
    .await;
    assert_eq!(r.status, 201, "{}", r.body);
    let rs_id = r.body["client_id"].as_str().expect("id").to_owned();
    let rs_secret = r.body["client_secret"].as_str().expect("secret").to_owned();
    let tokens = t.flow.grant_as("alice", PASSWORD).await;
    let introspect = |base: String, token: String| {
        let (id, secret) = (rs_id.clone(), rs_secret.clone());
        async move {
            let (status, _, body) = post_form(
                &client(),
                &format!("{base}/introspect"),
                &[
                    ("token", &token),
                    ("client_id", &id),
                    ("client_secret", &secret),
                ],
            )
            .await;
            assert_eq!(status, 200);
            body
        }
    };
    let inactive = json!({"active": false});
    assert_eq!(
        introspect(t.server.base.clone(), tokens.access.clone()).await,
        inactive
    );
    assert_eq!(
        introspect(t.server.base.clone(), tokens.refresh.clone()).await,
        inactive
    );
    // The operator names it a resource server (same port: same issuer).
    let Target {
        _dir: dir, server, ..
    } = t;
    let port = server.port;
    server.stop();
    let args = ["--stateless", "--introspection-clients", &rs_id];
    let server = Server::start_on(&dir.0, port, &args).await;
    let a = introspect(server.base.clone(), tokens.access.clone()).await;
    assert_eq!(a["active"], true, "{a}");
    assert_eq!(
        introspect(server.base.clone(), tokens.refresh).await,
        inactive
    );
}

/// Finding 9: the consent page names the host the browser will really
/// reach: an IDN look-alike in punycode.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn finding_9_consent_page_shows_the_real_host_in_punycode() {
    let t = target(&[]).await;
    let lookalike = "https://\u{0430}pple.example/cb";
    let r = register(
        &client(),
        &t.server.base,
        json!({"redirect_uris": [lookalike], "token_endpoint_auth_method": "none"}),
    )
    .await;
    assert_eq!(r.status, 201, "{}", r.body);
    let id = r.body["client_id"].as_str().expect("id");
    let (_, challenge) = pkce();
    let q = form(&[
        ("response_type", "code"),
        ("client_id", id),
        ("redirect_uri", lookalike),
        ("code_challenge", &challenge),
        ("code_challenge_method", "S256"),
        ("state", "st"),
    ]);
    let r = client()
        .get(format!("{}/authorize?{q}", t.server.base))
        .send()
        .await
        .expect("authorize");
    assert_eq!(r.status().as_u16(), 200);
    let html = r.text().await.expect("page");
    assert!(html.contains("<code>xn--pple-43d.example</code>"), "{html}");
    assert!(!html.contains("\u{0430}pple"));
}

/// Finding 10: a replayed code presented by another client does not revoke
/// the victim's grant.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn finding_10_code_replay_by_another_client_leaves_the_grant_alone() {
    let t = target(&[]).await;
    let (verifier, challenge) = pkce();
    let code = t.flow.sign_in(&challenge, "alice", PASSWORD).await;
    let r = t.flow.exchange(&code, &verifier).await;
    assert_eq!(r.status, 200, "{}", r.body);
    let tokens = Tokens::from_body(&r.body);
    let other = register_public_client(&client(), &t.server.base).await;
    let attacker = Flow::new(&t.server.base, &other);
    let r = attacker.exchange(&code, &verifier).await;
    assert_eq!(
        (r.status, r.body["error"].as_str()),
        (400, Some("invalid_grant"))
    );
    assert_eq!(t.mcp_status(&tokens.access).await, 200);
    assert_eq!(t.flow.refresh(&tokens.refresh).await.status, 200);
}
