/**
 * Shared bench plumbing: percentiles, the backend as a real child process (`src/server.ts`,
 * so its RSS and CPU are its own), /proc readings, and result rows.
 */
import { readFileSync } from 'node:fs';
import { mkdtempSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createAdminToken, freePort, startBackendProcess, type Proc } from '../../backend/ci/test/faults/helpers/procs.js';

export interface BenchOptions {
  quick: boolean;
}

export interface Row {
  metric: string;
  value: string;
  /** The figure it is compared with, measured in the same run, or the target. */
  against?: string;
  ratio?: string;
  verdict?: 'meets target' | 'misses target' | '';
}

export interface BenchResult {
  name: string;
  setup: string;
  rows: Row[];
  notes: string[];
}

export function percentile(sorted: number[], p: number): number {
  if (!sorted.length) return NaN;
  const i = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[i]!;
}

export function stats(samples: number[]) {
  const s = [...samples].sort((a, b) => a - b);
  return { n: s.length, p50: percentile(s, 50), p95: percentile(s, 95), p99: percentile(s, 99), max: s[s.length - 1] ?? NaN, min: s[0] ?? NaN };
}

export const ms = (v: number) => (Number.isFinite(v) ? `${v < 10 ? v.toFixed(2) : v.toFixed(0)} ms` : 'n/a');
export const mb = (bytes: number) => `${(bytes / 1024 / 1024).toFixed(1)} MB`;
export const sleep = (t: number) => new Promise((r) => setTimeout(r, t));

/** VmRSS / VmHWM (peak RSS) of a process, in bytes. */
export function memOf(pid: number): { rss: number; hwm: number } {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = (k: string) => Number(new RegExp(`^${k}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? 0) * 1024;
  return { rss: kb('VmRSS'), hwm: kb('VmHWM') };
}

/** CPU seconds (user + system) a process has used so far. */
export function cpuSecondsOf(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  // utime and stime are fields 14 and 15 of /proc/<pid>/stat (1-based), 12 and 13 after the name.
  return (Number(fields[11]) + Number(fields[12])) / 100;
}

export interface BackendChild {
  proc: Proc;
  pid: number;
  base: string;
  wsBase: string;
  headers: Record<string, string>;
  dir: string;
  dbFile: string;
}

/** The backend as `npm start` runs it (`node dist/server.js`, built by bench/run.ts), pointed at `jenkinsUrl`, with an admin API token. */
export async function startBackendChild(jenkins: { url: string; user: string; token: string }, env: Record<string, string> = {}): Promise<BackendChild> {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'qaci-bench-'));
  const dbFile = path.join(dir, 'ci.sqlite');
  const port = await freePort();
  const proc = await startBackendProcess({
    PORT: String(port),
    DATABASE_URL: dbFile,
    ARTIFACT_STORE: path.join(dir, 'artifacts'),
    AUTH_MODE: 'token',
    JENKINS_URL: jenkins.url,
    JENKINS_USER: jenkins.user,
    JENKINS_API_TOKEN: jenkins.token,
    LOG_LEVEL: 'error',
    // The bench's viewers and requests all come from 127.0.0.1.
    RATE_LIMIT_READS_PER_MIN: '1000000',
    RATE_LIMIT_WRITES_PER_MIN: '1000000',
    ...env,
  }, true);
  const token = createAdminToken(dbFile);
  return { proc, pid: proc.child.pid!, base: `http://127.0.0.1:${port}`, wsBase: `ws://127.0.0.1:${port}`, headers: { authorization: `Bearer ${token}` }, dir, dbFile };
}

export async function postRun(b: BackendChild, body: Record<string, unknown> = { dry_run: true, test_suite: 'none' }): Promise<string> {
  const res = await fetch(`${b.base}/ci/runs`, { method: 'POST', headers: { ...b.headers, 'content-type': 'application/json' }, body: JSON.stringify(body) });
  const j = (await res.json()) as { run_id?: string };
  if (res.status !== 202 || !j.run_id) throw new Error(`POST /ci/runs answered ${res.status}: ${JSON.stringify(j)}`);
  return j.run_id;
}

export async function getRun(b: BackendChild, id: string): Promise<any> {
  const res = await fetch(`${b.base}/ci/runs/${id}`, { headers: b.headers });
  return res.json();
}

const TERMINAL = new Set(['success', 'failed', 'rolled_back', 'cancelled', 'error']);
export async function waitTerminal(b: BackendChild, id: string, timeoutMs: number): Promise<any> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    let r;
    try {
      r = await getRun(b, id);
    } catch (err) {
      const c = b.proc.child;
      throw new Error(`the backend did not answer (${(err as Error).message}; exit ${c.exitCode ?? c.signalCode ?? 'none'}); its output:\n${b.proc.output().slice(-3000)}`);
    }
    if (TERMINAL.has(r.status)) return r;
    if (Date.now() > deadline) throw new Error(`run ${id} not finished after ${timeoutMs} ms: ${JSON.stringify(r).slice(0, 300)}`);
    await sleep(100);
  }
}
