import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { screen, waitFor, within } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { run, stage } from '../../test/fixtures.js';
import { renderWithApi, startTestApi, type TestApi } from '../../test/harness.js';
import { expectedFinish, RunDetails, scorePartsOf } from './RunDetails.js';

let api: TestApi;
beforeEach(async () => {
  api = await startTestApi();
});
afterEach(async () => {
  await api.close();
});

const art = (path: string, content_type = 'text/html') => ({ name: path.split('/').pop()!, path, bytes: 1234, sha256: 'a'.repeat(64), content_type, url: `/ci/runs/r1/artifacts/${path}` });

describe('RunDetails', () => {
  it('shows the score against its threshold, each gate with its reason, initiator and commit', () => {
    const r = run({
      status: 'failed',
      reason: 'score 72 is below the threshold 80',
      finished_at: '2026-12-04T10:05:00.000Z',
      duration_ms: 299_000,
      metrics: {
        score: 72,
        score_threshold: 80,
        gates: [
          { id: 'smoke', passed: true, reason: '2/2 smoke URLs healthy' },
          { id: 'score', passed: false, reason: 'score 72 < 80' },
        ],
        tests: { api: { passed: 18, failed: 2, skipped: 0, total: 20 } },
        secrets_masked: 0,
        log_lines: 10,
      },
    });
    renderWithApi(<RunDetails run={r} />, api.baseUrl);
    expect(screen.getByTestId('run-status')).toHaveTextContent('Failed');
    expect(screen.getByTestId('run-reason')).toHaveTextContent('score 72 is below the threshold 80');
    expect(screen.getByTestId('run-score')).toHaveTextContent('72 / 100 · threshold 80');
    const gates = within(screen.getByTestId('gates')).getAllByRole('listitem');
    expect(gates[1]).toHaveTextContent('score failed — score 72 < 80');
    expect(gates[0]).toHaveTextContent('smoke passed — 2/2 smoke URLs healthy');
    expect(screen.getByTestId('test-counts')).toHaveTextContent('api18202');
    expect(screen.getByTestId('run-initiator')).toHaveTextContent('alice@example.com');
    expect(screen.getByTitle('abcdef1234567890')).toHaveTextContent('abcdef1234');
  });

  it('opens each report from the sandboxed artifact URL in a new tab with rel=noopener', () => {
    const r = run({ artifacts: [art('newman.html'), art('playwright.html'), art('trx/unit.trx', 'application/xml'), art('summary.json', 'application/json'), art('deploy.log', 'text/plain')] });
    renderWithApi(<RunDetails run={r} />, api.baseUrl);
    const box = screen.getByTestId('artifact-buttons');
    for (const [name, path] of [
      ['Newman report', 'newman.html'],
      ['Playwright report', 'playwright.html'],
      ['Unit tests (TRX)', 'trx/unit.trx'],
      ['summary.json', 'summary.json'],
    ] as const) {
      const link = within(box).getByRole('link', { name: new RegExp(`^${name.replace(/[()]/g, '\\$&')}`) });
      expect(link).toHaveAttribute('href', `${api.baseUrl}/ci/runs/r1/artifacts/${path}`);
      expect(link).toHaveAttribute('target', '_blank');
      expect(link.getAttribute('rel')?.split(' ')).toContain('noopener');
    }
    expect(screen.getByText('1 more files')).toBeInTheDocument();
  });

  it('shows missing reports as disabled', () => {
    renderWithApi(<RunDetails run={run({ artifacts: [art('summary.json')] })} />, api.baseUrl);
    expect(screen.getByText('Newman report')).toHaveAttribute('aria-disabled', 'true');
  });

  it('shows the human summary in a safe Markdown subset: markup in it stays text', async () => {
    api.on('GET /ci/runs/11111111-2222-4333-8444-555555555555/summary.md', () => ({ text: '## WeSign → DevTest\n\n**success** <img src=x onerror=alert(1)>\n' }));
    const user = userEvent.setup();
    const { container } = renderWithApi(<RunDetails run={run({ status: 'success', finished_at: '2026-12-04T10:05:00.000Z', duration_ms: 300_000 })} />, api.baseUrl);
    const box = await screen.findByTestId('summary-text');
    expect(within(box).getByRole('heading', { level: 4 })).toHaveTextContent('WeSign → DevTest');
    expect(within(box).getByText('success').tagName).toBe('STRONG');
    expect(box).toHaveTextContent('<img src=x onerror=alert(1)>');
    expect(container.querySelector('img')).toBeNull();
    await user.click(within(box).getByRole('button', { name: 'Show as text' }));
    expect(box.querySelector('pre')).toHaveTextContent('## WeSign → DevTest **success** <img src=x onerror=alert(1)>');
  });

  it('computes the expected finish from typical durations of the running and pending stages', () => {
    const now = Date.parse('2026-12-04T10:01:00.000Z');
    const stages = [
      stage('checkout', 'success', { duration_ms: 5_000, typical_ms: 5_000 }),
      stage('build', 'running', { started_at: '2026-12-04T10:00:30.000Z', typical_ms: 60_000 }),
      stage('smoke', 'pending', { typical_ms: 10_000 }),
      stage('api', 'skipped', { typical_ms: 99_000 }),
    ];
    // 30 s of build left + 10 s of smoke.
    expect(expectedFinish({ status: 'running', stages }, now)).toBe(now + 40_000);
    expect(expectedFinish({ status: 'success', stages }, now)).toBeNull();
  });
});

describe('scorePartsOf', () => {
  it('reads the score components from summary.json and ignores anything else', () => {
    const parts = scorePartsOf({ score: { components: [{ id: 'build', weight: 20, included: true, score: 100, detail: '11 of 11' }, { nope: 1 }] } });
    expect(parts).toEqual([{ id: 'build', weight: 20, included: true, score: 100, detail: '11 of 11' }]);
    expect(scorePartsOf(null)).toEqual([]);
    expect(scorePartsOf({ score: 'x' })).toEqual([]);
  });
});

describe('RunDetails cancel', () => {
  it('lets a deployer cancel a running run and reports it', async () => {
    api.on('POST /ci/runs/11111111-2222-4333-8444-555555555555/cancel', () => ({ status: 202, body: { run_id: '11111111-2222-4333-8444-555555555555', status: 'running' } }));
    let cancelled = false;
    const user = userEvent.setup();
    renderWithApi(<RunDetails run={run()} canCancel onCancelled={() => (cancelled = true)} />, api.baseUrl);
    await user.click(screen.getByRole('button', { name: 'Cancel run' }));
    await waitFor(() => expect(cancelled).toBe(true));
    expect(api.requests.filter((r) => r.method === 'POST' && r.path.endsWith('/cancel'))).toHaveLength(1);
  });

  it('offers no cancel without the role or once the run has finished', () => {
    const { unmount } = renderWithApi(<RunDetails run={run()} />, api.baseUrl);
    expect(screen.queryByRole('button', { name: 'Cancel run' })).toBeNull();
    unmount();
    renderWithApi(<RunDetails run={run({ status: 'success', finished_at: '2026-12-04T10:05:00.000Z' })} canCancel />, api.baseUrl);
    expect(screen.queryByRole('button', { name: 'Cancel run' })).toBeNull();
  });
});
