/**
 * The backend killed with SIGKILL mid-run and started again finishes the run:
 * one Jenkins build, no lost or doubled log line. Real processes: a standalone
 * sandbox Jenkins (`npm run sandbox`) and the backend (`src/server.ts`).
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseConsoleChunk } from '../../src/ci/logs/console_parser.js';
import { createToken } from '../../src/auth/tokens.js';
import { migrateToLatest, openDatabase } from '../../src/store/db.js';
import { api, waitForRun } from '../helpers/service.js';

const backendDir = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address() as net.AddressInfo;
      s.close(() => resolve(port));
    });
    s.on('error', reject);
  });
}

function spawnWaitingFor(args: string[], env: Record<string, string>, ready: RegExp): Promise<{ child: ChildProcess; output: () => string }> {
  return new Promise((resolve, reject) => {
    // node --import tsx: one process, so SIGKILL hits the service itself (the tsx CLI would leave a child behind).
    const child = spawn(process.execPath, ['--import', 'tsx', ...args], { cwd: backendDir, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    const onData = (d: Buffer) => {
      out += d.toString();
      if (ready.test(out)) resolve({ child, output: () => out });
    };
    child.stdout!.on('data', onData);
    child.stderr!.on('data', onData);
    child.on('exit', (code) => reject(new Error(`process exited (${code}) before it was ready:\n${out}`)));
    setTimeout(() => reject(new Error(`not ready after 60 s:\n${out}`)), 60_000).unref();
  });
}

let sandbox: { child: ChildProcess; output: () => string } | null = null;
let backend: { child: ChildProcess } | null = null;
let sandboxUrl = '';
let token = '';
let user = '';
const dir = mkdtempSync(path.join(os.tmpdir(), 'qaci-restart-'));
let backendPort = 0;
// With a real JENKINS_URL (the standalone sandbox looks like any Jenkins) AUTH_MODE must be token.
let authHeaders: Record<string, string> = {};

async function startBackend() {
  backend = await spawnWaitingFor(['src/server.ts'], {
    PORT: String(backendPort),
    HOST: '127.0.0.1',
    DATABASE_URL: path.join(dir, 'ci.sqlite'),
    ARTIFACT_STORE: path.join(dir, 'artifacts'),
    JENKINS_URL: sandboxUrl,
    JENKINS_USER: user,
    JENKINS_API_TOKEN: token,
    JENKINS_POLL_MS: '100',
    LOG_LEVEL: 'warn',
    AUTH_MODE: 'token',
  }, /listening on/);
}

beforeAll(async () => {
  const sbPort = await freePort();
  backendPort = await freePort();
  sandbox = await spawnWaitingFor(['src/sandbox/cli.ts'], {
    SANDBOX_PORT: String(sbPort),
    SANDBOX_HOST: '127.0.0.1',
    SANDBOX_TIME_SCALE: '0.15',
    SANDBOX_DATA_DIR: path.join(dir, 'sandbox'),
  }, /Ctrl\+C stops it/);
  // The sandbox prints its throw-away credential on purpose (docs/sandbox.md).
  token = /API token\s+(\S+)/.exec(sandbox.output())![1]!;
  user = /\buser\s+(\S+)/.exec(sandbox.output())![1]!;
  sandboxUrl = `http://127.0.0.1:${sbPort}/`;
  const db = await openDatabase(path.join(dir, 'ci.sqlite'));
  await migrateToLatest(db.db);
  const { token: apiToken } = await createToken(db.db, { name: 'restart-test', role: 'deployer' });
  await db.close();
  authHeaders = { authorization: `Bearer ${apiToken}` };
  await startBackend();
});

afterAll(async () => {
  backend?.child.kill('SIGKILL');
  sandbox?.child.kill('SIGKILL');
});

describe('restart during a run', () => {
  it('SIGKILL while following, then restart: the run finishes with one build and an exact log', async () => {
    const base = `http://127.0.0.1:${backendPort}`;
    const created = await api(base, 'POST', '/ci/runs', { test_suite: 'api' }, authHeaders);
    expect(created.status).toBe(202);
    const id = created.body.run_id;
    // Kill once the build is being followed and some lines are stored.
    await waitForRun(base, id, 60_000, (r) => r.jenkins !== null && r.metrics.log_lines > 15, authHeaders);
    backend!.child.kill('SIGKILL');
    await new Promise((r) => backend!.child.once('exit', r));
    await startBackend();
    const run = await waitForRun(base, id, 60_000, undefined, authHeaders);
    expect(run.status, run.reason).toBe('success');

    // Exactly one Jenkins build carries this run id.
    const auth = 'Basic ' + Buffer.from(`${user}:${token}`).toString('base64');
    const jobs = await fetch(`${sandboxUrl}job/WeSign-CI/api/json?tree=builds[number,actions[parameters[name,value]]]`, { headers: { authorization: auth } });
    const builds = ((await jobs.json()).builds as any[]).filter((b) =>
      b.actions.some((a: any) => a.parameters?.some((p: any) => p.name === 'QA_RUN_ID' && p.value === id)),
    );
    expect(builds).toHaveLength(1);

    // The stored Jenkins lines equal Jenkins' own console, line for line.
    const consoleText = await (await fetch(`${sandboxUrl}job/WeSign-CI/${builds[0].number}/consoleText`, { headers: { authorization: auth } })).text();
    const expected = parseConsoleChunk({ pending: '', stage: 'checkout' }, consoleText.replace(/\r\n/g, '\n'), true).lines.map((l) => `[${l.stage}] ${l.text}`);
    const stored: string[] = [];
    let jenkinsDone = false;
    const ws = await import('ws');
    await new Promise<void>((resolve, reject) => {
      const s = new ws.default(`ws://127.0.0.1:${backendPort}/ci/runs/${id}/logs?format=json`, { headers: authHeaders });
      const seqs: number[] = [];
      s.on('message', (d) => {
        const e = JSON.parse(String(d));
        if (e.type === 'log') {
          seqs.push(e.seq);
          // Jenkins' console ends where the backend logs "build #N finished"; the rest is the backend's own report.
          if (/^backend: Jenkins build #\d+ finished/.test(e.text)) jenkinsDone = true;
          else if (!jenkinsDone && !e.text.startsWith('backend: ')) stored.push(`[${e.stage}] ${e.text}`);
        }
      });
      s.on('close', () => {
        try {
          expect(seqs).toEqual(Array.from({ length: seqs.length }, (_, i) => i + 1));
          resolve();
        } catch (err) {
          reject(err);
        }
      });
      s.on('error', reject);
    });
    expect(stored.length).toBeGreaterThan(50);
    expect(stored).toEqual(expected);
  }, 180_000);
});
