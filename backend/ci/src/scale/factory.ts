/**
 * Picks the queue and the log hub from the configuration (DESIGN §1):
 * no REDIS_URL → the embedded queue (claims from the DB) and the in-process
 * hub, one instance; REDIS_URL → BullMQ and the Redis hub, any number of
 * API and worker instances sharing one PostgreSQL and one Redis.
 *
 * app.ts calls these two and nothing else changes above the adapters. Both are
 * async so that the Redis adapters (and bullmq / ioredis) load only when used.
 */
import type { Logger } from 'pino';
import type { Config } from '../config.js';
import type { RunStore } from '../store/run_store.js';
import { InProcessLogHub, type LogHub } from '../ci/logs/log_hub.js';
import { EmbeddedQueue } from '../ci/queue/embedded_queue.js';
// BullMQ, ioredis and the Redis hub are imported only when REDIS_URL is set (below):
// they cost several MB of resident memory that a single instance never uses.
import type { RunExecutor } from '../ci/queue/bullmq_queue.js';
import type { JobQueue } from '../ci/queue/job_queue.js';
import type { Orchestrator } from '../ci/orchestrator.js';

export interface JobQueueFactoryOptions {
  config: Config;
  store: RunStore;
  orchestrator: Orchestrator | RunExecutor;
  log: Logger;
  leaseMs: number;
  /** Defaults to config.redisUrl. */
  redisUrl?: string | undefined;
  /**
   * Embedded mode only: take over leases left by a killed process at start.
   * True only for SQLite, where this process is the only worker; never with
   * PostgreSQL, where the leases may belong to live workers elsewhere.
   */
  reclaimOnStart?: boolean;
  /** Runs executed at once by this worker (different environments). */
  concurrency?: number;
}

export async function createJobQueue(o: JobQueueFactoryOptions): Promise<JobQueue> {
  const redisUrl = o.redisUrl ?? o.config.redisUrl;
  const log = o.log.child({ component: 'queue' });
  if (redisUrl) {
    if (o.reclaimOnStart) throw new Error('reclaimOnStart is for the single-instance embedded queue; with REDIS_URL other workers own their leases.');
    const { BullMqQueue } = await import('../ci/queue/bullmq_queue.js');
    return new BullMqQueue({
      redisUrl,
      store: o.store,
      orchestrator: o.orchestrator,
      log,
      leaseMs: o.leaseMs,
      ...(o.concurrency ? { concurrency: o.concurrency } : {}),
    });
  }
  return new EmbeddedQueue({
    store: o.store,
    orchestrator: o.orchestrator as Orchestrator,
    log,
    leaseMs: o.leaseMs,
    reclaimOnStart: o.reclaimOnStart ?? false,
    ...(o.concurrency ? { concurrency: o.concurrency } : {}),
  });
}

export interface LogHubFactoryOptions {
  redisUrl: string | undefined;
  store: Pick<RunStore, 'readLogs' | 'getRun'>;
  log: Logger;
  /** How long to wait for Redis at start. Default 15 s. */
  readyTimeoutMs?: number;
}

/** Resolves once the hub is subscribed (a Redis hub must not serve viewers before it hears publishes). */
export async function createLogHub(o: LogHubFactoryOptions): Promise<LogHub> {
  const log = o.log.child({ component: 'log-hub' });
  if (!o.redisUrl) return new InProcessLogHub((err) => log.warn({ err }, 'a log viewer failed'));
  const { RedisLogHub } = await import('../ci/logs/redis_log_hub.js');
  const hub = new RedisLogHub({ redisUrl: o.redisUrl, store: o.store, log });
  try {
    const ms = o.readyTimeoutMs ?? 15_000;
    await withTimeout(hub.ready(), ms, `Redis at REDIS_URL did not answer within ${Math.round(ms / 1000)} s; check that it runs and that the URL is right (redis://host:6379)`);
  } catch (err) {
    await hub.close();
    throw err;
  }
  return hub;
}

function withTimeout<T>(p: Promise<T>, ms: number, message: string): Promise<T> {
  let t: NodeJS.Timeout | undefined;
  return Promise.race([p, new Promise<never>((_, reject) => (t = setTimeout(() => reject(new Error(message)), ms)))]).finally(() => clearTimeout(t));
}
