/**
 * Environment metrics over a window of runs (the four DORA keys plus median
 * duration and score), computed from the rows the run store returns. Pure.
 *
 * - deployment_frequency_per_week: successful, non-dry-run deploys per 7 days.
 * - change_failure_rate: failed or rolled-back deploys ÷ all finished deploys
 *   (success + failed + rolled_back), non-dry-run; null with no deploys.
 * - time_to_restore_ms: median, over failed/rolled-back deploys, of the time
 *   from that run's end to the end of the next successful run (deploy or
 *   rollback) of the environment; null if none was restored in the window.
 * - lead_time_ms: median of (finished_at − commit_time) over successful
 *   deploys that know their commit time.
 * - median_duration_ms / median_score: over finished runs (not cancelled)
 *   that have the value, dry runs included.
 */
export interface MetricsRunRow {
  run_id: string;
  kind: string;
  status: string;
  dry_run: boolean;
  created_at: string;
  started_at: string | null;
  finished_at: string | null;
  duration_ms: number | null;
  score: number | null;
  commit_time: string | null;
}

export interface EnvironmentMetrics {
  deployment_frequency_per_week: number;
  change_failure_rate: number | null;
  time_to_restore_ms: number | null;
  lead_time_ms: number | null;
  median_duration_ms: number | null;
  median_score: number | null;
  window_days: number;
  runs: number;
}

export function median(values: number[]): number | null {
  if (!values.length) return null;
  const s = [...values].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
}

const DAY = 86_400_000;
const t = (s: string | null) => (s ? Date.parse(s) : NaN);
const round = (n: number, d: number) => Math.round(n * 10 ** d) / 10 ** d;

export function environmentMetrics(runs: MetricsRunRow[], windowDays: number, now: Date = new Date()): EnvironmentMetrics {
  if (!Number.isFinite(windowDays) || windowDays <= 0) throw new Error(`windowDays must be a positive number of days, got ${windowDays}`);
  const from = now.getTime() - windowDays * DAY;
  const inWindow = runs.filter((r) => {
    const c = t(r.created_at);
    return Number.isFinite(c) && c >= from && c <= now.getTime();
  });
  const byEnd = (a: MetricsRunRow, b: MetricsRunRow) => t(a.finished_at ?? a.created_at) - t(b.finished_at ?? b.created_at);
  const deploys = inWindow.filter((r) => r.kind === 'deploy' && !r.dry_run && ['success', 'failed', 'rolled_back'].includes(r.status)).sort(byEnd);
  const good = deploys.filter((r) => r.status === 'success');
  const bad = deploys.filter((r) => r.status !== 'success');

  // Restores: the next successful run of either kind after a bad deploy ended.
  const successes = inWindow.filter((r) => r.status === 'success' && !r.dry_run && r.finished_at).sort(byEnd);
  const restores: number[] = [];
  for (const b of bad) {
    const end = t(b.finished_at);
    if (!Number.isFinite(end)) continue;
    const next = successes.find((s) => t(s.finished_at) > end);
    if (next) restores.push(t(next.finished_at) - end);
  }
  const leads = good.map((r) => t(r.finished_at) - t(r.commit_time)).filter((x) => Number.isFinite(x) && x >= 0);
  const finished = inWindow.filter((r) => r.status !== 'cancelled' && r.finished_at);

  return {
    deployment_frequency_per_week: round((good.length * 7) / windowDays, 2),
    change_failure_rate: deploys.length ? round(bad.length / deploys.length, 4) : null,
    time_to_restore_ms: median(restores),
    lead_time_ms: median(leads),
    median_duration_ms: median(finished.map((r) => r.duration_ms).filter((x): x is number => typeof x === 'number')),
    median_score: median(finished.map((r) => r.score).filter((x): x is number => typeof x === 'number')),
    window_days: windowDays,
    runs: inWindow.length,
  };
}
