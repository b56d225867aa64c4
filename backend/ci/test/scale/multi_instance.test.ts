/**
 * Beyond one machine, with real processes on loopback (issue 7):
 * two backend instances (`backend/ci/src/server.ts`, each an API and a
 * worker) sharing one PostgreSQL and one Redis, and one standalone sandbox
 * Jenkins (`backend/ci/src/sandbox/cli.ts`) serving two jobs.
 *
 * - 20 deploys requested at once across two environments run one at a time
 *   per environment, all finish, none twice (one Jenkins build each), and
 *   they went through BullMQ.
 * - A WS client on one instance gets the whole log of a run the other
 *   instance's worker follows, live, in order, without duplicates.
 * - SIGKILL of the instance following a run: the other one finishes it with
 *   the same Jenkins build and a complete log.
 *
 * SCALE_SERVER_ENTRY may point at another server.ts (to try a wiring before
 * it lands); by default the repository's own.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Redis } from 'ioredis';
import pg from 'pg';
import WebSocket from 'ws';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseConsoleChunk } from '../../src/ci/logs/console_parser.js';
import { freePort, killOnExit, pgAvailability, startPostgres, type PgServer } from '../helpers/pg.js';
import { redisAvailability, startRedis, type RedisServer } from '../helpers/redis.js';
import { buildsByRunId, installRunAudit, maxRunningPerEnv, SECOND_ENV, TERMINAL, waitFor, type Jenkins } from './stack.js';

const backendDir = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const repoRoot = path.resolve(backendDir, '../..');
const serverEntry = process.env.SCALE_SERVER_ENTRY ?? path.join(backendDir, 'src/server.ts');
const codeDir = path.resolve(path.dirname(serverEntry), '..');

const pgOk = pgAvailability();
const redisOk = redisAvailability();
if (process.env.CI === 'true' && (!pgOk.ok || !redisOk.ok)) throw new Error(`multi-instance tests cannot run: ${[pgOk.reason, redisOk.reason].filter(Boolean).join('; ')}`);

interface Proc {
  name: string;
  child: ChildProcess;
  output(): string;
  forget(): void;
}

/** One process (`node --import tsx`, not the tsx wrapper: a SIGKILL must hit the server itself). */
function startProcess(name: string, file: string, env: Record<string, string>, ready: RegExp, cwd = codeDir): Promise<Proc> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', file], { cwd, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    const forget = killOnExit(child);
    let out = '';
    let settled = false;
    const onData = (d: Buffer) => {
      out = (out + d.toString()).slice(-20_000);
      if (!settled && ready.test(out)) {
        settled = true;
        resolve({ name, child, output: () => out, forget });
      }
    };
    child.stdout!.on('data', onData);
    child.stderr!.on('data', onData);
    child.once('exit', (code, signal) => {
      if (!settled) {
        settled = true;
        reject(new Error(`${name} exited (${code ?? signal}) before it was ready:\n${out}`));
      }
    });
    setTimeout(() => {
      if (!settled) {
        settled = true;
        child.kill('SIGKILL');
        reject(new Error(`${name} not ready after 90 s:\n${out}`));
      }
    }, 90_000).unref();
  });
}

async function stopProcess(p: Proc | undefined) {
  if (!p || p.child.exitCode !== null || p.child.signalCode !== null) return;
  const exited = new Promise((r) => p.child.once('exit', r));
  p.child.kill('SIGTERM');
  const t = setTimeout(() => p.child.kill('SIGKILL'), 10_000);
  await exited;
  clearTimeout(t);
  p.forget();
}

describe.skipIf(!pgOk.ok || !redisOk.ok)('two backend instances on PostgreSQL + Redis', () => {
  let pgServer: PgServer;
  let redis: RedisServer;
  let db: { url: string; drop(): Promise<void> };
  let sql: pg.Pool;
  let sandbox: Proc;
  let jenkins: Jenkins;
  const instances: Array<Proc & { base: string; port: number }> = [];
  let headers: Record<string, string> = {};
  const dir = mkdtempSync(path.join(os.tmpdir(), 'qaci-scale-'));

  beforeAll(async () => {
    [pgServer, redis] = await Promise.all([startPostgres(), startRedis()]);
    db = await pgServer.createEmptyDatabase();
    sql = new pg.Pool({ connectionString: db.url, max: 3 });
    // An idle pooled connection cut by the server at shutdown is expected, not a test failure.
    sql.on('error', () => undefined);

    const sbPort = await freePort();
    sandbox = await startProcess('sandbox', path.join(backendDir, 'src/sandbox/cli.ts'), {
      SANDBOX_PORT: String(sbPort),
      SANDBOX_HOST: '127.0.0.1',
      SANDBOX_TIME_SCALE: '0.05',
      SANDBOX_DATA_DIR: path.join(dir, 'sandbox'),
    }, /Ctrl\+C stops it/, backendDir);
    // The sandbox prints its throw-away credential on purpose (docs/sandbox.md).
    jenkins = { url: `http://127.0.0.1:${sbPort}/`, user: /\buser\s+(\S+)/.exec(sandbox.output())![1]!, token: /API token\s+(\S+)/.exec(sandbox.output())![1]! };
    // The second environment's job, created the way an operator does it: POST /createItem with jenkins/config.xml.
    const created = await fetch(`${jenkins.url}createItem?name=${SECOND_ENV.JENKINS_JOB_NAME}`, {
      method: 'POST',
      headers: { authorization: `Basic ${Buffer.from(`${jenkins.user}:${jenkins.token}`).toString('base64')}`, 'content-type': 'application/xml' },
      body: readFileSync(path.join(repoRoot, 'jenkins/config.xml')),
    });
    expect(created.status, await created.text()).toBe(200);

    const envFile = path.join(dir, 'environments.json');
    writeFileSync(envFile, JSON.stringify([SECOND_ENV]));
    const env = {
      HOST: '127.0.0.1',
      DATABASE_URL: db.url,
      REDIS_URL: redis.url,
      JENKINS_URL: jenkins.url,
      JENKINS_USER: jenkins.user,
      JENKINS_API_TOKEN: jenkins.token,
      JENKINS_POLL_MS: '100',
      JENKINS_DEADLINE_S: '30',
      CI_ENVIRONMENTS_FILE: envFile,
      // One artifact store for both, as a shared volume would be.
      ARTIFACT_STORE: path.join(dir, 'artifacts'),
      LOG_LEVEL: 'warn',
      AUTH_MODE: 'token',
      WORKER: 'on',
    };
    // Both start at once on an empty database: the migrations race, and must not trip.
    const ports = [await freePort(), await freePort()];
    const started = await Promise.all(ports.map((port, i) => startProcess(`instance ${'AB'[i]}`, serverEntry, { ...env, PORT: String(port) }, /listening on/)));
    started.forEach((p, i) => instances.push(Object.assign(p, { base: `http://127.0.0.1:${ports[i]}`, port: ports[i]! })));
    // Fail fast, saying why, if an instance ignored REDIS_URL: its BullMQ worker and log subscriber name their Redis connections.
    const admin = new Redis(redis.url);
    const names = String(await admin.client('LIST')).split('\n').map((l) => /\bname=(\S*)/.exec(l)?.[1] ?? '');
    admin.disconnect();
    for (const p of instances) {
      const missing = [`qaci-worker-${p.child.pid}`, `qaci-log-subscriber-${p.child.pid}`].filter((n) => !names.includes(n));
      if (missing.length) {
        throw new Error(`${p.name} (pid ${p.child.pid}) has no Redis connection ${missing.join(', ')}: it does not use BullMQ / the Redis log hub. Wire createJobQueue and createLogHub (src/scale/factory.ts) into src/app.ts — docs/scale-out.md, "Status".`);
      }
    }

    // Instrument the (now migrated) database: every status change of a run, in order.
    await installRunAudit(sql);
    // AUTH_MODE=none is refused with a real JENKINS_URL: an admin API token, made with the tokens CLI as an operator would.
    const tokens = spawnSync(process.execPath, ['--import', 'tsx', path.join(codeDir, 'src/cli/tokens.ts'), 'create', '--name', 'scale-test', '--role', 'admin'], {
      cwd: codeDir,
      env: { ...process.env, DATABASE_URL: db.url },
      encoding: 'utf8',
    });
    const token = /shown only now[^\n]*\n(\S+)/.exec(tokens.stdout)?.[1];
    if (tokens.status !== 0 || !token) throw new Error(`tokens CLI failed (${tokens.status}): ${tokens.stderr}`);
    headers = { authorization: `Bearer ${token}` };
  }, 180_000);

  afterAll(async () => {
    await Promise.all(instances.map((p) => stopProcess(p)));
    await stopProcess(sandbox);
    await sql?.end();
    await db?.drop().catch(() => undefined);
    await Promise.all([pgServer?.stop(), redis?.stop()]);
    rmSync(dir, { recursive: true, force: true });
  }, 60_000);

  const post = async (base: string, p: string, body: unknown) => {
    const res = await fetch(base + p, { method: 'POST', headers: { ...headers, 'content-type': 'application/json' }, body: JSON.stringify(body) });
    return { status: res.status, body: (await res.json()) as any };
  };
  const rows = async (ids: string[]) =>
    (await sql.query('select run_id, env, status, reason, phase, lease_owner, queue_seq, started_at, finished_at, jenkins_build_number, last_seq from runs where run_id = any($1)', [ids])).rows;
  const pidOf = (owner: string | null) => Number(/-(\d+)-[0-9a-f]{8}$/.exec(owner ?? '')?.[1] ?? NaN);
  /** Collects a run's WS stream (JSON frames) until the server closes it. */
  const follow = (base: string, runId: string) => {
    const frames: any[] = [];
    const ws = new WebSocket(`${base.replace(/^http/, 'ws')}/ci/runs/${runId}/logs?format=json`, { headers });
    const closed = new Promise<{ code: number }>((resolve, reject) => {
      ws.on('message', (d) => frames.push(JSON.parse(String(d))));
      ws.on('close', (code) => resolve({ code }));
      ws.on('error', reject);
    });
    const opened = new Promise((resolve, reject) => {
      ws.once('open', resolve);
      ws.once('error', reject);
    });
    return { frames, closed, opened };
  };
  const completedInBullMq = async () => {
    const r = new Redis(redis.url);
    try {
      const entries = await r.xrange('qaci:qaci-runs:events', '-', '+');
      const done = new Set<string>();
      for (const [, fields] of entries) {
        const f: Record<string, string> = {};
        for (let i = 0; i < fields.length; i += 2) f[fields[i]!] = fields[i + 1]!;
        if (f.event === 'completed' && f.jobId) done.add(f.jobId);
      }
      return done;
    } finally {
      r.disconnect();
    }
  };

  it('runs 20 deploys requested at once across two environments one at a time per environment, all to the end, none twice', async () => {
    const requests = Array.from({ length: 20 }, (_, i) => ({ via: instances[i % 2]!, env: i % 4 < 2 ? 'DevTest' : SECOND_ENV.ENV_NAME }));
    const created = await Promise.all(requests.map((r) => post(r.via.base, '/ci/runs', { env: r.env, dry_run: true, test_suite: 'none' })));
    expect(created.map((c) => c.status)).toEqual(Array(20).fill(202));
    const ids = created.map((c) => c.body.run_id as string);

    const followers = new Set<number>();
    const done = await waitFor('all 20 runs to finish', async () => {
      const now = await rows(ids);
      for (const r of now) if (r.status === 'running' && r.lease_owner) followers.add(pidOf(r.lease_owner));
      return now.length === 20 && now.every((r) => TERMINAL.has(r.status)) ? now : undefined;
    }, 240_000, 50);

    // Never two running runs in one environment: replayed from the audit of every status change, in order.
    expect(await maxRunningPerEnv(sql)).toEqual({ DevTest: 1, [SECOND_ENV.ENV_NAME]: 1 });
    expect(done.map((r) => `${r.status}${r.reason ? `: ${r.reason}` : ''}`)).toEqual(Array(20).fill('success'));
    // Workers in both processes took part.
    expect([...followers].sort()).toEqual(instances.map((p) => p.child.pid!).sort());
    for (const env of ['DevTest', SECOND_ENV.ENV_NAME]) {
      // FIFO: each environment's runs started in the order they were queued, and each started once.
      const { rows: starts } = await sql.query(`select run_id from run_audit where status = 'running' and env = $1 and run_id = any($2) order by id`, [env, ids]);
      const bySeq = done.filter((r) => r.env === env).sort((a, b) => a.queue_seq - b.queue_seq).map((r) => r.run_id);
      expect(bySeq).toHaveLength(10);
      expect(starts.map((r) => r.run_id)).toEqual(bySeq);
    }
    const builds = new Map([...(await buildsByRunId(jenkins, 'WeSign-CI')), ...(await buildsByRunId(jenkins, SECOND_ENV.JENKINS_JOB_NAME))]);
    for (const id of ids) expect({ id, builds: builds.get(id)?.length ?? 0 }).toEqual({ id, builds: 1 });
    // They went through BullMQ (not the embedded DB poller): each run's job completed there.
    const completed = await completedInBullMq();
    expect(ids.filter((id) => !completed.has(id))).toEqual([]);
  }, 300_000);

  it("streams the whole log of a run followed by the other instance's worker to a WS client, live, in order, once", async () => {
    const { body } = await post(instances[0]!.base, '/ci/runs', { env: 'DevTest', dry_run: true, test_suite: 'none' });
    const runId = body.run_id as string;
    const [claimed] = await waitFor('a worker to claim the run', async () => {
      const r = await rows([runId]);
      return r[0]?.lease_owner ? r : undefined;
    }, 30_000, 20);
    const follower = instances.find((p) => p.child.pid === pidOf(claimed.lease_owner))!;
    const viewer = instances.find((p) => p !== follower)!;
    expect(follower).toBeDefined();
    const stream = follow(viewer.base, runId);
    await stream.opened;
    const storedAtConnect = Number((await rows([runId]))[0].last_seq);
    const { code } = await stream.closed;
    expect(code).toBe(1000);

    const end = (await rows([runId]))[0];
    expect(end.status).toBe('success');
    // Some lines were stored after the client connected: they reached it through Redis, not the replay.
    expect(Number(end.last_seq)).toBeGreaterThan(storedAtConnect);
    const logs = stream.frames.filter((f) => f.type === 'log');
    expect(logs.map((f) => f.seq)).toEqual(Array.from({ length: Number(end.last_seq) }, (_, i) => i + 1));
    const chunks = (await sql.query('select first_seq, stage, text from log_chunks where run_id = $1 order by first_seq', [runId])).rows;
    const stored = chunks.flatMap((c) => String(c.text).split('\n').map((text, i) => [Number(c.first_seq) + i, c.stage, text]));
    expect(logs.map((f) => [f.seq, f.stage, f.text])).toEqual(stored);
    expect(stream.frames[stream.frames.length - 1]).toMatchObject({ type: 'end', status: 'success' });
  }, 120_000);

  it('SIGKILL of the instance following a run: the other finishes it with the same Jenkins build and a complete log', async () => {
    const { body } = await post(instances[0]!.base, '/ci/runs', { env: 'DevTest', dry_run: false, test_suite: 'none' });
    const runId = body.run_id as string;
    const [mid] = await waitFor('the run to be followed mid-build', async () => {
      const r = await rows([runId]);
      return r[0]?.phase === 'following' && Number(r[0].last_seq) > 10 ? r : undefined;
    }, 60_000, 20);
    const victim = instances.find((p) => p.child.pid === pidOf(mid.lease_owner))!;
    const survivor = instances.find((p) => p !== victim)!;
    expect(victim).toBeDefined();
    const stream = follow(survivor.base, runId);
    await stream.opened;

    const gone = new Promise((r) => victim.child.once('exit', r));
    victim.child.kill('SIGKILL');
    await gone;
    victim.forget();

    const { code } = await stream.closed;
    expect(code).toBe(1000);
    const [end] = await rows([runId]);
    expect(`${end.status}${end.reason ? `: ${end.reason}` : ''}`).toBe('success');
    expect(pidOf(end.lease_owner)).toBeNaN(); // released at the end
    expect(end.jenkins_build_number).toBe(mid.jenkins_build_number);
    expect((await buildsByRunId(jenkins, 'WeSign-CI')).get(runId)).toEqual([mid.jenkins_build_number]);

    // The whole log, once each, and the Jenkins part equals Jenkins' own console line for line.
    const logs = stream.frames.filter((f) => f.type === 'log');
    expect(logs.map((f) => f.seq)).toEqual(Array.from({ length: Number(end.last_seq) }, (_, i) => i + 1));
    const auth = `Basic ${Buffer.from(`${jenkins.user}:${jenkins.token}`).toString('base64')}`;
    const consoleText = await (await fetch(`${jenkins.url}job/WeSign-CI/${mid.jenkins_build_number}/consoleText`, { headers: { authorization: auth } })).text();
    const expected = parseConsoleChunk({ pending: '', stage: 'checkout' }, consoleText.replace(/\r\n/g, '\n'), true).lines.map((l) => `[${l.stage}] ${l.text}`);
    // Jenkins' lines are everything before the backend notes the build's end, less the backend's own notes.
    const endOfBuild = logs.findIndex((f) => f.text.startsWith(`backend: Jenkins build #${mid.jenkins_build_number} finished`));
    expect(endOfBuild).toBeGreaterThan(0);
    const fromJenkins = logs.slice(0, endOfBuild).filter((f) => !f.text.startsWith('backend: ')).map((f) => `[${f.stage}] ${f.text}`);
    expect(fromJenkins).toEqual(expected);
    expect(logs.some((f) => f.stage === 'notify')).toBe(true);
  }, 180_000);
});
