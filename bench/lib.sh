# Helpers shared by bench/run.sh and bench/interleaved.sh (sourced).

# wrk and perf are the bench's tools; apt-get installs what is missing
# (`perf` is Debian's linux-perf, needed only for PROFILE=1).
ensure_tool() {
  command -v "$1" >/dev/null && return 0
  apt-get update -qq && apt-get install -y -qq "$2"
}

# A temporary directory (WORK) and the background processes to stop on exit
# (PIDS), both cleaned up when the script ends.
start_workdir() {
  WORK=$(mktemp -d)
  PIDS=()
  trap 'for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done; rm -rf "$WORK"' EXIT
}

# wait_up URL [TRIES]: poll URL every 50 ms, TRIES times (200: 10 s; a
# server under valgrind needs longer).
wait_up() {
  for _ in $(seq 1 "${2:-200}"); do
    curl -s -o /dev/null "$1" && return 0
    sleep 0.05
  done
  echo "server at $1 did not come up" >&2
  exit 1
}

# One tools/call as the load will send it: status and body, so that a
# refused request is never what gets measured.
probe() {
  local body="{\"jsonrpc\":\"2.0\",\"id\":7,\"method\":\"tools/call\",\"params\":{\"name\":\"$2\",\"arguments\":$3}}"
  echo "== probe $2: $(curl -s -w ' (HTTP %{http_code})' -X POST "$1" \
    -H 'Content-Type: application/json' -H 'Accept: application/json, text/event-stream' \
    -H 'MCP-Protocol-Version: 2025-06-18' \
    ${MCP_TOKEN:+-H "Authorization: Bearer $MCP_TOKEN"} \
    ${MCP_SESSION:+-H "Mcp-Session-Id: $MCP_SESSION"} -d "$body" | head -c 400)"
}
tool_args() { if [ "$1" = echo ]; then echo '{"text":"hello"}'; else echo '{}'; fi; }

# Server CPU time (user + system, in clock ticks) of process $1.
cpu_ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat"; }
# Its user time alone: what the server's own code costs, without the
# kernel's network and scheduling work, which other processes disturb most.
user_ticks() { awk '{ print $14 }' "/proc/$1/stat"; }

# One line naming the machine: CPU model, cores, kernel, load, and whether
# the CPU has AVX-512 IFMA. "AMD EPYC" names both Zen 3 (no IFMA: aws-lc
# signs RS256 in ~700-850 µs) and Zen 4 (IFMA: ~250 µs), so the model alone
# does not tell which refresh figures a run can reach.
machine_line() {
  local ifma=no
  grep -qw avx512ifma /proc/cpuinfo && ifma=yes
  echo "== machine: $(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo)," \
    "$(nproc) cores, AVX-512 IFMA $ifma, $(uname -r)," \
    "load average $(cut -d' ' -f1-3 /proc/loadavg)," \
    "wrk $(wrk -v 2>&1 | head -1 | cut -d' ' -f2)"
}

# thread_ticks PID: one line per thread of PID: its name, user and system
# CPU time (clock ticks). Two snapshots give what each kind of thread (the
# connection workers, the OAuth workers, the store's writer) spent.
thread_ticks() {
  local t
  for t in /proc/"$1"/task/*; do
    printf '%s %s\n' "$(cat "$t/comm" 2>/dev/null)" "$(awk '{ print $14, $15 }' "$t/stat" 2>/dev/null)"
  done
}

# per_thread BEFORE AFTER N: µs of user and system CPU per request (N
# requests) between two thread_ticks snapshots, by thread name.
per_thread() {
  awk -v n="$3" -v hz="$(getconf CLK_TCK)" '
    FNR == NR { u[$1] -= $2; s[$1] -= $3; next }
    { u[$1] += $2; s[$1] += $3; seen[$1] = 1 }
    END {
      for (k in seen) if (u[k] + s[k] > 0)
        printf "   %-18s user %7.1f  system %6.1f us\n", k, u[k] * 1e6 / hz / n, s[k] * 1e6 / hz / n
    }' "$1" "$2" | sort
}

rss() { grep -E '^(VmRSS|VmHWM)' "/proc/$1/status" | tr -s ' ' | tr '\n' ' '; echo; }

# Start `mcpauth serve` ($1 binary, $2 port, $3 data directory) with user
# `bench`; its pid goes to STARTED_PID.
start_mcpauth() {
  echo "$PASSWORD" | "$1" user add bench --data-dir "$3" >/dev/null
  "$1" serve --listen "127.0.0.1:$2" --data-dir "$3" --log warn ${SERVE_FLAGS:-} >/dev/null &
  STARTED_PID=$!
}

# measure PID URL SCRIPT CONNS THREADS: wrk against URL for DURATION with
# SCRIPT; prints wrk's report and sets REQUESTS (answered), SERVER_US (the
# server's CPU time per request, µs), SERVER_USER_US (its user-space part),
# WRK_US (wrk's own CPU time per request) and RPS (wrk's requests per
# second). CPU per request compares servers more steadily than requests
# per second do while other processes share the cores. With SHOW set, only
# wrk's lines matching that pattern are printed.
measure() {
  local pid=$1 url=$2 script=$3 conns=$4 threads=$5 out ticks uticks hz
  out=$(mktemp)
  hz=$(getconf CLK_TCK)
  ticks=$(cpu_ticks "$pid")
  uticks=$(user_ticks "$pid")
  local TIMEFORMAT='%U %S'
  { time wrk -t"$threads" -c"$conns" -d"$DURATION" --latency -s "$script" "$url" >"$out"; } 2>"$out.time"
  ticks=$(( $(cpu_ticks "$pid") - ticks ))
  uticks=$(( $(user_ticks "$pid") - uticks ))
  if [ -n "${SHOW:-}" ]; then grep -E "$SHOW" "$out" || true; else cat "$out"; fi
  REQUESTS=$(awk '/requests in/ { print $1 }' "$out")
  RPS=$(awk '/Requests\/sec/ { print $2 }' "$out")
  SERVER_US=$(awk -v t="$ticks" -v hz="$hz" -v n="${REQUESTS:-0}" 'BEGIN { printf "%.2f", n ? t / hz * 1e6 / n : 0 }')
  SERVER_USER_US=$(awk -v t="$uticks" -v hz="$hz" -v n="${REQUESTS:-0}" 'BEGIN { printf "%.2f", n ? t / hz * 1e6 / n : 0 }')
  WRK_US=$(awk -v n="${REQUESTS:-0}" '{ printf "%.2f", n ? ($1 + $2) * 1e6 / n : 0 }' "$out.time")
  rm -f "$out" "$out.time"
}
