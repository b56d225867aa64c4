/**
 * A console too big for one read: the sandbox's `console_flood_mb` makes "Build & Unit Tests"
 * print 12 MB at once, so the backend gets one huge progressiveText reply (LF sent as CRLF, as
 * Jenkins does) and stores it slice by slice, each batch with its position inside the reply
 * (`console_offset` = the reply's start, `console_skip` = body bytes stored). Then the reply is
 * broken half way: the backend is SIGKILLed while it is held mid-body, or the connection is cut.
 * Either way the run must end with exactly one build and a log equal to consoleText line for
 * line, and the resumed read must ask the same `start` again (skipping what was stored) rather
 * than move the offset, which inside a CRLF-rewritten reply cannot be known.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { call, waitRun } from './helpers/http.js';
import { type FaultyProxy, gate, startFaultyProxy } from './helpers/faulty_proxy.js';
import { type Proc, type StandaloneSandbox, createAdminToken, freePort, startBackendProcess, startStandaloneSandbox } from './helpers/procs.js';
import { buildsOfRun, dbCounts, expectedConsoleLines, readRunRow, readStreamedLog, until } from './helpers/verify.js';

const FLOOD_MB = 12;
const dir = mkdtempSync(path.join(os.tmpdir(), 'qaci-bigconsole-'));
const dbFile = path.join(dir, 'ci.sqlite');
let sb: StandaloneSandbox;
let proxy: FaultyProxy;
let backend: Proc | null = null;
let port = 0;
let base = '';
let wsBase = '';
let headers: Record<string, string> = {};

async function startBackend() {
  backend = await startBackendProcess({
    PORT: String(port),
    DATABASE_URL: dbFile,
    ARTIFACT_STORE: path.join(dir, 'artifacts'),
    AUTH_MODE: 'token',
    JENKINS_URL: proxy.url,
    JENKINS_USER: sb.user,
    JENKINS_API_TOKEN: sb.token,
    JENKINS_POLL_MS: '100',
    JENKINS_DEADLINE_S: '30',
  });
}

const isConsoleRead = (method: string, p: string) => method === 'GET' && p.includes('/logText/progressiveText');
const startOf = (p: string) => Number(new URL(p, 'http://x').searchParams.get('start'));

/** The run succeeded with one Jenkins build, and the stored log is Jenkins' console exactly. */
async function verifyExactLog(runId: string) {
  const run = await waitRun(base, runId, headers, 180_000);
  expect(run.status, run.reason).toBe('success');
  const builds = await buildsOfRun(sb, runId);
  expect(builds).toHaveLength(1);
  const log = await readStreamedLog(wsBase, runId, headers);
  expect(log.seqs).toEqual(Array.from({ length: log.seqs.length }, (_, i) => i + 1));
  const expected = await expectedConsoleLines(sb, builds[0]!);
  expect(expected.length).toBeGreaterThan(50_000);
  // Compared in one go would print 50 000 lines on a failure; the first difference says enough.
  const firstDiff = expected.findIndex((l, i) => log.jenkinsLines[i] !== l);
  expect(firstDiff === -1 ? null : { at: firstDiff, want: expected[firstDiff]?.slice(0, 200), got: log.jenkinsLines[firstDiff]?.slice(0, 200) }).toBeNull();
  expect(log.jenkinsLines.length).toBe(expected.length);
  const db = dbCounts(dbFile, runId);
  expect([db.logs.n, db.logs.d]).toEqual([db.logs.hi, db.logs.hi]);
  expect(db.run).toMatchObject({ phase: 'done', console_skip: 0 });
}

beforeAll(async () => {
  sb = await startStandaloneSandbox(path.join(dir, 'sandbox'), 0.02);
  const put = await fetch(`${sb.url}sandbox/faults`, { method: 'PUT', headers: { authorization: sb.auth, 'content-type': 'application/json' }, body: JSON.stringify({ console_flood_mb: FLOOD_MB }) });
  expect(put.status).toBe(200);
  proxy = await startFaultyProxy(sb.url);
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
  rmSync(dir, { recursive: true, force: true });
});

describe(`a ${FLOOD_MB} MB console in one progressiveText reply`, () => {
  it('SIGKILL while the reply is held half way: the restarted backend asks the same start, skips what it stored, and the log is exact', async () => {
    const release = gate();
    const held = gate();
    let heldStart = -1;
    proxy.setPlanner(({ method, path: p }) => {
      if (heldStart >= 0 || !isConsoleRead(method, p)) return { kind: 'pass' };
      return {
        kind: 'holdMidBody',
        afterBytes: 7 * 1024 * 1024,
        minBody: FLOOD_MB * 1024 * 1024,
        until: release.promise,
        onHeld: () => {
          heldStart = startOf(p);
          held.open();
        },
      };
    });
    const r = await call(base, 'POST', '/ci/runs', { test_suite: 'none' }, headers);
    expect(r.status).toBe(202);
    const runId = r.body.run_id as string;
    await held.promise;
    // Batches of the first 7 MB are stored, each with the position inside the reply.
    const row = await until('a position inside the held reply to be stored', () => {
      const run = readRunRow(dbFile, runId);
      return run && Number(run.console_skip) > 4 * 1024 * 1024 ? run : undefined;
    });
    expect(Number(row.console_offset)).toBe(heldStart);
    await backend!.kill();
    release.open();
    const seenBefore = proxy.seen.length;
    proxy.setPlanner(() => ({ kind: 'pass' }));
    await startBackend();
    await verifyExactLog(runId);
    const firstRead = proxy.seen.slice(seenBefore).find((s) => isConsoleRead(s.method, s.path));
    expect(firstRead && startOf(firstRead.path)).toBe(heldStart);
  }, 240_000);

  it('a connection cut half way through the reply: the retry resumes after the stored slices and the log is exact', async () => {
    let cutStart = -1;
    let cuts = 0;
    proxy.setPlanner(({ method, path: p }) => {
      if (cuts > 0 || !isConsoleRead(method, p)) return { kind: 'pass' };
      return {
        kind: 'cut',
        afterBytes: 5 * 1024 * 1024,
        minBody: FLOOD_MB * 1024 * 1024,
        onCut: () => {
          cuts++;
          cutStart = startOf(p);
        },
      };
    });
    const r = await call(base, 'POST', '/ci/runs', { test_suite: 'none' }, headers);
    expect(r.status).toBe(202);
    const runId = r.body.run_id as string;
    await verifyExactLog(runId);
    expect(cuts).toBe(1);
    const reads = proxy.seen.filter((s) => isConsoleRead(s.method, s.path) && startOf(s.path) === cutStart);
    expect(reads.length, 'the cut reply was asked again from the same start').toBeGreaterThanOrEqual(2);
  }, 240_000);
});
