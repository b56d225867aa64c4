/**
 * Issue 6, "Done when": every route × {anonymous, viewer, deployer, admin}
 * gets exactly the expected 401 / 403 / 2xx, on the real service (buildApp)
 * with AUTH_MODE=token, over real HTTP and WebSocket.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import type { Role } from '../../src/auth/principal.js';
import { call, type RealApp, startRealApp, waitForRun } from './real_app.js';

type Who = 'anonymous' | Role;
const WHO: Who[] = ['anonymous', 'viewer', 'deployer', 'admin'];
const RANK: Record<Who, number> = { anonymous: -1, viewer: 0, deployer: 1, admin: 2 };

interface RouteCase {
  method: string;
  /** Path template, for the test name. */
  route: string;
  /** null: public. */
  needs: Role | null;
  /** Builds the concrete request for one caller (e.g. a fresh run to cancel). */
  prepare: (who: Who) => Promise<{ path: string; body?: unknown }>;
}

let svc: RealApp;
let deployRunId: string;
let artifactPath: string;

const newRun = async () => {
  const r = await call(svc.url, 'POST', '/ci/runs', { token: svc.tokens.admin, body: { dry_run: true, test_suite: 'none' } });
  expect(r.status, r.text).toBe(202);
  return r.body.run_id as string;
};

/** Cancels what the matrix queued and waits until every run has finished. */
const settleDevTest = async () => {
  const active = await call(svc.url, 'GET', '/ci/runs?status=queued,running&limit=200', { token: svc.tokens.admin });
  expect(active.status, active.text).toBe(200);
  for (const r of active.body.runs as Array<{ run_id: string }>) await call(svc.url, 'POST', `/ci/runs/${r.run_id}/cancel`, { token: svc.tokens.admin });
  for (const r of active.body.runs as Array<{ run_id: string }>) await waitForRun(svc.url, svc.tokens.admin, r.run_id);
};

const ROUTES: RouteCase[] = [
  { method: 'GET', route: '/healthz', needs: null, prepare: async () => ({ path: '/healthz' }) },
  { method: 'GET', route: '/readyz', needs: null, prepare: async () => ({ path: '/readyz' }) },
  { method: 'GET', route: '/metrics', needs: null, prepare: async () => ({ path: '/metrics' }) },
  { method: 'GET', route: '/docs/json', needs: null, prepare: async () => ({ path: '/docs/json' }) },
  { method: 'GET', route: '/ci/me', needs: null, prepare: async () => ({ path: '/ci/me' }) },
  { method: 'GET', route: '/ci/runs', needs: 'viewer', prepare: async () => ({ path: '/ci/runs' }) },
  { method: 'GET', route: '/ci/runs/{id}', needs: 'viewer', prepare: async () => ({ path: `/ci/runs/${deployRunId}` }) },
  { method: 'GET', route: '/ci/runs/{id}/summary.md', needs: 'viewer', prepare: async () => ({ path: `/ci/runs/${deployRunId}/summary.md` }) },
  { method: 'GET', route: '/ci/runs/{id}/artifacts/{artifact}', needs: 'viewer', prepare: async () => ({ path: `/ci/runs/${deployRunId}/artifacts/${artifactPath}` }) },
  { method: 'GET', route: '/ci/environments', needs: 'viewer', prepare: async () => ({ path: '/ci/environments' }) },
  { method: 'GET', route: '/ci/environments/{env}/deployments', needs: 'viewer', prepare: async () => ({ path: '/ci/environments/DevTest/deployments' }) },
  { method: 'GET', route: '/ci/environments/{env}/metrics', needs: 'viewer', prepare: async () => ({ path: '/ci/environments/DevTest/metrics' }) },
  { method: 'GET', route: '/ci/sandbox', needs: 'viewer', prepare: async () => ({ path: '/ci/sandbox' }) },
  { method: 'POST', route: '/ci/auth/ws-ticket', needs: 'viewer', prepare: async () => ({ path: '/ci/auth/ws-ticket' }) },
  { method: 'POST', route: '/ci/runs', needs: 'deployer', prepare: async () => ({ path: '/ci/runs', body: { dry_run: true, test_suite: 'none' } }) },
  { method: 'POST', route: '/ci/runs/{id}/cancel', needs: 'deployer', prepare: async () => ({ path: `/ci/runs/${await newRun()}/cancel` }) },
  { method: 'PUT', route: '/ci/sandbox/faults', needs: 'deployer', prepare: async () => ({ path: '/ci/sandbox/faults', body: { smoke_fail: false } }) },
  {
    method: 'POST',
    route: '/ci/environments/{env}/rollback',
    needs: 'admin',
    prepare: async (who) => {
      // A rollback waits for no run; one may start only when DevTest is idle (else 409).
      if (who === 'admin') await settleDevTest();
      return { path: '/ci/environments/DevTest/rollback', body: { confirm: 'DevTest', reason: 'route matrix' } };
    },
  },
  { method: 'GET', route: '/ci/audit', needs: 'admin', prepare: async () => ({ path: '/ci/audit' }) },
];

const expected = (needs: Role | null, who: Who): '2xx' | 401 | 403 => (needs === null || RANK[who] >= RANK[needs] ? '2xx' : who === 'anonymous' ? 401 : 403);

beforeAll(async () => {
  svc = await startRealApp();
  // A successful deployment, so Rollback N-1 has something to restore and the run has artifacts and a summary.
  const r = await call(svc.url, 'POST', '/ci/runs', { token: svc.tokens.deployer, body: { dry_run: false, test_suite: 'none' } });
  expect(r.status, r.text).toBe(202);
  deployRunId = r.body.run_id;
  const run = await waitForRun(svc.url, svc.tokens.viewer, deployRunId);
  expect(run.status, JSON.stringify(run).slice(0, 500)).toBe('success');
  const art = (run.artifacts as Array<{ path: string }>).find((a) => a.path === 'summary.json') ?? run.artifacts[0];
  expect(art, 'the deploy run lists artifacts').toBeDefined();
  artifactPath = art.path.split('/').map(encodeURIComponent).join('/');
});
afterAll(async () => svc?.close());

describe('route × role matrix (AUTH_MODE=token, bearer tokens)', () => {
  for (const rc of ROUTES) {
    for (const who of WHO) {
      const want = expected(rc.needs, who);
      it(`${rc.method} ${rc.route} as ${who} → ${want}`, async () => {
        const { path, body } = await rc.prepare(who);
        const token = who === 'anonymous' ? undefined : svc.tokens[who];
        const res = await call(svc.url, rc.method, path, { ...(token ? { token } : {}), ...(body !== undefined ? { body } : {}) });
        if (want === '2xx') {
          expect(res.status, `${rc.method} ${path} as ${who}: ${res.text.slice(0, 300)}`).toBeGreaterThanOrEqual(200);
          expect(res.status, `${rc.method} ${path} as ${who}: ${res.text.slice(0, 300)}`).toBeLessThan(300);
        } else {
          expect(res.status, `${rc.method} ${path} as ${who}: ${res.text.slice(0, 300)}`).toBe(want);
          expect(res.body.error.code).toBe(want === 401 ? 'unauthenticated' : 'forbidden');
          if (want === 401) expect(res.headers.get('www-authenticate')).toMatch(/^Bearer/);
          if (want === 403) expect(res.body.error.message).toContain(`needs the ${rc.needs} role`);
        }
      });
    }
  }

  it('GET /ci/me names the caller', async () => {
    for (const role of ['viewer', 'deployer', 'admin'] as const) {
      const me = await call(svc.url, 'GET', '/ci/me', { token: svc.tokens[role] });
      expect(me.body).toMatchObject({ user: { name: `matrix-${role}`, role }, auth_mode: 'token', sandbox: true });
    }
  });

  it('records who started, cancelled and rolled back, with the address', async () => {
    const audit = await call(svc.url, 'GET', '/ci/audit?limit=200', { token: svc.tokens.admin });
    const actions = new Set((audit.body.events as Array<{ action: string }>).map((e) => e.action));
    for (const a of ['run.start', 'run.cancel', 'run.rollback']) expect(actions).toContain(a);
    const start = (audit.body.events as any[]).find((e) => e.action === 'run.start' && e.target === deployRunId);
    expect(start).toMatchObject({ role: 'deployer', source_ip: '127.0.0.1' });
    expect(start.actor).toContain('matrix-deployer');
  });
});

describe('WS /ci/runs/{id}/logs × role', () => {
  /** First frame, or how the server refused: HTTP status of the upgrade or the close code. */
  const open = (query: string, headers: Record<string, string> = {}) =>
    new Promise<{ kind: 'message'; data: string } | { kind: 'http'; status: number } | { kind: 'close'; code: number }>((resolve, reject) => {
      const ws = new WebSocket(`${svc.wsUrl}/ci/runs/${deployRunId}/logs?${query}`, { headers });
      let first: string | null = null;
      ws.on('message', (d) => {
        if (first !== null) return;
        first = String(d);
        if (!/"type":"error"/.test(first)) {
          resolve({ kind: 'message', data: first });
          ws.close();
        }
      });
      ws.once('unexpected-response', (upgradeReq, res) => {
        resolve({ kind: 'http', status: res.statusCode ?? 0 });
        res.resume();
        // With this listener, ws leaves the refused upgrade's socket open: close it, or the server waits for it on close.
        upgradeReq.destroy();
      });
      ws.once('close', (code) => {
        resolve({ kind: 'close', code });
      });
      ws.once('error', reject);
    });

  it('refuses an anonymous viewer', async () => {
    const r = await open('format=json');
    expect(r.kind === 'http' ? r.status === 401 : r.kind === 'close' && r.code === 4401).toBe(true);
  });

  for (const role of ['viewer', 'deployer', 'admin'] as const) {
    it(`streams the log to a ${role} holding a ticket, once`, async () => {
      const t = await call(svc.url, 'POST', '/ci/auth/ws-ticket', { token: svc.tokens[role] });
      expect(t.status).toBe(200);
      const r = await open(`format=json&ticket=${t.body.ticket}`);
      expect(r.kind, JSON.stringify(r)).toBe('message');
      const again = await open(`format=json&ticket=${t.body.ticket}`);
      expect(again.kind).not.toBe('message');
    });
  }

  it('streams to a bearer client (non-browser)', async () => {
    const r = await open('format=json', { authorization: `Bearer ${svc.tokens.viewer}` });
    expect(r.kind).toBe('message');
  });
});
