/** Table types for Kysely. Booleans are stored as 0/1 integers (portable). */
export interface RunsTable {
  run_id: string;
  app: string;
  env: string;
  kind: string;
  branch_or_tag: string;
  dry_run: number;
  test_suite: string;
  provider: string;
  status: string;
  /** Where the orchestrator is in the run; lets a restarted worker resume. */
  phase: string;
  reason: string | null;
  failure_kind: string | null;
  initiator: string;
  created_at: string;
  started_at: string | null;
  finished_at: string | null;
  commit_sha: string | null;
  commit_time: string | null;
  rollback_to: string | null;
  rollback_failed: number;
  cancel_requested: number;
  jenkins_job: string;
  jenkins_queue_id: number | null;
  jenkins_build_number: number | null;
  jenkins_build_url: string | null;
  sandbox: number;
  score: number | null;
  metrics_json: string;
  notify_json: string | null;
  /** progressiveText cursor and the partial last line, persisted with the lines they produced. */
  console_offset: number;
  console_pending: string;
  console_stage: string;
  /** Body bytes of the reply from console_offset already stored (migration 004). */
  console_skip: number;
  /** 1 while the stored lines end inside a multi-line private key (migration 004). */
  console_in_key: number;
  last_seq: number;
  lease_owner: string | null;
  lease_expires_at: string | null;
  queue_seq: number;
}

export interface StagesTable {
  run_id: string;
  id: string;
  position: number;
  name: string;
  status: string;
  started_at: string | null;
  finished_at: string | null;
}

/** Consecutive lines of one stage, seqs first_seq..last_seq joined with "\n" (migration 004). */
export interface LogChunksTable {
  run_id: string;
  first_seq: number;
  last_seq: number;
  stage: string;
  text: string;
  ts: string;
}

export interface ArtifactsTable {
  run_id: string;
  path: string;
  name: string;
  bytes: number;
  sha256: string;
  content_type: string;
}

export interface DeploymentsTable {
  run_id: string;
  app: string;
  env: string;
  kind: string;
  version: string;
  commit_sha: string | null;
  artifact_sha256: string | null;
  backup_id: string | null;
  status: string;
  initiator: string;
  deployed_at: string;
}

export interface CountersTable {
  name: string;
  value: number;
}

export interface Database {
  runs: RunsTable;
  stages: StagesTable;
  log_chunks: LogChunksTable;
  artifacts: ArtifactsTable;
  deployments: DeploymentsTable;
  counters: CountersTable;
}
// Tables of later migrations (auth, 002) are typed in their own modules.
