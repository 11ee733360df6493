#!/usr/bin/env bash
# Builds a #![no_std] #![no_main] binary that links mcpauth-core on its own
# (separate workspace: no feature unification can bring std in), then runs
# it: it signs and verifies an RS256 token, and serves host-embassy checks.
set -euo pipefail
cargo build --release --locked --manifest-path nostd-check/Cargo.toml --target-dir target/nostd-check
target/nostd-check/release/mcpauth-nostd-check
