//! Client ID Metadata Documents (MCP 2025-11-25 authorization,
//! draft-ietf-oauth-client-id-metadata-document): a `client_id` that is an
//! https URL names a JSON document holding the client's metadata, so a
//! client with no prior relationship needs no registration.
//!
//! The core decides everything (which `client_id`s are such URLs, whether a
//! document is acceptable, what the client may do); the host only fetches
//! bytes through a [`ClientMetadataFetcher`] it installs with
//! [`AuthorizationServer::with_client_metadata_fetcher`], and is expected to
//! refuse non-public addresses, redirects and large bodies, and to cache.
//! Without a fetcher, URL `client_id`s are looked up in the store like any
//! other (and are unknown), and discovery does not advertise the feature.
//!
//! A document client is always public (`token_endpoint_auth_method`
//! `none`): `private_key_jwt` is not implemented, and a document must never
//! carry a `client_secret`. Its redirect URIs, grant and response types and
//! scopes follow the rules of dynamic registration ([`super::register`]).

// Without `issuer` only the URL check and document rules are built (static
// clients and registration use them); the fetch, an `AuthorizationServer` method, is not.
#![cfg_attr(not(feature = "issuer"), allow(unused_imports, dead_code))]

use alloc::boxed::Box;
use alloc::string::String;
use alloc::vec::Vec;
use core::future::Future;
use core::net::IpAddr;
use core::pin::Pin;

use serde_json::Value;

#[cfg(feature = "issuer")]
use super::AuthorizationServer;
use super::OAuthError;
use super::register::{client_metadata, string_field};
use crate::store::{ClientAuthMethod, ClientRecord, Store};

/// Largest metadata document accepted (bytes): the draft's suggested 5 KiB.
/// Hosts should stop reading there; the core checks again.
pub const MAX_METADATA_DOCUMENT: usize = 5 * 1024;

/// Longest URL `client_id` (it is stored with codes and grants and carried
/// in access tokens).
pub const MAX_CLIENT_ID_URL: usize = 1024;

/// Why a host could not fetch a metadata document. The variants only
/// choose the message of the error page; every one fails the request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum MetadataFetchError {
    /// The URL's host resolves to an address the host may not contact
    /// (loopback, private, link-local, …: SSRF protection).
    Forbidden,
    /// No answer in time, TLS failed, or the connection broke.
    Unreachable,
    /// Not a `200` with a JSON content type (redirects included).
    BadResponse,
    /// The body exceeds [`MAX_METADATA_DOCUMENT`].
    TooLarge,
    /// The host's fetch budget is spent for now (too many fetches in
    /// flight, or for this requester or document host): try again later.
    Busy,
}

/// What [`ClientMetadataFetcher::fetch`] returns: a boxed future, so the
/// server needs no type parameter for the fetcher.
pub type MetadataFuture<'a> =
    Pin<Box<dyn Future<Output = Result<Vec<u8>, MetadataFetchError>> + Send + 'a>>;

/// Fetches client ID metadata documents (the host's HTTP client).
pub trait ClientMetadataFetcher: Send + Sync {
    /// The body of `url` (already checked by [`is_client_id_url`]), at most
    /// [`MAX_METADATA_DOCUMENT`] bytes. `requester` is the address of the
    /// client whose request needs the document ([`Request::peer`]), so the
    /// host can budget fetches per requester: a fetch is a request mcpauth
    /// makes on a stranger's behalf.
    ///
    /// [`Request::peer`]: crate::http::Request::peer
    fn fetch<'a>(&'a self, url: &'a str, requester: Option<IpAddr>) -> MetadataFuture<'a>;
}

/// Why a client could not be resolved.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ClientLookupError {
    /// The store failed: try again later.
    Store,
    /// The metadata document could not be fetched.
    Fetch(MetadataFetchError),
    /// The metadata document is not acceptable; the reason is fixed text.
    Document(&'static str),
}

impl ClientLookupError {
    /// The sentence an error page shows.
    pub(crate) fn page_message(self) -> &'static str {
        match self {
            ClientLookupError::Store => "The service is temporarily unavailable.",
            ClientLookupError::Fetch(MetadataFetchError::Forbidden) => {
                "The application's metadata document is on an address this server may not contact."
            }
            ClientLookupError::Fetch(MetadataFetchError::TooLarge) => {
                "The application's metadata document is too large."
            }
            ClientLookupError::Fetch(MetadataFetchError::Busy) => {
                "The application's metadata document cannot be fetched right now. \
                 Try again in a minute."
            }
            ClientLookupError::Fetch(_) => {
                "The application's metadata document could not be fetched."
            }
            ClientLookupError::Document(_) => "The application's metadata document is invalid.",
        }
    }

    /// The status of that page.
    pub(crate) fn page_status(self) -> u16 {
        match self {
            ClientLookupError::Store | ClientLookupError::Fetch(MetadataFetchError::Busy) => 503,
            _ => 400,
        }
    }
}

/// Whether `client_id` is a client identifier URL under the draft's rules:
/// `https`, a host, a path other than `/`, no userinfo, no fragment, no
/// `.` or `..` segments (also percent-encoded), no whitespace or controls,
/// at most [`MAX_CLIENT_ID_URL`] bytes.
pub fn is_client_id_url(client_id: &str) -> bool {
    if client_id.len() > MAX_CLIENT_ID_URL
        || client_id
            .chars()
            .any(|c| c.is_control() || c.is_whitespace() || c == '\\' || c == '#')
    {
        return false;
    }
    let Some(rest) = client_id.strip_prefix("https://") else {
        return false;
    };
    let authority_end = rest.find(['/', '?']).unwrap_or(rest.len());
    let authority = &rest[..authority_end];
    if authority.is_empty() || authority.contains('@') || authority.starts_with(':') {
        return false;
    }
    let path_and_query = &rest[authority_end..];
    let path = path_and_query
        .split_once('?')
        .map_or(path_and_query, |(p, _)| p);
    if path.len() <= 1 {
        return false;
    }
    !path.split('/').any(|segment| {
        let decoded = segment.to_ascii_lowercase().replace("%2e", ".");
        decoded == "." || decoded == ".."
    })
}

/// Check a fetched document for `url` and turn it into the client record
/// the endpoints work with. Scopes outside `scopes_supported` are dropped.
pub(crate) fn client_from_document(
    url: &str,
    body: &[u8],
    config: &super::ServerConfig,
) -> Result<ClientRecord, &'static str> {
    if body.len() > MAX_METADATA_DOCUMENT {
        return Err("the document is too large");
    }
    let Ok(Value::Object(obj)) = serde_json::from_slice::<Value>(body) else {
        return Err("the document is not a JSON object");
    };
    let describe = |e: OAuthError| e.description();
    if string_field(&obj, "client_id").map_err(describe)? != Some(url) {
        return Err("client_id does not equal the document URL");
    }
    if obj.contains_key("client_secret") || obj.contains_key("client_secret_expires_at") {
        return Err("a metadata document must not carry a client secret");
    }
    match string_field(&obj, "token_endpoint_auth_method").map_err(describe)? {
        None | Some("none") => {}
        Some(_) => return Err("token_endpoint_auth_method must be none"),
    }
    let meta = client_metadata(&obj, config).map_err(describe)?;
    Ok(ClientRecord {
        client_id: String::from(url),
        secret_hash: None,
        auth_method: ClientAuthMethod::None,
        redirect_uris: meta.redirect_uris,
        grant_types: meta.grant_types,
        response_types: meta.response_types,
        scopes: meta.scopes,
        client_name: meta.client_name,
        native: meta.native,
        issued_at: 0,
    })
}

#[cfg(feature = "issuer")]
impl<S: Store + Sync, U, L> AuthorizationServer<S, U, L> {
    /// Whether URL `client_id`s are resolved through metadata documents.
    pub fn client_metadata_documents_enabled(&self) -> bool {
        self.client_metadata.is_some()
    }

    /// The client named `client_id`: from its metadata document when it is
    /// a client identifier URL and a fetcher is installed, from the store
    /// otherwise. `Ok(None)`: no such client. `requester` is the peer whose
    /// request this is (see [`ClientMetadataFetcher::fetch`]).
    pub(crate) async fn find_client(
        &self,
        client_id: &str,
        requester: Option<IpAddr>,
    ) -> Result<Option<ClientRecord>, ClientLookupError> {
        if let Some(client) = self.config.static_client(client_id) {
            // Checked at start-up (`ServerConfig::validate`).
            return Ok(client.record(&self.config).ok());
        }
        if let Some(fetcher) = &self.client_metadata
            && is_client_id_url(client_id)
        {
            let body = fetcher
                .fetch(client_id, requester)
                .await
                .map_err(ClientLookupError::Fetch)?;
            return client_from_document(client_id, &body, &self.config)
                .map(Some)
                .map_err(ClientLookupError::Document);
        }
        self.store
            .client(client_id)
            .await
            .map_err(|_| ClientLookupError::Store)
    }
}
