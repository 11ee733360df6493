//! The `mcpauth` command line: `serve`, `user`, `client`, `keys`.

use std::io::BufRead;
use std::process::ExitCode;
use std::sync::Arc;

use clap::Parser;
use mcpauth_core::mcp::{Registry, RegistryError};

use crate::admin::AdminRequest;
use crate::app::{App, AppOptions};
use crate::backend::{Backend, HostStore};
use crate::config::{
    Cli, ClientCommand, Command, CommonArgs, KeysCommand, ServeArgs, ServeSettings, UserCommand,
    resolve_common, resolve_serve,
};
use crate::server::{Limits, ServerOptions};
use crate::users::Users;

/// Run the CLI with the built-in tools.
pub fn main() -> ExitCode {
    main_with(|_| Ok(()))
}

/// Run the CLI; `extend` registers extra tools, resources and prompts next
/// to the built-in ones (see `examples/custom_tool.rs`).
pub fn main_with(
    extend: impl FnOnce(&mut Registry) -> Result<(), RegistryError> + Send + 'static,
) -> ExitCode {
    let cli = Cli::parse();
    match run(cli, extend) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("mcpauth: error: {e}");
            ExitCode::FAILURE
        }
    }
}

type BoxError = Box<dyn std::error::Error + Send + Sync>;

fn run(
    cli: Cli,
    extend: impl FnOnce(&mut Registry) -> Result<(), RegistryError> + Send + 'static,
) -> Result<(), BoxError> {
    match cli.command {
        Command::Serve(args) => {
            let settings = resolve_serve(&cli.common, &args)?;
            crate::logging::init(
                settings.common.log_format,
                &settings.common.log,
                settings.audit_log.as_ref(),
            )?;
            serve(settings, extend)
        }
        Command::User { command } => user(&cli.common, command),
        Command::Client { command } => client(&cli.common, command),
        Command::Keys { command } => keys(&cli.common, command),
        Command::Status => admin(&cli.common, AdminRequest::Status),
        Command::Healthcheck(args) => Ok(crate::healthcheck::run(&args)?),
    }
}

fn read_password() -> Result<zeroize::Zeroizing<String>, BoxError> {
    let mut line = zeroize::Zeroizing::new(String::new());
    std::io::stdin().lock().read_line(&mut line)?;
    let trimmed = zeroize::Zeroizing::new(line.trim_end_matches(['\r', '\n']).to_owned());
    if trimmed.is_empty() {
        return Err(
            "no password on standard input (try: echo 'secret-password' | mcpauth user add NAME)"
                .into(),
        );
    }
    Ok(trimmed)
}

/// Run an administrative command: through a running server's admin
/// socket when one answers (live), otherwise on the store directly.
fn admin(common: &CommonArgs, req: AdminRequest) -> Result<(), BoxError> {
    let (settings, _) = resolve_common(common, &ServeArgs::default())?;
    if let Some(socket) = &settings.admin_socket
        && let Some(answer) = crate::admin::send(socket, &req)
    {
        print!("{}", answer?);
        return Ok(());
    }
    if req.needs_server() {
        return Err(format!(
            "no mcpauth server answers on its admin socket ({}); {:?} needs a running server",
            settings
                .admin_socket
                .as_deref()
                .map_or_else(|| "none".into(), |p| p.display().to_string()),
            req
        )
        .into());
    }
    let db = Backend::open(settings.store.as_deref(), &settings.data_dir)?;
    let result = crate::admin::execute(&db, settings.access_token_ttl, req, None);
    db.close();
    print!("{}", result?);
    Ok(())
}

fn user(common: &CommonArgs, command: UserCommand) -> Result<(), BoxError> {
    let req = match command {
        UserCommand::Add { username } => AdminRequest::UserAdd {
            username,
            password: read_password()?.to_string(),
        },
        UserCommand::List => AdminRequest::UserList,
        UserCommand::Remove { username } => AdminRequest::UserRemove { username },
        UserCommand::Passwd { username } => AdminRequest::UserPasswd {
            username,
            password: read_password()?.to_string(),
        },
    };
    admin(common, req)
}

fn client(common: &CommonArgs, command: ClientCommand) -> Result<(), BoxError> {
    let req = match command {
        ClientCommand::HashSecret { generate } => {
            let secret = if generate {
                let secret = zeroize::Zeroizing::new(
                    mcpauth_core::rand::random_token::<32>(&mut crate::env::OsRandom)
                        .map_err(|e| format!("cannot generate a secret: {e:?}"))?,
                );
                println!("client_secret = \"{}\"", secret.as_str());
                secret
            } else {
                read_password()?
            };
            let hash = crate::users::hash_password(&secret)?;
            println!("client_secret_hash = \"{hash}\"");
            return Ok(());
        }
        ClientCommand::List => AdminRequest::ClientList,
        ClientCommand::Remove { client_id } => AdminRequest::ClientRemove { client_id },
    };
    admin(common, req)
}

fn keys(common: &CommonArgs, command: KeysCommand) -> Result<(), BoxError> {
    let req = match command {
        KeysCommand::List => AdminRequest::KeysList,
        KeysCommand::Rotate => AdminRequest::KeysRotate,
        KeysCommand::Reload => AdminRequest::KeysReload,
    };
    admin(common, req)
}

fn load_tls(
    cert: &std::path::Path,
    key: &std::path::Path,
) -> Result<tokio_rustls::TlsAcceptor, BoxError> {
    use rustls_pki_types::pem::PemObject;
    use rustls_pki_types::{CertificateDer, PrivateKeyDer};
    use tokio_rustls::rustls;
    let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(cert)
        .map_err(|e| format!("--tls-cert {}: {e}", cert.display()))?
        .collect::<Result<_, _>>()
        .map_err(|e| format!("--tls-cert {}: {e}", cert.display()))?;
    if certs.is_empty() {
        return Err(format!("--tls-cert {}: no certificate found", cert.display()).into());
    }
    let key = PrivateKeyDer::from_pem_file(key)
        .map_err(|e| format!("--tls-key {}: {e}", key.display()))?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| format!("TLS: {e}"))?
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .map_err(|e| format!("--tls-cert/--tls-key: {e}"))?;
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(tokio_rustls::TlsAcceptor::from(Arc::new(config)))
}

fn serve(
    settings: ServeSettings,
    extend: impl FnOnce(&mut Registry) -> Result<(), RegistryError> + Send + 'static,
) -> Result<(), BoxError> {
    if let Some(remote) = settings.remote_issuer.clone() {
        return serve_resource_server(settings, remote, extend);
    }
    let tls = match &settings.tls {
        Some((c, k)) => Some(load_tls(c, k)?),
        None => None,
    };
    let db = Backend::open(settings.common.store.as_deref(), &settings.common.data_dir)?;
    let now = crate::env::now()
        .ok_or("the system clock reads before 1970")?
        .secs();
    let keys = db.with_key_lock(|| {
        crate::keys::load_or_create(&db, settings.common.access_token_ttl, now)
    })??;
    let user_count = Users::new(db.clone()).count()?;
    let mut registry = Registry::new();
    crate::tools::register_builtin(&mut registry).map_err(crate::app::AppError::from)?;
    extend(&mut registry).map_err(crate::app::AppError::from)?;
    let options = AppOptions {
        public_url: settings.public_url.clone(),
        access_token_ttl: settings.common.access_token_ttl,
        refresh_token_ttl: settings.refresh_token_ttl,
        allowed_origins: settings.allowed_origins.clone(),
        stateless: settings.stateless,
        token_cache: 10_000,
        privy: settings.privy.clone(),
        client_metadata: settings.client_metadata.clone(),
        client_rules: settings.client_rules.clone(),
        resources: settings.resources.clone(),
        upstreams: settings.upstream.clone(),
        oidc: settings.oidc.clone(),
    };
    let connection_workers = crate::server::default_connection_workers();
    let runtime = main_runtime(connection_workers)?;
    let result: Result<(), BoxError> = runtime.block_on(async {
        let app = App::new(&options, db.clone(), keys, registry)?;
        // On a shared store other instances may rotate the keys: reload
        // them periodically (and, in the app, on a token with an unknown kid).
        let key_reloader = db.is_shared().then(|| {
            let (db, keys) = (db.clone(), app.keys());
            let ttl = settings.common.access_token_ttl;
            tokio::spawn(async move {
                let mut tick = tokio::time::interval(crate::backend::KEY_RELOAD_INTERVAL);
                tick.tick().await;
                loop {
                    tick.tick().await;
                    let (db, keys) = (db.clone(), keys.clone());
                    let r = tokio::task::spawn_blocking(move || {
                        crate::backend::reload_keys(&db, &keys, ttl)
                    })
                    .await;
                    if let Ok(Err(e)) = r {
                        tracing::warn!(error = %e, "could not reload the signing keys");
                    }
                }
            })
        });
        let admin = match &settings.common.admin_socket {
            Some(path) => Some(crate::admin::spawn(
                path.clone(),
                crate::admin::AdminTarget::Issuer {
                    db: db.clone(),
                    live: crate::admin::LiveKeys {
                        keys: app.keys(),
                        issuer: settings.public_url.clone(),
                    },
                    access_token_ttl: settings.common.access_token_ttl,
                },
            )?),
            None => None,
        };
        let listener = tokio::net::TcpListener::bind(settings.listen)
            .await
            .map_err(|e| format!("--listen {}: {e}", settings.listen))?;
        let local = listener.local_addr()?;
        print_banner(&settings, local, user_count, &db);
        tracing::info!(listen = %local, issuer = %settings.public_url, "mcpauth started");
        let sweeper_db = db.clone();
        let sweeper = tokio::spawn(async move {
            let mut tick = tokio::time::interval(std::time::Duration::from_secs(600));
            loop {
                tick.tick().await;
                if let Some(now) = crate::env::now()
                    && let Ok(n) = sweeper_db.sweep(now.secs()).await
                    && n > 0
                {
                    tracing::debug!(removed = n, "expired records swept");
                }
            }
        });
        let limits = Limits {
            max_body_bytes: settings.max_body_bytes,
            ..Limits::default()
        };
        let metrics = MetricsListener::start(settings.metrics_listen).await?;
        let server_options = ServerOptions {
            limits,
            tls,
            trusted_proxies: settings.trusted_proxies.clone(),
            connection_workers,
        };
        crate::server::serve(
            listener,
            app,
            server_options,
            crate::server::shutdown_signal(),
        )
        .await;
        metrics.stop().await;
        sweeper.abort();
        drop(admin);
        if let Some(r) = key_reloader {
            r.abort();
        }
        Ok(())
    });
    runtime.shutdown_timeout(std::time::Duration::from_secs(5));
    db.close();
    tracing::info!("stopped; database closed");
    result
}

/// `serve --issuer`: a resource server for a remote issuer, no database.
fn serve_resource_server(
    settings: ServeSettings,
    remote: crate::remote_issuer::RemoteIssuerSettings,
    extend: impl FnOnce(&mut Registry) -> Result<(), RegistryError> + Send + 'static,
) -> Result<(), BoxError> {
    use crate::remote_issuer::RemoteKeys;
    use crate::resource_server::{ResourceServer, ResourceServerOptions};
    let tls = match &settings.tls {
        Some((c, k)) => Some(load_tls(c, k)?),
        None => None,
    };
    let mut registry = Registry::new();
    crate::tools::register_builtin(&mut registry).map_err(crate::app::AppError::from)?;
    extend(&mut registry).map_err(crate::app::AppError::from)?;
    let options = ResourceServerOptions {
        public_url: settings.public_url.clone(),
        allowed_origins: settings.allowed_origins.clone(),
        stateless: settings.stateless,
        upstreams: settings.upstream.clone(),
    };
    let connection_workers = crate::server::default_connection_workers();
    let runtime = main_runtime(connection_workers)?;
    let result: Result<(), BoxError> = runtime.block_on(async {
        let keys = RemoteKeys::new(remote.clone()).map_err(crate::app::AppError)?;
        // The first fetch before the first request; if it fails (logged),
        // tokens are refused until a later one succeeds.
        keys.refresh_keys(mcpauth_core::jose::RefreshReason::Periodic)
            .await;
        let refresher = tokio::spawn(keys.clone().run_periodic());
        let app = ResourceServer::new(
            &options,
            keys.clone(),
            remote.introspection.clone(),
            registry,
        )?;
        let admin = match &settings.common.admin_socket {
            Some(path) => Some(crate::admin::spawn(
                path.clone(),
                crate::admin::AdminTarget::ResourceServer {
                    keys,
                    resources: app.resources().to_vec(),
                    introspection: remote.introspection.is_some(),
                },
            )?),
            None => None,
        };
        let metrics = MetricsListener::start(settings.metrics_listen).await?;
        let listener = tokio::net::TcpListener::bind(settings.listen)
            .await
            .map_err(|e| format!("--listen {}: {e}", settings.listen))?;
        let local = listener.local_addr()?;
        println!("mcpauth {} listening on {local}", env!("CARGO_PKG_VERSION"));
        println!("  Resource server for issuer {}", remote.issuer);
        for resource in app.resources() {
            println!("  Protected resource: {resource}");
        }
        println!("  Health check:       {}/healthz", settings.public_url);
        if let Some(m) = settings.metrics_listen {
            println!("  Metrics:            http://{m}/metrics");
        }
        tracing::info!(listen = %local, issuer = %remote.issuer, "mcpauth resource server started");
        let server_options = ServerOptions {
            limits: Limits {
                max_body_bytes: settings.max_body_bytes,
                ..Limits::default()
            },
            tls,
            trusted_proxies: settings.trusted_proxies.clone(),
            connection_workers,
        };
        crate::server::serve(
            listener,
            app,
            server_options,
            crate::server::shutdown_signal(),
        )
        .await;
        metrics.stop().await;
        drop(admin);
        refresher.abort();
        Ok(())
    });
    runtime.shutdown_timeout(std::time::Duration::from_secs(5));
    tracing::info!("stopped");
    result
}

/// The `/metrics` listener (`--metrics-listen`), when there is one.
struct MetricsListener {
    stop: tokio::sync::watch::Sender<bool>,
    task: Option<tokio::task::JoinHandle<()>>,
}

impl MetricsListener {
    /// Bind `addr` and serve `/metrics` there; request timing starts.
    async fn start(addr: Option<std::net::SocketAddr>) -> Result<MetricsListener, BoxError> {
        let (stop, stopped) = tokio::sync::watch::channel(false);
        let Some(addr) = addr else {
            return Ok(MetricsListener { stop, task: None });
        };
        let listener = tokio::net::TcpListener::bind(addr)
            .await
            .map_err(|e| format!("--metrics-listen {addr}: {e}"))?;
        let local = listener.local_addr()?;
        tracing::info!(listen = %local, "metrics at http://{local}/metrics");
        crate::metrics::METRICS.enable_requests();
        let options = ServerOptions {
            limits: Limits {
                max_body_bytes: 1024,
                max_connections: 64,
                ..Limits::default()
            },
            tls: None,
            trusted_proxies: crate::proxy::TrustedProxies::none(),
            // A scrape now and then: the caller's runtime serves it.
            connection_workers: 0,
        };
        let mut stopped = stopped;
        let task = tokio::spawn(crate::server::serve(
            listener,
            crate::metrics::MetricsHandler,
            options,
            async move {
                let _ = stopped.wait_for(|s| *s).await;
            },
        ));
        Ok(MetricsListener {
            stop,
            task: Some(task),
        })
    }

    /// Stop serving and wait for it.
    async fn stop(self) {
        let _ = self.stop.send(true);
        if let Some(task) = self.task {
            let _ = task.await;
        }
    }
}

fn print_banner(settings: &ServeSettings, local: std::net::SocketAddr, users: u64, db: &Backend) {
    let base = &settings.public_url;
    let data = settings.common.data_dir.display();
    println!("mcpauth {} listening on {local}", env!("CARGO_PKG_VERSION"));
    println!("  MCP endpoint:    {base}/mcp");
    println!(
        "  OAuth issuer:    {base}   (metadata: {base}/.well-known/oauth-authorization-server)"
    );
    println!("  Health check:    {base}/healthz");
    if let Some(m) = settings.metrics_listen {
        println!("  Metrics:         http://{m}/metrics");
    }
    if db.is_shared() {
        println!("  Store:           {}", db.describe());
    } else {
        println!("  Data directory:  {data}");
    }
    for p in &settings.oidc.providers {
        println!(
            "  Sign in with {}: redirect URI to register there: {}",
            p.display_name,
            p.callback_url(base)
        );
    }
    if users == 0 && settings.oidc.password_login {
        println!();
        println!(
            "  No users yet. Create the first one (then sign in with it when a client connects):"
        );
        if db.is_shared() {
            println!("    echo 'a-long-password' | mcpauth user add alice --store <the same URL>");
        } else {
            println!("    echo 'a-long-password' | mcpauth user add alice --data-dir {data}");
            println!("  (while the server runs: it takes the command on its admin socket)");
        }
    }
    println!();
    println!("  Connect:");
    println!(
        "    ChatGPT:        Settings > Apps & Connectors > Developer mode > Create, URL {base}/mcp, OAuth"
    );
    println!("    Claude:         Settings > Connectors > Add custom connector, URL {base}/mcp");
    println!(
        "    MCP Inspector:  npx @modelcontextprotocol/inspector, Streamable HTTP, {base}/mcp"
    );
    if !base.starts_with("https://") {
        println!(
            "  Note: ChatGPT and Claude need an https URL: put mcpauth behind a tunnel or reverse proxy"
        );
        println!("        and pass --public-url https://your-host");
    }
}

/// The runtime of the accept loop, timers and background tasks. With
/// connection workers serving the connections, one thread of it is enough
/// (it stays mostly idle); without, one per core serves them.
fn main_runtime(connection_workers: usize) -> std::io::Result<tokio::runtime::Runtime> {
    let mut builder = tokio::runtime::Builder::new_multi_thread();
    builder.enable_all().thread_name("mcpauth-worker");
    if connection_workers > 0 {
        builder.worker_threads(1);
    }
    builder.build()
}
