/**
 * 50 concurrent deploy requests for one environment: all accepted, none lost, served one at a
 * time in FIFO order (queue_seq order = Jenkins build order, each run starts after the previous
 * one finished), and the queue positions reported are right. The first run is held at its
 * Jenkins check by the faulty proxy, so the other 49 are certainly queued when positions are read.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { call, waitRun } from './helpers/http.js';
import { startFaultStack, type FaultStack } from './helpers/inprocess.js';
import { gate, type Plan } from './helpers/faulty_proxy.js';
import { buildsOfRun, readRunRow } from './helpers/verify.js';

let t: FaultStack;
const N = 50;

beforeAll(async () => {
  t = await startFaultStack({ JENKINS_POLL_MS: '50' }, 0.002);
});
afterAll(async () => {
  await t?.close();
});

describe('50 concurrent deploy requests for one environment', () => {
  it('are all accepted, served one at a time in FIFO order, with correct queue positions', async () => {
    const release = gate();
    const held = gate();
    let holding = true;
    t.proxy.setPlanner(({ method, path: p }): Plan => {
      if (holding && method === 'GET' && p.startsWith('/job/WeSign-CI/api/json') && decodeURIComponent(p).includes('buildable')) {
        holding = false;
        return { kind: 'hold', until: release.promise, onHeld: held.open };
      }
      return { kind: 'pass' };
    });

    const posts = await Promise.all(
      Array.from({ length: N }, (_, i) => call(t.svc.url, 'POST', '/ci/runs', { dry_run: true, test_suite: 'none', branch_or_tag: `release/q-${i}` }, t.headers)),
    );
    expect(posts.map((p) => p.status)).toEqual(Array(N).fill(202));
    const ids = posts.map((p) => p.body.run_id as string);
    expect(new Set(ids).size).toBe(N);
    await held.promise;

    const dbFile = t.svc.services.config.databaseUrl;
    // Creation order as the server saw it: the queue counter.
    const bySeq = ids.map((id, i) => ({ id, seq: readRunRow(dbFile, id)!.queue_seq as number, reported: posts[i]!.body.queue_position as number | null })).sort((a, b) => a.seq - b.seq);
    expect(new Set(bySeq.map((r) => r.seq)).size).toBe(N);

    // Reported at creation: the runs queued ahead of it then, plus one. At most one run (the first,
    // claimed by the worker meanwhile) can have left the queue, so it is k or k-1, never decreasing.
    bySeq.forEach((r, k) => {
      expect(r.reported, `run #${k + 1} in queue order`).not.toBeNull();
      expect([k, k + 1]).toContain(r.reported);
      if (k > 0) expect(r.reported!).toBeGreaterThanOrEqual(bySeq[k - 1]!.reported!);
    });

    // Now: the first is running (held at its Jenkins check); the other 49 are queued at 1..49.
    const now = await Promise.all(bySeq.map((r) => call(t.svc.url, 'GET', `/ci/runs/${r.id}`, undefined, t.headers)));
    expect(now[0]!.body.status).toBe('running');
    expect(now.slice(1).map((r) => r.body.status)).toEqual(Array(N - 1).fill('queued'));
    expect(now.slice(1).map((r) => r.body.queue_position)).toEqual(Array.from({ length: N - 1 }, (_, i) => i + 1));
    expect(await t.svc.services.store.queueLength('WeSign', 'DevTest')).toBe(N - 1);

    release.open();
    const runs = [];
    for (const r of bySeq) runs.push(await waitRun(t.svc.url, r.id, t.headers, 120_000));
    expect(runs.map((r) => r.status)).toEqual(Array(N).fill('success'));
    // Each asked for its own branch; Jenkins got them in queue order, one build each.
    const numbers = [];
    for (const [k, r] of runs.entries()) {
      expect(r.branch_or_tag).toBe(`release/q-${ids.indexOf(bySeq[k]!.id)}`);
      const builds = await buildsOfRun(t.jenkins, r.run_id);
      expect(builds).toHaveLength(1);
      numbers.push(builds[0]!);
    }
    expect(numbers).toEqual([...numbers].sort((a, b) => a - b));
    // One at a time: each run started after the one before it finished.
    for (let k = 1; k < N; k++) expect(Date.parse(runs[k].started_at)).toBeGreaterThanOrEqual(Date.parse(runs[k - 1].finished_at));
  }, 180_000);
});
