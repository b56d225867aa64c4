/**
 * Confirmation for Rollback N-1: names the version it restores and the one it
 * replaces, and enables the action only when the environment's name is typed
 * exactly (the backend checks the same `confirm` value).
 */
import { useId, useRef, useState, type FormEvent } from 'react';
import { useMutation } from '@tanstack/react-query';
import { useCiApi } from '../../api/context.js';
import type { CreateRunResponse, Deployment } from '../../api/types.js';
import { formatInstant } from '../../lib/format.js';
import { ApiErrorBanner } from './Banner.js';
import { Dialog } from './Dialog.js';

export interface RollbackDialogProps {
  app: string;
  env: string;
  /** What a rollback restores (Environment.rollback_target). */
  target: Deployment;
  current: Deployment | null;
  onClose: () => void;
  onStarted?: (res: CreateRunResponse) => void;
}

export function RollbackDialog({ app, env, target, current, onClose, onStarted }: RollbackDialogProps) {
  const api = useCiApi();
  const uid = useId();
  const inputRef = useRef<HTMLInputElement>(null);
  const [confirm, setConfirm] = useState('');
  const [reason, setReason] = useState('');
  const mutation = useMutation({
    mutationFn: () => api.rollback(env, { confirm, reason: reason.trim(), app }),
    onSuccess: (res) => {
      onStarted?.(res);
      onClose();
    },
  });
  const matches = confirm === env;
  const onSubmit = (e: FormEvent) => {
    e.preventDefault();
    if (matches && !mutation.isPending) mutation.mutate();
  };

  return (
    <Dialog title={`Roll back ${env} to the previous version`} onClose={onClose} initialFocus={inputRef} describedBy={`${uid}-what`}>
      <div id={`${uid}-what`}>
        <p>
          This restores <strong data-testid="rollback-version">{target.version}</strong>
          {target.commit ? (
            <>
              {' '}
              (commit <code>{target.commit.slice(0, 10)}</code>)
            </>
          ) : null}
          , deployed {formatInstant(target.deployed_at)} by {target.initiator}
          {target.backup_id ? (
            <>
              , from backup <code>{target.backup_id}</code>
            </>
          ) : null}
          .
        </p>
        {current ? (
          <p>
            It replaces <strong>{current.version}</strong>, deployed {formatInstant(current.deployed_at)} by {current.initiator}.
          </p>
        ) : null}
        <p>The app pools on {env} stop during the restore, then smoke checks run again.</p>
      </div>
      <form onSubmit={onSubmit}>
        <div className="field">
          <label htmlFor={`${uid}-confirm`}>
            Type <strong>{env}</strong> to confirm
          </label>
          <input
            ref={inputRef}
            id={`${uid}-confirm`}
            value={confirm}
            onChange={(e) => setConfirm(e.target.value)}
            autoComplete="off"
            spellCheck={false}
            aria-describedby={`${uid}-confirm-hint`}
          />
          <p id={`${uid}-confirm-hint`} className="field__hint">
            Exactly as shown, case included.
          </p>
        </div>
        <div className="field">
          <label htmlFor={`${uid}-reason`}>Reason (recorded with the run)</label>
          <textarea id={`${uid}-reason`} value={reason} onChange={(e) => setReason(e.target.value)} maxLength={500} rows={2} />
        </div>
        {mutation.error ? <ApiErrorBanner error={mutation.error} what="start the rollback" /> : null}
        <div className="dialog__actions">
          <button type="button" className="button" onClick={onClose}>
            Cancel
          </button>
          <button type="submit" className="button button--danger" disabled={!matches || mutation.isPending}>
            {mutation.isPending ? 'Starting rollback…' : `Roll back ${env}`}
          </button>
        </div>
      </form>
    </Dialog>
  );
}
