/**
 * Live-log latency: the emulated Jenkins writes a line (stamped with the time of the write),
 * the backend polls progressiveText, stores and publishes it, a WS client receives it. The
 * delay is reported against JENKINS_POLL_MS, the floor of a polling relay, with the target
 * p95 ≤ JENKINS_POLL_MS + 100 ms. Two patterns: lines flowing steadily (the orchestrator
 * polls every JENKINS_POLL_MS/4 while lines come) and single lines after an idle spell (it
 * polls every JENKINS_POLL_MS then).
 */
import WebSocket from 'ws';
import { type BenchOptions, type BenchResult, ms, postRun, sleep, startBackendChild, stats, waitTerminal } from './lib/common.js';
import { type FakeBuild, startFakeJenkins } from './lib/fake_jenkins.js';

export async function latencyBench(o: BenchOptions): Promise<BenchResult> {
  const pollMs = 1000;
  const fake = await startFakeJenkins();
  const holder: { build: FakeBuild | null } = { build: null };
  fake.onTrigger((b) => {
    holder.build = b;
    b.append('Started by user bench\n[Pipeline] Start of Pipeline\n[Pipeline] { (Build & Unit Tests)\n');
  });
  const backend = await startBackendChild(fake, { JENKINS_POLL_MS: String(pollMs) });
  try {
    const id = await postRun(backend);
    while (!holder.build) await sleep(20);
    const build = holder.build;
    const samples = new Map<number, number>();
    const ws = new WebSocket(`${backend.wsBase}/ci/runs/${id}/logs?format=text`, { headers: backend.headers });
    ws.on('message', (d) => {
      const m = /^\[build\] lat (\d+) (\d+)$/.exec(String(d));
      if (m) samples.set(Number(m[1]), Date.now() - Number(m[2]));
    });
    await new Promise((r, j) => (ws.once('open', r), ws.once('error', j)));
    await sleep(1500);
    let i = 0;
    const steadyN = o.quick ? 40 : 300;
    const idleN = o.quick ? 5 : 20;
    const steady: number[] = [];
    for (let k = 0; k < steadyN; k++, i++) {
      steady.push(i);
      build.append(`[build] lat ${i} ${Date.now()}\n`);
      await sleep(50 + Math.random() * 100);
    }
    const idle: number[] = [];
    for (let k = 0; k < idleN; k++, i++) {
      // Long enough for the poll to fall back to JENKINS_POLL_MS.
      await sleep(1500 + Math.random() * 1000);
      idle.push(i);
      build.append(`[build] lat ${i} ${Date.now()}\n`);
    }
    await sleep(pollMs + 500);
    build.append('[Pipeline] End of Pipeline\nFinished: SUCCESS\n');
    build.finish();
    await waitTerminal(backend, id, 60_000);
    ws.close();
    const got = (ids: number[]) => ids.map((x) => samples.get(x)).filter((v): v is number => v !== undefined);
    const s = stats(got(steady));
    const a = stats(got(idle));
    const all = stats([...got(steady), ...got(idle)]);
    const target = pollMs + 100;
    const lost = steadyN + idleN - samples.size;
    return {
      name: 'Live-log latency (Jenkins writes a line → WS client has it)',
      setup: `JENKINS_POLL_MS=${pollMs}; ${steadyN} lines flowing (one every 50–150 ms) + ${idleN} single lines after 1.5–2.5 s idle; backend = the built server (node dist/server.js) in a child process, bench-only Jenkins`,
      rows: [
        { metric: 'flowing: p50 / p95 / p99', value: `${ms(s.p50)} / ${ms(s.p95)} / ${ms(s.p99)}`, against: `poll ${pollMs} ms (fast poll ${pollMs / 4} ms)`, ratio: `p95 = ${(s.p95 / pollMs).toFixed(2)}× poll` },
        { metric: 'after idle: p50 / p95 / p99', value: `${ms(a.p50)} / ${ms(a.p95)} / ${ms(a.p99)}`, against: `poll ${pollMs} ms`, ratio: `p95 = ${(a.p95 / pollMs).toFixed(2)}× poll` },
        { metric: 'all lines: p95', value: ms(all.p95), against: `target ≤ ${target} ms`, ratio: `${(all.p95 / target).toFixed(2)}× target`, verdict: all.p95 <= target ? 'meets target' : 'misses target' },
        { metric: 'lines lost', value: String(lost), against: '0', verdict: lost === 0 ? 'meets target' : 'misses target' },
      ],
      notes: [],
    };
  } finally {
    await backend.proc.kill();
    await fake.close();
  }
}
