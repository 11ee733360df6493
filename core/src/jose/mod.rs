//! JOSE for mcpauth: RSA keys, key sets with rotation, RFC 9068 access tokens
//! (RS256 JWS, compact serialization) and JWKS.
//!
//! ```text
//! SigningKey ──► KeySet ──issue_access_token──► "eyJ….eyJ….sig"
//!   (PKCS#8,      │  ▲                                │
//!    generate)    │  └── rotate / remove              ▼
//!                 └──to_jwks_json──► JWKS ──from_jwks_json──► KeySet (verify-only)
//!                                                     └─verify_access_token(policy, now)
//! ```
//!
//! # Why not jwt-compact's `Algorithm` trait
//!
//! The card named jwt-compact, whose published releases depend on `rsa` 0.9
//! (RUSTSEC-2023-0071, the Marvin timing attack on private-key operations;
//! an authorization server signs over the network). `rsa` 0.10 fixes it. We
//! use `rsa` 0.10 directly, with blinded `pkcs1v15_sign_with_rng`, under a
//! thin compact-JWS layer of our own (`sign_compact` and `verify` in
//! `token.rs`, about a hundred lines) instead of
//! plugging it into jwt-compact's `Algorithm`, because:
//!
//! - `Algorithm::sign` takes no RNG and cannot fail. Blinding needs the
//!   injected RNG, which *can* fail (a hardware RNG); through that trait an
//!   RNG failure could only be smuggled out through a `RefCell` side channel
//!   next to a dummy signature. Here it is an ordinary [`SignError::Rng`].
//! - We must be stricter than jwt-compact's parser anyway (duplicate JSON
//!   members, `typ`, `crit`, canonical base64url, one size limit before any
//!   parsing), so we would parse every token twice.
//! - jwt-compact 0.8 pulls `sha2` 0.10, `hmac` 0.12, `rand_core` 0.6 and
//!   `anyhow` into a `no_std` device build that already has their newer
//!   versions through `rsa` 0.10.
//!
//! The compact serialization itself is small: base64url (RFC 7515 §2, via the
//! constant-time `base64ct`, which refuses padding and non-canonical trailing
//! bits), JSON via `serde_json`, and the signature via an [`RsaProvider`].
//!
//! # Providers
//!
//! The RSA primitive sits behind [`RsaProvider`] (`sign_rs256`,
//! `verify_rs256`). [`PureRustRsa`] is the default and the one devices use:
//! it signs with the `rsa` crate (feature `issuer`) and verifies with the
//! public-key operation alone ([`VerifyingKey::verify_rs256`], fixed-size
//! `crypto-bigint`, built without `issuer` too, so for chips without
//! compare-and-swap); a host can install a faster backend with
//! [`KeySet::with_provider`] (`&'static`, so no `Arc` is needed on targets
//! without atomics).
//!
//! # Verification order
//!
//! [`KeySet::verify_access_token`] refuses, each with its own
//! [`TokenError`]: an oversized token (before anything else), unknown time,
//! anything but three segments, bad base64url, a header that is not a strict
//! JSON object, `alg` `none`/`HS*` (always) or outside the policy's
//! allow-list, `typ` other than `at+jwt`/`application/at+jwt`, `crit`, a
//! missing or unknown `kid`, a bad signature; only then are the claims
//! decoded (strictly) and checked: required claims, exact `iss`, `aud`
//! containing the expected resource, `exp`/`nbf`/`iat` with leeway.
//!
//! The key is chosen by `kid` among the key set's own keys only: `jku`,
//! `x5u`, `jwk` and `x5c` headers are never followed or trusted. Times
//! (`iat`, `exp`, `nbf`) must be non-negative integers (we issue nothing
//! else). Errors carry no token contents: only the name of a claim, header
//! member or segment.
//!
//! # ID tokens of upstream providers
//!
//! [`KeySet::verify_id_token`] checks an OpenID Connect ID token with a
//! provider's key set (from its JWKS, [`KeySet::from_jwks_json`]) through
//! the same header and signature checks, then the ID-token claims under an
//! [`IdTokenPolicy`] (issuer, audience, `azp`, times, `nonce`); see
//! `id_token.rs`. Used for sign-in with an upstream provider
//! ([`crate::oauth::oidc`]).
//!
//! # Keys and rotation
//!
//! Keys load from PKCS#8 DER/PEM (or PKCS#1 PEM via [`SigningKey::from_pem`])
//! and must be 2048 to 4096 bits. `kid` is the RFC 7638 thumbprint, so it is
//! stable across restarts and instances. A host persists the active key with
//! [`SigningKey::to_pkcs8_der`] (a zeroizing buffer) and retired keys as
//! public JWKs ([`KeySet::to_jwks_json`] / [`parse_jwks`] /
//! [`KeySet::add_verifying_key`]). A key set holds at most [`MAX_JWKS_KEYS`]
//! keys, the bound resource servers apply to a JWKS, so an issuer never
//! publishes a JWKS its own resource servers refuse. A JWKS entry carrying
//! private key material is refused, not skipped: the issuer is leaking keys.
//!
//! Tests of this crate and of dependent crates (feature `testing`) get
//! instant, deterministic keys from `jose::testing` — never for production.

mod id_token;
mod jwks;
mod key;
mod keyset;
mod provider;
mod refresh;
mod rs256;
mod strict;
mod token;

#[cfg(any(test, feature = "testing"))]
pub mod testing;
#[cfg(test)]
mod tests;

pub use id_token::{DEFAULT_ID_TOKEN_MAX_AGE_SECS, IdTokenClaims, IdTokenPolicy, MAX_ID_TOKEN_LEN};
pub use jwks::{JwksError, MAX_JWKS_KEYS, MAX_JWKS_LEN, parse_jwks};
#[cfg(feature = "issuer")]
pub use key::SigningKey;
pub use key::{KeyError, MAX_KID_LEN, MAX_RSA_BITS, MIN_RSA_BITS, VerifyingKey};
pub use keyset::KeySet;
pub use provider::{PURE_RUST_RSA, PureRustRsa, RsaProvider, SignError};
pub use refresh::{
    DEFAULT_JWKS_REFRESH_SECS, DEFAULT_JWKS_RETRY_SECS, DEFAULT_UNKNOWN_KID_SPACING_SECS,
    JwksRefreshSchedule, RefreshReason,
};
pub use token::{
    AccessTokenClaims, Algorithm, Audience, DEFAULT_LEEWAY_SECS, Part, REGISTERED_CLAIMS,
    TokenError, ValidationPolicy,
};
// The strict decoding helpers, shared with the Privy token check
// (`oauth::privy`).
pub(crate) use token::{b64_decode, json_object as strict_object};

/// The `typ` header of RFC 9068 access tokens.
pub const JWT_TYPE: &str = "at+jwt";
