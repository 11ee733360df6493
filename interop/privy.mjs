// mcpauth's built-in Privy sign-in, in a real browser: `mcpauth serve
// --privy-app-id …` (no script of the operator's) serves /privy/glue.js,
// Privy's own SDK bundled with our glue (scripts/build-privy.sh); the SDK is
// pointed at a local fake of the Privy API (interop/privy-fake.mjs, via
// --privy-api-url), and mcpauth reads the fake's public key set (no secret,
// no key file). Debian's chromium (headless, playwright-core):
//
// 1. email: clicks "Continue with Privy", enters an email, asks for a code,
//    enters a wrong one (Privy's error on the page, no navigation), then the
//    right one: the SDK logs in at the fake, the glue posts the Privy tokens
//    in the form, mcpauth verifies them and redirects with a code;
// 2. wallet: with an injected EIP-1193 wallet (window.ethereum, a stand-in:
//    its signature is not real secp256k1, the fake checks only its form and
//    the EIP-4361 message: nonce, address, the page's host as domain), the
//    panel offers "Sign in with a wallet", which signs in through Privy's
//    SIWE flow the same way.
//
// Each code redeems with PKCE and the official TypeScript SDK client's
// `whoami` shows the Privy DID the fake gave that user. No page or console
// errors (so the page's CSP blocks nothing the sign-in needs), no request
// off the machine.
//
//   node interop/privy.mjs --issuer http://127.0.0.1:P --privy-api http://127.0.0.1:Q \
//     --email ann@example.com --wallet 0x… --code-file F --out DIR

import crypto from 'node:crypto';
import fs from 'node:fs';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import {
  arg, authorizeUrl, checker, launchChromium, newContext, pkce, redeemCode, registerClient,
  startCallbackServer, typeInto,
} from './lib/browser.mjs';

const TAG = 'privy';
const check = checker(TAG);
const issuer = arg('issuer');
const privyApi = arg('privy-api');
const email = arg('email');
const wallet = arg('wallet');
const code = fs.readFileSync(arg('code-file'), 'utf8').trim();
const out = arg('out');
fs.mkdirSync(out, { recursive: true });
// The fake's user ids (interop/privy-fake.mjs, didOf).
const didOf = (id) => `did:privy:fake${crypto.createHash('sha256').update(id.toLowerCase()).digest('hex').slice(0, 20)}`;

const callback = await startCallbackServer();
const REDIRECT = callback.redirect;
const allowedOrigins = new Set([new URL(issuer).origin, new URL(privyApi).origin, new URL(REDIRECT).origin]);
const { meta, client } = await registerClient(issuer, REDIRECT, 'Privy Interop Client', check);
const stats = async () => (await fetch(`${privyApi}/__stats`)).json();
const browser = await launchChromium();

/** Open the sign-in page, check it loads the built-in script; the page. */
async function openSignIn(label, { injectWallet = false } = {}) {
  const ctx = await newContext(browser, {
    tag: TAG, label, out, allowedOrigins, check, viewport: { width: 800, height: 900 },
    // The wrong-code step's 422 from the fake is logged by chromium itself.
    ignoreConsole: /status of 422/,
  });
  if (injectWallet) {
    // A stand-in EIP-1193 wallet (what a browser extension injects).
    await ctx.context.addInitScript((address) => {
      window.ethereum = {
        request: async ({ method }) => {
          if (method === 'eth_requestAccounts' || method === 'eth_accounts') return [address];
          if (method === 'eth_chainId') return '0x1';
          if (method === 'personal_sign') return `0x${'ab'.repeat(65)}`;
          throw new Error(`unsupported: ${method}`);
        },
      };
    }, wallet);
  }
  const { verifier, challenge } = pkce();
  const state = crypto.randomBytes(12).toString('base64url');
  const glue = [];
  ctx.page.on('response', (r) => {
    if (new URL(r.url()).pathname === '/privy/glue.js') glue.push(r);
  });
  const resp = await ctx.page.goto(authorizeUrl(meta, client.client_id, { issuer, redirect: REDIRECT, state, challenge }));
  check(resp.status() === 200, `${label}: mcpauth sign-in page: HTTP 200`);
  const csp = resp.headers()['content-security-policy'] ?? '';
  check(csp.includes(`script-src ${issuer}/privy/glue.js;`) && csp.includes(`connect-src ${privyApi};`), `${label}: CSP ${csp}`);
  check(glue.length === 1 && glue[0].status() === 200, `${label}: the page loaded /privy/glue.js from mcpauth`);
  check((glue[0].headers()['content-type'] ?? '').startsWith('text/javascript'), `${label}: served as JavaScript`);
  check(glue[0].headers()['content-encoding'] === 'gzip', `${label}: gzipped for the browser`);
  check((await ctx.page.textContent('#privy-login')).includes('Continue with Privy'), `${label}: the page offers "Continue with Privy"`);
  return { ...ctx, verifier, state };
}

/** The client's side after the redirect: code → tokens → whoami's `sub`. */
async function redeemAndWhoami(label, url, { verifier, state }) {
  const back = new URL(url);
  check(back.searchParams.get('state') === state, `${label}: state returned to the client`);
  check(back.searchParams.get('iss') === issuer, `${label}: RFC 9207 iss is mcpauth`);
  const authCode = back.searchParams.get('code');
  check(!!authCode, `${label}: a code for the client`);
  const { status, tokens } = await redeemCode(meta, client.client_id, {
    code: authCode, verifier, redirect: REDIRECT, resource: `${issuer}/mcp`,
  });
  check(status === 200 && tokens.access_token, `${label}: token exchange: HTTP ${status}`);
  const transport = new StreamableHTTPClientTransport(new URL(`${issuer}/mcp`), {
    requestInit: { headers: { Authorization: `Bearer ${tokens.access_token}` } },
  });
  const mcp = new Client({ name: 'mcpauth-privy-interop', version: '1.0.0' });
  await mcp.connect(transport);
  const result = await mcp.callTool({ name: 'whoami', arguments: {} });
  await mcp.close();
  return result.structuredContent?.sub ?? JSON.parse(result.content[0].text).sub;
}

// 1. Email and a one-time code.
{
  const { page, shot, finish, ...flow } = await openSignIn('email');
  check(!(await page.$('#privy-wallet')), 'email: no wallet in this browser, no wallet button');
  await shot('1-sign-in');
  await page.click('#privy-login');
  await page.waitForSelector('#privy-email', { state: 'visible' });
  await typeInto(page, '#privy-email', email);
  await page.click('#privy-send-code');
  await page.waitForSelector('#privy-code', { state: 'visible' });
  check((await stats())['passwordless/init'] === 1, 'email: the SDK asked the (fake) Privy API for a code');
  await shot('2-code');

  // A wrong code: Privy's error on the page, no navigation.
  await typeInto(page, '#privy-code', code === '000000' ? '111111' : '000000');
  await page.click('#privy-verify');
  await page.waitForSelector('#privy-status:not([hidden])');
  const error = await page.textContent('#privy-status');
  check(/Invalid email and code/.test(error), `email: wrong code: the page says "${error}"`);
  check(page.url().startsWith(issuer), 'email: wrong code: still on the sign-in page');
  await shot('3-wrong-code');

  await page.fill('#privy-code', '');
  await typeInto(page, '#privy-code', code);
  await Promise.all([page.waitForURL((u) => u.href.startsWith(REDIRECT), { timeout: 30000 }), page.click('#privy-verify')]);
  await shot('4-back-at-client');
  const s = await stats();
  check(s['passwordless/authenticate'] === 1 && s.jwks === 1 && !s.key,
    `email: the fake saw one login and one fetch of the public key set: ${JSON.stringify(s)}`);
  const back = page.url();
  await finish();
  const sub = await redeemAndWhoami('email', back, flow);
  check(sub === didOf(email), `email: whoami: sub ${sub} is the Privy DID`);
}

// 2. A wallet, through Privy's Sign-In With Ethereum.
{
  const { page, shot, finish, ...flow } = await openSignIn('wallet', { injectWallet: true });
  await page.click('#privy-login');
  await page.waitForSelector('#privy-wallet', { state: 'visible' });
  await shot('1-wallet-offered');
  await Promise.all([page.waitForURL((u) => u.href.startsWith(REDIRECT), { timeout: 30000 }), page.click('#privy-wallet')]);
  const s = await stats();
  check(s['siwe/init'] === 1 && s['siwe/authenticate'] === 1 && !s['siwe/authenticate refused'],
    `wallet: one SIWE login at the fake (nonce, address, this host as domain): ${JSON.stringify(s)}`);
  check(s.jwks === 1, 'wallet: the key set was not fetched again (cached)');
  const back = page.url();
  await finish();
  const sub = await redeemAndWhoami('wallet', back, flow);
  check(sub === didOf(wallet), `wallet: whoami: sub ${sub} is the Privy DID`);
}

await browser.close();
callback.close();
console.log('[privy] all checks passed');
