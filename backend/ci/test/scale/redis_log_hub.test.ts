/**
 * RedisLogHub over a real Redis: what a worker on one instance publishes
 * reaches viewers on another, in order, once per line, and gaps (lost
 * messages, a dropped subscriber connection) are filled from the store.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Redis } from 'ioredis';
import pino from 'pino';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { HubEvent } from '../../src/ci/logs/log_hub.js';
import { RedisLogHub } from '../../src/ci/logs/redis_log_hub.js';
import { createLogHub } from '../../src/scale/factory.js';
import { migrateToLatest, openDatabase, type OpenedDatabase } from '../../src/store/db.js';
import { KyselyRunStore } from '../../src/store/run_store.js';
import { redisAvailability, startRedis, type RedisServer } from '../helpers/redis.js';
import { newRun } from '../store/run_store_contract.js';

const avail = redisAvailability();
if (!avail.ok && process.env.CI === 'true') throw new Error(`Redis log hub tests cannot run: ${avail.reason}`);

const log = pino({ level: 'silent' });
const until = async (cond: () => boolean, what: string, ms = 10_000) => {
  const deadline = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
};

describe.skipIf(!avail.ok)('RedisLogHub', () => {
  let redis: RedisServer;
  let dir: string;
  let db: OpenedDatabase;
  let store: KyselyRunStore;
  let hubs: RedisLogHub[];
  beforeAll(async () => {
    redis = await startRedis();
  });
  afterAll(async () => redis?.stop());
  beforeEach(async () => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'qaci-hub-'));
    db = await openDatabase(path.join(dir, 'ci.sqlite'));
    await migrateToLatest(db.db);
    store = new KyselyRunStore(db.db);
    hubs = [];
  });
  afterEach(async () => {
    await Promise.all(hubs.map((h) => h.close()));
    await db.close();
    rmSync(dir, { recursive: true, force: true });
  });

  const hub = async () => {
    const h = (await createLogHub({ redisUrl: redis.url, store, log })) as RedisLogHub;
    expect(h).toBeInstanceOf(RedisLogHub);
    hubs.push(h);
    return h;
  };
  /** A claimed run, so appendLogs (fenced by the lease) can store lines as a worker would. */
  const runningRun = async () => {
    const run = await store.createRun(newRun());
    const claimed = await store.claimNext('worker-b', 60_000);
    expect(claimed?.run_id).toBe(run.run_id);
    return run.run_id;
  };
  /** Stores the lines as the worker does and gives them back with the seqs they got. */
  const store_ = async (runId: string, texts: string[]) => {
    const rows = texts.map((text) => ({ stage: 'build', text, ts: new Date().toISOString() }));
    const { first } = await store.appendLogs(runId, 'worker-b', rows, { offset: 0, pending: '', stage: 'build' });
    return rows.map((r, i) => ({ ...r, seq: first + i }));
  };
  const asEvents = (rows: Array<{ seq: number; stage: string; text: string; ts: string }>): HubEvent[] =>
    rows.map((r) => ({ type: 'log', seq: r.seq, stage: r.stage as 'build', text: r.text, ts: r.ts }));

  it('delivers lines published on instance B to a viewer on instance A, in order, each once', async () => {
    const a = await hub();
    const b = await hub();
    const runId = await runningRun();
    const seen: HubEvent[] = [];
    a.subscribe(runId, (e) => seen.push(e));
    expect(a.viewers(runId)).toBe(1);
    expect(b.viewers()).toBe(0);
    for (let batch = 0; batch < 50; batch++) {
      const rows = await store_(runId, Array.from({ length: 10 }, (_, i) => `line ${batch * 10 + i + 1}`));
      b.publish(runId, asEvents(rows));
    }
    b.publish(runId, [{ type: 'status', seq: 500, status: 'success', reason: null }]);
    await until(() => seen.some((e) => e.type === 'status'), 'the final status');
    const logs = seen.filter((e) => e.type === 'log');
    expect(logs.map((e) => e.seq)).toEqual(Array.from({ length: 500 }, (_, i) => i + 1));
    expect(logs.map((e) => (e.type === 'log' ? e.text : ''))).toEqual(Array.from({ length: 500 }, (_, i) => `line ${i + 1}`));
    expect(seen[seen.length - 1]).toMatchObject({ type: 'status', status: 'success' });
  });

  it('does not deliver another run\'s lines, and stops delivering after unsubscribe', async () => {
    const a = await hub();
    const b = await hub();
    const runId = await runningRun();
    const seen: HubEvent[] = [];
    const stop = a.subscribe(runId, (e) => seen.push(e));
    b.publish('00000000-0000-4000-8000-000000000000', [{ type: 'log', seq: 1, stage: 'build', text: 'someone else', ts: new Date().toISOString() }]);
    b.publish(runId, asEvents(await store_(runId, ['mine'])));
    await until(() => seen.length === 1, 'the first line');
    stop();
    expect(a.viewers()).toBe(0);
    b.publish(runId, asEvents(await store_(runId, ['after unsubscribe'])));
    // A marker on a second viewer proves the message went round Redis before we look.
    const marker: HubEvent[] = [];
    a.subscribe(runId, (e) => marker.push(e));
    b.publish(runId, [{ type: 'status', seq: 2, status: 'running', reason: null }]);
    await until(() => marker.length > 0, 'the marker');
    expect(seen.map((e) => (e.type === 'log' ? e.text : e.type))).toEqual(['mine']);
  });

  it('fills a gap from the store when a published message was lost', async () => {
    const a = await hub();
    const b = await hub();
    const runId = await runningRun();
    const seen: number[] = [];
    a.subscribe(runId, (e) => e.type === 'log' && seen.push(e.seq));
    // Let the hub take its baseline (nothing stored yet) before lines exist.
    await new Promise((r) => setTimeout(r, 100));
    const first = await store_(runId, ['one', 'two']);
    b.publish(runId, asEvents(first));
    const lost = await store_(runId, ['three', 'four']); // stored, never published
    expect(lost.map((r) => r.seq)).toEqual([3, 4]);
    b.publish(runId, asEvents(await store_(runId, ['five'])));
    await until(() => seen.includes(5), 'line 5');
    expect(seen).toEqual([1, 2, 3, 4, 5]);
  });

  it('catches up from the store (lines and the final status) after its subscriber connection drops', async () => {
    const a = await hub();
    const b = await hub();
    const runId = await runningRun();
    const seen: HubEvent[] = [];
    a.subscribe(runId, (e) => seen.push(e));
    b.publish(runId, asEvents(await store_(runId, ['before'])));
    await until(() => seen.length === 1, 'the first line');
    // Drop every subscriber connection, then publish while A is away.
    const admin = new Redis(redis.url);
    await admin.client('KILL', 'TYPE', 'pubsub');
    b.publish(runId, asEvents(await store_(runId, ['while away 1', 'while away 2'])));
    await store.updateRun(runId, 'worker-b', { status: 'failed', reason: 'gate: smoke', phase: 'done' });
    b.publish(runId, [{ type: 'status', seq: 3, status: 'failed', reason: 'gate: smoke' }]);
    admin.disconnect();
    await until(() => seen.some((e) => e.type === 'status'), 'the final status');
    const texts = seen.filter((e) => e.type === 'log').map((e) => (e.type === 'log' ? e.text : ''));
    // Every line, in order; a line may come twice (live + catch-up), the WS route drops seq <= last sent.
    expect([...new Set(texts)]).toEqual(['before', 'while away 1', 'while away 2']);
    const seqs = seen.filter((e) => e.type === 'log').map((e) => e.seq);
    expect([...seqs].sort((x, y) => x - y)).toEqual(seqs);
    expect(seen.find((e) => e.type === 'status')).toMatchObject({ status: 'failed', reason: 'gate: smoke' });
  });

  it('refuses to start when Redis does not answer, saying which setting to check', async () => {
    const { freePort } = await import('../helpers/pg.js');
    const port = await freePort();
    await expect(createLogHub({ redisUrl: `redis://127.0.0.1:${port}`, store, log, readyTimeoutMs: 1_000 })).rejects.toThrow(/REDIS_URL did not answer/);
  });
});
