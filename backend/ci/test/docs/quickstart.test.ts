/**
 * docs/CI_App_README.md's Quick Start, followed command by command on Linux:
 * the backend with the in-process sandbox, a dry run, a full run with the live
 * log; and the rehearsal of the Jenkins setup against the standalone sandbox
 * (setup_job.py, AUTH_MODE=token, an admin token, bearer calls).
 */
import { afterEach, describe, expect, it } from 'vitest';
import { runsIn, tokensIn } from './db.js';
import { explain, runScenario, type ScenarioResult } from './runner.js';

const DOC = 'docs/CI_App_README.md';
let result: ScenarioResult | undefined;
afterEach(() => {
  result?.cleanup();
  result = undefined;
});

describe('docs/CI_App_README.md Quick Start', () => {
  it('runs the backend, a dry run and a full run as written', async () => {
    const r = (result = await runScenario(DOC, 'quickstart', { timeoutMs: 170_000 }));
    expect(r.code, explain(r)).toBe(0);
    // The Linux py line works: py is Python 3.
    expect(r.stdout).toMatch(/^Python 3\.\d+/m);
    // /ci/me answers as the README says on a first start.
    expect(r.stdout).toMatch(/"auth_mode":"none"/);
    expect(r.stdout).toMatch(/"sandbox":true/);

    const runs = runsIn(r.dbPath);
    expect(runs.map((x) => [x.kind, x.dry_run, x.status])).toEqual([
      ['deploy', 1, 'success'],
      ['deploy', 0, 'success'],
    ]);
    const [dry, full] = runs as [(typeof runs)[0], (typeof runs)[0]];
    // "transfer, deploy, smoke, api and e2e show skipped" — and the command printed them.
    for (const id of ['transfer', 'deploy', 'smoke', 'api', 'e2e']) {
      expect(dry.stages[id]).toBe('skipped');
      expect(r.stdout).toMatch(new RegExp(`^${id} skipped$`, 'm'));
    }
    expect(full.score).toBeGreaterThanOrEqual(80);
    for (const id of ['transfer', 'deploy', 'smoke', 'api', 'e2e']) expect(full.stages[id]).toBe('success');
    // The live log (WebSocket text lines with stage markers) and the artifact list.
    expect(r.stdout).toMatch(/^\[smoke\] /m);
    expect(r.stdout).toMatch(/^\[api\] /m);
    for (const name of ['newman.html', 'playwright.html', 'summary.json']) expect(r.stdout).toContain(`  ${name} `);
    expect(r.stdout).toMatch(/^  \S+\.trx \/ci\/runs\/\S+\/artifacts\/trx\//m);
    // summary.md, the human summary.
    expect(r.stdout).toMatch(/Run Score/i);
  }, 180_000);

  it('rehearses the Jenkins setup against the standalone sandbox: job, token, sign-in', async () => {
    const r = (result = await runScenario(DOC, 'jenkins-rehearsal', { timeoutMs: 170_000 }));
    expect(r.code, explain(r)).toBe(0);
    // setup_job.py checked the parameters and started the first dry-run build.
    expect(r.stdout).toMatch(/\[setup\] .*WeSign-CI/);
    expect(r.stdout).toMatch(/\[setup\] .*(queue|build)/i);
    // The backend ran against the sandbox as a Jenkins (not the in-process sandbox), with token auth.
    expect(r.backendLog).toMatch(/Jenkins: {3}http:\/\/127\.0\.0\.1:\d+\//);
    expect(r.stdout).toMatch(/"auth_mode":"token"/);
    expect(r.stdout).toMatch(/"name":"quickstart-admin"[^}]*"role":"admin"|"role":"admin"[^}]*"name":"quickstart-admin"/);
    expect(r.stdout).toMatch(/"env":"DevTest"/);
    expect(tokensIn(r.dbPath).map((t) => [t.name, t.role, t.revoked_at])).toEqual([['quickstart-admin', 'admin', null]]);
    // The API token went into a variable, never to the terminal or the backend's log.
    expect(r.stdout + r.backendLog).not.toMatch(/qaci_[A-Za-z0-9_-]{20,}/);
  }, 180_000);
});
