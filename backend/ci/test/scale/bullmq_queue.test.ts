/**
 * BullMqQueue with two workers sharing one PostgreSQL and one Redis (real
 * servers on loopback), against the Jenkins-compatible sandbox over HTTP:
 * runs of one environment execute one at a time, every run finishes, and
 * every run has exactly one Jenkins build, also when a worker stops mid-run.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BullMqQueue } from '../../src/ci/queue/bullmq_queue.js';
import { startSandbox, type Sandbox } from '../../src/sandbox/index.js';
import { migrateToLatest, openDatabase, type OpenedDatabase } from '../../src/store/db.js';
import { KyselyRunStore } from '../../src/store/run_store.js';
import { pgAvailability, startPostgres, type PgServer } from '../helpers/pg.js';
import { redisAvailability, startRedis, type RedisServer } from '../helpers/redis.js';
import pgModule from 'pg';
import { buildsByRunId, installRunAudit, maxRunningPerEnv, scaleConfig, SECOND_ENV, TERMINAL, waitFor, workerStack, type Jenkins } from './stack.js';

const PgPool = pgModule.Pool;

const pgOk = pgAvailability();
const redisOk = redisAvailability();
if (process.env.CI === 'true' && (!pgOk.ok || !redisOk.ok)) throw new Error(`scale-out queue tests cannot run: ${[pgOk.reason, redisOk.reason].filter(Boolean).join('; ')}`);

describe.skipIf(!pgOk.ok || !redisOk.ok)('BullMqQueue with two workers', () => {
  let pg: PgServer;
  let redis: RedisServer;
  let sandbox: Sandbox;
  let jenkins: Jenkins;
  let dir: string;
  beforeAll(async () => {
    [pg, redis] = await Promise.all([startPostgres(), startRedis()]);
    sandbox = await startSandbox({ timeScale: 0.02, jobs: ['WeSign-CI', SECOND_ENV.JENKINS_JOB_NAME] });
    jenkins = { url: sandbox.jenkinsUrl, user: sandbox.user, token: sandbox.token };
    dir = mkdtempSync(path.join(os.tmpdir(), 'qaci-bullmq-'));
  });
  afterAll(async () => {
    await sandbox?.close();
    await Promise.all([pg?.stop(), redis?.stop()]);
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  /** Two worker stacks, each with its own DB pool (as two processes would have). */
  const twoWorkers = async () => {
    // Each test owns its state: a fresh database and an empty Redis (no job of an earlier test's database).
    const flush = new Redis(redis.url);
    await flush.flushall();
    flush.disconnect();
    const fresh = await pg.createDatabase();
    const dbs: OpenedDatabase[] = [await openDatabase(fresh.url), await openDatabase(fresh.url)];
    for (const d of dbs) await migrateToLatest(d.db);
    const audit = new PgPool({ connectionString: fresh.url, max: 1 });
    audit.on('error', () => undefined);
    await installRunAudit(audit);
    const config = scaleConfig(dir, jenkins, { DATABASE_URL: fresh.url, REDIS_URL: redis.url });
    const stores = dbs.map((d) => new KyselyRunStore(d.db));
    // One job at a time each: with two environments busy at once, both workers must take part
    // (at the default 4, whichever starts first can take every job, and "both took part" is luck).
    const workers = [await workerStack(config, stores[0]!, { concurrency: 1 }), await workerStack(config, stores[1]!, { concurrency: 1 })];
    return {
      config,
      store: stores[0]!,
      workers,
      audit,
      close: async () => {
        await audit.end();
        // Whatever happens to one worker, the pools close before the database is dropped.
        const stopped = await Promise.allSettled(workers.map((w) => w.close()));
        await Promise.allSettled(dbs.map((d) => d.close()));
        await fresh.drop();
        for (const s of stopped) if (s.status === 'rejected') throw s.reason;
      },
    };
  };

  it('runs 10 deploys across two environments one at a time per environment, each once, with one Jenkins build each', async () => {
    const t = await twoWorkers();
    try {
      expect(t.workers.map((w) => w.queue.kind)).toEqual(['bullmq', 'bullmq']);
      const ids: string[] = [];
      // Requested at once, through both instances.
      const created = await Promise.all(
        Array.from({ length: 10 }, (_, i) =>
          t.workers[i % 2]!.service.create({ app: 'WeSign', env: i % 2 ? SECOND_ENV.ENV_NAME : 'DevTest', branch_or_tag: 'main', dry_run: true, test_suite: 'none', provider: 'jenkins' }, 'alice'),
        ),
      );
      ids.push(...created.map((c) => c.run_id));

      const owners = new Set<string>();
      const done = await waitFor(
        'all 10 runs to finish',
        async () => {
          const rows = await Promise.all(ids.map((id) => t.store.getRun(id)));
          for (const r of rows) if (r?.status === 'running' && r.lease_owner) owners.add(r.lease_owner);
          return rows.every((r) => r && TERMINAL.has(r.status)) ? rows : undefined;
        },
        90_000,
        25,
      );
      // Never two running runs in one environment (replayed from the audit of every status change, in order).
      expect(await maxRunningPerEnv(t.audit)).toEqual({ DevTest: 1, [SECOND_ENV.ENV_NAME]: 1 });
      expect(done.map((r) => r!.status)).toEqual(Array(10).fill('success'));
      // Both workers took part (each env's runs are not pinned to one worker).
      expect(owners.size).toBe(2);
      // FIFO per environment: runs started in the order they were requested.
      for (const env of ['DevTest', SECOND_ENV.ENV_NAME]) {
        const { rows: order } = await t.audit.query(`select a.run_id from run_audit a join runs r using (run_id) where a.status = 'running' and a.env = $1 order by a.id`, [env]);
        const bySeq = done.filter((r) => r!.env === env).sort((a, b) => a!.queue_seq - b!.queue_seq).map((r) => r!.run_id);
        expect(order.map((o: { run_id: string }) => o.run_id)).toEqual(bySeq);
      }
      // None twice: exactly one Jenkins build per run, in the env's own job.
      const builds = new Map([...(await buildsByRunId(jenkins, 'WeSign-CI')), ...(await buildsByRunId(jenkins, SECOND_ENV.JENKINS_JOB_NAME))]);
      for (const r of done) expect({ run: r!.run_id, builds: builds.get(r!.run_id)?.length }).toEqual({ run: r!.run_id, builds: 1 });
      // Every log is complete: it ends with the report and the notify stage, seqs 1..n.
      for (const id of ids) {
        const lines = await t.store.readLogs(id, 0, 10_000);
        expect(lines.map((l) => l.seq)).toEqual(lines.map((_, i) => i + 1));
        expect(lines.some((l) => l.stage === 'notify')).toBe(true);
      }
    } finally {
      await t.close();
    }
  }, 120_000);

  it('hands a run on when its worker stops mid-run: the other worker follows the same Jenkins build to the end', async () => {
    const t = await twoWorkers();
    try {
      // A slower run, so there is a "mid-run" to stop in.
      sandbox.setFaults({});
      const { run_id } = await t.workers[0]!.service.create({ app: 'WeSign', env: 'DevTest', branch_or_tag: 'main', dry_run: false, test_suite: 'none', provider: 'jenkins' }, 'bob');
      const following = await waitFor('a worker to follow the Jenkins build', async () => {
        const r = await t.store.getRun(run_id);
        return r?.phase === 'following' && r.lease_owner ? r : undefined;
      }, 30_000, 20);
      const firstIdx = t.workers.findIndex((w) => (w.queue as BullMqQueue).owner === following.lease_owner);
      expect(firstIdx).toBeGreaterThanOrEqual(0);
      const firstBuild = following.jenkins_build_number;
      await t.workers[firstIdx]!.close();
      const other = t.workers[1 - firstIdx]!.queue as BullMqQueue;
      const end = await waitFor('the run to finish on the other worker', async () => {
        const r = await t.store.getRun(run_id);
        return r && TERMINAL.has(r.status) ? r : undefined;
      }, 60_000);
      expect(end.status).toBe('success');
      expect(end.jenkins_build_number).toBe(firstBuild);
      expect((await buildsByRunId(jenkins, 'WeSign-CI')).get(run_id)).toEqual([firstBuild]);
      const lines = await t.store.readLogs(run_id, 0, 10_000);
      expect(lines.map((l) => l.seq)).toEqual(lines.map((_, i) => i + 1));
      expect(lines.some((l) => l.stage === 'notify')).toBe(true);
      void other;
      t.workers.splice(firstIdx, 1);
    } finally {
      await t.close();
    }
  }, 120_000);

  it('runs a run whose job never reached Redis: the sweep enqueues every unfinished run from the database', async () => {
    const t = await twoWorkers();
    try {
      // As if POST /ci/runs stored the row while Redis was down: no job exists for it.
      const { newRun } = await import('../store/run_store_contract.js');
      const { CONTRACT_STAGES } = await import('../../src/ci/models.js');
      const row = await t.store.createRun(
        newRun({
          dry_run: true,
          test_suite: 'none',
          sandbox: false,
          metrics_json: JSON.stringify({ score: null, score_threshold: 80, gates: [], tests: {}, secrets_masked: 0, log_lines: 0 }),
          stages: CONTRACT_STAGES.map((c) => ({ id: c.id, name: c.jenkins.join(' + ') || 'Notify' })),
        }),
      );
      await (t.workers[0]!.queue as BullMqQueue).sweep();
      const end = await waitFor('the swept run to finish', async () => {
        const r = await t.store.getRun(row.run_id);
        return r && TERMINAL.has(r.status) ? r : undefined;
      }, 60_000);
      expect(end.status).toBe('success');
      expect((await buildsByRunId(jenkins, 'WeSign-CI')).get(row.run_id)).toHaveLength(1);
    } finally {
      await t.close();
    }
  }, 90_000);

  it('does not fail or hang a request when Redis is down: notify gives up after its timeout and leaves the run to the sweep', async () => {
    const { freePort } = await import('../helpers/pg.js');
    const pino = (await import('pino')).default;
    const fresh = await pg.createDatabase();
    const d = await openDatabase(fresh.url);
    const warnings: string[] = [];
    const log = pino({ level: 'warn' }, { write: (s: string) => void warnings.push(s) });
    const queue = new BullMqQueue({ redisUrl: `redis://127.0.0.1:${await freePort()}`, store: new KyselyRunStore(d.db), orchestrator: { execute: async () => undefined }, log, leaseMs: 5_000, notifyTimeoutMs: 300 });
    try {
      await queue.notify('00000000-0000-4000-8000-000000000001');
      expect(warnings.join('')).toMatch(/enqueued by the next sweep|next sweep will/);
    } finally {
      await queue.stop();
      await d.close();
      await fresh.drop();
    }
  });
});
