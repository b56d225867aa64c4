/**
 * Runs the real Newman with the repository's Postman collection and
 * environment, `baseUrl` pointed at the simulated DevTest, reporters cli +
 * htmlextra + json — the command the Jenkinsfile runs. It is the newman CLI in a
 * child process, as on the Jenkins agent: loading and running Newman in the
 * sandbox's own process would stall its HTTP server (and, in-process, the
 * backend) for seconds.
 */
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';

const require = createRequire(import.meta.url);

export interface NewmanOutcome {
  exitCode: number;
  assertionsTotal: number;
  assertionsFailed: number;
  requestsTotal: number;
  requestsFailed: number;
  /** Why Newman produced no report (collection unreadable, crash…), if so. */
  error: string | null;
}

export function newmanCli(): string {
  return path.join(path.dirname(require.resolve('newman/package.json')), 'bin', 'newman.js');
}

export function runNewman(opts: {
  collection: string;
  environment: string;
  baseUrl: string;
  htmlExport: string;
  jsonExport: string;
  title: string;
  signal: AbortSignal;
  /** Each line Newman's CLI reporter prints. */
  onLine: (line: string) => void;
}): Promise<NewmanOutcome> {
  const args = [
    newmanCli(),
    'run',
    opts.collection,
    '-e',
    opts.environment,
    '--env-var',
    `baseUrl=${opts.baseUrl}`,
    '-r',
    'cli,htmlextra,json',
    '--reporter-htmlextra-export',
    opts.htmlExport,
    '--reporter-htmlextra-title',
    opts.title,
    '--reporter-json-export',
    opts.jsonExport,
    '--timeout-request',
    '10000',
    '--color',
    'off',
  ];
  return new Promise((resolve) => {
    const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'], signal: opts.signal, windowsHide: true });
    let pending = '';
    const onData = (chunk: Buffer) => {
      pending += chunk.toString('utf8');
      const lines = pending.split(/\r?\n/);
      pending = lines.pop() ?? '';
      for (const l of lines) if (l.trim()) opts.onLine(l.trimEnd());
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', onData);
    const finish = (exitCode: number, spawnError: string | null) => {
      if (pending.trim()) opts.onLine(pending.trimEnd());
      try {
        const report = JSON.parse(readFileSync(opts.jsonExport, 'utf8')) as { run: { stats: { assertions: { total: number; failed: number }; requests: { total: number; failed: number } } } };
        const s = report.run.stats;
        resolve({ exitCode, assertionsTotal: s.assertions.total, assertionsFailed: s.assertions.failed, requestsTotal: s.requests.total, requestsFailed: s.requests.failed, error: null });
      } catch (err) {
        resolve({ exitCode, assertionsTotal: 0, assertionsFailed: 0, requestsTotal: 0, requestsFailed: 0, error: spawnError ?? `no newman.json was written (exit ${exitCode}): ${(err as Error).message}` });
      }
    };
    child.on('error', (err) => finish(1, err.message));
    child.on('close', (code) => finish(code ?? 1, null));
  });
}
