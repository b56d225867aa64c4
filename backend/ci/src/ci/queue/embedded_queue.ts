/**
 * The embedded JobQueue (default): the worker lives in the API process and
 * claims runs straight from the database. Nothing is kept in memory that a
 * restart could lose: queued rows are claimed again after a restart and
 * running rows are resumed from their persisted phase.
 */
import { randomUUID } from 'node:crypto';
import type { Logger } from 'pino';
import type { RunStore } from '../../store/run_store.js';
import type { Orchestrator } from '../orchestrator.js';
import type { JobQueue } from './job_queue.js';

export interface EmbeddedQueueOptions {
  store: RunStore;
  orchestrator: Orchestrator;
  log: Logger;
  leaseMs: number;
  /** How often to look for work when nobody pokes us. */
  idlePollMs?: number;
  /** Parallel runs across *different* environments. */
  concurrency?: number;
  /** SQLite mode is single-instance: take over leases left by a killed process at once. */
  reclaimOnStart?: boolean;
}

export class EmbeddedQueue implements JobQueue {
  readonly kind = 'embedded' as const;
  readonly owner = `embedded-${process.pid}-${randomUUID().slice(0, 8)}`;
  private readonly abort = new AbortController();
  private readonly active = new Map<string, Promise<void>>();
  private wake: (() => void) | null = null;
  private loop: Promise<void> | null = null;

  constructor(private readonly o: EmbeddedQueueOptions) {}

  async notify(): Promise<void> {
    this.wake?.();
  }

  async start(): Promise<void> {
    if (this.o.reclaimOnStart) await this.o.store.clearLeases();
    this.loop = this.run();
  }

  private async run() {
    const concurrency = this.o.concurrency ?? 4;
    while (!this.abort.signal.aborted) {
      let claimed = false;
      if (this.active.size < concurrency) {
        try {
          const run = await this.o.store.claimNext(this.owner, this.o.leaseMs);
          if (run && this.active.has(run.run_id)) {
            // Our own execution is still winding down (its lease lapsed): never run it twice.
            this.o.log.warn({ runId: run.run_id }, 'claimed a run this worker is still executing; leaving it to that execution');
          } else if (run) {
            claimed = true;
            const p = this.o.orchestrator
              .execute(run.run_id, this.owner, this.abort.signal)
              .catch((err) => this.o.log.error({ err, runId: run.run_id }, 'run execution crashed'))
              .finally(() => {
                this.active.delete(run.run_id);
                this.wake?.();
              });
            this.active.set(run.run_id, p);
          }
        } catch (err) {
          this.o.log.error({ err }, 'claiming a run failed');
        }
      }
      if (!claimed) {
        await new Promise<void>((resolve) => {
          const t = setTimeout(resolve, this.o.idlePollMs ?? 500);
          this.wake = () => {
            clearTimeout(t);
            resolve();
          };
        });
        this.wake = null;
      }
    }
  }

  async stop(): Promise<void> {
    this.abort.abort();
    this.wake?.();
    await this.loop;
    await Promise.allSettled(this.active.values());
  }
}
