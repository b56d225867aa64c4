/**
 * The shape of summary.json, schema version 1 (docs/summary-schema.md documents
 * every field). Everything here is plain JSON: no Dates, no Maps, so the file a
 * reader opens is exactly this object.
 */
import type { GateId, RunKind, Stage, TestSuite } from '../models.js';

export type ComponentId = 'build' | 'smoke' | 'api' | 'e2e';
export const COMPONENT_IDS: readonly ComponentId[] = ['build', 'smoke', 'api', 'e2e'];
export type ScoreWeights = Record<ComponentId, number>;

export interface ScoreComponent {
  id: ComponentId;
  weight: number;
  /** Whether the component counts in this run (dry run: build only; test_suite picks api/e2e; rollback runs: smoke only). */
  included: boolean;
  /** sᵢ in 0–100, rounded to 2 decimals; null when not included. */
  score: number | null;
  /** The numbers sᵢ came from, e.g. "4 of 7 unit tests passed". */
  detail: string;
}

export interface Score {
  /** Σ wᵢ·sᵢ / Σ wᵢ over included components, rounded to 2 decimals. */
  value: number;
  threshold: number;
  components: ScoreComponent[];
  /** The formula in words, so a reader can recompute `value`. */
  formula: string;
}

export interface Gate {
  id: GateId;
  passed: boolean;
  reason: string;
}

export interface NamedDuration {
  name: string;
  ms: number;
}

/** Common test counts. `total` = passed + failed + errors + skipped. */
export interface SuiteCounts {
  /** Whether the suite's machine-readable result was found and parsed. */
  present: boolean;
  /** The files the counts came from, relative to the run folder. */
  sources: string[];
  passed: number;
  failed: number;
  errors: number;
  skipped: number;
  total: number;
  duration_ms: number | null;
  /** Names of failed (and errored) tests, at most 50; `failed_tests_omitted` counts the rest. */
  failed_tests: string[];
  failed_tests_omitted: number;
  /** The 5 slowest tests (or requests, for Newman). */
  slowest: NamedDuration[];
  /** Why the result could not be read, if it could not. */
  problem: string | null;
}

export interface ApiTests extends SuiteCounts {
  /** Newman's run.stats.assertions; passed = total - failed. */
  assertions: { total: number; failed: number; passed: number; skipped: number };
  requests: { total: number; failed: number };
  /** Test or pre-request scripts that threw (their remaining assertions never ran). */
  script_errors: number;
  /** Requests that got no response at all (connection refused, DNS, timeout). */
  no_response: string[];
}

export interface TestsSection {
  build: SuiteCounts;
  api: ApiTests;
  e2e: SuiteCounts;
}

export interface SmokeUrlResult {
  url: string;
  healthy: boolean;
  status_code: number | null;
  attempts: number | null;
  ms: number | null;
  error: string | null;
}

export interface SmokeSection {
  /** Whether smoke.json was found. */
  present: boolean;
  passed: boolean | null;
  urls: SmokeUrlResult[];
  /** SMOKE_URLS the run was configured with. */
  expected_urls: string[];
  healthy: number;
  /** smoke_*.log files found, relative paths. */
  logs: string[];
}

export interface DeploymentSection {
  present: boolean;
  backup_id: string | null;
  backup_path: string | null;
  deploy_dir: string | null;
  artifact_sha256: string | null;
  /** artifact.json's checksum, and whether the archived zip (if any) hashes to it. */
  artifact: { name: string | null; sha256: string | null; bytes: number | null; zip_verified: boolean | null };
  /** deploy-manifest.json's artifact_sha256 equals artifact.json's sha256 (null when either is missing). */
  artifact_matches_manifest: boolean | null;
  migrations_ran: boolean | null;
  pools: string[];
  started_at: string | null;
  finished_at: string | null;
}

export interface RollbackRecord {
  present: boolean;
  backup_id: string | null;
  backup_path: string | null;
  restored: boolean | null;
  resmoke_passed: boolean | null;
  smoke: SmokeUrlResult[];
  reason: string | null;
  started_at: string | null;
  finished_at: string | null;
  /** Restoring code does not undo database migrations; set when the deploy ran migrations. */
  database_warning: string | null;
}

export interface ArtifactEntry {
  name: string;
  /** POSIX path relative to the run folder. */
  path: string;
  bytes: number;
  sha256: string;
}

export interface StageDuration {
  id: string;
  name: string;
  status: string;
  duration_ms: number | null;
}

export type FailureKind = 'network' | 'credentials' | 'locked_files' | 'configuration' | 'test_regression' | 'infrastructure' | 'unknown';

export interface Failure {
  kind: FailureKind;
  message: string;
  next_step: string;
  evidence: string[];
}

export interface Verdict {
  status: 'success' | 'failed' | 'rolled_back';
  failed_gates: GateId[];
  /** One line: the first failed gate's reason, or the CI result when no gate failed. */
  reason: string | null;
  failure: Failure | null;
}

export interface SecretFinding {
  /** "console" for the console log, else the artifact's relative path. */
  where: string;
  kind: string;
  count: number;
}

export interface Disagreement {
  field: string;
  jenkins: unknown;
  backend: unknown;
}

export interface Summary {
  schema_version: 1;
  /** "backend" when the service recomputed it from the fetched artifacts, "jenkins" when the Post section's CLI wrote it. */
  produced_by: 'backend' | 'jenkins';
  generated_at: string;
  run: {
    run_id: string;
    app: string;
    env: string;
    kind: RunKind;
    dry_run: boolean;
    test_suite: TestSuite;
    initiator: string;
    branch_or_tag: string;
    commit: string | null;
    commit_time: string | null;
    ci_result: string | null;
    started_at: string | null;
    finished_at: string | null;
    duration_ms: number | null;
    jenkins_url: string | null;
    run_url: string | null;
  };
  verdict: Verdict;
  score: Score;
  gates: Gate[];
  tests: TestsSection;
  smoke: SmokeSection;
  preflight: { present: boolean; passed: boolean | null; checks: Array<{ id: string; passed: boolean; detail: string }> };
  deployment: DeploymentSection;
  rollback: RollbackRecord;
  rollback_failed: boolean;
  stages: StageDuration[];
  artifacts: ArtifactEntry[];
  secrets: { findings: SecretFinding[]; masked_files: string[] };
  /** Set when a Jenkins-side summary.json exists and its score or gates differ from this one; null otherwise. */
  jenkins_summary_disagreement: { differences: Disagreement[]; jenkins_file: string } | null;
}

export type { Stage };
