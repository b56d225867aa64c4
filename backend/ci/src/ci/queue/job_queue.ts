/**
 * JobQueue: how queued runs reach a worker.
 *
 * The DB row is the durable record of a run; the queue only decides *who*
 * executes it *when*. Promises of every implementation:
 * - a run is executed by at most one worker at a time (lease with fencing in
 *   the store: a worker whose lease lapsed can no longer write);
 * - runs of one (app, env) execute one at a time, FIFO by queue_seq;
 * - a run queued or running when its worker dies is picked up again.
 */
export interface JobQueue {
  /** Tells the queue that a run was created (or cancelled); wakes a worker. */
  notify(runId: string): Promise<void>;
  /** Starts consuming. */
  start(): Promise<void>;
  /** Stops consuming; running runs stop following (their lease lapses, another worker resumes them). */
  stop(): Promise<void>;
  readonly kind: 'embedded' | 'bullmq';
  /** Checks the queue's backing service (Redis for BullMQ); absent when there is none. */
  ping?(): Promise<void>;
}
