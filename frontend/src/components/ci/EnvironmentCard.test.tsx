import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { screen, waitFor } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { environment } from '../../test/fixtures.js';
import { renderWithApi, startTestApi, type TestApi } from '../../test/harness.js';
import { EnvironmentCard } from './EnvironmentCard.js';

let api: TestApi;
beforeEach(async () => {
  api = await startTestApi();
});
afterEach(async () => {
  await api.close();
});

const rollbackCalls = () => api.requests.filter((r) => r.method === 'POST' && r.path === '/ci/environments/DevTest/rollback');

describe('EnvironmentCard', () => {
  it('shows what is deployed, since when and by whom', () => {
    renderWithApi(<EnvironmentCard environment={environment()} role="viewer" />, api.baseUrl);
    expect(screen.getByTestId('current-version')).toHaveTextContent('main@abcdef1');
    expect(screen.getByText('alice@example.com')).toBeInTheDocument();
  });

  it.each(['viewer', 'deployer', null] as const)('shows no Rollback button to %s', (role) => {
    renderWithApi(<EnvironmentCard environment={environment()} role={role} />, api.baseUrl);
    expect(screen.queryByRole('button', { name: 'Rollback N-1' })).toBeNull();
  });

  it('disables Rollback for an admin while a run is active, and says why', () => {
    renderWithApi(<EnvironmentCard environment={environment({ active_run_id: 'r-active' })} role="admin" />, api.baseUrl);
    const b = screen.getByRole('button', { name: 'Rollback N-1' });
    expect(b).toBeDisabled();
    expect(b).toHaveAccessibleDescription(/A run is active/);
  });

  it('opens a labelled dialog naming the version it restores; the action needs the env name typed exactly', async () => {
    api.on('POST /ci/environments/DevTest/rollback', () => ({ status: 202, body: { run_id: '99999999-2222-4333-8444-555555555555', status: 'queued' } }));
    const onStarted = vi.fn();
    const user = userEvent.setup();
    renderWithApi(<EnvironmentCard environment={environment()} role="admin" onRollbackStarted={onStarted} />, api.baseUrl);
    await user.click(screen.getByRole('button', { name: 'Rollback N-1' }));
    const dialog = screen.getByRole('dialog', { name: 'Roll back DevTest to the previous version' });
    expect(dialog).toHaveAttribute('aria-modal', 'true');
    expect(screen.getByTestId('rollback-version')).toHaveTextContent('release/1.4@0123456');
    expect(dialog).toHaveTextContent('It replaces main@abcdef1');

    const confirm = screen.getByLabelText(/Type DevTest to confirm/);
    expect(confirm).toHaveFocus();
    const go = screen.getByRole('button', { name: 'Roll back DevTest' });
    expect(go).toBeDisabled();
    await user.type(confirm, 'devtest');
    expect(go).toBeDisabled();
    await user.clear(confirm);
    await user.type(confirm, 'DevTest');
    expect(go).toBeEnabled();
    await user.type(screen.getByLabelText(/Reason/), 'bad build on DevTest');
    await user.click(go);

    await waitFor(() => expect(onStarted).toHaveBeenCalledWith({ run_id: '99999999-2222-4333-8444-555555555555', status: 'queued' }));
    expect(rollbackCalls().map((r) => r.body)).toEqual([{ confirm: 'DevTest', reason: 'bad build on DevTest', app: 'WeSign' }]);
    expect(screen.queryByRole('dialog')).toBeNull();
  });

  it('traps focus inside the dialog, closes on Escape and returns focus to the button', async () => {
    const user = userEvent.setup();
    renderWithApi(<EnvironmentCard environment={environment()} role="admin" />, api.baseUrl);
    const opener = screen.getByRole('button', { name: 'Rollback N-1' });
    await user.click(opener);
    const dialog = screen.getByRole('dialog');
    const confirm = screen.getByLabelText(/Type DevTest to confirm/);
    const cancel = screen.getByRole('button', { name: 'Cancel' });
    // Forward from the last enabled control wraps to the first.
    cancel.focus();
    await user.tab();
    expect(confirm).toHaveFocus();
    await user.tab({ shift: true });
    expect(cancel).toHaveFocus();
    for (let i = 0; i < 6; i++) {
      await user.tab();
      expect(dialog.contains(document.activeElement)).toBe(true);
    }
    await user.keyboard('{Escape}');
    expect(screen.queryByRole('dialog')).toBeNull();
    expect(opener).toHaveFocus();
    expect(rollbackCalls()).toHaveLength(0);
  });

  it("shows the backend's refusal inside the dialog", async () => {
    api.on('POST /ci/environments/DevTest/rollback', () => ({ status: 409, body: { error: { code: 'conflict', message: 'A run is active on DevTest; wait for it to finish.' } } }));
    const user = userEvent.setup();
    renderWithApi(<EnvironmentCard environment={environment()} role="admin" />, api.baseUrl);
    await user.click(screen.getByRole('button', { name: 'Rollback N-1' }));
    await user.type(screen.getByLabelText(/Type DevTest to confirm/), 'DevTest');
    await user.click(screen.getByRole('button', { name: 'Roll back DevTest' }));
    expect(await screen.findByRole('alert')).toHaveTextContent('A run is active on DevTest; wait for it to finish.');
    expect(screen.getByRole('dialog')).toBeInTheDocument();
  });
});
