/** Failure classification: one case per kind, from the lines real tools print. */
import { describe, expect, it } from 'vitest';
import { classifyFailure, type ClassifyInput } from '../../src/ci/reports/classify.js';

const noTests = { failed: 0, errors: 0, failed_tests: [] as string[] };
const base = (over: Partial<ClassifyInput>): ClassifyInput => ({
  status: 'failed',
  failed_gates: [],
  ci_result: 'FAILURE',
  stages: [],
  lines: [],
  tests: { build: noTests, api: noTests, e2e: noTests },
  ...over,
});

describe('classifyFailure', () => {
  it('returns null for a successful run', () => {
    expect(classifyFailure(base({ status: 'success' }))).toBeNull();
  });

  it('port closed → network, with the line as evidence and a Test-NetConnection next step', () => {
    const c = classifyFailure(
      base({
        failed_gates: ['preflight'],
        stages: [{ id: 'preflight', status: 'failure' }],
        lines: ['[preflight] checking DevTest:5986', '[preflight] TcpTestSucceeded : False', '[preflight] port 5986 closed on DevTest'],
      }),
    )!;
    expect(c.kind).toBe('network');
    expect(c.message).toBe('DevTest could not be reached over the network (stage preflight)');
    expect(c.evidence).toEqual(['[preflight] TcpTestSucceeded : False', '[preflight] port 5986 closed on DevTest']);
    expect(c.next_step).toContain('Test-NetConnection DevTest -Port 5986');
  });

  it('WinRM 401 → credentials (not network, although the connection is mentioned)', () => {
    const c = classifyFailure(
      base({
        stages: [{ id: 'preflight', status: 'failure' }],
        lines: [
          '[preflight] New-PSSession : [DevTest] Connecting to remote server DevTest failed with the following error message : The WinRM client received an HTTP status code of 401 from the remote WS-Management service.',
        ],
        credentials_id: 'svc-devtest',
      }),
    )!;
    expect(c.kind).toBe('credentials');
    expect(c.next_step).toContain('svc-devtest');
  });

  it('a locked file → locked_files', () => {
    const c = classifyFailure(
      base({
        stages: [{ id: 'deploy', status: 'failure' }],
        lines: ["[deploy] Remove-Item : The process cannot access the file 'C:\\inetpub\\WeSign\\UserApi\\WeSign.dll' because it is being used by another process."],
      }),
    )!;
    expect(c.kind).toBe('locked_files');
    expect(c.next_step).toContain('IIS_APP_POOLS');
  });

  it('an unresolved placeholder in the config transform → configuration', () => {
    const c = classifyFailure(
      base({
        stages: [{ id: 'config', status: 'failure' }],
        lines: ['[config] error: unresolved placeholder ${WESIGN_DB_PASSWORD} in appsettings.DevTest.json (ConnectionStrings:Default); set the environment variable'],
      }),
    )!;
    expect(c.kind).toBe('configuration');
    expect(c.message).toContain('stage config');
  });

  it('a failed config stage with no telling line is still configuration', () => {
    expect(classifyFailure(base({ stages: [{ id: 'config', status: 'failure' }], lines: ['[config] exit code 2'] }))!.kind).toBe('configuration');
  });

  it('failed tests with a healthy infrastructure → test_regression naming the suite and the tests', () => {
    const c = classifyFailure(
      base({
        failed_gates: ['score'],
        lines: ['[api] newman run finished with 3 failures'],
        tests: {
          build: noTests,
          api: { failed: 2, errors: 0, failed_tests: ['GET /SignerApi/health › status is 200', 'GET /SignerApi/health › reports Healthy'], script_errors: 0 },
          e2e: { failed: 1, errors: 0, failed_tests: ['tests.e2e.test_sign.test_signature_placement'] },
        },
      }),
    )!;
    expect(c.kind).toBe('test_regression');
    expect(c.message).toBe('tests failed — API tests: 2 failed (GET /SignerApi/health › status is 200, GET /SignerApi/health › reports Healthy); E2E tests: 1 failed (tests.e2e.test_sign.test_signature_placement)');
    expect(c.evidence).toContain('tests.e2e.test_sign.test_signature_placement');
    expect(c.next_step).toContain('newman.html / playwright.html');
  });

  it('a 401 or a refused connection printed by the API tests is a test regression, not credentials or network', () => {
    const c = classifyFailure(
      base({
        failed_gates: ['score'],
        lines: ['[api] → GET /UserApi/users', '[api]   GET http://DevTest/UserApi/users [401 Unauthorized, 180B, 12ms]', '[api]   connect ECONNREFUSED 10.0.0.5:443'],
        tests: { build: noTests, api: { failed: 1, errors: 0, failed_tests: ['GET /UserApi/users › status is 200'] }, e2e: noTests },
      }),
    )!;
    expect(c.kind).toBe('test_regression');
  });

  it('Jenkins down → infrastructure, from the orchestrator’s error or from the log', () => {
    const fromError = classifyFailure(base({ ci_result: null, infrastructure_error: 'Jenkins unreachable for 300 s: connect ECONNREFUSED 127.0.0.1:8081' }))!;
    expect(fromError.kind).toBe('infrastructure');
    expect(fromError.evidence).toEqual(['Jenkins unreachable for 300 s: connect ECONNREFUSED 127.0.0.1:8081']);
    const fromLog = classifyFailure(base({ ci_result: null, lines: ['[report] backend: Jenkins did not respond within 300 s (HTTP 503)'] }))!;
    expect(fromLog.kind).toBe('infrastructure');
  });

  it('anything else → unknown, pointing at the failed stage', () => {
    const c = classifyFailure(base({ stages: [{ id: 'package', status: 'failure' }], lines: ['[package] exit code 1'] }))!;
    expect(c).toMatchObject({ kind: 'unknown', message: 'stage package failed for a reason the logs do not name' });
  });
});

describe('classifyFailure: smoke', () => {
  it('names a deployed version whose health URLs answer 5xx as a regression caught by smoke', async () => {
    const { classifyFailure } = await import('../../src/ci/reports/classify.js');
    const c = classifyFailure({
      status: 'rolled_back',
      failed_gates: ['smoke'],
      ci_result: 'FAILURE',
      stages: [{ id: 'deploy', status: 'success' }, { id: 'smoke', status: 'failure' }],
      lines: ['[smoke] GET http://DevTest/health -> 503 Service Unavailable (attempt 4 of 4)', '[rollback] restoring 20261204_101010'],
      tests: { build: { failed: 0, failed_tests: [] }, api: { failed: 0, failed_tests: [] }, e2e: { failed: 0, failed_tests: [] } },
    });
    expect(c?.kind).toBe('test_regression');
    expect(c?.message).toMatch(/failed smoke/);
    expect(c?.evidence[0]).toContain('503');
  });
});
