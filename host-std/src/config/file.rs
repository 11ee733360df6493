//! The TOML file (`--config`): its keys, all optional, unknown ones
//! refused.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use super::{ClientEntry, ConfigError, DurationValue};
use crate::logging::LogFormat;

/// The TOML file. Every key is optional; unknown keys are errors.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileConfig {
    pub(super) listen: Option<SocketAddr>,
    pub(super) metrics_listen: Option<SocketAddr>,
    pub(super) audit_log: Option<String>,
    pub(super) public_url: Option<String>,
    pub(super) data_dir: Option<PathBuf>,
    pub(super) store: Option<String>,
    pub(super) access_token_ttl: Option<DurationValue>,
    pub(super) refresh_token_ttl: Option<DurationValue>,
    pub(super) allowed_origins: Option<Vec<String>>,
    pub(super) trusted_proxies: Option<Vec<String>>,
    pub(super) stateless: Option<bool>,
    pub(super) tls_cert: Option<PathBuf>,
    pub(super) tls_key: Option<PathBuf>,
    pub(super) max_body_bytes: Option<usize>,
    pub(super) log_format: Option<LogFormat>,
    pub(super) log: Option<String>,
    pub(super) admin_socket: Option<String>,
    pub(super) privy_app_id: Option<String>,
    pub(super) privy_app_secret: Option<String>,
    pub(super) privy_verification_key: Option<PathBuf>,
    pub(super) privy_api_url: Option<String>,
    pub(super) privy_jwks_url: Option<String>,
    pub(super) privy_sdk_url: Option<String>,
    pub(super) privy_sdk_integrity: Option<String>,
    pub(super) privy_allowed_users: Option<Vec<String>>,
    pub(super) privy_allowed_email_domains: Option<Vec<String>>,
    pub(super) client_metadata_documents: Option<bool>,
    pub(super) introspection_clients: Option<Vec<String>>,
    pub(super) unused_client_ttl: Option<DurationValue>,
    pub(super) max_unused_clients: Option<usize>,
    pub(super) native_redirect_schemes: Option<Vec<String>>,
    pub(super) dangerous_cimd_allow_loopback: Option<bool>,
    pub(super) dangerous_cimd_ca_file: Option<PathBuf>,
    pub(super) resources: Option<Vec<crate::resources::ResourceEntry>>,
    pub(super) upstream: Option<crate::upstream::config::UpstreamFile>,
    pub(super) oidc: Option<Vec<crate::oidc::OidcEntry>>,
    pub(super) password_login: Option<bool>,
    pub(super) dangerous_oidc_ca_file: Option<PathBuf>,
    pub(super) registration: Option<RegistrationMode>,
    pub(super) clients: Option<Vec<ClientEntry>>,
    pub(super) issuer: Option<String>,
    pub(super) issuer_allow_private: Option<bool>,
    pub(super) issuer_jwks_min_interval: Option<DurationValue>,
    pub(super) issuer_jwks_refresh: Option<DurationValue>,
    pub(super) issuer_introspection: Option<bool>,
    pub(super) issuer_client_id: Option<String>,
    pub(super) issuer_client_secret: Option<String>,
    pub(super) issuer_introspection_cache: Option<DurationValue>,
}

/// Whether `POST /register` is open.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum RegistrationMode {
    /// Anyone may register a client (MCP connectors such as ChatGPT and
    /// Claude do).
    Open,
    /// Only configured clients (and metadata documents, if on).
    Closed,
}

pub(super) fn load_file(path: Option<&Path>) -> Result<FileConfig, ConfigError> {
    let Some(path) = path else {
        return Ok(FileConfig::default());
    };
    let text = std::fs::read_to_string(path).map_err(|e| {
        ConfigError::new("--config", format!("cannot read {}: {e}", path.display()))
    })?;
    toml::from_str(&text)
        .map_err(|e| ConfigError::new("--config", format!("{}: {e}", path.display())))
}
