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
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import {
  arg, authorizeUrl as authorizeUrlFor, b64url, checker, launchChromium, newContext as newContextWith,
  pkce, redeemCode, registerClient, startCallbackServer, typeInto,
} from './lib/browser.mjs';

const issuer = arg('issuer');
const providerIssuer = arg('provider-issuer');
const providerId = arg('provider-id');
const providerName = arg('provider-name');
const login = arg('login');
const out = arg('out');
const tokenOut = process.argv.includes('--token-out') ? arg('token-out') : null;
fs.mkdirSync(out, { recursive: true });

const callbackServer = await startCallbackServer();
const REDIRECT = callbackServer.redirect;
const allowedOrigins = new Set([new URL(issuer).origin, new URL(providerIssuer).origin, new URL(REDIRECT).origin]);
const check = checker('oidc');

const expectedSub = `oidc:${b64url(crypto.createHash('sha256').update(`${providerIssuer}\0${login}`).digest())}`;

const { meta, client } = await registerClient(issuer, REDIRECT, 'OIDC Interop Client', check);

const authorizeUrl = (state, challenge) =>
  authorizeUrlFor(meta, client.client_id, { issuer, redirect: REDIRECT, state, challenge });

const browser = await launchChromium();

// The provider's development pages import a web font: never leave the
// machine (aborted and listed, not an error). Chromium logs the blocked
// font and an error page's HTTP status itself.
const newContext = (label) => newContextWith(browser, {
  tag: 'oidc', label, out, allowedOrigins, check,
  abortForeign: true, ignoreConsole: /net::ERR_FAILED|status of 403/, viewport: { width: 800, height: 800 },
});

/** From mcpauth's sign-in page to the provider's login form. */
async function toProvider(page) {
  await Promise.all([page.waitForURL((u) => u.href.startsWith(`${providerIssuer}/interaction/`)), page.click(`#upstream-${providerId}`)]);
  await page.waitForSelector('input[name="login"]');
}

// 1. The whole sign-in.
let accessToken;
{
  const { page, shot, finish } = await newContext('signin');
  const { verifier, challenge } = pkce();
  const state = b64url(crypto.randomBytes(12));
  const resp = await page.goto(authorizeUrl(state, challenge));
  check(resp.status() === 200, 'mcpauth sign-in page: HTTP 200');
  const button = `#upstream-${providerId}`;
  check((await page.textContent(button)).includes(`Continue with ${providerName}`), `the page offers "Continue with ${providerName}"`);
  await shot('1-mcpauth-sign-in');
  await toProvider(page);
  check(true, `at the provider: ${new URL(page.url()).pathname}`);
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

  const { status, tokens } = await redeemCode(meta, client.client_id, {
    code, verifier, redirect: REDIRECT, resource: `${issuer}/mcp`,
  });
  check(status === 200 && tokens.access_token, `token exchange: HTTP ${status}`);
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
  const { challenge } = pkce();
  await page.goto(authorizeUrl('st-cancel', challenge));
  await toProvider(page);
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
