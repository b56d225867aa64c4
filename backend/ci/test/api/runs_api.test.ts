/** POST/GET /ci/runs and friends over real HTTP: validation, errors, history. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { api, startService, type TestService } from '../helpers/service.js';
import { HOSTILE_REFS } from '../unit/git_ref.test.js';

let svc: TestService;
beforeAll(async () => {
  // Runs created here must not execute: the worker is not started by this suite's checks of queue state.
  svc = await startService();
});
afterAll(async () => svc?.close());

describe('POST /ci/runs', () => {
  it('accepts the SPEC body and answers {run_id, status:"queued"}', async () => {
    const r = await api(svc.url, 'POST', '/ci/runs', { app: 'WeSign', env: 'DevTest', branch_or_tag: 'main', dry_run: true, test_suite: 'none', provider: 'jenkins' });
    expect(r.status).toBe(202);
    expect(r.body.run_id).toMatch(/^[0-9a-f-]{36}$/);
    expect(r.body.status).toBe('queued');
    const got = await api(svc.url, 'GET', `/ci/runs/${r.body.run_id}`);
    expect(got.status).toBe(200);
    expect(got.body).toMatchObject({ app: 'WeSign', env: 'DevTest', dry_run: true, test_suite: 'none', initiator: 'local', kind: 'deploy', sandbox: true });
    expect(got.body.stages.map((s: any) => s.id)).toEqual(['checkout', 'preflight', 'build', 'package', 'config', 'transfer', 'deploy', 'smoke', 'rollback', 'api', 'e2e', 'report', 'notify']);
  });

  it.each(HOSTILE_REFS.slice(0, 30))('refuses branch_or_tag %j with 422 and the rule', async (ref) => {
    const r = await api(svc.url, 'POST', '/ci/runs', { branch_or_tag: ref });
    expect(r.status).toBe(422);
    expect(r.body.error.code).toBe('invalid_input');
    expect(r.body.error.message).toMatch(/allowed: letters, digits/);
  });

  it('refuses an unknown app/env naming the configured ones', async () => {
    const r = await api(svc.url, 'POST', '/ci/runs', { env: 'Prod' });
    expect(r.status).toBe(422);
    expect(r.body.error.message).toContain('Unknown app/env "WeSign/Prod"; configured: WeSign/DevTest');
  });

  it('refuses a bad test_suite, a wrong type, an unknown field, a non-jenkins provider', async () => {
    for (const body of [{ test_suite: 'smoke' }, { dry_run: 'yes' }, { branch: 'main' }, { provider: 'gitlab' }]) {
      const r = await api(svc.url, 'POST', '/ci/runs', body);
      expect(r.status, JSON.stringify(body)).toBe(422);
      expect(r.body.error.message.length).toBeGreaterThan(10);
    }
  });

  it('answers malformed JSON and a wrong content type with a 4xx that says what to send', async () => {
    const bad = await fetch(`${svc.url}/ci/runs`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"app":' });
    expect(bad.status).toBe(400);
    expect((await bad.json()).error.message).toMatch(/JSON/i);
    const text = await fetch(`${svc.url}/ci/runs`, { method: 'POST', headers: { 'content-type': 'text/plain' }, body: 'hi' });
    expect(text.status).toBe(415);
    expect((await text.json()).error.message).toMatch(/application\/json/);
    const huge = await fetch(`${svc.url}/ci/runs`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ branch_or_tag: 'x'.repeat(200_000) }) });
    expect(huge.status).toBe(413);
  });
});

describe('GET /ci/runs/{id}', () => {
  it('404s an unknown run and 422s an id that is not a UUID', async () => {
    expect((await api(svc.url, 'GET', '/ci/runs/00000000-0000-4000-8000-000000000000')).status).toBe(404);
    const r = await api(svc.url, 'GET', '/ci/runs/..%2F..%2Fetc');
    expect(r.status).toBe(422);
    expect(r.body.error.message).toMatch(/UUID/);
  });
});

describe('GET /ci/runs', () => {
  it('lists newest first with cursor pagination and validates filters', async () => {
    const ids = [];
    for (let i = 0; i < 3; i++) ids.push((await api(svc.url, 'POST', '/ci/runs', { dry_run: true, test_suite: 'none' })).body.run_id);
    const p1 = await api(svc.url, 'GET', '/ci/runs?limit=2');
    expect(p1.status).toBe(200);
    expect(p1.body.runs).toHaveLength(2);
    expect(p1.body.runs[0].run_id).toBe(ids[2]);
    const p2 = await api(svc.url, 'GET', `/ci/runs?limit=2&cursor=${p1.body.next_cursor}`);
    expect(p2.body.runs[0].run_id).toBe(ids[0]);
    expect((await api(svc.url, 'GET', '/ci/runs?status=bogus')).status).toBe(422);
    expect((await api(svc.url, 'GET', '/ci/runs?limit=100000')).status).toBe(422);
    expect((await api(svc.url, 'GET', '/ci/runs?from=yesterday')).status).toBe(422);
    expect((await api(svc.url, 'GET', '/ci/runs?from=2026-12-02&to=2026-12-01')).status).toBe(422);
    expect((await api(svc.url, 'GET', '/ci/runs?kind=deploy&initiator=local&env=DevTest&status=queued,running,success')).status).toBe(200);
  });
});

describe('service endpoints', () => {
  it('serves /healthz, /readyz, /metrics, /docs and the sandbox description', async () => {
    expect((await api(svc.url, 'GET', '/healthz')).body).toEqual({ status: 'ok' });
    const ready = await api(svc.url, 'GET', '/readyz');
    expect(ready.status).toBe(200);
    expect(ready.body.checks).toMatchObject({ database: 'ok', jenkins: 'ok' });
    const metrics = await fetch(`${svc.url}/metrics`);
    expect(await metrics.text()).toContain('qaci_runs_queued_total');
    const docs = await fetch(`${svc.url}/docs/json`);
    const spec = await docs.json();
    expect(Object.keys(spec.paths)).toEqual(expect.arrayContaining(['/ci/runs', '/ci/runs/{id}', '/ci/environments', '/ci/environments/{env}/rollback']));
    const sb = await api(svc.url, 'GET', '/ci/sandbox');
    expect(sb.body).toMatchObject({ sandbox: true });
    expect(sb.body.jenkins_url).toMatch(/^http:\/\/127\.0\.0\.1:\d+/);
    expect(JSON.stringify(sb.body)).not.toContain(svc.services.sandbox!.token);
  });

  it('validates sandbox faults', async () => {
    const bad = await api(svc.url, 'PUT', '/ci/sandbox/faults', { smoke_fail: 'sometimes' });
    expect(bad.status).toBe(422);
    const bad2 = await api(svc.url, 'PUT', '/ci/sandbox/faults', { melt_cpu: true });
    expect(bad2.status).toBe(422);
    const ok = await api(svc.url, 'PUT', '/ci/sandbox/faults', { jenkins_flaky: 0 });
    expect(ok.status).toBe(200);
  });
});
