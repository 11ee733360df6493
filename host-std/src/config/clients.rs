//! Registered clients: the `[[clients]]` of the file (checked, with a
//! bounded secret-hash cost) and the rules of registration and
//! introspection.

use serde::Deserialize;

use super::{ConfigError, FileConfig, RegistrationMode, ServeArgs};

/// A pre-registered client (`[[clients]]` in the file).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct ClientEntry {
    client_id: String,
    redirect_uris: Vec<String>,
    /// `none`, `client_secret_basic` or `client_secret_post` [default:
    /// `client_secret_basic` with a secret hash, else `none`].
    token_endpoint_auth_method: Option<String>,
    /// argon2 PHC string (`mcpauth client hash-secret`).
    client_secret_hash: Option<String>,
    client_name: Option<String>,
}

/// Most argon2 memory (KiB), passes and lanes a configured secret hash may
/// ask for: verifying it runs on every token request of that client.
pub(super) const MAX_SECRET_HASH_COST: (u32, u32, u32) = (64 * 1024, 16, 4);

impl ClientEntry {
    fn to_static(
        &self,
        public_url: &str,
    ) -> Result<mcpauth_core::oauth::StaticClient, ConfigError> {
        use mcpauth_core::store::ClientAuthMethod;
        let setting = format!("clients (config file), client {:?}", self.client_id);
        let method = match (
            self.token_endpoint_auth_method.as_deref(),
            self.client_secret_hash.is_some(),
        ) {
            (None, true) | (Some("client_secret_basic"), _) => ClientAuthMethod::ClientSecretBasic,
            (Some("client_secret_post"), _) => ClientAuthMethod::ClientSecretPost,
            (None, false) | (Some("none"), _) => ClientAuthMethod::None,
            (Some(other), _) => {
                return Err(ConfigError::new(
                    &setting,
                    format!(
                        "token_endpoint_auth_method {other:?}: expected none, \
                         client_secret_basic or client_secret_post"
                    ),
                ));
            }
        };
        if let Some(hash) = &self.client_secret_hash {
            check_secret_hash(hash).map_err(|e| ConfigError::new(&setting, e))?;
        }
        let client = mcpauth_core::oauth::StaticClient {
            client_id: self.client_id.clone(),
            redirect_uris: self.redirect_uris.clone(),
            auth_method: method,
            secret_hash: self.client_secret_hash.clone(),
            client_name: self.client_name.clone(),
        };
        client
            .record(&mcpauth_core::oauth::ServerConfig::new(public_url))
            .map_err(|e| ConfigError::new(&setting, e))?;
        Ok(client)
    }
}

/// A configured client secret hash must be an argon2 PHC string of bounded
/// cost.
pub(super) fn check_secret_hash(hash: &str) -> Result<(), String> {
    let parsed = argon2::PasswordHash::new(hash).map_err(|_| {
        "client_secret_hash is not a PHC string (make one with `mcpauth client hash-secret`)"
            .to_owned()
    })?;
    if !parsed.algorithm.as_str().starts_with("argon2") {
        return Err("client_secret_hash must be an argon2 hash".into());
    }
    let params = argon2::Params::try_from(&parsed)
        .map_err(|_| "client_secret_hash has unusable argon2 parameters".to_owned())?;
    let (m, t, p) = MAX_SECRET_HASH_COST;
    if params.m_cost() > m || params.t_cost() > t || params.p_cost() > p {
        return Err(format!(
            "client_secret_hash costs too much to check on every token request \
             (at most m={m}, t={t}, p={p})"
        ));
    }
    Ok(())
}

/// Rules about registered clients (see the fields of
/// `mcpauth_core::oauth::ServerConfig` of the same names).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientRules {
    /// Clients that may introspect other clients' access tokens.
    pub introspection_clients: Vec<String>,
    /// Seconds a client no user ever authorized is kept.
    pub unused_client_ttl: u64,
    /// Most clients kept that no user ever authorized.
    pub max_unused_clients: usize,
    /// Non-reverse-DNS private-use redirect schemes accepted.
    pub native_redirect_schemes: Vec<String>,
    /// Pre-registered clients (`[[clients]]`).
    pub static_clients: Vec<mcpauth_core::oauth::StaticClient>,
    /// `POST /register` open.
    pub dynamic_registration: bool,
}

impl Default for ClientRules {
    fn default() -> Self {
        let core = mcpauth_core::oauth::ServerConfig::new("http://127.0.0.1");
        ClientRules {
            introspection_clients: core.introspection_clients,
            unused_client_ttl: core.unused_client_ttl,
            max_unused_clients: core.max_unused_clients,
            native_redirect_schemes: core.native_redirect_schemes,
            static_clients: core.static_clients,
            dynamic_registration: core.dynamic_registration,
        }
    }
}

impl ClientRules {
    /// Apply to a core configuration.
    pub fn apply(&self, config: &mut mcpauth_core::oauth::ServerConfig) {
        config.introspection_clients = self.introspection_clients.clone();
        config.unused_client_ttl = self.unused_client_ttl;
        config.max_unused_clients = self.max_unused_clients;
        config.native_redirect_schemes = self.native_redirect_schemes.clone();
        config.static_clients = self.static_clients.clone();
        config.dynamic_registration = self.dynamic_registration;
    }
}

pub(super) fn resolve_client_rules(
    serve: &ServeArgs,
    file: &FileConfig,
    public_url: &str,
) -> Result<ClientRules, ConfigError> {
    let mut rules = ClientRules {
        dynamic_registration: serve
            .registration
            .or(file.registration)
            .unwrap_or(RegistrationMode::Open)
            == RegistrationMode::Open,
        ..ClientRules::default()
    };
    for entry in file.clients.iter().flatten() {
        let client = entry.to_static(public_url)?;
        if rules
            .static_clients
            .iter()
            .any(|c| c.client_id == client.client_id)
        {
            return Err(ConfigError::new(
                "clients (config file)",
                format!("client {:?} is configured twice", client.client_id),
            ));
        }
        rules.static_clients.push(client);
    }
    if let Some(ids) = serve
        .introspection_clients
        .clone()
        .or_else(|| file.introspection_clients.clone())
    {
        rules.introspection_clients = ids
            .into_iter()
            .map(|id| id.trim().to_owned())
            .filter(|id| !id.is_empty())
            .collect();
    }
    match (serve.unused_client_ttl, &file.unused_client_ttl) {
        (Some(d), _) => rules.unused_client_ttl = d.as_secs(),
        (None, Some(v)) => {
            rules.unused_client_ttl = v.get("unused_client_ttl (config file)")?.as_secs()
        }
        (None, None) => {}
    }
    if let Some(n) = serve.max_unused_clients.or(file.max_unused_clients) {
        if n == 0 {
            return Err(ConfigError::new(
                "--max-unused-clients",
                "must be at least 1",
            ));
        }
        rules.max_unused_clients = n;
    }
    if let Some(list) = serve
        .native_redirect_schemes
        .clone()
        .or_else(|| file.native_redirect_schemes.clone())
    {
        let list: Vec<String> = list
            .into_iter()
            .map(|s| s.trim().to_ascii_lowercase())
            .filter(|s| !s.is_empty() && s != "none")
            .collect();
        let valid = |s: &String| {
            s.starts_with(|c: char| c.is_ascii_alphabetic())
                && s.chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'))
                && !matches!(
                    s.as_str(),
                    "http" | "https" | "javascript" | "data" | "file"
                )
        };
        if let Some(bad) = list.iter().find(|s| !valid(s)) {
            return Err(ConfigError::new(
                "--native-redirect-schemes",
                format!("{bad:?} is not an acceptable private-use scheme"),
            ));
        }
        rules.native_redirect_schemes = list;
    }
    Ok(rules)
}
