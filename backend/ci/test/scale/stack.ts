/**
 * Test harness for the scale-out pieces in one process: a worker stack wired
 * the way app.ts wires it (store, hub, Jenkins client, orchestrator, queue
 * from the factory), and a look at Jenkins' builds by QA_RUN_ID, so a test
 * can count builds per run through the Jenkins REST API.
 */
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import pino from 'pino';
import { loadConfig, type Config } from '../../src/config.js';
import { RunEvents } from '../../src/ci/events.js';
import type { LogHub } from '../../src/ci/logs/log_hub.js';
import { Orchestrator, leaseMsOf } from '../../src/ci/orchestrator.js';
import { JenkinsClient } from '../../src/ci/providers/jenkins_client.js';
import type { JobQueue } from '../../src/ci/queue/job_queue.js';
import { createRedactor } from '../../src/ci/redact.js';
import { RunService } from '../../src/ci/run_service.js';
import { createJobQueue, createLogHub } from '../../src/scale/factory.js';
import type { RunStore } from '../../src/store/run_store.js';

export interface Jenkins {
  url: string;
  user: string;
  token: string;
}

/** Two environments, each with its own Jenkins job (the sandbox serves both). */
export const SECOND_ENV = { ENV_NAME: 'QA', JENKINS_JOB_NAME: 'WeSign-QA' };

export function scaleConfig(dir: string, jenkins: Jenkins, extra: Record<string, string> = {}): Config {
  const envFile = path.join(dir, 'environments.json');
  writeFileSync(envFile, JSON.stringify([SECOND_ENV]));
  return loadConfig({
    JENKINS_URL: jenkins.url,
    JENKINS_USER: jenkins.user,
    JENKINS_API_TOKEN: jenkins.token,
    JENKINS_POLL_MS: '100',
    JENKINS_DEADLINE_S: '30',
    CI_ENVIRONMENTS_FILE: envFile,
    ARTIFACT_STORE: path.join(dir, 'artifacts'),
    LOG_LEVEL: 'silent',
    ...extra,
  });
}

export interface WorkerStack {
  queue: JobQueue;
  hub: LogHub;
  service: RunService;
  close(): Promise<void>;
}

export async function workerStack(config: Config, store: RunStore, opts: { start?: boolean; concurrency?: number } = {}): Promise<WorkerStack> {
  const log = pino({ level: 'silent' });
  const redactor = createRedactor(config.secrets);
  const events = new RunEvents();
  const hub = await createLogHub({ redisUrl: config.redisUrl, store, log });
  const provider = new JenkinsClient({ baseUrl: config.jenkins.url!, user: config.jenkins.user!, apiToken: config.jenkins.apiToken! });
  const orchestrator = new Orchestrator({ config, store, hub, provider, redactor, notifiers: [], events, log, sandbox: false });
  const queue = await createJobQueue({ config, store, orchestrator, log, leaseMs: leaseMsOf(config), redisUrl: config.redisUrl, concurrency: opts.concurrency });
  const service = new RunService({ config, store, queue, events, sandbox: false });
  if (opts.start !== false) await queue.start();
  return {
    queue,
    hub,
    service,
    close: async () => {
      await queue.stop();
      await hub.close();
    },
  };
}

/** Every build of `job` with its QA_RUN_ID, straight from the Jenkins REST API. */
export async function buildsByRunId(jenkins: Jenkins, job: string): Promise<Map<string, number[]>> {
  const tree = 'builds[number,actions[parameters[name,value]]]';
  const res = await fetch(`${jenkins.url.replace(/\/$/, '')}/job/${encodeURIComponent(job)}/api/json?tree=${encodeURIComponent(tree)}`, {
    headers: { authorization: `Basic ${Buffer.from(`${jenkins.user}:${jenkins.token}`).toString('base64')}` },
  });
  if (!res.ok) throw new Error(`Jenkins answered ${res.status} for the builds of ${job}`);
  const body = (await res.json()) as { builds?: Array<{ number: number; actions?: Array<{ parameters?: Array<{ name: string; value: unknown }> } | null> }> };
  const out = new Map<string, number[]>();
  for (const b of body.builds ?? []) {
    const id = b.actions?.flatMap((a) => a?.parameters ?? []).find((p) => p.name === 'QA_RUN_ID')?.value;
    if (typeof id === 'string') out.set(id, [...(out.get(id) ?? []), b.number]);
  }
  return out;
}

export const TERMINAL = new Set(['success', 'failed', 'rolled_back', 'cancelled', 'error']);

export async function waitFor<T>(what: string, fn: () => Promise<T | undefined | null | false>, timeoutMs: number, everyMs = 100): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}

/**
 * Test-only instrumentation of a PostgreSQL test database: a trigger records
 * every status change of a run, in the order the UPDATEs happened (a
 * sequence, not a clock). A run's claim (queued → running) can only be
 * recorded after the previous run of its environment was recorded terminal,
 * so this measures "one at a time per environment" exactly, not by sampling.
 */
export async function installRunAudit(db: { query(sql: string): Promise<unknown> }): Promise<void> {
  await db.query(`
    create table run_audit (id bigserial primary key, run_id text not null, app text not null, env text not null, status text not null);
    create function run_audit_fn() returns trigger language plpgsql as $$
    begin
      if TG_OP = 'INSERT' or NEW.status is distinct from OLD.status then
        insert into run_audit (run_id, app, env, status) values (NEW.run_id, NEW.app, NEW.env, NEW.status);
      end if;
      return NEW;
    end $$;
    create trigger run_audit_t after insert or update on runs for each row execute function run_audit_fn();
  `);
}

/** The most runs that were running at once in each environment, replaying the audit in order. */
export async function maxRunningPerEnv(db: { query(sql: string): Promise<{ rows: Array<{ env: string; status: string; run_id: string }> }> }): Promise<Record<string, number>> {
  const { rows } = await db.query('select run_id, env, status from run_audit order by id');
  const running = new Map<string, Set<string>>();
  const max: Record<string, number> = {};
  for (const r of rows) {
    const set = running.get(r.env) ?? new Set<string>();
    running.set(r.env, set);
    if (r.status === 'running') set.add(r.run_id);
    else set.delete(r.run_id);
    max[r.env] = Math.max(max[r.env] ?? 0, set.size);
  }
  return max;
}
