//! Pre-registered clients: declared by the operator (host-std: `[[clients]]`
//! in the configuration file) instead of registered through `/register`,
//! and the switch that closes dynamic registration
//! ([`super::ServerConfig::dynamic_registration`]).
//!
//! A static client follows the same rules as a registered one: its
//! metadata goes through the registration checks (redirect-URI shapes,
//! authentication method, name), so nothing can be configured that
//! `/register` would refuse. Its secret is never stored by the core: the
//! operator configures a password-hash string (host-std: argon2 PHC) and
//! the host checks a presented secret against it
//! ([`super::UserAuthenticator::verify_client_secret`]), since an operator's
//! secret need not have the entropy of the 256-bit secrets `/register`
//! issues (those are stored as a SHA-256 hash).

use alloc::string::{String, ToString};
use alloc::vec::Vec;

use serde_json::{Map, Value, json};

use super::ServerConfig;
use super::cimd::is_client_id_url;
use super::register::client_metadata;
use crate::http::Response;
use crate::store::{ClientAuthMethod, ClientRecord};

/// Longest static client id.
pub const MAX_STATIC_CLIENT_ID_LEN: usize = 255;

/// A client the operator configured.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StaticClient {
    /// The client identifier (printable ASCII, no spaces, not a URL).
    pub client_id: String,
    /// Exact redirect URIs (the registration rules apply; a private-use
    /// scheme makes the client native).
    pub redirect_uris: Vec<String>,
    /// How it authenticates at the token endpoint.
    pub auth_method: ClientAuthMethod,
    /// The hash of its secret as the host stores passwords (host-std: an
    /// argon2 PHC string); required unless `auth_method` is `None`.
    pub secret_hash: Option<String>,
    /// The name the consent page shows.
    pub client_name: Option<String>,
}

impl StaticClient {
    /// The registration document this client amounts to.
    fn registration_document(&self) -> Map<String, Value> {
        let native = self
            .redirect_uris
            .iter()
            .any(|u| !(u.starts_with("https://") || u.starts_with("http://")));
        let mut doc = json!({
            "redirect_uris": self.redirect_uris,
            "token_endpoint_auth_method": self.auth_method.as_str(),
            "application_type": if native { "native" } else { "web" },
        });
        if let (Some(name), Some(obj)) = (&self.client_name, doc.as_object_mut()) {
            obj.insert("client_name".into(), name.as_str().into());
        }
        match doc {
            Value::Object(map) => map,
            _ => Map::new(),
        }
    }

    /// The client as the server uses it (no stored secret: see the module
    /// docs), or why the configuration is refused.
    pub fn record(&self, config: &ServerConfig) -> Result<ClientRecord, &'static str> {
        let id = &self.client_id;
        if id.is_empty()
            || id.len() > MAX_STATIC_CLIENT_ID_LEN
            || !id.bytes().all(|b| b.is_ascii_graphic())
        {
            return Err("a static client_id must be 1 to 255 printable ASCII characters");
        }
        if is_client_id_url(id) || id.contains("://") {
            return Err("a static client_id must not be a URL (those name metadata documents)");
        }
        match (self.auth_method, &self.secret_hash) {
            (ClientAuthMethod::None, None) => {}
            (ClientAuthMethod::None, Some(_)) => {
                return Err("a public static client (auth method none) has no secret");
            }
            (_, None) => return Err("a confidential static client needs a secret hash"),
            (_, Some(h)) if h.is_empty() => {
                return Err("a confidential static client needs a secret hash");
            }
            _ => {}
        }
        let meta =
            client_metadata(&self.registration_document(), config).map_err(|e| e.description())?;
        Ok(ClientRecord {
            client_id: id.clone(),
            secret_hash: None,
            auth_method: meta.auth_method,
            redirect_uris: meta.redirect_uris,
            grant_types: meta.grant_types,
            response_types: meta.response_types,
            scopes: meta.scopes,
            client_name: meta.client_name,
            native: meta.native,
            issued_at: 0,
        })
    }
}

/// `POST /register` while dynamic registration is closed: 403 with an
/// RFC 7591 §3.2.2 error body saying so.
pub(crate) fn registration_closed() -> Response {
    Response::json(
        403,
        json!({
            "error": "access_denied",
            "error_description": "dynamic client registration is closed on this server; \
                                  use a client the operator registered",
        })
        .to_string(),
    )
    .with_header("Cache-Control", "no-store")
}

impl ServerConfig {
    /// The static client with id `client_id`.
    pub fn static_client(&self, client_id: &str) -> Option<&StaticClient> {
        self.static_clients
            .iter()
            .find(|c| c.client_id == client_id)
    }

    /// Check every static client (see [`StaticClient::record`]), each
    /// configured once.
    pub(crate) fn validate_static_clients(&self) -> Result<(), &'static str> {
        for (i, c) in self.static_clients.iter().enumerate() {
            c.record(self)?;
            if self.static_clients[..i]
                .iter()
                .any(|earlier| earlier.client_id == c.client_id)
            {
                return Err("each static client may be configured once");
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use alloc::vec;

    use super::*;

    fn client(id: &str, method: ClientAuthMethod, hash: Option<&str>) -> StaticClient {
        StaticClient {
            client_id: id.into(),
            redirect_uris: vec!["https://app.example/cb".into()],
            auth_method: method,
            secret_hash: hash.map(str::to_string),
            client_name: Some("Example app".into()),
        }
    }

    #[test]
    fn static_clients_follow_the_registration_rules() {
        let mut config = ServerConfig::new("https://auth.example");
        let ok = client(
            "app-1",
            ClientAuthMethod::ClientSecretBasic,
            Some("$argon2id$x"),
        );
        let r = ok.record(&config).expect("valid");
        assert_eq!(r.scopes, ["mcp"]);
        assert_eq!(r.client_name.as_deref(), Some("Example app"));
        assert!(!r.native && r.secret_hash.is_none());
        let public = client("cli", ClientAuthMethod::None, None);
        assert!(public.record(&config).is_ok());

        let bad = [
            client("", ClientAuthMethod::None, None),
            client("has space", ClientAuthMethod::None, None),
            client("https://x.example/c", ClientAuthMethod::None, None),
            client("p", ClientAuthMethod::None, Some("$argon2id$x")),
            client("c", ClientAuthMethod::ClientSecretPost, None),
            StaticClient {
                redirect_uris: vec!["http://app.example/cb".into()],
                ..public.clone()
            },
            StaticClient {
                redirect_uris: vec!["search-ms:query".into()],
                ..public.clone()
            },
            StaticClient {
                redirect_uris: Vec::new(),
                ..public.clone()
            },
        ];
        for c in bad {
            assert!(c.record(&config).is_err(), "{c:?}");
        }
        let native = StaticClient {
            redirect_uris: vec!["com.example.app:/cb".into()],
            ..public.clone()
        };
        assert!(native.record(&config).expect("native").native);

        config.static_clients = vec![public.clone(), ok];
        assert_eq!(config.validate(), Ok(()));
        config.static_clients.push(public);
        assert!(config.validate().is_err(), "a duplicate id");
    }
}
