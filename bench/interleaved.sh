#!/usr/bin/env bash
# `bench/run.sh interleaved`: bare hyper and mcpauth measured alternately,
# so that the load other processes put on the machine hits both sides of
# each comparison alike.
#
#   bench/run.sh interleaved                       # 3 pairs, 5 s each
#   PAIRS=5 DURATION=10s bench/run.sh interleaved
#   MCPAUTH_BINS="before=/tmp/b/mcpauth after=/tmp/a/mcpauth" \
#     BARE_BIN=/tmp/b/bare_hyper SIGN_BIN=/tmp/b/rs256_sign bench/run.sh interleaved
#                                                  # two builds in one run
#   SKIP_REFRESH=1 bench/run.sh interleaved        # tools/call rounds only
#   PROFILE=1 bench/run.sh interleaved             # then one profiled round
#   BARE_REQUEST=short bench/run.sh interleaved    # bare hyper gets no token and
#                                                  # no session header (default
#                                                  # `same`: mcpauth's exact bytes)
#   CALIBRATE="3000 6000" bench/run.sh interleaved # also bare hyper busy-waiting
#                                                  # 3 and 6 µs per request
#                                                  # (BARE_SPIN_NS): how the
#                                                  # kernel's share grows with
#                                                  # the server's own time
#
# Release binaries are built once up front (unless given). Each server
# starts once; every round then runs wrk (tools/call, CONNS connections,
# DURATION) against bare hyper, then against each mcpauth build (their
# order rotates every round), and reads each server's CPU time over its
# phase (utime + stime, /proc/<pid>/stat). Per round and build:
# CPU-per-request ratio = bare hyper's ÷ mcpauth's (1.0: as cheap as bare
# hyper). Reported: every round's ratio, their median and spread ((max −
# min) ÷ median); a spread above MAX_SPREAD is reported as too wide to
# conclude. With two builds, the same for their CPU per request against
# each other.
#
# Then (unless SKIP_REFRESH) PAIRS refresh rounds: each build serves
# REFRESH_CONNS clients chaining refresh-token families (a fresh set of
# grants per round), followed by the raw RS256 signature of the same build
# (examples/rs256_sign, one thread): CPU per grant ÷ CPU per signature is
# what a grant costs in signatures. Each build's grants per second are
# printed per round too, with how many rounds reached REFRESH_TARGET (the
# brief's 4,000; req/s move with the machine's load, so read them with the
# CPU per grant beside them).
#
# wrk's own CPU per request is printed next to each phase: it shares the
# cores with the server, which is why the ratios, not req/s, are the result.
set -euo pipefail
cd "$(dirname "$0")/.."
. bench/lib.sh

PAIRS=${PAIRS:-3}
DURATION=${DURATION:-5s}
WARMUP=${WARMUP:-2s}
CONNS=${CONNS:-64}
THREADS=${THREADS:-2}
REFRESH_CONNS=${REFRESH_CONNS:-16}
SIGN_SECS=${SIGN_SECS:-2}
MAX_SPREAD=${MAX_SPREAD:-0.10}
BARE_REQUEST=${BARE_REQUEST:-same}
TARGET=${TARGET:-0.7}
REFRESH_TARGET=${REFRESH_TARGET:-4000}
PORT=${PORT:-18481}
BARE_PORT=${BARE_PORT:-18482}
export TOOL=${TOOL:-echo}
PASSWORD='bench-password-123'

echo "== command: PAIRS=$PAIRS DURATION=$DURATION WARMUP=$WARMUP CONNS=$CONNS THREADS=$THREADS" \
  "REFRESH_CONNS=$REFRESH_CONNS TOOL=$TOOL MAX_SPREAD=$MAX_SPREAD BARE_REQUEST=$BARE_REQUEST" \
  "${MCPAUTH_BINS:+MCPAUTH_BINS=\"$MCPAUTH_BINS\"} ${MCPAUTH_BIN:+MCPAUTH_BIN=$MCPAUTH_BIN}" \
  "${BARE_BIN:+BARE_BIN=$BARE_BIN} ${SIGN_BIN:+SIGN_BIN=$SIGN_BIN} ${CARGO_FLAGS:+CARGO_FLAGS=\"$CARGO_FLAGS\"}" \
  "${SKIP_REFRESH:+SKIP_REFRESH=1} ${PROFILE:+PROFILE=1} bench/run.sh interleaved"

ensure_tool wrk wrk
[ -n "${PROFILE:-}" ] && ensure_tool perf linux-perf
if [ -z "${MCPAUTH_BINS:-}${MCPAUTH_BIN:-}" ] || [ -z "${BARE_BIN:-}" ] || [ -z "${SIGN_BIN:-}" ]; then
  # The binary on its own, as `cargo run --release -p mcpauth` builds it:
  # with the examples, the dev-dependencies' features change the library's
  # symbol names and link/hot-functions.txt no longer matches them.
  cargo build --release -q -p mcpauth --bin mcpauth ${CARGO_FLAGS:-}
  cargo build --release -q -p mcpauth --example bare_hyper --example rs256_sign ${CARGO_FLAGS:-}
fi
BARE=${BARE_BIN:-target/release/examples/bare_hyper}
SIGN=${SIGN_BIN:-target/release/examples/rs256_sign}
read -r -a BUILDS <<<"${MCPAUTH_BINS:-mcpauth=${MCPAUTH_BIN:-target/release/mcpauth}}"

start_workdir
RESULTS=$WORK/results

# The CPU model too: the kind's CPU changes between days (an Intel part
# or a Zen 4 EPYC with AVX-512 IFMA signs RS256 in ~250 µs, a Zen 3 EPYC
# without it in ~700-850 µs) and the ratios move with it; figures of
# different CPUs do not compare.
machine_line

"$BARE" "127.0.0.1:$BARE_PORT" 2>/dev/null &
BARE_PID=$!
PIDS+=("$BARE_PID")
wait_up "http://127.0.0.1:$BARE_PORT/"

# Calibration: bare hyper plus a busy-wait of NS nanoseconds per request,
# one server per value (same runtime, same bytes, same replies).
SPINS=()
read -r -a SPINS <<<"${CALIBRATE:-}"
declare -A SPIN_PID
for k in "${!SPINS[@]}"; do
  ns=${SPINS[k]} port=$((BARE_PORT + 100 + k))
  BARE_SPIN_NS=$ns "$BARE" "127.0.0.1:$port" 2>/dev/null &
  SPIN_PID[$ns]="$! $port"
  PIDS+=("$!")
  wait_up "http://127.0.0.1:$port/"
done

# One server per build, each with its own data directory, grants and MCP
# session (shell variables per build index).
NAMES=()
GRANTS=$REFRESH_CONNS
[ -z "${SKIP_REFRESH:-}" ] && GRANTS=$((REFRESH_CONNS * PAIRS))
for i in "${!BUILDS[@]}"; do
  NAMES[i]=${BUILDS[i]%%=*}
  bin=${BUILDS[i]#*=}
  port=$((PORT + 10 + i))
  start_mcpauth "$bin" "$port" "$WORK/data$i"
  PID[i]=$STARTED_PID
  PIDS+=("$STARTED_PID")
  URL[i]="http://127.0.0.1:$port"
  wait_up "${URL[i]}/healthz"
  eval "$(python3 bench/get_tokens.py "${URL[i]}" bench "$PASSWORD" "$GRANTS")"
  CLIENT[i]=$CLIENT_ID TOKEN[i]=$MCP_TOKEN SESSION[i]=$MCP_SESSION REFRESH[i]=$REFRESH_TOKENS
  MCP_TOKEN=${TOKEN[i]} MCP_SESSION=${SESSION[i]} probe "${URL[i]}/mcp" "$TOOL" "$(tool_args "$TOOL")"
  echo "== ${NAMES[i]} ($bin) idle: $(rss "${PID[i]}")"
done

# tools_call PHASE_NAME INDEX: one tools/call phase against build INDEX
# (-1: bare hyper), recorded in RESULTS.
tools_call() {
  local name=$1 i=$2 pid url
  if [ "$i" -lt 0 ]; then
    pid=$BARE_PID url="http://127.0.0.1:$BARE_PORT/mcp"
    if [ "$i" -lt -1 ]; then
      # A calibration server: INDEX is −(2 + its position in SPINS).
      read -r pid port <<<"${SPIN_PID[${SPINS[$((-i - 2))]}]}"
      url="http://127.0.0.1:$port/mcp"
    fi
    # BARE_REQUEST=same: bare hyper receives the very bytes mcpauth
    # receives (the bearer token and session header included), so the ratio
    # isolates what mcpauth does with a request, not what a 900-byte token
    # costs the kernel and wrk. BARE_REQUEST=short: no token, no session.
    if [ "$BARE_REQUEST" = same ]; then
      export MCP_TOKEN=${TOKEN[0]} MCP_SESSION=${SESSION[0]}
    else
      export MCP_TOKEN= MCP_SESSION=
    fi
  else
    pid=${PID[i]} url="${URL[i]}/mcp"
    export MCP_TOKEN=${TOKEN[i]} MCP_SESSION=${SESSION[i]}
  fi
  SHOW='Requests/sec|^ +99%|requests in' measure "$pid" "$url" bench/tools_call.lua "$CONNS" "$THREADS"
  echo "   $name: server CPU per request $SERVER_US us (user $SERVER_USER_US us), wrk $WRK_US us"
  echo "$name $SERVER_US $WRK_US $REQUESTS $SERVER_USER_US" >>"$RESULTS.$round"
}

echo "== warm-up ($WARMUP each, not counted)"
DURATION_MEASURED=$DURATION
DURATION=$WARMUP
round=warmup
tools_call bare -1 >/dev/null
for i in "${!BUILDS[@]}"; do tools_call "${NAMES[i]}" "$i" >/dev/null; done
DURATION=$DURATION_MEASURED

for round in $(seq 1 "$PAIRS"); do
  echo "== round $round/$PAIRS: POST /mcp tools/call $TOOL, $CONNS connections, $DURATION each"
  tools_call bare -1
  for k in "${!SPINS[@]}"; do tools_call "spin${SPINS[k]}" $((-2 - k)); done
  n=${#BUILDS[@]}
  for k in $(seq 0 $((n - 1))); do
    i=$(( (k + round - 1) % n ))
    tools_call "${NAMES[i]}" "$i"
  done
done
for i in "${!BUILDS[@]}"; do echo "== ${NAMES[i]} after tools/call: $(rss "${PID[i]}")"; done

if [ -n "${PROFILE:-}" ]; then
  i=$(( ${#BUILDS[@]} - 1 ))
  echo "== profile of ${NAMES[i]} (perf record, $DURATION under the same load; not counted)"
  perf record -q -F 1999 -o "$WORK/perf.data" -p "${PID[i]}" -- sleep "${DURATION%s}" &
  PERF=$!
  round=profile
  tools_call "${NAMES[i]}" "$i" >/dev/null
  wait "$PERF" || true
  cp "$WORK/perf.data" "${PROFILE_OUT:-perf.data}"
  echo "== by object:"
  { perf report -i "$WORK/perf.data" --no-children --sort dso --stdio 2>/dev/null |
    grep -E '^ +[0-9]' | head -8; } || true
  echo "== by symbol (flat: the release build has no frame pointers):"
  { perf report -i "$WORK/perf.data" --no-children --sort dso,symbol --stdio 2>/dev/null |
    grep -E '^ +[0-9]' | head -70; } || true
  echo "== profile kept in ${PROFILE_OUT:-perf.data} (perf report -i ${PROFILE_OUT:-perf.data})"
fi

if [ -z "${SKIP_REFRESH:-}" ]; then
  for round in $(seq 1 "$PAIRS"); do
    echo "== refresh round $round/$PAIRS: POST /token, $REFRESH_CONNS clients, $DURATION each"
    for i in "${!BUILDS[@]}"; do
      read -r -a toks <<<"${REFRESH[i]}"
      export CLIENT_ID=${CLIENT[i]}
      export REFRESH_TOKENS="${toks[*]:$(( (round - 1) * REFRESH_CONNS )):$REFRESH_CONNS}"
      SHOW='Requests/sec|^ +99%|requests in|failures' \
        measure "${PID[i]}" "${URL[i]}/token" bench/refresh.lua "$REFRESH_CONNS" "$REFRESH_CONNS"
      echo "   ${NAMES[i]}: server CPU per grant $SERVER_US us"
      echo "grant:${NAMES[i]} $SERVER_US $WRK_US $REQUESTS $SERVER_USER_US $RPS" >>"$RESULTS.$round"
    done
    "$SIGN" "$SIGN_SECS" | tee "$WORK/sign"
    echo "sign $(awk '{ for (f = 1; f <= NF; f++) if ($f == "us") print $(f - 1) }' "$WORK/sign") 0 0 0" >>"$RESULTS.$round"
  done
  for i in "${!BUILDS[@]}"; do echo "== ${NAMES[i]} after refresh: $(rss "${PID[i]}")"; done
fi

echo
echo "== summary (CPU per request, µs; ratio = bare ÷ build; spread = (max − min) ÷ median)"
python3 - "$RESULTS" "$PAIRS" "$MAX_SPREAD" "$TARGET" "$REFRESH_TARGET" "${CALIBRATE:-}" "${NAMES[@]}" <<'EOF'
import statistics, sys
results, pairs, max_spread, target = sys.argv[1], int(sys.argv[2]), float(sys.argv[3]), float(sys.argv[4])
refresh_target = float(sys.argv[5])
spins, names = ["spin" + s for s in sys.argv[6].split()], sys.argv[7:]
rounds, user_rounds, rps_rounds = [], [], []
for r in range(1, pairs + 1):
    cpu, user, rps = {}, {}, {}
    for line in open(f"{results}.{r}"):
        # name, server µs, wrk µs, requests, user µs[, requests per second]
        fields = line.split()
        cpu[fields[0]] = float(fields[1])
        user[fields[0]] = float(fields[4])
        if len(fields) > 5:
            rps[fields[0]] = float(fields[5])
    rounds.append(cpu)
    user_rounds.append(user)
    rps_rounds.append(rps)

def verdict(label, values, fmt="{:.3f}"):
    med = statistics.median(values)
    spread = (max(values) - min(values)) / med if med else float("inf")
    line = (f"{label}: " + " ".join(fmt.format(v) for v in values)
            + f" | median {fmt.format(med)}, range {fmt.format(min(values))}–{fmt.format(max(values))},"
            + f" spread {spread:.1%}")
    if spread > max_spread:
        line += f"  ** spread above {max_spread:.0%}: too wide to conclude **"
    elif len(values) < 3:
        line += "  ** fewer than 3 pairs: too few to conclude **"
        spread = float("inf")
    print(line)
    return med, spread

print("round:            " + " ".join(f"{r:>6}" for r in range(1, pairs + 1)))
for name in ["bare"] + names:
    print(f"{name:>16}: " + " ".join(f"{c[name]:6.2f}" for c in rounds))
for name in names:
    ratios = [c["bare"] / c[name] for c in rounds]
    med, spread = verdict(f"bare ÷ {name}", ratios)
    reached = sum(r >= target for r in ratios)
    print(f"   {name}: {reached} of {pairs} rounds at or above {target}")
    ok = spread <= max_spread
    if ok and reached == pairs:
        print(f"   -> {name}: every round at or above {target} of bare hyper's CPU per request")
    elif ok and reached == 0:
        print(f"   -> {name}: every round below {target}")
    else:
        print(f"   -> {name}: no conclusion against {target}")
print()
print("user time alone (the server's own code; the kernel's share moves with the machine's load):")
for name in ["bare"] + names:
    print(f"{name:>16}: " + " ".join(f"{c[name]:6.2f}" for c in user_rounds))
for name in names:
    verdict(f"user: bare ÷ {name}", [c["bare"] / c[name] for c in user_rounds])
for a, b in zip(names, names[1:]):
    verdict(f"user: {a} ÷ {b}", [c[a] / c[b] for c in user_rounds])
print()
for a, b in zip(names, names[1:]):
    values = [c[a] / c[b] for c in rounds]
    med, spread = verdict(f"{a} ÷ {b} (CPU per request)", values)
    if spread <= max_spread and (all(v > 1 for v in values) or all(v < 1 for v in values)):
        print(f"   -> {b} uses {1 - 1 / med:.1%} less CPU per request than {a}" if med > 1
              else f"   -> {b} uses {1 / med - 1:.1%} more CPU per request than {a}")
    else:
        print("   -> no conclusion: the rounds disagree or spread too wide")
if spins:
    # Per round: total CPU against user CPU over bare hyper and its
    # busy-waiting copies (least squares), then what a server with a given
    # user time costs in total, the kernel's induced share included.
    print()
    print("calibration: bare hyper plus a busy-wait per request (µs per request, medians)")
    print(f"{'':>16}  {'user':>6} {'kernel':>6} {'total':>6}")
    for name in ["bare"] + spins + names:
        u = statistics.median(c[name] for c in user_rounds)
        t = statistics.median(c[name] for c in rounds)
        print(f"{name:>16}: {u:6.2f} {t - u:6.2f} {t:6.2f}")
    slopes, needed = [], []
    for cpu, user in zip(rounds, user_rounds):
        xs = [user[n] for n in ["bare"] + spins]
        ys = [cpu[n] for n in ["bare"] + spins]
        mx, my = statistics.mean(xs), statistics.mean(ys)
        b = sum((x - mx) * (y - my) for x, y in zip(xs, ys)) / sum((x - mx) ** 2 for x in xs)
        slopes.append(b)
        # Total at the target: bare's total ÷ target; the user time that gives it.
        needed.append((cpu["bare"] / target - (my - b * mx)) / b - user["bare"])
    verdict("total CPU per µs of user CPU", slopes, "{:.2f}")
    verdict(f"user µs a server may add to bare hyper's for {target}", needed, "{:.2f}")
    for name in names:
        verdict(f"user µs {name} adds", [u[name] - u["bare"] for u in user_rounds], "{:.2f}")
if "sign" in rounds[0]:
    print()
    print("round:            " + " ".join(f"{r:>8}" for r in range(1, pairs + 1)))
    print(f"{'raw RS256 sign':>16}: " + " ".join(f"{c['sign']:8.1f}" for c in rounds))
    for name in names:
        print(f"{'grant ' + name:>16}: " + " ".join(f"{c['grant:' + name]:8.1f}" for c in rounds))
        verdict(f"grant {name} ÷ raw sign", [c["grant:" + name] / c["sign"] for c in rounds], "{:.2f}")
    if all("grant:" + names[0] in r for r in rps_rounds):
        print()
        print("grants per second (wrk, closed-loop clients; they move with the machine's load):")
        for name in names:
            values = [r["grant:" + name] for r in rps_rounds]
            reached = sum(v >= refresh_target for v in values)
            print(f"{name:>16}: " + " ".join(f"{v:8.0f}" for v in values)
                  + f" | median {statistics.median(values):.0f}, {reached} of {pairs} rounds at or above {refresh_target:.0f}")
EOF
