//! Sign-in with an upstream OpenID Connect provider (Google, Auth0,
//! Keycloak, Entra ID, any certified provider), beside local users and
//! Privy.
//!
//! Each provider is configuration ([`OidcProvider`] in
//! [`ServerConfig::oidc`](super::ServerConfig::oidc)): an issuer URL, a
//! client id and secret registered there, and optional allow-lists. The
//! sign-in page shows one "Continue with …" button per provider. The core
//! makes every protocol decision; the host only carries HTTP requests
//! through an [`UpstreamHttp`] it installs with
//! [`AuthorizationServer::with_upstream_http`](super::AuthorizationServer::with_upstream_http)
//! (host-std: the SSRF-fenced client of its metadata-document fetcher).
//!
//! ## The flow
//! 1. The user presses "Continue with X" on our sign-in page (a `POST
//!    /authorize` with `upstream=<provider id>`, checked like every form
//!    post: pending request, CSRF field and cookie). The core reads the
//!    provider's discovery document (`<issuer>/.well-known/openid-configuration`,
//!    cached; its `issuer` must equal the configured one exactly), draws a
//!    `state`, a `nonce` and a PKCE verifier (256 bits each), and moves the
//!    pending request to a new id derived from the `state` (SHA-256), with
//!    the provider, the nonce, the verifier and a fresh browser
//!    binding ([`crate::store::UpstreamLogin`]). One pending request leads
//!    to at most one upstream sign-in. It answers `303` to the provider's
//!    authorization endpoint (`response_type=code`, `scope`, `state`,
//!    `nonce`, `code_challenge` S256, `redirect_uri` =
//!    `<issuer>/oidc/callback/<provider id>`) and sets the binding cookie
//!    (`HttpOnly`, `SameSite=Lax`, path `/oidc/callback/`).
//! 2. The provider sends the browser to the callback. The core finds the
//!    request by the `state` (unknown, expired or already used: an error
//!    page), checks that the callback path names the request's provider
//!    (no mix-up between providers), the binding cookie (a callback URL
//!    handed to another browser fails), and the RFC 9207 `iss` parameter
//!    when present (or when the provider promises it), then consumes the
//!    request: a `state` works once.
//! 3. An `error=` answer ends there with a page naming the provider and
//!    its error code. Otherwise the code is redeemed at the provider's token
//!    endpoint (with the verifier and the client's credentials), and the ID
//!    token is verified with the provider's JWKS (cached, re-fetched on an
//!    unknown `kid` at most every 30 s, and hourly):
//!    [`KeySet::verify_id_token`](crate::jose::KeySet::verify_id_token)
//!    checks `alg` (RS256), the signature, `iss`, `aud`/`azp`, `exp`, `iat`
//!    (not older than ten minutes) and the `nonce`.
//! 4. The provider's allow-lists ([`OidcProvider::admits`]) decide, then
//!    the user's local subject is [`upstream_subject`] of `(iss, sub)`,
//!    and the client gets its code as after a password sign-in.
//!
//! Any failure shows an error page and creates nothing: no code, no grant,
//! no user record (the subject is computed, not stored). The upstream
//! tokens are never stored, logged or handed on.

use alloc::boxed::Box;
use alloc::string::String;
use alloc::vec::Vec;
use core::future::Future;
use core::pin::Pin;

use base64ct::{Base64UrlUnpadded, Encoding};
use serde_json::Value;
use sha2::{Digest, Sha256};
use zeroize::Zeroizing;

use super::UpstreamFailure;
use super::config::{is_loopback_host, split_url};
use super::wire::is_scope_token;
use crate::jose::{IdTokenClaims, JwksError, TokenError};

mod flow;
mod provider;

#[cfg(test)]
mod tests;

pub(crate) use provider::OidcRuntime;
pub use provider::ProviderMetadata;

/// The callback path prefix; the provider id follows.
pub const CALLBACK_PREFIX: &str = "/oidc/callback/";
/// Largest discovery document, JWKS or token response read (bytes).
pub const MAX_UPSTREAM_DOCUMENT: usize = 64 * 1024;
/// Longest provider id.
pub const MAX_PROVIDER_ID_LEN: usize = 32;

/// A client secret: redacted in `Debug`, zeroized on drop.
#[derive(Clone, PartialEq, Eq)]
pub struct ClientSecret(Zeroizing<String>);

impl ClientSecret {
    /// Wrap a secret.
    pub fn new(secret: String) -> ClientSecret {
        ClientSecret(Zeroizing::new(secret))
    }

    /// The secret itself (only for the token request).
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl core::fmt::Debug for ClientSecret {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str("ClientSecret(<redacted>)")
    }
}

/// How we authenticate at the provider's token endpoint.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenAuthMethod {
    /// HTTP Basic with the form-encoded client id and secret (RFC 6749
    /// §2.3.1); what OpenID Connect providers default to.
    ClientSecretBasic,
    /// `client_id` and `client_secret` in the form body.
    ClientSecretPost,
    /// A public client: `client_id` in the body, PKCE only.
    None,
}

impl TokenAuthMethod {
    /// Parse the registration name (`client_secret_basic`, …).
    pub fn from_name(name: &str) -> Option<TokenAuthMethod> {
        match name {
            "client_secret_basic" => Some(TokenAuthMethod::ClientSecretBasic),
            "client_secret_post" => Some(TokenAuthMethod::ClientSecretPost),
            "none" => Some(TokenAuthMethod::None),
            _ => None,
        }
    }
}

/// One upstream OpenID Connect provider.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OidcProvider {
    /// Short id: the button's value and the callback path
    /// (`/oidc/callback/<id>`); 1-32 of `a-z`, `0-9`, `-`, `_`.
    pub id: String,
    /// What the button says: "Continue with <display name>".
    pub display_name: String,
    /// The issuer, exactly as the provider writes it in its discovery
    /// document and ID tokens (Auth0's ends with `/`). https; http only on
    /// loopback.
    pub issuer: String,
    /// Our client id at the provider.
    pub client_id: String,
    /// Our client secret there (`None` for a public client).
    pub client_secret: Option<ClientSecret>,
    /// How the token request authenticates.
    pub auth_method: TokenAuthMethod,
    /// Scopes asked for; `openid` must be one.
    pub scopes: Vec<String>,
    /// When not empty: only users whose provider-verified email
    /// (`email_verified` true) is in one of these domains (exact, lowercase)
    /// may sign in.
    pub allowed_email_domains: Vec<String>,
    /// Claims every admitted ID token must carry: `(name, value)`, the
    /// claim being that string, or an array holding it (`groups`), or the
    /// boolean written as `true`/`false`.
    pub required_claims: Vec<(String, String)>,
}

impl OidcProvider {
    /// A provider with a confidential client (`client_secret_basic`),
    /// scopes `openid email profile`, no allow-lists.
    pub fn new(id: &str, display_name: &str, issuer: &str, client_id: &str) -> OidcProvider {
        OidcProvider {
            id: id.into(),
            display_name: display_name.into(),
            issuer: issuer.into(),
            client_id: client_id.into(),
            client_secret: None,
            auth_method: TokenAuthMethod::ClientSecretBasic,
            scopes: ["openid", "email", "profile"]
                .iter()
                .map(|s| String::from(*s))
                .collect(),
            allowed_email_domains: Vec::new(),
            required_claims: Vec::new(),
        }
    }

    /// Refuse settings that cannot work or are unsafe.
    pub fn validate(&self) -> Result<(), &'static str> {
        let id_ok = !self.id.is_empty()
            && self.id.len() <= MAX_PROVIDER_ID_LEN
            && self
                .id
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || matches!(b, b'-' | b'_'));
        if !id_ok {
            return Err("an OpenID provider id must be 1-32 of a-z, 0-9, '-', '_'");
        }
        if self.display_name.trim().is_empty()
            || self.display_name.chars().count() > 64
            || self.display_name.chars().any(char::is_control)
        {
            return Err("an OpenID provider's name must be 1-64 printable characters");
        }
        if !is_upstream_url(&self.issuer) || self.issuer.contains('?') {
            return Err(
                "an OpenID provider's issuer must be an https URL without query or fragment \
                 (http only on loopback)",
            );
        }
        if self.client_id.is_empty()
            || self.client_id.len() > 512
            || self.client_id.chars().any(char::is_control)
        {
            return Err("an OpenID provider's client id must be 1-512 printable characters");
        }
        match (self.auth_method, &self.client_secret) {
            (TokenAuthMethod::None, Some(_)) => {
                return Err("an OpenID provider with token auth method none takes no secret");
            }
            (TokenAuthMethod::None, None) => {}
            (_, None) => return Err("an OpenID provider's client secret is missing"),
            (_, Some(s)) if s.expose().is_empty() || s.expose().chars().any(char::is_control) => {
                return Err(
                    "an OpenID provider's client secret is empty or has control characters",
                );
            }
            (_, Some(_)) => {}
        }
        if !self.scopes.iter().any(|s| s == "openid")
            || !self.scopes.iter().all(|s| is_scope_token(s))
        {
            return Err("an OpenID provider's scopes must be scope tokens including openid");
        }
        let domain_ok = |d: &str| {
            !d.is_empty()
                && d.len() <= 253
                && !d.starts_with(['.', '-'])
                && d.bytes().all(|b| {
                    b.is_ascii_lowercase() || b.is_ascii_digit() || matches!(b, b'-' | b'.')
                })
        };
        if !self.allowed_email_domains.iter().all(|d| domain_ok(d)) {
            return Err("allowed email domains must be lowercase domain names (example.com)");
        }
        if self
            .required_claims
            .iter()
            .any(|(name, _)| name.is_empty() || name.len() > 128)
        {
            return Err("a required claim needs a name of 1-128 characters");
        }
        Ok(())
    }

    /// The redirect URI registered at the provider, under `issuer` (ours).
    pub fn callback_url(&self, issuer: &str) -> String {
        alloc::format!("{issuer}{CALLBACK_PREFIX}{}", self.id)
    }

    /// Where the discovery document is (OpenID Connect Discovery §4: a
    /// trailing `/` of the issuer is dropped first).
    pub fn discovery_url(&self) -> String {
        alloc::format!(
            "{}/.well-known/openid-configuration",
            self.issuer.trim_end_matches('/')
        )
    }

    /// Whether the verified ID token `claims` pass this provider's
    /// allow-lists (no list: everyone the provider signs in).
    pub fn admits(&self, claims: &IdTokenClaims) -> bool {
        let email_ok = self.allowed_email_domains.is_empty()
            || claims.verified_email().is_some_and(|email| {
                email.rsplit_once('@').is_some_and(|(local, domain)| {
                    !local.is_empty() && self.allowed_email_domains.iter().any(|d| d == domain)
                })
            });
        let claims_ok =
            self.required_claims
                .iter()
                .all(|(name, want)| match claims.extra.get(name.as_str()) {
                    Some(Value::String(s)) => s == want,
                    Some(Value::Array(items)) => items.iter().any(|i| i.as_str() == Some(want)),
                    Some(Value::Bool(b)) => want == if *b { "true" } else { "false" },
                    _ => false,
                });
        email_ok && claims_ok
    }
}

/// Whether `url` may be an upstream provider's URL: https, or http on a
/// loopback host (a provider run locally), with a host, no fragment, no
/// userinfo, no whitespace.
pub(crate) fn is_upstream_url(url: &str) -> bool {
    let Some(parts) = split_url(url) else {
        return false;
    };
    let scheme_ok = match parts.scheme {
        "https" => true,
        "http" => is_loopback_host(parts.host),
        _ => false,
    };
    scheme_ok
        && !parts.host.is_empty()
        && !parts.has_fragment
        && !parts.host.contains('@')
        && url.len() <= 2048
        && !url.chars().any(|c| c.is_whitespace() || c.is_control())
}

/// The local subject of the user `sub` at the provider `iss`:
/// `oidc:` + base64url(SHA-256(`iss` NUL `sub`)). Stable for as long as the
/// provider keeps its issuer and the user's `sub` (OpenID Connect Core §2:
/// together they identify the user), the same whichever provider entry or
/// client id brought the user in, and never equal to a local user's or a
/// Privy user's subject.
pub fn upstream_subject(iss: &str, sub: &str) -> String {
    let mut h = Sha256::new();
    h.update(iss.as_bytes());
    h.update([0u8]);
    h.update(sub.as_bytes());
    let mut out = String::from("oidc:");
    out.push_str(&Base64UrlUnpadded::encode_string(&h.finalize()));
    out
}

/// A request the host sends to a provider for the core.
pub enum UpstreamRequest {
    /// `GET url` with `Accept: application/json` (discovery, JWKS).
    Get {
        /// The URL (https, or http on loopback).
        url: String,
    },
    /// `POST url` with an `application/x-www-form-urlencoded` body (the
    /// token request). Neither field may be logged: they hold the code,
    /// the verifier and possibly the client secret.
    PostForm {
        /// The token endpoint.
        url: String,
        /// The form body.
        body: Zeroizing<String>,
        /// An `Authorization` header value (`Basic …`), when the client
        /// authenticates that way.
        authorization: Option<Zeroizing<String>>,
    },
}

impl core::fmt::Debug for UpstreamRequest {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            UpstreamRequest::Get { url } => f.debug_struct("Get").field("url", url).finish(),
            UpstreamRequest::PostForm { url, .. } => f
                .debug_struct("PostForm")
                .field("url", url)
                .finish_non_exhaustive(),
        }
    }
}

impl UpstreamRequest {
    /// The URL the request goes to.
    pub fn url(&self) -> &str {
        match self {
            UpstreamRequest::Get { url } | UpstreamRequest::PostForm { url, .. } => url,
        }
    }
}

/// A provider's answer: status and body (at most the limit asked for).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UpstreamResponse {
    /// HTTP status.
    pub status: u16,
    /// The body.
    pub body: Vec<u8>,
}

/// Why the host could not get an answer. Only chooses the message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum UpstreamError {
    /// The URL's host resolves to an address the host may not contact.
    Forbidden,
    /// No answer in time, TLS failed, or the connection broke.
    Unreachable,
    /// The body exceeds the limit.
    TooLarge,
    /// The host's budget for such requests is spent for now.
    Busy,
}

/// What [`UpstreamHttp::send`] returns.
pub type UpstreamFuture<'a> =
    Pin<Box<dyn Future<Output = Result<UpstreamResponse, UpstreamError>> + Send + 'a>>;

/// The host's HTTP client for provider requests.
pub trait UpstreamHttp: Send + Sync {
    /// Send `request` for `provider` (the host may apply per-provider
    /// network rules) and return at most `max_len` bytes of body. No
    /// redirects are followed.
    fn send<'a>(
        &'a self,
        provider: &'a OidcProvider,
        request: UpstreamRequest,
        max_len: usize,
    ) -> UpstreamFuture<'a>;
}

/// Why an upstream sign-in failed. `Display` is for operators' logs (it
/// names no token, code or secret); the page says less.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum OidcError {
    /// No [`UpstreamHttp`] installed.
    NoClient,
    /// A request to the provider failed.
    Fetch(UpstreamError),
    /// The discovery document is unusable; says why.
    Discovery(&'static str),
    /// The JWKS is unusable.
    Jwks(JwksError),
    /// The token endpoint answered an error status.
    TokenEndpoint(u16),
    /// The token response is unusable; says why.
    TokenResponse(&'static str),
    /// The ID token was refused.
    IdToken(TokenError),
}

impl OidcError {
    /// The audit log's reason code for a sign-in this error ended.
    pub fn failure(&self) -> UpstreamFailure {
        match self {
            OidcError::NoClient
            | OidcError::Fetch(_)
            | OidcError::Discovery(_)
            | OidcError::Jwks(_) => UpstreamFailure::ProviderUnavailable,
            OidcError::TokenEndpoint(_) => UpstreamFailure::TokenRefused,
            OidcError::TokenResponse(_) => UpstreamFailure::TokenResponseInvalid,
            OidcError::IdToken(e) => match e {
                TokenError::BadSignature | TokenError::UnknownKeyId | TokenError::MissingKeyId => {
                    UpstreamFailure::IdTokenSignature
                }
                TokenError::WrongIssuer => UpstreamFailure::IdTokenIssuer,
                TokenError::WrongAudience
                | TokenError::MissingClaim("azp")
                | TokenError::InvalidClaim("azp") => UpstreamFailure::IdTokenAudience,
                TokenError::Expired
                | TokenError::NotYetValid
                | TokenError::IssuedInFuture
                | TokenError::IssuedTooLongAgo => UpstreamFailure::IdTokenExpired,
                TokenError::WrongNonce => UpstreamFailure::IdTokenNonce,
                _ => UpstreamFailure::IdTokenInvalid,
            },
        }
    }
}

impl core::fmt::Display for OidcError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            OidcError::NoClient => f.write_str("no HTTP client for upstream providers"),
            OidcError::Fetch(e) => write!(f, "request to the provider failed: {e:?}"),
            OidcError::Discovery(why) => write!(f, "discovery document refused: {why}"),
            OidcError::Jwks(e) => write!(f, "JWKS refused: {e}"),
            OidcError::TokenEndpoint(status) => {
                write!(f, "token endpoint answered HTTP {status}")
            }
            OidcError::TokenResponse(why) => write!(f, "token response refused: {why}"),
            OidcError::IdToken(e) => write!(f, "ID token refused: {e}"),
        }
    }
}

#[cfg(feature = "std")]
impl std::error::Error for OidcError {}
