//! `POST /introspect` (RFC 7662) and `POST /revoke` (RFC 7009), both
//! client-authenticated.
//!
//! Introspection answers `active: true` with `sub`, `scope`, `client_id`,
//! `exp`, `iat`, `iss`, `aud`, `token_type` (`Bearer` for access tokens,
//! `refresh_token` for refresh tokens) and `jti` for a valid, unrevoked
//! token, and `{"active":false}` for anything else. Registration is open,
//! so authenticating proves nothing about a client: each client sees only
//! its own tokens, and only the clients an operator names in
//! [`super::ServerConfig::introspection_clients`] (resource servers, which
//! must authenticate with their secret) also see other clients' access
//! tokens. A refresh token is shown only to its own client. Anything not
//! shown is `{"active":false}` (RFC 7662 §2.2).
//!
//! Revocation revokes a refresh token's whole family, or refuses an access
//! token's `jti` until it expires; unknown or foreign tokens still get 200.

use alloc::string::{String, ToString};
use base64ct::{Base64UrlUnpadded, Encoding};
use serde_json::{Value, json};

use super::access_family::{is_access_token_revoked, revoke_family_and_access_tokens};
use super::client_auth::{AuthenticatedClient, authenticate_client};
use super::token::parse_form;
use super::wire::no_store;
use super::{AuthorizationServer, Env, OAuthError, OAuthEvent, TokenKind};
use crate::http::{Request, Response};
use crate::jose::{AccessTokenClaims, KeySet, ValidationPolicy};
use crate::store::{RefreshFamily, Store, hash_secret, secret_matches};
use crate::time::UnixTime;

/// What a presented token turned out to be.
enum Found {
    Access(AccessTokenClaims, String),
    Refresh(RefreshFamily, String),
}

impl<S: Store + Sync, U: super::UserAuthenticator + Sync, L> AuthorizationServer<S, U, L> {
    /// Verify `token` as one of our access tokens for any configured resource.
    fn verify_any(
        &self,
        token: &str,
        now: UnixTime,
        keys: &KeySet,
    ) -> Option<(AccessTokenClaims, String)> {
        self.config.resources.iter().find_map(|r| {
            let policy = ValidationPolicy::new(self.config.issuer.as_str(), &r.identifier);
            keys.verify_access_token(token, &policy, Some(now))
                .ok()
                .map(|c| (c, r.identifier.clone()))
        })
    }

    /// Identify a live token of ours (access: signed and unrevoked; refresh:
    /// the current token of a live family).
    async fn find(
        &self,
        token: &str,
        now: UnixTime,
        keys: &KeySet,
    ) -> Result<Option<Found>, OAuthError> {
        if token.len() > crate::limits::MAX_TOKEN_LEN {
            return Ok(None);
        }
        if token.matches('.').count() == 2 {
            let Some((claims, aud)) = self.verify_any(token, now, keys) else {
                return Ok(None);
            };
            if is_access_token_revoked(&self.store, &claims.jti, now).await? {
                return Ok(None);
            }
            return Ok(Some(Found::Access(claims, aud)));
        }
        let Some((family_id, _)) = token.split_once('.') else {
            return Ok(None);
        };
        let Some(family) = self.store.family(family_id, now).await? else {
            return Ok(None);
        };
        let hash = hash_secret(token);
        if family.revoked
            || family.current_expires_at <= now.secs()
            || !secret_matches(&hash, &family.current_hash)
        {
            return Ok(None);
        }
        // A stable id for the refresh token that reveals nothing of it.
        let jti = Base64UrlUnpadded::encode_string(&hash[..16]);
        Ok(Some(Found::Refresh(family, jti)))
    }

    fn token_param(form: &super::wire::Params) -> Result<&str, OAuthError> {
        match form.one("token") {
            Ok(Some(t)) => Ok(t),
            Ok(None) => Err(OAuthError::InvalidRequest("token is required")),
            Err(()) => Err(OAuthError::InvalidRequest("a parameter was repeated")),
        }
    }

    pub(super) async fn introspect(&self, req: &Request, env: &mut Env<'_>) -> Response {
        match self.introspect_inner(req, env).await {
            Ok(v) => no_store(Response::json(200, v.to_string())),
            Err(e) => e.to_response(),
        }
    }

    async fn introspect_inner(
        &self,
        req: &Request,
        env: &mut Env<'_>,
    ) -> Result<Value, OAuthError> {
        let form = parse_form(req, self.config.max_form_body)?;
        let client = authenticate_client(self, req, &form).await?;
        let token = Self::token_param(&form)?;
        let inactive = json!({"active": false});
        let Some(now) = env.now else {
            return Ok(inactive);
        };
        let own = |owner: &str| owner == client.record.client_id;
        // A resource server must have proved a secret: a public client's id
        // is no credential.
        let resource_server = client.confidential
            && self
                .config
                .introspection_clients
                .contains(&client.record.client_id);
        Ok(match self.find(token, now, env.keys).await? {
            Some(Found::Access(c, aud)) if resource_server || own(&c.client_id) => json!({
                "active": true,
                "sub": c.sub,
                "scope": c.scope,
                "client_id": c.client_id,
                "exp": c.exp,
                "iat": c.iat,
                "iss": c.iss,
                "aud": aud,
                "token_type": "Bearer",
                "jti": c.jti,
            }),
            Some(Found::Refresh(f, jti)) if own(&f.client_id) => json!({
                "active": true,
                "sub": f.subject,
                "scope": f.scopes.join(" "),
                "client_id": f.client_id,
                "exp": f.current_expires_at,
                "iat": f.current_issued_at,
                "iss": self.config.issuer,
                "aud": f.resource,
                "token_type": "refresh_token",
                "jti": jti,
            }),
            _ => inactive,
        })
    }

    pub(super) async fn revoke(&self, req: &Request, env: &mut Env<'_>) -> Response {
        match self.revoke_inner(req, env).await {
            Ok(()) => no_store(Response::empty(200)),
            Err(e) => e.to_response(),
        }
    }

    async fn revoke_inner(&self, req: &Request, env: &mut Env<'_>) -> Result<(), OAuthError> {
        let form = parse_form(req, self.config.max_form_body)?;
        let client: AuthenticatedClient = authenticate_client(self, req, &form).await?;
        let token = Self::token_param(&form)?;
        let now = env.time()?;
        let own = |owner: &str| owner == client.record.client_id;
        match self.find(token, now, env.keys).await? {
            Some(Found::Access(c, _)) if own(&c.client_id) => {
                self.store.revoke_jti(&c.jti, c.exp, now).await?;
                self.emit(
                    OAuthEvent::TokenRevoked {
                        kind: TokenKind::Access,
                        client_id: &c.client_id,
                        subject: &c.sub,
                    },
                    req.peer,
                );
            }
            Some(Found::Refresh(f, _)) if own(&f.client_id) => {
                revoke_family_and_access_tokens(
                    &self.store,
                    &f.family_id,
                    self.config.access_token_ttl,
                    now,
                )
                .await?;
                self.emit(
                    OAuthEvent::TokenRevoked {
                        kind: TokenKind::Refresh,
                        client_id: &f.client_id,
                        subject: &f.subject,
                    },
                    req.peer,
                );
            }
            _ => {}
        }
        Ok(())
    }
}
