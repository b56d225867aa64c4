/**
 * A small real app for the access-control tests: the hardening, authPlugin,
 * the real error handler and a few dummy routes guarded like the real ones,
 * on a fresh SQLite file, listening on a loopback port. Requests go over
 * real HTTP with fetch.
 */
import { createReadStream, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import fastifyWebsocket from '@fastify/websocket';
import Fastify, { type FastifyInstance } from 'fastify';
import { type Kysely, Migrator } from 'kysely';
import { registerErrorHandler } from '../../src/api/errors.js';
import { type AuthConfig, loadAuthConfig } from '../../src/auth/config.js';
import { authPlugin, requireRole, requireWsRole } from '../../src/auth/plugin.js';
import { createRedactor } from '../../src/ci/redact.js';
import { artifactHeaders, hardenedServerOptions, registerHttpHardening, safeArtifactPath } from '../../src/security/http.js';
import { openDatabase } from '../../src/store/db.js';
import * as m001 from '../../src/store/migrations/001_init.js';
import * as m002 from '../../src/store/migrations/002_auth.js';

export const FAKE_SESSION_SECRET = 'fake-session-secret-for-tests-only-0123456789';

export interface Harness {
  app: FastifyInstance;
  url: string;
  wsUrl: string;
  db: Kysely<any>;
  dir: string;
  dbFile: string;
  config: AuthConfig;
  /** Rows the dummy write routes stored (to prove a refused request stored nothing). */
  writes: unknown[];
  close(): Promise<void>;
}

export async function openAuthDb(dir: string): Promise<{ db: Kysely<any>; file: string; close(): Promise<void> }> {
  const file = path.join(dir, 'ci.sqlite');
  const opened = await openDatabase(file);
  const migrator = new Migrator({ db: opened.db, provider: { getMigrations: async () => ({ '001_init': m001, '002_auth': m002 }) } });
  const { error } = await migrator.migrateToLatest();
  if (error) throw error;
  return { db: opened.db as Kysely<any>, file, close: opened.close };
}

export async function startHarness(
  env: Record<string, string | undefined>,
  opts: { sandbox?: boolean; host?: string; /** An already migrated database (e.g. PostgreSQL); default a fresh SQLite file. */ db?: Kysely<any> } = {},
): Promise<Harness> {
  const dir = mkdtempSync(path.join(tmpdir(), 'qa-auth-'));
  const { db, file, close: closeDb } = opts.db ? { db: opts.db, file: '', close: async () => {} } : await openAuthDb(dir);
  const config = loadAuthConfig(env);
  const redactor = createRedactor([FAKE_SESSION_SECRET]);
  const app = Fastify({ logger: false, ...hardenedServerOptions(config) });
  registerErrorHandler(app, redactor);
  await registerHttpHardening(app, { auth: config, host: opts.host ?? '127.0.0.1' });
  await app.register(fastifyWebsocket);
  await app.register(authPlugin, { config, db, redactor, sandbox: opts.sandbox ?? true });

  const writes: unknown[] = [];
  app.get('/healthz', async () => ({ ok: true }));
  app.get('/ci/runs', { preHandler: requireRole('viewer') }, async (req) => ({ runs: [], who: req.principal }));
  app.post('/ci/runs', { preHandler: requireRole('deployer') }, async (req, reply) => {
    writes.push(req.body);
    return reply.code(201).send({ run_id: 'fake-run', status: 'queued', initiator: req.principal?.name });
  });
  app.post('/ci/environments/:env/rollback', { preHandler: requireRole('admin') }, async (req, reply) => {
    writes.push(req.body);
    return reply.code(202).send({ ok: true });
  });
  // Like the real artifact route: the run folder is <dir>/runs/<id>.
  app.get('/ci/runs/:id/artifacts/*', { preHandler: requireRole('viewer') }, async (req, reply) => {
    const { id, '*': wanted } = req.params as { id: string; '*': string };
    if (!/^[A-Za-z0-9-]{1,64}$/.test(id)) return reply.code(404).send({ error: { code: 'not_found', message: 'no such run', details: null } });
    const file = await safeArtifactPath(path.join(dir, 'runs', id), wanted);
    return artifactHeaders(reply).type('text/html; charset=utf-8').send(createReadStream(file));
  });
  app.get('/page', async (_req, reply) => reply.type('text/html').send('<!doctype html><title>page</title>'));
  app.get('/ci/runs/:id/logs', { websocket: true, preHandler: requireWsRole('viewer') }, (socket, req) => {
    socket.send(JSON.stringify({ hello: req.principal?.name, role: req.principal?.role, via: req.principal?.via }));
    socket.close(1000, 'done');
  });

  await app.listen({ host: '127.0.0.1', port: 0 });
  const addr = app.server.address();
  if (!addr || typeof addr === 'string') throw new Error('no port');
  const url = `http://127.0.0.1:${addr.port}`;
  return {
    app,
    url,
    wsUrl: url.replace('http:', 'ws:'),
    db,
    dir,
    dbFile: file,
    config,
    writes,
    close: async () => {
      await app.close();
      await closeDb();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** `name=value` pairs from Set-Cookie headers, and the raw headers for flag checks. */
export function cookiesOf(res: Response): { jar: Record<string, string>; raw: string[] } {
  const raw = res.headers.getSetCookie();
  const jar: Record<string, string> = {};
  for (const c of raw) {
    const [pair] = c.split(';');
    const eq = pair!.indexOf('=');
    jar[pair!.slice(0, eq).trim()] = pair!.slice(eq + 1).trim();
  }
  return { jar, raw };
}

export const cookieHeader = (jar: Record<string, string>) =>
  Object.entries(jar)
    .filter(([, v]) => v !== '')
    .map(([k, v]) => `${k}=${v}`)
    .join('; ');

export async function json(res: Response): Promise<any> {
  const text = await res.text();
  try {
    return JSON.parse(text);
  } catch {
    return { _text: text };
  }
}
