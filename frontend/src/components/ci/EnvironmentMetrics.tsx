/** The environment's delivery metrics over the last 30 days (GET /ci/environments/{env}/metrics). */
import { useId } from 'react';
import { useEnvMetrics } from '../../api/hooks.js';
import { formatDuration, formatPercent, formatScore } from '../../lib/format.js';
import { ApiErrorBanner } from './Banner.js';

export function EnvironmentMetrics({ env, app }: { env: string; app: string }) {
  const q = useEnvMetrics(env, app);
  const uid = useId();
  if (q.error) return <ApiErrorBanner error={q.error} what={`load ${env} metrics`} onRetry={() => void q.refetch()} />;
  const m = q.data;
  const items: Array<[string, string]> = m
    ? [
        ['Deployment frequency', m.deployment_frequency_per_week === null ? '—' : `${m.deployment_frequency_per_week.toFixed(1)} / week`],
        ['Change failure rate', formatPercent(m.change_failure_rate)],
        ['Time to restore', formatDuration(m.time_to_restore_ms)],
        ['Lead time', formatDuration(m.lead_time_ms)],
        ['Median duration', formatDuration(m.median_duration_ms)],
        ['Median score', formatScore(m.median_score)],
      ]
    : [];
  return (
    <section className="env-metrics" aria-labelledby={`${uid}-h`} data-testid="env-metrics">
      <h3 id={`${uid}-h`}>
        {env} metrics{m ? <span className="muted"> · last {m.window_days} days, {m.runs} runs</span> : null}
      </h3>
      {m ? (
        <dl className="metric-grid">
          {items.map(([k, v]) => (
            <div key={k} className="metric">
              <dt>{k}</dt>
              <dd>{v}</dd>
            </div>
          ))}
        </dl>
      ) : (
        <p className="muted">Loading…</p>
      )}
    </section>
  );
}
