#!/usr/bin/env bash
# The auth proxy's cost: tools/call echo against the same upstream (rmcp, the
# official Rust MCP SDK, bench/rmcp-echo in its stateless JSON mode), called
# directly and through `mcpauth serve --upstream` with a bearer token, in one
# run, alternating ROUNDS times so both see the same machine noise.
#
#   bench/proxy.sh                          # from the repository root
#   DURATION=20s CONNS=64 ROUNDS=3 bench/proxy.sh
#   MCPAUTH_BIN=/tmp/a/mcpauth RMCP_BIN=/tmp/rmcp-echo bench/proxy.sh
#
# Prints wrk's report for each phase, the CPU per request of the upstream
# and of mcpauth, and mcpauth's resident memory (VmRSS, VmHWM) at the end.
# Only loopback addresses are used; every phase is bounded by DURATION.
set -euo pipefail
cd "$(dirname "$0")/.."

DURATION=${DURATION:-10s}
CONNS=${CONNS:-64}
THREADS=${THREADS:-2}
ROUNDS=${ROUNDS:-2}
PORT=${PORT:-18491}
RMCP_PORT=${RMCP_PORT:-18493}
export TOOL=echo
PASSWORD='bench-password-123'

if ! command -v wrk >/dev/null; then
  apt-get update -qq && apt-get install -y -qq wrk
fi
if [ -z "${MCPAUTH_BIN:-}" ]; then
  cargo build --release -q -p mcpauth --bin mcpauth
fi
if [ -z "${RMCP_BIN:-}" ]; then
  cargo build --release -q --locked --manifest-path bench/rmcp-echo/Cargo.toml
fi
BIN=${MCPAUTH_BIN:-target/release/mcpauth}
RMCP=${RMCP_BIN:-bench/rmcp-echo/target/release/rmcp-echo}

. bench/lib.sh
start_workdir

# phase NAME URL TOKEN: wrk, then CPU per request of the upstream and of
# mcpauth over that phase.
phase() {
  local name=$1 url=$2 out up0 px0
  out=$(mktemp)
  up0=$(cpu_ticks "$RMCP_PID")
  px0=$(cpu_ticks "$MCPAUTH_PID")
  echo "== $name: POST tools/call echo, $CONNS connections, $DURATION"
  MCP_TOKEN=$3 MCP_SESSION= wrk -t"$THREADS" -c"$CONNS" -d"$DURATION" --latency \
    -s bench/tools_call.lua "$url" | tee "$out"
  awk -v up="$(( $(cpu_ticks "$RMCP_PID") - up0 ))" -v px="$(( $(cpu_ticks "$MCPAUTH_PID") - px0 ))" \
      -v hz="$(getconf CLK_TCK)" -v name="$name" '/requests in/ {
    printf "   %s CPU per request: upstream %.1f us, mcpauth %.1f us (%d requests)\n",
      name, up / hz * 1e6 / $1, px / hz * 1e6 / $1, $1 }' "$out"
  rm -f "$out"
}

echo "== machine: $(nproc) cores, $(uname -r), wrk $(wrk -v 2>&1 | head -1 | cut -d' ' -f2)"
"$RMCP" "127.0.0.1:$RMCP_PORT" 2>/dev/null &
RMCP_PID=$!
PIDS+=($RMCP_PID)
wait_up "http://127.0.0.1:$RMCP_PORT/mcp"

echo "$PASSWORD" | "$BIN" user add bench --data-dir "$WORK/data" >/dev/null
"$BIN" serve --listen "127.0.0.1:$PORT" --data-dir "$WORK/data" --log warn \
  --upstream "http://127.0.0.1:$RMCP_PORT/mcp" >/dev/null &
MCPAUTH_PID=$!
PIDS+=($MCPAUTH_PID)
wait_up "http://127.0.0.1:$PORT/healthz"
eval "$(python3 bench/get_tokens.py "http://127.0.0.1:$PORT" bench "$PASSWORD" 1)"
echo "== mcpauth idle: $(rss $MCPAUTH_PID)"

# Both answer the same thing before anything is measured.
body='{"jsonrpc":"2.0","id":7,"method":"tools/call","params":{"name":"echo","arguments":{"text":"hello"}}}'
for target in "http://127.0.0.1:$RMCP_PORT/mcp|" "http://127.0.0.1:$PORT/mcp|$MCP_TOKEN"; do
  url=${target%%|*} token=${target#*|}
  echo "== probe $url: $(curl -s -w ' (HTTP %{http_code})' -X POST "$url" \
    -H 'Content-Type: application/json' -H 'Accept: application/json, text/event-stream' \
    -H 'MCP-Protocol-Version: 2025-06-18' ${token:+-H "Authorization: Bearer $token"} \
    -d "$body" | head -c 300)"
done

for round in $(seq 1 "$ROUNDS"); do
  echo "==== round $round of $ROUNDS"
  phase direct "http://127.0.0.1:$RMCP_PORT/mcp" ""
  phase proxied "http://127.0.0.1:$PORT/mcp" "$MCP_TOKEN"
done
echo "== mcpauth after the proxied load: $(rss $MCPAUTH_PID)"
