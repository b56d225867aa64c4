/**
 * Log ingestion: a finished build whose console is 100 MB of short and long lines, read by the
 * backend through the real path (progressiveText → decode → split → attribute → redact → SQLite
 * → hub). Throughput is compared with a plain file copy of the same bytes in the same run
 * (stream read → write, and fs.copyFile). Peak RSS is the backend process's VmHWM.
 * Targets: ≥ 0.5× the copy's throughput; RSS < 200 MB.
 */
import { copyFile, rm } from 'node:fs/promises';
import { createReadStream, createWriteStream, mkdtempSync, openSync, writeSync, closeSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { pipeline } from 'node:stream/promises';
import { readFile } from 'node:fs/promises';
import Database from 'better-sqlite3';
import { decodeConsoleSlice, safeSliceEnd } from '../backend/ci/src/ci/providers/jenkins/console.js';
import { CONSOLE_SLICE_BYTES } from '../backend/ci/src/ci/providers/jenkins_client.js';
import { parseConsoleChunk } from '../backend/ci/src/ci/logs/console_parser.js';
import { createRedactor } from '../backend/ci/src/ci/redact.js';
import { migrateToLatest, openDatabase } from '../backend/ci/src/store/db.js';
import { KyselyRunStore } from '../backend/ci/src/store/run_store.js';
import { CONTRACT_STAGES } from '../backend/ci/src/ci/models.js';
import { type BenchOptions, type BenchResult, mb, memOf, postRun, sleep, startBackendChild, waitTerminal } from './lib/common.js';
import { type FakeBuild, startFakeJenkins } from './lib/fake_jenkins.js';

/** Writes `bytes` of console: 70 % short lines (~60 B), 30 % long ones (0.5–4 KB), stage markers here and there. */
function writeConsole(file: string, bytes: number): { lines: number; bytes: number } {
  const fd = openSync(file, 'w');
  let written = 0;
  let lines = 0;
  let seed = 12345;
  const rnd = () => ((seed = (Math.imul(seed, 1664525) + 1013904223) >>> 0) / 2 ** 32);
  const filler = 'abcdefghijklmnopqrstuvwxyz0123456789 ABCDEFGHIJKLMNOPQRSTUVWXYZ-_.:/'.repeat(80);
  let batch: string[] = [];
  let batchBytes = 0;
  const flush = () => {
    const buf = Buffer.from(batch.join(''), 'utf8');
    writeSync(fd, buf);
    written += buf.length;
    batch = [];
    batchBytes = 0;
  };
  batch.push('Started by user bench\n[Pipeline] Start of Pipeline\n[Pipeline] { (Build & Unit Tests)\n');
  while (written + batchBytes < bytes) {
    const r = rnd();
    const len = r < 0.7 ? 40 + Math.floor(rnd() * 40) : 500 + Math.floor(rnd() * 3500);
    const start = Math.floor(rnd() * 1000);
    const marker = r < 0.2 ? '[build] ' : '';
    const line = `${marker}${lines} ${filler.slice(start, start + len)}\n`;
    batch.push(line);
    batchBytes += line.length;
    lines++;
    if (batchBytes > 1 << 20) flush();
  }
  batch.push('[Pipeline] End of Pipeline\nFinished: SUCCESS\n');
  flush();
  closeSync(fd);
  return { lines: lines + 5, bytes: written };
}

/**
 * Where the ingest time goes: the backend's steps, on the same bytes, in this process, slice by
 * slice as the orchestrator does them (decode → split + stages → redactLines → appendLogs with the
 * server's SQLite settings). Beside them, the floor: the least any ingest of this log must do here
 * (UTF-8 decode, split into lines, one scan per secret trigger, write the text to SQLite), with
 * none of our bookkeeping.
 */
async function breakdown(file: string, dir: string) {
  const body = await readFile(file);
  const redactor = createRedactor(['bench-fake-token-0123456789']);
  const opened = await openDatabase(path.join(dir, 'breakdown.sqlite'), { backgroundCheckpoints: true });
  await migrateToLatest(opened.db);
  const store = new KyselyRunStore(opened.db, { sqlite: opened.sqlite });
  const runId = '00000000-0000-4000-8000-000000000001';
  await store.createRun({
    run_id: runId, app: 'WeSign', env: 'DevTest', kind: 'deploy', branch_or_tag: 'main', dry_run: true, test_suite: 'none',
    initiator: 'bench', created_at: new Date().toISOString(), rollback_to: null, jenkins_job: 'WeSign-CI', sandbox: false, metrics_json: '{}',
    stages: CONTRACT_STAGES.map((c) => ({ id: c.id, name: c.id })),
  });
  await store.claimNext('bench', 600_000);
  const ms = { decode: 0, parse: 0, redact: 0, store: 0 };
  let lines = 0;
  let state: Parameters<typeof parseConsoleChunk>[0] = { pending: '', stage: 'checkout' };
  for (let at = 0; at < body.length; ) {
    const t0 = performance.now();
    const window = body.subarray(at, Math.min(body.length, at + CONSOLE_SLICE_BYTES));
    const end = at + window.length >= body.length ? window.length : safeSliceEnd(window);
    const text = decodeConsoleSlice(window.subarray(0, end));
    at += end;
    const t1 = performance.now();
    const parsed = parseConsoleChunk(state, text, at >= body.length);
    state = parsed.state;
    const t2 = performance.now();
    const redacted = redactor.redactLines(parsed.lines.map((l) => l.text), parsed.source);
    const ts = new Date().toISOString();
    const rows = parsed.lines.map((l, i) => ({ stage: l.stage, text: redacted.lines[i]!, ts }));
    const t3 = performance.now();
    await store.appendLogs(runId, 'bench', rows, { offset: at, pending: state.pending, stage: state.stage });
    const t4 = performance.now();
    ms.decode += t1 - t0;
    ms.parse += t2 - t1;
    ms.redact += t3 - t2;
    ms.store += t4 - t3;
    lines += rows.length;
  }
  await opened.close();

  // The floor, on the same bytes: decode, split, the trigger scans, a raw insert (no checkpoint).
  const f0 = performance.now();
  const whole = new TextDecoder().decode(body);
  const split = whole.split('\n').length;
  const f1 = performance.now();
  let hits = 0;
  for (const re of [/BEGIN/g, /:\/\//g, /Bearer|Basic/g, /eyJ/g, /qaci_/g, /cket=/g, /AKIA|ASIA/g, /xox/g, /gh[pousr]_|glpat-/g, /passw|pwd|key|secret|token/gi, /bench-fake-token-0123456789/g]) {
    for (let m = re.exec(whole); m; m = re.exec(whole)) hits++;
  }
  const f2 = performance.now();
  const raw = new Database(path.join(dir, 'floor.sqlite'));
  raw.pragma('journal_mode = WAL');
  raw.pragma('synchronous = NORMAL');
  raw.pragma('wal_autocheckpoint = 0');
  raw.exec('create table t (id integer primary key, text text not null)');
  const ins = raw.prepare('insert into t (text) values (?)');
  raw.transaction(() => {
    for (let i = 0; i < whole.length; i += 64 * 1024) ins.run(whole.slice(i, i + 64 * 1024));
  })();
  const f3 = performance.now();
  raw.close();
  return { ms, lines, floor: { decodeSplitMs: f1 - f0, scanMs: f2 - f1, writeMs: f3 - f2, totalMs: f3 - f0, lines: split, hits } };
}

export async function ingestBench(o: BenchOptions): Promise<BenchResult> {
  const size = (o.quick ? 10 : 100) * 1024 * 1024;
  const dir = mkdtempSync(path.join(os.tmpdir(), 'qaci-bench-ingest-'));
  const file = path.join(dir, 'console.log');
  const made = writeConsole(file, size);

  // Baselines on the same bytes, in the same run.
  const copyTo = path.join(dir, 'copy.log');
  const t0 = performance.now();
  await pipeline(createReadStream(file), createWriteStream(copyTo));
  const streamCopyMs = performance.now() - t0;
  await rm(copyTo);
  const t1 = performance.now();
  await copyFile(file, copyTo);
  const copyFileMs = performance.now() - t1;
  await rm(copyTo);

  const fake = await startFakeJenkins();
  const holder: { build: FakeBuild | null } = { build: null };
  fake.onTrigger((b) => {
    b.file = file;
    b.finish();
    holder.build = b;
  });
  const backend = await startBackendChild(fake, { JENKINS_POLL_MS: '100' });
  try {
    await sleep(500);
    const before = memOf(backend.pid);
    const id = await postRun(backend);
    // Sample RSS while it ingests (VmHWM gives the peak; the samples show the shape).
    let peakRss = before.rss;
    const sampler = setInterval(() => {
      try {
        peakRss = Math.max(peakRss, memOf(backend.pid).rss);
      } catch {
        /* process gone */
      }
    }, 50);
    const run = await waitTerminal(backend, id, o.quick ? 120_000 : 480_000);
    clearInterval(sampler);
    const after = memOf(backend.pid);
    const db = new Database(backend.dbFile, { readonly: true });
    // The backend's notes are stored one per row (each is its own append), so they can be found by text.
    const done = db.prepare("select ts, first_seq seq from log_chunks where run_id = ? and text like 'backend: Jenkins build #% finished%'").get(id) as { ts: string; seq: number } | undefined;
    // Jenkins' lines: everything before the backend's "finished" note that is not a backend note.
    const stored = (db.prepare("select coalesce(sum(last_seq - first_seq + 1), 0) n from log_chunks where run_id = ? and last_seq < ? and text not like 'backend: %'").get(id, done?.seq ?? 0) as { n: number }).n;
    db.close();
    const b = holder.build;
    if (!done || !b?.firstConsoleReadAt) throw new Error(`the run did not finish reading the console (status ${run.status}: ${run.reason})`);
    const ingestMs = Date.parse(done.ts) - b.firstConsoleReadAt;
    await backend.proc.kill();
    const br = await breakdown(file, dir);
    const sec = (t: number) => `${(t / 1000).toFixed(2)} s`;
    const mbps = (t: number) => made.bytes / 1024 / 1024 / (t / 1000);
    const ratio = streamCopyMs / ingestMs;
    return {
      name: `Log ingestion (${size / 1024 / 1024} MB console through the real ingest path)`,
      setup: `${mb(made.bytes)}, ${made.lines} lines (70 % ~60 B, 30 % 0.5–4 KB), a finished build read from offset 0 (one progressiveText reply); backend = the built server (node dist/server.js) in a child process`,
      rows: [
        { metric: 'ingest (first console read → "build finished" stored)', value: `${(ingestMs / 1000).toFixed(1)} s = ${mbps(ingestMs).toFixed(1)} MB/s` },
        { metric: 'plain copy (read stream → write stream)', value: `${(streamCopyMs / 1000).toFixed(2)} s = ${mbps(streamCopyMs).toFixed(0)} MB/s` },
        { metric: 'plain copy (fs.copyFile)', value: `${(copyFileMs / 1000).toFixed(2)} s = ${mbps(copyFileMs).toFixed(0)} MB/s` },
        { metric: 'ingest throughput vs stream copy', value: `${ratio.toFixed(3)}×`, against: 'target ≥ 0.5×', verdict: ratio >= 0.5 ? 'meets target' : 'misses target' },
        { metric: 'backend peak RSS (VmHWM)', value: mb(after.hwm), against: `target < 200 MB (idle RSS before: ${mb(before.rss)})`, verdict: after.hwm < 200 * 1024 * 1024 ? 'meets target' : 'misses target' },
        { metric: 'lines stored vs written', value: `${stored} / ${made.lines}`, verdict: stored === made.lines ? 'meets target' : 'misses target' },
      ],
      notes: [
        `where the time goes (the backend's steps on the same bytes in the bench process, ${CONSOLE_SLICE_BYTES / 1024} KiB slices): decode + notes/CRLF ${sec(br.ms.decode)}, split + stage attribution ${sec(br.ms.parse)}, redactLines ${sec(br.ms.redact)}, appendLogs ${sec(br.ms.store)} for ${br.lines} lines`,
        `floor (the least any ingest of these bytes does here, none of our bookkeeping): decode + split ${sec(br.floor.decodeSplitMs)}, one scan per secret trigger ${sec(br.floor.scanMs)}, raw SQLite insert without checkpoint ${sec(br.floor.writeMs)} = ${sec(br.floor.totalMs)} = ${(streamCopyMs / br.floor.totalMs).toFixed(3)}× the stream copy`,
        `sampled RSS peak ${mb(peakRss)}; run ended ${run.status} (no reports in this console, so the reports gate fails it — expected)`],
    };
  } finally {
    await backend.proc.kill();
    await fake.close();
    await rm(dir, { recursive: true, force: true });
  }
}
