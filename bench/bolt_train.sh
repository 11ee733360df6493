#!/usr/bin/env bash
# The load `scripts/bolt.sh` profiles mcpauth under: what a server does in
# a day, not only the benchmark's request. Against BIN (an instrumented
# binary), on loopback:
#   - sign-in: user creation, client registration, the authorization page,
#     sign-in and consent, the code exchange (GRANTS times), `initialize`;
#   - tools/call `echo` and `whoami` with a token and session (wrk, 64
#     connections), `tools/list`, discovery and JWKS documents;
#   - refresh grants, 16 clients chaining their families (wrk);
#   - refused requests: no token, a forged token, a malformed body.
#
#   bench/bolt_train.sh BIN            # DURATION=4s per load phase
set -euo pipefail
cd "$(dirname "$0")/.."
. bench/lib.sh
BIN=$1
DURATION=${DURATION:-4s}
GRANTS=${GRANTS:-16}
PORT=${PORT:-$((20000 + RANDOM % 20000))}
PASSWORD='bench-password-123'
ensure_tool wrk wrk
ensure_tool curl curl
start_workdir
start_mcpauth "$BIN" "$PORT" "$WORK/data"
PIDS+=("$STARTED_PID")
URL=http://127.0.0.1:$PORT
wait_up "$URL/healthz"
eval "$(python3 bench/get_tokens.py "$URL" bench "$PASSWORD" "$GRANTS")"
export CLIENT_ID MCP_TOKEN MCP_SESSION REFRESH_TOKENS

# A few requests of each other kind, answered or refused.
mcp() {
  curl -s -o /dev/null -X POST "$URL/mcp" -H 'Content-Type: application/json' \
    -H 'Accept: application/json, text/event-stream' -H 'MCP-Protocol-Version: 2025-06-18' \
    -H "Mcp-Session-Id: $MCP_SESSION" "$@"
}
for _ in $(seq 20); do
  curl -s -o /dev/null "$URL/.well-known/oauth-authorization-server"
  curl -s -o /dev/null "$URL/.well-known/oauth-protected-resource/mcp"
  curl -s -o /dev/null "$URL/jwks.json"
  mcp -H "Authorization: Bearer $MCP_TOKEN" -d '{"jsonrpc":"2.0","id":1,"method":"tools/list"}'
  mcp -H "Authorization: Bearer $MCP_TOKEN" -d '{"jsonrpc":"2.0","id":2,"method":"ping"}'
  mcp -H "Authorization: Bearer $MCP_TOKEN" -d '{"jsonrpc":"2.0","id":3,"method":'
  mcp -H "Authorization: Bearer forged.token.value" -d '{"jsonrpc":"2.0","id":4,"method":"ping"}'
  mcp -d '{"jsonrpc":"2.0","id":5,"method":"ping"}'
done

for tool in echo whoami; do
  TOOL=$tool wrk -t2 -c64 -d"$DURATION" -s bench/tools_call.lua "$URL/mcp" | grep 'Requests/sec'
done
wrk -t16 -c16 -d"$DURATION" -s bench/refresh.lua "$URL/token" | grep 'Requests/sec'
# SIGTERM: the profile is written when the process exits.
kill -TERM "$STARTED_PID"
wait "$STARTED_PID" || true
