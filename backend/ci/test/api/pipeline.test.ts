/**
 * The spec's acceptance tests, end to end over real HTTP/WS: the real service,
 * the real Jenkins client, the sandbox Jenkins and its simulated DevTest.
 */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { api, collectWs, logEvents, startService, waitForRun, type TestService } from '../helpers/service.js';

let svc: TestService;
beforeAll(async () => {
  svc = await startService();
});
afterAll(async () => svc?.close());
beforeEach(() => {
  svc.services.sandbox!.setFaults({ smoke_fail: false, preflight_fail: false, build_fail: false, api_fail: false, e2e_fail: false, secret_leak: false, rollback_fail: false, jenkins_flaky: 0, jenkins_down_s: 0 });
});

const start = async (body: Record<string, unknown>) => {
  const r = await api(svc.url, 'POST', '/ci/runs', body);
  expect(r.status).toBe(202);
  return r.body.run_id as string;
};
const stageStatus = (run: any) => Object.fromEntries(run.stages.map((s: any) => [s.id, s.status]));

describe('dry run', () => {
  it('goes through checkout, preflight, build, package and config without touching DevTest', async () => {
    const before = svc.services.sandbox!.devtestRequestCount();
    const id = await start({ dry_run: true, test_suite: 'full' });
    const run = await waitForRun(svc.url, id);
    expect(run.status).toBe('success');
    expect(stageStatus(run)).toMatchObject({
      checkout: 'success', preflight: 'success', build: 'success', package: 'success', config: 'success',
      transfer: 'skipped', deploy: 'skipped', smoke: 'skipped', rollback: 'skipped', api: 'skipped', e2e: 'skipped',
      report: 'success', notify: 'success',
    });
    expect(svc.services.sandbox!.devtestRequestCount()).toBe(before);
    // A dry run's score is the build component alone.
    const summary = JSON.parse(readFileSync(path.join(svc.services.config.artifactStore, 'runs', id, 'summary.json'), 'utf8'));
    expect(summary.score.components.filter((c: any) => c.included).map((c: any) => c.id)).toEqual(['build']);
    expect(run.jenkins.number).toBeGreaterThan(0);
  });
});

describe('full run', () => {
  it('deploys, passes smoke, runs API and E2E, ends success with every contract artifact', async () => {
    const id = await start({ dry_run: false, test_suite: 'full', branch_or_tag: 'release/2026.12' });
    const run = await waitForRun(svc.url, id);
    expect(run.status, run.reason).toBe('success');
    expect(stageStatus(run)).toMatchObject({ checkout: 'success', preflight: 'success', build: 'success', package: 'success', config: 'success', transfer: 'success', deploy: 'success', smoke: 'success', rollback: 'skipped', api: 'success', e2e: 'success' });
    const names = run.artifacts.map((a: any) => a.path);
    for (const p of ['checkout.json', 'preflight.json', 'artifact.json', 'deploy-manifest.json', 'deploy.log', 'smoke.json', 'newman.html', 'newman.json', 'playwright.html', 'e2e-junit.xml', 'summary.json']) expect(names).toContain(p);
    expect(names.some((p: string) => /^trx\/.+\.trx$/.test(p))).toBe(true);
    expect(names.some((p: string) => /^smoke_.+\.log$/.test(p))).toBe(true);
    expect(run.metrics.score).toBeGreaterThanOrEqual(80);
    expect(run.metrics.gates.map((g: any) => g.id).sort()).toEqual(['backup', 'preflight', 'reports', 'score', 'secrets', 'smoke']);
    expect(run.metrics.gates.every((g: any) => g.passed)).toBe(true);
    expect(run.commit).toMatch(/^[0-9a-f]{40}$/);

    // Checksums the API reports are the stored files' own.
    const a = run.artifacts.find((x: any) => x.path === 'newman.json');
    const res = await fetch(svc.url + a.url);
    expect(res.headers.get('content-security-policy')).toBe('sandbox allow-scripts');
    expect(res.headers.get('x-content-type-options')).toBe('nosniff');
    const bytes = Buffer.from(await res.arrayBuffer());
    expect(createHash('sha256').update(bytes).digest('hex')).toBe(a.sha256);

    // Stage timings fit inside the run.
    const timed = run.stages.filter((s: any) => s.started_at && s.finished_at);
    const first = Math.min(...timed.map((s: any) => Date.parse(s.started_at)));
    const last = Math.max(...timed.map((s: any) => Date.parse(s.finished_at)));
    const runStart = Date.parse(run.started_at);
    const runEnd = Date.parse(run.finished_at);
    expect(first).toBeGreaterThanOrEqual(runStart - 50);
    expect(last).toBeLessThanOrEqual(runEnd + 50);
    expect(last - first).toBeGreaterThan(0.5 * (runEnd - runStart));

    const envs = await api(svc.url, 'GET', '/ci/environments');
    const dev = envs.body.environments.find((e: any) => e.env === 'DevTest');
    expect(dev.current.run_id).toBe(id);
    expect(dev.current.version).toContain('release/2026.12@');
    expect(dev.active_run_id).toBeNull();

    const md = await fetch(`${svc.url}/ci/runs/${id}/summary.md`);
    expect(md.status).toBe(200);
    expect(await md.text()).toMatch(/score/i);
  });
});

describe('automatic rollback', () => {
  it('with smoke_fail, ends rolled_back, re-smoke passes and the previous version is current again', async () => {
    const good = await start({ test_suite: 'none', branch_or_tag: 'main' });
    const goodRun = await waitForRun(svc.url, good);
    expect(goodRun.status, goodRun.reason).toBe('success');
    const versionBefore = svc.services.sandbox!.deployedVersion();

    svc.services.sandbox!.setFaults({ smoke_fail: true });
    const bad = await start({ test_suite: 'none', branch_or_tag: 'feature/broken' });
    const run = await waitForRun(svc.url, bad);
    expect(run.status, run.reason).toBe('rolled_back');
    expect(stageStatus(run)).toMatchObject({ smoke: 'failure', rollback: 'success', deploy: 'rolled_back' });
    expect(run.artifacts.map((a: any) => a.path)).toContain('rollback.json');
    expect(run.reason).toMatch(/restored/);
    expect(svc.services.sandbox!.deployedVersion()).toBe(versionBefore);

    const deps = await api(svc.url, 'GET', '/ci/environments/DevTest/deployments');
    const mine = deps.body.deployments.find((d: any) => d.run_id === bad);
    expect(mine.status).toBe('rolled_back');
    const env = (await api(svc.url, 'GET', '/ci/environments')).body.environments[0];
    expect(env.current.run_id).toBe(good);
  });

  it('Rollback N-1 restores the backup of the newest deployment after typing the env name', async () => {
    const v1 = await start({ test_suite: 'none', branch_or_tag: 'v1' });
    expect((await waitForRun(svc.url, v1)).status).toBe('success');
    const v1Version = svc.services.sandbox!.deployedVersion();
    const v2 = await start({ test_suite: 'none', branch_or_tag: 'v2' });
    expect((await waitForRun(svc.url, v2)).status).toBe('success');
    expect(svc.services.sandbox!.deployedVersion()).not.toBe(v1Version);

    const refused = await api(svc.url, 'POST', '/ci/environments/DevTest/rollback', { confirm: 'devtest', reason: 'typo' });
    expect(refused.status).toBe(422);
    expect(refused.body.error.message).toContain('"DevTest"');
    const env = (await api(svc.url, 'GET', '/ci/environments')).body.environments[0];
    expect(env.rollback_target.run_id).toBe(v2);
    expect(env.rollback_target.version).toContain('v1@');

    const rb = await api(svc.url, 'POST', '/ci/environments/DevTest/rollback', { confirm: 'DevTest', reason: 'v2 breaks signing' });
    expect(rb.status).toBe(202);
    const run = await waitForRun(svc.url, rb.body.run_id);
    expect(run.kind).toBe('rollback');
    expect(run.status, run.reason).toBe('success');
    expect(stageStatus(run)).toMatchObject({ rollback: 'success', build: 'skipped', transfer: 'skipped' });
    expect(svc.services.sandbox!.deployedVersion()).toBe(v1Version);
    const after = (await api(svc.url, 'GET', '/ci/environments')).body.environments[0];
    expect(after.current.kind).toBe('rollback');
    expect(after.current.version).toContain('v1@');
    const history = await api(svc.url, 'GET', '/ci/runs?kind=rollback');
    expect(history.body.runs.map((r: any) => r.run_id)).toContain(rb.body.run_id);
  });
});

describe('live logs', () => {
  it('a viewer connected before the run starts gets every line once, in order; a reconnect with from= misses nothing', async () => {
    // Hold the run in the queue behind another so we can connect first.
    const blocker = await start({ dry_run: true, test_suite: 'none' });
    const id = await start({ test_suite: 'api' });
    const early = collectWs(svc.wsUrl, id);
    const text = collectWs(svc.wsUrl, id, 'format=text');
    await waitForRun(svc.url, blocker);
    // Reconnect mid-run: wait for some lines, then resume from the last seq seen.
    const mid = collectWs(svc.wsUrl, id);
    await new Promise<void>((resolve) => {
      const t = setInterval(() => {
        if (logEvents(mid).length >= 20) {
          clearInterval(t);
          resolve();
        }
      }, 20);
    });
    mid.socket.close();
    await mid.done;
    const seen = logEvents(mid);
    const resumeFrom = seen[seen.length - 1].seq;
    const run = await waitForRun(svc.url, id);
    const resumed = collectWs(svc.wsUrl, id, `format=json&from=${resumeFrom}`);
    await Promise.all([early.done, text.done, resumed.done]);

    const all = logEvents(early);
    expect(all.length).toBe(run.metrics.log_lines);
    expect(all.map((e) => e.seq)).toEqual(Array.from({ length: all.length }, (_, i) => i + 1));
    const stitched = [...seen, ...logEvents(resumed)].map((e) => e.seq);
    expect(stitched).toEqual(all.map((e) => e.seq));
    expect(early.messages.at(-1)!.data).toMatchObject({ type: 'end', status: run.status });
    expect(early.messages.some((m) => m.data.type === 'stage' && m.data.stage.id === 'smoke' && m.data.stage.status === 'success')).toBe(true);
    // The opening snapshot carries typical durations from the earlier successful runs of this env.
    const snapshot = early.messages.find((m) => m.data.type === 'stage' && m.data.stage.id === 'build')!.data.stage;
    expect(snapshot.typical_ms).toBeGreaterThan(0);
    // The text stream carries the same lines as `[stage] text`.
    expect(text.messages.length).toBe(all.length);
    expect(text.messages.every((m) => /^\[[a-z0-9]+\] /.test(m.data))).toBe(true);
    expect(text.messages.map((m) => m.data)).toEqual(all.map((e) => `[${e.stage}] ${e.text}`));
  });

  it('rejects bad ids and query strings with an error frame', async () => {
    const c = collectWs(svc.wsUrl, 'not-a-uuid');
    const closed = await c.done;
    expect(closed.code).toBe(4422);
    expect(c.messages[0]!.data).toMatchObject({ type: 'error', code: 'invalid_input' });
    const missing = collectWs(svc.wsUrl, '00000000-0000-4000-8000-000000000000');
    expect((await missing.done).code).toBe(4404);
    const q = collectWs(svc.wsUrl, '00000000-0000-4000-8000-000000000000', 'format=json&from=-1');
    expect((await q.done).code).toBe(4422);
  });
});

describe('queue', () => {
  it('runs two deploys requested at once one after the other, showing the queue position', async () => {
    const [a, b] = await Promise.all([start({ test_suite: 'none' }), start({ test_suite: 'none' })]);
    const bRun = await api(svc.url, 'GET', `/ci/runs/${b}`);
    expect(bRun.body.status).toBe('queued');
    expect(bRun.body.queue_position).toBe(1);
    const [ra, rb] = await Promise.all([waitForRun(svc.url, a), waitForRun(svc.url, b)]);
    expect(ra.status).toBe('success');
    expect(rb.status).toBe('success');
    expect(Date.parse(rb.started_at)).toBeGreaterThanOrEqual(Date.parse(ra.finished_at));
    expect(rb.jenkins.number).toBeGreaterThan(ra.jenkins.number);
  });

  it('cancels a queued run at once and a running one by stopping its Jenkins build', async () => {
    const a = await start({ test_suite: 'full' });
    const b = await start({ test_suite: 'full' });
    const cb = await api(svc.url, 'POST', `/ci/runs/${b}/cancel`);
    expect(cb.body.status).toBe('cancelled');
    await waitForRun(svc.url, a, 30_000, (r) => r.jenkins !== null);
    const ca = await api(svc.url, 'POST', `/ci/runs/${a}/cancel`);
    expect(ca.status).toBe(202);
    const run = await waitForRun(svc.url, a);
    expect(run.status).toBe('cancelled');
    expect((await api(svc.url, 'POST', `/ci/runs/${a}/cancel`)).status).toBe(409);
  });
});

describe('Jenkins faults', () => {
  it('with 30 % of Jenkins calls failing, the run still ends correctly', async () => {
    svc.services.sandbox!.setFaults({ jenkins_flaky: 0.3 });
    const id = await start({ test_suite: 'api' });
    const run = await waitForRun(svc.url, id, 90_000);
    expect(run.status, run.reason).toBe('success');
    expect(run.jenkins.number).toBeGreaterThan(0);
  });

  it('with Jenkins down past the deadline, the run ends error with the reason', async () => {
    const down = await startService({ JENKINS_DEADLINE_S: '5' }, { sandbox: svc.services.sandbox! });
    try {
      svc.services.sandbox!.setFaults({ jenkins_down_s: 30 });
      const r = await api(down.url, 'POST', '/ci/runs', { test_suite: 'none' });
      const run = await waitForRun(down.url, r.body.run_id, 40_000);
      expect(run.status).toBe('error');
      expect(run.reason).toMatch(/Jenkins did not answer for 5 s/);
      expect(run.failure_kind).toBe('infrastructure');
    } finally {
      svc.services.sandbox!.setFaults({ jenkins_down_s: 0 });
      await down.close();
    }
  });

  it('masks a secret the build prints and fails the secrets gate', async () => {
    svc.services.sandbox!.setFaults({ secret_leak: true });
    const id = await start({ dry_run: true, test_suite: 'none' });
    const run = await waitForRun(svc.url, id);
    expect(run.status).toBe('failed');
    expect(run.metrics.gates.find((g: any) => g.id === 'secrets').passed).toBe(false);
    expect(run.metrics.secrets_masked).toBeGreaterThan(0);
    const ws = collectWs(svc.wsUrl, id);
    await ws.done;
    const text = logEvents(ws).map((e) => e.text).join('\n');
    expect(text).toContain('****');
    expect(text).not.toMatch(/FakeLeak/i);
  });
});
