//! Entry points for the fuzz targets in `fuzz/` (feature `fuzzing`): thin
//! wrappers that reach the crate-private parsers peer bytes go through.
//! Each one parses and then uses the result the way the endpoints do, so a
//! panic anywhere on that path is found. Not an API: nothing else may call
//! these.

use crate::http::{Method, Request};
use crate::oauth::wire::{BasicAuth, Params, basic_auth, parse_scope};

/// A form body or query string (`application/x-www-form-urlencoded`), the
/// way the OAuth endpoints read one: parse, then look up parameters.
pub fn form(bytes: &[u8]) {
    if let Some(params) = Params::parse(bytes) {
        for name in ["client_id", "redirect_uri", "scope", "state", "code"] {
            if let Ok(Some(value)) = params.one(name) {
                let _ = parse_scope(value);
            }
            let _ = params.count(name);
        }
    }
}

/// An `Authorization` header value as client authentication reads it.
pub fn basic_authorization(value: &str) -> bool {
    let req = Request::new(Method::Post, "/token").with_header("authorization", value);
    matches!(basic_auth(&req), BasicAuth::Present { .. })
}

/// A client ID metadata document fetched from `url`: whether it is
/// accepted.
pub fn metadata_document(url: &str, body: &[u8]) -> bool {
    // The default configuration: the built-in resource with scope `mcp`.
    let config = crate::oauth::ServerConfig::new("https://auth.example.com");
    crate::oauth::cimd::client_from_document(url, body, &config).is_ok()
}
