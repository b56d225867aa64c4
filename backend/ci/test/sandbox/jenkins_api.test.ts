/**
 * The sandbox's Jenkins REST surface, over real HTTP, against the behaviours of
 * /work/shared/reference/jenkins-rest-api.md (section numbers in the test names).
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import yauzl from 'yauzl';
import type { Sandbox } from '../../src/sandbox/index.js';
import { REPO_ROOT } from '../../src/sandbox/contract.js';
import { artifact, basic, buildNumberOf, consoleText, getJson, jf, JOB, paramsOf, runBuild, sandbox, trigger, waitDone, waitFor } from './helpers.js';

let sb: Sandbox;
beforeAll(async () => {
  sb = await sandbox();
});
afterAll(async () => {
  await sb?.close();
});

describe('authentication and CSRF (ref §1)', () => {
  it('answers an anonymous request with 403 "Authentication required", not 401', async () => {
    const r = await fetch(`${sb.jenkinsUrl}/api/json`);
    expect(r.status).toBe(403);
    expect(r.headers.get('www-authenticate')).toBeNull();
    expect(r.headers.get('x-jenkins')).toBeTruthy();
    expect(await r.text()).toContain('Authentication required');
  });

  it('answers a wrong token with 401 and WWW-Authenticate: Basic realm="Jenkins"', async () => {
    const r = await fetch(`${sb.jenkinsUrl}/api/json`, { headers: { authorization: basic(sb.user, 'sandbox-wrong-fake') } });
    expect(r.status).toBe(401);
    expect(r.headers.get('www-authenticate')).toBe('Basic realm="Jenkins"');
    const malformed = await fetch(`${sb.jenkinsUrl}/api/json`, { headers: { authorization: `Basic ${Buffer.from('no-colon').toString('base64')}` } });
    expect(malformed.status).toBe(401);
  });

  it('accepts the API token and sends X-Jenkins on API replies', async () => {
    const r = await jf(sb, '/api/json');
    expect(r.status).toBe(200);
    expect(r.headers.get('x-jenkins')).toMatch(/^\d+\.\d+/);
    expect(r.headers.get('content-type')).toMatch(/^application\/json/);
    const me = await getJson(sb, '/whoAmI/api/json');
    expect(me.name).toBe(sb.user);
  });

  it('lets a token-authenticated POST through without a crumb (ApiCrumbExclusion)', async () => {
    const r = await jf(sb, `/job/${JOB}/buildWithParameters?TEST_SUITE=none&DRY_RUN=true&QA_RUN_ID=crumbless`, { method: 'POST' });
    expect(r.status).toBe(201);
    await waitDone(sb, await buildNumberOf(sb, new URL(r.headers.get('location')!).pathname));
  });

  it('makes a password-authenticated POST carry a crumb bound to the session cookie, or 403', async () => {
    const auth = { authorization: basic(sb.user, sb.password) };
    const url = `${sb.jenkinsUrl}/job/${JOB}/submitDescription`;
    const noCrumb = await fetch(url, { method: 'POST', headers: auth, redirect: 'manual', body: new URLSearchParams({ description: 'x' }) });
    expect(noCrumb.status).toBe(403);
    expect(await noCrumb.text()).toContain('No valid crumb was included in the request');

    const issued = await fetch(`${sb.jenkinsUrl}/crumbIssuer/api/json`, { headers: auth });
    expect(issued.status).toBe(200);
    const crumb = (await issued.json()) as { crumb: string; crumbRequestField: string; _class: string };
    expect(crumb.crumbRequestField).toBe('Jenkins-Crumb');
    expect(crumb.crumb).toMatch(/^[0-9a-f]{64}$/);
    const cookie = issued.headers.get('set-cookie')!.split(';')[0]!;
    expect(cookie).toMatch(/^JSESSIONID\.[0-9a-f]+=/);

    const crumbNoCookie = await fetch(`${sb.jenkinsUrl}/job/${JOB}/1/submitDescription`, { method: 'POST', redirect: 'manual', headers: { ...auth, 'Jenkins-Crumb': crumb.crumb }, body: new URLSearchParams({ description: 'x' }) });
    expect(crumbNoCookie.status).toBe(403);

    const ok = await fetch(`${sb.jenkinsUrl}/job/${JOB}/1/submitDescription`, { method: 'POST', redirect: 'manual', headers: { ...auth, 'Jenkins-Crumb': crumb.crumb, cookie }, body: new URLSearchParams({ description: 'set with a crumb' }) });
    expect(ok.status).toBe(302);
    expect((await getJson(sb, `/job/${JOB}/1/api/json?tree=description`)).description).toBe('set with a crumb');

    const xml = await fetch(`${sb.jenkinsUrl}/crumbIssuer/api/xml?xpath=concat(//crumbRequestField,":",//crumb)`, { headers: { ...auth, cookie } });
    expect(await xml.text()).toBe(`Jenkins-Crumb:${crumb.crumb}`);
  });
});

describe('POST /job/{name}/buildWithParameters (ref §2.2)', () => {
  it('answers 201 with an absolute Location to a new queue item, ids increasing', async () => {
    const a = await jf(sb, `/job/${JOB}/buildWithParameters`, { method: 'POST', body: new URLSearchParams({ DRY_RUN: 'true', TEST_SUITE: 'none', QA_RUN_ID: 'loc-a' }) });
    const b = await jf(sb, `/job/${JOB}/buildWithParameters?DRY_RUN=true&TEST_SUITE=none&QA_RUN_ID=loc-b`, { method: 'POST' });
    expect(a.status).toBe(201);
    expect(b.status).toBe(201);
    const la = a.headers.get('location')!;
    const lb = b.headers.get('location')!;
    expect(la).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/queue\/item\/\d+\/$/);
    const id = (l: string) => Number(/\/queue\/item\/(\d+)\/$/.exec(l)![1]);
    expect(id(lb)).toBeGreaterThan(id(la));
    for (const l of [la, lb]) await waitDone(sb, await buildNumberOf(sb, new URL(l).pathname));
  });

  it('applies defaults, keeps submitted values and ignores unknown names', async () => {
    const { build } = await runBuild(sb, { DRY_RUN: 'TRUE', TEST_SUITE: 'none', QA_RUN_ID: 'defaults-1', NOT_A_PARAMETER: 'x', token: 'y' });
    const p = paramsOf(build);
    expect(p).toEqual({ BRANCH_OR_TAG: 'main', DRY_RUN: true, TEST_SUITE: 'none', ACTION: 'deploy', ROLLBACK_TO: '', QA_RUN_ID: 'defaults-1' });
    const pa = build.actions.find((a: any) => a.parameters);
    expect(pa._class).toBe('hudson.model.ParametersAction');
    expect(pa.parameters.find((x: any) => x.name === 'DRY_RUN')._class).toBe('hudson.model.BooleanParameterValue');
  });

  it('refuses GET with 405 and Allow: POST', async () => {
    const r = await jf(sb, `/job/${JOB}/buildWithParameters?DRY_RUN=true`);
    expect(r.status).toBe(405);
    expect(r.headers.get('allow')).toBe('POST');
  });

  it('answers an invalid choice with a 500 HTML page, as the uncaught IllegalArgumentException does', async () => {
    const r = await jf(sb, `/job/${JOB}/buildWithParameters?TEST_SUITE=everything`, { method: 'POST' });
    expect(r.status).toBe(500);
    expect(r.headers.get('content-type')).toMatch(/text\/html/);
    expect(await r.text()).toContain('Illegal choice for parameter TEST_SUITE: everything');
    const twice = await jf(sb, `/job/${JOB}/buildWithParameters?QA_RUN_ID=a&QA_RUN_ID=b`, { method: 'POST' });
    expect(twice.status).toBe(500);
  });

  it('answers 404 for an unknown job', async () => {
    const r = await jf(sb, '/job/No-Such-Job/buildWithParameters', { method: 'POST' });
    expect(r.status).toBe(404);
    expect(r.headers.get('content-type')).toMatch(/text\/html/);
  });
});

describe('a fresh declarative job (registerParametersOnFirstRun, ref §2.2 gotcha)', () => {
  it('is not parameterized (400) until its first /build, then declares the contract parameters', async () => {
    const fresh = await sandbox({ registerParametersOnFirstRun: true });
    try {
      const before = await getJson(fresh, `/job/${JOB}/api/json?tree=property[parameterDefinitions[name]]`);
      expect(before.property.some((p: any) => p.parameterDefinitions)).toBe(false);
      const r = await jf(fresh, `/job/${JOB}/buildWithParameters?DRY_RUN=true`, { method: 'POST' });
      expect(r.status).toBe(400);
      expect(await r.text()).toContain(`${JOB} is not parameterized`);

      const first = await jf(fresh, `/job/${JOB}/build?delay=0sec`, { method: 'POST' });
      expect(first.status).toBe(201);
      const n = await buildNumberOf(fresh, new URL(first.headers.get('location')!).pathname);
      const job = await getJson(fresh, `/job/${JOB}/api/json?tree=property[parameterDefinitions[name,type,defaultParameterValue[value],choices]]`);
      const defs = job.property.find((p: any) => p.parameterDefinitions).parameterDefinitions;
      expect(defs.map((d: any) => d.name)).toEqual(['BRANCH_OR_TAG', 'DRY_RUN', 'TEST_SUITE', 'ACTION', 'ROLLBACK_TO', 'QA_RUN_ID']);
      expect(defs.find((d: any) => d.name === 'TEST_SUITE').choices).toEqual(['full', 'api', 'e2e', 'none']);
      const b = await getJson(fresh, `/job/${JOB}/${n}/api/json`);
      expect(b.actions.some((a: any) => a.parameters)).toBe(false); // the first build has no ParametersAction
      await jf(fresh, `/job/${JOB}/${n}/kill`, { method: 'POST' });
    } finally {
      await fresh.close();
    }
  });
});

describe('queue items (ref §3)', () => {
  it('shows a WaitingItem in the quiet period, then a LeftItem with executable {number,url}', async () => {
    const slow = await sandbox({ quietPeriodMs: 400 });
    try {
      const q = await trigger(slow, { DRY_RUN: 'true', TEST_SUITE: 'none', QA_RUN_ID: 'quiet' });
      const waiting = await getJson(slow, `${q}api/json`);
      expect(waiting._class).toBe('hudson.model.Queue$WaitingItem');
      expect(waiting.why).toMatch(/^In the quiet period\. Expires in /);
      expect(typeof waiting.timestamp).toBe('number');
      expect(waiting.url).toBe(q.slice(1));
      expect(waiting.params).toContain('\nQA_RUN_ID=quiet');
      expect(waiting.task.name).toBe(JOB);
      const left = await waitFor('LeftItem with executable', async () => {
        const x = await getJson(slow, `${q}api/json`);
        return x.executable ? x : null;
      });
      expect(left._class).toBe('hudson.model.Queue$LeftItem');
      expect(left.why).toBeNull();
      expect(left.cancelled).toBe(false);
      expect(left.executable._class).toBe('org.jenkinsci.plugins.workflow.job.WorkflowRun');
      expect(left.executable.url).toBe(`${slow.jenkinsUrl}/job/${JOB}/${left.executable.number}/`);
      const b = await waitDone(slow, left.executable.number);
      expect(b.queueId).toBe(Number(/(\d+)\/$/.exec(q)![1]));

      // Equal parameters while one is still queued: merged, 303 to the same item (Jenkins ≥ 2.308).
      const first = await jf(slow, `/job/${JOB}/buildWithParameters?DRY_RUN=true&TEST_SUITE=none&QA_RUN_ID=merge`, { method: 'POST' });
      const again = await jf(slow, `/job/${JOB}/buildWithParameters?DRY_RUN=true&TEST_SUITE=none&QA_RUN_ID=merge`, { method: 'POST' });
      expect(first.status).toBe(201);
      expect(again.status).toBe(303);
      expect(again.headers.get('location')).toBe(first.headers.get('location'));
      // delay: "0sec" starts at once; a malformed delay is a 500.
      expect((await jf(slow, `/job/${JOB}/buildWithParameters?QA_RUN_ID=bad-delay&delay=soon`, { method: 'POST' })).status).toBe(500);
      const now = await jf(slow, `/job/${JOB}/buildWithParameters?DRY_RUN=true&TEST_SUITE=none&QA_RUN_ID=no-delay&delay=0sec`, { method: 'POST' });
      expect(now.status).toBe(201);
      for (const r of [first, now]) await waitDone(slow, await buildNumberOf(slow, new URL(r.headers.get('location')!).pathname));
    } finally {
      await slow.close();
    }
  });

  it('blocks a second build while one runs (disableConcurrentBuilds), cancels it, and expires left items', async () => {
    const paced = await sandbox({ timeScale: 1, leftItemTtlMs: 1500 });
    try {
      const q1 = await trigger(paced, { TEST_SUITE: 'none', QA_RUN_ID: 'first' });
      const n1 = await buildNumberOf(paced, q1);
      const q2 = await trigger(paced, { TEST_SUITE: 'none', QA_RUN_ID: 'second' });
      const blocked = await waitFor('BlockedItem', async () => {
        const x = await getJson(paced, `${q2}api/json`);
        return x.blocked ? x : null;
      });
      expect(blocked._class).toBe('hudson.model.Queue$BlockedItem');
      expect(blocked.why).toMatch(new RegExp(`^Build #${n1} is already in progress \\(ETA: `));
      const job = await getJson(paced, `/job/${JOB}/api/json?tree=inQueue,queueItem[id]`);
      expect(job.inQueue).toBe(true);
      const queue = await getJson(paced, '/queue/api/json');
      expect(queue._class).toBe('hudson.model.Queue');
      expect(queue.items.map((i: any) => i.id)).toContain(blocked.id);

      const cancel = await jf(paced, `/queue/cancelItem?id=${blocked.id}`, { method: 'POST' });
      expect(cancel.status).toBe(204);
      const cancelled = await getJson(paced, `${q2}api/json`);
      expect(cancelled._class).toBe('hudson.model.Queue$LeftItem');
      expect(cancelled.cancelled).toBe(true);
      expect(cancelled.executable).toBeNull();
      expect((await jf(paced, `/queue/cancelItem?id=${blocked.id}`, { method: 'POST' })).status).toBe(500);
      expect((await jf(paced, '/queue/cancelItem?id=999999', { method: 'POST' })).status).toBe(404);

      // A running build: duration 0, building, estimatedDuration -1 (first build).
      const running = await getJson(paced, `/job/${JOB}/${n1}/api/json`);
      expect(running.building).toBe(true);
      expect(running.result).toBeNull();
      expect(running.duration).toBe(0);
      expect(running.estimatedDuration).toBe(-1);

      // stop → 302, the build ends ABORTED (ref §8).
      const stop = await jf(paced, `/job/${JOB}/${n1}/stop`, { method: 'POST' });
      expect(stop.status).toBe(302);
      expect(stop.headers.get('location')).toBe(`${paced.jenkinsUrl}/job/${JOB}/${n1}/`);
      const done = await waitDone(paced, n1);
      expect(done.result).toBe('ABORTED');
      expect(done.duration).toBeGreaterThan(0);
      const log = await consoleText(paced, n1);
      expect(log).toContain(`Aborted by ${paced.user}`);
      expect(log.trimEnd().endsWith('Finished: ABORTED')).toBe(true);
      const d = await getJson(paced, `/job/${JOB}/${n1}/wfapi/describe`);
      expect(d.status).toBe('ABORTED');
      expect(d.stages.some((s: any) => s.status === 'ABORTED')).toBe(true);

      // Left items disappear after the TTL: 404 although the build exists (ref §10 gotcha 1).
      await waitFor('the left item to expire', async () => (await jf(paced, `${q1}api/json`)).status === 404, 10_000, 100);
      expect((await jf(paced, `/job/${JOB}/${n1}/api/json`)).status).toBe(200);
    } finally {
      await paced.close();
    }
  });
});

describe('run JSON, job JSON and tree= (ref §4, §9)', () => {
  let n = 0;
  beforeAll(async () => {
    n = (await runBuild(sb, { DRY_RUN: 'true', TEST_SUITE: 'none', QA_RUN_ID: 'tree-run', BRANCH_OR_TAG: 'release/1.2' })).n;
  });

  it('has the Run fields with their Jenkins types', async () => {
    const b = await getJson(sb, `/job/${JOB}/${n}/api/json`);
    expect(b._class).toBe('org.jenkinsci.plugins.workflow.job.WorkflowRun');
    expect(b).toMatchObject({ number: n, id: String(n), building: false, inProgress: false, result: 'SUCCESS', keepLog: false });
    expect(b.url).toBe(`${sb.jenkinsUrl}/job/${JOB}/${n}/`);
    expect(b.displayName).toBe(`#${n} tree-run`);
    expect(b.description).toBe('QA_RUN_ID=tree-run | dry run release/1.2 | SUCCESS');
    expect(b.duration).toBeGreaterThan(0);
    expect(typeof b.timestamp).toBe('number');
    expect(typeof b.estimatedDuration).toBe('number');
    expect(b.actions.find((a: any) => a._class === 'hudson.model.CauseAction').causes[0]).toMatchObject({ _class: 'hudson.model.Cause$UserIdCause', userId: sb.user, shortDescription: `Started by user ${sb.user}` });
    expect(b.actions.some((a: any) => Object.keys(a).length === 0)).toBe(true);
    expect(b.artifacts.length).toBeGreaterThan(0);
    for (const a of b.artifacts) expect(Object.keys(a).sort()).toEqual(['displayPath', 'fileName', 'relativePath']);
    expect((await jf(sb, `/job/${JOB}/lastBuild/api/json`)).status).toBe(200);
    expect((await jf(sb, `/job/${JOB}/99999/api/json`)).status).toBe(404);
  });

  it('prunes with tree=, nested [...] and {M,N} ranges, always keeping _class', async () => {
    const b = await getJson(sb, `/job/${JOB}/${n}/api/json?tree=number,result,actions[parameters[name,value]],artifacts[relativePath]{0,2}`);
    expect(Object.keys(b).sort()).toEqual(['_class', 'actions', 'artifacts', 'number', 'result']);
    expect(b.artifacts).toHaveLength(2);
    expect(Object.keys(b.artifacts[0]).sort()).toEqual(['relativePath']);
    const pa = b.actions.find((a: any) => a.parameters);
    expect(pa._class).toBe('hudson.model.ParametersAction');
    expect(pa.parameters.find((p: any) => p.name === 'BRANCH_OR_TAG')).toEqual({ _class: 'hudson.model.StringParameterValue', name: 'BRANCH_OR_TAG', value: 'release/1.2' });
    const single = await getJson(sb, `/job/${JOB}/api/json?tree=builds[number]{1}`);
    expect(single.builds).toHaveLength(1);
    const leaf = await getJson(sb, `/job/${JOB}/api/json?tree=lastBuild`);
    expect(leaf.lastBuild).toEqual({ _class: 'org.jenkinsci.plugins.workflow.job.WorkflowRun' });
    expect((await jf(sb, `/job/${JOB}/api/json?tree=builds[number`)).status).toBe(500);
  });

  it('lists builds newest first and finds one by QA_RUN_ID with the client\'s query', async () => {
    const job = await getJson(sb, `/job/${JOB}/api/json`);
    expect(job._class).toBe('org.jenkinsci.plugins.workflow.job.WorkflowJob');
    expect(job.buildable).toBe(true);
    expect(job.inQueue).toBe(false);
    expect(job.lastBuild.number).toBe(job.builds[0].number);
    expect(Object.keys(job.builds[0]).sort()).toEqual(['_class', 'number', 'url']); // default depth
    const numbers = job.builds.map((x: any) => x.number);
    expect(numbers).toEqual([...numbers].sort((a: number, c: number) => c - a));
    const defs = job.property.find((p: any) => p._class === 'hudson.model.ParametersDefinitionProperty').parameterDefinitions;
    expect(defs.find((d: any) => d.name === 'DRY_RUN')).toMatchObject({ _class: 'hudson.model.BooleanParameterDefinition', type: 'BooleanParameterDefinition', defaultParameterValue: { value: false } });

    const found = await getJson(sb, `/job/${JOB}/api/json?tree=builds[number,url,actions[parameters[name,value]]]{0,50}`);
    const hit = found.builds.find((x: any) => x.actions.some((a: any) => a.parameters?.some((p: any) => p.name === 'QA_RUN_ID' && p.value === 'tree-run')));
    expect(hit.number).toBe(n);
    expect(hit.url).toBe(`${sb.jenkinsUrl}/job/${JOB}/${n}/`);
  });
});

describe('console output (ref §5)', () => {
  it('follows a running build with the X-Text-Size cursor; X-More-Data only while running; CRLF bodies', async () => {
    const live = await sandbox({ timeScale: 0.1 });
    try {
      const n = await buildNumberOf(live, await trigger(live, { TEST_SUITE: 'none', DRY_RUN: 'true', QA_RUN_ID: 'follow' }));
      let start = 0;
      let text = '';
      let sawMore = false;
      let polls = 0;
      for (;;) {
        const r = await jf(live, `/job/${JOB}/${n}/logText/progressiveText?start=${start}`);
        expect(r.status).toBe(200);
        const size = Number(r.headers.get('x-text-size'));
        expect(size).toBeGreaterThanOrEqual(start);
        const body = await r.text();
        expect(body).not.toMatch(/[^\r]\n/); // every LF is CRLF
        text += body;
        start = size;
        polls++;
        if (r.headers.get('x-more-data') === 'true') {
          sawMore = true;
          // Only complete lines while running.
          if (body) expect(body.endsWith('\r\n')).toBe(true);
          await new Promise((res) => setTimeout(res, 100));
          continue;
        }
        expect(r.headers.get('x-more-data')).toBeNull();
        break;
      }
      expect(sawMore).toBe(true);
      expect(polls).toBeGreaterThan(2);
      const full = await consoleText(live, n);
      expect(text.replace(/\r\n/g, '\n')).toBe(full);
      expect(full).toMatch(/^Started by user /);
      expect(full.trimEnd().endsWith('Finished: SUCCESS')).toBe(true);

      // start beyond the end: Jenkins starts again from 0.
      const over = await jf(live, `/job/${JOB}/${n}/logText/progressiveText?start=${start + 1000}`);
      expect((await over.text()).replace(/\r\n/g, '\n')).toBe(full);
      expect((await jf(live, `/job/${JOB}/${n}/logText/progressiveText?start=abc`)).status).toBe(500);
    } finally {
      await live.close();
    }
  });

  it('injects console notes into progressiveText when asked, and strips them from consoleText', async () => {
    const noted = await sandbox({ consoleNotes: true });
    try {
      const { n } = await runBuild(noted, { DRY_RUN: 'true', TEST_SUITE: 'none' });
      const progressive = await (await jf(noted, `/job/${JOB}/${n}/logText/progressiveText?start=0`)).text();
      expect(progressive).toMatch(/\x1b\[8mha:[A-Za-z0-9+/=]+\x1b\[0m\[Pipeline\] /);
      const plain = await consoleText(noted, n);
      expect(plain).not.toContain('\x1b[8mha:');
      expect(progressive.replace(/\x1b\[8mha:[A-Za-z0-9+/=]*\x1b\[0m/g, '').replace(/\r\n/g, '\n')).toBe(plain);
    } finally {
      await noted.close();
    }
  });
});

describe('stages, artifacts, stop and description (ref §6.1, §7, §8)', () => {
  let n = 0;
  beforeAll(async () => {
    n = (await runBuild(sb, { DRY_RUN: 'true', TEST_SUITE: 'full', QA_RUN_ID: 'dry-stages' })).n;
  });

  it('reports a dry run\'s skipped stages as NOT_EXECUTED in wfapi/describe', async () => {
    const d = await getJson(sb, `/job/${JOB}/${n}/wfapi/describe`);
    expect(d).toMatchObject({ id: String(n), status: 'SUCCESS' });
    expect(d._links.self.href).toBe(`/job/${JOB}/${n}/wfapi/describe`);
    const status = Object.fromEntries(d.stages.map((s: any) => [s.name, s.status]));
    for (const ran of ['Checkout', 'Pre-flight', 'Build & Unit Tests', 'Package', 'Config Transform', 'Declarative: Post Actions']) expect(status[ran]).toBe('SUCCESS');
    for (const skipped of ['Transfer Artifact', 'Stop IIS Pools', 'Backup & Deploy', 'Start IIS + Smoke', 'Rollback', 'Tests: API', 'Tests: E2E']) expect(status[skipped]).toBe('NOT_EXECUTED');
    for (const s of d.stages) {
      expect(Object.keys(s).sort()).toEqual(['_links', 'durationMillis', 'execNode', 'id', 'name', 'pauseDurationMillis', 'startTimeMillis', 'status']);
      expect(s.id).toMatch(/^\d+$/);
      expect(s.execNode).toBe('');
    }
    const starts = d.stages.map((s: any) => s.startTimeMillis);
    expect(starts).toEqual([...starts].sort((a: number, b: number) => a - b));
    const log = await consoleText(sb, n);
    expect(log).toContain('Stage "Transfer Artifact" skipped due to when conditional');
  });

  it('serves a stage\'s step log (last 10 KiB, HTML) via fullStages, and wfapi/runs newest first', async () => {
    const d = await getJson(sb, `/job/${JOB}/${n}/wfapi/describe?fullStages=true`);
    const build = d.stages.find((s: any) => s.name === 'Build & Unit Tests');
    const step = build.stageFlowNodes[0];
    expect(step.parentNodes).toEqual([build.id]);
    const log = await getJson(sb, step._links.log.href);
    expect(log).toMatchObject({ nodeId: step.id, nodeStatus: 'SUCCESS', hasMore: false });
    expect(log.text).toContain('[build] dotnet test');
    expect(log.text).toContain('&quot;trx;LogFileName=unit.trx&quot;');
    const stageOnly = await getJson(sb, `/job/${JOB}/${n}/execution/node/${build.id}/wfapi/log`);
    expect(stageOnly.text).toBe(''); // only step nodes carry a log
    const runs = await getJson(sb, `/job/${JOB}/wfapi/runs`);
    expect(runs.length).toBeLessThanOrEqual(10);
    expect(Number(runs[0].id)).toBeGreaterThanOrEqual(n);
  });

  it('serves artifacts, archive.zip with entries under archive/, and 404 for missing or escaping paths', async () => {
    const b = await getJson(sb, `/job/${JOB}/${n}/api/json?tree=artifacts[relativePath]`);
    const paths = b.artifacts.map((a: any) => a.relativePath);
    expect(paths).toContain('reports/artifact.json');
    const one = await jf(sb, `/job/${JOB}/${n}/artifact/reports/artifact.json`);
    expect(one.status).toBe(200);
    expect(one.headers.get('content-type')).toMatch(/^application\/json/);
    expect((await jf(sb, `/job/${JOB}/${n}/artifact/reports/nope.json`)).status).toBe(404);
    expect((await jf(sb, `/job/${JOB}/${n}/artifact/reports/%2e%2e/%2e%2e/log`)).status).toBe(404);
    const dir = await jf(sb, `/job/${JOB}/${n}/artifact/reports`);
    expect(dir.status).toBe(302);

    const zip = await artifact(sb, n, '*zip*/archive.zip');
    const names = await new Promise<string[]>((resolve, reject) => {
      yauzl.fromBuffer(zip, { lazyEntries: true }, (err, z) => {
        if (err || !z) return reject(err);
        const out: string[] = [];
        z.on('entry', (e: yauzl.Entry) => {
          out.push(e.fileName);
          z.readEntry();
        });
        z.on('end', () => resolve(out));
        z.readEntry();
      });
    });
    expect(names.sort()).toEqual(paths.map((p: string) => `archive/${p}`).sort());
  });

  it('sets the description with submitDescription (302)', async () => {
    const r = await jf(sb, `/job/${JOB}/${n}/submitDescription`, { method: 'POST', body: new URLSearchParams({ description: 'checked by a test' }) });
    expect(r.status).toBe(302);
    expect((await getJson(sb, `/job/${JOB}/${n}/api/json?tree=description`)).description).toBe('checked by a test');
  });

  it('term interrupts a running build: post actions still run and it ends ABORTED', async () => {
    const paced = await sandbox({ timeScale: 1 });
    try {
      const k = await buildNumberOf(paced, await trigger(paced, { DRY_RUN: 'true', TEST_SUITE: 'none' }));
      expect((await jf(paced, `/job/${JOB}/${k}/term`, { method: 'POST' })).status).toBe(302);
      expect((await waitDone(paced, k)).result).toBe('ABORTED');
      expect(await consoleText(paced, k)).toContain('[Pipeline] { (Declarative: Post Actions)');
    } finally {
      await paced.close();
    }
  });

  it('hard-kills a running build: 302, ABORTED at once', async () => {
    const paced = await sandbox({ timeScale: 1 });
    try {
      const k = await buildNumberOf(paced, await trigger(paced, { DRY_RUN: 'true', TEST_SUITE: 'none' }));
      expect((await jf(paced, `/job/${JOB}/${k}/kill`, { method: 'POST' })).status).toBe(302);
      const b = await getJson(paced, `/job/${JOB}/${k}/api/json`);
      expect(b.building).toBe(false);
      expect(b.result).toBe('ABORTED');
      expect(await consoleText(paced, k)).toContain('Hard kill!');
    } finally {
      await paced.close();
    }
  });
});

describe('createItem and config.xml', () => {
  const configXml = (concurrent: boolean) => `<?xml version='1.1' encoding='UTF-8'?>
<flow-definition plugin="workflow-job">
  <description>created by a test</description>
  <properties>${concurrent ? '' : '<org.jenkinsci.plugins.workflow.job.properties.DisableConcurrentBuildsJobProperty/>'}
    <hudson.model.ParametersDefinitionProperty><parameterDefinitions>
      <hudson.model.StringParameterDefinition><name>BRANCH_OR_TAG</name><defaultValue>develop</defaultValue><trim>true</trim></hudson.model.StringParameterDefinition>
      <hudson.model.ChoiceParameterDefinition><name>TEST_SUITE</name><choices class="java.util.Arrays$ArrayList"><a class="string-array"><string>none</string><string>full</string></a></choices></hudson.model.ChoiceParameterDefinition>
    </parameterDefinitions></hudson.model.ParametersDefinitionProperty>
  </properties>
  <definition class="org.jenkinsci.plugins.workflow.cps.CpsScmFlowDefinition"><scriptPath>Jenkinsfile</scriptPath></definition>
  <disabled>false</disabled>
</flow-definition>`;

  it('creates a job from config.xml, serves it back, updates it, and refuses a duplicate', async () => {
    const created = await jf(sb, '/createItem?name=Created-Job', { method: 'POST', headers: { 'content-type': 'application/xml' }, body: configXml(false) });
    expect(created.status).toBe(200);
    const dup = await jf(sb, '/createItem?name=Created-Job', { method: 'POST', headers: { 'content-type': 'application/xml' }, body: configXml(false) });
    expect(dup.status).toBe(400);
    const job = await getJson(sb, '/job/Created-Job/api/json?tree=description,property[parameterDefinitions[name,defaultParameterValue[value],choices]],concurrentBuild');
    expect(job.description).toBe('created by a test');
    expect(job.concurrentBuild).toBe(false);
    const defs = job.property.find((p: any) => p.parameterDefinitions).parameterDefinitions;
    expect(defs).toEqual([
      { _class: 'hudson.model.StringParameterDefinition', defaultParameterValue: { _class: 'hudson.model.StringParameterValue', value: 'develop' }, name: 'BRANCH_OR_TAG' },
      { _class: 'hudson.model.ChoiceParameterDefinition', choices: ['none', 'full'], defaultParameterValue: { _class: 'hudson.model.StringParameterValue', value: 'none' }, name: 'TEST_SUITE' },
    ]);
    const xml = await (await jf(sb, '/job/Created-Job/config.xml')).text();
    expect(xml).toContain('<description>created by a test</description>');
    const updated = await jf(sb, '/job/Created-Job/config.xml', { method: 'POST', headers: { 'content-type': 'application/xml' }, body: configXml(true).replace('created by a test', 'updated') });
    expect(updated.status).toBe(200);
    expect((await getJson(sb, '/job/Created-Job/api/json?tree=description,concurrentBuild')).description).toBe('updated');
    const bad = await jf(sb, '/createItem?name=Bad-Job', { method: 'POST', headers: { 'content-type': 'application/xml' }, body: '<flow-definition><description>x</description>' });
    expect(bad.status).toBe(400);
    const generated = await (await jf(sb, `/job/${JOB}/config.xml`)).text();
    expect(generated).toContain('<name>QA_RUN_ID</name>');
  });

  it('accepts the repository\'s jenkins/config.xml (what setup_job.py sends) with the contract\'s parameters', async () => {
    const xml = readFileSync(path.join(REPO_ROOT, 'jenkins', 'config.xml'), 'utf8');
    const created = await jf(sb, '/createItem?name=From-Repo-Config', { method: 'POST', headers: { 'content-type': 'application/xml' }, body: xml });
    expect(created.status).toBe(200);
    const job = await getJson(sb, '/job/From-Repo-Config/api/json?tree=concurrentBuild,property[parameterDefinitions[name,choices]]');
    expect(job.concurrentBuild).toBe(false);
    const defs = job.property.find((p: any) => p.parameterDefinitions).parameterDefinitions;
    const contract = JSON.parse(readFileSync(path.join(REPO_ROOT, 'contract', 'pipeline.json'), 'utf8')) as { parameters: { name: string; choices?: string[] }[] };
    expect(defs.map((d: any) => d.name)).toEqual(contract.parameters.map((p) => p.name));
    for (const p of contract.parameters.filter((x) => x.choices)) expect(defs.find((d: any) => d.name === p.name).choices).toEqual(p.choices);
    expect(await (await jf(sb, '/job/From-Repo-Config/config.xml')).text()).toBe(xml);
  });
});
