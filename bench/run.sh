#!/usr/bin/env bash
# Load test of mcpauth against a bare hyper hello-world on the same machine.
#
#   bench/run.sh                 # from the repository root
#   bench/run.sh interleaved     # bare hyper and mcpauth alternated for
#                                # PAIRS rounds: CPU-per-request ratios,
#                                # median and spread (bench/interleaved.sh)
#   DURATION=20s CONNS=64 REFRESH_CONNS=16 bench/run.sh
#   MCPAUTH_BIN=/tmp/a/mcpauth BARE_BIN=/tmp/bare_hyper RMCP_BIN=/tmp/rmcp-echo bench/run.sh
#                                # prebuilt binaries (no cargo build), to
#                                # compare builds under the same load
#   TOOL=whoami bench/run.sh     # the tool mcpauth serves (default echo;
#                                # rmcp serves echo only)
#   SKIP_REFRESH=1 bench/run.sh  # only the tools/call phases
#   RMCP_BIN=skip bench/run.sh   # without the rmcp phase
#   CARGO_FLAGS=--no-default-features bench/run.sh
#                                # pure-Rust RS256 (the default is aws-lc)
#   ONLY_REFRESH=1 MCPAUTH_BIN=/tmp/a/mcpauth bench/run.sh
#                                # phase 4 alone (no bare hyper, rmcp, /mcp)
#
# Measures, with wrk (installed with apt-get if missing):
#   1. bare hyper hello-world, POST with the same body  (baseline)
#   2. rmcp (the official Rust MCP SDK, bench/rmcp-echo) tools/call echo,
#      its stateless JSON mode, no authorization
#   3. mcpauth /mcp tools/call TOOL with a valid bearer token and session
#   4. mcpauth /token refresh grant, REFRESH_CONNS clients each chaining
#      its own refresh-token family (every rotation durable before answering)
# with the refresh grant's CPU split by thread (connection workers, OAuth
# workers, the store's writer), and mcpauth's resident memory (VmRSS now,
# VmHWM peak) after each phase,
# plus the largest VmRSS sampled every 100 ms while the refresh load runs.
# Only loopback addresses are used; every run is bounded by DURATION.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ "${1:-}" = interleaved ]; then
  exec bench/interleaved.sh
fi
. bench/lib.sh

DURATION=${DURATION:-10s}
CONNS=${CONNS:-64}
THREADS=${THREADS:-2}
REFRESH_CONNS=${REFRESH_CONNS:-16}
PORT=${PORT:-18481}
BARE_PORT=${BARE_PORT:-18482}
RMCP_PORT=${RMCP_PORT:-18483}
export TOOL=${TOOL:-echo}
PASSWORD='bench-password-123'

ensure_tool wrk wrk
ONLY_REFRESH=${ONLY_REFRESH:-}
if [ -z "${MCPAUTH_BIN:-}" ] || { [ -z "${BARE_BIN:-}" ] && [ -z "$ONLY_REFRESH" ]; }; then
  # Separately (see bench/interleaved.sh): the binary as users build it.
  cargo build --release -q -p mcpauth --bin mcpauth ${CARGO_FEATURES:+--features "$CARGO_FEATURES"} ${CARGO_FLAGS:-}
  cargo build --release -q -p mcpauth --example bare_hyper ${CARGO_FEATURES:+--features "$CARGO_FEATURES"} ${CARGO_FLAGS:-}
fi
if [ -z "${RMCP_BIN:-}" ] && [ -z "$ONLY_REFRESH" ]; then
  cargo build --release -q --locked --manifest-path bench/rmcp-echo/Cargo.toml
fi
BIN=${MCPAUTH_BIN:-target/release/mcpauth}
BARE=${BARE_BIN:-target/release/examples/bare_hyper}
RMCP=${RMCP_BIN:-bench/rmcp-echo/target/release/rmcp-echo}

start_workdir

# load PID URL: the tools/call load, then the server's CPU per request.
load() {
  measure "$1" "$2" bench/tools_call.lua "$CONNS" "$THREADS"
  echo "   server CPU per request: $SERVER_US us ($REQUESTS requests; wrk: $WRK_US us)"
}

machine_line

# 1. Baseline.
if [ -z "$ONLY_REFRESH" ]; then
"$BARE" "127.0.0.1:$BARE_PORT" 2>/dev/null &
BARE_PID=$!
PIDS+=($BARE_PID)
wait_up "http://127.0.0.1:$BARE_PORT/"
echo "== bare hyper: POST /mcp, $CONNS connections, $DURATION"
MCP_TOKEN= MCP_SESSION= load "$BARE_PID" "http://127.0.0.1:$BARE_PORT/mcp"
kill "$BARE_PID"

# 2. rmcp, same tool, no authorization, no session (stateless JSON mode).
if [ "$RMCP" != skip ]; then
  "$RMCP" "127.0.0.1:$RMCP_PORT" 2>/dev/null &
  RMCP_PID=$!
  PIDS+=($RMCP_PID)
  wait_up "http://127.0.0.1:$RMCP_PORT/mcp"
  MCP_TOKEN= MCP_SESSION= probe "http://127.0.0.1:$RMCP_PORT/mcp" echo '{"text":"hello"}'
  echo "== rmcp: POST /mcp tools/call echo, $CONNS connections, $DURATION"
  TOOL=echo MCP_TOKEN= MCP_SESSION= load "$RMCP_PID" "http://127.0.0.1:$RMCP_PORT/mcp"
  kill "$RMCP_PID"
fi
fi

# 3 and 4. mcpauth.
start_mcpauth "$BIN" "$PORT" "$WORK/data"
MCPAUTH_PID=$STARTED_PID
PIDS+=($MCPAUTH_PID)
wait_up "http://127.0.0.1:$PORT/healthz"
TOKENS=$(python3 bench/get_tokens.py "http://127.0.0.1:$PORT" bench "$PASSWORD" "$REFRESH_CONNS")
eval "$TOKENS"
export CLIENT_ID MCP_TOKEN MCP_SESSION REFRESH_TOKENS
echo "== mcpauth idle: $(rss $MCPAUTH_PID)"

if [ -z "$ONLY_REFRESH" ]; then
probe "http://127.0.0.1:$PORT/mcp" "$TOOL" "$(tool_args "$TOOL")"
echo "== mcpauth: POST /mcp tools/call $TOOL, $CONNS connections, $DURATION"
load "$MCPAUTH_PID" "http://127.0.0.1:$PORT/mcp"
echo "== mcpauth after tools/call: $(rss $MCPAUTH_PID)"
fi

[ -n "${SKIP_REFRESH:-}" ] && exit 0

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
thread_ticks "$MCPAUTH_PID" >"$WORK/threads-before"
wrk -t"$REFRESH_CONNS" -c"$REFRESH_CONNS" -d"$DURATION" --latency \
  -s bench/refresh.lua "http://127.0.0.1:$PORT/token" | tee "$WORK/refresh.out"
TICKS1=$(cpu_ticks "$MCPAUTH_PID")
thread_ticks "$MCPAUTH_PID" >"$WORK/threads-after"
kill "$SAMPLER" 2>/dev/null || true
REQS=$(awk '/requests in/ {print $1}' "$WORK/refresh.out")
# Server CPU per grant: robust to how much of the shared machine we got.
echo "== mcpauth refresh CPU: $(( (TICKS1 - TICKS0) * 1000000 / $(getconf CLK_TCK) / ${REQS:-1} )) us per grant ($REQS grants)"
echo "== mcpauth refresh CPU per grant by thread (the signature is on the OAuth workers):"
per_thread "$WORK/threads-before" "$WORK/threads-after" "${REQS:-1}"
echo "== mcpauth during refresh: largest VmRSS sampled $(cat "$WORK/rss-during" 2>/dev/null || echo '?') kB"
echo "== mcpauth after refresh: $(rss $MCPAUTH_PID)"
