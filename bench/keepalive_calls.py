#!/usr/bin/env python3
"""N tools/call echo requests, as bench/tools_call.lua sends them, over one
keep-alive connection (for bench/callgrind.sh: an instruction count needs
a fixed number of requests, not a load).

    MCP_TOKEN=… MCP_SESSION=… bench/keepalive_calls.py 127.0.0.1 18481 2000

Standard library only; exits 1 at the first answer other than 200."""
import http.client, os, sys

host, port, n = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
token, session = os.environ.get("MCP_TOKEN", ""), os.environ.get("MCP_SESSION", "")
body = '{"jsonrpc":"2.0","id":7,"method":"tools/call","params":{"name":"echo","arguments":{"text":"hello"}}}'
headers = {"Content-Type": "application/json", "Accept": "application/json, text/event-stream",
           "MCP-Protocol-Version": "2025-06-18"}
if token:
    headers["Authorization"] = "Bearer " + token
if session:
    headers["Mcp-Session-Id"] = session
conn = http.client.HTTPConnection(host, port)
for _ in range(n):
    conn.request("POST", "/mcp", body, headers)
    r = conn.getresponse()
    data = r.read()
    if r.status != 200:
        print("answer", r.status, data[:300], file=sys.stderr)
        sys.exit(1)
