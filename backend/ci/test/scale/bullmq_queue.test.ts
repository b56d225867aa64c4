/**
 * BullMqQueue with two workers sharing one PostgreSQL and one Redis (real
 * servers on loopback), against the Jenkins-compatible sandbox over HTTP:
 * runs of one environment execute one at a time, every run finishes, and
 * every run has exactly one Jenkins build, also when a worker stops mid-run.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BullMqQueue } from '../../src/ci/queue/bullmq_queue.js';
import { startSandbox, type Sandbox } from '../../src/sandbox/index.js';
import { migrateToLatest, openDatabase, type OpenedDatabase } from '../../src/store/db.js';
import { KyselyRunStore } from '../../src/store/run_store.js';
import { pgAvailability, startPostgres, type PgServer } from '../helpers/pg.js';
import { redisAvailability, startRedis, type RedisServer } from '../helpers/redis.js';
import { buildsByRunId, scaleConfig, SECOND_ENV, TERMINAL, waitFor, workerStack, type Jenkins } from './stack.js';

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
    const fresh = await pg.createDatabase();
    const dbs: OpenedDatabase[] = [await openDatabase(fresh.url), await openDatabase(fresh.url)];
    for (const d of dbs) await migrateToLatest(d.db);
    const config = scaleConfig(dir, jenkins, { DATABASE_URL: fresh.url, REDIS_URL: redis.url });
    const stores = dbs.map((d) => new KyselyRunStore(d.db));
    const workers = [await workerStack(config, stores[0]!), await workerStack(config, stores[1]!)];
    return {
      config,
      store: stores[0]!,
      workers,
      close: async () => {
        await Promise.all(workers.map((w) => w.close()));
        await Promise.all(dbs.map((d) => d.close()));
        await fresh.drop();
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

      // Sample what runs while they run: never two running runs in one environment.
      let maxPerEnv = 0;
      const owners = new Set<string>();
      const done = await waitFor(
        'all 10 runs to finish',
        async () => {
          const rows = await Promise.all(ids.map((id) => t.store.getRun(id)));
          const running = rows.filter((r) => r?.status === 'running');
          for (const r of running) if (r?.lease_owner) owners.add(r.lease_owner);
          for (const env of ['DevTest', SECOND_ENV.ENV_NAME]) maxPerEnv = Math.max(maxPerEnv, running.filter((r) => r!.env === env).length);
          return rows.every((r) => r && TERMINAL.has(r.status)) ? rows : undefined;
        },
        90_000,
        25,
      );
      expect(maxPerEnv).toBe(1);
      expect(done.map((r) => r!.status)).toEqual(Array(10).fill('success'));
      // Both workers took part (each env's runs are not pinned to one worker).
      expect(owners.size).toBe(2);
      // Per environment: the recorded intervals never overlap, in FIFO order.
      for (const env of ['DevTest', SECOND_ENV.ENV_NAME]) {
        const mine = done.filter((r) => r!.env === env).sort((a, b) => a!.queue_seq - b!.queue_seq);
        for (let i = 1; i < mine.length; i++) expect(mine[i]!.started_at! >= mine[i - 1]!.finished_at!).toBe(true);
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
});
