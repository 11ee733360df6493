// Run the official MCP conformance suite (@modelcontextprotocol/conformance)
// against mcpauth and compare the results with interop/conformance-baseline.txt.
//
//   node interop/conformance.mjs --everything http://127.0.0.1:P/mcp \
//     [--everything-stateless http://127.0.0.1:S/mcp] \
//     --issuer http://127.0.0.1:Q --username alice --password-file F --out DIR
//
// - `server` mode: every scenario of 2025-06-18, 2025-11-25 and 2026-07-28
//   (`--suite all --spec-version V`) against the everything example; again
//   as `server-stateless` against the example in stateless mode (2025 era
//   without sessions, the ChatGPT configuration) when given.
// - `server-proxied` mode (with `--proxy-issuer URL`, an `mcpauth serve
//   --upstream` whose /mcp forwards to the everything example run without
//   auth): every server scenario again, through the auth proxy. The suite
//   cannot send a token, so a token is obtained with the whole OAuth flow
//   first and a loopback shim adds `Authorization: Bearer` to each request
//   (streaming both ways, nothing else changed).
// - `authorization` mode: both authorization-server scenarios against
//   `mcpauth serve`; the client is registered with RFC 7591 first, and the
//   sign-in/consent form is posted when the suite prints its authorization
//   URL, so the redirect reaches the suite's callback.
//
// A scenario passes when it has at least one SUCCESS check and no FAILURE.
// Exit status: 0 when every result matches the baseline; 1 on a new failure
// or a baseline entry that no longer fails (stale: remove it).

import { spawn } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { signIn } from './lib/signin.mjs';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const SUITE = path.join(HERE, 'node_modules/@modelcontextprotocol/conformance/dist/index.js');
const VERSIONS = ['2025-06-18', '2025-11-25', '2026-07-28'];

function args() {
  const a = process.argv.slice(2);
  const o = {};
  for (let i = 0; i < a.length; i += 2) o[a[i].replace(/^--/, '')] = a[i + 1];
  for (const k of ['everything', 'issuer', 'username', 'password-file', 'out']) {
    if (!o[k]) throw new Error(`missing --${k}`);
  }
  o.baseline ??= path.join(HERE, 'conformance-baseline.txt');
  o['not-applicable'] ??= path.join(HERE, 'conformance-not-applicable.txt');
  o.password = fs.readFileSync(o['password-file'], 'utf8').trim();
  return o;
}

/** Run the suite CLI; `onLine` sees each stdout line. Bounded by `timeoutMs`. */
function runSuite(argv, logFile, timeoutMs, onLine) {
  return new Promise((resolve) => {
    const log = fs.createWriteStream(logFile);
    const child = spawn(process.execPath, [SUITE, ...argv], { stdio: ['ignore', 'pipe', 'pipe'] });
    const timer = setTimeout(() => {
      log.write(`\n[interop] timed out after ${timeoutMs} ms, killing\n`);
      child.kill('SIGKILL');
    }, timeoutMs);
    let buf = '';
    child.stdout.on('data', (d) => {
      log.write(d);
      buf += d.toString();
      let i;
      while ((i = buf.indexOf('\n')) >= 0) {
        const line = buf.slice(0, i);
        buf = buf.slice(i + 1);
        onLine?.(line);
      }
    });
    child.stderr.on('data', (d) => log.write(d));
    child.on('close', (code) => {
      clearTimeout(timer);
      log.end(() => resolve(code));
    });
  });
}

function freePort() {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
    s.on('error', reject);
  });
}

/** Results of one suite run: Map scenario -> checks[]. */
function readResults(dir, prefix) {
  const out = new Map();
  if (!fs.existsSync(dir)) return out;
  for (const d of fs.readdirSync(dir)) {
    const file = path.join(dir, d, 'checks.json');
    if (!fs.existsSync(file)) continue;
    const scenario = d
      .replace(new RegExp(`^${prefix}-`), '')
      .replace(/-\d{4}-\d\d-\d\dT[\d-]+Z$/, '');
    const checks = JSON.parse(fs.readFileSync(file, 'utf8'));
    out.set(scenario, (out.get(scenario) ?? []).concat(checks));
  }
  return out;
}

/**
 * The baseline: lines `MODES VERSIONS SCENARIO[:CHECK] -- REASON`, where
 * MODES and VERSIONS are comma-separated lists (modes: server,
 * server-stateless, authorization; versions: spec versions, or `-` for the
 * authorization mode, which has none). Every entry needs a reason.
 */
function readBaseline(file) {
  const entries = [];
  const lines = fs.readFileSync(file, 'utf8').split('\n');
  lines.forEach((raw, n) => {
    const line = raw.trim();
    if (!line || line.startsWith('#')) return;
    const [head, reason] = line.split(/\s+--\s+/, 2);
    const [modes, versions, target] = head.trim().split(/\s+/);
    if (!modes || !versions || !target || !reason?.trim()) {
      throw new Error(`${file}:${n + 1}: expected "MODES VERSIONS SCENARIO[:CHECK] -- REASON"`);
    }
    const [scenario, check] = target.split(/:(.*)/s, 2);
    for (const mode of modes.split(',')) {
      for (const v of versions.split(',')) {
        entries.push({
          mode, version: v, scenario, check: check || null, reason: reason.trim(), line: n + 1, modes, versions,
        });
      }
    }
  });
  return entries;
}

function verdict(checks) {
  const fail = checks.filter((c) => c.status === 'FAILURE');
  const ok = checks.filter((c) => c.status === 'SUCCESS');
  const warn = checks.filter((c) => c.status === 'WARNING');
  if (fail.length) return { state: 'fail', fail, ok, warn };
  if (ok.length) return { state: 'pass', fail, ok, warn };
  return { state: 'not-exercised', fail, ok, warn };
}

function compare(runs, baseline, notApplicable = []) {
  const rows = [];
  const problems = [];
  const used = new Set();
  for (const { mode, version, results } of runs) {
    for (const [scenario, checks] of [...results.entries()].sort()) {
      const v = verdict(checks);
      const na = notApplicable.find(
        (e) => e.mode === mode && e.version === version && e.scenario === scenario && !e.check,
      );
      if (na) {
        // Not judged: the scenario cannot apply to this mode (reason in
        // interop/conformance-not-applicable.txt); the suite has no way to
        // leave one scenario of `--suite all` out, so it runs, unjudged.
        used.add(na);
        rows.push({ mode, version, scenario, state: 'not applicable', ok: v.ok.length, fail: v.fail.length, warn: v.warn.length, warnings: [] });
        continue;
      }
      const entries = baseline.filter(
        (e) => e.mode === mode && e.version === version && e.scenario === scenario,
      );
      const whole = entries.find((e) => !e.check);
      const perCheck = entries.filter((e) => e.check);
      entries.forEach((e) => used.add(e));
      let state = v.state;
      const where = `${mode} ${version} ${scenario}`;
      if (whole) {
        if (v.state === 'pass') {
          state = 'STALE';
          problems.push(`${where}: passes now; remove baseline line ${whole.line}`);
        } else {
          state = `expected-${v.state}`;
        }
      } else if (v.state === 'not-exercised') {
        state = 'NOT-EXERCISED';
        problems.push(`${where}: no check succeeded or failed (nothing exercised)`);
      } else {
        const excused = new Set(perCheck.map((e) => e.check));
        const unexpected = v.fail.filter((c) => !excused.has(c.id));
        for (const c of unexpected) {
          problems.push(`${where}: NEW FAILURE ${c.id}: ${(c.errorMessage ?? '').slice(0, 300)}`);
        }
        for (const e of perCheck) {
          const seen = checks.filter((c) => c.id === e.check);
          if (seen.length && seen.every((c) => c.status === 'SUCCESS')) {
            problems.push(`${where}:${e.check}: passes now; remove baseline line ${e.line}`);
          }
        }
        if (unexpected.length) state = 'FAIL';
        else if (v.fail.length) state = 'pass (baselined checks fail)';
      }
      rows.push({ mode, version, scenario, state, ok: v.ok.length, fail: v.fail.length, warn: v.warn.length, warnings: v.warn });
    }
  }
  for (const e of baseline.concat(notApplicable)) {
    if (!used.has(e) && runs.some((r) => r.mode === e.mode && (r.version === e.version))) {
      problems.push(`line ${e.line} (${e.mode} ${e.version} ${e.scenario}): scenario did not run`);
    }
  }
  return { rows, problems };
}

/** The "Core gaps" comment block of the baseline, as markdown. */
function gapsOf(file) {
  const out = [];
  let inside = false;
  for (const raw of fs.readFileSync(file, 'utf8').split('\n')) {
    if (!raw.startsWith('#')) {
      if (inside) break;
      continue;
    }
    const text = raw.replace(/^# ?/, '');
    if (/^Core gaps/.test(text)) inside = true;
    else if (inside && text.trim() === '') break;
    else if (inside) out.push(/^\s+G\d/.test(text) ? `- ${text.trim()}` : `  ${text.trim()}`);
  }
  return out;
}

function markdown(rows, baseline, baselineFile, notApplicable) {
  const lines = ['# MCP conformance results', ''];
  lines.push(
    'Generated by `scripts/interop.sh` with `@modelcontextprotocol/conformance` ' +
      `(see interop/package-lock.json) on ${new Date().toISOString().slice(0, 10)}.`,
  );
  lines.push('');
  const count = (p) => rows.filter((r) => p(r.state)).length;
  lines.push(
    `${rows.length} scenario runs: ${count((s) => s.startsWith('pass'))} pass, ` +
      `${count((s) => s.startsWith('expected-'))} fail as expected (baseline below), ` +
      `${count((s) => s === 'not applicable')} not applicable (list below, not judged), ` +
      `${count((s) => !s.startsWith('pass') && !s.startsWith('expected-') && s !== 'not applicable')} unexpected. ` +
      'Server mode runs against `host-std/examples/everything.rs` (no authorization), ' +
      '`server-stateless` against the same example with `McpConfig::stateless` (2025 era without sessions); ' +
      'authorization mode against `mcpauth serve`, its sign-in and consent form posted by the script.',
  );
  lines.push('');
  lines.push('| mode | spec version | scenario | result | checks ok / failed / warnings |');
  lines.push('| --- | --- | --- | --- | --- |');
  for (const r of rows) {
    lines.push(`| ${r.mode} | ${r.version} | ${r.scenario} | ${r.state} | ${r.ok} / ${r.fail} / ${r.warn} |`);
  }
  const warned = rows.filter((r) => r.warn);
  if (warned.length) {
    lines.push('');
    lines.push('## Warnings (SHOULD-level checks)');
    lines.push('');
    for (const r of warned) {
      for (const w of r.warnings) {
        lines.push(`- ${r.mode} ${r.version} ${r.scenario} \`${w.id}\`: ${(w.errorMessage ?? '').replaceAll('|', '/')}`);
      }
    }
  }
  lines.push('');
  lines.push('## Gaps of mcpauth-core behind the expected failures');
  lines.push('');
  lines.push(...gapsOf(baselineFile));
  lines.push('');
  lines.push('## Expected failures (interop/conformance-baseline.txt)');
  lines.push('');
  const seen = new Set();
  for (const e of baseline) {
    if (seen.has(e.line)) continue;
    seen.add(e.line);
    const target = `${e.scenario}${e.check ? ':' + e.check : ''}`;
    lines.push(`- **${target}** (${e.modes.replaceAll(',', ', ')}; ${e.versions.replaceAll(',', ', ')}): ${e.reason}`);
  }
  if (!baseline.length) lines.push('None.');
  lines.push('');
  lines.push('## Not applicable (interop/conformance-not-applicable.txt)');
  lines.push('');
  lines.push('Run by `--suite all` but not judged: each needs what the mode does not have.');
  lines.push('');
  const seenNa = new Set();
  for (const e of notApplicable) {
    if (seenNa.has(e.line)) continue;
    seenNa.add(e.line);
    lines.push(`- **${e.scenario}** (${e.modes.replaceAll(',', ', ')}; ${e.versions.replaceAll(',', ', ')}): ${e.reason}`);
  }
  return lines.join('\n') + '\n';
}

async function authorization(o) {
  const out = path.join(o.out, 'authorization');
  const meta = await (await fetch(`${o.issuer}/.well-known/oauth-authorization-server`)).json();
  const port = await freePort();
  const redirect = `http://127.0.0.1:${port}/callback`;
  const reg = await fetch(meta.registration_endpoint, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({
      client_name: 'MCP conformance suite',
      redirect_uris: [redirect],
      grant_types: ['authorization_code', 'refresh_token'],
      response_types: ['code'],
      token_endpoint_auth_method: 'none',
    }),
  });
  const client = await reg.json();
  if (reg.status !== 201 || !client.client_id) {
    throw new Error(`dynamic client registration failed: HTTP ${reg.status} ${JSON.stringify(client)}`);
  }
  let driven = null;
  const code = await runSuite(
    ['authorization', '--url', o.issuer, '--client-id', client.client_id,
      '--resource', `${o.issuer}/mcp`, '-p', String(port), '-o', out],
    path.join(o.out, 'authorization.log'),
    180_000,
    (line) => {
      const url = line.trim();
      if (!driven && /^https?:\/\/\S+\/authorize\?/.test(url)) {
        driven = (async () => {
          // Give the suite's callback server a moment to listen.
          await new Promise((r) => setTimeout(r, 300));
          const location = await signIn(url, { username: o.username, password: o.password });
          const cb = await fetch(location, { signal: AbortSignal.timeout(30000) });
          await cb.arrayBuffer();
        })().catch((e) => {
          console.error(`[interop] driving the authorization form failed: ${e.message}`);
        });
      }
    },
  );
  await driven;
  return { code, results: readResults(out, 'authorization-server') };
}

/** An access token for `<issuer>/mcp`: registration, PKCE, sign-in, exchange. */
async function accessToken(o, issuer) {
  const redirect = 'http://127.0.0.1:9/callback'; // read from Location, never contacted
  const reg = await fetch(`${issuer}/register`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({
      client_name: 'MCP conformance suite (through the proxy)',
      redirect_uris: [redirect],
      grant_types: ['authorization_code'],
      response_types: ['code'],
      token_endpoint_auth_method: 'none',
    }),
  });
  const client = await reg.json();
  if (reg.status !== 201) throw new Error(`registration at the proxy failed: HTTP ${reg.status}`);
  const verifier = randomBytes(32).toString('base64url');
  const challenge = createHash('sha256').update(verifier).digest('base64url');
  const authorize = new URL(`${issuer}/authorize`);
  for (const [k, v] of Object.entries({
    response_type: 'code', client_id: client.client_id, redirect_uri: redirect,
    code_challenge: challenge, code_challenge_method: 'S256', scope: 'mcp', state: 's',
    resource: `${issuer}/mcp`,
  })) authorize.searchParams.set(k, v);
  const location = new URL(await signIn(authorize.toString(), { username: o.username, password: o.password }));
  const code = location.searchParams.get('code');
  if (!code) throw new Error(`no code from the proxy's authorization server: ${location}`);
  const tok = await fetch(`${issuer}/token`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({
      grant_type: 'authorization_code', code, redirect_uri: redirect,
      client_id: client.client_id, code_verifier: verifier,
    }),
  });
  const body = await tok.json();
  if (tok.status !== 200 || !body.access_token) throw new Error(`token exchange at the proxy failed: HTTP ${tok.status}`);
  return body.access_token;
}

/** A loopback shim that adds `Authorization: Bearer token` and streams the
 * exchange both ways to `target` (the proxy's /mcp); resolves to its URL. */
async function bearerShim(target, token) {
  const to = new URL(target);
  let shimOrigin = '';
  const server = http.createServer((req, res) => {
    // As if the suite had been given the proxy's URL: Host, and an Origin
    // naming the shim, name the proxy instead; any other Origin stays.
    const headers = { ...req.headers, authorization: `Bearer ${token}` };
    if (req.headers.host === new URL(shimOrigin).host) headers.host = to.host;
    if (req.headers.origin === shimOrigin) headers.origin = to.origin;
    const up = http.request(
      { host: to.hostname, port: to.port, path: to.pathname + (req.url.includes('?') ? req.url.slice(req.url.indexOf('?')) : ''), method: req.method, headers },
      (answer) => {
        res.writeHead(answer.statusCode, answer.headers);
        answer.pipe(res);
      },
    );
    up.on('error', () => { if (!res.headersSent) res.writeHead(502); res.end(); });
    res.on('close', () => up.destroy());
    req.pipe(up);
  });
  const port = await freePort();
  await new Promise((r) => server.listen(port, '127.0.0.1', r));
  server.unref();
  shimOrigin = `http://127.0.0.1:${port}`;
  return `http://127.0.0.1:${port}/mcp`;
}

async function main() {
  const o = args();
  fs.mkdirSync(o.out, { recursive: true });
  const baseline = readBaseline(o.baseline);
  const notApplicable = fs.existsSync(o['not-applicable']) ? readBaseline(o['not-applicable']) : [];
  const runs = [];
  const targets = [['server', o.everything]];
  if (o['everything-stateless']) targets.push(['server-stateless', o['everything-stateless']]);
  if (o['proxy-issuer']) {
    const token = await accessToken(o, o['proxy-issuer']);
    targets.push(['server-proxied', await bearerShim(`${o['proxy-issuer']}/mcp`, token)]);
  }
  // `--modes a,b` runs only those modes (for local runs; CI runs all).
  const only = o.modes ? new Set(o.modes.split(',')) : null;
  for (const [mode, url] of targets.filter(([m]) => !only || only.has(m))) {
    for (const version of VERSIONS) {
      const dir = path.join(o.out, `${mode}-${version}`);
      const started = Date.now();
      await runSuite(
        ['server', '--url', url, '--suite', 'all', '--spec-version', version, '-o', dir],
        path.join(o.out, `${mode}-${version}.log`),
        600_000,
      );
      const results = readResults(dir, 'server');
      console.log(`[interop] ${mode} ${version}: ${results.size} scenarios in ${((Date.now() - started) / 1000).toFixed(1)}s`);
      runs.push({ mode, version, results });
    }
  }
  if (!only || only.has('authorization')) {
    const auth = await authorization(o);
    console.log(`[interop] authorization: ${auth.results.size} scenarios`);
    runs.push({ mode: 'authorization', version: '-', results: auth.results });
  }

  const ran = (e) => !only || only.has(e.mode);
  const { rows, problems } = compare(runs, baseline.filter(ran), notApplicable.filter(ran));
  fs.writeFileSync(
    path.join(o.out, 'CONFORMANCE.md'),
    markdown(rows, baseline, o.baseline, notApplicable),
  );
  const pad = (s, n) => String(s).padEnd(n);
  console.log('');
  console.log(`${pad('mode', 14)}${pad('version', 12)}${pad('scenario', 52)}result`);
  for (const r of rows) {
    console.log(`${pad(r.mode, 14)}${pad(r.version, 12)}${pad(r.scenario, 52)}${r.state}${r.warn ? ` (${r.warn} warning${r.warn > 1 ? 's' : ''})` : ''}`);
  }
  const passed = rows.filter((r) => r.state.startsWith('pass')).length;
  const expected = rows.filter((r) => r.state.startsWith('expected-')).length;
  console.log('');
  for (const p of problems) console.log(`[interop] PROBLEM: ${p}`);
  console.log(`[interop] results and logs: ${o.out} (summary: ${path.join(o.out, 'CONFORMANCE.md')})`);
  console.log(`[interop] ${expected} scenario runs fail as the baseline expects`);
  console.log(`conformance: ${passed} passed, ${problems.length} failed`);
  process.exitCode = problems.length ? 1 : 0;
}

main().catch((e) => {
  console.error(`[interop] ${e.stack ?? e}`);
  process.exitCode = 2;
});
