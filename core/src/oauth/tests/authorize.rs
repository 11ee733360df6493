//! The authorization endpoint: validation order, pages, decisions, CSRF,
//! throttling, expiry.

use alloc::format;
use alloc::string::String;

use super::*;
use crate::http::{Method, Request};

#[test]
fn happy_path_page_then_code_redirect() {
    let mut h = Harness::new();
    let client = h.register_client("none");
    let resp = h.authorize(&standard_query(&client, ""));
    assert_eq!(resp.status, 200);
    assert_eq!(
        resp.header("Content-Type"),
        Some("text/html; charset=utf-8")
    );
    let csp = resp.header("Content-Security-Policy").expect("CSP");
    assert!(csp.contains("frame-ancestors 'none'"));
    assert!(!csp.contains("script-src"), "no scripts at all");
    assert_eq!(resp.header("X-Frame-Options"), Some("DENY"));
    assert_eq!(resp.header("Cache-Control"), Some("no-store"));
    let cookie = resp.header("Set-Cookie").expect("cookie");
    assert!(cookie.contains("HttpOnly") && cookie.contains("SameSite=Lax"));
    assert!(cookie.contains("; Secure"), "issuer is https");
    let page = body_str(&resp);
    assert!(page.contains("Test &lt;Client&gt;"), "client name escaped");
    assert!(!page.contains("<Client>"));
    for needle in [
        "name=\"username\"",
        "name=\"password\"",
        "name=\"decision\" value=\"allow\"",
        "name=\"decision\" value=\"deny\"",
        "name=\"csrf\"",
        "client.example",
    ] {
        assert!(page.contains(needle), "page has {needle}");
    }
    let flow = flow_from(&resp);
    let resp = h.approve(&flow);
    assert_eq!(resp.status, 303);
    assert!(
        resp.header("Location")
            .is_some_and(|l| l.starts_with(REDIRECT))
    );
    let code = location_param(&resp, "code").expect("code");
    assert!(code.len() >= 43, "at least 256 bits, base64url");
    assert_eq!(location_param(&resp, "state").as_deref(), Some("xyz"));
    assert_eq!(location_param(&resp, "iss").as_deref(), Some(ISSUER));
    assert!(
        resp.header("Set-Cookie")
            .is_some_and(|c| c.contains("Max-Age=0")),
        "csrf cookie cleared"
    );
}

#[test]
fn http_issuer_cookie_is_not_secure() {
    let mut h = Harness::with(
        |c| {
            c.issuer = "http://localhost:8080".into();
            c.resources = crate::oauth::ServerConfig::new("http://localhost:8080").resources;
        },
        crate::store::MemoryStoreLimits::SERVER,
    );
    let client = h.register_client("none");
    let resp = h.authorize(&standard_query(&client, ""));
    assert_eq!(resp.status, 200, "{}", body_str(&resp));
    assert!(
        !resp
            .header("Set-Cookie")
            .unwrap_or_default()
            .contains("Secure")
    );
}

#[test]
fn bad_client_or_redirect_is_an_error_page_never_a_redirect() {
    let mut h = Harness::new();
    let client = h.register_client("none");
    let challenge = s256_challenge(VERIFIER);
    let cases = [
        format!("response_type=code&redirect_uri={}", enc(REDIRECT)),
        format!(
            "response_type=code&client_id=nope&redirect_uri={}",
            enc(REDIRECT)
        ),
        format!(
            "response_type=code&client_id={}&redirect_uri={}",
            client.id,
            enc("https://evil.example/cb")
        ),
        format!(
            "response_type=code&client_id={}&redirect_uri={}",
            client.id,
            enc("https://client.example/cb/")
        ),
        format!(
            "response_type=code&client_id={}&client_id={}&redirect_uri={}",
            client.id,
            client.id,
            enc(REDIRECT)
        ),
        // Even with every other error present, the page wins.
        format!("response_type=token&client_id=nope&code_challenge={challenge}"),
    ];
    for q in cases {
        let resp = h.authorize(&q);
        assert_eq!(resp.status, 400, "{q}");
        assert!(resp.header("Location").is_none(), "{q}");
        assert_eq!(resp.header("X-Frame-Options"), Some("DENY"));
    }
}

#[test]
fn redirect_uri_may_be_omitted_with_one_registered() {
    let mut h = Harness::new();
    let client = h.register_client("none");
    let q = format!(
        "response_type=code&client_id={}&code_challenge={}&code_challenge_method=S256",
        client.id,
        s256_challenge(VERIFIER)
    );
    assert_eq!(h.authorize(&q).status, 200);
}

#[test]
fn loopback_redirect_port_may_vary() {
    let mut h = Harness::new();
    let resp = h.register(serde_json::json!({
        "redirect_uris": ["http://127.0.0.1:1234/cb"],
        "token_endpoint_auth_method": "none",
    }));
    let id = json(&resp)["client_id"].as_str().expect("id").to_string();
    let q = |uri: &str| {
        format!(
            "response_type=code&client_id={id}&redirect_uri={}&code_challenge={}\
             &code_challenge_method=S256",
            enc(uri),
            s256_challenge(VERIFIER)
        )
    };
    assert_eq!(h.authorize(&q("http://127.0.0.1:5555/cb")).status, 200);
    assert_eq!(h.authorize(&q("http://127.0.0.1/cb")).status, 200);
    assert_eq!(h.authorize(&q("http://127.0.0.1:5555/other")).status, 400);
    assert_eq!(h.authorize(&q("http://localhost:1234/cb")).status, 400);
}

#[test]
fn validation_errors_are_a_page_never_an_open_redirect() {
    let mut h = Harness::new();
    let client = h.register_client("none");
    let challenge = s256_challenge(VERIFIER);
    let base = format!(
        "client_id={}&redirect_uri={}&state=xyz",
        client.id,
        enc(REDIRECT)
    );
    let pkce = format!("&code_challenge={challenge}&code_challenge_method=S256");
    let cases = [
        (format!("{base}{pkce}"), "invalid_request"),
        (
            format!("{base}&response_type=token{pkce}"),
            "unsupported_response_type",
        ),
        (format!("{base}&response_type=code"), "invalid_request"),
        (
            format!("{base}&response_type=code&code_challenge={challenge}"),
            "invalid_request",
        ),
        (
            format!(
                "{base}&response_type=code&code_challenge={challenge}&code_challenge_method=plain"
            ),
            "invalid_request",
        ),
        (
            format!("{base}&response_type=code&code_challenge=short&code_challenge_method=S256"),
            "invalid_request",
        ),
        (
            format!("{base}&response_type=code{pkce}&scope=admin"),
            "invalid_scope",
        ),
        (
            format!("{base}&response_type=code{pkce}&scope=mcp%20admin"),
            "invalid_scope",
        ),
        (
            format!(
                "{base}&response_type=code{pkce}&resource={}",
                enc("https://other.example/mcp")
            ),
            "invalid_target",
        ),
        (
            format!(
                "{base}&response_type=code{pkce}&resource={}&resource={}",
                enc(RESOURCE),
                enc(RESOURCE)
            ),
            "invalid_target",
        ),
        (
            format!("{base}&response_type=code{pkce}&scope=mcp&scope=read"),
            "invalid_request",
        ),
    ];
    for (q, code) in cases {
        let resp = h.authorize(&q);
        assert_error_page_with_return_link(&resp, 400, code);
    }
}

#[test]
fn scope_defaults_and_resource_is_canonicalized() {
    let mut h = Harness::new();
    let client = h.register_client("none");
    let q = standard_query(&client, "").replace("&scope=mcp", "");
    let resp = h.authorize(&q);
    assert_eq!(resp.status, 200);
    assert!(body_str(&resp).contains("<li><code>mcp</code></li>"));
    let flow = h.start(
        &client,
        &format!("&resource={}", enc("HTTPS://Auth.Example/mcp/")),
    );
    let resp = h.approve(&flow);
    let code = location_param(&resp, "code").expect("code");
    let resp = h.exchange(&client, &code, "");
    assert_eq!(resp.status, 200, "{}", body_str(&resp));
}

#[test]
fn deny_redirects_access_denied() {
    let mut h = Harness::new();
    let client = h.register_client("none");
    let flow = h.start(&client, "");
    let resp = h.decide(&flow, "decision=deny");
    assert_redirect_error(&resp, "access_denied");
    // The request is gone.
    assert_eq!(h.approve(&flow).status, 400);
}

#[test]
fn csrf_binding_is_enforced() {
    let mut h = Harness::new();
    let client = h.register_client("none");
    let flow = h.start(&client, "");
    let fields = "username=alice&password=correct+horse&decision=allow";
    // No cookie.
    let body = format!("request_id={}&csrf={}&{fields}", flow.request_id, flow.csrf);
    assert_eq!(h.post_form("/authorize", &body).status, 403);
    // Wrong form value, right cookie.
    let mut forged = flow.clone();
    forged.csrf = "A".repeat(22);
    assert_eq!(h.decide(&forged, fields).status, 403);
    // Cookie of another request.
    let other = h.start(&client, "");
    let mut mixed = flow.clone();
    mixed.cookie = other.cookie.clone();
    assert_eq!(h.decide(&mixed, fields).status, 403);
    // The genuine one still works.
    assert_eq!(h.approve(&flow).status, 303);
}

#[test]
fn wrong_password_is_generic_and_throttled_per_user_and_peer() {
    let mut h = Harness::new();
    let client = h.register_client("none");
    let flow = h.start(&client, "");
    for _ in 0..5 {
        let resp = h.decide(&flow, "username=alice&password=nope&decision=allow");
        assert_eq!(resp.status, 200);
        let page = body_str(&resp);
        assert!(page.contains("Wrong username or password."));
        assert!(!page.contains("nope"), "password never echoed");
        assert!(
            page.contains("name=\"username\" value=\"alice\""),
            "username kept"
        );
        assert!(resp.header("Location").is_none());
    }
    let resp = h.decide(&flow, "username=bob&password=nope&decision=allow");
    assert!(
        body_str(&resp).contains("Wrong username or password."),
        "same message for unknown users"
    );
    // Locked: even the right password is refused, with a clear message.
    let resp = h.approve(&flow);
    assert_eq!(resp.status, 429);
    assert!(body_str(&resp).contains("Too many failed sign-in attempts. Try again in 15 minutes."));
    assert!(resp.header("Retry-After").is_some());
    // Case does not dodge the counter.
    let resp = h.decide(
        &flow,
        "username=ALICE&password=correct+horse&decision=allow",
    );
    assert_eq!(resp.status, 429);
    // The lockout is of this peer for this user: alice elsewhere signs in.
    let elsewhere = h.start(&client, "");
    let body = format!(
        "request_id={}&csrf={}&username=alice&password=correct+horse&decision=allow",
        elsewhere.request_id, elsewhere.csrf
    );
    let mut req = form_request("/authorize", &body).with_header("Cookie", elsewhere.cookie);
    req.peer = Some([198, 51, 100, 9].into());
    assert_eq!(h.send(req).status, 303);
    h.advance(15 * 60);
    let flow = h.start(&client, "");
    assert_eq!(h.approve(&flow).status, 303);
}

#[test]
fn authorization_requests_are_limited_per_peer() {
    let mut h = Harness::with(
        |c| c.throttle.authorize_per_ip = 2,
        crate::store::MemoryStoreLimits::DEVICE,
    );
    let client = h.register_client("none");
    let query = standard_query(&client, "");
    let from = |h: &mut Harness, ip: [u8; 4]| {
        let mut req = Request::new(Method::Get, "/authorize");
        req.query = Some(query.clone());
        req.peer = Some(ip.into());
        h.send(req)
    };
    assert_eq!(from(&mut h, [203, 0, 113, 1]).status, 200);
    assert_eq!(from(&mut h, [203, 0, 113, 1]).status, 200);
    let resp = from(&mut h, [203, 0, 113, 1]);
    assert_error_page_with_return_link(&resp, 429, "temporarily_unavailable");
    assert_eq!(resp.header("Retry-After"), Some("60"));
    assert_eq!(h.server.store().counts()[1], 2, "no pending request stored");
    assert_eq!(from(&mut h, [203, 0, 113, 2]).status, 200, "other peers");
    h.advance(60);
    assert_eq!(from(&mut h, [203, 0, 113, 1]).status, 200, "next window");
}

#[test]
fn throttled_per_peer_ip() {
    let mut h = Harness::new();
    let client = h.register_client("none");
    let flow = h.start(&client, "");
    let ip: core::net::IpAddr = [203, 0, 113, 7].into();
    let send = |h: &mut Harness, user: &str, pw: &str| {
        let body = format!(
            "request_id={}&csrf={}&username={user}&password={pw}&decision=allow",
            flow.request_id, flow.csrf
        );
        let mut req = form_request("/authorize", &body).with_header("Cookie", flow.cookie.clone());
        req.peer = Some(ip);
        h.send(req)
    };
    for i in 0..20 {
        let resp = send(&mut h, &format!("user{i}"), "x");
        assert_eq!(resp.status, 200);
    }
    assert_eq!(send(&mut h, "alice", "correct+horse").status, 429);
    // Another IP is not affected.
    assert_eq!(h.approve(&flow).status, 303);
}

#[test]
fn throttle_table_is_bounded() {
    let t = crate::oauth::throttle::LoginThrottle::new(ThrottleConfig {
        capacity: 8,
        ..ThrottleConfig::default()
    });
    for i in 0..100u64 {
        t.record_failure(&format!("user{i}"), None, T0 + i);
    }
    assert!(t.len() <= 8);
}

#[test]
fn missing_credentials_rerender_the_form() {
    let mut h = Harness::new();
    let client = h.register_client("none");
    let flow = h.start(&client, "");
    let resp = h.decide(&flow, "decision=allow");
    assert_eq!(resp.status, 400);
    assert!(body_str(&resp).contains("Enter your username and password."));
    assert_eq!(
        field(body_str(&resp), "csrf").as_deref(),
        Some(flow.csrf.as_str())
    );
    assert_eq!(
        h.decide(&flow, "username=alice&password=x&decision=maybe")
            .status,
        400
    );
}

#[test]
fn pending_request_expires_and_is_single_use() {
    let mut h = Harness::new();
    let client = h.register_client("none");
    let flow = h.start(&client, "");
    h.advance(601);
    let resp = h.approve(&flow);
    assert_eq!(resp.status, 400);
    assert!(body_str(&resp).contains("expired"));

    let flow = h.start(&client, "");
    assert_eq!(h.approve(&flow).status, 303);
    assert_eq!(h.approve(&flow).status, 400);
}

#[test]
fn unknown_time_fails_closed() {
    let mut h = Harness::new();
    let client = h.register_client("none");
    h.now = None;
    assert_error_page_with_return_link(
        &h.authorize(&standard_query(&client, "")),
        503,
        "temporarily_unavailable",
    );
}

#[test]
fn pending_store_full_redirects_temporarily_unavailable() {
    let limits = crate::store::MemoryStoreLimits {
        pending: 1,
        ..crate::store::MemoryStoreLimits::DEVICE
    };
    let mut h = Harness::with(|_| {}, limits);
    let client = h.register_client("none");
    let _ = h.start(&client, "");
    assert_error_page_with_return_link(
        &h.authorize(&standard_query(&client, "")),
        503,
        "temporarily_unavailable",
    );
}

#[test]
fn other_methods_are_refused() {
    let mut h = Harness::new();
    let resp = h.send(Request::new(Method::Delete, "/authorize"));
    assert_eq!(resp.status, 405);
    let resp = h.send(Request::new(Method::Get, "/token"));
    assert_eq!(resp.status, 405);
    let _ = String::new();
}

/// Issue 14 finding 9: the consent page names the host the browser will
/// really go to, as the WHATWG URL parser sees it: an IDN look-alike in
/// punycode, and `\` read as `/` (so `https://evil.example\.client.example`
/// is `evil.example`).
#[test]
fn consent_page_shows_the_host_as_the_browser_parses_it() {
    let mut h = Harness::new();
    let lookalike = "https://\u{0430}pple.example/cb";
    let resp = h.register(serde_json::json!({
        "redirect_uris": [lookalike],
        "token_endpoint_auth_method": "none",
    }));
    assert_eq!(resp.status, 201, "{}", body_str(&resp));
    let id = json(&resp)["client_id"].as_str().expect("id").to_string();
    let query = format!(
        "response_type=code&client_id={id}&redirect_uri={}&code_challenge={}\
         &code_challenge_method=S256&state=xyz",
        enc(lookalike),
        s256_challenge(VERIFIER)
    );
    let resp = h.authorize(&query);
    assert_eq!(resp.status, 200, "{}", body_str(&resp));
    let page = body_str(&resp);
    assert!(page.contains("<code>xn--pple-43d.example</code>"), "{page}");
    assert!(!page.contains("\u{0430}pple"), "never the raw look-alike");

    assert_eq!(
        super::super::pages::redirect_target_for_display(
            "https://evil.example\\.client.example/cb"
        ),
        "evil.example"
    );
    assert_eq!(
        super::super::pages::redirect_target_for_display("HTTPS://Client.Example:443/cb"),
        "client.example"
    );
    assert_eq!(
        super::super::pages::redirect_target_for_display("com.example.app:/oauth"),
        "com.example.app"
    );
}
