#!/usr/bin/env bash
# Builds the sign-in page's Privy script: host-std/privy-glue/src/glue.js and
# Privy's own SDK (@privy-io/js-sdk-core, exact versions from
# host-std/privy-glue/package-lock.json) bundled by esbuild (pinned) into
# one file, host-std/privy-glue/dist/glue.js. The next cargo build of
# host-std embeds it; `mcpauth serve --privy-app-id …` then serves it at
# /privy/glue.js. The bundle is not committed (it is Privy's code from npm).
#
# Needs node >= 18 and npm (the registry, once). Idempotent: skipped when
# the lock file, the glue and this script are unchanged since the last build.
# Usage: scripts/build-privy.sh [--force]
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
GLUE="$ROOT/host-std/privy-glue"
OUT="$GLUE/dist/glue.js"
say() { printf '[build-privy] %s\n' "$*"; }

command -v npm >/dev/null || { say "npm is required (node >= 18)"; exit 1; }
stamp="$(cat "$GLUE/package.json" "$GLUE/package-lock.json" "$GLUE/src/glue.js" "${BASH_SOURCE[0]}" \
  | sha256sum | cut -d' ' -f1)"
if [ "${1:-}" != --force ] && [ -s "$OUT" ] && [ -s "$OUT.gz" ] && [ -f "$GLUE/dist/.stamp" ] \
  && [ "$(cat "$GLUE/dist/.stamp")" = "$stamp" ]; then
  say "up to date: $OUT ($(wc -c < "$OUT") bytes)"
  exit 0
fi

cd "$GLUE"
say "npm ci in host-std/privy-glue"
timeout 600 npm ci --no-audit --no-fund --loglevel=error
say "esbuild src/glue.js -> dist/glue.js"
mkdir -p dist
# One classic script (IIFE: it reads document.currentScript), minified,
# licences of the bundled packages kept at the end of the file.
./node_modules/.bin/esbuild src/glue.js --bundle --format=iife --platform=browser \
  --target=es2020 --minify --legal-comments=eof \
  --define:process.env.NODE_ENV='"production"' \
  --log-level=warning --outfile=dist/glue.js.tmp
mv dist/glue.js.tmp dist/glue.js
# The gzip form the server sends to browsers that accept it (-n: no name or
# time in the header, so the same input gives the same bytes).
gzip -9 -n -c dist/glue.js > dist/glue.js.gz.tmp
mv dist/glue.js.gz.tmp dist/glue.js.gz
echo "$stamp" > dist/.stamp
say "built $OUT ($(wc -c < "$OUT") bytes, $(wc -c < "$OUT.gz") gzipped, sha256 $(sha256sum "$OUT" | cut -c1-16)…); rebuild mcpauth to embed it"
