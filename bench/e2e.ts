/**
 * End to end against the sandbox Jenkins (real emulated pipeline, real Newman, real aggregator):
 *  - POST /ci/runs → the trigger (`buildWithParameters`) reaching Jenkins, timed at a
 *    pass-through proxy in front of it;
 *  - the Jenkins build finishing (its timestamp + duration) → the run's final status, reports
 *    fetched and aggregated (`finished_at`).
 * Reported against JENKINS_POLL_MS, the default 1000 ms.
 */
import { startSandbox } from '../backend/ci/src/sandbox/index.js';
import { startFaultyProxy } from '../backend/ci/test/faults/helpers/faulty_proxy.js';
import { type BenchOptions, type BenchResult, ms, startBackendChild, stats, waitTerminal } from './lib/common.js';

export async function e2eBench(o: BenchOptions): Promise<BenchResult> {
  const pollMs = 1000;
  const runs = o.quick ? 2 : 5;
  const sandbox = await startSandbox({ host: '127.0.0.1', port: 0, timeScale: 0.02 });
  const jenkinsUrl = sandbox.jenkinsUrl.endsWith('/') ? sandbox.jenkinsUrl : `${sandbox.jenkinsUrl}/`;
  const proxy = await startFaultyProxy(jenkinsUrl);
  const backend = await startBackendChild({ url: proxy.url, user: sandbox.user, token: sandbox.token }, { JENKINS_POLL_MS: String(pollMs) });
  const auth = 'Basic ' + Buffer.from(`${sandbox.user}:${sandbox.token}`).toString('base64');
  const toTrigger: number[] = [];
  const toFinal: number[] = [];
  const statuses: string[] = [];
  try {
    for (let i = 0; i < runs; i++) {
      const seenBefore = proxy.seen.length;
      const posted = Date.now();
      const res = await fetch(`${backend.base}/ci/runs`, {
        method: 'POST',
        headers: { ...backend.headers, 'content-type': 'application/json' },
        body: JSON.stringify({ test_suite: 'api' }),
      });
      const { run_id } = (await res.json()) as { run_id: string };
      const run = await waitTerminal(backend, run_id, 120_000);
      statuses.push(run.status);
      const trig = proxy.seen.slice(seenBefore).find((s) => s.method === 'POST' && s.path.includes('/buildWithParameters'));
      if (trig) toTrigger.push(trig.at - posted);
      const b = (await (await fetch(`${jenkinsUrl}job/WeSign-CI/${run.jenkins.number}/api/json?tree=timestamp,duration`, { headers: { authorization: auth } })).json()) as {
        timestamp: number;
        duration: number;
      };
      toFinal.push(Date.parse(run.finished_at) - (b.timestamp + b.duration));
    }
    const t = stats(toTrigger);
    const f = stats(toFinal);
    return {
      name: 'End to end (sandbox Jenkins, real Newman and aggregator)',
      setup: `${runs} deploy runs with test_suite=api one after another; JENKINS_POLL_MS=${pollMs}; backend = the built server (node dist/server.js) in a child process; a pass-through proxy times the trigger`,
      rows: [
        { metric: 'POST /ci/runs → trigger at Jenkins: median / max', value: `${ms(t.p50)} / ${ms(t.max)}`, against: `poll ${pollMs} ms`, ratio: `${(t.p50 / pollMs).toFixed(2)}× poll` },
        { metric: 'build finished → run final (reports aggregated): median / max', value: `${ms(f.p50)} / ${ms(f.max)}`, against: `poll ${pollMs} ms`, ratio: `${(f.p50 / pollMs).toFixed(2)}× poll` },
        { metric: 'final statuses', value: statuses.join(', '), against: 'success', verdict: statuses.every((s) => s === 'success') ? 'meets target' : 'misses target' },
      ],
      notes: ['the trigger time includes the Jenkins check (ping, job, parameters) and the look-up for an existing build of the run (queue, builds, a 500 ms settle re-read) that prevents a double trigger'],
    };
  } finally {
    await backend.proc.kill();
    await proxy.close();
    await sandbox.close();
  }
}
