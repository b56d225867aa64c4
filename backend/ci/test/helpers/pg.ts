/**
 * A real PostgreSQL server for tests, on loopback, owned by the test file:
 * `initdb` into a temporary directory, `postgres` on a free port, stopped and
 * removed afterwards. Each test gets its own database, cloned from a migrated
 * template (`CREATE DATABASE x TEMPLATE qaci_template`), so tests never share
 * state and the migrations are exercised on PostgreSQL once per server.
 *
 * PostgreSQL refuses to run as root: when the tests run as root, the server
 * runs as the `postgres` user that Debian's package creates.
 *
 * Under CI=true a missing PostgreSQL is a failure (`pgAvailability()` says
 * why); elsewhere the caller may skip.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import net from 'node:net';
import { chownSync, existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { migrateToLatest, openDatabase } from '../../src/store/db.js';

export interface PgAvailability {
  ok: boolean;
  binDir: string | null;
  /** What is missing and how to install it; null when ok. */
  reason: string | null;
}

/** Finds Debian's PostgreSQL binaries (newest major first), or PG_BIN_DIR. */
export function pgAvailability(): PgAvailability {
  const candidates: string[] = [];
  if (process.env.PG_BIN_DIR) candidates.push(process.env.PG_BIN_DIR);
  const root = '/usr/lib/postgresql';
  if (existsSync(root)) {
    const majors = readdirSync(root).filter((d) => /^\d+$/.test(d)).sort((a, b) => Number(b) - Number(a));
    candidates.push(...majors.map((m) => path.join(root, m, 'bin')));
  }
  const binDir = candidates.find((d) => existsSync(path.join(d, 'postgres')) && existsSync(path.join(d, 'initdb'))) ?? null;
  if (!binDir) {
    return { ok: false, binDir: null, reason: 'PostgreSQL server binaries not found (looked in PG_BIN_DIR and /usr/lib/postgresql/*/bin); install them with `apt-get install -y postgresql` (.ci/run does)' };
  }
  if (process.getuid?.() === 0 && !unixUser('postgres')) {
    return { ok: false, binDir, reason: 'running as root and there is no `postgres` user to run the server as (PostgreSQL refuses root); create one or run the tests as another user' };
  }
  return { ok: true, binDir, reason: null };
}

function unixUser(name: string): { uid: number; gid: number } | null {
  try {
    const uid = Number(execFileSync('id', ['-u', name], { encoding: 'utf8' }).trim());
    const gid = Number(execFileSync('id', ['-g', name], { encoding: 'utf8' }).trim());
    return Number.isInteger(uid) && Number.isInteger(gid) ? { uid, gid } : null;
  } catch {
    return null;
  }
}

export interface PgServer {
  port: number;
  /** postgres://… for a database on this server. */
  url(database: string): string;
  /** A fresh database cloned from the migrated template; `drop` removes it. */
  createDatabase(): Promise<{ name: string; url: string; drop(): Promise<void> }>;
  /** A fresh database with no tables at all (for migration tests). */
  createEmptyDatabase(): Promise<{ name: string; url: string; drop(): Promise<void> }>;
  stop(): Promise<void>;
}

const TEMPLATE = 'qaci_template';

export async function startPostgres(): Promise<PgServer> {
  const avail = pgAvailability();
  if (!avail.ok || !avail.binDir) throw new Error(avail.reason ?? 'PostgreSQL is not available');
  const bin = (name: string) => path.join(avail.binDir!, name);
  const asRoot = process.getuid?.() === 0;
  const user = asRoot ? unixUser('postgres') : null;
  const runAs = user ? { uid: user.uid, gid: user.gid } : {};

  const dir = mkdtempSync(path.join(os.tmpdir(), 'qaci-pg-'));
  if (user) chownSync(dir, user.uid, user.gid);
  const dataDir = path.join(dir, 'data');
  // -N: no fsync during initdb; trust auth: loopback only, a throw-away cluster.
  execFileSync(bin('initdb'), ['-D', dataDir, '-U', 'postgres', '--auth=trust', '-E', 'UTF8', '--locale=C', '-N'], { ...runAs, stdio: 'pipe', cwd: dir });

  const port = await freePort();
  const child: ChildProcess = spawn(
    bin('postgres'),
    // Durability is not what these tests check: fsync off keeps them fast on a shared 2-core machine.
    ['-D', dataDir, '-k', dir, '-p', String(port), '-h', '127.0.0.1', '-c', 'fsync=off', '-c', 'synchronous_commit=off', '-c', 'full_page_writes=off', '-c', 'max_connections=200'],
    { ...runAs, stdio: ['ignore', 'ignore', 'pipe'], cwd: dir },
  );
  const forget = killOnExit(child);
  let stderr = '';
  child.stderr?.on('data', (d: Buffer) => {
    stderr = (stderr + d.toString()).slice(-4000);
  });
  const url = (database: string) => `postgres://postgres@127.0.0.1:${port}/${database}`;

  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const deadline = Date.now() + 30_000;
  for (;;) {
    const c = new pg.Client({ connectionString: url('postgres') });
    try {
      await c.connect();
      await c.query('select 1');
      await c.end();
      break;
    } catch {
      await c.end().catch(() => undefined);
      if (child.exitCode !== null || Date.now() > deadline) {
        child.kill('SIGKILL');
        rmSync(dir, { recursive: true, force: true });
        throw new Error(`PostgreSQL did not start on 127.0.0.1:${port}: ${stderr.trim() || 'no output'}`);
      }
      await new Promise((r) => setTimeout(r, 100));
    }
  }

  const admin = async <T>(fn: (c: pg.Client) => Promise<T>): Promise<T> => {
    const c = new pg.Client({ connectionString: url('postgres') });
    c.on('error', () => undefined); // a server stopping under an idle admin connection is not a test failure
    await c.connect();
    try {
      return await fn(c);
    } finally {
      await c.end();
    }
  };

  // The template: migrated once with the app's own migrations.
  await admin((c) => c.query(`CREATE DATABASE ${TEMPLATE}`));
  const tpl = await openDatabase(url(TEMPLATE));
  await migrateToLatest(tpl.db);
  await tpl.close();

  let n = 0;
  const make = async (template: string) => {
    const name = `qaci_t${process.pid}_${++n}`;
    await admin((c) => c.query(`CREATE DATABASE ${name} TEMPLATE ${template}`));
    return {
      name,
      url: url(name),
      // FORCE: a test that failed may have left a pool open.
      drop: () => admin((c) => c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`)).then(() => undefined),
    };
  };

  let stopped = false;
  return {
    port,
    url,
    createDatabase: () => make(TEMPLATE),
    createEmptyDatabase: () => make('template0'),
    async stop() {
      if (stopped) return;
      stopped = true;
      // SIGINT = "fast" shutdown: disconnects clients instead of waiting for them.
      child.kill('SIGINT');
      const t = setTimeout(() => child.kill('SIGKILL'), 10_000);
      await exited;
      clearTimeout(t);
      forget();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** A port that was free a moment ago on 127.0.0.1 (the OS picks it). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as net.AddressInfo;
      srv.close(() => resolve(port));
    });
  });
}

/** Kills `child` if this test process exits without stopping it (a crashed test must not leave servers behind). */
export function killOnExit(child: ChildProcess): () => void {
  const kill = () => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  };
  process.once('exit', kill);
  return () => process.removeListener('exit', kill);
}
