//! The token endpoint: code exchange, PKCE, client authentication, replay,
//! refresh rotation, reuse, down-scoping, expiry.

use alloc::format;
use alloc::string::String;

use base64ct::{Base64, Encoding};

use super::*;
use crate::jose::ValidationPolicy;
use crate::time::UnixTime;

fn guard(h: &Harness) -> ResourceGuard {
    h.server
        .resource_guard(RESOURCE, &["mcp"])
        .expect("resource")
}

/// What the MCP endpoint would answer for `token` now.
fn mcp_status(h: &Harness, token: &str) -> u16 {
    let req =
        Request::new(Method::Post, "/mcp").with_header("Authorization", format!("Bearer {token}"));
    let now = h.now.map(UnixTime);
    match block_on(authenticate_bearer(
        &req,
        &h.keys,
        &guard(h),
        now,
        h.server.store(),
    )) {
        Ok(_) => 200,
        Err(resp) => resp.status,
    }
}

#[test]
fn full_happy_path() {
    let mut h = Harness::new();
    let client = h.register_client("none");
    let code = h.code(&client, "&scope=mcp%20read");
    let resp = h.exchange(&client, &code, "");
    assert_eq!(resp.status, 200, "{}", body_str(&resp));
    assert_eq!(resp.header("Cache-Control"), Some("no-store"));
    assert_eq!(resp.header("Pragma"), Some("no-cache"));
    let v = json(&resp);
    assert_eq!(v["token_type"], "Bearer");
    assert_eq!(v["expires_in"], 3600);
    assert_eq!(v["scope"], "mcp read");
    let access = v["access_token"].as_str().expect("access");
    let refresh = v["refresh_token"].as_str().expect("refresh");
    let claims = h
        .keys
        .verify_access_token(
            access,
            &ValidationPolicy::new(ISSUER, RESOURCE),
            Some(UnixTime(T0)),
        )
        .expect("valid RS256 JWT for the resource");
    assert_eq!(claims.sub, "user-alice");
    assert_eq!(claims.client_id, client.id);
    assert_eq!(claims.scope, "mcp read");
    assert_eq!(claims.exp, T0 + 3600);
    assert!(!refresh.contains(&code));
    assert_eq!(mcp_status(&h, access), 200);
}

#[test]
fn confidential_client_basic_and_post() {
    let mut h = Harness::new();
    for method in ["client_secret_basic", "client_secret_post"] {
        let client = h.register_client(method);
        let secret = client.secret.clone().expect("secret");
        // Basic
        let code = h.code(&client, "");
        let creds = Base64::encode_string(format!("{}:{}", client.id, enc(&secret)).as_bytes());
        let body = format!(
            "grant_type=authorization_code&code={code}&code_verifier={VERIFIER}&redirect_uri={}",
            enc(REDIRECT)
        );
        let resp = h.send(
            form_request("/token", &body).with_header("Authorization", format!("Basic {creds}")),
        );
        assert_eq!(resp.status, 200, "{method} basic: {}", body_str(&resp));
        // Post
        let code = h.code(&client, "");
        assert_eq!(h.exchange(&client, &code, "").status, 200, "{method} post");
    }
}

#[test]
fn client_authentication_failures() {
    let mut h = Harness::new();
    let conf = h.register_client("client_secret_basic");
    let public = h.register_client("none");
    let code = h.code(&conf, "");
    let body = format!(
        "grant_type=authorization_code&code={code}&code_verifier={VERIFIER}&redirect_uri={}",
        enc(REDIRECT)
    );
    // Wrong secret via Basic: 401 + WWW-Authenticate: Basic.
    let creds = Base64::encode_string(format!("{}:wrong", conf.id).as_bytes());
    let resp = h
        .send(form_request("/token", &body).with_header("Authorization", format!("Basic {creds}")));
    assert_error(&resp, 401, "invalid_client");
    assert!(
        resp.header("WWW-Authenticate")
            .is_some_and(|v| v.starts_with("Basic"))
    );
    // Wrong secret via post: 401 without a Basic challenge.
    let resp = h.post_form(
        "/token",
        &format!("{body}&client_id={}&client_secret=wrong", conf.id),
    );
    assert_error(&resp, 401, "invalid_client");
    assert!(resp.header("WWW-Authenticate").is_none());
    // No secret for a confidential client.
    let resp = h.post_form("/token", &format!("{body}&client_id={}", conf.id));
    assert_error(&resp, 401, "invalid_client");
    // Unknown client; no client at all; public client sending a secret.
    assert_error(
        &h.post_form("/token", &format!("{body}&client_id=nobody")),
        401,
        "invalid_client",
    );
    assert_error(&h.post_form("/token", &body), 401, "invalid_client");
    let resp = h.post_form(
        "/token",
        &format!("{body}&client_id={}&client_secret=x", public.id),
    );
    assert_error(&resp, 401, "invalid_client");
    // Two methods at once.
    let good = Base64::encode_string(
        format!(
            "{}:{}",
            conf.id,
            enc(conf.secret.as_deref().unwrap_or_default())
        )
        .as_bytes(),
    );
    let resp = h.send(
        form_request("/token", &format!("{body}&client_secret=x"))
            .with_header("Authorization", format!("Basic {good}")),
    );
    assert_error(&resp, 400, "invalid_request");
    // Malformed Basic.
    let resp = h.send(form_request("/token", &body).with_header("Authorization", "Basic !!!"));
    assert_error(&resp, 401, "invalid_client");
    // None of this spent the code.
    assert_eq!(h.exchange(&conf, &code, "").status, 200);
}

#[test]
fn request_errors() {
    let mut h = Harness::new();
    let client = h.register_client("none");
    let c = client_form(&client);
    assert_error(&h.post_form("/token", &c), 400, "invalid_request");
    assert_error(
        &h.post_form("/token", &format!("grant_type=password{c}")),
        400,
        "unsupported_grant_type",
    );
    assert_error(
        &h.post_form("/token", &format!("grant_type=client_credentials{c}")),
        400,
        "unsupported_grant_type",
    );
    assert_error(
        &h.post_form(
            "/token",
            &format!("grant_type=authorization_code&grant_type=refresh_token{c}"),
        ),
        400,
        "invalid_request",
    );
    let code = h.code(&client, "");
    assert_error(
        &h.post_form(
            "/token",
            &format!("grant_type=authorization_code&code={code}{c}"),
        ),
        400,
        "invalid_request",
    );
    assert_error(
        &h.post_form(
            "/token",
            &format!("grant_type=authorization_code&code_verifier={VERIFIER}{c}"),
        ),
        400,
        "invalid_request",
    );
    assert_error(
        &h.post_form(
            "/token",
            &format!("grant_type=authorization_code&code={code}&code_verifier=short{c}"),
        ),
        400,
        "invalid_request",
    );
    let big = "a".repeat(20 * 1024);
    assert_error(
        &h.post_form("/token", &format!("grant_type={big}")),
        400,
        "invalid_request",
    );
    // The code is still good.
    assert_eq!(h.exchange(&client, &code, "").status, 200);
}

#[test]
fn pkce_redirect_and_resource_bindings() {
    let mut h = Harness::with(
        |c| c.resources.push(other_resource()),
        crate::store::MemoryStoreLimits::SERVER,
    );
    let client = h.register_client("none");

    let code = h.code(&client, "");
    let wrong = "A".repeat(43);
    let body = format!(
        "grant_type=authorization_code&code={code}&code_verifier={wrong}{}",
        client_form(&client)
    );
    assert_error(&h.post_form("/token", &body), 400, "invalid_grant");
    // A failed attempt spent the code (no verifier brute force).
    assert_error(&h.exchange(&client, &code, ""), 400, "invalid_grant");

    let code = h.code(&client, "");
    let body = format!(
        "grant_type=authorization_code&code={code}&code_verifier={VERIFIER}&redirect_uri={}{}",
        enc("https://client.example/other"),
        client_form(&client)
    );
    assert_error(&h.post_form("/token", &body), 400, "invalid_grant");

    let code = h.code(&client, "");
    let resp = h.exchange(
        &client,
        &code,
        &format!("&resource={}", enc("https://other.example/mcp")),
    );
    assert_error(&resp, 400, "invalid_target");
    let code = h.code(&client, "");
    let resp = h.exchange(
        &client,
        &code,
        &format!("&resource={}", enc("https://unknown.example/")),
    );
    assert_error(&resp, 400, "invalid_target");

    // Resource given and equal (after canonicalization) is fine; the token's
    // aud is the bound resource.
    let code = h.code(
        &client,
        &format!("&resource={}", enc("https://other.example/mcp")),
    );
    let resp = h.exchange(
        &client,
        &code,
        &format!("&resource={}", enc("https://OTHER.example/mcp/")),
    );
    assert_eq!(resp.status, 200, "{}", body_str(&resp));
    let access = json(&resp)["access_token"]
        .as_str()
        .expect("at")
        .to_string();
    let policy = ValidationPolicy::new(ISSUER, "https://other.example/mcp");
    assert!(
        h.keys
            .verify_access_token(&access, &policy, Some(UnixTime(T0)))
            .is_ok()
    );
    assert_eq!(
        mcp_status(&h, &access),
        401,
        "not valid for the other resource"
    );

    // redirect_uri may be omitted (OAuth 2.1).
    let code = h.code(&client, "");
    let body = format!(
        "grant_type=authorization_code&code={code}&code_verifier={VERIFIER}{}",
        client_form(&client)
    );
    assert_eq!(h.post_form("/token", &body).status, 200);
}

#[test]
fn code_of_another_client_is_refused() {
    let mut h = Harness::new();
    let a = h.register_client("none");
    let b = h.register_client("none");
    let code = h.code(&a, "");
    assert_error(&h.exchange(&b, &code, ""), 400, "invalid_grant");
}

#[test]
fn code_expires_after_60_seconds() {
    let mut h = Harness::new();
    let client = h.register_client("none");
    let code = h.code(&client, "");
    h.advance(60);
    assert_error(&h.exchange(&client, &code, ""), 400, "invalid_grant");
    assert_error(&h.exchange(&client, "garbage", ""), 400, "invalid_grant");
}

#[test]
fn code_replay_revokes_issued_tokens() {
    let mut h = Harness::new();
    let client = h.register_client("none");
    let code = h.code(&client, "");
    let v = json(&h.exchange(&client, &code, ""));
    let access = v["access_token"].as_str().expect("at").to_string();
    let refresh = v["refresh_token"].as_str().expect("rt").to_string();
    assert_eq!(mcp_status(&h, &access), 200);
    h.advance(5);
    let resp = h.exchange(&client, &code, "");
    assert_error(&resp, 400, "invalid_grant");
    assert!(!body_str(&resp).contains(&code), "no code in errors");
    assert_eq!(mcp_status(&h, &access), 401, "access token revoked");
    assert_error(&h.refresh(&client, &refresh, ""), 400, "invalid_grant");
}

/// Issue 14 finding 10: replaying a stolen code from *another* client must
/// not revoke the victim's grant (the replayer is not the code's client).
#[test]
fn code_replay_by_another_client_leaves_the_grant_alone() {
    let mut h = Harness::new();
    let victim = h.register_client("none");
    let attacker = h.register_client("none");
    let code = h.code(&victim, "");
    let v = json(&h.exchange(&victim, &code, ""));
    let access = v["access_token"].as_str().expect("at").to_string();
    let refresh = v["refresh_token"].as_str().expect("rt").to_string();
    h.advance(5);
    assert_error(&h.exchange(&attacker, &code, ""), 400, "invalid_grant");
    assert_eq!(mcp_status(&h, &access), 200, "victim's access token lives");
    assert_eq!(
        h.refresh(&victim, &refresh, "").status,
        200,
        "and its grant"
    );
}

#[test]
fn refresh_rotates_and_reuse_revokes_the_family() {
    let mut h = Harness::new();
    let client = h.register_client("none");
    let (_, rt1) = h.tokens(&client);
    h.advance(10);
    let resp = h.refresh(&client, &rt1, "");
    assert_eq!(resp.status, 200, "{}", body_str(&resp));
    assert_eq!(resp.header("Cache-Control"), Some("no-store"));
    let v = json(&resp);
    let rt2 = v["refresh_token"].as_str().expect("rt2").to_string();
    let at2 = v["access_token"].as_str().expect("at2").to_string();
    assert_ne!(rt1, rt2);
    assert_eq!(mcp_status(&h, &at2), 200);
    // The rotated-out token is dead, and presenting it kills the family.
    assert_error(&h.refresh(&client, &rt1, ""), 400, "invalid_grant");
    assert_error(&h.refresh(&client, &rt2, ""), 400, "invalid_grant");
    // A forged token for an unknown family, and garbage.
    assert_error(
        &h.refresh(&client, "nofamily.abc", ""),
        400,
        "invalid_grant",
    );
    assert_error(&h.refresh(&client, "garbage", ""), 400, "invalid_grant");
}

#[test]
fn reuse_refuses_every_access_token_of_the_family_at_once() {
    let mut h = Harness::new();
    let client = h.register_client("none");
    let (at1, rt1) = h.tokens(&client);
    let (other_at, _) = h.tokens(&client);
    let v = json(&h.refresh(&client, &rt1, ""));
    let at2 = v["access_token"].as_str().expect("at2").to_string();
    assert_eq!(mcp_status(&h, &at1), 200);
    assert_eq!(mcp_status(&h, &at2), 200);
    h.advance(10);
    assert_error(&h.refresh(&client, &rt1, ""), 400, "invalid_grant");
    assert_eq!(mcp_status(&h, &at1), 401, "the code's access token");
    assert_eq!(mcp_status(&h, &at2), 401, "the rotation's access token");
    assert_eq!(mcp_status(&h, &other_at), 200, "another grant lives on");
    // Remembered exactly as long as a token of the family can verify.
    assert_eq!(h.server.store().counts()[5], 1);
    h.advance(3600 + crate::jose::DEFAULT_LEEWAY_SECS);
    h.server.store().sweep(UnixTime(h.now.expect("clock")));
    assert_eq!(h.server.store().counts()[5], 0);
}

#[test]
fn refresh_down_scoping_stays_within_the_grant() {
    let mut h = Harness::new();
    let client = h.register_client("none");
    let code = h.code(&client, "&scope=mcp%20read");
    let rt = json(&h.exchange(&client, &code, ""))["refresh_token"]
        .as_str()
        .expect("rt")
        .to_string();
    assert_error(
        &h.refresh(&client, &rt, "&scope=write"),
        400,
        "invalid_scope",
    );
    assert_error(
        &h.refresh(&client, &rt, "&scope=mcp%20write"),
        400,
        "invalid_scope",
    );
    let v = json(&h.refresh(&client, &rt, "&scope=read"));
    assert_eq!(v["scope"], "read");
    let rt = v["refresh_token"].as_str().expect("rt").to_string();
    let v = json(&h.refresh(&client, &rt, ""));
    assert_eq!(
        v["scope"], "mcp read",
        "the grant is intact after narrowing"
    );
}

#[test]
fn refresh_resource_must_be_the_grants() {
    let mut h = Harness::with(
        |c| c.resources.push(other_resource()),
        crate::store::MemoryStoreLimits::SERVER,
    );
    let client = h.register_client("none");
    let (_, rt) = h.tokens(&client);
    let resp = h.refresh(
        &client,
        &rt,
        &format!("&resource={}", enc("https://other.example/mcp")),
    );
    assert_error(&resp, 400, "invalid_target");
    let resp = h.refresh(&client, &rt, &format!("&resource={}", enc(RESOURCE)));
    assert_eq!(resp.status, 200);
}

#[test]
fn refresh_by_another_client_is_refused_without_harm() {
    let mut h = Harness::new();
    let a = h.register_client("none");
    let b = h.register_client("none");
    let (_, rt) = h.tokens(&a);
    assert_error(&h.refresh(&b, &rt, ""), 400, "invalid_grant");
    assert_eq!(h.refresh(&a, &rt, "").status, 200);
}

#[test]
fn refresh_token_and_family_expire() {
    let mut h = Harness::with(
        |c| {
            c.refresh_token_ttl = 1000;
            c.refresh_family_ttl = 2500;
        },
        crate::store::MemoryStoreLimits::SERVER,
    );
    let client = h.register_client("none");
    let (_, rt) = h.tokens(&client);
    h.advance(1000);
    assert_error(&h.refresh(&client, &rt, ""), 400, "invalid_grant");

    let (_, mut rt) = h.tokens(&client);
    for _ in 0..2 {
        h.advance(900);
        let v = json(&h.refresh(&client, &rt, ""));
        rt = v["refresh_token"].as_str().expect("rt").to_string();
    }
    h.advance(900);
    assert_error(&h.refresh(&client, &rt, ""), 400, "invalid_grant");
}

#[test]
fn access_token_expires() {
    let mut h = Harness::new();
    let client = h.register_client("none");
    let (at, _) = h.tokens(&client);
    h.advance(3600 + 61);
    assert_eq!(mcp_status(&h, &at), 401);
}

#[test]
fn client_without_refresh_grant() {
    let mut h = Harness::new();
    let resp = h.register(serde_json::json!({
        "redirect_uris": [REDIRECT],
        "token_endpoint_auth_method": "none",
        "grant_types": ["authorization_code"],
    }));
    let client = Client {
        id: json(&resp)["client_id"].as_str().expect("id").into(),
        secret: None,
    };
    let code = h.code(&client, "");
    let v = json(&h.exchange(&client, &code, ""));
    assert!(v.get("refresh_token").is_none());
    assert_error(&h.refresh(&client, "x.y", ""), 400, "unauthorized_client");
}

#[test]
fn unknown_time_and_failing_rng_fail_closed() {
    let mut h = Harness::new();
    let client = h.register_client("none");
    let code = h.code(&client, "");
    h.now = None;
    assert_error(
        &h.exchange(&client, &code, ""),
        503,
        "temporarily_unavailable",
    );
    h.now = Some(T0);
    let mut env = Env {
        now: Some(UnixTime(T0)),
        rng: &mut crate::rand::FailingRandom,
        keys: &h.keys,
    };
    let mut body = format!("grant_type=authorization_code&code={code}&code_verifier={VERIFIER}");
    body.push_str(&client_form(&client));
    let resp = block_on(h.server.handle(&form_request("/token", &body), &mut env)).expect("resp");
    assert_error(&resp, 500, "server_error");
    let _ = String::new();
}
