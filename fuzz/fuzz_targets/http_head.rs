//! The device host's HTTP/1.1 request-head parser (`host-embassy::http`).
#![no_main]

use libfuzzer_sys::fuzz_target;
use mcpauth_embassy::http::parse_head;

fuzz_target!(|data: &[u8]| {
    // The device's default limits (4 KiB head) and smaller ones, so that
    // inputs cross the bounds themselves.
    for (max_head, max_body) in [(4096, 16 * 1024), (64, 16), (0, 0)] {
        let _ = parse_head(data, max_head, max_body, None);
    }
});
