//! The store URL: what `--store postgres://…` says, validated (the
//! parameters and bounds are listed in [`super`]), and the TLS connector it
//! asks for.

use std::time::Duration;

/// Settings parsed from a `postgres://` store URL.
#[derive(Clone)]
pub struct PgOptions {
    pub(super) config: tokio_postgres::Config,
    /// TLS to the server (`sslmode=require`), verified against
    /// `sslrootcert` or the system's roots.
    pub(super) tls: Option<tokio_postgres_rustls::MakeRustlsConnect>,
    /// Schema holding the tables.
    pub schema: String,
    /// Pool size.
    pub pool_max: usize,
    /// Server-side statement timeout.
    pub statement_timeout: Duration,
    /// Client-side limit per store operation.
    pub op_timeout: Duration,
    /// Most pending authorization requests held (`pending_max`).
    pub pending_max: u64,
    /// How long a cached token's revocation check is trusted (zero: never).
    pub revocation_recheck: Duration,
}

/// Largest `revocation_recheck_ms`: a revoked token must not stay usable at
/// other instances of the fleet for longer than this.
pub const MAX_REVOCATION_RECHECK_MS: u64 = 60_000;

impl std::fmt::Debug for PgOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never print the password.
        f.debug_struct("PgOptions")
            .field("target", &self.target())
            .field("schema", &self.schema)
            .field("pool_max", &self.pool_max)
            .finish_non_exhaustive()
    }
}

/// Whether `url` selects the PostgreSQL store.
pub fn is_postgres_url(url: &str) -> bool {
    url.starts_with("postgres://") || url.starts_with("postgresql://")
}

fn valid_schema(s: &str) -> bool {
    let mut chars = s.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_lowercase() || c == '_')
        && chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
        && s.len() <= 63
}

impl PgOptions {
    /// Parse a `postgres://` URL with mcpauth's extra parameters.
    pub fn parse(url: &str) -> Result<PgOptions, String> {
        let (base, query) = match url.split_once('?') {
            Some((b, q)) => (b, q),
            None => (url, ""),
        };
        let mut schema = "mcpauth".to_owned();
        let mut pool_max = 16usize;
        let mut statement_ms = 5000u64;
        let mut op_ms = 10_000u64;
        let mut pending_max = crate::db::PENDING_CAPACITY;
        let mut recheck_ms = 0u64;
        let mut rest = Vec::new();
        let mut root_cert: Option<String> = None;
        for pair in query.split('&').filter(|p| !p.is_empty()) {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            let num = |what: &str| -> Result<u64, String> {
                v.parse::<u64>()
                    .ok()
                    .filter(|n| *n > 0)
                    .ok_or_else(|| format!("{what} must be a positive number"))
            };
            match k {
                "schema" => {
                    if !valid_schema(v) {
                        return Err(format!(
                            "schema {v:?} must be 1 to 63 of a-z, 0-9, '_' (not starting with a digit)"
                        ));
                    }
                    schema = v.to_owned();
                }
                "pool_max" => pool_max = num("pool_max")? as usize,
                "statement_timeout_ms" => statement_ms = num("statement_timeout_ms")?,
                "op_timeout_ms" => op_ms = num("op_timeout_ms")?,
                "pending_max" => pending_max = num("pending_max")?,
                "revocation_recheck_ms" => {
                    recheck_ms = v
                        .parse::<u64>()
                        .ok()
                        .filter(|n| *n <= MAX_REVOCATION_RECHECK_MS)
                        .ok_or_else(|| {
                            format!(
                                "revocation_recheck_ms must be a number from 0 to {MAX_REVOCATION_RECHECK_MS}"
                            )
                        })?;
                }
                "sslrootcert" => root_cert = Some(v.to_owned()),
                _ => rest.push(pair),
            }
        }
        let url = if rest.is_empty() {
            base.to_owned()
        } else {
            format!("{base}?{}", rest.join("&"))
        };
        let mut config: tokio_postgres::Config = url
            .parse()
            .map_err(|e| format!("not a valid PostgreSQL URL: {e}"))?;
        if config.get_connect_timeout().is_none() {
            config.connect_timeout(Duration::from_secs(5));
        }
        if config.get_application_name().is_none() {
            config.application_name("mcpauth");
        }
        config.keepalives(true);
        config.keepalives_idle(Duration::from_secs(30));
        // Every session works in the schema, with a bounded statement time
        // and no transaction left open holding locks.
        let mut opts = format!(
            "-c search_path={schema} -c statement_timeout={statement_ms} -c idle_in_transaction_session_timeout={}",
            statement_ms.saturating_mul(2)
        );
        if let Some(existing) = config.get_options() {
            opts = format!("{existing} {opts}");
        }
        config.options(&opts);
        let tls = if matches!(
            config.get_ssl_mode(),
            tokio_postgres::config::SslMode::Require
        ) {
            Some(tls_connector(root_cert.as_deref())?)
        } else if root_cert.is_some() {
            return Err("sslrootcert needs sslmode=require".into());
        } else {
            None
        };
        Ok(PgOptions {
            config,
            tls,
            schema,
            pool_max: pool_max.clamp(2, 1000),
            statement_timeout: Duration::from_millis(statement_ms),
            op_timeout: Duration::from_millis(op_ms),
            pending_max,
            revocation_recheck: Duration::from_millis(recheck_ms),
        })
    }

    /// `host:port/db` for messages (no credentials).
    pub fn target(&self) -> String {
        let host = self
            .config
            .get_hosts()
            .first()
            .map(|h| match h {
                tokio_postgres::config::Host::Tcp(s) => s.clone(),
                #[cfg(unix)]
                tokio_postgres::config::Host::Unix(p) => p.display().to_string(),
            })
            .unwrap_or_else(|| "localhost".into());
        let port = self.config.get_ports().first().copied().unwrap_or(5432);
        let db = self.config.get_dbname().unwrap_or("(default)");
        format!("{host}:{port}/{db}")
    }
}

/// A rustls connector (ring provider) trusting the PEM certificates in
/// `root_cert`, or the system's root certificates.
fn tls_connector(
    root_cert: Option<&str>,
) -> Result<tokio_postgres_rustls::MakeRustlsConnect, String> {
    use rustls_pki_types::CertificateDer;
    use rustls_pki_types::pem::PemObject;
    use tokio_rustls::rustls;
    let mut roots = rustls::RootCertStore::empty();
    match root_cert {
        Some(path) => {
            let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(path)
                .map_err(|e| format!("sslrootcert {path}: {e}"))?
                .collect::<Result<_, _>>()
                .map_err(|e| format!("sslrootcert {path}: {e}"))?;
            for c in certs {
                roots
                    .add(c)
                    .map_err(|e| format!("sslrootcert {path}: {e}"))?;
            }
        }
        None => {
            let found = rustls_native_certs::load_native_certs();
            roots.add_parsable_certificates(found.certs);
        }
    }
    if roots.is_empty() {
        return Err("sslmode=require: no trusted root certificates (set sslrootcert=PATH)".into());
    }
    let provider = std::sync::Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| format!("TLS: {e}"))?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(tokio_postgres_rustls::MakeRustlsConnect::new(config))
}
