#!/usr/bin/env bash
# host-embassy on a real network stack: builds the TAP device binary and runs
# the namespace test (host-embassy/tap/tests/tap.rs). It creates a private
# network namespace with two TAP devices, runs host-embassy's code on
# embassy-net (embassy-executor platform-std + embassy-net-tuntap) inside it,
# drives it over HTTP from inside the namespace, and removes the namespace.
# All traffic stays inside that namespace.
#
# Needs root, iproute2 and /dev/net/tun; elsewhere it says it was skipped.
set -euo pipefail
cd "$(dirname "$0")/.."

why=""
if [ "$(id -u)" != "0" ]; then
    why="needs root (network namespaces and TAP devices)"
elif ! command -v ip >/dev/null 2>&1; then
    why="ip(8) from iproute2 is not installed"
elif [ ! -c /dev/net/tun ]; then
    why="/dev/net/tun is missing"
fi
if [ -n "$why" ]; then
    echo "tap-test: SKIPPED: $why"
    exit 0
fi

# The fleet part runs a real `mcpauth serve` as the issuer.
cargo build --locked -p mcpauth --bin mcpauth
cargo test --locked -p mcpauth-embassy-tap --test tap -- --include-ignored --nocapture --test-threads=1
