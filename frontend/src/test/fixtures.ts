/** Wire-shaped sample data (fake values only). */
import type { Deployment, Environment, Run, RunSummary, Stage } from '../api/types.js';
import { STAGE_IDS } from '../api/types.js';

export function stage(id: Stage['id'], status: Stage['status'] = 'pending', extra: Partial<Stage> = {}): Stage {
  return { id, name: id, status, started_at: null, finished_at: null, duration_ms: null, typical_ms: null, ...extra };
}

export function run(extra: Partial<Run> = {}): Run {
  return {
    run_id: '11111111-2222-4333-8444-555555555555',
    app: 'WeSign',
    env: 'DevTest',
    kind: 'deploy',
    branch_or_tag: 'main',
    dry_run: false,
    test_suite: 'full',
    provider: 'jenkins',
    status: 'running',
    reason: null,
    failure_kind: null,
    initiator: 'alice@example.com',
    created_at: '2026-12-04T10:00:00.000Z',
    started_at: '2026-12-04T10:00:01.000Z',
    finished_at: null,
    duration_ms: null,
    queue_position: null,
    commit: 'abcdef1234567890',
    rollback_to: null,
    rollback_failed: false,
    jenkins: { number: 7, url: 'http://jenkins.example/job/WeSign-CI/7/' },
    sandbox: true,
    stages: STAGE_IDS.map((id) => stage(id)),
    artifacts: [],
    metrics: { score: null, score_threshold: 80, gates: [], tests: {}, secrets_masked: 0, log_lines: 0 },
    ...extra,
  };
}

export function summary(extra: Partial<RunSummary> = {}): RunSummary {
  const { stages: _s, artifacts: _a, ...rest } = run();
  return { ...rest, score: null, ...extra };
}

export function deployment(extra: Partial<Deployment> = {}): Deployment {
  return {
    run_id: 'aaaaaaaa-0000-4000-8000-000000000001',
    app: 'WeSign',
    env: 'DevTest',
    kind: 'deploy',
    version: 'main@abcdef1',
    commit: 'abcdef1234567890',
    artifact_sha256: 'f'.repeat(64),
    backup_id: '20261203_101500',
    status: 'deployed',
    initiator: 'alice@example.com',
    deployed_at: '2026-12-04T09:00:00.000Z',
    ...extra,
  };
}

export function environment(extra: Partial<Environment> = {}): Environment {
  return {
    app: 'WeSign',
    env: 'DevTest',
    current: deployment(),
    rollback_target: deployment({ run_id: 'aaaaaaaa-0000-4000-8000-000000000000', version: 'release/1.4@0123456', commit: '0123456789abcdef', backup_id: '20261202_080000', deployed_at: '2026-12-02T08:00:00.000Z', initiator: 'bob@example.com' }),
    last_run: null,
    active_run_id: null,
    queue_length: 0,
    sandbox: true,
    ...extra,
  };
}
