import { afterEach, describe, expect, it } from 'vitest';
import { waitFor } from '@testing-library/react';
import type { WsEvent } from '../api/types.js';
import { logEvent, startLogServer, type TestLogServer } from '../test/wsServer.js';
import { LogSocket, type LogSocketState } from './logSocket.js';

let server: TestLogServer | null = null;
let socket: LogSocket | null = null;
afterEach(async () => {
  socket?.close();
  await server?.close();
  server = socket = null;
});

function collect(srv: TestLogServer, fromSeq = 0) {
  const received: WsEvent[] = [];
  const states: LogSocketState[] = [];
  const s = new LogSocket({
    url: (from) => `ws://127.0.0.1:${srv.port}/ci/runs/r1/logs?format=json&from=${from}`,
    onEvent: (e) => received.push(e),
    onState: (st) => states.push(st),
    fromSeq,
    backoffMs: () => 20,
  });
  return { s, received, states, seqs: () => received.filter((e) => e.type === 'log').map((e) => (e as { seq: number }).seq) };
}

describe('LogSocket', () => {
  it('after a dropped connection, reconnects with from=<last seq seen> and gets no gap and no duplicate', async () => {
    server = await startLogServer([logEvent(1, 'one'), logEvent(2, 'two'), logEvent(3, 'three')]);
    const c = collect(server);
    socket = c.s;
    socket.start();
    await waitFor(() => expect(c.seqs()).toEqual([1, 2, 3]));

    server.down = true; // the reconnect must wait, so the "reconnecting" state is observable
    server.dropAll();
    await waitFor(() => expect(c.states).toContain('reconnecting'));
    server.push(logEvent(4, 'four')); // written while the client was away
    server.push(logEvent(5, 'five'));
    server.down = false;

    await waitFor(() => expect(c.seqs()).toEqual([1, 2, 3, 4, 5]));
    expect(server.froms[0]).toBe(0);
    expect(server.froms.at(-1)).toBe(3);
    expect(c.states.at(-1)).toBe('open');

    server.push({ type: 'status', seq: 5, status: 'success', reason: null });
    server.push({ type: 'end', seq: 5, status: 'success' });
    await waitFor(() => expect(c.states.at(-1)).toBe('ended'));
    const connectionsBefore = server.froms.length;
    await new Promise((r) => setTimeout(r, 100));
    expect(server.froms.length).toBe(connectionsBefore); // no reconnect after end
  });

  it('drops a log line at or below the last seq even if the server resends it', async () => {
    server = await startLogServer([logEvent(1, 'one')]);
    const c = collect(server);
    socket = c.s;
    socket.start();
    await waitFor(() => expect(c.seqs()).toEqual([1]));
    server.push(logEvent(1, 'one again'));
    server.push(logEvent(2, 'two'));
    await waitFor(() => expect(c.seqs()).toEqual([1, 2]));
    expect(c.received.filter((e) => e.type === 'log').map((e) => (e as { text: string }).text)).toEqual(['one', 'two']);
  });

  it('starts after the lines it already holds', async () => {
    server = await startLogServer([logEvent(1, 'a'), logEvent(2, 'b'), logEvent(3, 'c')]);
    const c = collect(server, 2);
    socket = c.s;
    socket.start();
    await waitFor(() => expect(c.seqs()).toEqual([3]));
    expect(server.froms).toEqual([2]);
  });

  it('stops on a fatal error event instead of retrying', async () => {
    server = await startLogServer([{ type: 'error', code: 'not_found', message: 'run r1 was not found; pick a run from GET /ci/runs' }]);
    const c = collect(server);
    socket = c.s;
    socket.start();
    await waitFor(() => expect(c.received.length).toBe(1));
    server.dropAll();
    await waitFor(() => expect(c.states.at(-1)).toBe('failed'));
    await new Promise((r) => setTimeout(r, 100));
    expect(server.froms).toEqual([0]);
  });
});
