/**
 * Run details: status and reason, the Run Score with its parts, every gate
 * with its reason, per-stage durations (elapsed beside typical, and the run's
 * expected finish), initiator, commit, the report buttons and the human
 * summary (shown as plain text: Markdown is never turned into HTML).
 */
import { useEffect, useId, useState } from 'react';
import { useMutation } from '@tanstack/react-query';
import { useCiApi } from '../../api/context.js';
import { useArtifactJson, useRunSummary } from '../../api/hooks.js';
import { ApiError } from '../../api/client.js';
import { isTerminal, type Artifact, type Run, type Stage } from '../../api/types.js';
import { formatClock, formatDuration, formatInstant, formatScore, RUN_STATUS_LABEL, STATUS_GLYPH } from '../../lib/format.js';
import { ApiErrorBanner, Banner } from './Banner.js';
import { StageChip, stageLabel } from './StageChips.js';
import { SummaryMarkdown } from './SummaryMarkdown.js';

export interface RunDetailsProps {
  run: Run;
  /** Deployers and admins may cancel a run that has not finished. */
  canCancel?: boolean;
  onCancelled?: () => void;
}

/** The four report buttons SPEC asks for; a run that did not produce one shows it disabled. */
const REPORTS: Array<{ label: string; match: (a: Artifact) => boolean }> = [
  { label: 'Newman report', match: (a) => a.path === 'newman.html' || a.name === 'newman.html' },
  { label: 'Playwright report', match: (a) => a.path === 'playwright.html' || a.name === 'playwright.html' },
  { label: 'Unit tests (TRX)', match: (a) => a.path.toLowerCase().endsWith('.trx') },
  { label: 'summary.json', match: (a) => a.path === 'summary.json' || a.name === 'summary.json' },
];

function useNow(active: boolean): number {
  const [now, setNow] = useState(() => Date.now());
  useEffect(() => {
    if (!active) return;
    const t = setInterval(() => setNow(Date.now()), 1000);
    return () => clearInterval(t);
  }, [active]);
  return now;
}

function elapsedOf(stage: Stage, now: number): number | null {
  if (stage.duration_ms !== null) return stage.duration_ms;
  if (stage.started_at) return Math.max(0, now - new Date(stage.started_at).getTime());
  return null;
}

/** Remaining time by typical durations: what is left of the running stage plus every pending one. */
export function expectedFinish(run: Pick<Run, 'status' | 'stages'>, now: number): number | null {
  if (isTerminal(run.status)) return null;
  let remaining = 0;
  let known = false;
  for (const s of run.stages) {
    const typical = s.typical_ms ?? null;
    if (typical === null) continue;
    if (s.status === 'running') {
      known = true;
      remaining += Math.max(0, typical - (elapsedOf(s, now) ?? 0));
    } else if (s.status === 'pending') {
      known = true;
      remaining += typical;
    }
  }
  return known ? now + remaining : null;
}

/** Resolves a backend-relative artifact URL against the API base. */
function artifactHref(base: string, url: string): string {
  return url.startsWith('/') ? `${base}${url}` : url;
}

export interface ScorePart {
  id: string;
  weight: number;
  included: boolean;
  score: number | null;
  detail?: string;
}
/** The score's parts, as summary.json records them (`score.components`); [] when absent or malformed. */
export function scorePartsOf(summaryJson: unknown): ScorePart[] {
  const parts = (summaryJson as { score?: { components?: unknown } } | null)?.score?.components;
  if (!Array.isArray(parts)) return [];
  return parts.filter((p): p is ScorePart => !!p && typeof p.id === 'string' && typeof p.weight === 'number');
}

export function RunDetails({ run, canCancel = false, onCancelled }: RunDetailsProps) {
  const api = useCiApi();
  const uid = useId();
  const done = isTerminal(run.status);
  const now = useNow(!done);
  const summary = useRunSummary(run.run_id, done);
  const [rawSummary, setRawSummary] = useState(false);
  const summaryArtifact = run.artifacts.find((a) => a.path === 'summary.json');
  const summaryJson = useArtifactJson(run.run_id, summaryArtifact ? artifactHref(api.baseUrl, summaryArtifact.url) : null);
  const cancel = useMutation({ mutationFn: () => api.cancelRun(run.run_id), onSuccess: () => onCancelled?.() });
  const finish = expectedFinish(run, now);
  const m = run.metrics;
  const parts = scorePartsOf(summaryJson.data);
  const scorePassed = m.score !== null && m.score >= m.score_threshold;
  const otherArtifacts = run.artifacts.filter((a) => !REPORTS.some((r) => r.match(a)));

  return (
    <section className="card run-details" aria-labelledby={`${uid}-h`} data-testid="run-details">
      <div className="card__header">
        <h2 id={`${uid}-h`} className="card__title">
          Run <code>{run.run_id.slice(0, 8)}</code>
        </h2>
        <span className={`status status--${run.status}`} data-testid="run-status">
          <span aria-hidden="true">{STATUS_GLYPH[run.status]}</span> {RUN_STATUS_LABEL[run.status]}
        </span>
        {run.sandbox ? <span className="badge badge--sandbox">sandbox</span> : null}
        {!done && canCancel ? (
          <button type="button" className="button button--small button--danger" onClick={() => cancel.mutate()} disabled={cancel.isPending}>
            {cancel.isPending ? 'Cancelling…' : 'Cancel run'}
          </button>
        ) : null}
      </div>
      {cancel.error ? <ApiErrorBanner error={cancel.error} what="cancel the run" /> : null}
      {run.rollback_failed ? (
        <Banner kind="error" title="Rollback failed">
          The previous version was restored but did not pass re-smoke. {run.env} may be down: check it now and follow the Runbook.
        </Banner>
      ) : null}
      {run.reason ? (
        <p className={`run-reason run-reason--${run.status}`} data-testid="run-reason">
          {run.reason}
        </p>
      ) : null}

      <dl className="facts">
        <div>
          <dt>Kind</dt>
          <dd>{run.kind === 'rollback' ? 'Rollback N-1' : run.dry_run ? 'Deploy (dry run)' : 'Deploy'}</dd>
        </div>
        <div>
          <dt>Branch/Tag</dt>
          <dd>
            <code>{run.branch_or_tag}</code>
          </dd>
        </div>
        <div>
          <dt>Test suite</dt>
          <dd>{run.test_suite}</dd>
        </div>
        <div>
          <dt>Initiator</dt>
          <dd data-testid="run-initiator">{run.initiator}</dd>
        </div>
        <div>
          <dt>Commit</dt>
          <dd>{run.commit ? <code title={run.commit}>{run.commit.slice(0, 10)}</code> : '—'}</dd>
        </div>
        <div>
          <dt>Created</dt>
          <dd>{formatInstant(run.created_at)}</dd>
        </div>
        <div>
          <dt>Duration</dt>
          <dd>{run.duration_ms !== null ? formatDuration(run.duration_ms) : run.started_at ? `${formatDuration(now - new Date(run.started_at).getTime())} so far` : '—'}</dd>
        </div>
        {finish ? (
          <div>
            <dt>Expected finish</dt>
            <dd data-testid="expected-finish">
              ≈ {formatClock(finish)} (in {formatDuration(finish - now)})
            </dd>
          </div>
        ) : null}
        {run.queue_position ? (
          <div>
            <dt>Queue position</dt>
            <dd>{run.queue_position}</dd>
          </div>
        ) : null}
        <div>
          <dt>Jenkins</dt>
          <dd>
            {run.jenkins ? (
              <a href={run.jenkins.url} target="_blank" rel="noopener noreferrer">
                build #{run.jenkins.number}
              </a>
            ) : (
              '—'
            )}
          </dd>
        </div>
      </dl>

      <div className="run-grid">
        <section aria-labelledby={`${uid}-score`} className="subcard">
          <h3 id={`${uid}-score`}>Run Score</h3>
          <p className={`score ${m.score === null ? '' : scorePassed ? 'score--pass' : 'score--fail'}`} data-testid="run-score">
            <span className="score__value">{formatScore(m.score)}</span>
            <span className="score__threshold"> / 100 · threshold {formatScore(m.score_threshold)}</span>
          </p>
          {parts.length ? (
            <table className="mini-table">
              <caption className="visually-hidden">Score parts</caption>
              <thead>
                <tr>
                  <th scope="col">Part</th>
                  <th scope="col">Weight</th>
                  <th scope="col">Score</th>
                  <th scope="col">Detail</th>
                </tr>
              </thead>
              <tbody data-testid="score-parts">
                {parts.map((p) => (
                  <tr key={p.id}>
                    <th scope="row">{p.id}</th>
                    <td>{p.included ? p.weight : 'not run'}</td>
                    <td>{p.included ? formatScore(p.score) : '—'}</td>
                    <td className="muted">{p.detail ?? ''}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          ) : null}
          {Object.keys(m.tests).length ? (
            <table className="mini-table" data-testid="test-counts">
              <caption className="visually-hidden">Tests by suite</caption>
              <thead>
                <tr>
                  <th scope="col">Suite</th>
                  <th scope="col">Passed</th>
                  <th scope="col">Failed</th>
                  <th scope="col">Skipped</th>
                  <th scope="col">Total</th>
                </tr>
              </thead>
              <tbody>
                {Object.entries(m.tests).map(([suite, t]) => (
                  <tr key={suite}>
                    <th scope="row">{suite}</th>
                    <td>{t.passed}</td>
                    <td className={t.failed ? 'text-bad' : undefined}>{t.failed}</td>
                    <td>{t.skipped}</td>
                    <td>{t.total}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          ) : null}
          {m.secrets_masked ? <p className="text-warn">{m.secrets_masked} secret-shaped value(s) were masked in the logs.</p> : null}
        </section>

        <section aria-labelledby={`${uid}-gates`} className="subcard">
          <h3 id={`${uid}-gates`}>Quality gates</h3>
          {m.gates.length ? (
            <ul className="gates" data-testid="gates">
              {m.gates.map((g) => (
                <li key={g.id} className={g.passed ? 'gate gate--pass' : 'gate gate--fail'}>
                  <span aria-hidden="true">{g.passed ? '✓' : '✕'}</span> <strong>{g.id}</strong>
                  <span className="visually-hidden">{g.passed ? ' passed' : ' failed'}</span>
                  {g.reason ? <span className="gate__reason"> — {g.reason}</span> : null}
                </li>
              ))}
            </ul>
          ) : (
            <p className="muted">{done ? 'No gates were evaluated.' : 'Gates are evaluated when the run finishes.'}</p>
          )}
        </section>
      </div>

      <section aria-labelledby={`${uid}-stages`} className="subcard">
        <h3 id={`${uid}-stages`}>Stages</h3>
        <table className="stage-table" data-testid="stage-table">
          <thead>
            <tr>
              <th scope="col">Stage</th>
              <th scope="col">Status</th>
              <th scope="col">Elapsed</th>
              <th scope="col">Typical</th>
            </tr>
          </thead>
          <tbody>
            {run.stages.map((s) => {
              const elapsed = elapsedOf(s, now);
              const typical = s.typical_ms ?? null;
              const ratio = elapsed !== null && typical ? Math.min(1.5, elapsed / typical) : null;
              return (
                <tr key={s.id}>
                  <th scope="row">{stageLabel(s.id)}</th>
                  <td>
                    <StageChip id={s.id} status={s.status} />
                  </td>
                  <td>
                    {formatDuration(elapsed)}
                    {ratio !== null && s.status === 'running' ? (
                      <span className="meter" aria-hidden="true">
                        <span className={`meter__fill${ratio > 1 ? ' meter__fill--over' : ''}`} style={{ width: `${Math.min(100, ratio * 100)}%` }} />
                      </span>
                    ) : null}
                  </td>
                  <td>{formatDuration(typical)}</td>
                </tr>
              );
            })}
          </tbody>
        </table>
      </section>

      <section aria-labelledby={`${uid}-art`} className="subcard">
        <h3 id={`${uid}-art`}>Reports and artifacts</h3>
        <div className="artifact-buttons" data-testid="artifact-buttons">
          {REPORTS.map((r) => {
            const a = run.artifacts.find(r.match);
            return a ? (
              <a key={r.label} className="button" href={artifactHref(api.baseUrl, a.url)} target="_blank" rel="noopener noreferrer" title={`${a.path} · ${a.bytes.toLocaleString()} bytes · sha256 ${a.sha256.slice(0, 12)}…`}>
                {r.label}
                <span className="visually-hidden"> (opens in a new tab)</span>
              </a>
            ) : (
              <span key={r.label} className="button button--disabled" aria-disabled="true" title={done ? 'This run did not produce it' : 'Not produced yet'}>
                {r.label}
              </span>
            );
          })}
        </div>
        {otherArtifacts.length ? (
          <details className="artifact-more">
            <summary>{otherArtifacts.length} more files</summary>
            <ul>
              {otherArtifacts.map((a) => (
                <li key={a.path}>
                  <a href={artifactHref(api.baseUrl, a.url)} target="_blank" rel="noopener noreferrer">
                    {a.path}
                  </a>{' '}
                  <span className="muted">
                    {a.bytes.toLocaleString()} bytes · <code title={a.sha256}>{a.sha256.slice(0, 12)}</code>
                  </span>
                </li>
              ))}
            </ul>
          </details>
        ) : null}
      </section>

      <section aria-labelledby={`${uid}-sum`} className="subcard">
        <h3 id={`${uid}-sum`}>Summary</h3>
        {!done ? (
          <p className="muted">The summary is written when the run finishes.</p>
        ) : summary.isPending ? (
          <p className="muted">Loading the summary…</p>
        ) : summary.error ? (
          summary.error instanceof ApiError && summary.error.status === 404 ? (
            <p className="muted">This run has no summary.</p>
          ) : (
            <ApiErrorBanner error={summary.error} what="load the summary" onRetry={() => void summary.refetch()} />
          )
        ) : (
          <div data-testid="summary-text">
            <div className="summary-toolbar">
              <button type="button" className="button button--small" aria-pressed={rawSummary} onClick={() => setRawSummary((v) => !v)}>
                {rawSummary ? 'Show formatted' : 'Show as text'}
              </button>
            </div>
            {rawSummary ? (
              <pre className="summary-text" tabIndex={0}>
                {summary.data}
              </pre>
            ) : (
              <SummaryMarkdown text={summary.data ?? ''} />
            )}
          </div>
        )}
      </section>
    </section>
  );
}
