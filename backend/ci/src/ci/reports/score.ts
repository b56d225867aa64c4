/**
 * The Run Score (DESIGN §4): Σ wᵢ·sᵢ / Σ wᵢ over the components the run
 * included, each sᵢ in 0–100. Every sᵢ is rounded to 2 decimals *before* the
 * sum, so a reader who recomputes from summary.json's own numbers gets the
 * same value.
 */
import type { ComponentId, Score, ScoreComponent, ScoreWeights } from './types.js';
import type { RunKind, TestSuite } from '../models.js';

export const round2 = (n: number) => Math.round(n * 100) / 100;
const pct = (num: number, den: number) => (den > 0 ? round2((num / den) * 100) : 0);

export interface ScoreInput {
  kind: RunKind;
  dry_run: boolean;
  test_suite: TestSuite;
  weights: ScoreWeights;
  threshold: number;
  /** The tests of api/e2e were skipped because the deploy failed smoke and was rolled back. */
  tests_skipped_by_rollback: boolean;
  build: { present: boolean; failed_build: boolean; passed: number; failed: number; skipped: number };
  smoke: { present: boolean; healthy: number; expected: number };
  api: { present: boolean; passed: number; total: number; script_errors: number };
  e2e: { present: boolean; passed: number; failed: number; errors: number };
}

/** Which components a run includes: dry run → build; rollback run → smoke; test_suite picks api/e2e. */
export function includedComponents(i: Pick<ScoreInput, 'kind' | 'dry_run' | 'test_suite' | 'tests_skipped_by_rollback'>): Record<ComponentId, boolean> {
  const deployRun = i.kind === 'deploy';
  const testsRun = deployRun && !i.dry_run && !i.tests_skipped_by_rollback;
  return {
    build: deployRun,
    smoke: i.kind === 'rollback' || !i.dry_run,
    api: testsRun && (i.test_suite === 'full' || i.test_suite === 'api'),
    e2e: testsRun && (i.test_suite === 'full' || i.test_suite === 'e2e'),
  };
}

export function computeScore(i: ScoreInput): Score {
  const inc = includedComponents(i);
  const notIncluded = (why: string) => ({ score: null, detail: why });
  const whyNot = (id: ComponentId): string => {
    if (id === 'build') return 'not included: a rollback run builds nothing';
    if (id === 'smoke') return 'not included: a dry run does not touch DevTest';
    if (i.kind === 'rollback') return 'not included: a rollback run runs no tests';
    if (i.dry_run) return 'not included: a dry run runs no tests';
    if (i.tests_skipped_by_rollback) return 'not included: tests were skipped because the deploy failed smoke and was rolled back';
    return `not included: test_suite is ${i.test_suite}`;
  };

  const build = (): { score: number; detail: string } => {
    const b = i.build;
    if (b.failed_build) return { score: 0, detail: 'the build failed' };
    if (!b.present) return { score: 0, detail: 'no TRX found under trx/ (the unit tests left no result)' };
    const ran = b.passed + b.failed;
    if (ran === 0) return { score: 100, detail: `the build succeeded; no unit test executed (${b.skipped} skipped)` };
    return { score: pct(b.passed, ran), detail: `${b.passed} of ${ran} unit tests passed (${b.skipped} skipped, not counted)` };
  };
  const smoke = () => {
    const s = i.smoke;
    if (!s.present) return { score: 0, detail: 'no smoke.json (smoke did not run or left no result)' };
    return { score: pct(s.healthy, s.expected), detail: `${s.healthy} of ${s.expected} SMOKE_URLS healthy after retries` };
  };
  const api = () => {
    const a = i.api;
    if (!a.present) return { score: 0, detail: 'no newman.json (the API tests left no result)' };
    if (a.total === 0) return { score: 0, detail: 'Newman ran no assertions' };
    const extra = a.script_errors ? `; ${a.script_errors} test script(s) threw, their later assertions never ran` : '';
    return { score: pct(a.passed, a.total), detail: `${a.passed} of ${a.total} Newman assertions passed${extra}` };
  };
  const e2e = () => {
    const e = i.e2e;
    if (!e.present) return { score: 0, detail: 'no e2e-junit.xml (the E2E tests left no result)' };
    const den = e.passed + e.failed + e.errors;
    if (den === 0) return { score: 0, detail: 'no E2E test ran' };
    return { score: pct(e.passed, den), detail: `${e.passed} of ${den} E2E tests passed (${e.failed} failed, ${e.errors} errors)` };
  };
  const compute = { build, smoke, api, e2e };

  const components: ScoreComponent[] = (['build', 'smoke', 'api', 'e2e'] as const).map((id) => {
    const weight = i.weights[id] ?? 0;
    const part = inc[id] ? compute[id]() : notIncluded(whyNot(id));
    return { id, weight, included: inc[id], ...part };
  });
  const counted = components.filter((c) => c.included);
  const wsum = counted.reduce((t, c) => t + c.weight, 0);
  const value = wsum > 0 ? round2(counted.reduce((t, c) => t + c.weight * (c.score ?? 0), 0) / wsum) : 0;
  const formula =
    wsum > 0
      ? `(${counted.map((c) => `${c.weight}×${c.score}`).join(' + ')}) / ${wsum} = ${value}`
      : 'the included components have no weight; the score is 0';
  return { value, threshold: i.threshold, components, formula };
}
