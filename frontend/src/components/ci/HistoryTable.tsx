/**
 * Run history: filters (status, kind, env, initiator, date range) that the
 * page keeps in the URL, cursor pagination ("Load older runs"), rollback
 * markers, links to each run, its Jenkins build and its summary, and a trend.
 */
import { useEffect, useId, useState, type FormEvent } from 'react';
import { useCiApi } from '../../api/context.js';
import { useRunsHistory } from '../../api/hooks.js';
import { RUN_KINDS, RUN_STATUSES, type HistoryFilters, type RunSummary } from '../../api/types.js';
import { formatDuration, formatInstant, formatScore, RUN_STATUS_LABEL, STATUS_GLYPH } from '../../lib/format.js';
import { ApiErrorBanner } from './Banner.js';
import { TrendChart } from './TrendChart.js';

export interface HistoryTableProps {
  filters: HistoryFilters;
  onFiltersChange: (f: HistoryFilters) => void;
  /** Opens a run in the details panel. */
  onOpenRun?: (runId: string) => void;
  selectedRunId?: string | null;
  pageSize?: number;
}

function Markers({ run }: { run: RunSummary }) {
  return (
    <>
      {run.status === 'rolled_back' ? (
        <span className="badge badge--rollback" data-testid="rollback-marker" title="Smoke failed; the previous version was restored">
          ↩ rolled back
        </span>
      ) : null}
      {run.rollback_failed ? <span className="badge badge--danger">⚠ rollback failed</span> : null}
      {run.dry_run ? <span className="badge">dry run</span> : null}
      {run.sandbox ? <span className="badge badge--sandbox">sandbox</span> : null}
    </>
  );
}

export function HistoryTable({ filters, onFiltersChange, onOpenRun, selectedRunId, pageSize = 20 }: HistoryTableProps) {
  const api = useCiApi();
  const uid = useId();
  const q = useRunsHistory(filters, pageSize);
  const [draft, setDraft] = useState<HistoryFilters>(filters);
  useEffect(() => setDraft(filters), [filters]);
  const runs = q.data?.pages.flatMap((p) => p.runs) ?? [];

  const apply = (next: HistoryFilters) => {
    const clean: HistoryFilters = {};
    for (const [k, v] of Object.entries(next) as Array<[keyof HistoryFilters, string | undefined]>) if (v && v.trim()) (clean as Record<string, string>)[k] = v.trim();
    onFiltersChange(clean);
  };
  const onSubmit = (e: FormEvent) => {
    e.preventDefault();
    apply(draft);
  };
  // Selects and dates apply at once; text fields on Enter, blur or "Apply".
  const setNow = (patch: Partial<HistoryFilters>) => {
    const next = { ...draft, ...patch };
    setDraft(next);
    apply(next);
  };
  const active = Object.values(filters).some(Boolean);

  return (
    <section className="card history" aria-labelledby={`${uid}-h`} data-testid="history">
      <div className="card__header">
        <h2 id={`${uid}-h`} className="card__title">
          History
        </h2>
        <TrendChart runs={runs} />
      </div>
      <form className="filters" onSubmit={onSubmit} aria-label="History filters">
        <div className="field">
          <label htmlFor={`${uid}-status`}>Status</label>
          <select id={`${uid}-status`} value={draft.status ?? ''} onChange={(e) => setNow({ status: (e.target.value || undefined) as HistoryFilters['status'] })}>
            <option value="">Any</option>
            {RUN_STATUSES.map((s) => (
              <option key={s} value={s}>
                {RUN_STATUS_LABEL[s]}
              </option>
            ))}
          </select>
        </div>
        <div className="field">
          <label htmlFor={`${uid}-kind`}>Kind</label>
          <select id={`${uid}-kind`} value={draft.kind ?? ''} onChange={(e) => setNow({ kind: (e.target.value || undefined) as HistoryFilters['kind'] })}>
            <option value="">Any</option>
            {RUN_KINDS.map((k) => (
              <option key={k} value={k}>
                {k === 'deploy' ? 'Deploy' : 'Rollback'}
              </option>
            ))}
          </select>
        </div>
        <div className="field">
          <label htmlFor={`${uid}-env`}>Environment</label>
          <input id={`${uid}-env`} value={draft.env ?? ''} onChange={(e) => setDraft({ ...draft, env: e.target.value })} onBlur={() => apply(draft)} placeholder="any" />
        </div>
        <div className="field">
          <label htmlFor={`${uid}-init`}>Initiator</label>
          <input id={`${uid}-init`} value={draft.initiator ?? ''} onChange={(e) => setDraft({ ...draft, initiator: e.target.value })} onBlur={() => apply(draft)} placeholder="anyone" />
        </div>
        <div className="field">
          <label htmlFor={`${uid}-from`}>From</label>
          <input id={`${uid}-from`} type="date" value={draft.from ?? ''} onChange={(e) => setNow({ from: e.target.value || undefined })} />
        </div>
        <div className="field">
          <label htmlFor={`${uid}-to`}>To</label>
          <input id={`${uid}-to`} type="date" value={draft.to ?? ''} onChange={(e) => setNow({ to: e.target.value || undefined })} />
        </div>
        <div className="filters__actions">
          <button type="submit" className="button button--small">
            Apply
          </button>
          <button type="button" className="button button--small" onClick={() => apply({})} disabled={!active}>
            Clear filters
          </button>
        </div>
      </form>

      {q.error ? <ApiErrorBanner error={q.error} what="load the history" onRetry={() => void q.refetch()} /> : null}

      <div className="table-wrap">
        <table className="history-table">
          <caption className="visually-hidden">Runs, newest first</caption>
          <thead>
            <tr>
              <th scope="col">Status</th>
              <th scope="col">Kind</th>
              <th scope="col">Branch/Tag</th>
              <th scope="col">Started</th>
              <th scope="col">Duration</th>
              <th scope="col">Initiator</th>
              <th scope="col">Score</th>
              <th scope="col">Links</th>
            </tr>
          </thead>
          <tbody>
            {runs.map((r) => (
              <tr key={r.run_id} data-run-id={r.run_id} data-status={r.status} aria-current={r.run_id === selectedRunId ? 'true' : undefined}>
                <td data-label="Status">
                  <span className={`status status--${r.status}`}>
                    <span aria-hidden="true">{STATUS_GLYPH[r.status]}</span> {RUN_STATUS_LABEL[r.status]}
                  </span>{' '}
                  <Markers run={r} />
                </td>
                <td data-label="Kind">{r.kind === 'rollback' ? <span className="badge badge--rollback">↩ rollback</span> : 'deploy'}</td>
                <td data-label="Branch/Tag">
                  <code>{r.branch_or_tag}</code>
                </td>
                <td data-label="Started">{formatInstant(r.started_at ?? r.created_at)}</td>
                <td data-label="Duration">{formatDuration(r.duration_ms)}</td>
                <td data-label="Initiator">{r.initiator}</td>
                <td data-label="Score">{formatScore(r.score)}</td>
                <td data-label="Links" className="links">
                  <button type="button" className="linklike" onClick={() => onOpenRun?.(r.run_id)}>
                    Details<span className="visually-hidden"> of run {r.run_id.slice(0, 8)}</span>
                  </button>
                  {r.jenkins ? (
                    <a href={r.jenkins.url} target="_blank" rel="noopener noreferrer">
                      Jenkins #{r.jenkins.number}
                    </a>
                  ) : null}
                  <a href={api.url(`/ci/runs/${encodeURIComponent(r.run_id)}/summary.md`)} target="_blank" rel="noopener noreferrer">
                    Summary<span className="visually-hidden"> of run {r.run_id.slice(0, 8)} (opens in a new tab)</span>
                  </a>
                </td>
              </tr>
            ))}
          </tbody>
        </table>
        {q.isSuccess && runs.length === 0 ? <p className="muted empty">{active ? 'No run matches these filters.' : 'No runs yet. Press Deploy to start the first one.'}</p> : null}
        {q.isPending ? <p className="muted empty">Loading runs…</p> : null}
      </div>
      <div className="pager">
        <span className="muted">
          {runs.length} run{runs.length === 1 ? '' : 's'} shown
        </span>
        {q.hasNextPage ? (
          <button type="button" className="button button--small" onClick={() => void q.fetchNextPage()} disabled={q.isFetchingNextPage}>
            {q.isFetchingNextPage ? 'Loading…' : 'Load older runs'}
          </button>
        ) : null}
      </div>
    </section>
  );
}
