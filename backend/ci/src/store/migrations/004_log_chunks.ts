/**
 * 004: the log is stored in chunks instead of one row per line, and the console cursor
 * can point inside a progressiveText reply.
 *
 * - `log_chunks`: one row holds consecutive lines of one stage (seqs first_seq..last_seq,
 *   joined with "\n"; a stored line never contains "\n"), at most about 64 KB of text. A
 *   100 MB console becomes ~1 600 rows instead of ~145 000, which is what lets ingestion keep
 *   up with the console (docs/benchmarks.md "Log ingestion"). Seqs are unchanged for the API
 *   and the WS: readers expand the chunks.
 * - `runs.console_skip`: body bytes of the reply from `console_offset` already stored. A long
 *   reply is read and stored slice by slice; after a restart the same `start` is asked again
 *   and that many body bytes are skipped (Jenkins' body is not the raw log byte for byte, so a
 *   raw offset cannot be computed mid-reply; the body from one `start` is always the same).
 *
 * - `runs.console_in_key`: the stored lines end inside a PEM private key printed over several
 *   lines, so the next lines are masked until its END line (redactLines).
 *
 * Existing lines become one-line chunks, so history survives the upgrade.
 */
import { type Kysely, sql } from 'kysely';

export async function up(db: Kysely<any>): Promise<void> {
  await db.schema
    .createTable('log_chunks')
    .addColumn('run_id', 'text', (c) => c.notNull())
    .addColumn('first_seq', 'integer', (c) => c.notNull())
    .addColumn('last_seq', 'integer', (c) => c.notNull())
    .addColumn('stage', 'text', (c) => c.notNull())
    .addColumn('text', 'text', (c) => c.notNull())
    .addColumn('ts', 'text', (c) => c.notNull())
    .addPrimaryKeyConstraint('log_chunks_pk', ['run_id', 'first_seq'])
    .execute();
  // Readers ask "the chunks ending after seq N": this index finds the first one directly.
  await db.schema.createIndex('log_chunks_last_seq').on('log_chunks').columns(['run_id', 'last_seq']).execute();
  await sql`insert into log_chunks (run_id, first_seq, last_seq, stage, text, ts) select run_id, seq, seq, stage, text, ts from log_lines`.execute(db);
  await db.schema.dropTable('log_lines').execute();
  await db.schema.alterTable('runs').addColumn('console_skip', 'integer', (c) => c.notNull().defaultTo(0)).execute();
  await db.schema.alterTable('runs').addColumn('console_in_key', 'integer', (c) => c.notNull().defaultTo(0)).execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema
    .createTable('log_lines')
    .addColumn('run_id', 'text', (c) => c.notNull())
    .addColumn('seq', 'integer', (c) => c.notNull())
    .addColumn('stage', 'text', (c) => c.notNull())
    .addColumn('text', 'text', (c) => c.notNull())
    .addColumn('ts', 'text', (c) => c.notNull())
    .addPrimaryKeyConstraint('log_lines_pk', ['run_id', 'seq'])
    .execute();
  // Expand each chunk back into lines, a run at a time.
  const runs = await db.selectFrom('log_chunks').select('run_id').distinct().execute();
  for (const { run_id } of runs) {
    const chunks = await db.selectFrom('log_chunks').selectAll().where('run_id', '=', run_id).orderBy('first_seq').execute();
    const rows = chunks.flatMap((c) => String(c.text).split('\n').map((text, i) => ({ run_id, seq: Number(c.first_seq) + i, stage: c.stage, text, ts: c.ts })));
    for (let i = 0; i < rows.length; i += 500) await db.insertInto('log_lines').values(rows.slice(i, i + 500)).execute();
  }
  await db.schema.dropTable('log_chunks').execute();
  await db.schema.alterTable('runs').dropColumn('console_skip').execute();
  await db.schema.alterTable('runs').dropColumn('console_in_key').execute();
}
