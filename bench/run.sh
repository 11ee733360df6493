#!/usr/bin/env bash
# Load test of mcpauth against a bare hyper hello-world on the same machine.
#
#   bench/run.sh                 # from the repository root
#   DURATION=20s CONNS=64 REFRESH_CONNS=16 bench/run.sh
#   MCPAUTH_BIN=/tmp/a/mcpauth BARE_BIN=/tmp/bare_hyper bench/run.sh
#                                # prebuilt binaries (no cargo build), to
#                                # compare builds under the same load
#   CARGO_FLAGS=--no-default-features bench/run.sh
#                                # pure-Rust RS256 (the default is aws-lc)
#   ONLY_REFRESH=1 MCPAUTH_BIN=/tmp/a/mcpauth bench/run.sh
#                                # phase 3 alone (no bare hyper, no /mcp)
#
# Measures, with wrk (installed with apt-get if missing):
#   1. bare hyper hello-world, POST with the same body  (baseline)
#   2. mcpauth /mcp tools/call whoami with a valid bearer token (RPS, p99)
#   3. mcpauth /token refresh grant, REFRESH_CONNS clients each chaining
#      its own refresh-token family (every rotation durable before answering)
# and mcpauth's resident memory (VmRSS now, VmHWM peak) after each phase,
# plus the largest VmRSS sampled every 100 ms while the refresh load runs.
# Only loopback addresses are used; every run is bounded by DURATION.
set -euo pipefail
cd "$(dirname "$0")/.."

DURATION=${DURATION:-10s}
CONNS=${CONNS:-64}
THREADS=${THREADS:-2}
REFRESH_CONNS=${REFRESH_CONNS:-16}
PORT=${PORT:-18481}
BARE_PORT=${BARE_PORT:-18482}
PASSWORD='bench-password-123'

if ! command -v wrk >/dev/null; then
  apt-get update -qq && apt-get install -y -qq wrk
fi
ONLY_REFRESH=${ONLY_REFRESH:-}
if [ -z "${MCPAUTH_BIN:-}" ] || { [ -z "${BARE_BIN:-}" ] && [ -z "$ONLY_REFRESH" ]; }; then
  cargo build --release -q -p mcpauth --bin mcpauth --example bare_hyper ${CARGO_FEATURES:+--features "$CARGO_FEATURES"} ${CARGO_FLAGS:-}
fi
BIN=${MCPAUTH_BIN:-target/release/mcpauth}
BARE=${BARE_BIN:-target/release/examples/bare_hyper}

WORK=$(mktemp -d)
PIDS=()
cleanup() {
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
  rm -rf "$WORK"
}
trap cleanup EXIT

wait_up() {
  for _ in $(seq 1 200); do
    curl -s -o /dev/null "$1" && return 0
    sleep 0.05
  done
  echo "server at $1 did not come up" >&2
  exit 1
}

# CPU time (user + system, clock ticks) the process has used so far.
cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }

rss() { grep -E '^(VmRSS|VmHWM)' "/proc/$1/status" | tr -s ' ' | tr '\n' ' '; echo; }

echo "== machine: $(nproc) cores, $(uname -r), wrk $(wrk -v 2>&1 | head -1 | cut -d' ' -f2)"

# 1. Baseline.
if [ -z "$ONLY_REFRESH" ]; then
"$BARE" "127.0.0.1:$BARE_PORT" 2>/dev/null &
PIDS+=($!)
wait_up "http://127.0.0.1:$BARE_PORT/"
echo "== bare hyper: POST /mcp, $CONNS connections, $DURATION"
MCP_TOKEN= MCP_SESSION= wrk -t"$THREADS" -c"$CONNS" -d"$DURATION" --latency \
  -s bench/tools_call.lua "http://127.0.0.1:$BARE_PORT/mcp"
kill "${PIDS[0]}"
fi

# 2 and 3. mcpauth.
echo "$PASSWORD" | "$BIN" user add bench --data-dir "$WORK/data" >/dev/null
"$BIN" serve --listen "127.0.0.1:$PORT" --data-dir "$WORK/data" --log warn ${SERVE_FLAGS:-} >/dev/null &
MCPAUTH_PID=$!
PIDS+=($MCPAUTH_PID)
wait_up "http://127.0.0.1:$PORT/healthz"
TOKENS=$(python3 bench/get_tokens.py "http://127.0.0.1:$PORT" bench "$PASSWORD" "$REFRESH_CONNS")
eval "$TOKENS"
export CLIENT_ID MCP_TOKEN MCP_SESSION REFRESH_TOKENS
echo "== mcpauth idle: $(rss $MCPAUTH_PID)"

if [ -z "$ONLY_REFRESH" ]; then
echo "== mcpauth: POST /mcp tools/call whoami, $CONNS connections, $DURATION"
wrk -t"$THREADS" -c"$CONNS" -d"$DURATION" --latency \
  -s bench/tools_call.lua "http://127.0.0.1:$PORT/mcp"
echo "== mcpauth after tools/call: $(rss $MCPAUTH_PID)"
fi

echo "== mcpauth: POST /token refresh grant, $REFRESH_CONNS clients, $DURATION"
# Sample VmRSS (kB) every 100 ms while the load runs; keep the largest.
( peak=0
  while kill -0 "$MCPAUTH_PID" 2>/dev/null; do
    kb=$(awk '/^VmRSS/ {print $2}' "/proc/$MCPAUTH_PID/status" 2>/dev/null || echo 0)
    [ "${kb:-0}" -gt "$peak" ] && peak=$kb && echo "$peak" > "$WORK/rss-during"
    sleep 0.1
  done ) &
SAMPLER=$!
PIDS+=($SAMPLER)
TICKS0=$(cpu_ticks "$MCPAUTH_PID")
wrk -t"$REFRESH_CONNS" -c"$REFRESH_CONNS" -d"$DURATION" --latency \
  -s bench/refresh.lua "http://127.0.0.1:$PORT/token" | tee "$WORK/refresh.out"
TICKS1=$(cpu_ticks "$MCPAUTH_PID")
kill "$SAMPLER" 2>/dev/null || true
REQS=$(awk '/requests in/ {print $1}' "$WORK/refresh.out")
# Server CPU per grant: robust to how much of the shared machine we got.
echo "== mcpauth refresh CPU: $(( (TICKS1 - TICKS0) * 1000000 / $(getconf CLK_TCK) / ${REQS:-1} )) us per grant ($REQS grants)"
echo "== mcpauth during refresh: largest VmRSS sampled $(cat "$WORK/rss-during" 2>/dev/null || echo '?') kB"
echo "== mcpauth after refresh: $(rss $MCPAUTH_PID)"
