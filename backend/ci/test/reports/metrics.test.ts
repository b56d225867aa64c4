/** Environment metrics on a constructed run history. */
import { describe, expect, it } from 'vitest';
import { environmentMetrics, median, type MetricsRunRow } from '../../src/ci/reports/metrics.js';

const now = new Date('2026-12-04T12:00:00Z');
const H = 3_600_000;
const at = (hoursAgo: number) => new Date(now.getTime() - hoursAgo * H).toISOString();
let n = 0;
const row = (o: Partial<MetricsRunRow> & { hoursAgo: number; minutes?: number }): MetricsRunRow => {
  const created = at(o.hoursAgo);
  const dur = (o.minutes ?? 10) * 60_000;
  return {
    run_id: `r${++n}`,
    kind: 'deploy',
    status: 'success',
    dry_run: false,
    created_at: created,
    started_at: created,
    finished_at: new Date(Date.parse(created) + dur).toISOString(),
    duration_ms: dur,
    score: 90,
    commit_time: null,
    ...o,
  };
};

describe('environmentMetrics', () => {
  const history: MetricsRunRow[] = [
    row({ hoursAgo: 24 * 20, status: 'success' }), // outside a 14-day window
    row({ hoursAgo: 24 * 10, status: 'success', commit_time: at(24 * 10 + 2), score: 95 }), // lead 2 h + 10 min
    row({ hoursAgo: 24 * 8, status: 'failed', score: 40 }), // restored by the next success, 24 h later
    row({ hoursAgo: 24 * 7, status: 'success', commit_time: at(24 * 7 + 4), score: 92 }), // lead 4 h + 10 min
    row({ hoursAgo: 24 * 5, status: 'rolled_back', score: 45 }), // restored by the rollback run 1 h later
    row({ hoursAgo: 24 * 5 - 1, kind: 'rollback', status: 'success', score: 100 }),
    row({ hoursAgo: 24 * 3, status: 'success', dry_run: true, score: 100, minutes: 4 }), // dry runs are not deploys
    row({ hoursAgo: 24 * 2, status: 'cancelled', score: null, minutes: 1 }),
    row({ hoursAgo: 24, status: 'success', score: 88 }),
  ];

  it('computes frequency, failure rate, time to restore, lead time and medians over the window', () => {
    const m = environmentMetrics(history, 14, now);
    expect(m.runs).toBe(8);
    // 3 successful non-dry deploys in 14 days = 1.5 per week
    expect(m.deployment_frequency_per_week).toBe(1.5);
    // 2 bad of 5 finished deploys
    expect(m.change_failure_rate).toBe(0.4);
    // restores: 24 h (failed → next success) and 1 h (rolled_back → rollback run); median 12.5 h
    expect(m.time_to_restore_ms).toBe(12.5 * H);
    expect(m.lead_time_ms).toBe(((2 * 60 + 10 + (4 * 60 + 10)) / 2) * 60_000);
    // finished, not cancelled: 7 runs; durations 10,10,10,10,10,4,10 → median 10 min
    expect(m.median_duration_ms).toBe(10 * 60_000);
    expect(m.median_score).toBe(92);
    expect(m.window_days).toBe(14);
  });

  it('returns nulls, not zeros, where there is nothing to measure', () => {
    const m = environmentMetrics([row({ hoursAgo: 2, dry_run: true })], 7, now);
    expect(m).toMatchObject({ deployment_frequency_per_week: 0, change_failure_rate: null, time_to_restore_ms: null, lead_time_ms: null, runs: 1 });
  });

  it('an unrestored failure has no time to restore yet', () => {
    const m = environmentMetrics([row({ hoursAgo: 5, status: 'success' }), row({ hoursAgo: 2, status: 'failed' })], 7, now);
    expect(m.change_failure_rate).toBe(0.5);
    expect(m.time_to_restore_ms).toBeNull();
  });

  it('rejects a window that is not a positive number of days', () => {
    expect(() => environmentMetrics([], 0, now)).toThrow(/windowDays must be a positive number/);
  });

  it('median of even and odd lists', () => {
    expect(median([3, 1, 2])).toBe(2);
    expect(median([4, 1, 3, 2])).toBe(2.5);
    expect(median([])).toBeNull();
  });
});
