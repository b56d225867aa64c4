/**
 * Hostile or broken answers from "Jenkins" (or whatever sits in front of it): a console with a
 * fake secret, a 100 KB line, invalid UTF-8, terminal escapes and a NUL; a console cursor that
 * moves backwards; an HTML login page where JSON was expected; an artifact list with paths that
 * climb out of the run folder. The backend stores nothing unsafe, ends the run with a reason
 * when it cannot go on, and never makes a second build.
 */
import { existsSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { call, waitRun } from './helpers/http.js';
import { startFaultStack, type FaultStack } from './helpers/inprocess.js';
import type { Plan } from './helpers/faulty_proxy.js';
import { buildsOfRun, dbCounts, readStreamedLog } from './helpers/verify.js';

let t: FaultStack;
beforeAll(async () => {
  t = await startFaultStack({ JENKINS_DEADLINE_S: '10' });
});
afterAll(async () => {
  await t?.close();
});

async function startRun(body: Record<string, unknown> = { dry_run: true, test_suite: 'none' }) {
  const r = await call(t.svc.url, 'POST', '/ci/runs', body, t.headers);
  expect(r.status).toBe(202);
  return r.body.run_id as string;
}

function expectTidy(runId: string) {
  const db = dbCounts(t.svc.services.config.databaseUrl, runId);
  expect(db.run.phase).toBe('done');
  expect(db.run.lease_owner).toBeNull();
  expect(db.stages.filter((s) => s.status === 'pending' || s.status === 'running')).toEqual([]);
  expect(db.logs.n).toBe(db.logs.hi);
  return db;
}

const SECRET = 'FakeHostile-example-42';
const BEARER = 'fake-hostile-example-token-abcdef123456';
const KEY_BODY = 'MIIEvFakeHostileKeyBody0123456789abcdefABCDEF';

describe('hostile or broken Jenkins answers', () => {
  it('a console with a fake secret, a 100 KB line, invalid UTF-8, escapes and a NUL: stored masked, cut and readable', async () => {
    let injected = false;
    t.proxy.setPlanner(({ method, path: p }): Plan => {
      if (injected || method !== 'GET' || !p.includes('progressiveText')) return { kind: 'pass' };
      return {
        kind: 'rewrite',
        fn: (up) => {
          const text = up.body.toString('latin1');
          // Append at a line end of a reply that has some lines; X-Text-Size stays Jenkins' own.
          if (up.status !== 200 || !text.endsWith('\n') || text.length < 10) return up;
          injected = true;
          const hostile = Buffer.concat([
            Buffer.from(`[preflight] conn Server=db;User Id=sa;Password=${SECRET};\r\n`),
            Buffer.from(`[preflight] Authorization: Bearer ${BEARER}\r\n`),
            // A PEM key printed over several lines: its body lines hold nothing secret-shaped.
            Buffer.from(`[deploy] -----BEGIN PRIVATE KEY-----\r\n${KEY_BODY}\r\n${KEY_BODY}2\r\n-----END PRIVATE KEY-----\r\n`),
            Buffer.from(`[build] ${'A'.repeat(100_000)}\r\n`),
            Buffer.from('[build] bad utf-8: '),
            Buffer.from([0xff, 0xfe, 0xc3, 0x28]),
            Buffer.from('\r\n[build] escapes: \x1b[31mred\x1b[0m \x1b]0;title\x07 nul:\x00 end\r\n'),
          ]);
          return { ...up, body: Buffer.concat([up.body, hostile]) };
        },
      };
    });
    const id = await startRun();
    const run = await waitRun(t.svc.url, id, t.headers, 90_000);
    expect(injected).toBe(true);
    // A secret in the log fails the run (secrets gate), after it was masked.
    expect(run.status).toBe('failed');
    expect(run.reason).toMatch(/secrets/);
    const log = await readStreamedLog(t.svc.wsUrl, id, t.headers);
    const all = log.all.map((l) => l.text).join('\n');
    expect(all).not.toContain(SECRET);
    expect(all).not.toContain(BEARER);
    expect(all).not.toContain(KEY_BODY);
    expect(all).toContain('-----END PRIVATE KEY-----');
    const long = log.all.find((l) => l.text.startsWith('AAAA'))!;
    expect(long.text.length).toBeLessThan(17_000);
    expect(long.text).toMatch(/line cut at 16384 characters/);
    expect(log.all.find((l) => l.text.startsWith('bad utf-8'))!.text).toContain('\uFFFD');
    expect(log.all.some((l) => l.text.startsWith('escapes:'))).toBe(true);
    expect(log.seqs).toEqual(Array.from({ length: log.seqs.length }, (_, i) => i + 1));
    // Nothing secret in the stored artifacts either.
    const runDir = path.join(t.svc.services.config.artifactStore, 'runs', id);
    for (const f of readdirSync(runDir, { recursive: true }) as string[]) {
      const full = path.join(runDir, f);
      if (!f.endsWith('.json') && !f.endsWith('.md') && !f.endsWith('.log')) continue;
      const { readFileSync } = await import('node:fs');
      expect(readFileSync(full, 'utf8'), f).not.toContain(SECRET);
      expect(readFileSync(full, 'utf8'), f).not.toContain(KEY_BODY);
    }
    expectTidy(id);
    expect(await buildsOfRun(t.jenkins, id)).toHaveLength(1);
  }, 120_000);

  it('a console cursor that moves backwards (X-Text-Size below our offset): the run ends `error` with the reason, lines not doubled', async () => {
    t.proxy.setPlanner(({ method, path: p }): Plan => {
      if (method !== 'GET' || !/progressiveText\?start=[1-9]/.test(p)) return { kind: 'pass' };
      return { kind: 'rewrite', fn: (up) => ({ ...up, headers: { ...up.headers, 'x-text-size': '1' } }) };
    });
    const id = await startRun();
    const run = await waitRun(t.svc.url, id, t.headers, 60_000);
    expect(run.status).toBe('error');
    expect(run.reason).toMatch(/does not belong to this build/);
    const db = expectTidy(id);
    expect(db.logs.d).toBe(db.logs.n);
    expect(await buildsOfRun(t.jenkins, id)).toHaveLength(1);
  }, 90_000);

  it('an HTML login page (200) where the job JSON was expected: the run ends `error` saying so, nothing triggered', async () => {
    t.proxy.setPlanner(({ method, path: p }): Plan =>
      method === 'GET' && p.startsWith('/job/WeSign-CI/api/json') && decodeURIComponent(p).includes('buildable')
        ? { kind: 'rewrite', fn: (up) => ({ status: 200, headers: { ...up.headers, 'content-type': 'text/html;charset=utf-8' }, body: Buffer.from('<html><body><form action="/sso/login">Sign in</form></body></html>') }) }
        : { kind: 'pass' },
    );
    const id = await startRun();
    const run = await waitRun(t.svc.url, id, t.headers, 60_000);
    expect(run.status).toBe('error');
    expect(run.reason).toBeTruthy();
    expect(run.reason).not.toContain(t.sandbox.token);
    expectTidy(id);
    expect(await buildsOfRun(t.jenkins, id)).toEqual([]);
  }, 90_000);

  it('an artifact list with paths that climb out of the run folder: refused and logged, nothing written outside', async () => {
    const evil = [`reports/../../../../../tmp/qaci-evil-${Date.now()}.txt`, '../outside.json', 'reports/../../escape.json'];
    t.proxy.setPlanner(({ method, path: p }): Plan =>
      method === 'GET' && decodeURIComponent(p).includes('tree=artifacts[')
        ? {
            kind: 'rewrite',
            fn: (up) => {
              const j = JSON.parse(up.body.toString('utf8')) as { artifacts: Array<{ relativePath: string; fileName: string }> };
              j.artifacts.push(...evil.map((e) => ({ relativePath: e, fileName: path.basename(e), displayPath: null })));
              return { ...up, body: Buffer.from(JSON.stringify(j)) };
            },
          }
        : { kind: 'pass' },
    );
    const id = await startRun();
    const run = await waitRun(t.svc.url, id, t.headers, 90_000);
    expect(run.status, run.reason).toBe('success');
    const log = await readStreamedLog(t.svc.wsUrl, id, t.headers);
    for (const e of evil) expect(log.all.some((l) => l.text === `backend: refused artifact with an unsafe path: ${e}`), e).toBe(true);
    expect(existsSync(evil[0]!.replace(/^reports\/(\.\.\/)+/, '/'))).toBe(false);
    const store = t.svc.services.config.artifactStore;
    expect(existsSync(path.join(store, 'outside.json'))).toBe(false);
    expect(existsSync(path.join(store, 'runs', 'outside.json'))).toBe(false);
    expect(existsSync(path.join(store, 'escape.json'))).toBe(false);
    expect(existsSync(path.join(store, 'runs', 'escape.json'))).toBe(false);
    const db = expectTidy(id);
    expect(db.artifacts.some((a) => a.includes('..'))).toBe(false);
  }, 120_000);
});
