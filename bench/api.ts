/**
 * API with 100 000 runs in SQLite: GET /ci/runs/{id} and history pages (first page, a deep
 * cursor page, a filtered page), p50/p99 over HTTP against the raw SQL those requests need,
 * timed in the same run on the same file with better-sqlite3 prepared statements.
 *
 * Seeding: the schema comes from the store's migrations; rows are shaped as
 * KyselyRunStore.createRun writes them (13 stages each) and inserted in bulk transactions,
 * because 100 000 one-by-one createRun transactions would take minutes here. The app then
 * reads them through its normal store.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import Database from 'better-sqlite3';
import { buildApp } from '../backend/ci/src/app.js';
import { loadConfig } from '../backend/ci/src/config.js';
import { CONTRACT_STAGES } from '../backend/ci/src/ci/models.js';
import { migrateToLatest, openDatabase } from '../backend/ci/src/store/db.js';
import { type BenchOptions, type BenchResult, ms, stats } from './lib/common.js';

const STATUSES = ['success', 'success', 'success', 'failed', 'rolled_back', 'error', 'cancelled'];

function seed(file: string, n: number): string[] {
  const db = new Database(file);
  db.pragma('journal_mode = WAL');
  const cols = [
    'run_id', 'app', 'env', 'kind', 'branch_or_tag', 'dry_run', 'test_suite', 'provider', 'status', 'phase', 'reason', 'failure_kind', 'initiator', 'created_at',
    'started_at', 'finished_at', 'commit_sha', 'commit_time', 'rollback_to', 'rollback_failed', 'cancel_requested', 'jenkins_job', 'jenkins_queue_id',
    'jenkins_build_number', 'jenkins_build_url', 'sandbox', 'score', 'metrics_json', 'notify_json', 'console_offset', 'console_pending', 'console_stage',
    'last_seq', 'lease_owner', 'lease_expires_at', 'queue_seq',
  ];
  const insRun = db.prepare(`insert into runs (${cols.join(',')}) values (${cols.map((c) => '@' + c).join(',')})`);
  const insStage = db.prepare('insert into stages (run_id, id, position, name, status, started_at, finished_at) values (?, ?, ?, ?, ?, ?, ?)');
  const insArtifact = db.prepare('insert into artifacts (run_id, path, name, bytes, sha256, content_type) values (?, ?, ?, ?, ?, ?)');
  const ids: string[] = [];
  const t0 = Date.parse('2025-12-01T00:00:00Z');
  let seedN = 99;
  const rnd = () => ((seedN = (Math.imul(seedN, 1664525) + 1013904223) >>> 0) / 2 ** 32);
  const batch = db.transaction((from: number, to: number) => {
    for (let i = from; i < to; i++) {
      const id = `${(0x10000000 + i).toString(16)}-0000-4000-8000-${i.toString(16).padStart(12, '0')}`;
      ids.push(id);
      const created = new Date(t0 + i * 300_000).toISOString();
      const finished = new Date(t0 + i * 300_000 + 240_000).toISOString();
      const status = STATUSES[Math.floor(rnd() * STATUSES.length)]!;
      insRun.run({
        run_id: id, app: 'WeSign', env: i % 10 === 0 ? 'Staging' : 'DevTest', kind: i % 25 === 0 ? 'rollback' : 'deploy', branch_or_tag: `release/${i % 300}`,
        dry_run: i % 7 === 0 ? 1 : 0, test_suite: 'full', provider: 'jenkins', status, phase: 'done', reason: status === 'success' ? null : 'gate failed: score below 80',
        failure_kind: null, initiator: ['alice', 'bob', 'carol', 'dan'][i % 4], created_at: created, started_at: created, finished_at: finished,
        commit_sha: 'a'.repeat(40), commit_time: created, rollback_to: null, rollback_failed: 0, cancel_requested: 0, jenkins_job: 'WeSign-CI',
        jenkins_queue_id: i + 1, jenkins_build_number: i + 1, jenkins_build_url: `http://jenkins.example/job/WeSign-CI/${i + 1}/`, sandbox: 0,
        score: Math.round(rnd() * 100), metrics_json: JSON.stringify({ score: 91, log_lines: 812, tests: { api: { passed: 40, failed: 0, skipped: 0, total: 40 } } }),
        notify_json: null, console_offset: 123456, console_pending: '', console_stage: 'report', last_seq: 812, lease_owner: null, lease_expires_at: null, queue_seq: i + 1,
      });
      CONTRACT_STAGES.forEach((s, pos) => insStage.run(id, s.id, pos, s.jenkins.join(' + ') || s.id, 'success', created, finished));
      for (const a of ['summary.json', 'newman.html', 'playwright.html', 'trx/unit.trx']) insArtifact.run(id, a, path.basename(a), 2048, 'b'.repeat(64), 'application/json');
    }
  });
  for (let i = 0; i < n; i += 5000) batch(i, Math.min(n, i + 5000));
  db.prepare("update counters set value = ? where name = 'queue_seq'").run(n);
  db.close();
  return ids;
}

async function timeHttp(url: string, count: number, pick: (i: number) => string): Promise<number[]> {
  const out: number[] = [];
  for (let i = 0; i < count; i++) {
    const t = performance.now();
    const res = await fetch(url + pick(i));
    await res.arrayBuffer();
    if (res.status !== 200) throw new Error(`GET ${pick(i)} answered ${res.status}`);
    out.push(performance.now() - t);
  }
  return out;
}

function timeRaw(count: number, fn: (i: number) => void): number[] {
  const out: number[] = [];
  for (let i = 0; i < count; i++) {
    const t = performance.now();
    fn(i);
    out.push(performance.now() - t);
  }
  return out;
}

export async function apiBench(o: BenchOptions): Promise<BenchResult> {
  const n = o.quick ? 10_000 : 100_000;
  const samples = o.quick ? 150 : 600;
  const dir = mkdtempSync(path.join(os.tmpdir(), 'qaci-bench-api-'));
  const file = path.join(dir, 'ci.sqlite');
  const opened = await openDatabase(file);
  await migrateToLatest(opened.db);
  await opened.close();
  const seedStart = performance.now();
  const ids = seed(file, n);
  const seedMs = performance.now() - seedStart;

  const config = loadConfig({ DATABASE_URL: file, ARTIFACT_STORE: path.join(dir, 'artifacts'), LOG_LEVEL: 'silent', PORT: '0', SANDBOX_TIME_SCALE: '0.02', RATE_LIMIT_READS_PER_MIN: '1000000' });
  const { app } = await buildApp(config);
  const base = await app.listen({ port: 0, host: '127.0.0.1' });
  const raw = new Database(file, { readonly: true });
  try {
    let r = 7;
    const randomId = () => ids[(r = (Math.imul(r, 1664525) + 1013904223) >>> 0) % ids.length]!;
    // Warm both paths (JIT, page cache) before timing.
    await timeHttp(base, 30, () => `/ci/runs/${randomId()}`);

    const qRun = raw.prepare('select * from runs where run_id = ?');
    const qStages = raw.prepare('select * from stages where run_id = ? order by position');
    const qArtifacts = raw.prepare('select * from artifacts where run_id = ? order by path');
    const qTypical = raw.prepare("select run_id from runs where app = ? and env = ? and status = 'success' order by created_at desc limit 20");
    const getHttp = stats(await timeHttp(base, samples, () => `/ci/runs/${randomId()}`));
    const getRaw = stats(timeRaw(samples, () => {
      const id = randomId();
      qRun.get(id);
      qStages.all(id);
      qArtifacts.all(id);
    }));
    const getRawAll = stats(timeRaw(samples, () => {
      const id = randomId();
      qRun.get(id);
      qStages.all(id);
      qArtifacts.all(id);
      qTypical.all('WeSign', 'DevTest');
    }));

    const qFirst = raw.prepare('select * from runs order by created_at desc, run_id desc limit 51');
    const firstHttp = stats(await timeHttp(base, samples, () => '/ci/runs?limit=50'));
    const firstRaw = stats(timeRaw(samples, () => qFirst.all()));

    // A deep page: the cursor of the 50 000th run (or the middle one in --quick).
    const mid = raw.prepare('select created_at, run_id from runs order by created_at desc, run_id desc limit 1 offset ?').get(Math.floor(n / 2)) as { created_at: string; run_id: string };
    const cursor = Buffer.from(JSON.stringify([mid.created_at, mid.run_id])).toString('base64url');
    const qDeep = raw.prepare('select * from runs where (created_at < ? or (created_at = ? and run_id < ?)) order by created_at desc, run_id desc limit 51');
    const deepHttp = stats(await timeHttp(base, samples, () => `/ci/runs?limit=50&cursor=${cursor}`));
    const deepRaw = stats(timeRaw(samples, () => qDeep.all(mid.created_at, mid.created_at, mid.run_id)));

    const qFiltered = raw.prepare("select * from runs where status in ('failed','rolled_back') and env = 'DevTest' order by created_at desc, run_id desc limit 51");
    const filtHttp = stats(await timeHttp(base, samples, () => '/ci/runs?limit=50&status=failed,rolled_back&env=DevTest'));
    const filtRaw = stats(timeRaw(samples, () => qFiltered.all()));

    // The proposed fix, measured in the same run: an index that serves typicalStageDurations'
    // "newest successful runs of this env" without sorting all of them.
    const typicalBefore = stats(timeRaw(samples, () => qTypical.all('WeSign', 'DevTest')));
    const rw = new Database(file);
    rw.exec('create index if not exists bench_runs_env_status_created on runs (app, env, status, created_at)');
    rw.close();
    const qTypical2 = raw.prepare("select run_id from runs where app = ? and env = ? and status = 'success' order by created_at desc limit 20");
    const typicalAfter = stats(timeRaw(samples, () => qTypical2.all('WeSign', 'DevTest')));
    const getHttpIndexed = stats(await timeHttp(base, samples, () => `/ci/runs/${randomId()}`));

    const row = (metric: string, h: ReturnType<typeof stats>, q: ReturnType<typeof stats>, what: string) => ({
      metric,
      value: `HTTP p50 ${ms(h.p50)} / p99 ${ms(h.p99)}`,
      against: `raw ${what} p50 ${ms(q.p50)} / p99 ${ms(q.p99)}`,
      ratio: `p50 ${(h.p50 / q.p50).toFixed(1)}×, p99 ${(h.p99 / q.p99).toFixed(1)}×`,
    });
    return {
      name: `API with ${n.toLocaleString('en')} runs in SQLite`,
      setup: `${n} runs × 13 stages × 4 artifacts seeded in ${(seedMs / 1000).toFixed(1)} s; ${samples} sequential requests each over loopback HTTP (keep-alive), in-process app; raw = better-sqlite3 prepared statements on the same file`,
      rows: [
        row('GET /ci/runs/{id}', getHttp, getRaw, 'run+stages+artifacts'),
        row('GET /ci/runs/{id} vs every query it makes', getHttp, getRawAll, '+typical durations'),
        {
          metric: 'typical-durations query, without → with index (app, env, status, created_at)',
          value: `p50 ${ms(typicalBefore.p50)} → ${ms(typicalAfter.p50)}`,
          ratio: `${(typicalBefore.p50 / typicalAfter.p50).toFixed(0)}× faster`,
        },
        row('GET /ci/runs/{id} with that index', getHttpIndexed, getRaw, 'run+stages+artifacts'),
        row('GET /ci/runs?limit=50 (first page)', firstHttp, firstRaw, 'page'),
        row('GET /ci/runs?limit=50&cursor=… (middle)', deepHttp, deepRaw, 'page'),
        row('GET /ci/runs?status=failed,rolled_back&env=DevTest', filtHttp, filtRaw, 'page'),
      ],
      notes: [],
    };
  } finally {
    raw.close();
    await app.close();
    rmSync(dir, { recursive: true, force: true });
  }
}
