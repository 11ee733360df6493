#!/usr/bin/env bash
# Instructions per authenticated tools/call, counted by callgrind: the
# same on a busy machine as on a quiet one (CPU time is not), so two builds
# compare exactly. valgrind does not emulate SHA-NI: sha2's portable code
# runs instead and counts for ~50 000 instructions per request that cost
# far less on the real CPU (see BENCHMARKS.md).
#
#   bench/callgrind.sh target/release/mcpauth [target/release/examples/bare_hyper]
#   N=2000 OUT=/tmp/cg bench/callgrind.sh /tmp/a/mcpauth     # kept profiles in OUT
#   VALGRIND_ARGS="--dump-instr=yes --compress-pos=no" OUT=/tmp/cg bench/callgrind.sh BIN
#                                # per-instruction costs and call sites
#   BARE_REQUEST=short bench/callgrind.sh BIN BARE   # bare hyper without the
#                                # token and session headers (default `same`:
#                                # mcpauth's exact request, as in the
#                                # interleaved mode)
#
# Each build runs twice under valgrind (N/4 and N requests over one
# keep-alive connection, bench/keepalive_calls.py, after a 50-request
# warm-up that caches the token); (Ir(N) − Ir(N/4)) ÷ (3N/4) is what one
# request costs, start-up and sign-in cancelling out. The data directory,
# its user and its signing key are made once up front: key generation is
# random in cost and must not fall inside a run. Loopback only.
# `callgrind_annotate OUT/mcpauth.N.*` shows where the instructions go.
set -euo pipefail
cd "$(dirname "$0")/.."
. bench/lib.sh
BIN=$(realpath "$1")
BARE=${2:+$(realpath "$2")}
N=${N:-2000}
BARE_REQUEST=${BARE_REQUEST:-same}
N0=$((N / 4))
PASSWORD='bench-password-123'
ensure_tool valgrind valgrind
start_workdir
OUT=${OUT:-$WORK/out}
mkdir -p "$OUT"
TEMPLATE=$WORK/template
echo "$PASSWORD" | "$BIN" user add bench --data-dir "$TEMPLATE" >/dev/null
port=$((20000 + RANDOM % 20000))
"$BIN" serve --listen "127.0.0.1:$port" --data-dir "$TEMPLATE" --log warn >/dev/null 2>&1 &
pid=$!
wait_up "http://127.0.0.1:$port/healthz"
kill -TERM "$pid"; wait "$pid" || true

# run KIND REQUESTS: total instructions of one run.
run() {
  local kind=$1 n=$2 port=$((20000 + RANDOM % 20000)) data=$WORK/data.$1.$2 pid
  local vg=(valgrind --tool=callgrind --callgrind-out-file="$OUT/$kind.$n.%p")
  # Word-split on purpose: several options in one variable.
  # shellcheck disable=SC2206
  vg+=(${VALGRIND_ARGS:-})
  if [ "$kind" = mcpauth ]; then
    cp -a "$TEMPLATE" "$data"
    "${vg[@]}" "$BIN" serve --listen "127.0.0.1:$port" --data-dir "$data" --log warn >/dev/null 2>&1 &
  else
    "${vg[@]}" "$BARE" "127.0.0.1:$port" >/dev/null 2>&1 &
  fi
  pid=$!
  PIDS+=("$pid")
  wait_up "http://127.0.0.1:$port/" 800
  if [ "$kind" = mcpauth ]; then
    python3 bench/get_tokens.py "http://127.0.0.1:$port" bench "$PASSWORD" 1 >"$WORK/request.env"
  elif [ "$BARE_REQUEST" = short ]; then
    : >"$WORK/request.env"
  fi
  # Bare hyper (`same`) gets the token and session id of the mcpauth run
  # before it: the same request bytes. (run is a subshell: a file.)
  MCP_TOKEN= MCP_SESSION=
  eval "$(cat "$WORK/request.env")"
  export MCP_TOKEN MCP_SESSION
  python3 bench/keepalive_calls.py 127.0.0.1 "$port" 50
  python3 bench/keepalive_calls.py 127.0.0.1 "$port" "$n"
  # SIGTERM: a background job ignores SIGINT in a script.
  kill -TERM "$pid"; wait "$pid" || true
  grep -h '^summary:\|^totals:' "$OUT/$kind.$n".* | head -1 | awk '{ print $2 }'
}
for kind in mcpauth ${BARE:+bare}; do
  small=$(run "$kind" "$N0")
  big=$(run "$kind" "$N")
  echo "$kind: $(( (big - small) / (N - N0) )) instructions per tools/call ($N0 and $N requests)"
done
