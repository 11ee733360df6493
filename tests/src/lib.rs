//! Cross-crate integration tests live in tests/tests/. The end-to-end tests
//! start the real `mcpauth` program (see the `mcpauth-under-test` binary).
