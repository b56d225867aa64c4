/**
 * Typed internal events (graphile/worker's WorkerEventMap + safeEmit): the
 * orchestrator emits them; metrics and tests listen. A listener that throws is
 * logged and never breaks the run.
 */
export interface RunEventMap {
  'run:queued': { runId: string; app: string; env: string };
  'run:started': { runId: string };
  'run:triggered': { runId: string; queueId: number };
  'stage:changed': { runId: string; stage: string; status: string };
  'run:finished': { runId: string; status: string };
}

type Listener<K extends keyof RunEventMap> = (payload: RunEventMap[K]) => void;

export class RunEvents {
  private readonly listeners = new Map<keyof RunEventMap, Set<Listener<any>>>();
  constructor(private readonly onError: (err: unknown, event: string) => void = () => {}) {}

  on<K extends keyof RunEventMap>(event: K, listener: Listener<K>): () => void {
    let set = this.listeners.get(event);
    if (!set) this.listeners.set(event, (set = new Set()));
    set.add(listener);
    return () => set.delete(listener);
  }

  emit<K extends keyof RunEventMap>(event: K, payload: RunEventMap[K]): void {
    for (const l of this.listeners.get(event) ?? []) {
      try {
        l(payload);
      } catch (err) {
        this.onError(err, event);
      }
    }
  }
}
