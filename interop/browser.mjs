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
import {
  arg, authorizeUrl as authorizeUrlFor, b64url, checker, launchChromium, newContext as newContextWith,
  pkce, redeemCode, registerClient as register, startCallbackServer, typeInto,
} from './lib/browser.mjs';

const issuer = arg('issuer');
const username = arg('username');
const password = fs.readFileSync(arg('password-file'), 'utf8').trim();
const out = arg('out');
fs.mkdirSync(out, { recursive: true });

const callbackServer = await startCallbackServer();
const REDIRECT = callbackServer.redirect;
const allowedOrigins = new Set([new URL(issuer).origin, new URL(REDIRECT).origin]);
const check = checker('browser');

const registerClient = () => register(issuer, REDIRECT, 'Browser Interop Client', check);

function authorizeUrl(meta, clientId, { redirect = REDIRECT, state, challenge }) {
  return authorizeUrlFor(meta, clientId, { issuer, redirect, state, challenge });
}

/** A fresh browser context that records console errors and every request. */
function newContext(browser, label, expectedConsole = null) {
  return newContextWith(browser, { tag: 'browser', label, out, allowedOrigins, check, ignoreConsole: expectedConsole });
}

async function allowFlow(browser, meta, client) {
  const { page, shot, finish } = await newContext(browser, 'allow');
  const { verifier, challenge } = pkce();
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

  const { status, tokens } = await redeemCode(meta, client.client_id, { code, verifier, redirect: REDIRECT });
  check(status === 200 && tokens.access_token, 'the browser-obtained code redeems with PKCE');
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
  const browser = await launchChromium();
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
