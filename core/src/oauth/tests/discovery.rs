//! Discovery documents and the resource-server guard.

use alloc::format;

use super::*;
use crate::time::UnixTime;

fn get(h: &mut Harness, path: &str) -> Response {
    h.send(Request::new(Method::Get, path))
}

#[test]
fn authorization_server_metadata_everywhere_clients_probe() {
    let mut h = Harness::new();
    for path in [
        "/.well-known/oauth-authorization-server",
        "/.well-known/oauth-authorization-server/mcp",
        "/.well-known/openid-configuration",
        "/.well-known/openid-configuration/mcp",
        "/mcp/.well-known/openid-configuration",
    ] {
        let resp = get(&mut h, path);
        assert_eq!(resp.status, 200, "{path}");
        assert_eq!(resp.header("Access-Control-Allow-Origin"), Some("*"));
        let v = json(&resp);
        assert_eq!(v["issuer"], ISSUER);
        assert_eq!(
            v["authorization_endpoint"],
            "https://auth.example/authorize"
        );
        assert_eq!(v["token_endpoint"], "https://auth.example/token");
        assert_eq!(v["registration_endpoint"], "https://auth.example/register");
        assert_eq!(v["jwks_uri"], "https://auth.example/.well-known/jwks.json");
        assert_eq!(
            v["introspection_endpoint"],
            "https://auth.example/introspect"
        );
        assert_eq!(v["revocation_endpoint"], "https://auth.example/revoke");
        assert_eq!(
            v["scopes_supported"],
            serde_json::json!(["mcp", "read", "write"])
        );
        assert_eq!(v["response_types_supported"], serde_json::json!(["code"]));
        assert_eq!(
            v["grant_types_supported"],
            serde_json::json!(["authorization_code", "refresh_token"])
        );
        assert_eq!(
            v["code_challenge_methods_supported"],
            serde_json::json!(["S256"])
        );
        let methods = serde_json::json!(["none", "client_secret_basic", "client_secret_post"]);
        assert_eq!(v["token_endpoint_auth_methods_supported"], methods);
        assert_eq!(v["introspection_endpoint_auth_methods_supported"], methods);
        assert_eq!(v["revocation_endpoint_auth_methods_supported"], methods);
        assert_eq!(v["authorization_response_iss_parameter_supported"], true);
        // Nothing we do not support (no ID tokens, no implicit flow).
        assert!(v.get("id_token_signing_alg_values_supported").is_none());
        assert!(v.get("userinfo_endpoint").is_none());
    }
    assert!(
        h.try_send(Request::new(
            Method::Get,
            "/.well-known/oauth-authorization-server/x"
        ))
        .is_none()
    );
    assert_eq!(
        h.send(Request::new(
            Method::Post,
            "/.well-known/openid-configuration"
        ))
        .status,
        405
    );
    assert_eq!(
        h.send(Request::new(
            Method::Options,
            "/.well-known/openid-configuration"
        ))
        .status,
        204
    );
}

#[test]
fn protected_resource_metadata() {
    let mut h = Harness::new();
    for path in [
        "/.well-known/oauth-protected-resource",
        "/.well-known/oauth-protected-resource/mcp",
    ] {
        let resp = get(&mut h, path);
        assert_eq!(resp.status, 200, "{path}");
        let v = json(&resp);
        assert_eq!(v["resource"], RESOURCE);
        assert_eq!(v["authorization_servers"], serde_json::json!([ISSUER]));
        assert_eq!(v["bearer_methods_supported"], serde_json::json!(["header"]));
        assert_eq!(
            v["scopes_supported"],
            serde_json::json!(["mcp", "read", "write"])
        );
    }
}

#[test]
fn jwks_is_served() {
    let mut h = Harness::new();
    for path in ["/jwks.json", "/.well-known/jwks.json"] {
        let v = json(&get(&mut h, path));
        assert_eq!(v["keys"][0]["kty"], "RSA");
        assert!(v["keys"][0].get("d").is_none(), "no private parts");
    }
}

#[test]
fn canonical_resource_rules() {
    assert_eq!(
        canonical_resource("HTTPS://Auth.Example/mcp/").as_deref(),
        Some("https://auth.example/mcp")
    );
    assert_eq!(
        canonical_resource("https://a.example/MCP").as_deref(),
        Some("https://a.example/MCP")
    );
    assert_eq!(canonical_resource("https://a.example/mcp#x"), None);
    assert_eq!(canonical_resource("ftp://a.example/mcp"), None);
    assert_eq!(canonical_resource("https://u@a.example/mcp"), None);
    assert_eq!(canonical_resource("/mcp"), None);
}

fn guard_for(h: &Harness, scopes: &[&str]) -> ResourceGuard {
    h.server.resource_guard(RESOURCE, scopes).expect("guard")
}

fn check(
    h: &Harness,
    guard: &ResourceGuard,
    req: Request,
) -> Result<crate::principal::Principal, Response> {
    block_on(authenticate_bearer(
        &req,
        &h.keys,
        guard,
        h.now.map(UnixTime),
        h.server.store(),
    ))
}

const METADATA: &str = "https://auth.example/.well-known/oauth-protected-resource/mcp";

#[test]
fn guard_challenges() {
    let mut h = Harness::new();
    let client = h.register_client("none");
    let (at, _) = h.tokens(&client);
    let g = guard_for(&h, &["mcp"]);
    let mcp = || Request::new(Method::Post, "/mcp");

    // No token: 401 challenge, no error code.
    let resp = check(&h, &g, mcp()).expect_err("401");
    assert_eq!(resp.status, 401);
    assert_eq!(
        resp.header("WWW-Authenticate"),
        Some(format!("Bearer resource_metadata=\"{METADATA}\", scope=\"mcp\"").as_str())
    );
    // Another scheme is "no token".
    let resp = check(&h, &g, mcp().with_header("Authorization", "Basic abc")).expect_err("401");
    assert!(
        !resp
            .header("WWW-Authenticate")
            .unwrap_or_default()
            .contains("error=")
    );
    // A refused token: invalid_token with a description.
    let resp = check(
        &h,
        &g,
        mcp().with_header("Authorization", "Bearer not.a.jwt"),
    )
    .expect_err("401");
    assert_eq!(resp.status, 401);
    let www = resp.header("WWW-Authenticate").unwrap_or_default();
    assert!(www.contains("error=\"invalid_token\""));
    assert!(www.contains("error_description=\""));
    assert!(www.contains(&format!("resource_metadata=\"{METADATA}\"")));
    // Token in the query is never read.
    let resp = check(&h, &g, mcp().with_query(format!("access_token={at}"))).expect_err("400");
    assert_eq!(resp.status, 400);
    // Repeated header.
    let req = mcp()
        .with_header("Authorization", format!("Bearer {at}"))
        .with_header("Authorization", format!("Bearer {at}"));
    assert_eq!(check(&h, &g, req).expect_err("400").status, 400);
    // The right token.
    let p = check(
        &h,
        &g,
        mcp().with_header("Authorization", format!("bearer {at}")),
    )
    .expect("ok");
    assert_eq!(p.subject, "user-alice");
    assert_eq!(p.client_id, client.id);
    assert_eq!(p.audience, RESOURCE);
    assert!(p.has_scope("mcp"));
    // Unknown time fails closed.
    h.now = None;
    assert_eq!(
        check(
            &h,
            &g,
            mcp().with_header("Authorization", format!("Bearer {at}"))
        )
        .expect_err("401")
        .status,
        401
    );
}

#[test]
fn guard_insufficient_scope_names_every_needed_scope() {
    let mut h = Harness::new();
    let client = h.register_client("none");
    let (at, _) = h.tokens(&client);
    let g = guard_for(&h, &["mcp", "write"]);
    let req =
        Request::new(Method::Post, "/mcp").with_header("Authorization", format!("Bearer {at}"));
    let resp = check(&h, &g, req).expect_err("403");
    assert_eq!(resp.status, 403);
    let www = resp.header("WWW-Authenticate").unwrap_or_default();
    assert!(www.contains("error=\"insufficient_scope\""));
    assert!(www.contains("scope=\"mcp write\""));
    let resp = guard_for(&h, &["mcp"]).insufficient_scope(&["read", "mcp"]);
    assert!(
        resp.header("WWW-Authenticate")
            .unwrap_or_default()
            .contains("scope=\"mcp read\"")
    );
}

#[test]
fn config_validation() {
    let ok = ServerConfig::new(ISSUER);
    assert_eq!(ok.validate(), Ok(()));
    assert_eq!(
        ServerConfig::new("http://127.0.0.1:8080").validate(),
        Ok(())
    );
    assert!(ServerConfig::new("http://example.com").validate().is_err());
    assert!(
        ServerConfig::new("https://a.example/?x")
            .validate()
            .is_err()
    );
    assert!(ServerConfig::new("not a url").validate().is_err());
    assert!(ServerConfig::new("not a url").resources.is_empty());
    let mut c = ServerConfig::new(ISSUER);
    c.resources[0].identifier = "https://A.example/mcp/".into();
    assert!(c.validate().is_err());
    let mut c = ServerConfig::new(ISSUER);
    c.code_ttl = 0;
    assert!(c.validate().is_err());
}
