/**
 * Wire types. The run/stage/environment shapes come from the backend's zod
 * models as a type-only import (erased at build time: no runtime dependency on
 * backend code). The few shapes models.ts does not define yet are written here
 * from the API contract.
 */
export type {
  Artifact,
  Deployment,
  Environment,
  GateResult,
  LogLine,
  Run,
  RunKind,
  RunMetrics,
  RunStatus,
  RunSummary,
  Stage,
  StageId,
  StageStatus,
  TestSuite,
  WsEvent,
} from '../../../backend/ci/src/ci/models.js';

import type { RunKind, RunStatus, StageId, TestSuite } from '../../../backend/ci/src/ci/models.js';

/** Runtime copies of the enums (the backend module itself is never bundled). */
export const STAGE_IDS: readonly StageId[] = [
  'checkout', 'preflight', 'build', 'package', 'config', 'transfer', 'deploy',
  'smoke', 'rollback', 'api', 'e2e', 'report', 'notify',
];
export const RUN_STATUSES: readonly RunStatus[] = ['queued', 'running', 'success', 'failed', 'rolled_back', 'cancelled', 'error'];
export const TERMINAL_STATUSES: ReadonlySet<RunStatus> = new Set<RunStatus>(['success', 'failed', 'rolled_back', 'cancelled', 'error']);
export const TEST_SUITES: readonly TestSuite[] = ['full', 'api', 'e2e', 'none'];
export const RUN_KINDS: readonly RunKind[] = ['deploy', 'rollback'];
export const isTerminal = (s: RunStatus): boolean => TERMINAL_STATUSES.has(s);

export type Role = 'viewer' | 'deployer' | 'admin';
export interface Me {
  user: { id: string; name: string; role: Role } | null;
  auth_mode: 'none' | 'token' | 'jwt';
  sandbox: boolean;
}

export interface CreateRunRequest {
  app: string;
  env: string;
  branch_or_tag: string;
  dry_run: boolean;
  test_suite: TestSuite;
  provider: 'jenkins';
}
export interface CreateRunResponse {
  run_id: string;
  status: RunStatus;
  queue_position: number | null;
}

export interface RunsPage {
  runs: import('../../../backend/ci/src/ci/models.js').RunSummary[];
  next_cursor: string | null;
}

export interface EnvironmentMetrics {
  deployment_frequency_per_week: number | null;
  change_failure_rate: number | null;
  time_to_restore_ms: number | null;
  lead_time_ms: number | null;
  median_duration_ms: number | null;
  median_score: number | null;
  window_days: number;
  runs: number;
}

export interface SandboxFaults {
  smoke_fail: boolean;
  preflight_fail: boolean;
  build_fail: boolean;
  api_fail: boolean;
  e2e_fail: boolean;
  secret_leak: boolean;
  /** Re-smoke after a rollback fails too (the loudest failure there is). */
  rollback_fail?: boolean;
  /** Share (0–1) of Jenkins API calls answered with a 5xx. */
  jenkins_flaky: number;
  /** Seconds Jenkins stays unreachable from now. */
  jenkins_down_s: number;
  /** MB of output "Build & Unit Tests" prints at once (a huge console to follow). */
  console_flood_mb?: number;
}
export interface SandboxInfo {
  jenkins_url: string;
  devtest_url: string;
  faults: SandboxFaults;
}

/** History filters, as kept in the URL query. */
export interface HistoryFilters {
  status?: RunStatus;
  env?: string;
  initiator?: string;
  kind?: RunKind;
  /** ISO date (yyyy-mm-dd) inclusive. */
  from?: string;
  to?: string;
}
