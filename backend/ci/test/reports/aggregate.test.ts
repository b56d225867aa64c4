/**
 * aggregate(): each gate shown failing by inducing exactly that failure, and
 * passing otherwise; the verdict for rolled-back runs; the summary's own
 * numbers recompute to its score; the checksums match the stored files.
 */
import { createHash } from 'node:crypto';
import { readFileSync, rmSync, truncateSync, writeFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { aggregate, readSummary, renderConsoleBlock, renderMarkdown, type Summary } from '../../src/ci/report_aggregator.js';
import { FIXTURES, input, makeRunDir, pytestHtml, stages, writeJson } from './helpers.js';

const failedGates = (s: Summary) => s.gates.filter((g) => !g.passed).map((g) => g.id);
const gate = (s: Summary, id: string) => s.gates.find((g) => g.id === id)!;

/** Recomputes Σwᵢsᵢ/Σwᵢ from the summary's own components, as docs/summary-schema.md tells a reader to. */
function recompute(s: Summary): number {
  const inc = s.score.components.filter((c) => c.included);
  const w = inc.reduce((t, c) => t + c.weight, 0);
  return Math.round((inc.reduce((t, c) => t + c.weight * c.score!, 0) / w) * 100) / 100;
}

describe('aggregate: a full run with every report in order', () => {
  it('passes every gate, succeeds, and writes summary.json and summary.md', async () => {
    const dir = makeRunDir();
    const s = await aggregate(input(dir));
    expect(failedGates(s)).toEqual([]);
    expect(s.verdict).toMatchObject({ status: 'success', failed_gates: [], failure: null });
    expect(s.gates.map((g) => g.id)).toEqual(['preflight', 'smoke', 'reports', 'score', 'backup', 'secrets']);
    const onDisk = await readSummary(path.join(dir, 'summary.json'));
    expect(onDisk).toEqual(s);
    expect(readFileSync(path.join(dir, 'summary.md'), 'utf8')).toContain(`Run Score ${s.score.value}`);
  });

  it('recomputes to the same score from its own numbers', async () => {
    const s = await aggregate(input(makeRunDir({ api: 'fail', e2e: 'fixture' }), { scoreThreshold: 0 }));
    // unit 4 of 7, smoke 2 of 2, api 2 of 5 assertions, e2e 2 of (2+1+1)
    expect(s.score.components.map((c) => [c.id, c.included, c.score])).toEqual([
      ['build', true, 57.14],
      ['smoke', true, 100],
      ['api', true, 40],
      ['e2e', true, 50],
    ]);
    expect(recompute(s)).toBe(s.score.value);
    expect(s.score.value).toBe(58.43);
    expect(s.score.formula).toContain('= 58.43');
  });

  it('records the SHA-256 and size of every stored file, matching the files', async () => {
    const dir = makeRunDir();
    const s = await aggregate(input(dir));
    expect(s.artifacts.map((a) => a.path)).toEqual(expect.arrayContaining(['trx/unit.trx', 'newman.html', 'newman.json', 'playwright.html', 'e2e-junit.xml', 'deploy.log', 'WeSign.DevTest.zip', 'smoke.json']));
    expect(s.artifacts.map((a) => a.path)).not.toContain('summary.json');
    for (const a of s.artifacts) {
      const file = path.join(dir, a.path);
      expect(a.sha256).toBe(createHash('sha256').update(readFileSync(file)).digest('hex'));
      expect(a.bytes).toBe(statSync(file).size);
    }
    expect(s.deployment.artifact.zip_verified).toBe(true);
    expect(s.deployment.artifact_matches_manifest).toBe(true);
  });

  it('reports tests by name, the slowest, stage durations and the deployment record', async () => {
    const s = await aggregate(input(makeRunDir({ api: 'fail', e2e: 'fixture' }), { scoreThreshold: 0 }));
    expect(s.tests.build).toMatchObject({ present: true, passed: 4, failed: 3, skipped: 1, total: 8 });
    expect(s.tests.api.assertions).toEqual({ total: 5, failed: 3, passed: 2, skipped: 0 });
    expect(s.tests.api.no_response).toEqual(['GET closed port (no response)']);
    expect(s.tests.e2e).toMatchObject({ passed: 2, failed: 1, errors: 1, skipped: 2 });
    expect(s.tests.e2e.failed_tests).toContain('pytest.e2e_outcomes.test_signature_placement');
    expect(s.tests.build.slowest.length).toBeGreaterThan(0);
    expect(s.stages.find((x) => x.id === 'build')).toMatchObject({ status: 'success', duration_ms: 10_000 });
    expect(s.deployment).toMatchObject({ backup_id: '20261204_140501', migrations_ran: false });
    expect(s.run.commit).toBe('3f2c9a1b7d4e5f60718293a4b5c6d7e8f9012345');
    expect(s.run.duration_ms).toBe(8 * 60_000);
  });
});

describe('gate: reports', () => {
  it('fails when newman.html is missing, and only that gate', async () => {
    const dir = makeRunDir();
    rmSync(path.join(dir, 'newman.html'));
    const s = await aggregate(input(dir));
    expect(failedGates(s)).toEqual(['reports']);
    expect(gate(s, 'reports').reason).toBe('newman.html is missing');
    expect(s.verdict.status).toBe('failed');
  });

  it('fails when playwright.html is truncated', async () => {
    const dir = makeRunDir();
    const f = path.join(dir, 'playwright.html');
    truncateSync(f, Math.floor(statSync(f).size / 2));
    const s = await aggregate(input(dir));
    expect(failedGates(s)).toEqual(['reports']);
    expect(gate(s, 'reports').reason).toMatch(/^playwright\.html is truncated/);
  });

  it('fails when the HTML is empty or is not the tool’s report', async () => {
    const dir = makeRunDir();
    writeFileSync(path.join(dir, 'newman.html'), '');
    writeFileSync(path.join(dir, 'playwright.html'), '<!DOCTYPE html><html><body>all good</body></html>');
    const s = await aggregate(input(dir));
    expect(failedGates(s)).toEqual(['reports']);
    expect(gate(s, 'reports').reason).toBe('newman.html is empty (0 bytes); playwright.html is not a pytest-html report (its markers are missing)');
  });

  it('fails when the HTML’s counts disagree with the JSON or XML beside it', async () => {
    const dir = makeRunDir();
    copyInto(dir, 'newman.json', 'newman-fail.json'); // newman.html still shows the passing run
    writeFileSync(path.join(dir, 'playwright.html'), pytestHtml({ passed: 3, failed: 0, skipped: 0, errors: 0 }));
    const s = await aggregate(input(dir, { scoreThreshold: 0 }));
    expect(failedGates(s)).toEqual(['reports']);
    const reason = gate(s, 'reports').reason;
    expect(reason).toContain('newman.html shows 6 assertions but newman.json has 5');
    expect(reason).toContain('playwright.html shows 3 passed but e2e-junit.xml has 2');
  });

  it('fails when the JSON/XML is missing although the HTML is there', async () => {
    const dir = makeRunDir();
    rmSync(path.join(dir, 'e2e-junit.xml'));
    const s = await aggregate(input(dir, { scoreThreshold: 0 }));
    expect(failedGates(s)).toEqual(['reports']);
    expect(gate(s, 'reports').reason).toBe('e2e-junit.xml is missing');
  });

  it('asks only for the selected suite’s report', async () => {
    const dir = makeRunDir({ e2e: 'none' });
    const s = await aggregate(input(dir, { run: { test_suite: 'api' } }));
    expect(failedGates(s)).toEqual([]);
    expect(s.score.components.find((c) => c.id === 'e2e')).toMatchObject({ included: false, score: null });
  });
});

describe('gate: score', () => {
  const e2eOf = (passed: number, failed: number) => {
    const cases = [
      ...Array.from({ length: passed }, (_, i) => `<testcase classname="tests.e2e" name="ok_${i}" time="0.1"/>`),
      ...Array.from({ length: failed }, (_, i) => `<testcase classname="tests.e2e" name="bad_${i}" time="0.1"><failure message="boom">boom</failure></testcase>`),
    ];
    return `<?xml version="1.0" encoding="utf-8"?><testsuites><testsuite name="pytest" tests="${passed + failed}" failures="${failed}" errors="0" skipped="0" time="9">${cases.join('')}</testsuite></testsuites>`;
  };
  const only79 = () => {
    const dir = makeRunDir();
    writeFileSync(path.join(dir, 'e2e-junit.xml'), e2eOf(79, 21));
    writeFileSync(path.join(dir, 'playwright.html'), pytestHtml({ passed: 79, failed: 21, skipped: 0, errors: 0 }));
    return dir;
  };
  const weights = { build: 0, smoke: 0, api: 0, e2e: 30 };

  it('fails at 79 against a threshold of 80, and only that gate', async () => {
    const s = await aggregate(input(only79(), { scoreWeights: weights, scoreThreshold: 80 }));
    expect(s.score.value).toBe(79);
    expect(failedGates(s)).toEqual(['score']);
    expect(gate(s, 'score').reason).toBe('Run Score 79 is below the threshold 80');
    expect(s.verdict.failure?.kind).toBe('test_regression');
  });

  it('passes at 79 against a threshold of 79', async () => {
    const s = await aggregate(input(only79(), { scoreWeights: weights, scoreThreshold: 79 }));
    expect(failedGates(s)).toEqual([]);
    expect(s.verdict.status).toBe('success');
  });
});

describe('gate: backup', () => {
  it('fails for a deploy whose manifest has no backup', async () => {
    const s = await aggregate(input(makeRunDir({ manifest: 'no_backup' })));
    expect(failedGates(s)).toEqual(['backup']);
    expect(gate(s, 'backup').reason).toBe('deploy-manifest.json has no backup_id and backup_path: the deploy ran without a recorded backup');
  });

  it('fails when the deploy stage ran but left no manifest', async () => {
    const s = await aggregate(input(makeRunDir({ manifest: 'none' })));
    expect(failedGates(s)).toEqual(['backup']);
    expect(gate(s, 'backup').reason).toMatch(/missing although the deploy ran/);
  });

  it('fails when the backup was not verified', async () => {
    const dir = makeRunDir();
    const m = JSON.parse(readFileSync(path.join(dir, 'deploy-manifest.json'), 'utf8'));
    writeJson(dir, 'deploy-manifest.json', { ...m, backup_verified: false });
    expect(failedGates(await aggregate(input(dir)))).toEqual(['backup']);
  });

  it('passes when nothing was deployed (the run stopped at preflight)', async () => {
    const dir = makeRunDir({ preflight: 'fail', manifest: 'none', smoke: 'none', api: 'none', e2e: 'none' });
    const st = stages({ checkout: 'success', preflight: 'failure', build: 'pending', deploy: 'pending', smoke: 'pending', api: 'pending', e2e: 'pending' });
    const s = await aggregate(input(dir, { run: { stages: st, ci_result: 'FAILURE' } }));
    expect(gate(s, 'backup')).toMatchObject({ passed: true, reason: 'nothing was deployed (the deploy stage did not run)' });
  });
});

describe('gate: preflight', () => {
  it('fails with the failed check and its hint', async () => {
    const dir = makeRunDir({ preflight: 'fail', manifest: 'none', smoke: 'none', api: 'none', e2e: 'none' });
    const st = stages({ checkout: 'success', preflight: 'failure', build: 'pending', deploy: 'pending', smoke: 'pending', api: 'pending', e2e: 'pending' });
    const s = await aggregate(input(dir, { run: { stages: st, ci_result: 'FAILURE' } }));
    expect(gate(s, 'preflight')).toEqual({
      id: 'preflight',
      passed: false,
      reason: 'failed checks: tcp_5986 (TcpTestSucceeded : False — port 5986 closed on DevTest — open TCP 5986 from the Jenkins server)',
    });
    expect(s.verdict.status).toBe('failed');
    expect(s.verdict.failure?.kind).toBe('network');
  });

  it('fails when preflight.json is missing', async () => {
    const s = await aggregate(input(makeRunDir({ preflight: 'none' })));
    expect(failedGates(s)).toEqual(['preflight']);
  });
});

describe('gate: secrets', () => {
  it('fails on a known secret printed in deploy.log, masks it in the stored file, and never writes the value', async () => {
    const dir = makeRunDir();
    const secret = 'fake-winrm-password-example';
    writeFileSync(path.join(dir, 'deploy.log'), `[deploy] connecting as svc-devtest with ${secret}\n[deploy] done\n`);
    const s = await aggregate(input(dir, { knownSecrets: [secret] }));
    expect(failedGates(s)).toEqual(['secrets']);
    expect(gate(s, 'secrets').reason).toBe('secrets found and masked before storage — deploy.log: 1 × configured_secret');
    const stored = readFileSync(path.join(dir, 'deploy.log'), 'utf8');
    expect(stored).toBe('[deploy] connecting as svc-devtest with ****\n[deploy] done\n');
    for (const f of ['summary.json', 'summary.md']) expect(readFileSync(path.join(dir, f), 'utf8')).not.toContain(secret);
    const entry = s.artifacts.find((a) => a.path === 'deploy.log')!;
    expect(entry.sha256).toBe(createHash('sha256').update(stored).digest('hex'));
    expect(s.secrets.masked_files).toEqual(['deploy.log']);
  });

  it('fails on a secret-shaped string in an artifact (no configured value needed)', async () => {
    const dir = makeRunDir();
    writeFileSync(path.join(dir, 'smoke_20261204_140545.log'), '[smoke] Server=db;User Id=sa;Password=FakeExample123;\n');
    const s = await aggregate(input(dir, { knownSecrets: [] }));
    expect(failedGates(s)).toEqual(['secrets']);
    expect(gate(s, 'secrets').reason).toContain('smoke_20261204_140545.log: 1 × connection_string_password');
    expect(readFileSync(path.join(dir, 'smoke_20261204_140545.log'), 'utf8')).not.toContain('FakeExample123');
  });

  it('fails when the console log had secrets masked', async () => {
    const s = await aggregate(input(makeRunDir(), { secrets: { masked_in_log: [{ kind: 'bearer_token', count: 2 }] } }));
    expect(failedGates(s)).toEqual(['secrets']);
    expect(gate(s, 'secrets').reason).toBe('secrets found and masked before storage — console log: 2 × bearer_token');
  });

  it('leaves clean files byte-for-byte alone', async () => {
    const dir = makeRunDir();
    const before = readFileSync(path.join(dir, 'newman.html'));
    await aggregate(input(dir));
    expect(readFileSync(path.join(dir, 'newman.html')).equals(before)).toBe(true);
  });
});

describe('gate: smoke, and the rollback verdicts', () => {
  it('a deploy that failed smoke and was rolled back with a passing re-smoke is rolled_back', async () => {
    const dir = makeRunDir({ smoke: 'fail', rollback: 'resmoke_passed', api: 'none', e2e: 'none' });
    const st = stages({ preflight: 'success', build: 'success', deploy: 'success', smoke: 'failure', rollback: 'success', api: 'skipped', e2e: 'skipped' });
    const s = await aggregate(input(dir, { run: { stages: st, ci_result: 'FAILURE' } }));
    expect(s.verdict.status).toBe('rolled_back');
    expect(s.rollback_failed).toBe(false);
    expect(gate(s, 'smoke').reason).toBe('smoke failed for the new version: http://DevTest/WeSignManagement/health (503 after 3 attempts)');
    // Tests were skipped by design: not counted, not required.
    expect(s.score.components.filter((c) => c.included).map((c) => c.id)).toEqual(['build', 'smoke']);
    expect(gate(s, 'reports').passed).toBe(true);
    expect(s.rollback).toMatchObject({ present: true, backup_id: '20261204_140501', restored: true, resmoke_passed: true });
  });

  it('a rollback whose re-smoke failed is failed with rollback_failed', async () => {
    const dir = makeRunDir({ smoke: 'fail', rollback: 'resmoke_failed', api: 'none', e2e: 'none' });
    const st = stages({ preflight: 'success', build: 'success', deploy: 'success', smoke: 'failure', rollback: 'failure', api: 'skipped', e2e: 'skipped' });
    const s = await aggregate(input(dir, { run: { stages: st, ci_result: 'FAILURE' } }));
    expect(s.verdict.status).toBe('failed');
    expect(s.rollback_failed).toBe(true);
    expect(s.verdict.reason).toMatch(/^ROLLBACK FAILED/);
    expect(renderConsoleBlock(s)).toContain('ROLLBACK FAILED');
  });

  it('a deploy that failed smoke with no rollback record is failed with rollback_failed', async () => {
    const dir = makeRunDir({ smoke: 'fail', rollback: 'none', api: 'none', e2e: 'none' });
    const st = stages({ preflight: 'success', build: 'success', deploy: 'success', smoke: 'failure', rollback: 'pending', api: 'pending', e2e: 'pending' });
    const s = await aggregate(input(dir, { run: { stages: st, ci_result: 'FAILURE' } }));
    expect(s.verdict.status).toBe('failed');
    expect(s.rollback_failed).toBe(true);
    expect(s.verdict.reason).toMatch(/no rollback record/);
  });

  it('a suite that never ran says so in the reports gate', async () => {
    const dir = makeRunDir({ preflight: 'fail', manifest: 'none', smoke: 'none', api: 'none', e2e: 'none' });
    const st = stages({ checkout: 'success', preflight: 'failure', build: 'pending', deploy: 'pending', smoke: 'pending', api: 'pending', e2e: 'pending' });
    const s = await aggregate(input(dir, { run: { stages: st, ci_result: 'FAILURE' } }));
    expect(gate(s, 'reports').reason).toBe('newman.html is missing: the api tests did not run (stage pending); playwright.html is missing: the e2e tests did not run (stage pending)');
    expect(s.verdict.reason).toMatch(/^preflight: /);
    expect(s.rollback_failed).toBe(false);
  });

  it('matches SMOKE_URLS as a script may echo them (host case, trailing slash)', async () => {
    const dir = makeRunDir();
    writeJson(dir, 'smoke.json', { passed: true, urls: [{ url: 'http://devtest/health/', status_code: 200 }, { url: 'HTTP://DEVTEST/WeSignManagement/health', status_code: 200 }] });
    const s = await aggregate(input(dir));
    expect(gate(s, 'smoke').passed).toBe(true);
    expect(s.smoke.healthy).toBe(2);
  });

  it('fails when smoke.json is missing after a deploy', async () => {
    const s = await aggregate(input(makeRunDir({ smoke: 'none' })));
    expect(failedGates(s)).toContain('smoke');
    expect(gate(s, 'smoke').reason).toMatch(/smoke\.json is missing/);
  });
});

describe('run kinds', () => {
  it('a dry run scores the build only and expects no DevTest evidence', async () => {
    const dir = makeRunDir({ api: 'none', e2e: 'none', smoke: 'none', manifest: 'none' });
    const st = stages({ checkout: 'success', preflight: 'success', build: 'success', package: 'success', config: 'success', transfer: 'skipped', deploy: 'skipped', smoke: 'skipped', api: 'skipped', e2e: 'skipped' });
    const s = await aggregate(input(dir, { run: { dry_run: true, stages: st }, scoreThreshold: 50 }));
    expect(s.score.components.filter((c) => c.included).map((c) => c.id)).toEqual(['build']);
    expect(s.score.value).toBe(57.14);
    expect(failedGates(s)).toEqual([]);
    expect(gate(s, 'smoke').reason).toMatch(/not applicable/);
  });

  it('a rollback run scores smoke only', async () => {
    const dir = makeRunDir({ api: 'none', e2e: 'none', trx: [], manifest: 'none', rollback: 'resmoke_passed' });
    const st = stages({ preflight: 'success', smoke: 'success', rollback: 'success' });
    const s = await aggregate(input(dir, { run: { kind: 'rollback', stages: st } }));
    expect(s.score.components.filter((c) => c.included).map((c) => c.id)).toEqual(['smoke']);
    expect(s.score.value).toBe(100);
    expect(s.verdict.status).toBe('success');
  });

  it('a rollback run is judged on the re-smoke after the restore, not on a smoke of the version it replaced', async () => {
    const dir = makeRunDir({ api: 'none', e2e: 'none', trx: [], manifest: 'none', smoke: 'fail', rollback: 'resmoke_passed' });
    const st = stages({ preflight: 'success', smoke: 'failure', rollback: 'success' });
    const s = await aggregate(input(dir, { run: { kind: 'rollback', stages: st } }));
    expect(s.smoke).toMatchObject({ present: true, passed: true, healthy: 2 });
    expect(s.gates.find((g) => g.id === 'smoke')).toMatchObject({ passed: true, reason: '2 of 2 SMOKE_URLS healthy for the restored version' });
    expect(s.verdict.status).toBe('success');
    expect(s.rollback_failed).toBe(false);
  });

  it('a rollback run without smoke.json uses the re-smoke; a failed re-smoke is rollback_failed', async () => {
    const ok = await aggregate(input(makeRunDir({ api: 'none', e2e: 'none', trx: [], manifest: 'none', smoke: 'none', rollback: 'resmoke_passed' }), { run: { kind: 'rollback', stages: stages({ preflight: 'success', smoke: 'skipped', rollback: 'success' }) } }));
    expect(ok.verdict.status).toBe('success');
    expect(ok.score.value).toBe(100);
    const bad = await aggregate(input(makeRunDir({ api: 'none', e2e: 'none', trx: [], manifest: 'none', smoke: 'none', rollback: 'resmoke_failed' }), { run: { kind: 'rollback', stages: stages({ preflight: 'success', smoke: 'skipped', rollback: 'failure' }), ci_result: 'FAILURE' } }));
    expect(bad).toMatchObject({ rollback_failed: true, verdict: { status: 'failed' } });
    expect(bad.gates.find((g) => g.id === 'smoke')!.reason).toMatch(/^smoke failed for the restored version/);
  });

  it('a build that failed to compile scores 0 for build', async () => {
    const dir = makeRunDir({ trx: [], api: 'none', e2e: 'none', smoke: 'none', manifest: 'none' });
    const st = stages({ preflight: 'success', build: 'failure', deploy: 'pending', smoke: 'pending', api: 'pending', e2e: 'pending' });
    const s = await aggregate(input(dir, { run: { stages: st, ci_result: 'FAILURE' }, logExcerpt: ['[build] error CS1002: ; expected'] }));
    expect(s.score.components[0]).toMatchObject({ id: 'build', score: 0, detail: 'the build failed' });
    expect(s.verdict.status).toBe('failed');
  });
});

describe('the Jenkins-side summary', () => {
  it('is kept as summary.jenkins.json and a disagreement is flagged', async () => {
    const dir = makeRunDir();
    const jenkins = await aggregate(input(dir, { producedBy: 'jenkins', run: { stages: [] } }));
    expect(jenkins.produced_by).toBe('jenkins');
    // The backend saw a secret in the console that Jenkins' CLI could not see.
    const s = await aggregate(input(dir, { secrets: { masked_in_log: [{ kind: 'password_assignment', count: 1 }] } }));
    expect(s.jenkins_summary_disagreement).toEqual({
      jenkins_file: 'summary.jenkins.json',
      differences: [{ field: 'gates.secrets.passed', jenkins: true, backend: false }],
    });
    expect(s.artifacts.map((a) => a.path)).toContain('summary.jenkins.json');
    expect(renderMarkdown(s, {})).toContain('Jenkins-side summary disagrees');
  });

  it('agrees when both computed the same', async () => {
    const dir = makeRunDir();
    await aggregate(input(dir, { producedBy: 'jenkins', run: { stages: [] } }));
    const s = await aggregate(input(dir));
    expect(s.jenkins_summary_disagreement).toBeNull();
    // Running the backend's aggregation again does not mistake its own summary for Jenkins'.
    const again = await aggregate(input(dir));
    expect(again.jenkins_summary_disagreement).toBeNull();
  });
});

describe('renderers', () => {
  it('the Markdown links the reports and escapes names; the console block is short', async () => {
    const dir = makeRunDir({ api: 'fail', e2e: 'fixture' });
    const s = await aggregate(input(dir, { scoreThreshold: 0 }));
    const md = renderMarkdown(s, { runUrl: 'http://qa.example/ci/runs/1', artifactBase: 'http://qa.example/ci/runs/1/artifacts' });
    expect(md).toContain('[newman.html](http://qa.example/ci/runs/1/artifacts/newman.html)');
    expect(md).toContain('[trx/unit.trx](http://qa.example/ci/runs/1/artifacts/trx/unit.trx)');
    expect(md).toContain('| score | pass |');
    expect(md).toContain('GET /SignerApi/health (unhealthy) › status is 200');
    const block = renderConsoleBlock(s);
    expect(block.split('\n').length).toBeLessThan(20);
    expect(block).toContain(`Score    ${s.score.value} / threshold 0`);
  });
});

function copyInto(dir: string, name: string, fixture: string) {
  writeFileSync(path.join(dir, name), readFileSync(path.join(FIXTURES, fixture)));
}
