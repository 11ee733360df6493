//! Configuration: command-line flags > `MCPAUTH_*` environment variables >
//! an optional TOML file (`--config`) > defaults.
//!
//! Flags and environment variables are handled by clap (each flag names its
//! variable in `--help`); every value is optional there, so a value missing
//! from both falls through to the file and then to the default.
//!
//! This file resolves the settings (`resolve_common`, `resolve_serve`,
//! Privy); `flags` holds the command line, `file` the TOML file's keys,
//! `values` the value parsers and [`ConfigError`], `clients` the registered
//! clients and their rules, `remote` the settings that reach other servers
//! (`--issuer`, client ID metadata documents), `tests` the settings tests.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use crate::logging::LogFormat;
use crate::proxy::TrustedProxies;

mod clients;
mod file;
mod flags;
mod remote;
#[cfg(test)]
pub(crate) mod tests;
mod values;

pub use clients::ClientRules;
use clients::{ClientEntry, resolve_client_rules};
use file::load_file;
pub use file::{FileConfig, RegistrationMode};
pub use flags::{
    Cli, ClientCommand, Command, CommonArgs, HealthcheckArgs, KeysCommand, ServeArgs, UserCommand,
};
use remote::{resolve_client_metadata, resolve_remote_issuer};
pub(crate) use values::DurationValue;
pub use values::{ConfigError, parse_duration};
use values::{origin_of, validate_public_url};

/// Settings every command resolves.
#[derive(Debug, Clone)]
pub struct CommonSettings {
    /// Data directory.
    pub data_dir: PathBuf,
    /// Shared store URL (`None`: the embedded database in `data_dir`).
    pub store: Option<String>,
    /// Log format.
    pub log_format: LogFormat,
    /// Log filter.
    pub log: String,
    /// Access-token lifetime in seconds (keys need it too).
    pub access_token_ttl: u64,
    /// The live-admin socket (`None`: off).
    pub admin_socket: Option<PathBuf>,
}

/// Resolved `serve` settings.
#[derive(Debug, Clone)]
pub struct ServeSettings {
    /// Shared settings.
    pub common: CommonSettings,
    /// Listen address.
    pub listen: SocketAddr,
    /// Where `/metrics` is served (`None`: nowhere).
    pub metrics_listen: Option<SocketAddr>,
    /// Where the audit log goes (`None`: off).
    pub audit_log: Option<crate::logging::AuditLog>,
    /// Public base URL without trailing slash.
    pub public_url: String,
    /// Refresh-token lifetime in seconds.
    pub refresh_token_ttl: u64,
    /// Allowed browser origins.
    pub allowed_origins: Vec<String>,
    /// Proxies whose `X-Forwarded-For` is believed.
    pub trusted_proxies: TrustedProxies,
    /// Stateless MCP.
    pub stateless: bool,
    /// TLS cert and key.
    pub tls: Option<(PathBuf, PathBuf)>,
    /// Body limit.
    pub max_body_bytes: usize,
    /// Privy login (`None`: local users only).
    pub privy: Option<crate::privy::PrivySettings>,
    /// Client ID metadata documents (`None`: off).
    pub client_metadata: Option<crate::cimd::CimdSettings>,
    /// Who may introspect what, how long unused clients live, which
    /// redirect schemes native clients may register.
    pub client_rules: ClientRules,
    /// The protected resources, the built-in `<public_url>/mcp` first.
    pub resources: Vec<mcpauth_core::oauth::ProtectedResource>,
    /// The auth proxy (no mounts: off).
    pub upstream: crate::upstream::UpstreamSettings,
    /// Upstream OpenID providers and password sign-in.
    pub oidc: crate::oidc::OidcSettings,
    /// Resource-server mode (`--issuer`): the remote issuer; `None`: this
    /// process is the authorization server.
    pub remote_issuer: Option<crate::remote_issuer::RemoteIssuerSettings>,
}

/// Resolve the shared settings (and load the file, returned for `serve`).
pub fn resolve_common(
    args: &CommonArgs,
    serve: &ServeArgs,
) -> Result<(CommonSettings, FileConfig), ConfigError> {
    let file = load_file(args.config.as_deref())?;
    let access = match (serve.access_token_ttl, &file.access_token_ttl) {
        (Some(d), _) => d,
        (None, Some(v)) => v.get("access_token_ttl (config file)")?,
        (None, None) => Duration::from_secs(3600),
    };
    if access.as_secs() < 60 || access.as_secs() > 86400 {
        return Err(ConfigError::new(
            "--access-token-ttl",
            "must be between 60 seconds and 24 hours",
        ));
    }
    let common = CommonSettings {
        data_dir: args
            .data_dir
            .clone()
            .or_else(|| file.data_dir.clone())
            .unwrap_or_else(|| PathBuf::from("mcpauth-data")),
        store: args
            .store
            .clone()
            .or_else(|| {
                std::env::var("DATABASE_URL")
                    .ok()
                    .filter(|u| crate::pg::is_postgres_url(u))
            })
            .or_else(|| file.store.clone())
            .filter(|s| !s.is_empty()),
        log_format: args.log_format.or(file.log_format).unwrap_or_default(),
        log: args
            .log
            .clone()
            .or_else(|| file.log.clone())
            .unwrap_or_else(|| "info".into()),
        access_token_ttl: access.as_secs(),
        admin_socket: None,
    };
    let admin_socket = match args
        .admin_socket
        .clone()
        .or_else(|| file.admin_socket.clone())
    {
        Some(v) if v == "none" || v.is_empty() => None,
        Some(v) => Some(PathBuf::from(v)),
        None => Some(common.data_dir.join("admin.sock")),
    };
    let common = CommonSettings {
        admin_socket,
        ..common
    };
    Ok((common, file))
}

/// Resolve and validate `serve` settings.
pub fn resolve_serve(args: &CommonArgs, serve: &ServeArgs) -> Result<ServeSettings, ConfigError> {
    let (common, file) = resolve_common(args, serve)?;
    let client_metadata = resolve_client_metadata(serve, &file)?;
    let upstream = crate::upstream::config::resolve(&serve.upstream, file.upstream.as_ref())?;
    let listen = serve
        .listen
        .or(file.listen)
        .unwrap_or_else(|| SocketAddr::from(([127, 0, 0, 1], 8080)));
    let tls = match (
        serve.tls_cert.clone().or(file.tls_cert.clone()),
        serve.tls_key.clone().or(file.tls_key.clone()),
    ) {
        (Some(c), Some(k)) => Some((c, k)),
        (None, None) => None,
        _ => {
            return Err(ConfigError::new(
                "--tls-cert/--tls-key",
                "give both the certificate and the key, or neither",
            ));
        }
    };
    let public_url = match serve.public_url.clone().or(file.public_url.clone()) {
        Some(u) => validate_public_url(&u)?,
        None if listen.ip().is_loopback() => {
            let scheme = if tls.is_some() { "https" } else { "http" };
            format!("{scheme}://{listen}")
        }
        None => {
            return Err(ConfigError::new(
                "--public-url",
                format!(
                    "required when listening on a non-loopback address ({listen}); \
                     give the https URL clients reach, e.g. https://mcp.example.com"
                ),
            ));
        }
    };
    let privy = resolve_privy(serve, &file, &public_url)?;
    let oidc_ca = serve
        .dangerous_oidc_ca_file
        .clone()
        .or_else(|| file.dangerous_oidc_ca_file.clone());
    let oidc_roots = match oidc_ca {
        Some(path) => crate::cimd::load_ca_file(&path)
            .map_err(|e| ConfigError::new("--dangerous-oidc-ca-file", e))?,
        None => Vec::new(),
    };
    let oidc = crate::oidc::resolve(
        serve.oidc.as_deref(),
        file.oidc.as_deref(),
        serve.password_login.or(file.password_login).unwrap_or(true),
        oidc_roots,
        |k| std::env::var(k).ok(),
    )?;
    if !oidc.password_login && privy.is_none() && oidc.providers.is_empty() {
        return Err(ConfigError::new(
            "--password-login",
            "with password sign-in off, configure Privy or an OpenID provider (--oidc)",
        ));
    }
    let client_rules = resolve_client_rules(serve, &file, &public_url)?;
    let remote_issuer = resolve_remote_issuer(serve, &file)?;
    let refresh = match (serve.refresh_token_ttl, &file.refresh_token_ttl) {
        (Some(d), _) => d,
        (None, Some(v)) => v.get("refresh_token_ttl (config file)")?,
        (None, None) => Duration::from_secs(30 * 86400),
    };
    if refresh.as_secs() < common.access_token_ttl {
        return Err(ConfigError::new(
            "--refresh-token-ttl",
            "must not be shorter than the access-token lifetime",
        ));
    }
    let allowed_origins = serve
        .allowed_origins
        .clone()
        .or(file.allowed_origins)
        .unwrap_or_else(|| {
            vec![
                "http://localhost:6274".to_owned(),
                "http://127.0.0.1:6274".to_owned(),
            ]
        });
    for o in &allowed_origins {
        if o != "*" && !(o.starts_with("http://") || o.starts_with("https://")) {
            return Err(ConfigError::new(
                "--allowed-origins",
                format!("{o:?} is not an origin (scheme://host[:port]) or *"),
            ));
        }
    }
    let trusted_proxies = match serve.trusted_proxies.clone().or(file.trusted_proxies) {
        None => TrustedProxies::default(),
        Some(list) => TrustedProxies::parse(&list).map_err(|bad| {
            ConfigError::new(
                "--trusted-proxies",
                format!("{bad:?} is not a network (10.0.0.0/8), an address, or none"),
            )
        })?,
    };
    let resource_entries = match &serve.resources {
        Some(specs) => specs
            .iter()
            .map(|s| crate::resources::ResourceEntry::parse(s))
            .collect::<Result<Vec<_>, _>>()?,
        None => file.resources.clone().unwrap_or_default(),
    };
    let resources =
        crate::resources::resolve(&public_url, common.access_token_ttl, &resource_entries)?;
    let max_body_bytes = serve
        .max_body_bytes
        .or(file.max_body_bytes)
        .unwrap_or(1024 * 1024);
    if !(1024..=64 * 1024 * 1024).contains(&max_body_bytes) {
        return Err(ConfigError::new(
            "--max-body-bytes",
            "must be between 1024 and 67108864",
        ));
    }
    let metrics_listen = serve.metrics_listen.or(file.metrics_listen);
    if metrics_listen == Some(listen) {
        return Err(ConfigError::new(
            "--metrics-listen",
            "must differ from --listen: metrics are never served on the public listener",
        ));
    }
    let audit_log = serve
        .audit_log
        .clone()
        .or_else(|| file.audit_log.clone())
        .filter(|v| !v.is_empty() && v != "off")
        .map(|v| crate::logging::AuditLog::parse(&v));
    if remote_issuer.is_some() {
        let local_only = [
            (
                "--resource",
                serve.resources.is_some() || file.resources.is_some(),
            ),
            ("--privy-app-id", privy.is_some()),
            (
                "--introspection-clients",
                serve.introspection_clients.is_some() || file.introspection_clients.is_some(),
            ),
            (
                "--registration",
                serve.registration.is_some() || file.registration.is_some(),
            ),
            ("clients (config file)", file.clients.is_some()),
        ];
        if let Some((setting, _)) = local_only.iter().find(|(_, given)| *given) {
            return Err(ConfigError::new(
                setting,
                "configures the local authorization server, which a resource server \
                 (--issuer) does not run",
            ));
        }
    }
    Ok(ServeSettings {
        common,
        listen,
        metrics_listen,
        audit_log,
        public_url,
        refresh_token_ttl: refresh.as_secs(),
        allowed_origins: allowed_origins
            .into_iter()
            .map(|o| o.trim_end_matches('/').to_owned())
            .collect(),
        trusted_proxies,
        stateless: serve.stateless.or(file.stateless).unwrap_or(false),
        tls,
        max_body_bytes,
        privy,
        client_metadata,
        client_rules,
        resources,
        upstream,
        oidc,
        remote_issuer,
    })
}

/// The `--privy-*` settings (flags > env > file), checked and loaded.
fn resolve_privy(
    serve: &ServeArgs,
    file: &FileConfig,
    public_url: &str,
) -> Result<Option<crate::privy::PrivySettings>, ConfigError> {
    let pick = |flag: &Option<String>, key: &Option<String>| {
        flag.clone()
            .or_else(|| key.clone())
            .filter(|v| !v.trim().is_empty())
    };
    let Some(app_id) = pick(&serve.privy_app_id, &file.privy_app_id) else {
        let other = serve.privy_app_secret.is_some()
            || file.privy_app_secret.is_some()
            || serve.privy_verification_key.is_some()
            || file.privy_verification_key.is_some()
            || serve.privy_sdk_url.is_some()
            || file.privy_sdk_url.is_some()
            || serve.privy_jwks_url.is_some()
            || file.privy_jwks_url.is_some()
            || serve.privy_sdk_integrity.is_some()
            || file.privy_sdk_integrity.is_some()
            || serve.privy_allowed_users.is_some()
            || file.privy_allowed_users.is_some()
            || serve.privy_allowed_email_domains.is_some()
            || file.privy_allowed_email_domains.is_some();
        return if other {
            Err(ConfigError::new(
                "--privy-app-id",
                "required when any other --privy-* setting is given",
            ))
        } else {
            Ok(None)
        };
    };
    let app_secret = pick(&serve.privy_app_secret, &file.privy_app_secret)
        .map(|s| std::sync::Arc::new(zeroize::Zeroizing::new(s)));
    let key_path = serve
        .privy_verification_key
        .clone()
        .or_else(|| file.privy_verification_key.clone());
    let verification_key = match &key_path {
        Some(path) => {
            let pem = std::fs::read_to_string(path).map_err(|e| {
                ConfigError::new(
                    "--privy-verification-key",
                    format!("cannot read {}: {e}", path.display()),
                )
            })?;
            Some(mcpauth_core::oauth::PrivyKey::from_pem(&pem).map_err(|e| {
                ConfigError::new(
                    "--privy-verification-key",
                    format!("{}: {e}", path.display()),
                )
            })?)
        }
        None => None,
    };
    // Without a key file or secret: the app's public key set.
    let jwks_url = pick(&serve.privy_jwks_url, &file.privy_jwks_url)
        .unwrap_or_else(|| crate::privy::default_jwks_url(&app_id));
    crate::privy::validate_api_url(&jwks_url)
        .map_err(|e| ConfigError::new("--privy-jwks-url", e))?;
    let api_url = pick(&serve.privy_api_url, &file.privy_api_url)
        .unwrap_or_else(|| crate::privy::DEFAULT_API_URL.to_owned())
        .trim_end_matches('/')
        .to_owned();
    crate::privy::validate_api_url(&api_url).map_err(|e| ConfigError::new("--privy-api-url", e))?;
    let operator_script = pick(&serve.privy_sdk_url, &file.privy_sdk_url);
    let sdk_integrity = pick(&serve.privy_sdk_integrity, &file.privy_sdk_integrity);
    // A settings mistake whatever the build: reported before whether this
    // binary has the built-in script.
    if operator_script.is_none() && sdk_integrity.is_some() {
        return Err(ConfigError::new(
            "--privy-sdk-integrity",
            "only with --privy-sdk-url (the built-in script is served by this server)",
        ));
    }
    let sdk_url = privy_script_url(
        operator_script.clone(),
        crate::privy::embedded_glue(),
        public_url,
    )?;
    if sdk_integrity.is_none() && origin_of(&sdk_url) != origin_of(public_url) {
        return Err(ConfigError::new(
            "--privy-sdk-integrity",
            "required when the Privy SDK script is not served from the public URL's origin: \
             the sign-in page must not run whatever a CDN serves (give its \
             Subresource Integrity, e.g. sha384-…)",
        ));
    }
    let list = |flag: &Option<Vec<String>>, key: &Option<Vec<String>>| -> Vec<String> {
        flag.clone()
            .or_else(|| key.clone())
            .unwrap_or_default()
            .iter()
            .map(|v| v.trim().to_owned())
            .filter(|v| !v.is_empty())
            .collect()
    };
    let settings = crate::privy::PrivySettings {
        app_id,
        app_secret,
        verification_key,
        api_url,
        jwks_url,
        sdk_url,
        sdk_integrity,
        allowed_users: list(&serve.privy_allowed_users, &file.privy_allowed_users),
        allowed_email_domains: list(
            &serve.privy_allowed_email_domains,
            &file.privy_allowed_email_domains,
        )
        .into_iter()
        .map(|d| d.to_ascii_lowercase())
        .collect(),
    };
    settings
        .core_config()
        .validate()
        .map_err(|e| ConfigError::new("--privy-*", e))?;
    Ok(Some(settings))
}

/// The script the sign-in page loads for Privy: the operator's
/// (`--privy-sdk-url`), else the one built into this binary (`embedded`,
/// served at [`crate::privy::GLUE_PATH`]); without either, a start-up error
/// that names the build script.
fn privy_script_url(
    operator: Option<String>,
    embedded: Option<&[u8]>,
    public_url: &str,
) -> Result<String, ConfigError> {
    match (operator, embedded) {
        (Some(url), _) => Ok(url),
        (None, Some(script)) => Ok(crate::privy::glue_url(public_url, script)),
        (None, None) => Err(ConfigError::new(
            "--privy-app-id",
            "this mcpauth was built without the Privy sign-in script: run \
             scripts/build-privy.sh, then rebuild mcpauth (cargo build embeds \
             host-std/privy-glue/dist/glue.js); or host a script yourself and give \
             --privy-sdk-url (see the README, \"Privy login\")",
        )),
    }
}
