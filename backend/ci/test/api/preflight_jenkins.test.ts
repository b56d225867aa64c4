/** "Assume nothing": before triggering, the backend checks Jenkins, the job and its parameters. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startSandbox, type Sandbox } from '../../src/sandbox/index.js';
import { api, startService, waitForRun, type TestService } from '../helpers/service.js';

describe('checks before triggering', () => {
  let sandbox: Sandbox;
  let svc: TestService;
  beforeAll(async () => {
    // A fresh declarative job: no parameters until its first build (reference §10 gotcha 9).
    sandbox = await startSandbox({ timeScale: 0.02, registerParametersOnFirstRun: true });
    svc = await startService({}, { sandbox });
  });
  afterAll(async () => {
    await svc?.close();
    await sandbox?.close();
  });

  it('stops with a fix when the job does not declare the contract parameters yet, and triggers nothing', async () => {
    const r = await api(svc.url, 'POST', '/ci/runs', { dry_run: true, test_suite: 'none' });
    const run = await waitForRun(svc.url, r.body.run_id);
    expect(run.status).toBe('error');
    expect(run.reason).toMatch(/does not declare the parameters BRANCH_OR_TAG, DRY_RUN, TEST_SUITE, ACTION, ROLLBACK_TO, QA_RUN_ID/);
    expect(run.reason).toMatch(/only after its first run/);
    expect(run.jenkins).toBeNull();
    expect(run.failure_kind).toBe('configuration');
  });

  it('stops with a fix when the job does not exist', async () => {
    const other = await startService({ JENKINS_JOB_NAME: 'No-Such-Job' }, { sandbox });
    try {
      const r = await api(other.url, 'POST', '/ci/runs', { dry_run: true });
      const run = await waitForRun(other.url, r.body.run_id);
      expect(run.status).toBe('error');
      expect(run.reason).toMatch(/Jenkins job "No-Such-Job" does not exist\. Create it with `py jenkins\/setup_job\.py`/);
    } finally {
      await other.close();
    }
  });
});
