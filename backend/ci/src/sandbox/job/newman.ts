/**
 * Runs the real Newman (the npm package, as a library) with the repository's
 * Postman collection and environment, `baseUrl` pointed at the simulated
 * DevTest, reporters htmlextra + json — the same reports the Jenkinsfile's
 * `newman run … -r cli,htmlextra,json` writes.
 */
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);

export interface NewmanOutcome {
  assertionsTotal: number;
  assertionsFailed: number;
  requestsTotal: number;
  requestsFailed: number;
  /** Newman's own run error (collection unreadable…), if any. */
  error: string | null;
}

interface NewmanSummary {
  run: {
    stats: { assertions: { total: number; failed: number }; requests: { total: number; failed: number } };
    failures: { source?: { name?: string }; error?: { message?: string; test?: string } }[];
  };
}

interface NewmanRunner {
  run(options: Record<string, unknown>, cb: (err: Error | null, summary: NewmanSummary) => void): NodeJS.EventEmitter;
}

export function runNewman(opts: {
  collection: string;
  environment: string;
  baseUrl: string;
  htmlExport: string;
  jsonExport: string;
  title: string;
  /** Called with CLI-like lines as the run progresses. */
  onLine: (line: string) => void;
}): Promise<NewmanOutcome> {
  const newman = require('newman') as NewmanRunner;
  return new Promise((resolve) => {
    const emitter = newman.run(
      {
        collection: opts.collection,
        environment: opts.environment,
        envVar: [{ key: 'baseUrl', value: opts.baseUrl }],
        reporters: ['htmlextra', 'json'],
        reporter: {
          htmlextra: { export: opts.htmlExport, title: opts.title, browserTitle: opts.title },
          json: { export: opts.jsonExport },
        },
        timeoutRequest: 10_000,
      },
      (err, summary) => {
        if (err) {
          resolve({ assertionsTotal: 0, assertionsFailed: 0, requestsTotal: 0, requestsFailed: 0, error: err.message });
          return;
        }
        const s = summary.run.stats;
        resolve({
          assertionsTotal: s.assertions.total,
          assertionsFailed: s.assertions.failed,
          requestsTotal: s.requests.total,
          requestsFailed: s.requests.failed,
          error: null,
        });
      },
    );
    // CLI-reporter-like lines for the console, so the API stage reads like `newman run` output.
    emitter.on('beforeItem', (_e: unknown, args: { item: { name: string } }) => opts.onLine(`→ ${args.item.name}`));
    emitter.on('request', (err: Error | null, args: { request: { method: string; url: { toString(): string } }; response?: { code: number; status: string; responseTime: number; responseSize?: number } }) => {
      if (err) opts.onLine(`  ${args.request.method} ${args.request.url.toString()} [errored] ${err.message}`);
      else if (args.response) opts.onLine(`  ${args.request.method} ${args.request.url.toString()} [${args.response.code} ${args.response.status}, ${args.response.responseSize ?? 0}B, ${args.response.responseTime}ms]`);
    });
    emitter.on('assertion', (err: Error | null, args: { assertion: string }) => opts.onLine(`  ${err ? '✗' : '✓'}  ${args.assertion}${err ? ` (${err.message})` : ''}`));
  });
}
