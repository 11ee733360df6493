//! The command line: commands, flags and their `MCPAUTH_*` variables
//! (clap). Every value is optional here; the resolution falls through to
//! the file and the defaults.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, Parser, Subcommand};

use super::{RegistrationMode, parse_duration};
use crate::logging::LogFormat;

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
    // A registered client's id is random base64url and may start with `-`.
    #[arg(
        long,
        env = "MCPAUTH_INTROSPECTION_CLIENTS",
        value_name = "CLIENT_IDS",
        value_delimiter = ',',
        allow_hyphen_values = true
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
    // An id an mcpauth issuer registered is random base64url: it may start
    // with `-`.
    #[arg(
        long,
        env = "MCPAUTH_ISSUER_CLIENT_ID",
        value_name = "ID",
        allow_hyphen_values = true
    )]
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
