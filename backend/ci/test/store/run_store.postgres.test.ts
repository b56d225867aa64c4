/**
 * The RunStore contract on a real PostgreSQL server (started on loopback by
 * the test), plus what only matters with several instances: migrations run
 * concurrently at start must not trip over each other.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sql } from 'kysely';
import { migrateToLatest, openDatabase } from '../../src/store/db.js';
import { KyselyRunStore } from '../../src/store/run_store.js';
import { migrationProvider } from '../../src/store/migrations/index.js';
import { pgAvailability, startPostgres, type PgServer } from '../helpers/pg.js';
import { newRun, runStoreContract } from './run_store_contract.js';

const avail = pgAvailability();
if (!avail.ok && process.env.CI === 'true') {
  // CI=true: a missing tool is a failure, never a skip.
  throw new Error(`PostgreSQL store tests cannot run: ${avail.reason}`);
}

describe.skipIf(!avail.ok)('PostgreSQL', () => {
  let server: PgServer;
  beforeAll(async () => {
    server = await startPostgres();
  });
  afterAll(async () => server?.stop());

  runStoreContract('PostgreSQL', async () => {
    const fresh = await server.createDatabase();
    const db = await openDatabase(fresh.url);
    expect(db.kind).toBe('postgres');
    // The template is migrated already: this checks that migrating again is a no-op.
    await migrateToLatest(db.db);
    return {
      store: new KyselyRunStore(db.db),
      close: async () => {
        await db.close();
        await fresh.drop();
      },
    };
  });

  describe('migrations', () => {
    it('run once when several instances start at the same moment (Kysely holds an advisory lock)', async () => {
      const empty = await server.createEmptyDatabase();
      const instances = await Promise.all([1, 2, 3, 4].map(() => openDatabase(empty.url)));
      try {
        const results = await Promise.allSettled(instances.map((i) => migrateToLatest(i.db)));
        expect(results.map((r) => r.status)).toEqual(['fulfilled', 'fulfilled', 'fulfilled', 'fulfilled']);
        const applied = await sql<{ name: string }>`select name from kysely_migration order by name`.execute(instances[0]!.db);
        const expected = Object.keys(await migrationProvider.getMigrations()).sort();
        expect(applied.rows.map((r) => r.name)).toEqual(expected);
        // And the schema works: a run can be created through the store.
        const store = new KyselyRunStore(instances[1]!.db);
        const run = await store.createRun(newRun());
        expect((await store.getRun(run.run_id))?.status).toBe('queued');
      } finally {
        await Promise.all(instances.map((i) => i.close()));
        await empty.drop();
      }
    });

    it('claims a run for exactly one of many workers racing on separate connections', async () => {
      const fresh = await server.createDatabase();
      const pools = await Promise.all([1, 2, 3, 4, 5, 6].map(() => openDatabase(fresh.url)));
      try {
        const seed = new KyselyRunStore(pools[0]!.db);
        await seed.createRun(newRun());
        await seed.createRun(newRun());
        await seed.createRun(newRun({ env: 'QA' }));
        // Six workers, each on its own pool (as separate processes would be), claim at once, a few rounds
        // (a worker that loses the compare-and-set gets nothing this round and tries again later).
        const won = [];
        for (let round = 0; round < 4; round++) {
          const claims = await Promise.all(pools.map((p, i) => new KyselyRunStore(p.db).claimNext(`w${i}`, 60_000)));
          won.push(...claims.filter((c) => c !== undefined));
        }
        // One per environment: DevTest's oldest and QA's only run, never DevTest's second.
        expect(won.map((c) => c!.env).sort()).toEqual(['DevTest', 'QA']);
        const running = await seed.listRuns({ status: ['running'], limit: 10 });
        expect(running.runs).toHaveLength(2);
        expect(new Set(running.runs.map((r) => r.lease_owner)).size).toBe(2);
      } finally {
        await Promise.all(pools.map((p) => p.close()));
        await fresh.drop();
      }
    });
  });
});
