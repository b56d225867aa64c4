/**
 * Sign-in for AUTH_MODE=token: the token is sent once to POST /ci/auth/login,
 * which sets an HttpOnly session cookie; the page never stores the token.
 */
import { useId, useState, type FormEvent } from 'react';
import { useMutation } from '@tanstack/react-query';
import { ApiError } from '../../api/client.js';
import { useCiApi } from '../../api/context.js';
import { ApiErrorBanner, Banner } from './Banner.js';

export function SignIn({ onSignedIn, reason }: { onSignedIn: () => void; reason?: string }) {
  const api = useCiApi();
  const uid = useId();
  const [token, setToken] = useState('');
  const login = useMutation({
    mutationFn: () => api.login(token.trim()),
    onSuccess: () => {
      setToken('');
      onSignedIn();
    },
  });
  const onSubmit = (e: FormEvent) => {
    e.preventDefault();
    if (token.trim() && !login.isPending) login.mutate();
  };
  const refused = login.error instanceof ApiError && (login.error.status === 401 || login.error.status === 403 || login.error.status === 422);
  return (
    <main className="signin" aria-labelledby={`${uid}-h`}>
      <section className="card signin__card">
        <h1 id={`${uid}-h`} className="card__title">
          Sign in to QA Intelligence CI/CD
        </h1>
        {reason ? <Banner kind="signed_out">{reason}</Banner> : null}
        <form onSubmit={onSubmit}>
          <div className="field">
            <label htmlFor={`${uid}-token`}>Access token</label>
            <input id={`${uid}-token`} type="password" autoComplete="current-password" value={token} onChange={(e) => setToken(e.target.value)} aria-describedby={`${uid}-hint`} required />
            <p id={`${uid}-hint`} className="field__hint">
              The token an admin issued to you. It is exchanged for a session cookie and not kept by this page.
            </p>
          </div>
          {refused ? (
            <Banner kind="error" title="Token not accepted">
              {(login.error as ApiError).message} Check that you pasted the whole token, or ask an admin for a new one.
            </Banner>
          ) : login.error ? (
            <ApiErrorBanner error={login.error} what="sign in" />
          ) : null}
          <button type="submit" className="button button--primary" disabled={!token.trim() || login.isPending}>
            {login.isPending ? 'Signing in…' : 'Sign in'}
          </button>
        </form>
      </section>
    </main>
  );
}
