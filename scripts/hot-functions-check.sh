#!/usr/bin/env bash
# The release binary as users build it (`cargo run --release -p mcpauth`),
# checked against host-std/link/hot-functions.txt: at least 95 % of the
# listed functions must exist in it (the list was recorded for the locked
# dependencies and this toolchain), and 99 % of the list's first quarter,
# the most called functions (the request path, placed first), and they
# must sit together at the start of .text (the linker got the list).
# Resident memory under load depends on it (BENCHMARKS.md, session 12),
# and the request path's cost on its order (session 17). On failure:
# bench/hot-functions.sh.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release --locked -q -p mcpauth --bin mcpauth
MIN_PERCENT=95 HEAD_PERCENT=99 bench/hot-functions.sh --check target/release/mcpauth
