//! One public client walking the OAuth flow of a running `mcpauth` over
//! HTTP: sign-in and consent, code exchange, refresh, revocation,
//! introspection, and a `whoami` tool call with the access token.
#![allow(dead_code)]

use serde_json::{Value, json};

use crate::common::*;

pub const REDIRECT: &str = "http://127.0.0.1:9/callback";
pub const PASSWORD: &str = "correct horse battery";

/// One instance as a client sees it: its own address, the fleet's public URL.
#[derive(Clone)]
pub struct At {
    pub http: reqwest::Client,
    pub base: String,
    pub public: String,
    pub client_id: String,
}

impl At {
    pub fn new(base: &str, public: &str, client_id: &str) -> At {
        At {
            http: client(),
            base: base.to_owned(),
            public: public.to_owned(),
            client_id: client_id.to_owned(),
        }
    }

    /// Sign in as alice and consent at this instance; returns the code.
    pub async fn code(&self, challenge: &str) -> String {
        self.code_as("alice", PASSWORD, challenge).await
    }

    /// Sign in as `username` and consent; returns the code.
    pub async fn code_as(&self, username: &str, password: &str, challenge: &str) -> String {
        let page = self.sign_in_page(challenge).await;
        let r = self.sign_in(&page, username, password).await;
        assert_eq!(r.status().as_u16(), 303);
        let location = r.headers()["location"].to_str().expect("loc").to_owned();
        let q = query_of(&location);
        assert_eq!(param(&q, "iss").as_deref(), Some(self.public.as_str()));
        param(&q, "code").expect("code")
    }

    /// `GET /authorize` for a standard request with `challenge`, as sent.
    pub async fn authorize(&self, challenge: &str) -> reqwest::Response {
        let q = form(&[
            ("response_type", "code"),
            ("client_id", &self.client_id),
            ("redirect_uri", REDIRECT),
            ("code_challenge", challenge),
            ("code_challenge_method", "S256"),
            ("state", "st"),
            ("scope", "mcp"),
            ("resource", &format!("{}/mcp", self.public)),
        ]);
        self.http
            .get(format!("{}/authorize?{q}", self.base))
            .send()
            .await
            .expect("authorize")
    }

    /// The sign-in page of a fresh authorization request.
    pub async fn sign_in_page(&self, challenge: &str) -> SignInPage {
        let r = self.authorize(challenge).await;
        assert_eq!(r.status().as_u16(), 200);
        let cookie = cookies(&r);
        let page = r.text().await.expect("page");
        SignInPage {
            cookie,
            request_id: hidden(&page, "request_id"),
            csrf: hidden(&page, "csrf"),
        }
    }

    /// Submit credentials (and consent) on `page`; the answer as sent.
    pub async fn sign_in(
        &self,
        page: &SignInPage,
        username: &str,
        password: &str,
    ) -> reqwest::Response {
        let body = form(&[
            ("request_id", &page.request_id),
            ("csrf", &page.csrf),
            ("username", username),
            ("password", password),
            ("decision", "allow"),
        ]);
        self.http
            .post(format!("{}/authorize", self.base))
            .header("content-type", "application/x-www-form-urlencoded")
            .header("cookie", &page.cookie)
            .body(body)
            .send()
            .await
            .expect("decide")
    }

    pub async fn token(&self, pairs: &[(&str, &str)]) -> (u16, Value) {
        let r = self
            .http
            .post(format!("{}/token", self.base))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(form(pairs))
            .send()
            .await
            .expect("token");
        let status = r.status().as_u16();
        let body = serde_json::from_slice(&r.bytes().await.expect("body")).unwrap_or(Value::Null);
        (status, body)
    }

    pub async fn exchange(&self, code: &str, verifier: &str) -> (u16, Value) {
        self.token(&[
            ("grant_type", "authorization_code"),
            ("code", code),
            ("redirect_uri", REDIRECT),
            ("client_id", &self.client_id),
            ("code_verifier", verifier),
        ])
        .await
    }

    pub async fn refresh(&self, refresh: &str) -> (u16, Value) {
        self.token(&[
            ("grant_type", "refresh_token"),
            ("refresh_token", refresh),
            ("client_id", &self.client_id),
        ])
        .await
    }

    /// tools/call whoami (stateless MCP).
    pub async fn whoami(&self, token: &str) -> (u16, Value) {
        let r = self
            .http
            .post(format!("{}/mcp", self.base))
            .header("content-type", "application/json")
            .header("accept", "application/json, text/event-stream")
            .header("mcp-protocol-version", "2025-06-18")
            .header("authorization", format!("Bearer {token}"))
            .body(
                json!({"jsonrpc": "2.0", "id": 1, "method": "tools/call",
                       "params": {"name": "whoami", "arguments": {}}})
                .to_string(),
            )
            .send()
            .await
            .expect("mcp");
        let status = r.status().as_u16();
        let text = r.text().await.expect("body");
        let json = if text.starts_with('{') {
            text
        } else {
            text.lines()
                .filter_map(|l| l.strip_prefix("data:"))
                .map(str::trim)
                .next_back()
                .unwrap_or_default()
                .to_owned()
        };
        (status, serde_json::from_str(&json).unwrap_or(Value::Null))
    }

    pub async fn revoke(&self, token: &str) -> u16 {
        self.http
            .post(format!("{}/revoke", self.base))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(form(&[("token", token), ("client_id", &self.client_id)]))
            .send()
            .await
            .expect("revoke")
            .status()
            .as_u16()
    }

    /// RFC 7662 introspection of `token` by this public client.
    pub async fn introspect(&self, token: &str) -> Value {
        let r = self
            .http
            .post(format!("{}/introspect", self.base))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(form(&[("token", token), ("client_id", &self.client_id)]))
            .send()
            .await
            .expect("introspect");
        assert_eq!(r.status().as_u16(), 200);
        serde_json::from_slice(&r.bytes().await.expect("body")).expect("json")
    }

    pub async fn jwks(&self) -> Value {
        let r = self
            .http
            .get(format!("{}/.well-known/jwks.json", self.base))
            .send()
            .await
            .expect("jwks");
        serde_json::from_slice(&r.bytes().await.expect("body")).expect("json")
    }
}

/// A sign-in form: its cookie and hidden fields.
#[derive(Debug, Clone)]
pub struct SignInPage {
    pub cookie: String,
    pub request_id: String,
    pub csrf: String,
}

pub fn tokens(body: &Value) -> (String, String) {
    (
        body["access_token"].as_str().expect("access").to_owned(),
        body["refresh_token"].as_str().expect("refresh").to_owned(),
    )
}

/// Register a public client (`none`, code + refresh grants) at `base`;
/// returns its `client_id`.
pub async fn register_public(http: &reqwest::Client, base: &str) -> String {
    let r = http
        .post(format!("{base}/register"))
        .header("content-type", "application/json")
        .body(
            json!({"redirect_uris": [REDIRECT], "client_name": "flow",
                   "token_endpoint_auth_method": "none",
                   "grant_types": ["authorization_code", "refresh_token"]})
            .to_string(),
        )
        .send()
        .await
        .expect("register");
    assert_eq!(r.status().as_u16(), 201);
    let reg: Value = serde_json::from_slice(&r.bytes().await.expect("body")).expect("json");
    reg["client_id"].as_str().expect("client_id").to_owned()
}
