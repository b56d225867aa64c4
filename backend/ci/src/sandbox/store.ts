/**
 * Where the sandbox keeps build logs, archived artifacts and (with dataDir) its
 * state, so that a standalone sandbox restarted keeps its history. Without
 * dataDir everything lives in a temporary directory removed on close.
 */
import { mkdirSync, mkdtempSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';

export class SandboxStore {
  readonly root: string;
  private readonly persistent: boolean;

  constructor(dataDir?: string) {
    this.persistent = !!dataDir;
    this.root = dataDir ? path.resolve(dataDir) : mkdtempSync(path.join(os.tmpdir(), 'qa-sandbox-'));
    mkdirSync(this.root, { recursive: true });
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
