//! # mcpauth (host-std)
//!
//! The tokio host of [`mcpauth_core`]: an HTTP runtime (hyper 1), the OS
//! environment (clock, RNG), persistent storage, the CLI, and the tools the
//! binary ships with. It makes no protocol decision the core could make.
//!
//! To embed mcpauth with your own tools, see `examples/custom_tool.rs`.

pub mod admin;
pub mod app;
#[cfg(feature = "aws-lc")]
pub mod aws_lc;
pub mod backend;
pub mod cache;
pub mod cimd;
pub mod cimd_budget;
pub mod cli;
pub mod config;
pub mod conn_workers;
pub mod db;
pub mod env;
pub mod head_watch;
pub mod healthcheck;
pub mod keys;
pub mod logging;
pub mod mcp_timer;
pub mod metrics;
pub mod oauth_slots;
pub mod oauth_workers;
pub mod observe;
pub mod oidc;
pub mod pg;
pub mod privy;
pub mod proxy;
pub mod remote_issuer;
pub mod resource_server;
pub mod resources;
pub mod revocation;
pub mod server;
pub mod tools;
pub mod upstream;
pub mod users;
