/** Reads what a scenario left in the service's SQLite file, to check the result independently of the commands' output. */
import Database from 'better-sqlite3';

export interface RunRecord {
  run_id: string;
  env: string;
  kind: string;
  dry_run: number;
  status: string;
  score: number | null;
  rollback_failed: number;
  failure_kind: string | null;
  stages: Record<string, string>;
}

export function runsIn(dbPath: string): RunRecord[] {
  const db = new Database(dbPath, { readonly: true, fileMustExist: true });
  try {
    const runs = db.prepare('select run_id, env, kind, dry_run, status, score, rollback_failed, failure_kind from runs order by created_at').all() as Omit<RunRecord, 'stages'>[];
    const stage = db.prepare('select id, status from stages where run_id = ?');
    return runs.map((r) => ({ ...r, stages: Object.fromEntries((stage.all(r.run_id) as Array<{ id: string; status: string }>).map((s) => [s.id, s.status])) }));
  } finally {
    db.close();
  }
}

export function tokensIn(dbPath: string): Array<{ id: string; name: string; role: string; revoked_at: string | null }> {
  const db = new Database(dbPath, { readonly: true, fileMustExist: true });
  try {
    return db.prepare('select id, name, role, revoked_at from api_tokens order by created_at').all() as Array<{ id: string; name: string; role: string; revoked_at: string | null }>;
  } finally {
    db.close();
  }
}
