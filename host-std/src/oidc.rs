//! Sign-in with upstream OpenID Connect providers, host side: the settings
//! (`[[oidc]]` in the config file, `--oidc` / `MCPAUTH_OIDC`, secrets from
//! `MCPAUTH_OIDC_<ID>_CLIENT_SECRET` or a file) and the HTTP client the
//! core's flow ([`mcpauth_core::oauth::oidc`]) sends its discovery, JWKS and
//! token requests through.
//!
//! The client is the SSRF-fenced one of the metadata-document fetcher
//! (`crate::cimd::fenced_exchange`): the host name is resolved once, every
//! address must be public (unless the operator marks the provider
//! `allow_private_network`, e.g. Keycloak on the LAN), the connection goes
//! to the checked address, no redirect is followed, bodies stop at
//! [`MAX_UPSTREAM_DOCUMENT`], [`REQUEST_TIMEOUT`] per request. Plain http
//! only for a provider marked `allow_private_network`, and never to a
//! public address (the core allows http URLs only on loopback hosts). While a request waits,
//! its OAuth slot is given back ([`crate::oauth_slots::released`]).
//! Neither the client secret nor any code or token is ever logged.

use std::collections::HashMap;
use std::path::PathBuf;
use std::time::Duration;

use bytes::Bytes;
use mcpauth_core::oauth::oidc::{
    MAX_UPSTREAM_DOCUMENT, UpstreamFuture, UpstreamRequest, UpstreamResponse,
};
use mcpauth_core::oauth::{
    ClientSecret, OidcProvider, TokenAuthMethod, UpstreamError, UpstreamHttp,
};
use rustls_pki_types::CertificateDer;
use serde::Deserialize;
use tokio_rustls::TlsConnector;

use crate::cimd::{Fence, FenceError, Target, fenced_exchange};
use crate::config::ConfigError;

/// Resolve + connect + TLS + whole response, per request.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);

/// Resolved upstream-provider settings.
#[derive(Debug, Clone)]
pub struct OidcSettings {
    /// The providers, in button order.
    pub providers: Vec<OidcProvider>,
    /// Provider ids that may be on private or loopback addresses.
    pub private_network: Vec<String>,
    /// TEST ONLY: extra trusted roots (`--dangerous-oidc-ca-file`).
    pub extra_roots: Vec<CertificateDer<'static>>,
    /// Whether local users' password sign-in is offered.
    pub password_login: bool,
}

impl Default for OidcSettings {
    /// No provider, password sign-in on.
    fn default() -> Self {
        OidcSettings {
            providers: Vec::new(),
            private_network: Vec::new(),
            extra_roots: Vec::new(),
            password_login: true,
        }
    }
}

/// The core's [`UpstreamHttp`]: fenced requests to the providers.
pub struct OidcHttp {
    tls: TlsConnector,
    private_network: Vec<String>,
}

impl std::fmt::Debug for OidcHttp {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OidcHttp")
            .field("private_network", &self.private_network)
            .finish_non_exhaustive()
    }
}

impl OidcHttp {
    /// A client trusting the system's roots plus `settings.extra_roots`.
    pub fn new(settings: &OidcSettings) -> Result<OidcHttp, String> {
        let (tls, _) = crate::privy::https_client(&settings.extra_roots)?;
        Ok(OidcHttp {
            tls,
            private_network: settings.private_network.clone(),
        })
    }

    async fn send_now(
        &self,
        provider: &OidcProvider,
        request: UpstreamRequest,
        max_len: usize,
    ) -> Result<UpstreamResponse, UpstreamError> {
        let url = request.url().to_owned();
        let private = self.private_network.contains(&provider.id);
        // Public https always; loopback, private addresses and plain http
        // there only for a provider the operator marked so.
        let fence = Fence {
            allow_loopback: private,
            allow_private: private,
            allow_http: private,
        };
        let target = Target::parse(&url, private).ok_or(UpstreamError::Unreachable)?;
        let builder = |method: hyper::Method| {
            hyper::Request::builder()
                .method(method)
                .uri(target.path_and_query)
                .header("host", target.authority)
                .header("accept", "application/json")
                .header("user-agent", concat!("mcpauth/", env!("CARGO_PKG_VERSION")))
        };
        let req = match request {
            UpstreamRequest::Get { .. } => {
                builder(hyper::Method::GET).body(http_body_util::Full::new(Bytes::new()))
            }
            UpstreamRequest::PostForm {
                body,
                authorization,
                ..
            } => {
                let mut b = builder(hyper::Method::POST)
                    .header("content-type", "application/x-www-form-urlencoded");
                if let Some(auth) = &authorization {
                    b = b.header("authorization", auth.as_str());
                }
                b.body(http_body_util::Full::new(Bytes::copy_from_slice(
                    body.as_bytes(),
                )))
            }
        }
        .map_err(|_| UpstreamError::Unreachable)?;
        let fetched = crate::oauth_slots::released(tokio::time::timeout(
            REQUEST_TIMEOUT,
            fenced_exchange(&self.tls, &target, req, fence, max_len),
        ))
        .await
        .unwrap_or(Err(FenceError::Unreachable));
        match fetched {
            Ok(resp) => Ok(UpstreamResponse {
                status: resp.status.as_u16(),
                body: resp.body,
            }),
            Err(e) => {
                tracing::warn!(provider = %provider.id, host = target.host, error = ?e,
                    "request to the OpenID provider failed");
                Err(match e {
                    FenceError::Forbidden => UpstreamError::Forbidden,
                    FenceError::TooLarge => UpstreamError::TooLarge,
                    FenceError::Unreachable | FenceError::BadRequest => UpstreamError::Unreachable,
                })
            }
        }
    }
}

impl UpstreamHttp for OidcHttp {
    fn send<'a>(
        &'a self,
        provider: &'a OidcProvider,
        request: UpstreamRequest,
        max_len: usize,
    ) -> UpstreamFuture<'a> {
        Box::pin(self.send_now(provider, request, max_len.min(MAX_UPSTREAM_DOCUMENT)))
    }
}

/// One `[[oidc]]` table of the config file (also what `--oidc` parses to).
#[derive(Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OidcEntry {
    /// Short id (button value, callback path).
    pub id: String,
    /// Button text after "Continue with" [default: the id].
    pub name: Option<String>,
    /// Issuer URL, exactly as the provider writes it.
    pub issuer: String,
    /// Our client id there.
    pub client_id: String,
    /// Our client secret (prefer `client_secret_file` or the environment).
    pub client_secret: Option<String>,
    /// A file holding the client secret.
    pub client_secret_file: Option<PathBuf>,
    /// `client_secret_basic` (default), `client_secret_post` or `none`.
    pub token_endpoint_auth_method: Option<String>,
    /// Scopes [default: openid email profile].
    pub scopes: Option<Vec<String>>,
    /// Only users with a verified email in these domains.
    pub allowed_email_domains: Option<Vec<String>>,
    /// Claims the ID token must carry (`{ hd = "example.com" }`).
    pub required_claims: Option<HashMap<String, String>>,
    /// The provider may be on a private or loopback address.
    pub allow_private_network: Option<bool>,
}

impl std::fmt::Debug for OidcEntry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OidcEntry")
            .field("id", &self.id)
            .field("issuer", &self.issuer)
            .field("client_id", &self.client_id)
            .field(
                "client_secret",
                &self.client_secret.as_ref().map(|_| "<redacted>"),
            )
            .finish_non_exhaustive()
    }
}

impl OidcEntry {
    /// Parse a `--oidc` value: `id=google;issuer=https://accounts.google.com;client_id=…`
    /// with optional `name=`, `token_endpoint_auth_method=`, `scopes=a,b`,
    /// `allowed_email_domains=a,b`, `required_claims=name:value,…`,
    /// `allow_private_network=true`, `client_secret_file=PATH`. A secret
    /// itself is refused here (flags are visible to every local user).
    pub fn parse(spec: &str) -> Result<OidcEntry, ConfigError> {
        let err = |m: String| ConfigError::new("--oidc", m);
        let mut e = OidcEntry::default();
        for part in spec.split(';').map(str::trim).filter(|p| !p.is_empty()) {
            let Some((k, v)) = part.split_once('=') else {
                return Err(err(format!("{part:?} is not key=value")));
            };
            let list = || {
                v.split(',')
                    .map(|x| x.trim().to_owned())
                    .filter(|x| !x.is_empty())
                    .collect::<Vec<_>>()
            };
            match k.trim() {
                "id" => e.id = v.trim().to_owned(),
                "name" => e.name = Some(v.trim().to_owned()),
                "issuer" => e.issuer = v.trim().to_owned(),
                "client_id" => e.client_id = v.trim().to_owned(),
                "client_secret" => {
                    return Err(err(
                        "give the client secret in MCPAUTH_OIDC_<ID>_CLIENT_SECRET, a \
                         client_secret_file or the config file, never on the command line"
                            .into(),
                    ));
                }
                "client_secret_file" => e.client_secret_file = Some(PathBuf::from(v.trim())),
                "token_endpoint_auth_method" => {
                    e.token_endpoint_auth_method = Some(v.trim().to_owned())
                }
                "scopes" => e.scopes = Some(list()),
                "allowed_email_domains" => e.allowed_email_domains = Some(list()),
                "required_claims" => {
                    let mut m = HashMap::new();
                    for pair in list() {
                        let Some((n, val)) = pair.split_once(':') else {
                            return Err(err(format!("required claim {pair:?} is not name:value")));
                        };
                        m.insert(n.trim().to_owned(), val.trim().to_owned());
                    }
                    e.required_claims = Some(m);
                }
                "allow_private_network" => {
                    e.allow_private_network =
                        Some(v.trim().parse().map_err(|_| {
                            err("allow_private_network must be true or false".into())
                        })?)
                }
                other => return Err(err(format!("unknown key {other:?}"))),
            }
        }
        Ok(e)
    }

    /// The core's provider, the secret read from `env_secret` (the
    /// provider's environment variable) when given, else the file, else
    /// the entry.
    fn resolve(&self, env_secret: Option<String>) -> Result<OidcProvider, ConfigError> {
        let setting = format!("oidc provider {:?}", self.id);
        let err = |m: &str| ConfigError::new(&setting, m);
        let mut p = OidcProvider::new(
            &self.id,
            self.name.as_deref().unwrap_or(&self.id),
            &self.issuer,
            &self.client_id,
        );
        if let Some(m) = &self.token_endpoint_auth_method {
            p.auth_method = TokenAuthMethod::from_name(m).ok_or_else(|| {
                err("token_endpoint_auth_method must be client_secret_basic, client_secret_post or none")
            })?;
        }
        let secret = match (env_secret, &self.client_secret_file, &self.client_secret) {
            (Some(s), _, _) => Some(s),
            (None, Some(path), _) => Some(
                std::fs::read_to_string(path)
                    .map_err(|e| {
                        ConfigError::new(&setting, format!("cannot read {}: {e}", path.display()))
                    })?
                    .trim()
                    .to_owned(),
            ),
            (None, None, s) => s.clone(),
        };
        p.client_secret = secret.filter(|s| !s.is_empty()).map(ClientSecret::new);
        if let Some(scopes) = &self.scopes {
            p.scopes = scopes.clone();
        }
        p.allowed_email_domains = self
            .allowed_email_domains
            .clone()
            .unwrap_or_default()
            .into_iter()
            .map(|d| d.trim().to_ascii_lowercase())
            .collect();
        let mut claims: Vec<(String, String)> = self
            .required_claims
            .clone()
            .unwrap_or_default()
            .into_iter()
            .collect();
        claims.sort();
        p.required_claims = claims;
        p.validate().map_err(err)?;
        Ok(p)
    }
}

/// The environment variable holding provider `id`'s client secret:
/// `MCPAUTH_OIDC_<ID>_CLIENT_SECRET`, the id uppercase with `-` as `_`.
pub fn secret_variable(id: &str) -> String {
    format!(
        "MCPAUTH_OIDC_{}_CLIENT_SECRET",
        id.to_ascii_uppercase().replace('-', "_")
    )
}

/// Resolve the providers: `--oidc`/`MCPAUTH_OIDC` specs when given, else
/// the file's `[[oidc]]` tables; secrets from the environment first.
pub fn resolve(
    flags: Option<&[String]>,
    file: Option<&[OidcEntry]>,
    password_login: bool,
    extra_roots: Vec<CertificateDer<'static>>,
    env: impl Fn(&str) -> Option<String>,
) -> Result<OidcSettings, ConfigError> {
    let entries: Vec<OidcEntry> = match flags {
        Some(specs) => specs
            .iter()
            .filter(|s| !s.trim().is_empty())
            .map(|s| OidcEntry::parse(s))
            .collect::<Result<_, _>>()?,
        None => file.map(<[OidcEntry]>::to_vec).unwrap_or_default(),
    };
    let mut providers = Vec::with_capacity(entries.len());
    let mut private_network = Vec::new();
    for e in &entries {
        let p = e.resolve(env(&secret_variable(&e.id)))?;
        if providers.iter().any(|q: &OidcProvider| q.id == p.id) {
            return Err(ConfigError::new(
                "--oidc",
                format!("provider id {:?} is configured twice", p.id),
            ));
        }
        if e.allow_private_network.unwrap_or(false) {
            private_network.push(p.id.clone());
        }
        providers.push(p);
    }
    Ok(OidcSettings {
        providers,
        private_network,
        extra_roots,
        password_login,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flag_specs_and_secrets() {
        let e = OidcEntry::parse(
            "id=google;name=Google;issuer=https://accounts.google.com;client_id=abc.apps;\
             allowed_email_domains=Example.com, example.org;required_claims=hd:example.com",
        )
        .expect("spec");
        assert_eq!(e.name.as_deref(), Some("Google"));
        assert!(
            OidcEntry::parse("id=x;client_secret=s").is_err(),
            "no secrets on flags"
        );
        assert!(OidcEntry::parse("id=x;colour=red").is_err());
        let env = |k: &str| (k == "MCPAUTH_OIDC_GOOGLE_CLIENT_SECRET").then(|| "s3cret".to_owned());
        let specs = [String::from(
            "id=google;name=Google;issuer=https://accounts.google.com;client_id=abc.apps;\
             allowed_email_domains=Example.com",
        )];
        let s = resolve(Some(&specs[..]), None, true, Vec::new(), env).expect("resolved");
        let p = &s.providers[0];
        assert_eq!(p.client_secret.as_ref().map(|c| c.expose()), Some("s3cret"));
        assert_eq!(p.allowed_email_domains, ["example.com"]);
        assert!(!format!("{s:?}").contains("s3cret"));
        // Without the secret a confidential client is refused.
        let specs = [String::from(
            "id=google;issuer=https://accounts.google.com;client_id=a",
        )];
        let e = resolve(Some(&specs[..]), None, true, Vec::new(), |_| None).expect_err("no secret");
        assert!(e.to_string().contains("secret"), "{e}");
        assert_eq!(
            secret_variable("my-idp"),
            "MCPAUTH_OIDC_MY_IDP_CLIENT_SECRET"
        );
    }
}
