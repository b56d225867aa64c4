/**
 * 002: access control (DESIGN §6) — API tokens, browser sessions, WebSocket
 * tickets and the audit trail. Kysely's schema builder only, so it runs on
 * SQLite and PostgreSQL alike. Timestamps are ISO-8601 UTC strings, as in 001.
 *
 * Nothing here stores a secret: tokens, session ids, CSRF tokens and tickets
 * are kept only as hashes. `audit_events` has no foreign key to `runs` on
 * purpose: pruning runs never deletes who did what.
 */
import type { Kysely } from 'kysely';

export async function up(db: Kysely<any>): Promise<void> {
  await db.schema
    .createTable('api_tokens')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('name', 'text', (c) => c.notNull())
    .addColumn('role', 'text', (c) => c.notNull())
    // SHA-256 (hex) of the token; the token itself is shown once and never stored.
    .addColumn('token_hash', 'text', (c) => c.notNull().unique())
    .addColumn('created_at', 'text', (c) => c.notNull())
    .addColumn('last_used_at', 'text')
    .addColumn('revoked_at', 'text')
    .execute();

  await db.schema
    .createTable('sessions')
    // HMAC-SHA256(SESSION_SECRET, cookie value), hex.
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('principal', 'text', (c) => c.notNull())
    .addColumn('name', 'text', (c) => c.notNull())
    .addColumn('role', 'text', (c) => c.notNull())
    // How the user signed in (token | jwt); a revoked token ends its sessions.
    .addColumn('via', 'text', (c) => c.notNull())
    .addColumn('token_id', 'text')
    .addColumn('csrf_hash', 'text', (c) => c.notNull())
    .addColumn('created_at', 'text', (c) => c.notNull())
    .addColumn('expires_at', 'text', (c) => c.notNull())
    .execute();
  await db.schema.createIndex('sessions_expires').on('sessions').column('expires_at').execute();
  await db.schema.createIndex('sessions_token').on('sessions').column('token_id').execute();

  // Single-use WebSocket tickets live in the DB (not in memory) so that any
  // instance behind a load balancer can redeem one another instance issued.
  await db.schema
    .createTable('ws_tickets')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('principal', 'text', (c) => c.notNull())
    .addColumn('name', 'text', (c) => c.notNull())
    .addColumn('role', 'text', (c) => c.notNull())
    .addColumn('via', 'text', (c) => c.notNull())
    .addColumn('expires_at', 'text', (c) => c.notNull())
    .execute();

  await db.schema
    .createTable('audit_events')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('at', 'text', (c) => c.notNull())
    .addColumn('actor', 'text', (c) => c.notNull())
    .addColumn('role', 'text')
    .addColumn('action', 'text', (c) => c.notNull())
    .addColumn('target', 'text')
    .addColumn('source_ip', 'text')
    .addColumn('user_agent', 'text')
    .addColumn('details', 'text', (c) => c.notNull().defaultTo('{}'))
    .execute();
  await db.schema.createIndex('audit_events_at').on('audit_events').columns(['at', 'id']).execute();
  await db.schema.createIndex('audit_events_actor').on('audit_events').columns(['actor', 'at']).execute();
  await db.schema.createIndex('audit_events_target').on('audit_events').columns(['target', 'at']).execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  for (const t of ['audit_events', 'ws_tickets', 'sessions', 'api_tokens']) await db.schema.dropTable(t).ifExists().execute();
}
