//! The shared HTTP vectors (`tests/vectors/http.json`) and their runner,
//! so every host answers the same requests the same way: the core router
//! in process, `mcpauth serve` over HTTP, the embassy TAP devices over TCP.
//!
//! A case is a request (method, path, query, headers, body) and what the
//! answer must show: `status` (or one of `status_in`), exact `headers`,
//! `header_contains` / `header_lacks` (substrings), `absent` headers,
//! `json` (JSON pointer → value), `json_present` / `json_absent`
//! (pointers), `body_empty`. `origins` names the CORS configuration the
//! server under test runs with (`listed`, the default, or `any` = `*`);
//! `"clock": "unknown"` marks a case for a server that does not know the
//! time yet (run only against such a [`Target`], and only those run
//! there); `not_on` maps a shape (`all-in-one`, `fleet`) or a host (`core`,
//! `host-std`, `embassy`) to the reason the case cannot apply there.
//!
//! Placeholders (`{issuer}`, `{resource}`, `{metadata_url}`,
//! `{token:NAME}`) are filled from the [`Target`]; [`mint_tokens`] makes
//! the tokens from the issuer's keys.

use alloc::collections::BTreeMap;
use alloc::format;
use alloc::string::{String, ToString};
use alloc::vec::Vec;

use serde_json::Value;

use crate::http::{Method, Request};
use crate::jose::{AccessTokenClaims, Audience, KeySet, SigningKey};
use crate::rand::SecureRandom;

/// The vectors file.
pub const HTTP_VECTORS: &str = include_str!("../../../tests/vectors/http.json");

/// The browser origin the `listed` configuration allows.
pub const LISTED_ORIGIN: &str = "http://localhost:6274";

/// Which CORS configuration a server under test runs with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Origins {
    /// Only [`LISTED_ORIGIN`].
    Listed,
    /// `*`.
    Any,
}

impl Origins {
    /// The allowed-origins list to configure.
    pub fn list(self) -> &'static [&'static str] {
        match self {
            Origins::Listed => &[LISTED_ORIGIN],
            Origins::Any => &["*"],
        }
    }
}

/// One server under test.
#[derive(Debug, Clone)]
pub struct Target {
    /// `core`, `host-std` or `embassy`.
    pub host: &'static str,
    /// `all-in-one` or `fleet`.
    pub shape: &'static str,
    /// Its CORS configuration.
    pub origins: Origins,
    /// Whether it knows the wall clock (a device before SNTP does not).
    pub clock_known: bool,
    /// The issuer (`iss`).
    pub issuer: String,
    /// The MCP resource (`aud`).
    pub resource: String,
    /// Tokens by name ([`mint_tokens`]).
    pub tokens: BTreeMap<String, String>,
}

/// A request of a case, placeholders filled.
#[derive(Debug, Clone)]
pub struct VectorRequest {
    /// Method token.
    pub method: String,
    /// Path.
    pub path: String,
    /// Query string, without `?`.
    pub query: Option<String>,
    /// Header fields in order.
    pub headers: Vec<(String, String)>,
    /// Body bytes.
    pub body: Vec<u8>,
}

impl VectorRequest {
    /// The path with its query string.
    pub fn target(&self) -> String {
        match &self.query {
            Some(q) => format!("{}?{q}", self.path),
            None => self.path.clone(),
        }
    }

    /// The core request (what a host would build from the wire).
    pub fn to_core(&self) -> Request {
        let mut req = Request::new(Method::parse(&self.method), self.path.clone())
            .with_body(self.body.clone());
        req.query = self.query.clone();
        for (n, v) in &self.headers {
            req = req.with_header(n.clone(), v.clone());
        }
        req
    }
}

/// An answer as a client saw it.
#[derive(Debug, Clone)]
pub struct VectorResponse {
    /// Status code.
    pub status: u16,
    /// Header fields.
    pub headers: Vec<(String, String)>,
    /// Body bytes as received.
    pub body: Vec<u8>,
}

impl VectorResponse {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// The body as JSON: an SSE body's last `data:` line, else the body.
    fn json(&self) -> Option<Value> {
        let text = core::str::from_utf8(&self.body).ok()?;
        if let Some(data) = text.lines().rev().find_map(|l| l.strip_prefix("data:")) {
            return serde_json::from_str(data.trim()).ok();
        }
        serde_json::from_str(text).ok()
    }
}

/// One case of the file.
#[derive(Debug, Clone)]
pub struct Case {
    /// What it shows.
    pub name: String,
    raw: Value,
}

/// Every case of [`HTTP_VECTORS`].
pub fn cases() -> Vec<Case> {
    let doc: Value = serde_json::from_str(HTTP_VECTORS).unwrap_or(Value::Null);
    doc["cases"]
        .as_array()
        .map(|cases| {
            cases
                .iter()
                .map(|c| Case {
                    name: c["name"].as_str().unwrap_or("unnamed").to_string(),
                    raw: c.clone(),
                })
                .collect()
        })
        .unwrap_or_default()
}

impl Case {
    /// The CORS configuration the case needs.
    pub fn origins(&self) -> Origins {
        match self.raw["origins"].as_str() {
            Some("any") => Origins::Any,
            _ => Origins::Listed,
        }
    }

    /// Whether the case is for a server that does not know the time.
    pub fn clock_unknown(&self) -> bool {
        self.raw["clock"].as_str() == Some("unknown")
    }

    /// `Some(reason)` when the case says it cannot apply to `target`.
    pub fn not_on(&self, target: &Target) -> Option<String> {
        let not_on = self.raw["not_on"].as_object()?;
        [target.shape, target.host]
            .iter()
            .find_map(|k| not_on.get(*k))
            .map(|v| v.as_str().unwrap_or("").to_string())
    }

    /// The request, placeholders filled for `target`.
    pub fn request(&self, target: &Target) -> VectorRequest {
        let r = &self.raw["request"];
        let fill = |s: &str| fill(s, target);
        let mut headers = Vec::new();
        if let Some(h) = r["headers"].as_object() {
            for (n, v) in h {
                headers.push((n.clone(), fill(v.as_str().unwrap_or(""))));
            }
        }
        if let Some(list) = r["headers_list"].as_array() {
            for pair in list {
                headers.push((
                    pair[0].as_str().unwrap_or("").to_string(),
                    fill(pair[1].as_str().unwrap_or("")),
                ));
            }
        }
        let mut body = Vec::new();
        if let Some(text) = r["body"].as_str() {
            body.extend_from_slice(fill(text).as_bytes());
        } else if !r["body_json"].is_null() {
            body = r["body_json"].to_string().into_bytes();
        } else if let Some(parts) = r["body_parts"].as_array() {
            for part in parts {
                let text = part["text"].as_str().unwrap_or("");
                for _ in 0..part["times"].as_u64().unwrap_or(1) {
                    body.extend_from_slice(text.as_bytes());
                }
            }
        }
        VectorRequest {
            method: r["method"].as_str().unwrap_or("GET").to_string(),
            path: r["path"].as_str().unwrap_or("/").to_string(),
            query: r["query"].as_str().map(fill),
            headers,
            body,
        }
    }

    /// Check `resp` against the expectations; every mismatch is listed.
    pub fn check(&self, target: &Target, resp: &VectorResponse) -> Result<(), String> {
        let e = &self.raw["expect"];
        let fill = |s: &str| fill(s, target);
        let mut wrong = Vec::new();
        let status_ok = match (e["status"].as_u64(), e["status_in"].as_array()) {
            (Some(s), _) => u64::from(resp.status) == s,
            (None, Some(any)) => any
                .iter()
                .any(|s| s.as_u64() == Some(u64::from(resp.status))),
            (None, None) => true,
        };
        if !status_ok {
            wrong.push(format!("status {}", resp.status));
        }
        for (name, want) in e["headers"].as_object().into_iter().flatten() {
            let want = fill(want.as_str().unwrap_or(""));
            if resp.header(name) != Some(want.as_str()) {
                wrong.push(format!("{name}: {:?}, want {want:?}", resp.header(name)));
            }
        }
        for (name, parts) in e["header_contains"].as_object().into_iter().flatten() {
            let got = resp.header(name).unwrap_or("");
            for part in parts.as_array().into_iter().flatten() {
                let part = fill(part.as_str().unwrap_or(""));
                if !got
                    .to_ascii_lowercase()
                    .contains(&part.to_ascii_lowercase())
                {
                    wrong.push(format!("{name}: {got:?} lacks {part:?}"));
                }
            }
        }
        for (name, parts) in e["header_lacks"].as_object().into_iter().flatten() {
            let got = resp.header(name).unwrap_or("");
            for part in parts.as_array().into_iter().flatten() {
                let part = part.as_str().unwrap_or("");
                if got.contains(part) {
                    wrong.push(format!("{name}: {got:?} has {part:?}"));
                }
            }
        }
        for name in e["absent"].as_array().into_iter().flatten() {
            let name = name.as_str().unwrap_or("");
            if let Some(v) = resp.header(name) {
                wrong.push(format!("{name} present: {v:?}"));
            }
        }
        if e["body_empty"].as_bool() == Some(true) && !resp.body.is_empty() {
            wrong.push(format!("body not empty ({} bytes)", resp.body.len()));
        }
        let json = resp.json();
        let pointer = |p: &str| json.as_ref().and_then(|j| j.pointer(p));
        for (p, want) in e["json"].as_object().into_iter().flatten() {
            let want = match want {
                Value::String(s) => Value::String(fill(s)),
                other => other.clone(),
            };
            if pointer(p) != Some(&want) {
                wrong.push(format!("{p} = {:?}, want {want}", pointer(p)));
            }
        }
        for p in e["json_present"].as_array().into_iter().flatten() {
            let p = p.as_str().unwrap_or("");
            if pointer(p).is_none() {
                wrong.push(format!("{p} missing"));
            }
        }
        for p in e["json_absent"].as_array().into_iter().flatten() {
            let p = p.as_str().unwrap_or("");
            if pointer(p).is_some() {
                wrong.push(format!("{p} present"));
            }
        }
        if wrong.is_empty() {
            Ok(())
        } else {
            let body = String::from_utf8_lossy(&resp.body);
            let body: String = body.chars().take(300).collect();
            Err(format!(
                "{}: {} (status {}, headers {:?}, body {body})",
                self.name,
                wrong.join("; "),
                resp.status,
                resp.headers
            ))
        }
    }
}

fn fill(s: &str, target: &Target) -> String {
    let mut out = s
        .replace("{issuer}", &target.issuer)
        .replace("{resource}", &target.resource)
        .replace(
            "{metadata_url}",
            &super::protected_resource_metadata_url(&target.resource),
        );
    for (name, token) in &target.tokens {
        out = out.replace(&format!("{{token:{name}}}"), token);
    }
    out
}

/// The tokens the vectors name, signed by `keys` for `issuer` and
/// `resource` at `now` (Unix seconds): `valid`, `expired`,
/// `wrong_audience`, and `unknown_key` (signed by `stranger`).
pub fn mint_tokens(
    keys: &KeySet,
    stranger: &SigningKey,
    issuer: &str,
    resource: &str,
    now: u64,
    rng: &mut dyn SecureRandom,
) -> BTreeMap<String, String> {
    let base = AccessTokenClaims {
        iss: issuer.into(),
        sub: "vector-user".into(),
        aud: Audience::One(resource.into()),
        client_id: "vector-client".into(),
        scope: "mcp".into(),
        iat: now,
        exp: now + 600,
        jti: String::new(),
        extra: Default::default(),
    };
    let mut expired = base.clone();
    expired.iat = now - 7200;
    expired.exp = now - 3600;
    let mut wrong_audience = base.clone();
    wrong_audience.aud = Audience::One("https://elsewhere.example/mcp".into());
    let stranger = KeySet::new(stranger.clone());
    let mut out = BTreeMap::new();
    for (name, set, claims) in [
        ("valid", keys, &base),
        ("expired", keys, &expired),
        ("wrong_audience", keys, &wrong_audience),
        ("unknown_key", &stranger, &base),
    ] {
        if let Ok(token) = set.issue_access_token(claims, rng) {
            out.insert(name.to_string(), token);
        }
    }
    out
}

/// The outcome of running the cases against one target.
#[derive(Debug, Default)]
pub struct Report {
    /// Cases that passed.
    pub passed: usize,
    /// `(case, reason)` of cases declared not to apply to this target.
    pub not_applicable: Vec<(String, String)>,
    /// Failures, one line each.
    pub failures: Vec<String>,
}

impl Report {
    /// Record the result of one case.
    pub fn record(&mut self, result: Result<(), String>) {
        match result {
            Ok(()) => self.passed += 1,
            Err(e) => self.failures.push(e),
        }
    }

    /// A summary: counts, then every failure and every declared exclusion.
    pub fn summary(&self, target: &Target) -> String {
        let mut s = format!(
            "{} {} ({:?} origins, clock {}): {} passed, {} failed, {} not applicable",
            target.host,
            target.shape,
            target.origins,
            if target.clock_known {
                "known"
            } else {
                "unknown"
            },
            self.passed,
            self.failures.len(),
            self.not_applicable.len()
        );
        for f in &self.failures {
            s.push_str("\n  FAIL ");
            s.push_str(f);
        }
        for (name, why) in &self.not_applicable {
            s.push_str(&format!("\n  n/a  {name}: {why}"));
        }
        s
    }
}

/// The cases to run against `target`: those for its CORS configuration
/// and its clock; the ones declared not to apply are recorded in `report`
/// (a clock-unknown case, on a server that knows the time, among them).
pub fn cases_for(target: &Target, report: &mut Report) -> Vec<Case> {
    cases()
        .into_iter()
        .filter(|c| c.origins() == target.origins)
        .filter(|c| {
            let why = if c.clock_unknown() == target.clock_known {
                if !target.clock_known {
                    return false;
                }
                Some("needs a server that does not know the time".to_string())
            } else {
                c.not_on(target)
            };
            match why {
                Some(why) => {
                    report.not_applicable.push((c.name.clone(), why));
                    false
                }
                None => true,
            }
        })
        .collect()
}
