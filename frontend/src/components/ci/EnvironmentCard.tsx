/**
 * What is deployed on the environment now (version, since when, by whom), its
 * active run and queue, and the Rollback N-1 button — rendered for admins
 * only, disabled while a run is active or when there is nothing to restore.
 */
import { useId, useState } from 'react';
import type { CreateRunResponse, Environment, Role } from '../../api/types.js';
import { formatAgo, formatInstant, RUN_STATUS_LABEL } from '../../lib/format.js';
import { RollbackDialog } from './RollbackDialog.js';

export interface EnvironmentCardProps {
  environment: Environment;
  role: Role | null;
  onRollbackStarted?: (res: CreateRunResponse) => void;
  onOpenRun?: (runId: string) => void;
}

export function EnvironmentCard({ environment: e, role, onRollbackStarted, onOpenRun }: EnvironmentCardProps) {
  const uid = useId();
  const [open, setOpen] = useState(false);
  const cur = e.current;
  const isAdmin = role === 'admin';
  const blocked = e.active_run_id ? 'A run is active on this environment; roll back when it has finished.' : !e.rollback_target ? 'There is no earlier deployment with a backup to restore.' : null;

  return (
    <section className="card env-card" aria-labelledby={`${uid}-h`} data-testid="env-card">
      <div className="card__header">
        <h2 id={`${uid}-h`} className="card__title">
          {e.app} on {e.env}
        </h2>
        {e.sandbox ? <span className="badge badge--sandbox">sandbox</span> : null}
      </div>
      {cur ? (
        <dl className="facts">
          <div>
            <dt>Deployed now</dt>
            <dd data-testid="current-version">
              <strong>{cur.version}</strong>
              {cur.commit && !cur.version.includes(cur.commit.slice(0, 7)) ? (
                <>
                  {' '}
                  <code title={cur.commit}>{cur.commit.slice(0, 10)}</code>
                </>
              ) : null}
            </dd>
          </div>
          <div>
            <dt>Since</dt>
            <dd>
              {formatInstant(cur.deployed_at)} <span className="muted">({formatAgo(cur.deployed_at)})</span>
            </dd>
          </div>
          <div>
            <dt>By</dt>
            <dd>{cur.initiator}</dd>
          </div>
          <div>
            <dt>State</dt>
            <dd>{cur.status.replace('_', ' ')}</dd>
          </div>
        </dl>
      ) : (
        <p className="muted">Nothing has been deployed to {e.env} through this app yet.</p>
      )}
      <p className="env-card__activity">
        {e.active_run_id ? (
          <>
            A run is active{' '}
            <button type="button" className="linklike" onClick={() => onOpenRun?.(e.active_run_id!)}>
              open its live log
            </button>
            {e.queue_length ? <> · {e.queue_length} queued</> : null}
          </>
        ) : e.last_run ? (
          <>
            Last run:{' '}
            <button type="button" className="linklike" onClick={() => onOpenRun?.(e.last_run!.run_id)}>
              {RUN_STATUS_LABEL[e.last_run.status].toLowerCase()}
            </button>{' '}
            {formatAgo(e.last_run.finished_at ?? e.last_run.created_at)}
          </>
        ) : (
          'No runs yet.'
        )}
      </p>
      {isAdmin ? (
        <div className="env-card__actions">
          <button type="button" className="button button--danger" onClick={() => setOpen(true)} disabled={!!blocked} aria-describedby={blocked ? `${uid}-why` : undefined}>
            Rollback N-1
          </button>
          {blocked ? (
            <p id={`${uid}-why`} className="field__hint">
              {blocked}
            </p>
          ) : e.rollback_target ? (
            <p className="field__hint">Restores {e.rollback_target.version}.</p>
          ) : null}
        </div>
      ) : null}
      {open && e.rollback_target ? (
        <RollbackDialog app={e.app} env={e.env} target={e.rollback_target} current={cur} onClose={() => setOpen(false)} onStarted={onRollbackStarted} />
      ) : null}
    </section>
  );
}
