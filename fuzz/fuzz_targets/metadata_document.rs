//! Client ID metadata documents (`core::oauth::cimd`): the URL check and
//! the document parser. The first line of the input is the URL.
#![no_main]

use libfuzzer_sys::fuzz_target;
use mcpauth_core::fuzzing::metadata_document;
use mcpauth_core::oauth::cimd::is_client_id_url;

fuzz_target!(|data: &[u8]| {
    let (url, body) = match data.iter().position(|&b| b == b'\n') {
        Some(i) => (&data[..i], &data[i + 1..]),
        None => (&b"https://app.example/client.json"[..], data),
    };
    let Ok(url) = std::str::from_utf8(url) else {
        return;
    };
    let _ = is_client_id_url(url);
    let _ = metadata_document(url, body);
});
