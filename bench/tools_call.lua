-- wrk script: MCP tools/call whoami with a valid bearer token and session.
-- Env: MCP_TOKEN, MCP_SESSION (empty for stateless servers / bare hyper).
wrk.method = "POST"
wrk.body = '{"jsonrpc":"2.0","id":7,"method":"tools/call","params":{"name":"whoami","arguments":{}}}'
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Accept"] = "application/json, text/event-stream"
wrk.headers["MCP-Protocol-Version"] = "2025-06-18"
local token = os.getenv("MCP_TOKEN") or ""
if token ~= "" then wrk.headers["Authorization"] = "Bearer " .. token end
local session = os.getenv("MCP_SESSION") or ""
if session ~= "" then wrk.headers["Mcp-Session-Id"] = session end
