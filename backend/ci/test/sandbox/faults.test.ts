/** Each fault knob of DESIGN §5 (plus rollback_fail), and the fault API itself. */
import { XMLParser } from 'fast-xml-parser';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { validateFaults, type Sandbox } from '../../src/sandbox/index.js';
import { artifact, artifactJson, basic, consoleText, getJson, jf, JOB, runBuild, sandbox, waitFor } from './helpers.js';

let sb: Sandbox;
beforeAll(async () => {
  sb = await sandbox();
});
afterAll(async () => {
  await sb?.close();
});
afterEach(() => {
  sb.setFaults({ smoke_fail: false, preflight_fail: false, build_fail: false, api_fail: false, e2e_fail: false, secret_leak: false, rollback_fail: false, jenkins_flaky: 0, jenkins_down_s: 0, console_flood_mb: 0 });
});

/**
 * Like the Jenkinsfile: failed tests make the build UNSTABLE (catchError), and the Post section's
 * aggregator (--fail-on-gates) turns it into FAILURE when its verdict is not success.
 */
async function expectedTestFailureResult(n: number): Promise<string> {
  const summary = await artifactJson(sb, n, 'reports/summary.json');
  return summary.verdict.status === 'success' ? 'UNSTABLE' : 'FAILURE';
}

async function stages(n: number): Promise<Record<string, string>> {
  const d = await getJson(sb, `/job/${JOB}/${n}/wfapi/describe`);
  return Object.fromEntries(d.stages.map((s: any) => [s.name, s.status]));
}

describe('smoke_fail', () => {
  it('fails smoke on the new version, rolls back to the backup, re-smokes green, ends FAILURE "rolled back"', async () => {
    const previous = sb.deployedVersion();
    sb.setFaults({ smoke_fail: true });
    const { n, build } = await runBuild(sb, { TEST_SUITE: 'full', QA_RUN_ID: 'smoke-fail' });
    expect(build.result).toBe('FAILURE');
    const manifest = await artifactJson(sb, n, 'reports/deploy-manifest.json');
    expect(build.description).toBe(`QA_RUN_ID=smoke-fail | deploy main | FAILURE, rolled back to ${manifest.backup_id}`);
    expect(await stages(n)).toMatchObject({ 'Backup & Deploy': 'SUCCESS', 'Start IIS + Smoke': 'FAILED', Rollback: 'SUCCESS', 'Tests: API': 'NOT_EXECUTED', 'Tests: E2E': 'NOT_EXECUTED' });
    const smoke = await artifactJson(sb, n, 'reports/smoke.json');
    expect(smoke).toMatchObject({ ok: false, healthy: 0, total: 2 });
    // smoke.ps1: one try plus 3 retries, then fail fast: the next URL is not checked.
    expect(smoke.urls[0]).toMatchObject({ url: 'http://DevTest/health', ok: false, status: 503, attempts: 4 });
    expect(smoke.urls[1]).toMatchObject({ url: 'http://DevTest/WeSignManagement/health', ok: false, status: null, attempts: 0 });
    const rollback = await artifactJson(sb, n, 'reports/rollback.json');
    expect(rollback).toMatchObject({ backup_id: manifest.backup_id, smoke_ok: true });
    expect(sb.deployedVersion()).toBe(previous);
    const paths: string[] = build.artifacts.map((a: any) => a.relativePath);
    expect(paths.some((p) => /^reports\/smoke_rollback_\d{8}_\d{6}\.log$/.test(p))).toBe(true);
    const log = await consoleText(sb, n);
    expect(log).toContain('Stage "Tests" skipped due to when conditional');
    expect(log).toContain('Stage "Tests: API" skipped due to when conditional');
  });

  it('with rollback_fail the re-smoke fails too: FAILURE "rollback failed"', async () => {
    sb.setFaults({ smoke_fail: true, rollback_fail: true });
    const { n, build } = await runBuild(sb, { TEST_SUITE: 'none', QA_RUN_ID: 'rollback-fail' });
    expect(build.result).toBe('FAILURE');
    expect(build.description).toBe('QA_RUN_ID=rollback-fail | deploy main | FAILURE, rollback FAILED');
    expect(await stages(n)).toMatchObject({ Rollback: 'FAILED' });
    expect((await artifactJson(sb, n, 'reports/rollback.json')).smoke_ok).toBe(false);
    const health = await fetch(`${sb.devtestUrl}/health`);
    expect(health.status).toBe(503);
    // Put DevTest back on a healthy version for the tests after this one.
    sb.setFaults({ smoke_fail: false, rollback_fail: false });
    expect((await runBuild(sb, { TEST_SUITE: 'none' })).build.result).toBe('SUCCESS');
  });
});

describe('preflight_fail', () => {
  it('fails Pre-flight; every later stage is skipped due to earlier failure; nothing is deployed', async () => {
    const version = sb.deployedVersion();
    sb.setFaults({ preflight_fail: true });
    const { n, build } = await runBuild(sb, { TEST_SUITE: 'none' });
    expect(build.result).toBe('FAILURE');
    const st = await stages(n);
    expect(st['Pre-flight']).toBe('FAILED');
    for (const s of ['Build & Unit Tests', 'Package', 'Backup & Deploy', 'Start IIS + Smoke']) expect(st[s]).toBe('NOT_EXECUTED');
    expect(sb.deployedVersion()).toBe(version);
    const pre = await artifactJson(sb, n, 'reports/preflight.json');
    expect(pre.ok).toBe(false);
    expect(pre.checks.find((c: any) => c.id === 'winrm_session')).toMatchObject({ ok: false, hint: expect.stringContaining('svc-devtest') });
    expect(pre).toMatchObject({ computer: 'DevTest', local_only: false });
    const log = await consoleText(sb, n);
    expect(log).toContain('Stage "Build & Unit Tests" skipped due to earlier failure(s)');
    expect(log).toContain('ERROR: script returned exit code 1');
    const d = await getJson(sb, `/job/${JOB}/${n}/wfapi/describe`);
    expect(d.status).toBe('FAILED');
    expect(d.stages.find((s: any) => s.name === 'Pre-flight').error.type).toBe('hudson.AbortException');
  });

  it('fails the local check in a dry run', async () => {
    sb.setFaults({ preflight_fail: true });
    const { n, build } = await runBuild(sb, { DRY_RUN: 'true', TEST_SUITE: 'none' });
    expect(build.result).toBe('FAILURE');
    const pre = await artifactJson(sb, n, 'reports/preflight.json');
    expect(pre.local_only).toBe(true);
    expect(pre.checks.filter((c: any) => !c.ok).map((c: any) => c.id)).toEqual(['local_disk']);
  });
});

describe('build_fail', () => {
  it('fails unit tests: the TRX holds the failures and the stage is FAILED', async () => {
    sb.setFaults({ build_fail: true });
    const { n, build } = await runBuild(sb, { DRY_RUN: 'true', TEST_SUITE: 'none' });
    expect(build.result).toBe('FAILURE');
    expect(await stages(n)).toMatchObject({ 'Build & Unit Tests': 'FAILED', Package: 'NOT_EXECUTED' });
    const trx = new XMLParser({ ignoreAttributes: false, attributeNamePrefix: '@' }).parse((await artifact(sb, n, 'reports/trx/unit.trx')).toString('utf8').replace(/^\ufeff/, ''));
    const failed = (trx.TestRun.Results.UnitTestResult as any[]).filter((r) => r['@outcome'] === 'Failed');
    expect(failed).toHaveLength(2);
    expect(Number(trx.TestRun.ResultSummary.Counters['@failed'])).toBe(2);
    expect(trx.TestRun.ResultSummary['@outcome']).toBe('Failed');
    expect(failed[0].Output.ErrorInfo.Message).toContain('Assert.AreEqual failed');
  });
});

describe('api_fail and e2e_fail', () => {
  it('api_fail makes real Newman assertions fail against DevTest; the API stage fails, E2E still runs', async () => {
    sb.setFaults({ api_fail: true });
    const { n, build } = await runBuild(sb, { TEST_SUITE: 'full' });
    expect(build.result).toBe(await expectedTestFailureResult(n));
    expect(await stages(n)).toMatchObject({ 'Start IIS + Smoke': 'SUCCESS', 'Tests: API': 'FAILED', 'Tests: E2E': 'FAILED' });
    const report = await artifactJson(sb, n, 'reports/newman.json');
    expect(report.run.stats.assertions.failed).toBeGreaterThan(0);
    expect(report.run.failures.some((f: any) => f.source.name === 'API version')).toBe(true);
    const html = (await artifact(sb, n, 'reports/newman.html')).toString('utf8');
    expect(Number(/Total Failed Tests<\/h6>\s*<h1[^>]*>\s*(\d+)/i.exec(html)?.[1])).toBe(report.run.stats.assertions.failed);
  });

  it('e2e_fail fails one E2E test; pytest stops there (--maxfail=1); JUnit and HTML agree', async () => {
    sb.setFaults({ e2e_fail: true });
    const { n, build } = await runBuild(sb, { TEST_SUITE: 'e2e' });
    expect(build.result).toBe(await expectedTestFailureResult(n));
    expect(await stages(n)).toMatchObject({ 'Tests: API': 'NOT_EXECUTED', 'Tests: E2E': 'FAILED' });
    const doc = new XMLParser({ ignoreAttributes: false, attributeNamePrefix: '@' }).parse((await artifact(sb, n, 'reports/e2e-junit.xml')).toString('utf8'));
    const suite = doc.testsuites.testsuite;
    expect(Number(suite['@failures'])).toBe(1);
    const cases = suite.testcase as any[];
    expect(cases[cases.length - 1].failure['@message']).toContain('e2e_fail');
    const html = (await artifact(sb, n, 'reports/playwright.html')).toString('utf8');
    expect(Number(/<span class="failed">(\d+) /.exec(html)?.[1])).toBe(1);
    expect(Number(/<span class="passed">(\d+) /.exec(html)?.[1])).toBe(Number(suite['@tests']) - 1);
  });
});

describe('secret_leak', () => {
  it('prints fake secret-shaped strings in the console', async () => {
    sb.setFaults({ secret_leak: true });
    const { n } = await runBuild(sb, { DRY_RUN: 'true', TEST_SUITE: 'none' });
    const log = await consoleText(sb, n);
    expect(log).toMatch(/\[preflight\] .*Password=FakeLeak[^;]*;/);
    expect(log).toMatch(/Bearer fake-[0-9a-z-]+/);
    sb.setFaults({ secret_leak: false });
    const clean = await runBuild(sb, { DRY_RUN: 'true', TEST_SUITE: 'none' });
    expect(await consoleText(sb, clean.n)).not.toContain('FakeLeak');
  });
});

describe('console_flood_mb', () => {
  it('prints that many MB in Build & Unit Tests, marked [build], long lines included, and the build still succeeds', async () => {
    sb.setFaults({ console_flood_mb: 2 });
    const { n, build } = await runBuild(sb, { TEST_SUITE: 'none', QA_RUN_ID: 'flood' });
    expect(build.result).toBe('SUCCESS');
    const text = await consoleText(sb, n);
    const flood = text.split('\n').filter((l) => l.startsWith('[build]   Compiling') || l.startsWith('[build] warning CS8618'));
    expect(flood.reduce((a, l) => a + Buffer.byteLength(l) + 1, 0)).toBeGreaterThan(2 * 1024 * 1024 * 0.9);
    expect(flood.some((l) => l.length > 16_384)).toBe(true);
  });
});

describe('jenkins_flaky and jenkins_down_s', () => {
  it('jenkins_flaky=1 answers every Jenkins call with a 5xx; 0.5 lets some through', async () => {
    sb.setFaults({ jenkins_flaky: 1 });
    for (let i = 0; i < 10; i++) expect([500, 502, 503]).toContain((await jf(sb, '/api/json')).status);
    // The fault API itself is not flaky, so a test can always switch it off.
    expect((await jf(sb, '/sandbox/faults')).status).toBe(200);
    sb.setFaults({ jenkins_flaky: 0.5 });
    const statuses = new Set<number>();
    for (let i = 0; i < 60; i++) statuses.add((await jf(sb, '/api/json')).status);
    expect(statuses.has(200)).toBe(true);
    expect([...statuses].some((s) => s >= 500)).toBe(true);
  });

  it('jenkins_down_s refuses connections for that long, then Jenkins answers again', async () => {
    sb.setFaults({ jenkins_down_s: 0.6 });
    expect(sb.getFaults().jenkins_down_s).toBeGreaterThan(0);
    await expect(fetch(`${sb.jenkinsUrl}/api/json`, { headers: { authorization: basic(sb.user, sb.token), connection: 'close' } })).rejects.toThrow();
    await waitFor('Jenkins to come back', async () => {
      try {
        return (await jf(sb, '/api/json', { headers: { connection: 'close' } })).status === 200;
      } catch {
        return false;
      }
    }, 10_000, 100);
    expect(sb.getFaults().jenkins_down_s).toBe(0);
  });
});

describe('the fault API', () => {
  it('validateFaults rejects bad input with the allowed keys and types', () => {
    expect(() => validateFaults({ smoke_fail: 'yes' })).toThrow(/smoke_fail must be true or false.*allowed keys: smoke_fail/);
    expect(() => validateFaults({ jenkins_flaky: 2 })).toThrow(/jenkins_flaky must be a number from 0 to 1/);
    expect(() => validateFaults({ typo_fail: true })).toThrow(/unknown key "typo_fail"/);
    expect(() => validateFaults([])).toThrow(/must be a JSON object/);
    expect(() => validateFaults({ console_flood_mb: 201 })).toThrow(/console_flood_mb must be a number of megabytes from 0 to 200/);
    expect(() => validateFaults({ console_flood_mb: '5' })).toThrow(/console_flood_mb must be a number/);
    expect(validateFaults({ e2e_fail: true, jenkins_down_s: 3 })).toEqual({ e2e_fail: true, jenkins_down_s: 3 });
  });

  it('PUT /sandbox/faults sets faults over HTTP (with the sandbox credentials) and explains a bad body', async () => {
    const ok = await jf(sb, '/sandbox/faults', { method: 'PUT', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ e2e_fail: true }) });
    expect(ok.status).toBe(200);
    expect(((await ok.json()) as any).e2e_fail).toBe(true);
    expect(sb.getFaults().e2e_fail).toBe(true);
    const bad = await jf(sb, '/sandbox/faults', { method: 'PUT', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ e2e_fail: 1 }) });
    expect(bad.status).toBe(400);
    expect(((await bad.json()) as any).error.message).toMatch(/e2e_fail must be true or false/);
    expect((await fetch(`${sb.jenkinsUrl}/sandbox/faults`)).status).toBe(403);
    const state = await getJson(sb, '/sandbox/state');
    expect(state).toMatchObject({ sandbox: true, devtestUrl: sb.devtestUrl });
  });
});
