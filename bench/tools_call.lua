-- wrk script: MCP tools/call with a valid bearer token and session.
-- Env: TOOL (echo, the default, with {"text":"hello"}; or whoami),
-- MCP_TOKEN, MCP_SESSION (empty for stateless servers / bare hyper).
wrk.method = "POST"
local tool = os.getenv("TOOL") or "echo"
local arguments = '{"text":"hello"}'
if tool ~= "echo" then arguments = '{}' end
wrk.body = '{"jsonrpc":"2.0","id":7,"method":"tools/call","params":{"name":"' .. tool
  .. '","arguments":' .. arguments .. '}}'
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Accept"] = "application/json, text/event-stream"
wrk.headers["MCP-Protocol-Version"] = "2025-06-18"
local token = os.getenv("MCP_TOKEN") or ""
if token ~= "" then wrk.headers["Authorization"] = "Bearer " .. token end
local session = os.getenv("MCP_SESSION") or ""
if session ~= "" then wrk.headers["Mcp-Session-Id"] = session end
