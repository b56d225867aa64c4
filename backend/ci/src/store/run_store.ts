/**
 * RunStore: everything the API and the orchestrator persist, behind one seam.
 * The implementation below uses Kysely's portable query builder only, so the
 * same code runs on SQLite (embedded default) and PostgreSQL.
 *
 * Promises:
 * - Log lines get per-run sequence numbers 1, 2, 3… with no gap: `appendLogs`
 *   assigns them inside the same transaction that stores the lines and the
 *   console cursor, so a crash can never store a line twice or skip one.
 * - Writes by a worker are fenced by its lease: once a lease is lost (expired
 *   and claimed by someone else) `appendLogs`/`updateRun` with the old owner
 *   throw `LeaseLostError` and change nothing.
 * - Queue order is FIFO per (app, env) by `queue_seq`, a counter, not a clock.
 */
import { type Kysely, sql } from 'kysely';
import type { Database, DeploymentsTable, RunsTable, StagesTable } from './schema.js';

export class LeaseLostError extends Error {
  override name = 'LeaseLostError';
}

export type RunRow = RunsTable;
export type StageRow = StagesTable;
export type DeploymentRow = DeploymentsTable;
export interface ArtifactRow {
  run_id: string;
  path: string;
  name: string;
  bytes: number;
  sha256: string;
  content_type: string;
}
export interface LogRow {
  seq: number;
  stage: string;
  text: string;
  ts: string;
}

export interface NewRun {
  run_id: string;
  app: string;
  env: string;
  kind: 'deploy' | 'rollback';
  branch_or_tag: string;
  dry_run: boolean;
  test_suite: string;
  initiator: string;
  created_at: string;
  rollback_to: string | null;
  jenkins_job: string;
  sandbox: boolean;
  metrics_json: string;
  stages: Array<{ id: string; name: string }>;
}

export interface RunFilters {
  status?: string[];
  app?: string;
  env?: string;
  initiator?: string;
  kind?: string;
  from?: string;
  to?: string;
  limit: number;
  /** Opaque cursor from a previous page. */
  cursor?: string;
}

export interface ConsoleCursor {
  /** progressiveText `start` of the reply being read (X-Text-Size of the last complete one). */
  offset: number;
  /** Body bytes of that reply already stored; 0 between replies (migration 004). */
  skip?: number;
  /** The lines stored so far end inside a multi-line private key (redactLines' state). */
  inKey?: boolean;
  pending: string;
  stage: string;
}

/** The columns of a run row that hold its console cursor (what appendLogs stores with the lines). */
export function consoleColumns(c: ConsoleCursor) {
  return { console_offset: c.offset, console_skip: c.skip ?? 0, console_in_key: c.inKey ? 1 : 0, console_pending: c.pending, console_stage: c.stage };
}

/** The console cursor a run row holds. */
export function consoleCursorOf(run: Pick<RunRow, 'console_offset' | 'console_skip' | 'console_in_key' | 'console_pending' | 'console_stage'>): Required<ConsoleCursor> {
  return { offset: run.console_offset, skip: run.console_skip, inKey: run.console_in_key === 1, pending: run.console_pending, stage: run.console_stage };
}

/** The seqs appendLogs gave the lines: first..last (last = first - 1 when there were none). */
export interface AppendedLogs {
  first: number;
  last: number;
}

function prepareLogStatements(sqlite: SQLiteHandle) {
  return {
    lease: sqlite.prepare('select last_seq, lease_owner from runs where run_id = ?'),
    insert: sqlite.prepare('insert into log_chunks (run_id, first_seq, last_seq, stage, text, ts) values (?, ?, ?, ?, ?, ?)'),
    cursor: sqlite.prepare('update runs set last_seq = ?, console_offset = ?, console_skip = ?, console_in_key = ?, console_pending = ?, console_stage = ? where run_id = ?'),
  };
}

/** About the most text one log_chunks row holds; a single longer line gets a row of its own. */
export const LOG_CHUNK_CHARS = 64 * 1024;

/**
 * Groups consecutive lines of one stage into rows of at most LOG_CHUNK_CHARS, seqs from `first`.
 * Lines never contain "\n" (the console parser splits on it), so joining with "\n" is lossless.
 */
function chunkLines(runId: string, first: number, lines: ReadonlyArray<{ stage: string; text: string; ts: string }>) {
  const chunks: Array<{ run_id: string; first_seq: number; last_seq: number; stage: string; text: string; ts: string }> = [];
  let start = 0;
  let size = 0;
  const close = (end: number) => {
    const head = lines[start]!;
    const texts = new Array<string>(end - start);
    for (let i = start; i < end; i++) texts[i - start] = lines[i]!.text;
    chunks.push({ run_id: runId, first_seq: first + start, last_seq: first + end - 1, stage: head.stage, text: texts.join('\n'), ts: head.ts });
    start = end;
    size = 0;
  };
  for (let i = 0; i < lines.length; i++) {
    const l = lines[i]!;
    if (i > start && (l.stage !== lines[start]!.stage || l.ts !== lines[start]!.ts || size + l.text.length > LOG_CHUNK_CHARS)) close(i);
    size += l.text.length + 1;
  }
  if (start < lines.length) close(lines.length);
  return chunks;
}

export interface RunStore {
  createRun(run: NewRun): Promise<RunRow>;
  getRun(runId: string): Promise<RunRow | undefined>;
  getStages(runId: string): Promise<StageRow[]>;
  getArtifacts(runId: string): Promise<ArtifactRow[]>;
  listRuns(f: RunFilters): Promise<{ runs: RunRow[]; nextCursor: string | null }>;
  /** 1-based position among queued runs of the run's (app, env); null if not queued. */
  queuePosition(run: RunRow): Promise<number | null>;
  queueLength(app: string, env: string): Promise<number>;
  activeRun(app: string, env: string): Promise<RunRow | undefined>;
  /**
   * Claims one run for `owner`: first a running run whose lease expired (to
   * resume it), else the oldest queued run of an env with no running run.
   */
  claimNext(owner: string, leaseMs: number): Promise<RunRow | undefined>;
  renewLease(runId: string, owner: string, leaseMs: number): Promise<boolean>;
  releaseLease(runId: string, owner: string): Promise<void>;
  /** Forgets every lease (embedded mode at start: this process is the only worker). */
  clearLeases(): Promise<void>;
  updateRun(runId: string, owner: string | null, patch: Partial<RunRow>): Promise<void>;
  /** Cancels a run still queued (no worker owns it). Returns false if it is no longer queued. */
  cancelQueued(runId: string, at: string, reason: string): Promise<boolean>;
  requestCancel(runId: string): Promise<void>;
  upsertStages(runId: string, owner: string | null, stages: StageRow[]): Promise<void>;
  /** Stores the lines with the next seqs and the console cursor, in one transaction fenced by the lease. */
  appendLogs(runId: string, owner: string, lines: ReadonlyArray<{ stage: string; text: string; ts: string }>, cursor: ConsoleCursor): Promise<AppendedLogs>;
  readLogs(runId: string, afterSeq: number, limit: number): Promise<LogRow[]>;
  putArtifacts(rows: ArtifactRow[]): Promise<void>;
  recordDeployment(d: DeploymentRow): Promise<void>;
  deployments(app: string, env: string, limit: number): Promise<DeploymentRow[]>;
  /** Runs of one env finished since `since`, for environment metrics. */
  finishedRuns(app: string, env: string, since: string): Promise<RunRow[]>;
  /** Median duration per stage id over the last successful runs of the env. */
  typicalStageDurations(app: string, env: string, lastN: number): Promise<Record<string, number>>;
  ping(): Promise<void>;
}

const nowIso = () => new Date().toISOString();
const plus = (ms: number) => new Date(Date.now() + ms).toISOString();
const NON_TERMINAL = ['queued', 'running'];

function encodeCursor(r: { created_at: string; run_id: string }): string {
  return Buffer.from(JSON.stringify([r.created_at, r.run_id])).toString('base64url');
}
export function decodeCursor(cursor: string): [string, string] | null {
  try {
    const v = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
    if (Array.isArray(v) && v.length === 2 && typeof v[0] === 'string' && typeof v[1] === 'string') return [v[0], v[1]];
  } catch {
    /* invalid cursor */
  }
  return null;
}

/** Options of KyselyRunStore. */
export interface RunStoreOptions {
  /**
   * The better-sqlite3 handle under `db`, when it is SQLite: the log is then stored with cached
   * prepared statements inside the same Kysely transaction (Kysely prepares every statement
   * anew; for a 100 MB console that was a fifth of the store time).
   */
  sqlite?: SQLiteHandle;
}

/** The part of better-sqlite3's Database the fast path uses. */
export interface SQLiteHandle {
  prepare(sql: string): { run(...params: unknown[]): unknown; get(...params: unknown[]): unknown };
}

export class KyselyRunStore implements RunStore {
  private logStatements: ReturnType<typeof prepareLogStatements> | null = null;

  constructor(
    private readonly db: Kysely<Database>,
    private readonly options: RunStoreOptions = {},
  ) {}

  /** Prepared on first use: the tables exist only once the migrations have run. */
  private fastLogStatements() {
    if (!this.logStatements && this.options.sqlite) this.logStatements = prepareLogStatements(this.options.sqlite);
    return this.logStatements;
  }

  async createRun(run: NewRun): Promise<RunRow> {
    return this.db.transaction().execute(async (tx) => {
      const counter = await tx
        .updateTable('counters')
        .set({ value: sql`value + 1` })
        .where('name', '=', 'queue_seq')
        .returning('value')
        .executeTakeFirstOrThrow();
      const row: RunRow = {
        run_id: run.run_id,
        app: run.app,
        env: run.env,
        kind: run.kind,
        branch_or_tag: run.branch_or_tag,
        dry_run: run.dry_run ? 1 : 0,
        test_suite: run.test_suite,
        provider: 'jenkins',
        status: 'queued',
        phase: 'queued',
        reason: null,
        failure_kind: null,
        initiator: run.initiator,
        created_at: run.created_at,
        started_at: null,
        finished_at: null,
        commit_sha: null,
        commit_time: null,
        rollback_to: run.rollback_to,
        rollback_failed: 0,
        cancel_requested: 0,
        jenkins_job: run.jenkins_job,
        jenkins_queue_id: null,
        jenkins_build_number: null,
        jenkins_build_url: null,
        sandbox: run.sandbox ? 1 : 0,
        score: null,
        metrics_json: run.metrics_json,
        notify_json: null,
        console_offset: 0,
        console_skip: 0,
        console_in_key: 0,
        console_pending: '',
        console_stage: 'checkout',
        last_seq: 0,
        lease_owner: null,
        lease_expires_at: null,
        queue_seq: Number(counter.value),
      };
      await tx.insertInto('runs').values(row).execute();
      if (run.stages.length) await tx
        .insertInto('stages')
        .values(run.stages.map((s, i) => ({ run_id: run.run_id, id: s.id, position: i, name: s.name, status: 'pending', started_at: null, finished_at: null })))
        .execute();
      return row;
    });
  }

  getRun(runId: string) {
    return this.db.selectFrom('runs').selectAll().where('run_id', '=', runId).executeTakeFirst();
  }

  getStages(runId: string) {
    return this.db.selectFrom('stages').selectAll().where('run_id', '=', runId).orderBy('position').execute();
  }

  async getArtifacts(runId: string): Promise<ArtifactRow[]> {
    const rows = await this.db.selectFrom('artifacts').selectAll().where('run_id', '=', runId).orderBy('path').execute();
    return rows.map((r) => ({ ...r, bytes: Number(r.bytes) }));
  }

  async listRuns(f: RunFilters) {
    let q = this.db.selectFrom('runs').selectAll();
    if (f.status?.length) q = q.where('status', 'in', f.status);
    if (f.app) q = q.where('app', '=', f.app);
    if (f.env) q = q.where('env', '=', f.env);
    if (f.initiator) q = q.where('initiator', '=', f.initiator);
    if (f.kind) q = q.where('kind', '=', f.kind);
    if (f.from) q = q.where('created_at', '>=', f.from);
    if (f.to) q = q.where('created_at', '<=', f.to);
    if (f.cursor) {
      const c = decodeCursor(f.cursor);
      if (c) {
        const [createdAt, runId] = c;
        q = q.where((eb) => eb.or([eb('created_at', '<', createdAt), eb.and([eb('created_at', '=', createdAt), eb('run_id', '<', runId)])]));
      }
    }
    const rows = await q.orderBy('created_at', 'desc').orderBy('run_id', 'desc').limit(f.limit + 1).execute();
    const page = rows.slice(0, f.limit);
    const last = page[page.length - 1];
    return { runs: page, nextCursor: rows.length > f.limit && last ? encodeCursor(last) : null };
  }

  async queuePosition(run: RunRow): Promise<number | null> {
    if (run.status !== 'queued') return null;
    const r = await this.db
      .selectFrom('runs')
      .select((eb) => eb.fn.countAll<number>().as('n'))
      .where('app', '=', run.app)
      .where('env', '=', run.env)
      .where('status', '=', 'queued')
      .where('queue_seq', '<', run.queue_seq)
      .executeTakeFirstOrThrow();
    return Number(r.n) + 1;
  }

  async queueLength(app: string, env: string) {
    const r = await this.db
      .selectFrom('runs')
      .select((eb) => eb.fn.countAll<number>().as('n'))
      .where('app', '=', app)
      .where('env', '=', env)
      .where('status', '=', 'queued')
      .executeTakeFirstOrThrow();
    return Number(r.n);
  }

  activeRun(app: string, env: string) {
    return this.db.selectFrom('runs').selectAll().where('app', '=', app).where('env', '=', env).where('status', '=', 'running').executeTakeFirst();
  }

  async claimNext(owner: string, leaseMs: number): Promise<RunRow | undefined> {
    return this.db.transaction().execute(async (tx) => {
      const now = nowIso();
      // 1. A running run nobody holds (its worker died): resume it.
      const orphan = await tx
        .selectFrom('runs')
        .selectAll()
        .where('status', '=', 'running')
        .where((eb) => eb.or([eb('lease_owner', 'is', null), eb('lease_expires_at', '<', now)]))
        .orderBy('queue_seq')
        .limit(1)
        .executeTakeFirst();
      let candidate = orphan;
      if (!candidate) {
        // 2. The oldest queued run of an environment that has no running run.
        candidate = await tx
          .selectFrom('runs as r')
          .selectAll('r')
          .where('r.status', '=', 'queued')
          .where(({ not, exists, selectFrom }) =>
            not(
              exists(
                selectFrom('runs as a')
                  .select('a.run_id')
                  .whereRef('a.app', '=', 'r.app')
                  .whereRef('a.env', '=', 'r.env')
                  .where('a.status', '=', 'running'),
              ),
            ),
          )
          .orderBy('r.queue_seq')
          .limit(1)
          .executeTakeFirst();
      }
      if (!candidate) return undefined;
      // Compare-and-set on the row we read, so two workers can never both win it.
      const res = await tx
        .updateTable('runs')
        .set({ lease_owner: owner, lease_expires_at: plus(leaseMs), status: 'running', started_at: candidate.started_at ?? now })
        .where('run_id', '=', candidate.run_id)
        .where('status', '=', candidate.status)
        .where((eb) => (candidate.lease_owner === null ? eb('lease_owner', 'is', null) : eb('lease_owner', '=', candidate.lease_owner)))
        .executeTakeFirst();
      if (Number(res.numUpdatedRows) !== 1) return undefined;
      return { ...candidate, lease_owner: owner, status: 'running', started_at: candidate.started_at ?? now };
    });
  }

  async renewLease(runId: string, owner: string, leaseMs: number) {
    const r = await this.db
      .updateTable('runs')
      .set({ lease_expires_at: plus(leaseMs) })
      .where('run_id', '=', runId)
      .where('lease_owner', '=', owner)
      .executeTakeFirst();
    return Number(r.numUpdatedRows) === 1;
  }

  async releaseLease(runId: string, owner: string) {
    await this.db.updateTable('runs').set({ lease_owner: null, lease_expires_at: null }).where('run_id', '=', runId).where('lease_owner', '=', owner).execute();
  }

  async clearLeases() {
    await this.db.updateTable('runs').set({ lease_owner: null, lease_expires_at: null }).where('status', 'in', NON_TERMINAL).execute();
  }

  async updateRun(runId: string, owner: string | null, patch: Partial<RunRow>) {
    let q = this.db.updateTable('runs').set(patch).where('run_id', '=', runId);
    if (owner) q = q.where('lease_owner', '=', owner);
    const r = await q.executeTakeFirst();
    if (owner && Number(r.numUpdatedRows) !== 1) throw new LeaseLostError(`lease on run ${runId} lost`);
  }

  async cancelQueued(runId: string, at: string, reason: string) {
    const r = await this.db
      .updateTable('runs')
      .set({ status: 'cancelled', phase: 'done', finished_at: at, reason })
      .where('run_id', '=', runId)
      .where('status', '=', 'queued')
      .executeTakeFirst();
    if (Number(r.numUpdatedRows) === 1) {
      await this.db.updateTable('stages').set({ status: 'cancelled' }).where('run_id', '=', runId).where('status', '=', 'pending').execute();
      return true;
    }
    return false;
  }

  async requestCancel(runId: string) {
    await this.db.updateTable('runs').set({ cancel_requested: 1 }).where('run_id', '=', runId).execute();
  }

  async upsertStages(runId: string, owner: string | null, stages: StageRow[]) {
    await this.db.transaction().execute(async (tx) => {
      if (owner) {
        const held = await tx.selectFrom('runs').select('run_id').where('run_id', '=', runId).where('lease_owner', '=', owner).executeTakeFirst();
        if (!held) throw new LeaseLostError(`lease on run ${runId} lost`);
      }
      for (const s of stages) {
        await tx
          .updateTable('stages')
          .set({ status: s.status, started_at: s.started_at, finished_at: s.finished_at, name: s.name })
          .where('run_id', '=', runId)
          .where('id', '=', s.id)
          .execute();
      }
    });
  }

  async appendLogs(runId: string, owner: string, lines: ReadonlyArray<{ stage: string; text: string; ts: string }>, cursor: ConsoleCursor): Promise<AppendedLogs> {
    return this.db.transaction().execute(async (tx) => {
      const fast = this.fastLogStatements();
      // Inside the Kysely transaction the connection is ours alone (Kysely's SQLite driver holds its
      // mutex until commit), so the prepared statements below run in this same transaction.
      const run = fast
        ? (fast.lease.get(runId) as { last_seq: number; lease_owner: string | null } | undefined)
        : await tx.selectFrom('runs').select(['last_seq', 'lease_owner']).where('run_id', '=', runId).executeTakeFirst();
      if (!run || run.lease_owner !== owner) throw new LeaseLostError(`lease on run ${runId} lost`);
      const first = Number(run.last_seq) + 1;
      const last = first - 1 + lines.length;
      const chunks = chunkLines(runId, first, lines);
      const next = { last_seq: last, ...consoleColumns(cursor) };
      if (fast) {
        for (const c of chunks) fast.insert.run(c.run_id, c.first_seq, c.last_seq, c.stage, c.text, c.ts);
        fast.cursor.run(next.last_seq, next.console_offset, next.console_skip, next.console_in_key, next.console_pending, next.console_stage, runId);
      } else {
        // Insert in slices: SQLite limits bound parameters per statement.
        for (let i = 0; i < chunks.length; i += 100) await tx.insertInto('log_chunks').values(chunks.slice(i, i + 100)).execute();
        await tx.updateTable('runs').set(next).where('run_id', '=', runId).execute();
      }
      return { first, last };
    });
  }

  async readLogs(runId: string, afterSeq: number, limit: number): Promise<LogRow[]> {
    const out: LogRow[] = [];
    let after = afterSeq;
    // A few chunks at a time: one chunk holds up to ~64 KB, so never fetch more than the page needs.
    while (out.length < limit) {
      const rows = await this.db
        .selectFrom('log_chunks')
        .select(['first_seq', 'last_seq', 'stage', 'text', 'ts'])
        .where('run_id', '=', runId)
        .where('last_seq', '>', after)
        .orderBy('last_seq')
        .limit(8)
        .execute();
      for (const r of rows) {
        const firstSeq = Number(r.first_seq);
        const texts = r.text.split('\n');
        for (let i = Math.max(0, after + 1 - firstSeq); i < texts.length && out.length < limit; i++) {
          out.push({ seq: firstSeq + i, stage: r.stage, text: texts[i]!, ts: r.ts });
        }
        after = out.length ? out[out.length - 1]!.seq : after;
        if (out.length >= limit) break;
      }
      if (rows.length < 8) break;
    }
    return out;
  }

  async putArtifacts(rows: ArtifactRow[]) {
    if (!rows.length) return;
    await this.db.transaction().execute(async (tx) => {
      for (const r of rows) {
        await tx.deleteFrom('artifacts').where('run_id', '=', r.run_id).where('path', '=', r.path).execute();
        await tx.insertInto('artifacts').values(r).execute();
      }
    });
  }

  async recordDeployment(d: DeploymentRow) {
    await this.db.transaction().execute(async (tx) => {
      await tx.deleteFrom('deployments').where('run_id', '=', d.run_id).execute();
      await tx.insertInto('deployments').values(d).execute();
    });
  }

  deployments(app: string, env: string, limit: number) {
    return this.db
      .selectFrom('deployments')
      .selectAll()
      .where('app', '=', app)
      .where('env', '=', env)
      .orderBy('deployed_at', 'desc')
      .orderBy('run_id', 'desc')
      .limit(limit)
      .execute();
  }

  finishedRuns(app: string, env: string, since: string) {
    return this.db
      .selectFrom('runs')
      .selectAll()
      .where('app', '=', app)
      .where('env', '=', env)
      .where('created_at', '>=', since)
      .where('status', 'not in', NON_TERMINAL)
      .orderBy('created_at')
      .execute();
  }

  async typicalStageDurations(app: string, env: string, lastN: number): Promise<Record<string, number>> {
    const recent = await this.db
      .selectFrom('runs')
      .select('run_id')
      .where('app', '=', app)
      .where('env', '=', env)
      .where('status', '=', 'success')
      .orderBy('created_at', 'desc')
      .limit(lastN)
      .execute();
    if (!recent.length) return {};
    const stages = await this.db
      .selectFrom('stages')
      .select(['id', 'started_at', 'finished_at'])
      .where(
        'run_id',
        'in',
        recent.map((r) => r.run_id),
      )
      .where('status', '=', 'success')
      .execute();
    const by = new Map<string, number[]>();
    for (const s of stages) {
      if (!s.started_at || !s.finished_at) continue;
      const ms = Date.parse(s.finished_at) - Date.parse(s.started_at);
      if (ms >= 0) by.set(s.id, [...(by.get(s.id) ?? []), ms]);
    }
    const out: Record<string, number> = {};
    for (const [id, list] of by) {
      list.sort((a, b) => a - b);
      out[id] = list[Math.floor(list.length / 2)]!;
    }
    return out;
  }

  async ping() {
    await sql`select 1`.execute(this.db);
  }
}
