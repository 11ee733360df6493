//! The OAuth form and query parser and HTTP Basic client credentials
//! (`core::oauth::wire`).
#![no_main]

use libfuzzer_sys::fuzz_target;
use mcpauth_core::fuzzing::{basic_authorization, form};

fuzz_target!(|data: &[u8]| {
    form(data);
    if let Ok(text) = std::str::from_utf8(data) {
        let _ = basic_authorization(text);
    }
});
