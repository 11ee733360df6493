#!/usr/bin/env bash
# Record the functions a serving mcpauth runs, for the linker to group at
# the start of .text (host-std/build.rs, host-std/link/hot-functions.txt):
#
#   bench/hot-functions.sh target/release/mcpauth    # rewrites the list
#   bench/hot-functions.sh --check target/release/mcpauth
#                                # how many listed functions BIN has, their
#                                # size, and the span of .text they occupy
#   MIN_PERCENT=95 HEAD_PERCENT=99 bench/hot-functions.sh --check target/release/mcpauth
#                                # and fail if fewer than 95 % are there,
#                                # or 99 % of the list's first quarter
#                                # (the most called), or if they are not
#                                # grouped (CI: the list must match the
#                                # release build of the locked dependencies)
#   PROFILE_OUT=/tmp/hot.callgrind bench/hot-functions.sh BIN
#                                # and keep the callgrind profile
#
# The server runs under callgrind (every function executed is named, the
# rarely run ones too: start-up code stays resident as much as the hot
# path) through start-up, 4 sign-ins, 200 tools/call, 12 refresh grants
# and the discovery documents, on a temporary data directory, loopback
# only. Rerun it after a dependency or toolchain update (their symbol
# names change; a missing name is skipped, see --check).
set -euo pipefail
cd "$(dirname "$0")/.."
. bench/lib.sh
LIST=host-std/link/hot-functions.txt
CHECK=
if [ "${1:-}" = --check ]; then CHECK=1; shift; fi
BIN=$(realpath "${1:-target/release/mcpauth}")
start_workdir
# The binary's functions: size and (mangled) name.
nm -S --defined-only "$BIN" | awk '$3 ~ /^[tTwW]$/ { print $1 "\t" strtonum("0x" $2) "\t" $4 }' >"$WORK/syms"

if [ -n "$CHECK" ]; then
  # The list's first quarter (most called: the request path, see
  # bench/hot_order.py) is held to HEAD_PERCENT: a build whose hot
  # functions were renamed keeps most of the list's names, from start-up
  # and the dependencies, yet runs its request path unplaced.
  awk -F'\t' 'NR == FNR { want[$0] = 1; rank[$0] = ++n; next }
    ($3 in want) && !($3 in seen) { seen[$3] = 1; found++; bytes += $2
      a = strtonum("0x" $1); if (lo == "" || a < lo) lo = a; if (a + $2 > hi) hi = a + $2 }
    END { head = int(n / 4); for (name in seen) if (rank[name] <= head) head_found++
      printf "%d of %d listed functions in the binary, %.2f MB, spanning %.2f MB of .text\n",
        found, n, bytes / 1048576, (hi - lo) / 1048576
      printf "%d of the first %d (the most called)\n", head_found, head
      if (found * 100 < n * min) {
        printf "fewer than %d %% of the list: rerun bench/hot-functions.sh on this build\n", min
        exit 1
      }
      if (head_found * 100 < head * head_min) {
        printf "fewer than %d %% of its first quarter: rerun bench/hot-functions.sh on this build\n", head_min
        exit 1
      }
      # Grouped, they span little more than their own size.
      if (min > 0 && hi - lo > 1.5 * bytes) {
        print "they are not grouped: was the list given to the linker (host-std/build.rs)?"
        exit 1
      } }' min="${MIN_PERCENT:-0}" head_min="${HEAD_PERCENT:-0}" "$LIST" "$WORK/syms"
  exit 0
fi

ensure_tool valgrind valgrind
PASSWORD='bench-password-123'
PORT=${PORT:-18591}
URL="http://127.0.0.1:$PORT"
# A first start outside valgrind creates the signing key (slow, random).
start_mcpauth "$BIN" "$PORT" "$WORK/data"
PIDS+=("$STARTED_PID")
wait_up "$URL/healthz"
kill -TERM "$STARTED_PID"; wait "$STARTED_PID" || true
valgrind --tool=callgrind --demangle=no --callgrind-out-file="$WORK/callgrind.out" \
  "$BIN" serve --listen "127.0.0.1:$PORT" --data-dir "$WORK/data" --log warn >/dev/null 2>&1 &
pid=$!
PIDS+=("$pid")
wait_up "$URL/healthz" 800
eval "$(python3 bench/get_tokens.py "$URL" bench "$PASSWORD" 4)"
export MCP_TOKEN MCP_SESSION TOOL=echo
python3 bench/keepalive_calls.py 127.0.0.1 "$PORT" 200
for refresh in $REFRESH_TOKENS; do
  for _ in 1 2 3; do
    refresh=$(curl -s -X POST "$URL/token" \
      -d "grant_type=refresh_token&client_id=$CLIENT_ID&refresh_token=$refresh" |
      python3 -c 'import json, sys; print(json.load(sys.stdin)["refresh_token"])')
  done
done
for path in /.well-known/oauth-authorization-server /.well-known/oauth-protected-resource/mcp /jwks.json; do
  curl -s -o /dev/null "$URL$path"
done
kill -TERM "$pid"; wait "$pid" || true
if [ -n "${PROFILE_OUT:-}" ]; then cp "$WORK/callgrind.out" "$PROFILE_OUT"; fi
# Every function callgrind saw (fn= and cfn= lines name each once), and
# those of the current list (a run misses a few timing-dependent ones, such
# as a timeout's expiry), kept if the binary defines them: libc's are not
# ours to place, and names from an older build drop out.
{
  grep -oE '^c?fn=\([0-9]+\) .*' "$WORK/callgrind.out" | sed -E 's/^c?fn=\([0-9]+\) //'
  [ -f "$LIST" ] && cat "$LIST"
} | sort -u >"$WORK/ran"
# Most-called first (bench/hot_order.py): the request path's functions sit
# together at the head of the list, and of .text.
awk -F'\t' 'NR == FNR { ran[$0] = 1; next } ($3 in ran) { print $3 }' "$WORK/ran" "$WORK/syms" >"$WORK/placed"
python3 bench/hot_order.py "$WORK/callgrind.out" "$WORK/placed" >"$LIST"
echo "$(wc -l <"$LIST") functions written to $LIST"
"$0" --check "$BIN"
