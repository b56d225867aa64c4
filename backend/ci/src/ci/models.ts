/**
 * The domain model of a CI run (seed: ci/models.py). zod schemas are the single
 * source of truth: they validate input, type the code and feed the OpenAPI doc.
 *
 * Wire format is snake_case, as in SPEC.md's API contract.
 */
import { readFileSync } from 'node:fs';
import { z } from 'zod';
import { GIT_REF_RULE, gitRefProblem } from './git_ref.js';

// Read at start rather than imported: a JSON import would put the repository root inside the
// compiled output (tsc's rootDir), and Node 20 warns on JSON modules. src/ and dist/ sit at the
// same depth, so the relative path holds for both.
const pipeline = JSON.parse(readFileSync(new URL('../../../../contract/pipeline.json', import.meta.url), 'utf8')) as { stages: unknown; parameters: unknown };

export const STAGE_IDS = [
  'checkout',
  'preflight',
  'build',
  'package',
  'config',
  'transfer',
  'deploy',
  'smoke',
  'rollback',
  'api',
  'e2e',
  'report',
  'notify',
] as const;
export const StageId = z.enum(STAGE_IDS);
export type StageId = z.infer<typeof StageId>;

/** Stage ids in the order of contract/pipeline.json (kept equal to STAGE_IDS by a test). */
export const CONTRACT_STAGES = pipeline.stages as ReadonlyArray<{
  id: StageId;
  jenkins: string[];
  dryRun: 'runs' | 'skipped' | 'local';
  rollbackAction: 'runs' | 'skipped';
}>;
export const CONTRACT_PARAMETERS = pipeline.parameters as ReadonlyArray<{
  name: string;
  type: 'string' | 'boolean' | 'choice';
  default?: string | boolean;
  choices?: string[];
}>;

/** DESIGN §4. */
export const RUN_STATUSES = ['queued', 'running', 'success', 'failed', 'rolled_back', 'cancelled', 'error'] as const;
export const RunStatus = z.enum(RUN_STATUSES);
export type RunStatus = z.infer<typeof RunStatus>;
export const TERMINAL_STATUSES: ReadonlySet<RunStatus> = new Set(['success', 'failed', 'rolled_back', 'cancelled', 'error']);
export const isTerminal = (s: RunStatus): boolean => TERMINAL_STATUSES.has(s);

export const STAGE_STATUSES = ['pending', 'running', 'success', 'failure', 'skipped', 'rolled_back', 'cancelled'] as const;
export const StageStatus = z.enum(STAGE_STATUSES);
export type StageStatus = z.infer<typeof StageStatus>;

export const TestSuite = z.enum(['full', 'api', 'e2e', 'none']);
export type TestSuite = z.infer<typeof TestSuite>;
export const RunKind = z.enum(['deploy', 'rollback']);
export type RunKind = z.infer<typeof RunKind>;
export const GateId = z.enum(['preflight', 'smoke', 'reports', 'score', 'backup', 'secrets']);
export type GateId = z.infer<typeof GateId>;

export { GIT_REF_RULE, gitRefProblem } from './git_ref.js';
export const GitRef = z.string().superRefine((ref, ctx) => {
  const problem = gitRefProblem(ref);
  if (problem) ctx.addIssue({ code: 'custom', message: `branch_or_tag ${problem}; allowed: ${GIT_REF_RULE}` });
});

/** POST /ci/runs body (SPEC "API Contract"). */
export const CreateRunBody = z
  .object({
    app: z.string().min(1).max(64).default('WeSign'),
    env: z.string().min(1).max(64).default('DevTest'),
    branch_or_tag: GitRef.default('main'),
    dry_run: z.boolean().default(false),
    test_suite: TestSuite.default('full'),
    provider: z.literal('jenkins').default('jenkins'),
  })
  .strict();
export type CreateRunBody = z.infer<typeof CreateRunBody>;

export const RollbackBody = z
  .object({
    confirm: z.string().min(1).max(64),
    reason: z.string().max(500).default(''),
    app: z.string().min(1).max(64).default('WeSign'),
  })
  .strict();
export type RollbackBody = z.infer<typeof RollbackBody>;

export const Stage = z.object({
  id: StageId,
  name: z.string(),
  status: StageStatus,
  started_at: z.string().nullable(),
  finished_at: z.string().nullable(),
  duration_ms: z.number().int().nullable(),
  /** Median duration of this stage over recent successful runs of the same env, for "elapsed vs typical". */
  typical_ms: z.number().int().nullable().optional(),
});
export type Stage = z.infer<typeof Stage>;

export const Artifact = z.object({
  name: z.string(),
  /** Path relative to the run's artifact folder, e.g. "trx/unit.trx". */
  path: z.string(),
  bytes: z.number().int(),
  sha256: z.string(),
  content_type: z.string(),
  url: z.string(),
});
export type Artifact = z.infer<typeof Artifact>;

export const GateResult = z.object({ id: GateId, passed: z.boolean(), reason: z.string() });
export type GateResult = z.infer<typeof GateResult>;

export const RunMetrics = z.object({
  score: z.number().nullable(),
  score_threshold: z.number(),
  gates: z.array(GateResult),
  tests: z
    .record(z.string(), z.object({ passed: z.number(), failed: z.number(), skipped: z.number(), total: z.number() }))
    .default({}),
  secrets_masked: z.number().int(),
  log_lines: z.number().int(),
});
export type RunMetrics = z.infer<typeof RunMetrics>;

export const JenkinsBuildRef = z.object({ number: z.number().int(), url: z.string() });

export const Run = z.object({
  run_id: z.string().uuid(),
  app: z.string(),
  env: z.string(),
  kind: RunKind,
  branch_or_tag: z.string(),
  dry_run: z.boolean(),
  test_suite: TestSuite,
  provider: z.literal('jenkins'),
  status: RunStatus,
  /** One-line reason for failed/error/cancelled/rolled_back runs. */
  reason: z.string().nullable(),
  failure_kind: z.string().nullable(),
  initiator: z.string(),
  created_at: z.string(),
  started_at: z.string().nullable(),
  finished_at: z.string().nullable(),
  duration_ms: z.number().int().nullable(),
  queue_position: z.number().int().nullable(),
  commit: z.string().nullable(),
  rollback_to: z.string().nullable(),
  rollback_failed: z.boolean(),
  jenkins: JenkinsBuildRef.nullable(),
  sandbox: z.boolean(),
  stages: z.array(Stage),
  artifacts: z.array(Artifact),
  metrics: RunMetrics,
});
export type Run = z.infer<typeof Run>;

/** History row: a Run without the heavy parts. */
export const RunSummary = Run.omit({ stages: true, artifacts: true }).extend({ score: z.number().nullable() });
export type RunSummary = z.infer<typeof RunSummary>;

export const Deployment = z.object({
  run_id: z.string(),
  app: z.string(),
  env: z.string(),
  kind: RunKind,
  version: z.string(),
  commit: z.string().nullable(),
  artifact_sha256: z.string().nullable(),
  backup_id: z.string().nullable(),
  status: z.enum(['deployed', 'rolled_back', 'restored', 'failed']),
  initiator: z.string(),
  deployed_at: z.string(),
});
export type Deployment = z.infer<typeof Deployment>;

export const Environment = z.object({
  app: z.string(),
  env: z.string(),
  current: Deployment.nullable(),
  /** The deployment a Rollback N-1 would restore (its backup), if any. */
  rollback_target: Deployment.nullable(),
  last_run: RunSummary.nullable(),
  active_run_id: z.string().nullable(),
  queue_length: z.number().int(),
  sandbox: z.boolean(),
});
export type Environment = z.infer<typeof Environment>;

/** One stored log line. seq is per run, starts at 1, strictly increasing, no gaps. */
export const LogLine = z.object({
  seq: z.number().int(),
  stage: StageId,
  text: z.string(),
  ts: z.string(),
});
export type LogLine = z.infer<typeof LogLine>;

/**
 * WS `format=json` events. `log` events carry the resumable seq; `stage` and
 * `status` events carry the seq of the last log line at the time they were
 * emitted, so the client can keep a single cursor.
 */
export const WsEvent = z.discriminatedUnion('type', [
  z.object({ type: z.literal('log'), seq: z.number(), stage: StageId, text: z.string(), ts: z.string() }),
  z.object({ type: z.literal('stage'), seq: z.number(), stage: Stage }),
  z.object({ type: z.literal('status'), seq: z.number(), status: RunStatus, reason: z.string().nullable() }),
  z.object({ type: z.literal('end'), seq: z.number(), status: RunStatus }),
  z.object({ type: z.literal('error'), code: z.string(), message: z.string() }),
  z.object({ type: z.literal('ping'), ts: z.string() }),
]);
export type WsEvent = z.infer<typeof WsEvent>;

export const ErrorBody = z.object({
  error: z.object({ code: z.string(), message: z.string(), details: z.unknown().optional() }),
});
