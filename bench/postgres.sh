#!/usr/bin/env bash
# Refresh-grant throughput of mcpauth on PostgreSQL vs redb, one instance vs
# two instances sharing one PostgreSQL schema (plus /mcp tools/call on each
# store, which shows the per-request revocation lookup on PostgreSQL).
#
#   bench/postgres.sh                 # from the repository root
#   DURATION=20s REFRESH_CONNS=16 DATABASE=postgres://postgres@127.0.0.1:5432/test bench/postgres.sh
#
# Uses wrk and the scripts of bench/run.sh (refresh.lua, tools_call.lua,
# get_tokens.py). Each refresh connection chains its own refresh-token
# family; with two instances, half the connections go to each (as a load
# balancer would spread them), and the two wrk runs are added up. Every
# rotation is durable before the answer (redb: fsync'd group commit;
# PostgreSQL: synchronous_commit as configured on the server). Only loopback
# addresses are used; the schema is dropped at the end.
set -euo pipefail
cd "$(dirname "$0")/.."

DURATION=${DURATION:-10s}
CONNS=${CONNS:-32}
REFRESH_CONNS=${REFRESH_CONNS:-16}
PORT_A=${PORT_A:-18491}
PORT_B=${PORT_B:-18492}
DATABASE=${DATABASE:-postgres://postgres@127.0.0.1:5432/test}
SCHEMA=mcpauth_bench_$$
STORE="$DATABASE?schema=$SCHEMA"
PASSWORD='bench-password-123'
HALF=$((REFRESH_CONNS / 2))

command -v wrk >/dev/null || { apt-get update -qq && apt-get install -y -qq wrk; }
cargo build --release -q -p mcpauth --bin mcpauth
BIN=target/release/mcpauth

WORK=$(mktemp -d)
PIDS=()
cleanup() {
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  psql "$DATABASE" -qc "DROP SCHEMA IF EXISTS $SCHEMA CASCADE" >/dev/null 2>&1 || true
  rm -rf "$WORK"
}
trap cleanup EXIT

. bench/lib.sh

stop_all() {
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  PIDS=()
}

# serve NAME PORT [flags...]
serve() {
  local port=$2; shift 2
  "$BIN" serve --listen "127.0.0.1:$port" --public-url "http://127.0.0.1:$PORT_A" \
    --data-dir "$WORK/data" --log warn "$@" >/dev/null &
  PIDS+=($!)
  wait_up "http://127.0.0.1:$port/healthz"
}

tokens() {
  eval "$(python3 bench/get_tokens.py "http://127.0.0.1:$PORT_A" bench "$PASSWORD" "$REFRESH_CONNS")"
  export CLIENT_ID MCP_TOKEN MCP_SESSION REFRESH_TOKENS
}

refresh_one() {
  echo "== $1: POST /token refresh grant, one instance, $REFRESH_CONNS clients, $DURATION"
  wrk -t"$REFRESH_CONNS" -c"$REFRESH_CONNS" -d"$DURATION" --latency \
    -s bench/refresh.lua "http://127.0.0.1:$PORT_A/token"
}

tools_call() {
  echo "== $1: POST /mcp tools/call whoami, $CONNS connections, $DURATION"
  TOOL=whoami wrk -t2 -c"$CONNS" -d"$DURATION" --latency \
    -s bench/tools_call.lua "http://127.0.0.1:$PORT_A/mcp"
}

echo "== machine: $(nproc) cores, $(uname -r); PostgreSQL $(psql "$DATABASE" -Atc 'show server_version'), synchronous_commit=$(psql "$DATABASE" -Atc 'show synchronous_commit')"

# 1. redb, one instance.
echo "$PASSWORD" | "$BIN" user add bench --data-dir "$WORK/data" >/dev/null
serve a "$PORT_A"
tokens
refresh_one "redb"
tools_call "redb"
stop_all

# 2. PostgreSQL, one instance.
echo "$PASSWORD" | "$BIN" --store "$STORE" user add bench >/dev/null
serve a "$PORT_A" --store "$STORE"
tokens
refresh_one "postgres"
tools_call "postgres"
stop_all

# 3. PostgreSQL, two instances on one schema; half the families each.
serve a "$PORT_A" --store "$STORE"
serve b "$PORT_B" --store "$STORE"
tokens
ALL=($REFRESH_TOKENS)
echo "== postgres x2: POST /token refresh grant, two instances, $HALF clients each, $DURATION"
REFRESH_TOKENS="${ALL[*]:0:$HALF}" wrk -t"$HALF" -c"$HALF" -d"$DURATION" --latency \
  -s bench/refresh.lua "http://127.0.0.1:$PORT_A/token" >"$WORK/a.txt" &
WA=$!
REFRESH_TOKENS="${ALL[*]:$HALF:$HALF}" wrk -t"$HALF" -c"$HALF" -d"$DURATION" --latency \
  -s bench/refresh.lua "http://127.0.0.1:$PORT_B/token" >"$WORK/b.txt" &
WB=$!
wait "$WA" "$WB"
echo "-- instance A"; cat "$WORK/a.txt"
echo "-- instance B"; cat "$WORK/b.txt"
awk '/^Requests\/sec/ {s += $2} END {printf "== postgres x2: total %.0f refresh grants/s\n", s}' "$WORK/a.txt" "$WORK/b.txt"
stop_all
