//! The OAuth walk every end-to-end test repeats, written once: register a
//! public client, GET /authorize, post the sign-in/consent form, redeem the
//! code, refresh, revoke, and call /mcp with the token.

use reqwest::header::HeaderMap;
use serde_json::{Value, json};

use super::{client, cookies, form, hidden, param, pkce, query_of};

/// The redirect URI every test client registers (loopback, nothing listens).
pub const REDIRECT: &str = "http://127.0.0.1:9/callback";
/// The password the tests give their users.
pub const PASSWORD: &str = "correct horse battery";

/// A public client as it talks to one server.
#[derive(Clone, Debug)]
pub struct Flow {
    pub http: reqwest::Client,
    /// Where requests go (one instance of a fleet, or the only server).
    pub base: String,
    /// The public URL: issuer, and `<public>/mcp` is the resource. Differs
    /// from `base` when several instances stand behind one URL.
    pub public: String,
    pub client_id: String,
}

/// Tokens from a successful grant.
#[derive(Debug)]
pub struct Tokens {
    pub access: String,
    pub refresh: String,
}

impl Tokens {
    /// The tokens of a 200 token-endpoint body.
    pub fn from_body(body: &Value) -> Tokens {
        Tokens {
            access: body["access_token"]
                .as_str()
                .expect("access_token")
                .to_owned(),
            refresh: body["refresh_token"]
                .as_str()
                .expect("refresh_token")
                .to_owned(),
        }
    }
}

/// An answer: status, headers, and the JSON body (`Null` when not JSON; for
/// a buffered SSE body, the JSON of its last `data:` line).
#[derive(Debug)]
pub struct Reply {
    pub status: u16,
    pub headers: HeaderMap,
    pub body: Value,
}

impl Reply {
    async fn read(r: reqwest::Response) -> Reply {
        let status = r.status().as_u16();
        let headers = r.headers().clone();
        let text = r.text().await.expect("body");
        Reply {
            status,
            headers,
            body: json_of(&text),
        }
    }

    /// The `Retry-After` header, if any.
    pub fn retry_after(&self) -> Option<&str> {
        self.headers
            .get("retry-after")
            .and_then(|v| v.to_str().ok())
    }
}

/// The JSON of a body that is either JSON or a buffered SSE stream.
pub fn json_of(text: &str) -> Value {
    let json_text = if text.starts_with('{') || text.is_empty() {
        text
    } else {
        text.lines()
            .filter_map(|l| l.strip_prefix("data:"))
            .map(str::trim)
            .next_back()
            .unwrap_or_default()
    };
    serde_json::from_str(json_text).unwrap_or(Value::Null)
}

/// POST /register with `body`.
pub async fn register(http: &reqwest::Client, base: &str, body: Value) -> Reply {
    let r = http
        .post(format!("{base}/register"))
        .header("content-type", "application/json")
        .body(body.to_string())
        .send()
        .await
        .expect("register");
    Reply::read(r).await
}

/// Register a public client for [`REDIRECT`]; returns its id.
pub async fn register_public_client(http: &reqwest::Client, base: &str) -> String {
    let r = register(
        http,
        base,
        json!({"redirect_uris": [REDIRECT], "token_endpoint_auth_method": "none",
               "grant_types": ["authorization_code", "refresh_token"],
               "client_name": "mcpauth tests"}),
    )
    .await;
    assert_eq!(r.status, 201, "{}", r.body);
    r.body["client_id"].as_str().expect("client_id").to_owned()
}

/// The sign-in page of GET /authorize.
#[derive(Debug)]
pub struct SignInPage {
    pub status: u16,
    pub headers: HeaderMap,
    pub html: String,
    pub cookie: String,
}

impl Flow {
    /// A client talking to the server at `base`, whose public URL it is.
    pub fn new(base: &str, client_id: &str) -> Flow {
        Flow::behind(base, base, client_id)
    }

    /// A client talking to instance `base` of a fleet published as `public`.
    pub fn behind(base: &str, public: &str, client_id: &str) -> Flow {
        Flow {
            http: client(),
            base: base.to_owned(),
            public: public.to_owned(),
            client_id: client_id.to_owned(),
        }
    }

    /// The resource every token is asked for.
    pub fn resource(&self) -> String {
        format!("{}/mcp", self.public)
    }

    /// The GET /authorize URL for scope `mcp` and this client's resource.
    pub fn authorize_url(&self, challenge: &str, state: &str) -> String {
        self.authorize_url_for(challenge, state, &self.resource(), "mcp")
    }

    /// The GET /authorize URL for `scope` at another configured `resource`.
    pub fn authorize_url_for(
        &self,
        challenge: &str,
        state: &str,
        resource: &str,
        scope: &str,
    ) -> String {
        let q = form(&[
            ("response_type", "code"),
            ("client_id", &self.client_id),
            ("redirect_uri", REDIRECT),
            ("code_challenge", challenge),
            ("code_challenge_method", "S256"),
            ("state", state),
            ("scope", scope),
            ("resource", resource),
        ]);
        format!("{}/authorize?{q}", self.base)
    }

    /// GET /authorize for scope `mcp` and this client's resource.
    pub async fn authorize(&self, challenge: &str, state: &str) -> SignInPage {
        self.open_sign_in(&self.authorize_url(challenge, state))
            .await
    }

    /// GET /authorize for `scope` at `resource`.
    pub async fn authorize_for(
        &self,
        challenge: &str,
        state: &str,
        resource: &str,
        scope: &str,
    ) -> SignInPage {
        self.open_sign_in(&self.authorize_url_for(challenge, state, resource, scope))
            .await
    }

    async fn open_sign_in(&self, url: &str) -> SignInPage {
        let r = self.http.get(url).send().await.expect("authorize");
        let status = r.status().as_u16();
        let headers = r.headers().clone();
        let cookie = cookies(&r);
        SignInPage {
            status,
            headers,
            html: r.text().await.expect("page"),
            cookie,
        }
    }

    /// POST the page's form with `fields` (the hidden `request_id` and
    /// `csrf` are added from the page).
    pub async fn submit(
        &self,
        page: &str,
        cookie: &str,
        fields: &[(&str, &str)],
    ) -> reqwest::Response {
        let request_id = hidden(page, "request_id");
        let csrf = hidden(page, "csrf");
        let mut pairs = vec![("request_id", request_id.as_str()), ("csrf", csrf.as_str())];
        pairs.extend_from_slice(fields);
        self.post_authorize(cookie, &pairs).await
    }

    /// POST /authorize with exactly `pairs` and `cookie` (forged forms).
    pub async fn post_authorize(&self, cookie: &str, pairs: &[(&str, &str)]) -> reqwest::Response {
        self.http
            .post(format!("{}/authorize", self.base))
            .header("content-type", "application/x-www-form-urlencoded")
            .header("cookie", cookie)
            .body(form(pairs))
            .send()
            .await
            .expect("post authorize")
    }

    /// POST the password sign-in/consent form.
    pub async fn decide(
        &self,
        page: &str,
        cookie: &str,
        username: &str,
        password: &str,
        decision: &str,
    ) -> reqwest::Response {
        self.submit(
            page,
            cookie,
            &[
                ("username", username),
                ("password", password),
                ("decision", decision),
            ],
        )
        .await
    }

    /// The code in a 303 redirect back to the client, after checking
    /// `state` and the RFC 9207 `iss`.
    pub fn code_from(&self, r: &reqwest::Response, state: &str) -> String {
        assert_eq!(r.status().as_u16(), 303);
        let location = r.headers()["location"].to_str().expect("location");
        assert!(location.starts_with(REDIRECT), "{location}");
        let q = query_of(location);
        assert_eq!(param(&q, "state").as_deref(), Some(state));
        assert_eq!(param(&q, "iss").as_deref(), Some(self.public.as_str()));
        param(&q, "code").expect("code")
    }

    /// Sign in as `username` and allow; returns the code.
    pub async fn sign_in(&self, challenge: &str, username: &str, password: &str) -> String {
        let page = self.authorize(challenge, "st-1").await;
        assert_eq!(page.status, 200, "{}", page.html);
        let r = self
            .decide(&page.html, &page.cookie, username, password, "allow")
            .await;
        self.code_from(&r, "st-1")
    }

    /// POST /token with `pairs`.
    pub async fn token(&self, pairs: &[(&str, &str)]) -> Reply {
        let r = self
            .http
            .post(format!("{}/token", self.base))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(form(pairs))
            .send()
            .await
            .expect("token");
        Reply::read(r).await
    }

    /// Redeem `code` with the PKCE `verifier`.
    pub async fn exchange(&self, code: &str, verifier: &str) -> Reply {
        self.token(&[
            ("grant_type", "authorization_code"),
            ("code", code),
            ("redirect_uri", REDIRECT),
            ("client_id", &self.client_id),
            ("code_verifier", verifier),
        ])
        .await
    }

    /// Rotate `refresh`.
    pub async fn refresh(&self, refresh: &str) -> Reply {
        self.token(&[
            ("grant_type", "refresh_token"),
            ("refresh_token", refresh),
            ("client_id", &self.client_id),
        ])
        .await
    }

    /// The whole grant as `username`: PKCE, sign-in, consent, redemption.
    pub async fn grant_as(&self, username: &str, password: &str) -> Tokens {
        let (verifier, challenge) = pkce();
        let code = self.sign_in(&challenge, username, password).await;
        self.redeem(&code, &verifier).await
    }

    /// The whole grant as `username` for `scope` at another configured
    /// `resource`; the consent page must name it as `display_name`.
    pub async fn grant_for(
        &self,
        resource: &str,
        scope: &str,
        display_name: &str,
        username: &str,
        password: &str,
    ) -> Tokens {
        let (verifier, challenge) = pkce();
        let page = self
            .authorize_for(&challenge, "st-r", resource, scope)
            .await;
        assert_eq!(page.status, 200, "{}", page.html);
        assert!(
            page.html.contains(display_name) && page.html.contains(resource),
            "the consent page names {display_name} ({resource}): {}",
            page.html
        );
        let r = self
            .decide(&page.html, &page.cookie, username, password, "allow")
            .await;
        let code = self.code_from(&r, "st-r");
        self.redeem(&code, &verifier).await
    }

    async fn redeem(&self, code: &str, verifier: &str) -> Tokens {
        let r = self.exchange(code, verifier).await;
        assert_eq!(r.status, 200, "{}", r.body);
        assert_eq!(
            r.body["token_type"]
                .as_str()
                .map(str::to_ascii_lowercase)
                .as_deref(),
            Some("bearer")
        );
        Tokens::from_body(&r.body)
    }

    /// RFC 7009 revocation of `token`; returns the status.
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

    /// The JWKS this server publishes.
    pub async fn jwks(&self) -> Value {
        let r = self
            .http
            .get(format!("{}/.well-known/jwks.json", self.base))
            .send()
            .await
            .expect("jwks");
        serde_json::from_slice(&r.bytes().await.expect("body")).expect("json")
    }

    /// POST /mcp with `body`, a bearer token and a session id, if any (with
    /// a session, the 2025-06-18 protocol version header too).
    pub async fn mcp(&self, token: Option<&str>, session: Option<&str>, body: Value) -> Reply {
        let mut req = self
            .http
            .post(format!("{}/mcp", self.base))
            .header("content-type", "application/json")
            .header("accept", "application/json, text/event-stream")
            .body(body.to_string());
        if let Some(t) = token {
            req = req.header("authorization", format!("Bearer {t}"));
        }
        if let Some(s) = session {
            req = req
                .header("mcp-session-id", s)
                .header("mcp-protocol-version", "2025-06-18");
        }
        Reply::read(req.send().await.expect("mcp")).await
    }

    /// initialize + initialized (protocol 2025-06-18); returns the session id.
    pub async fn session(&self, token: &str) -> String {
        let init = self
            .mcp(
                Some(token),
                None,
                json!({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
                    "protocolVersion": "2025-06-18", "capabilities": {},
                    "clientInfo": {"name": "e2e", "version": "1"}}}),
            )
            .await;
        assert_eq!(init.status, 200, "{}", init.body);
        assert_eq!(init.body["result"]["serverInfo"]["name"], "mcpauth");
        let session = init
            .headers
            .get("mcp-session-id")
            .and_then(|v| v.to_str().ok())
            .expect("Mcp-Session-Id")
            .to_owned();
        let note = self
            .mcp(
                Some(token),
                Some(&session),
                json!({"jsonrpc": "2.0", "method": "notifications/initialized"}),
            )
            .await;
        assert_eq!(note.status, 202);
        session
    }

    /// A new session, then `tools/call whoami` in it.
    pub async fn whoami(&self, token: &str) -> Reply {
        let session = self.session(token).await;
        self.mcp(
            Some(token),
            Some(&session),
            json!({"jsonrpc": "2.0", "id": 3, "method": "tools/call",
                   "params": {"name": "whoami", "arguments": {}}}),
        )
        .await
    }

    /// `tools/call whoami` without a session (stateless servers).
    pub async fn whoami_stateless(&self, token: &str) -> Reply {
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
        Reply::read(r).await
    }
}
