//! JSON-RPC framing of MCP request bodies (`core::mcp::jsonrpc`).
#![no_main]

use libfuzzer_sys::fuzz_target;
use mcpauth_core::mcp::jsonrpc::{FrameLimits, has_duplicate_member, parse, unescape};

fuzz_target!(|data: &[u8]| {
    let _ = parse(data, &FrameLimits::default());
    if let Ok(text) = std::str::from_utf8(data) {
        let _ = has_duplicate_member(text, &["jsonrpc", "id", "method"]);
        let _ = unescape::<64>(text);
    }
});
