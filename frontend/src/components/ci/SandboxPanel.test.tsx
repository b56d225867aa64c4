import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { screen, waitFor } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import type { SandboxFaults } from '../../api/types.js';
import { renderWithApi, startTestApi, type TestApi } from '../../test/harness.js';
import { SandboxPanel } from './SandboxPanel.js';

let api: TestApi;
const faults: SandboxFaults = { smoke_fail: false, preflight_fail: false, build_fail: false, api_fail: false, e2e_fail: false, secret_leak: false, jenkins_flaky: 0, jenkins_down_s: 0 };
beforeEach(async () => {
  api = await startTestApi();
  const state = { ...faults };
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
});
