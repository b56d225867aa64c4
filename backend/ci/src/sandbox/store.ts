/**
 * Where the sandbox keeps build logs, archived artifacts and (with dataDir) its
 * state, so that a standalone sandbox restarted keeps its history. Without
 * dataDir everything lives in a temporary directory removed on close.
 */
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';

const TEMP_PREFIX = 'qa-sandbox-';
const OWNER_FILE = 'owner.pid';

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * Removes temporary sandbox folders whose process is gone (killed before it could clean up, e.g.
 * SIGKILL in a restart test). A folder without an owner file is only removed after an hour.
 */
function sweepOrphans(): void {
  const tmp = os.tmpdir();
  let names: string[];
  try {
    names = readdirSync(tmp).filter((n) => n.startsWith(TEMP_PREFIX));
  } catch {
    return;
  }
  for (const name of names) {
    const dir = path.join(tmp, name);
    try {
      let orphan: boolean;
      try {
        orphan = !alive(Number(readFileSync(path.join(dir, OWNER_FILE), 'utf8')));
      } catch {
        orphan = Date.now() - statSync(dir).mtimeMs > 3_600_000;
      }
      if (orphan) rmSync(dir, { recursive: true, force: true });
    } catch {
      // Another process may be sweeping or using it; leave it.
    }
  }
}

export class SandboxStore {
  readonly root: string;
  private readonly persistent: boolean;

  constructor(dataDir?: string) {
    this.persistent = !!dataDir;
    if (!dataDir) sweepOrphans();
    this.root = dataDir ? path.resolve(dataDir) : mkdtempSync(path.join(os.tmpdir(), TEMP_PREFIX));
    mkdirSync(this.root, { recursive: true });
    if (!dataDir) writeFileSync(path.join(this.root, OWNER_FILE), String(process.pid));
  }

  get isPersistent(): boolean {
    return this.persistent;
  }

  private jobDir(job: string): string {
    return path.join(this.root, 'jobs', encodeURIComponent(job));
  }

  buildDir(job: string, n: number): string {
    const dir = path.join(this.jobDir(job), 'builds', String(n));
    mkdirSync(dir, { recursive: true });
    return dir;
  }

  logFile(job: string, n: number): string {
    return path.join(this.buildDir(job, n), 'log');
  }

  archiveDir(job: string, n: number): string {
    return path.join(this.buildDir(job, n), 'archive');
  }

  /** Scratch space of a running build (its "workspace" on the agent). */
  workspaceDir(job: string, n: number): string {
    const dir = path.join(this.root, 'workspace', encodeURIComponent(job), String(n));
    mkdirSync(dir, { recursive: true });
    return dir;
  }

  load<T>(name: string): T | null {
    if (!this.persistent) return null;
    try {
      return JSON.parse(readFileSync(path.join(this.root, name), 'utf8')) as T;
    } catch {
      return null;
    }
  }

  save(name: string, value: unknown): void {
    if (!this.persistent) return;
    const file = path.join(this.root, name);
    const tmp = `${file}.${process.pid}.tmp`;
    writeFileSync(tmp, JSON.stringify(value, null, 1));
    renameSync(tmp, file);
  }

  close(): void {
    if (!this.persistent) rmSync(this.root, { recursive: true, force: true });
  }
}
