// Sign-in with an upstream OpenID provider, in a real browser: mcpauth's
// sign-in page offers "Continue with <provider>", the provider is the npm
// package oidc-provider (interop/oidc-provider.mjs, OpenID certified), and
// Debian's chromium (headless, playwright-core) signs in there with the
// keyboard and mouse, consents, and comes back. The code redeems with
// PKCE, the official TypeScript SDK client calls `whoami` with the access
// token, and its `sub` must be the mapped local subject
// `oidc:` + base64url(SHA-256(iss NUL sub)). Then the provider's [ Cancel ]
// (error=access_denied) must end on mcpauth's error page, with no code.
//
//   node interop/oidc.mjs --issuer http://127.0.0.1:P --provider-issuer http://127.0.0.1:Q \
//     --provider-id local --provider-name "Local OP" --login ann --out DIR [--token-out FILE]

import crypto from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { chromium } from 'playwright-core';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';

function arg(name, fallback) {
  const i = process.argv.indexOf(`--${name}`);
  const v = i >= 0 ? process.argv[i + 1] : fallback;
  if (!v) throw new Error(`missing --${name}`);
  return v;
}

const issuer = arg('issuer');
const providerIssuer = arg('provider-issuer');
const providerId = arg('provider-id');
const providerName = arg('provider-name');
const login = arg('login');
const out = arg('out');
const tokenOut = process.argv.includes('--token-out') ? arg('token-out') : null;
fs.mkdirSync(out, { recursive: true });

const callbackServer = http.createServer((req, res) => {
  res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' });
  res.end('<!doctype html><title>Client callback</title><h1>Back at the client</h1>');
});
await new Promise((resolve) => callbackServer.listen(0, '127.0.0.1', resolve));
const REDIRECT = `http://127.0.0.1:${callbackServer.address().port}/callback`;
const allowedOrigins = new Set([new URL(issuer).origin, new URL(providerIssuer).origin, new URL(REDIRECT).origin]);

function check(cond, what) {
  if (!cond) throw new Error(`check failed: ${what}`);
  console.log(`[oidc] ok: ${what}`);
}

const b64url = (buf) => Buffer.from(buf).toString('base64url');
const expectedSub = `oidc:${b64url(crypto.createHash('sha256').update(`${providerIssuer}\0${login}`).digest())}`;

const meta = await (await fetch(`${issuer}/.well-known/oauth-authorization-server`)).json();
const reg = await fetch(meta.registration_endpoint, {
  method: 'POST',
  headers: { 'content-type': 'application/json' },
  body: JSON.stringify({
    client_name: 'OIDC Interop Client',
    redirect_uris: [REDIRECT],
    token_endpoint_auth_method: 'none',
    grant_types: ['authorization_code', 'refresh_token'],
    response_types: ['code'],
  }),
});
check(reg.status === 201, 'client registered');
const client = await reg.json();

function authorizeUrl(state, challenge) {
  const q = new URLSearchParams({
    response_type: 'code',
    client_id: client.client_id,
    redirect_uri: REDIRECT,
    code_challenge: challenge,
    code_challenge_method: 'S256',
    state,
    scope: 'mcp',
    resource: `${issuer}/mcp`,
  });
  return `${meta.authorization_endpoint}?${q}`;
}

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
  args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking'],
});

async function newContext(label) {
  const context = await browser.newContext({ viewport: { width: 800, height: 800 } });
  const problems = [];
  const blocked = [];
  // The provider's development pages import a web font: never leave the
  // machine (recorded, not an error).
  await context.route('**/*', (route) => {
    const origin = new URL(route.request().url()).origin;
    if (allowedOrigins.has(origin)) return route.continue();
    blocked.push(route.request().url());
    return route.abort();
  });
  const page = await context.newPage();
  page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
  page.on('console', (m) => {
    if (m.type() !== 'error') return;
    const text = m.text();
    // Chromium logs the blocked font and an error page's HTTP status itself.
    if (/net::ERR_FAILED|status of 403/.test(text)) return;
    problems.push(`console error on ${page.url()}: ${text}`);
  });
  const shot = async (name) => {
    const file = path.join(out, `${label}-${name}.png`);
    await page.screenshot({ path: file, fullPage: true });
    console.log(`[oidc] screenshot ${file}`);
  };
  const finish = async () => {
    await context.close();
    if (blocked.length) console.log(`[oidc] blocked off-machine requests: ${[...new Set(blocked)].join(', ')}`);
    check(problems.length === 0, `${label}: no page or console errors${problems.length ? ': ' + problems.join('; ') : ''}`);
  };
  return { page, shot, finish };
}

async function typeInto(page, selector, text) {
  await page.click(selector);
  await page.keyboard.type(text, { delay: 5 });
}

// 1. The whole sign-in.
let accessToken;
{
  const { page, shot, finish } = await newContext('signin');
  const verifier = b64url(crypto.randomBytes(32));
  const challenge = b64url(crypto.createHash('sha256').update(verifier).digest());
  const state = b64url(crypto.randomBytes(12));
  const resp = await page.goto(authorizeUrl(state, challenge));
  check(resp.status() === 200, 'mcpauth sign-in page: HTTP 200');
  const button = `#upstream-${providerId}`;
  check((await page.textContent(button)).includes(`Continue with ${providerName}`), `the page offers "Continue with ${providerName}"`);
  await shot('1-mcpauth-sign-in');
  await Promise.all([page.waitForURL((u) => u.href.startsWith(`${providerIssuer}/interaction/`)), page.click(button)]);
  check(true, `at the provider: ${new URL(page.url()).pathname}`);
  await page.waitForSelector('input[name="login"]');
  await shot('2-provider-login');
  await typeInto(page, 'input[name="login"]', login);
  await typeInto(page, 'input[name="password"]', 'any password');
  await page.click('button[type="submit"]');
  await page.waitForSelector('button[type="submit"]:has-text("Continue")');
  check(page.url().startsWith(`${providerIssuer}/interaction/`), 'provider consent page');
  await shot('3-provider-consent');
  await Promise.all([page.waitForURL((u) => u.href.startsWith(REDIRECT)), page.click('button[type="submit"]')]);
  await shot('4-back-at-client');
  const back = new URL(page.url());
  check(back.searchParams.get('state') === state, 'state returned to the client');
  check(back.searchParams.get('iss') === issuer, 'RFC 9207 iss is mcpauth');
  const code = back.searchParams.get('code');
  check(!!code, 'a code for the client');
  await finish();

  const tok = await fetch(meta.token_endpoint, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({
      grant_type: 'authorization_code',
      code,
      redirect_uri: REDIRECT,
      client_id: client.client_id,
      code_verifier: verifier,
      resource: `${issuer}/mcp`,
    }),
  });
  const tokens = await tok.json();
  check(tok.status === 200 && tokens.access_token, `token exchange: HTTP ${tok.status}`);
  accessToken = tokens.access_token;
  const claims = JSON.parse(Buffer.from(accessToken.split('.')[1], 'base64url').toString());
  check(claims.sub === expectedSub, `access token sub is the mapped subject ${expectedSub}`);
}

// 2. whoami through the official TypeScript SDK client.
{
  const transport = new StreamableHTTPClientTransport(new URL(`${issuer}/mcp`), {
    requestInit: { headers: { Authorization: `Bearer ${accessToken}` } },
  });
  const mcp = new Client({ name: 'mcpauth-oidc-interop', version: '1.0.0' });
  await mcp.connect(transport);
  const result = await mcp.callTool({ name: 'whoami', arguments: {} });
  const sub = result.structuredContent?.sub ?? JSON.parse(result.content[0].text).sub;
  check(sub === expectedSub, `whoami: sub ${sub}`);
  await mcp.close();
}
if (tokenOut) fs.writeFileSync(tokenOut, accessToken, { mode: 0o600 });

// 3. The provider's [ Cancel ]: error=access_denied ends on mcpauth's page.
{
  const { page, shot, finish } = await newContext('cancel');
  const challenge = b64url(crypto.createHash('sha256').update(b64url(crypto.randomBytes(32))).digest());
  await page.goto(authorizeUrl('st-cancel', challenge));
  await Promise.all([page.waitForURL((u) => u.href.startsWith(`${providerIssuer}/interaction/`)), page.click(`#upstream-${providerId}`)]);
  await page.waitForSelector('input[name="login"]');
  const resp = await Promise.all([page.waitForURL((u) => u.href.startsWith(`${issuer}/oidc/callback/`)), page.click('text=[ Cancel ]')]);
  await page.waitForLoadState('load');
  const body = await page.textContent('body');
  await shot('1-upstream-refused');
  check(/did not sign you in \(access_denied\)/.test(body), 'upstream error: a clear page naming the error');
  check(!page.url().startsWith(REDIRECT), 'upstream error: no redirect to the client');
  void resp;
  await finish();
}

await browser.close();
callbackServer.close();
console.log('[oidc] all checks passed');
