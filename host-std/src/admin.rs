//! Live administration: `mcpauth user …`, `client …`, `keys …` and
//! `status` while `serve` runs.
//!
//! The embedded database has one writer (the server), so the server opens
//! an admin endpoint on a Unix socket (`<data dir>/admin.sock` by default,
//! `--admin-socket`; mode 0600 in the 0700 data directory, and a peer
//! whose user id differs from the socket's owner is refused). The CLI
//! sends its command there when a server answers, and opens the store
//! itself when none does. Both run the same [`execute`], so a command
//! does exactly the same thing either way; a server also installs a
//! rotated key at once (new tokens carry its `kid`, the previous key keeps
//! verifying until its tokens have expired).
//!
//! A resource server (`serve --issuer`) has no users, clients or signing
//! keys of its own: its socket answers `status` (the issuer, the keys held,
//! when they were fetched) and `keys reload` (fetch the issuer's JWKS now),
//! and refuses the issuer's commands with a message saying where they
//! belong ([`AdminTarget`]).
//!
//! Protocol: one JSON line each way (request [`AdminRequest`], answer
//! [`AdminReply`]); requests are at most [`MAX_REQUEST`] bytes and must
//! arrive within [`REQUEST_TIMEOUT`]; at most [`MAX_CONNECTIONS`] at once,
//! commands run one at a time. Passwords travel only over this socket and
//! are never logged.

use std::io::{BufRead, BufReader, Write};
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use mcpauth_core::store::GrantOwner;
use serde::{Deserialize, Serialize};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt};

use crate::backend::{Backend, HostStore, SharedKeys};
use crate::remote_issuer::RemoteKeys;
use crate::users::Users;

/// Largest request line.
pub const MAX_REQUEST: u64 = 16 * 1024;
/// Time allowed for a request line to arrive.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);
/// Admin connections served at once.
pub const MAX_CONNECTIONS: usize = 4;
/// How long the CLI waits for an answer (a key rotation generates an RSA
/// key).
pub const ANSWER_TIMEOUT: Duration = Duration::from_secs(120);

/// One administrative command.
#[derive(Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case")]
pub enum AdminRequest {
    /// Add a user.
    UserAdd {
        /// Login name.
        username: String,
        /// Password.
        password: String,
    },
    /// List users.
    UserList,
    /// Remove a user and revoke the user's grants.
    UserRemove {
        /// Login name.
        username: String,
    },
    /// Change a user's password.
    UserPasswd {
        /// Login name.
        username: String,
        /// New password.
        password: String,
    },
    /// List clients.
    ClientList,
    /// Remove a client and revoke its grants.
    ClientRemove {
        /// Client id.
        client_id: String,
    },
    /// List signing keys.
    KeysList,
    /// Rotate the signing key.
    KeysRotate,
    /// Load the keys again now: an authorization server reads its signing
    /// keys from the store, a resource server fetches the issuer's JWKS.
    KeysReload,
    /// What the running server is and holds.
    Status,
}

impl std::fmt::Debug for AdminRequest {
    /// Never prints a password.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

impl AdminRequest {
    fn name(&self) -> &'static str {
        match self {
            AdminRequest::UserAdd { .. } => "user add",
            AdminRequest::UserList => "user list",
            AdminRequest::UserRemove { .. } => "user remove",
            AdminRequest::UserPasswd { .. } => "user passwd",
            AdminRequest::ClientList => "client list",
            AdminRequest::ClientRemove { .. } => "client remove",
            AdminRequest::KeysList => "keys list",
            AdminRequest::KeysRotate => "keys rotate",
            AdminRequest::KeysReload => "keys reload",
            AdminRequest::Status => "status",
        }
    }

    /// Whether only a running server can answer it (nothing to do on a
    /// store nobody serves).
    pub fn needs_server(&self) -> bool {
        matches!(self, AdminRequest::KeysReload | AdminRequest::Status)
    }
}

/// The answer: what the CLI prints, or why the command failed.
#[derive(Debug, Serialize, Deserialize)]
pub struct AdminReply {
    /// Standard output of the command.
    pub output: String,
    /// The error, if it failed.
    pub error: Option<String>,
}

/// Where the running server's keys are, for a live rotation.
#[derive(Debug, Clone)]
pub struct LiveKeys {
    /// The server's key set.
    pub keys: Arc<SharedKeys>,
    /// Its issuer identifier (public URL), for `status`.
    pub issuer: String,
}

/// What an admin socket serves.
#[derive(Debug)]
pub enum AdminTarget {
    /// The authorization server: its store and signing keys.
    Issuer {
        /// The store.
        db: Backend,
        /// The signing keys in use.
        live: LiveKeys,
        /// Access-token lifetime (seconds).
        access_token_ttl: u64,
    },
    /// A resource server (`serve --issuer`): the issuer's keys it holds.
    ResourceServer {
        /// The issuer's keys.
        keys: RemoteKeys,
        /// Its protected resources.
        resources: Vec<String>,
        /// Whether it introspects every token at the issuer.
        introspection: bool,
    },
}

/// Run `req` against `db`. Blocking: call it from a thread outside any
/// async runtime (the CLI's main thread, or the admin server's worker).
/// With `live`, a rotated key is installed in the running server at once.
pub fn execute(
    db: &Backend,
    access_token_ttl: u64,
    req: AdminRequest,
    live: Option<&LiveKeys>,
) -> Result<String, String> {
    let users = || Users::new(db.clone());
    let mut out = String::new();
    use std::fmt::Write as _;
    match req {
        AdminRequest::UserAdd { username, password } => {
            let password = zeroize::Zeroizing::new(password);
            let u = users()
                .add(&username, &password)
                .map_err(|e| e.to_string())?;
            let _ = writeln!(out, "added user {} (subject {})", u.username, u.subject);
            crate::observe::admin_action("user_added", &u.username);
        }
        AdminRequest::UserList => {
            for u in users().list().map_err(|e| e.to_string())? {
                let _ = writeln!(out, "{}\t{}", u.username, u.subject);
            }
        }
        AdminRequest::UserRemove { username } => {
            let subject = users().remove(&username).map_err(|e| e.to_string())?;
            let grants = db
                .revoke_grants_of_blocking(GrantOwner::Subject(&subject), access_token_ttl)
                .map_err(|e| e.to_string())?;
            let _ = writeln!(out, "removed user {username} and revoked {grants} grant(s)");
            crate::observe::admin_action("user_removed", &username);
        }
        AdminRequest::UserPasswd { username, password } => {
            let password = zeroize::Zeroizing::new(password);
            users()
                .set_password(&username, &password)
                .map_err(|e| e.to_string())?;
            let _ = writeln!(out, "changed the password of {username}");
            crate::observe::admin_action("password_changed", &username);
        }
        AdminRequest::ClientList => {
            for c in db.clients().map_err(|e| e.to_string())? {
                let _ = writeln!(
                    out,
                    "{}\t{}\t{}\t{}",
                    c.client_id,
                    c.client_name.as_deref().unwrap_or("-"),
                    c.auth_method.as_str(),
                    c.redirect_uris.join(" ")
                );
            }
        }
        AdminRequest::ClientRemove { client_id } => {
            if !db
                .remove_client_blocking(&client_id)
                .map_err(|e| e.to_string())?
            {
                return Err(format!("no client with id {client_id:?}"));
            }
            let grants = db
                .revoke_grants_of_blocking(GrantOwner::Client(&client_id), access_token_ttl)
                .map_err(|e| e.to_string())?;
            let _ = writeln!(
                out,
                "removed client {client_id} and revoked {grants} grant(s)"
            );
            crate::observe::admin_action("client_removed", &client_id);
        }
        AdminRequest::KeysList => {
            let now = crate::env::now().map(|t| t.secs()).unwrap_or(0);
            let keys = crate::keys::list(db).map_err(|e| e.to_string())?;
            if keys.is_empty() {
                out.push_str("no keys yet (one is generated when the server first starts)\n");
            }
            for k in keys {
                let status = match k.publish_until() {
                    None => "active".to_owned(),
                    Some(until) if until > now => format!("retired, published until {until}"),
                    Some(_) => "retired, expired".to_owned(),
                };
                let _ = writeln!(out, "{}\tcreated {}\t{}", k.kid, k.created_at, status);
            }
        }
        AdminRequest::KeysRotate => {
            let now = crate::env::now().map(|t| t.secs()).unwrap_or(0);
            let k = db
                .with_key_lock(|| crate::keys::rotate(db, access_token_ttl, now))
                .map_err(|e| e.to_string())?
                .map_err(|e| e.to_string())?;
            let when = match live {
                Some(live) => {
                    crate::backend::reload_keys(db, &live.keys, access_token_ttl)?;
                    if db.is_shared() {
                        "in use now here; other instances load it within 30 s"
                    } else {
                        "in use now"
                    }
                }
                None if db.is_shared() => "running instances load it within 30 s",
                None => "the server uses it from its next start",
            };
            let _ = writeln!(
                out,
                "new signing key {} ({when}; the previous key stays published for {} s)",
                k.kid,
                access_token_ttl + 60
            );
            crate::observe::admin_action("keys_rotated", &k.kid);
        }
        AdminRequest::KeysReload | AdminRequest::Status => {
            let Some(live) = live else {
                return Err(format!("{} needs a running server", req.name()));
            };
            if matches!(req, AdminRequest::KeysReload) {
                crate::backend::reload_keys(db, &live.keys, access_token_ttl)?;
                crate::observe::admin_action("keys_reloaded", "store");
            }
            let keys = live.keys.get();
            if matches!(req, AdminRequest::Status) {
                let _ = writeln!(out, "mode\tauthorization server");
                let _ = writeln!(out, "issuer\t{}", live.issuer);
                let _ = writeln!(out, "store\t{}", db.describe());
                let _ = writeln!(
                    out,
                    "users\t{}",
                    users().count().map_err(|e| e.to_string())?
                );
                let _ = writeln!(
                    out,
                    "clients\t{}",
                    db.clients().map_err(|e| e.to_string())?.len()
                );
            }
            let _ = writeln!(out, "signing key\t{}", keys.active_kid().unwrap_or("none"));
            let kids: Vec<&str> = keys.verifying_keys().iter().map(|k| k.kid()).collect();
            let _ = writeln!(out, "published keys\t{}", kids.join(" "));
        }
    }
    Ok(out)
}

/// What a resource server answers: `status` and `keys reload`; the
/// issuer's commands are refused.
async fn execute_resource_server(
    keys: &RemoteKeys,
    resources: &[String],
    introspection: bool,
    req: AdminRequest,
) -> Result<String, String> {
    use std::fmt::Write as _;
    let mut out = String::new();
    match req {
        AdminRequest::Status => {
            let _ = writeln!(out, "mode\tresource server");
            let _ = writeln!(out, "issuer\t{}", keys.issuer());
            let _ = writeln!(out, "resources\t{}", resources.join(" "));
            let _ = writeln!(
                out,
                "introspection\t{}",
                if introspection { "on" } else { "off" }
            );
        }
        AdminRequest::KeysReload => {
            let count = keys.reload_now().await.map_err(|e| {
                format!("cannot fetch the issuer's keys ({e}); the previous keys stay in force")
            })?;
            let _ = writeln!(out, "fetched {count} key(s) from {}", keys.issuer());
            crate::observe::admin_action("keys_reloaded", keys.issuer());
        }
        other => {
            return Err(format!(
                "{} is not available on a resource server (serve --issuer): users, clients \
                 and signing keys belong to the issuer {}; run it there",
                other.name(),
                keys.issuer()
            ));
        }
    }
    let held = keys.current();
    let kids: Vec<&str> = held.verifying_keys().iter().map(|k| k.kid()).collect();
    let _ = writeln!(out, "issuer keys\t{}", kids.join(" "));
    let fetched = match keys.fetched_at() {
        Some(at) => {
            let now = crate::env::now().map_or(at, |t| t.secs());
            format!("{at} ({} s ago)", now.saturating_sub(at))
        }
        None => "never".to_owned(),
    };
    let _ = writeln!(out, "keys fetched\t{fetched}");
    Ok(out)
}

/// What the CLI got from a running server: `None` when no server listens
/// on `socket` (then the CLI opens the store itself).
pub fn send(socket: &Path, req: &AdminRequest) -> Option<Result<String, String>> {
    let stream = match std::os::unix::net::UnixStream::connect(socket) {
        Ok(s) => s,
        Err(e)
            if matches!(
                e.kind(),
                std::io::ErrorKind::NotFound | std::io::ErrorKind::ConnectionRefused
            ) =>
        {
            return None;
        }
        Err(e) => {
            return Some(Err(format!(
                "admin socket {}: {e} (run as the server's user)",
                socket.display()
            )));
        }
    };
    Some(
        exchange(stream, req)
            .map_err(|e| format!("admin socket {}: {e}", socket.display()))
            .and_then(|r| r),
    )
}

fn exchange(
    mut stream: std::os::unix::net::UnixStream,
    req: &AdminRequest,
) -> Result<Result<String, String>, String> {
    let mut line = serde_json::to_vec(req).map_err(|e| e.to_string())?;
    line.push(b'\n');
    stream.write_all(&line).map_err(|e| e.to_string())?;
    stream
        .set_read_timeout(Some(ANSWER_TIMEOUT))
        .map_err(|e| e.to_string())?;
    let mut answer = String::new();
    BufReader::new(stream)
        .read_line(&mut answer)
        .map_err(|e| e.to_string())?;
    let reply: AdminReply = serde_json::from_str(&answer)
        .map_err(|_| "the server closed the connection without an answer".to_owned())?;
    Ok(match reply.error {
        None => Ok(reply.output),
        Some(e) => Err(e),
    })
}

/// A running admin endpoint; the socket file is removed on drop.
#[derive(Debug)]
pub struct AdminServer {
    path: PathBuf,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for AdminServer {
    fn drop(&mut self) {
        self.task.abort();
        let _ = std::fs::remove_file(&self.path);
    }
}

/// Open the admin socket at `path` and serve it on the current runtime.
pub fn spawn(path: PathBuf, target: AdminTarget) -> Result<AdminServer, String> {
    let shown = path.display().to_string();
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        crate::db::ensure_private_dir(dir).map_err(|e| e.to_string())?;
    }
    if path.exists() {
        if std::os::unix::net::UnixStream::connect(&path).is_ok() {
            return Err(format!(
                "--admin-socket {shown}: another mcpauth server answers there"
            ));
        }
        // Left over by a server that did not stop cleanly.
        std::fs::remove_file(&path).map_err(|e| format!("--admin-socket {shown}: {e}"))?;
    }
    let listener = tokio::net::UnixListener::bind(&path)
        .map_err(|e| format!("--admin-socket {shown}: {e}"))?;
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600))
        .map_err(|e| format!("--admin-socket {shown}: {e}"))?;
    let owner = std::fs::metadata(&path)
        .map_err(|e| format!("--admin-socket {shown}: {e}"))?
        .uid();
    let shared = Arc::new(Shared {
        target,
        one_at_a_time: tokio::sync::Mutex::new(()),
    });
    let slots = Arc::new(tokio::sync::Semaphore::new(MAX_CONNECTIONS));
    let task = tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            };
            let Ok(permit) = slots.clone().try_acquire_owned() else {
                continue; // dropped: the client sees the connection close
            };
            let shared = shared.clone();
            tokio::spawn(async move {
                let _permit = permit;
                serve_one(stream, owner, &shared).await;
            });
        }
    });
    Ok(AdminServer { path, task })
}

struct Shared {
    target: AdminTarget,
    one_at_a_time: tokio::sync::Mutex<()>,
}

async fn serve_one(stream: tokio::net::UnixStream, owner: u32, shared: &Arc<Shared>) {
    let reply = |output: String, error: Option<String>| AdminReply { output, error };
    let peer_ok = stream
        .peer_cred()
        .is_ok_and(|c| c.uid() == owner || c.uid() == 0);
    let (read, mut write) = stream.into_split();
    let answer = if !peer_ok {
        reply(String::new(), Some("not the server's user".into()))
    } else {
        let mut line = String::new();
        let mut reader = tokio::io::BufReader::new(read.take(MAX_REQUEST));
        match tokio::time::timeout(REQUEST_TIMEOUT, reader.read_line(&mut line)).await {
            Ok(Ok(n)) if n > 0 && line.ends_with('\n') => {
                match serde_json::from_str::<AdminRequest>(&line) {
                    Ok(req) => run(shared, req).await,
                    Err(_) => reply(String::new(), Some("malformed admin request".into())),
                }
            }
            _ => reply(String::new(), Some("incomplete admin request".into())),
        }
    };
    line_out(&mut write, &answer).await;
}

async fn line_out(write: &mut tokio::net::unix::OwnedWriteHalf, answer: &AdminReply) {
    if let Ok(mut bytes) = serde_json::to_vec(answer) {
        bytes.push(b'\n');
        let _ = write.write_all(&bytes).await;
    }
}

/// Run a command, one at a time; an authorization server's on a plain
/// thread (the store's blocking calls must not run inside the runtime).
async fn run(shared: &Arc<Shared>, req: AdminRequest) -> AdminReply {
    let name = req.name();
    let result = match &shared.target {
        AdminTarget::Issuer { .. } => {
            let (tx, rx) = tokio::sync::oneshot::channel();
            let shared = shared.clone();
            let spawned = std::thread::Builder::new()
                .name("mcpauth-admin".into())
                .spawn(move || {
                    let _one = shared.one_at_a_time.blocking_lock();
                    if let AdminTarget::Issuer {
                        db,
                        live,
                        access_token_ttl,
                    } = &shared.target
                    {
                        let _ = tx.send(execute(db, *access_token_ttl, req, Some(live)));
                    }
                });
            match spawned {
                Ok(_) => rx
                    .await
                    .unwrap_or_else(|_| Err("the command did not finish".into())),
                Err(e) => Err(format!("cannot start the command: {e}")),
            }
        }
        AdminTarget::ResourceServer {
            keys,
            resources,
            introspection,
        } => {
            let _one = shared.one_at_a_time.lock().await;
            execute_resource_server(keys, resources, *introspection, req).await
        }
    };
    match result {
        Ok(output) => {
            tracing::info!(command = name, "admin command done");
            AdminReply {
                output,
                error: None,
            }
        }
        Err(e) => AdminReply {
            output: String::new(),
            error: Some(e),
        },
    }
}
