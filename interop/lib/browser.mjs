// What the browser interop scripts (browser.mjs, oidc.mjs) share: command
// line flags, the client's loopback redirect page, dynamic registration,
// authorization URLs with PKCE, Debian's chromium (headless, playwright-core)
// and a browser context that records page errors, console errors and
// requests off the allowed origins, and typing as a person does.

import crypto from 'node:crypto';
import http from 'node:http';
import path from 'node:path';
import { chromium } from 'playwright-core';

/** The value of `--name` on the command line (`fallback` when absent). */
export function arg(name, fallback) {
  const i = process.argv.indexOf(`--${name}`);
  const v = i >= 0 ? process.argv[i + 1] : fallback;
  if (!v) throw new Error(`missing --${name}`);
  return v;
}

/** A `check(cond, what)` that throws on failure and logs `[tag] ok: what`. */
export function checker(tag) {
  return (cond, what) => {
    if (!cond) throw new Error(`check failed: ${what}`);
    console.log(`[${tag}] ok: ${what}`);
  };
}

export const b64url = (buf) => Buffer.from(buf).toString('base64url');

/** A fresh PKCE pair: `{ verifier, challenge }` (S256). */
export function pkce() {
  const verifier = b64url(crypto.randomBytes(32));
  const challenge = b64url(crypto.createHash('sha256').update(verifier).digest());
  return { verifier, challenge };
}

/**
 * The client's side of the redirect: a tiny page on loopback, like a native
 * app's RFC 8252 loopback listener. Returns `{ redirect, close }`.
 */
export async function startCallbackServer() {
  const server = http.createServer((req, res) => {
    res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' });
    res.end('<!doctype html><title>Client callback</title><h1>Back at the client</h1>');
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    redirect: `http://127.0.0.1:${server.address().port}/callback`,
    close: () => server.close(),
  };
}

/**
 * Register a public client named `name` for `redirect` at `issuer`:
 * `{ meta, client }` (the server's metadata and the registration answer).
 */
export async function registerClient(issuer, redirect, name, check) {
  const meta = await (await fetch(`${issuer}/.well-known/oauth-authorization-server`)).json();
  const r = await fetch(meta.registration_endpoint, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({
      client_name: name,
      redirect_uris: [redirect],
      token_endpoint_auth_method: 'none',
      grant_types: ['authorization_code', 'refresh_token'],
      response_types: ['code'],
    }),
  });
  check(r.status === 201, 'client registered');
  return { meta, client: await r.json() };
}

/** The authorization URL of a code + PKCE request for `issuer`/mcp. */
export function authorizeUrl(meta, clientId, { issuer, redirect, state, challenge }) {
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

/** Debian's chromium, headless (playwright-core never downloads one). */
export function launchChromium() {
  return chromium.launch({
    executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
    headless: true,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking'],
    timeout: 60_000,
  });
}

/**
 * A fresh browser context and page that record page errors, console errors
 * (except those `ignoreConsole` matches) and requests to origins outside
 * `allowedOrigins`: a problem each, or with `abortForeign` aborted and only
 * listed (for pages that pull in resources from elsewhere, such as a web
 * font). `shot(name)` saves a screenshot to `out`/`label`-`name`.png;
 * `finish()` closes the context and checks that nothing went wrong.
 */
export async function newContext(browser, {
  tag, label, out, allowedOrigins, check,
  ignoreConsole = null, abortForeign = false, viewport = { width: 800, height: 700 },
}) {
  const context = await browser.newContext({ viewport });
  const problems = [];
  const requests = [];
  const blocked = [];
  if (abortForeign) {
    await context.route('**/*', (route) => {
      if (allowedOrigins.has(new URL(route.request().url()).origin)) return route.continue();
      blocked.push(route.request().url());
      return route.abort();
    });
  } else {
    context.on('request', (req) => {
      requests.push(req.url());
      if (!allowedOrigins.has(new URL(req.url()).origin)) problems.push(`request to a foreign host: ${req.url()}`);
    });
  }
  const page = await context.newPage();
  page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
  page.on('console', (m) => {
    if (m.type() !== 'error') return;
    if (ignoreConsole && ignoreConsole.test(m.text())) {
      console.log(`[${tag}] expected console message: ${m.text()}`);
      return;
    }
    problems.push(`console error on ${page.url()}: ${m.text()}`);
  });
  const shot = async (name) => {
    const file = path.join(out, `${label}-${name}.png`);
    await page.screenshot({ path: file, fullPage: true });
    console.log(`[${tag}] screenshot ${file}`);
  };
  const finish = async () => {
    await context.close();
    if (blocked.length) console.log(`[${tag}] blocked off-machine requests: ${[...new Set(blocked)].join(', ')}`);
    const seen = abortForeign ? '' : ` (${requests.length} requests)`;
    check(problems.length === 0, `${label}: no page or console errors, no foreign requests${seen}${problems.length ? ': ' + problems.join('; ') : ''}`);
  };
  return { context, page, shot, finish };
}

/** Type into a field as a person does: click it, then type. */
export async function typeInto(page, selector, text) {
  await page.click(selector);
  await page.keyboard.type(text, { delay: 5 });
}

/** Redeem `code` at the token endpoint with PKCE: `{ status, tokens }`. */
export async function redeemCode(meta, clientId, { code, verifier, redirect, resource }) {
  const body = new URLSearchParams({
    grant_type: 'authorization_code',
    code,
    redirect_uri: redirect,
    client_id: clientId,
    code_verifier: verifier,
  });
  if (resource) body.set('resource', resource);
  const r = await fetch(meta.token_endpoint, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body,
  });
  return { status: r.status, tokens: await r.json() };
}
