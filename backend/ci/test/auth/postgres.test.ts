/**
 * The access-control tables and queries on a real PostgreSQL server (the
 * 002_auth migration is schema-builder only, so it must run on both): tokens,
 * sessions with CSRF, single-use WS tickets and audit pagination, over real HTTP.
 */
import type { Kysely } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { listAudit, recordAudit } from '../../src/auth/audit.js';
import { createToken, revokeToken, verifyApiToken } from '../../src/auth/tokens.js';
import { openDatabase } from '../../src/store/db.js';
import { pgAvailability, startPostgres, type PgServer } from '../helpers/pg.js';
import { cookieHeader, cookiesOf, FAKE_SESSION_SECRET, type Harness, json, startHarness } from './harness.js';

const avail = pgAvailability();
if (!avail.ok && process.env.CI === 'true') throw new Error(`PostgreSQL auth tests cannot run: ${avail.reason}`);

describe.skipIf(!avail.ok)('access control on PostgreSQL', () => {
  let server: PgServer;
  let database: Awaited<ReturnType<PgServer['createDatabase']>>;
  let opened: Awaited<ReturnType<typeof openDatabase>>;
  let db: Kysely<any>;
  let h: Harness;
  beforeAll(async () => {
    server = await startPostgres();
    database = await server.createDatabase();
    opened = await openDatabase(database.url);
    expect(opened.kind).toBe('postgres');
    db = opened.db as unknown as Kysely<any>;
    h = await startHarness({ AUTH_MODE: 'token', SESSION_SECRET: FAKE_SESSION_SECRET }, { db });
  }, 120_000);
  afterAll(async () => {
    await h?.close();
    await opened?.close();
    await database?.drop();
    await server?.stop();
  });

  it('creates, verifies and revokes tokens; the unique hash holds', async () => {
    const t = await createToken(db, { name: 'pg-user', role: 'deployer' });
    expect(await verifyApiToken(db, t.token)).toMatchObject({ id: t.id, role: 'deployer' });
    await expect(db.insertInto('api_tokens').values({ id: 'tok_dup', name: 'x', role: 'viewer', token_hash: (await db.selectFrom('api_tokens').select('token_hash').where('id', '=', t.id).executeTakeFirstOrThrow()).token_hash, created_at: new Date().toISOString() }).execute()).rejects.toThrow();
    expect(await revokeToken(db, t.id)).toBe(true);
    expect(await verifyApiToken(db, t.token)).toBeNull();
  });

  it('signs in, enforces CSRF and redeems a WS ticket once', async () => {
    const t = await createToken(db, { name: 'pg-browser', role: 'deployer' });
    const login = await fetch(`${h.url}/ci/auth/login`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ token: t.token }) });
    expect(login.status).toBe(200);
    const { jar } = cookiesOf(login);
    const cookie = cookieHeader(jar);
    const post = (headers: Record<string, string>) => fetch(`${h.url}/ci/runs`, { method: 'POST', headers: { cookie, 'content-type': 'application/json', ...headers }, body: '{}' });
    expect((await post({})).status).toBe(403);
    expect((await post({ 'x-csrf-token': jar.qa_csrf! })).status).toBe(201);

    const ticket = (await json(await fetch(`${h.url}/ci/auth/ws-ticket`, { method: 'POST', headers: { cookie, 'x-csrf-token': jar.qa_csrf! } }))).ticket as string;
    const open = () =>
      new Promise<string | number>((resolve, reject) => {
        const ws = new WebSocket(`${h.wsUrl}/ci/runs/r1/logs?ticket=${ticket}`);
        ws.once('message', (d) => {
          resolve(String(d));
          ws.close();
        });
        ws.once('unexpected-response', (req, res) => {
          res.resume();
          req.destroy();
          resolve(res.statusCode ?? 0);
        });
        ws.once('error', reject);
      });
    const both = await Promise.all([open(), open()]);
    expect(both.filter((r) => typeof r === 'string')).toHaveLength(1);
    expect(both).toContain(401);
  });

  it('pages the audit trail newest first', async () => {
    const t0 = Date.parse('2025-06-01T00:00:00Z');
    for (let i = 0; i < 5; i++) await recordAudit(db, { actor: 'pg', action: 'run.start', target: `pg-run-${i}`, at: new Date(t0 + i * 1000) });
    const p1 = await listAudit(db, { actor: 'pg', limit: 2 });
    const p2 = await listAudit(db, { actor: 'pg', limit: 2, cursor: p1.next_cursor! });
    const p3 = await listAudit(db, { actor: 'pg', limit: 2, cursor: p2.next_cursor! });
    expect([...p1.events, ...p2.events, ...p3.events].map((e) => e.target)).toEqual(['pg-run-4', 'pg-run-3', 'pg-run-2', 'pg-run-1', 'pg-run-0']);
    expect(p3.next_cursor).toBeNull();
  });
});
