#!/usr/bin/env bash
# Where mcpauth's resident memory is right after a refresh-grant load:
#
#   bench/rss.sh target/release/mcpauth
#
# Starts `mcpauth serve` on a temporary data directory (loopback only),
# walks 16 sign-ins (bench/get_tokens.py), runs 16 refresh clients for 5 s
# (wrk, bench/refresh.lua), then prints VmRSS/RssAnon/RssFile, the
# resident kB per mapping (/proc/<pid>/smaps), the threads by name, and the
# same figures 11 s later (after idle blocking threads have exited).
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=$(realpath "$1")
PORT=18493
W=$(mktemp -d)
echo 'bench-password-123' | "$BIN" user add bench --data-dir "$W/data" >/dev/null
"$BIN" serve --listen "127.0.0.1:$PORT" --data-dir "$W/data" --log warn >/dev/null &
P=$!
trap 'kill "$P" 2>/dev/null || true; rm -rf "$W"' EXIT
for _ in $(seq 1 100); do curl -s -o /dev/null "http://127.0.0.1:$PORT/healthz" && break; sleep 0.05; done
eval "$(python3 bench/get_tokens.py "http://127.0.0.1:$PORT" bench bench-password-123 16)"
export CLIENT_ID REFRESH_TOKENS
grep -E '^(VmRSS|Threads)' /proc/$P/status | tr '\n' ' '; echo " (after sign-ins)"
wrk -t16 -c16 -d5s -s bench/refresh.lua "http://127.0.0.1:$PORT/token" | grep -E "Requests/sec"
grep -E '^(VmRSS|RssAnon|RssFile|Threads)' /proc/$P/status | tr -s ' \t' ' ' | tr '\n' ' '; echo
awk '/^[0-9a-f]+-[0-9a-f]+ /{name=$6; if(name=="")name="[anon]"; range=$1} /^Rss:/{rss[name]+=$2} END{for(n in rss) if(rss[n]>=100) printf "%6d kB %s\n", rss[n], n}' /proc/$P/smaps | sort -rn | head -12
cat /proc/$P/task/*/comm | sort | uniq -c | tr -s " \n" " "; echo
sleep 11
grep -E '^(VmRSS|RssAnon|Threads)' /proc/$P/status | tr -s ' \t' ' ' | tr '\n' ' '; echo " (11 s later)"
