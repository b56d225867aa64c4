/**
 * What every fault test checks at the end of a run: how many Jenkins builds carry the run's
 * QA_RUN_ID, and whether the stored log equals Jenkins' own console line for line (no gap, no
 * duplicate), read back through the real WebSocket stream with seqs 1..n.
 */
import Database from 'better-sqlite3';
import WebSocket from 'ws';
import { parseConsoleChunk } from '../../../src/ci/logs/console_parser.js';

export interface JenkinsAccess {
  /** Base URL ending in "/" (the sandbox itself, not the faulty proxy). */
  url: string;
  auth: string;
}

export async function buildsOfRun(j: JenkinsAccess, runId: string, job = 'WeSign-CI'): Promise<number[]> {
  const res = await fetch(`${j.url}job/${job}/api/json?tree=allBuilds[number,actions[parameters[name,value]]]`, { headers: { authorization: j.auth } });
  const body = (await res.json()) as { allBuilds?: Array<{ number: number; actions: Array<{ parameters?: Array<{ name: string; value: unknown }> }> }> };
  return (body.allBuilds ?? [])
    .filter((b) => b.actions.some((a) => a?.parameters?.some((p) => p.name === 'QA_RUN_ID' && p.value === runId)))
    .map((b) => b.number);
}

export async function buildFinished(j: JenkinsAccess, number: number, job = 'WeSign-CI'): Promise<boolean> {
  const res = await fetch(`${j.url}job/${job}/${number}/api/json?tree=building,result`, { headers: { authorization: j.auth } });
  if (res.status !== 200) return false;
  const b = (await res.json()) as { building: boolean; result: string | null };
  return !b.building && !!b.result;
}

export interface StreamedLog {
  seqs: number[];
  /** `[stage] text` of the lines Jenkins wrote (backend notes and the report block left out). */
  jenkinsLines: string[];
  all: Array<{ seq: number; stage: string; text: string }>;
  close: { code: number; reason: string };
}

/** Reads the whole log of a finished run over the WS stream. */
export function readStreamedLog(wsBase: string, runId: string, headers: Record<string, string> = {}): Promise<StreamedLog> {
  return new Promise((resolve, reject) => {
    const s = new WebSocket(`${wsBase}/ci/runs/${runId}/logs?format=json`, { headers });
    const out: StreamedLog = { seqs: [], jenkinsLines: [], all: [], close: { code: 0, reason: '' } };
    let jenkinsDone = false;
    s.on('message', (d) => {
      const e = JSON.parse(String(d));
      if (e.type !== 'log') return;
      out.seqs.push(e.seq);
      out.all.push({ seq: e.seq, stage: e.stage, text: e.text });
      // Jenkins' console ends where the backend logs "build #N finished"; the rest is the backend's own report.
      if (/^backend: Jenkins build #\d+ finished/.test(e.text)) jenkinsDone = true;
      else if (!jenkinsDone && !e.text.startsWith('backend: ')) out.jenkinsLines.push(`[${e.stage}] ${e.text}`);
    });
    s.on('close', (code, reason) => {
      out.close = { code, reason: String(reason) };
      resolve(out);
    });
    s.on('error', reject);
  });
}

/** Jenkins' consoleText, attributed to stages exactly as the backend does. */
export async function expectedConsoleLines(j: JenkinsAccess, number: number, job = 'WeSign-CI'): Promise<string[]> {
  const text = await (await fetch(`${j.url}job/${job}/${number}/consoleText`, { headers: { authorization: j.auth } })).text();
  return parseConsoleChunk({ pending: '', stage: 'checkout' }, text.replace(/\r\n/g, '\n'), true).lines.map((l) => `[${l.stage}] ${l.text}`);
}

/** The run row as the backend persisted it (read-only; WAL lets us read beside the writer). */
export function readRunRow(dbFile: string, runId: string): Record<string, any> | undefined {
  let db: Database.Database | null = null;
  try {
    db = new Database(dbFile, { readonly: true, fileMustExist: true });
    db.pragma('busy_timeout = 2000');
    return db.prepare('select * from runs where run_id = ?').get(runId) as Record<string, any> | undefined;
  } catch {
    return undefined;
  } finally {
    db?.close();
  }
}

export function dbCounts(dbFile: string, runId: string) {
  const db = new Database(dbFile, { readonly: true, fileMustExist: true });
  try {
    // The log is stored in chunks (migration 004): expand them and count the seqs they hold.
    const chunks = db.prepare('select first_seq, last_seq, text from log_chunks where run_id = ? order by first_seq').all(runId) as Array<{ first_seq: number; last_seq: number; text: string }>;
    const seqs = chunks.flatMap((c) => {
      const texts = c.text.split('\n');
      if (texts.length !== c.last_seq - c.first_seq + 1) throw new Error(`chunk ${c.first_seq}..${c.last_seq} holds ${texts.length} lines`);
      return texts.map((_, i) => c.first_seq + i);
    });
    const logs = { n: seqs.length, lo: seqs.length ? seqs.reduce((a, b) => Math.min(a, b)) : null, hi: seqs.length ? seqs.reduce((a, b) => Math.max(a, b)) : null, d: new Set(seqs).size };
    const run = db.prepare('select * from runs where run_id = ?').get(runId) as Record<string, any>;
    const stages = db.prepare('select id, status from stages where run_id = ? order by position').all(runId) as Array<{ id: string; status: string }>;
    const artifacts = db.prepare('select path from artifacts where run_id = ? order by path').all(runId) as Array<{ path: string }>;
    return { logs, run, stages, artifacts: artifacts.map((a) => a.path) };
  } finally {
    db.close();
  }
}

export async function until<T>(what: string, fn: () => T | undefined | Promise<T | undefined>, timeoutMs = 60_000, everyMs = 10): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v !== undefined && v !== null && (v as unknown) !== false) return v;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}
