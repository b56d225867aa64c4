import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { screen, waitFor, within } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { useUrlFilters } from '../../lib/urlState.js';
import { summary } from '../../test/fixtures.js';
import { renderWithApi, startTestApi, type TestApi } from '../../test/harness.js';
import { HistoryTable } from './HistoryTable.js';

let api: TestApi;
beforeEach(async () => {
  api = await startTestApi();
});
afterEach(async () => {
  await api.close();
});

/** HistoryTable wired to the URL as the page wires it. */
function HistoryWithUrl() {
  const [filters, setFilters] = useUrlFilters();
  return <HistoryTable filters={filters} onFiltersChange={setFilters} />;
}

const listCalls = () => api.requests.filter((r) => r.path === '/ci/runs' && r.method === 'GET');

describe('HistoryTable', () => {
  it('reads its filters from the URL and sends them to GET /ci/runs', async () => {
    history.replaceState(null, '', '/?run=abc&status=failed&kind=rollback&initiator=alice&from=2026-12-01');
    api.on('GET /ci/runs', () => ({ body: { runs: [], next_cursor: null } }));
    renderWithApi(<HistoryWithUrl />, api.baseUrl);
    expect(screen.getByLabelText('Status')).toHaveValue('failed');
    expect(screen.getByLabelText('Kind')).toHaveValue('rollback');
    expect(screen.getByLabelText('Initiator')).toHaveValue('alice');
    expect(screen.getByLabelText('From')).toHaveValue('2026-12-01');
    await screen.findByText('No run matches these filters.');
    const q = listCalls()[0]!.query;
    expect(q.get('status')).toBe('failed');
    expect(q.get('kind')).toBe('rollback');
    expect(q.get('initiator')).toBe('alice');
    expect(new Date(q.get('from')!).getTime()).toBe(new Date('2026-12-01T00:00:00').getTime());
  });

  it('writes changed filters to the URL, keeping the selected run, and clears them', async () => {
    history.replaceState(null, '', '/?run=abc');
    api.on('GET /ci/runs', () => ({ body: { runs: [], next_cursor: null } }));
    const user = userEvent.setup();
    renderWithApi(<HistoryWithUrl />, api.baseUrl);
    await user.selectOptions(screen.getByLabelText('Status'), 'rolled_back');
    expect(new URLSearchParams(location.search).get('status')).toBe('rolled_back');
    await user.type(screen.getByLabelText('Initiator'), 'bob{Enter}');
    const q = new URLSearchParams(location.search);
    expect(q.get('initiator')).toBe('bob');
    expect(q.get('run')).toBe('abc');
    await waitFor(() => expect(listCalls().at(-1)!.query.get('initiator')).toBe('bob'));
    expect(listCalls().at(-1)!.query.get('status')).toBe('rolled_back');

    await user.click(screen.getByRole('button', { name: 'Clear filters' }));
    expect(location.search).toBe('?run=abc');
  });

  it('follows Back to the previous filters', async () => {
    api.on('GET /ci/runs', () => ({ body: { runs: [], next_cursor: null } }));
    const user = userEvent.setup();
    renderWithApi(<HistoryWithUrl />, api.baseUrl);
    await user.selectOptions(screen.getByLabelText('Kind'), 'deploy');
    await user.selectOptions(screen.getByLabelText('Kind'), 'rollback');
    history.back();
    await waitFor(() => expect(screen.getByLabelText('Kind')).toHaveValue('deploy'));
  });

  it('shows status, kind, branch, initiator, score and rollback markers, and pages by cursor', async () => {
    api.on('GET /ci/runs', (req) =>
      req.query.get('cursor') === 'page2'
        ? { body: { runs: [summary({ run_id: '33333333-2222-4333-8444-555555555555', status: 'success', branch_or_tag: 'release/1.3', score: 97, duration_ms: 61_000 })], next_cursor: null } }
        : {
            body: {
              runs: [
                summary({ run_id: '11111111-2222-4333-8444-555555555555', status: 'rolled_back', branch_or_tag: 'feature/bad', score: 40, duration_ms: 95_000, reason: 'smoke failed' }),
                summary({ run_id: '22222222-2222-4333-8444-555555555555', status: 'success', kind: 'rollback', initiator: 'admin@example.com', score: 100 }),
              ],
              next_cursor: 'page2',
            },
          },
    );
    const user = userEvent.setup();
    renderWithApi(<HistoryWithUrl />, api.baseUrl);
    await screen.findByText('feature/bad');
    const rows = screen.getAllByRole('row');
    expect(rows).toHaveLength(3); // header + 2
    const first = rows[1]!;
    expect(within(first).getByTestId('rollback-marker')).toHaveTextContent('rolled back');
    expect(first).toHaveTextContent('feature/bad');
    expect(first).toHaveTextContent('1m 35s');
    expect(first).toHaveTextContent('40');
    expect(within(rows[2]!).getByText('↩ rollback')).toBeInTheDocument();
    expect(rows[2]).toHaveTextContent('admin@example.com');
    const jenkins = within(first).getByRole('link', { name: 'Jenkins #7' });
    expect(jenkins).toHaveAttribute('target', '_blank');
    expect(jenkins.getAttribute('rel')).toContain('noopener');
    expect(screen.getByRole('img', { name: /Trend over the last 2 runs/ })).toBeInTheDocument();

    await user.click(screen.getByRole('button', { name: 'Load older runs' }));
    await screen.findByText('release/1.3');
    expect(listCalls().at(-1)!.query.get('cursor')).toBe('page2');
    expect(screen.queryByRole('button', { name: 'Load older runs' })).toBeNull();
    expect(screen.getByText('3 runs shown')).toBeInTheDocument();
  });
});
