//! # mcpauth-embassy
//!
//! mcpauth on [embassy-net]: the same `no_std` core that runs the servers,
//! serving MCP (and its OAuth discovery) from a microcontroller.
//!
//! ```text
//!  embassy-net TcpSocket ×SOCKETS ──► http (httparse, fixed buffers)
//!        ▲                                 │ core::http::Request
//!        │ bytes                           ▼
//!  Runner::run (one task) ◄── Response ── Service (a configuration of the core's Router)
//!                                              ▲ now (WallClock) · rng (BoardRng) · JWKS
//! ```
//!
//! Shaped like embassy: [`new`]`(stack, config, resources, service, rng,
//! clock)` returns a [`Runner`] whose `run()` never returns; spawn it. All
//! protocol decisions are the core's router (`mcpauth_core::server`); the
//! services below only configure it.
//!
//! ## Shapes
//! 1. **Fleet resource server** ([`FleetService`]): validates RS256 access
//!    tokens offline against the JWKS of a central mcpauth issuer
//!    ([`Provisioning`]: issuer, own canonical resource URL = required
//!    audience, JWKS, scopes); serves RFC 9728 metadata and 401/403
//!    challenges pointing at that issuer; serves the MCP tools.
//! 2. **Standalone issuer** ([`StandaloneService`]): the device is its own
//!    issuer — the core's whole authorization server over a bounded
//!    `MemoryStore`, a provisioned signing key, one device account
//!    ([`DeviceLogin`]), and the MCP endpoint guarded by its own tokens and
//!    revocation list.
//!
//! ## Environment
//! - **Randomness**: the board implements the core's
//!   [`SecureRandom`](mcpauth_core::rand::SecureRandom) over its hardware
//!   RNG and hands it in as a [`BoardRng`]. No `getrandom`.
//! - **Monotonic time**: embassy-time (the board's time driver).
//! - **Wall clock**: [`WallClock`], provisioned or set later (SNTP); until
//!   then every MCP request is answered 503 (retry later) and no token is
//!   ever accepted.
//! - **Critical sections**: the board's `critical-section` implementation
//!   (the clock, RNG and key set are shared behind embassy-sync mutexes).
//! - **Atomics**: no compare-and-swap is needed. This crate uses no atomics
//!   or `Arc` itself, and the core reaches them only through
//!   `mcpauth_core::sync` (portable-atomic); `clippy.toml` refuses direct
//!   use. On thumbv6m or riscv32imc the board enables portable-atomic's
//!   `critical-section` feature (README.md, "Bring up a board").
//! - **Heap**: the core uses `alloc`; the board installs a global allocator
//!   (e.g. `embedded-alloc`) sized as below.
//!
//! ## Memory: every capacity is fixed
//! | what | capacity | RAM |
//! | --- | --- | --- |
//! | sockets (`Resources<SOCKETS>`) | const generic, e.g. 4 | `SOCKETS` × [`SLOT_BYTES`] (11,776 B) static |
//! | TCP receive window per socket | [`TCP_RX_BUFFER`] = 1,536 B | in the slot |
//! | TCP transmit buffer per socket | [`TCP_TX_BUFFER`] = 2,048 B | in the slot |
//! | request (head + body) per socket | [`REQUEST_BUFFER`] = 8,192 B; head ≤ [`Config::max_head`] (4,096), body ≤ [`Config::max_body`] (4,096) | in the slot |
//! | header fields per request | [`http::MAX_HEADERS`] = 32 (431 beyond) | stack, 32 × 32 B |
//! | standalone store | `MemoryStoreLimits::DEVICE` (16 clients, 16 pending, 16 codes, 32 families, 64 revoked ids, 32 revoked grants) | heap (with signing key and tools): 19.1 KiB empty, 58.1 KiB with 16 clients + 16 grants |
//! | JWKS keys | `mcpauth_core::jose::MAX_JWKS_KEYS`, RSA 2048–4096 bit | heap, 1,613 B per 2048-bit key (measured, `tap/tests/heap.rs`) |
//! | MCP sessions | `McpConfig::limits.sessions` (set it small, e.g. 4, or run stateless) | heap |
//! | concurrent requests | = `SOCKETS` | heap per request: see BENCHMARKS.md (peak measured 2048-bit RS256 verify + `tools/call`) |
//! | wall clock | 1 | 24 B |
//!
//! The embassy-net stack itself (`StackResources<N>`: N ≥ `SOCKETS` + 1 for
//! DHCP/DNS) and the driver's buffers are the application's, as usual.
//!
//! [embassy-net]: https://docs.embassy.dev/embassy-net
#![no_std]
#![forbid(unsafe_code)]
#![warn(missing_docs)]

extern crate alloc;

mod clock;
mod fleet;
pub mod http;
pub mod jwks;
mod rng;
mod server;
mod service;
#[cfg(feature = "standalone")]
mod standalone;

pub use clock::WallClock;
pub use fleet::{FleetKeys, FleetService, Provisioning, ProvisioningError, RefreshOutcome};
pub use jwks::{FetchBuffers, FetchError, HttpJwksFetcher, JwksFetcher, NoFetcher};
pub use rng::{BoardRng, SharedRng};
pub use server::{
    Config, REQUEST_BUFFER, Resources, Runner, SLOT_BYTES, TCP_RX_BUFFER, TCP_TX_BUFFER, new,
};
pub use service::{DeviceEnv, Service};
#[cfg(feature = "standalone")]
pub use standalone::{
    DEVICE_UNUSED_CLIENT_TTL_SECS, DeviceAuthorizationServer, DeviceLogin, StandaloneError,
    StandaloneService, authorization_server,
};
