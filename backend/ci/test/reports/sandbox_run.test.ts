/**
 * The aggregator inside a whole run: the real service drives the sandbox
 * Jenkins over HTTP, fetches the build's archive and aggregates it. The
 * summary.json it leaves must recompute to its own score, its checksums must
 * match the stored files, and an induced smoke failure must end rolled_back.
 */
import { createHash } from 'node:crypto';
import { readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Summary } from '../../src/ci/report_aggregator.js';
import { api, startService, waitForRun, type TestService } from '../helpers/service.js';

let svc: TestService;
beforeAll(async () => {
  svc = await startService();
});
afterAll(async () => {
  await svc?.close();
});

const summaryOf = (runId: string): { dir: string; s: Summary } => {
  const dir = path.join(svc.dir, 'artifacts', 'runs', runId);
  return { dir, s: JSON.parse(readFileSync(path.join(dir, 'summary.json'), 'utf8')) as Summary };
};

async function startRun(body: Record<string, unknown>): Promise<string> {
  const r = await api(svc.url, 'POST', '/ci/runs', { app: 'WeSign', env: 'DevTest', branch_or_tag: 'main', dry_run: false, test_suite: 'full', provider: 'jenkins', ...body });
  expect(r.status, JSON.stringify(r.body)).toBeLessThan(300);
  return r.body.run_id as string;
}

describe('a full sandbox run', () => {
  it('leaves a summary.json that recomputes to its own score, with checksums that match the files', async () => {
    const runId = await startRun({});
    const run = await waitForRun(svc.url, runId, 120_000);
    const { dir, s } = summaryOf(runId);
    expect(s.schema_version).toBe(1);
    expect(s.produced_by).toBe('backend');
    const inc = s.score.components.filter((c) => c.included);
    expect(inc.map((c) => c.id)).toEqual(['build', 'smoke', 'api', 'e2e']);
    const w = inc.reduce((t, c) => t + c.weight, 0);
    expect(Math.round((inc.reduce((t, c) => t + c.weight * c.score!, 0) / w) * 100) / 100).toBe(s.score.value);
    expect(run.metrics.score).toBe(s.score.value);
    expect(s.tests.build.present && s.tests.api.present && s.tests.e2e.present).toBe(true);
    for (const a of s.artifacts) {
      const file = path.join(dir, a.path);
      expect(createHash('sha256').update(readFileSync(file)).digest('hex'), a.path).toBe(a.sha256);
      expect(statSync(file).size).toBe(a.bytes);
    }
    expect(s.gates.filter((g) => !g.passed)).toEqual([]);
    expect(run.status).toBe('success');
    // The sandbox's Post section ran the same aggregator Jenkins-side; both agree.
    expect(s.artifacts.map((a) => a.path)).toContain('summary.jenkins.json');
    expect(s.jenkins_summary_disagreement).toBeNull();
  });

  it('an induced smoke failure ends rolled_back, with the smoke gate saying why', async () => {
    const f = await api(svc.url, 'PUT', '/ci/sandbox/faults', { smoke_fail: true });
    expect(f.status, JSON.stringify(f.body)).toBeLessThan(300);
    try {
      const runId = await startRun({});
      const run = await waitForRun(svc.url, runId, 120_000);
      const { s } = summaryOf(runId);
      expect(s.verdict.status).toBe('rolled_back');
      expect(run.status).toBe('rolled_back');
      expect(s.rollback).toMatchObject({ present: true, resmoke_passed: true });
      expect(s.gates.find((g) => g.id === 'smoke')).toMatchObject({ passed: false });
      expect(s.rollback_failed).toBe(false);
    } finally {
      await api(svc.url, 'PUT', '/ci/sandbox/faults', { smoke_fail: false });
    }
  });

  async function withFault<T>(faults: Record<string, unknown>, fn: () => Promise<T>): Promise<T> {
    const f = await api(svc.url, 'PUT', '/ci/sandbox/faults', faults);
    expect(f.status, JSON.stringify(f.body)).toBeLessThan(300);
    try {
      return await fn();
    } finally {
      await api(svc.url, 'PUT', '/ci/sandbox/faults', Object.fromEntries(Object.keys(faults).map((k) => [k, false])));
    }
  }

  it('secrets printed in the console fail the secrets gate, and the values are nowhere in the run folder', async () => {
    await withFault({ secret_leak: true }, async () => {
      const runId = await startRun({ dry_run: true, test_suite: 'none' });
      const run = await waitForRun(svc.url, runId, 120_000);
      const { dir, s } = summaryOf(runId);
      expect(s.gates.find((g) => g.id === 'secrets')).toMatchObject({ passed: false });
      expect(s.gates.find((g) => g.id === 'secrets')!.reason).toMatch(/console log: .*connection_string_password/);
      // Jenkins' side cannot see the console, so the backend flags the difference.
      expect(s.jenkins_summary_disagreement?.differences).toContainEqual({ field: 'gates.secrets.passed', jenkins: true, backend: false });
      expect(run.status).toBe('failed');
      for (const a of s.artifacts) expect(readFileSync(path.join(dir, a.path), 'latin1')).not.toContain('FakeLeak-Passw0rd-not-real');
      expect(readFileSync(path.join(dir, 'summary.json'), 'utf8')).not.toContain('fake-leaked-token-0123456789abcdef');
    });
  });

  it('a rollback whose re-smoke fails is failed with rollback_failed', async () => {
    await withFault({ smoke_fail: true, rollback_fail: true }, async () => {
      const runId = await startRun({});
      const run = await waitForRun(svc.url, runId, 120_000);
      const { s } = summaryOf(runId);
      expect(s.rollback_failed).toBe(true);
      expect(s.verdict.status).toBe('failed');
      expect(run.status).toBe('failed');
      expect(run.rollback_failed).toBe(true);
    });
  });

  it('a failed preflight says which check and classifies the failure', async () => {
    await withFault({ preflight_fail: true }, async () => {
      const runId = await startRun({});
      await waitForRun(svc.url, runId, 120_000);
      const { s } = summaryOf(runId);
      expect(s.gates.find((g) => g.id === 'preflight')!.reason).toMatch(/^failed checks: winrm_session/);
      expect(s.verdict.failure?.kind).toBe('network');
    });
  });

  it('a Rollback N-1 run is judged on the re-smoke of the restored version and scores smoke only', async () => {
    // Two good deploys, so that there is an N-1 to return to.
    for (let i = 0; i < 2; i++) await waitForRun(svc.url, await startRun({ test_suite: 'none' }), 120_000);
    const r = await api(svc.url, 'POST', '/ci/environments/DevTest/rollback', { confirm: 'DevTest', reason: 'summary test' });
    expect(r.status, JSON.stringify(r.body)).toBeLessThan(300);
    const run = await waitForRun(svc.url, r.body.run_id as string, 120_000);
    const { s } = summaryOf(r.body.run_id as string);
    expect(s.run.kind).toBe('rollback');
    expect(s.score.components.filter((c) => c.included).map((c) => c.id)).toEqual(['smoke']);
    expect(s.rollback).toMatchObject({ present: true, resmoke_passed: true });
    expect(s.gates.find((g) => g.id === 'smoke')!.reason).toMatch(/for the restored version$/);
    expect(s.verdict.status).toBe('success');
    expect(run.status).toBe('success');
  });
});
