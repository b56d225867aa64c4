/**
 * Runs SQLite's WAL checkpoints on a worker thread instead of the event loop.
 *
 * In WAL mode a commit appends pages to the -wal file; a checkpoint later copies them into the
 * database file (and fsyncs). By default the connection that commits does it, synchronously,
 * whenever the WAL passes 1000 pages — so a worker storing a 100 MB console spends most of its
 * store time (≈ 0.5 s of 0.7 s measured here) copying pages on the thread that also serves HTTP and
 * WebSockets. Checkpointing from a second connection on another thread is what SQLite's WAL design
 * allows (a PASSIVE checkpoint runs alongside readers and the writer); the main connection then
 * only appends to the WAL.
 *
 * If the thread fails, the main connection gets its automatic checkpoints back, so the WAL never
 * grows without bound.
 */
import { createRequire } from 'node:module';
import { Worker } from 'node:worker_threads';
import type SQLite from 'better-sqlite3';

/** Plain CommonJS for the worker: no TypeScript loader is needed in the thread. */
const WORKER_SOURCE = `
const { parentPort, workerData } = require('node:worker_threads');
const Database = require(workerData.driver);
const db = new Database(workerData.file, { fileMustExist: true });
db.pragma('busy_timeout = 5000');
const checkpoint = () => db.pragma('wal_checkpoint(PASSIVE)');
const timer = setInterval(checkpoint, workerData.everyMs);
parentPort.on('message', (m) => {
  if (m !== 'stop') return;
  clearInterval(timer);
  try { checkpoint(); } finally { db.close(); parentPort.close(); }
});
`;

const DEFAULT_AUTOCHECKPOINT_PAGES = 1000;

export interface Checkpointer {
  stop(): Promise<void>;
}

export function startBackgroundCheckpoints(sqlite: SQLite.Database, file: string, everyMs = 500): Checkpointer {
  const driver = createRequire(import.meta.url).resolve('better-sqlite3');
  const worker = new Worker(WORKER_SOURCE, { eval: true, workerData: { driver, file, everyMs } });
  worker.unref();
  sqlite.pragma('wal_autocheckpoint = 0');
  let stopping = false;
  const fallBack = () => {
    if (!stopping && sqlite.open) sqlite.pragma(`wal_autocheckpoint = ${DEFAULT_AUTOCHECKPOINT_PAGES}`);
  };
  worker.on('error', (err) => {
    process.emitWarning(`SQLite background checkpoints stopped (${err.message}); the main connection checkpoints again`);
    fallBack();
  });
  worker.on('exit', fallBack);
  const exited = new Promise<void>((resolve) => worker.once('exit', () => resolve()));
  return {
    async stop() {
      stopping = true;
      // Unref'd while it runs (it must not keep a process alive), but waited for now: without
      // ref() an event loop with nothing else to do would end before the thread's exit arrives.
      worker.ref();
      worker.postMessage('stop');
      await exited;
    },
  };
}
