/**
 * Newman's JSON reporter output (`-r json --reporter-json-export newman.json`).
 *
 * JSON cannot be parsed in pieces with the standard library, so the file is
 * read whole, up to MAX_NEWMAN_JSON_BYTES (Newman itself held the same object
 * in memory to write it). Larger files are refused with a message rather than
 * risking the service's memory.
 */
import { readFile, stat } from 'node:fs/promises';
import { BoundedList, TopN } from './xml.js';

export const MAX_NEWMAN_JSON_BYTES = 256 * 1024 * 1024;

export interface NewmanFailure {
  item: string;
  kind: 'assertion' | 'script' | 'request';
  test: string | null;
  message: string;
}

export interface NewmanResult {
  assertions: { total: number; failed: number; passed: number; skipped: number };
  requests: { total: number; failed: number };
  script_errors: number;
  failures: NewmanFailure[];
  failed_tests: string[];
  failed_tests_omitted: number;
  no_response: string[];
  duration_ms: number | null;
  response_average_ms: number | null;
  slowest: Array<{ name: string; ms: number }>;
}

interface Stat {
  total?: number;
  failed?: number;
  pending?: number;
}
interface NewmanJson {
  run?: {
    stats?: Record<string, Stat | undefined>;
    timings?: { started?: number; completed?: number; responseAverage?: number };
    executions?: Array<{
      item?: { name?: string };
      response?: { code?: number; responseTime?: number } | null;
      requestError?: { code?: string; message?: string } | null;
    }>;
    failures?: Array<{ at?: string; source?: { name?: string }; error?: { name?: string; message?: string; test?: string } }>;
  };
}

const n = (v: unknown) => (typeof v === 'number' && Number.isFinite(v) ? v : 0);

export async function parseNewmanFile(file: string): Promise<NewmanResult> {
  const size = (await stat(file)).size;
  if (size > MAX_NEWMAN_JSON_BYTES) {
    throw new Error(`${file} is ${size} bytes, more than the ${MAX_NEWMAN_JSON_BYTES} the aggregator reads; run Newman with fewer iterations or without response bodies`);
  }
  let doc: NewmanJson;
  try {
    doc = JSON.parse(await readFile(file, 'utf8')) as NewmanJson;
  } catch (e) {
    throw new Error(`${file} is not valid JSON (${(e as Error).message}); expected the output of newman's json reporter`);
  }
  const run = doc.run;
  if (!run || typeof run !== 'object' || !run.stats || typeof run.stats !== 'object') {
    throw new Error(`${file} has no run.stats; expected the output of \`newman run -r json --reporter-json-export\``);
  }
  const s = run.stats;
  const assertionsTotal = n(s.assertions?.total);
  const assertionsFailed = n(s.assertions?.failed);
  const failures: NewmanFailure[] = [];
  const failedNames = new BoundedList(50);
  for (const f of run.failures ?? []) {
    const at = f.at ?? '';
    const item = f.source?.name ?? '(unnamed request)';
    const kind: NewmanFailure['kind'] = at.startsWith('assertion') ? 'assertion' : at === 'request' ? 'request' : 'script';
    const message = (f.error?.message ?? '').split('\n')[0]!.slice(0, 300);
    const test = f.error?.test ?? null;
    if (failures.length < 200) failures.push({ item, kind, test, message });
    failedNames.add(
      kind === 'assertion' ? `${item} › ${test ?? 'assertion'}` : kind === 'request' ? `${item} › no response (${message})` : `${item} › script error: ${f.error?.name ?? 'Error'}: ${message}`,
    );
  }
  const slowest = new TopN(5);
  const noResponse: string[] = [];
  for (const e of run.executions ?? []) {
    const name = e.item?.name ?? '(unnamed request)';
    if (e.response && typeof e.response.responseTime === 'number') slowest.add(name, e.response.responseTime);
    else if (noResponse.length < 50) noResponse.push(name);
  }
  const started = run.timings?.started;
  const completed = run.timings?.completed;
  return {
    assertions: { total: assertionsTotal, failed: assertionsFailed, passed: Math.max(0, assertionsTotal - assertionsFailed), skipped: n(s.assertions?.pending) },
    requests: { total: n(s.requests?.total), failed: n(s.requests?.failed) },
    script_errors: n(s.testScripts?.failed) + n(s.prerequestScripts?.failed),
    failures,
    failed_tests: failedNames.items,
    failed_tests_omitted: failedNames.omitted,
    no_response: noResponse,
    duration_ms: typeof started === 'number' && typeof completed === 'number' ? Math.max(0, completed - started) : null,
    response_average_ms: typeof run.timings?.responseAverage === 'number' ? Math.round(run.timings.responseAverage * 100) / 100 : null,
    slowest: slowest.items,
  };
}
