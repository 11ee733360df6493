//! Dynamic client registration (RFC 7591).

use alloc::string::ToString;

use serde_json::json;

use super::*;

#[test]
fn public_and_confidential_clients() {
    let mut h = Harness::new();
    let resp = h.register(json!({
        "redirect_uris": [REDIRECT],
        "token_endpoint_auth_method": "none",
        "client_name": "Claude",
        "logo_uri": "https://x.example/logo.png",
    }));
    assert_eq!(resp.status, 201, "{}", body_str(&resp));
    assert_eq!(resp.header("Cache-Control"), Some("no-store"));
    let v = json(&resp);
    assert!(v["client_id"].as_str().is_some_and(|s| s.len() >= 22));
    assert_eq!(v["client_id_issued_at"], T0);
    assert!(v.get("client_secret").is_none());
    assert_eq!(v["token_endpoint_auth_method"], "none");
    assert_eq!(v["redirect_uris"], json!([REDIRECT]));
    assert_eq!(
        v["grant_types"],
        json!(["authorization_code", "refresh_token"])
    );
    assert_eq!(v["response_types"], json!(["code"]));
    assert_eq!(v["client_name"], "Claude");

    // Default auth method (RFC 7591): client_secret_basic, with a secret.
    let resp = h.register(json!({"redirect_uris": [REDIRECT]}));
    assert_eq!(resp.status, 201);
    let v = json(&resp);
    let secret = v["client_secret"].as_str().expect("secret");
    assert!(secret.len() >= 43, "256 bits");
    assert_eq!(v["client_secret_expires_at"], 0);
    assert_eq!(v["token_endpoint_auth_method"], "client_secret_basic");
    let id = v["client_id"].as_str().expect("id");
    let stored = block_on(crate::store::ClientStore::client(h.server.store(), id))
        .expect("ok")
        .expect("stored");
    assert_eq!(stored.secret_hash, Some(crate::store::hash_secret(secret)));
    assert!(
        !alloc::format!("{stored:?}").contains(secret),
        "only the hash is stored"
    );
}

#[test]
fn redirect_uri_rules() {
    let mut h = Harness::new();
    let ok = [
        json!({"redirect_uris": ["https://claude.ai/api/mcp/auth_callback"]}),
        json!({"redirect_uris": ["http://127.0.0.1:33418/cb", "http://[::1]/cb", "http://localhost:1/x"]}),
        json!({"redirect_uris": ["com.example.app:/oauth"], "application_type": "native"}),
        json!({"redirect_uris": ["cursor://anysphere.cursor-mcp/oauth/callback"], "application_type": "native"}),
    ];
    for doc in ok {
        assert_eq!(h.register(doc.clone()).status, 201, "{doc}");
    }
    let bad = [
        json!({}),
        json!({"redirect_uris": []}),
        json!({"redirect_uris": ["http://client.example/cb"]}),
        json!({"redirect_uris": ["https://client.example/cb#frag"]}),
        json!({"redirect_uris": ["com.example.app:/oauth"]}),
        json!({"redirect_uris": ["javascript:alert(1)"], "application_type": "native"}),
        json!({"redirect_uris": ["data:text/html,x"], "application_type": "native"}),
        // Issue 14 finding 4: only private-use schemes in reverse-DNS form
        // (RFC 8252 §7.1), never an OS protocol handler.
        json!({"redirect_uris": ["search-ms:query=x&crumb=location:\\\\evil\\share"], "application_type": "native"}),
        json!({"redirect_uris": ["ms-msdt:/id PCWDiagnostic"], "application_type": "native"}),
        json!({"redirect_uris": ["ms-msdt:/id"], "application_type": "native"}),
        json!({"redirect_uris": ["myapp:/cb"], "application_type": "native"}),
        // Finding 9: browsers read `\\` as `/`; no such URI is registered.
        json!({"redirect_uris": ["https://evil.example\\.client.example/cb"]}),
        json!({"redirect_uris": ["mailto:someone@example.com"], "application_type": "native"}),
        json!({"redirect_uris": ["/relative"]}),
        json!({"redirect_uris": ["https:///nohost"]}),
        json!({"redirect_uris": [REDIRECT, "http://evil.example/"]}),
    ];
    for doc in bad {
        let resp = h.register(doc.clone());
        assert_error(&resp, 400, "invalid_redirect_uri");
    }
}

#[test]
fn metadata_rules() {
    let mut h = Harness::new();
    let bad = [
        json!({"redirect_uris": [REDIRECT], "grant_types": ["client_credentials"]}),
        json!({"redirect_uris": [REDIRECT], "grant_types": ["refresh_token"]}),
        json!({"redirect_uris": [REDIRECT], "response_types": ["token"]}),
        json!({"redirect_uris": [REDIRECT], "response_types": []}),
        json!({"redirect_uris": [REDIRECT], "token_endpoint_auth_method": "private_key_jwt"}),
        json!({"redirect_uris": [REDIRECT], "application_type": "desktop"}),
        json!({"redirect_uris": [REDIRECT], "client_name": 7}),
        json!({"redirect_uris": [REDIRECT], "client_name": "evil\u{202E}moc.elgoog"}),
        json!({"redirect_uris": [REDIRECT], "client_name": "line\nbreak"}),
        json!({"redirect_uris": "https://client.example/cb"}),
        json!(["not", "an", "object"]),
    ];
    for doc in bad {
        let resp = h.register(doc.clone());
        assert_eq!(resp.status, 400, "{doc}");
        let code = json(&resp)["error"]
            .as_str()
            .unwrap_or_default()
            .to_string();
        assert!(
            code == "invalid_client_metadata" || code == "invalid_redirect_uri",
            "{doc}: {code}"
        );
    }
    let malformed = h.send(Request::new(Method::Post, "/register").with_body("{not json"));
    assert_error(&malformed, 400, "invalid_client_metadata");
    let huge = alloc::format!(
        "{{\"redirect_uris\":[\"{REDIRECT}\"],\"x\":\"{}\"}}",
        "a".repeat(20_000)
    );
    let resp = h.send(Request::new(Method::Post, "/register").with_body(huge));
    assert_error(&resp, 400, "invalid_client_metadata");
    assert_eq!(h.send(Request::new(Method::Get, "/register")).status, 405);
    // Scopes we do not serve are dropped, and the answer says so.
    let resp = h.register(json!({"redirect_uris": [REDIRECT], "scope": "admin read"}));
    assert_eq!(json(&resp)["scope"], "read");
    let resp = h.register(json!({"redirect_uris": [REDIRECT], "scope": "claudeai"}));
    assert_eq!(json(&resp)["scope"], "mcp read write");
    let resp = h.register(json!({"redirect_uris": [REDIRECT], "scope": "bad\"scope"}));
    assert_error(&resp, 400, "invalid_client_metadata");
}

#[test]
fn rate_limit_hook_sees_the_peer() {
    let mut h = Harness::new();
    let blocked: core::net::IpAddr = [198, 51, 100, 1].into();
    let config = h.server.config().clone();
    let server = AuthorizationServer::new(config, crate::store::MemoryStore::default(), TestUsers)
        .with_registration_policy(move |peer: Option<core::net::IpAddr>, _| peer != Some(blocked));
    let mut env = Env {
        now: Some(crate::time::UnixTime(T0)),
        rng: &mut h.rng,
        keys: &h.keys,
    };
    let mut req = Request::new(Method::Post, "/register")
        .with_body(json!({"redirect_uris": [REDIRECT]}).to_string());
    assert_eq!(
        block_on(server.handle(&req, &mut env))
            .expect("resp")
            .status,
        201
    );
    req.peer = Some(blocked);
    let resp = block_on(server.handle(&req, &mut env)).expect("resp");
    assert_eq!(resp.status, 429);
    assert!(resp.header("Retry-After").is_some());
}

#[test]
fn full_client_table_is_a_clear_error() {
    let limits = crate::store::MemoryStoreLimits {
        clients: 1,
        ..crate::store::MemoryStoreLimits::DEVICE
    };
    let mut h = Harness::with(|_| {}, limits);
    h.register_client("none");
    let resp = h.register(json!({"redirect_uris": [REDIRECT]}));
    assert_error(&resp, 503, "temporarily_unavailable");
}

/// Issue 14 finding 5: a client nobody ever signed in with goes after
/// `ServerConfig::unused_client_ttl` (at the next registration); one a user
/// authorized stays.
#[test]
fn clients_never_used_expire() {
    let mut h = Harness::with(
        |c| c.unused_client_ttl = 3600,
        crate::store::MemoryStoreLimits::SERVER,
    );
    let idle = h.register_client("none");
    let used = h.register_client("none");
    let _ = h.tokens(&used);
    h.advance(3601);
    let _ = h.register_client("none");
    let resp = h.authorize(&standard_query(&idle, ""));
    assert_eq!(resp.status, 400, "{}", body_str(&resp));
    assert!(body_str(&resp).contains("not registered"));
    let _ = h.tokens(&used);
}

/// Issue 14 finding 5: registration floods evict the oldest clients that
/// were never used, never one a user authorized, so storage stays bounded
/// by `ServerConfig::max_unused_clients` and registration keeps working.
#[test]
fn unused_clients_are_capped_oldest_first() {
    let mut h = Harness::with(
        |c| c.max_unused_clients = 3,
        crate::store::MemoryStoreLimits::SERVER,
    );
    let used = h.register_client("none");
    let _ = h.code(&used, "");
    let oldest = h.register_client("none");
    for _ in 0..10 {
        h.advance(1);
        let _ = h.register_client("none");
    }
    assert_eq!(h.server.store().counts()[0], 4, "one used + three unused");
    assert_eq!(h.authorize(&standard_query(&oldest, "")).status, 400);
    let _ = h.start(&used, "");
}
