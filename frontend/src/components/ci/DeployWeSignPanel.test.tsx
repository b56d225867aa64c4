import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { screen, waitFor } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { renderWithApi, startTestApi, type TestApi } from '../../test/harness.js';
import { DeployWeSignPanel } from './DeployWeSignPanel.js';

let api: TestApi;
beforeEach(async () => {
  api = await startTestApi();
});
afterEach(async () => {
  await api.close();
});

const runsPosted = () => api.requests.filter((r) => r.method === 'POST' && r.path === '/ci/runs');

describe('DeployWeSignPanel', () => {
  it('defaults to main, full suite, no dry run, and sends exactly that', async () => {
    api.on('POST /ci/runs', () => ({ status: 202, body: { run_id: '11111111-2222-4333-8444-555555555555', status: 'queued', queue_position: null } }));
    const user = userEvent.setup();
    renderWithApi(<DeployWeSignPanel />, api.baseUrl);
    expect(screen.getByLabelText('Branch/Tag')).toHaveValue('main');
    expect(screen.getByRole('switch', { name: 'Dry run' })).not.toBeChecked();
    await user.click(screen.getByRole('button', { name: 'Deploy WeSign to DevTest' }));
    await screen.findByTestId('run-started');
    expect(runsPosted().map((r) => r.body)).toEqual([{ app: 'WeSign', env: 'DevTest', branch_or_tag: 'main', dry_run: false, test_suite: 'full', provider: 'jenkins' }]);
  });

  it.each([
    ['feature/x;calc', 'contains a character outside letters, digits and . _ - /'],
    ['a..b', 'contains ..'],
    ['-rf', 'starts with - (git would read it as an option)'],
    ['release.lock', 'ends with . or .lock'],
  ])('refuses %j with the backend rule before sending anything', async (ref, problem) => {
    const user = userEvent.setup();
    renderWithApi(<DeployWeSignPanel />, api.baseUrl);
    const input = screen.getByLabelText('Branch/Tag');
    await user.clear(input);
    await user.type(input, ref);
    await user.click(screen.getByRole('button', { name: 'Deploy WeSign to DevTest' }));
    expect(await screen.findByRole('alert')).toHaveTextContent(`Branch/Tag ${problem}.`);
    expect(input).toHaveAttribute('aria-invalid', 'true');
    expect(runsPosted()).toHaveLength(0);
  });

  it("shows the backend's 422 message when the backend refuses the branch", async () => {
    const message = 'branch_or_tag refs/heads is reserved on this server; send a branch or tag name such as main';
    api.on('POST /ci/runs', () => ({ status: 422, body: { error: { code: 'invalid_input', message, details: [{ path: ['branch_or_tag'] }] } } }));
    const user = userEvent.setup();
    renderWithApi(<DeployWeSignPanel />, api.baseUrl);
    await user.clear(screen.getByLabelText('Branch/Tag'));
    await user.type(screen.getByLabelText('Branch/Tag'), 'refs/heads');
    await user.click(screen.getByRole('button', { name: 'Deploy WeSign to DevTest' }));
    expect(await screen.findByRole('alert')).toHaveTextContent(message);
    expect(screen.getByLabelText('Branch/Tag')).toHaveAttribute('aria-invalid', 'true');
  });

  it('sends dry run and the chosen suite, and shows the queue position', async () => {
    api.on('POST /ci/runs', () => ({ status: 202, body: { run_id: '11111111-2222-4333-8444-555555555555', status: 'queued', queue_position: 2 } }));
    const user = userEvent.setup();
    renderWithApi(<DeployWeSignPanel activeRunId="other-run" queueLength={1} />, api.baseUrl);
    expect(screen.getByTestId('queue-notice')).toHaveTextContent('behind 1 queued run');
    await user.selectOptions(screen.getByLabelText('Test Suite'), 'api');
    await user.click(screen.getByRole('switch', { name: 'Dry run' }));
    await user.click(screen.getByRole('button', { name: 'Deploy WeSign to DevTest' }));
    expect(await screen.findByTestId('queue-position')).toHaveTextContent('2');
    expect(runsPosted()[0]?.body).toMatchObject({ dry_run: true, test_suite: 'api' });
  });

  it('sends the CSRF cookie value as X-CSRF-Token', async () => {
    document.cookie = 'qa_csrf=fake-csrf-value-example';
    api.on('POST /ci/runs', () => ({ status: 202, body: { run_id: '11111111-2222-4333-8444-555555555555', status: 'queued', queue_position: null } }));
    const user = userEvent.setup();
    renderWithApi(<DeployWeSignPanel />, api.baseUrl);
    await user.click(screen.getByRole('button', { name: 'Deploy WeSign to DevTest' }));
    await screen.findByTestId('run-started');
    expect(runsPosted()[0]?.headers['x-csrf-token']).toBe('fake-csrf-value-example');
    document.cookie = 'qa_csrf=; expires=Thu, 01 Jan 1970 00:00:00 GMT';
  });

  it('for a viewer, disables the form and says why', () => {
    renderWithApi(<DeployWeSignPanel canDeploy={false} disabledReason="Your role is viewer: ask an admin for the deployer role to start runs." />, api.baseUrl);
    const button = screen.getByRole('button', { name: 'Deploy WeSign to DevTest' });
    expect(button).toBeDisabled();
    expect(button).toHaveAccessibleDescription('Your role is viewer: ask an admin for the deployer role to start runs.');
  });

  it('says the backend is down when it cannot be reached', async () => {
    const user = userEvent.setup();
    renderWithApi(<DeployWeSignPanel />, 'http://127.0.0.1:9');
    await user.click(screen.getByRole('button', { name: 'Deploy WeSign to DevTest' }));
    await waitFor(() => expect(screen.getByRole('alert')).toHaveTextContent('The CI backend is not answering'));
  });
});
