/**
 * The artifact store fails during the artifact fetch: the disk is full, or the store is
 * read-only. The run ends `error` with a reason that names the problem and what to do, and the
 * DB stays consistent (run terminal and released, no stage left running, log seqs without gaps,
 * no artifact row for a file that is not whole on disk).
 *
 * How the failure is made depends on what this machine allows: as root with `mount`, a tiny
 * tmpfs (really full: ENOSPC) and a remount read-only (EROFS); as a normal user, a folder made
 * read-only with chmod (EACCES). Root ignores permissions, and a container may refuse mount: then
 * a file stands where the run's folder must be created (ENOTDIR/EEXIST).
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startService, type TestService } from '../helpers/service.js';
import { call, waitRun } from './helpers/http.js';
import { dbCounts, readRunRow, until } from './helpers/verify.js';

const isRoot = process.getuid?.() === 0;
const mountDir = mkdtempSync(path.join(os.tmpdir(), 'qaci-store-'));
let mounted = false;
let svc: TestService;

function tryMount(options: string): boolean {
  return spawnSync('mount', ['-t', 'tmpfs', '-o', options, 'tmpfs', mountDir], { stdio: 'ignore' }).status === 0;
}

beforeAll(async () => {
  // 48 KiB: the small reports fit, the Newman HTML report does not.
  mounted = isRoot && tryMount('size=48k');
  svc = await startService({ ARTIFACT_STORE: mountDir, JENKINS_DEADLINE_S: '10' });
});

afterAll(async () => {
  await svc?.close();
  if (mounted) spawnSync('umount', ['-l', mountDir], { stdio: 'ignore' });
  try {
    chmodSync(mountDir, 0o755);
  } catch {
    /* gone already */
  }
  rmSync(mountDir, { recursive: true, force: true });
});

async function startRun() {
  const r = await call(svc.url, 'POST', '/ci/runs', { dry_run: false, test_suite: 'api' });
  expect(r.status).toBe(202);
  return r.body.run_id as string;
}

/** The DB after the failure: terminal, released, no stage running, gap-free log, rows only for whole files. */
function expectConsistent(runId: string) {
  const db = dbCounts(svc.services.config.databaseUrl, runId);
  expect(db.run.status).toBe('error');
  expect(db.run.phase).toBe('done');
  expect(db.run.lease_owner).toBeNull();
  expect(db.run.finished_at).not.toBeNull();
  expect(db.stages.filter((s) => s.status === 'pending' || s.status === 'running')).toEqual([]);
  expect(db.logs.n).toBe(db.logs.hi);
  expect(db.logs.d).toBe(db.logs.n);
  const runDir = path.join(mountDir, 'runs', runId);
  for (const a of db.artifacts) expect(existsSync(path.join(runDir, a)), `artifact row ${a} has its file`).toBe(true);
  if (existsSync(runDir) && statSync(runDir).isDirectory()) {
    const left = execFileSync('find', [runDir, '-name', '*.part'], { encoding: 'utf8' }).trim();
    expect(left, 'no half-written .part file left behind').toBe('');
  }
}

describe('the artifact store fails during the artifact fetch', () => {
  it('disk full (or not writable): the run ends `error` saying so, the DB stays consistent', async () => {
    const id = await startRun();
    if (!mounted) {
      await until('following', () => readRunRow(svc.services.config.databaseUrl, id)?.phase === 'following', 60_000);
      mkdirSync(path.join(mountDir, 'runs'), { recursive: true });
      if (isRoot) writeFileSync(path.join(mountDir, 'runs', id), 'a file where the run folder must go\n');
      else chmodSync(path.join(mountDir, 'runs'), 0o555);
    }
    const run = await waitRun(svc.url, id, {}, 90_000);
    expect(run.status).toBe('error');
    // Says what failed and what to do, naming the store.
    expect(run.reason).toMatch(mounted ? /ENOSPC/ : /EACCES|ENOTDIR|EEXIST/);
    expect(run.reason).toMatch(/ARTIFACT_STORE/);
    expect(run.reason).toMatch(/free space or fix permissions/);
    expectConsistent(id);
    if (!mounted && !isRoot) chmodSync(path.join(mountDir, 'runs'), 0o755);
    if (!mounted && isRoot) rmSync(path.join(mountDir, 'runs', id), { force: true });
  }, 120_000);

  // Failed before 376b577: the run folder was created by a bare mkdir outside the errno check, so the
  // reason was a raw "ENOENT: …, mkdir …" (Node's recursive mkdir reports EROFS as ENOENT) with no hint.
  it.runIf(isRoot)('read-only store (remounted read-only while the build runs): the run ends `error` saying so', async () => {
    if (!mounted) return expect.fail('needs mount as root; the first test covers this machine with a file in place of the folder');
    // Make room again (a fresh, bigger tmpfs), then flip it read-only once the build is followed.
    spawnSync('umount', ['-l', mountDir], { stdio: 'ignore' });
    expect(tryMount('size=8m')).toBe(true);
    // Earlier runs made runs/ already; this run's own folder is what the fetch has to create.
    mkdirSync(path.join(mountDir, 'runs'));
    const id = await startRun();
    await until('following', () => readRunRow(svc.services.config.databaseUrl, id)?.phase === 'following', 60_000);
    expect(spawnSync('mount', ['-o', 'remount,ro', mountDir]).status).toBe(0);
    try {
      const run = await waitRun(svc.url, id, {}, 90_000);
      expect(run.status).toBe('error');
      // Node's recursive mkdir reports EROFS as ENOENT; either code is fine if the hint is there.
      expect(run.reason).toMatch(/EROFS|ENOENT/);
      expect(run.reason).toMatch(/ARTIFACT_STORE/);
      expect(run.reason).toMatch(/free space or fix permissions/);
      expectConsistent(id);
    } finally {
      spawnSync('mount', ['-o', 'remount,rw', mountDir], { stdio: 'ignore' });
    }
  }, 120_000);
});
