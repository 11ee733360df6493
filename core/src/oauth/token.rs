//! `POST /token`: the `authorization_code` grant (PKCE S256, single-use
//! codes, a replay by the code's own client revokes the grant) and the `refresh_token` grant (rotation
//! on every use, reuse revokes the family, down-scoping within the grant).

use alloc::format;
use alloc::string::String;

use alloc::string::ToString;
use serde_json::json;

use super::access_family::{
    new_jti, revoke_access_tokens_of_family, revoke_family_and_access_tokens,
};
use super::client_auth::{AuthenticatedClient, authenticate_client};
use super::pkce::{is_valid_verifier, verify_s256};
use super::wire::{Params, join_scopes, no_store, parse_scope};
use super::{AuthorizationServer, Env, GrantKind, OAuthError, OAuthEvent};
use crate::http::{Request, Response};
use crate::jose::{AccessTokenClaims, Audience};
use crate::rand::random_token;
use crate::store::{
    CodeTake, IssuedAccessToken, RefreshFamily, RotateOutcome, Rotation, Store, hash_secret,
};
use crate::time::UnixTime;

/// The grant an access token is minted from.
struct Grant<'a> {
    /// The refresh family (grant id); names the token's access family.
    family_id: &'a str,
    /// The resource owner.
    subject: &'a str,
    /// The client.
    client_id: &'a str,
    /// The canonical resource (the token's audience).
    resource: &'a str,
}

/// A freshly signed access token.
pub(crate) struct SignedAccess {
    pub token: String,
    pub jti: String,
    pub expires_at: u64,
    /// Seconds from issue to `expires_at` (`expires_in`).
    pub lifetime: u64,
}

/// Parse the form body of a POST endpoint, bounded.
pub(crate) fn parse_form(req: &Request, max: usize) -> Result<Params, OAuthError> {
    if req.body.len() > max {
        return Err(OAuthError::InvalidRequest("request body too large"));
    }
    Params::parse(&req.body).ok_or(OAuthError::InvalidRequest("too many parameters"))
}

/// The one configured resource named by the `resource` parameter(s), if any.
pub(crate) fn requested_resource<'c>(
    config: &'c super::ServerConfig,
    form: &Params,
) -> Result<Option<&'c str>, OAuthError> {
    match form.count("resource") {
        0 => Ok(None),
        1 => {
            let r = form.one("resource").ok().flatten().unwrap_or_default();
            config
                .find_resource(r)
                .map(|r| Some(r.identifier.as_str()))
                .ok_or(OAuthError::InvalidTarget)
        }
        _ => Err(OAuthError::InvalidTarget),
    }
}

fn required<'a>(
    form: &'a Params,
    name: &'static str,
    msg: &'static str,
) -> Result<&'a str, OAuthError> {
    match form.one(name) {
        Ok(Some(v)) => Ok(v),
        Ok(None) => Err(OAuthError::InvalidRequest(msg)),
        Err(()) => Err(OAuthError::InvalidRequest("a parameter was repeated")),
    }
}

fn optional<'a>(form: &'a Params, name: &str) -> Result<Option<&'a str>, OAuthError> {
    form.one(name)
        .map_err(|()| OAuthError::InvalidRequest("a parameter was repeated"))
}

impl<S: Store + Sync, U: super::UserAuthenticator + Sync, L> AuthorizationServer<S, U, L> {
    pub(super) async fn token(&self, req: &Request, env: &mut Env<'_>) -> Response {
        match self.token_inner(req, env).await {
            Ok(resp) => resp,
            Err(e) => e.to_response(),
        }
    }

    async fn token_inner(&self, req: &Request, env: &mut Env<'_>) -> Result<Response, OAuthError> {
        let form = parse_form(req, self.config.max_form_body)?;
        let grant_type = required(&form, "grant_type", "grant_type is required")?;
        let client = authenticate_client(self, req, &form).await?;
        match grant_type {
            "authorization_code" => self.grant_code(&client, &form, req.peer, env).await,
            "refresh_token" => self.grant_refresh(&client, &form, req.peer, env).await,
            _ => Err(OAuthError::UnsupportedGrantType),
        }
    }

    async fn grant_code(
        &self,
        client: &AuthenticatedClient,
        form: &Params,
        peer: Option<core::net::IpAddr>,
        env: &mut Env<'_>,
    ) -> Result<Response, OAuthError> {
        let code = required(form, "code", "code is required")?;
        let verifier = required(form, "code_verifier", "code_verifier is required")?;
        if !is_valid_verifier(verifier) {
            return Err(OAuthError::InvalidRequest("malformed code_verifier"));
        }
        let redirect_uri = optional(form, "redirect_uri")?;
        let resource = requested_resource(&self.config, form)?;
        if !has_grant(client, "authorization_code") {
            return Err(OAuthError::UnauthorizedClient);
        }
        let now = env.time()?;
        let code_hash = hash_secret(code);
        let record = match self.store.take_code(&code_hash, now).await? {
            CodeTake::Unknown => {
                return Err(OAuthError::InvalidGrant("the code is invalid or expired"));
            }
            CodeTake::Replayed {
                grant_id,
                client_id,
                access_token,
            } => {
                // Only the code's own client may end the grant: anyone else
                // presenting the code (a stolen one) harms nobody.
                if client_id != client.record.client_id {
                    return Err(OAuthError::InvalidGrant("the code is invalid or expired"));
                }
                // RFC 6749 §4.1.2: revoke what the first redemption issued:
                // the refresh family (so every later refresh dies) and every
                // access token of the grant. Known gap: a replay landing in
                // the microseconds between the first redemption's
                // `take_code` and its `insert_family` revokes a family not
                // yet written (its access tokens are refused all the same).
                revoke_family_and_access_tokens(
                    &self.store,
                    &grant_id,
                    self.config.access_token_ttl,
                    now,
                )
                .await?;
                if let Some(t) = access_token {
                    self.store.revoke_jti(&t.jti, t.expires_at, now).await?;
                }
                self.emit(
                    OAuthEvent::CodeReplayDetected {
                        client_id: &client_id,
                        grant_id: &grant_id,
                    },
                    peer,
                );
                return Err(OAuthError::InvalidGrant("the code was already used"));
            }
            CodeTake::Redeemed(record) => record,
        };
        if record.client_id != client.record.client_id {
            return Err(OAuthError::InvalidGrant(
                "the code was issued to another client",
            ));
        }
        if redirect_uri.is_some_and(|r| r != record.redirect_uri) {
            return Err(OAuthError::InvalidGrant("redirect_uri does not match"));
        }
        if !verify_s256(verifier, &record.code_challenge) {
            return Err(OAuthError::InvalidGrant("code_verifier does not match"));
        }
        if resource.is_some_and(|r| r != record.resource) {
            return Err(OAuthError::InvalidTarget);
        }

        let refresh = if has_grant(client, "refresh_token") {
            let token = new_refresh_token(&record.grant_id, env)?;
            let family = RefreshFamily {
                family_id: record.grant_id.clone(),
                client_id: record.client_id.clone(),
                subject: record.subject.clone(),
                resource: record.resource.clone(),
                granted_scopes: record.scopes.clone(),
                scopes: record.scopes.clone(),
                current_hash: hash_secret(&token),
                current_issued_at: now.secs(),
                current_expires_at: now.secs().saturating_add(
                    self.config
                        .refresh_token_ttl
                        .min(self.config.refresh_family_ttl),
                ),
                family_expires_at: now.secs().saturating_add(self.config.refresh_family_ttl),
                revoked: false,
            };
            self.store.insert_family(family, now).await?;
            Some(token)
        } else {
            None
        };
        let grant = Grant {
            family_id: &record.grant_id,
            subject: &record.subject,
            client_id: &record.client_id,
            resource: &record.resource,
        };
        let access = match self.sign_access(&grant, &record.scopes, now, env) {
            Ok(a) => a,
            Err(e) => {
                self.store.revoke_family(&record.grant_id).await?;
                return Err(e);
            }
        };
        self.store
            .record_code_access_token(
                &code_hash,
                IssuedAccessToken {
                    jti: access.jti.clone(),
                    expires_at: access.expires_at,
                },
            )
            .await?;
        self.emit(
            OAuthEvent::TokenIssued {
                grant: GrantKind::AuthorizationCode,
                subject: &record.subject,
                client_id: &record.client_id,
                grant_id: &record.grant_id,
                jti: &access.jti,
                resource: &record.resource,
                scopes: &record.scopes,
            },
            peer,
        );
        Ok(self.token_response(&access, refresh.as_deref(), &record.scopes))
    }

    async fn grant_refresh(
        &self,
        client: &AuthenticatedClient,
        form: &Params,
        peer: Option<core::net::IpAddr>,
        env: &mut Env<'_>,
    ) -> Result<Response, OAuthError> {
        let presented = required(form, "refresh_token", "refresh_token is required")?;
        let scope = match optional(form, "scope")? {
            Some(s) => Some(parse_scope(s).ok_or(OAuthError::InvalidScope)?),
            None => None,
        };
        let resource = requested_resource(&self.config, form)?;
        if !has_grant(client, "refresh_token") {
            return Err(OAuthError::UnauthorizedClient);
        }
        let now = env.time()?;
        let invalid = OAuthError::InvalidGrant("the refresh token is invalid, expired or revoked");
        let Some((family_id, _)) = presented.split_once('.') else {
            return Err(invalid);
        };
        let Some(family) = self.store.family(family_id, now).await? else {
            return Err(invalid);
        };
        if family.revoked || family.client_id != client.record.client_id {
            return Err(invalid);
        }
        let scopes = match scope {
            Some(s) if !s.is_empty() => {
                if !s.iter().all(|x| family.granted_scopes.contains(x)) {
                    return Err(OAuthError::InvalidScope);
                }
                s
            }
            _ => family.scopes.clone(),
        };
        if resource.is_some_and(|r| r != family.resource) {
            return Err(OAuthError::InvalidTarget);
        }
        let token = new_refresh_token(family_id, env)?;
        let rotation = Rotation {
            new_hash: hash_secret(&token),
            scopes: family.granted_scopes.clone(),
            issued_at: now.secs(),
            expires_at: now.secs().saturating_add(self.config.refresh_token_ttl),
        };
        let family = match self
            .store
            .rotate_refresh(family_id, &hash_secret(presented), rotation, now)
            .await?
        {
            RotateOutcome::Rotated(before) => before,
            RotateOutcome::Reused => {
                // The store revoked the refresh family; its access tokens go
                // with it (the thief's as well as the victim's).
                revoke_access_tokens_of_family(
                    &self.store,
                    family_id,
                    self.config.access_token_ttl,
                    now,
                )
                .await?;
                self.emit(
                    OAuthEvent::RefreshReuseDetected {
                        client_id: &client.record.client_id,
                        grant_id: family_id,
                    },
                    peer,
                );
                return Err(OAuthError::InvalidGrant(
                    "the refresh token was already used; the grant is revoked",
                ));
            }
            RotateOutcome::Invalid => return Err(invalid),
        };
        let grant = Grant {
            family_id: &family.family_id,
            subject: &family.subject,
            client_id: &family.client_id,
            resource: &family.resource,
        };
        let access = self.sign_access(&grant, &scopes, now, env)?;
        self.emit(
            OAuthEvent::TokenIssued {
                grant: GrantKind::RefreshToken,
                subject: &family.subject,
                client_id: &family.client_id,
                grant_id: &family.family_id,
                jti: &access.jti,
                resource: &family.resource,
                scopes: &scopes,
            },
            peer,
        );
        Ok(self.token_response(&access, Some(&token), &scopes))
    }

    /// Sign an access token of `grant` with `scopes`.
    fn sign_access(
        &self,
        grant: &Grant<'_>,
        scopes: &[String],
        now: UnixTime,
        env: &mut Env<'_>,
    ) -> Result<SignedAccess, OAuthError> {
        let jti = new_jti(grant.family_id, env.rng)?;
        let lifetime = self.config.access_token_ttl_for(grant.resource);
        let expires_at = now.secs().saturating_add(lifetime);
        let claims = AccessTokenClaims {
            iss: self.config.issuer.clone(),
            sub: grant.subject.into(),
            aud: Audience::One(grant.resource.into()),
            client_id: grant.client_id.into(),
            scope: join_scopes(scopes),
            iat: now.secs(),
            exp: expires_at,
            jti: jti.clone(),
            extra: serde_json::Map::new(),
        };
        let token = env
            .keys
            .issue_access_token(&claims, env.rng)
            .map_err(|_| OAuthError::Internal)?;
        Ok(SignedAccess {
            token,
            jti,
            expires_at,
            lifetime,
        })
    }

    fn token_response(
        &self,
        access: &SignedAccess,
        refresh: Option<&str>,
        scopes: &[String],
    ) -> Response {
        let mut body = json!({
            "access_token": access.token,
            "token_type": "Bearer",
            "expires_in": access.lifetime,
            "scope": join_scopes(scopes),
        });
        if let (Some(r), Some(obj)) = (refresh, body.as_object_mut()) {
            obj.insert("refresh_token".into(), r.into());
        }
        no_store(Response::json(200, body.to_string()))
    }
}

fn has_grant(client: &AuthenticatedClient, grant: &str) -> bool {
    client.record.grant_types.iter().any(|g| g == grant)
}

/// `<family id>.<256 random bits>`.
fn new_refresh_token(family_id: &str, env: &mut Env<'_>) -> Result<String, OAuthError> {
    let secret = random_token::<32>(env.rng)?;
    Ok(format!("{family_id}.{secret}"))
}
