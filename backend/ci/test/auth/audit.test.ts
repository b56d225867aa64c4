import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { listAudit, recordAudit } from '../../src/auth/audit.js';
import { createToken } from '../../src/auth/tokens.js';
import { createRedactor } from '../../src/ci/redact.js';
import { FAKE_SESSION_SECRET, type Harness, json, startHarness } from './harness.js';

describe('audit trail', () => {
  let h: Harness;
  let admin: string;
  let deployer: string;
  beforeAll(async () => {
    h = await startHarness({ AUTH_MODE: 'token', SESSION_SECRET: FAKE_SESSION_SECRET });
    admin = (await createToken(h.db, { name: 'ada', role: 'admin' })).token;
    deployer = (await createToken(h.db, { name: 'dan', role: 'deployer' })).token;
  });
  afterAll(async () => h.close());

  it('records and lists events newest first, with filters and cursor pagination', async () => {
    const t0 = Date.parse('2026-01-01T00:00:00Z');
    for (let i = 0; i < 7; i++) {
      await recordAudit(h.db, { actor: i % 2 ? 'dan (token:tok_1)' : 'ada (token:tok_2)', role: 'deployer', action: i === 6 ? 'run.rollback' : 'run.start', target: `run-${i}`, source_ip: '127.0.0.1', at: new Date(t0 + i * 1000) });
    }
    const p1 = await listAudit(h.db, { limit: 3, until: '2026-01-02' });
    expect(p1.events.map((e) => e.target)).toEqual(['run-6', 'run-5', 'run-4']);
    const p2 = await listAudit(h.db, { limit: 3, until: '2026-01-02', cursor: p1.next_cursor! });
    expect(p2.events.map((e) => e.target)).toEqual(['run-3', 'run-2', 'run-1']);
    const p3 = await listAudit(h.db, { limit: 3, until: '2026-01-02', cursor: p2.next_cursor! });
    expect(p3.events.map((e) => e.target)).toEqual(['run-0']);
    expect(p3.next_cursor).toBeNull();
    expect((await listAudit(h.db, { action: 'run.rollback' })).events.map((e) => e.target)).toEqual(['run-6']);
    expect((await listAudit(h.db, { actor: 'dan (token:tok_1)', until: '2026-01-02' })).events).toHaveLength(3);
    expect((await listAudit(h.db, { since: '2026-01-01T00:00:05Z', until: '2026-01-02' })).events.map((e) => e.target)).toEqual(['run-6', 'run-5']);
  });

  it('masks secrets in free text and bounds its size', async () => {
    const redactor = createRedactor(['fake-configured-secret-value']);
    const e = await recordAudit(
      h.db,
      { actor: 'x', action: 'run.start', user_agent: 'curl Bearer abcdefghijklmnop', details: { note: 'password=fake-pass-123 and fake-configured-secret-value', big: 'y'.repeat(10_000) } },
      redactor,
    );
    const stored = JSON.stringify(e);
    expect(stored).not.toContain('fake-pass-123');
    expect(stored).not.toContain('fake-configured-secret-value');
    expect(stored).not.toContain('abcdefghijklmnop');
    expect(stored.length).toBeLessThan(6000);
  });

  it('rejects bad filters with 422s that say what to send', async () => {
    await expect(listAudit(h.db, { action: 'run.delete' })).rejects.toMatchObject({ status: 422, message: expect.stringMatching(/action must be one of run.start/) });
    await expect(listAudit(h.db, { since: 'yesterday' })).rejects.toMatchObject({ status: 422, message: expect.stringMatching(/ISO-8601/) });
    await expect(listAudit(h.db, { cursor: 'garbage' })).rejects.toMatchObject({ status: 422 });
    await expect(listAudit(h.db, { limit: 1000 })).rejects.toMatchObject({ status: 422 });
  });

  it('serves GET /ci/audit to admins only', async () => {
    expect((await fetch(`${h.url}/ci/audit`)).status).toBe(401);
    expect((await fetch(`${h.url}/ci/audit`, { headers: { authorization: `Bearer ${deployer}` } })).status).toBe(403);
    const res = await fetch(`${h.url}/ci/audit?action=run.rollback&limit=5`, { headers: { authorization: `Bearer ${admin}` } });
    expect(res.status).toBe(200);
    const body = await json(res);
    expect(body.events.every((e: any) => e.action === 'run.rollback')).toBe(true);
    expect(body.events.length).toBeGreaterThan(0);
    const bad = await fetch(`${h.url}/ci/audit?limit=abc&evil=1`, { headers: { authorization: `Bearer ${admin}` } });
    expect(bad.status).toBe(422);
    expect((await json(bad)).error.message).toMatch(/Query parameters are actor, action/);
  });

  it('keeps audit rows when runs are pruned', async () => {
    const now = new Date().toISOString();
    await h.db
      .insertInto('runs')
      .values({ run_id: 'run-pruned', app: 'WeSign', env: 'DevTest', kind: 'deploy', branch_or_tag: 'main', dry_run: 0, test_suite: 'none', provider: 'jenkins', status: 'success', phase: 'done', initiator: 'dan', created_at: now, jenkins_job: 'WeSign-CI', sandbox: 1, metrics_json: '{}', queue_seq: 1 })
      .execute();
    await recordAudit(h.db, { actor: 'dan', action: 'run.start', target: 'run-pruned' });
    await h.db.deleteFrom('runs').where('run_id', '=', 'run-pruned').execute();
    expect((await listAudit(h.db, { target: 'run-pruned' })).events).toHaveLength(1);
  });
});
