/**
 * A resumable client for `WS /ci/runs/{id}/logs?format=json&from=<seq>`.
 *
 * Promises: events reach `onEvent` in stream order; a log line is delivered
 * once (a reconnect asks for `from=<last log seq seen>`, and any line at or
 * below it is dropped as a second guard); after an unexpected close it
 * reconnects by itself with capped backoff and says so through `onState`;
 * after an `end` event, a fatal `error` event, or close(), it stays closed.
 */
import type { WsEvent } from '../api/types.js';

export type LogSocketState = 'connecting' | 'open' | 'reconnecting' | 'ended' | 'failed' | 'closed';

export interface LogSocketOptions {
  /** Builds the URL to (re)connect to, resuming after `fromSeq`. */
  url: (fromSeq: number) => string;
  onEvent: (event: WsEvent) => void;
  onState?: (state: LogSocketState, detail: { attempt: number; message?: string }) => void;
  /** Start after this seq (lines already held). */
  fromSeq?: number;
  WebSocketImpl?: typeof WebSocket;
  /** Delay before reconnect attempt n (1-based). */
  backoffMs?: (attempt: number) => number;
  /** No frame (not even a ping) for this long means the connection is dead. */
  staleAfterMs?: number;
}

/** Error codes after which reconnecting cannot help. */
const FATAL_CODES = new Set(['not_found', 'unauthorized', 'forbidden', 'invalid_input']);

export const defaultBackoff = (attempt: number) => Math.min(10_000, 500 * 2 ** (attempt - 1));

export class LogSocket {
  private ws: WebSocket | null = null;
  private timer: ReturnType<typeof setTimeout> | null = null;
  private staleTimer: ReturnType<typeof setTimeout> | null = null;
  private attempt = 0;
  private stopped = false;
  private fatalMessage: string | undefined;
  lastSeq: number;
  state: LogSocketState = 'closed';

  constructor(private readonly opts: LogSocketOptions) {
    this.lastSeq = opts.fromSeq ?? 0;
  }

  start(): void {
    this.stopped = false;
    this.connect();
  }

  /** Stops for good (component unmount). */
  close(): void {
    this.stopped = true;
    this.clearTimers();
    const ws = this.ws;
    this.ws = null;
    if (ws && ws.readyState <= 1) ws.close(1000, 'client closed');
    this.setState('closed');
  }

  private setState(state: LogSocketState, message?: string): void {
    this.state = state;
    this.opts.onState?.(state, { attempt: this.attempt, message });
  }

  private clearTimers(): void {
    if (this.timer) clearTimeout(this.timer);
    if (this.staleTimer) clearTimeout(this.staleTimer);
    this.timer = this.staleTimer = null;
  }

  private armStaleTimer(ws: WebSocket): void {
    if (!this.opts.staleAfterMs) return;
    if (this.staleTimer) clearTimeout(this.staleTimer);
    this.staleTimer = setTimeout(() => ws.close(4000, 'no frames'), this.opts.staleAfterMs);
  }

  private connect(): void {
    const Impl = this.opts.WebSocketImpl ?? globalThis.WebSocket;
    this.setState(this.attempt === 0 ? 'connecting' : 'reconnecting');
    let ws: WebSocket;
    try {
      ws = new Impl(this.opts.url(this.lastSeq));
    } catch (err) {
      this.scheduleReconnect((err as Error).message);
      return;
    }
    this.ws = ws;
    let ended = false;
    ws.onopen = () => {
      if (this.ws !== ws) return;
      this.attempt = 0;
      this.setState('open');
      this.armStaleTimer(ws);
    };
    ws.onmessage = (msg: MessageEvent) => {
      if (this.ws !== ws) return;
      this.armStaleTimer(ws);
      let event: WsEvent;
      try {
        event = JSON.parse(typeof msg.data === 'string' ? msg.data : String(msg.data)) as WsEvent;
      } catch {
        return; // Not JSON: not ours to interpret. The stream goes on.
      }
      if (event.type === 'log') {
        if (event.seq <= this.lastSeq) return;
        this.lastSeq = event.seq;
      }
      if (event.type === 'end') ended = true;
      if (event.type === 'error' && FATAL_CODES.has(event.code)) this.fatalMessage = event.message;
      this.opts.onEvent(event);
      if (ended) ws.close(1000, 'end of stream');
    };
    ws.onclose = (ev: CloseEvent) => {
      if (this.ws !== ws) return;
      this.ws = null;
      if (this.staleTimer) clearTimeout(this.staleTimer);
      if (this.stopped) return;
      if (ended) return this.setState('ended');
      if (this.fatalMessage) return this.setState('failed', this.fatalMessage);
      this.scheduleReconnect(ev.reason || `connection closed (code ${ev.code})`);
    };
    ws.onerror = () => {
      // The close event follows and decides what to do.
    };
  }

  private scheduleReconnect(message: string): void {
    this.attempt++;
    this.setState('reconnecting', message);
    const delay = (this.opts.backoffMs ?? defaultBackoff)(this.attempt);
    this.timer = setTimeout(() => {
      this.timer = null;
      if (!this.stopped) this.connect();
    }, delay);
  }
}
