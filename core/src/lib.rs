//! # mcpauth-core
//!
//! The sans-IO heart of mcpauth: an OAuth 2.1 authorization server, an MCP
//! (Model Context Protocol) server and the JOSE machinery both need, written
//! as pure state machines over an injected environment.
//!
//! ## Contract
//! - `#![no_std]` + `alloc`. No clock, no OS randomness, no sockets, ever.
//!   Wall-clock time arrives as an argument ([`time::UnixTime`], possibly
//!   unknown on a device: validation then fails closed). Randomness arrives
//!   through [`rand::SecureRandom`], which may fail; failure is an error, never
//!   a silent fallback.
//! - Hosts translate bytes on a socket into an [`http::Request`], hand it to
//!   the core, and write the returned [`http::Response`]. Every protocol
//!   decision (status, headers, body, error format) is made here, so both hosts
//!   behave identically and the same HTTP-level vectors test both.
//! - Nothing panics on peer input; every buffer and store has a bound
//!   ([`limits`]).
//!
//! ## Stores are async traits
//! The store traits ([`store`]) are `async` (methods return
//! `impl Future + Send`). A network database (PostgreSQL) implements them
//! naturally; the bounded in-memory store resolves immediately, so core tests
//! drive them with a trivial executor. We chose this over rustls-style
//! suspend-and-continue because single-use and rotation rules must be atomic
//! operations *of the store* (`take`, compare-and-swap), which an async call
//! expresses directly, while suspend-and-continue would force every endpoint
//! into a hand-written resumable state machine for no gain on either host.
//!
//! ## Modules
//! - [`jose`]: RSA keys, key sets and rotation, RS256 access tokens (RFC 9068),
//!   verification policy, JWKS.
//!
//! ## Features
//! - `issuer` (default): the authorization server (the OAuth endpoints, the
//!   consent page), RSA signing keys and signing (`rsa` 0.10). Without it
//!   (`default-features = false`) the core is a resource server that
//!   verifies RS256 tokens (`jose::VerifyingKey::verify_rs256`, fixed-size
//!   `crypto-bigint`) and has no dependency that needs compare-and-swap, so
//!   it builds for thumbv6m and riscv32imc (`scripts/cas-free-check.sh`).
//! - `std`, `testing`, `fuzzing`: see `Cargo.toml`.
//! - [`oauth`]: discovery, registration, authorization, token, introspection,
//!   revocation endpoints.
//! - [`mcp`]: JSON-RPC framing and the Streamable HTTP transport, both eras.
//! - [`store`]: persistence traits and the bounded in-memory store.
//! - [`http`]: the host-agnostic request/response model.
//! - [`server`]: the router both hosts call (all-in-one or resource-only).
//! - [`sync`]: `Arc` and atomics that also build for chips without
//!   compare-and-swap (thumbv6m, riscv32imc).
#![no_std]
#![forbid(unsafe_code)]
#![warn(missing_docs)]
// Unit tests run on the host (proptest's macros build `Arc`s); the library
// itself is linted without `cfg(test)` too, where clippy.toml's list holds.
#![cfg_attr(test, allow(clippy::disallowed_types, clippy::disallowed_methods))]
// Without `issuer` (a device that only verifies) the helpers only the
// authorization server calls (login throttle, form and cookie parsing,
// OIDC caches) are compiled but unused; the linker drops them. Dead code
// is still denied in the default build, which CI's clippy checks.
#![cfg_attr(not(feature = "issuer"), allow(dead_code))]

extern crate alloc;
#[cfg(feature = "std")]
extern crate std;

#[cfg(feature = "fuzzing")]
#[doc(hidden)]
pub mod fuzzing;
pub mod http;
pub mod jose;
pub mod limits;
pub mod mcp;
pub mod oauth;
pub mod principal;
pub mod rand;
pub mod server;
pub mod store;
pub mod sync;
pub mod time;
