/**
 * Error and notice banners. Each kind says what happened and what to do, so a
 * reader is never left with a bare status code.
 */
import type { ReactNode } from 'react';
import { ApiError } from '../../api/client.js';

export type BannerKind = 'backend_down' | 'signed_out' | 'forbidden' | 'ws_lost' | 'error' | 'info' | 'warning';

const TITLES: Record<BannerKind, string> = {
  backend_down: 'The CI backend is not answering',
  signed_out: 'You are signed out',
  forbidden: 'Not allowed for your role',
  ws_lost: 'Live log connection lost',
  error: 'Something went wrong',
  info: 'Note',
  warning: 'Warning',
};

export function Banner({ kind, title, children, action }: { kind: BannerKind; title?: string; children?: ReactNode; action?: ReactNode }) {
  const urgent = kind !== 'info' && kind !== 'ws_lost';
  return (
    <div className={`banner banner--${kind}`} role={urgent ? 'alert' : 'status'}>
      <div className="banner__body">
        <strong className="banner__title">{title ?? TITLES[kind]}</strong>
        {children ? <div className="banner__text">{children}</div> : null}
      </div>
      {action ? <div className="banner__action">{action}</div> : null}
    </div>
  );
}

/** Maps an API error to the banner that explains it. */
export function ApiErrorBanner({ error, what, onRetry }: { error: unknown; what: string; onRetry?: () => void }) {
  const retry = onRetry ? (
    <button type="button" className="button button--small" onClick={onRetry}>
      Try again
    </button>
  ) : undefined;
  if (error instanceof ApiError) {
    if (error.status === 0 || error.status === 502 || error.status === 503 || error.status === 504)
      return (
        <Banner kind="backend_down" action={retry}>
          Could not {what}: {error.message} Check that the backend runs (<code>npm start</code>) and that <code>/readyz</code> answers; this page
          retries by itself.
        </Banner>
      );
    if (error.status === 401)
      return (
        <Banner kind="signed_out" action={retry}>
          Could not {what}: your session has ended. Sign in again with your access token.
        </Banner>
      );
    if (error.status === 403)
      return (
        <Banner kind="forbidden">
          Could not {what}: {error.message} Ask an admin for the role this needs.
        </Banner>
      );
    if (error.status === 429)
      return (
        <Banner kind="warning" title="Too many requests" action={retry}>
          Could not {what}: {error.message} Wait a moment and try again.
        </Banner>
      );
    return (
      <Banner kind="error" action={retry}>
        Could not {what}: {error.message}
      </Banner>
    );
  }
  return (
    <Banner kind="error" action={retry}>
      Could not {what}: {String((error as Error)?.message ?? error)}
    </Banner>
  );
}
