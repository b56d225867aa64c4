import { describe, expect, it } from 'vitest';
import { render, screen, within } from '@testing-library/react';
import { SummaryMarkdown } from './SummaryMarkdown.js';

const MD = [
  '## WeSign → DevTest: ✅ success',
  '',
  '**Run** [abc](/ci/runs/abc) · deploy of `main` · [bad](javascript:alert(1)) · [ext](https://jenkins.example/job/1/)',
  '',
  '### Gates',
  '',
  '| gate | result | reason |',
  '|---|---|---|',
  '| smoke | pass | 2 of 2 SMOKE\\_URLS healthy |',
  '| backup | pass | C:\\\\backup\\\\WeSign \\| taken |',
  '',
  '- first <b>item</b>',
  '- second',
].join('\n');

describe('SummaryMarkdown', () => {
  it('renders headings below the given level, tables, lists, bold and code', () => {
    render(<SummaryMarkdown text={MD} baseLevel={4} />);
    expect(screen.getByRole('heading', { level: 4 })).toHaveTextContent('WeSign → DevTest: ✅ success');
    expect(screen.getByRole('heading', { level: 5 })).toHaveTextContent('Gates');
    const table = screen.getByRole('table');
    expect(within(table).getAllByRole('columnheader').map((c) => c.textContent)).toEqual(['gate', 'result', 'reason']);
    const rows = within(table).getAllByRole('row');
    expect(rows[1]).toHaveTextContent('2 of 2 SMOKE_URLS healthy');
    expect(rows[2]).toHaveTextContent('C:\\backup\\WeSign | taken');
    expect(screen.getByText('main').tagName).toBe('CODE');
    expect(screen.getByText('Run').tagName).toBe('STRONG');
    expect(screen.getAllByRole('listitem')).toHaveLength(2);
  });

  it('links only relative and http(s) targets, and keeps markup as text', () => {
    const { container } = render(<SummaryMarkdown text={MD} />);
    expect(screen.getByRole('link', { name: 'abc' })).toHaveAttribute('href', '/ci/runs/abc');
    expect(screen.getByRole('link', { name: 'ext' })).toHaveAttribute('rel', 'noopener noreferrer');
    expect(screen.queryByRole('link', { name: 'bad' })).toBeNull();
    expect(container).toHaveTextContent('bad (javascript:alert(1))');
    expect(container.querySelector('b')).toBeNull();
    expect(container).toHaveTextContent('first <b>item</b>');
  });
});
