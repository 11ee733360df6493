//! Privy login, host side: the settings, and the app's verification key —
//! read from a PEM file at start-up, or fetched once from
//! `{api url}/api/v1/apps/{app id}` (HTTP Basic `app id:app secret`) and
//! cached after the first success. The token check itself is the core's
//! ([`mcpauth_core::oauth::verify_privy_token`]).
//!
//! Neither the app secret nor any Privy token is ever logged or printed.

use std::sync::Arc;
use std::time::Duration;

use base64ct::{Base64, Encoding};
use bytes::Bytes;
use http_body_util::{BodyExt, Empty, Limited};
use hyper_util::rt::TokioIo;
use mcpauth_core::http::Response;
use mcpauth_core::oauth::{PrivyConfig, PrivyKey, UserAuthenticator};
use zeroize::Zeroizing;

use crate::users::Users;

/// Where the embedded sign-in script is served (the page adds `?v=` and
/// the script's version, see [`glue_url`]).
pub const GLUE_PATH: &str = "/privy/glue.js";

/// The sign-in page's Privy script (`host-std/privy-glue`, built by
/// `scripts/build-privy.sh`); empty when this binary was built without it
/// (see `build.rs`).
static GLUE: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/privy-glue.js"));

/// Its gzip form (empty: none).
static GLUE_GZIP: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/privy-glue.js.gz"));

/// The embedded Privy sign-in script, if this binary was built with it.
pub fn embedded_glue() -> Option<&'static [u8]> {
    (!GLUE.is_empty()).then_some(GLUE)
}

/// The embedded script's gzip form, if built with it.
pub fn embedded_glue_gzip() -> Option<&'static [u8]> {
    (!GLUE.is_empty() && !GLUE_GZIP.is_empty()).then_some(GLUE_GZIP)
}

/// Whether an `Accept-Encoding` value accepts gzip (`gzip` or `*`, with a
/// `q` above 0).
fn accepts_gzip(accept_encoding: &str) -> bool {
    accept_encoding.split(',').any(|item| {
        let mut parts = item.split(';');
        let coding = parts.next().unwrap_or_default().trim();
        let refused = parts.any(|p| {
            p.trim()
                .strip_prefix("q=")
                .and_then(|q| q.trim().parse::<f32>().ok())
                .is_some_and(|q| q <= 0.0)
        });
        (coding.eq_ignore_ascii_case("gzip") || coding == "*") && !refused
    })
}

/// A script's version: the first 16 hex digits of its SHA-256.
fn glue_version(script: &[u8]) -> String {
    use sha2::Digest;
    sha2::Sha256::digest(script)[..8]
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// The URL the sign-in page loads the embedded `script` from:
/// `{public_url}/privy/glue.js?v={version}` (a new build gets a new URL, so
/// browsers may cache each one for good).
pub fn glue_url(public_url: &str, script: &[u8]) -> String {
    format!("{public_url}{GLUE_PATH}?v={}", glue_version(script))
}

/// The answer to `GET`/`HEAD` [`GLUE_PATH`]: the script as JavaScript
/// (its `gzip` form to a browser that accepts it), cacheable for a year
/// (its URL changes with its content), with an `ETag` for revalidation;
/// 405 for other methods.
pub fn glue_response(
    req: &mcpauth_core::http::Request,
    script: &[u8],
    gzip: Option<&[u8]>,
) -> Response {
    use mcpauth_core::http::Method;
    if !matches!(req.method, Method::Get | Method::Head) {
        return mcpauth_core::server::method_not_allowed("GET, HEAD");
    }
    let version = glue_version(script);
    let gzip = gzip.filter(|_| req.header("accept-encoding").is_some_and(accepts_gzip));
    // One ETag per representation (RFC 9110 8.8.3).
    let etag = match gzip {
        Some(_) => format!("\"{version}-gzip\""),
        None => format!("\"{version}\""),
    };
    let not_modified = req
        .header("if-none-match")
        .is_some_and(|v| v.split(',').any(|t| t.trim() == etag || t.trim() == "*"));
    let resp = if not_modified {
        Response::empty(304)
    } else {
        // For HEAD too: hyper sends the length and drops the body.
        let resp = Response::empty(200)
            .with_header("content-type", "text/javascript; charset=utf-8")
            .with_body(gzip.unwrap_or(script).to_vec());
        match gzip {
            Some(_) => resp.with_header("content-encoding", "gzip"),
            None => resp,
        }
    };
    resp.with_header("vary", "accept-encoding")
        .with_header("cache-control", "public, max-age=31536000, immutable")
        .with_header("etag", etag)
        .with_header("x-content-type-options", "nosniff")
        .with_header("cross-origin-resource-policy", "same-origin")
}

/// Default Privy API.
pub const DEFAULT_API_URL: &str = "https://auth.privy.io";

/// Where Privy publishes an app's verification key without credentials (as
/// Privy's own server SDK, `@privy-io/node`, reads it).
pub fn default_jwks_url(app_id: &str) -> String {
    format!("https://api.privy.io/v1/apps/{app_id}/jwks.json")
}
/// How long one fetch of the verification key may take.
const FETCH_TIMEOUT: Duration = Duration::from_secs(10);
/// Largest app document accepted from the Privy API.
const MAX_APP_DOC: usize = 64 * 1024;

/// Resolved Privy settings (`serve --privy-*`).
#[derive(Clone)]
pub struct PrivySettings {
    /// The Privy app id.
    pub app_id: String,
    /// The app secret (only for fetching the key).
    pub app_secret: Option<Arc<Zeroizing<String>>>,
    /// The verification key, when configured (`--privy-verification-key`).
    pub verification_key: Option<PrivyKey>,
    /// Privy API base URL, without trailing slash.
    pub api_url: String,
    /// The app's public JSON Web Key Set: where the key comes from without
    /// a key file or app secret ([`default_jwks_url`]).
    pub jwks_url: String,
    /// The SDK glue script the sign-in page loads: the embedded one
    /// ([`glue_url`]) unless the operator hosts their own
    /// (`--privy-sdk-url`).
    pub sdk_url: String,
    /// Its Subresource Integrity (`sha384-…`).
    pub sdk_integrity: Option<String>,
    /// Privy user ids that may sign in (empty, with no domains: everyone).
    pub allowed_users: Vec<String>,
    /// Email domains whose verified users may sign in.
    pub allowed_email_domains: Vec<String>,
}

impl std::fmt::Debug for PrivySettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PrivySettings")
            .field("app_id", &self.app_id)
            .field(
                "app_secret",
                &self.app_secret.as_ref().map(|_| "<redacted>"),
            )
            .field("verification_key", &self.verification_key.is_some())
            .field("api_url", &self.api_url)
            .field("jwks_url", &self.jwks_url)
            .field("sdk_url", &self.sdk_url)
            .field("sdk_integrity", &self.sdk_integrity)
            .field("allowed_users", &self.allowed_users.len())
            .field("allowed_email_domains", &self.allowed_email_domains)
            .finish()
    }
}

impl PrivySettings {
    /// The core's page settings.
    pub fn core_config(&self) -> PrivyConfig {
        let mut c = PrivyConfig::new(&self.app_id, &self.sdk_url);
        c.api_url = self.api_url.clone();
        c.sdk_integrity = self.sdk_integrity.clone();
        c.allowed_users = self.allowed_users.clone();
        c.allowed_email_domains = self.allowed_email_domains.clone();
        c
    }
}

/// Where the verification key comes from; cached after the first success.
#[derive(Debug)]
pub struct PrivyKeySource {
    settings: PrivySettings,
    cache: tokio::sync::OnceCell<PrivyKey>,
}

impl PrivyKeySource {
    /// A source for `settings` (a configured key is used as is).
    pub fn new(settings: PrivySettings) -> PrivyKeySource {
        let cache = match &settings.verification_key {
            Some(k) => tokio::sync::OnceCell::new_with(Some(k.clone())),
            None => tokio::sync::OnceCell::new(),
        };
        PrivyKeySource { settings, cache }
    }

    /// The key: configured, cached, or fetched now (concurrent callers wait
    /// for one fetch; a failed fetch is retried by the next caller).
    pub async fn key(&self) -> Option<PrivyKey> {
        let r = self
            .cache
            .get_or_try_init(|| async {
                match tokio::time::timeout(FETCH_TIMEOUT, fetch_key(&self.settings)).await {
                    Ok(Ok(key)) => {
                        tracing::info!("Privy verification key fetched");
                        Ok(key)
                    }
                    Ok(Err(e)) => {
                        tracing::warn!(error = %e, "could not fetch the Privy verification key");
                        Err(())
                    }
                    Err(_) => {
                        tracing::warn!("fetching the Privy verification key timed out");
                        Err(())
                    }
                }
            })
            .await;
        r.ok().cloned()
    }
}

/// Local users plus, when configured, Privy: what the core's sign-in page
/// calls.
#[derive(Debug)]
pub struct SignIn {
    users: Users,
    privy: Option<Arc<PrivyKeySource>>,
}

impl SignIn {
    /// Local `users`, and Privy if `privy` is set.
    pub fn new(users: Users, privy: Option<Arc<PrivyKeySource>>) -> SignIn {
        SignIn { users, privy }
    }
}

impl UserAuthenticator for SignIn {
    fn authenticate(
        &self,
        username: &str,
        password: &str,
    ) -> impl std::future::Future<Output = Option<String>> + Send {
        self.users.check(username, password)
    }

    async fn privy_verification_key(&self) -> Option<PrivyKey> {
        match &self.privy {
            Some(source) => source.key().await,
            None => None,
        }
    }

    /// argon2 (the PHC string's own parameters) on the blocking pool.
    fn verify_client_secret(
        &self,
        secret_hash: &str,
        secret: &str,
    ) -> impl std::future::Future<Output = bool> + Send {
        let hash = secret_hash.to_owned();
        let secret = zeroize::Zeroizing::new(secret.to_owned());
        async move {
            tokio::task::spawn_blocking(move || crate::users::verify_password(&secret, &hash))
                .await
                .unwrap_or(false)
        }
    }
}

/// Scheme, authority and path prefix of an http(s) URL.
fn split(url: &str) -> Result<(bool, &str, &str), String> {
    let (tls, rest) = if let Some(r) = url.strip_prefix("https://") {
        (true, r)
    } else if let Some(r) = url.strip_prefix("http://") {
        (false, r)
    } else {
        return Err("the URL must start with http:// or https://".into());
    };
    let end = rest.find('/').unwrap_or(rest.len());
    let (authority, path) = rest.split_at(end);
    if authority.is_empty() || authority.contains('@') {
        return Err("the URL has no host".into());
    }
    Ok((tls, authority, path.trim_end_matches('/')))
}

/// Check a Privy API URL (for start-up errors).
pub fn validate_api_url(url: &str) -> Result<(), String> {
    split(url).map(|_| ())
}

/// The key: from the app document (`{api}/api/v1/apps/{id}`, HTTP Basic
/// app id:app secret) when a secret is configured, else from the app's
/// public key set ([`PrivySettings::jwks_url`]).
async fn fetch_key(s: &PrivySettings) -> Result<PrivyKey, String> {
    let Some(secret) = s.app_secret.as_ref() else {
        let (status, body) = get(&s.jwks_url, None, &s.app_id).await?;
        if status != 200 {
            return Err(format!(
                "the Privy key set answered {status} (check the app id, or give \
                 --privy-verification-key or the app secret)"
            ));
        }
        return PrivyKey::from_jwks(&body).map_err(|e| format!("the Privy key set: {e}"));
    };
    let creds = Zeroizing::new(format!("{}:{}", s.app_id, secret.as_str()));
    let auth = Zeroizing::new(format!("Basic {}", Base64::encode_string(creds.as_bytes())));
    let url = format!("{}/api/v1/apps/{}", s.api_url, s.app_id);
    let (status, body) = get(&url, Some(auth.as_str()), &s.app_id).await?;
    if status != 200 {
        return Err(format!(
            "the Privy API answered {status} (check the app id and app secret)"
        ));
    }
    let doc: serde_json::Value =
        serde_json::from_slice(&body).map_err(|_| "the app document is not JSON".to_owned())?;
    let pem = doc
        .get("verification_key")
        .and_then(|v| v.as_str())
        .ok_or("the app document has no verification_key")?;
    PrivyKey::from_pem(pem).map_err(|e| format!("verification_key: {e}"))
}

/// `GET url` (http or https) with an optional `authorization`; the status
/// and at most [`MAX_APP_DOC`] bytes of body.
async fn get(url: &str, authorization: Option<&str>, app_id: &str) -> Result<(u16, Bytes), String> {
    let (tls, authority, path) = split(url)?;
    let path = if path.is_empty() { "/" } else { path };
    let mut req = hyper::Request::get(path)
        .header("host", authority)
        .header("privy-app-id", app_id)
        .header("accept", "application/json")
        .header("user-agent", concat!("mcpauth/", env!("CARGO_PKG_VERSION")));
    if let Some(auth) = authorization {
        req = req.header("authorization", auth);
    }
    let req = req
        .body(Empty::<Bytes>::new())
        .map_err(|e| format!("request: {e}"))?;
    let addr = if authority.starts_with('[') || authority.rsplit_once(':').is_some() {
        authority.to_owned()
    } else {
        format!("{authority}:{}", if tls { 443 } else { 80 })
    };
    let tcp = tokio::net::TcpStream::connect(&addr)
        .await
        .map_err(|e| format!("connect {addr}: {e}"))?;
    if tls {
        let host = authority
            .rsplit_once(':')
            .map_or(authority, |(h, _)| h)
            .trim_start_matches('[')
            .trim_end_matches(']')
            .to_owned();
        let name = rustls_pki_types::ServerName::try_from(host)
            .map_err(|_| "the Privy host is not a valid name".to_owned())?;
        let stream = tls_connector()?
            .connect(name, tcp)
            .await
            .map_err(|e| format!("TLS: {e}"))?;
        send(stream, req).await
    } else {
        send(tcp, req).await
    }
}

async fn send<S>(stream: S, req: hyper::Request<Empty<Bytes>>) -> Result<(u16, Bytes), String>
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .map_err(|e| format!("HTTP: {e}"))?;
    let conn = tokio::spawn(conn);
    let resp = sender
        .send_request(req)
        .await
        .map_err(|e| format!("HTTP: {e}"))?;
    let status = resp.status().as_u16();
    let body = Limited::new(resp.into_body(), MAX_APP_DOC)
        .collect()
        .await
        .map_err(|_| "the app document is too large or cut short".to_owned())?
        .to_bytes();
    conn.abort();
    Ok((status, body))
}

fn tls_connector() -> Result<tokio_rustls::TlsConnector, String> {
    let (connector, roots) = https_client(&[])?;
    if roots == 0 {
        return Err("no trusted root certificates found on this system".into());
    }
    Ok(connector)
}

/// A TLS client for outgoing https requests (the Privy API, client
/// metadata documents): the system's roots plus `extra_roots`, and how many
/// roots that is.
pub(crate) fn https_client(
    extra_roots: &[rustls_pki_types::CertificateDer<'static>],
) -> Result<(tokio_rustls::TlsConnector, usize), String> {
    let mut roots = tokio_rustls::rustls::RootCertStore::empty();
    for cert in rustls_native_certs::load_native_certs().certs {
        let _ = roots.add(cert);
    }
    for cert in extra_roots {
        roots
            .add(cert.clone())
            .map_err(|e| format!("extra root certificate: {e}"))?;
    }
    let count = roots.len();
    let provider = Arc::new(tokio_rustls::rustls::crypto::ring::default_provider());
    let config = tokio_rustls::rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| format!("TLS: {e}"))?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok((tokio_rustls::TlsConnector::from(Arc::new(config)), count))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn glue_script_refuses_other_methods_in_the_one_refusal_shape() {
        use mcpauth_core::http::{Method, Request};
        let r = glue_response(&Request::new(Method::Post, GLUE_PATH), b"x", None);
        assert_eq!(r.status, 405);
        assert_eq!(r.header("allow"), Some("GET, HEAD"));
        assert_eq!(r.header("content-type"), Some("application/json"));
        let body: serde_json::Value = serde_json::from_slice(&r.body).unwrap_or_default();
        assert_eq!(body["error"], "method_not_allowed");
        let ok = glue_response(&Request::new(Method::Get, GLUE_PATH), b"x", None);
        assert_eq!(ok.status, 200);
    }

    #[test]
    fn urls() {
        assert_eq!(
            split("https://auth.privy.io"),
            Ok((true, "auth.privy.io", ""))
        );
        assert_eq!(
            split("http://127.0.0.1:9/x/"),
            Ok((false, "127.0.0.1:9", "/x"))
        );
        assert!(split("ftp://x").is_err());
        assert!(split("https://").is_err());
    }

    #[test]
    fn gzip_when_accepted() {
        for yes in ["gzip", "gzip, deflate, br", "br;q=1, GZIP;q=0.5", "*"] {
            assert!(accepts_gzip(yes), "{yes}");
        }
        for no in ["", "identity", "br", "gzip;q=0", "gzip; q=0.0", "x-gzip"] {
            assert!(!accepts_gzip(no), "{no}");
        }
    }

    #[test]
    fn debug_hides_the_secret() {
        let s = PrivySettings {
            app_id: "app".into(),
            app_secret: Some(Arc::new(Zeroizing::new("s3cret".into()))),
            verification_key: None,
            api_url: DEFAULT_API_URL.into(),
            jwks_url: default_jwks_url("app"),
            sdk_url: "https://x/a.js".into(),
            sdk_integrity: None,
            allowed_users: Vec::new(),
            allowed_email_domains: Vec::new(),
        };
        assert!(!format!("{s:?}").contains("s3cret"));
    }
}
