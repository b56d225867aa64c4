/**
 * A real `ws` WebSocketServer on loopback that plays the backend's log stream
 * contract: on connect it reads from=<seq> and sends every stored event after
 * it, then whatever the test pushes live. `down` refuses new connections.
 */
import type { AddressInfo } from 'node:net';
import { WebSocketServer, type WebSocket } from 'ws';
import type { WsEvent } from '../api/types.js';

export interface TestLogServer {
  port: number;
  baseUrl: string;
  /** The `from` query of each accepted connection, in order. */
  froms: number[];
  events: WsEvent[];
  down: boolean;
  /** Stores an event and sends it to every open connection. */
  push(ev: WsEvent): void;
  /** Drops every open connection without a close handshake. */
  dropAll(): void;
  connections(): number;
  close(): Promise<void>;
}

export async function startLogServer(initial: WsEvent[] = []): Promise<TestLogServer> {
  const events: WsEvent[] = [...initial];
  const sockets = new Set<WebSocket>();
  const state = { down: false };
  const wss = new WebSocketServer({
    host: '127.0.0.1',
    port: 0,
    verifyClient: (_info, cb) => (state.down ? cb(false, 503, 'down for the test') : cb(true)),
  });
  await new Promise<void>((r) => wss.once('listening', () => r()));
  const froms: number[] = [];
  const seqOf = (e: WsEvent) => ('seq' in e ? e.seq : 0);
  wss.on('connection', (ws, req) => {
    const url = new URL(req.url ?? '/', 'http://127.0.0.1');
    const from = Number(url.searchParams.get('from') ?? '0');
    froms.push(from);
    sockets.add(ws);
    ws.on('close', () => sockets.delete(ws));
    for (const e of events) if (e.type !== 'log' || seqOf(e) > from) ws.send(JSON.stringify(e));
  });
  const { port } = wss.address() as AddressInfo;
  return {
    port,
    baseUrl: `http://127.0.0.1:${port}`,
    froms,
    events,
    get down() {
      return state.down;
    },
    set down(v: boolean) {
      state.down = v;
    },
    push(ev) {
      events.push(ev);
      for (const s of sockets) s.send(JSON.stringify(ev));
    },
    dropAll() {
      for (const s of sockets) s.terminate();
    },
    connections: () => sockets.size,
    close: () =>
      new Promise<void>((r) => {
        for (const s of sockets) s.terminate();
        wss.close(() => r());
      }),
  };
}

export const logEvent = (seq: number, text: string, stage: 'checkout' | 'build' | 'smoke' | 'preflight' = 'build'): WsEvent => ({
  type: 'log',
  seq,
  stage,
  text,
  ts: new Date(Date.UTC(2026, 11, 4, 10, 0, seq)).toISOString(),
});
