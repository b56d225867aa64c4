/**
 * Real processes for the fault suite: a standalone sandbox Jenkins (`src/sandbox/cli.ts`) and the
 * backend (`src/server.ts`), each started as `node --import tsx …` so that SIGKILL hits the
 * service itself (the tsx CLI would leave a child behind). Loopback only.
 */
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import net from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const backendDir = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address() as net.AddressInfo;
      s.close(() => resolve(port));
    });
    s.on('error', reject);
  });
}

export interface Proc {
  child: ChildProcess;
  output(): string;
  /** SIGKILL, resolved once the process is gone. */
  kill(): Promise<void>;
}

/** `args` run with the tsx loader (TypeScript sources) unless `compiled` (plain JS from dist/). */
export function spawnReady(args: string[], env: Record<string, string>, ready: RegExp, timeoutMs = 60_000, compiled = false): Promise<Proc> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, compiled ? args : ['--import', 'tsx', ...args], { cwd: backendDir, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let settled = false;
    const exited = new Promise<void>((r) => child.once('exit', () => r()));
    const proc: Proc = {
      child,
      output: () => out,
      kill: async () => {
        if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
        await exited;
      },
    };
    const onData = (d: Buffer) => {
      out += d.toString();
      if (!settled && ready.test(out)) {
        settled = true;
        resolve(proc);
      }
    };
    child.stdout!.on('data', onData);
    child.stderr!.on('data', onData);
    child.once('exit', (code) => {
      if (!settled) {
        settled = true;
        reject(new Error(`process exited (${code}) before it was ready:\n${out}`));
      }
    });
    setTimeout(() => {
      if (!settled) {
        settled = true;
        child.kill('SIGKILL');
        reject(new Error(`not ready after ${timeoutMs} ms:\n${out}`));
      }
    }, timeoutMs).unref();
  });
}

export interface StandaloneSandbox {
  proc: Proc;
  url: string;
  user: string;
  token: string;
  auth: string;
}

export async function startStandaloneSandbox(dataDir: string, timeScale: number): Promise<StandaloneSandbox> {
  const port = await freePort();
  const proc = await spawnReady(
    ['src/sandbox/cli.ts'],
    { SANDBOX_PORT: String(port), SANDBOX_HOST: '127.0.0.1', SANDBOX_TIME_SCALE: String(timeScale), SANDBOX_DATA_DIR: dataDir },
    /Ctrl\+C stops it/,
  );
  // The sandbox prints its throw-away credential on purpose (docs/sandbox.md).
  const token = /API token\s+(\S+)/.exec(proc.output())![1]!;
  const user = /\buser\s+(\S+)/.exec(proc.output())![1]!;
  return { proc, url: `http://127.0.0.1:${port}/`, user, token, auth: 'Basic ' + Buffer.from(`${user}:${token}`).toString('base64') };
}

/**
 * The backend server: the TypeScript sources through tsx (tests), or with `compiled` the build in
 * dist/ the way `npm start` runs it (benchmarks: tsx alone costs ~60 MB of RSS). Build first.
 */
export async function startBackendProcess(env: Record<string, string>, compiled = false): Promise<Proc> {
  const args = compiled ? ['--enable-source-maps', 'dist/server.js'] : ['src/server.ts'];
  return spawnReady(args, { HOST: '127.0.0.1', LOG_LEVEL: 'warn', ...env }, /listening on/, 60_000, compiled);
}

/** An admin API token made with the tokens CLI, as an operator would (AUTH_MODE=none is refused with a JENKINS_URL). */
export function createAdminToken(databaseUrl: string): string {
  const r = spawnSync(process.execPath, ['--import', 'tsx', 'src/cli/tokens.ts', 'create', '--name', 'fault-suite', '--role', 'admin'], {
    cwd: backendDir,
    env: { ...process.env, DATABASE_URL: databaseUrl },
    encoding: 'utf8',
  });
  const token = /shown only now[^\n]*\n(\S+)/.exec(r.stdout)?.[1];
  if (r.status !== 0 || !token) throw new Error(`tokens CLI failed (${r.status}): ${r.stderr}`);
  return token;
}
