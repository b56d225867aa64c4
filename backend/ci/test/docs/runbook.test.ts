/**
 * docs/Runbook.md, followed on Linux against the real service (AUTH_MODE=token
 * with a CLI-made token) and the sandbox. Each procedure's "given" (what must
 * already be true, e.g. a finished deploy to roll back) is set up here with
 * the same commands the documents use; the procedure itself is the document's.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { runsIn, tokensIn } from './db.js';
import { explain, runScenario, type ScenarioResult } from './runner.js';

const DOC = 'docs/Runbook.md';
let result: ScenarioResult | undefined;
afterEach(() => {
  result?.cleanup();
  result = undefined;
});

/** An admin API token made with the tokens CLI, as $QACI_TOKEN, and token auth on. */
const WITH_TOKEN = String.raw`
export AUTH_MODE=token
QACI_TOKEN="$(npx tsx backend/ci/src/cli/tokens.ts create --name runbook-admin --role admin | tail -n 1)"
`;

const WAIT_FOR_RUN = String.raw`
until curl -fsS -H "Authorization: Bearer $QACI_TOKEN" "http://127.0.0.1:$PORT/ci/runs/$RUN_ID" | py -c "import json,sys; r=json.load(sys.stdin); sys.exit(r['status'] in ('queued','running'))"; do sleep 0.2; done
`;

const A_SUCCESSFUL_DEPLOY = String.raw`
__qa_start_backend
RUN_ID=$(curl -fsS -X POST "http://127.0.0.1:$PORT/ci/runs" -H "Authorization: Bearer $QACI_TOKEN" -H 'content-type: application/json' -d '{"dry_run":false,"test_suite":"none"}' | py -c "import json,sys; print(json.load(sys.stdin)['run_id'])")
${WAIT_FOR_RUN}
`;

describe('docs/Runbook.md', () => {
  it('starting a deploy and a dry run: both finish, the second queued behind the first', async () => {
    const r = (result = await runScenario(DOC, 'runbook-deploy', { given: WITH_TOKEN }));
    expect(r.code, explain(r)).toBe(0);
    const runs = runsIn(r.dbPath);
    expect(runs.map((x) => [x.dry_run, x.status])).toEqual([
      [1, 'success'],
      [0, 'success'],
    ]);
    expect(r.stdout).toMatch(/deploy dry run success/);
    expect(r.stdout).toMatch(/"runs":\[/);
  }, 180_000);

  it('reading a failed run: smoke_fail rehearsal ends rolled_back and the reading commands show why', async () => {
    const r = (result = await runScenario(DOC, 'runbook-failed-run', { given: WITH_TOKEN + '__qa_start_backend\n' }));
    expect(r.code, explain(r)).toBe(0);
    const [run] = runsIn(r.dbPath);
    expect(run?.status).toBe('rolled_back');
    expect(run?.stages.rollback).toBe('success');
    // The first command prints status, kind and every gate; smoke is the one that failed.
    expect(r.stdout).toMatch(/^rolled_back \S+ /m);
    expect(r.stdout).toMatch(/^ gate smoke FAILED /m);
    expect(r.stdout).toMatch(/^ gate backup passed /m);
    // summary.md and summary.json's verdict.failure were readable.
    expect(r.stdout).toMatch(/rolled[ _]back/i);
    expect(r.stdout).toMatch(/'next_step': /);
    // The fault was switched off at the end.
    expect(r.stdout).toMatch(/"smoke_fail":false/);
  }, 180_000);

  it('Rollback N-1 from the command line restores the previous version', async () => {
    const r = (result = await runScenario(DOC, 'runbook-rollback', { given: WITH_TOKEN + A_SUCCESSFUL_DEPLOY }));
    expect(r.code, explain(r)).toBe(0);
    const runs = runsIn(r.dbPath);
    expect(runs.map((x) => [x.kind, x.status])).toEqual([
      ['deploy', 'success'],
      ['rollback', 'success'],
    ]);
    expect(r.stdout).toMatch(/^DevTest now \S+ rollback restores backup \d{8}_\d{6}$/m);
    expect(r.stdout).toMatch(/^rollback \d{8}_\d{6} success$/m);
  }, 180_000);

  it('rolling back through the Jenkins job with the backend down', async () => {
    // Given: Jenkins (the standalone sandbox) has deployed once, so DevTest has a backup.
    const given = String.raw`
__qa_start_sandbox
Q=$(curl -fsS -X POST -u "$JENKINS_USER:$JENKINS_API_TOKEN" -o /dev/null -w '%header{location}' "$JENKINS_URL"job/WeSign-CI/buildWithParameters --data TEST_SUITE=none)
until B=$(curl -fsSg -u "$JENKINS_USER:$JENKINS_API_TOKEN" "$Q"'api/json?tree=executable[url]' | py -c "import json,sys; e=json.load(sys.stdin).get('executable'); print(e['url'] if e else ''); sys.exit(not e)"); do sleep 0.2; done
until curl -fsS -u "$JENKINS_USER:$JENKINS_API_TOKEN" "$B"'api/json?tree=building,result' | py -c "import json,sys; b=json.load(sys.stdin); sys.exit(b['building'])"; do sleep 0.2; done
`;
    const r = (result = await runScenario(DOC, 'runbook-jenkins-rollback', { given }));
    expect(r.code, explain(r)).toBe(0);
    expect(r.stdout).toMatch(/^2 SUCCESS QA_RUN_ID=- \| rollback \S* \| SUCCESS, rolled back to .+$/m);
  }, 180_000);

  it('rotating the Jenkins API token: after a restart /readyz reports Jenkins ok', async () => {
    const r = (result = await runScenario(DOC, 'runbook-restart'));
    expect(r.code, explain(r)).toBe(0);
    expect(r.stdout).toMatch(/'jenkins': 'ok'/);
  }, 120_000);

  it('rotating an API token: create the new one, list, revoke the old one', async () => {
    const given = String.raw`
OLD_TOKEN_ID=$(npx tsx backend/ci/src/cli/tokens.ts create --name ci-bot --role deployer | sed -n 's/^Created \(tok_[A-Za-z0-9_-]*\) .*/\1/p')
test -n "$OLD_TOKEN_ID"
`;
    const r = (result = await runScenario(DOC, 'runbook-tokens', { given }));
    expect(r.code, explain(r)).toBe(0);
    const tokens = tokensIn(r.dbPath);
    expect(tokens.map((t) => [t.name, t.role, t.revoked_at === null])).toEqual([
      ['ci-bot', 'deployer', false],
      ['ci-bot', 'deployer', true],
    ]);
    expect(r.stdout).toMatch(new RegExp(`Revoked ${tokens[0]!.id}`));
    expect(r.stdout).toMatch(/^ID +NAME +ROLE +CREATED +LAST USED +REVOKED$/m);
  }, 120_000);

  it('adding a new environment: the environments file, the restart and a dry run on it', async () => {
    const r = (result = await runScenario(DOC, 'runbook-new-env', { given: WITH_TOKEN }));
    expect(r.code, explain(r)).toBe(0);
    expect(r.stdout).toMatch(/^WeSign DevTest$/m);
    expect(r.stdout).toMatch(/^WeSign Staging$/m);
    const runs = runsIn(r.dbPath);
    expect(runs.map((x) => [x.env, x.dry_run, x.status])).toEqual([['Staging', 1, 'success']]);
  }, 180_000);
});
