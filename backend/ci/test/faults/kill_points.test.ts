/**
 * The backend killed with SIGKILL at ten points of a run and started again: every run reaches
 * its correct final status with exactly one Jenkins build and a log equal to Jenkins' console
 * (no gap, no duplicate). Real processes: a standalone sandbox Jenkins and the backend
 * (`src/server.ts`); between them a faulty proxy that holds a chosen Jenkins call, so each kill
 * lands at its point deterministically, not by timing. The run's persisted `phase` (read from
 * the SQLite file) confirms where the backend stood when it died.
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { call, waitRun } from './helpers/http.js';
import { type FaultyProxy, type Plan, gate, startFaultyProxy } from './helpers/faulty_proxy.js';
import { type Proc, type StandaloneSandbox, createAdminToken, freePort, startBackendProcess, startStandaloneSandbox } from './helpers/procs.js';
import { buildFinished, buildsOfRun, dbCounts, expectedConsoleLines, readRunRow, readStreamedLog, until } from './helpers/verify.js';

const dir = mkdtempSync(path.join(os.tmpdir(), 'qaci-kill-'));
const dbFile = path.join(dir, 'ci.sqlite');
const artifactStore = path.join(dir, 'artifacts');
let sb: StandaloneSandbox;
let proxy: FaultyProxy;
let backend: Proc | null = null;
let port = 0;
let base = '';
let wsBase = '';
let headers: Record<string, string> = {};

/** A Teams incoming-webhook stand-in that can hold a message unanswered (the "notifying" point). */
const teams = { server: null as http.Server | null, url: '', received: 0, holdNext: false, held: [] as http.ServerResponse[] };

async function startBackend() {
  backend = await startBackendProcess({
    PORT: String(port),
    DATABASE_URL: dbFile,
    ARTIFACT_STORE: artifactStore,
    AUTH_MODE: 'token',
    JENKINS_URL: proxy.url,
    JENKINS_USER: sb.user,
    JENKINS_API_TOKEN: sb.token,
    JENKINS_POLL_MS: '100',
    JENKINS_DEADLINE_S: '30',
    TEAMS_WEBHOOK_URL: teams.url,
  });
}

async function restart() {
  await backend!.kill();
  proxy.setPlanner(() => ({ kind: 'pass' }));
  await startBackend();
}

const phaseOf = (runId: string) => readRunRow(dbFile, runId)?.phase as string | undefined;
const atPhase = (runId: string, phase: string) => until(`run ${runId} at phase ${phase}`, () => phaseOf(runId) === phase, 60_000);

/** A real deploy (no dry run); `none` keeps it short, `api` runs the real Newman through the aggregator. */
async function startRun(testSuite: 'none' | 'api' = 'none'): Promise<string> {
  const r = await call(base, 'POST', '/ci/runs', { test_suite: testSuite }, headers);
  expect(r.status).toBe(202);
  return r.body.run_id as string;
}

/** The run finished `success` with one Jenkins build and an exact, gap-free log; the DB is tidy. */
async function verifyRun(runId: string) {
  const run = await waitRun(base, runId, headers);
  expect(run.status, run.reason).toBe('success');
  const builds = await buildsOfRun(sb, runId);
  expect(builds, 'Jenkins builds carrying this QA_RUN_ID').toHaveLength(1);
  expect(run.jenkins?.number).toBe(builds[0]);
  const log = await readStreamedLog(wsBase, runId, headers);
  expect(log.seqs).toEqual(Array.from({ length: log.seqs.length }, (_, i) => i + 1));
  expect(log.jenkinsLines.length).toBeGreaterThan(40);
  expect(log.jenkinsLines).toEqual(await expectedConsoleLines(sb, builds[0]!));
  const db = dbCounts(dbFile, runId);
  expect(db.logs.n).toBe(db.logs.hi);
  expect(db.logs.d).toBe(db.logs.n);
  expect(db.run.phase).toBe('done');
  expect(db.run.lease_owner).toBeNull();
  expect(db.stages.filter((s) => s.status === 'pending' || s.status === 'running')).toEqual([]);
  expect(db.artifacts).toContain('summary.json');
  expect(db.artifacts.filter((a) => a.endsWith('.part'))).toEqual([]);
  return { run, build: builds[0]! };
}

/** Holds the first request `match` accepts, passes the rest; resolves `held` once one is held. */
function holdFirst(match: (m: string, p: string) => boolean, kind: 'hold' | 'holdAnswer' | 'holdMidBody' = 'hold') {
  const release = gate();
  const held = gate();
  let done = false;
  proxy.setPlanner(({ method, path: p }): Plan => {
    if (done || !match(method, p)) return { kind: 'pass' };
    done = true;
    if (kind === 'holdMidBody') return { kind, afterBytes: 16, until: release.promise, onHeld: held.open };
    return { kind, until: release.promise, onHeld: held.open };
  });
  return { held: held.promise, release: release.open };
}

beforeAll(async () => {
  sb = await startStandaloneSandbox(path.join(dir, 'sandbox'), 0.02);
  proxy = await startFaultyProxy(sb.url);
  teams.server = http.createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      teams.received++;
      if (teams.holdNext) {
        teams.holdNext = false;
        teams.held.push(res);
        return;
      }
      res.writeHead(200, { 'content-type': 'text/plain' });
      res.end('1');
    });
  });
  await new Promise<void>((r) => teams.server!.listen(0, '127.0.0.1', () => r()));
  teams.url = `http://127.0.0.1:${(teams.server.address() as AddressInfo).port}/webhookb2/fake-example-webhook`;
  port = await freePort();
  base = `http://127.0.0.1:${port}`;
  wsBase = `ws://127.0.0.1:${port}`;
  await startBackend();
  headers = { authorization: `Bearer ${createAdminToken(dbFile)}` };
}, 120_000);

afterAll(async () => {
  await backend?.kill();
  await sb?.proc.kill();
  await proxy?.close();
  for (const r of teams.held) r.destroy();
  teams.server?.closeAllConnections();
  await new Promise<void>((r) => (teams.server ? teams.server.close(() => r()) : r()));
  rmSync(dir, { recursive: true, force: true });
});

describe('SIGKILL at ten points of a run, then restart', () => {
  it('while checking Jenkins (run A) with run B queued behind it: both finish, in order', async () => {
    const h = holdFirst((m, p) => m === 'GET' && p.startsWith('/job/WeSign-CI/api/json') && decodeURIComponent(p).includes('buildable'));
    const a = await startRun();
    await h.held;
    const b = await startRun();
    expect(phaseOf(a)).toBe('checking');
    expect(readRunRow(dbFile, b)?.status).toBe('queued');
    expect((await call(base, 'GET', `/ci/runs/${b}`, undefined, headers)).body.queue_position).toBe(1);
    await restart();
    h.release();
    const ra = await verifyRun(a);
    const rb = await verifyRun(b);
    expect(rb.build).toBeGreaterThan(ra.build);
    expect(Date.parse(rb.run.started_at)).toBeGreaterThanOrEqual(Date.parse(ra.run.finished_at));
  });

  it('while triggering, before Jenkins saw the request', async () => {
    const h = holdFirst((m, p) => m === 'POST' && p.includes('/buildWithParameters'));
    const id = await startRun();
    await h.held;
    expect(phaseOf(id)).toBe('triggering');
    await restart();
    h.release();
    await verifyRun(id);
  });

  it('while triggering, after Jenkins queued the build but before its answer arrived', async () => {
    const h = holdFirst((m, p) => m === 'POST' && p.includes('/buildWithParameters'), 'holdAnswer');
    const id = await startRun();
    await h.held;
    expect(phaseOf(id)).toBe('triggering');
    // Jenkins has the build already; the restarted backend must find it, not start another.
    await until('the build in Jenkins', async () => (await buildsOfRun(sb, id)).length === 1);
    await restart();
    h.release();
    await verifyRun(id);
  });

  it('while waiting in the Jenkins queue', async () => {
    const h = holdFirst((m, p) => m === 'GET' && /^\/queue\/item\/\d+\/api\/json/.test(p));
    const id = await startRun();
    await h.held;
    expect(phaseOf(id)).toBe('waiting_queue');
    await restart();
    h.release();
    await verifyRun(id);
  });

  it('while following, early (first console chunk stored)', async () => {
    const h = holdFirst((m, p) => m === 'GET' && /progressiveText\?start=[1-9]/.test(p));
    const id = await startRun();
    await h.held;
    const row = readRunRow(dbFile, id)!;
    expect(row.phase).toBe('following');
    expect(row.console_offset).toBeGreaterThan(0);
    await restart();
    h.release();
    await verifyRun(id);
  });

  it('while following, late (the build finished in Jenkins while the backend was down)', async () => {
    const release = gate();
    const held = gate();
    let armed = false;
    proxy.setPlanner(({ method, path: p }): Plan => {
      if (!armed || method !== 'GET' || !p.includes('progressiveText')) return { kind: 'pass' };
      armed = false;
      return { kind: 'hold', until: release.promise, onHeld: held.open };
    });
    const id = await startRun();
    await until('40 stored lines', () => (readRunRow(dbFile, id)?.last_seq ?? 0) > 40);
    armed = true;
    await held.promise;
    const row = readRunRow(dbFile, id)!;
    expect(row.phase).toBe('following');
    await until('the Jenkins build to finish', () => buildFinished(sb, row.jenkins_build_number), 60_000, 100);
    await restart();
    release.open();
    await verifyRun(id);
  });

  it('while fetching artifacts, in the middle of a download', async () => {
    const h = holdFirst((m, p) => m === 'GET' && /\/\d+\/artifact\//.test(p), 'holdMidBody');
    const id = await startRun();
    await h.held;
    expect(phaseOf(id)).toBe('fetching');
    await restart();
    h.release();
    await verifyRun(id);
  });

  it('while aggregating the reports', async () => {
    proxy.setPlanner(() => ({ kind: 'pass' }));
    const id = await startRun('api');
    // A named pipe where the aggregator looks for rollback.json: opening it blocks until a writer
    // comes, so the backend stays in `aggregating` until we kill it (no timing involved).
    await atPhase(id, 'following');
    const runDir = path.join(artifactStore, 'runs', id);
    mkdirSync(runDir, { recursive: true });
    const fifo = path.join(runDir, 'rollback.json');
    execFileSync('mkfifo', [fifo]);
    await atPhase(id, 'aggregating');
    await new Promise((r) => setTimeout(r, 300));
    expect(phaseOf(id)).toBe('aggregating');
    await backend!.kill();
    rmSync(fifo);
    await startBackend();
    await verifyRun(id);
  });

  it('while notifying (the Teams webhook has not answered yet)', async () => {
    proxy.setPlanner(() => ({ kind: 'pass' }));
    const before = teams.received;
    teams.holdNext = true;
    const id = await startRun();
    await until('the Teams message', () => teams.received > before);
    expect(phaseOf(id)).toBe('notifying');
    await restart();
    const { run } = await verifyRun(id);
    // At least once: the restarted backend sends the notification again, and the log says it went out.
    expect(teams.received).toBeGreaterThan(before + 1);
    const log = await readStreamedLog(wsBase, id, headers);
    expect(log.all.filter((l) => l.text === 'backend: teams notification sent')).toHaveLength(1);
    expect(run.status).toBe('success');
  });
}, 120_000);
