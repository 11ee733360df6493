"""The official MCP Python SDK's server (`MCPServer`, called FastMCP before
mcp 2) with no authentication, as the upstream of `mcpauth serve --upstream`.

Its one tool, `caller`, logs a message before answering, so the tools/call
answer is an SSE stream of two events, and reports the identity headers it
received (and whether an Authorization header reached it: it must not).

    interop/.venv/bin/python interop/py_upstream.py --port P   # http://127.0.0.1:P/mcp
"""

from __future__ import annotations

import argparse
import json

import uvicorn
from mcp.server.mcpserver import Context, MCPServer

server = MCPServer("python-sdk-upstream")


@server.tool()
async def caller(ctx: Context) -> str:
    """Who mcpauth says is calling."""
    await ctx.info("looking up the caller")
    headers = ctx.headers or {}
    return json.dumps(
        {
            "subject": headers.get("x-mcpauth-subject"),
            "client_id": headers.get("x-mcpauth-client-id"),
            "scopes": headers.get("x-mcpauth-scopes"),
            "authorization": headers.get("authorization"),
        }
    )


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--port", type=int, required=True)
    a = p.parse_args()
    app = server.streamable_http_app(host="127.0.0.1")
    uvicorn.run(app, host="127.0.0.1", port=a.port, log_level="warning")


if __name__ == "__main__":
    main()
