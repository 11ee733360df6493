// The official MCP TypeScript SDK as a real client of `mcpauth serve`:
// discovery (RFC 9728 + RFC 8414), dynamic client registration (RFC 7591),
// PKCE, the sign-in + consent form (posted like a browser would, from
// redirectToAuthorization), token exchange, then initialize, tools/list and
// tools/call whoami over Streamable HTTP. The access token is then verified
// offline with `jose` against the advertised jwks_uri (signature, iss, aud).
//
//   node interop/ts-client.ts --mcp http://127.0.0.1:P/mcp --username alice --password-file F
//
// With `--tool NAME [--tool-args JSON] --expect TEXT` the MCP server is an
// upstream behind `mcpauth serve --upstream`: the client calls NAME instead
// of whoami, checks the result text contains TEXT, and that the tools/call
// answer arrived as an SSE stream through the proxy.
//
// Node 22 runs this file directly (type stripping); no build step.

import fs from 'node:fs';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { UnauthorizedError } from '@modelcontextprotocol/sdk/client/auth.js';
import type { OAuthClientProvider } from '@modelcontextprotocol/sdk/client/auth.js';
import type {
  OAuthClientInformationMixed,
  OAuthClientMetadata,
  OAuthTokens,
} from '@modelcontextprotocol/sdk/shared/auth.js';
import { createRemoteJWKSet, decodeProtectedHeader, jwtVerify } from 'jose';
import { signIn } from './lib/signin.mjs';

function arg(name: string): string {
  const i = process.argv.indexOf(`--${name}`);
  const v = i >= 0 ? process.argv[i + 1] : undefined;
  if (!v) throw new Error(`missing --${name}`);
  return v;
}

function optionalArg(name: string): string | undefined {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1] : undefined;
}

const mcpUrl = arg('mcp');
const upstreamTool = optionalArg('tool');
const upstreamArgs = JSON.parse(optionalArg('tool-args') ?? '{}');
const upstreamExpect = process.argv.flatMap((a, i) => (a === '--expect' ? [process.argv[i + 1]] : []));
const username = arg('username');
const password = fs.readFileSync(arg('password-file'), 'utf8').trim();
const REDIRECT = 'http://127.0.0.1:9/callback'; // never contacted: the redirect is read, not followed

function check(cond: unknown, what: string): void {
  if (!cond) throw new Error(`check failed: ${what}`);
  console.log(`[ts-client] ok: ${what}`);
}

/** An in-memory OAuth client whose "browser" posts mcpauth's HTML form. */
class FormPostingProvider implements OAuthClientProvider {
  private info?: OAuthClientInformationMixed;
  private saved?: OAuthTokens;
  private verifier = '';
  private expectedState = crypto.randomUUID();
  code?: string;

  get redirectUrl(): string {
    return REDIRECT;
  }
  get clientMetadata(): OAuthClientMetadata {
    return {
      client_name: 'mcpauth interop (TypeScript SDK)',
      redirect_uris: [REDIRECT],
      grant_types: ['authorization_code', 'refresh_token'],
      response_types: ['code'],
      token_endpoint_auth_method: 'none',
    };
  }
  state(): string {
    return this.expectedState;
  }
  clientInformation(): OAuthClientInformationMixed | undefined {
    return this.info;
  }
  saveClientInformation(info: OAuthClientInformationMixed): void {
    this.info = info;
  }
  tokens(): OAuthTokens | undefined {
    return this.saved;
  }
  saveTokens(tokens: OAuthTokens): void {
    this.saved = tokens;
  }
  saveCodeVerifier(v: string): void {
    this.verifier = v;
  }
  codeVerifier(): string {
    return this.verifier;
  }
  async redirectToAuthorization(url: URL): Promise<void> {
    check(url.searchParams.get('code_challenge_method') === 'S256', 'authorization request uses PKCE S256');
    check(url.searchParams.get('resource') === mcpUrl, 'authorization request names the resource (RFC 8707)');
    const location = new URL(await signIn(url.toString(), { username, password }));
    check(location.toString().startsWith(REDIRECT), 'redirected to the registered redirect_uri');
    check(location.searchParams.get('state') === this.expectedState, 'state echoed');
    check(!location.searchParams.has('error'), 'no error in the authorization response');
    this.code = location.searchParams.get('code') ?? undefined;
    check(this.code, 'authorization code issued');
  }
}

/** Content types of the answers to tools/call requests, as sent on the wire. */
const callContentTypes: string[] = [];
const recordingFetch: typeof fetch = async (input, init) => {
  const response = await fetch(input, init);
  if (typeof init?.body === 'string' && init.body.includes('"tools/call"')) {
    callContentTypes.push(response.headers.get('content-type') ?? '');
  }
  return response;
};

async function main(): Promise<void> {
  const provider = new FormPostingProvider();
  const client = new Client({ name: 'mcpauth-interop-ts', version: '1.0.0' });

  // First attempt: 401 → discovery, registration, authorization.
  const first = new StreamableHTTPClientTransport(new URL(mcpUrl), { authProvider: provider });
  try {
    await client.connect(first);
    throw new Error('connected without authorization: the MCP endpoint must require a token');
  } catch (e) {
    if (!(e instanceof UnauthorizedError)) throw e;
  }
  check(provider.clientInformation()?.client_id, 'client registered dynamically');
  await first.finishAuth(provider.code as string);
  const tokens = provider.tokens();
  check(tokens?.access_token, 'token exchange returned an access token');
  check(tokens?.token_type.toLowerCase() === 'bearer', 'token_type is Bearer');

  // Second attempt with the token.
  const transport = new StreamableHTTPClientTransport(new URL(mcpUrl), {
    authProvider: provider,
    fetch: recordingFetch,
  });
  await client.connect(transport);
  check(client.getServerVersion()?.name, `initialized (server ${client.getServerVersion()?.name})`);
  const list = await client.listTools();
  const names = list.tools.map((t) => t.name);
  if (upstreamTool) {
    check(names.includes(upstreamTool), `tools/list includes ${upstreamTool} (${names.join(', ')})`);
    const result = await client.callTool({ name: upstreamTool, arguments: upstreamArgs });
    check(!result.isError, `${upstreamTool} succeeded`);
    const text = (result.content as Array<{ text?: string }>).map((c) => c.text ?? '').join(' ');
    console.log(`[ts-client] ${upstreamTool}: ${text}`);
    for (const want of upstreamExpect) {
      check(text.includes(want), `${upstreamTool} result contains ${JSON.stringify(want)}`);
    }
    check(
      callContentTypes.length > 0 && callContentTypes.every((t) => t.startsWith('text/event-stream')),
      `tools/call answered as an SSE stream (${callContentTypes.join(', ')})`,
    );
    await transport.terminateSession().catch(() => {});
    await client.close();
    console.log('[ts-client] PASS');
    return;
  }
  check(names.includes('whoami'), `tools/list includes whoami (${names.join(', ')})`);
  const who = await client.callTool({ name: 'whoami', arguments: {} });
  check(!who.isError, 'whoami succeeded');
  const text = JSON.stringify(who.structuredContent ?? who.content);
  console.log(`[ts-client] whoami: ${text}`);
  check(text.includes(provider.clientInformation()?.client_id as string), 'whoami names our client_id');
  await transport.terminateSession().catch(() => {});
  await client.close();

  // Offline verification with an independent JWT library.
  const origin = new URL(mcpUrl).origin;
  const asMeta = await (await fetch(`${origin}/.well-known/oauth-authorization-server`)).json();
  check(asMeta.jwks_uri, `jwks_uri advertised (${asMeta.jwks_uri})`);
  const jwks = createRemoteJWKSet(new URL(asMeta.jwks_uri));
  const header = decodeProtectedHeader(tokens!.access_token);
  const { payload, protectedHeader } = await jwtVerify(tokens!.access_token, jwks, {
    issuer: asMeta.issuer,
    audience: mcpUrl,
    typ: 'at+jwt', // RFC 9068 JWT access token
  });
  check(protectedHeader.kid && protectedHeader.alg, `signature verified (alg ${header.alg}, kid ${header.kid})`);
  check(payload.iss === asMeta.issuer, `iss = ${payload.iss}`);
  check(payload.aud === mcpUrl || (Array.isArray(payload.aud) && payload.aud.includes(mcpUrl)), `aud = ${payload.aud}`);
  check(typeof payload.exp === 'number' && payload.exp > Date.now() / 1000, 'exp in the future');
  check(protectedHeader.typ === 'at+jwt', 'typ = at+jwt (RFC 9068)');
  const whoSub = (who.structuredContent as { sub?: string } | undefined)?.sub;
  check(whoSub && payload.sub === whoSub, `sub = ${payload.sub}, as whoami reported`);
  console.log('[ts-client] PASS');
}

const timer = setTimeout(() => {
  console.error('[ts-client] FAIL: timed out after 60 s');
  process.exit(1);
}, 60_000);
main()
  .then(() => clearTimeout(timer))
  .catch((e) => {
    console.error(`[ts-client] FAIL: ${e?.stack ?? e}`);
    process.exit(1);
  });
