/**
 * 003: an index for the per-environment history queries that every
 * GET /ci/runs/{id} makes (typical stage durations: the last successful runs
 * of the env, newest first). Without it SQLite sorts every matching run:
 * 46 ms at 100 000 runs, 0.03 ms with it (docs/benchmarks.md).
 */
import type { Kysely } from 'kysely';

export async function up(db: Kysely<any>): Promise<void> {
  await db.schema.createIndex('runs_env_status_created').on('runs').columns(['app', 'env', 'status', 'created_at']).execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.dropIndex('runs_env_status_created').ifExists().execute();
}
