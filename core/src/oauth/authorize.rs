//! `GET|POST /authorize`: request validation, the pending request, the
//! sign-in/consent form and the user's decision.
//!
//! Validation order (RFC 6749 §4.1.2.1, RFC 9207):
//! 1. `client_id` must name a registered client (or an acceptable client ID
//!    metadata document, see [`super::cimd`]) and `redirect_uri` must match
//!    one of its URIs exactly (loopback port aside; may be omitted when
//!    exactly one is registered). Failures show an error page and never
//!    redirect.
//! 2. Everything else — `response_type=code`, the client's grant, PKCE S256,
//!    `scope`, `resource`, the per-peer limit — fails with an error page
//!    whose link returns to the client with `error`, `state`, `iss`. Never
//!    an automatic redirect: anyone can register a client (or publish a
//!    metadata document) with any redirect URI, so an automatic error
//!    redirect would make this server an open redirector (RFC 9700 §4.11.2,
//!    MCP security best practices, "open redirection"). The user sees where
//!    the link goes and decides.
//!
//! Only after the user has seen the consent page (which names the redirect
//! target) does the server redirect: with a code, or `access_denied`.
//!
//! A valid request is stored as a [`PendingAuthorization`] with a short TTL
//! and bound to the browser by an anti-CSRF value that is both a cookie
//! (`HttpOnly; SameSite=Lax`, `Secure` on https) and a hidden form field.

use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;

use subtle::ConstantTimeEq;

use super::pages::{consent_page, error_page, error_page_with_return};
use super::pkce::is_valid_s256_challenge;
use super::privy::{privy_user_admitted, verify_privy_token};
use super::token::{parse_form, requested_resource};
use super::wire::{Params, cookie, parse_scope, redirect, with_query};
use super::{
    AuthorizationServer, Env, OAuthError, OAuthEvent, SignInMethod, Throttle, UserAuthenticator,
};
use crate::http::{Request, Response};
use crate::rand::random_token;
use crate::store::{
    ClientRecord, CodeRecord, PendingAuthorization, Store, hash_secret, secret_matches,
};

/// What a valid authorization request asks for.
struct Validated {
    scopes: Vec<String>,
    resource: String,
    challenge: String,
}

/// The throttle's "user name" for failed Privy tokens from `peer`: starts
/// with a NUL byte (no local user has it) and names the peer, so bad tokens
/// count against that peer only and can never lock everyone out of Privy.
fn privy_throttle_key(peer: Option<core::net::IpAddr>) -> String {
    match peer {
        Some(ip) => format!("\0privy {ip}"),
        None => String::from("\0privy"),
    }
}

fn csrf_cookie_name(request_id: &str) -> String {
    format!("mcpauth_csrf_{request_id}")
}

impl<S: Store + Sync, U: UserAuthenticator + Sync, L> AuthorizationServer<S, U, L> {
    /// `redirect_uri` with an error, `state` and `iss`.
    fn error_return_url(&self, redirect_uri: &str, e: OAuthError, state: Option<&str>) -> String {
        let mut params: Vec<(&str, &str)> =
            alloc::vec![("error", e.code()), ("error_description", e.description()),];
        if let Some(s) = state {
            params.push(("state", s));
        }
        params.push(("iss", &self.config.issuer));
        with_query(redirect_uri, &params)
    }

    /// Redirect with an error: only once the user has seen the consent page.
    pub(crate) fn redirect_error(
        &self,
        redirect_uri: &str,
        e: OAuthError,
        state: Option<&str>,
    ) -> Response {
        redirect(self.error_return_url(redirect_uri, e, state))
    }

    /// An error before the user has seen the consent page: a page with a
    /// link back to the client, never an automatic redirect.
    fn error_before_consent(
        &self,
        redirect_uri: &str,
        e: OAuthError,
        state: Option<&str>,
    ) -> Response {
        let back = self.error_return_url(redirect_uri, e, state);
        error_page_with_return(&self.config, e.status(), e.description(), &back)
    }

    pub(super) async fn authorize_get(&self, req: &Request, env: &mut Env<'_>) -> Response {
        let cfg = &self.config;
        let query = req.query.as_deref().unwrap_or("");
        let Some(q) = Params::parse(query.as_bytes()) else {
            return error_page(cfg, 400, "The authorization request is malformed.");
        };
        let client = match q.one("client_id") {
            Ok(Some(id)) => match self.find_client(id, req.peer).await {
                Ok(Some(c)) => c,
                Ok(None) => return error_page(cfg, 400, "The application is not registered here."),
                Err(e) => return error_page(cfg, e.page_status(), e.page_message()),
            },
            _ => return error_page(cfg, 400, "The request has no valid client_id."),
        };
        let redirect_uri = match q.one("redirect_uri") {
            Ok(Some(r))
                if client
                    .redirect_uris
                    .iter()
                    .any(|reg| super::config::redirect_matches(reg, r)) =>
            {
                String::from(r)
            }
            Ok(None) if client.redirect_uris.len() == 1 => client.redirect_uris[0].clone(),
            _ => {
                return error_page(
                    cfg,
                    400,
                    "The redirect URI is missing or not registered for this application.",
                );
            }
        };
        let state = q.one("state").ok().flatten();
        if q.count("state") > 1 {
            return self.error_before_consent(
                &redirect_uri,
                OAuthError::InvalidRequest("repeated state"),
                None,
            );
        }
        let validated = match self.validate(&client, &q) {
            Ok(v) => v,
            Err(e) => return self.error_before_consent(&redirect_uri, e, state),
        };
        // Every request from here on stores a pending authorization: one
        // peer may not fill the table (RFC 6749 §4.1.2.1
        // `temporarily_unavailable`, and when to come back).
        if let Some(now) = env.now
            && let Err(wait) = self
                .throttle
                .allow_authorization_request(req.peer, now.secs())
        {
            self.emit(
                OAuthEvent::Throttled {
                    limit: Throttle::Authorize,
                    client_id: Some(&client.client_id),
                },
                req.peer,
            );
            return self
                .error_before_consent(&redirect_uri, OAuthError::RateLimited, state)
                .with_header("Retry-After", format!("{wait}"));
        }
        let result = self
            .start_pending(&client, redirect_uri.clone(), state, validated, env)
            .await;
        match result {
            Ok(resp) => resp,
            Err(e) => self.error_before_consent(&redirect_uri, e, state),
        }
    }

    /// Step 2 of the validation order (everything after client and redirect).
    fn validate(&self, client: &ClientRecord, q: &Params) -> Result<Validated, OAuthError> {
        let repeated = |_| OAuthError::InvalidRequest("a parameter was repeated");
        match q.one("response_type").map_err(repeated)? {
            None => return Err(OAuthError::InvalidRequest("response_type is required")),
            Some("code") => {}
            Some(_) => return Err(OAuthError::UnsupportedResponseType),
        }
        if !client.response_types.iter().any(|r| r == "code")
            || !client.grant_types.iter().any(|g| g == "authorization_code")
        {
            return Err(OAuthError::UnauthorizedClient);
        }
        let Some(challenge) = q.one("code_challenge").map_err(repeated)? else {
            return Err(OAuthError::InvalidRequest(
                "code_challenge (PKCE S256) is required",
            ));
        };
        if q.one("code_challenge_method").map_err(repeated)? != Some("S256") {
            return Err(OAuthError::InvalidRequest(
                "code_challenge_method must be S256",
            ));
        }
        if !is_valid_s256_challenge(challenge) {
            return Err(OAuthError::InvalidRequest("malformed code_challenge"));
        }
        let resource = match requested_resource(&self.config, q)? {
            Some(r) => self.config.resource(r),
            None => self.config.default_resource(),
        }
        .ok_or(OAuthError::InvalidTarget)?;
        // A scope is granted only with a resource that has it, to a client
        // registered for it; no `scope` asks for all such scopes.
        let allowed = |s: &String| resource.scopes.contains(s) && client.scopes.contains(s);
        let scopes = match q.one("scope").map_err(repeated)? {
            Some(s) => parse_scope(s).ok_or(OAuthError::InvalidScope)?,
            None => Vec::new(),
        };
        let scopes = if scopes.is_empty() {
            resource
                .scopes
                .iter()
                .filter(|s| allowed(s))
                .cloned()
                .collect()
        } else {
            scopes
        };
        if scopes.is_empty() || !scopes.iter().all(allowed) {
            return Err(OAuthError::InvalidScope);
        }
        Ok(Validated {
            scopes,
            resource: resource.identifier.clone(),
            challenge: challenge.into(),
        })
    }

    async fn start_pending(
        &self,
        client: &ClientRecord,
        redirect_uri: String,
        state: Option<&str>,
        v: Validated,
        env: &mut Env<'_>,
    ) -> Result<Response, OAuthError> {
        let now = env.time()?;
        let id = random_token::<16>(&mut *env.rng)?;
        let csrf = random_token::<16>(&mut *env.rng)?;
        let pending = PendingAuthorization {
            id: id.clone(),
            csrf_hash: hash_secret(&csrf),
            client_id: client.client_id.clone(),
            redirect_uri,
            state: state.map(String::from),
            scopes: v.scopes,
            resource: v.resource,
            code_challenge: v.challenge,
            expires_at: now.secs().saturating_add(self.config.pending_ttl),
            upstream: None,
        };
        self.store.insert_pending(pending.clone(), now).await?;
        let secure = if self.config.is_https() {
            "; Secure"
        } else {
            ""
        };
        let cookie = format!(
            "{}={csrf}; Path=/authorize; Max-Age={}; HttpOnly; SameSite=Lax{secure}",
            csrf_cookie_name(&id),
            self.config.pending_ttl
        );
        Ok(
            consent_page(&self.config, 200, client, &pending, &csrf, None, "")
                .with_header("Set-Cookie", cookie),
        )
    }

    pub(super) async fn authorize_post(&self, req: &Request, env: &mut Env<'_>) -> Response {
        let cfg = &self.config;
        let expired = "This sign-in request has expired or was already used.";
        let Ok(form) = parse_form(req, cfg.max_form_body) else {
            return error_page(cfg, 400, "The form is malformed.");
        };
        let Some(now) = env.now else {
            return error_page(cfg, 503, "The service is temporarily unavailable.");
        };
        let (Ok(Some(id)), Ok(Some(csrf))) = (form.one("request_id"), form.one("csrf")) else {
            return error_page(cfg, 400, "The form is malformed.");
        };
        let pending = match self.store.pending(id, now).await {
            Ok(Some(p)) => p,
            Ok(None) => return error_page(cfg, 400, expired),
            Err(_) => return error_page(cfg, 503, "The service is temporarily unavailable."),
        };
        // Both halves of the binding: the form field matches the stored hash,
        // and the browser's cookie matches the form field.
        let form_ok = secret_matches(&hash_secret(csrf), &pending.csrf_hash);
        let cookie_ok = cookie(req, &csrf_cookie_name(id))
            .is_some_and(|c| bool::from(c.as_bytes().ct_eq(csrf.as_bytes())));
        if !(form_ok && cookie_ok) {
            return error_page(
                cfg,
                403,
                "This form was not opened in this browser, or cookies are blocked.",
            );
        }
        let clear_cookie = format!(
            "{}=; Path=/authorize; Max-Age=0; HttpOnly; SameSite=Lax",
            csrf_cookie_name(id)
        );
        // An upstream provider's button: sign in there (it also allows).
        if let (Ok(None), Ok(Some(provider))) = (form.one("decision"), form.one("upstream")) {
            let resp = self.oidc_start(req, pending, provider, env).await;
            // Left for the provider: this form is used up.
            return if resp.status == 303 {
                resp.with_header("Set-Cookie", clear_cookie)
            } else {
                resp
            };
        }
        match form.one("decision") {
            Ok(Some("deny")) => match self.store.take_pending(id, now).await {
                Ok(Some(p)) => {
                    self.emit(
                        OAuthEvent::ConsentDenied {
                            client_id: &p.client_id,
                        },
                        req.peer,
                    );
                    self.redirect_error(
                        &p.redirect_uri,
                        OAuthError::AccessDenied,
                        p.state.as_deref(),
                    )
                    .with_header("Set-Cookie", clear_cookie)
                }
                Ok(None) => error_page(cfg, 400, expired),
                Err(_) => error_page(cfg, 503, "The service is temporarily unavailable."),
            },
            Ok(Some("allow")) => match self.sign_in(req, &form, pending, csrf, env).await {
                Ok(resp) => resp.with_header("Set-Cookie", clear_cookie),
                Err(resp) => resp,
            },
            _ => error_page(cfg, 400, "The form is malformed."),
        }
    }

    /// Check credentials (throttled), then issue the code. `Err` carries a
    /// page to show instead (the form again, with a message).
    async fn sign_in(
        &self,
        req: &Request,
        form: &Params,
        pending: PendingAuthorization,
        csrf: &str,
        env: &mut Env<'_>,
    ) -> Result<Response, Response> {
        let cfg = &self.config;
        let unavailable = || error_page(cfg, 503, "The service is temporarily unavailable.");
        let now = env.now.ok_or_else(unavailable)?;
        let client = match self.find_client(&pending.client_id, req.peer).await {
            Ok(Some(c)) => c,
            Ok(None) => {
                return Err(error_page(
                    cfg,
                    400,
                    "The application is no longer registered.",
                ));
            }
            Err(e) => return Err(error_page(cfg, e.page_status(), e.page_message())),
        };
        let again = |status: u16, msg: &str| {
            let user = form.one("username").ok().flatten().unwrap_or("");
            consent_page(cfg, status, &client, &pending, csrf, Some(msg), user)
        };
        let throttled = |wait: u64| {
            self.emit(
                OAuthEvent::Throttled {
                    limit: Throttle::SignIn,
                    client_id: Some(&pending.client_id),
                },
                req.peer,
            );
            let minutes = wait.div_ceil(60);
            let msg = format!(
                "Too many failed sign-in attempts. Try again in {minutes} minute{}.",
                if minutes == 1 { "" } else { "s" }
            );
            Err(again(429, &msg).with_header("Retry-After", format!("{wait}")))
        };
        let privy_token = form.one("privy_token").ok().flatten();
        let failed = |method: SignInMethod, username: Option<&str>| {
            self.emit(
                OAuthEvent::SignInFailed {
                    method,
                    username,
                    client_id: &pending.client_id,
                },
                req.peer,
            );
        };
        let (subject, method) = match (&cfg.privy, privy_token.filter(|t| !t.is_empty())) {
            // Privy login: the token is checked here and dropped; it is
            // never stored, logged or passed on.
            (Some(privy), Some(token)) => {
                let throttle_key = privy_throttle_key(req.peer);
                if let Err(wait) = self.throttle.check(&throttle_key, req.peer, now.secs()) {
                    return throttled(wait);
                }
                let key = self
                    .users
                    .privy_verification_key()
                    .await
                    .ok_or_else(unavailable)?;
                match verify_privy_token(token, &privy.app_id, &key, Some(now)) {
                    Ok(subject) => {
                        let identity = form.one("privy_id_token").ok().flatten();
                        if !privy_user_admitted(privy, &key, &subject, identity, now) {
                            failed(SignInMethod::Privy, None);
                            return Err(error_page(
                                cfg,
                                403,
                                "This Privy account is not allowed to sign in here.",
                            ));
                        }
                        (subject, SignInMethod::Privy)
                    }
                    Err(_) => {
                        failed(SignInMethod::Privy, None);
                        self.throttle
                            .record_failure(&throttle_key, req.peer, now.secs());
                        return Err(error_page(
                            cfg,
                            401,
                            "The Privy sign-in could not be verified.",
                        ));
                    }
                }
            }
            _ if !cfg.password_login => {
                return Err(error_page(
                    cfg,
                    400,
                    "Sign in with one of the methods the page offers.",
                ));
            }
            _ => {
                let (Ok(Some(username)), Ok(Some(password))) =
                    (form.one("username"), form.one("password"))
                else {
                    return Err(again(400, "Enter your username and password."));
                };
                if let Err(wait) = self.throttle.check(username, req.peer, now.secs()) {
                    return throttled(wait);
                }
                let Some(subject) = self.users.authenticate(username, password).await else {
                    failed(SignInMethod::Password, Some(username));
                    self.throttle.record_failure(username, req.peer, now.secs());
                    return Err(again(200, "Wrong username or password."));
                };
                self.throttle.record_success(username, req.peer, now.secs());
                (subject, SignInMethod::Password)
            }
        };
        let pending = match self.store.take_pending(&pending.id, now).await {
            Ok(Some(p)) => p,
            Ok(None) => {
                return Err(error_page(
                    cfg,
                    400,
                    "This sign-in request has expired or was already used.",
                ));
            }
            Err(_) => return Err(unavailable()),
        };
        match self
            .issue_code(pending.clone(), subject, method, req.peer, env)
            .await
        {
            Ok(code) => {
                let mut params: Vec<(&str, &str)> = alloc::vec![("code", code.as_str())];
                if let Some(s) = pending.state.as_deref() {
                    params.push(("state", s));
                }
                params.push(("iss", &cfg.issuer));
                Ok(redirect(with_query(&pending.redirect_uri, &params)))
            }
            Err(e) => Ok(self.redirect_error(&pending.redirect_uri, e, pending.state.as_deref())),
        }
    }

    pub(crate) async fn issue_code(
        &self,
        p: PendingAuthorization,
        subject: String,
        method: SignInMethod,
        peer: Option<core::net::IpAddr>,
        env: &mut Env<'_>,
    ) -> Result<String, OAuthError> {
        let now = env.time()?;
        let code = random_token::<32>(&mut *env.rng)?;
        let grant_id = random_token::<16>(&mut *env.rng)?;
        // A user authorized this client: it is no longer pruned as unused.
        // (A metadata-document client has no stored registration.)
        // (Nor has a static one.)
        if !super::cimd::is_client_id_url(&p.client_id)
            && self.config.static_client(&p.client_id).is_none()
        {
            self.store.mark_client_used(&p.client_id).await?;
        }
        let record = CodeRecord {
            code_hash: hash_secret(&code),
            grant_id,
            client_id: p.client_id,
            redirect_uri: p.redirect_uri,
            code_challenge: p.code_challenge,
            resource: p.resource,
            scopes: p.scopes,
            subject,
            expires_at: now.secs().saturating_add(self.config.code_ttl),
        };
        let record = self
            .store
            .insert_code(record.clone(), now)
            .await
            .map(|()| record)?;
        self.emit(
            OAuthEvent::SignedIn {
                method,
                subject: &record.subject,
                client_id: &record.client_id,
                grant_id: &record.grant_id,
                scopes: &record.scopes,
                resource: &record.resource,
            },
            peer,
        );
        Ok(code)
    }
}
