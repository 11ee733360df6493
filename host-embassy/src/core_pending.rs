//! **Protocol decisions waiting to move into `mcpauth-core`.**
//!
//! Everything else this adapter once carried here (remote-issuer metadata,
//! the clock-unknown 503, `NoRevocations`) now lives in
//! `mcpauth_core::server`. What remains:
//!
//! - [`metadata_url`]: the RFC 9728 §3.1 metadata URL of a resource on its
//!   *own* origin (a fleet device), which `oauth::ResourceGuard::remote`
//!   takes as an argument. The core derives it only from the issuer's base
//!   (`ServerConfig::resource_metadata_url`), which is right for an
//!   all-in-one server and wrong for a device. When the core offers it,
//!   this file goes away.

use alloc::format;
use alloc::string::String;

/// Path prefix of RFC 9728 metadata.
pub const PR_METADATA: &str = "/.well-known/oauth-protected-resource";

/// `(origin, path)` of an absolute URL (`https://h:1/mcp` → `https://h:1`,
/// `/mcp`).
pub fn split_origin(url: &str) -> Option<(&str, &str)> {
    let after = url.find("://")? + 3;
    let end = url[after..]
        .find(['/', '?', '#'])
        .map_or(url.len(), |i| after + i);
    Some((&url[..end], &url[end..]))
}

/// RFC 9728 §3.1: the metadata URL of `resource` inserts the well-known
/// path between its origin and its path.
pub fn metadata_url(resource: &str) -> String {
    match split_origin(resource) {
        Some((origin, path)) => format!("{origin}{PR_METADATA}{}", path.trim_end_matches('/')),
        None => String::from(PR_METADATA),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn metadata_urls_follow_rfc_9728() {
        assert_eq!(
            metadata_url("http://10.0.0.2:8080/mcp"),
            "http://10.0.0.2:8080/.well-known/oauth-protected-resource/mcp"
        );
        assert_eq!(
            metadata_url("https://dev.example"),
            "https://dev.example/.well-known/oauth-protected-resource"
        );
    }
}
