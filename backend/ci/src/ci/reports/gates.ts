/**
 * The six quality gates of DESIGN §4, each a pass/fail with a one-line reason.
 * Pure: everything they need has been read from the run folder already.
 */
import type { GateId, RunKind, TestSuite } from '../models.js';
import type { HtmlInspection } from './html.js';
import { sameUrl } from './inputs.js';
import type { JunitResult } from './junit.js';
import type { NewmanResult } from './newman.js';
import type { Gate, RollbackRecord, Score, SecretFinding, SmokeSection } from './types.js';

export const GATE_ORDER: readonly GateId[] = ['preflight', 'smoke', 'reports', 'score', 'backup', 'secrets'];

/** A stage's status, or null when the caller knows no stages (the Jenkins-side CLI). */
export type StageLookup = (id: string) => string | null;
const RAN = new Set(['success', 'failure', 'rolled_back', 'running']);

export interface SuiteReport {
  /** Selected and expected to have run. */
  required: boolean;
  /** The suite's stage status, or null when stages are unknown. */
  stageStatus: string | null;
  html: HtmlInspection | null;
  htmlName: string;
  dataName: string;
  /** Parsed JSON/XML, or the reason it could not be read. */
  data: { ok: true } | { ok: false; problem: string };
}

export interface GateInput {
  kind: RunKind;
  dry_run: boolean;
  test_suite: TestSuite;
  stage: StageLookup;
  preflight: { present: boolean; problem: string | null; passed: boolean | null; checks: Array<{ id: string; passed: boolean; detail: string }> };
  smoke: SmokeSection & { problem: string | null };
  rollback: RollbackRecord;
  deployRan: boolean;
  manifest: { present: boolean; problem: string | null; backup_id: string | null; backup_path: string | null; backup_verified: boolean | null };
  api: SuiteReport & { newman: NewmanResult | null };
  e2e: SuiteReport & { junit: JunitResult | null };
  score: Score;
  secrets: SecretFinding[];
}

const plural = (n: number, one: string, many = `${one}s`) => `${n} ${n === 1 ? one : many}`;

function preflightGate(i: GateInput): Gate {
  const p = i.preflight;
  const st = i.stage('preflight');
  if (!p.present) {
    if (st !== null && !RAN.has(st)) return { id: 'preflight', passed: false, reason: `preflight did not run (stage ${st})` };
    return { id: 'preflight', passed: false, reason: 'preflight.json is missing: the Pre-flight stage left no result' };
  }
  if (p.problem) return { id: 'preflight', passed: false, reason: `preflight.json ${p.problem}` };
  const failed = p.checks.filter((c) => !c.passed);
  if (p.passed === false || failed.length || st === 'failure') {
    const list = failed.map((c) => (c.detail ? `${c.id} (${c.detail})` : c.id)).join('; ');
    return { id: 'preflight', passed: false, reason: list ? `failed checks: ${list}` : 'the Pre-flight stage failed' };
  }
  if (p.passed === null && p.checks.length === 0) return { id: 'preflight', passed: false, reason: 'preflight.json says neither passed nor lists checks' };
  return { id: 'preflight', passed: true, reason: p.checks.length ? `${plural(p.checks.length, 'check')} passed` : 'preflight passed' };
}

function smokeGate(i: GateInput): Gate {
  if (i.dry_run && i.kind === 'deploy') return { id: 'smoke', passed: true, reason: 'not applicable: a dry run does not touch DevTest' };
  const s = i.smoke;
  const what = i.kind === 'rollback' ? 'the restored version' : 'the new version';
  if (!s.present) {
    const st = i.stage('smoke');
    return { id: 'smoke', passed: false, reason: st !== null && !RAN.has(st) ? `smoke did not run (stage ${st})` : 'smoke.json is missing: the smoke stage left no result' };
  }
  if (s.problem) return { id: 'smoke', passed: false, reason: `smoke.json ${s.problem}` };
  const expected = s.expected_urls.length ? s.expected_urls : s.urls.map((u) => u.url);
  const bad = expected.filter((u) => !s.urls.some((r) => sameUrl(r.url, u) && r.healthy));
  if (bad.length || s.passed === false || expected.length === 0) {
    const detail = bad
      .map((u) => {
        const r = s.urls.find((x) => sameUrl(x.url, u));
        if (!r) return `${u} (not checked)`;
        return `${u} (${r.status_code ?? r.error ?? 'no response'}${r.attempts ? ` after ${plural(r.attempts, 'attempt')}` : ''})`;
      })
      .join('; ');
    return { id: 'smoke', passed: false, reason: `smoke failed for ${what}: ${detail || 'no SMOKE_URLS were checked'}` };
  }
  return { id: 'smoke', passed: true, reason: `${expected.length} of ${expected.length} SMOKE_URLS healthy for ${what}` };
}

function suiteProblems(name: 'api' | 'e2e', r: GateInput['api'] | GateInput['e2e']): string[] {
  const problems: string[] = [];
  // Say so plainly when the suite never ran (an earlier stage stopped the run).
  if (r.stageStatus !== null && !RAN.has(r.stageStatus) && !r.html?.present && !r.data.ok) {
    return [`${r.htmlName} is missing: the ${name} tests did not run (stage ${r.stageStatus})`];
  }
  if (!r.html || r.html.problem) problems.push(`${r.htmlName} ${r.html?.problem ?? 'is missing'}`);
  if (!r.data.ok) problems.push(`${r.dataName} ${r.data.problem}`);
  if (problems.length || !r.html) return problems;
  const c = r.html.counts;
  const differ = (label: string, htmlValue: number | undefined, dataValue: number) => {
    if (htmlValue !== undefined && htmlValue !== dataValue) problems.push(`${r.htmlName} shows ${htmlValue} ${label} but ${r.dataName} has ${dataValue}`);
  };
  if (name === 'api') {
    const n = (r as GateInput['api']).newman!;
    if (c.assertions === undefined) problems.push(`${r.htmlName} shows no assertion total`);
    differ('assertions', c.assertions, n.assertions.total);
    differ('requests', c.requests, n.requests.total);
    differ('failed tests', c.failed_tests, n.failures.length);
  } else {
    const j = (r as GateInput['e2e']).junit!;
    if (c.passed === undefined && c.failed === undefined) problems.push(`${r.htmlName} shows no passed/failed totals`);
    // pytest's JUnit XML counts xpassed as passed and xfailed as skipped.
    differ('passed', c.passed === undefined ? undefined : c.passed + (c.xpassed ?? 0), j.passed);
    differ('failed', c.failed, j.failed);
    differ('errors', c.errors, j.errors);
    differ('skipped (incl. xfailed)', c.skipped === undefined ? undefined : c.skipped + (c.xfailed ?? 0), j.skipped);
  }
  return problems;
}

function reportsGate(i: GateInput): Gate {
  const required = (['api', 'e2e'] as const).filter((s) => i[s].required);
  if (!required.length) {
    const why = i.dry_run ? 'a dry run runs no tests' : i.kind === 'rollback' ? 'a rollback run runs no tests' : i.test_suite === 'none' ? 'test_suite is none' : 'the tests were skipped because the deploy was rolled back';
    return { id: 'reports', passed: true, reason: `no test report expected: ${why}` };
  }
  const problems = required.flatMap((s) => suiteProblems(s, i[s]));
  if (problems.length) return { id: 'reports', passed: false, reason: problems.join('; ') };
  return { id: 'reports', passed: true, reason: `${required.map((s) => i[s].htmlName).join(' and ')} complete and consistent with ${required.map((s) => i[s].dataName).join(' and ')}` };
}

function scoreGate(i: GateInput): Gate {
  const { value, threshold } = i.score;
  return value >= threshold
    ? { id: 'score', passed: true, reason: `Run Score ${value} ≥ threshold ${threshold}` }
    : { id: 'score', passed: false, reason: `Run Score ${value} is below the threshold ${threshold}` };
}

function backupGate(i: GateInput): Gate {
  if (i.kind === 'rollback') return { id: 'backup', passed: true, reason: 'not applicable: a rollback run restores a backup instead of deploying' };
  if (i.dry_run) return { id: 'backup', passed: true, reason: 'not applicable: a dry run deploys nothing' };
  const m = i.manifest;
  if (!m.present) {
    return i.deployRan
      ? { id: 'backup', passed: false, reason: 'deploy-manifest.json is missing although the deploy ran: no verified backup' }
      : { id: 'backup', passed: true, reason: 'nothing was deployed (the deploy stage did not run)' };
  }
  if (m.problem) return { id: 'backup', passed: false, reason: `deploy-manifest.json ${m.problem}` };
  const missing = [!m.backup_id && 'backup_id', !m.backup_path && 'backup_path'].filter(Boolean);
  if (missing.length) return { id: 'backup', passed: false, reason: `deploy-manifest.json has no ${missing.join(' and ')}: the deploy ran without a recorded backup` };
  if (m.backup_verified === false) return { id: 'backup', passed: false, reason: `backup ${m.backup_id} was not verified (backup_verified is false)` };
  return { id: 'backup', passed: true, reason: `backup ${m.backup_id} taken before the deploy (${m.backup_path})` };
}

function secretsGate(i: GateInput): Gate {
  if (!i.secrets.length) return { id: 'secrets', passed: true, reason: 'no secret found in the console log or any artifact' };
  const byWhere = new Map<string, string[]>();
  for (const f of i.secrets) byWhere.set(f.where, [...(byWhere.get(f.where) ?? []), `${f.count} × ${f.kind}`]);
  const list = [...byWhere].map(([w, k]) => `${w === 'console' ? 'console log' : w}: ${k.join(', ')}`).join('; ');
  return { id: 'secrets', passed: false, reason: `secrets found and masked before storage — ${list}` };
}

export function evaluateGates(i: GateInput): Gate[] {
  return [preflightGate(i), smokeGate(i), reportsGate(i), scoreGate(i), backupGate(i), secretsGate(i)];
}
