import { afterEach, describe, expect, it } from 'vitest';
import { screen, waitFor, within } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { renderWithApi } from '../../test/harness.js';
import { stage } from '../../test/fixtures.js';
import { logEvent, startLogServer, type TestLogServer } from '../../test/wsServer.js';
import { RunLogStream } from './RunLogStream.js';

const ESC = '\u001b';
let server: TestLogServer | null = null;
afterEach(async () => {
  await server?.close();
  server = null;
});

const fastBackoff = () => 20;

describe('RunLogStream', () => {
  it('renders a line with <script> and ANSI codes as text: no element from log text, colours as classes', async () => {
    server = await startLogServer([
      logEvent(1, '<script>alert(1)</script>'),
      logEvent(2, `${ESC}[31mERROR${ESC}[0m build <img src=x onerror=alert(2)>`),
      logEvent(3, `${ESC}[1;32mPASSED${ESC}[0m 42 tests`),
    ]);
    const { container } = renderWithApi(<RunLogStream runId="r1" backoffMs={fastBackoff} />, server.baseUrl);
    const viewport = await screen.findByTestId('log-viewport');
    await waitFor(() => expect(viewport).toHaveTextContent('<script>alert(1)</script>'));

    expect(container.querySelector('script')).toBeNull();
    expect(container.querySelector('img')).toBeNull();
    expect(viewport).toHaveTextContent('ERROR build <img src=x onerror=alert(2)>');
    expect(viewport.textContent).not.toContain(ESC);
    expect(viewport.textContent).not.toContain('[31m');

    const red = within(viewport).getByText('ERROR');
    expect(red).toHaveClass('ansi-fg-1');
    expect(red.tagName).toBe('SPAN');
    const green = within(viewport).getByText('PASSED');
    expect(green).toHaveClass('ansi-fg-2', 'ansi-bold');
    // Every element inside a line is a span we made (or a search mark): log text created none.
    for (const line of viewport.querySelectorAll('.log-line')) {
      for (const el of line.querySelectorAll('*')) expect(['SPAN', 'MARK']).toContain(el.tagName);
    }
  });

  it('updates the stage chips from stage events, live', async () => {
    server = await startLogServer([logEvent(1, 'checking out', 'checkout')]);
    renderWithApi(<RunLogStream runId="r1" backoffMs={fastBackoff} initialStages={[stage('checkout', 'running'), stage('build'), stage('smoke')]} />, server.baseUrl);
    const chips = await screen.findByRole('list', { name: 'Pipeline stages' });
    await waitFor(() => expect(server!.connections()).toBe(1));
    expect(within(chips).getByText('Checkout').closest('[data-status]')).toHaveAttribute('data-status', 'running');

    server.push({ type: 'stage', seq: 1, stage: stage('checkout', 'success', { duration_ms: 1200 }) });
    server.push({ type: 'stage', seq: 1, stage: stage('build', 'running') });
    await waitFor(() => expect(within(chips).getByText('Checkout').closest('[data-status]')).toHaveAttribute('data-status', 'success'));
    expect(within(chips).getByText('Build').closest('[data-status]')).toHaveAttribute('data-status', 'running');
    expect(within(chips).getByRole('button', { name: /Checkout.*success/ })).toBeInTheDocument();

    server.push({ type: 'stage', seq: 1, stage: stage('smoke', 'rolled_back') });
    await waitFor(() => expect(within(chips).getByText('Smoke').closest('[data-status]')).toHaveAttribute('data-status', 'rolled_back'));
    await waitFor(() => expect(screen.getByTestId('live-region')).toHaveTextContent('Smoke: rolled back'));
  });

  it('collapses and expands a stage section, and finds lines by search', async () => {
    server = await startLogServer([logEvent(1, 'cloning', 'checkout'), logEvent(2, 'restore packages'), logEvent(3, 'build ok'), logEvent(4, 'tests: 12 passed')]);
    const user = userEvent.setup();
    renderWithApi(<RunLogStream runId="r1" backoffMs={fastBackoff} />, server.baseUrl);
    const viewport = await screen.findByTestId('log-viewport');
    await waitFor(() => expect(viewport).toHaveTextContent('tests: 12 passed'));

    const toggle = screen.getByTestId('section-build');
    expect(toggle).toHaveAttribute('aria-expanded', 'true');
    await user.click(toggle);
    expect(screen.getByTestId('section-build')).toHaveAttribute('aria-expanded', 'false');
    expect(viewport).not.toHaveTextContent('restore packages');
    expect(viewport).toHaveTextContent('cloning');
    await user.click(screen.getByTestId('section-build'));
    expect(viewport).toHaveTextContent('restore packages');

    await user.type(screen.getByRole('searchbox', { name: 'Search the log' }), 'PASSED');
    expect(screen.getByText('1 of 1')).toBeInTheDocument();
    expect(within(viewport).getByText('passed', { selector: 'mark' })).toBeInTheDocument();
  });

  it('says it is reconnecting while the stream is down, then resumes from the last seq', async () => {
    server = await startLogServer([logEvent(1, 'first'), logEvent(2, 'second')]);
    renderWithApi(<RunLogStream runId="r1" backoffMs={fastBackoff} />, server.baseUrl);
    const viewport = await screen.findByTestId('log-viewport');
    await waitFor(() => expect(viewport).toHaveTextContent('second'));

    server.down = true;
    server.dropAll();
    expect(await screen.findByText('Live log connection lost — reconnecting')).toBeInTheDocument();
    expect(screen.getByTestId('conn-state')).toHaveTextContent('reconnecting');
    server.push(logEvent(3, 'third, written while away'));
    server.down = false;

    await waitFor(() => expect(viewport).toHaveTextContent('third, written while away'));
    expect(screen.queryByText('Live log connection lost — reconnecting')).toBeNull();
    expect(server.froms.at(-1)).toBe(2);
    expect(viewport.querySelectorAll('[data-seq="2"]').length).toBe(1);
    expect(screen.getByText('3 lines')).toBeInTheDocument();
  });

  it('pauses following the tail when the reader scrolls up, and resumes on request', async () => {
    server = await startLogServer(Array.from({ length: 200 }, (_, i) => logEvent(i + 1, `line ${i + 1}`)));
    const user = userEvent.setup();
    renderWithApi(<RunLogStream runId="r1" backoffMs={fastBackoff} />, server.baseUrl);
    const viewport = await screen.findByTestId('log-viewport');
    await waitFor(() => expect(viewport.querySelector('[data-seq="200"]')).not.toBeNull());
    expect(screen.getByRole('button', { name: 'Pause follow' })).toHaveAttribute('aria-pressed', 'true');

    viewport.scrollTop = 0; // the reader scrolls to the top
    viewport.dispatchEvent(new Event('scroll'));
    const resume = await screen.findByRole('button', { name: 'Resume follow' });
    server.push(logEvent(201, 'a new line while paused'));
    await waitFor(() => expect(screen.getByText('201 lines')).toBeInTheDocument());
    expect(viewport.scrollTop).toBe(0); // paused: the new line did not pull the view down
    expect(viewport.querySelector('[data-seq="201"]')).toBeNull();

    await user.click(resume);
    await waitFor(() => expect(viewport.querySelector('[data-seq="201"]')).not.toBeNull());
    expect(screen.getByRole('button', { name: 'Pause follow' })).toBeInTheDocument();
  });

  it('keeps only the visible rows of a 100 000-line log in the DOM', async () => {
    const many = Array.from({ length: 100_000 }, (_, i) => logEvent(i + 1, `line ${i + 1}`));
    server = await startLogServer([...many, { type: 'end', seq: 100_000, status: 'success' }]);
    renderWithApi(<RunLogStream runId="r1" backoffMs={fastBackoff} />, server.baseUrl);
    const viewport = await screen.findByTestId('log-viewport');
    const counter = document.querySelector('.log-toolbar__count')!;
    // A cheap predicate: findByText would pretty-print the whole DOM on every failed poll.
    await waitFor(() => expect(counter.textContent).toBe('100,000 lines'), { timeout: 110_000, interval: 250 });
    const rendered = viewport.querySelectorAll('.log-line').length;
    expect(rendered).toBeGreaterThan(0);
    expect(rendered).toBeLessThan(200);
    // Following the tail: the last line is among those rendered.
    await waitFor(() => expect(viewport.querySelector('[data-seq="100000"]')).not.toBeNull());
    expect(await screen.findByTestId('log-end')).toHaveTextContent('Succeeded');
  }, 120_000);
});
