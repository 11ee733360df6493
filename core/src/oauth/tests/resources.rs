//! Several protected resources: each has its own audience, scopes, consent
//! name, metadata and token lifetime, and a token for one is refused by
//! every other.

use alloc::vec;

use super::*;
use crate::jose::ValidationPolicy;
use crate::time::UnixTime;

const DEVICE: &str = "http://10.0.0.2:8080/mcp";

fn device() -> ProtectedResource {
    ProtectedResource::new(DEVICE, ResourceKind::External)
        .expect("URL")
        .with_display_name("Greenhouse <sensors>")
        .with_scopes(&["sensors:read", "sensors:write"])
        .with_access_token_ttl(300)
}

fn with_device() -> Harness {
    Harness::with(
        |c| c.resources.push(device()),
        crate::store::MemoryStoreLimits::SERVER,
    )
}

fn register(h: &mut Harness) -> Client {
    let resp = h.register(serde_json::json!({
        "redirect_uris": [REDIRECT],
        "token_endpoint_auth_method": "none",
    }));
    assert_eq!(resp.status, 201, "{}", body_str(&resp));
    Client {
        id: json(&resp)["client_id"].as_str().expect("id").into(),
        secret: None,
    }
}

fn device_query(client: &Client, scope: Option<&str>) -> String {
    let mut q = standard_query(client, &format!("&resource={}", enc(DEVICE)));
    // `standard_query` asks for `mcp` unless told otherwise.
    q = q.replace("&scope=mcp", "");
    if let Some(s) = scope {
        q.push_str(&format!("&scope={}", enc(s)));
    }
    q
}

fn claims_for(h: &Harness, token: &str, resource: &str) -> Option<crate::jose::AccessTokenClaims> {
    let policy = ValidationPolicy::new(ISSUER, resource);
    h.keys
        .verify_access_token(token, &policy, Some(UnixTime(h.now.expect("clock"))))
        .ok()
}

#[test]
fn a_device_token_is_for_the_device_only() {
    let mut h = with_device();
    let client = register(&mut h);

    let resp = h.authorize(&device_query(&client, None));
    assert_eq!(resp.status, 200, "{}", body_str(&resp));
    let page = body_str(&resp);
    assert!(
        page.contains("<strong>Greenhouse &lt;sensors&gt;</strong>"),
        "the consent page names the resource: {page}"
    );
    assert!(page.contains(DEVICE), "and shows its identifier");
    assert!(page.contains("<code>sensors:read</code>"));
    assert!(
        !page.contains("<code>mcp</code>"),
        "no scope of another resource"
    );

    let flow = flow_from(&resp);
    let resp = h.approve(&flow);
    let code = location_param(&resp, "code").expect("code");
    let resp = h.exchange(&client, &code, &format!("&resource={}", enc(DEVICE)));
    assert_eq!(resp.status, 200, "{}", body_str(&resp));
    let v = json(&resp);
    assert_eq!(v["expires_in"], 300, "the device's own lifetime");
    assert_eq!(v["scope"], "sensors:read sensors:write");
    let token = v["access_token"].as_str().expect("token");

    let claims = claims_for(&h, token, DEVICE).expect("valid for the device");
    assert_eq!(claims.exp, claims.iat + 300);
    assert!(
        claims_for(&h, token, RESOURCE).is_none(),
        "refused by the issuer's own /mcp"
    );
    let guard = h.server.resource_guard(RESOURCE, &["mcp"]).expect("guard");
    let req =
        Request::new(Method::Post, "/mcp").with_header("Authorization", format!("Bearer {token}"));
    let refused = block_on(authenticate_bearer(
        &req,
        &h.keys,
        &guard,
        Some(UnixTime(h.now.expect("clock"))),
        h.server.store(),
    ));
    assert_eq!(refused.err().map(|r| r.status), Some(401));

    // Refreshing keeps the resource and its lifetime.
    let rt = v["refresh_token"].as_str().expect("refresh");
    let resp = h.refresh(&client, rt, "");
    assert_eq!(json(&resp)["expires_in"], 300, "{}", body_str(&resp));
    let resp = h.refresh(
        &client,
        json(&resp)["refresh_token"].as_str().expect("rt"),
        &format!("&resource={}", enc(RESOURCE)),
    );
    assert_error(&resp, 400, "invalid_target");
}

#[test]
fn scopes_belong_to_their_resource() {
    let mut h = with_device();
    let client = register(&mut h);
    // `mcp` is a scope of the built-in resource, not of the device.
    let resp = h.authorize(&device_query(&client, Some("mcp")));
    assert_error_page_with_return_link(&resp, 400, "invalid_scope");
    let resp = h.authorize(&standard_query(&client, "&scope=sensors:read"));
    assert_error_page_with_return_link(&resp, 400, "invalid_scope");
    let resp = h.authorize(&device_query(&client, Some("sensors:read")));
    assert_eq!(resp.status, 200, "{}", body_str(&resp));

    // A client registered for the built-in scope only cannot ask the device.
    let resp = h.register(serde_json::json!({
        "redirect_uris": [REDIRECT],
        "token_endpoint_auth_method": "none",
        "scope": "mcp",
    }));
    let narrow = Client {
        id: json(&resp)["client_id"].as_str().expect("id").into(),
        secret: None,
    };
    assert_error_page_with_return_link(
        &h.authorize(&device_query(&narrow, None)),
        400,
        "invalid_scope",
    );
}

#[test]
fn discovery_follows_the_resources() {
    let mut h = with_device();
    let meta = |h: &mut Harness, path: &str| {
        let resp = h.send(Request::new(Method::Get, path));
        assert_eq!(resp.status, 200, "{path}");
        json(&resp)
    };
    let server = meta(&mut h, "/.well-known/oauth-authorization-server");
    assert_eq!(
        server["scopes_supported"],
        serde_json::json!(["mcp", "read", "write", "sensors:read", "sensors:write"])
    );
    let builtin = meta(&mut h, "/.well-known/oauth-protected-resource/mcp");
    assert_eq!(builtin["resource"], RESOURCE);
    assert_eq!(builtin["resource_name"], "MCP server");
    assert_eq!(
        builtin["scopes_supported"],
        serde_json::json!(["mcp", "read", "write"])
    );
    // The device serves its own metadata; the issuer's origin has no path
    // for it.
    let resp = h.try_send(Request::new(
        Method::Get,
        "/.well-known/oauth-protected-resource/device",
    ));
    assert!(resp.is_none());

    // A resource on the issuer's origin (a proxied upstream) gets its own.
    let mut h = Harness::with(
        |c| {
            c.resources.push(
                ProtectedResource::new(
                    "https://auth.example/tickets/mcp",
                    ResourceKind::Proxy {
                        upstream: "http://127.0.0.1:9000/mcp".into(),
                    },
                )
                .expect("URL")
                .with_display_name("Tickets")
                .with_scopes(&["tickets"]),
            )
        },
        crate::store::MemoryStoreLimits::SERVER,
    );
    let doc = meta(&mut h, "/.well-known/oauth-protected-resource/tickets/mcp");
    assert_eq!(doc["resource"], "https://auth.example/tickets/mcp");
    assert_eq!(doc["resource_name"], "Tickets");
    assert_eq!(doc["scopes_supported"], serde_json::json!(["tickets"]));
}

#[test]
fn resource_configuration_is_validated() {
    let with = |tweak: &dyn Fn(&mut ServerConfig)| {
        let mut c = ServerConfig::new(ISSUER);
        c.resources.push(device());
        tweak(&mut c);
        c.validate()
    };
    assert_eq!(with(&|_| {}), Ok(()));
    assert!(with(&|c| c.resources.push(device())).is_err(), "twice");
    assert!(
        with(&|c| c.resources[1].kind = ResourceKind::Builtin).is_err(),
        "two built-in"
    );
    assert!(with(&|c| c.resources[1].access_token_ttl = Some(0)).is_err());
    assert!(
        with(&|c| c.resources[1].access_token_ttl = Some(7200)).is_err(),
        "longer than the key retention"
    );
    assert!(with(&|c| c.resources[1].scopes = vec![]).is_err());
    assert!(with(&|c| c.resources[1].scopes = vec!["a b".into()]).is_err());
    assert!(with(&|c| c.resources[1].display_name = String::new()).is_err());
    assert!(with(&|c| c.resources[1].display_name = "a\nb".into()).is_err());
    assert!(with(&|c| c.resources[1].display_name = "x".repeat(101)).is_err());
    assert!(with(&|c| c.resources[1].identifier = "http://10.0.0.2:8080/mcp/".into()).is_err());
    assert!(
        with(&|c| c.resources[1].kind = ResourceKind::Proxy {
            upstream: "ftp://x".into()
        })
        .is_err()
    );
    assert!(with(&|c| c.resources.clear()).is_err());
}
