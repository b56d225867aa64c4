/**
 * The scale-out JobQueue (REDIS_URL set): runs are BullMQ jobs in Redis, so
 * any number of worker processes share them; the database still decides.
 *
 * Who decides what (docs/scale-out.md, "The concurrency decision"):
 * - BullMQ decides *who* looks *when*: one job per run (job id = run id),
 *   handed to one worker at a time, handed to another when that worker dies
 *   (BullMQ's lock + stalled-job check).
 * - The store decides *which run may start*: a worker holding a job asks
 *   `claimNext`, which gives a lease only for the oldest queued run of an
 *   environment with no running run (or an orphan whose lease lapsed), with a
 *   compare-and-set. Every write of the run is fenced by that lease. BullMQ's
 *   own controls cannot express "one per environment" (groups are BullMQ Pro;
 *   `setGlobalConcurrency` is one number for the whole queue).
 *
 * A job completes only when its run is terminal. A job whose run cannot
 * start yet (its environment is busy, or another worker follows it) goes back
 * to `delayed` and looks again, without holding a worker slot. Because the
 * DB row is the truth, a sweep re-creates the job of any unfinished run whose
 * job is missing (Redis restarted without persistence, a notify that failed).
 */
import { randomUUID } from 'node:crypto';
import os from 'node:os';
import { DelayedError, Queue, Worker, type Job } from 'bullmq';
import { Redis } from 'ioredis';
import type { Logger } from 'pino';
import type { RunRow, RunStore } from '../../store/run_store.js';
import type { JobQueue } from './job_queue.js';

/** What the queue needs from the orchestrator. */
export interface RunExecutor {
  execute(runId: string, owner: string, signal: AbortSignal): Promise<void>;
}

export interface BullMqQueueOptions {
  redisUrl: string;
  store: RunStore;
  orchestrator: RunExecutor;
  log: Logger;
  /** The store lease; also BullMQ's job lock and stalled-check interval, so a dead worker's job moves on about as fast as its lease lapses. */
  leaseMs: number;
  /** Runs this worker executes at once (across different environments). Default 4. */
  concurrency?: number;
  /** BullMQ queue name. Default `qaci-runs`. */
  queueName?: string;
  /** Redis key prefix. Default `qaci`. */
  prefix?: string;
  /** How soon a job whose run cannot start yet looks again. Default min(2 s, leaseMs / 2). */
  recheckMs?: number;
  /** How often unfinished runs are checked for a missing job. Default 3 × leaseMs. */
  sweepMs?: number;
  /** How long `notify` waits for Redis before leaving the run to the sweep. Default 3 s. */
  notifyTimeoutMs?: number;
}

interface RunJobData {
  runId: string;
}

const TERMINAL = new Set(['success', 'failed', 'rolled_back', 'cancelled', 'error']);
const UNFINISHED = ['queued', 'running'];

export class BullMqQueue implements JobQueue {
  readonly kind = 'bullmq' as const;
  /** Lease owner: host and pid first, so an operator (and a test) can tell which process follows a run. */
  readonly owner = `bullmq-${os.hostname()}-${process.pid}-${randomUUID().slice(0, 8)}`;
  private readonly queue: Queue<RunJobData>;
  private readonly producer: Redis;
  private worker: Worker<RunJobData> | null = null;
  private workerConnection: Redis | null = null;
  private readonly abort = new AbortController();
  private readonly executing = new Set<string>();
  private sweepTimer: NodeJS.Timeout | null = null;
  private sweeping: Promise<void> | null = null;
  private readonly recheckMs: number;

  constructor(private readonly o: BullMqQueueOptions) {
    this.recheckMs = o.recheckMs ?? Math.max(100, Math.min(2_000, Math.floor(o.leaseMs / 2)));
    this.producer = connectRedis(o.redisUrl, o.log, 'queue');
    this.queue = new Queue<RunJobData>(this.name, { connection: this.producer, prefix: this.prefix });
    this.queue.on('error', (err) => o.log.warn({ err: err.message }, 'BullMQ queue error'));
  }

  private get name() {
    return this.o.queueName ?? 'qaci-runs';
  }
  private get prefix() {
    return this.o.prefix ?? 'qaci';
  }

  /** Adds the run's job (idempotent: the job id is the run id) and wakes it if it is waiting. */
  async notify(runId: string): Promise<void> {
    const work = (async () => {
      const job = await this.queue.add('run', { runId }, { jobId: runId, removeOnComplete: true, removeOnFail: { age: 7 * 24 * 3600 } });
      // An existing delayed job (e.g. a cancel of a queued run) looks again now instead of after recheckMs.
      if (await job.isDelayed()) await job.promote().catch(() => undefined);
    })();
    const timeoutMs = this.o.notifyTimeoutMs ?? 3_000;
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<'timeout'>((resolve) => (timer = setTimeout(() => resolve('timeout'), timeoutMs)));
    try {
      // The run row is already stored: if Redis is slow or down, the sweep enqueues it later; the request must not fail.
      const r = await Promise.race([work.then(() => 'ok' as const), timeout]);
      if (r === 'timeout') this.o.log.warn({ runId }, `Redis did not answer within ${timeoutMs} ms; the run will be enqueued by the next sweep`);
    } catch (err) {
      this.o.log.warn({ runId, err: (err as Error).message }, 'could not enqueue the run in Redis; the next sweep will');
    } finally {
      clearTimeout(timer);
    }
    work.catch(() => undefined);
  }

  async start(): Promise<void> {
    this.workerConnection = connectRedis(this.o.redisUrl, this.o.log, 'worker');
    this.worker = new Worker<RunJobData>(this.name, (job, token) => this.process(job, token), {
      connection: this.workerConnection,
      prefix: this.prefix,
      concurrency: this.o.concurrency ?? 4,
      lockDuration: Math.max(5_000, this.o.leaseMs),
      stalledInterval: Math.max(5_000, this.o.leaseMs),
      // A stall is a dead worker, not a bad job: hand it on as often as that happens.
      maxStalledCount: 1_000,
      autorun: true,
    });
    this.worker.on('error', (err) => this.o.log.warn({ err: err.message }, 'BullMQ worker error'));
    this.worker.on('failed', (job, err) => this.o.log.error({ runId: job?.data.runId, err: err.message }, 'run job failed; the sweep re-creates it'));
    await this.worker.waitUntilReady();
    await this.sweep();
    const sweepMs = this.o.sweepMs ?? this.o.leaseMs * 3;
    this.sweepTimer = setInterval(() => void this.sweep(), sweepMs);
    this.sweepTimer.unref();
  }

  /** One job = one run. Returns (completing the job) only when the run is terminal. */
  private async process(job: Job<RunJobData>, token: string | undefined): Promise<string> {
    const { runId } = job.data;
    for (;;) {
      if (this.abort.signal.aborted) return this.later(job, token, 0);
      let row: RunRow | undefined;
      let claimed: RunRow | undefined;
      try {
        row = await this.o.store.getRun(runId);
        if (!row) return 'gone';
        if (TERMINAL.has(row.status)) return row.status;
        // Not necessarily this job's run: the store hands out the next run that may start
        // (FIFO per environment, orphans first). This job looks at its own run again after.
        claimed = await this.o.store.claimNext(this.owner, this.o.leaseMs);
      } catch (err) {
        this.o.log.warn({ runId, err: (err as Error).message }, 'the database did not answer; the run job looks again later');
        return this.later(job, token, this.recheckMs);
      }
      if (!claimed) return this.later(job, token, this.recheckMs);
      await this.executeRun(claimed.run_id);
    }
  }

  /** Puts the job back to `delayed` (it looks again after `ms`) without holding a worker slot. */
  private async later(job: Job<RunJobData>, token: string | undefined, ms: number): Promise<never> {
    await job.moveToDelayed(Date.now() + ms, token);
    throw new DelayedError();
  }

  private async executeRun(runId: string) {
    this.executing.add(runId);
    try {
      await this.o.orchestrator.execute(runId, this.owner, this.abort.signal);
    } catch (err) {
      this.o.log.error({ err, runId }, 'run execution crashed');
    } finally {
      this.executing.delete(runId);
      // Stopping: hand the run on at once instead of letting the lease lapse.
      if (this.abort.signal.aborted) await this.o.store.releaseLease(runId, this.owner).catch(() => undefined);
      else void this.wakeWaiting();
    }
  }

  /** A run just ended or stopped: waiting jobs (e.g. the next run of its environment) look now. */
  private async wakeWaiting() {
    try {
      for (const job of await this.queue.getDelayed(0, 99)) await job.promote().catch(() => undefined);
    } catch (err) {
      this.o.log.debug({ err: (err as Error).message }, 'could not wake waiting run jobs; they look again on their own');
    }
  }

  /** Re-creates the job of every unfinished run that has none (the DB row is the truth). */
  async sweep(): Promise<void> {
    if (this.sweeping) return this.sweeping;
    this.sweeping = (async () => {
      try {
        let cursor: string | undefined;
        do {
          const page = await this.o.store.listRuns({ status: UNFINISHED, limit: 200, ...(cursor ? { cursor } : {}) });
          for (const run of page.runs) {
            const job = await this.queue.getJob(run.run_id);
            const state = job ? await job.getState() : 'missing';
            if (state === 'completed' || state === 'failed') await job!.remove().catch(() => undefined);
            if (state === 'missing' || state === 'completed' || state === 'failed' || state === 'unknown') {
              this.o.log.info({ runId: run.run_id, state }, 'unfinished run had no live job; enqueued it again');
              await this.queue.add('run', { runId: run.run_id }, { jobId: run.run_id, removeOnComplete: true, removeOnFail: { age: 7 * 24 * 3600 } });
            }
          }
          cursor = page.nextCursor ?? undefined;
        } while (cursor);
      } catch (err) {
        this.o.log.warn({ err: (err as Error).message }, 'sweep of unfinished runs failed; trying again later');
      } finally {
        this.sweeping = null;
      }
    })();
    return this.sweeping;
  }

  /** Redis answers (for readiness checks). */
  async ping(): Promise<void> {
    await this.producer.ping();
  }

  /** Runs this worker is executing now. */
  executingRuns(): string[] {
    return [...this.executing];
  }

  async stop(): Promise<void> {
    if (this.sweepTimer) clearInterval(this.sweepTimer);
    // Running runs stop following and hand their leases on; their jobs go back to the queue.
    this.abort.abort();
    await this.sweeping;
    if (this.worker) await this.worker.close();
    await this.queue.close();
    this.workerConnection?.disconnect();
    this.producer.disconnect();
  }
}

/**
 * A Redis connection for BullMQ: `maxRetriesPerRequest: null` (BullMQ's
 * blocking commands need it), reconnects forever with a capped backoff, and
 * says once (not once per attempt) that Redis went away.
 */
export function connectRedis(url: string, log: Logger, role: string): Redis {
  const redis = new Redis(url, {
    maxRetriesPerRequest: null,
    connectionName: `qaci-${role}-${process.pid}`,
    retryStrategy: (times) => Math.min(times * 200, 2_000),
  });
  let down = false;
  redis.on('error', (err) => {
    if (down) return;
    down = true;
    log.warn({ role, err: err.message }, 'Redis connection lost; reconnecting');
  });
  redis.on('ready', () => {
    if (down) log.info({ role }, 'Redis connection back');
    down = false;
  });
  return redis;
}
