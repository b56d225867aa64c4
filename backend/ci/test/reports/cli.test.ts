/** The aggregator command the Jenkinsfile's post section runs, as a real child process. */
import { spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { makeRunDir, SMOKE_URLS } from './helpers.js';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../../..');
const cli = path.join(root, 'backend/ci/src/cli/aggregate.ts');
const tsx = path.join(root, 'node_modules/.bin/tsx');
const run = (args: string[], env: Record<string, string> = {}) =>
  spawnSync(tsx, [cli, ...args], { cwd: root, encoding: 'utf8', env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', ...env } });

describe('cli/aggregate.ts', () => {
  it('writes summary.json and summary.md, prints the console block and exits 0 even when a gate fails', () => {
    const dir = makeRunDir({ api: 'fail', e2e: 'fixture' });
    const r = run(['--reports', dir, '--threshold', '80', '--weights', 'build=20,smoke=20,api=30,e2e=30', '--suite', 'full', '--kind', 'deploy', '--smoke-urls', SMOKE_URLS.join(',')], {
      QA_RUN_ID: '7b0e4a52-4c1e-4a57-9a51-2f1f3c0d9e11',
    });
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    expect(r.stdout).toContain('Status   FAILED  (failed gates: score)');
    const s = JSON.parse(readFileSync(path.join(dir, 'summary.json'), 'utf8'));
    expect(s).toMatchObject({ schema_version: 1, produced_by: 'jenkins', run: { run_id: '7b0e4a52-4c1e-4a57-9a51-2f1f3c0d9e11' }, score: { value: 58.43 } });
    expect(readFileSync(path.join(dir, 'summary.md'), 'utf8')).toContain('Run Score 58.43');
  });

  it('with --fail-on-gates exits 1 on a failed verdict and 0 on success', () => {
    expect(run(['--reports', makeRunDir({ api: 'fail', e2e: 'fixture' }), '--fail-on-gates']).status).toBe(1);
    const ok = run(['--reports', makeRunDir(), '--fail-on-gates'], { SMOKE_URLS: JSON.stringify(SMOKE_URLS), TEST_SUITE: 'full' });
    expect(ok.stdout).toContain('Status   SUCCESS');
    expect(ok.status).toBe(0);
  });

  it('takes DRY_RUN and the weights from the Jenkins environment', () => {
    const dir = makeRunDir({ api: 'none', e2e: 'none', smoke: 'none', manifest: 'none' });
    const r = run(['--reports', dir], { DRY_RUN: 'true', SCORE_WEIGHTS: 'build=50', RUN_SCORE_THRESHOLD: '50' });
    expect(r.status).toBe(0);
    const s = JSON.parse(readFileSync(path.join(dir, 'summary.json'), 'utf8'));
    expect(s.score.components.filter((c: { included: boolean }) => c.included).map((c: { id: string; weight: number }) => [c.id, c.weight])).toEqual([['build', 50]]);
  });

  it('masks the values of --secret-env variables found in the reports and fails the secrets gate', () => {
    const dir = makeRunDir();
    const secret = 'fake-winrm-password-example';
    writeFileSync(path.join(dir, 'deploy.log'), `[deploy] net use \\\\DevTest\\c$ /user:svc-devtest ${secret}\n`);
    const r = run(['--reports', dir, '--secret-env', 'WINRM_PASSWORD'], { WINRM_PASSWORD: secret, SMOKE_URLS: SMOKE_URLS.join(',') });
    expect(r.status).toBe(0);
    expect(r.stdout).toContain('Gate     secrets: secrets found and masked before storage — deploy.log: 1 × configured_secret');
    expect(readFileSync(path.join(dir, 'deploy.log'), 'utf8')).not.toContain(secret);
    expect(readFileSync(path.join(dir, 'summary.json'), 'utf8')).not.toContain(secret);
  });

  it('exits 2 with a message saying what to send on bad arguments', () => {
    const noDir = run([]);
    expect(noDir.status).toBe(2);
    expect(noDir.stderr).toContain('--reports <dir> is required');
    const badWeights = run(['--reports', makeRunDir(), '--weights', 'build=twenty']);
    expect(badWeights.status).toBe(2);
    expect(badWeights.stderr).toContain('--weights: bad entry "build=twenty"; use build=20,smoke=20,api=30,e2e=30');
    const badSuite = run(['--reports', makeRunDir(), '--suite', 'smoke']);
    expect(badSuite.stderr).toContain('--suite must be full, api, e2e or none, got "smoke"');
    const missing = run(['--reports', '/nonexistent/reports']);
    expect(missing.status).toBe(2);
    expect(missing.stderr).toContain('is not a readable directory');
  });
});
