import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { screen, waitFor } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import type { SandboxFaults } from '../../api/types.js';
import { renderWithApi, startTestApi, type TestApi } from '../../test/harness.js';
import { SandboxPanel } from './SandboxPanel.js';

let api: TestApi;
const faults: SandboxFaults = { smoke_fail: false, preflight_fail: false, build_fail: false, api_fail: false, e2e_fail: false, secret_leak: false, jenkins_flaky: 0, jenkins_down_s: 0 };
let state: SandboxFaults;
beforeEach(async () => {
  api = await startTestApi();
  state = { ...faults };
  api.on('GET /ci/sandbox', () => ({ body: { jenkins_url: 'http://127.0.0.1:1/', devtest_url: 'http://127.0.0.1:2/', faults: state } }));
  api.on('PUT /ci/sandbox/faults', (req) => {
    Object.assign(state, req.body);
    return { body: { jenkins_url: 'http://127.0.0.1:1/', devtest_url: 'http://127.0.0.1:2/', faults: state } };
  });
});
afterEach(async () => {
  await api.close();
});

describe('SandboxPanel', () => {
  it('is marked as the sandbox and sends a partial faults object per switch', async () => {
    const user = userEvent.setup();
    renderWithApi(<SandboxPanel />, api.baseUrl);
    expect(await screen.findByText('SANDBOX')).toBeInTheDocument();
    const smoke = screen.getByRole('switch', { name: 'Smoke fails' });
    await user.click(smoke);
    await waitFor(() => expect(screen.getByRole('switch', { name: 'Smoke fails' })).toBeChecked());
    expect(api.requests.filter((r) => r.method === 'PUT').map((r) => r.body)).toEqual([{ smoke_fail: true }]);
  });

  it('offers the console flood knob when the sandbox has it, and applies it with the other numbers', async () => {
    state.console_flood_mb = 0;
    const user = userEvent.setup();
    renderWithApi(<SandboxPanel />, api.baseUrl);
    const flood = await screen.findByLabelText(/Console flood/);
    await user.clear(flood);
    await user.type(flood, '50');
    await user.click(screen.getByRole('button', { name: 'Apply' }));
    await waitFor(() => expect(api.requests.filter((r) => r.method === 'PUT').map((r) => r.body)).toEqual([{ jenkins_flaky: 0, jenkins_down_s: 0, console_flood_mb: 50 }]));
    await user.clear(flood);
    await user.type(flood, '500');
    expect(screen.getByRole('button', { name: 'Apply' })).toBeDisabled();
  });

  it('hides the flood knob for a sandbox without it', async () => {
    renderWithApi(<SandboxPanel />, api.baseUrl);
    expect(await screen.findByText('SANDBOX')).toBeInTheDocument();
    expect(screen.queryByLabelText(/Console flood/)).toBeNull();
  });
});
