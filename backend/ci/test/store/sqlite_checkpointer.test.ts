/**
 * With background checkpoints the server's connection never checkpoints itself, so the pages it
 * commits must still reach the database file, from the worker thread, and close() must end it.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import Database from 'better-sqlite3';
import { sql } from 'kysely';
import { afterEach, expect, it } from 'vitest';
import { openDatabase } from '../../src/store/db.js';

const dirs: string[] = [];
afterEach(() => dirs.splice(0).forEach((d) => rmSync(d, { recursive: true, force: true })));

async function until(what: string, ok: () => boolean, ms = 10_000) {
  const end = Date.now() + ms;
  while (!ok()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

it('moves committed pages into the database file from a worker thread while the writer only appends to the WAL', async () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'qaci-ckpt-'));
  dirs.push(dir);
  const file = path.join(dir, 'ci.sqlite');
  const opened = await openDatabase(file, { backgroundCheckpoints: true });
  try {
    const auto = await sql<{ wal_autocheckpoint: number }>`pragma wal_autocheckpoint`.execute(opened.db);
    expect(auto.rows[0]!.wal_autocheckpoint).toBe(0);
    await sql`create table blobs (id integer primary key, body text not null)`.execute(opened.db);
    const body = 'x'.repeat(64 * 1024);
    for (let i = 0; i < 10; i++) {
      await opened.db.transaction().execute(async (tx) => {
        for (let j = 0; j < 32; j++) await sql`insert into blobs (body) values (${body})`.execute(tx);
      });
    }
    // 20 MB committed; the database file itself grows only when a checkpoint copies the pages in.
    await until('the background checkpoint to copy the pages into the database file', () => statSync(file).size > 20 * 1024 * 1024);
  } finally {
    await opened.close();
  }
  const check = new Database(file, { readonly: true });
  expect((check.prepare('select count(*) n from blobs').get() as { n: number }).n).toBe(320);
  check.close();
});

it('close() waits for the thread even when nothing else keeps the process alive (a script ends cleanly, not with exit 13)', () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'qaci-ckpt-'));
  dirs.push(dir);
  const dbModule = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../src/store/db.ts');
  const script = path.join(dir, 'open_close.mts');
  writeFileSync(
    script,
    `import { openDatabase, migrateToLatest } from ${JSON.stringify(dbModule)};
const o = await openDatabase(${JSON.stringify(path.join(dir, 'ci.sqlite'))}, { backgroundCheckpoints: true });
await migrateToLatest(o.db);
await o.close();
console.log('closed');
`,
  );
  const r = spawnSync(process.execPath, ['--import', 'tsx', script], { cwd: path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..'), encoding: 'utf8', timeout: 60_000 });
  expect({ status: r.status, out: r.stdout.trim() }, r.stderr).toEqual({ status: 0, out: 'closed' });
});
