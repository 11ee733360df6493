#!/usr/bin/env bash
# Installs every tool CI needs that a fresh machine of our kind lacks.
# Idempotent: quick when everything is already there.
set -euo pipefail
if ! cargo audit --version >/dev/null 2>&1; then
    cargo install cargo-audit --locked
fi
rustup component list --installed 2>/dev/null | grep -q '^clippy' || rustup component add clippy
rustup component list --installed 2>/dev/null | grep -q '^rustfmt' || rustup component add rustfmt
# Fuzzing (scripts/fuzz.sh): the nightly toolchain and cargo-fuzz.
rustup toolchain list | grep -q '^nightly' || rustup toolchain install nightly --profile minimal
# The standard library's source, for `-Zbuild-std=core,alloc` in
# scripts/cas-free-check.sh (thumbv6m/riscv32imc have no installable
# prebuilt core here; build-std compiles core and alloc for them).
rustup component list --installed --toolchain nightly 2>/dev/null | grep -q '^rust-src' \
    || rustup component add rust-src --toolchain nightly
if ! cargo fuzz --version >/dev/null 2>&1; then
    cargo install cargo-fuzz --locked
fi
# The Privy sign-in script (scripts/build-privy.sh) is built with npm.
if ! command -v npm >/dev/null 2>&1; then
    apt-get update -qq && apt-get install -y -qq --no-install-recommends nodejs npm >/dev/null
fi
