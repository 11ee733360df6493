//! Security events of the authorization server, reported to the host as
//! they happen (for its audit log and metrics; see
//! [`AuthorizationServer::with_observer`](super::AuthorizationServer::with_observer)).
//!
//! An event carries identifiers only (subject, client id, grant id, `jti`,
//! the user name typed at a failed sign-in): never a token, code, secret or
//! password, so a host may write every field to a log.

use alloc::string::String;
use core::net::IpAddr;

/// How a user signed in on the consent page.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum SignInMethod {
    /// User name and password, checked by the host's
    /// [`UserAuthenticator`](super::UserAuthenticator).
    Password,
    /// A Privy access token.
    Privy,
    /// An upstream OpenID Connect provider.
    Oidc,
}

impl SignInMethod {
    /// A stable lower-case name (`password`, `privy`, `oidc`).
    pub fn as_str(self) -> &'static str {
        match self {
            SignInMethod::Password => "password",
            SignInMethod::Privy => "privy",
            SignInMethod::Oidc => "oidc",
        }
    }
}

/// The grant a token was issued through.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum GrantKind {
    /// `authorization_code`.
    AuthorizationCode,
    /// `refresh_token` (the refresh token was rotated).
    RefreshToken,
}

impl GrantKind {
    /// The `grant_type` value.
    pub fn as_str(self) -> &'static str {
        match self {
            GrantKind::AuthorizationCode => "authorization_code",
            GrantKind::RefreshToken => "refresh_token",
        }
    }
}

/// Which rate limit refused a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Throttle {
    /// Failed sign-ins (per user and peer, per peer, per user).
    SignIn,
    /// `GET /authorize` per peer (the pending-request table).
    Authorize,
    /// Dynamic client registration (the host's
    /// [`RegistrationPolicy`](super::RegistrationPolicy)).
    Registration,
}

impl Throttle {
    /// A stable lower-case name (`sign_in`, `authorize`, `registration`).
    pub fn as_str(self) -> &'static str {
        match self {
            Throttle::SignIn => "sign_in",
            Throttle::Authorize => "authorize",
            Throttle::Registration => "registration",
        }
    }
}

/// What kind of token a revocation request named.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum TokenKind {
    /// An access token (its `jti` is now refused).
    Access,
    /// A refresh token (its grant is revoked, with every access token of it).
    Refresh,
}

impl TokenKind {
    /// `access_token` or `refresh_token`.
    pub fn as_str(self) -> &'static str {
        match self {
            TokenKind::Access => "access_token",
            TokenKind::Refresh => "refresh_token",
        }
    }
}

/// Why a sign-in with an upstream OpenID Connect provider was refused: a
/// short, stable machine code ([`UpstreamFailure::as_str`]) for the audit
/// log. It names the check that failed, never a value of the flow.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum UpstreamFailure {
    /// The callback has no `state` (`state_missing`).
    StateMissing,
    /// No sign-in has this `state`: forged, expired or already used
    /// (`state_unknown`).
    StateUnknown,
    /// The callback path names another provider than the sign-in's (a
    /// mix-up; `wrong_provider`).
    WrongProvider,
    /// The browser-binding cookie is missing or wrong: the callback came to
    /// another browser (`browser_mismatch`).
    BrowserMismatch,
    /// The RFC 9207 `iss` parameter is missing or names another issuer
    /// (`issuer_mismatch`).
    IssuerMismatch,
    /// The callback's query is malformed or has no `code`
    /// (`malformed_response`).
    MalformedResponse,
    /// The provider answered with `error=` (`upstream_error`).
    UpstreamError,
    /// The provider's discovery document or keys could not be had or were
    /// refused, or no HTTP client is installed (`provider_unavailable`).
    ProviderUnavailable,
    /// The token endpoint answered an error status (`token_refused`).
    TokenRefused,
    /// The token response is unusable (`token_response_invalid`).
    TokenResponseInvalid,
    /// The ID token's signature does not verify, or its key is unknown
    /// (`id_token_signature`).
    IdTokenSignature,
    /// The ID token names another issuer (`id_token_issuer`).
    IdTokenIssuer,
    /// The ID token is for another audience or authorized party
    /// (`id_token_audience`).
    IdTokenAudience,
    /// The ID token has expired, is not valid yet, or was issued too long
    /// ago or in the future (`id_token_expired`).
    IdTokenExpired,
    /// The ID token's `nonce` is missing or another sign-in's: replayed or
    /// injected (`id_token_nonce`).
    IdTokenNonce,
    /// The ID token is refused for another reason: malformed, a forbidden
    /// algorithm or type, a missing or invalid claim (`id_token_invalid`).
    IdTokenInvalid,
    /// The provider's allow-lists refuse the account (`not_allowed`).
    NotAllowed,
}

impl UpstreamFailure {
    /// The stable snake-case code (`state_unknown`, `id_token_nonce`, …).
    pub fn as_str(self) -> &'static str {
        match self {
            UpstreamFailure::StateMissing => "state_missing",
            UpstreamFailure::StateUnknown => "state_unknown",
            UpstreamFailure::WrongProvider => "wrong_provider",
            UpstreamFailure::BrowserMismatch => "browser_mismatch",
            UpstreamFailure::IssuerMismatch => "issuer_mismatch",
            UpstreamFailure::MalformedResponse => "malformed_response",
            UpstreamFailure::UpstreamError => "upstream_error",
            UpstreamFailure::ProviderUnavailable => "provider_unavailable",
            UpstreamFailure::TokenRefused => "token_refused",
            UpstreamFailure::TokenResponseInvalid => "token_response_invalid",
            UpstreamFailure::IdTokenSignature => "id_token_signature",
            UpstreamFailure::IdTokenIssuer => "id_token_issuer",
            UpstreamFailure::IdTokenAudience => "id_token_audience",
            UpstreamFailure::IdTokenExpired => "id_token_expired",
            UpstreamFailure::IdTokenNonce => "id_token_nonce",
            UpstreamFailure::IdTokenInvalid => "id_token_invalid",
            UpstreamFailure::NotAllowed => "not_allowed",
        }
    }
}

/// One security event. Fields borrow from the request being answered.
#[derive(Debug, Clone, Copy)]
#[non_exhaustive]
pub enum OAuthEvent<'a> {
    /// A user signed in and allowed the client: consent granted, a code
    /// issued for `grant_id`.
    SignedIn {
        /// How.
        method: SignInMethod,
        /// The user's stable subject.
        subject: &'a str,
        /// The client the user authorized.
        client_id: &'a str,
        /// The grant the code starts.
        grant_id: &'a str,
        /// The scopes granted.
        scopes: &'a [String],
        /// The resource the tokens will be for.
        resource: &'a str,
    },
    /// A sign-in failed: wrong user name or password, or a Privy token
    /// that could not be verified or whose user is not admitted.
    SignInFailed {
        /// How.
        method: SignInMethod,
        /// The user name typed (password sign-in only; never the password).
        username: Option<&'a str>,
        /// The client the user was signing in to.
        client_id: &'a str,
    },
    /// A sign-in with an upstream OpenID Connect provider was refused.
    /// Named `sign_in_failed` like [`OAuthEvent::SignInFailed`].
    UpstreamSignInFailed {
        /// The provider's configured id.
        provider: &'a str,
        /// Which check refused it.
        reason: UpstreamFailure,
        /// The client the user was signing in to, once the sign-in is found
        /// by its `state` (`None` for an unknown or missing `state`).
        client_id: Option<&'a str>,
    },
    /// The user pressed Deny on the consent page.
    ConsentDenied {
        /// The client the user refused.
        client_id: &'a str,
    },
    /// A rate limit refused a request.
    Throttled {
        /// Which one.
        limit: Throttle,
        /// The client named in the request, when there is one.
        client_id: Option<&'a str>,
    },
    /// A client registered itself (RFC 7591).
    ClientRegistered {
        /// Its new id.
        client_id: &'a str,
        /// Its `client_name`, if any.
        client_name: Option<&'a str>,
        /// Whether it has a secret (a confidential client).
        confidential: bool,
    },
    /// `/token` issued an access token (and a refresh token when the client
    /// may refresh).
    TokenIssued {
        /// Through which grant.
        grant: GrantKind,
        /// The user.
        subject: &'a str,
        /// The client.
        client_id: &'a str,
        /// The grant (refresh family) id.
        grant_id: &'a str,
        /// The access token's `jti`.
        jti: &'a str,
        /// Its audience.
        resource: &'a str,
        /// Its scopes.
        scopes: &'a [String],
    },
    /// A rotated-out refresh token was presented again: the grant and its
    /// access tokens are revoked (RFC 9700 §4.14).
    RefreshReuseDetected {
        /// The client that presented it.
        client_id: &'a str,
        /// The revoked grant.
        grant_id: &'a str,
    },
    /// A code was redeemed a second time by its own client: the grant is
    /// revoked.
    CodeReplayDetected {
        /// The client.
        client_id: &'a str,
        /// The revoked grant.
        grant_id: &'a str,
    },
    /// `/revoke` revoked a token of the calling client.
    TokenRevoked {
        /// What was revoked.
        kind: TokenKind,
        /// The client.
        client_id: &'a str,
        /// The token's user.
        subject: &'a str,
    },
}

impl OAuthEvent<'_> {
    /// A stable snake-case name of the event (`sign_in`, `token_issued`, …).
    pub fn name(&self) -> &'static str {
        match self {
            OAuthEvent::SignedIn { .. } => "sign_in",
            OAuthEvent::SignInFailed { .. } | OAuthEvent::UpstreamSignInFailed { .. } => {
                "sign_in_failed"
            }
            OAuthEvent::ConsentDenied { .. } => "consent_denied",
            OAuthEvent::Throttled { .. } => "throttled",
            OAuthEvent::ClientRegistered { .. } => "client_registered",
            OAuthEvent::TokenIssued { .. } => "token_issued",
            OAuthEvent::RefreshReuseDetected { .. } => "refresh_reuse_detected",
            OAuthEvent::CodeReplayDetected { .. } => "code_replay_detected",
            OAuthEvent::TokenRevoked { .. } => "token_revoked",
        }
    }
}

/// Receives the authorization server's [`OAuthEvent`]s. Called inline
/// while a request is answered: keep it quick (count, or hand the event to
/// a log writer).
pub trait OAuthObserver: Send + Sync {
    /// `event` happened while answering a request from `peer`.
    fn event(&self, event: &OAuthEvent<'_>, peer: Option<IpAddr>);
}
