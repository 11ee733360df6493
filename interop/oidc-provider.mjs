// A real, OpenID-certified provider on loopback for the `oidc` suite: the
// npm package `oidc-provider` (pinned in package.json), with its built-in
// development login and consent pages. Any login name signs in; the name
// is the user's `sub`, and `<name>@example.com` (verified) their email.
//
//   node interop/oidc-provider.mjs --port P --client-id ID \
//     --client-secret-file F --redirect-uri URL
//
// The signing key is an RSA key generated at start-up (RS256); nothing is
// stored. PKCE is required for every client. Prints `listening on <issuer>`.

import crypto from 'node:crypto';
import fs from 'node:fs';
import Provider from 'oidc-provider';

function arg(name) {
  const i = process.argv.indexOf(`--${name}`);
  const v = i >= 0 ? process.argv[i + 1] : undefined;
  if (!v) throw new Error(`missing --${name}`);
  return v;
}

const port = Number(arg('port'));
const issuer = `http://127.0.0.1:${port}`;
const { privateKey } = crypto.generateKeyPairSync('rsa', { modulusLength: 2048 });
const jwk = { ...privateKey.export({ format: 'jwk' }), kid: 'interop-rs256', alg: 'RS256', use: 'sig' };

const provider = new Provider(issuer, {
  clients: [
    {
      client_id: arg('client-id'),
      client_secret: fs.readFileSync(arg('client-secret-file'), 'utf8').trim(),
      redirect_uris: [arg('redirect-uri')],
      grant_types: ['authorization_code'],
      response_types: ['code'],
      token_endpoint_auth_method: 'client_secret_basic',
      id_token_signed_response_alg: 'RS256',
    },
  ],
  jwks: { keys: [jwk] },
  pkce: { required: () => true },
  // The email claims in the ID token itself (mcpauth reads no userinfo).
  conformIdTokenClaims: false,
  claims: { openid: ['sub'], email: ['email', 'email_verified'] },
  features: { devInteractions: { enabled: true } },
  async findAccount(ctx, id) {
    return {
      accountId: id,
      async claims() {
        return { sub: id, email: `${id}@example.com`, email_verified: true };
      },
    };
  },
});
provider.on('server_error', (ctx, err) => console.error('[oidc-provider] server_error', err));
provider.on('grant.error', (ctx, err) => console.error('[oidc-provider] grant.error', err.message));
provider.listen(port, '127.0.0.1', () => console.log(`listening on ${issuer}`));
