/**
 * The deploy form (SPEC "Frontend UX"): Branch/Tag (default main, validated
 * with the backend's own git-ref rule), Dry-run, Test Suite, and the one
 * button. The backend still has the last word: its 422 message is shown
 * under the field it refused. After a start, the queue position is shown when
 * another deploy is ahead.
 */
import { useId, useState, type FormEvent } from 'react';
import { useMutation } from '@tanstack/react-query';
import { ApiError } from '../../api/client.js';
import { useCiApi } from '../../api/context.js';
import { useInvalidateRuns } from '../../api/hooks.js';
import { TEST_SUITES, type CreateRunResponse, type TestSuite } from '../../api/types.js';
import { GIT_REF_RULE, gitRefProblem } from '../../lib/gitRef.js';
import { useAnnounce } from '../../lib/announce.js';
import { ApiErrorBanner } from './Banner.js';

export interface DeployWeSignPanelProps {
  app?: string;
  env?: string;
  /** False for viewers (and while signed out): the form is shown read-only with the reason. */
  canDeploy?: boolean;
  disabledReason?: string;
  /** From GET /ci/environments: a run in progress means a new one queues. */
  activeRunId?: string | null;
  queueLength?: number;
  /** Called with the backend's 202 answer; the page opens the live log for it. */
  onRunStarted?: (run: CreateRunResponse) => void;
}

const SUITE_LABEL: Record<TestSuite, string> = {
  full: 'Full — API (Newman) and E2E (Playwright + pytest)',
  api: 'API only (Newman)',
  e2e: 'E2E only (Playwright + pytest)',
  none: 'None — deploy and smoke only',
};

export function DeployWeSignPanel({
  app = 'WeSign',
  env = 'DevTest',
  canDeploy = true,
  disabledReason,
  activeRunId = null,
  queueLength = 0,
  onRunStarted,
}: DeployWeSignPanelProps) {
  const api = useCiApi();
  const invalidate = useInvalidateRuns();
  const announce = useAnnounce();
  const id = useId();
  const [branch, setBranch] = useState('main');
  const [dryRun, setDryRun] = useState(false);
  const [suite, setSuite] = useState<TestSuite>('full');
  const [touched, setTouched] = useState(false);
  // The 202 answer, and whether another run was active when it was sent (then the queue position matters).
  const [started, setStarted] = useState<(CreateRunResponse & { queued_behind: boolean }) | null>(null);

  const mutation = useMutation({
    mutationFn: () => api.createRun({ app, env, branch_or_tag: branch.trim(), dry_run: dryRun, test_suite: suite, provider: 'jenkins' }),
    onSuccess: (res) => {
      // The backend numbers the queue from 1 (1 = next to run), so position 1 with nothing active means "starting now".
      const queuedBehind = !!activeRunId || (res.queue_position ?? 0) > 1;
      setStarted({ ...res, queued_behind: queuedBehind });
      invalidate();
      announce(queuedBehind && res.queue_position ? `Run queued at position ${res.queue_position}.` : `Run started for ${branch.trim()}.`);
      onRunStarted?.(res);
    },
  });

  const problem = gitRefProblem(branch.trim());
  const localError = touched && problem ? `Branch/Tag ${problem}.` : null;
  // The backend's refusal of this field (422), shown where the field is.
  const serverFieldError = mutation.error instanceof ApiError && mutation.error.status === 422 ? mutation.error.message : null;
  const otherError = mutation.error && !serverFieldError ? mutation.error : null;
  const fieldError = localError ?? serverFieldError;

  const onSubmit = (e: FormEvent) => {
    e.preventDefault();
    setTouched(true);
    if (problem || !canDeploy || mutation.isPending) return;
    mutation.mutate();
  };

  const label = `Deploy ${app} to ${env}`;
  return (
    <section className="card deploy-panel" aria-labelledby={`${id}-h`}>
      <h2 id={`${id}-h`} className="card__title">
        Deploy
      </h2>
      <form onSubmit={onSubmit} noValidate>
        <div className="field">
          <label htmlFor={`${id}-branch`}>Branch/Tag</label>
          <input
            id={`${id}-branch`}
            name="branch_or_tag"
            value={branch}
            autoComplete="off"
            spellCheck={false}
            maxLength={250}
            onChange={(e) => {
              setBranch(e.target.value);
              if (mutation.error) mutation.reset();
            }}
            onBlur={() => setTouched(true)}
            aria-invalid={fieldError ? true : undefined}
            aria-describedby={`${id}-branch-hint${fieldError ? ` ${id}-branch-err` : ''}`}
            disabled={!canDeploy}
          />
          <p id={`${id}-branch-hint`} className="field__hint">
            Allowed: {GIT_REF_RULE}.
          </p>
          {fieldError ? (
            <p id={`${id}-branch-err`} className="field__error" role="alert">
              {fieldError}
            </p>
          ) : null}
        </div>

        <div className="field field--inline">
          <input
            id={`${id}-dry`}
            type="checkbox"
            role="switch"
            className="switch"
            checked={dryRun}
            onChange={(e) => setDryRun(e.target.checked)}
            aria-describedby={`${id}-dry-hint`}
            disabled={!canDeploy}
          />
          <label htmlFor={`${id}-dry`}>Dry run</label>
          <p id={`${id}-dry-hint`} className="field__hint">
            Build, package and transform config only; {env} is not touched.
          </p>
        </div>

        <div className="field">
          <label htmlFor={`${id}-suite`}>Test Suite</label>
          <select id={`${id}-suite`} value={suite} onChange={(e) => setSuite(e.target.value as TestSuite)} disabled={!canDeploy || dryRun}>
            {TEST_SUITES.map((s) => (
              <option key={s} value={s}>
                {SUITE_LABEL[s]}
              </option>
            ))}
          </select>
          {dryRun ? <p className="field__hint">A dry run runs no tests against {env}.</p> : null}
        </div>

        {activeRunId && canDeploy ? (
          <p className="notice" data-testid="queue-notice">
            A run is in progress on {env}; yours will wait in the queue{queueLength > 0 ? ` behind ${queueLength} queued run${queueLength === 1 ? '' : 's'}` : ''}.
          </p>
        ) : null}

        <button type="submit" className="button button--primary button--large" disabled={!canDeploy || mutation.isPending} aria-describedby={!canDeploy && disabledReason ? `${id}-why` : undefined}>
          {mutation.isPending ? 'Starting…' : label}
        </button>
        {!canDeploy && disabledReason ? (
          <p id={`${id}-why`} className="field__hint">
            {disabledReason}
          </p>
        ) : null}
      </form>

      {otherError ? <ApiErrorBanner error={otherError} what="start the run" /> : null}
      {started ? (
        <p className="notice notice--ok" role="status" data-testid="run-started">
          Run <code>{started.run_id.slice(0, 8)}</code> {started.queued_behind ? 'queued' : 'started'}
          {started.queued_behind && started.queue_position ? (
            <>
              {' '}
              — queue position <strong data-testid="queue-position">{started.queue_position}</strong>
            </>
          ) : null}
          .
        </p>
      ) : null}
    </section>
  );
}

export default DeployWeSignPanel;
