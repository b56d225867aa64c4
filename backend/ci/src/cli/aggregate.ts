#!/usr/bin/env node
/**
 * The report aggregator as a command, for the Jenkinsfile's `post` section on
 * the Jenkins server (Node is there for Newman):
 *
 *   npx tsx backend/ci/src/cli/aggregate.ts --reports reports --threshold 80 ^
 *     --weights build=20,smoke=20,api=30,e2e=30 --suite full --kind deploy
 *
 * Writes reports/summary.json and reports/summary.md and prints the console
 * block. Exits 0 whatever the verdict (the Jenkinsfile decides the build
 * result from summary.json); with --fail-on-gates it exits 1 when the verdict
 * is not success. Bad arguments exit 2 with a message saying what to send.
 *
 * Every option falls back to the Jenkins job's parameter or variable of the
 * same meaning (TEST_SUITE, DRY_RUN, ACTION, QA_RUN_ID, BRANCH_OR_TAG,
 * SMOKE_URLS, RUN_SCORE_THRESHOLD, SCORE_WEIGHTS, BUILD_URL, ...).
 */
import path from 'node:path';
import { parseArgs } from 'node:util';
import { aggregate, renderConsoleBlock } from '../ci/report_aggregator.js';
import type { ScoreWeights } from '../ci/reports/types.js';

const USAGE = `usage: aggregate --reports <dir> [--threshold 80] [--weights build=20,smoke=20,api=30,e2e=30]
                 [--suite full|api|e2e|none] [--dry-run] [--kind deploy|rollback]
                 [--run-id ID] [--app WeSign] [--env DevTest] [--branch main] [--initiator NAME]
                 [--ci-result SUCCESS|FAILURE|UNSTABLE|ABORTED] [--smoke-urls URL,URL]
                 [--secret-env VAR,VAR] [--run-url URL] [--fail-on-gates]`;

class UsageError extends Error {}

export function parseWeights(s: string): ScoreWeights {
  const out: ScoreWeights = { build: 20, smoke: 20, api: 30, e2e: 30 };
  for (const part of s.split(',').map((x) => x.trim()).filter(Boolean)) {
    const [k, v] = part.split('=');
    const n = Number(v);
    if (!k || !(k in out) || v === undefined || v.trim() === '' || !Number.isFinite(n) || n < 0) {
      throw new UsageError(`--weights: bad entry "${part}"; use build=20,smoke=20,api=30,e2e=30 (non-negative numbers)`);
    }
    out[k as keyof ScoreWeights] = n;
  }
  return out;
}

export function parseList(s: string | undefined): string[] {
  if (!s?.trim()) return [];
  const t = s.trim();
  if (t.startsWith('[')) {
    try {
      const v = JSON.parse(t) as unknown;
      if (Array.isArray(v) && v.every((x) => typeof x === 'string')) return v;
    } catch {
      /* reported below */
    }
    throw new UsageError('a list must be a JSON array of strings or comma-separated');
  }
  return t.split(',').map((x) => x.trim()).filter(Boolean);
}

const truthy = (v: string | undefined) => v !== undefined && ['true', '1', 'yes'].includes(v.toLowerCase());

export async function main(argv: string[], env: NodeJS.ProcessEnv = process.env): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: {
      reports: { type: 'string' },
      threshold: { type: 'string' },
      weights: { type: 'string' },
      suite: { type: 'string' },
      'dry-run': { type: 'boolean' },
      kind: { type: 'string' },
      'run-id': { type: 'string' },
      app: { type: 'string' },
      env: { type: 'string' },
      branch: { type: 'string' },
      initiator: { type: 'string' },
      'ci-result': { type: 'string' },
      'smoke-urls': { type: 'string' },
      'secret-env': { type: 'string' },
      'run-url': { type: 'string' },
      'fail-on-gates': { type: 'boolean' },
      help: { type: 'boolean' },
    },
    strict: true,
  });
  if (values.help) {
    console.log(USAGE);
    return 0;
  }
  if (!values.reports) throw new UsageError('--reports <dir> is required (the folder the stages wrote their reports to, usually "reports")');
  const thresholdText = values.threshold ?? env.RUN_SCORE_THRESHOLD ?? '80';
  const threshold = Number(thresholdText);
  if (!Number.isFinite(threshold) || threshold < 0 || threshold > 100) throw new UsageError(`--threshold must be a number from 0 to 100, got "${thresholdText}"`);
  const suite = values.suite ?? env.TEST_SUITE ?? 'full';
  if (!['full', 'api', 'e2e', 'none'].includes(suite)) throw new UsageError(`--suite must be full, api, e2e or none, got "${suite}"`);
  const kind = values.kind ?? env.ACTION ?? 'deploy';
  if (kind !== 'deploy' && kind !== 'rollback') throw new UsageError(`--kind must be deploy or rollback, got "${kind}"`);
  const ciResult = values['ci-result'] ?? null;
  if (ciResult !== null && !['SUCCESS', 'FAILURE', 'UNSTABLE', 'ABORTED', 'NOT_BUILT'].includes(ciResult)) {
    throw new UsageError(`--ci-result must be SUCCESS, FAILURE, UNSTABLE, ABORTED or NOT_BUILT, got "${ciResult}"`);
  }
  // Values of the named variables (e.g. what withCredentials bound) are looked for in the reports.
  const knownSecrets = parseList(values['secret-env'])
    .map((name) => env[name])
    .filter((v): v is string => !!v);

  const summary = await aggregate({
    runDir: path.resolve(values.reports),
    producedBy: 'jenkins',
    run: {
      run_id: values['run-id'] ?? (env.QA_RUN_ID || env.BUILD_TAG || 'local'),
      app: values.app ?? env.APP_NAME ?? 'WeSign',
      env: values.env ?? env.ENV_NAME ?? 'DevTest',
      kind,
      dry_run: values['dry-run'] ?? truthy(env.DRY_RUN),
      test_suite: suite as 'full' | 'api' | 'e2e' | 'none',
      initiator: values.initiator ?? env.BUILD_USER_ID ?? 'jenkins',
      branch_or_tag: values.branch ?? env.BRANCH_OR_TAG ?? 'main',
      ci_result: ciResult,
      stages: [],
      started_at: null,
      finished_at: null,
      jenkins_url: env.BUILD_URL ?? null,
      run_url: values['run-url'] ?? env.BUILD_URL ?? null,
    },
    secrets: { masked_in_log: [] },
    knownSecrets,
    smokeUrls: parseList(values['smoke-urls'] ?? env.SMOKE_URLS),
    scoreThreshold: threshold,
    scoreWeights: parseWeights(values.weights ?? env.SCORE_WEIGHTS ?? ''),
  });
  process.stdout.write(renderConsoleBlock(summary));
  return values['fail-on-gates'] && summary.verdict.status !== 'success' ? 1 : 0;
}

const invokedDirectly = process.argv[1] && path.resolve(process.argv[1]).replace(/\.[cm]?[jt]s$/, '') === path.resolve(new URL(import.meta.url).pathname).replace(/\.[cm]?[jt]s$/, '');
if (invokedDirectly) {
  main(process.argv.slice(2)).then(
    (code) => process.exit(code),
    (err: Error) => {
      if (err instanceof UsageError || (err as { code?: string }).code?.startsWith('ERR_PARSE_ARGS')) {
        console.error(`[report] ${err.message}\n${USAGE}`);
        process.exit(2);
      }
      console.error(`[report] aggregation failed: ${err.message}`);
      process.exit(2);
    },
  );
}
