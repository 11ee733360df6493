// mcpauth's built-in Privy sign-in, in a real browser: `mcpauth serve
// --privy-app-id …` (no script of the operator's) serves /privy/glue.js,
// Privy's own SDK bundled with our glue (scripts/build-privy.sh); the SDK is
// pointed at a local fake of the Privy API (interop/privy-fake.mjs, via
// --privy-api-url). Debian's chromium (headless, playwright-core) opens the
// sign-in page, clicks "Continue with Privy", enters an email, asks for a
// code, enters it: the SDK logs in at the fake, the glue posts the Privy
// tokens in the form, mcpauth verifies them (key fetched from the fake's
// public key set: no secret, no key file) and redirects with a code. The
// code redeems with PKCE and the official TypeScript SDK client's `whoami`
// shows the Privy DID. A wrong
// code shows Privy's error on the page and goes nowhere; the page's CSP
// blocks nothing the sign-in needs (no console errors).
//
//   node interop/privy.mjs --issuer http://127.0.0.1:P --privy-api http://127.0.0.1:Q \
//     --email ann@example.com --code-file F --out DIR

import crypto from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { chromium } from 'playwright-core';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';

function arg(name) {
  const i = process.argv.indexOf(`--${name}`);
  const v = i >= 0 ? process.argv[i + 1] : undefined;
  if (!v) throw new Error(`missing --${name}`);
  return v;
}

const issuer = arg('issuer');
const privyApi = arg('privy-api');
const email = arg('email');
const code = fs.readFileSync(arg('code-file'), 'utf8').trim();
const out = arg('out');
fs.mkdirSync(out, { recursive: true });
// The fake's user id for this email (interop/privy-fake.mjs, didOf).
const expectedSub = `did:privy:fake${crypto.createHash('sha256').update(email.toLowerCase()).digest('hex').slice(0, 20)}`;

const callbackServer = http.createServer((req, res) => {
  res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' });
  res.end('<!doctype html><title>Client callback</title><h1>Back at the client</h1>');
});
await new Promise((resolve) => callbackServer.listen(0, '127.0.0.1', resolve));
const REDIRECT = `http://127.0.0.1:${callbackServer.address().port}/callback`;
const allowedOrigins = new Set([new URL(issuer).origin, new URL(privyApi).origin, new URL(REDIRECT).origin]);

function check(cond, what) {
  if (!cond) throw new Error(`check failed: ${what}`);
  console.log(`[privy] ok: ${what}`);
}

const b64url = (buf) => Buffer.from(buf).toString('base64url');
const stats = async () => (await fetch(`${privyApi}/__stats`)).json();

const meta = await (await fetch(`${issuer}/.well-known/oauth-authorization-server`)).json();
const reg = await fetch(meta.registration_endpoint, {
  method: 'POST',
  headers: { 'content-type': 'application/json' },
  body: JSON.stringify({
    client_name: 'Privy Interop Client',
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
  const context = await browser.newContext({ viewport: { width: 800, height: 900 } });
  const problems = [];
  const blocked = [];
  // Nothing leaves the machine: the SDK may only reach the fake.
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
    // The wrong-code step's 422 from the fake is logged by chromium itself.
    if (/status of 422/.test(text)) return;
    problems.push(`console error on ${page.url()}: ${text}`);
  });
  const shot = async (name) => {
    const file = path.join(out, `${label}-${name}.png`);
    await page.screenshot({ path: file, fullPage: true });
    console.log(`[privy] screenshot ${file}`);
  };
  const finish = async () => {
    await context.close();
    check(blocked.length === 0, `${label}: no off-machine requests${blocked.length ? ': ' + [...new Set(blocked)].join(', ') : ''}`);
    check(problems.length === 0, `${label}: no page or console errors (CSP included)${problems.length ? ': ' + problems.join('; ') : ''}`);
  };
  return { page, shot, finish };
}

async function typeInto(page, selector, text) {
  await page.click(selector);
  await page.keyboard.type(text, { delay: 5 });
}

let accessToken;
{
  const { page, shot, finish } = await newContext('privy');
  const verifier = b64url(crypto.randomBytes(32));
  const challenge = b64url(crypto.createHash('sha256').update(verifier).digest());
  const state = b64url(crypto.randomBytes(12));
  const glue = [];
  page.on('response', (r) => {
    if (new URL(r.url()).pathname === '/privy/glue.js') glue.push(r);
  });
  const resp = await page.goto(authorizeUrl(state, challenge));
  check(resp.status() === 200, 'mcpauth sign-in page: HTTP 200');
  const csp = resp.headers()['content-security-policy'] ?? '';
  check(csp.includes(`script-src ${issuer}/privy/glue.js;`) && csp.includes(`connect-src ${privyApi};`), `CSP: ${csp}`);
  check(glue.length === 1 && glue[0].status() === 200, 'the page loaded /privy/glue.js from mcpauth');
  check((glue[0].headers()['content-type'] ?? '').startsWith('text/javascript'), 'served as JavaScript');
  check((await page.textContent('#privy-login')).includes('Continue with Privy'), 'the page offers "Continue with Privy"');
  await shot('1-sign-in');
  await page.click('#privy-login');
  await page.waitForSelector('#privy-email', { state: 'visible' });
  await typeInto(page, '#privy-email', email);
  await page.click('#privy-send-code');
  await page.waitForSelector('#privy-code', { state: 'visible' });
  check((await stats())['passwordless/init'] >= 1, 'the SDK asked the (fake) Privy API for a code');
  await shot('2-code');

  // A wrong code: Privy's error on the page, no navigation.
  await typeInto(page, '#privy-code', '000000' === code ? '111111' : '000000');
  await page.click('#privy-verify');
  await page.waitForSelector('#privy-status:not([hidden])');
  const error = await page.textContent('#privy-status');
  check(/Invalid email and code/.test(error), `wrong code: the page says "${error}"`);
  check(page.url().startsWith(issuer), 'wrong code: still on the sign-in page');
  await shot('3-wrong-code');

  await page.fill('#privy-code', '');
  await typeInto(page, '#privy-code', code);
  await Promise.all([page.waitForURL((u) => u.href.startsWith(REDIRECT), { timeout: 30000 }), page.click('#privy-verify')]);
  await shot('4-back-at-client');
  const back = new URL(page.url());
  check(back.searchParams.get('state') === state, 'state returned to the client');
  check(back.searchParams.get('iss') === issuer, 'RFC 9207 iss is mcpauth');
  const authCode = back.searchParams.get('code');
  check(!!authCode, 'a code for the client');
  const s = await stats();
  check(s['passwordless/authenticate'] === 1 && s.jwks === 1 && !s.key, `the fake saw one login and one fetch of the public key set: ${JSON.stringify(s)}`);
  await finish();

  const tok = await fetch(meta.token_endpoint, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({
      grant_type: 'authorization_code',
      code: authCode,
      redirect_uri: REDIRECT,
      client_id: client.client_id,
      code_verifier: verifier,
      resource: `${issuer}/mcp`,
    }),
  });
  const tokens = await tok.json();
  check(tok.status === 200 && tokens.access_token, `token exchange: HTTP ${tok.status}`);
  accessToken = tokens.access_token;
}

{
  const transport = new StreamableHTTPClientTransport(new URL(`${issuer}/mcp`), {
    requestInit: { headers: { Authorization: `Bearer ${accessToken}` } },
  });
  const mcp = new Client({ name: 'mcpauth-privy-interop', version: '1.0.0' });
  await mcp.connect(transport);
  const result = await mcp.callTool({ name: 'whoami', arguments: {} });
  const sub = result.structuredContent?.sub ?? JSON.parse(result.content[0].text).sub;
  check(sub === expectedSub, `whoami: sub ${sub} is the Privy DID`);
  await mcp.close();
}

await browser.close();
callbackServer.close();
console.log('[privy] all checks passed');
