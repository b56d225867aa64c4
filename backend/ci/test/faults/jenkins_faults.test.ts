/**
 * Jenkins misbehaving under a run: 5xx on a share of calls (one of them after Jenkins had
 * already queued the build), connections closed in the middle of a reply, slow answers, and
 * Jenkins gone for longer than JENKINS_DEADLINE_S. Every run completes, or ends `error` with a
 * reason; none hangs and none makes a second build. The log is compared with Jenkins' console.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { call, waitRun } from './helpers/http.js';
import { seeded, startFaultStack, type FaultStack } from './helpers/inprocess.js';
import type { Plan } from './helpers/faulty_proxy.js';
import { buildsOfRun, dbCounts, expectedConsoleLines, readRunRow, readStreamedLog, until } from './helpers/verify.js';
import path from 'node:path';

let t: FaultStack;

beforeAll(async () => {
  t = await startFaultStack({ JENKINS_DEADLINE_S: '20' });
});
afterAll(async () => {
  await t?.close();
});

async function startRun(body: Record<string, unknown> = { dry_run: true, test_suite: 'none' }) {
  const r = await call(t.svc.url, 'POST', '/ci/runs', body, t.headers);
  expect(r.status, JSON.stringify(r.body)).toBe(202);
  return r.body.run_id as string;
}

async function expectExactRun(runId: string) {
  const run = await waitRun(t.svc.url, runId, t.headers, 90_000);
  expect(run.status, run.reason).toBe('success');
  const builds = await buildsOfRun(t.jenkins, runId);
  expect(builds, 'Jenkins builds carrying this QA_RUN_ID').toHaveLength(1);
  const log = await readStreamedLog(t.svc.wsUrl, runId, t.headers);
  expect(log.seqs).toEqual(Array.from({ length: log.seqs.length }, (_, i) => i + 1));
  expect(log.jenkinsLines).toEqual(await expectedConsoleLines(t.jenkins, builds[0]!));
  return { run, log };
}

describe('Jenkins faults under a run', () => {
  it('answers 5xx on a third of the calls, one of them after it queued the build: the run succeeds with one build', async () => {
    const rnd = seeded(7);
    let triggerSeen = false;
    t.proxy.setPlanner(({ method, path: p }): Plan => {
      if (method === 'POST' && p.includes('/buildWithParameters') && !triggerSeen) {
        triggerSeen = true;
        // Jenkins queues the build, the backend is told 502: a naive retry would make a second build.
        return { kind: 'lostAnswer', code: 502 };
      }
      const r = rnd();
      return r < 0.33 ? { kind: 'status', code: [500, 502, 503][Math.floor(r * 9) % 3]! } : { kind: 'pass' };
    });
    const id = await startRun();
    const { log } = await expectExactRun(id);
    expect(t.proxy.seen.filter((s) => s.plan === 'status').length).toBeGreaterThan(3);
    // The run said why it waited.
    expect(log.all.some((l) => /^backend: could not .* retrying$/.test(l.text))).toBe(true);
  });

  it('closes connections in the middle of replies (console, JSON, artifacts): no line lost or doubled', async () => {
    const rnd = seeded(11);
    t.proxy.setPlanner(({ method, path: p }): Plan => {
      if (method !== 'GET') return { kind: 'pass' };
      const r = rnd();
      if (r < 0.2) return { kind: 'cut', afterBytes: 40 + Math.floor(r * 400) };
      if (r < 0.3) return { kind: 'reset' };
      return { kind: 'pass' };
    });
    const id = await startRun();
    await expectExactRun(id);
    const cutConsole = t.proxy.seen.filter((s) => s.plan === 'cut' && s.path.includes('progressiveText'));
    expect(cutConsole.length, 'some console replies were cut').toBeGreaterThan(0);
    expect(t.proxy.seen.filter((s) => s.plan === 'cut' && s.path.includes('/artifact/')).length, 'some artifact downloads were cut').toBeGreaterThan(0);
    // Every artifact on disk is whole: its recorded checksum matches what Jenkins serves.
    const db = dbCounts(t.svc.services.config.databaseUrl, id);
    expect(db.artifacts.filter((a) => a.endsWith('.part'))).toEqual([]);
    const row = readRunRow(t.svc.services.config.databaseUrl, id)!;
    const local = await import('node:fs/promises');
    const checkout = await local.readFile(path.join(t.svc.services.config.artifactStore, 'runs', id, 'checkout.json'), 'utf8');
    const remote = await (await fetch(`${t.jenkins.url}job/WeSign-CI/${row.jenkins_build_number}/artifact/reports/checkout.json`, { headers: { authorization: t.jenkins.auth } })).text();
    expect(checkout).toBe(remote);
  });

  it('answers slowly (400 ms on every call): the run completes', async () => {
    t.proxy.setPlanner(() => ({ kind: 'delay', ms: 400 }));
    const id = await startRun();
    await expectExactRun(id);
  });

  it('is gone (every connection reset) for 8 s while following: the run waits, says so, and completes', async () => {
    let downUntil = 0;
    t.proxy.setPlanner((): Plan => (Date.now() < downUntil ? { kind: 'reset' } : { kind: 'pass' }));
    const id = await startRun({ dry_run: false, test_suite: 'none' });
    await until('following', () => readRunRow(t.svc.services.config.databaseUrl, id)?.phase === 'following', 60_000);
    downUntil = Date.now() + 8_000;
    const waiting = await waitRun(t.svc.url, id, t.headers, 30_000, (r) => /retrying/.test(JSON.stringify(r)) || r.status !== 'running');
    expect(waiting.status).toBe('running');
    const { log } = await expectExactRun(id);
    expect(log.all.some((l) => /^backend: could not .*(reset|socket|fetch failed|terminated|ECONN|connect).*retrying$/i.test(l.text))).toBe(true);
  });

  it('is gone for longer than JENKINS_DEADLINE_S: the run ends `error` with the reason, in bounded time, with one build at most', async () => {
    let down = false;
    t.proxy.setPlanner((): Plan => (down ? { kind: 'reset' } : { kind: 'pass' }));
    const id = await startRun({ dry_run: false, test_suite: 'none' });
    await until('following', () => readRunRow(t.svc.services.config.databaseUrl, id)?.phase === 'following', 60_000);
    down = true;
    const started = Date.now();
    try {
      // Deadline 20 s plus backoff; never hangs.
      const run = await waitRun(t.svc.url, id, t.headers, 60_000);
      expect(run.status).toBe('error');
      expect(run.reason).toMatch(/Jenkins did not answer for 20 s/);
      expect(Date.now() - started).toBeLessThan(55_000);
      const db = dbCounts(t.svc.services.config.databaseUrl, id);
      expect(db.run.phase).toBe('done');
      expect(db.run.lease_owner).toBeNull();
      expect(db.stages.filter((s) => s.status === 'pending' || s.status === 'running')).toEqual([]);
      expect(db.logs.n).toBe(db.logs.hi);
    } finally {
      down = false;
    }
    expect(await buildsOfRun(t.jenkins, id)).toHaveLength(1);
  }, 90_000);
});
