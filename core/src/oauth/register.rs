//! `POST /register`: RFC 7591 dynamic client registration.
//!
//! Rules: a JSON object; `redirect_uris` required, each of an allowed
//! shape (RFC 9700 §4.1.1, §4.11.2: whatever is registered here, this
//! server will send browsers to):
//! - https with a host;
//! - http on a loopback host (any port, RFC 8252 §7.3);
//! - when `application_type` is `native`, a private-use scheme in
//!   reverse-DNS form (`com.example.app:`, RFC 8252 §7.1), or one of
//!   [`super::ServerConfig::native_redirect_schemes`]. A scheme without a
//!   dot could name an operating-system handler (`search-ms:`, `ms-msdt:`)
//!   that turns a redirect into an attack on the user's machine.
//!
//! Never a fragment, never a `\` (browsers read it as `/`, so the URI
//! would not go where it reads).
//! `grant_types`/`response_types` are consistent subsets of what we support.
//! `token_endpoint_auth_method` is honoured: `none` makes a public client,
//! `client_secret_basic`/`client_secret_post` a confidential one with a
//! 256-bit secret of which only the hash is stored. Requested scopes we
//! do not serve are dropped, not refused (RFC 7591 §3.2.1: the server may
//! replace values); the response carries the accepted metadata.
//!
//! A client no user has authorized yet is *unused*: it is removed after
//! [`super::ServerConfig::unused_client_ttl`], and at most
//! [`super::ServerConfig::max_unused_clients`] are kept (each registration
//! evicts the oldest past that). The first code issued to a client marks it
//! used, for good.

// Without `issuer` only the registration rules are built (static clients
// go through them); the endpoint, an `AuthorizationServer` method, is not.
#![cfg_attr(not(feature = "issuer"), allow(unused_imports, dead_code))]

use alloc::string::{String, ToString};
use alloc::vec::Vec;

use serde_json::{Map, Value, json};

#[cfg(feature = "issuer")]
use super::AuthorizationServer;
use super::config::{is_loopback_host, split_url};
use super::wire::{no_store, parse_scope};
use super::{Env, OAuthError, OAuthEvent, RegistrationPolicy, Throttle};
use crate::http::{Request, Response};
use crate::rand::random_token;
use crate::store::{ClientAuthMethod, ClientRecord, Store, hash_secret};

/// Most redirect URIs per client.
const MAX_REDIRECT_URIS: usize = 16;
/// Longest redirect URI.
const MAX_URI_LEN: usize = 2048;
/// Longest client name.
const MAX_NAME_LEN: usize = 200;

/// Schemes that are never acceptable as private-use redirect schemes.
const FORBIDDEN_SCHEMES: [&str; 8] = [
    "javascript",
    "data",
    "file",
    "vbscript",
    "about",
    "blob",
    "ftp",
    "ws",
];

/// Control and bidirectional-override characters, which could make a
/// client name on the consent page read as something else.
fn is_deceptive(c: char) -> bool {
    c.is_control() || matches!(c, '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}')
}

fn metadata(msg: &'static str) -> OAuthError {
    OAuthError::InvalidClientMetadata(msg)
}

fn string_list(obj: &Map<String, Value>, key: &str) -> Result<Option<Vec<String>>, OAuthError> {
    match obj.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Array(items)) => {
            if items.len() > MAX_REDIRECT_URIS {
                return Err(metadata("too many values in a list"));
            }
            let mut out = Vec::new();
            for v in items {
                let s = v.as_str().ok_or(metadata("lists must hold strings"))?;
                if !out.iter().any(|o: &String| o == s) {
                    out.push(String::from(s));
                }
            }
            Ok(Some(out))
        }
        Some(_) => Err(metadata("expected a list of strings")),
    }
}

pub(super) fn string_field<'a>(
    obj: &'a Map<String, Value>,
    key: &str,
) -> Result<Option<&'a str>, OAuthError> {
    match obj.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s)),
        Some(_) => Err(metadata("expected a string")),
    }
}

/// A private-use scheme in reverse-DNS form: at least two non-empty
/// dot-separated labels of letters, digits and `-` (RFC 8252 §7.1).
fn is_reverse_dns_scheme(scheme: &str) -> bool {
    let mut labels = 0;
    for label in scheme.split('.') {
        if label.is_empty()
            || !label
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-')
        {
            return false;
        }
        labels += 1;
    }
    labels >= 2
}

/// Check one redirect URI against the rules above.
fn check_redirect_uri(uri: &str, native: bool, extra_schemes: &[String]) -> Result<(), OAuthError> {
    let bad = OAuthError::InvalidRedirectUri;
    if uri.len() > MAX_URI_LEN {
        return Err(bad("redirect URI too long"));
    }
    if uri.contains('\\') {
        return Err(bad("redirect URI must not contain a backslash"));
    }
    let Some(u) = split_url(uri) else {
        return Err(bad("redirect URI is not an absolute URI"));
    };
    if u.has_fragment {
        return Err(bad("redirect URI must not have a fragment"));
    }
    let scheme = u.scheme.to_ascii_lowercase();
    match scheme.as_str() {
        "https" if !u.host.is_empty() => Ok(()),
        "https" => Err(bad("https redirect URI without a host")),
        "http" if is_loopback_host(u.host) => Ok(()),
        "http" => Err(bad("http redirect URIs are allowed only on loopback")),
        s if FORBIDDEN_SCHEMES.contains(&s) || s == "wss" => {
            Err(bad("this redirect URI scheme is not allowed"))
        }
        _ if !native => Err(bad("private-use schemes need application_type native")),
        s if is_reverse_dns_scheme(s)
            || extra_schemes.iter().any(|x| x.eq_ignore_ascii_case(s)) =>
        {
            Ok(())
        }
        _ => Err(bad(
            "private-use redirect schemes must be in reverse-DNS form (com.example.app)",
        )),
    }
}

/// The metadata a client document declares (a registration request or a
/// client ID metadata document), checked against the rules above.
pub(super) struct ClientMetadata {
    pub native: bool,
    pub redirect_uris: Vec<String>,
    pub grant_types: Vec<String>,
    pub response_types: Vec<String>,
    pub auth_method: ClientAuthMethod,
    pub scopes: Vec<String>,
    pub client_name: Option<String>,
}

/// Check the client metadata of `obj` against `config`; scopes outside
/// `scopes_supported` are dropped.
pub(super) fn client_metadata(
    obj: &Map<String, Value>,
    config: &super::ServerConfig,
) -> Result<ClientMetadata, OAuthError> {
    let scopes_supported = config.scopes_supported();
    let native = match string_field(obj, "application_type")? {
        None | Some("web") => false,
        Some("native") => true,
        Some(_) => return Err(metadata("application_type must be web or native")),
    };
    let redirect_uris = string_list(obj, "redirect_uris")?
        .filter(|l| !l.is_empty())
        .ok_or(OAuthError::InvalidRedirectUri("redirect_uris is required"))?;
    for uri in &redirect_uris {
        check_redirect_uri(uri, native, &config.native_redirect_schemes)?;
    }

    let grant_types = string_list(obj, "grant_types")?
        .unwrap_or_else(|| alloc::vec!["authorization_code".into(), "refresh_token".into()]);
    let response_types =
        string_list(obj, "response_types")?.unwrap_or_else(|| alloc::vec!["code".into()]);
    if !grant_types
        .iter()
        .all(|g| g == "authorization_code" || g == "refresh_token")
    {
        return Err(metadata("unsupported grant type"));
    }
    if !response_types.iter().all(|r| r == "code") {
        return Err(metadata("unsupported response type"));
    }
    let has_code_grant = grant_types.iter().any(|g| g == "authorization_code");
    if !has_code_grant || response_types.is_empty() {
        return Err(metadata(
            "grant_types and response_types must both include the code flow",
        ));
    }

    let auth_method = match string_field(obj, "token_endpoint_auth_method")? {
        None | Some("client_secret_basic") => ClientAuthMethod::ClientSecretBasic,
        Some("client_secret_post") => ClientAuthMethod::ClientSecretPost,
        Some("none") => ClientAuthMethod::None,
        Some(_) => return Err(metadata("unsupported token_endpoint_auth_method")),
    };
    // RFC 7591 §3.2.1 lets the server replace requested values: scopes
    // we do not serve are dropped (connectors send their own names), and
    // the response says what was accepted.
    let scopes = match string_field(obj, "scope")? {
        Some(s) => parse_scope(s)
            .ok_or(metadata("malformed scope"))?
            .into_iter()
            .filter(|x| scopes_supported.contains(x))
            .collect(),
        None => Vec::new(),
    };
    let scopes = if scopes.is_empty() {
        scopes_supported.to_vec()
    } else {
        scopes
    };
    let client_name = match string_field(obj, "client_name")? {
        Some(n) if n.chars().count() > MAX_NAME_LEN => {
            return Err(metadata("client_name too long"));
        }
        Some(n) if n.chars().any(is_deceptive) => {
            return Err(metadata("client_name has control characters"));
        }
        Some(n) => Some(String::from(n)),
        None => None,
    };

    Ok(ClientMetadata {
        native,
        redirect_uris,
        grant_types,
        response_types,
        auth_method,
        scopes,
        client_name,
    })
}

#[cfg(feature = "issuer")]
impl<S: Store + Sync, U, L: RegistrationPolicy> AuthorizationServer<S, U, L> {
    pub(super) async fn register(&self, req: &Request, env: &mut Env<'_>) -> Response {
        match self.register_inner(req, env).await {
            Ok(resp) => resp,
            Err(e) => e.to_response(),
        }
    }

    async fn register_inner(
        &self,
        req: &Request,
        env: &mut Env<'_>,
    ) -> Result<Response, OAuthError> {
        if !self.registration.allow_registration(req.peer, env.now) {
            self.emit(
                OAuthEvent::Throttled {
                    limit: Throttle::Registration,
                    client_id: None,
                },
                req.peer,
            );
            return Err(OAuthError::RateLimited);
        }
        if req.body.len() > self.config.max_registration_body {
            return Err(metadata("registration document too large"));
        }
        let doc: Value =
            serde_json::from_slice(&req.body).map_err(|_| metadata("malformed JSON"))?;
        let Value::Object(obj) = doc else {
            return Err(metadata("the registration document must be a JSON object"));
        };

        let meta = client_metadata(&obj, &self.config)?;

        let now = env.time()?;
        // Registration is open: forget clients no user ever authorized once
        // they are old, and keep at most `max_unused_clients` of them (the
        // oldest go first), so a flood can neither grow the table nor evict
        // a client anyone uses.
        self.store
            .prune_unused_clients(
                now.secs().saturating_sub(self.config.unused_client_ttl),
                self.config.max_unused_clients.saturating_sub(1),
            )
            .await?;
        let client_id = random_token::<16>(&mut *env.rng)?;
        let secret = match meta.auth_method {
            ClientAuthMethod::None => None,
            _ => Some(random_token::<32>(&mut *env.rng)?),
        };
        let record = ClientRecord {
            client_id: client_id.clone(),
            secret_hash: secret.as_deref().map(hash_secret),
            auth_method: meta.auth_method,
            redirect_uris: meta.redirect_uris,
            grant_types: meta.grant_types,
            response_types: meta.response_types,
            scopes: meta.scopes,
            client_name: meta.client_name,
            native: meta.native,
            issued_at: now.secs(),
        };
        self.store.insert_client(record.clone()).await?;
        self.emit(
            OAuthEvent::ClientRegistered {
                client_id: &record.client_id,
                client_name: record.client_name.as_deref(),
                confidential: record.secret_hash.is_some(),
            },
            req.peer,
        );

        let mut body = json!({
            "client_id": client_id,
            "client_id_issued_at": record.issued_at,
            "redirect_uris": record.redirect_uris,
            "grant_types": record.grant_types,
            "response_types": record.response_types,
            "token_endpoint_auth_method": record.auth_method.as_str(),
            "scope": record.scopes.join(" "),
            "application_type": if record.native { "native" } else { "web" },
        });
        if let Some(obj) = body.as_object_mut() {
            if let Some(name) = &record.client_name {
                obj.insert("client_name".into(), name.as_str().into());
            }
            if let Some(secret) = secret {
                obj.insert("client_secret".into(), secret.into());
                obj.insert("client_secret_expires_at".into(), 0.into());
            }
        }
        Ok(no_store(Response::json(201, body.to_string())))
    }
}
