/**
 * Run use cases behind the API: create, read, list, cancel, roll back, and the
 * environment view. Routes validate input and map errors; this module holds
 * the rules (which env exists, what N-1 means, when a cancel is possible).
 */
import { randomUUID } from 'node:crypto';
import { type Config, findEnvironment } from '../config.js';
import type { DeploymentRow, RunFilters, RunRow, RunStore } from '../store/run_store.js';
import { conflict, notFound, unprocessable } from './errors.js';
import type { JobQueue } from './queue/job_queue.js';
import { CONTRACT_STAGES, type CreateRunBody, type Deployment, type Environment, type Run, type RunSummary, isTerminal } from './models.js';
import { runToApi, summaryToApi } from './run_view.js';
import type { RunEvents } from './events.js';
import { environmentMetrics } from './reports/metrics.js';

export interface RunServiceDeps {
  config: Config;
  store: RunStore;
  queue: JobQueue;
  events: RunEvents;
  sandbox: boolean;
}

const STAGE_SEED = CONTRACT_STAGES.map((s) => ({ id: s.id, name: s.jenkins.length ? s.jenkins.join(' + ') : 'Notify' }));

/** Statuses a deployment row can have while its code is what runs on the server. */
const LIVE = new Set(['deployed', 'failed', 'restored']);

function deploymentToApi(d: DeploymentRow): Deployment {
  return {
    run_id: d.run_id,
    app: d.app,
    env: d.env,
    kind: d.kind as Deployment['kind'],
    version: d.version,
    commit: d.commit_sha,
    artifact_sha256: d.artifact_sha256,
    backup_id: d.backup_id,
    status: d.status as Deployment['status'],
    initiator: d.initiator,
    deployed_at: d.deployed_at,
  };
}

export class RunService {
  constructor(private readonly d: RunServiceDeps) {}

  private env(app: string, env: string) {
    const e = findEnvironment(this.d.config, app, env);
    if (!e) {
      const known = this.d.config.environments.map((x) => `${x.APP_NAME}/${x.ENV_NAME}`).join(', ');
      throw unprocessable(`Unknown app/env "${app}/${env}"; configured: ${known}.`, { app, env, known: this.d.config.environments.map((x) => ({ app: x.APP_NAME, env: x.ENV_NAME })) });
    }
    return e;
  }

  async create(body: CreateRunBody, initiator: string): Promise<{ run_id: string; status: 'queued'; queue_position: number | null }> {
    const e = this.env(body.app, body.env);
    const row = await this.d.store.createRun({
      run_id: randomUUID(),
      app: e.APP_NAME,
      env: e.ENV_NAME,
      kind: 'deploy',
      branch_or_tag: body.branch_or_tag,
      dry_run: body.dry_run,
      test_suite: body.test_suite,
      initiator,
      created_at: new Date().toISOString(),
      rollback_to: null,
      jenkins_job: e.JENKINS_JOB_NAME,
      sandbox: this.d.sandbox,
      metrics_json: JSON.stringify({ score: null, score_threshold: this.d.config.scoreThreshold, gates: [], tests: {}, secrets_masked: 0, log_lines: 0 }),
      stages: STAGE_SEED,
    });
    this.d.events.emit('run:queued', { runId: row.run_id, app: row.app, env: row.env });
    await this.d.queue.notify(row.run_id);
    return { run_id: row.run_id, status: 'queued', queue_position: await this.d.store.queuePosition(row) };
  }

  /** Rollback N-1: restore the backup taken by the newest successful deployment. */
  async rollback(app: string, envName: string, confirm: string, reason: string, initiator: string) {
    const e = this.env(app, envName);
    if (confirm !== e.ENV_NAME) {
      throw unprocessable(`Type the environment name exactly ("${e.ENV_NAME}") in "confirm" to roll it back.`, { expected: e.ENV_NAME });
    }
    const active = await this.d.store.activeRun(e.APP_NAME, e.ENV_NAME);
    if (active) throw conflict(`A run is active on ${e.ENV_NAME} (${active.run_id}); wait for it to finish or cancel it, then roll back.`, { active_run_id: active.run_id });
    const target = await this.rollbackTarget(e.APP_NAME, e.ENV_NAME);
    if (!target?.backup_id) {
      throw conflict(`There is no deployment with a backup to roll back to on ${e.ENV_NAME}; a rollback needs a previous successful deployment made through this app.`);
    }
    const row = await this.d.store.createRun({
      run_id: randomUUID(),
      app: e.APP_NAME,
      env: e.ENV_NAME,
      kind: 'rollback',
      branch_or_tag: 'main',
      dry_run: false,
      test_suite: 'none',
      initiator,
      created_at: new Date().toISOString(),
      rollback_to: target.backup_id,
      jenkins_job: e.JENKINS_JOB_NAME,
      sandbox: this.d.sandbox,
      metrics_json: JSON.stringify({ score: null, score_threshold: this.d.config.scoreThreshold, gates: [], tests: {}, secrets_masked: 0, log_lines: 0, rollback_reason: reason }),
      stages: STAGE_SEED,
    });
    this.d.events.emit('run:queued', { runId: row.run_id, app: row.app, env: row.env });
    await this.d.queue.notify(row.run_id);
    return { run_id: row.run_id, status: 'queued' as const, rollback_to: target.backup_id, restores: (await this.previousOf(target))?.version ?? null };
  }

  private async rollbackTarget(app: string, env: string): Promise<DeploymentRow | undefined> {
    const history = await this.d.store.deployments(app, env, 100);
    return history.find((h) => h.kind === 'deploy' && (h.status === 'deployed' || h.status === 'failed') && h.backup_id);
  }

  private async previousOf(target: DeploymentRow): Promise<DeploymentRow | undefined> {
    const history = await this.d.store.deployments(target.app, target.env, 100);
    return history.find((h) => h.deployed_at < target.deployed_at && h.status !== 'rolled_back');
  }

  async get(runId: string): Promise<Run> {
    const row = await this.mustGet(runId);
    const [stages, artifacts, position, typical] = await Promise.all([
      this.d.store.getStages(runId),
      this.d.store.getArtifacts(runId),
      this.d.store.queuePosition(row),
      this.d.store.typicalStageDurations(row.app, row.env, 20),
    ]);
    return runToApi(row, stages, artifacts, this.d.config.scoreThreshold, position, typical);
  }

  async mustGet(runId: string): Promise<RunRow> {
    const row = await this.d.store.getRun(runId);
    if (!row) throw notFound(`Run ${runId}`, 'list runs with GET /ci/runs');
    return row;
  }

  async list(f: RunFilters): Promise<{ runs: RunSummary[]; next_cursor: string | null }> {
    const { runs, nextCursor } = await this.d.store.listRuns(f);
    const out = [];
    for (const r of runs) out.push(summaryToApi(r, this.d.config.scoreThreshold, r.status === 'queued' ? await this.d.store.queuePosition(r) : null));
    return { runs: out, next_cursor: nextCursor };
  }

  async cancel(runId: string): Promise<{ run_id: string; status: string }> {
    const row = await this.mustGet(runId);
    if (isTerminal(row.status as Run['status'])) throw conflict(`Run ${runId} already ended (${row.status}); nothing to cancel.`);
    if (row.status === 'queued' && (await this.d.store.cancelQueued(runId, new Date().toISOString(), 'cancelled before it started'))) {
      await this.d.queue.notify(runId);
      return { run_id: runId, status: 'cancelled' };
    }
    await this.d.store.requestCancel(runId);
    return { run_id: runId, status: 'cancelling' };
  }

  async environments(): Promise<Environment[]> {
    const out: Environment[] = [];
    for (const e of this.d.config.environments) out.push(await this.environment(e.APP_NAME, e.ENV_NAME));
    return out;
  }

  async environment(app: string, envName: string): Promise<Environment> {
    const e = this.env(app, envName);
    const [history, last, active, queueLength] = await Promise.all([
      this.d.store.deployments(e.APP_NAME, e.ENV_NAME, 100),
      this.d.store.listRuns({ app: e.APP_NAME, env: e.ENV_NAME, limit: 1 }),
      this.d.store.activeRun(e.APP_NAME, e.ENV_NAME),
      this.d.store.queueLength(e.APP_NAME, e.ENV_NAME),
    ]);
    const current = history.find((h) => LIVE.has(h.status));
    const target = history.find((h) => h.kind === 'deploy' && (h.status === 'deployed' || h.status === 'failed') && h.backup_id);
    const restores = target ? history.find((h) => h.deployed_at < target.deployed_at && h.status !== 'rolled_back') : undefined;
    const lastRow = last.runs[0];
    return {
      app: e.APP_NAME,
      env: e.ENV_NAME,
      current: current ? deploymentToApi(current) : null,
      rollback_target: target ? { ...deploymentToApi(target), version: restores?.version ?? `backup ${target.backup_id}` } : null,
      last_run: lastRow ? summaryToApi(lastRow, this.d.config.scoreThreshold, null) : null,
      active_run_id: active?.run_id ?? null,
      queue_length: queueLength,
      sandbox: this.d.sandbox,
    };
  }

  async deployments(app: string, envName: string): Promise<Deployment[]> {
    const e = this.env(app, envName);
    return (await this.d.store.deployments(e.APP_NAME, e.ENV_NAME, 100)).map(deploymentToApi);
  }

  async metrics(app: string, envName: string, days: number) {
    const e = this.env(app, envName);
    const since = new Date(Date.now() - days * 86_400_000).toISOString();
    const runs = await this.d.store.finishedRuns(e.APP_NAME, e.ENV_NAME, since);
    return environmentMetrics(
      runs.map((r) => ({
        run_id: r.run_id,
        kind: r.kind,
        status: r.status,
        dry_run: r.dry_run === 1,
        created_at: r.created_at,
        started_at: r.started_at,
        finished_at: r.finished_at,
        duration_ms: r.started_at && r.finished_at ? Date.parse(r.finished_at) - Date.parse(r.started_at) : null,
        score: r.score,
        commit_time: r.commit_time,
      })),
      days,
    );
  }
}

