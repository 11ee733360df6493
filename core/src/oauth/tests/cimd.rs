//! Client ID metadata documents through a fake fetcher: discovery, the
//! whole flow with a URL `client_id`, and every way a document is refused.

use alloc::boxed::Box;
use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;

use super::*;
use crate::oauth::{ClientMetadataFetcher, MetadataFetchError, MetadataFuture};

const DOC_URL: &str = "https://client.example/oauth/metadata.json";

/// Answers `DOC_URL` with a fixed result; any other URL is unreachable.
struct FakeFetcher(Result<Vec<u8>, MetadataFetchError>);

impl ClientMetadataFetcher for FakeFetcher {
    fn fetch<'a>(
        &'a self,
        url: &'a str,
        _requester: Option<core::net::IpAddr>,
    ) -> MetadataFuture<'a> {
        let answer = if url == DOC_URL {
            self.0.clone()
        } else {
            Err(MetadataFetchError::Unreachable)
        };
        Box::pin(core::future::ready(answer))
    }
}

fn good_document() -> Value {
    serde_json::json!({
        "client_id": DOC_URL,
        "client_name": "Example MCP Client",
        "redirect_uris": [REDIRECT],
        "grant_types": ["authorization_code", "refresh_token"],
        "response_types": ["code"],
        "token_endpoint_auth_method": "none",
    })
}

fn harness_answering(answer: Result<Vec<u8>, MetadataFetchError>) -> Harness {
    let Harness {
        server,
        keys,
        rng,
        now,
    } = Harness::new();
    Harness {
        server: server.with_client_metadata_fetcher(FakeFetcher(answer)),
        keys,
        rng,
        now,
    }
}

fn harness_serving(doc: &Value) -> Harness {
    harness_answering(Ok(doc.to_string().into_bytes()))
}

fn url_client() -> Client {
    Client {
        id: DOC_URL.into(),
        secret: None,
    }
}

/// The authorization request is refused with an error page (never a
/// redirect) whose text contains `message`.
fn assert_error_page(h: &mut Harness, message: &str) {
    let resp = h.authorize(&standard_query(&url_client(), ""));
    assert_eq!(resp.status, 400, "{}", body_str(&resp));
    assert!(resp.header("Location").is_none());
    assert!(body_str(&resp).contains(message), "{}", body_str(&resp));
}

/// `/token` with the URL client answers `invalid_client`.
fn assert_token_invalid_client(h: &mut Harness) {
    let body = format!(
        "grant_type=authorization_code&code=x&code_verifier={VERIFIER}{}",
        client_form(&url_client())
    );
    let resp = h.post_form("/token", &body);
    assert_eq!(resp.status, 401, "{}", body_str(&resp));
    assert_eq!(json(&resp)["error"], "invalid_client");
}

#[test]
fn discovery_advertises_documents_only_with_a_fetcher() {
    let path = "/.well-known/oauth-authorization-server";
    let mut with = harness_serving(&good_document());
    let v = json(&with.send(Request::new(Method::Get, path)));
    assert_eq!(v["client_id_metadata_document_supported"], true);
    let v = json(&with.send(Request::new(
        Method::Get,
        "/.well-known/openid-configuration",
    )));
    assert_eq!(v["client_id_metadata_document_supported"], true);

    let mut without = Harness::new();
    let v = json(&without.send(Request::new(Method::Get, path)));
    assert!(v.get("client_id_metadata_document_supported").is_none());
}

#[test]
fn a_good_document_is_a_public_client_through_every_endpoint() {
    let mut h = harness_serving(&good_document());
    let client = url_client();
    let resp = h.authorize(&standard_query(&client, ""));
    assert_eq!(resp.status, 200, "{}", body_str(&resp));
    let page = body_str(&resp);
    assert!(
        page.contains("<strong>Example MCP Client</strong>"),
        "{page}"
    );
    assert!(
        page.contains("(from <code>client.example</code>)"),
        "{page}"
    );
    let flow = flow_from(&resp);
    let resp = h.approve(&flow);
    assert_eq!(resp.status, 303, "{}", body_str(&resp));
    let code = location_param(&resp, "code").expect("code");

    let resp = h.exchange(&client, &code, "");
    assert_eq!(resp.status, 200, "{}", body_str(&resp));
    let v = json(&resp);
    let access = v["access_token"].as_str().expect("access").to_string();
    let refresh = v["refresh_token"].as_str().expect("refresh").to_string();

    let resp = h.post_form(
        "/introspect",
        &format!("token={}{}", enc(&access), client_form(&client)),
    );
    let v = json(&resp);
    assert_eq!(v["active"], true);
    assert_eq!(v["client_id"], DOC_URL);

    let resp = h.refresh(&client, &refresh, "");
    assert_eq!(resp.status, 200, "{}", body_str(&resp));
    let refresh = json(&resp)["refresh_token"]
        .as_str()
        .expect("rotated")
        .to_string();

    let resp = h.post_form(
        "/revoke",
        &format!("token={}{}", enc(&refresh), client_form(&client)),
    );
    assert_eq!(resp.status, 200);
    let resp = h.refresh(&client, &refresh, "");
    assert_eq!(json(&resp)["error"], "invalid_grant");
}

#[test]
fn a_loopback_redirect_of_a_document_client_gets_a_warning() {
    let loopback = "http://127.0.0.1:33418/callback";
    let mut doc = good_document();
    doc["redirect_uris"] = serde_json::json!([loopback]);
    let mut h = harness_serving(&doc);
    let query = standard_query(&url_client(), "").replace(&enc(REDIRECT), &enc(loopback));
    let resp = h.authorize(&query);
    assert_eq!(resp.status, 200, "{}", body_str(&resp));
    assert!(body_str(&resp).contains("program on this computer"));

    // A registered client is not warned about (it registered that URI).
    let mut h = Harness::new();
    let resp = h.register(serde_json::json!({
        "redirect_uris": [loopback], "token_endpoint_auth_method": "none",
    }));
    let client = Client {
        id: json(&resp)["client_id"].as_str().expect("id").into(),
        secret: None,
    };
    let resp = h.authorize(&standard_query(&client, "").replace(&enc(REDIRECT), &enc(loopback)));
    assert_eq!(resp.status, 200, "{}", body_str(&resp));
    assert!(!body_str(&resp).contains("program on this computer"));
}

#[test]
fn a_secret_presented_by_a_document_client_is_refused() {
    let mut h = harness_serving(&good_document());
    let client = Client {
        id: DOC_URL.into(),
        secret: Some("guess".into()),
    };
    let resp = h.refresh(&client, "family.secret", "");
    assert_eq!(resp.status, 401);
    assert_eq!(json(&resp)["error"], "invalid_client");
}

#[test]
fn a_mismatched_client_id_is_refused() {
    let mut doc = good_document();
    doc["client_id"] = "https://client.example/oauth/other.json".into();
    let mut h = harness_serving(&doc);
    assert_error_page(&mut h, "metadata document is invalid");
    assert_token_invalid_client(&mut h);
}

#[test]
fn bad_redirect_uris_are_refused() {
    for uris in [
        serde_json::json!(["http://client.example/cb"]),
        serde_json::json!(["https://client.example/cb#frag"]),
        serde_json::json!([]),
        serde_json::json!("https://client.example/cb"),
    ] {
        let mut doc = good_document();
        doc["redirect_uris"] = uris;
        let mut h = harness_serving(&doc);
        assert_error_page(&mut h, "metadata document is invalid");
        assert_token_invalid_client(&mut h);
    }
    // A valid document, but the request's redirect_uri is not in it.
    let mut doc = good_document();
    doc["redirect_uris"] = serde_json::json!(["https://client.example/other", REDIRECT]);
    let mut h = harness_serving(&doc);
    let query =
        standard_query(&url_client(), "").replace(&enc(REDIRECT), &enc("https://evil.example/cb"));
    let resp = h.authorize(&query);
    assert_eq!(resp.status, 400);
    assert!(resp.header("Location").is_none());
}

#[test]
fn secrets_and_other_auth_methods_are_refused() {
    let mut with_secret = good_document();
    with_secret["client_secret"] = "s3cret".into();
    let mut basic = good_document();
    basic["token_endpoint_auth_method"] = "client_secret_basic".into();
    let mut implicit = good_document();
    implicit["response_types"] = serde_json::json!(["token"]);
    for doc in [with_secret, basic, implicit] {
        let mut h = harness_serving(&doc);
        assert_error_page(&mut h, "metadata document is invalid");
        assert_token_invalid_client(&mut h);
    }
}

#[test]
fn oversize_and_malformed_documents_are_refused() {
    let mut doc = good_document();
    doc["client_uri"] = String::from_iter(core::iter::repeat_n('a', MAX_METADATA_DOCUMENT)).into();
    let mut h = harness_serving(&doc);
    assert_error_page(&mut h, "metadata document is invalid");
    assert_token_invalid_client(&mut h);

    let mut h = harness_answering(Err(MetadataFetchError::TooLarge));
    assert_error_page(&mut h, "too large");

    let mut h = harness_answering(Ok(b"{not json".to_vec()));
    assert_error_page(&mut h, "metadata document is invalid");
}

#[test]
fn fetch_failures_are_refused() {
    let mut h = harness_answering(Err(MetadataFetchError::Unreachable));
    assert_error_page(&mut h, "could not be fetched");
    assert_token_invalid_client(&mut h);

    let mut h = harness_answering(Err(MetadataFetchError::Forbidden));
    assert_error_page(&mut h, "may not contact");
    assert_token_invalid_client(&mut h);
}

#[test]
fn a_spent_fetch_budget_asks_to_come_back_later() {
    let mut h = harness_answering(Err(MetadataFetchError::Busy));
    let resp = h.authorize(&standard_query(&url_client(), ""));
    assert_eq!(resp.status, 503, "{}", body_str(&resp));
    assert!(resp.header("Location").is_none());
    assert!(body_str(&resp).contains("Try again in a minute"));
    let body = format!(
        "grant_type=authorization_code&code=x&code_verifier={VERIFIER}{}",
        client_form(&url_client())
    );
    let resp = h.post_form("/token", &body);
    assert_eq!(resp.status, 503, "{}", body_str(&resp));
    assert_eq!(json(&resp)["error"], "temporarily_unavailable");
}

#[test]
fn without_a_fetcher_a_url_client_id_is_unknown() {
    let mut h = Harness::new();
    assert_error_page(&mut h, "not registered");
    assert_token_invalid_client(&mut h);
}

#[test]
fn client_id_urls_follow_the_drafts_rules() {
    for ok in [
        DOC_URL,
        "https://client.example/m",
        "https://client.example:8443/m.json?v=1",
        "https://[::1]/m",
    ] {
        assert!(is_client_id_url(ok), "{ok}");
    }
    let long = format!("https://client.example/{}", "a".repeat(MAX_CLIENT_ID_URL));
    for bad in [
        "http://client.example/m",
        "https://client.example",
        "https://client.example/",
        "https://client.example/?q",
        "https://user@client.example/m",
        "https://client.example/m#f",
        "https://client.example/a/../m",
        "https://client.example/./m",
        "https://client.example/a/%2E%2e/m",
        "https://client.example/m n",
        "https:///m",
        "HTTPS://client.example/m",
        "random-client-id",
        long.as_str(),
    ] {
        assert!(!is_client_id_url(bad), "{bad}");
    }
}
