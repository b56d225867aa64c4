/** The standalone sandbox: dataDir persistence across a restart, and `npm run sandbox` (cli.ts). */
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { artifact, basic, consoleText, getJson, JOB, runBuild, sandbox, waitFor } from './helpers.js';

const dirs: string[] = [];
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

describe('dataDir', () => {
  it('keeps jobs, builds, logs, artifacts, credentials and the DevTest state across a restart', async () => {
    const dataDir = mkdtempSync(path.join(os.tmpdir(), 'sandbox-data-'));
    dirs.push(dataDir);
    const first = await sandbox({ dataDir });
    const { n, build } = await runBuild(first, { TEST_SUITE: 'none', QA_RUN_ID: 'persisted' });
    const log = await consoleText(first, n);
    const zip = await artifact(first, n, 'artifact/WeSign.DevTest.zip');
    const token = first.token;
    const deployed = first.deployedVersion();
    await first.close();

    const again = await sandbox({ dataDir });
    try {
      expect(again.token).toBe(token);
      expect(again.deployedVersion()).toBe(deployed);
      const b = await getJson(again, `/job/${JOB}/${n}/api/json`);
      expect(b).toMatchObject({ result: build.result, displayName: build.displayName, number: n, building: false });
      expect(await consoleText(again, n)).toBe(log);
      expect((await artifact(again, n, 'artifact/WeSign.DevTest.zip')).equals(zip)).toBe(true);
      const next = await runBuild(again, { DRY_RUN: 'true', TEST_SUITE: 'none' });
      expect(next.n).toBe(n + 1);
      const job = await getJson(again, `/job/${JOB}/api/json?tree=builds[number]`);
      expect(job.builds.map((x: any) => x.number)).toEqual([n + 1, n]);
    } finally {
      await again.close();
    }
  });
});

describe('npm run sandbox (cli.ts)', () => {
  it('prints the Jenkins URL, user and token with how to point the backend at it, and serves PUT /sandbox/faults', async () => {
    const backendDir = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
    const tsx = path.join(backendDir, '..', '..', 'node_modules', '.bin', process.platform === 'win32' ? 'tsx.cmd' : 'tsx');
    const child = spawn(tsx, ['src/sandbox/cli.ts'], { cwd: backendDir, env: { ...process.env, SANDBOX_PORT: '0', SANDBOX_TIME_SCALE: '0.02' }, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (c: Buffer) => (out += c.toString('utf8')));
    child.stderr.on('data', (c: Buffer) => (out += c.toString('utf8')));
    try {
      await waitFor('the CLI banner', async () => out.includes('Ctrl+C stops it'), 30_000, 50);
      const url = /Jenkins URL\s+(\S+)\//.exec(out)![1]!;
      const user = /user\s+(\S+)/.exec(out)![1]!;
      const token = /API token\s+(sandbox-\S+)/.exec(out)![1]!;
      const q = process.platform === 'win32' ? '"' : "'";
      expect(out).toContain(`JENKINS_URL=${q}${url}/${q}`);
      expect(out).toContain(`JENKINS_API_TOKEN=${q}${token}${q}`);
      expect(out).toMatch(/throw-away credential/);
      const put = await fetch(`${url}/sandbox/faults`, { method: 'PUT', headers: { authorization: basic(user, token), 'content-type': 'application/json' }, body: '{"jenkins_flaky":0.25}' });
      expect(put.status).toBe(200);
      expect(((await put.json()) as any).jenkins_flaky).toBe(0.25);
      const job = await fetch(`${url}/job/${JOB}/api/json?tree=name`, { headers: { authorization: basic(user, token) } });
      expect([200, 500, 502, 503]).toContain(job.status);
    } finally {
      child.kill('SIGTERM');
      await new Promise((r) => child.once('exit', r));
    }
  });
});

describe('a standalone sandbox killed mid-build', () => {
  it('comes back with the build ended ABORTED (it cannot resume) and serves it and the rest of its history', async () => {
    const dataDir = mkdtempSync(path.join(os.tmpdir(), 'sandbox-kill-'));
    dirs.push(dataDir);
    const backendDir = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
    const tsx = path.join(backendDir, '..', '..', 'node_modules', '.bin', process.platform === 'win32' ? 'tsx.cmd' : 'tsx');
    const launch = () => {
      const child = spawn(tsx, ['src/sandbox/cli.ts'], { cwd: backendDir, env: { ...process.env, SANDBOX_PORT: '0', SANDBOX_TIME_SCALE: '1', SANDBOX_DATA_DIR: dataDir }, stdio: ['ignore', 'pipe', 'pipe'] });
      let out = '';
      child.stdout.on('data', (c: Buffer) => (out += c.toString('utf8')));
      child.stderr.on('data', (c: Buffer) => (out += c.toString('utf8')));
      const ready = waitFor('the CLI banner', async () => (out.includes('Ctrl+C stops it') ? /Jenkins URL\s+(\S+)\//.exec(out)![1]! : null), 30_000, 50);
      return { child, ready, token: () => /API token\s+(sandbox-\S+)/.exec(out)![1]! };
    };
    const first = launch();
    const url1 = await first.ready;
    const auth = { authorization: basic('qa-bot', first.token()) };
    const r = await fetch(`${url1}/job/${JOB}/buildWithParameters?DRY_RUN=true&TEST_SUITE=none&QA_RUN_ID=cut-off`, { method: 'POST', headers: auth });
    expect(r.status).toBe(201);
    await waitFor('build #1 to run', async () => {
      const b = await fetch(`${url1}/job/${JOB}/1/api/json`, { headers: auth });
      return b.status === 200 && ((await b.json()) as any).building;
    });
    first.child.kill('SIGKILL');
    await new Promise((res) => first.child.once('exit', res));

    const second = launch();
    try {
      const url2 = await second.ready;
      expect(second.token()).toBe(first.token());
      const b = (await (await fetch(`${url2}/job/${JOB}/1/api/json`, { headers: auth })).json()) as any;
      expect(b).toMatchObject({ building: false, result: 'ABORTED', displayName: '#1 cut-off' });
      const log = await (await fetch(`${url2}/job/${JOB}/1/consoleText`, { headers: auth })).text();
      expect(log).toContain('Sandbox restarted while this build was running');
      expect(log.trimEnd().endsWith('Finished: ABORTED')).toBe(true);
      const d = (await (await fetch(`${url2}/job/${JOB}/1/wfapi/describe`, { headers: auth })).json()) as any;
      expect(d.stages.some((s: any) => s.status === 'IN_PROGRESS')).toBe(false);
    } finally {
      second.child.kill('SIGTERM');
      await new Promise((res) => second.child.once('exit', res));
    }
  });
});

describe('temporary folders', () => {
  it('removes a temporary sandbox folder whose process is gone', async () => {
    const dead = spawnSync(process.execPath, ['-e', 'process.exit(0)']).pid!;
    const orphan = path.join(os.tmpdir(), `qa-sandbox-orphan-${process.pid}`);
    mkdirSync(orphan, { recursive: true });
    writeFileSync(path.join(orphan, 'owner.pid'), String(dead));
    const sb = await sandbox();
    expect(existsSync(orphan)).toBe(false);
    await sb.close();
  });
});
