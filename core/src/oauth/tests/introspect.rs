//! Introspection (RFC 7662) of every token kind, and revocation (RFC 7009).

use alloc::format;
use alloc::string::String;

use super::*;
use crate::time::UnixTime;

fn introspect(h: &mut Harness, caller: &Client, token: &str) -> serde_json::Value {
    let body = format!("token={}{}", enc(token), client_form(caller));
    let resp = h.post_form("/introspect", &body);
    assert_eq!(resp.status, 200, "{}", body_str(&resp));
    assert_eq!(resp.header("Cache-Control"), Some("no-store"));
    json(&resp)
}

fn revoke(h: &mut Harness, caller: &Client, token: &str) -> Response {
    let body = format!("token={}{}", enc(token), client_form(caller));
    h.post_form("/revoke", &body)
}

fn inactive() -> serde_json::Value {
    serde_json::json!({"active": false})
}

#[test]
fn introspection_of_every_token_kind() {
    let mut h = Harness::new();
    let client = h.register_client("none");
    let code = h.code(&client, "&scope=mcp%20read");
    let v = json(&h.exchange(&client, &code, ""));
    let at = v["access_token"].as_str().expect("at").to_string();
    let rt = v["refresh_token"].as_str().expect("rt").to_string();

    let a = introspect(&mut h, &client, &at);
    assert_eq!(a["active"], true);
    assert_eq!(a["sub"], "user-alice");
    assert_eq!(a["scope"], "mcp read");
    assert_eq!(a["client_id"], client.id.as_str());
    assert_eq!(a["exp"], T0 + 3600);
    assert_eq!(a["iat"], T0);
    assert_eq!(a["iss"], ISSUER);
    assert_eq!(a["aud"], RESOURCE);
    assert_eq!(a["token_type"], "Bearer");
    assert!(a["jti"].as_str().is_some_and(|j| !j.is_empty()));

    let r = introspect(&mut h, &client, &rt);
    assert_eq!(r["active"], true);
    assert_eq!(r["token_type"], "refresh_token");
    assert_eq!(r["sub"], "user-alice");
    assert_eq!(r["scope"], "mcp read");
    assert_eq!(r["aud"], RESOURCE);
    assert_eq!(r["iss"], ISSUER);
    assert_eq!(r["iat"], T0);
    assert!(r["exp"].as_u64().is_some_and(|e| e > T0));
    assert!(r["jti"].as_str().is_some_and(|j| !rt.contains(j)));

    // Codes, garbage, and empty-ish tokens are never active.
    assert_eq!(introspect(&mut h, &client, &code), inactive());
    assert_eq!(introspect(&mut h, &client, "garbage"), inactive());
    assert_eq!(introspect(&mut h, &client, "a.b.c"), inactive());

    // After rotation the old refresh token is inactive (and introspecting it
    // does not count as reuse).
    let rt2 = json(&h.refresh(&client, &rt, ""))["refresh_token"]
        .as_str()
        .expect("rt2")
        .to_string();
    assert_eq!(introspect(&mut h, &client, &rt), inactive());
    assert_eq!(introspect(&mut h, &client, &rt2)["active"], true);

    // Expired access token.
    h.advance(3600 + 61);
    assert_eq!(introspect(&mut h, &client, &at), inactive());
    // Unknown time: nothing is active.
    h.now = None;
    assert_eq!(introspect(&mut h, &client, &rt2), inactive());
}

#[test]
fn introspection_requires_client_authentication_and_respects_ownership() {
    let mut h = Harness::new();
    let owner = h.register_client("none");
    let stranger = h.register_client("none");
    let rs = h.register_client("client_secret_post");
    let (at, rt) = h.tokens(&owner);
    let resp = h.post_form("/introspect", &format!("token={at}"));
    assert_error(&resp, 401, "invalid_client");
    let resp = h.post_form(
        "/introspect",
        &format!("token={at}&client_id={}&client_secret=x", rs.id),
    );
    assert_error(&resp, 401, "invalid_client");
    assert_error(
        &h.post_form("/introspect", &client_form(&owner)),
        400,
        "invalid_request",
    );
    // A client sees only its own tokens.
    assert_eq!(introspect(&mut h, &stranger, &at), inactive());
    assert_eq!(introspect(&mut h, &stranger, &rt), inactive());
    assert_eq!(introspect(&mut h, &owner, &at)["active"], true);
    assert_eq!(introspect(&mut h, &owner, &rt)["active"], true);
}

/// Issue 14 finding 7: a self-registered confidential client is not a
/// resource server. Only clients the operator names in
/// `ServerConfig::introspection_clients` see other clients' access tokens,
/// and nobody sees another client's refresh token (RFC 7662 §2.2: answer
/// `{"active":false}` rather than leak).
#[test]
fn introspection_of_foreign_tokens_only_by_operator_named_resource_servers() {
    let mut h = Harness::new();
    let owner = h.register_client("none");
    let self_registered = h.register_client("client_secret_post");
    let rs = h.register_client("client_secret_basic");
    h.server.config.introspection_clients = alloc::vec![rs.id.clone()];
    let (at, rt) = h.tokens(&owner);
    assert_eq!(introspect(&mut h, &self_registered, &at), inactive());
    assert_eq!(introspect(&mut h, &self_registered, &rt), inactive());
    assert_eq!(introspect(&mut h, &rs, &at)["active"], true);
    assert_eq!(
        introspect(&mut h, &rs, &rt),
        inactive(),
        "refresh: owner only"
    );
}

#[test]
fn revoking_a_refresh_token_revokes_the_family() {
    let mut h = Harness::new();
    let client = h.register_client("none");
    let (at, rt) = h.tokens(&client);
    let rt2 = json(&h.refresh(&client, &rt, ""))["refresh_token"]
        .as_str()
        .expect("rt2")
        .to_string();
    let (at_other, _) = h.tokens(&client);
    assert_eq!(introspect(&mut h, &client, &at)["active"], true);
    let resp = revoke(&mut h, &client, &rt2);
    assert_eq!(resp.status, 200);
    assert_eq!(resp.header("Cache-Control"), Some("no-store"));
    assert_error(&h.refresh(&client, &rt2, ""), 400, "invalid_grant");
    assert_eq!(introspect(&mut h, &client, &rt2), inactive());
    // The family's access tokens go with it; another grant's stay.
    assert_eq!(introspect(&mut h, &client, &at), inactive());
    assert_eq!(introspect(&mut h, &client, &at_other)["active"], true);
}

#[test]
fn revoking_an_access_token_refuses_its_jti_until_expiry() {
    let mut h = Harness::new();
    let client = h.register_client("none");
    let (at, rt) = h.tokens(&client);
    assert_eq!(revoke(&mut h, &client, &at).status, 200);
    assert_eq!(introspect(&mut h, &client, &at), inactive());
    let guard = h.server.resource_guard(RESOURCE, &["mcp"]).expect("guard");
    let req =
        Request::new(Method::Post, "/mcp").with_header("Authorization", format!("Bearer {at}"));
    let resp = block_on(authenticate_bearer(
        &req,
        &h.keys,
        &guard,
        h.now.map(UnixTime),
        h.server.store(),
    ))
    .expect_err("revoked");
    assert_eq!(resp.status, 401);
    assert!(
        resp.header("WWW-Authenticate")
            .unwrap_or_default()
            .contains("invalid_token")
    );
    // The refresh token lives on.
    assert_eq!(h.refresh(&client, &rt, "").status, 200);
    // The revocation entry goes away once the token would have expired.
    h.advance(3600);
    assert_eq!(h.server.store().counts()[4], 1);
}

#[test]
fn revocation_edge_cases() {
    let mut h = Harness::new();
    let owner = h.register_client("none");
    let other = h.register_client("none");
    let (at, rt) = h.tokens(&owner);
    // Unknown tokens: 200.
    assert_eq!(revoke(&mut h, &owner, "garbage").status, 200);
    assert_eq!(revoke(&mut h, &owner, "fam.secret").status, 200);
    // Someone else's tokens: 200, but nothing happens.
    assert_eq!(revoke(&mut h, &other, &at).status, 200);
    assert_eq!(revoke(&mut h, &other, &rt).status, 200);
    assert_eq!(introspect(&mut h, &owner, &at)["active"], true);
    assert_eq!(introspect(&mut h, &owner, &rt)["active"], true);
    // Client authentication and the token parameter are required.
    assert_error(
        &h.post_form("/revoke", &format!("token={at}")),
        401,
        "invalid_client",
    );
    assert_error(
        &h.post_form("/revoke", &client_form(&owner)),
        400,
        "invalid_request",
    );
    let _ = String::new();
}
