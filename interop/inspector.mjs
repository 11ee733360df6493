// The MCP Inspector (`@modelcontextprotocol/inspector`, pinned in
// package.json), in its CLI mode, against `mcpauth serve`: a token from the
// real OAuth flow (registration, PKCE, the sign-in form posted as a browser
// does, the token endpoint) is passed as an `Authorization` header; the
// Inspector lists the tools and calls `whoami` and `echo` over Streamable
// HTTP, in both protocol eras it speaks (legacy = the 2025 handshake,
// modern = 2026-07-28). Without the header (and with interactive OAuth off)
// it must be refused. The Inspector's other remote transport, the legacy
// HTTP+SSE one (2024-11-05), is not served by mcpauth.
//
//   node interop/inspector.mjs --issuer http://127.0.0.1:P --username alice \
//     --password-file F --out DIR

import crypto from 'node:crypto';
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { signIn } from './lib/signin.mjs';

function arg(name) {
  const i = process.argv.indexOf(`--${name}`);
  const v = i >= 0 ? process.argv[i + 1] : undefined;
  if (!v) throw new Error(`missing --${name}`);
  return v;
}

const issuer = arg('issuer');
const username = arg('username');
const password = fs.readFileSync(arg('password-file'), 'utf8').trim();
const out = arg('out');
fs.mkdirSync(out, { recursive: true });
const here = path.dirname(fileURLToPath(import.meta.url));
const INSPECTOR = path.join(here, 'node_modules', '@modelcontextprotocol', 'inspector', 'clients', 'launcher', 'build', 'index.js');

function check(cond, what) {
  if (!cond) throw new Error(`check failed: ${what}`);
  console.log(`[inspector] ok: ${what}`);
}

// A token through the real flow.
const b64url = (b) => Buffer.from(b).toString('base64url');
const REDIRECT = 'http://127.0.0.1:9/inspector-callback';
const meta = await (await fetch(`${issuer}/.well-known/oauth-authorization-server`)).json();
const reg = await fetch(meta.registration_endpoint, {
  method: 'POST',
  headers: { 'content-type': 'application/json' },
  body: JSON.stringify({ client_name: 'MCP Inspector (interop)', redirect_uris: [REDIRECT], token_endpoint_auth_method: 'none' }),
});
check(reg.status === 201, 'client registered');
const client = await reg.json();
const verifier = b64url(crypto.randomBytes(32));
const challenge = b64url(crypto.createHash('sha256').update(verifier).digest());
const authorize = `${meta.authorization_endpoint}?${new URLSearchParams({
  response_type: 'code', client_id: client.client_id, redirect_uri: REDIRECT, scope: 'mcp',
  code_challenge: challenge, code_challenge_method: 'S256', state: 'st-inspector', resource: `${issuer}/mcp`,
})}`;
const back = new URL(await signIn(authorize, { username, password }));
const code = back.searchParams.get('code');
check(!!code, 'signed in: a code');
const tok = await fetch(meta.token_endpoint, {
  method: 'POST',
  headers: { 'content-type': 'application/x-www-form-urlencoded' },
  body: new URLSearchParams({ grant_type: 'authorization_code', code, redirect_uri: REDIRECT, client_id: client.client_id, code_verifier: verifier }),
});
const { access_token: token } = await tok.json();
check(tok.status === 200 && !!token, 'access token from /token');
const expectedSub = JSON.parse(Buffer.from(token.split('.')[1], 'base64url')).sub;

// The Inspector keeps secrets under HOME: give it a private one.
const home = path.join(out, 'inspector-home');
fs.mkdirSync(home, { recursive: true, mode: 0o700 });

function inspector(args) {
  return new Promise((resolve) => {
    execFile(process.execPath, [INSPECTOR, '--cli', `${issuer}/mcp`, '--transport', 'http', '--format', 'json', ...args], {
      env: { ...process.env, HOME: home, MCP_CATALOG_PATH: path.join(home, 'mcp.json') },
      timeout: 60000,
      maxBuffer: 4 * 1024 * 1024,
    }, (error, stdout, stderr) => {
      const code = error ? (error.code ?? 1) : 0;
      resolve({ code, stdout, stderr });
    });
  });
}

/** The JSON result on stdout (`--format json` wraps it in `result`). */
function json(r, what) {
  try {
    const v = JSON.parse(r.stdout);
    return v.result ?? v;
  } catch {
    throw new Error(`${what}: not JSON (exit ${r.code}): ${r.stdout.slice(0, 400)} ${r.stderr.slice(0, 400)}`);
  }
}

const auth = ['--header', `Authorization: Bearer ${token}`];
for (const era of ['legacy', 'modern']) {
  const list = await inspector([...auth, '--protocol-era', era, '--method', 'tools/list']);
  check(list.code === 0, `${era}: tools/list exits 0 (stderr: ${list.stderr.trim().slice(0, 200)})`);
  const listed = json(list, 'tools/list');
  const names = (listed.tools ?? []).map((t) => t.name);
  check(names.includes('whoami') && names.includes('echo'), `${era}: tools listed: ${names.join(', ') || list.stdout.slice(0, 600)}`);

  const who = await inspector([...auth, '--protocol-era', era, '--method', 'tools/call', '--tool-name', 'whoami']);
  check(who.code === 0, `${era}: tools/call whoami exits 0`);
  const result = json(who, 'whoami');
  const sub = result.structuredContent?.sub ?? JSON.parse(result.content?.[0]?.text ?? '{}').sub;
  check(sub === expectedSub, `${era}: whoami sub is the signed-in user (${sub ?? who.stdout.slice(0, 600)})`);

  const echo = await inspector([...auth, '--protocol-era', era, '--method', 'tools/call', '--tool-name', 'echo', '--tool-arg', 'text=hello from the Inspector']);
  check(echo.code === 0 && json(echo, 'echo').content?.[0]?.text === 'hello from the Inspector', `${era}: tools/call echo${echo.code === 0 ? '' : ': ' + echo.stdout.slice(0, 400)}`);
}

const refused = await inspector(['--stored-auth-only', '--method', 'tools/list']);
check(refused.code !== 0, `without the token: refused (exit ${refused.code})`);
const bad = await inspector(['--header', 'Authorization: Bearer not-a-token', '--stored-auth-only', '--method', 'tools/list']);
check(bad.code !== 0, `with a forged token: refused (exit ${bad.code})`);
console.log('[inspector] all checks passed');
