#!/usr/bin/env bash
# CI: the BOLT-optimized binary (scripts/bolt.sh) is built, and the
# integration tests run against it (MCPAUTH_BIN), so that a layout BOLT
# got wrong fails here and not on a user's machine.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/bolt.sh
MCPAUTH_BIN="$(pwd)/target/bolt/mcpauth" cargo test --locked -q -p mcpauth-tests
