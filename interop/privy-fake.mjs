// A local fake of the Privy API, for the browser test of mcpauth's built-in
// Privy sign-in (interop/privy.mjs): Privy's own SDK, bundled into
// /privy/glue.js, talks to this instead of https://auth.privy.io
// (`mcpauth serve --privy-api-url`). It answers the calls that SDK makes for
// an email one-time-code login, with the shapes of Privy's API, and signs
// tokens ES256 with a key made at start (never written anywhere but memory):
//
//   GET  /v1/apps/:app_id/jwks.json   the app's public key set, no credentials
//                                     (the server's key fetch with only an app id)
//   GET  /api/v1/apps/:app_id         with HTTP Basic app id:app secret (the
//                                     server's key fetch with the secret):
//                                     {id, verification_key}; with privy-app-id
//                                     (the SDK): the app config
//   POST /api/v1/analytics_events     200 {}
//   POST /api/v1/passwordless/init    {email} → 200 {success: true}
//   POST /api/v1/passwordless/authenticate
//                                     {email, code}: the right code → user, access
//                                     token (with sid), identity token (linked
//                                     email), refresh token; else 422
//   POST /api/v1/siwe/init            {address} → {nonce}
//   POST /api/v1/siwe/authenticate    {message, signature}: an EIP-4361 message for
//                                     that nonce and address, for the page's host →
//                                     the same session answer (linked wallet)
//   GET  /__stats                     request counts per route (for the driver)
//
// Browser requests are cross-origin (mcpauth's page → this port) and the
// SDK sends them with credentials: CORS is answered for the page's origin
// only, with Access-Control-Allow-Credentials, as Privy's API does.
//
//   node interop/privy-fake.mjs --port P --app-id ID --app-secret-file F \
//     --code-file F --page-origin http://127.0.0.1:Q

import crypto from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';

function arg(name) {
  const i = process.argv.indexOf(`--${name}`);
  const v = i >= 0 ? process.argv[i + 1] : undefined;
  if (!v) throw new Error(`missing --${name}`);
  return v;
}

const port = Number(arg('port'));
const appId = arg('app-id');
const appSecret = fs.readFileSync(arg('app-secret-file'), 'utf8').trim();
const code = fs.readFileSync(arg('code-file'), 'utf8').trim();
const pageOrigin = arg('page-origin');

const { privateKey, publicKey } = crypto.generateKeyPairSync('ec', { namedCurve: 'P-256' });
const verificationKey = publicKey.export({ type: 'spki', format: 'pem' });
const { kty, crv, x, y } = publicKey.export({ format: 'jwk' });
const jwks = { keys: [{ kty, crv, x, y, alg: 'ES256', use: 'sig', kid: 'fake-privy' }] };

const b64url = (x) => Buffer.from(x).toString('base64url');
function sign(claims) {
  const head = b64url(JSON.stringify({ alg: 'ES256', typ: 'JWT', kid: 'fake-privy' }));
  const body = b64url(JSON.stringify(claims));
  const sig = crypto.sign('sha256', Buffer.from(`${head}.${body}`), { key: privateKey, dsaEncoding: 'ieee-p1363' });
  return `${head}.${body}.${b64url(sig)}`;
}

/** The Privy user id of an email: stable, as Privy's are. */
function didOf(email) {
  return `did:privy:fake${crypto.createHash('sha256').update(email).digest('hex').slice(0, 20)}`;
}

/** What Privy answers a login with: the user, its tokens, a session. */
function session(sub, accounts, now) {
  return {
    user: { id: sub, created_at: now, linked_accounts: accounts, mfa_methods: [], has_accepted_terms: true, is_guest: false },
    is_new_user: false,
    token: sign({ sid: crypto.randomUUID(), iss: 'privy.io', iat: now, aud: appId, sub, exp: now + 3600 }),
    privy_access_token: null,
    refresh_token: b64url(crypto.randomBytes(24)),
    identity_token: sign({ iss: 'privy.io', iat: now, aud: appId, sub, exp: now + 3600, linked_accounts: JSON.stringify(accounts) }),
    session_update_action: 'set',
  };
}

/** SIWE nonces issued, by nonce: the address they were issued to. */
const nonces = new Map();
const stats = {};
const count = (route) => {
  stats[route] = (stats[route] ?? 0) + 1;
};

function send(res, status, body, extra = {}) {
  const text = JSON.stringify(body);
  res.writeHead(status, {
    'content-type': 'application/json',
    'content-length': Buffer.byteLength(text),
    'access-control-allow-origin': pageOrigin,
    'access-control-allow-credentials': 'true',
    vary: 'origin',
    ...extra,
  });
  res.end(text);
}

async function readJson(req) {
  let size = 0;
  const chunks = [];
  for await (const c of req) {
    size += c.length;
    if (size > 64 * 1024) throw new Error('body too large');
    chunks.push(c);
  }
  return chunks.length ? JSON.parse(Buffer.concat(chunks).toString('utf8')) : {};
}

const server = http.createServer(async (req, res) => {
  const url = new URL(req.url, `http://127.0.0.1:${port}`);
  const path = url.pathname;
  try {
    if (req.method === 'OPTIONS') {
      count('preflight');
      if (req.headers.origin !== pageOrigin) return send(res, 403, { error: 'origin' });
      res.writeHead(204, {
        'access-control-allow-origin': pageOrigin,
        'access-control-allow-credentials': 'true',
        'access-control-allow-methods': 'GET, POST',
        'access-control-allow-headers': req.headers['access-control-request-headers'] ?? '',
        'access-control-max-age': '600',
        vary: 'origin',
      });
      return res.end();
    }
    if (req.method === 'GET' && path === '/__stats') return send(res, 200, stats);
    if (req.method === 'GET' && path === `/v1/apps/${appId}/jwks.json`) {
      count('jwks');
      return send(res, 200, jwks);
    }
    if (req.method === 'GET' && path === `/api/v1/apps/${appId}`) {
      const basic = `Basic ${Buffer.from(`${appId}:${appSecret}`).toString('base64')}`;
      if (req.headers.authorization === basic) {
        count('key');
        return send(res, 200, { id: appId, name: 'mcpauth interop', verification_key: verificationKey });
      }
      if (req.headers['privy-app-id'] !== appId) return send(res, 401, { error: 'unauthorized' });
      count('app-config');
      return send(res, 200, {
        id: appId,
        name: 'mcpauth interop',
        logo_url: null,
        allowlist_enabled: false,
        embedded_wallet_config: { create_on_login: 'off' },
        email_auth: true,
        sms_auth: false,
        wallet_auth: true,
        custom_api_url: null,
      });
    }
    if (req.headers['privy-app-id'] !== appId) return send(res, 401, { error: 'missing privy-app-id' });
    if (req.method === 'POST' && path === '/api/v1/analytics_events') {
      count('analytics');
      await readJson(req);
      return send(res, 200, {});
    }
    if (req.method === 'POST' && path === '/api/v1/passwordless/init') {
      const { email } = await readJson(req);
      if (typeof email !== 'string' || !email.includes('@')) {
        return send(res, 400, { error: 'Invalid email', code: 'invalid_data' });
      }
      count('passwordless/init');
      return send(res, 200, { success: true });
    }
    if (req.method === 'POST' && path === '/api/v1/siwe/init') {
      const { address } = await readJson(req);
      if (typeof address !== 'string' || !/^0x[0-9a-fA-F]{40}$/.test(address)) {
        return send(res, 400, { error: 'Invalid address', code: 'invalid_data' });
      }
      count('siwe/init');
      const nonce = b64url(crypto.randomBytes(12));
      nonces.set(nonce, address.toLowerCase());
      return send(res, 200, { nonce, address, expires_at: new Date(Date.now() + 600_000).toISOString() });
    }
    if (req.method === 'POST' && path === '/api/v1/siwe/authenticate') {
      // A fake: the signature's form is checked, not its secp256k1 math
      // (Privy's job); the EIP-4361 message must be for a nonce this fake
      // issued to that address, and name the page's host as its domain.
      const body = await readJson(req);
      const message = typeof body.message === 'string' ? body.message : '';
      const nonce = message.match(/\nNonce: (\S+)/)?.[1];
      const address = message.split('\n')[1]?.trim().toLowerCase();
      const domain = message.split(' wants you to sign in')[0];
      const ok = /^0x[0-9a-f]{130}$/i.test(body.signature ?? '') && nonce && nonces.get(nonce) === address
        && domain === new URL(pageOrigin).host;
      if (!ok) {
        count('siwe/authenticate refused');
        return send(res, 401, { error: 'Invalid SIWE message or signature', code: 'invalid_credentials' });
      }
      nonces.delete(nonce);
      count('siwe/authenticate');
      const now = Math.floor(Date.now() / 1000);
      const account = { type: 'wallet', address, chain_type: 'ethereum', wallet_client_type: 'unknown', verified_at: now };
      return send(res, 200, session(didOf(address), [account], now));
    }
    if (req.method === 'POST' && path === '/api/v1/passwordless/authenticate') {
      const body = await readJson(req);
      if (body.code !== code || typeof body.email !== 'string') {
        count('passwordless/authenticate refused');
        return send(res, 422, { error: 'Invalid email and code combination', code: 'invalid_credentials' });
      }
      count('passwordless/authenticate');
      const email = body.email.toLowerCase();
      const sub = didOf(email);
      const now = Math.floor(Date.now() / 1000);
      const account = { type: 'email', address: email, verified_at: now, first_verified_at: now, latest_verified_at: now };
      return send(res, 200, session(sub, [account], now));
    }
    count(`unknown ${req.method} ${path}`);
    return send(res, 404, { error: 'not found' });
  } catch (e) {
    return send(res, 400, { error: String(e.message ?? e) });
  }
});

server.listen(port, '127.0.0.1', () => console.log(`[privy-fake] listening on http://127.0.0.1:${port}`));
