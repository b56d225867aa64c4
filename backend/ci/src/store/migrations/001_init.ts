/**
 * 001: runs, stages, log lines, artifacts, deployments.
 * Kysely's schema builder only, so the same migration runs on SQLite and PostgreSQL.
 * Timestamps are ISO-8601 UTC strings (sortable, identical on both databases).
 */
import type { Kysely } from 'kysely';

export async function up(db: Kysely<any>): Promise<void> {
  await db.schema
    .createTable('runs')
    .addColumn('run_id', 'text', (c) => c.primaryKey())
    .addColumn('app', 'text', (c) => c.notNull())
    .addColumn('env', 'text', (c) => c.notNull())
    .addColumn('kind', 'text', (c) => c.notNull())
    .addColumn('branch_or_tag', 'text', (c) => c.notNull())
    .addColumn('dry_run', 'integer', (c) => c.notNull())
    .addColumn('test_suite', 'text', (c) => c.notNull())
    .addColumn('provider', 'text', (c) => c.notNull())
    .addColumn('status', 'text', (c) => c.notNull())
    .addColumn('phase', 'text', (c) => c.notNull())
    .addColumn('reason', 'text')
    .addColumn('failure_kind', 'text')
    .addColumn('initiator', 'text', (c) => c.notNull())
    .addColumn('created_at', 'text', (c) => c.notNull())
    .addColumn('started_at', 'text')
    .addColumn('finished_at', 'text')
    .addColumn('commit_sha', 'text')
    .addColumn('commit_time', 'text')
    .addColumn('rollback_to', 'text')
    .addColumn('rollback_failed', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('cancel_requested', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('jenkins_job', 'text', (c) => c.notNull())
    .addColumn('jenkins_queue_id', 'integer')
    .addColumn('jenkins_build_number', 'integer')
    .addColumn('jenkins_build_url', 'text')
    .addColumn('sandbox', 'integer', (c) => c.notNull())
    .addColumn('score', 'real')
    .addColumn('metrics_json', 'text', (c) => c.notNull())
    .addColumn('notify_json', 'text')
    .addColumn('console_offset', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('console_pending', 'text', (c) => c.notNull().defaultTo(''))
    .addColumn('console_stage', 'text', (c) => c.notNull().defaultTo('checkout'))
    .addColumn('last_seq', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('lease_owner', 'text')
    .addColumn('lease_expires_at', 'text')
    .addColumn('queue_seq', 'integer', (c) => c.notNull())
    .execute();
  await db.schema.createIndex('runs_env_status').on('runs').columns(['app', 'env', 'status', 'queue_seq']).execute();
  await db.schema.createIndex('runs_created').on('runs').columns(['created_at', 'run_id']).execute();

  await db.schema
    .createTable('stages')
    .addColumn('run_id', 'text', (c) => c.notNull())
    .addColumn('id', 'text', (c) => c.notNull())
    .addColumn('position', 'integer', (c) => c.notNull())
    .addColumn('name', 'text', (c) => c.notNull())
    .addColumn('status', 'text', (c) => c.notNull())
    .addColumn('started_at', 'text')
    .addColumn('finished_at', 'text')
    .addPrimaryKeyConstraint('stages_pk', ['run_id', 'id'])
    .execute();

  await db.schema
    .createTable('log_lines')
    .addColumn('run_id', 'text', (c) => c.notNull())
    .addColumn('seq', 'integer', (c) => c.notNull())
    .addColumn('stage', 'text', (c) => c.notNull())
    .addColumn('text', 'text', (c) => c.notNull())
    .addColumn('ts', 'text', (c) => c.notNull())
    .addPrimaryKeyConstraint('log_lines_pk', ['run_id', 'seq'])
    .execute();

  await db.schema
    .createTable('artifacts')
    .addColumn('run_id', 'text', (c) => c.notNull())
    .addColumn('path', 'text', (c) => c.notNull())
    .addColumn('name', 'text', (c) => c.notNull())
    .addColumn('bytes', 'bigint', (c) => c.notNull())
    .addColumn('sha256', 'text', (c) => c.notNull())
    .addColumn('content_type', 'text', (c) => c.notNull())
    .addPrimaryKeyConstraint('artifacts_pk', ['run_id', 'path'])
    .execute();

  await db.schema
    .createTable('deployments')
    .addColumn('run_id', 'text', (c) => c.primaryKey())
    .addColumn('app', 'text', (c) => c.notNull())
    .addColumn('env', 'text', (c) => c.notNull())
    .addColumn('kind', 'text', (c) => c.notNull())
    .addColumn('version', 'text', (c) => c.notNull())
    .addColumn('commit_sha', 'text')
    .addColumn('artifact_sha256', 'text')
    .addColumn('backup_id', 'text')
    .addColumn('status', 'text', (c) => c.notNull())
    .addColumn('initiator', 'text', (c) => c.notNull())
    .addColumn('deployed_at', 'text', (c) => c.notNull())
    .execute();
  await db.schema.createIndex('deployments_env').on('deployments').columns(['app', 'env', 'deployed_at']).execute();

  // A monotonically increasing ticket for FIFO order that does not depend on clock resolution.
  await db.schema.createTable('counters').addColumn('name', 'text', (c) => c.primaryKey()).addColumn('value', 'integer', (c) => c.notNull()).execute();
  await db.insertInto('counters').values({ name: 'queue_seq', value: 0 }).execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  for (const t of ['counters', 'deployments', 'artifacts', 'log_lines', 'stages', 'runs']) await db.schema.dropTable(t).ifExists().execute();
}
