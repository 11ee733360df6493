#!/usr/bin/env python3
"""Walk the OAuth flow of a running mcpauth (register, sign-in/consent form,
PKCE code exchange) N times and print shell assignments:
CLIENT_ID, MCP_TOKEN (access token of grant 1), MCP_SESSION (an initialized
MCP session), REFRESH_TOKENS (one refresh token per grant, space-separated).
Standard library only."""
import base64, hashlib, json, os, re, sys, urllib.error, urllib.parse, urllib.request

base, user, password, grants = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
redirect = "http://127.0.0.1:9/callback"


class NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *a, **k):
        return None


opener = urllib.request.build_opener(NoRedirect)


def call(method, path, body=None, headers=None):
    req = urllib.request.Request(base + path, data=body, method=method, headers=headers or {})
    try:
        r = opener.open(req)
    except urllib.error.HTTPError as e:
        r = e
    return r.status, r.headers, r.read().decode()


status, _, body = call("POST", "/register", json.dumps({
    "redirect_uris": [redirect], "client_name": "bench", "token_endpoint_auth_method": "none",
}).encode(), {"Content-Type": "application/json"})
assert status == 201, body
client_id = json.loads(body)["client_id"]

access, refresh = None, []
for i in range(grants):
    verifier = base64.urlsafe_b64encode(os.urandom(32)).rstrip(b"=").decode()
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
    q = urllib.parse.urlencode({
        "response_type": "code", "client_id": client_id, "redirect_uri": redirect,
        "code_challenge": challenge, "code_challenge_method": "S256", "scope": "mcp",
        "state": "s", "resource": base + "/mcp",
    })
    # Each authorization request counts against its peer's budget (60 a
    # minute); loopback is a trusted proxy by default, so spread the grants
    # over addresses of the benchmarking range (RFC 2544) as a proxy would.
    peer = {"X-Forwarded-For": "198.18.0.%d" % (1 + i // 50)}
    status, headers, page = call("GET", "/authorize?" + q, headers=peer)
    assert status == 200, page
    cookie = "; ".join(c.split(";")[0] for c in (headers.get_all("Set-Cookie") or []))
    fields = dict(re.findall(r'name="(request_id|csrf)" value="([^"]*)"', page))
    form = urllib.parse.urlencode({**fields, "username": user, "password": password, "decision": "allow"})
    status, headers, _ = call("POST", "/authorize", form.encode(), {
        "Content-Type": "application/x-www-form-urlencoded", "Cookie": cookie, **peer})
    assert status == 303, status
    code = urllib.parse.parse_qs(urllib.parse.urlparse(headers["Location"]).query)["code"][0]
    status, _, body = call("POST", "/token", urllib.parse.urlencode({
        "grant_type": "authorization_code", "code": code, "redirect_uri": redirect,
        "client_id": client_id, "code_verifier": verifier}).encode(),
        {"Content-Type": "application/x-www-form-urlencoded"})
    assert status == 200, body
    t = json.loads(body)
    access = access or t["access_token"]
    refresh.append(t["refresh_token"])

status, headers, body = call("POST", "/mcp", json.dumps({
    "jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
        "protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": {"name": "bench", "version": "1"}}}).encode(),
    {"Content-Type": "application/json", "Accept": "application/json, text/event-stream",
     "Authorization": "Bearer " + access})
assert status == 200, body
# A stateless server (e.g. an upstream behind `serve --upstream`) has none.
session = headers.get("Mcp-Session-Id") or ""
call("POST", "/mcp", b'{"jsonrpc":"2.0","method":"notifications/initialized"}', {
    "Content-Type": "application/json", "Accept": "application/json, text/event-stream",
    "Authorization": "Bearer " + access, "MCP-Protocol-Version": "2025-06-18",
    **({"Mcp-Session-Id": session} if session else {})})

print(f"CLIENT_ID='{client_id}'")
print(f"MCP_TOKEN='{access}'")
print(f"MCP_SESSION='{session}'")
print(f"REFRESH_TOKENS='{' '.join(refresh)}'")
