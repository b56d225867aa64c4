/**
 * What kind of failure a failed run was, and the next step to take, from the
 * log lines and the artifacts' own failure details. The rules are tried in a
 * fixed order, most specific cause first: a 401 from WinRM also mentions the
 * connection, and an unreachable host also fails the tests after it.
 */
import type { FailureKind } from './types.js';

export interface ClassifyInput {
  /** Final status so far: success means nothing to classify. */
  status: string;
  failed_gates: string[];
  ci_result: string | null;
  /** Stages with their status, in pipeline order. */
  stages: Array<{ id: string; status: string }>;
  /** Redacted lines to search: the console excerpt, deploy.log's tail, failing preflight/smoke details. */
  lines: string[];
  tests: {
    build: { failed: number; errors?: number; failed_tests: string[] };
    api: { failed: number; errors?: number; failed_tests: string[]; script_errors?: number };
    e2e: { failed: number; errors?: number; failed_tests: string[] };
  };
  /** Set by the orchestrator when Jenkins itself failed (unreachable, timeout). */
  infrastructure_error?: string | null;
  credentials_id?: string;
  server?: string;
}

export interface Classification {
  kind: FailureKind;
  message: string;
  next_step: string;
  evidence: string[];
}

interface Rule {
  kind: Exclude<FailureKind, 'test_regression' | 'unknown'>;
  re: RegExp;
  message: (server: string) => string;
  next: (c: { server: string; credentialsId: string }) => string;
}

const RULES: Rule[] = [
  {
    kind: 'infrastructure',
    re: /jenkins\b[^\n]*\b(unreachable|is down|not reachable|unavailable|did not respond|timed? ?out|returned 50[0-9])|\b(build|run) timed out|Timeout has been exceeded|agent[^\n]*\boffline\b|No space left on device|java\.io\.IOException|deadline exceeded/i,
    message: () => 'the CI infrastructure failed (Jenkins or its agent), not the code',
    next: () => 'Check that Jenkins is up, the WeSign-CI job exists and its Windows agent is online (Manage Jenkins → Nodes); the backend retries Jenkins calls and then marks the run error. Re-run when Jenkins is back.',
  },
  {
    kind: 'credentials',
    re: /\b401\b|\bUnauthorized\b|Access is denied|Logon failure|user name or password is incorrect|authentication (failed|refused)|invalid credentials?|credentials? (were |was )?(rejected|refused|invalid)|account (is )?(locked|disabled)|password (has )?expired/i,
    message: (s) => `the credentials for ${s} were refused`,
    next: (c) =>
      `Check the Jenkins credential ${c.credentialsId} (JENKINS_CREDENTIALS_ID): the password has not expired or been rotated without updating Jenkins, the account is not locked, and it may use WinRM on ${c.server} (local Administrators or Remote Management Users). Test from the Jenkins server: Enter-PSSession -ComputerName ${c.server} -UseSSL -Credential (Get-Credential).`,
  },
  {
    kind: 'locked_files',
    re: /being used by another process|sharing violation|file is locked|locked file|ERROR 32 \(0x00000020\)|cannot access the file|Access to the path .+ is denied/i,
    message: (s) => `files in the deploy folder on ${s} were locked`,
    next: () =>
      'Make sure every app pool in IIS_APP_POOLS stopped (and no w3wp.exe or PdfConvertorService process still holds the folder), then re-run; deploy_zip.ps1 puts app_offline.htm and retries. Find the holder with Resource Monitor (CPU → Associated Handles) or Sysinternals handle.exe.',
  },
  {
    kind: 'configuration',
    re: /unresolved placeholder|placeholder[^\n]*\b(not set|unresolved|missing|undefined)|missing (setting|configuration|environment variable)|environment variable [^\n]*(is )?not set|appsettings[^\n]*\b(error|invalid|not found|missing)|invalid JSON|JSONDecodeError|Expecting (value|property name)|config(uration)? transform failed|is not configured/i,
    message: () => 'the configuration is incomplete or invalid',
    next: () =>
      'Fix the setting the evidence names: define the environment variable or Jenkins credential a placeholder refers to, or correct the appsettings override file; then re-run as a Dry run, which runs Config Transform without touching DevTest.',
  },
  {
    kind: 'network',
    re: /TcpTestSucceeded\s*:\s*False|\bport \d+\b[^\n]*\b(closed|unreachable|not reachable|filtered|refused)|ECONNREFUSED|ETIMEDOUT|EHOSTUNREACH|ENETUNREACH|ENOTFOUND|EAI_AGAIN|No such host is known|could not resolve|Name or service not known|network path was not found|Unable to connect to the remote server|WinRM cannot complete the operation|cannot connect to the destination|connection (was )?(refused|timed out|reset)/i,
    message: (s) => `${s} could not be reached over the network`,
    next: (c) =>
      `Check that ${c.server} is up and that the Jenkins server reaches it on TCP 445 (SMB) and 5986 (WinRM over HTTPS): Test-NetConnection ${c.server} -Port 5986 and -Port 445; then the firewalls between them, DNS, and that the WinRM HTTPS listener exists (winrm enumerate winrm/config/listener).`,
  },
];

const TEST_OUTPUT = /^\s*\[(api|e2e)\]/;
const clip = (s: string) => (s.length > 300 ? `${s.slice(0, 297)}...` : s);

export function classifyFailure(i: ClassifyInput): Classification | null {
  if (i.status === 'success' && i.failed_gates.length === 0) return null;
  const server = i.server ?? 'DevTest';
  const credentialsId = i.credentials_id ?? 'svc-devtest';
  const failedStage = i.stages.find((s) => s.status === 'failure')?.id ?? null;

  if (i.infrastructure_error) {
    const r = RULES[0]!;
    return { kind: 'infrastructure', message: `${r.message(server)}: ${clip(i.infrastructure_error)}`, next_step: r.next({ server, credentialsId }), evidence: [clip(i.infrastructure_error)] };
  }
  // What the API and E2E tests print (a 401 the API answered, a refused test
  // request) is the tests' business: those lines speak for test_regression only.
  const pipelineLines = i.lines.filter((l) => !TEST_OUTPUT.test(l));
  for (const rule of RULES) {
    const hits = pipelineLines.filter((l) => rule.re.test(l));
    if (!hits.length) continue;
    return {
      kind: rule.kind,
      message: `${rule.message(server)}${failedStage ? ` (stage ${failedStage})` : ''}`,
      next_step: rule.next({ server, credentialsId }),
      evidence: hits.slice(-5).map(clip),
    };
  }
  if (failedStage === 'config') {
    const r = RULES.find((x) => x.kind === 'configuration')!;
    return { kind: 'configuration', message: `${r.message(server)} (stage config failed)`, next_step: r.next({ server, credentialsId }), evidence: i.lines.slice(-3).map(clip) };
  }

  // The new version answered 5xx on its health URLs: the smoke check caught a regression of the deployment.
  if (failedStage === 'smoke' || i.failed_gates.includes('smoke')) {
    const unhealthy = i.lines.filter((l) => /\b5\d\d\b|Unhealthy|Service Unavailable/i.test(l) && /smoke|health/i.test(l));
    if (unhealthy.length) {
      return {
        kind: 'test_regression',
        message: `the deployed version failed smoke: its health endpoints answered with server errors (suite smoke)`,
        next_step: `Open smoke.json and the application's own logs on ${server} (Event Viewer → Application, the IIS stdout logs under DEPLOY_DIR); a startup failure there is usually a setting (compare this run's config transform with the last green run) or a code change. If the run was rolled back, the previous version is serving again.`,
        evidence: unhealthy.slice(-5).map(clip),
      };
    }
  }

  const suites = (['build', 'api', 'e2e'] as const).filter((s) => i.tests[s].failed + (i.tests[s].errors ?? 0) + (s === 'api' ? (i.tests.api.script_errors ?? 0) : 0) > 0);
  if (suites.length) {
    const label = { build: 'unit tests', api: 'API tests', e2e: 'E2E tests' } as const;
    const parts = suites.map((s) => {
      const t = i.tests[s];
      const n = t.failed + (t.errors ?? 0);
      const names = t.failed_tests.slice(0, 3).join(', ');
      return `${label[s]}: ${n} failed${names ? ` (${names}${t.failed_tests.length > 3 ? ', …' : ''})` : ''}`;
    });
    return {
      kind: 'test_regression',
      message: `tests failed — ${parts.join('; ')}`,
      next_step: `Open the ${suites.map((s) => ({ build: 'TRX', api: 'newman.html', e2e: 'playwright.html' })[s]).join(' / ')} report and fix the failing tests or the change they caught; compare with the last green run of the same branch.`,
      evidence: suites.flatMap((s) => i.tests[s].failed_tests.slice(0, 5)).map(clip),
    };
  }

  return {
    kind: 'unknown',
    message: failedStage ? `stage ${failedStage} failed for a reason the logs do not name` : `the run failed (${i.failed_gates.join(', ') || i.ci_result || 'no gate named'})`,
    next_step: `Read the console log around ${failedStage ? `the ${failedStage} stage` : 'the end of the run'} and the failed gates' reasons in summary.json; if it recurs, add a rule to backend/ci/src/ci/reports/classify.ts.`,
    evidence: i.lines.slice(-5).map(clip),
  };
}
