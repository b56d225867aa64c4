/** Maps stored rows to the API's Run / RunSummary shapes (models.ts). */
import type { ArtifactRow, RunRow, StageRow } from '../store/run_store.js';
import type { Artifact, Run, RunMetrics, RunSummary, Stage, StageId, StageStatus } from './models.js';

export function metricsOf(row: RunRow, threshold: number): RunMetrics {
  let m: Partial<RunMetrics> = {};
  try {
    m = JSON.parse(row.metrics_json) as Partial<RunMetrics>;
  } catch {
    /* an unreadable row still renders */
  }
  return {
    score: row.score,
    score_threshold: m.score_threshold ?? threshold,
    gates: m.gates ?? [],
    tests: m.tests ?? {},
    secrets_masked: m.secrets_masked ?? 0,
    log_lines: row.last_seq,
  };
}

function durationOf(a: string | null, b: string | null): number | null {
  return a && b ? Math.max(0, Date.parse(b) - Date.parse(a)) : null;
}

export function summaryToApi(row: RunRow, threshold: number, queuePosition: number | null): RunSummary {
  const book = (() => {
    try {
      return JSON.parse(row.metrics_json) as { retry_note?: string | null; pending_reason?: string | null };
    } catch {
      return {};
    }
  })();
  return {
    run_id: row.run_id,
    app: row.app,
    env: row.env,
    kind: row.kind as RunSummary['kind'],
    branch_or_tag: row.branch_or_tag,
    dry_run: row.dry_run === 1,
    test_suite: row.test_suite as RunSummary['test_suite'],
    provider: 'jenkins',
    status: row.status as RunSummary['status'],
    // While running, the reason shows why we are waiting (e.g. "Jenkins unreachable; retrying").
    reason: row.reason ?? (row.status === 'running' ? (book.retry_note ?? null) : null),
    failure_kind: row.failure_kind,
    initiator: row.initiator,
    created_at: row.created_at,
    started_at: row.started_at,
    finished_at: row.finished_at,
    duration_ms: durationOf(row.started_at, row.finished_at),
    queue_position: queuePosition,
    commit: row.commit_sha,
    rollback_to: row.rollback_to,
    rollback_failed: row.rollback_failed === 1,
    jenkins: row.jenkins_build_number !== null ? { number: row.jenkins_build_number, url: row.jenkins_build_url ?? '' } : null,
    sandbox: row.sandbox === 1,
    metrics: metricsOf(row, threshold),
    score: row.score,
  };
}

export function stageToApi(s: StageRow, typical?: number): Stage {
  return {
    id: s.id as StageId,
    name: s.name,
    status: s.status as StageStatus,
    started_at: s.started_at,
    finished_at: s.finished_at,
    duration_ms: durationOf(s.started_at, s.finished_at),
    typical_ms: typical ?? null,
  };
}

export function artifactToApi(a: ArtifactRow): Artifact {
  return {
    name: a.name,
    path: a.path,
    bytes: a.bytes,
    sha256: a.sha256,
    content_type: a.content_type,
    url: `/ci/runs/${a.run_id}/artifacts/${a.path.split('/').map(encodeURIComponent).join('/')}`,
  };
}

export function runToApi(
  row: RunRow,
  stages: StageRow[],
  artifacts: ArtifactRow[],
  threshold: number,
  queuePosition: number | null,
  typical: Record<string, number> = {},
): Run {
  const { score: _score, ...summary } = summaryToApi(row, threshold, queuePosition);
  return { ...summary, stages: stages.map((s) => stageToApi(s, typical[s.id])), artifacts: artifacts.map(artifactToApi) };
}
