// A real browser on mcpauth's sign-in and consent pages: Debian's chromium,
// headless, driven by playwright-core with the keyboard and the mouse only
// (no script evaluated in the page, no form filled programmatically).
//
//   node interop/browser.mjs --issuer http://127.0.0.1:P --username alice \
//     --password-file F --out DIR
//
// Walks: a wrong password (the generic error, the username kept), then the
// right one and Allow (a code that really redeems with PKCE); Deny
// (access_denied back at the client); an unregistered redirect_uri (an error
// page, never a redirect). Fails on any console error or page error, and on
// any request to a host other than the server, except the navigation to the
// client's registered redirect_uri (a loopback page this script serves). Screenshots of every page go to DIR.

import crypto from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { chromium } from 'playwright-core';

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

// The client's side of the redirect: a tiny page on loopback, like a native
// app's RFC 8252 loopback listener.
const callbackServer = http.createServer((req, res) => {
  res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' });
  res.end('<!doctype html><title>Client callback</title><h1>Back at the client</h1>');
});
await new Promise((resolve) => callbackServer.listen(0, '127.0.0.1', resolve));
const REDIRECT = `http://127.0.0.1:${callbackServer.address().port}/callback`;
const allowedOrigins = new Set([new URL(issuer).origin, new URL(REDIRECT).origin]);

function check(cond, what) {
  if (!cond) throw new Error(`check failed: ${what}`);
  console.log(`[browser] ok: ${what}`);
}

const b64url = (buf) => Buffer.from(buf).toString('base64url');

async function registerClient() {
  const meta = await (await fetch(`${issuer}/.well-known/oauth-authorization-server`)).json();
  const r = await fetch(meta.registration_endpoint, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({
      client_name: 'Browser Interop Client',
      redirect_uris: [REDIRECT],
      token_endpoint_auth_method: 'none',
      grant_types: ['authorization_code', 'refresh_token'],
      response_types: ['code'],
    }),
  });
  check(r.status === 201, 'client registered');
  return { meta, client: await r.json() };
}

function authorizeUrl(meta, clientId, { redirect = REDIRECT, state, challenge }) {
  const q = new URLSearchParams({
    response_type: 'code',
    client_id: clientId,
    redirect_uri: redirect,
    code_challenge: challenge,
    code_challenge_method: 'S256',
    state,
    scope: 'mcp',
    resource: `${issuer}/mcp`,
  });
  return `${meta.authorization_endpoint}?${q}`;
}

/** A fresh browser context that records console errors and every request. */
async function newContext(browser, label, expectedConsole = null) {
  const context = await browser.newContext({ viewport: { width: 800, height: 700 } });
  const problems = [];
  const requests = [];
  context.on('request', (req) => {
    requests.push(req.url());
    const origin = new URL(req.url()).origin;
    if (!allowedOrigins.has(origin)) problems.push(`request to a foreign host: ${req.url()}`);
  });
  const page = await context.newPage();
  page.on('console', (m) => {
    if (m.type() !== 'error') return;
    // Chromium reports the HTTP status of an error page itself as a console
    // error; only that exact message is tolerated, and only where expected.
    if (expectedConsole && expectedConsole.test(m.text())) {
      console.log(`[browser] expected console message: ${m.text()}`);
      return;
    }
    problems.push(`console error: ${m.text()}`);
  });
  page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
  const shot = async (name) => {
    const file = path.join(out, `${label}-${name}.png`);
    await page.screenshot({ path: file, fullPage: true });
    console.log(`[browser] screenshot ${file}`);
  };
  const finish = async () => {
    await context.close();
    check(problems.length === 0, `${label}: no console errors, no foreign requests (${requests.length} requests)${problems.length ? ': ' + problems.join('; ') : ''}`);
  };
  return { context, page, shot, finish };
}

/** Type into a field as a person does: click it, then type. */
async function typeInto(page, selector, text) {
  await page.click(selector);
  await page.keyboard.type(text, { delay: 5 });
}

async function allowFlow(browser, meta, client) {
  const { page, shot, finish } = await newContext(browser, 'allow');
  const verifier = b64url(crypto.randomBytes(32));
  const challenge = b64url(crypto.createHash('sha256').update(verifier).digest());
  const state = b64url(crypto.randomBytes(12));
  const resp = await page.goto(authorizeUrl(meta, client.client_id, { state, challenge }));
  check(resp.status() === 200, 'sign-in page: HTTP 200');
  check((await page.title()).length > 0, `sign-in page title "${await page.title()}"`);
  const body = await page.textContent('body');
  check(body.includes('Browser Interop Client'), 'consent names the client');
  check(body.includes('127.0.0.1'), 'consent names the redirect host');
  check(body.includes('mcp'), 'consent lists the requested scope');
  await shot('1-sign-in');

  // Wrong password first.
  await typeInto(page, '#username', username);
  await page.keyboard.press('Tab');
  await page.keyboard.type('not-the-password', { delay: 5 });
  await Promise.all([page.waitForLoadState('load'), page.click('button[name="decision"][value="allow"]')]);
  await page.waitForSelector('#password');
  const after = await page.textContent('body');
  check(/wrong username or password/i.test(after), 'wrong password: generic error shown');
  check(!page.url().startsWith(REDIRECT), 'wrong password: no redirect to the client');
  await shot('2-wrong-password');

  // The username is kept; type the password and press Enter on Allow.
  const kept = await page.inputValue('#username');
  check(kept === username, 'username kept after the failed attempt');
  await page.click('#password');
  await page.keyboard.type(password, { delay: 2 });
  await shot('3-filled');
  await page.focus('button[name="decision"][value="allow"]');
  await Promise.all([page.waitForURL(`${REDIRECT}**`), page.keyboard.press('Enter')]);
  const back = new URL(page.url());
  check(back.searchParams.get('state') === state, 'allow: state returned');
  check(back.searchParams.get('iss') === meta.issuer, 'allow: iss returned (RFC 9207)');
  const code = back.searchParams.get('code');
  check(code, 'allow: code returned');
  await shot('4-back-at-client');
  await finish();

  const token = await fetch(meta.token_endpoint, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({
      grant_type: 'authorization_code',
      code,
      redirect_uri: REDIRECT,
      client_id: client.client_id,
      code_verifier: verifier,
    }),
  });
  const tokens = await token.json();
  check(token.status === 200 && tokens.access_token, 'the browser-obtained code redeems with PKCE');
}

async function denyFlow(browser, meta, client) {
  const { page, shot, finish } = await newContext(browser, 'deny');
  const state = 'deny-state';
  const challenge = b64url(crypto.createHash('sha256').update('v'.repeat(43)).digest());
  await page.goto(authorizeUrl(meta, client.client_id, { state, challenge }));
  await shot('1-sign-in');
  await typeInto(page, '#username', username);
  await page.keyboard.press('Tab');
  await page.keyboard.type(password, { delay: 2 });
  await Promise.all([page.waitForURL(`${REDIRECT}**`), page.click('button[name="decision"][value="deny"]')]);
  const back = new URL(page.url());
  check(back.searchParams.get('error') === 'access_denied', 'deny: error=access_denied at the client');
  check(back.searchParams.get('state') === state, 'deny: state returned');
  check(!back.searchParams.has('code'), 'deny: no code');
  await shot('2-back-at-client');
  await finish();
}

async function badRedirectFlow(browser, meta, client) {
  const { page, shot, finish } = await newContext(
    browser,
    'bad-redirect',
    /^Failed to load resource: the server responded with a status of 400 \(Bad Request\)$/,
  );
  const evil = 'http://evil.example/callback';
  const challenge = b64url(crypto.createHash('sha256').update('w'.repeat(43)).digest());
  const resp = await page.goto(authorizeUrl(meta, client.client_id, { redirect: evil, state: 's', challenge }));
  check(resp.status() >= 400 && resp.status() < 500, `bad redirect_uri: error page (HTTP ${resp.status()})`);
  check(new URL(page.url()).origin === new URL(issuer).origin, 'bad redirect_uri: the browser stays on the server');
  check((await page.locator('form').count()) === 0, 'bad redirect_uri: no sign-in form offered');
  await shot('1-error');
  await finish();
}

async function main() {
  const { meta, client } = await registerClient();
  const browser = await chromium.launch({
    executablePath: process.env.CHROMIUM ?? '/usr/bin/chromium',
    headless: true,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking'],
    timeout: 60_000,
  });
  try {
    console.log(`[browser] ${browser.version()}`);
    await allowFlow(browser, meta, client);
    await denyFlow(browser, meta, client);
    await badRedirectFlow(browser, meta, client);
  } finally {
    await browser.close();
    callbackServer.close();
  }
  console.log(`[browser] screenshots in ${out}`);
  console.log('[browser] PASS');
}

const timer = setTimeout(() => {
  console.error('[browser] FAIL: timed out after 240 s');
  process.exit(1);
}, 240_000);
main()
  .then(() => clearTimeout(timer))
  .catch((e) => {
    console.error(`[browser] FAIL: ${e?.stack ?? e}`);
    process.exit(1);
  });
