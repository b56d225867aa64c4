/**
 * Migration 004 turns the one-row-per-line log of earlier versions into chunks: a database
 * upgraded in place must still give every stored line back, with its seq, stage and time.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Migrator } from 'kysely';
import { afterEach, expect, it } from 'vitest';
import { openDatabase } from '../../src/store/db.js';
import { migrationProvider } from '../../src/store/migrations/index.js';
import { KyselyRunStore } from '../../src/store/run_store.js';
import { newRun } from './run_store_contract.js';

const dirs: string[] = [];
afterEach(() => dirs.splice(0).forEach((d) => rmSync(d, { recursive: true, force: true })));

it('upgrading a database with per-line logs keeps every line and its seq, stage and time; down restores the lines', async () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'qaci-mig-'));
  dirs.push(dir);
  const opened = await openDatabase(path.join(dir, 'ci.sqlite'));
  try {
    const migrator = new Migrator({ db: opened.db, provider: migrationProvider });
    expect((await migrator.migrateToLatest()).error).toBeUndefined();
    const store = new KyselyRunStore(opened.db);
    const run = await store.createRun(newRun());
    // Back to the per-line schema of 003, where an older version stored these lines.
    expect((await migrator.migrateTo('003_run_history_index')).error).toBeUndefined();
    const old = Array.from({ length: 25 }, (_, i) => ({ run_id: run.run_id, seq: i + 1, stage: i < 10 ? 'checkout' : 'build', text: i === 3 ? '' : `old line ${i}`, ts: `2026-12-0${1 + (i % 3)}T00:00:00.000Z` }));
    await (opened.db as any).insertInto('log_lines').values(old).execute();
    await (opened.db as any).updateTable('runs').set({ last_seq: 25 }).where('run_id', '=', run.run_id).execute();

    expect((await migrator.migrateToLatest()).error).toBeUndefined();
    const want = old.map(({ seq, stage, text, ts }) => ({ seq, stage, text, ts }));
    expect(await store.readLogs(run.run_id, 0, 100)).toEqual(want);
    expect(await store.readLogs(run.run_id, 12, 5)).toEqual(want.slice(12, 17));
    expect((await store.getRun(run.run_id))?.console_skip).toBe(0);

    expect((await migrator.migrateTo('003_run_history_index')).error).toBeUndefined();
    const back = await (opened.db as any).selectFrom('log_lines').selectAll().where('run_id', '=', run.run_id).orderBy('seq').execute();
    expect(back).toEqual(old);
  } finally {
    await opened.close();
  }
});
