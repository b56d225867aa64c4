/**
 * RedisLogHub: the LogHub for several instances (REDIS_URL set). A worker on
 * instance B publishes a run's events to Redis; every instance delivers them
 * to its own WS viewers of that run. The DB stays the source of truth: lines
 * are stored with their seq before they are published, the WS route replays
 * history from the store and drops live lines it already sent.
 *
 * Promises (beyond LogHub's):
 * - One path for everyone: events reach local viewers through Redis too, so
 *   a viewer on the worker's own instance sees the same order as the others.
 * - One channel per hub (`<prefix>:runlog`), subscribed before the hub is
 *   handed out: a new viewer never races a per-run SUBSCRIBE round trip.
 * - No gap, even across a Redis hiccup: the hub tracks the last log seq it
 *   delivered per run; a line that skips ahead makes it read the missing
 *   lines from the store first, and after a reconnect it catches up every
 *   watched run from the store (including a final status it missed).
 *   Lines may be delivered twice; the WS route drops seq ≤ last sent.
 * - Events of one run are delivered in publish order (one publisher
 *   connection, Redis keeps order, one promise chain per run here).
 */
import type { Redis } from 'ioredis';
import type { Logger } from 'pino';
import type { RunStore } from '../../store/run_store.js';
import type { RunStatus, StageId } from '../models.js';
import { connectRedis } from '../queue/bullmq_queue.js';
import type { HubEvent, HubListener, LogHub } from './log_hub.js';

export type LogHubStore = Pick<RunStore, 'readLogs' | 'getRun'>;

export interface RedisLogHubOptions {
  redisUrl: string;
  store: LogHubStore;
  log: Logger;
  /** Channel prefix; default `qaci`. */
  prefix?: string;
}

interface Watched {
  listeners: Set<HubListener>;
  /** Highest log seq delivered (or known to be in the viewers' replay); null until known. */
  last: number | null;
  chain: Promise<void>;
}

const TERMINAL = new Set(['success', 'failed', 'rolled_back', 'cancelled', 'error']);
const PAGE = 1000;

export class RedisLogHub implements LogHub {
  private readonly pub: Redis;
  private readonly sub: Redis;
  private readonly channel: string;
  private readonly watched = new Map<string, Watched>();
  private subscribed: Promise<void>;
  private connectedOnce = false;
  private closed = false;

  constructor(private readonly o: RedisLogHubOptions) {
    this.channel = `${o.prefix ?? 'qaci'}:runlog`;
    this.pub = connectRedis(o.redisUrl, o.log, 'log-publisher');
    this.sub = connectRedis(o.redisUrl, o.log, 'log-subscriber');
    this.sub.on('message', (channel: string, message: string) => {
      if (channel === this.channel) this.onMessage(message);
    });
    this.sub.on('ready', () => {
      // ioredis re-subscribes by itself after a reconnect; what was published meanwhile is in the store.
      if (this.connectedOnce) for (const runId of this.watched.keys()) this.enqueue(runId, () => this.catchUp(runId));
      this.connectedOnce = true;
    });
    this.subscribed = this.sub.subscribe(this.channel).then(() => undefined);
  }

  /** Resolves once the hub receives what is published (call before serving viewers). */
  async ready(): Promise<void> {
    await this.subscribed;
    await this.pub.ping();
  }

  publish(runId: string, events: HubEvent[]): void {
    if (this.closed || events.length === 0) return;
    // Fire and forget, like InProcessLogHub: the lines are already stored; a lost message is caught up from the store.
    this.pub.publish(this.channel, `${runId}\n${JSON.stringify(events)}`).catch((err: Error) => {
      this.o.log.warn({ runId, err: err.message }, 'could not publish live log events; viewers catch up from the store');
    });
  }

  subscribe(runId: string, listener: HubListener): () => void {
    let w = this.watched.get(runId);
    if (!w) {
      w = { listeners: new Set(), last: null, chain: Promise.resolve() };
      this.watched.set(runId, w);
      // Baseline for gap detection: what is stored now is in the new viewer's replay.
      this.enqueue(runId, async (state) => {
        const row = await this.o.store.getRun(runId);
        if (row) state.last = Math.max(state.last ?? 0, Number(row.last_seq));
      });
    }
    w.listeners.add(listener);
    const set = w.listeners;
    return () => {
      set.delete(listener);
      if (set.size === 0 && this.watched.get(runId)?.listeners === set) this.watched.delete(runId);
    };
  }

  viewers(runId?: string): number {
    if (runId) return this.watched.get(runId)?.listeners.size ?? 0;
    let n = 0;
    for (const w of this.watched.values()) n += w.listeners.size;
    return n;
  }

  async close(): Promise<void> {
    this.closed = true;
    this.watched.clear();
    // quit() waits for Redis; a connection that never came up (or is down) is just dropped.
    await Promise.allSettled([this.sub, this.pub].map((c) => (c.status === 'ready' ? c.quit() : (c.disconnect(), Promise.resolve()))));
  }

  // ------------------------------------------------------------ internals

  private onMessage(message: string) {
    const nl = message.indexOf('\n');
    if (nl < 1) return;
    const runId = message.slice(0, nl);
    if (!this.watched.has(runId)) return; // nobody here watches this run: skip the parse
    let events: HubEvent[];
    try {
      events = JSON.parse(message.slice(nl + 1)) as HubEvent[];
    } catch {
      this.o.log.warn({ runId }, 'dropped a malformed live log message');
      return;
    }
    this.enqueue(runId, (state) => this.deliverAll(runId, state, events));
  }

  /** Runs `step` after everything already queued for the run, so delivery keeps publish order. */
  private enqueue(runId: string, step: (state: Watched) => Promise<void>) {
    const w = this.watched.get(runId);
    if (!w) return;
    w.chain = w.chain
      .then(() => (this.watched.get(runId) === w ? step(w) : undefined))
      .catch((err: Error) => this.o.log.warn({ runId, err: err.message }, 'live log delivery step failed; viewers catch up from the store'));
  }

  private async deliverAll(runId: string, state: Watched, events: HubEvent[]) {
    for (const e of events) {
      if (e.type === 'log') {
        if (state.last !== null && e.seq > state.last + 1) await this.fill(runId, state, e.seq - 1);
        state.last = Math.max(state.last ?? 0, e.seq);
      }
      this.emit(state, e);
    }
  }

  /** Delivers stored lines after `state.last` up to `upTo` (inclusive) or to the end. */
  private async fill(runId: string, state: Watched, upTo = Number.MAX_SAFE_INTEGER) {
    for (;;) {
      const after = state.last ?? 0;
      if (after >= upTo) return;
      const rows = await this.o.store.readLogs(runId, after, Math.min(PAGE, upTo - after));
      for (const r of rows) {
        state.last = r.seq;
        this.emit(state, { type: 'log', seq: r.seq, stage: r.stage as StageId, text: r.text, ts: r.ts });
      }
      if (rows.length < Math.min(PAGE, upTo - after)) return;
    }
  }

  /** After a reconnect: lines and a final status published while we were away. */
  private async catchUp(runId: string) {
    const state = this.watched.get(runId);
    if (!state) return;
    await this.fill(runId, state);
    const row = await this.o.store.getRun(runId);
    if (row && TERMINAL.has(row.status)) {
      this.emit(state, { type: 'status', seq: state.last ?? Number(row.last_seq), status: row.status as RunStatus, reason: row.reason });
    }
  }

  private emit(state: Watched, e: HubEvent) {
    for (const listener of [...state.listeners]) {
      try {
        listener(e);
      } catch (err) {
        state.listeners.delete(listener);
        this.o.log.warn({ err: (err as Error).message }, 'a log viewer failed');
      }
    }
  }
}
