/**
 * The small JSON files the pipeline scripts write (DESIGN §3), read leniently:
 * PowerShell's ConvertTo-Json and Python's json module spell things slightly
 * differently, so each reader accepts the documented field name and the
 * obvious synonyms (docs/summary-schema.md, "Input files"). A file that is
 * there but is not JSON is reported, never guessed at.
 */
import { readFile } from 'node:fs/promises';
import { decodeText } from './text.js';
import type { SmokeUrlResult } from './types.js';

export interface JsonFile<T = Record<string, unknown>> {
  present: boolean;
  value: T | null;
  /** Why the file could not be used (not JSON, not an object). */
  problem: string | null;
}

export async function readJsonFile(file: string): Promise<JsonFile> {
  let text: string;
  try {
    // Windows PowerShell 5.1 writes UTF-16LE (Out-File) or UTF-8 with a BOM (-Encoding UTF8).
    text = decodeText(await readFile(file));
  } catch {
    return { present: false, value: null, problem: null };
  }
  try {
    const v: unknown = JSON.parse(text);
    if (!v || typeof v !== 'object' || Array.isArray(v)) return { present: true, value: null, problem: 'is not a JSON object' };
    return { present: true, value: v as Record<string, unknown>, problem: null };
  } catch (e) {
    return { present: true, value: null, problem: `is not valid JSON (${(e as Error).message})` };
  }
}

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => !!v && typeof v === 'object' && !Array.isArray(v);

/** The first of `keys` whose value has the wanted type. */
export function pick<T extends 'string' | 'number' | 'boolean'>(
  o: Obj | null | undefined,
  keys: string[],
  type: T,
): (T extends 'string' ? string : T extends 'number' ? number : boolean) | null {
  if (!o) return null;
  for (const k of keys) {
    const v = o[k];
    if (typeof v === type && (type !== 'number' || Number.isFinite(v))) return v as never;
  }
  return null;
}

const STATUS_WORDS_OK = new Set(['passed', 'pass', 'ok', 'success', 'succeeded', 'healthy', 'true']);
const STATUS_WORDS_BAD = new Set(['failed', 'fail', 'failure', 'error', 'unhealthy', 'false']);

/** passed | ok | success (boolean), or status: "passed"/"failed" (string). */
export function pickPassed(o: Obj | null | undefined): boolean | null {
  const b = pick(o, ['passed', 'ok', 'success', 'healthy'], 'boolean');
  if (b !== null) return b;
  const s = pick(o, ['status', 'result', 'outcome'], 'string')?.toLowerCase();
  if (s && STATUS_WORDS_OK.has(s)) return true;
  if (s && STATUS_WORDS_BAD.has(s)) return false;
  return null;
}

function arrayOf(o: Obj | null | undefined, keys: string[]): Obj[] {
  if (!o) return [];
  for (const k of keys) {
    const v = o[k];
    if (Array.isArray(v)) return v.filter(isObj);
  }
  return [];
}

export function smokeResults(o: Obj | null | undefined): SmokeUrlResult[] {
  return arrayOf(o, ['urls', 'results', 'checks']).map((r) => {
    const code = pick(r, ['status_code', 'statusCode', 'http_status', 'code', 'status'], 'number');
    const explicit = pick(r, ['healthy', 'ok', 'passed', 'success'], 'boolean');
    return {
      url: pick(r, ['url', 'uri', 'name'], 'string') ?? '(no url)',
      healthy: explicit ?? code === 200,
      status_code: code,
      attempts: pick(r, ['attempts', 'tries', 'retries'], 'number'),
      ms: pick(r, ['ms', 'elapsed_ms', 'duration_ms', 'time_ms', 'latency_ms'], 'number'),
      error: pick(r, ['error', 'message', 'reason'], 'string'),
    };
  });
}

export function preflightChecks(o: Obj | null | undefined): Array<{ id: string; passed: boolean; detail: string }> {
  return arrayOf(o, ['checks', 'results']).map((c) => {
    const detail = pick(c, ['detail', 'message', 'reason', 'error'], 'string') ?? '';
    const hint = pick(c, ['hint', 'remediation'], 'string');
    return {
      id: pick(c, ['id', 'name', 'check'], 'string') ?? '(unnamed check)',
      passed: pickPassed(c) ?? false,
      detail: hint && !detail.includes(hint) ? `${detail}${detail ? ' — ' : ''}${hint}` : detail,
    };
  });
}

export function nestedObj(o: Obj | null | undefined, key: string): Obj | null {
  const v = o?.[key];
  return isObj(v) ? v : null;
}

export function stringList(o: Obj | null | undefined, key: string): string[] {
  const v = o?.[key];
  return Array.isArray(v) ? v.filter((x): x is string => typeof x === 'string') : [];
}

/**
 * Whether two URLs name the same endpoint, as a script may have echoed them:
 * scheme and host case-insensitive, a trailing slash ignored.
 */
export function sameUrl(a: string, b: string): boolean {
  const norm = (u: string) => {
    try {
      const x = new URL(u.trim());
      return `${x.protocol}//${x.host}${x.pathname.replace(/\/+$/, '')}${x.search}`.toLowerCase();
    } catch {
      return u.trim().replace(/\/+$/, '').toLowerCase();
    }
  };
  return norm(a) === norm(b);
}
