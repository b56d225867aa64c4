import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { screen, waitFor } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { environment } from '../../test/fixtures.js';
import { renderWithApi, startTestApi, type TestApi } from '../../test/harness.js';
import { CiPage } from './index.js';

let api: TestApi;
beforeEach(async () => {
  api = await startTestApi();
  api.on('GET /ci/environments', () => ({ body: { environments: [environment()] } }));
  api.on('GET /ci/runs', () => ({ body: { runs: [], next_cursor: null } }));
  api.on('GET /ci/environments/DevTest/metrics', () => ({
    body: { deployment_frequency_per_week: 3.5, change_failure_rate: 0.25, time_to_restore_ms: 120_000, lead_time_ms: null, median_duration_ms: 62_000, median_score: 91, window_days: 30, runs: 14 },
  }));
});
afterEach(async () => {
  await api.close();
});

describe('CiPage', () => {
  it('with AUTH_MODE=none, says auth is off and treats the user as the local admin', async () => {
    api.on('GET /ci/me', () => ({ body: { user: { id: 'local', name: 'local admin', role: 'admin' }, auth_mode: 'none', sandbox: true } }));
    renderWithApi(<CiPage />, api.baseUrl);
    expect(await screen.findByText('Authentication is off')).toBeInTheDocument();
    expect(await screen.findByRole('button', { name: 'Rollback N-1' })).toBeEnabled();
    expect(screen.getByRole('button', { name: 'Deploy WeSign to DevTest' })).toBeEnabled();
    expect(await screen.findByText('3.5 / week')).toBeInTheDocument();
    expect(screen.getByText('25%')).toBeInTheDocument();
  });

  it('shows the sign-in screen on 401 and signs in with a token', async () => {
    let signedIn = false;
    api.on('GET /ci/me', () =>
      signedIn
        ? { body: { user: { id: 'u1', name: 'Vera Viewer', role: 'viewer' }, auth_mode: 'token', sandbox: true } }
        : { status: 401, body: { error: { code: 'unauthorized', message: 'Sign in first.' } } },
    );
    api.on('POST /ci/auth/login', (req) => {
      signedIn = (req.body as { token: string }).token === 'fake-viewer-token-example';
      return signedIn ? { status: 204 } : { status: 401, body: { error: { code: 'unauthorized', message: 'Unknown token.' } } };
    });
    const user = userEvent.setup();
    renderWithApi(<CiPage />, api.baseUrl);
    const token = await screen.findByLabelText('Access token');
    await user.type(token, 'wrong-fake-token');
    await user.click(screen.getByRole('button', { name: 'Sign in' }));
    expect(await screen.findByText('Token not accepted')).toBeInTheDocument();
    await user.clear(token);
    await user.type(token, 'fake-viewer-token-example');
    await user.click(screen.getByRole('button', { name: 'Sign in' }));
    expect(await screen.findByTestId('user-chip')).toHaveTextContent('Vera Viewer');
    // A viewer sees no Rollback button and cannot deploy.
    await screen.findByTestId('env-card');
    expect(screen.queryByRole('button', { name: 'Rollback N-1' })).toBeNull();
    expect(screen.getByRole('button', { name: 'Deploy WeSign to DevTest' })).toBeDisabled();
  });

  it('says the backend is down when it cannot be reached', async () => {
    renderWithApi(<CiPage />, 'http://127.0.0.1:9');
    await waitFor(() => expect(screen.getAllByText('The CI backend is not answering').length).toBeGreaterThan(0), { timeout: 10_000 });
  });

  it('shows the sandbox panel only when /ci/sandbox answers', async () => {
    api.on('GET /ci/me', () => ({ body: { user: { id: 'local', name: 'local admin', role: 'admin' }, auth_mode: 'none', sandbox: true } }));
    renderWithApi(<CiPage />, api.baseUrl);
    await screen.findByTestId('env-card');
    await waitFor(() => expect(api.requests.some((r) => r.path === '/ci/sandbox')).toBe(true));
    expect(screen.queryByTestId('sandbox-panel')).toBeNull();
  });
});
