/**
 * The orchestrator (seed: ci/orchestrator.py): drives one run through the
 * spec's flow, as a state machine whose current `phase` is persisted, so a
 * worker that dies mid-run is replaced by one that resumes where it stopped:
 *
 *   queued → checking → triggering → waiting_queue → following → fetching
 *          → aggregating → notifying → done
 *
 * The server work (preflight on DevTest, build, deploy, smoke, rollback,
 * tests) happens in Jenkins; we check that Jenkins can do it, trigger it once,
 * follow it live, fetch its artifacts, judge the result and keep the history.
 *
 * Exactly one Jenkins build per run: before triggering we look for a build or
 * a queue item that carries our QA_RUN_ID, and the queue id / build number are
 * persisted the moment we learn them.
 */
import { createHash } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { mkdir, readFile, rename, rm, stat } from 'node:fs/promises';
import path from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { ReadableStream as WebReadableStream } from 'node:stream/web';
import type { Logger } from 'pino';
import { type Config, findEnvironment } from '../config.js';
import { type ConsoleCursor, type RunStore, type RunRow, type StageRow, LeaseLostError, consoleColumns, consoleCursorOf } from '../store/run_store.js';
import { CONTRACT_PARAMETERS, CONTRACT_STAGES, type Stage, type StageId, type StageStatus, type RunStatus, type RunMetrics } from './models.js';
import type { BuildRef, CiProvider, JobParameters, ProviderStage } from './providers/provider.js';
import { ProviderError, coerceError } from './errors.js';
import type { HubEvent, LogHub } from './logs/log_hub.js';
import { parseConsoleChunk } from './logs/console_parser.js';
import { type RedactionFinding, type Redactor, type SecretKind, mergeFindings } from './redact.js';
import { withRetry } from './providers/jenkins/retry.js';
import { aggregate, renderConsoleBlock, type Summary } from './report_aggregator.js';
import { notifyAll, type Notifier } from './notify.js';
import type { RunEvents } from './events.js';

/** Console text stored per transaction at most (about): fewer commits than one per slice. */
const STORE_BATCH_CHARS = 1024 * 1024;

/** Redacted lines waiting to be stored together, as the hub events they become. */
interface LogBatch {
  events: Array<{ type: 'log'; seq: number; stage: StageId; text: string; ts: string }>;
  findings: RedactionFinding[];
  chars: number;
}

const newLogBatch = (): LogBatch => ({ events: [], findings: [], chars: 0 });

export type Phase = 'queued' | 'checking' | 'triggering' | 'waiting_queue' | 'following' | 'fetching' | 'aggregating' | 'notifying' | 'done';

export interface OrchestratorDeps {
  config: Config;
  store: RunStore;
  hub: LogHub;
  provider: CiProvider;
  redactor: Redactor;
  notifiers: Notifier[];
  events: RunEvents;
  log: Logger;
  sandbox: boolean;
}

/** Mutable per-run bookkeeping kept in metrics_json (portable across SQLite and PostgreSQL). */
interface RunBook extends RunMetrics {
  ci_result?: string | null;
  pending_status?: RunStatus;
  pending_reason?: string | null;
  pending_failure_kind?: string | null;
  secret_findings?: Partial<Record<SecretKind, number>>;
  retry_note?: string | null;
  stop_sent?: boolean;
  notifications?: Array<{ channel: string; ok: boolean; error?: string; attempts: number }>;
}

export class RunCancelled extends Error {
  override name = 'RunCancelled';
}

const now = () => new Date().toISOString();
/** Waits ms, or less if the signal aborts; removes its listener either way (one signal serves a whole run). */
const sleep = (ms: number, signal?: AbortSignal) =>
  new Promise<void>((resolve) => {
    const done = () => {
      clearTimeout(t);
      signal?.removeEventListener('abort', done);
      resolve();
    };
    const t = setTimeout(done, ms);
    signal?.addEventListener('abort', done, { once: true });
  });

/** wfapi status → our chip status (reference §6.1; FAILED ≠ FAILURE, gotcha 11). */
function mapStageStatus(s: ProviderStage['status']): StageStatus {
  switch (s) {
    case 'SUCCESS':
      return 'success';
    case 'FAILED':
    case 'UNSTABLE':
      return 'failure';
    case 'IN_PROGRESS':
    case 'PAUSED_PENDING_INPUT':
      return 'running';
    case 'ABORTED':
      return 'cancelled';
    case 'NOT_EXECUTED':
    case 'NOT_BUILT':
    case 'SKIPPED':
      return 'skipped';
    default:
      return 'pending';
  }
}

/** Combines the Jenkins stages that make up one of our stages (deploy = Stop IIS Pools + Backup & Deploy). */
function combine(statuses: StageStatus[]): StageStatus {
  if (statuses.some((s) => s === 'failure')) return 'failure';
  if (statuses.some((s) => s === 'cancelled')) return 'cancelled';
  if (statuses.some((s) => s === 'running')) return 'running';
  if (statuses.every((s) => s === 'skipped')) return 'skipped';
  if (statuses.every((s) => s === 'success' || s === 'skipped')) return statuses.some((s) => s === 'success') ? 'success' : 'skipped';
  return 'running';
}

export class Orchestrator {
  constructor(private readonly d: OrchestratorDeps) {}

  /**
   * Runs (or resumes) one run to its end. Resolves when the run is terminal or
   * the lease was lost (another worker owns it now). Never throws for run
   * failures: they become the run's status.
   */
  async execute(runId: string, owner: string, signal: AbortSignal): Promise<void> {
    const run = await this.d.store.getRun(runId);
    if (!run) return;
    // The lease is renewed on a heartbeat, not by the phases: fetching and
    // aggregating may take longer than a lease, and a lapsed lease would let
    // another worker (or this one) start the same run a second time.
    const local = new AbortController();
    const onAbort = () => local.abort();
    signal.addEventListener('abort', onAbort, { once: true });
    const leaseMs = leaseMsOf(this.d.config);
    const heartbeat = setInterval(() => {
      this.d.store.renewLease(runId, owner, leaseMs).then(
        (held) => {
          if (!held) local.abort();
        },
        (err) => this.d.log.warn({ runId, err: coerceError(err).message }, 'lease renewal failed; retrying'),
      );
    }, Math.max(100, Math.floor(leaseMs / 3)));
    const ctx = new RunContext(this.d, run, owner, local.signal);
    try {
      await ctx.load();
      await ctx.drive();
    } catch (err) {
      if (err instanceof LeaseLostError || local.signal.aborted) {
        this.d.log.warn({ runId, err: coerceError(err).message }, 'stopped following run (lease lost or shutting down)');
        return;
      }
      await ctx.failWithError(coerceError(err));
    } finally {
      clearInterval(heartbeat);
      signal.removeEventListener('abort', onAbort);
    }
  }
}

/** Everything about one run while a worker holds it. */
class RunContext {
  private run: RunRow;
  private book: RunBook;
  private stages = new Map<StageId, StageRow>();
  private readonly log: Logger;
  private readonly deadlineMs: number;
  private readonly runDeadline: number;
  private seq: number;

  constructor(
    private readonly d: OrchestratorDeps,
    run: RunRow,
    private readonly owner: string,
    private readonly signal: AbortSignal,
  ) {
    this.run = run;
    this.book = JSON.parse(run.metrics_json) as RunBook;
    this.log = d.log.child({ component: 'orchestrator', runId: run.run_id });
    this.deadlineMs = d.config.jenkins.deadlineMs;
    this.runDeadline = Date.parse(run.started_at ?? run.created_at) + d.config.runTimeoutMs;
    this.seq = run.last_seq;
  }

  private get envConfig() {
    const e = findEnvironment(this.d.config, this.run.app, this.run.env);
    if (!e) throw new Error(`environment ${this.run.app}/${this.run.env} is no longer configured`);
    return e;
  }

  async load() {
    for (const s of await this.d.store.getStages(this.run.run_id)) this.stages.set(s.id as StageId, s);
  }

  async drive() {
    const phase = () => this.run.phase as Phase;
    if (phase() === 'queued') {
      await this.patch({ phase: 'checking', started_at: this.run.started_at ?? now() });
      await this.emitStatus('running', null);
      this.d.events.emit('run:started', { runId: this.run.run_id });
    }
    if (phase() === 'checking') await this.checkJenkins();
    if (phase() === 'triggering') await this.trigger();
    if (phase() === 'waiting_queue') await this.waitForBuild();
    if (phase() === 'following') await this.follow();
    if (phase() === 'fetching') await this.fetchArtifacts();
    if (phase() === 'aggregating') await this.judge();
    if (phase() === 'notifying') await this.notify();
  }

  // ---------------------------------------------------------------- phases

  /** "Assume nothing": Jenkins answers, the job exists, it declares the contract's parameters. */
  private async checkJenkins() {
    const job = this.run.jenkins_job;
    await this.backendLog('preflight', `backend: checking Jenkins at ${this.d.provider.baseUrl}${this.d.sandbox ? ' (sandbox)' : ''}`);
    const ping = await this.retrying('reach Jenkins', () => this.d.provider.ping(this.signal));
    await this.backendLog('preflight', `backend: Jenkins answered${ping.version ? ` (version ${ping.version})` : ''}`);
    const check = await this.retrying('read the job', () => this.d.provider.checkJob(job, this.signal));
    if (!check.exists) {
      throw new FatalRunError(
        'infrastructure',
        `Jenkins job "${job}" does not exist. Create it with \`py jenkins/setup_job.py\` (see docs/jenkins.md) or set JENKINS_JOB_NAME to the right job.`,
      );
    }
    if (!check.buildable) throw new FatalRunError('infrastructure', `Jenkins job "${job}" is disabled; enable it in Jenkins and start the run again.`);
    const missing = CONTRACT_PARAMETERS.map((p) => p.name).filter((n) => !check.parameters.includes(n));
    if (missing.length) {
      const fresh = check.parameters.length === 0;
      throw new FatalRunError(
        'configuration',
        `Jenkins job "${job}" does not declare the parameter${missing.length > 1 ? 's' : ''} ${missing.join(', ')}.` +
          (fresh
            ? ' A declarative pipeline registers its parameters only after its first run: run the job once in Jenkins (or create it from jenkins/config.xml with `py jenkins/setup_job.py`), then start this run again.'
            : ' Point the job at this repository\'s Jenkinsfile (which declares them), run it once, then start this run again.'),
      );
    }
    await this.backendLog('preflight', `backend: job "${job}" declares ${CONTRACT_PARAMETERS.length} contract parameters`);
    await this.patch({ phase: 'triggering' });
  }

  private async trigger() {
    const job = this.run.jenkins_job;
    if (this.run.cancel_requested) throw new RunCancelled('cancelled before Jenkins was triggered');
    const params: JobParameters = {
      BRANCH_OR_TAG: this.run.branch_or_tag,
      DRY_RUN: this.run.dry_run === 1,
      TEST_SUITE: this.run.test_suite as JobParameters['TEST_SUITE'],
      ACTION: this.run.kind === 'rollback' ? 'rollback' : 'deploy',
      ROLLBACK_TO: this.run.rollback_to ?? '',
      QA_RUN_ID: this.run.run_id,
    };
    // A restart, or a trigger whose answer was lost, must never start a second
    // build: every attempt first looks for a queue item or build carrying our
    // QA_RUN_ID (queue → builds → builds again), and only then triggers.
    const where = await this.retrying('trigger the Jenkins job', () => this.d.provider.ensureTriggered(job, params, this.signal));
    if (where.kind === 'build') {
      await this.backendLog('preflight', `backend: Jenkins build #${where.build.number} already exists for this run; following it`);
      await this.patch({ phase: 'following', jenkins_build_number: where.build.number, jenkins_build_url: where.build.url });
      return;
    }
    await this.backendLog(
      'preflight',
      `backend: ${job} queued (item ${where.queue.id}) with BRANCH_OR_TAG=${params.BRANCH_OR_TAG} DRY_RUN=${params.DRY_RUN} TEST_SUITE=${params.TEST_SUITE} ACTION=${params.ACTION}${params.ROLLBACK_TO ? ` ROLLBACK_TO=${params.ROLLBACK_TO}` : ''}`,
    );
    this.d.events.emit('run:triggered', { runId: this.run.run_id, queueId: where.queue.id });
    await this.patch({ phase: 'waiting_queue', jenkins_queue_id: where.queue.id });
  }

  private async waitForBuild() {
    const job = this.run.jenkins_job;
    let lastWhy: string | null = null;
    for (;;) {
      this.checkRunDeadline();
      await this.renew();
      const fresh = await this.d.store.getRun(this.run.run_id);
      if (fresh?.cancel_requested && this.run.jenkins_queue_id !== null) {
        await this.retrying('cancel the queue item', () => this.d.provider.cancelQueueItem({ id: this.run.jenkins_queue_id! }, this.signal)).catch(() => undefined);
        throw new RunCancelled('cancelled while waiting in the Jenkins queue');
      }
      let state;
      try {
        state = await this.retrying('read the queue item', () => this.d.provider.queueState({ id: this.run.jenkins_queue_id! }, this.signal));
      } catch (err) {
        // Left items expire after 5 minutes (reference §10 gotcha 1): find the build by its parameter instead.
        if (err instanceof ProviderError && err.code === 'queue_item_gone') {
          const found = await this.retrying('look for the build', () => this.d.provider.locateByRunId(job, this.run.run_id, this.signal));
          if (found?.kind === 'build') {
            await this.patch({ phase: 'following', jenkins_build_number: found.build.number, jenkins_build_url: found.build.url });
            return;
          }
          if (found?.kind === 'queued') {
            await this.patch({ jenkins_queue_id: found.queue.id });
            continue;
          }
          throw new FatalRunError('infrastructure', 'The Jenkins queue item disappeared and no build carries this run id; Jenkins may have restarted. Start the run again.');
        }
        throw err;
      }
      if (state.cancelled) throw new RunCancelled('the Jenkins queue item was cancelled');
      if (state.build) {
        await this.backendLog('checkout', `backend: Jenkins build #${state.build.number} started: ${state.build.url}`);
        await this.patch({ phase: 'following', jenkins_build_number: state.build.number, jenkins_build_url: state.build.url });
        await this.emitStatus('running', null);
        return;
      }
      if (state.why && state.why !== lastWhy) {
        lastWhy = state.why;
        await this.backendLog('checkout', `backend: waiting in the Jenkins queue: ${state.why}`);
      }
      await sleep(this.d.config.jenkins.pollMs, this.signal);
      if (this.signal.aborted) throw new LeaseLostError('shutting down');
    }
  }

  private build(): BuildRef {
    return { job: this.run.jenkins_job, number: this.run.jenkins_build_number!, url: this.run.jenkins_build_url ?? '' };
  }

  /** Follows the console and the stages until the build is over and the console is complete. */
  private async follow() {
    const build = this.build();
    let polls = 0;
    for (;;) {
      this.checkRunDeadline();
      await this.renew();
      const fresh = await this.d.store.getRun(this.run.run_id);
      if (fresh?.cancel_requested && !this.book.stop_sent) {
        await this.backendLog(this.run.console_stage as StageId, 'backend: cancel requested; stopping the Jenkins build');
        await this.retrying('stop the build', () => this.d.provider.stop(build, this.signal));
        this.book.stop_sent = true;
        await this.saveBook();
      }
      let more = true;
      let sawText = false;
      await this.retrying('read the console', async () => {
        // Each attempt starts from what is stored (this.run is updated by ingest), so a reply cut
        // half way is resumed after its last stored slice: nothing doubled, nothing lost.
        const stored = consoleCursorOf(this.run);
        const from = { offset: stored.offset, skip: stored.skip };
        let parse = { pending: stored.pending, stage: stored.stage as StageId };
        let inKey = stored.inKey;
        // Slices are small (their strings stay in V8's young generation); a long reply is stored
        // a batch of slices per transaction, each with the position after its last slice.
        let batch = newLogBatch();
        for await (const slice of this.d.provider.readConsoleSlices(build, from, this.signal)) {
          const parsed = parseConsoleChunk(parse, slice.text, slice.last && !slice.more);
          parse = parsed.state;
          const redacted = this.d.redactor.redactLines(parsed.lines.map((l) => l.text), parsed.source, inKey);
          inKey = redacted.inKeyBlock;
          parsed.lines.forEach((l, i) => batch.events.push({ type: 'log', seq: 0, stage: l.stage, text: redacted.lines[i]!, ts: '' }));
          batch.findings.push(...redacted.findings);
          batch.chars += slice.text.length;
          if (slice.text.length) sawText = true;
          more = slice.more;
          if (slice.last || batch.chars >= STORE_BATCH_CHARS) {
            await this.ingest(batch, { offset: slice.next.offset, skip: slice.next.skip, inKey, pending: parse.pending, stage: parse.stage });
            batch = newLogBatch();
          }
        }
      });
      if (polls++ % 2 === 0 || !more) await this.syncStages(build);
      if (!more) {
        const st = await this.retrying('read the build', () => this.d.provider.buildState(build, this.signal));
        if (!st.building && st.result) {
          await this.syncStages(build, true);
          this.book.ci_result = st.result;
          await this.saveBook();
          await this.backendLog('report', `backend: Jenkins build #${build.number} finished: ${st.result}`);
          await this.patch({ phase: 'fetching' });
          return;
        }
      }
      // Adaptive polling: come back soon while lines are flowing, at the configured pace when idle.
      const pace = sawText ? Math.max(50, Math.floor(this.d.config.jenkins.pollMs / 4)) : this.d.config.jenkins.pollMs;
      await sleep(pace, this.signal);
      if (this.signal.aborted) throw new LeaseLostError('shutting down');
    }
  }

  private async fetchArtifacts() {
    await this.setStage('report', 'running');
    const build = this.build();
    const runDir = path.join(this.d.config.artifactStore, 'runs', this.run.run_id);
    await this.storeWrite('create the run folder', () => mkdir(runDir, { recursive: true }));
    const list = await this.retrying('list the artifacts', () => this.d.provider.listArtifacts(build, this.signal));
    const rows = [];
    for (const a of list) {
      // Jenkins archives `reports/**`; the run folder holds them without that prefix.
      const rel = a.relativePath.replace(/^reports\//, '');
      const dest = path.resolve(runDir, rel);
      if (!dest.startsWith(runDir + path.sep)) {
        await this.backendLog('report', `backend: refused artifact with an unsafe path: ${a.relativePath}`);
        continue;
      }
      await this.storeWrite(`create the folder of ${rel}`, () => mkdir(path.dirname(dest), { recursive: true }));
      await this.retrying(`download ${a.relativePath}`, async () => {
        const body = await this.d.provider.downloadArtifact(build, a.relativePath, this.signal);
        const tmp = `${dest}.part`;
        try {
          // Written to .part and renamed: a crash never leaves a half file under the real name.
          await this.storeWrite(`write ${rel}`, async () => {
            await pipeline(Readable.fromWeb(body as unknown as WebReadableStream<Uint8Array>), createWriteStream(tmp));
            await rename(tmp, dest);
          });
        } catch (err) {
          await rm(tmp, { force: true }).catch(() => undefined);
          throw err;
        }
      });
      rows.push(rel);
    }
    await this.backendLog('report', `backend: fetched ${rows.length} artifact${rows.length === 1 ? '' : 's'} into the artifact store`);
    await this.patch({ phase: 'aggregating' });
  }

  /**
   * Runs a write to the artifact store. A filesystem error there (disk full,
   * read-only, permissions, a file where a folder should be) is not a Jenkins
   * problem and retrying will not help: the run ends `error` saying what to fix.
   */
  private async storeWrite<T>(what: string, fn: () => Promise<T>): Promise<T> {
    try {
      return await fn();
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code && STORE_ERRNO[code]) {
        throw new FatalRunError('infrastructure', `Could not ${what} in ARTIFACT_STORE (${this.d.config.artifactStore}): ${STORE_ERRNO[code]} (${code}); free space or fix permissions on the store, then start the run again; the Jenkins build and its artifacts are kept in Jenkins.`);
      }
      throw err;
    }
  }

  private async judge() {
    const runDir = path.join(this.d.config.artifactStore, 'runs', this.run.run_id);
    const env = this.envConfig;
    const stagesApi = [...this.stages.values()].map(stageToApi);
    const checkout = await readJson<{ commit?: string; commit_time?: string }>(path.join(runDir, 'checkout.json'));
    if (checkout?.commit) await this.patch({ commit_sha: checkout.commit, commit_time: checkout.commit_time ?? null });

    let summary: Summary | null = null;
    if (this.book.ci_result === 'ABORTED' && (this.run.cancel_requested || this.book.stop_sent)) {
      await this.finishStatus('cancelled', 'cancelled by request; the Jenkins build was stopped', null);
    } else {
      const findings = this.book.secret_findings ?? {};
      summary = await aggregate({
        runDir,
        run: {
          run_id: this.run.run_id,
          app: this.run.app,
          env: this.run.env,
          kind: this.run.kind as 'deploy' | 'rollback',
          dry_run: this.run.dry_run === 1,
          test_suite: this.run.test_suite as 'full' | 'api' | 'e2e' | 'none',
          initiator: this.run.initiator,
          branch_or_tag: this.run.branch_or_tag,
          ci_result: this.book.ci_result ?? null,
          stages: stagesApi,
          started_at: this.run.started_at,
          finished_at: now(),
          jenkins_url: this.run.jenkins_build_url,
          run_url: this.runUrl(),
        },
        secrets: { masked_in_log: Object.entries(findings).map(([kind, count]) => ({ kind, count: count ?? 0 })) },
        knownSecrets: this.d.config.secrets,
        smokeUrls: env.SMOKE_URLS,
        scoreThreshold: this.d.config.scoreThreshold,
        scoreWeights: this.d.config.scoreWeights,
        logExcerpt: (await this.d.store.readLogs(this.run.run_id, Math.max(0, this.seq - 200), 200)).map((l) => `[${l.stage}] ${l.text}`),
        server: env.DEVTEST_SERVER,
        credentialsId: env.JENKINS_CREDENTIALS_ID,
        links: { runUrl: this.runUrl(), artifactBase: this.artifactUrl('').replace(/\/$/, '') },
      });
      for (const line of renderConsoleBlock(summary).split('\n')) await this.backendLog('report', line);
      await this.recordArtifacts(runDir, summary);
      await this.recordDeployment(runDir, summary);
      const status = summary.verdict.status as RunStatus;
      const reason = verdictReason(summary, this.book.ci_result ?? null);
      this.book.score = summary.score.value;
      this.book.gates = summary.gates.map((g) => ({ id: g.id, passed: g.passed, reason: g.reason }));
      this.book.tests = testsOf(summary);
      await this.patch({ score: summary.score.value, rollback_failed: summary.rollback_failed ? 1 : 0 });
      await this.finishStatus(status, reason, summary.verdict.failure?.kind ?? null);
      if (status === 'rolled_back') await this.setStage('deploy', 'rolled_back');
    }
    await this.setStage('report', 'success');
    await this.patch({ phase: 'notifying' });
  }

  private async notify() {
    await this.setStage('notify', 'running');
    const status = (this.book.pending_status ?? 'error') as RunStatus;
    const runDir = path.join(this.d.config.artifactStore, 'runs', this.run.run_id);
    const summary = await readJson<Summary>(path.join(runDir, 'summary.json'));
    if (summary && this.d.notifiers.length) {
      const artifacts = await this.d.store.getArtifacts(this.run.run_id);
      const results = await notifyAll(this.d.notifiers, {
        summary,
        run: {
          run_id: this.run.run_id,
          app: this.run.app,
          env: this.run.env,
          kind: this.run.kind,
          status,
          reason: this.book.pending_reason ?? null,
          initiator: this.run.initiator,
          duration_ms: Date.now() - Date.parse(this.run.started_at ?? this.run.created_at),
          run_url: this.runUrl(),
          artifact_urls: Object.fromEntries(artifacts.map((a) => [a.path, this.artifactUrl(a.path)])),
        },
      });
      this.book.notifications = results;
      for (const r of results) await this.backendLog('notify', `backend: ${r.channel} notification ${r.ok ? 'sent' : `failed: ${r.error ?? 'unknown error'}`}`);
    } else {
      await this.backendLog('notify', this.d.notifiers.length ? 'backend: no summary to notify about' : 'backend: no notifier configured (set TEAMS_WEBHOOK_URL or SMTP_HOST); summary printed above');
    }
    await this.saveBook();
    await this.setStage('notify', 'success');
    await this.complete(status, this.book.pending_reason ?? null, this.book.pending_failure_kind ?? null);
  }

  // ---------------------------------------------------------------- helpers

  private runUrl() {
    return this.d.config.publicUrl ? `${this.d.config.publicUrl.replace(/\/$/, '')}/#/runs/${this.run.run_id}` : `/ci/runs/${this.run.run_id}`;
  }
  private artifactUrl(p: string) {
    const base = this.d.config.publicUrl ? this.d.config.publicUrl.replace(/\/$/, '') : '';
    return `${base}/ci/runs/${this.run.run_id}/artifacts/${p.split('/').map(encodeURIComponent).join('/')}`;
  }

  /** The run's artifact rows: the aggregator already checksummed every file but its own two outputs. */
  private async recordArtifacts(runDir: string, summary: Summary) {
    const entries = [...summary.artifacts];
    for (const own of ['summary.json', 'summary.md']) {
      const full = path.join(runDir, own);
      const size = await stat(full).then((st) => st.size, () => null);
      if (size !== null) entries.push({ name: own, path: own, bytes: size, sha256: await sha256File(full) });
    }
    await this.d.store.putArtifacts(
      entries.map((e) => ({ run_id: this.run.run_id, path: e.path, name: path.basename(e.path), bytes: e.bytes, sha256: e.sha256, content_type: contentTypeOf(e.path) })),
    );
  }

  private async recordDeployment(runDir: string, summary: Summary) {
    const status = summary.verdict.status;
    const version = `${this.run.branch_or_tag}@${(this.run.commit_sha ?? 'unknown').slice(0, 12)}`;
    if (this.run.kind === 'deploy' && this.run.dry_run === 0) {
      const manifest = await readJson<{ backup_id?: string; artifact_sha256?: string }>(path.join(runDir, 'deploy-manifest.json'));
      if (!manifest) return; // nothing reached DevTest
      await this.d.store.recordDeployment({
        run_id: this.run.run_id,
        app: this.run.app,
        env: this.run.env,
        kind: 'deploy',
        version,
        commit_sha: this.run.commit_sha,
        artifact_sha256: manifest.artifact_sha256 ?? null,
        backup_id: manifest.backup_id ?? null,
        // `failed`: on DevTest, but a gate failed (or its rollback did); it is still what runs there.
        status: status === 'success' ? 'deployed' : status === 'rolled_back' ? 'rolled_back' : 'failed',
        initiator: this.run.initiator,
        deployed_at: now(),
      });
    } else if (this.run.kind === 'rollback' && status === 'success') {
      const rb = await readJson<{ backup_id?: string }>(path.join(runDir, 'rollback.json'));
      const history = await this.d.store.deployments(this.run.app, this.run.env, 50);
      // The deployment whose backup we restored is no longer what runs on DevTest.
      const target = history.find((h) => h.kind === 'deploy' && h.backup_id && h.backup_id === (rb?.backup_id ?? this.run.rollback_to));
      const previous = target ? history.find((h) => h.deployed_at < target.deployed_at && h.status !== 'rolled_back') : undefined;
      if (target) await this.d.store.recordDeployment({ ...target, status: 'rolled_back' });
      await this.d.store.recordDeployment({
        run_id: this.run.run_id,
        app: this.run.app,
        env: this.run.env,
        kind: 'rollback',
        version: previous?.version ?? `backup ${rb?.backup_id ?? this.run.rollback_to ?? 'newest'}`,
        commit_sha: previous?.commit_sha ?? null,
        artifact_sha256: previous?.artifact_sha256 ?? null,
        backup_id: null,
        status: 'restored',
        initiator: this.run.initiator,
        deployed_at: now(),
      });
    }
  }

  /** Stores redacted lines + the console cursor in one transaction, then publishes them. */
  private async ingest(batch: LogBatch, cursor: ConsoleCursor) {
    const { events } = batch;
    const ts = now();
    for (const e of events) e.ts = ts;
    // The hub's events are the rows stored (one object per line: a batch holds thousands).
    const { first, last } = await this.d.store.appendLogs(this.run.run_id, this.owner, events, cursor);
    for (let i = 0; i < events.length; i++) events[i]!.seq = first + i;
    this.run = { ...this.run, ...consoleColumns(cursor) };
    this.seq = last;
    const masked = batch.findings.reduce((a, f) => a + f.count, 0);
    if (masked) {
      const findings = new Map<SecretKind, number>(Object.entries(this.book.secret_findings ?? {}) as Array<[SecretKind, number]>);
      mergeFindings(findings, batch.findings);
      this.book.secret_findings = Object.fromEntries(findings);
      this.book.secrets_masked = (this.book.secrets_masked ?? 0) + masked;
      await this.saveBook();
    }
    this.book.log_lines = this.seq;
    this.d.hub.publish(this.run.run_id, events);
    // Chips react to markers at once; wfapi confirms on the next sync.
    const seen = new Set(events.map((e) => e.stage));
    for (const id of seen) {
      const s = this.stages.get(id);
      if (s && s.status === 'pending' && id !== 'report' && id !== 'notify') await this.setStage(id, 'running');
    }
  }

  async backendLog(stage: StageId, text: string) {
    const event = { type: 'log' as const, seq: 0, stage, text: this.d.redactor.mask(text), ts: now() };
    // A note between console reads: the stored cursor stays as it is.
    const { last } = await this.d.store.appendLogs(this.run.run_id, this.owner, [event], consoleCursorOf(this.run));
    this.seq = event.seq = last;
    this.d.hub.publish(this.run.run_id, [event]);
  }

  private async syncStages(build: BuildRef, final = false) {
    const remote = await this.retrying('read the stages', () => this.d.provider.stages(build, this.signal));
    const byName = new Map(remote.map((s) => [s.name, s]));
    const changed: StageRow[] = [];
    for (const def of CONTRACT_STAGES) {
      if (def.id === 'report' || def.id === 'notify') continue; // backend-owned
      const cur = this.stages.get(def.id);
      if (!cur) continue;
      const parts = def.jenkins.map((n) => byName.get(n)).filter((x): x is ProviderStage => !!x);
      let status: StageStatus;
      if (parts.length === 0) status = final ? 'skipped' : cur.status === 'running' ? 'running' : 'pending';
      else {
        status = combine(parts.map((p) => mapStageStatus(p.status)));
        // A build that ended while wfapi still lags says "running": the build result decides.
        if (final && status === 'running') status = 'failure';
      }
      const start = parts.length ? Math.min(...parts.map((p) => p.startTimeMillis).filter((t) => t > 0)) : NaN;
      const end = parts.length ? Math.max(...parts.map((p) => p.startTimeMillis + p.durationMillis)) : NaN;
      const started_at = Number.isFinite(start) ? new Date(start).toISOString() : cur.started_at;
      const finished_at = ['success', 'failure', 'cancelled'].includes(status) && Number.isFinite(end) ? new Date(end).toISOString() : status === 'skipped' ? null : cur.finished_at;
      if (status !== cur.status || started_at !== cur.started_at || finished_at !== cur.finished_at) {
        const next = { ...cur, status, started_at: status === 'skipped' ? null : started_at, finished_at };
        this.stages.set(def.id, next);
        changed.push(next);
      }
    }
    if (changed.length) await this.publishStages(changed);
  }

  private async setStage(id: StageId, status: StageStatus) {
    const cur = this.stages.get(id);
    if (!cur || cur.status === status) return;
    const t = now();
    const next: StageRow = {
      ...cur,
      status,
      started_at: cur.started_at ?? (status === 'running' || status === 'success' ? t : null),
      finished_at: ['success', 'failure', 'cancelled'].includes(status) ? t : status === 'rolled_back' ? cur.finished_at : null,
    };
    this.stages.set(id, next);
    await this.publishStages([next]);
  }

  private async publishStages(rows: StageRow[]) {
    await this.d.store.upsertStages(this.run.run_id, this.owner, rows);
    this.d.hub.publish(
      this.run.run_id,
      rows.map((r) => ({ type: 'stage', seq: this.seq, stage: stageToApi(r) }) as HubEvent),
    );
    for (const r of rows) this.d.events.emit('stage:changed', { runId: this.run.run_id, stage: r.id, status: r.status });
  }

  private async emitStatus(status: RunStatus, reason: string | null) {
    this.d.hub.publish(this.run.run_id, [{ type: 'status', seq: this.seq, status, reason }]);
  }

  /** Records the verdict; the run becomes terminal after notification. */
  private async finishStatus(status: RunStatus, reason: string | null, failureKind: string | null) {
    this.book.pending_status = status;
    this.book.pending_reason = reason;
    this.book.pending_failure_kind = failureKind;
    await this.saveBook();
  }

  private async complete(status: RunStatus, reason: string | null, failureKind: string | null) {
    // Stages that never ran are skipped (or cancelled), so no chip stays "pending" forever.
    const leftovers = [...this.stages.values()].filter((s) => s.status === 'pending' || s.status === 'running');
    for (const s of leftovers) await this.setStage(s.id as StageId, status === 'cancelled' ? 'cancelled' : s.status === 'running' ? 'failure' : 'skipped');
    await this.patch({ status, phase: 'done', reason, failure_kind: failureKind, finished_at: now(), lease_owner: null, lease_expires_at: null });
    await this.emitStatus(status, reason);
    this.d.events.emit('run:finished', { runId: this.run.run_id, status });
    this.log.info({ status, reason }, 'run finished');
  }

  async failWithError(err: Error) {
    try {
      if (err instanceof RunCancelled) {
        await this.backendLog('report', `backend: ${err.message}`);
        await this.finishStatus('cancelled', err.message, null);
        await this.patch({ phase: 'notifying' });
        await this.notify();
        return;
      }
      // Anything that is not a classified FatalRunError is an infrastructure failure (Jenkins, the store, a bug).
      const kind = err instanceof FatalRunError ? err.kind : 'infrastructure';
      const message = this.d.redactor.mask(err.message);
      this.log.error({ err: message }, 'run ended with an error');
      const stage = ([...this.stages.values()].find((s) => s.status === 'running')?.id ?? 'preflight') as StageId;
      await this.backendLog(stage, `backend: ${message}`);
      // A Jenkins/config/store problem is `error`, never `failed`: the code under test was not judged.
      await this.finishStatus('error', message, kind);
      if (this.stages.get(stage)?.status === 'running') await this.setStage(stage, 'failure');
      await this.patch({ phase: 'notifying' });
      await this.notify();
    } catch (inner) {
      if (inner instanceof LeaseLostError) return;
      this.log.error({ err: coerceError(inner).message }, 'could not record the run error');
    }
  }

  private checkRunDeadline() {
    if (Date.now() > this.runDeadline) {
      throw new FatalRunError('infrastructure', `The run exceeded RUN_TIMEOUT_S (${Math.round(this.d.config.runTimeoutMs / 1000)} s); the Jenkins build may still be running — check it in Jenkins.`);
    }
  }

  private async renew() {
    if (!(await this.d.store.renewLease(this.run.run_id, this.owner, leaseMsOf(this.d.config)))) throw new LeaseLostError('lease lost');
  }

  private async noteRetry(note: string) {
    this.book.retry_note = note;
    await this.saveBook();
    await this.backendLog((this.run.console_stage as StageId) ?? 'preflight', `backend: ${note}`);
  }

  /** Retries transient Jenkins failures with backoff until JENKINS_DEADLINE_S, saying why in the log. */
  private async retrying<T>(what: string, fn: () => Promise<T>): Promise<T> {
    let noted = false;
    try {
      const out = await withRetry(fn, {
        deadlineMs: this.deadlineMs,
        signal: this.signal,
        // Short steps: a flaky Jenkins usually answers the next call; the deadline bounds the total.
        maxDelayMs: Math.max(1000, this.d.config.jenkins.pollMs * 2),
        onRetry: ({ error, attempt }) => {
          void this.renew().catch(() => undefined);
          if (!noted || attempt % 5 === 0) {
            noted = true;
            void this.noteRetry(`could not ${what} (${this.d.redactor.mask(error.message)}); retrying`).catch(() => undefined);
          }
        },
      });
      if (noted) {
        this.book.retry_note = null;
        await this.saveBook();
      }
      return out;
    } catch (err) {
      const e = coerceError(err);
      if (e instanceof ProviderError && e.retryable) {
        throw new FatalRunError('infrastructure', `Jenkins did not answer for ${Math.round(this.deadlineMs / 1000)} s while trying to ${what}: ${e.message}. Check that Jenkins is up and reachable from the backend.`);
      }
      if (e instanceof ProviderError) throw new FatalRunError('infrastructure', `Could not ${what}: ${e.message}`);
      throw e;
    }
  }

  private async saveBook() {
    await this.patch({ metrics_json: JSON.stringify(this.book) });
  }

  private async patch(p: Partial<RunRow>) {
    await this.d.store.updateRun(this.run.run_id, this.owner, p);
    this.run = { ...this.run, ...p };
  }
}

/** Filesystem errors of the artifact store, in words an operator can act on. */
const STORE_ERRNO: Record<string, string> = {
  ENOSPC: 'the disk is full',
  EDQUOT: 'the disk quota is exhausted',
  EROFS: 'the file system is read-only',
  // Node's recursive mkdir reports a read-only parent as ENOENT.
  ENOENT: 'a folder could not be created (read-only or removed file system?)',
  EACCES: 'permission denied',
  EPERM: 'operation not permitted',
  ENOTDIR: 'a file stands where a folder must be',
  EEXIST: 'a file stands where a folder must be',
  EISDIR: 'a folder stands where a file must be',
};

export class FatalRunError extends Error {
  override name = 'FatalRunError';
  constructor(
    readonly kind: string,
    message: string,
  ) {
    super(message);
  }
}

export function leaseMsOf(config: Config): number {
  return Math.max(5_000, config.jenkins.pollMs * 10);
}

function stageToApi(s: StageRow): Stage {
  return {
    id: s.id as StageId,
    name: s.name,
    status: s.status as StageStatus,
    started_at: s.started_at,
    finished_at: s.finished_at,
    duration_ms: s.started_at && s.finished_at ? Math.max(0, Date.parse(s.finished_at) - Date.parse(s.started_at)) : null,
  };
}

function verdictReason(s: Summary, ciResult: string | null): string | null {
  const failed = s.gates.filter((g) => !g.passed);
  if (s.verdict.status === 'success') return null;
  if (s.verdict.status === 'rolled_back') return `smoke failed for the new version; the previous version was restored and passed re-smoke${failed.length ? ` (gates: ${failed.map((g) => g.id).join(', ')})` : ''}`;
  if (failed.length) return failed.map((g) => `${g.id}: ${g.reason}`).join('; ');
  return s.verdict.failure?.message ?? `Jenkins build ended ${ciResult ?? 'without a result'}`;
}

function testsOf(s: Summary): RunMetrics['tests'] {
  const out: RunMetrics['tests'] = {};
  for (const [k, v] of Object.entries(s.tests ?? {})) {
    if (v && typeof v === 'object' && 'total' in v) {
      const t = v as { passed: number; failed: number; skipped?: number; total: number };
      out[k] = { passed: t.passed, failed: t.failed, skipped: t.skipped ?? 0, total: t.total };
    }
  }
  return out;
}

async function readJson<T>(file: string): Promise<T | null> {
  try {
    return JSON.parse((await readFile(file, 'utf8')).replace(/^\uFEFF/, '')) as T;
  } catch {
    return null;
  }
}

export async function sha256File(file: string): Promise<string> {
  const h = createHash('sha256');
  await pipeline(createReadStream(file), h);
  return h.digest('hex');
}

export function contentTypeOf(p: string): string {
  const ext = path.extname(p).toLowerCase();
  return (
    {
      '.html': 'text/html; charset=utf-8',
      '.json': 'application/json; charset=utf-8',
      '.xml': 'application/xml; charset=utf-8',
      '.trx': 'application/xml; charset=utf-8',
      '.log': 'text/plain; charset=utf-8',
      '.txt': 'text/plain; charset=utf-8',
      '.md': 'text/markdown; charset=utf-8',
      '.zip': 'application/zip',
    } as Record<string, string>
  )[ext] ?? 'application/octet-stream';
}
