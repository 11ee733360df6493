//! The host's [`OAuthObserver`]: every security event of the
//! authorization server is counted in [`crate::metrics::METRICS`] and, when
//! `serve --audit-log` is set, written to the audit log (tracing target
//! [`AUDIT_TARGET`], one JSON object per line, see [`crate::logging`]).
//!
//! Audit lines carry identifiers only: event name, subject, client id,
//! grant id, `jti`, resource, scopes, the peer's address. Never a token,
//! code, secret or password: the core's events hold none. The user name
//! typed at a failed sign-in is written only when it is a valid user name
//! (letters, digits, `.`, `_`, `-`, `@`, at most 64), so a password typed
//! into the name field by mistake is not (`username_withheld`).

use std::net::IpAddr;

use mcpauth_core::oauth::{OAuthEvent, OAuthObserver, SignInMethod};

use crate::logging::AUDIT_TARGET;
use crate::metrics::METRICS;

/// Counts the authorization server's events and writes them to the audit
/// log.
#[derive(Debug, Clone, Copy, Default)]
pub struct HostObserver;

impl OAuthObserver for HostObserver {
    fn event(&self, event: &OAuthEvent<'_>, peer: Option<IpAddr>) {
        METRICS.oauth_event(event);
        if tracing::enabled!(target: AUDIT_TARGET, tracing::Level::INFO) {
            audit(event, peer);
        }
    }
}

fn audit(event: &OAuthEvent<'_>, peer: Option<IpAddr>) {
    let peer = peer.map(|p| p.to_string());
    let peer = peer.as_deref();
    let name = event.name();
    match *event {
        OAuthEvent::SignedIn {
            method,
            subject,
            client_id,
            grant_id,
            scopes,
            resource,
        } => tracing::info!(
            target: AUDIT_TARGET,
            event = name,
            method = method.as_str(),
            subject,
            client_id,
            grant_id,
            scopes = %scopes.join(" "),
            resource,
            peer,
            "signed in; consent granted"
        ),
        OAuthEvent::SignInFailed {
            method,
            username,
            client_id,
        } => {
            let shown = username.filter(|u| crate::users::valid_name(u));
            tracing::info!(
                target: AUDIT_TARGET,
                event = name,
                method = method.as_str(),
                username = shown,
                username_withheld = username.is_some() && shown.is_none(),
                client_id,
                peer,
                "sign-in failed"
            )
        }
        OAuthEvent::UpstreamSignInFailed {
            provider,
            reason,
            client_id,
        } => tracing::info!(
            target: AUDIT_TARGET,
            event = name,
            method = SignInMethod::Oidc.as_str(),
            provider,
            reason = reason.as_str(),
            client_id,
            peer,
            "sign-in with an OpenID provider refused"
        ),
        OAuthEvent::ConsentDenied { client_id } => tracing::info!(
            target: AUDIT_TARGET,
            event = name,
            client_id,
            peer,
            "consent denied"
        ),
        OAuthEvent::Throttled { limit, client_id } => tracing::info!(
            target: AUDIT_TARGET,
            event = name,
            limit = limit.as_str(),
            client_id,
            peer,
            "refused by a rate limit"
        ),
        OAuthEvent::ClientRegistered {
            client_id,
            client_name,
            confidential,
        } => tracing::info!(
            target: AUDIT_TARGET,
            event = name,
            client_id,
            client_name,
            confidential,
            peer,
            "client registered"
        ),
        OAuthEvent::TokenIssued {
            grant,
            subject,
            client_id,
            grant_id,
            jti,
            resource,
            scopes,
        } => tracing::info!(
            target: AUDIT_TARGET,
            event = name,
            grant = grant.as_str(),
            subject,
            client_id,
            grant_id,
            jti,
            resource,
            scopes = %scopes.join(" "),
            peer,
            "token issued"
        ),
        OAuthEvent::RefreshReuseDetected {
            client_id,
            grant_id,
        } => tracing::info!(
            target: AUDIT_TARGET,
            event = name,
            client_id,
            grant_id,
            peer,
            "refresh token reused: grant revoked"
        ),
        OAuthEvent::CodeReplayDetected {
            client_id,
            grant_id,
        } => tracing::info!(
            target: AUDIT_TARGET,
            event = name,
            client_id,
            grant_id,
            peer,
            "authorization code replayed: grant revoked"
        ),
        OAuthEvent::TokenRevoked {
            kind,
            client_id,
            subject,
        } => tracing::info!(
            target: AUDIT_TARGET,
            event = name,
            kind = kind.as_str(),
            client_id,
            subject,
            peer,
            "token revoked"
        ),
        _ => tracing::info!(target: AUDIT_TARGET, event = name, peer, "security event"),
    }
}

/// Write an operator action (live admin) to the audit log.
pub fn admin_action(action: &str, subject: &str) {
    tracing::info!(
        target: AUDIT_TARGET,
        event = "admin",
        action,
        subject,
        "administrative change"
    );
}
