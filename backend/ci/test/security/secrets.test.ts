/**
 * Issue 6, "Done when": eleven kinds of seeded secret never appear in the DB
 * file, API responses, WS frames, pino output or stored artifacts, while the
 * `secrets` gate catches them, naming the kinds and never the values.
 *
 * The secrets are seeded where a careless Jenkinsfile would leak them: into
 * the emulated pipeline's own settings (repo URL, credential id, folders, app
 * pool names), which its console, deploy log and JSON artifacts echo. A real
 * deploy runs through the real service (buildApp) and the sandbox Jenkins.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Writable } from 'node:stream';
import type { Kysely } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { buildApp, createLogger, type Services } from '../../src/app.js';
import { createToken } from '../../src/auth/tokens.js';
import { createRedactor } from '../../src/ci/redact.js';
import { loadConfig } from '../../src/config.js';
import { startSandbox, type Sandbox } from '../../src/sandbox/index.js';
import { FAKE_SESSION_SECRET } from '../auth/harness.js';

const SANDBOX_TOKEN = 'fake-sandbox-jenkins-token-example-7f3a9c';

/** kind → the secret value that must never be seen, and where it is seeded. All obviously fake. */
const SEEDS = {
  basic_auth_url: 'FakeRepoPass-example-1234',
  password_assignment: 'FakeCredPass-example-99',
  connection_string_password: 'FakeConnPass-example-77',
  aws_access_key: 'AKIAFAKEEXAMPLE00001',
  slack_token: 'xoxb-fake-0123456789-example',
  jwt: 'eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJmYWtlLWV4YW1wbGUifQ.ZmFrZS1zaWduYXR1cmUtZXhhbXBsZQ',
  github_token: 'ghp_FAKEexample0123456789abcdefghijklmn',
  private_key: 'MIIfakeEXAMPLEprivateKEYbody0123456789',
  api_key: 'FakeApiKey-example-0123456789',
  bearer_token: 'fake-bearer-example-0123456789',
  configured_secret: SANDBOX_TOKEN,
} as const;

let dir: string;
let sandbox: Sandbox;
let services: Services;
let url: string;
let close: () => Promise<void>;
let admin: string;
let runId: string;
let run: any;
const pinoLines: string[] = [];
const wsFrames: string[] = [];
const apiBodies: string[] = [];

/** The kinds whose value occurs in `text`, each with what precedes it (to find the leak), the value itself left out. */
const leaks = (text: string) =>
  Object.entries(SEEDS)
    .filter(([, v]) => text.includes(v))
    .map(([k, v]) => {
      const at = text.indexOf(v);
      return `${k} after ${JSON.stringify(text.slice(Math.max(0, at - 60), at))}`;
    });

beforeAll(async () => {
  dir = mkdtempSync(path.join(os.tmpdir(), 'qaci-secrets-'));
  sandbox = await startSandbox({
    host: '127.0.0.1',
    port: 0,
    timeScale: 0.02,
    token: SANDBOX_TOKEN,
    pipelineEnv: {
      gitRepoUrl: `https://ci-bot:${SEEDS.basic_auth_url}@gitlab.example.com/wesign.git`,
      credentialsId: `svc-devtest password=${SEEDS.password_assignment} jenkins=${SANDBOX_TOKEN}`,
      deployStaging: `C:\\deploy Password=${SEEDS.connection_string_password};`,
      deployDir: `C:\\inetpub\\WeSign ${SEEDS.aws_access_key}`,
      backupRoot: `C:\\backup\\WeSign ${SEEDS.slack_token}`,
      iisAppPools: [
        'UserApi',
        SEEDS.jwt,
        SEEDS.github_token,
        `-----BEGIN PRIVATE KEY----- ${SEEDS.private_key} -----END PRIVATE KEY-----`,
        `api_key=${SEEDS.api_key}`,
        `Bearer ${SEEDS.bearer_token}`,
      ],
    },
  });
  const config = loadConfig({
    AUTH_MODE: 'token',
    SESSION_SECRET: FAKE_SESSION_SECRET,
    DATABASE_URL: path.join(dir, 'ci.sqlite'),
    ARTIFACT_STORE: path.join(dir, 'artifacts'),
    SANDBOX_TIME_SCALE: '0.02',
    JENKINS_POLL_MS: '100',
    JENKINS_DEADLINE_S: '20',
    LOG_LEVEL: 'debug',
    PORT: '0',
  });
  // The same logger the service builds, writing to memory so the test can read every line.
  const sink = new Writable({
    write(chunk, _enc, cb) {
      pinoLines.push(String(chunk));
      cb();
    },
  });
  const logger = createLogger(config, createRedactor([...config.secrets, SANDBOX_TOKEN]), sink);
  const built = await buildApp(config, { sandbox, logger });
  services = built.services;
  url = await built.app.listen({ port: 0, host: '127.0.0.1' });
  close = async () => {
    await built.app.close();
    await sandbox.close();
  };
  admin = (await createToken(services.db.db as unknown as Kysely<any>, { name: 'secrets-admin', role: 'admin' })).token;

  const get = async (p: string) => {
    const res = await fetch(url + p, { headers: { authorization: `Bearer ${admin}` } });
    const text = await res.text();
    apiBodies.push(text);
    return { status: res.status, text };
  };
  const started = await fetch(`${url}/ci/runs`, { method: 'POST', headers: { authorization: `Bearer ${admin}`, 'content-type': 'application/json' }, body: JSON.stringify({ dry_run: false, test_suite: 'none' }) });
  expect(started.status).toBe(202);
  runId = ((await started.json()) as { run_id: string }).run_id;

  // A live viewer from the start, in both formats.
  const watch = (format: string) =>
    new Promise<void>((resolve, reject) => {
      const ws = new WebSocket(`${url.replace('http', 'ws')}/ci/runs/${runId}/logs?format=${format}`, { headers: { authorization: `Bearer ${admin}` } });
      ws.on('message', (d) => wsFrames.push(String(d)));
      ws.on('close', () => resolve());
      ws.on('error', reject);
      setTimeout(() => ws.close(), 50_000);
    });
  const viewers = [watch('json'), watch('text')];

  const deadline = Date.now() + 50_000;
  for (;;) {
    const r = await get(`/ci/runs/${runId}`);
    run = JSON.parse(r.text);
    if (['success', 'failed', 'rolled_back', 'cancelled', 'error'].includes(run.status)) break;
    if (Date.now() > deadline) throw new Error(`run did not finish: ${r.text.slice(0, 300)}`);
    await new Promise((res) => setTimeout(res, 100));
  }
  // The stream ends with the run; give it a moment to close, then read the rest of the API.
  await Promise.race([Promise.all(viewers), new Promise((r) => setTimeout(r, 3000))]);
  await get('/ci/runs');
  await get(`/ci/runs/${runId}/summary.md`);
  for (const a of run.artifacts as Array<{ path: string }>) await get(`/ci/runs/${runId}/artifacts/${a.path.split('/').map(encodeURIComponent).join('/')}`);
  await get('/ci/audit');
  await get('/ci/environments');
  await get('/ci/environments/DevTest/deployments');
}, 120_000);

afterAll(async () => {
  await close?.();
  rmSync(dir, { recursive: true, force: true });
});

describe('seeded secrets', () => {
  it('reached the run (the seeding works): the run recorded masked secrets', () => {
    expect(run.status).not.toBe('error');
    expect(wsFrames.length).toBeGreaterThan(10);
    expect(wsFrames.join('\n')).toContain('****');
  });

  it('fail the secrets gate, which names the kinds and never the values', () => {
    const gate = (run.metrics.gates as Array<{ id: string; passed: boolean; reason: string }>).find((g) => g.id === 'secrets');
    expect(gate, JSON.stringify(run.metrics)).toBeDefined();
    expect(gate!.passed).toBe(false);
    expect(leaks(gate!.reason)).toEqual([]);
    expect(run.status).toBe('failed');
  });

  it('appear in no API response', () => {
    expect(apiBodies.length).toBeGreaterThan(5);
    expect(leaks(apiBodies.join('\n'))).toEqual([]);
  });

  it('appear in no WS frame', () => {
    expect(leaks(wsFrames.join('\n'))).toEqual([]);
  });

  it('appear in no pino line', () => {
    expect(pinoLines.length).toBeGreaterThan(0);
    expect(leaks(pinoLines.join('\n'))).toEqual([]);
  });

  it('appear in no stored artifact', () => {
    const files: string[] = [];
    const walk = (d: string) => {
      for (const f of readdirSync(d)) {
        const p = path.join(d, f);
        if (statSync(p).isDirectory()) walk(p);
        else files.push(p);
      }
    };
    walk(path.join(dir, 'artifacts'));
    expect(files.length).toBeGreaterThan(3);
    const found = files.flatMap((f) => leaks(readFileSync(f, 'latin1')).map((k) => `${path.relative(dir, f)}: ${k}`));
    expect(found).toEqual([]);
  });

  it('appear nowhere in the database files', () => {
    const bytes = Buffer.concat(readdirSync(dir).filter((f) => f.startsWith('ci.sqlite')).map((f) => readFileSync(path.join(dir, f))));
    expect(bytes.length).toBeGreaterThan(0);
    expect(leaks(bytes.toString('latin1'))).toEqual([]);
  });
});
