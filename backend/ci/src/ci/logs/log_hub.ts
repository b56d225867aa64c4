/**
 * LogHub: live fan-out of a run's events to its WS viewers.
 *
 * The store is the source of truth (lines are persisted with their seq before
 * they are published); the hub only carries what happened *after* a viewer
 * subscribed. A viewer therefore subscribes first, replays history from the
 * store, then drops live events whose seq it already sent: no gap, no duplicate.
 *
 * Ordering: events of one run are delivered in publish order. A listener that
 * throws is logged and removed; it never breaks the publisher (the worker).
 */
import type { Stage, StageId, RunStatus } from '../models.js';

export type HubEvent =
  | { type: 'log'; seq: number; stage: StageId; text: string; ts: string }
  | { type: 'stage'; seq: number; stage: Stage }
  | { type: 'status'; seq: number; status: RunStatus; reason: string | null };

export type HubListener = (e: HubEvent) => void;

export interface LogHub {
  publish(runId: string, events: HubEvent[]): void;
  /** Returns the unsubscribe function. */
  subscribe(runId: string, listener: HubListener): () => void;
  viewers(runId?: string): number;
  close(): Promise<void>;
}

export class InProcessLogHub implements LogHub {
  private readonly listeners = new Map<string, Set<HubListener>>();

  constructor(private readonly onListenerError: (err: unknown) => void = () => {}) {}

  publish(runId: string, events: HubEvent[]): void {
    const set = this.listeners.get(runId);
    if (!set || events.length === 0) return;
    for (const listener of [...set]) {
      try {
        for (const e of events) listener(e);
      } catch (err) {
        set.delete(listener);
        this.onListenerError(err);
      }
    }
  }

  subscribe(runId: string, listener: HubListener): () => void {
    let set = this.listeners.get(runId);
    if (!set) this.listeners.set(runId, (set = new Set()));
    set.add(listener);
    return () => {
      set.delete(listener);
      if (set.size === 0) this.listeners.delete(runId);
    };
  }

  viewers(runId?: string): number {
    if (runId) return this.listeners.get(runId)?.size ?? 0;
    let n = 0;
    for (const s of this.listeners.values()) n += s.size;
    return n;
  }

  async close(): Promise<void> {
    this.listeners.clear();
  }
}
