//! Configuration: command-line flags > `MCPAUTH_*` environment variables >
//! an optional TOML file (`--config`) > defaults.
//!
//! Flags and environment variables are handled by clap (each flag names its
//! variable in `--help`); every value is optional there, so a value missing
//! from both falls through to the file and then to the default.
//!
//! This file holds the flags, the file's keys and the resolution of
//! `serve`; `values` the value parsers and [`ConfigError`], `clients` the
//! registered clients and their rules, `remote` the settings that reach
//! other servers (`--issuer`, client ID metadata documents).

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use clap::{Args, Parser, Subcommand};
use serde::Deserialize;

use crate::logging::LogFormat;
use crate::proxy::TrustedProxies;

mod clients;
mod remote;
mod values;

pub use clients::ClientRules;
use clients::{ClientEntry, resolve_client_rules};
use remote::{resolve_client_metadata, resolve_remote_issuer};
pub(crate) use values::DurationValue;
pub use values::{ConfigError, parse_duration};
use values::{origin_of, validate_public_url};

/// mcpauth: an OAuth 2.1 authorization server and MCP server in one binary,
/// ready for ChatGPT and Claude connectors.
#[derive(Debug, Parser)]
#[command(name = "mcpauth", version, about, long_about = None)]
pub struct Cli {
    /// Options shared by every command.
    #[command(flatten)]
    pub common: CommonArgs,
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// Options every command understands.
#[derive(Debug, Clone, Default, Args)]
pub struct CommonArgs {
    /// TOML configuration file (flags and environment variables override it).
    #[arg(long, global = true, env = "MCPAUTH_CONFIG", value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Directory holding the database and keys (created 0700) [default: ./mcpauth-data].
    #[arg(long, global = true, env = "MCPAUTH_DATA_DIR", value_name = "DIR")]
    pub data_dir: Option<PathBuf>,
    /// Shared store for several instances: a `postgres://` URL (falls back to
    /// `DATABASE_URL` when that is a postgres URL) [default: the embedded
    /// database in --data-dir]. URL parameters `schema`, `pool_max`,
    /// `statement_timeout_ms`, `op_timeout_ms`.
    #[arg(long, global = true, env = "MCPAUTH_STORE", value_name = "URL")]
    pub store: Option<String>,
    /// Log format [default: human].
    #[arg(long, global = true, env = "MCPAUTH_LOG_FORMAT", value_enum)]
    pub log_format: Option<LogFormat>,
    /// Log filter, e.g. `info` or `mcpauth=debug` [default: info].
    #[arg(long, global = true, env = "MCPAUTH_LOG", value_name = "FILTER")]
    pub log: Option<String>,
    /// The live-admin Unix socket: `serve` listens there (0600), and the
    /// `user`, `client` and `keys` commands use it while a server runs
    /// (`none`: off) [default: <data dir>/admin.sock].
    #[arg(long, global = true, env = "MCPAUTH_ADMIN_SOCKET", value_name = "PATH")]
    pub admin_socket: Option<String>,
}

/// Commands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the server.
    Serve(Box<ServeArgs>),
    /// Manage local users (live through a running server's admin socket).
    User {
        /// What to do with users.
        #[command(subcommand)]
        command: UserCommand,
    },
    /// Manage registered OAuth clients.
    Client {
        /// What to do with clients.
        #[command(subcommand)]
        command: ClientCommand,
    },
    /// Manage signing keys.
    Keys {
        /// What to do with keys.
        #[command(subcommand)]
        command: KeysCommand,
    },
    /// Show what the running server is and holds (through its admin
    /// socket): mode, issuer, keys.
    Status,
    /// Ask a running server's `/healthz` (exit 0 when it answers 200): for
    /// container health checks, where no HTTP client is installed.
    Healthcheck(HealthcheckArgs),
}

/// `mcpauth healthcheck` options.
#[derive(Debug, Clone, Default, Args)]
pub struct HealthcheckArgs {
    /// The server's listen address, as given to `serve` (an unspecified
    /// address such as 0.0.0.0 is asked on loopback) [default: 127.0.0.1:8080].
    #[arg(long, env = "MCPAUTH_LISTEN", value_name = "ADDR:PORT")]
    pub listen: Option<SocketAddr>,
    /// Give up after this long [default: 3s].
    #[arg(long, value_name = "DURATION", value_parser = parse_duration)]
    pub timeout: Option<Duration>,
}

/// `mcpauth user …`
#[derive(Debug, Subcommand)]
pub enum UserCommand {
    /// Add a user; the password is read from standard input (one line).
    Add {
        /// Login name.
        username: String,
    },
    /// List users.
    List,
    /// Remove a user and revoke the user's grants.
    Remove {
        /// Login name.
        username: String,
    },
    /// Change a user's password (read from standard input).
    Passwd {
        /// Login name.
        username: String,
    },
}

/// `mcpauth client …`
#[derive(Debug, Subcommand)]
pub enum ClientCommand {
    /// List registered clients.
    List,
    /// Remove a client and revoke its grants (refresh and access tokens).
    Remove {
        /// The client id (random base64url: may start with `-`).
        #[arg(allow_hyphen_values = true)]
        client_id: String,
    },
    /// Hash a client secret for a pre-registered client (`[[clients]]`
    /// `client_secret_hash` in the configuration file): the secret is read
    /// from standard input, its argon2id PHC string printed. Needs no
    /// database.
    HashSecret {
        /// Generate a random 256-bit secret instead of reading one, and
        /// print it (give it to the client) above its hash.
        #[arg(long)]
        generate: bool,
    },
}

/// `mcpauth keys …`
#[derive(Debug, Subcommand)]
pub enum KeysCommand {
    /// List signing keys.
    List,
    /// Generate a new signing key; the old one keeps verifying until its
    /// tokens have expired. A running server uses it at once.
    Rotate,
    /// Make the running server load its keys again now: from the store, or
    /// in resource-server mode (`serve --issuer`) the issuer's JWKS.
    Reload,
}

/// `mcpauth serve` options.
#[derive(Debug, Clone, Default, Args)]
pub struct ServeArgs {
    /// Address to listen on [default: 127.0.0.1:8080].
    #[arg(long, env = "MCPAUTH_LISTEN", value_name = "ADDR:PORT")]
    pub listen: Option<SocketAddr>,
    /// Serve Prometheus metrics at http://ADDR:PORT/metrics, a listener of
    /// their own (no authentication: bind it to loopback or a private
    /// network only) [default: off].
    #[arg(long, env = "MCPAUTH_METRICS_LISTEN", value_name = "ADDR:PORT")]
    pub metrics_listen: Option<SocketAddr>,
    /// Write the audit log (security events, one JSON object per line) to
    /// `stderr` or to FILE (appended, created 0600) [default: off].
    #[arg(long, env = "MCPAUTH_AUDIT_LOG", value_name = "stderr|FILE")]
    pub audit_log: Option<String>,
    /// Public base URL clients reach (issuer; MCP endpoint is <URL>/mcp).
    /// Required unless listening on loopback. Never derived from Host.
    #[arg(long, env = "MCPAUTH_PUBLIC_URL", value_name = "URL")]
    pub public_url: Option<String>,
    /// Access-token lifetime, e.g. 3600, 60m, 1h [default: 1h].
    #[arg(long, env = "MCPAUTH_ACCESS_TOKEN_TTL", value_name = "DURATION", value_parser = parse_duration)]
    pub access_token_ttl: Option<Duration>,
    /// Refresh-token lifetime (renewed on each use) [default: 30d].
    #[arg(long, env = "MCPAUTH_REFRESH_TOKEN_TTL", value_name = "DURATION", value_parser = parse_duration)]
    pub refresh_token_ttl: Option<Duration>,
    /// Browser origins allowed to call the MCP and OAuth endpoints
    /// (comma-separated; `*` for any) [default: MCP Inspector on localhost:6274].
    #[arg(
        long,
        env = "MCPAUTH_ALLOWED_ORIGINS",
        value_name = "ORIGINS",
        value_delimiter = ','
    )]
    pub allowed_origins: Option<Vec<String>>,
    /// Reverse proxies whose `X-Forwarded-For` names the client, for the
    /// per-address throttles (comma-separated networks or addresses, or
    /// `none`) [default: loopback, where a local proxy or tunnel connects
    /// from].
    #[arg(
        long,
        env = "MCPAUTH_TRUSTED_PROXIES",
        value_name = "NETWORKS",
        value_delimiter = ','
    )]
    pub trusted_proxies: Option<Vec<String>>,
    /// A protected resource tokens may be issued for, besides the built-in
    /// <public URL>/mcp: `URL;name=NAME;scopes=a,b;access_token_ttl=5m;kind=external`
    /// (repeat the flag, or separate resources with `|`; see host-std/README.md).
    #[arg(
        long = "resource",
        env = "MCPAUTH_RESOURCES",
        value_name = "SPEC",
        value_delimiter = '|'
    )]
    pub resources: Option<Vec<String>>,
    /// Stateless MCP (no Mcp-Session-Id) [default: false].
    #[arg(long, env = "MCPAUTH_STATELESS", num_args = 0..=1, default_missing_value = "true", value_name = "BOOL")]
    pub stateless: Option<bool>,
    /// TLS certificate chain (PEM); serve https directly.
    #[arg(
        long,
        env = "MCPAUTH_TLS_CERT",
        value_name = "FILE",
        requires = "tls_key"
    )]
    pub tls_cert: Option<PathBuf>,
    /// TLS private key (PEM).
    #[arg(
        long,
        env = "MCPAUTH_TLS_KEY",
        value_name = "FILE",
        requires = "tls_cert"
    )]
    pub tls_key: Option<PathBuf>,
    /// Largest request body in bytes [default: 1048576].
    #[arg(long, env = "MCPAUTH_MAX_BODY_BYTES", value_name = "BYTES")]
    pub max_body_bytes: Option<usize>,
    /// Privy app id: the sign-in page offers Privy login.
    #[arg(long, env = "MCPAUTH_PRIVY_APP_ID", value_name = "ID")]
    pub privy_app_id: Option<String>,
    /// Privy app secret, to fetch the verification key (prefer the
    /// environment variable or the config file; never printed).
    #[arg(
        long,
        env = "MCPAUTH_PRIVY_APP_SECRET",
        value_name = "SECRET",
        hide_env_values = true
    )]
    pub privy_app_secret: Option<String>,
    /// The Privy app's verification key (SPKI PEM file, as the dashboard
    /// shows it); without it the key is fetched from the Privy API (with
    /// the app secret), or else from the app's public key set.
    #[arg(long, env = "MCPAUTH_PRIVY_VERIFICATION_KEY", value_name = "FILE")]
    pub privy_verification_key: Option<PathBuf>,
    /// Privy API base URL [default: https://auth.privy.io].
    #[arg(long, env = "MCPAUTH_PRIVY_API_URL", value_name = "URL")]
    pub privy_api_url: Option<String>,
    /// The Privy app's public JSON Web Key Set, where the key comes from
    /// without a key file or app secret
    /// [default: https://api.privy.io/v1/apps/{app id}/jwks.json].
    #[arg(long, env = "MCPAUTH_PRIVY_JWKS_URL", value_name = "URL")]
    pub privy_jwks_url: Option<String>,
    /// URL of a Privy SDK glue script of your own for the sign-in page
    /// [default: the one built into mcpauth, served at /privy/glue.js].
    #[arg(long, env = "MCPAUTH_PRIVY_SDK_URL", value_name = "URL")]
    pub privy_sdk_url: Option<String>,
    /// Subresource Integrity of that script (`sha384-…`); required when it
    /// is not served from the public URL's origin.
    #[arg(long, env = "MCPAUTH_PRIVY_SDK_INTEGRITY", value_name = "HASH")]
    pub privy_sdk_integrity: Option<String>,
    /// Only these Privy users (`did:privy:…`, comma-separated) may sign in.
    #[arg(
        long,
        env = "MCPAUTH_PRIVY_ALLOWED_USERS",
        value_name = "DIDS",
        value_delimiter = ','
    )]
    pub privy_allowed_users: Option<Vec<String>>,
    /// Only Privy users with a verified email in these domains
    /// (comma-separated) may sign in (with --privy-allowed-users: either).
    #[arg(
        long,
        env = "MCPAUTH_PRIVY_ALLOWED_EMAIL_DOMAINS",
        value_name = "DOMAINS",
        value_delimiter = ','
    )]
    pub privy_allowed_email_domains: Option<Vec<String>>,
    /// Accept https URL client_ids naming a client ID metadata document,
    /// fetched from the public internet [default: true].
    #[arg(long, env = "MCPAUTH_CLIENT_METADATA_DOCUMENTS", num_args = 0..=1, default_missing_value = "true", value_name = "BOOL")]
    pub client_metadata_documents: Option<bool>,
    /// Clients trusted as resource servers: they may introspect access
    /// tokens of other clients (comma-separated client ids; they must
    /// authenticate with a secret). Every other client sees only its own
    /// tokens [default: none].
    #[arg(
        long,
        env = "MCPAUTH_INTROSPECTION_CLIENTS",
        value_name = "CLIENT_IDS",
        value_delimiter = ','
    )]
    pub introspection_clients: Option<Vec<String>>,
    /// How long a registered client no user ever authorized is kept, e.g.
    /// 24h, 7d [default: 24h].
    #[arg(long, env = "MCPAUTH_UNUSED_CLIENT_TTL", value_name = "DURATION", value_parser = parse_duration)]
    pub unused_client_ttl: Option<Duration>,
    /// Most registered clients no user ever authorized; past it a
    /// registration evicts the oldest of them [default: 10000].
    #[arg(long, env = "MCPAUTH_MAX_UNUSED_CLIENTS", value_name = "COUNT")]
    pub max_unused_clients: Option<usize>,
    /// Private-use redirect schemes accepted for native clients besides
    /// reverse-DNS ones like com.example.app (comma-separated; `none` for
    /// none) [default: cursor].
    #[arg(
        long,
        env = "MCPAUTH_NATIVE_REDIRECT_SCHEMES",
        value_name = "SCHEMES",
        value_delimiter = ','
    )]
    pub native_redirect_schemes: Option<Vec<String>>,
    /// TEST ONLY: fetch client metadata documents from loopback addresses.
    #[arg(long, env = "MCPAUTH_DANGEROUS_CIMD_ALLOW_LOOPBACK", num_args = 0..=1, default_missing_value = "true", value_name = "BOOL", hide = true)]
    pub dangerous_cimd_allow_loopback: Option<bool>,
    /// TEST ONLY: also trust these CA certificates (PEM) when fetching
    /// client metadata documents.
    #[arg(
        long,
        env = "MCPAUTH_DANGEROUS_CIMD_CA_FILE",
        value_name = "FILE",
        hide = true
    )]
    pub dangerous_cimd_ca_file: Option<PathBuf>,
    /// An upstream OpenID Connect provider offered on the sign-in page:
    /// `id=google;name=Google;issuer=https://accounts.google.com;client_id=ID`
    /// plus optional `allowed_email_domains=a,b`, `required_claims=name:value`,
    /// `scopes=…`, `token_endpoint_auth_method=…`, `allow_private_network=true`,
    /// `client_secret_file=PATH` (repeat the flag, or separate providers with
    /// `|`). The secret comes from MCPAUTH_OIDC_<ID>_CLIENT_SECRET, the file,
    /// or the config file; see README "Sign in with…".
    #[arg(
        long = "oidc",
        env = "MCPAUTH_OIDC",
        value_name = "SPEC",
        value_delimiter = '|'
    )]
    pub oidc: Option<Vec<String>>,
    /// Offer local users' username and password on the sign-in page
    /// (false: only Privy or the OpenID providers) [default: true].
    #[arg(long, env = "MCPAUTH_PASSWORD_LOGIN", num_args = 0..=1, default_missing_value = "true", value_name = "BOOL")]
    pub password_login: Option<bool>,
    /// TEST ONLY: also trust these CA certificates (PEM) when talking to
    /// OpenID providers.
    #[arg(
        long,
        env = "MCPAUTH_DANGEROUS_OIDC_CA_FILE",
        value_name = "FILE",
        hide = true
    )]
    pub dangerous_oidc_ca_file: Option<PathBuf>,
    /// Dynamic client registration (RFC 7591 `POST /register`): `open`, or
    /// `closed` (only the clients of the configuration file's `[[clients]]`
    /// and, if on, client ID metadata documents) [default: open].
    #[arg(long, env = "MCPAUTH_REGISTRATION", value_enum, value_name = "MODE")]
    pub registration: Option<RegistrationMode>,
    /// Resource-server mode: no local authorization server; accept RFC 9068
    /// access tokens of this issuer (its identifier, exactly as in `iss`),
    /// verified with the keys its metadata's `jwks_uri` publishes.
    #[arg(long, env = "MCPAUTH_ISSUER", value_name = "URL")]
    pub issuer: Option<String>,
    /// Let --issuer (and its jwks_uri) be on loopback or private (RFC 1918,
    /// unique-local) addresses, plain http allowed there: a test or LAN
    /// issuer [default: false, public https only].
    #[arg(long, env = "MCPAUTH_ISSUER_ALLOW_PRIVATE", num_args = 0..=1, default_missing_value = "true", value_name = "BOOL")]
    pub issuer_allow_private: Option<bool>,
    /// Least time between two fetches of the issuer's keys prompted by
    /// tokens with an unknown `kid` [default: 30s].
    #[arg(long, env = "MCPAUTH_ISSUER_JWKS_MIN_INTERVAL", value_name = "DURATION", value_parser = parse_duration)]
    pub issuer_jwks_min_interval: Option<Duration>,
    /// Longest time the issuer's keys are used before they are fetched
    /// again (its JWKS `max-age` may shorten it) [default: 1h].
    #[arg(long, env = "MCPAUTH_ISSUER_JWKS_REFRESH", value_name = "DURATION", value_parser = parse_duration)]
    pub issuer_jwks_refresh: Option<Duration>,
    /// With --issuer: also ask the issuer about every token (RFC 7662
    /// introspection, its metadata's introspection_endpoint), so a token
    /// revoked there is refused here within --issuer-introspection-cache;
    /// needs --issuer-client-id and MCPAUTH_ISSUER_CLIENT_SECRET [default: false].
    #[arg(long, env = "MCPAUTH_ISSUER_INTROSPECTION", num_args = 0..=1, default_missing_value = "true", value_name = "BOOL")]
    pub issuer_introspection: Option<bool>,
    /// The client id this resource server introspects as (the issuer must
    /// allow it to introspect other clients' tokens).
    #[arg(long, env = "MCPAUTH_ISSUER_CLIENT_ID", value_name = "ID")]
    pub issuer_client_id: Option<String>,
    /// Its client secret (prefer the environment variable or the config
    /// file; never printed).
    #[arg(
        long,
        env = "MCPAUTH_ISSUER_CLIENT_SECRET",
        value_name = "SECRET",
        hide_env_values = true
    )]
    pub issuer_client_secret: Option<String>,
    /// How long an introspection answer is reused for the same token [default: 10s].
    #[arg(long, env = "MCPAUTH_ISSUER_INTROSPECTION_CACHE", value_name = "DURATION", value_parser = parse_duration)]
    pub issuer_introspection_cache: Option<Duration>,
    /// The auth proxy (`--upstream` and its bounds).
    #[command(flatten)]
    pub upstream: crate::upstream::config::UpstreamArgs,
}

/// The TOML file. Every key is optional; unknown keys are errors.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileConfig {
    listen: Option<SocketAddr>,
    metrics_listen: Option<SocketAddr>,
    audit_log: Option<String>,
    public_url: Option<String>,
    data_dir: Option<PathBuf>,
    store: Option<String>,
    access_token_ttl: Option<DurationValue>,
    refresh_token_ttl: Option<DurationValue>,
    allowed_origins: Option<Vec<String>>,
    trusted_proxies: Option<Vec<String>>,
    stateless: Option<bool>,
    tls_cert: Option<PathBuf>,
    tls_key: Option<PathBuf>,
    max_body_bytes: Option<usize>,
    log_format: Option<LogFormat>,
    log: Option<String>,
    admin_socket: Option<String>,
    privy_app_id: Option<String>,
    privy_app_secret: Option<String>,
    privy_verification_key: Option<PathBuf>,
    privy_api_url: Option<String>,
    privy_jwks_url: Option<String>,
    privy_sdk_url: Option<String>,
    privy_sdk_integrity: Option<String>,
    privy_allowed_users: Option<Vec<String>>,
    privy_allowed_email_domains: Option<Vec<String>>,
    client_metadata_documents: Option<bool>,
    introspection_clients: Option<Vec<String>>,
    unused_client_ttl: Option<DurationValue>,
    max_unused_clients: Option<usize>,
    native_redirect_schemes: Option<Vec<String>>,
    dangerous_cimd_allow_loopback: Option<bool>,
    dangerous_cimd_ca_file: Option<PathBuf>,
    resources: Option<Vec<crate::resources::ResourceEntry>>,
    upstream: Option<crate::upstream::config::UpstreamFile>,
    oidc: Option<Vec<crate::oidc::OidcEntry>>,
    password_login: Option<bool>,
    dangerous_oidc_ca_file: Option<PathBuf>,
    registration: Option<RegistrationMode>,
    clients: Option<Vec<ClientEntry>>,
    issuer: Option<String>,
    issuer_allow_private: Option<bool>,
    issuer_jwks_min_interval: Option<DurationValue>,
    issuer_jwks_refresh: Option<DurationValue>,
    issuer_introspection: Option<bool>,
    issuer_client_id: Option<String>,
    issuer_client_secret: Option<String>,
    issuer_introspection_cache: Option<DurationValue>,
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

fn load_file(path: Option<&Path>) -> Result<FileConfig, ConfigError> {
    let Some(path) = path else {
        return Ok(FileConfig::default());
    };
    let text = std::fs::read_to_string(path).map_err(|e| {
        ConfigError::new("--config", format!("cannot read {}: {e}", path.display()))
    })?;
    toml::from_str(&text)
        .map_err(|e| ConfigError::new("--config", format!("{}: {e}", path.display())))
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
    let sdk_url = privy_script_url(
        operator_script.clone(),
        crate::privy::embedded_glue(),
        public_url,
    )?;
    let sdk_integrity = pick(&serve.privy_sdk_integrity, &file.privy_sdk_integrity);
    if operator_script.is_none() && sdk_integrity.is_some() {
        return Err(ConfigError::new(
            "--privy-sdk-integrity",
            "only with --privy-sdk-url (the built-in script is served by this server)",
        ));
    }
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

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// `mcpauth serve ARGS` resolved (for the settings tests of other modules too).
    pub(crate) fn serve(args: &[&str]) -> Result<ServeSettings, ConfigError> {
        let mut v = vec!["mcpauth", "serve"];
        v.extend_from_slice(args);
        let cli = Cli::try_parse_from(v).expect("parse");
        match cli.command {
            Command::Serve(s) => resolve_serve(&cli.common, &s),
            _ => unreachable!(),
        }
    }

    #[test]
    fn client_ids_may_start_with_a_hyphen() {
        let cli = Cli::try_parse_from(["mcpauth", "client", "remove", "-x4Fq"]).expect("parse");
        match cli.command {
            Command::Client {
                command: ClientCommand::Remove { client_id },
            } => assert_eq!(client_id, "-x4Fq"),
            _ => unreachable!(),
        }
    }

    #[test]
    fn client_metadata_documents_default_on_and_strict() {
        let s = serve(&[]).expect("ok");
        let cimd = s.client_metadata.expect("on by default");
        assert!(!cimd.dangerous_allow_loopback);
        assert!(cimd.extra_roots.is_empty());
        let s = serve(&["--client-metadata-documents", "false"]).expect("ok");
        assert!(s.client_metadata.is_none());
        let s = serve(&["--dangerous-cimd-allow-loopback"]).expect("ok");
        assert!(s.client_metadata.expect("on").dangerous_allow_loopback);
        let err = serve(&["--dangerous-cimd-ca-file", "/nonexistent/ca.pem"])
            .expect_err("missing CA file");
        assert!(
            err.to_string().contains("--dangerous-cimd-ca-file"),
            "{err}"
        );
    }

    #[test]
    fn trusted_proxies_default_to_loopback_and_refuse_garbage() {
        let s = serve(&[]).expect("ok");
        assert_eq!(s.trusted_proxies, TrustedProxies::loopback());
        let s = serve(&["--trusted-proxies", "none"]).expect("ok");
        assert_eq!(s.trusted_proxies, TrustedProxies::none());
        let s = serve(&["--trusted-proxies", "10.0.0.0/8,192.0.2.7"]).expect("ok");
        assert_eq!(
            s.trusted_proxies,
            TrustedProxies::parse(&["10.0.0.0/8", "192.0.2.7"]).expect("valid")
        );
        let err = serve(&["--trusted-proxies", "10.0.0.0/8,proxy.local"]).expect_err("refused");
        assert!(err.to_string().contains("--trusted-proxies"), "{err}");
        assert!(err.to_string().contains("proxy.local"), "{err}");
    }

    #[test]
    fn resource_server_settings() {
        assert!(serve(&[]).expect("ok").remote_issuer.is_none());
        let s = serve(&["--issuer", "https://auth.example.com"]).expect("ok");
        let rs = s.remote_issuer.expect("resource-server mode");
        assert_eq!(rs.issuer, "https://auth.example.com");
        assert!(!rs.allow_private);
        assert_eq!(rs.min_interval, Duration::from_secs(30));
        let e = serve(&["--issuer", "http://127.0.0.1:9000"]).expect_err("http needs opt-in");
        assert_eq!(e.setting, "--issuer");
        let s = serve(&[
            "--issuer",
            "http://127.0.0.1:9000",
            "--issuer-allow-private",
            "--issuer-jwks-min-interval",
            "1s",
        ])
        .expect("ok");
        let rs = s.remote_issuer.expect("rs");
        assert!(rs.allow_private);
        assert_eq!(rs.min_interval, Duration::from_secs(1));
        assert!(rs.introspection.is_none());
        let e = serve(&["--issuer", "https://a.example", "--issuer-introspection"])
            .expect_err("no client id");
        assert_eq!(e.setting, "--issuer-client-id");
        let s = serve(&[
            "--issuer",
            "https://a.example",
            "--issuer-introspection",
            "--issuer-client-id",
            "rs-1",
            "--issuer-client-secret",
            "s3cret-value",
        ])
        .expect("ok");
        let i = s.remote_issuer.expect("rs").introspection.expect("on");
        assert_eq!(
            (i.client_id.as_str(), i.cache),
            ("rs-1", Duration::from_secs(10))
        );
        assert!(!format!("{i:?}").contains("s3cret"), "secret never printed");
        let e = serve(&["--issuer", "auth.example.com"]).expect_err("not a URL");
        assert_eq!(e.setting, "--issuer");
        let e = serve(&[
            "--issuer",
            "https://auth.example.com",
            "--resource",
            "https://d.example/mcp",
        ])
        .expect_err("no local AS");
        assert_eq!(e.setting, "--resource");
    }

    #[test]
    fn defaults_on_loopback() {
        let s = serve(&[]).expect("ok");
        assert_eq!(s.listen.to_string(), "127.0.0.1:8080");
        assert_eq!(s.public_url, "http://127.0.0.1:8080");
        assert_eq!(s.common.access_token_ttl, 3600);
    }

    #[test]
    fn public_url_required_off_loopback() {
        let e = serve(&["--listen", "0.0.0.0:8080"]).expect_err("must fail");
        assert_eq!(e.setting, "--public-url");
        let e = serve(&[
            "--listen",
            "0.0.0.0:8080",
            "--public-url",
            "http://mcp.example.com",
        ])
        .expect_err("must fail");
        assert!(e.problem.contains("https"));
        let s = serve(&[
            "--listen",
            "0.0.0.0:8080",
            "--public-url",
            "https://mcp.example.com/",
        ])
        .expect("ok");
        assert_eq!(s.public_url, "https://mcp.example.com");
    }

    #[test]
    fn durations() {
        assert_eq!(parse_duration("1h"), Ok(Duration::from_secs(3600)));
        assert_eq!(parse_duration("30d"), Ok(Duration::from_secs(30 * 86400)));
        assert_eq!(parse_duration("90"), Ok(Duration::from_secs(90)));
        assert!(parse_duration("soon").is_err());
        let e = serve(&["--access-token-ttl", "10"]).expect_err("too short");
        assert_eq!(e.setting, "--access-token-ttl");
    }

    #[test]
    fn file_is_below_flags() {
        let dir = std::env::temp_dir().join(format!("mcpauth-cfg-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("dir");
        let f = dir.join("c.toml");
        std::fs::write(
            &f,
            "listen = \"127.0.0.1:9000\"\naccess_token_ttl = \"2h\"\nstateless = true\n",
        )
        .expect("write");
        let path = f.to_str().expect("utf8");
        let s = serve(&["--config", path]).expect("ok");
        assert_eq!(s.listen.port(), 9000);
        assert_eq!(s.common.access_token_ttl, 7200);
        assert!(s.stateless);
        let s = serve(&[
            "--config",
            path,
            "--listen",
            "127.0.0.1:9100",
            "--stateless=false",
        ])
        .expect("ok");
        assert_eq!(s.listen.port(), 9100);
        assert!(!s.stateless);
        std::fs::write(&f, "lisen = 1\n").expect("write");
        let e = serve(&["--config", path]).expect_err("unknown key");
        assert_eq!(e.setting, "--config");
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn privy_script_is_the_operators_or_the_built_in_one() {
        let public = "https://auth.example";
        // The operator's script wins, built in or not.
        for embedded in [Some(&b"glue"[..]), None] {
            let url = privy_script_url(Some("https://cdn.example/g.js".into()), embedded, public)
                .expect("operator's");
            assert_eq!(url, "https://cdn.example/g.js");
        }
        // The built-in one, versioned by its content.
        let a = privy_script_url(None, Some(b"glue one"), public).expect("built in");
        let b = privy_script_url(None, Some(b"glue two"), public).expect("built in");
        assert!(
            a.starts_with("https://auth.example/privy/glue.js?v="),
            "{a}"
        );
        assert_eq!(a.len(), "https://auth.example/privy/glue.js?v=".len() + 16);
        assert_ne!(a, b, "a new script gets a new URL");
        // Neither: refuse to start, and say how to build it.
        let e = privy_script_url(None, None, public).expect_err("no script");
        assert_eq!(e.setting, "--privy-app-id");
        assert!(e.to_string().contains("scripts/build-privy.sh"), "{e}");
    }

    #[test]
    fn privy_settings() {
        let s = serve(&[]).expect("ok");
        assert!(s.privy.is_none(), "no Privy by default");
        let s = serve(&[
            "--privy-app-id",
            "app-1",
            "--privy-app-secret",
            "s3cret",
            "--privy-sdk-url",
            "https://cdn.example/glue.js",
            "--privy-sdk-integrity",
            "sha384-abc+/=",
            "--privy-api-url",
            "http://127.0.0.1:9/",
            "--privy-allowed-users",
            "did:privy:a, did:privy:b",
            "--privy-allowed-email-domains",
            "Example.com",
        ])
        .expect("ok");
        let p = s.privy.expect("privy");
        assert_eq!(p.allowed_users, ["did:privy:a", "did:privy:b"]);
        assert_eq!(p.allowed_email_domains, ["example.com"]);
        assert_eq!(p.sdk_integrity.as_deref(), Some("sha384-abc+/="));
        // A script from another origin needs its integrity; one served by
        // this origin does not.
        let cdn = [
            "--privy-app-id",
            "a",
            "--privy-app-secret",
            "s",
            "--privy-sdk-url",
        ];
        let e = serve(&[&cdn[..], &["https://cdn.example/glue.js"]].concat())
            .expect_err("no integrity");
        assert_eq!(e.setting, "--privy-sdk-integrity");
        let own = serve(&[&cdn[..], &["http://127.0.0.1:8080/glue.js"]].concat()).expect("ok");
        assert!(own.privy.expect("privy").sdk_integrity.is_none());
        let e = serve(
            &[
                &cdn[..],
                &[
                    "http://127.0.0.1:8080/glue.js",
                    "--privy-allowed-users",
                    "alice",
                ],
            ]
            .concat(),
        )
        .expect_err("not a DID");
        assert_eq!(e.setting, "--privy-*");
        let p = serve(&[
            "--privy-app-id",
            "app-1",
            "--privy-app-secret",
            "s3cret",
            "--privy-sdk-url",
            "https://cdn.example/glue.js",
            "--privy-sdk-integrity",
            "sha384-abc",
            "--privy-api-url",
            "http://127.0.0.1:9/",
        ])
        .expect("ok")
        .privy
        .expect("privy");
        assert_eq!(p.app_id, "app-1");
        assert_eq!(p.api_url, "http://127.0.0.1:9");
        assert!(p.verification_key.is_none());
        assert_eq!(p.jwks_url, "https://api.privy.io/v1/apps/app-1/jwks.json");
        // Only the app id: the key from the app's public key set.
        let p = serve(&[
            "--privy-app-id",
            "app-2",
            "--privy-sdk-url",
            "http://127.0.0.1:8080/glue.js",
            "--privy-jwks-url",
            "http://127.0.0.1:9/keys.json",
        ])
        .expect("no key file or secret needed")
        .privy
        .expect("privy");
        assert!(p.app_secret.is_none() && p.verification_key.is_none());
        assert_eq!(p.jwks_url, "http://127.0.0.1:9/keys.json");
        assert!(!format!("{p:?}").contains("s3cret"), "secret never printed");
        let e = serve(&["--privy-sdk-url", "https://x/g.js"]).expect_err("no app id");
        assert_eq!(e.setting, "--privy-app-id");
        // Without --privy-sdk-url: the script built into this binary, or a
        // start-up error that names the build script.
        let only_id = serve(&["--privy-app-id", "a", "--privy-app-secret", "s"]);
        match crate::privy::embedded_glue() {
            Some(_) => {
                let p = only_id.expect("the built-in script").privy.expect("privy");
                assert!(
                    p.sdk_url
                        .starts_with("http://127.0.0.1:8080/privy/glue.js?v="),
                    "{}",
                    p.sdk_url
                );
                assert!(p.sdk_integrity.is_none());
            }
            None => {
                let e = only_id.expect_err("no script");
                assert_eq!(e.setting, "--privy-app-id");
                assert!(e.to_string().contains("scripts/build-privy.sh"), "{e}");
            }
        }
        let e = serve(&[
            "--privy-app-id",
            "a",
            "--privy-app-secret",
            "s",
            "--privy-sdk-integrity",
            "sha384-abc",
        ])
        .expect_err("integrity of which script?");
        assert_eq!(e.setting, "--privy-sdk-integrity");
        let e = serve(&[
            "--privy-app-id",
            "a",
            "--privy-app-secret",
            "s",
            "--privy-sdk-url",
            "https://x/g.js",
            "--privy-sdk-integrity",
            "sha384-abc",
            "--privy-api-url",
            "ftp://x",
        ])
        .expect_err("api url");
        assert_eq!(e.setting, "--privy-api-url");
        // A key file that is not a P-256 SPKI PEM.
        let f = std::env::temp_dir().join(format!("mcpauth-privy-{}.pem", std::process::id()));
        std::fs::write(
            &f,
            "-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n",
        )
        .expect("write");
        let e = serve(&[
            "--privy-app-id",
            "a",
            "--privy-sdk-url",
            "https://x/g.js",
            "--privy-verification-key",
            f.to_str().expect("utf8"),
        ])
        .expect_err("bad key");
        assert_eq!(e.setting, "--privy-verification-key");
        let _ = std::fs::remove_file(&f);
    }
}
