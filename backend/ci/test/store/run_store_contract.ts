/**
 * The RunStore contract: one suite, run against every database the store
 * supports (SQLite here; PostgreSQL in run_store.postgres.test.ts).
 */
import { randomUUID } from 'node:crypto';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { LeaseLostError, type NewRun, type RunStore } from '../../src/store/run_store.js';

export function newRun(over: Partial<NewRun> = {}): NewRun {
  return {
    run_id: randomUUID(),
    app: 'WeSign',
    env: 'DevTest',
    kind: 'deploy',
    branch_or_tag: 'main',
    dry_run: false,
    test_suite: 'full',
    initiator: 'alice',
    created_at: new Date().toISOString(),
    rollback_to: null,
    jenkins_job: 'WeSign-CI',
    sandbox: true,
    metrics_json: '{}',
    stages: [
      { id: 'checkout', name: 'Checkout' },
      { id: 'build', name: 'Build & Unit Tests' },
    ],
    ...over,
  };
}

export function runStoreContract(name: string, open: () => Promise<{ store: RunStore; close: () => Promise<void> }>) {
  describe(`RunStore contract (${name})`, () => {
    let store: RunStore;
    let close: () => Promise<void>;
    beforeEach(async () => {
      ({ store, close } = await open());
    });
    afterEach(async () => close());

    it('creates a queued run with pending stages and FIFO positions per environment', async () => {
      const a = await store.createRun(newRun());
      const b = await store.createRun(newRun());
      const other = await store.createRun(newRun({ env: 'QA' }));
      expect(a.status).toBe('queued');
      expect(await store.queuePosition(a)).toBe(1);
      expect(await store.queuePosition(b)).toBe(2);
      expect(await store.queuePosition(other)).toBe(1);
      expect((await store.getStages(a.run_id)).map((s) => [s.id, s.status])).toEqual([
        ['checkout', 'pending'],
        ['build', 'pending'],
      ]);
      expect(await store.queueLength('WeSign', 'DevTest')).toBe(2);
    });

    it('claims one run per environment at a time, oldest first, and never the same run twice', async () => {
      const a = await store.createRun(newRun());
      const b = await store.createRun(newRun());
      const q = await store.createRun(newRun({ env: 'QA' }));
      const first = await store.claimNext('w1', 60_000);
      const second = await store.claimNext('w2', 60_000);
      const third = await store.claimNext('w3', 60_000);
      expect(first?.run_id).toBe(a.run_id);
      expect(second?.run_id).toBe(q.run_id); // DevTest is busy; QA is free
      expect(third).toBeUndefined(); // b waits for a
      expect(await store.queuePosition((await store.getRun(b.run_id))!)).toBe(1);
      await store.updateRun(a.run_id, 'w1', { status: 'success', phase: 'done' });
      expect((await store.claimNext('w3', 60_000))?.run_id).toBe(b.run_id);
    });

    it('hands an expired lease to another worker and fences the old owner out', async () => {
      const a = await store.createRun(newRun());
      await store.claimNext('w1', 1);
      await new Promise((r) => setTimeout(r, 20));
      const resumed = await store.claimNext('w2', 60_000);
      expect(resumed?.run_id).toBe(a.run_id);
      await expect(store.appendLogs(a.run_id, 'w1', [{ stage: 'build', text: 'late', ts: 'x' }], { offset: 1, pending: '', stage: 'build' })).rejects.toBeInstanceOf(LeaseLostError);
      await expect(store.updateRun(a.run_id, 'w1', { phase: 'following' })).rejects.toBeInstanceOf(LeaseLostError);
      expect(await store.renewLease(a.run_id, 'w1', 1000)).toBe(false);
      expect(await store.renewLease(a.run_id, 'w2', 1000)).toBe(true);
    });

    it('numbers log lines 1..n without gaps and stores the console cursor with them', async () => {
      const a = await store.createRun(newRun());
      await store.claimNext('w1', 60_000);
      const r1 = await store.appendLogs(a.run_id, 'w1', [{ stage: 'checkout', text: 'one', ts: 't' }, { stage: 'build', text: 'two', ts: 't' }], { offset: 10, pending: 'par', stage: 'build' });
      const r2 = await store.appendLogs(a.run_id, 'w1', [{ stage: 'build', text: 'three', ts: 't' }], { offset: 20, pending: '', stage: 'build' });
      expect([r1, r2]).toEqual([{ first: 1, last: 2 }, { first: 3, last: 3 }]);
      expect((await store.readLogs(a.run_id, 1, 10)).map((l) => l.text)).toEqual(['two', 'three']);
      const row = await store.getRun(a.run_id);
      expect(row).toMatchObject({ console_offset: 20, console_pending: '', last_seq: 3 });
      const many = Array.from({ length: 1200 }, (_, i) => ({ stage: 'build', text: `l${i}`, ts: 't' }));
      const r3 = await store.appendLogs(a.run_id, 'w1', many, { offset: 30, pending: '', stage: 'build' });
      expect(r3).toEqual({ first: 4, last: 1203 });
      expect(await store.appendLogs(a.run_id, 'w1', [], { offset: 40, pending: '', stage: 'build' })).toEqual({ first: 1204, last: 1203 });
    });

    it('stores lines in chunks and gives back exactly the lines, seqs and stages that went in, from any seq', async () => {
      const a = await store.createRun(newRun());
      await store.claimNext('w1', 60_000);
      // Stage changes, empty lines, lone CRs, a line longer than a chunk, and two batches with different times.
      const big = 'x'.repeat(70 * 1024);
      const lines = [
        ...Array.from({ length: 3000 }, (_, i) => ({ stage: i < 1000 ? 'checkout' : 'build', text: i % 7 === 0 ? '' : `line ${i} ${'y'.repeat(i % 90)}\r progress`, ts: 't1' })),
        { stage: 'build', text: big, ts: 't1' },
        { stage: 'build', text: 'after the big one', ts: 't1' },
      ];
      await store.appendLogs(a.run_id, 'w1', lines, { offset: 5000, skip: 1234, pending: 'part', stage: 'build' });
      const later = [{ stage: 'build', text: 'later', ts: 't2' }];
      await store.appendLogs(a.run_id, 'w1', later, { offset: 6000, pending: '', stage: 'build' });
      const all = [...lines, ...later].map((l, i) => ({ seq: i + 1, ...l }));
      expect(await store.readLogs(a.run_id, 0, 10_000)).toEqual(all);
      for (const [after, limit] of [[0, 1], [999, 2], [1000, 1000], [2999, 3], [3001, 5], [3002, 10], [3003, 10]] as const) {
        expect(await store.readLogs(a.run_id, after, limit)).toEqual(all.slice(after, after + limit));
      }
      expect(await store.getRun(a.run_id)).toMatchObject({ console_offset: 6000, console_skip: 0, last_seq: 3003 });
    });

    it('stores the position inside a console reply (skip) with the lines it produced', async () => {
      const a = await store.createRun(newRun());
      await store.claimNext('w1', 60_000);
      await store.appendLogs(a.run_id, 'w1', [{ stage: 'build', text: 'half', ts: 't' }], { offset: 100, skip: 4096, pending: 'par', stage: 'build' });
      expect(await store.getRun(a.run_id)).toMatchObject({ console_offset: 100, console_skip: 4096, console_pending: 'par' });
    });

    it('pages history newest first with a cursor and filters', async () => {
      const ids: string[] = [];
      for (let i = 0; i < 5; i++) ids.push((await store.createRun(newRun({ created_at: new Date(Date.UTC(2026, 0, 1 + i)).toISOString(), initiator: i % 2 ? 'bob' : 'alice' }))).run_id);
      const p1 = await store.listRuns({ limit: 2 });
      const p2 = await store.listRuns({ limit: 2, cursor: p1.nextCursor! });
      const p3 = await store.listRuns({ limit: 2, cursor: p2.nextCursor! });
      expect([...p1.runs, ...p2.runs, ...p3.runs].map((r) => r.run_id)).toEqual([...ids].reverse());
      expect(p3.nextCursor).toBeNull();
      expect((await store.listRuns({ limit: 10, initiator: 'bob' })).runs).toHaveLength(2);
      expect((await store.listRuns({ limit: 10, from: '2026-01-03T00:00:00.000Z' })).runs).toHaveLength(3);
      expect((await store.listRuns({ limit: 10, status: ['success'] })).runs).toHaveLength(0);
    });

    it('cancels only a run that is still queued', async () => {
      const a = await store.createRun(newRun());
      const b = await store.createRun(newRun());
      await store.claimNext('w1', 60_000);
      expect(await store.cancelQueued(a.run_id, 'now', 'x')).toBe(false);
      expect(await store.cancelQueued(b.run_id, 'now', 'x')).toBe(true);
      expect((await store.getRun(b.run_id))?.status).toBe('cancelled');
    });

    it('keeps deployments per environment, newest first, and stage medians of successful runs', async () => {
      const a = await store.createRun(newRun());
      for (const [i, status] of ['deployed', 'rolled_back'].entries()) {
        await store.recordDeployment({ run_id: `${a.run_id}-${i}`, app: 'WeSign', env: 'DevTest', kind: 'deploy', version: `v${i}`, commit_sha: null, artifact_sha256: null, backup_id: `2026010${i}_000000`, status, initiator: 'alice', deployed_at: `2026-01-0${i + 1}T00:00:00.000Z` });
      }
      expect((await store.deployments('WeSign', 'DevTest', 10)).map((d) => d.version)).toEqual(['v1', 'v0']);
      await store.claimNext('w1', 60_000);
      await store.upsertStages(a.run_id, 'w1', [{ run_id: a.run_id, id: 'build', position: 1, name: 'Build & Unit Tests', status: 'success', started_at: '2026-01-01T00:00:00.000Z', finished_at: '2026-01-01T00:00:02.000Z' }]);
      await store.updateRun(a.run_id, 'w1', { status: 'success' });
      expect(await store.typicalStageDurations('WeSign', 'DevTest', 5)).toEqual({ build: 2000 });
    });
  });
}
