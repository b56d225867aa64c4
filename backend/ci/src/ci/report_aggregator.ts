/**
 * The report aggregator (SPEC "Aggregate reports", DESIGN §3–§4): reads a run's
 * fetched artifacts, masks any secret in them in place, and writes one
 * summary.json (schema v1, docs/summary-schema.md) plus summary.md. The same
 * code runs in the backend after a build and on the Jenkins server as
 * `cli/aggregate.ts`, so both sides compute the same numbers; the backend
 * flags it when the Jenkins-side summary disagrees with its own.
 */
import { open, readFile, rename, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { createRedactor } from './redact.js';
import type { Stage, TestSuite } from './models.js';
import { checksumAll, listFiles, scanAndMask, sha256File } from './reports/artifacts.js';
import { classifyFailure } from './reports/classify.js';
import { evaluateGates, type GateInput, type StageLookup } from './reports/gates.js';
import { inspectHtmlReport, type HtmlInspection } from './reports/html.js';
import { nestedObj, pick, pickPassed, preflightChecks, readJsonFile, sameUrl, smokeResults, stringList } from './reports/inputs.js';
import { parseJunitFile, type JunitResult } from './reports/junit.js';
import { parseNewmanFile, type NewmanResult } from './reports/newman.js';
import { renderConsoleBlock, renderMarkdown, type RenderLinks } from './reports/render.js';
import { computeScore } from './reports/score.js';
import { sniffEncoding } from './reports/text.js';
import { parseTrxFiles, type TrxResult } from './reports/trx.js';
import type {
  ApiTests,
  DeploymentSection,
  Disagreement,
  RollbackRecord,
  ScoreWeights,
  SecretFinding,
  SmokeSection,
  Summary,
  SuiteCounts,
  Verdict,
} from './reports/types.js';

export type { Summary } from './reports/types.js';
export { renderMarkdown, renderConsoleBlock };

export interface AggregateInput {
  /** ARTIFACT_STORE/runs/<run_id>/ with the fetched build archive (the files of DESIGN §3 at their names). */
  runDir: string;
  run: {
    run_id: string;
    app: string;
    env: string;
    kind: 'deploy' | 'rollback';
    dry_run: boolean;
    test_suite: TestSuite;
    initiator: string;
    branch_or_tag: string;
    /** Jenkins result: SUCCESS / FAILURE / UNSTABLE / ABORTED, or null if unknown. */
    ci_result: string | null;
    /** Empty when unknown (the Jenkins-side CLI); the gates then infer what ran from the files. */
    stages: Stage[];
    started_at: string | null;
    finished_at: string | null;
    jenkins_url: string | null;
    run_url: string | null;
  };
  /** What the redactor masked in the console log (kinds and counts only). */
  secrets: { masked_in_log: Array<{ kind: string; count: number }> };
  /** Exact secret values to look for in the artifacts; matches are masked in place and fail the `secrets` gate. */
  knownSecrets: string[];
  smokeUrls: string[];
  scoreThreshold: number;
  scoreWeights: ScoreWeights;
  /** The last ~200 redacted console lines, for failure classification. */
  logExcerpt?: string[];
  /** Who computes this summary; the Jenkinsfile's Post section passes "jenkins" (via the CLI). Default "backend". */
  producedBy?: 'backend' | 'jenkins';
  /** The orchestrator's own infrastructure failure (Jenkins unreachable, timeout), for classification. */
  infrastructureError?: string | null;
  /** For messages: the target server and the Jenkins credential id (defaults DevTest, svc-devtest). */
  server?: string;
  credentialsId?: string;
  /** Links for summary.md. */
  links?: RenderLinks;
}

/** The files this module writes; they are not artifacts of the build. */
const OWN_OUTPUTS = new Set(['summary.json', 'summary.md']);
const JENKINS_SUMMARY_COPY = 'summary.jenkins.json';

const emptySuite = (): SuiteCounts => ({
  present: false,
  sources: [],
  passed: 0,
  failed: 0,
  errors: 0,
  skipped: 0,
  total: 0,
  duration_ms: null,
  failed_tests: [],
  failed_tests_omitted: 0,
  slowest: [],
  problem: null,
});

async function exists(file: string): Promise<boolean> {
  try {
    return (await stat(file)).isFile();
  } catch {
    return false;
  }
}

/** The last `bytes` of a text file, as lines (the first, partial line dropped). */
async function tailLines(file: string, bytes = 64 * 1024): Promise<string[]> {
  let fh;
  try {
    fh = await open(file, 'r');
  } catch {
    return [];
  }
  try {
    const size = (await fh.stat()).size;
    const head = Buffer.alloc(2);
    await fh.read(head, 0, 2, 0);
    const encoding = sniffEncoding(head);
    // UTF-16 code units are 2 bytes: start the tail on an even offset.
    let start = Math.max(0, size - bytes);
    if (encoding === 'utf16le') start -= start % 2;
    const buf = Buffer.alloc(size - start);
    await fh.read(buf, 0, buf.length, start);
    const lines = buf.toString(encoding).replace(/^\uFEFF/, '').split(/\r?\n/);
    if (start > 0) lines.shift();
    return lines.filter((l) => l.trim());
  } finally {
    await fh.close();
  }
}

/**
 * Keeps a Jenkins-side summary.json (written by the CLI in the Post section) as
 * summary.jenkins.json before the backend writes its own, and returns it.
 */
async function takeJenkinsSummary(dir: string, producedBy: 'backend' | 'jenkins'): Promise<{ file: string; value: Record<string, unknown> } | null> {
  if (producedBy === 'jenkins') return null;
  const own = await readJsonFile(path.join(dir, 'summary.json'));
  if (own.present && own.value && own.value.produced_by !== 'backend') {
    await rename(path.join(dir, 'summary.json'), path.join(dir, JENKINS_SUMMARY_COPY));
  }
  const kept = await readJsonFile(path.join(dir, JENKINS_SUMMARY_COPY));
  return kept.value ? { file: JENKINS_SUMMARY_COPY, value: kept.value } : null;
}

function compareWithJenkins(jenkins: Record<string, unknown>, s: Summary): Disagreement[] {
  const diffs: Disagreement[] = [];
  const jScore = nestedObj(jenkins, 'score');
  const jValue = pick(jScore, ['value'], 'number');
  if (jValue === null || Math.abs(jValue - s.score.value) > 0.01) diffs.push({ field: 'score.value', jenkins: jValue, backend: s.score.value });
  const jGates = Array.isArray(jenkins.gates) ? (jenkins.gates as Array<Record<string, unknown>>) : [];
  for (const g of s.gates) {
    const jg = jGates.find((x) => x && x.id === g.id);
    const jp = jg && typeof jg.passed === 'boolean' ? jg.passed : null;
    if (jp !== g.passed) diffs.push({ field: `gates.${g.id}.passed`, jenkins: jp, backend: g.passed });
  }
  return diffs;
}

export async function aggregate(input: AggregateInput): Promise<Summary> {
  const dir = input.runDir;
  const run = input.run;
  const producedBy = input.producedBy ?? 'backend';
  const at = (name: string) => path.join(dir, name);
  try {
    if (!(await stat(dir)).isDirectory()) throw new Error('not a directory');
  } catch {
    throw new Error(`runDir ${dir} is not a readable directory; pass the run's artifact folder (ARTIFACT_STORE/runs/<run_id>/)`);
  }

  const jenkinsSummary = await takeJenkinsSummary(dir, producedBy);
  let files = (await listFiles(dir)).filter((f) => !OWN_OUTPUTS.has(f) && !f.endsWith('.tmp'));

  // 1. Secrets first, so every number below and every checksum is of the stored (masked) files.
  const redactor = createRedactor(input.knownSecrets);
  const scan = await scanAndMask(dir, files, redactor);
  const secretFindings: SecretFinding[] = [
    ...input.secrets.masked_in_log.filter((f) => f.count > 0).map((f) => ({ where: 'console', kind: f.kind, count: f.count })),
    ...scan.findings,
  ];

  // 2. Stages.
  const stageStatus = new Map(run.stages.map((s) => [s.id as string, s.status as string]));
  const stage: StageLookup = (id) => (run.stages.length ? (stageStatus.get(id) ?? 'pending') : null);

  // 3. Unit tests (TRX).
  const trxFiles = files.filter((f) => f.toLowerCase().endsWith('.trx'));
  const build = emptySuite();
  let trx: TrxResult | null = null;
  if (trxFiles.length) {
    try {
      trx = await parseTrxFiles(trxFiles.map(at));
      Object.assign(build, {
        present: true,
        sources: trxFiles,
        passed: trx.passed,
        failed: trx.failed,
        skipped: trx.skipped,
        total: trx.total,
        duration_ms: trx.duration_ms,
        failed_tests: trx.failed_tests,
        failed_tests_omitted: trx.failed_tests_omitted,
        slowest: trx.slowest,
      });
    } catch (e) {
      build.problem = (e as Error).message;
    }
  } else build.problem = 'no .trx file in the run folder (expected trx/*.trx)';

  // 4. API tests (Newman).
  const api: ApiTests = { ...emptySuite(), assertions: { total: 0, failed: 0, passed: 0, skipped: 0 }, requests: { total: 0, failed: 0 }, script_errors: 0, no_response: [] };
  let newman: NewmanResult | null = null;
  let newmanProblem: string | null = null;
  if (await exists(at('newman.json'))) {
    try {
      newman = await parseNewmanFile(at('newman.json'));
      Object.assign(api, {
        present: true,
        sources: ['newman.json'],
        passed: newman.assertions.passed,
        failed: newman.assertions.failed,
        skipped: newman.assertions.skipped,
        total: newman.assertions.total,
        duration_ms: newman.duration_ms,
        failed_tests: newman.failed_tests,
        failed_tests_omitted: newman.failed_tests_omitted,
        slowest: newman.slowest,
        assertions: newman.assertions,
        requests: newman.requests,
        script_errors: newman.script_errors,
        no_response: newman.no_response,
      });
    } catch (e) {
      newmanProblem = (e as Error).message.replace(`${at('newman.json')} `, '');
      api.problem = newmanProblem;
    }
  } else newmanProblem = 'is missing';

  // 5. E2E tests (JUnit XML from pytest).
  const e2e = emptySuite();
  let junit: JunitResult | null = null;
  let junitProblem: string | null = null;
  if (await exists(at('e2e-junit.xml'))) {
    try {
      junit = await parseJunitFile(at('e2e-junit.xml'));
      Object.assign(e2e, {
        present: true,
        sources: ['e2e-junit.xml'],
        passed: junit.passed,
        failed: junit.failed,
        errors: junit.errors,
        skipped: junit.skipped,
        total: junit.total,
        duration_ms: junit.duration_ms,
        failed_tests: junit.failed_tests,
        failed_tests_omitted: junit.failed_tests_omitted,
        slowest: junit.slowest,
      });
    } catch (e) {
      junitProblem = (e as Error).message.replace(`${at('e2e-junit.xml')} `, '');
      e2e.problem = junitProblem;
    }
  } else junitProblem = 'is missing';

  // 6. The small JSON files.
  const [preflightF, smokeF, rollbackF, manifestF, artifactF, checkoutF] = await Promise.all(
    ['preflight.json', 'smoke.json', 'rollback.json', 'deploy-manifest.json', 'artifact.json', 'checkout.json'].map((f) => readJsonFile(at(f))),
  );
  const preflight = {
    present: preflightF!.present,
    problem: preflightF!.problem,
    passed: pickPassed(preflightF!.value),
    checks: preflightChecks(preflightF!.value),
  };
  const m = manifestF!.value;
  const a = artifactF!.value;
  const zipName = pick(a, ['name'], 'string');
  let zipVerified: boolean | null = null;
  const zipSha = pick(a, ['sha256'], 'string');
  if (zipName && zipSha) {
    const zipRel = files.find((f) => path.posix.basename(f) === zipName);
    if (zipRel) {
      zipVerified = (await sha256File(at(zipRel))).toLowerCase() === zipSha.toLowerCase();
    }
  }
  const manifestSha = pick(m, ['artifact_sha256', 'sha256'], 'string');
  const migrationsRan = pick(m, ['migrations_ran', 'migrations'], 'boolean');
  const deployment: DeploymentSection = {
    present: manifestF!.present && !!m,
    backup_id: pick(m, ['backup_id'], 'string') || null,
    backup_path: pick(m, ['backup_path'], 'string') || null,
    deploy_dir: pick(m, ['deploy_dir'], 'string'),
    artifact_sha256: manifestSha,
    artifact: { name: zipName, sha256: zipSha, bytes: pick(a, ['bytes', 'size'], 'number'), zip_verified: zipVerified },
    artifact_matches_manifest: manifestSha && zipSha ? manifestSha.toLowerCase() === zipSha.toLowerCase() : null,
    migrations_ran: migrationsRan,
    pools: stringList(m, 'pools'),
    started_at: pick(m, ['started_at'], 'string'),
    finished_at: pick(m, ['finished_at'], 'string'),
  };

  const rb = rollbackF!.value;
  const rbSmokeObj = nestedObj(rb, 'smoke');
  const rbSmoke = smokeResults(rbSmokeObj ?? { urls: rb?.smoke_results ?? rb?.urls });
  const resmoke =
    pick(rb, ['resmoke_passed', 'smoke_passed', 'smoke_ok', 're_smoke_passed'], 'boolean') ?? pickPassed(rbSmokeObj) ?? (rbSmoke.length ? rbSmoke.every((u) => u.healthy) : null);
  const rollback: RollbackRecord = {
    present: rollbackF!.present && !!rb,
    backup_id: pick(rb, ['backup_id', 'restored_backup_id'], 'string'),
    backup_path: pick(rb, ['backup_path'], 'string'),
    restored: pick(rb, ['restored'], 'boolean') ?? pickPassed(rb),
    resmoke_passed: resmoke,
    smoke: rbSmoke,
    reason: pick(rb, ['reason', 'trigger'], 'string'),
    started_at: pick(rb, ['started_at'], 'string'),
    finished_at: pick(rb, ['finished_at'], 'string'),
    database_warning:
      pick(rb, ['database_warning', 'warning'], 'string') ??
      (migrationsRan ? 'The deploy ran EF migrations; restoring the code did not undo them. Check the database before using DevTest.' : null),
  };
  if (rollbackF!.present && !rb) rollback.reason = `rollback.json ${rollbackF!.problem}`;

  // Smoke for the version being judged: the deploy's smoke.json; for a rollback run the re-smoke
  // after the restore (rollback.json), since a smoke before the restore tests the version being replaced.
  const useResmoke = run.kind === 'rollback' && rollback.present && rollback.smoke.length > 0;
  const smokeUrlsFound = useResmoke ? rollback.smoke : smokeResults(smokeF!.value);
  const expected = input.smokeUrls.length ? input.smokeUrls : smokeUrlsFound.map((u) => u.url);
  const smoke: SmokeSection & { problem: string | null } = {
    present: useResmoke || smokeF!.present,
    problem: useResmoke ? null : smokeF!.problem,
    passed: useResmoke ? rollback.resmoke_passed : pickPassed(smokeF!.value),
    urls: smokeUrlsFound,
    expected_urls: input.smokeUrls,
    healthy: expected.filter((u) => smokeUrlsFound.some((r) => sameUrl(r.url, u) && r.healthy)).length,
    logs: files.filter((f) => /(^|\/)smoke_[^/]*\.log$/.test(f)),
  };

  // 7. What was expected to run.
  const isDeploy = run.kind === 'deploy';
  const deployRan = run.stages.length
    ? ['success', 'failure', 'rolled_back'].includes(stage('deploy') ?? '')
    : manifestF!.present || files.includes('deploy.log') || smokeF!.present;
  const testsSkippedByRollback = isDeploy && !run.dry_run && rollback.present && !api.present && !e2e.present;
  const suiteSelected = (s: 'api' | 'e2e') => isDeploy && !run.dry_run && !testsSkippedByRollback && (run.test_suite === 'full' || run.test_suite === s);

  // A report is inspected when its suite was selected, or when it is there anyway.
  const newmanHtml: HtmlInspection | null =
    suiteSelected('api') || (await exists(at('newman.html'))) ? await inspectHtmlReport(at('newman.html'), 'htmlextra') : null;
  const playwrightHtml: HtmlInspection | null =
    suiteSelected('e2e') || (await exists(at('playwright.html'))) ? await inspectHtmlReport(at('playwright.html'), 'pytest-html') : null;

  // 8. Score.
  const score = computeScore({
    kind: run.kind,
    dry_run: run.dry_run,
    test_suite: run.test_suite,
    weights: input.scoreWeights,
    threshold: input.scoreThreshold,
    tests_skipped_by_rollback: testsSkippedByRollback,
    build: { present: build.present, failed_build: stage('build') === 'failure' && (!build.present || build.passed + build.failed === 0), passed: build.passed, failed: build.failed, skipped: build.skipped },
    smoke: { present: smoke.present && !smoke.problem, healthy: smoke.healthy, expected: expected.length },
    api: { present: api.present, passed: api.assertions.passed, total: api.assertions.total, script_errors: api.script_errors },
    e2e: { present: e2e.present, passed: e2e.passed, failed: e2e.failed, errors: e2e.errors },
  });

  // 9. Gates.
  const gateInput: GateInput = {
    kind: run.kind,
    dry_run: run.dry_run,
    test_suite: run.test_suite,
    stage,
    preflight,
    smoke,
    rollback,
    deployRan,
    manifest: {
      present: manifestF!.present,
      problem: manifestF!.problem,
      backup_id: deployment.backup_id,
      backup_path: deployment.backup_path,
      backup_verified: pick(m, ['backup_verified'], 'boolean'),
    },
    api: {
      required: suiteSelected('api'),
      stageStatus: stage('api'),
      html: newmanHtml,
      htmlName: 'newman.html',
      dataName: 'newman.json',
      data: newman ? { ok: true } : { ok: false, problem: newmanProblem ?? 'could not be read' },
      newman,
    },
    e2e: {
      required: suiteSelected('e2e'),
      stageStatus: stage('e2e'),
      html: playwrightHtml,
      htmlName: 'playwright.html',
      dataName: 'e2e-junit.xml',
      data: junit ? { ok: true } : { ok: false, problem: junitProblem ?? 'could not be read' },
      junit,
    },
    score,
    secrets: secretFindings,
  };
  const gates = evaluateGates(gateInput);
  const failedGates = gates.filter((g) => !g.passed).map((g) => g.id);
  const smokeFailed = failedGates.includes('smoke');

  // 10. Verdict (DESIGN §4: rolled_back only when the previous version was restored and passed re-smoke).
  let rollbackFailed = false;
  if (rollback.present) {
    const restoredOk = rollback.restored !== false;
    rollbackFailed = isDeploy ? !(restoredOk && rollback.resmoke_passed === true) : !(restoredOk && rollback.resmoke_passed !== false) || smokeFailed;
  } else if (stage('rollback') === 'failure') rollbackFailed = true;
  // Smoke ran and failed for a new version, and nothing says it was restored: DevTest is left broken.
  const unrestored = isDeploy && !run.dry_run && smoke.present && smokeFailed && !rollback.present;
  if (unrestored) rollbackFailed = true;

  // A rollback run's own smoke before the restore tests the version being replaced: the re-smoke judges it.
  const anyStageFailed = run.stages.some((s) => s.status === 'failure' && !(useResmoke && s.id === 'smoke'));
  const ciFailed = run.ci_result === 'FAILURE' || run.ci_result === 'ABORTED';
  let status: Verdict['status'];
  let reason: string | null;
  if (rollbackFailed) {
    status = 'failed';
    reason = unrestored
      ? 'ROLLBACK FAILED: smoke failed for the new version and there is no rollback record (rollback.json): the previous version was not restored'
      : `ROLLBACK FAILED: ${rollback.restored === false ? 'the backup could not be restored' : 're-smoke failed after restoring the backup'}${rollback.backup_id ? ` (${rollback.backup_id})` : ''}`;
  } else if (isDeploy && !run.dry_run && rollback.present && rollback.resmoke_passed === true) {
    status = 'rolled_back';
    const smokeGate = gates.find((g) => g.id === 'smoke')!;
    reason = `${smokeGate.passed ? 'the deploy failed' : smokeGate.reason}; rolled back to ${rollback.backup_id ?? 'the last backup'} and re-smoke passed`;
  } else if (failedGates.length || ciFailed || anyStageFailed) {
    status = 'failed';
    const first = gates.find((g) => !g.passed);
    const failedStage = run.stages.find((s) => s.status === 'failure');
    reason = first ? `${first.id}: ${first.reason}` : failedStage ? `stage ${failedStage.id} failed` : `Jenkins result ${run.ci_result}`;
  } else {
    status = 'success';
    reason = null;
  }

  // 11. Failure classification, from the console excerpt and the artifacts' own failure details.
  let failure = null;
  if (status !== 'success') {
    const lines = [
      ...(input.logExcerpt ?? []),
      ...(await tailLines(at('deploy.log'))).slice(-100).map((l) => redactor.mask(l)),
      ...preflight.checks.filter((c) => !c.passed).map((c) => `[preflight] ${c.id}: ${c.detail}`),
      ...smoke.urls.filter((u) => !u.healthy && u.error).map((u) => `[smoke] ${u.url}: ${u.error}`),
      ...(rollback.reason ? [`[rollback] ${rollback.reason}`] : []),
    ];
    failure = classifyFailure({
      status,
      failed_gates: failedGates,
      ci_result: run.ci_result,
      stages: run.stages.map((s) => ({ id: s.id, status: s.status })),
      lines,
      tests: { build, api, e2e },
      infrastructure_error: input.infrastructureError ?? null,
      server: input.server,
      credentials_id: input.credentialsId,
    });
  }

  // 12. Checksums of every stored file (after masking), the Jenkins copy included.
  files = (await listFiles(dir)).filter((f) => !OWN_OUTPUTS.has(f) && !f.endsWith('.tmp'));
  const artifacts = await checksumAll(dir, files);

  const checkout = checkoutF!.value;
  const started = run.started_at ? Date.parse(run.started_at) : NaN;
  const finished = run.finished_at ? Date.parse(run.finished_at) : NaN;
  const summary: Summary = {
    schema_version: 1,
    produced_by: producedBy,
    generated_at: new Date().toISOString(),
    run: {
      run_id: run.run_id,
      app: run.app,
      env: run.env,
      kind: run.kind,
      dry_run: run.dry_run,
      test_suite: run.test_suite,
      initiator: run.initiator,
      branch_or_tag: run.branch_or_tag,
      commit: pick(checkout, ['commit', 'sha', 'GIT_COMMIT'], 'string'),
      commit_time: pick(checkout, ['commit_time', 'committed_at', 'commit_date'], 'string'),
      ci_result: run.ci_result,
      started_at: run.started_at,
      finished_at: run.finished_at,
      duration_ms: Number.isFinite(started) && Number.isFinite(finished) ? Math.max(0, finished - started) : null,
      jenkins_url: run.jenkins_url,
      run_url: run.run_url,
    },
    verdict: { status, failed_gates: failedGates, reason, failure },
    score,
    gates,
    tests: { build, api, e2e },
    smoke: { present: smoke.present, passed: smoke.passed, urls: smoke.urls, expected_urls: smoke.expected_urls, healthy: smoke.healthy, logs: smoke.logs },
    preflight: { present: preflight.present, passed: preflight.passed, checks: preflight.checks },
    deployment,
    rollback,
    rollback_failed: rollbackFailed,
    stages: run.stages.map((s) => ({ id: s.id, name: s.name, status: s.status, duration_ms: s.duration_ms })),
    artifacts,
    secrets: { findings: secretFindings, masked_files: scan.masked_files },
    jenkins_summary_disagreement: null,
  };
  if (jenkinsSummary) {
    const differences = compareWithJenkins(jenkinsSummary.value, summary);
    if (differences.length) summary.jenkins_summary_disagreement = { differences, jenkins_file: jenkinsSummary.file };
  }

  // Written last, each through a temp file, so a reader never sees half a summary.
  const writeAtomic = async (name: string, text: string) => {
    const tmp = at(`${name}.${process.pid}.tmp`);
    await writeFile(tmp, text, 'utf8');
    await rename(tmp, at(name));
  };
  await writeAtomic('summary.json', `${JSON.stringify(summary, null, 2)}\n`);
  await writeAtomic('summary.md', renderMarkdown(summary, input.links ?? { runUrl: run.run_url ?? undefined }));
  return summary;
}

/** Reads a summary.json written by `aggregate` (e.g. to serve or re-render it). */
export async function readSummary(file: string): Promise<Summary> {
  const v = JSON.parse(await readFile(file, 'utf8')) as Summary;
  if (v?.schema_version !== 1) throw new Error(`${file} is not a summary.json of schema_version 1`);
  return v;
}
