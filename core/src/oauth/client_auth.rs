//! Client authentication at `/token`, `/introspect` and `/revoke`:
//! `none`, `client_secret_basic`, `client_secret_post`, compared in constant
//! time. URL `client_id`s resolve through their metadata documents.

use super::cimd::{ClientLookupError, MetadataFetchError};
use super::wire::{BasicAuth, Params, basic_auth};
use super::{AuthorizationServer, OAuthError};
use crate::http::Request;
use crate::store::{ClientAuthMethod, ClientRecord, Store, hash_secret, secret_matches};

/// Who is calling, once authenticated.
#[derive(Debug)]
pub(crate) struct AuthenticatedClient {
    pub record: ClientRecord,
    /// The client proved a secret (confidential).
    pub confidential: bool,
}

/// Authenticate the client of a form request. Exactly one method may be
/// used; a public client identifies itself with `client_id` alone. A
/// client ID metadata document that cannot be fetched or is not acceptable
/// makes the client unknown (`invalid_client`).
pub(crate) async fn authenticate_client<S: Store + Sync, U: super::UserAuthenticator, L>(
    server: &AuthorizationServer<S, U, L>,
    req: &Request,
    form: &Params,
) -> Result<AuthenticatedClient, OAuthError> {
    let basic = basic_auth(req);
    let used_basic = !matches!(basic, BasicAuth::Absent);
    let bad = OAuthError::InvalidClient { basic: used_basic };
    let form_id = form
        .one("client_id")
        .map_err(|()| OAuthError::InvalidRequest("repeated client_id"))?;
    let form_secret = form
        .one("client_secret")
        .map_err(|()| OAuthError::InvalidRequest("repeated client_secret"))?;

    let (id, secret) = match basic {
        BasicAuth::Malformed => return Err(bad),
        BasicAuth::Present { id, secret } => {
            if form_secret.is_some() {
                return Err(OAuthError::InvalidRequest(
                    "use only one client authentication method",
                ));
            }
            if form_id.is_some_and(|f| f != id) {
                return Err(bad);
            }
            (id, Some(secret))
        }
        BasicAuth::Absent => match form_id {
            Some(id) => (id.into(), form_secret.map(Into::into)),
            None => return Err(bad),
        },
    };

    if let Some(client) = server.config.static_client(&id) {
        let record = client.record(&server.config).map_err(|_| bad)?;
        let confidential = match (client.auth_method, &client.secret_hash, secret) {
            (ClientAuthMethod::None, _, None) => false,
            (ClientAuthMethod::None, _, Some(_)) => return Err(bad),
            (_, Some(hash), Some(secret)) => {
                if !server.users.verify_client_secret(hash, &secret).await {
                    return Err(bad);
                }
                true
            }
            _ => return Err(bad),
        };
        return Ok(AuthenticatedClient {
            record,
            confidential,
        });
    }
    let record = match server.find_client(&id, req.peer).await {
        Ok(record) => record,
        Err(ClientLookupError::Store | ClientLookupError::Fetch(MetadataFetchError::Busy)) => {
            return Err(OAuthError::Unavailable);
        }
        Err(ClientLookupError::Fetch(_) | ClientLookupError::Document(_)) => None,
    };
    // Hash even for unknown clients so that both paths cost the same.
    let presented = secret.as_deref().map(hash_secret);
    let Some(record) = record else {
        if let Some(p) = &presented {
            let _ = secret_matches(p, &[0u8; 32]);
        }
        return Err(bad);
    };
    match (record.auth_method, record.secret_hash, presented) {
        (ClientAuthMethod::None, _, None) => Ok(AuthenticatedClient {
            record,
            confidential: false,
        }),
        (
            ClientAuthMethod::ClientSecretBasic | ClientAuthMethod::ClientSecretPost,
            Some(h),
            Some(p),
        ) if secret_matches(&h, &p) => Ok(AuthenticatedClient {
            record,
            confidential: true,
        }),
        _ => Err(bad),
    }
}
