/**
 * Fan-out: many WS viewers on one active run.
 *  A/B. The same stamped line stream (20 lines/s) watched by 1 viewer, then by 500: delivery
 *       latency (Jenkins write → viewer has it) p50/p99 over every viewer × line, lines lost,
 *       backend CPU (its own /proc counters over the window) and RSS.
 *  C1/C2. A heavy stream (8 KB lines, ~16 MB) watched by 20 fast viewers, without and then with
 *       one viewer that never reads: the fast viewers' p99 side by side, whether the slow one
 *       was dropped (close 4408 slow_consumer once it exceeds 4 MiB buffered) and the backend's
 *       RSS growth meanwhile (bounded, not growing with the backlog).
 */
import WebSocket from 'ws';
import { type BenchOptions, type BenchResult, cpuSecondsOf, mb, memOf, ms, postRun, sleep, startBackendChild, stats, waitTerminal, type BackendChild } from './lib/common.js';
import { type FakeBuild, startFakeJenkins } from './lib/fake_jenkins.js';

interface Viewer {
  ws: WebSocket;
  lat: Map<string, number>;
  bytes: number;
  closed: { code: number } | null;
}

function connect(b: BackendChild, runId: string, from: number, samples = true): Promise<Viewer> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(`${b.wsBase}/ci/runs/${runId}/logs?format=text&from=${from}`, { headers: b.headers });
    const v: Viewer = { ws, lat: new Map(), bytes: 0, closed: null };
    ws.on('message', (d: Buffer) => {
      v.bytes += d.length;
      if (!samples) return;
      const s = d.toString();
      const m = /^\[build\] t (\w+) (\d+)/.exec(s);
      if (m) v.lat.set(m[1]!, Date.now() - Number(m[2]));
    });
    ws.once('close', (code) => (v.closed = { code }));
    ws.once('open', () => resolve(v));
    ws.once('error', reject);
  });
}

async function connectMany(b: BackendChild, runId: string, n: number, from: number): Promise<Viewer[]> {
  const out: Viewer[] = [];
  // In batches: 500 simultaneous handshakes would measure the handshake storm, not fan-out.
  for (let i = 0; i < n; i += 50) out.push(...(await Promise.all(Array.from({ length: Math.min(50, n - i) }, () => connect(b, runId, from)))));
  return out;
}

/** Writes stamped lines at `perSec` for `seconds`; returns their keys. */
async function stampedStream(build: FakeBuild, tag: string, perSec: number, seconds: number, bulk?: { bytesPerLine: number; perTick: number }): Promise<string[]> {
  const keys: string[] = [];
  const pad = bulk ? 'x'.repeat(bulk.bytesPerLine) : '';
  const total = Math.round(perSec * seconds);
  for (let i = 0; i < total; i++) {
    const key = `${tag}${i}`;
    keys.push(key);
    let text = `[build] t ${key} ${Date.now()}\n`;
    if (bulk) for (let k = 0; k < bulk.perTick; k++) text += `[build] bulk ${pad}\n`;
    build.append(text);
    await sleep(1000 / perSec);
  }
  return keys;
}

function latencies(viewers: Viewer[], keys: string[]) {
  const all: number[] = [];
  let lost = 0;
  for (const v of viewers)
    for (const k of keys) {
      const x = v.lat.get(k);
      if (x === undefined) lost++;
      else all.push(x);
    }
  return { ...stats(all), lost };
}

export async function fanoutBench(o: BenchOptions): Promise<BenchResult> {
  const n = o.quick ? 100 : 500;
  const seconds = o.quick ? 4 : 10;
  const fake = await startFakeJenkins();
  const builds: FakeBuild[] = [];
  fake.onTrigger((b) => {
    builds.push(b);
    b.append('Started by user bench\n[Pipeline] { (Build & Unit Tests)\n');
  });
  const backend = await startBackendChild(fake, { JENKINS_POLL_MS: '200' });
  const rows: BenchResult['rows'] = [];
  const notes: string[] = [];
  try {
    // --- A/B: 1 viewer, then n viewers, same stream.
    const id = await postRun(backend);
    while (!builds[0]) await sleep(20);
    const build = builds[0];
    const first = await connect(backend, id, 0);
    await sleep(1000);
    let cpu0 = cpuSecondsOf(backend.pid);
    let w0 = Date.now();
    const keysA = await stampedStream(build, 'a', 20, seconds);
    await sleep(1000);
    const cpuA = (cpuSecondsOf(backend.pid) - cpu0) / ((Date.now() - w0) / 1000);
    const a = latencies([first], keysA);
    const others = await connectMany(backend, id, n - 1, 0);
    const everyone = [first, ...others];
    await sleep(1500);
    const rssB0 = memOf(backend.pid).rss;
    cpu0 = cpuSecondsOf(backend.pid);
    w0 = Date.now();
    const keysB = await stampedStream(build, 'b', 20, seconds);
    await sleep(1500);
    const cpuB = (cpuSecondsOf(backend.pid) - cpu0) / ((Date.now() - w0) / 1000);
    const bStats = latencies(everyone, keysB);
    const rssB = memOf(backend.pid).rss;
    rows.push(
      { metric: '1 viewer: delivery p50 / p99', value: `${ms(a.p50)} / ${ms(a.p99)}`, against: 'JENKINS_POLL_MS=200 (fast poll 50 ms)' },
      { metric: `${n} viewers: delivery p50 / p99`, value: `${ms(bStats.p50)} / ${ms(bStats.p99)}`, against: `1 viewer p99 ${ms(a.p99)}`, ratio: `${(bStats.p99 / a.p99).toFixed(2)}×` },
      { metric: `${n} viewers: lines lost (viewer × line)`, value: String(bStats.lost), against: '0', verdict: bStats.lost === 0 ? 'meets target' : 'misses target' },
      { metric: 'backend CPU, 1 viewer → n viewers', value: `${(cpuA * 100).toFixed(0)} % → ${(cpuB * 100).toFixed(0)} % of one core`, ratio: `${(cpuB / Math.max(cpuA, 0.001)).toFixed(1)}×` },
      { metric: `backend RSS with ${n} viewers`, value: mb(rssB), against: `before the stream ${mb(rssB0)}` },
    );
    for (const v of everyone) v.ws.close();
    build.append('Finished: SUCCESS\n');
    build.finish();
    await waitTerminal(backend, id, 60_000);

    // --- C1/C2: heavy stream, 20 fast viewers, then the same plus one that never reads.
    const id2 = await postRun(backend);
    while (!builds[1]) await sleep(20);
    const build2 = builds[1];
    const fast = await connectMany(backend, id2, 20, 0);
    await sleep(1000);
    const heavySeconds = o.quick ? 4 : 8;
    // ~8 KB per bulk line, 5 per tick, 20 ticks/s: ~0.8 MB/s of console, ×21 viewers on the wire.
    const bulk = { bytesPerLine: 8000, perTick: 5 };
    const keysC1 = await stampedStream(build2, 'c', 20, heavySeconds, bulk);
    await sleep(1500);
    const c1 = latencies(fast, keysC1);
    const slow = await connect(backend, id2, 0, false);
    // Never read: the kernel buffers fill, then the server's bufferedAmount grows until it drops us.
    (slow.ws as unknown as { _socket: import('node:net').Socket })._socket.pause();
    const rssC2a = memOf(backend.pid).rss;
    let rssC2peak = rssC2a;
    const sampler = setInterval(() => (rssC2peak = Math.max(rssC2peak, memOf(backend.pid).rss)), 100);
    const keysC2 = await stampedStream(build2, 'd', 20, heavySeconds * 2, bulk);
    await sleep(1500);
    clearInterval(sampler);
    const c2 = latencies(fast, keysC2);
    (slow.ws as unknown as { _socket: import('node:net').Socket })._socket.resume();
    const t = Date.now();
    while (!slow.closed && Date.now() - t < 15_000) await sleep(100);
    const consoleMb = (build2.size / 1024 / 1024).toFixed(0);
    rows.push(
      { metric: '20 fast viewers, heavy stream: p50 / p99', value: `${ms(c1.p50)} / ${ms(c1.p99)}`, against: 'no slow reader' },
      { metric: '… with one viewer that never reads: p50 / p99', value: `${ms(c2.p50)} / ${ms(c2.p99)}`, against: `without ${ms(c1.p99)}`, ratio: `${(c2.p99 / c1.p99).toFixed(2)}×` },
      { metric: 'fast viewers: lines lost', value: String(c1.lost + c2.lost), against: '0', verdict: c1.lost + c2.lost === 0 ? 'meets target' : 'misses target' },
      {
        metric: 'slow viewer dropped',
        value: slow.closed ? `close ${slow.closed.code} after ${mb(slow.bytes)} read` : `not dropped (${mb(slow.bytes)} read)`,
        against: '4408 slow_consumer',
        verdict: slow.closed?.code === 4408 ? 'meets target' : 'misses target',
      },
      { metric: 'backend RSS while the slow viewer lags', value: `${mb(rssC2a)} → peak ${mb(rssC2peak)}`, against: `console ${consoleMb} MB by then; cap 4 MiB per viewer`, ratio: `+${mb(rssC2peak - rssC2a)}` },
    );
    for (const v of fast) v.ws.close();
    slow.ws.terminate();
    build2.append('Finished: SUCCESS\n');
    build2.finish();
    await waitTerminal(backend, id2, 120_000);
    notes.push('viewers run in the bench process on the same 2 cores as the backend, so their own CPU inflates the latencies');
    return {
      name: 'Fan-out (WS viewers on one active run)',
      setup: `${n} viewers (text stream), 20 stamped lines/s for ${seconds} s; slow-reader test: 20 fast viewers + 1 paused socket, ~0.8 MB/s of 8 KB lines; backend = the built server (node dist/server.js) in a child process, bench-only Jenkins`,
      rows,
      notes,
    };
  } finally {
    await backend.proc.kill();
    await fake.close();
  }
}
