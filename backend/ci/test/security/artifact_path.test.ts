/** safeArtifactPath: a run's artifact names can't escape the run's folder. */
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AppError } from '../../src/ci/errors.js';
import { artifactNameProblem, safeArtifactPath } from '../../src/security/http.js';
import { type Harness, startHarness } from '../auth/harness.js';
import { TRAVERSAL_CORPUS } from './corpus.js';

describe('artifactNameProblem', () => {
  it('accepts the contract artifact names', () => {
    for (const ok of ['newman.html', 'newman.json', 'playwright.html', 'e2e-junit.xml', 'summary.json', 'preflight.json', 'deploy.log', 'smoke_health.log', 'trx/unit.trx', 'trx/svc-jenkins_WIN-01_2026-12-04_10_00_00.trx', 'trx/Unit Tests (1).trx']) {
      expect(artifactNameProblem(ok), ok).toBeNull();
    }
  });
  it(`refuses every one of ${TRAVERSAL_CORPUS.length} hostile names with a reason`, () => {
    for (const bad of TRAVERSAL_CORPUS) expect(artifactNameProblem(bad), JSON.stringify(bad)).toMatch(/./);
  });
});

describe('safeArtifactPath', () => {
  let root: string;
  let runDir: string;
  beforeAll(() => {
    root = mkdtempSync(path.join(tmpdir(), 'qa-artifacts-'));
    runDir = path.join(root, 'runs', 'r1');
    mkdirSync(path.join(runDir, 'trx'), { recursive: true });
    writeFileSync(path.join(runDir, 'newman.html'), '<html>report</html>');
    writeFileSync(path.join(runDir, 'trx', 'unit.trx'), '<TestRun/>');
    writeFileSync(path.join(root, 'secret.txt'), 'fake-secret-outside-the-run');
    mkdirSync(path.join(root, 'runs', 'r2'));
    writeFileSync(path.join(root, 'runs', 'r2', 'other.html'), 'another run');
    symlinkSync(path.join(root, 'secret.txt'), path.join(runDir, 'link-out.txt'));
    symlinkSync(path.join(root, 'runs', 'r2'), path.join(runDir, 'dir-out'));
    symlinkSync(path.join(runDir, 'newman.html'), path.join(runDir, 'link-in.html'));
    symlinkSync('/etc/passwd', path.join(runDir, 'passwd'));
  });
  afterAll(() => rmSync(root, { recursive: true, force: true }));

  const refused = async (name: string, status: number) => {
    const err = await safeArtifactPath(runDir, name).then(() => null, (e: unknown) => e);
    expect(err, name).toBeInstanceOf(AppError);
    expect((err as AppError).status, name).toBe(status);
    expect((err as AppError).message).not.toContain(root);
  };

  it('resolves real files inside the run folder, including a symlink that stays inside', async () => {
    expect(await safeArtifactPath(runDir, 'newman.html')).toBe(path.join(runDir, 'newman.html'));
    expect(await safeArtifactPath(runDir, 'trx/unit.trx')).toBe(path.join(runDir, 'trx', 'unit.trx'));
    expect(await safeArtifactPath(runDir, 'link-in.html')).toBe(path.join(runDir, 'newman.html'));
  });

  it('refuses symlinks and symlinked folders that lead out of the run (404, nothing revealed)', async () => {
    await refused('link-out.txt', 404);
    await refused('dir-out/other.html', 404);
    await refused('passwd', 404);
  });

  it('answers 404 for a missing file, a folder, or a missing run folder', async () => {
    await refused('missing.html', 404);
    await refused('trx', 404);
    const err = await safeArtifactPath(path.join(root, 'runs', 'nope'), 'newman.html').catch((e: AppError) => e);
    expect((err as AppError).status).toBe(404);
  });

  it('answers 400 invalid_artifact_name for the whole traversal corpus', async () => {
    for (const bad of TRAVERSAL_CORPUS) await refused(bad, 400);
  });
});

describe('artifact names over real HTTP', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness({ AUTH_MODE: 'none' });
    const runDir = path.join(h.dir, 'runs', 'r1');
    mkdirSync(runDir, { recursive: true });
    writeFileSync(path.join(runDir, 'newman.html'), '<html>ok</html>');
    writeFileSync(path.join(h.dir, 'secret.txt'), 'fake-secret-outside-the-run');
    symlinkSync(path.join(h.dir, 'secret.txt'), path.join(runDir, 'link-out.txt'));
  });
  afterAll(async () => h.close());

  /** Raw request: the path is sent exactly as written (fetch would normalise ../). */
  const raw = (p: string) =>
    new Promise<{ status: number; body: string }>((resolve, reject) => {
      const req = request(`${h.url}/`, { path: p }, (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (c) => (body += c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      });
      req.on('error', reject);
      req.end();
    });

  it('serves a real artifact', async () => {
    expect((await raw('/ci/runs/r1/artifacts/newman.html')).status).toBe(200);
  });

  const hostilePaths = [
    '/ci/runs/r1/artifacts/../../secret.txt',
    '/ci/runs/r1/artifacts/..%2f..%2fsecret.txt',
    '/ci/runs/r1/artifacts/%2e%2e/%2e%2e/secret.txt',
    '/ci/runs/r1/artifacts/%252e%252e%252fsecret.txt',
    '/ci/runs/r1/artifacts/..%5c..%5csecret.txt',
    '/ci/runs/r1/artifacts/newman.html%00.png',
    '/ci/runs/r1/artifacts/%2fetc%2fpasswd',
    '/ci/runs/r1/artifacts/link-out.txt',
    '/ci/runs/r1/artifacts/%EF%BC%8E%EF%BC%8E/secret.txt',
    '/ci/runs/r1/artifacts/C:%5cWindows%5cwin.ini',
  ];
  for (const p of hostilePaths) {
    it(`never serves the secret for ${p}`, async () => {
      const res = await raw(p);
      expect(res.status).toBeGreaterThanOrEqual(400);
      expect(res.status).toBeLessThan(500);
      expect(res.body).not.toContain('fake-secret-outside-the-run');
      expect(JSON.parse(res.body).error.message).toMatch(/artifact|route|found/i);
    });
  }
});
