// The Jenkins client against the sandbox Jenkins over real HTTP on loopback: the whole life of
// a build (trigger → queue → build → console → stages → artifacts), stop, recovery lookups,
// checkJob, auth, the crumb flow of a password login, and the jenkins_flaky / jenkins_down_s faults.
import { createHash, randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import yauzl from 'yauzl';
import { ProviderError } from '../src/ci/errors.js';
import { withRetry, type RetryOptions } from '../src/ci/providers/jenkins/retry.js';
import { JenkinsClient } from '../src/ci/providers/jenkins_client.js';
import type { BuildRef, JobParameters, QueueRef } from '../src/ci/providers/provider.js';
import { startSandbox, type Sandbox } from '../src/sandbox/index.js';

const JOB = 'WeSign-CI';
const CONTRACT_PARAMS = ['BRANCH_OR_TAG', 'DRY_RUN', 'TEST_SUITE', 'ACTION', 'ROLLBACK_TO', 'QA_RUN_ID'];
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const runId = () => randomUUID();

function params(over: Partial<JobParameters> = {}): JobParameters {
  return { BRANCH_OR_TAG: 'main', DRY_RUN: true, TEST_SUITE: 'none', ACTION: 'deploy', ROLLBACK_TO: '', QA_RUN_ID: runId(), ...over };
}

async function untilBuild(c: JenkinsClient, queue: QueueRef): Promise<BuildRef> {
  for (let i = 0; i < 2000; i++) {
    const st = await c.queueState(queue);
    if (st.cancelled) throw new Error('queue item was cancelled');
    if (st.build) return st.build;
    await sleep(10);
  }
  throw new Error('the queue item never became a build');
}

/** Follows progressiveText from 0 until X-More-Data is gone, as the orchestrator does. */
async function followConsole(c: JenkinsClient, build: BuildRef, call: <T>(f: () => Promise<T>) => Promise<T> = (f) => f()) {
  let offset = 0;
  const chunks: string[] = [];
  for (let i = 0; i < 20_000; i++) {
    const chunk = await call(() => c.readConsole(build, offset));
    chunks.push(chunk.text);
    expect(chunk.nextOffset).toBeGreaterThanOrEqual(offset);
    offset = chunk.nextOffset;
    if (!chunk.more) return { text: chunks.join(''), chunks: chunks.length, offset };
    await sleep(15);
  }
  throw new Error('the console never completed');
}

async function untilFinished(c: JenkinsClient, build: BuildRef) {
  for (let i = 0; i < 2000; i++) {
    const st = await c.buildState(build);
    if (!st.building) return st;
    await sleep(20);
  }
  throw new Error('the build never finished');
}

/** The end of a console, to explain in a failure message why a sandbox build did not succeed. */
const tail = (text: string) => `build console (last lines):\n${text.split('\n').slice(-25).join('\n')}`;

const readAll = async (s: ReadableStream<Uint8Array>) => Buffer.from(await new Response(s).arrayBuffer());
const lf = (s: string) => s.replace(/\r\n/g, '\n');

function zipEntries(buf: Buffer): Promise<Map<string, Buffer>> {
  return new Promise((resolve, reject) => {
    yauzl.fromBuffer(buf, { lazyEntries: true }, (err, zip) => {
      if (err || !zip) return reject(err ?? new Error('no zip'));
      const out = new Map<string, Buffer>();
      zip.on('entry', (entry: yauzl.Entry) => {
        if (entry.fileName.endsWith('/')) return zip.readEntry();
        zip.openReadStream(entry, (e, rs) => {
          if (e || !rs) return reject(e ?? new Error('no stream'));
          const parts: Buffer[] = [];
          rs.on('data', (d: Buffer) => parts.push(d));
          rs.on('end', () => {
            out.set(entry.fileName, Buffer.concat(parts));
            zip.readEntry();
          });
        });
      });
      zip.on('end', () => resolve(out));
      zip.on('error', reject);
      zip.readEntry();
    });
  });
}

describe('Jenkins client against the sandbox Jenkins', () => {
  let sb: Sandbox;
  let c: JenkinsClient;
  const requests: string[] = [];

  beforeAll(async () => {
    sb = await startSandbox({ timeScale: 0.02, consoleNotes: true, jobs: [JOB, 'Slow-CI'] });
    c = new JenkinsClient({ baseUrl: sb.jenkinsUrl, user: sb.user, apiToken: sb.token, locateSettleMs: 100, onRequest: (m, p, s) => requests.push(`${m} ${p} ${s}`) });
  });
  afterAll(async () => {
    await sb?.close();
  });

  it('pings and reports the Jenkins version header', async () => {
    const { version } = await c.ping();
    expect(typeof version).toBe('string');
  });

  it('checkJob sees the contract parameters, and exists:false for a job that is not there', async () => {
    const job = await c.checkJob(JOB);
    expect(job.exists).toBe(true);
    expect(job.buildable).toBe(true);
    expect([...job.parameters].sort()).toEqual([...CONTRACT_PARAMS].sort());
    const suite = job.definitions.find((d) => d.name === 'TEST_SUITE');
    expect(suite?.choices).toEqual(['full', 'api', 'e2e', 'none']);
    expect(job.definitions.find((d) => d.name === 'DRY_RUN')?.defaultValue).toBe(false);
    expect(await c.checkJob('folder/No-Such-Job')).toEqual({ exists: false, buildable: false, parameters: [], definitions: [] });
  });

  let dryRun: { build: BuildRef; qaRunId: string } | null = null;

  it('triggers with parameters → queue item → build number, and the build carries the parameters', async () => {
    const p = params({ BRANCH_OR_TAG: 'release/1.2', TEST_SUITE: 'none' });
    const queue = await c.trigger(JOB, p);
    expect(queue.id).toBeGreaterThan(0);
    const build = await untilBuild(c, queue);
    expect(build.job).toBe(JOB);
    expect(build.number).toBeGreaterThan(0);
    const state = await c.buildState(build);
    expect(state.parameters).toMatchObject({ BRANCH_OR_TAG: 'release/1.2', DRY_RUN: true, TEST_SUITE: 'none', ACTION: 'deploy', QA_RUN_ID: p.QA_RUN_ID });
    dryRun = { build, qaRunId: p.QA_RUN_ID };
  });

  it('follows the console to the end with console notes on, losing and doubling nothing (= consoleText)', async () => {
    const { build } = dryRun!;
    const followed = await followConsole(c, build);
    expect(followed.chunks).toBeGreaterThan(1); // it really was followed while running
    expect(followed.text).not.toMatch(/\x1b\[8m|ha:\/\/\/\//);
    expect(followed.text).not.toContain('\r\n');
    const full = (await readAll(await c.consoleText(build))).toString('utf8');
    expect(followed.text).toBe(lf(full));
    expect(followed.text).toContain('[Pipeline]');
    expect(followed.text.trimEnd().endsWith('Finished: SUCCESS'), tail(followed.text)).toBe(true);
    // The raw stream really carried notes and CRLFs, so the comparison above tested the stripping.
    const raw = await fetch(`${sb.jenkinsUrl}/job/${JOB}/${build.number}/logText/progressiveText?start=0`, {
      headers: { authorization: 'Basic ' + Buffer.from(`${sb.user}:${sb.token}`).toString('base64') },
    }).then((r) => r.text());
    expect(raw).toContain('\x1b[8mha:');
    expect(raw).toContain('\r\n');
    const final = await c.buildState(build);
    expect([final.building, final.result]).toEqual([false, 'SUCCESS']);
    // A read at the final cursor gives nothing new and says the log is complete.
    expect(await c.readConsole(build, followed.offset)).toEqual({ text: '', nextOffset: followed.offset, more: false });
  });

  it('reads the stages from wfapi/describe, in order, with the contract names', async () => {
    const stages = await c.stages(dryRun!.build);
    const names = stages.map((s) => s.name);
    expect(names.slice(0, 5)).toEqual(['Checkout', 'Pre-flight', 'Build & Unit Tests', 'Package', 'Config Transform']);
    for (const s of stages.slice(0, 5)) expect(s.status, s.name).toBe('SUCCESS');
    // A dry run does not transfer, deploy, smoke or test.
    const status = Object.fromEntries(stages.map((s) => [s.name, s.status]));
    for (const name of ['Transfer Artifact', 'Stop IIS Pools', 'Backup & Deploy', 'Start IIS + Smoke', 'Tests: API', 'Tests: E2E']) {
      expect(status[name], name).toBe('NOT_EXECUTED');
    }
    for (const s of stages) expect(s.durationMillis).toBeGreaterThanOrEqual(0);
  });

  it('lists the artifacts and downloads them byte for byte (vs. the archive zip and the recorded SHA-256)', async () => {
    const { build } = dryRun!;
    const artifacts = await c.listArtifacts(build);
    const paths = artifacts.map((a) => a.relativePath);
    expect(paths).toEqual(expect.arrayContaining(['reports/preflight.json', 'reports/artifact.json', 'artifact/WeSign.DevTest.zip']));
    expect(paths.some((p) => p.startsWith('reports/trx/') && p.endsWith('.trx'))).toBe(true);
    for (const a of artifacts) expect(a.fileName).toBe(a.relativePath.split('/').pop());

    // An independent copy of every file: Jenkins' artifact/*zip*/archive.zip (entries under archive/, §7).
    const res = await fetch(`${sb.jenkinsUrl}/job/${JOB}/${build.number}/artifact/*zip*/archive.zip`, {
      headers: { authorization: 'Basic ' + Buffer.from(`${sb.user}:${sb.token}`).toString('base64') },
    });
    expect(res.status).toBe(200);
    const entries = await zipEntries(Buffer.from(await res.arrayBuffer()));
    for (const a of artifacts) {
      const bytes = await readAll(await c.downloadArtifact(build, a.relativePath));
      expect(bytes.equals(entries.get(`archive/${a.relativePath}`)!), a.relativePath).toBe(true);
    }
    const manifest = JSON.parse((await readAll(await c.downloadArtifact(build, 'reports/artifact.json'))).toString('utf8')) as { sha256: string; bytes: number };
    const zip = await readAll(await c.downloadArtifact(build, 'artifact/WeSign.DevTest.zip'));
    expect(zip.length).toBe(manifest.bytes);
    expect(createHash('sha256').update(zip).digest('hex')).toBe(manifest.sha256);

    const missing = await c.downloadArtifact(build, 'reports/nope.json').catch((e: unknown) => e);
    expect((missing as ProviderError).code).toBe('artifact_not_found');
  });

  it('finds the build by QA_RUN_ID newest first, and nothing for an unknown run', async () => {
    const { build, qaRunId } = dryRun!;
    expect(await c.findBuildByRunId(JOB, qaRunId)).toMatchObject({ job: JOB, number: build.number });
    expect(await c.locateByRunId(JOB, qaRunId)).toMatchObject({ kind: 'build', build: { number: build.number } });
    expect(await c.findBuildByRunId(JOB, 'ffffffff-0000-4000-8000-000000000000')).toBeNull();
    expect(await c.locateByRunId(JOB, 'ffffffff-0000-4000-8000-000000000000')).toBeNull();
    const err = await c.findBuildByRunId('No-Such-Job', qaRunId).catch((e: unknown) => e);
    expect((err as ProviderError).code).toBe('job_not_found');
    expect((err as ProviderError).message).toMatch(/create the job \(see jenkins\/setup_job\.py\) or fix JENKINS_JOB_NAME/);
  });

  it('finds a still-queued run in the queue, and cancels it', async () => {
    const delayed = new JenkinsClient({ baseUrl: sb.jenkinsUrl, user: sb.user, apiToken: sb.token, triggerDelaySec: 600 });
    const p = params();
    const queue = await delayed.trigger('Slow-CI', p);
    const st = await c.queueState(queue);
    expect(st.build).toBeNull();
    expect(st.why).toMatch(/quiet period/);
    expect(await c.findQueuedByRunId('Slow-CI', p.QA_RUN_ID)).toEqual(queue);
    expect(await c.findQueuedByRunId(JOB, p.QA_RUN_ID)).toBeNull(); // another job's queue item
    expect(await c.locateByRunId('Slow-CI', p.QA_RUN_ID)).toEqual({ kind: 'queued', queue });
    expect(await c.ensureTriggered('Slow-CI', p)).toEqual({ kind: 'queued', queue }); // no second item
    await c.cancelQueueItem(queue);
    expect(await c.queueState(queue)).toEqual({ build: null, cancelled: true, why: null });
    expect(await c.findQueuedByRunId('Slow-CI', p.QA_RUN_ID)).toBeNull();
  });

  it('stops a running build: it ends ABORTED', async () => {
    const slow = await startSandbox({ timeScale: 1, consoleNotes: true });
    try {
      const sc = new JenkinsClient({ baseUrl: slow.jenkinsUrl, user: slow.user, apiToken: slow.token });
      const build = await untilBuild(sc, await sc.trigger(JOB, params({ DRY_RUN: false, TEST_SUITE: 'full' })));
      expect((await sc.buildState(build)).building).toBe(true);
      await sc.stop(build);
      const final = await untilFinished(sc, build);
      expect(final.result).toBe('ABORTED');
      const console = await followConsole(sc, build);
      expect(console.text).toMatch(/Aborted by/);
      // Stopping a finished build is a harmless no-op (302), as in Jenkins.
      await sc.stop(build);
    } finally {
      await slow.close();
    }
  });

  it('a wrong token is auth_failed, and the message does not contain it', async () => {
    const wrong = 'fake-wrong-token-example-42';
    const bad = new JenkinsClient({ baseUrl: sb.jenkinsUrl, user: sb.user, apiToken: wrong });
    for (const call of [() => bad.ping(), () => bad.trigger(JOB, params())]) {
      const err = (await call().catch((e: unknown) => e)) as ProviderError;
      expect(err).toBeInstanceOf(ProviderError);
      expect([err.code, err.retryable, err.httpStatus]).toEqual(['auth_failed', false, 401]);
      expect(err.message).toMatch(/check JENKINS_USER and JENKINS_API_TOKEN/);
      expect(err.message).not.toContain(wrong);
    }
    expect(requests.join('\n')).not.toContain(sb.token);
  });

  it('with a password login (not crumb-exempt) fetches a crumb and its session cookie only when refused', async () => {
    const seen: string[] = [];
    const pw = new JenkinsClient({ baseUrl: sb.jenkinsUrl, user: sb.user, apiToken: sb.password, onRequest: (m, p, s) => seen.push(`${m} ${p.split('?')[0]} ${s}`) });
    const q1 = await pw.trigger(JOB, params());
    const q2 = await pw.trigger(JOB, params());
    expect(q2.id).toBeGreaterThan(q1.id);
    expect(seen).toEqual([
      `POST /job/${JOB}/buildWithParameters 403`,
      'GET /crumbIssuer/api/json 200',
      `POST /job/${JOB}/buildWithParameters 201`,
      `POST /job/${JOB}/buildWithParameters 201`,
    ]);
    await untilFinished(c, await untilBuild(c, q2));
  });

  it('survives jenkins_flaky: 0.3 with withRetry, and triggers exactly one build', async () => {
    let retries = 0;
    const retry: RetryOptions = { deadlineMs: 30_000, baseDelayMs: 5, maxDelayMs: 50, onRetry: () => retries++ };
    const call = <T>(f: () => Promise<T>) => withRetry(f, retry);
    sb.setFaults({ jenkins_flaky: 0.3 });
    try {
      const p = params();
      const where = await call(() => c.ensureTriggered(JOB, p));
      let build: BuildRef;
      if (where.kind === 'build') build = where.build;
      else {
        build = await call(async () => {
          const st = await c.queueState(where.queue);
          if (!st.build) throw new ProviderError('not_yet', 'still queued', true);
          return st.build;
        });
      }
      const followed = await followConsole(c, build, call);
      const state = await call(() => c.buildState(build));
      expect([state.building, state.result], tail(followed.text)).toEqual([false, 'SUCCESS']);
      const stages = await call(() => c.stages(build));
      expect(stages.length).toBeGreaterThan(4);
      const artifacts = await call(() => c.listArtifacts(build));
      const zip = await call(async () => readAll(await c.downloadArtifact(build, 'artifact/WeSign.DevTest.zip')));
      expect(artifacts.length).toBeGreaterThan(3);
      const full = await call(async () => (await readAll(await c.consoleText(build))).toString('utf8'));
      expect(followed.text).toBe(lf(full));
      expect(zip.length).toBeGreaterThan(0);
      sb.setFaults({ jenkins_flaky: 0 });
      // However many attempts the trigger took, there is one build for this run.
      const builds = await fetch(`${sb.jenkinsUrl}/job/${JOB}/api/json?tree=builds[number,actions[parameters[name,value]]]`, {
        headers: { authorization: 'Basic ' + Buffer.from(`${sb.user}:${sb.token}`).toString('base64') },
      }).then((r) => r.json() as Promise<{ builds: { actions: { parameters?: { name: string; value: unknown }[] }[] }[] }>);
      const mine = builds.builds.filter((b) => b.actions.some((a) => a.parameters?.some((x) => x.name === 'QA_RUN_ID' && x.value === p.QA_RUN_ID)));
      expect(mine).toHaveLength(1);
      expect(retries).toBeGreaterThan(0);
    } finally {
      sb.setFaults({ jenkins_flaky: 0 });
    }
  });

  it('jenkins_down_s: calls fail retryably while Jenkins is down, then withRetry gets through', async () => {
    sb.setFaults({ jenkins_down_s: 1 });
    try {
      const err = (await c.ping().catch((e: unknown) => e)) as ProviderError;
      expect(err).toBeInstanceOf(ProviderError);
      expect(err.retryable).toBe(true);
      expect(['network_error', 'timeout']).toContain(err.code);
      const reasons: string[] = [];
      const { version } = await withRetry(() => c.ping(), { deadlineMs: 20_000, baseDelayMs: 50, maxDelayMs: 400, onRetry: (i) => reasons.push(i.error.code) });
      expect(typeof version).toBe('string');
      expect(reasons.length).toBeGreaterThan(0);
      expect(reasons.every((r) => r === 'network_error' || r === 'timeout')).toBe(true);
    } finally {
      sb.setFaults({ jenkins_down_s: 0 });
    }
  });

  it('gives up at the deadline with the last error while Jenkins stays down', async () => {
    sb.setFaults({ jenkins_down_s: 30 });
    try {
      const err = (await withRetry(() => c.buildState(dryRun!.build), { deadlineMs: 300, baseDelayMs: 20 }).catch((e: unknown) => e)) as ProviderError;
      expect(err).toBeInstanceOf(ProviderError);
      expect(err.retryable).toBe(true);
      expect(err.message).toMatch(/buildState|GET \/job\/WeSign-CI\/\d+\/api\/json/);
    } finally {
      sb.setFaults({ jenkins_down_s: 0 });
    }
  });
});

describe('a fresh declarative job (registerParametersOnFirstRun)', () => {
  let sb: Sandbox;
  beforeAll(async () => {
    sb = await startSandbox({ timeScale: 0.02, registerParametersOnFirstRun: true });
  });
  afterAll(async () => {
    await sb?.close();
  });

  it('checkJob reports no parameters, and a trigger says how to fix it', async () => {
    const c = new JenkinsClient({ baseUrl: sb.jenkinsUrl, user: sb.user, apiToken: sb.token });
    expect(await c.checkJob(JOB)).toMatchObject({ exists: true, buildable: true, parameters: [], definitions: [] });
    const err = (await c.trigger(JOB, params()).catch((e: unknown) => e)) as ProviderError;
    expect([err.code, err.retryable, err.httpStatus]).toEqual(['job_not_parameterized', false, 400]);
    expect(err.message).toMatch(/first run/);
  });
});
