/** The standalone sandbox: dataDir persistence across a restart, and `npm run sandbox` (cli.ts). */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
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
