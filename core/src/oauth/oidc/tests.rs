//! Upstream sign-in through the core harness, against an in-process fake
//! provider that checks what a real one checks (client authentication,
//! redirect URI, PKCE S256, single-use codes) and answers the ID token the
//! test scripts.

extern crate std;

use alloc::format;
use alloc::string::{String, ToString};
use alloc::sync::Arc;
use alloc::vec::Vec;
use std::sync::Mutex;

use serde_json::{Value, json};

use super::*;
use crate::jose::SigningKey;
use crate::jose::testing::{rfc7515_a2_key, seeded_key, sign_jwt};
use crate::oauth::tests::*;

const UP: &str = "https://idp.example";
const UP_CLIENT: &str = "mcpauth-at-idp";
const UP_SECRET: &str = "idp secret/with+odd=chars";
const USER: &str = "248289761001";

/// What the fake provider saw and will answer.
#[derive(Default)]
struct FakeState {
    /// The discovery document served.
    discovery: Value,
    /// The signing key and whether its kid is published.
    jwks: Vec<SigningKey>,
    /// Requests served, by URL.
    hits: Vec<String>,
    /// Codes issued: code → (PKCE challenge, nonce).
    codes: Vec<(String, String, String)>,
    /// Claims of the next ID token, over the defaults.
    overrides: Value,
    /// Header of the next ID token (`None`: RS256 with the key's kid).
    header: Option<Value>,
    /// Key signing the next ID token (`None`: the first published one).
    signer: Option<SigningKey>,
}

#[derive(Clone, Default)]
struct FakeProvider(Arc<Mutex<FakeState>>);

impl FakeProvider {
    fn new() -> FakeProvider {
        let f = FakeProvider::default();
        {
            let mut s = f.0.lock().expect("lock");
            s.discovery = json!({
                "issuer": UP,
                "authorization_endpoint": format!("{UP}/auth"),
                "token_endpoint": format!("{UP}/token"),
                "jwks_uri": format!("{UP}/jwks"),
                "response_types_supported": ["code"],
                "id_token_signing_alg_values_supported": ["RS256"],
                "code_challenge_methods_supported": ["S256"],
            });
            s.jwks = alloc::vec![rfc7515_a2_key()];
        }
        f
    }

    fn with<R>(&self, f: impl FnOnce(&mut FakeState) -> R) -> R {
        f(&mut self.0.lock().expect("lock"))
    }

    fn hits(&self, url: &str) -> usize {
        self.with(|s| s.hits.iter().filter(|h| *h == url).count())
    }

    /// The provider's side of the authorization request: remember the
    /// challenge and nonce under a new code.
    fn authorize(&self, location: &str) -> (String, String) {
        let query = location.split_once('?').expect("query").1;
        let q: Vec<(String, String)> = form_urlencoded::parse(query.as_bytes())
            .map(|(k, v)| (k.into_owned(), v.into_owned()))
            .collect();
        let get = |n: &str| {
            q.iter()
                .find(|(k, _)| k == n)
                .map(|(_, v)| v.clone())
                .unwrap_or_default()
        };
        assert!(location.starts_with(&format!("{UP}/auth?")), "{location}");
        assert_eq!(get("response_type"), "code");
        assert_eq!(get("client_id"), UP_CLIENT);
        assert_eq!(get("redirect_uri"), format!("{ISSUER}/oidc/callback/idp"));
        assert_eq!(get("code_challenge_method"), "S256");
        assert_eq!(get("scope"), "openid email profile");
        assert!(get("state").len() >= 43 && get("nonce").len() >= 43);
        let code = format!("code-{}", self.with(|s| s.codes.len()));
        self.with(|s| {
            s.codes
                .push((code.clone(), get("code_challenge"), get("nonce")))
        });
        (code, get("state"))
    }

    fn token(&self, body: &str, authorization: Option<&str>) -> UpstreamResponse {
        let q: Vec<(String, String)> = form_urlencoded::parse(body.as_bytes())
            .map(|(k, v)| (k.into_owned(), v.into_owned()))
            .collect();
        let get = |n: &str| q.iter().find(|(k, _)| k == n).map(|(_, v)| v.clone());
        let expected_auth = {
            use base64ct::{Base64, Encoding};
            let enc = |s: &str| form_urlencoded::byte_serialize(s.as_bytes()).collect::<String>();
            format!(
                "Basic {}",
                Base64::encode_string(format!("{}:{}", enc(UP_CLIENT), enc(UP_SECRET)).as_bytes())
            )
        };
        let bad = |e: &str| UpstreamResponse {
            status: 400,
            body: json!({ "error": e }).to_string().into_bytes(),
        };
        if authorization != Some(expected_auth.as_str()) {
            return UpstreamResponse {
                status: 401,
                body: br#"{"error":"invalid_client"}"#.to_vec(),
            };
        }
        if get("grant_type").as_deref() != Some("authorization_code")
            || get("redirect_uri") != Some(format!("{ISSUER}/oidc/callback/idp"))
        {
            return bad("invalid_request");
        }
        let code = get("code").unwrap_or_default();
        let Some(i) = self.with(|s| s.codes.iter().position(|(c, _, _)| *c == code)) else {
            return bad("invalid_grant");
        };
        // Single use.
        let (_, challenge, nonce) = self.with(|s| s.codes.remove(i));
        let verifier = get("code_verifier").unwrap_or_default();
        if crate::oauth::pkce::s256_challenge(&verifier) != challenge {
            return bad("invalid_grant");
        }
        let id_token = self.with(|s| {
            let mut claims = json!({
                "iss": UP, "sub": USER, "aud": UP_CLIENT, "iat": T0 - 2, "exp": T0 + 600,
                "nonce": nonce, "email": "ann@example.com", "email_verified": true,
            });
            if let Value::Object(o) = &s.overrides {
                for (k, v) in o {
                    if v.is_null() {
                        claims.as_object_mut().expect("object").remove(k);
                    } else {
                        claims[k] = v.clone();
                    }
                }
            }
            let key = s.signer.clone().unwrap_or_else(|| s.jwks[0].clone());
            let header = s
                .header
                .clone()
                .unwrap_or_else(|| json!({"alg": "RS256", "kid": key.kid()}));
            sign_jwt(&key, &header.to_string(), &claims.to_string())
        });
        UpstreamResponse {
            status: 200,
            body: json!({"access_token": "upstream-at", "token_type": "Bearer",
                         "expires_in": 3600, "id_token": id_token})
            .to_string()
            .into_bytes(),
        }
    }
}

impl UpstreamHttp for FakeProvider {
    fn send<'a>(
        &'a self,
        provider: &'a OidcProvider,
        request: UpstreamRequest,
        max_len: usize,
    ) -> UpstreamFuture<'a> {
        assert_eq!(provider.id, "idp");
        assert_eq!(max_len, MAX_UPSTREAM_DOCUMENT);
        self.with(|s| s.hits.push(request.url().to_string()));
        let ok = |v: Value| UpstreamResponse {
            status: 200,
            body: v.to_string().into_bytes(),
        };
        let resp = match &request {
            UpstreamRequest::Get { url }
                if *url == format!("{UP}/.well-known/openid-configuration") =>
            {
                ok(self.with(|s| s.discovery.clone()))
            }
            UpstreamRequest::Get { url } if *url == format!("{UP}/jwks") => {
                let keys = self
                    .with(|s| {
                        crate::jose::KeySet::from_verifying_keys(
                            s.jwks.iter().map(|k| k.verifying_key().clone()).collect(),
                        )
                    })
                    .expect("keys");
                UpstreamResponse {
                    status: 200,
                    body: keys.to_jwks_json().into_bytes(),
                }
            }
            UpstreamRequest::PostForm {
                url,
                body,
                authorization,
            } if *url == format!("{UP}/token") => {
                self.token(body, authorization.as_deref().map(|a| a.as_str()))
            }
            _ => UpstreamResponse {
                status: 404,
                body: Vec::new(),
            },
        };
        Box::pin(core::future::ready(Ok(resp)))
    }
}

fn provider() -> OidcProvider {
    let mut p = OidcProvider::new("idp", "Example IdP", UP, UP_CLIENT);
    p.client_secret = Some(ClientSecret::new(UP_SECRET.into()));
    p
}

fn harness_with(
    fake: &FakeProvider,
    tweak: impl FnOnce(&mut crate::oauth::ServerConfig),
) -> Harness {
    let h = Harness::with(
        |c| {
            c.oidc = alloc::vec![provider()];
            tweak(c);
        },
        crate::store::MemoryStoreLimits::SERVER,
    );
    let Harness {
        server,
        keys,
        rng,
        now,
    } = h;
    Harness {
        server: server.with_upstream_http(fake.clone()),
        keys,
        rng,
        now,
    }
}

fn harness(fake: &FakeProvider) -> Harness {
    harness_with(fake, |_| {})
}

/// Our side up to the provider: the redirect there and the binding cookie.
struct Away {
    location: String,
    cookie: String,
}

fn leave(h: &mut Harness, client: &Client) -> Away {
    let flow = h.start(client, "");
    let resp = h.decide(&flow, "upstream=idp");
    assert_eq!(resp.status, 303, "{}", body_str(&resp));
    let location = resp.header("Location").expect("Location").to_string();
    let cookie = resp
        .headers
        .iter()
        .filter(|(n, _)| n.eq_ignore_ascii_case("set-cookie"))
        .map(|(_, v)| v.as_str())
        .find(|v| v.starts_with("mcpauth_oidc_"))
        .expect("binding cookie")
        .to_string();
    assert!(cookie.contains("HttpOnly") && cookie.contains("SameSite=Lax"));
    assert!(cookie.contains("Path=/oidc/callback/"));
    let cookie = cookie.split(';').next().expect("pair").to_string();
    Away { location, cookie }
}

fn callback(
    h: &mut Harness,
    path_provider: &str,
    query: &str,
    cookie: &str,
) -> crate::http::Response {
    h.send(
        crate::http::Request::new(
            crate::http::Method::Get,
            format!("/oidc/callback/{path_provider}"),
        )
        .with_query(query)
        .with_header("Cookie", cookie.to_string()),
    )
}

fn query(pairs: &[(&str, &str)]) -> String {
    let mut s = form_urlencoded::Serializer::new(String::new());
    for (k, v) in pairs {
        s.append_pair(k, v);
    }
    s.finish()
}

/// Leave, let the provider issue a code, come back: our answer.
fn round_trip(h: &mut Harness, fake: &FakeProvider, client: &Client) -> crate::http::Response {
    let away = leave(h, client);
    let (code, state) = fake.authorize(&away.location);
    callback(
        h,
        "idp",
        &query(&[("code", &code), ("state", &state)]),
        &away.cookie,
    )
}

fn assert_refused(resp: &crate::http::Response, status: u16, text: &str) {
    assert_eq!(resp.status, status, "{}", body_str(resp));
    assert!(resp.header("Location").is_none(), "no redirect");
    assert!(body_str(resp).contains(text), "{}", body_str(resp));
}

#[test]
fn the_page_lists_the_provider_and_the_whole_flow_works() {
    let fake = FakeProvider::new();
    let mut h = harness(&fake);
    let client = h.register_client("none");
    let resp = h.authorize(&standard_query(&client, ""));
    let page = body_str(&resp);
    assert!(page.contains("name=\"upstream\" value=\"idp\""), "{page}");
    assert!(page.contains("Continue with Example IdP"));
    assert!(
        page.contains("name=\"password\""),
        "local users still offered"
    );

    let resp = round_trip(&mut h, &fake, &client);
    assert_eq!(resp.status, 303, "{}", body_str(&resp));
    assert!(resp.header("Location").expect("loc").starts_with(REDIRECT));
    assert_eq!(location_param(&resp, "state").as_deref(), Some("xyz"));
    assert_eq!(location_param(&resp, "iss").as_deref(), Some(ISSUER));
    let code = location_param(&resp, "code").expect("code");
    let resp = h.exchange(&client, &code, "");
    assert_eq!(resp.status, 200, "{}", body_str(&resp));
    let at = json(&resp)["access_token"]
        .as_str()
        .expect("at")
        .to_string();
    assert!(
        !body_str(&resp).contains("upstream-at"),
        "upstream tokens never handed on"
    );
    let claims = at.split('.').nth(1).expect("jws");
    let claims: Value =
        serde_json::from_slice(&base64ct::Base64UrlUnpadded::decode_vec(claims).expect("b64"))
            .expect("json");
    assert_eq!(claims["sub"], upstream_subject(UP, USER));
    assert!(claims["sub"].as_str().expect("sub").starts_with("oidc:"));
    // Discovery and keys were fetched once and are cached.
    let _ = round_trip(&mut h, &fake, &client);
    assert_eq!(
        fake.hits(&format!("{UP}/.well-known/openid-configuration")),
        1
    );
    assert_eq!(fake.hits(&format!("{UP}/jwks")), 1);
}

#[test]
fn the_subject_is_stable_and_distinct() {
    let a = upstream_subject(UP, USER);
    assert_eq!(a, upstream_subject(UP, USER));
    assert_ne!(a, upstream_subject("https://other.example", USER));
    assert_ne!(a, upstream_subject(UP, "248289761002"));
    assert_eq!(a.len(), "oidc:".len() + 43);
}

#[test]
fn a_wrong_or_replayed_state_is_refused() {
    let fake = FakeProvider::new();
    let mut h = harness(&fake);
    let client = h.register_client("none");
    let away = leave(&mut h, &client);
    let (code, state) = fake.authorize(&away.location);
    let resp = callback(
        &mut h,
        "idp",
        &query(&[("code", &code), ("state", "forged")]),
        &away.cookie,
    );
    assert_refused(&resp, 400, "expired or was already used");
    let resp = callback(&mut h, "idp", &query(&[("code", &code)]), &away.cookie);
    assert_refused(&resp, 400, "incomplete");
    // The real state works once.
    let q = query(&[("code", &code), ("state", &state)]);
    assert_eq!(callback(&mut h, "idp", &q, &away.cookie).status, 303);
    let resp = callback(&mut h, "idp", &q, &away.cookie);
    assert_refused(&resp, 400, "expired or was already used");
}

#[test]
fn another_browser_or_another_provider_path_is_refused() {
    let fake = FakeProvider::new();
    let mut h = harness(&fake);
    let client = h.register_client("none");
    let away = leave(&mut h, &client);
    let (code, state) = fake.authorize(&away.location);
    let q = query(&[("code", &code), ("state", &state)]);
    let resp = callback(&mut h, "idp", &q, "mcpauth_oidc_x=y");
    assert_refused(&resp, 403, "not started in this browser");
    let resp = callback(&mut h, "other", &q, &away.cookie);
    assert_refused(&resp, 404, "not offered");
    // Neither used the sign-in up: the right browser still finishes it.
    assert_eq!(callback(&mut h, "idp", &q, &away.cookie).status, 303);
}

#[test]
fn the_form_request_leads_to_one_sign_in_only() {
    let fake = FakeProvider::new();
    let mut h = harness(&fake);
    let client = h.register_client("none");
    let flow = h.start(&client, "");
    assert_eq!(h.decide(&flow, "upstream=idp").status, 303);
    // The same form again, either way: used up.
    assert_refused(
        &h.decide(&flow, "upstream=idp"),
        400,
        "expired or was already used",
    );
    assert_refused(&h.approve(&flow), 400, "expired or was already used");
    // An unknown provider.
    let flow = h.start(&client, "");
    assert_refused(&h.decide(&flow, "upstream=nope"), 400, "not offered");
}

#[test]
fn upstream_error_is_a_clear_page_and_creates_nothing() {
    let fake = FakeProvider::new();
    let mut h = harness(&fake);
    let client = h.register_client("none");
    let away = leave(&mut h, &client);
    let (_, state) = fake.authorize(&away.location);
    let q = query(&[
        ("error", "access_denied"),
        ("error_description", "<script>x</script>"),
        ("state", &state),
    ]);
    let resp = callback(&mut h, "idp", &q, &away.cookie);
    assert_refused(
        &resp,
        403,
        "Example IdP did not sign you in (access_denied)",
    );
    assert!(!body_str(&resp).contains("<script>"));
    // No token request was made, and the sign-in is over.
    assert_eq!(fake.hits(&format!("{UP}/token")), 0);
    let resp = callback(&mut h, "idp", &q, &away.cookie);
    assert_refused(&resp, 400, "expired");
    // An odd error code is not echoed.
    let away = leave(&mut h, &client);
    let (_, state) = fake.authorize(&away.location);
    let q = query(&[("error", "bad\"<code>"), ("state", &state)]);
    let resp = callback(&mut h, "idp", &q, &away.cookie);
    assert_refused(&resp, 403, "did not sign you in.");
}

#[test]
fn id_token_refusals() {
    let cases: [(&str, Value, &str); 7] = [
        (
            "another issuer",
            json!({"iss": "https://evil.example"}),
            "could not be verified",
        ),
        (
            "another audience",
            json!({"aud": "someone-else"}),
            "could not be verified",
        ),
        (
            "expired",
            json!({"exp": T0 - 3600, "iat": T0 - 7200}),
            "could not be verified",
        ),
        (
            "issued long ago",
            json!({"iat": T0 - 3600}),
            "could not be verified",
        ),
        (
            "another nonce",
            json!({"nonce": "replayed-from-another-sign-in"}),
            "could not be verified",
        ),
        ("no nonce", json!({"nonce": null}), "could not be verified"),
        ("no sub", json!({"sub": null}), "could not be verified"),
    ];
    for (what, overrides, text) in cases {
        let fake = FakeProvider::new();
        fake.with(|s| s.overrides = overrides);
        let mut h = harness(&fake);
        let client = h.register_client("none");
        let resp = round_trip(&mut h, &fake, &client);
        assert_eq!(resp.status, 401, "{what}: {}", body_str(&resp));
        assert!(resp.header("Location").is_none(), "{what}");
        assert!(body_str(&resp).contains(text), "{what}");
    }
    // Forged: signed by a key the provider does not publish, under its kid.
    let fake = FakeProvider::new();
    fake.with(|s| {
        s.signer = Some(seeded_key(11));
        s.header = Some(json!({"alg": "RS256", "kid": rfc7515_a2_key().kid()}));
    });
    let mut h = harness(&fake);
    let client = h.register_client("none");
    assert_eq!(round_trip(&mut h, &fake, &client).status, 401);
    // alg none.
    fake.with(|s| {
        s.signer = None;
        s.header = Some(json!({"alg": "none"}));
    });
    assert_eq!(round_trip(&mut h, &fake, &client).status, 401);
}

#[test]
fn a_nonce_from_another_sign_in_is_refused() {
    // Two sign-ins; the provider answers the second with the first's nonce
    // (a replayed ID token).
    let fake = FakeProvider::new();
    let mut h = harness(&fake);
    let client = h.register_client("none");
    let first = leave(&mut h, &client);
    let (_, _) = fake.authorize(&first.location);
    let first_nonce = fake.with(|s| s.codes[0].2.clone());
    let second = leave(&mut h, &client);
    let (code, state) = fake.authorize(&second.location);
    fake.with(|s| s.overrides = json!({ "nonce": first_nonce }));
    let resp = callback(
        &mut h,
        "idp",
        &query(&[("code", &code), ("state", &state)]),
        &second.cookie,
    );
    assert_refused(&resp, 401, "could not be verified");
}

#[test]
fn a_rotated_provider_key_is_fetched_on_its_unknown_kid() {
    let fake = FakeProvider::new();
    let mut h = harness(&fake);
    let client = h.register_client("none");
    assert_eq!(round_trip(&mut h, &fake, &client).status, 303);
    let new_key = seeded_key(12);
    fake.with(|s| {
        s.jwks.push(new_key.clone());
        s.signer = Some(new_key.clone());
    });
    h.advance(31);
    assert_eq!(round_trip(&mut h, &fake, &client).status, 303);
    assert_eq!(fake.hits(&format!("{UP}/jwks")), 2);
    // A made-up kid right after: no third fetch (spaced), refused.
    fake.with(|s| s.header = Some(json!({"alg": "RS256", "kid": "made-up"})));
    assert_eq!(round_trip(&mut h, &fake, &client).status, 401);
    assert_eq!(fake.hits(&format!("{UP}/jwks")), 2);
}

#[test]
fn allow_lists_decide() {
    let fake = FakeProvider::new();
    let mut h = harness_with(&fake, |c| {
        c.oidc[0].allowed_email_domains = alloc::vec!["example.org".to_string()];
    });
    let client = h.register_client("none");
    let resp = round_trip(&mut h, &fake, &client);
    assert_refused(&resp, 403, "This Example IdP account is not allowed");
    fake.with(|s| s.overrides = json!({"email": "bob@example.org"}));
    assert_eq!(round_trip(&mut h, &fake, &client).status, 303);
    fake.with(|s| s.overrides = json!({"email": "bob@example.org", "email_verified": false}));
    assert_eq!(
        round_trip(&mut h, &fake, &client).status,
        403,
        "unverified email"
    );

    let fake = FakeProvider::new();
    let mut h = harness_with(&fake, |c| {
        c.oidc[0].required_claims = alloc::vec![("groups".to_string(), "mcp-users".to_string())];
    });
    let client = h.register_client("none");
    assert_eq!(round_trip(&mut h, &fake, &client).status, 403);
    fake.with(|s| s.overrides = json!({"groups": ["staff", "mcp-users"]}));
    assert_eq!(round_trip(&mut h, &fake, &client).status, 303);
}

#[test]
fn discovery_must_name_the_configured_issuer() {
    let fake = FakeProvider::new();
    fake.with(|s| s.discovery["issuer"] = json!("https://idp.example/"));
    let mut h = harness(&fake);
    let client = h.register_client("none");
    let flow = h.start(&client, "");
    let resp = h.decide(&flow, "upstream=idp");
    assert_refused(&resp, 502, "Sign-in with Example IdP is unavailable");
    // The form's request was not used up: password sign-in still works.
    assert_eq!(h.approve(&flow).status, 303);
    fake.with(|s| s.discovery["issuer"] = json!(UP));
    fake.with(|s| s.discovery["id_token_signing_alg_values_supported"] = json!(["ES256"]));
    let flow = h.start(&client, "");
    assert_eq!(h.decide(&flow, "upstream=idp").status, 502);
}

#[test]
fn rfc9207_iss_parameter_is_checked() {
    let fake = FakeProvider::new();
    fake.with(|s| s.discovery["authorization_response_iss_parameter_supported"] = json!(true));
    let mut h = harness(&fake);
    let client = h.register_client("none");
    let away = leave(&mut h, &client);
    let (code, state) = fake.authorize(&away.location);
    let resp = callback(
        &mut h,
        "idp",
        &query(&[
            ("code", &code),
            ("state", &state),
            ("iss", "https://evil.example"),
        ]),
        &away.cookie,
    );
    assert_refused(&resp, 400, "wrong place");
    let away = leave(&mut h, &client);
    let (code, state) = fake.authorize(&away.location);
    let resp = callback(
        &mut h,
        "idp",
        &query(&[("code", &code), ("state", &state)]),
        &away.cookie,
    );
    assert_refused(&resp, 400, "incomplete");
    let away = leave(&mut h, &client);
    let (code, state) = fake.authorize(&away.location);
    let resp = callback(
        &mut h,
        "idp",
        &query(&[("code", &code), ("state", &state), ("iss", UP)]),
        &away.cookie,
    );
    assert_eq!(resp.status, 303, "{}", body_str(&resp));
}

#[test]
fn an_expired_sign_in_is_refused() {
    let fake = FakeProvider::new();
    let mut h = harness(&fake);
    let client = h.register_client("none");
    let away = leave(&mut h, &client);
    let (code, state) = fake.authorize(&away.location);
    h.advance(601);
    let resp = callback(
        &mut h,
        "idp",
        &query(&[("code", &code), ("state", &state)]),
        &away.cookie,
    );
    assert_refused(&resp, 400, "expired");
}

#[test]
fn without_password_login_only_the_providers_sign_in() {
    let fake = FakeProvider::new();
    let mut h = harness_with(&fake, |c| c.password_login = false);
    let client = h.register_client("none");
    let resp = h.authorize(&standard_query(&client, ""));
    let page = body_str(&resp);
    assert!(!page.contains("name=\"password\""), "{page}");
    assert!(page.contains("value=\"deny\""));
    let flow = flow_from(&resp);
    assert_refused(&h.approve(&flow), 400, "methods the page offers");
    assert_eq!(round_trip(&mut h, &fake, &client).status, 303);
    // Deny still works.
    let flow = h.start(&client, "");
    let resp = h.decide(&flow, "decision=deny");
    assert_eq!(
        location_param(&resp, "error").as_deref(),
        Some("access_denied")
    );
}

#[test]
fn provider_settings_are_validated() {
    assert_eq!(provider().validate(), Ok(()));
    let bad = |f: fn(&mut OidcProvider)| {
        let mut p = provider();
        f(&mut p);
        p.validate().is_err()
    };
    assert!(bad(|p| p.id = "Google".into()));
    assert!(bad(|p| p.id = String::new()));
    assert!(bad(|p| p.issuer = "http://idp.example".into()));
    assert!(bad(|p| p.issuer = "https://idp.example#x".into()));
    assert!(bad(|p| p.client_secret = None));
    assert!(bad(|p| p.auth_method = TokenAuthMethod::None));
    assert!(bad(|p| p.scopes = alloc::vec!["email".into()]));
    assert!(bad(
        |p| p.allowed_email_domains = alloc::vec!["@x.com".into()]
    ));
    let mut local = provider();
    local.issuer = "http://127.0.0.1:3000".into();
    assert_eq!(local.validate(), Ok(()), "http on loopback");
    assert!(!format!("{local:?}").contains(UP_SECRET), "secret redacted");
    let mut c = crate::oauth::ServerConfig::new(ISSUER);
    c.oidc = alloc::vec![provider(), provider()];
    assert!(c.validate().is_err(), "ids are unique");
}
