//! The two steps of an upstream sign-in: leaving for the provider (from
//! the sign-in form) and coming back (the callback). See the module docs
//! of [`super`].

use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;

use base64ct::{Base64, Base64UrlUnpadded, Encoding};
use serde_json::Value;
use zeroize::Zeroizing;

use super::{
    CALLBACK_PREFIX, MAX_UPSTREAM_DOCUMENT, OidcError, OidcProvider, TokenAuthMethod,
    UpstreamRequest, upstream_subject,
};
use crate::http::{Request, Response};
use crate::jose::{IdTokenClaims, IdTokenPolicy, TokenError};
use crate::oauth::pages::error_page;
use crate::oauth::wire::{Params, cookie, redirect, with_query};
use crate::oauth::{
    AuthorizationServer, Env, OAuthEvent, SignInMethod, UpstreamFailure, UserAuthenticator,
};
use crate::rand::random_token;
use crate::store::{PendingAuthorization, Store, UpstreamLogin, hash_secret, secret_matches};
use crate::time::UnixTime;

/// The pending-request id of an upstream sign-in with `state`.
fn record_id(state: &str) -> String {
    let mut id = String::from("oidc.");
    id.push_str(&Base64UrlUnpadded::encode_string(&hash_secret(state)));
    id
}

/// The browser-binding cookie of the sign-in whose record is `id`.
fn binding_cookie(id: &str) -> String {
    // `oidc.` is not a cookie-name character everywhere: use the hash part.
    format!("mcpauth_oidc_{}", id.trim_start_matches("oidc."))
}

/// An error code from a provider, shown only if it looks like one (RFC
/// 6749 §4.1.2.1: printable ASCII, no quotes or backslash); trimmed.
fn displayable_code(code: &str) -> Option<&str> {
    let ok = !code.is_empty()
        && code.len() <= 64
        && code
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.'));
    ok.then_some(code)
}

/// The message of a failed upstream sign-in page.
fn failure_message(provider: &OidcProvider, e: &OidcError) -> (u16, String) {
    let name = &provider.display_name;
    match e {
        OidcError::IdToken(_) | OidcError::TokenResponse(_) => (
            401,
            format!("The sign-in with {name} could not be verified."),
        ),
        OidcError::TokenEndpoint(_) => (502, format!("{name} did not accept the sign-in.")),
        _ => (
            502,
            format!("Sign-in with {name} is unavailable right now. Try again later."),
        ),
    }
}

impl<S: Store + Sync, U: UserAuthenticator + Sync, L> AuthorizationServer<S, U, L> {
    /// Report a refused upstream sign-in to the observer (audit log).
    fn upstream_failed(
        &self,
        req: &Request,
        provider: &OidcProvider,
        reason: UpstreamFailure,
        client_id: Option<&str>,
    ) {
        self.emit(
            OAuthEvent::UpstreamSignInFailed {
                provider: &provider.id,
                reason,
                client_id,
            },
            req.peer,
        );
    }

    /// Index and settings of the provider `id`.
    fn oidc_provider(&self, id: &str) -> Option<(usize, &OidcProvider)> {
        self.config
            .oidc
            .iter()
            .enumerate()
            .find(|(_, p)| p.id == id)
    }

    /// Fetch (or take from the cache) the discovery document of provider
    /// `id` now: for a host's start-up check and log.
    pub async fn check_oidc_provider(&self, id: &str, now: UnixTime) -> Result<(), OidcError> {
        let (index, provider) = self.oidc_provider(id).ok_or(OidcError::NoClient)?;
        let runtime = self.oidc.as_ref().ok_or(OidcError::NoClient)?;
        let meta = runtime.metadata(index, provider, now.secs()).await?;
        runtime
            .keys(index, provider, &meta, now.secs(), false)
            .await
            .map(|_| ())
    }

    /// Step 1: the user chose provider `provider_id` on the form of the
    /// (already checked) pending request `pending`. Moves the request to
    /// its upstream id and sends the browser to the provider.
    pub(crate) async fn oidc_start(
        &self,
        req: &Request,
        pending: PendingAuthorization,
        provider_id: &str,
        env: &mut Env<'_>,
    ) -> Response {
        let cfg = &self.config;
        let unavailable = || error_page(cfg, 503, "The service is temporarily unavailable.");
        let Some(now) = env.now else {
            return unavailable();
        };
        let (Some((index, provider)), Some(runtime)) =
            (self.oidc_provider(provider_id), self.oidc.as_ref())
        else {
            return error_page(cfg, 400, "This sign-in method is not offered here.");
        };
        if let Err(wait) = self
            .throttle
            .allow_authorization_request(req.peer, now.secs())
        {
            return error_page(
                cfg,
                429,
                "Too many sign-in attempts from your network. Try again in a minute.",
            )
            .with_header("Retry-After", format!("{wait}"));
        }
        let meta = match runtime.metadata(index, provider, now.secs()).await {
            Ok(m) => m,
            Err(e) => {
                self.upstream_failed(req, provider, e.failure(), Some(&pending.client_id));
                let (status, msg) = failure_message(provider, &e);
                return error_page(cfg, status, &msg);
            }
        };
        let secrets = (|| {
            Ok::<_, crate::rand::RngError>((
                random_token::<32>(&mut *env.rng)?,
                random_token::<32>(&mut *env.rng)?,
                random_token::<32>(&mut *env.rng)?,
                random_token::<16>(&mut *env.rng)?,
            ))
        })();
        let Ok((state, nonce, verifier, binding)) = secrets else {
            return unavailable();
        };
        let original_id = pending.id.clone();
        let id = record_id(&state);
        let record = PendingAuthorization {
            id: id.clone(),
            csrf_hash: hash_secret(&binding),
            expires_at: now.secs().saturating_add(cfg.pending_ttl),
            upstream: Some(UpstreamLogin {
                provider: provider.id.clone(),
                nonce: nonce.clone(),
                code_verifier: verifier.clone(),
            }),
            ..pending
        };
        if self.store.insert_pending(record, now).await.is_err() {
            return unavailable();
        }
        // The form's request is used up: it leads to this sign-in only.
        match self.store.take_pending(&original_id, now).await {
            Ok(Some(_)) => {}
            Ok(None) => {
                let _ = self.store.take_pending(&id, now).await;
                return error_page(
                    cfg,
                    400,
                    "This sign-in request has expired or was already used.",
                );
            }
            Err(_) => {
                let _ = self.store.take_pending(&id, now).await;
                return unavailable();
            }
        }
        let challenge = crate::oauth::pkce::s256_challenge(&verifier);
        let scope = provider.scopes.join(" ");
        let callback = provider.callback_url(&cfg.issuer);
        let location = with_query(
            &meta.authorization_endpoint,
            &[
                ("response_type", "code"),
                ("client_id", &provider.client_id),
                ("redirect_uri", &callback),
                ("scope", &scope),
                ("state", &state),
                ("nonce", &nonce),
                ("code_challenge", &challenge),
                ("code_challenge_method", "S256"),
            ],
        );
        let secure = if cfg.is_https() { "; Secure" } else { "" };
        redirect(location).with_header(
            "Set-Cookie",
            format!(
                "{}={binding}; Path={CALLBACK_PREFIX}; Max-Age={}; HttpOnly; SameSite=Lax{secure}",
                binding_cookie(&id),
                cfg.pending_ttl
            ),
        )
    }

    /// Step 2: `GET /oidc/callback/<provider id>`.
    pub(crate) async fn oidc_callback(&self, req: &Request, env: &mut Env<'_>) -> Response {
        let cfg = &self.config;
        let unavailable = || error_page(cfg, 503, "The service is temporarily unavailable.");
        let expired = "This sign-in has expired or was already used.";
        let Some(now) = env.now else {
            return unavailable();
        };
        let provider_id = req.path.strip_prefix(CALLBACK_PREFIX).unwrap_or("");
        let (Some((index, provider)), Some(runtime)) =
            (self.oidc_provider(provider_id), self.oidc.as_ref())
        else {
            return error_page(cfg, 404, "This sign-in method is not offered here.");
        };
        let refuse = |reason: UpstreamFailure, client_id: Option<&str>| {
            self.upstream_failed(req, provider, reason, client_id);
        };
        // No such sign-in (forged, expired, or used already).
        let gone = || {
            refuse(UpstreamFailure::StateUnknown, None);
            error_page(cfg, 400, expired)
        };
        let Some(q) = Params::parse(req.query.as_deref().unwrap_or("").as_bytes()) else {
            refuse(UpstreamFailure::MalformedResponse, None);
            return error_page(cfg, 400, "The sign-in response is malformed.");
        };
        let state = match q.one("state") {
            Ok(Some(state)) => state,
            Ok(None) => {
                refuse(UpstreamFailure::StateMissing, None);
                return error_page(cfg, 400, "The sign-in response is incomplete.");
            }
            Err(()) => {
                refuse(UpstreamFailure::MalformedResponse, None);
                return error_page(cfg, 400, "The sign-in response is incomplete.");
            }
        };
        let id = record_id(state);
        let record = match self.store.pending(&id, now).await {
            Ok(Some(p)) => p,
            Ok(None) => return gone(),
            Err(_) => return unavailable(),
        };
        let Some(login) = record.upstream.as_ref() else {
            return gone();
        };
        let client_id = Some(record.client_id.as_str());
        if login.provider != provider.id {
            // Another provider's callback: a mix-up, never finished here.
            refuse(UpstreamFailure::WrongProvider, client_id);
            return error_page(
                cfg,
                400,
                "The sign-in response came back from the wrong place.",
            );
        }
        let cookie_name = binding_cookie(&id);
        let bound = cookie(req, &cookie_name)
            .is_some_and(|c| secret_matches(&hash_secret(c), &record.csrf_hash));
        if !bound {
            refuse(UpstreamFailure::BrowserMismatch, client_id);
            return error_page(
                cfg,
                403,
                "This sign-in was not started in this browser, or cookies are blocked.",
            );
        }
        // Used once, whatever happens next.
        let record = match self.store.take_pending(&id, now).await {
            Ok(Some(p)) => p,
            Ok(None) => return gone(),
            Err(_) => return unavailable(),
        };
        let Some(login) = record.upstream.clone() else {
            return gone();
        };
        let client_id = Some(record.client_id.as_str());
        let clear =
            format!("{cookie_name}=; Path={CALLBACK_PREFIX}; Max-Age=0; HttpOnly; SameSite=Lax");
        let page = |status: u16, msg: &str| {
            error_page(cfg, status, msg).with_header("Set-Cookie", clear.clone())
        };
        let meta = match runtime.metadata(index, provider, now.secs()).await {
            Ok(m) => m,
            Err(e) => {
                refuse(e.failure(), client_id);
                let (status, msg) = failure_message(provider, &e);
                return page(status, &msg);
            }
        };
        // RFC 9207: the response names its issuer (when the provider says
        // so, it must).
        match q.one("iss") {
            Ok(Some(iss)) if iss != provider.issuer => {
                refuse(UpstreamFailure::IssuerMismatch, client_id);
                return page(400, "The sign-in response came back from the wrong place.");
            }
            Ok(None) if meta.iss_parameter_supported => {
                refuse(UpstreamFailure::IssuerMismatch, client_id);
                return page(400, "The sign-in response is incomplete.");
            }
            Err(()) => {
                refuse(UpstreamFailure::MalformedResponse, client_id);
                return page(400, "The sign-in response is malformed.");
            }
            _ => {}
        }
        if let Ok(Some(error)) = q.one("error") {
            refuse(UpstreamFailure::UpstreamError, client_id);
            let msg = match displayable_code(error) {
                Some(code) => format!("{} did not sign you in ({code}).", provider.display_name),
                None => format!("{} did not sign you in.", provider.display_name),
            };
            return page(403, &msg);
        }
        let Ok(Some(code)) = q.one("code") else {
            refuse(UpstreamFailure::MalformedResponse, client_id);
            return page(400, "The sign-in response is incomplete.");
        };
        let claims = match self
            .oidc_redeem(runtime, index, provider, &meta, code, &login, now)
            .await
        {
            Ok(c) => c,
            Err(e) => {
                refuse(e.failure(), client_id);
                let (status, msg) = failure_message(provider, &e);
                return page(status, &msg);
            }
        };
        if !provider.admits(&claims) {
            refuse(UpstreamFailure::NotAllowed, client_id);
            return page(
                403,
                &format!(
                    "This {} account is not allowed to sign in here.",
                    provider.display_name
                ),
            );
        }
        let subject = upstream_subject(&claims.iss, &claims.sub);
        let state = record.state.clone();
        let redirect_uri = record.redirect_uri.clone();
        let pending = PendingAuthorization {
            upstream: None,
            ..record
        };
        let resp = match self
            .issue_code(pending, subject, SignInMethod::Oidc, req.peer, env)
            .await
        {
            Ok(code) => {
                let mut params: Vec<(&str, &str)> = alloc::vec![("code", code.as_str())];
                if let Some(s) = state.as_deref() {
                    params.push(("state", s));
                }
                params.push(("iss", &cfg.issuer));
                redirect(with_query(&redirect_uri, &params))
            }
            Err(e) => self.redirect_error(&redirect_uri, e, state.as_deref()),
        };
        resp.with_header("Set-Cookie", clear)
    }

    /// Redeem `code` at the provider and verify the ID token it returns.
    #[allow(clippy::too_many_arguments)]
    async fn oidc_redeem(
        &self,
        runtime: &super::OidcRuntime,
        index: usize,
        provider: &OidcProvider,
        meta: &super::ProviderMetadata,
        code: &str,
        login: &UpstreamLogin,
        now: UnixTime,
    ) -> Result<IdTokenClaims, OidcError> {
        let callback = provider.callback_url(&self.config.issuer);
        // The serializer is not `Send`: built and dropped before any await.
        let (body, authorization) = {
            let mut form = form_urlencoded::Serializer::new(String::new());
            form.append_pair("grant_type", "authorization_code")
                .append_pair("code", code)
                .append_pair("redirect_uri", &callback)
                .append_pair("code_verifier", &login.code_verifier);
            let secret = provider.client_secret.as_ref().map(|s| s.expose());
            let authorization = match (provider.auth_method, secret) {
                (TokenAuthMethod::ClientSecretBasic, Some(secret)) => {
                    // RFC 6749 §2.3.1: each part form-encoded, then Basic.
                    let enc =
                        |s: &str| form_urlencoded::byte_serialize(s.as_bytes()).collect::<String>();
                    let pair =
                        Zeroizing::new(format!("{}:{}", enc(&provider.client_id), enc(secret)));
                    Some(Zeroizing::new(format!(
                        "Basic {}",
                        Base64::encode_string(pair.as_bytes())
                    )))
                }
                (TokenAuthMethod::ClientSecretPost, Some(secret)) => {
                    form.append_pair("client_id", &provider.client_id)
                        .append_pair("client_secret", secret);
                    None
                }
                _ => {
                    form.append_pair("client_id", &provider.client_id);
                    None
                }
            };
            (Zeroizing::new(form.finish()), authorization)
        };
        let resp = runtime
            .http()
            .send(
                provider,
                UpstreamRequest::PostForm {
                    url: meta.token_endpoint.clone(),
                    body,
                    authorization,
                },
                MAX_UPSTREAM_DOCUMENT,
            )
            .await
            .map_err(OidcError::Fetch)?;
        if resp.status != 200 {
            return Err(OidcError::TokenEndpoint(resp.status));
        }
        let Ok(Value::Object(doc)) = serde_json::from_slice::<Value>(&resp.body) else {
            return Err(OidcError::TokenResponse("not a JSON object"));
        };
        match doc.get("token_type") {
            Some(Value::String(t)) if t.eq_ignore_ascii_case("bearer") => {}
            None => {}
            _ => return Err(OidcError::TokenResponse("token_type is not Bearer")),
        }
        let Some(Value::String(id_token)) = doc.get("id_token") else {
            return Err(OidcError::TokenResponse("no id_token"));
        };
        let policy = IdTokenPolicy::new(&provider.issuer, &provider.client_id, &login.nonce);
        let keys = runtime
            .keys(index, provider, meta, now.secs(), false)
            .await?;
        match keys.verify_id_token(id_token, &policy, Some(now)) {
            Err(TokenError::UnknownKeyId) => {
                // The provider may have rotated: fetch its keys again (spaced).
                let keys = runtime
                    .keys(index, provider, meta, now.secs(), true)
                    .await?;
                keys.verify_id_token(id_token, &policy, Some(now))
                    .map_err(OidcError::IdToken)
            }
            other => other.map_err(OidcError::IdToken),
        }
    }
}
