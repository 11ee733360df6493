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

/// Records the reason codes of refused upstream sign-ins (and `sign_in`
/// for a success).
#[derive(Clone, Default)]
struct Events(Arc<Mutex<Vec<&'static str>>>);

impl crate::oauth::OAuthObserver for Events {
    fn event(&self, event: &crate::oauth::OAuthEvent<'_>, _peer: Option<core::net::IpAddr>) {
        let code = match event {
            crate::oauth::OAuthEvent::UpstreamSignInFailed {
                provider, reason, ..
            } => {
                assert_eq!(*provider, "idp");
                reason.as_str()
            }
            crate::oauth::OAuthEvent::SignedIn { .. } => "sign_in",
            _ => return,
        };
        self.0.lock().expect("lock").push(code);
    }
}

/// One test's world: the fake provider, our server configured for it (with
/// an observer), and a registered public client.
struct Fixture {
    fake: FakeProvider,
    h: Harness,
    client: Client,
    events: Events,
}

/// A sign-in the provider answered: the binding cookie, the code and the
/// state.
struct Away {
    cookie: String,
    code: String,
    state: String,
}

impl Fixture {
    fn new() -> Fixture {
        Fixture::with(|_| {})
    }

    fn with(tweak: impl FnOnce(&mut crate::oauth::ServerConfig)) -> Fixture {
        let fake = FakeProvider::new();
        let events = Events::default();
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
        let mut h = Harness {
            server: server
                .with_upstream_http(fake.clone())
                .with_observer(events.clone()),
            keys,
            rng,
            now,
        };
        let client = h.register_client("none");
        Fixture {
            fake,
            h,
            client,
            events,
        }
    }

    /// Press "Continue with" on a new sign-in page: the redirect to the
    /// provider and the binding cookie (the provider not asked yet).
    fn leave(&mut self) -> (String, String) {
        let flow = self.h.start(&self.client, "");
        let resp = self.h.decide(&flow, "upstream=idp");
        assert_eq!(resp.status, 303, "{}", body_str(&resp));
        let location = resp.header("Location").expect("Location").to_string();
        let cookie = resp
            .headers
            .iter()
            .filter(|(n, _)| n.eq_ignore_ascii_case("set-cookie"))
            .map(|(_, v)| v.as_ref())
            .find(|v| v.starts_with("mcpauth_oidc_"))
            .expect("binding cookie")
            .to_string();
        assert!(cookie.contains("HttpOnly") && cookie.contains("SameSite=Lax"));
        assert!(cookie.contains("Path=/oidc/callback/"));
        let cookie = cookie.split(';').next().expect("pair").to_string();
        (location, cookie)
    }

    /// [`Fixture::leave`], then the provider issues a code.
    fn away(&mut self) -> Away {
        let (location, cookie) = self.leave();
        let (code, state) = self.fake.authorize(&location);
        Away {
            cookie,
            code,
            state,
        }
    }

    /// `GET /oidc/callback/<path_provider>?<pairs>` with `cookie`.
    fn callback_at(
        &mut self,
        path_provider: &str,
        pairs: &[(&str, &str)],
        cookie: &str,
    ) -> crate::http::Response {
        self.h.send(
            crate::http::Request::new(
                crate::http::Method::Get,
                format!("/oidc/callback/{path_provider}"),
            )
            .with_query(query(pairs))
            .with_header("Cookie", cookie),
        )
    }

    /// The callback of provider `idp`.
    fn callback(&mut self, pairs: &[(&str, &str)], cookie: &str) -> crate::http::Response {
        self.callback_at("idp", pairs, cookie)
    }

    /// Leave, let the provider issue a code, come back: our answer.
    fn round_trip(&mut self) -> crate::http::Response {
        let away = self.away();
        self.callback(
            &[("code", &away.code), ("state", &away.state)],
            &away.cookie,
        )
    }

    /// The reason codes reported since the last call.
    fn reasons(&self) -> Vec<&'static str> {
        core::mem::take(&mut *self.events.0.lock().expect("lock"))
    }
}

fn query(pairs: &[(&str, &str)]) -> String {
    let mut s = form_urlencoded::Serializer::new(String::new());
    for (k, v) in pairs {
        s.append_pair(k, v);
    }
    s.finish()
}

fn assert_refused(resp: &crate::http::Response, status: u16, text: &str) {
    assert_eq!(resp.status, status, "{}", body_str(resp));
    assert!(resp.header("Location").is_none(), "no redirect");
    assert!(body_str(resp).contains(text), "{}", body_str(resp));
}

#[test]
fn the_page_lists_the_provider_and_the_whole_flow_works() {
    let mut f = Fixture::new();
    let resp = f.h.authorize(&standard_query(&f.client, ""));
    let page = body_str(&resp);
    assert!(page.contains("name=\"upstream\" value=\"idp\""), "{page}");
    assert!(page.contains("Continue with Example IdP"));
    assert!(
        page.contains("name=\"password\""),
        "local users still offered"
    );

    let resp = f.round_trip();
    assert_eq!(resp.status, 303, "{}", body_str(&resp));
    assert!(resp.header("Location").expect("loc").starts_with(REDIRECT));
    assert_eq!(location_param(&resp, "state").as_deref(), Some("xyz"));
    assert_eq!(location_param(&resp, "iss").as_deref(), Some(ISSUER));
    let code = location_param(&resp, "code").expect("code");
    let client = f.client.clone();
    let resp = f.h.exchange(&client, &code, "");
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
    let _ = f.round_trip();
    assert_eq!(
        f.fake
            .hits(&format!("{UP}/.well-known/openid-configuration")),
        1
    );
    assert_eq!(f.fake.hits(&format!("{UP}/jwks")), 1);
    assert_eq!(f.reasons(), ["sign_in", "sign_in"], "no refusal reported");
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
    let mut f = Fixture::new();
    let away = f.away();
    let resp = f.callback(&[("code", &away.code), ("state", "forged")], &away.cookie);
    assert_refused(&resp, 400, "expired or was already used");
    let resp = f.callback(&[("code", &away.code)], &away.cookie);
    assert_refused(&resp, 400, "incomplete");
    // The real state works once.
    let q = [("code", away.code.as_str()), ("state", away.state.as_str())];
    assert_eq!(f.callback(&q, &away.cookie).status, 303);
    let resp = f.callback(&q, &away.cookie);
    assert_refused(&resp, 400, "expired or was already used");
    assert_eq!(
        f.reasons(),
        ["state_unknown", "state_missing", "sign_in", "state_unknown"]
    );
}

#[test]
fn another_browser_or_another_provider_path_is_refused() {
    let mut f = Fixture::new();
    let away = f.away();
    let q = [("code", away.code.as_str()), ("state", away.state.as_str())];
    let resp = f.callback(&q, "mcpauth_oidc_x=y");
    assert_refused(&resp, 403, "not started in this browser");
    let resp = f.callback_at("other", &q, &away.cookie);
    assert_refused(&resp, 404, "not offered");
    // Neither used the sign-in up: the right browser still finishes it.
    assert_eq!(f.callback(&q, &away.cookie).status, 303);
    // An unconfigured provider's path names no provider: not reported.
    assert_eq!(f.reasons(), ["browser_mismatch", "sign_in"]);
}

#[test]
fn the_form_request_leads_to_one_sign_in_only() {
    let mut f = Fixture::new();
    let client = f.client.clone();
    let flow = f.h.start(&client, "");
    assert_eq!(f.h.decide(&flow, "upstream=idp").status, 303);
    // The same form again, either way: used up.
    assert_refused(
        &f.h.decide(&flow, "upstream=idp"),
        400,
        "expired or was already used",
    );
    assert_refused(&f.h.approve(&flow), 400, "expired or was already used");
    // An unknown provider.
    let flow = f.h.start(&client, "");
    assert_refused(&f.h.decide(&flow, "upstream=nope"), 400, "not offered");
}

#[test]
fn upstream_error_is_a_clear_page_and_creates_nothing() {
    let mut f = Fixture::new();
    let away = f.away();
    let q = [
        ("error", "access_denied"),
        ("error_description", "<script>x</script>"),
        ("state", away.state.as_str()),
    ];
    let resp = f.callback(&q, &away.cookie);
    assert_refused(
        &resp,
        403,
        "Example IdP did not sign you in (access_denied)",
    );
    assert!(!body_str(&resp).contains("<script>"));
    // No token request was made, and the sign-in is over.
    assert_eq!(f.fake.hits(&format!("{UP}/token")), 0);
    let resp = f.callback(&q, &away.cookie);
    assert_refused(&resp, 400, "expired");
    // An odd error code is not echoed.
    let away = f.away();
    let q = [("error", "bad\"<code>"), ("state", away.state.as_str())];
    let resp = f.callback(&q, &away.cookie);
    assert_refused(&resp, 403, "did not sign you in.");
    assert_eq!(
        f.reasons(),
        ["upstream_error", "state_unknown", "upstream_error"]
    );
}

#[test]
fn id_token_refusals() {
    let cases: [(&str, Value, &str); 7] = [
        (
            "another issuer",
            json!({"iss": "https://evil.example"}),
            "id_token_issuer",
        ),
        (
            "another audience",
            json!({"aud": "someone-else"}),
            "id_token_audience",
        ),
        (
            "expired",
            json!({"exp": T0 - 3600, "iat": T0 - 7200}),
            "id_token_expired",
        ),
        (
            "issued long ago",
            json!({"iat": T0 - 3600}),
            "id_token_expired",
        ),
        (
            "another nonce",
            json!({"nonce": "replayed-from-another-sign-in"}),
            "id_token_nonce",
        ),
        ("no nonce", json!({"nonce": null}), "id_token_nonce"),
        ("no sub", json!({"sub": null}), "id_token_invalid"),
    ];
    for (what, overrides, reason) in cases {
        let mut f = Fixture::new();
        f.fake.with(|s| s.overrides = overrides);
        let resp = f.round_trip();
        assert_eq!(resp.status, 401, "{what}: {}", body_str(&resp));
        assert!(resp.header("Location").is_none(), "{what}");
        assert!(body_str(&resp).contains("could not be verified"), "{what}");
        assert_eq!(f.reasons(), [reason], "{what}");
    }
    // Forged: signed by a key the provider does not publish, under its kid.
    let mut f = Fixture::new();
    f.fake.with(|s| {
        s.signer = Some(seeded_key(11));
        s.header = Some(json!({"alg": "RS256", "kid": rfc7515_a2_key().kid()}));
    });
    assert_eq!(f.round_trip().status, 401);
    // alg none.
    f.fake.with(|s| {
        s.signer = None;
        s.header = Some(json!({"alg": "none"}));
    });
    assert_eq!(f.round_trip().status, 401);
    assert_eq!(f.reasons(), ["id_token_signature", "id_token_invalid"]);
}

#[test]
fn a_nonce_from_another_sign_in_is_refused() {
    // Two sign-ins; the provider answers the second with the first's nonce
    // (a replayed ID token).
    let mut f = Fixture::new();
    let _first = f.away();
    let first_nonce = f.fake.with(|s| s.codes[0].2.clone());
    let second = f.away();
    f.fake
        .with(|s| s.overrides = json!({ "nonce": first_nonce }));
    let resp = f.callback(
        &[("code", &second.code), ("state", &second.state)],
        &second.cookie,
    );
    assert_refused(&resp, 401, "could not be verified");
    assert_eq!(f.reasons(), ["id_token_nonce"]);
}

#[test]
fn a_rotated_provider_key_is_fetched_on_its_unknown_kid() {
    let mut f = Fixture::new();
    assert_eq!(f.round_trip().status, 303);
    let new_key = seeded_key(12);
    f.fake.with(|s| {
        s.jwks.push(new_key.clone());
        s.signer = Some(new_key.clone());
    });
    f.h.advance(31);
    assert_eq!(f.round_trip().status, 303);
    assert_eq!(f.fake.hits(&format!("{UP}/jwks")), 2);
    // A made-up kid right after: no third fetch (spaced), refused.
    f.fake
        .with(|s| s.header = Some(json!({"alg": "RS256", "kid": "made-up"})));
    assert_eq!(f.round_trip().status, 401);
    assert_eq!(f.fake.hits(&format!("{UP}/jwks")), 2);
    assert_eq!(f.reasons(), ["sign_in", "sign_in", "id_token_signature"]);
}

#[test]
fn allow_lists_decide() {
    let mut f = Fixture::with(|c| {
        c.oidc[0].allowed_email_domains = alloc::vec!["example.org".to_string()];
    });
    let resp = f.round_trip();
    assert_refused(&resp, 403, "This Example IdP account is not allowed");
    f.fake
        .with(|s| s.overrides = json!({"email": "bob@example.org"}));
    assert_eq!(f.round_trip().status, 303);
    f.fake
        .with(|s| s.overrides = json!({"email": "bob@example.org", "email_verified": false}));
    assert_eq!(f.round_trip().status, 403, "unverified email");
    assert_eq!(f.reasons(), ["not_allowed", "sign_in", "not_allowed"]);

    let mut f = Fixture::with(|c| {
        c.oidc[0].required_claims = alloc::vec![("groups".to_string(), "mcp-users".to_string())];
    });
    assert_eq!(f.round_trip().status, 403);
    f.fake
        .with(|s| s.overrides = json!({"groups": ["staff", "mcp-users"]}));
    assert_eq!(f.round_trip().status, 303);
}

#[test]
fn discovery_must_name_the_configured_issuer() {
    let mut f = Fixture::new();
    f.fake
        .with(|s| s.discovery["issuer"] = json!("https://idp.example/"));
    let client = f.client.clone();
    let flow = f.h.start(&client, "");
    let resp = f.h.decide(&flow, "upstream=idp");
    assert_refused(&resp, 502, "Sign-in with Example IdP is unavailable");
    // The form's request was not used up: password sign-in still works.
    assert_eq!(f.h.approve(&flow).status, 303);
    f.fake.with(|s| s.discovery["issuer"] = json!(UP));
    f.fake
        .with(|s| s.discovery["id_token_signing_alg_values_supported"] = json!(["ES256"]));
    let flow = f.h.start(&client, "");
    assert_eq!(f.h.decide(&flow, "upstream=idp").status, 502);
    assert_eq!(
        f.reasons(),
        ["provider_unavailable", "sign_in", "provider_unavailable"]
    );
}

#[test]
fn rfc9207_iss_parameter_is_checked() {
    let mut f = Fixture::new();
    f.fake
        .with(|s| s.discovery["authorization_response_iss_parameter_supported"] = json!(true));
    let away = f.away();
    let resp = f.callback(
        &[
            ("code", &away.code),
            ("state", &away.state),
            ("iss", "https://evil.example"),
        ],
        &away.cookie,
    );
    assert_refused(&resp, 400, "wrong place");
    let away = f.away();
    let resp = f.callback(
        &[("code", &away.code), ("state", &away.state)],
        &away.cookie,
    );
    assert_refused(&resp, 400, "incomplete");
    let away = f.away();
    let resp = f.callback(
        &[("code", &away.code), ("state", &away.state), ("iss", UP)],
        &away.cookie,
    );
    assert_eq!(resp.status, 303, "{}", body_str(&resp));
    assert_eq!(
        f.reasons(),
        ["issuer_mismatch", "issuer_mismatch", "sign_in"]
    );
}

#[test]
fn an_expired_sign_in_is_refused() {
    let mut f = Fixture::new();
    let away = f.away();
    f.h.advance(601);
    let resp = f.callback(
        &[("code", &away.code), ("state", &away.state)],
        &away.cookie,
    );
    assert_refused(&resp, 400, "expired");
    assert_eq!(f.reasons(), ["state_unknown"]);
}

#[test]
fn without_password_login_only_the_providers_sign_in() {
    let mut f = Fixture::with(|c| c.password_login = false);
    let resp = f.h.authorize(&standard_query(&f.client, ""));
    let page = body_str(&resp);
    assert!(!page.contains("name=\"password\""), "{page}");
    assert!(page.contains("value=\"deny\""));
    let flow = flow_from(&resp);
    assert_refused(&f.h.approve(&flow), 400, "methods the page offers");
    assert_eq!(f.round_trip().status, 303);
    // Deny still works.
    let client = f.client.clone();
    let flow = f.h.start(&client, "");
    let resp = f.h.decide(&flow, "decision=deny");
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
