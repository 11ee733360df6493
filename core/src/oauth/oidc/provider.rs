//! A provider's discovery document and keys, fetched through the host's
//! [`UpstreamHttp`] and cached per provider: the document for an hour (a
//! stale one is used for up to a day while the provider cannot be
//! reached), the JWKS until an ID token names an unknown `kid` (at most one
//! fetch per 30 s for that) or an hour has passed
//! ([`JwksRefreshSchedule`]).

use alloc::boxed::Box;
use alloc::string::String;
use alloc::sync::Arc;
use alloc::vec::Vec;

use serde_json::Value;
use spin::Mutex;

use super::{
    MAX_UPSTREAM_DOCUMENT, OidcError, OidcProvider, UpstreamHttp, UpstreamRequest, is_upstream_url,
};
use crate::jose::{JwksRefreshSchedule, KeySet, RefreshReason};

/// Reuse a discovery document this long (seconds).
const METADATA_TTL: u64 = 3600;
/// Use a stale document this long while the provider cannot be reached.
const METADATA_STALE_TTL: u64 = 24 * 3600;

/// What we use of a provider's discovery document (OpenID Connect
/// Discovery §3).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProviderMetadata {
    /// Equal to the configured issuer.
    pub issuer: String,
    /// Where the browser is sent.
    pub authorization_endpoint: String,
    /// Where the code is redeemed.
    pub token_endpoint: String,
    /// The provider's keys.
    pub jwks_uri: String,
    /// RFC 9207: the provider adds `iss` to its authorization responses.
    pub iss_parameter_supported: bool,
}

impl ProviderMetadata {
    /// Check a discovery document fetched for `provider`: a JSON object,
    /// `issuer` exactly the configured one, the three endpoints as
    /// acceptable URLs, `code` among the response types and RS256 among
    /// the ID-token signing algorithms.
    pub fn parse(provider: &OidcProvider, body: &[u8]) -> Result<ProviderMetadata, OidcError> {
        if body.len() > MAX_UPSTREAM_DOCUMENT {
            return Err(OidcError::Discovery("the document is too large"));
        }
        let Ok(Value::Object(doc)) = serde_json::from_slice::<Value>(body) else {
            return Err(OidcError::Discovery("not a JSON object"));
        };
        let string = |name: &'static str| match doc.get(name) {
            Some(Value::String(s)) => Ok(s.clone()),
            _ => Err(OidcError::Discovery(name)),
        };
        let issuer = string("issuer")?;
        if issuer != provider.issuer {
            return Err(OidcError::Discovery(
                "its issuer is not exactly the configured issuer",
            ));
        }
        let url = |name: &'static str| {
            let u = string(name)?;
            if is_upstream_url(&u) {
                Ok(u)
            } else {
                Err(OidcError::Discovery(name))
            }
        };
        let authorization_endpoint = url("authorization_endpoint")?;
        let token_endpoint = url("token_endpoint")?;
        let jwks_uri = url("jwks_uri")?;
        let lists = |name: &'static str, want: &str| match doc.get(name) {
            Some(Value::Array(items)) => items.iter().any(|i| i.as_str() == Some(want)),
            _ => false,
        };
        if doc.contains_key("response_types_supported")
            && !lists("response_types_supported", "code")
        {
            return Err(OidcError::Discovery(
                "the provider does not support response type code",
            ));
        }
        if !lists("id_token_signing_alg_values_supported", "RS256") {
            return Err(OidcError::Discovery(
                "the provider does not sign ID tokens with RS256",
            ));
        }
        if doc.contains_key("code_challenge_methods_supported")
            && !lists("code_challenge_methods_supported", "S256")
        {
            return Err(OidcError::Discovery(
                "the provider does not support PKCE S256",
            ));
        }
        Ok(ProviderMetadata {
            issuer,
            authorization_endpoint,
            token_endpoint,
            jwks_uri,
            iss_parameter_supported: matches!(
                doc.get("authorization_response_iss_parameter_supported"),
                Some(Value::Bool(true))
            ),
        })
    }
}

#[derive(Default)]
struct ProviderState {
    metadata: Option<(Arc<ProviderMetadata>, u64)>,
    keys: Option<Arc<KeySet>>,
    schedule: JwksRefreshSchedule,
}

/// The host's client and the per-provider caches (index = position in
/// [`ServerConfig::oidc`](crate::oauth::ServerConfig::oidc)).
pub(crate) struct OidcRuntime {
    http: Box<dyn UpstreamHttp>,
    states: Vec<Mutex<ProviderState>>,
}

impl OidcRuntime {
    pub(crate) fn new(http: Box<dyn UpstreamHttp>, providers: usize) -> OidcRuntime {
        OidcRuntime {
            http,
            states: (0..providers)
                .map(|_| Mutex::new(ProviderState::default()))
                .collect(),
        }
    }

    pub(crate) fn http(&self) -> &dyn UpstreamHttp {
        self.http.as_ref()
    }

    /// The discovery document of provider `index`, cached.
    pub(crate) async fn metadata(
        &self,
        index: usize,
        provider: &OidcProvider,
        now: u64,
    ) -> Result<Arc<ProviderMetadata>, OidcError> {
        let state = self.states.get(index).ok_or(OidcError::NoClient)?;
        let cached = state.lock().metadata.clone();
        if let Some((meta, at)) = &cached
            && now.saturating_sub(*at) < METADATA_TTL
        {
            return Ok(meta.clone());
        }
        let fetched = self.fetch_metadata(provider).await;
        match fetched {
            Ok(meta) => {
                let meta = Arc::new(meta);
                state.lock().metadata = Some((meta.clone(), now));
                Ok(meta)
            }
            // A provider that cannot be reached for a while keeps working
            // with what it said before; a document now refused is refused.
            Err(OidcError::Fetch(_))
                if cached
                    .as_ref()
                    .is_some_and(|(_, at)| now.saturating_sub(*at) < METADATA_STALE_TTL) =>
            {
                cached.map(|(m, _)| m).ok_or(OidcError::NoClient)
            }
            Err(e) => Err(e),
        }
    }

    async fn fetch_metadata(&self, provider: &OidcProvider) -> Result<ProviderMetadata, OidcError> {
        let resp = self
            .http
            .send(
                provider,
                UpstreamRequest::Get {
                    url: provider.discovery_url(),
                },
                MAX_UPSTREAM_DOCUMENT,
            )
            .await
            .map_err(OidcError::Fetch)?;
        if resp.status != 200 {
            return Err(OidcError::Discovery(
                "the document was not served (HTTP status)",
            ));
        }
        ProviderMetadata::parse(provider, &resp.body)
    }

    /// The provider's keys: cached, or fetched when there are none, when
    /// the routine refresh is due, or (`unknown_kid`) when an ID token
    /// names a key the cached set lacks and the spacing allows. A failed
    /// fetch keeps the cached keys.
    pub(crate) async fn keys(
        &self,
        index: usize,
        provider: &OidcProvider,
        meta: &ProviderMetadata,
        now: u64,
        unknown_kid: bool,
    ) -> Result<Arc<KeySet>, OidcError> {
        let state = self.states.get(index).ok_or(OidcError::NoClient)?;
        let (cached, due) = {
            let s = state.lock();
            let reason = if unknown_kid {
                RefreshReason::UnknownKid
            } else {
                RefreshReason::Periodic
            };
            (
                s.keys.clone(),
                s.keys.is_none() || s.schedule.is_due(now, reason),
            )
        };
        if !due {
            return cached.ok_or(OidcError::NoClient);
        }
        let fetched = self.fetch_keys(provider, meta).await;
        let mut s = state.lock();
        s.schedule.record(now, fetched.is_ok());
        match fetched {
            Ok(keys) => {
                let keys = Arc::new(keys);
                s.keys = Some(keys.clone());
                Ok(keys)
            }
            Err(e) => s.keys.clone().ok_or(e),
        }
    }

    async fn fetch_keys(
        &self,
        provider: &OidcProvider,
        meta: &ProviderMetadata,
    ) -> Result<KeySet, OidcError> {
        let resp = self
            .http
            .send(
                provider,
                UpstreamRequest::Get {
                    url: meta.jwks_uri.clone(),
                },
                MAX_UPSTREAM_DOCUMENT,
            )
            .await
            .map_err(OidcError::Fetch)?;
        if resp.status != 200 {
            return Err(OidcError::Discovery(
                "the JWKS was not served (HTTP status)",
            ));
        }
        let text = core::str::from_utf8(&resp.body)
            .map_err(|_| OidcError::Jwks(crate::jose::JwksError::Json))?;
        KeySet::from_jwks_json(text).map_err(OidcError::Jwks)
    }
}
