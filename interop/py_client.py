"""The official MCP Python SDK (`mcp` on PyPI) as a real client of `mcpauth serve`.

Discovery (RFC 9728 + RFC 8414), dynamic client registration (RFC 7591), PKCE,
the sign-in + consent form posted from the redirect handler (the documented
fields `username`, `password`, `decision`), token exchange with the RFC 9207
`iss` check the SDK performs, then initialize, tools/list and tools/call whoami
over Streamable HTTP, once in each protocol era the SDK speaks: `legacy` (the
2025 initialize handshake) and `auto` (2026-07-28 `server/discover`). The
access token is verified offline with PyJWT from the advertised jwks_uri.

    interop/.venv/bin/python interop/py_client.py --mcp http://127.0.0.1:P/mcp \
        --username alice --password-file F

With `--tool NAME [--tool-args JSON] --expect TEXT` the MCP server is an
upstream behind `mcpauth serve --upstream`: the client calls NAME instead of
whoami, checks the result text contains TEXT and that the tools/call answer
arrived as an SSE stream through the proxy (legacy era only: the upstream
speaks what its SDK speaks).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import re
import sys
from html import unescape
from urllib.parse import parse_qs, urljoin, urlsplit

import httpx2
import jwt
from mcp import Client
from mcp.client.auth import OAuthClientProvider, TokenStorage
from mcp.client.streamable_http import streamable_http_client
from mcp.shared.auth import (
    AuthorizationCodeResult,
    OAuthClientInformationFull,
    OAuthClientMetadata,
    OAuthToken,
)

REDIRECT = "http://127.0.0.1:9/callback"  # read from the Location header, never contacted


def ok(cond: object, what: str) -> None:
    if not cond:
        raise AssertionError(f"check failed: {what}")
    print(f"[py-client] ok: {what}", flush=True)


class MemoryStorage(TokenStorage):
    def __init__(self) -> None:
        self.tokens: OAuthToken | None = None
        self.client: OAuthClientInformationFull | None = None

    async def get_tokens(self) -> OAuthToken | None:
        return self.tokens

    async def set_tokens(self, tokens: OAuthToken) -> None:
        self.tokens = tokens

    async def get_client_info(self) -> OAuthClientInformationFull | None:
        return self.client

    async def set_client_info(self, client_info: OAuthClientInformationFull) -> None:
        self.client = client_info


def hidden_fields(html: str) -> dict[str, str]:
    fields: dict[str, str] = {}
    for tag in re.findall(r"<input\b[^>]*>", html, flags=re.I):
        if not re.search(r'type="hidden"', tag, flags=re.I):
            continue
        name = re.search(r'\bname="([^"]*)"', tag, flags=re.I)
        value = re.search(r'\bvalue="([^"]*)"', tag, flags=re.I)
        if name:
            fields[unescape(name.group(1))] = unescape(value.group(1)) if value else ""
    return fields


class FormPoster:
    """The "browser": posts mcpauth's sign-in + consent form, keeps the redirect."""

    def __init__(self, username: str, password: str) -> None:
        self.username = username
        self.password = password
        self.result: AuthorizationCodeResult | None = None

    async def redirect(self, authorization_url: str) -> None:
        query = parse_qs(urlsplit(authorization_url).query)
        ok(query.get("code_challenge_method") == ["S256"], "authorization request uses PKCE S256")
        async with httpx2.AsyncClient(follow_redirects=False, timeout=30) as http:
            page = await http.get(authorization_url)
            ok(page.status_code == 200, "sign-in page served")
            html = page.text
            action = re.search(r'<form\b[^>]*\baction="([^"]*)"', html, flags=re.I)
            target = urljoin(authorization_url, unescape(action.group(1)) if action else "/authorize")
            form = hidden_fields(html) | {
                "username": self.username,
                "password": self.password,
                "decision": "allow",
            }
            # httpx keeps the anti-CSRF cookie of the GET in its jar.
            answer = await http.post(target, data=form)
            ok(300 <= answer.status_code < 400, f"form post redirects (HTTP {answer.status_code})")
            location = urljoin(authorization_url, answer.headers["location"])
        ok(location.startswith(REDIRECT), "redirected to the registered redirect_uri")
        params = parse_qs(urlsplit(location).query)
        ok("error" not in params, "no error in the authorization response")
        self.result = AuthorizationCodeResult(
            code=params["code"][0],
            state=params.get("state", [None])[0],
            iss=params.get("iss", [None])[0],
        )

    async def callback(self) -> AuthorizationCodeResult:
        assert self.result is not None
        return self.result


class Upstream:
    """What to call on an upstream MCP server behind the proxy."""

    def __init__(self, tool: str, args: dict, expect: list[str]) -> None:
        self.tool = tool
        self.args = args
        self.expect = expect
        self.call_content_types: list[str] = []

    async def record(self, response: httpx2.Response) -> None:
        try:
            sent = response.request.content
        except Exception:  # noqa: BLE001 - a streamed request body: not a tools/call
            return
        if b'"tools/call"' in sent:
            self.call_content_types.append(response.headers.get("content-type", ""))


async def upstream_session(mcp_url: str, auth: OAuthClientProvider, up: Upstream) -> None:
    hooks = {"response": [up.record]}
    async with httpx2.AsyncClient(auth=auth, timeout=30, event_hooks=hooks) as http:
        async with Client(streamable_http_client(mcp_url, http_client=http), mode="legacy") as client:
            ok(client.protocol_version, f"initialized through the proxy (protocol {client.protocol_version})")
            tools = await client.list_tools()
            names = [t.name for t in tools.tools]
            ok(up.tool in names, f"tools/list includes {up.tool} ({', '.join(names)})")
            result = await client.call_tool(up.tool, up.args)
            ok(not result.is_error, f"{up.tool} succeeded")
            text = " ".join(getattr(c, "text", "") for c in result.content)
            print(f"[py-client] {up.tool}: {text}", flush=True)
            for want in up.expect:
                ok(want in text, f"{up.tool} result contains {want!r}")
    ok(
        up.call_content_types and all(t.startswith("text/event-stream") for t in up.call_content_types),
        f"tools/call answered as an SSE stream ({up.call_content_types})",
    )


async def session(mcp_url: str, auth: OAuthClientProvider, mode: str, client_id: str | None) -> None:
    async with httpx2.AsyncClient(auth=auth, timeout=30) as http:
        async with Client(streamable_http_client(mcp_url, http_client=http), mode=mode) as client:
            want = "2025-11-25" if mode == "legacy" else "2026-07-28"
            ok(client.protocol_version == want, f"[{mode}] protocol version {client.protocol_version}")
            tools = await client.list_tools()
            names = [t.name for t in tools.tools]
            ok("whoami" in names, f"[{mode}] tools/list includes whoami ({', '.join(names)})")
            who = await client.call_tool("whoami", {})
            ok(not who.is_error, f"[{mode}] whoami succeeded")
            data = who.structured_content or json.loads(who.content[0].text)
            print(f"[py-client] [{mode}] whoami: {json.dumps(data)}", flush=True)
            if client_id is not None:
                ok(data.get("client_id") == client_id, f"[{mode}] whoami names our client_id")


async def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--mcp", required=True)
    p.add_argument("--username", required=True)
    p.add_argument("--password-file", required=True)
    p.add_argument("--tool", help="call this tool of an upstream behind the proxy instead of whoami")
    p.add_argument("--tool-args", default="{}")
    p.add_argument("--expect", action="append", default=[], help="text the --tool result must contain")
    a = p.parse_args()
    with open(a.password_file, encoding="utf-8") as f:
        password = f.read().strip()

    storage = MemoryStorage()
    poster = FormPoster(a.username, password)
    auth = OAuthClientProvider(
        server_url=a.mcp,
        client_metadata=OAuthClientMetadata(
            client_name="mcpauth interop (Python SDK)",
            redirect_uris=[REDIRECT],
            grant_types=["authorization_code", "refresh_token"],
            response_types=["code"],
            token_endpoint_auth_method="none",
        ),
        storage=storage,
        redirect_handler=poster.redirect,
        callback_handler=poster.callback,
    )

    if a.tool:
        # The OAuth flow, then the upstream's tool through the proxy.
        await upstream_session(a.mcp, auth, Upstream(a.tool, json.loads(a.tool_args), a.expect))
        ok(storage.client and storage.client.client_id, "client registered dynamically")
        ok(storage.tokens and storage.tokens.access_token, "token exchange returned an access token")
    else:
        # The first session runs the whole OAuth flow; the second reuses the token.
        await session(a.mcp, auth, "legacy", None)
        ok(storage.client and storage.client.client_id, "client registered dynamically")
        ok(storage.tokens and storage.tokens.access_token, "token exchange returned an access token")
        client_id = storage.client.client_id
        await session(a.mcp, auth, "legacy", client_id)
        await session(a.mcp, auth, "auto", client_id)

    # Offline verification with an independent JWT library (PyJWT).
    origin = "{0.scheme}://{0.netloc}".format(urlsplit(a.mcp))
    async with httpx2.AsyncClient(timeout=30) as http:
        meta = (await http.get(f"{origin}/.well-known/oauth-authorization-server")).json()
    ok(meta.get("jwks_uri"), f"jwks_uri advertised ({meta.get('jwks_uri')})")
    token = storage.tokens.access_token
    key = jwt.PyJWKClient(meta["jwks_uri"]).get_signing_key_from_jwt(token)
    claims = jwt.decode(
        token,
        key.key,
        algorithms=["RS256", "ES256", "EdDSA"],
        audience=a.mcp,
        issuer=meta["issuer"],
        options={"require": ["exp", "iss", "aud", "sub"]},
    )
    header = jwt.get_unverified_header(token)
    ok(True, f"signature verified (alg {header.get('alg')}, kid {header.get('kid')})")
    ok(header.get("typ") == "at+jwt", "typ = at+jwt (RFC 9068)")
    ok(claims["iss"] == meta["issuer"], f"iss = {claims['iss']}")
    ok(claims["aud"] == a.mcp or a.mcp in claims["aud"], f"aud = {claims['aud']}")
    print("[py-client] PASS", flush=True)


if __name__ == "__main__":
    try:
        asyncio.run(asyncio.wait_for(main(), timeout=60))
    except BaseException as e:  # noqa: BLE001 - report anything, exit non-zero
        print(f"[py-client] FAIL: {type(e).__name__}: {e}", file=sys.stderr, flush=True)
        if not isinstance(e, AssertionError):
            import traceback

            traceback.print_exc()
        sys.exit(1)
